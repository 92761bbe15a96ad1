/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The top floor of src/bridge/: the bridge object's life (new, run,
 * quit, free), the wiring of the floors below (the outbound queue's
 * completion handlers, the appservice handlers), and the homeserver's
 * user, alias, third-party and ping queries.  The two paths live in the
 * pa-to-matrix-*.c and pa-to-legacy-*.c files. */
#define G_LOG_DOMAIN "passerelle-bridge"

#include "pa-bridge-object.h"

#include "pa-batch.h"
#include "pa-bridge-metrics.h"
#include "pa-bridge-crypto-device.h"
#include "pa-bridge-crypto-ghosts.h"
#include "pa-bridge-crypto-receive.h"
#include "pa-bridge-verify.h"
#include "pa-ghost.h"
#include "pa-import-status.h"
#include "pa-import.h"
#include "pa-login-table.h"
#include "pa-login-display.h"
#include "pa-login-talk.h"
#include "pa-login.h"
#include "pa-outbound.h"
#include "pa-plugins.h"
#include "pa-policy.h"
#include "pa-power-edit.h"
#include "pa-provision.h"
#include "pa-room-cache.h"
#include "pa-self-check.h"
#include "pa-store-alarm.h"
#include "pa-to-legacy-queue.h"
#include "pa-to-matrix-lane.h"
#include "pa-to-matrix-presence.h"
#include "pa-to-matrix-sent.h"

#include <glib-unix.h>
/* The outbound queue moved on: legacy events waiting for their room to
 * drain (replies to a message still queued) may go. */
static void
outbound_settled (PaBridge *b)
{
  pa_lane_schedule (&b->live);
}

/* --------------------------------------------------- user/alias queries */

typedef struct {
  gpointer handle;
} QueryCtx;

static void
user_query_done (PaBridge *b, gboolean ok, const char *error, gpointer user_data)
{
  QueryCtx *q = user_data;
  pa_appservice_reply_query (q->handle, ok);
  g_free (q);
}

static void
on_user_query (const char *user_id, gpointer handle, gpointer user_data)
{
  PaBridge *b = user_data;
  g_autofree char *plugin = NULL, *legacy = NULL;
  if (!pa_ghost_parse (b, user_id, &plugin, &legacy) || pa_plugin_info (b, plugin) == NULL)
    {
      pa_appservice_reply_query (handle, FALSE);
      return;
    }
  QueryCtx *q = g_new0 (QueryCtx, 1);
  q->handle = handle;
  pa_ghost_ensure (b, plugin, legacy, NULL, NULL, user_query_done, q);
}

static void
on_alias_query (const char *alias, gpointer handle, gpointer user_data)
{
  /* Portals are created from the legacy side; an alias is only "ours" once
   * its room exists, and then the homeserver already knows it. */
  pa_appservice_reply_query (handle, FALSE);
}

static json_t *
on_thirdparty (const char *kind, const char *protocol, json_t *query, gpointer user_data)
{
  PaBridge *b = user_data;
  if (!g_str_equal (kind, "protocol") || protocol == NULL)
    return NULL;
  PaPluginInfo *info = pa_plugin_info (b, protocol);
  if (info == NULL)
    return NULL;
  /* Only plugins enabled for at least one ministry are advertised. */
  gboolean enabled = FALSE;
  for (guint i = 0; i < b->config->ministries->len; i++)
    if (pa_policy_ministry_plugin_enabled (b, g_ptr_array_index (b->config->ministries, i),
                                           protocol))
      enabled = TRUE;
  if (!enabled)
    return NULL;
  return json_pack ("{s:[s], s:[], s:s, s:{s:{s:s, s:s}}, s:[{s:s, s:s, s:{}}]}",
                    "user_fields", "id", "location_fields", "icon", "",
                    "field_types", "id", "regexp", ".+", "placeholder", "contact id",
                    "instances", "desc", info->display_name, "network_id", protocol, "fields");
}

/* Transactions go through the self-check while it runs: it takes its
 * probe out of them. */
static gboolean
on_txn (const char *txn_id, PaTxn *txn, gpointer user_data, GError **error)
{
  PaBridge *b = user_data;
  if (b->self_check != NULL)
    pa_self_check_observe (b->self_check, txn);
  return pa_to_legacy_txn (txn_id, txn, user_data, error);
}

static void
on_ping (gpointer user_data)
{
  g_debug ("pinged by the homeserver");
}

/* ------------------------------------------------------------ lifecycle */

PaBridge *
pa_bridge_new (PaConfig *config, const char *self_exe, GError **error)
{
  if (config->as_token == NULL || config->hs_token == NULL)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_CONFIG,
                   "%s: appservice.as_token/hs_token missing: run passerelle -g -c %s -r "
                   "registration.yaml first",
                   config->path ? config->path : "config", config->path ? config->path : "config.yaml");
      return NULL;
    }
  g_autoptr (PaStore) store = pa_store_open (config->database, error);
  if (store == NULL)
    return NULL;
  PaBridge *b = g_new0 (PaBridge, 1);
  b->config = config;
  b->self_exe = g_strdup (self_exe);
  b->store = g_steal_pointer (&store);
  b->bot_mxid = g_strdup_printf ("@%s:%s", config->bot_localpart, config->hs_domain);
  b->mx = pa_matrix_new (config->hs_address, config->as_token);
  b->plugins = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                      (GDestroyNotify) pa_plugin_info_free);
  b->logins = g_hash_table_new (g_str_hash, g_str_equal);
  b->worker_pool = pa_worker_pool_new (self_exe, config->worker_sandbox, config->worker_sandbox_read,
                                       config->worker_restart_max_delay_s,
                                       config->worker_ping_interval_s, config->worker_ping_timeout_s);
  b->rooms = g_hash_table_new (g_str_hash, g_str_equal);
  b->ghost_avatars = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  b->outbound_busy = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  b->outbound_flights = g_hash_table_new_full (g_direct_hash, g_direct_equal,
                                               pa_outbound_flight_free, NULL);
  b->outbound_max_inflight = 16;
  b->sent_handlers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  b->outbound_settled = outbound_settled;
  pa_outbound_on_sent (b, "map", pa_to_matrix_sent);
  pa_outbound_on_sent (b, "import_status", pa_import_status_sent);
  pa_outbound_on_sent (b, "redact_password", pa_login_talk_password_redacted);
  pa_outbound_on_sent (b, "login_shown", pa_login_display_sent);
  pa_outbound_on_sent (b, "power_levels", pa_power_edit_sent);
  b->login_waits = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  b->withheld
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) json_decref);
  b->can_redact = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  b->typing_state = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  b->portals_in_progress
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_ptr_array_unref);
  b->pending_acks = g_ptr_array_new_with_free_func (g_free);
  b->pending_unlinks = g_ptr_array_new_with_free_func (g_free);
  b->store_fault_changed = pa_store_alarm;
  b->next_op_id = 1;
  b->live.bridge = b;
  b->imports = g_hash_table_new (g_str_hash, g_str_equal);
  b->loop = g_main_loop_new (NULL, FALSE);
  return b;
}

static gboolean
on_signal (gpointer data)
{
  PaBridge *b = data;
  g_message ("signal received: stopping");
  pa_bridge_quit (b);
  return G_SOURCE_CONTINUE;
}

/* Start-up requests are retried a few times: Synapse may still be booting. */
static gboolean
startup_request (PaBridge *b, const char *method, const char *path, const char *user_id,
                 json_t *body, gboolean accept_in_use, json_t **out_body, GError **error)
{
  PaMatrixRequest req = { .method = method, .path = path, .user_id = user_id, .body = body,
                          .max_attempts = 8, .timeout_s = 30 };
  g_autoptr (PaMatrixResponse) resp = pa_matrix_request_sync (b->mx, &req);
  if (pa_matrix_response_ok (resp)
      || (accept_in_use && resp->errcode && g_str_equal (resp->errcode, "M_USER_IN_USE")))
    {
      if (out_body)
        *out_body = resp->body ? json_incref (resp->body) : json_object ();
      return TRUE;
    }
  g_autoptr (GError) e = pa_matrix_response_to_error (resp);
  g_set_error (error, e->domain, e->code, "%s %s: %s", method, path, e->message);
  return FALSE;
}

gboolean
pa_bridge_run (PaBridge *b, GError **error)
{
  PaConfig *c = b->config;
  PaAppserviceHandlers handlers = {
    .txn = on_txn,
    .user_query = on_user_query,
    .alias_query = on_alias_query,
    .thirdparty = on_thirdparty,
    .ping = on_ping,
  };
  b->as = pa_appservice_new (c->hs_token, c->max_body_bytes, c->max_events_per_txn, &handlers, b);
  pa_appservice_set_connection_limits (b->as, c->max_connections, c->idle_timeout_s,
                                       c->request_timeout_s);
  if (!pa_appservice_listen (b->as, c->as_bind, c->as_port, error))
    return FALSE;
  g_message ("appservice listening on %s:%u", c->as_bind, pa_appservice_port (b->as));
  pa_provision_start (b);
  if (!pa_bridge_metrics_start (b, error))
    return FALSE;

  if (!pa_plugins_discover (b, error))
    return FALSE;

  b->self_check = pa_self_check_new (c, b->mx, FALSE);
  if (!pa_self_check_homeserver (b->self_check, error))
    return FALSE;
  g_autoptr (json_t) reg = json_pack ("{s:s, s:s, s:b}", "type", "m.login.application_service",
                                      "username", c->bot_localpart, "inhibit_login", 1);
  if (!startup_request (b, "POST", "/_matrix/client/v3/register", NULL, reg, TRUE, NULL, error))
    return FALSE;
  if (c->bot_displayname && *c->bot_displayname)
    {
      g_autofree char *esc = pa_matrix_escape (b->bot_mxid);
      g_autofree char *path = g_strdup_printf ("/_matrix/client/v3/profile/%s/displayname", esc);
      g_autoptr (json_t) body = json_pack ("{s:s}", "displayname", c->bot_displayname);
      g_autoptr (GError) e = NULL;
      if (!startup_request (b, "PUT", path, NULL, body, FALSE, NULL, &e))
        g_warning ("could not set the bot's display name: %s", e->message);
    }
  if (!pa_bridge_crypto_start (b, error))
    return FALSE;
  pa_bridge_crypto_ghosts_start (b);
  /* The self-check's ping also makes Synapse contact us and flush its
   * retry queue at once.  Its to-device probe is waited for only when
   * encryption.require makes it a reason not to start. */
  if (!pa_self_check_appservice (b->self_check, c->encryption_require, error))
    return FALSE;

  b->started_at = pa_now_ms ();
  b->signal_sources[0] = g_unix_signal_add (SIGINT, on_signal, b);
  b->signal_sources[1] = g_unix_signal_add (SIGTERM, on_signal, b);
  pa_login_resume_all (b);
  pa_import_start (b);
  b->dispatching = TRUE;
  pa_to_legacy_schedule (b);
  pa_lane_schedule (&b->live);
  pa_outbound_kick (b);
  g_message ("passerelle %s ready as %s", PA_VERSION, b->bot_mxid);
  g_main_loop_run (b->loop);
  return TRUE;
}

void
pa_bridge_quit (PaBridge *b)
{
  if (g_main_loop_is_running (b->loop))
    g_main_loop_quit (b->loop);
}

void
pa_bridge_free (PaBridge *b)
{
  if (b == NULL)
    return;
  for (guint i = 0; i < G_N_ELEMENTS (b->signal_sources); i++)
    if (b->signal_sources[i])
      g_source_remove (b->signal_sources[i]);
  pa_batch_flush (b);
  pa_batch_clear (b);
  pa_store_alarm_stop (b);
  pa_provision_stop (b);
  GHashTableIter it;
  gpointer v;
  g_hash_table_iter_init (&it, b->logins);
  while (g_hash_table_iter_next (&it, NULL, &v))
    pa_login_free (v);
  g_hash_table_destroy (b->logins);
  pa_worker_pool_free (b->worker_pool);
  if (b->outbound_timer)
    g_source_remove (b->outbound_timer);
  pa_import_stop_all (b);
  pa_lane_cancel (&b->live);
  pa_presence_stop (b);
  pa_bridge_verify_stop (b);
  pa_bridge_crypto_stop (b);
  pa_matrix_cancel_all (b->mx);
  g_clear_pointer (&b->self_check, pa_self_check_free);
  g_clear_pointer (&b->as, pa_appservice_free);
  pa_bridge_metrics_stop (b);
  pa_matrix_free (b->mx);
  pa_store_close (b->store);
  g_hash_table_destroy (b->plugins);
  g_hash_table_iter_init (&it, b->rooms);
  while (g_hash_table_iter_next (&it, NULL, &v))
    {
      pa_power_edits_take (v);
      pa_room_cache_free (v);
    }
  g_hash_table_destroy (b->rooms);
  g_clear_pointer (&b->ghosts_busy, g_hash_table_destroy);
  g_hash_table_destroy (b->ghost_avatars);
  g_hash_table_destroy (b->imports);
  g_ptr_array_unref (b->pending_acks);
  g_ptr_array_unref (b->pending_unlinks);
  json_decref (b->inbound_cache);
  g_hash_table_destroy (b->outbound_busy);
  g_hash_table_destroy (b->sent_handlers);
  g_hash_table_destroy (b->login_waits);
  g_hash_table_destroy (b->withheld);
  g_hash_table_destroy (b->can_redact);
  g_hash_table_destroy (b->typing_state);
  g_hash_table_destroy (b->portals_in_progress);
  /* After cancel_all: the requests' callbacks will never run. */
  g_hash_table_destroy (b->outbound_flights);
  g_main_loop_unref (b->loop);
  g_free (b->bot_mxid);
  g_free (b->self_exe);
  g_free (b);
}
