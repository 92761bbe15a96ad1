/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * skeleton.c — the smallest complete Passerelle network plugin, written from
 * include/passerelle/plugin.h and docs/plugin-guide.md alone.  Its network
 * has one contact, "echo", who greets the agent after login and answers
 * every message with its text.  It uses no GLib: the host's timers are the
 * event loop.  Copy it to start a plugin.
 */
#include <passerelle/plugin.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The host table, from init: one network per worker process. */
static const PaHostApi *api;

struct PaLogin
{
  PaHost *host;
  char *name;           /* the account, from the login form or the saved session */
  uint32_t greet_timer; /* 0 when none is pending */
  unsigned next_id;     /* message ids: "sk-1", "sk-2"… */
};

static const PaConfigKey config_keys[] = {
  { sizeof (PaConfigKey), "greeting", PA_CONFIG_STRING, "Bonjour",
    "What the echo contact says after login", false, false },
  { sizeof (PaConfigKey), "max_length", PA_CONFIG_INT, "4096",
    "Longest message the network accepts, in bytes", false, false },
};

static const PaLoginFlow flows[] = {
  { sizeof (PaLoginFlow), "name", "Name", "Choose the name you appear under" },
};

static bool
sk_init (PaHost *host, const PaHostApi *host_api, char **error)
{
  api = host_api;
  return true;
}

/* A message from "echo" in the DM with it (the chat info comes along, so
 * the host can create the portal on first sight). */
static void
emit_from_echo (PaLogin *l, const char *text, const char *reply_to)
{
  char id[32];
  snprintf (id, sizeof id, "sk-%u", ++l->next_id);
  PaMember echo = { .struct_size = sizeof echo, .id = "echo", .name = "Echo" };
  PaChatInfo chat = { .struct_size = sizeof chat, .id = "echo", .kind = PA_CHAT_DM };
  PaContent content
      = { .struct_size = sizeof content, .kind = PA_MSG_TEXT, .text = text, .reply_to = reply_to };
  PaEvent ev = { .struct_size = sizeof ev,
                 .type = PA_EV_MESSAGE,
                 .chat_id = "echo",
                 .sender_id = "echo",
                 .message_id = id,
                 .content = &content,
                 .chat = &chat,
                 .contact = &echo };
  api->emit (l->host, &ev);
}

static bool
greet (void *data)
{
  PaLogin *l = data;
  l->greet_timer = 0;
  emit_from_echo (l, api->config_string (l->host, "greeting"), NULL);
  return false; /* once */
}

static void
go_online (PaLogin *l)
{
  api->login_state (l->host, PA_STATE_CONNECTED, NULL);
  if (l->greet_timer == 0)
    l->greet_timer = api->timer_add (l->host, 10, greet, l);
}

static PaLogin *
sk_login_new (PaHost *host, bool saved, char **error)
{
  PaLogin *l = calloc (1, sizeof *l);
  if (l == NULL)
    {
      *error = strdup ("out of memory");
      return NULL;
    }
  l->host = host;
  if (saved)
    l->name = api->meta_get (host, PA_META_LOGIN, "name"); /* malloc'd, or NULL */
  return l;
}

static void
sk_login_free (PaLogin *l)
{
  api->source_remove (l->host, l->greet_timer);
  free (l->name);
  free (l);
}

static void
sk_login_start (PaLogin *l, const char *flow_id)
{
  PaField field
      = { .struct_size = sizeof field, .id = "name", .label = "Your name", .type = PA_FIELD_TEXT };
  PaLoginStep step = { .struct_size = sizeof step,
                       .kind = PA_STEP_USER_INPUT,
                       .step_id = "name",
                       .instructions = "Who are you on Skeleton?",
                       .fields = &field,
                       .n_fields = 1 };
  api->login_step (l->host, &step);
}

static void
sk_login_submit (PaLogin *l, const char *step_id, const char *const *ids, const char *const *values,
                 size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (strcmp (ids[i], "name") == 0)
      {
        free (l->name);
        l->name = strdup (values[i]);
      }
  if (l->name == NULL || l->name[0] == '\0')
    {
      api->login_state (l->host, PA_STATE_BAD_CREDENTIALS, "A name is needed.");
      return;
    }
  api->meta_set (l->host, PA_META_LOGIN, "name", l->name); /* the saved session */
  PaLoginStep done = { .struct_size = sizeof done,
                       .kind = PA_STEP_COMPLETE,
                       .step_id = step_id,
                       .remote_id = l->name,
                       .remote_name = l->name };
  api->login_step (l->host, &done);
  go_online (l);
}

static void
sk_connect (PaLogin *l)
{
  if (l->name == NULL)
    api->login_state (l->host, PA_STATE_BAD_CREDENTIALS, "No saved session.");
  else
    go_online (l);
}

static void
answer (PaLogin *l, uint64_t op_id, PaResultCode code, const char *id, const char *error)
{
  PaOpResult r = { .struct_size = sizeof r, .code = code, .legacy_id = id, .error = error };
  api->op_result (l->host, op_id, &r);
}

static void
sk_send (PaLogin *l, uint64_t op_id, const char *chat_id, const PaContent *content,
         const char *txn_id)
{
  const char *refusal = NULL;
  PaResultCode code = PA_RESULT_OK;
  if (strcmp (chat_id, "echo") != 0)
    code = PA_RESULT_NOT_FOUND, refusal = "Skeleton knows only echo.";
  else if (content->kind != PA_MSG_TEXT || content->text == NULL)
    code = PA_RESULT_UNSUPPORTED, refusal = "Skeleton carries text only.";
  else if ((int64_t) strlen (content->text) > api->config_int (l->host, "max_length"))
    code = PA_RESULT_TOO_LARGE, refusal = "That message is too long.";
  if (refusal != NULL)
    {
      answer (l, op_id, code, NULL, refusal);
      return;
    }
  char id[32];
  snprintf (id, sizeof id, "sk-%u", ++l->next_id);
  answer (l, op_id, PA_RESULT_OK, id, NULL);
  emit_from_echo (l, content->text, id); /* echo answers, as a reply */
}

static void
sk_logout (PaLogin *l, uint64_t op_id)
{
  api->meta_set (l->host, PA_META_LOGIN, "name", NULL);
  answer (l, op_id, PA_RESULT_OK, NULL, NULL);
  api->login_state (l->host, PA_STATE_LOGGED_OUT, NULL);
}

static const PaLoginOps login_ops = {
  .struct_size = sizeof (PaLoginOps),
  .login_free = sk_login_free,
  .login_start = sk_login_start,
  .login_submit = sk_login_submit,
  .connect = sk_connect,
  .logout = sk_logout,
  .send = sk_send,
};

static const PaNetwork network = {
  .magic = PA_PLUGIN_MAGIC,
  .abi_major = PA_PLUGIN_ABI_MAJOR,
  .abi_minor = PA_PLUGIN_ABI_MINOR,
  .struct_size = sizeof (PaNetwork),
  .name = "skeleton",
  .display_name = "Skeleton",
  .version = SKELETON_VERSION,
  .capabilities = PA_CAP_LOGIN | PA_CAP_REPLIES,
  .config_keys = config_keys,
  .n_config_keys = sizeof config_keys / sizeof config_keys[0],
  .login_flows = flows,
  .n_login_flows = 1,
  .init = sk_init,
  .login_new = sk_login_new,
  .login_ops = &login_ops,
};

const PaNetwork *pa_plugin_get_network (void);

const PaNetwork *
pa_plugin_get_network (void)
{
  return &network;
}
