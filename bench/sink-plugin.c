/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * sink-plugin.c — a benchmark network plugin that costs (almost) nothing, so
 * that the host, not the legacy side, is what bench/run-benchmarks.py
 * measures.
 *
 *   - one login flow, "instant", with no fields: login_start completes at
 *     once with remote id "sink-me"; a saved login reconnects at once;
 *   - send answers op_result (PA_RESULT_OK, "s<run>-<counter>", the local time)
 *     from the callback itself;
 *   - on connect it emits PA_SINK_CONNECT_FLOOD (environment; else the
 *     setting plugins.sink.connect_flood, default 1) messages from "peer" in the DM chat "peer" (the first one makes the
 *     host create the portal), and a send whose text is "flood N" makes it
 *     emit N more.  Messages have unique ids and increasing timestamps.
 *
 * Floods are emitted in slices from an idle source so that the worker's
 * main loop keeps answering sends (and the host's frames) meanwhile.  The
 * plugin links GLib already, so it uses GLib's default main context
 * directly (allowed by THREADING in plugin.h).
 *
 * SDK 2: the host table arrives in network->init and is kept in the one
 * static `sink_host`, the same for every login of the process; the login
 * itself is `struct PaLogin`, with the PaHost login_new got, so several
 * logins may share a worker process (plugin.h, Process model).
 */
#define G_LOG_DOMAIN "passerelle-sink"

#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "passerelle/plugin.h"

#define SINK_MAX_FLOOD 1000000u /* per request: a typo must not run for hours */
#define SINK_SLICE 256u         /* events emitted per main-loop iteration */
#define SINK_CHAT "peer"

#define SINK_CAPS                                                                             \
  (PA_CAP_LOGIN | PA_CAP_MEDIA | PA_CAP_REPLIES | PA_CAP_EDITS | PA_CAP_DELETES               \
   | PA_CAP_REACTIONS)

/* What init gave: the only file-static state, valid from init to shutdown. */
static struct {
  PaHost *host;
  const PaHostApi *api;
} sink_host;

struct PaLogin {
  PaHost *host;
  const PaHostApi *api;
  guint64 sent;        /* sends answered: legacy ids "s<run_id>-<n>" */
  guint64 emitted;     /* messages emitted: ids "<run>-<n>" */
  guint64 pending;     /* messages still to emit */
  gint64 run_id;       /* start time: ids stay unique across restarts */
  gint64 last_ts;      /* strictly increasing timestamps */
  guint flood_id;
  gboolean connected;
};
typedef struct PaLogin SinkLogin;

static const PaLoginFlow sink_flows[] = {
  { sizeof (PaLoginFlow), "instant", "Instant", "Logs in at once, asks nothing" },
};

static char *
sink_c_strdup (const char *s)
{
  /* The host frees error strings with free(). */
  return strdup (s);
}

static void
sink_emit_one (SinkLogin *l)
{
  char mid[64], text[96];
  gint64 now = g_get_real_time () / 1000;
  l->last_ts = MAX (now, l->last_ts + 1);
  l->emitted++;
  g_snprintf (mid, sizeof mid, "m%" G_GINT64_FORMAT "-%" G_GUINT64_FORMAT, l->run_id, l->emitted);
  g_snprintf (text, sizeof text, "sink message %" G_GUINT64_FORMAT, l->emitted);
  PaContent content = {
    .struct_size = sizeof (PaContent),
    .kind = PA_MSG_TEXT,
    .text = text,
  };
  PaEvent ev = {
    .struct_size = sizeof (PaEvent),
    .type = PA_EV_MESSAGE,
    .chat_id = SINK_CHAT,
    .sender_id = "peer",
    .timestamp_ms = l->last_ts,
    .stream_order = l->emitted,
    .message_id = mid,
    .content = &content,
  };
  l->api->emit (l->host, &ev);
}

static gboolean
sink_flood_slice (gpointer user_data)
{
  SinkLogin *l = user_data;
  for (guint i = 0; i < SINK_SLICE && l->pending > 0; i++, l->pending--)
    sink_emit_one (l);
  if (l->pending > 0)
    return G_SOURCE_CONTINUE;
  l->flood_id = 0;
  return G_SOURCE_REMOVE;
}

static void
sink_flood (SinkLogin *l, guint64 n)
{
  l->pending = MIN (l->pending + n, (guint64) SINK_MAX_FLOOD);
  if (l->pending > 0 && l->flood_id == 0)
    l->flood_id = g_idle_add (sink_flood_slice, l);
}

static guint64
sink_connect_flood (void)
{
  const char *v = g_getenv ("PA_SINK_CONNECT_FLOOD");
  guint64 n = 1;
  if (v == NULL && sink_host.api != NULL)
    {
      /* Idle logins by the thousand (bench/logins-scale.py) set it to 0. */
      gint64 c = sink_host.api->config_int (sink_host.host, "connect_flood");
      return (guint64) CLAMP (c, 0, (gint64) SINK_MAX_FLOOD);
    }
  if (v != NULL && !g_ascii_string_to_unsigned (v, 10, 0, SINK_MAX_FLOOD, &n, NULL))
    n = 1;
  return n;
}

static void
sink_set_connected (SinkLogin *l)
{
  if (l->connected)
    return;
  l->connected = TRUE;
  l->api->login_state (l->host, PA_STATE_CONNECTED, NULL);
  sink_flood (l, sink_connect_flood ());
}

static bool
sink_init (PaHost *host, const PaHostApi *api, char **error)
{
  if (api == NULL || api->abi_major != PA_PLUGIN_ABI_MAJOR
      || !PA_HAS_MEMBER (api, PaHostApi, invoke))
    {
      if (error)
        *error = sink_c_strdup ("sink: the host API table is not SDK 2");
      return false;
    }
  sink_host.host = host;
  sink_host.api = api;
  return true;
}

static void
sink_shutdown (PaHost *host)
{
  sink_host.host = NULL;
  sink_host.api = NULL;
}

static PaLogin *
sink_login_new (PaHost *host, bool saved, char **error)
{
  if (host == NULL || sink_host.api == NULL)
    {
      if (error)
        *error = sink_c_strdup ("sink: not initialised");
      return NULL;
    }
  SinkLogin *l = g_new0 (SinkLogin, 1);
  l->host = host;
  l->api = sink_host.api;
  l->run_id = g_get_real_time ();
  if (saved)
    sink_set_connected (l);
  return l;
}

static void
sink_login_free (PaLogin *login)
{
  SinkLogin *l = login;
  if (l == NULL)
    return;
  if (l->flood_id != 0)
    g_source_remove (l->flood_id);
  g_free (l);
}

static void
sink_login_start (PaLogin *login, const char *flow_id)
{
  SinkLogin *l = login;
  PaLoginStep step = {
    .struct_size = sizeof (PaLoginStep),
    .kind = PA_STEP_COMPLETE,
    .step_id = "done",
    .remote_id = "sink-me",
    .remote_name = "Sink",
  };
  l->api->login_step (l->host, &step);
  sink_set_connected (l);
}

static void
sink_login_submit (PaLogin *login, const char *step_id, const char *const *ids,
                   const char *const *values, size_t n)
{
  /* The only flow asks nothing: an answer means the agent retried. */
  sink_login_start (login, "instant");
}

static void
sink_login_cancel (PaLogin *login)
{
}

static void
sink_connect (PaLogin *login)
{
  sink_set_connected (login);
}

static void
sink_disconnect (PaLogin *login)
{
  SinkLogin *l = login;
  l->connected = FALSE;
}

/* Answers op_id with success; `id` (may be NULL) is what was created. */
static void
sink_answer_ok (SinkLogin *l, uint64_t op_id, const char *id, gint64 ts_ms)
{
  PaOpResult r = {
    .struct_size = sizeof (PaOpResult),
    .code = PA_RESULT_OK,
    .legacy_id = id,
    .legacy_ts_ms = ts_ms,
  };
  l->api->op_result (l->host, op_id, &r);
}

static void
sink_logout (PaLogin *login, uint64_t op_id)
{
  SinkLogin *l = login;
  sink_answer_ok (l, op_id, NULL, 0);
  l->api->login_state (l->host, PA_STATE_LOGGED_OUT, NULL);
}

static void
sink_send (PaLogin *login, uint64_t op_id, const char *chat_id, const PaContent *content,
           const char *txn_id)
{
  SinkLogin *l = login;
  char id[64];
  /* Unique across restarts too, as the message ids are. */
  g_snprintf (id, sizeof id, "s%" G_GINT64_FORMAT "-%" G_GUINT64_FORMAT, l->run_id, ++l->sent);
  sink_answer_ok (l, op_id, id, g_get_real_time () / 1000);
  const char *text = content ? content->text : NULL;
  guint64 n = 0;
  if (text != NULL && g_str_has_prefix (text, "flood ")
      && g_ascii_string_to_unsigned (text + strlen ("flood "), 10, 1, SINK_MAX_FLOOD, &n, NULL))
    sink_flood (l, n);
}

static void
sink_ok (PaLogin *login, uint64_t op_id)
{
  sink_answer_ok (login, op_id, NULL, 0);
}

static void
sink_edit (PaLogin *login, uint64_t op_id, const char *chat_id, const char *target_id,
           const PaContent *content)
{
  sink_ok (login, op_id);
}

static void
sink_redact (PaLogin *login, uint64_t op_id, const char *chat_id, const char *target_id)
{
  sink_ok (login, op_id);
}

static void
sink_react (PaLogin *login, uint64_t op_id, const char *chat_id, const char *target_id,
            const char *key, bool remove)
{
  sink_ok (login, op_id);
}

static const PaLoginOps sink_ops = {
  .struct_size = sizeof (PaLoginOps),
  .login_free = sink_login_free,
  .login_start = sink_login_start,
  .login_submit = sink_login_submit,
  .login_cancel = sink_login_cancel,
  .connect = sink_connect,
  .disconnect = sink_disconnect,
  .logout = sink_logout,
  .send = sink_send,
  .edit = sink_edit,
  .redact = sink_redact,
  .react = sink_react,
};

static const PaConfigKey sink_config_keys[] = {
  { .struct_size = sizeof (PaConfigKey),
    .key = "connect_flood",
    .type = PA_CONFIG_INT,
    .default_value = "1",
    .description = "Messages the sink emits from its peer when a login connects." },
};

static const PaNetwork sink_network = {
  .magic = PA_PLUGIN_MAGIC,
  .abi_major = PA_PLUGIN_ABI_MAJOR,
  .abi_minor = PA_PLUGIN_ABI_MINOR,
  .struct_size = sizeof (PaNetwork),
  .name = "sink",
  .display_name = "Sink (benchmarks)",
  .version = SINK_PLUGIN_VERSION,
  .capabilities = SINK_CAPS,
  .login_flows = sink_flows,
  .n_login_flows = G_N_ELEMENTS (sink_flows),
  .init = sink_init,
  .shutdown = sink_shutdown,
  .login_new = sink_login_new,
  .login_ops = &sink_ops,
  .config_keys = sink_config_keys,
  .n_config_keys = G_N_ELEMENTS (sink_config_keys),
  /* A login's state is its SinkLogin, host calls pass its own PaHost. */
  .logins_per_worker = 1,
};

const PaNetwork *pa_plugin_get_network (void);

/* The plugin's one exported symbol: a static table, valid forever. */
__attribute__ ((visibility ("default"))) const PaNetwork *
pa_plugin_get_network (void)
{
  return &sink_network;
}
