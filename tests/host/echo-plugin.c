/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* "echo": the test plugin of the worker tests.  Every callback answers in a
 * way the test can observe over the wire:
 *   init           keeps the host table; fails ("no greeting") when the config
 *                  key "greeting" is "fail"
 *   login_new      log + notice "login_new saved=<0|1> meta=<login meta k>
 *                  greeting=<config greeting> level=<config level> loud=<0|1>";
 *                  fails ("refused") when login meta "fail" is set
 *   login_free     writes <data_dir>/login_free
 *   login_start    USER_INPUT step with three fields
 *   login_submit   COMPLETE step + login_state connected
 *   connect        login_state connecting
 *   event_persisted notice "persisted <seq>"
 *   send           MESSAGE event echoing the content, then op_result
 *                  (chat "thread": both from a second thread; chat "busy":
 *                  RATE_LIMITED retry 1500 ms; chat "gone": NOT_FOUND; chat
 *                  "later": a timer answers 50 ms later, via invoke from a
 *                  thread for chat "invoke")
 *   set_chat_info  meta_set then meta_get, result legacy_id = what meta_get saw
 *   list_contacts  two op_contact then op_result
 *   fetch_history  `count` MESSAGE events from a thread, then op_result
 *   import_file    CHAT_INFO + 3 messages; fails for a path containing "bad"
 * edit is left NULL on purpose. */
#include <passerelle/plugin.h>

#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct PaLogin
{
  PaHost *host;
  const PaHostApi *api;
  GPtrArray *threads;
};
typedef struct PaLogin Echo;

/* The host table, from init (one network per worker process). */
static const PaHostApi *echo_api;

static const PaMember members[] = {
  { sizeof (PaMember), "alice", "Alice", NULL, "+33600000001", 100 },
  { sizeof (PaMember), "bob", "Bob", NULL, "bob@example.org", 0 },
};

static const PaChatFeatures features = {
  sizeof (PaChatFeatures), PA_CAP_REPLIES | PA_CAP_MEDIA, 1048576, 900, 4096,
};

static void
emit_echo (Echo *e, const char *chat_id, const PaContent *content, const char *txn_id,
           const char *message_id)
{
  PaChatInfo chat = {
    .struct_size = sizeof chat,
    .id = chat_id,
    .kind = PA_CHAT_GROUP,
    .name = "Echo room",
    .topic = "echoes",
    .members = members,
    .n_members = G_N_ELEMENTS (members),
    .members_complete = true,
    .features = &features,
    .disappearing_s = 3600,
  };
  PaEvent ev = {
    .struct_size = sizeof ev,
    .type = PA_EV_MESSAGE,
    .chat_id = chat_id,
    .sender_id = "alice",
    .timestamp_ms = 1700000000123,
    .stream_order = 42,
    .message_id = message_id,
    .txn_id = txn_id,
    .from_me = true,
    .content = content,
    .chat = &chat,
    .contact = &members[0],
  };
  e->api->emit (e->host, &ev);
}

static bool
echo_init (PaHost *host, const PaHostApi *api, char **error)
{
  echo_api = api;
  const char *greeting = api->config_string (host, "greeting");
  if (greeting != NULL && strcmp (greeting, "fail") == 0)
    {
      *error = strdup ("no greeting");
      return false;
    }
  return true;
}

static PaLogin *
echo_login_new (PaHost *host, bool saved, char **error)
{
  const PaHostApi *api = echo_api;
  char *fail = api->meta_get (host, PA_META_LOGIN, "fail");
  if (fail != NULL)
    {
      free (fail);
      *error = strdup ("refused");
      return NULL;
    }
  Echo *e = g_new0 (Echo, 1);
  e->host = host;
  e->api = api;
  e->threads = g_ptr_array_new ();
  char *k = api->meta_get (host, PA_META_LOGIN, "k");
  api->log (host, PA_LOG_INFO, "echo login_new");
  const char *greeting = api->config_string (host, "greeting");
  g_autofree char *msg = g_strdup_printf (
      "login_new saved=%d meta=%s greeting=%s level=%" G_GINT64_FORMAT " loud=%d", saved ? 1 : 0,
      k != NULL ? k : "(none)", greeting != NULL ? greeting : "(none)",
      (gint64) api->config_int (host, "level"), api->config_bool (host, "loud") ? 1 : 0);
  api->notice (host, msg);
  free (k);
  return e;
}

static void
echo_login_free (PaLogin *login)
{
  Echo *e = login;
  for (guint i = 0; i < e->threads->len; i++)
    g_thread_join (e->threads->pdata[i]);
  g_ptr_array_unref (e->threads);
  g_autofree char *marker = g_build_filename (e->api->data_dir (e->host), "login_free", NULL);
  g_file_set_contents (marker, "1", -1, NULL);
  g_free (e);
}

static void
echo_login_start (PaLogin *login, const char *flow_id)
{
  Echo *e = login;
  static const char *const servers[] = { "a.example", "b.example", NULL };
  PaField fields[] = {
    { sizeof (PaField), "username", "User name", PA_FIELD_TEXT, "bob", false, NULL },
    { sizeof (PaField), "server", "Server", PA_FIELD_CHOICE, NULL, false, servers },
    { sizeof (PaField), "password", "Password", PA_FIELD_PASSWORD, NULL, true, NULL },
  };
  PaLoginStep step = {
    .struct_size = sizeof step,
    .kind = PA_STEP_USER_INPUT,
    .step_id = flow_id,
    .instructions = "Who are you?",
    .fields = fields,
    .n_fields = G_N_ELEMENTS (fields),
  };
  e->api->login_step (e->host, &step);
}

static void
echo_login_submit (PaLogin *login, const char *step_id, const char *const *ids,
                   const char *const *values, size_t n)
{
  Echo *e = login;
  const char *user = NULL;
  for (size_t i = 0; i < n; i++)
    if (strcmp (ids[i], "username") == 0)
      user = values[i];
  PaLoginStep step = {
    .struct_size = sizeof step,
    .kind = PA_STEP_COMPLETE,
    .step_id = step_id,
    .remote_id = user,
    .remote_name = "Echo User",
  };
  e->api->login_step (e->host, &step);
  e->api->login_state (e->host, PA_STATE_CONNECTED, "welcome");
}

static void
echo_connect (PaLogin *login)
{
  Echo *e = login;
  e->api->login_state (e->host, PA_STATE_CONNECTING, NULL);
}

static void
echo_event_persisted (PaLogin *login, uint64_t seq)
{
  Echo *e = login;
  g_autofree char *msg = g_strdup_printf ("persisted %" G_GUINT64_FORMAT, seq);
  e->api->notice (e->host, msg);
}

typedef struct
{
  Echo *e;
  uint64_t op_id;
  char *chat_id;
  char *txn_id;
  guint count;
} Job;

static void
answer_ok (Echo *e, uint64_t op_id, const char *legacy_id)
{
  PaOpResult r = { .struct_size = sizeof r, .code = PA_RESULT_OK, .legacy_id = legacy_id,
                   .legacy_ts_ms = 1700000000999 };
  e->api->op_result (e->host, op_id, &r);
}

static void
job_free (Job *j)
{
  g_free (j->chat_id);
  g_free (j->txn_id);
  g_free (j);
}

/* chat "later": answered from a timer of the SDK's event loop. */
static bool
later_timer (void *data)
{
  Job *j = data;
  answer_ok (j->e, j->op_id, "m-later");
  job_free (j);
  return false;
}

/* chat "invoke": a thread hands the answer to the main thread. */
static void
invoked (void *data)
{
  Job *j = data;
  g_assert (j->e->api->timer_add (j->e->host, 10, later_timer, j) > 0);
}

static gpointer
invoke_thread (gpointer data)
{
  Job *j = data;
  j->e->api->invoke (j->e->host, invoked, j);
  return NULL;
}

static gpointer
send_thread (gpointer data)
{
  Job *j = data;
  PaContent c = { .struct_size = sizeof c, .kind = PA_MSG_TEXT, .text = "from a thread" };
  emit_echo (j->e, j->chat_id, &c, j->txn_id, "m-thread");
  answer_ok (j->e, j->op_id, "m-thread");
  job_free (j);
  return NULL;
}

static void
echo_send (PaLogin *login, uint64_t op_id, const char *chat_id, const PaContent *content,
           const char *txn_id)
{
  Echo *e = login;
  if (strcmp (chat_id, "busy") == 0 || strcmp (chat_id, "gone") == 0)
    {
      gboolean busy = strcmp (chat_id, "busy") == 0;
      PaOpResult r = { .struct_size = sizeof r,
                       .code = busy ? PA_RESULT_RATE_LIMITED : PA_RESULT_NOT_FOUND,
                       .retry_after_ms = busy ? 1500 : 0,
                       .error = busy ? "slow down" : "no such chat" };
      e->api->op_result (e->host, op_id, &r);
      return;
    }
  if (strcmp (chat_id, "later") == 0 || strcmp (chat_id, "invoke") == 0)
    {
      Job *j = g_new0 (Job, 1);
      j->e = e;
      j->op_id = op_id;
      if (strcmp (chat_id, "later") == 0)
        g_assert (e->api->timer_add (e->host, 50, later_timer, j) > 0);
      else
        g_ptr_array_add (e->threads, g_thread_new ("echo-invoke", invoke_thread, j));
      return;
    }
  if (strcmp (chat_id, "thread") == 0)
    {
      Job *j = g_new0 (Job, 1);
      j->e = e;
      j->op_id = op_id;
      j->chat_id = g_strdup (chat_id);
      j->txn_id = g_strdup (txn_id);
      g_ptr_array_add (e->threads, g_thread_new ("echo-send", send_thread, j));
      return;
    }
  g_autofree char *id = g_strdup_printf ("m-%s", txn_id != NULL ? txn_id : "none");
  emit_echo (e, chat_id, content, txn_id, id);
  answer_ok (e, op_id, id);
}

static void
echo_set_chat_info (PaLogin *login, uint64_t op_id, const char *chat_id, PaChatField field,
                    const char *value)
{
  Echo *e = login;
  e->api->meta_set (e->host, PA_META_CHAT, chat_id, value);
  char *seen = e->api->meta_get (e->host, PA_META_CHAT, chat_id);
  answer_ok (e, op_id, field == PA_CHAT_FIELD_TOPIC ? seen : "not the topic");
  free (seen);
}

static void
echo_list_contacts (PaLogin *login, uint64_t op_id)
{
  Echo *e = login;
  for (size_t i = 0; i < G_N_ELEMENTS (members); i++)
    e->api->op_contact (e->host, op_id, &members[i]);
  answer_ok (e, op_id, NULL);
}

static gpointer
flood_thread (gpointer data)
{
  Job *j = data;
  for (guint i = 0; i < j->count; i++)
    {
      g_autofree char *id = g_strdup_printf ("h-%u", i);
      PaContent c = { .struct_size = sizeof c, .kind = PA_MSG_TEXT, .text = id };
      PaEvent ev = {
        .struct_size = sizeof ev,
        .type = PA_EV_MESSAGE,
        .chat_id = j->chat_id,
        .sender_id = "bob",
        .timestamp_ms = 1600000000000 + i,
        .message_id = id,
        .content = &c,
      };
      j->e->api->emit (j->e->host, &ev);
    }
  PaOpResult r = { .struct_size = sizeof r, .code = PA_RESULT_OK, .cursor = "next-page" };
  j->e->api->op_result (j->e->host, j->op_id, &r);
  job_free (j);
  return NULL;
}

static void
echo_fetch_history (PaLogin *login, uint64_t op_id, const char *chat_id, const char *cursor,
                    uint32_t count, bool forward)
{
  Echo *e = login;
  Job *j = g_new0 (Job, 1);
  j->e = e;
  j->op_id = op_id;
  j->chat_id = g_strdup (chat_id);
  j->count = count;
  g_ptr_array_add (e->threads, g_thread_new ("echo-flood", flood_thread, j));
}

static void
echo_mark_read (PaLogin *login, uint64_t op_id, const char *chat_id, const char *message_id)
{
  Echo *e = login;
  answer_ok (e, op_id, message_id);
}

static bool
echo_import_file (PaHost *host, const char *path, const PaImportOptions *options, char **error)
{
  const PaHostApi *api = echo_api;
  if (strstr (path, "bad") != NULL)
    {
      *error = strdup ("cannot read");
      return false;
    }
  PaChatInfo chat = { .struct_size = sizeof chat, .id = "imported", .kind = PA_CHAT_DM };
  PaEvent info = { .struct_size = sizeof info, .type = PA_EV_CHAT_INFO, .chat_id = "imported",
                   .chat = &chat };
  api->emit (host, &info);
  for (int i = 0; i < 3; i++)
    {
      g_autofree char *id = g_strdup_printf ("i-%d", i);
      PaContent c = { .struct_size = sizeof c, .kind = PA_MSG_TEXT,
                      .text = options->timezone != NULL ? options->timezone : "no tz" };
      PaEvent ev = { .struct_size = sizeof ev, .type = PA_EV_MESSAGE, .chat_id = "imported",
                     .sender_id = "alice", .timestamp_ms = 1000 * i, .message_id = id,
                     .content = &c };
      api->emit (host, &ev);
    }
  return true;
}

static const PaLoginFlow flows[] = {
  { sizeof (PaLoginFlow), "password", "Password", "User name and password" },
  { sizeof (PaLoginFlow), "qr", "QR code", NULL },
};

static const PaConfigKey config_keys[] = {
  { sizeof (PaConfigKey), "greeting", PA_CONFIG_STRING, "hello", "Said at login", false, false },
  { sizeof (PaConfigKey), "level", PA_CONFIG_INT, "3", "A number", false, false },
  { sizeof (PaConfigKey), "loud", PA_CONFIG_BOOL, "false", "A switch", false, false },
  { sizeof (PaConfigKey), "token", PA_CONFIG_STRING, NULL, "A secret", true, false },
};

static const PaLoginOps login_ops = {
  .struct_size = sizeof (PaLoginOps),
  .login_free = echo_login_free,
  .login_start = echo_login_start,
  .login_submit = echo_login_submit,
  .connect = echo_connect,
  .event_persisted = echo_event_persisted,
  .send = echo_send,
  .mark_read = echo_mark_read,
  .set_chat_info = echo_set_chat_info,
  .list_contacts = echo_list_contacts,
  .fetch_history = echo_fetch_history,
};

static const PaNetwork network = {
  .magic = PA_PLUGIN_MAGIC,
  .abi_major = PA_PLUGIN_ABI_MAJOR,
  .abi_minor = PA_PLUGIN_ABI_MINOR,
  .struct_size = sizeof (PaNetwork),
  .name = "echo",
  .display_name = "Echo",
  .version = "0.1",
  .capabilities = PA_CAP_LOGIN | PA_CAP_IMPORT | PA_CAP_GROUPS,
  .config_keys = config_keys,
  .n_config_keys = G_N_ELEMENTS (config_keys),
  .login_flows = flows,
  .n_login_flows = G_N_ELEMENTS (flows),
  .init = echo_init,
  .login_new = echo_login_new,
  .login_ops = &login_ops,
  .import_file = echo_import_file,
};

const PaNetwork *pa_plugin_get_network (void);

const PaNetwork *
pa_plugin_get_network (void)
{
  return &network;
}
