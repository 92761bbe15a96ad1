/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Login lifecycle: each login is a worker process for (owner, plugin),
 * started for a new login, resumed at start-up from its saved row, stopped
 * at logout or when its ministry disables the plugin.  Its frames arrive
 * here and go to the file that handles them: events to the legacy →
 * Matrix lane (pa-to-matrix-lane.c), results to pa-to-legacy-ops.c, login
 * steps to the conversation (pa-login-talk.c); the worker's metadata and
 * logs are kept here. */
#define G_LOG_DOMAIN "passerelle-logins"

#include "pa-login.h"

#include "pa-batch.h"
#include "pa-login-table.h"
#include "pa-login-talk.h"
#include "pa-notice-limit.h"
#include "pa-plugins.h"
#include "pa-policy.h"
#include "pa-portal.h"
#include "pa-to-legacy-ops.h"
#include "pa-to-matrix-lane.h"
#include "metrics/pa-metrics-points.h"

#include "host/pa-fd-budget.h"

#include <glib/gstdio.h>
#include <sys/random.h>

static const char *
str (json_t *o, const char *key)
{
  return json_string_value (json_object_get (o, key));
}

static const char *const meta_scopes[] = { "login", "chat", "contact", "message" };

/* The login's key for the plugin's secret_store/secret_load (base64 of 32
 * random bytes, transfer full): kept in the host's store, never in the
 * login's data dir, made on first use.  NULL if it cannot be stored (the
 * plugin then has no encrypted secrets, and says so). */
static char *
login_secret_key (PaBridge *b, const char *login_id)
{
  g_autofree char *kv = g_strdup_printf ("secret-key:%s", login_id);
  char *key = pa_store_kv_get (b->store, kv);
  if (key != NULL)
    return key;
  guint8 raw[32];
  g_autoptr (GError) e = NULL;
  if (getrandom (raw, sizeof raw, 0) != (ssize_t) sizeof raw)
    {
      g_warning ("login %s: no randomness for its key", login_id);
      return NULL;
    }
  key = g_base64_encode (raw, sizeof raw);
  explicit_bzero (raw, sizeof raw);
  if (!pa_store_kv_set (b->store, kv, key, &e))
    {
      g_warning ("login %s: its key cannot be stored: %s", login_id, e->message);
      g_free (key);
      return NULL;
    }
  return key;
}

/* The first frame of every worker start: its login, the plugin's
 * metadata (so meta_get answers locally in the worker), the plugin's
 * checked settings from config.yaml and the data dir's budget.  Secrets
 * among the settings travel only over the worker's socket. */
static json_t *
init_frame (PaBridge *b, const char *login_id, const char *plugin, gboolean saved)
{
  g_autoptr (json_t) rows = pa_store_meta_list (b->store, login_id);
  json_t *meta = json_array ();
  size_t i;
  json_t *r;
  json_array_foreach (rows, i, r)
  {
    json_int_t scope = json_integer_value (json_object_get (r, "scope"));
    if (scope < 0 || scope >= (json_int_t)G_N_ELEMENTS (meta_scopes))
      continue;
    json_array_append_new (meta, json_pack ("{s:s, s:O, s:O}", "scope", meta_scopes[scope], "id",
                                            json_object_get (r, "id"), "value",
                                            json_object_get (r, "value")));
  }
  PaPluginInfo *info = pa_plugin_info (b, plugin);
  json_t *settings = info != NULL && info->settings != NULL ? json_deep_copy (info->settings)
                                                            : json_object ();
  json_t *init = json_pack ("{s:s, s:s, s:b, s:o, s:o, s:I}", "t", "init", "login_id", login_id,
                            "saved", saved, "meta", meta, "config", settings, "data_budget",
                            (json_int_t) b->config->login_data_bytes);
  g_autofree char *key = login_secret_key (b, login_id);
  if (key != NULL)
    json_object_set_new (init, "secret_key", json_string (key));
  return init;
}

static const char *
state_text (const char *state)
{
  static const char *const map[][2] = {
    { "connecting", "connecting…" },
    { "connected", "connected" },
    { "transient_disconnect", "disconnected, reconnecting" },
    { "bad_credentials", "the network refused the credentials: log in again" },
    { "logged_out", "logged out" },
    { "unknown_error", "stopped after an error" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (map); i++)
    if (g_str_equal (state, map[i][0]))
      return map[i][1];
  return state;
}

static void
login_state (PaAccount *l, json_t *frame)
{
  const char *state = str (frame, "state");
  const char *message = str (frame, "message");
  if (state == NULL)
    return;
  gboolean changed = g_strcmp0 (l->state, state) != 0;
  if (changed)
    g_message ("login %s: %s%s%s", l->id, state, message ? ": " : "", message ? message : "");
  gboolean was_connected = g_strcmp0 (l->state, "connected") == 0;
  if (g_str_equal (state, "connected") && l->remote_id)
    l->logged_in = TRUE;
  pa_login_set_state (l, state);
  if (g_str_equal (state, "connected"))
    /* Back after a watchdog restart: what the stuck worker never read. */
    pa_to_legacy_ops_release (l);
  if (l->resuming && g_str_equal (state, "connected"))
    {
      /* Back after a bridge restart: nothing to tell the agent. */
      l->resuming = FALSE;
      return;
    }
  /* Tell the agent about changes that matter, not every reconnect step. */
  if (changed && (was_connected || !g_str_equal (state, "connecting"))
      && !(g_str_equal (state, "connected") && !was_connected && l->step == NULL && !l->logged_in))
    {
      PaPluginInfo *info = pa_plugin_info (l->bridge, l->plugin);
      g_autofree char *msg
          = g_strdup_printf ("%s: %s%s%s", info ? info->display_name : l->plugin,
                             state_text (state), message ? " — " : "", message ? message : "");
      pa_portal_notify_owner (l->bridge, l->owner, msg);
    }
}

static void
on_hello (PaWorker *w, json_t *hello, gpointer user_data)
{
  PaAccount *l = user_data;
  g_debug ("worker for %s is up (pid %d)", l->id, (int)pa_worker_pid (w));
}

/* A worker frame held while the store cannot write. */
typedef struct
{
  char *login_id;
  json_t *frame;
} HeldFrame;

static void
held_frame_free (gpointer p)
{
  HeldFrame *h = p;
  g_free (h->login_id);
  json_decref (h->frame);
  g_free (h);
}

/* While the store cannot write, a worker's frames (its logs excepted) wait
 * here, in order, unacknowledged: nothing they would write or queue is
 * lost.  pa_login_replay_held hands them back once it writes again. */
static gboolean
hold_frame (PaAccount *l, json_t *frame)
{
  PaBridge *b = l->bridge;
  if (!pa_batch_faulted (b))
    return FALSE;
  if (b->held_frames == NULL)
    b->held_frames = g_ptr_array_new_with_free_func (held_frame_free);
  HeldFrame *h = g_new0 (HeldFrame, 1);
  h->login_id = g_strdup (l->id);
  h->frame = json_incref (frame);
  g_ptr_array_add (b->held_frames, h);
  return TRUE;
}

static void
on_frame (PaWorker *w, json_t *frame, gpointer user_data)
{
  PaAccount *l = user_data;
  const char *t = str (frame, "t");
  if (t == NULL)
    return;
  if (!g_str_equal (t, "log") && hold_frame (l, frame))
    return;
  pa_batch_begin (l->bridge);
  if (g_str_equal (t, "event"))
    pa_to_matrix_intake (l, frame);
  else if (g_str_equal (t, "result"))
    pa_to_legacy_op_result (l, frame);
  else if (g_str_equal (t, "contact"))
    {
      pa_to_legacy_op_contact (l, frame);
    }
  else if (g_str_equal (t, "login_step") && l->driver_step != NULL)
    l->driver_step (l->driver, frame);
  else if (g_str_equal (t, "login_step"))
    pa_login_talk_step (l, frame);
  else if (g_str_equal (t, "login_state"))
    login_state (l, frame);
  else if (g_str_equal (t, "notice") && str (frame, "text"))
    {
      if (l->notice_limit == NULL)
        {
          PaPluginInfo *info = pa_plugin_info (l->bridge, l->plugin);
          PaConfig *c = l->bridge->config;
          l->notice_limit
              = pa_notice_limit_new (l->bridge, l->owner, info ? info->display_name : l->plugin,
                                     c->worker_notice_burst, c->worker_notice_every_s);
          l->notice_limit_free = (GDestroyNotify) pa_notice_limit_free;
        }
      pa_notice_limit_post (l->notice_limit, str (frame, "text"));
    }
  else if (g_str_equal (t, "meta_set"))
    {
      const char *scope = str (frame, "scope");
      int s = 0;
      for (guint i = 0; i < G_N_ELEMENTS (meta_scopes); i++)
        if (g_strcmp0 (scope, meta_scopes[i]) == 0)
          s = (int)i;
      g_autoptr (GError) e = NULL;
      if (str (frame, "id")
          && !pa_store_meta_set (l->bridge->store, l->id, s, str (frame, "id"),
                                 str (frame, "value"), &e))
        g_warning ("store: %s", e->message);
    }
  else if (g_str_equal (t, "log"))
    {
      const char *level = str (frame, "level");
      const char *msg = str (frame, "message") ? str (frame, "message") : "";
      if (g_strcmp0 (level, "error") == 0 || g_strcmp0 (level, "warning") == 0)
        g_warning ("[%s] %s", l->id, msg);
      else if (g_strcmp0 (level, "info") == 0)
        g_message ("[%s] %s", l->id, msg);
      else
        g_debug ("[%s] %s", l->id, msg);
    }
}

static void
on_exited (PaWorker *w, gboolean crashed, gboolean will_restart, const char *reason,
           gpointer user_data)
{
  PaAccount *l = user_data;
  PaPluginInfo *info = pa_plugin_info (l->bridge, l->plugin);
  const char *name = info ? info->display_name : l->plugin;
  g_autofree char *why
      = g_strdup_printf ("the %s connection stopped (%s)", name, reason ? reason : "exited");
  if (l->driver != NULL && !l->logged_in)
    {
      /* Half-way through a login driven over HTTP: the flow died with the
       * process, so the login ends and its driver is told. */
      g_warning ("login %s ends: %s", l->id, why);
      pa_to_legacy_ops_fail (l, why);
      pa_login_stop_and_free (l);
      return;
    }
  if (pa_worker_hung (w) && will_restart)
    {
      /* Killed by the watchdog: what it never read is sent again once it
       * is connected, and messages meanwhile wait for it (wait_for_login). */
      pa_to_legacy_ops_hold_unread (l, pa_worker_read_until_us (w), why);
      pa_login_set_state (l, "connecting");
      g_autofree char *msg = g_strdup_printf ("⚠ Your %s connection stopped answering (%s); "
                                              "restarting it. Messages you send meanwhile "
                                              "will be delivered once it is back.",
                                              name, reason ? reason : "?");
      pa_portal_notify_owner (l->bridge, l->owner, msg);
    }
  else
    pa_to_legacy_ops_fail (l, why);
  if (crashed && !pa_worker_hung (w))
    {
      g_warning ("worker of login %s: %s", l->id, reason ? reason : "crashed");
      g_autofree char *msg
          = g_strdup_printf ("⚠ Your %s connection crashed (%s).%s", name, reason ? reason : "?",
                             will_restart ? " Restarting it…" : "");
      pa_portal_notify_owner (l->bridge, l->owner, msg);
    }
  /* After a restart the plugin resumes from its saved session. */
  if (will_restart && crashed)
    pa_metrics_worker_restart (l->plugin, pa_worker_hung (w) ? "watchdog" : "crash");
  if (will_restart)
    {
      g_autoptr (json_t) init = init_frame (l->bridge, l->id, l->plugin, l->logged_in);
      pa_worker_set_init (w, init);
    }
}

/* What the running logins cost in descriptors, in units of one login alone
 * in its worker, were one more login of `info`'s plugin added: logins that
 * share a process (workers.logins_per_worker N) cost one unit per N, since
 * the host's descriptors are per process.  A walk over the logins, once per
 * login started, never per message. */
static guint
worker_units (PaBridge *b, PaPluginInfo *info)
{
  g_autoptr (GHashTable) per_plugin = g_hash_table_new (g_str_hash, g_str_equal);
  GHashTableIter it;
  gpointer value;
  g_hash_table_iter_init (&it, b->logins);
  while (g_hash_table_iter_next (&it, NULL, &value))
    {
      const char *plugin = ((PaAccount *) value)->plugin;
      guint n = GPOINTER_TO_UINT (g_hash_table_lookup (per_plugin, plugin));
      g_hash_table_insert (per_plugin, (gpointer) plugin, GUINT_TO_POINTER (n + 1));
    }
  /* Counting the new login, then rounding each plugin up to whole
   * processes, less one unit: the question is whether one more fits. */
  guint mine = GPOINTER_TO_UINT (g_hash_table_lookup (per_plugin, info->name));
  g_hash_table_insert (per_plugin, info->name, GUINT_TO_POINTER (mine + 1));
  guint units = 0;
  const char *plugin;
  g_hash_table_iter_init (&it, per_plugin);
  while (g_hash_table_iter_next (&it, (gpointer *) &plugin, &value))
    {
      PaPluginInfo *p = pa_plugin_info (b, plugin);
      guint n = p != NULL && p->logins_per_worker > 1 ? p->logins_per_worker : 1;
      units += (GPOINTER_TO_UINT (value) + n - 1) / n;
    }
  return units - 1;
}

static PaAccount *
login_spawn (PaBridge *b, const char *id, const char *owner, const char *plugin, gboolean saved,
             GError **error)
{
  PaPluginInfo *info = pa_plugin_info (b, plugin);
  if (info == NULL)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_NOT_FOUND, "no plugin named %s", plugin);
      return NULL;
    }
  /* The login capacity (workers.max_logins, the descriptor limit). */
  if (!pa_fd_budget_admit (worker_units (b, info), error))
    return NULL;
  g_autofree char *dir = g_build_filename (b->config->data_dir, id, NULL);
  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_FAILED, "cannot create %s: %s", dir,
                   g_strerror (errno));
      return NULL;
    }
  PaAccount *l = g_new0 (PaAccount, 1);
  l->bridge = b;
  l->id = g_strdup (id);
  l->owner = g_strdup (owner);
  l->plugin = g_strdup (plugin);
  l->logged_in = saved;
  l->pending = pa_to_legacy_ops_new ();
  PaWorkerCallbacks cbs = { .hello = on_hello, .frame = on_frame, .exited = on_exited };
  l->worker = pa_worker_new (b->self_exe, info->path, id, dir, &cbs, l);
  pa_worker_set_restart (l->worker, TRUE, b->config->worker_restart_max_delay_s);
  pa_worker_set_watchdog (l->worker, b->config->worker_ping_interval_s,
                          b->config->worker_ping_timeout_s);
  pa_worker_set_sandbox (l->worker, b->config->worker_sandbox, b->config->worker_sandbox_read);
  g_autoptr (json_t) init = init_frame (b, id, plugin, saved);
  pa_worker_set_init (l->worker, init);
  /* A process of its own, or a place in a shared one (pa-worker-process.h). */
  if (!pa_worker_pool_start (b->worker_pool, l->worker, info->logins_per_worker, error))
    {
      pa_login_free (l);
      return NULL;
    }
  g_hash_table_insert (b->logins, l->id, l);
  return l;
}

PaAccount *
pa_login_start_new (PaBridge *b, const char *owner, const char *plugin, GError **error)
{
  g_autofree char *rnd = pa_random_token (6);
  for (char *p = rnd; *p; p++)
    if (!g_ascii_isalnum (*p))
      *p = 'x';
  g_autofree char *lower = g_ascii_strdown (rnd, -1);
  g_autofree char *id = g_strdup_printf ("%s-%s", plugin, lower);
  PaAccount *l = login_spawn (b, id, owner, plugin, FALSE, error);
  if (l)
    pa_login_set_state (l, "new");
  return l;
}

PaAccount *
pa_login_begin (PaBridge *b, const char *owner, const char *plugin, const char *flow_id,
                GError **error)
{
  PaAccount *l = pa_login_find (b, owner, plugin);
  /* A session the network ended (logged out elsewhere, credentials refused)
   * counts as no login: the agent logs in again without a logout first. */
  gboolean ended = l != NULL
                   && (g_strcmp0 (l->state, "logged_out") == 0
                       || g_strcmp0 (l->state, "bad_credentials") == 0);
  if (l && l->logged_in && !ended)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_PERMISSION, "already logged in to %s as %s", plugin,
                   l->remote_id ? l->remote_id : "?");
      return NULL;
    }
  PaPluginInfo *info = pa_plugin_info (b, plugin);
  json_t *flows = info != NULL ? json_object_get (info->hello, "flows") : NULL;
  const char *flow = NULL;
  size_t i;
  json_t *f;
  json_array_foreach (flows, i, f)
  {
    const char *id = json_string_value (json_object_get (f, "id"));
    if (flow == NULL && (flow_id == NULL || g_strcmp0 (id, flow_id) == 0))
      flow = id;
  }
  if (flow == NULL)
    {
      g_set_error_literal (error, PA_ERROR, PA_ERROR_NOT_FOUND,
                           flow_id != NULL ? "unknown login method for this plugin"
                                           : "this plugin offers no login (it may only import "
                                             "files)");
      return NULL;
    }
  if (ended)
    pa_login_logout (l); /* forgotten as a logout would: store row, secrets */
  else if (l)
    pa_login_stop_and_free (l);
  g_autoptr (GError) e = NULL;
  l = pa_login_start_new (b, owner, plugin, &e);
  if (l == NULL)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_FAILED, "could not start it: %s", e->message);
      return NULL;
    }
  /* The worker is not up yet; frames queue until it is (pa_worker). */
  g_autoptr (json_t) start = json_pack ("{s:s, s:s}", "t", "login_start", "flow_id", flow);
  if (!pa_worker_send (l->worker, start))
    {
      pa_login_stop_and_free (l);
      g_set_error_literal (error, PA_ERROR, PA_ERROR_FAILED,
                           "the plugin's process did not start; try again");
      return NULL;
    }
  return l;
}

void
pa_login_resume_all (PaBridge *b)
{
  g_autoptr (GPtrArray) rows = pa_store_login_list (b->store, NULL);
  for (guint i = 0; rows && i < rows->len; i++)
    {
      PaLoginRow *r = g_ptr_array_index (rows, i);
      if (r->remote_id == NULL || g_strcmp0 (r->state, "logged_out") == 0)
        continue;
      g_autofree char *why = NULL;
      if (!pa_policy_plugin_allowed (b, r->owner, r->plugin, &why))
        {
          g_message ("login %s not resumed: %s", r->id, why);
          continue;
        }
      g_autoptr (GError) e = NULL;
      PaAccount *l = login_spawn (b, r->id, r->owner, r->plugin, TRUE, &e);
      if (l == NULL)
        {
          g_warning ("login %s not resumed: %s", r->id, e->message);
          g_autofree char *msg = g_strdup_printf ("⚠ Your %s connection was not resumed: %s.",
                                                  r->plugin, e->message);
          pa_portal_notify_owner (b, r->owner, msg);
          continue;
        }
      l->remote_id = g_strdup (r->remote_id);
      l->remote_name = g_strdup (r->remote_name);
      /* Not "connected" until the plugin says so again: events for this
       * login wait for that (wait_for_login) instead of failing. */
      l->state = g_strdup ("connecting");
      l->resuming = TRUE;
    }
}

void
pa_login_logout (PaAccount *l)
{
  PaBridge *b = l->bridge;
  g_autoptr (GError) e = NULL;
  /* Ask the network to forget us; then stop whatever it answers. */
  pa_to_legacy_op (l, "logout", NULL, "logout", NULL, NULL, NULL, NULL, NULL);
  pa_login_set_state (l, "logged_out");
  if (!pa_store_login_delete (b->store, l->id, &e))
    g_warning ("store: %s", e->message);
  /* Its secrets cannot be opened any more, wherever a copy lies. */
  g_autofree char *kv = g_strdup_printf ("secret-key:%s", l->id);
  g_clear_error (&e);
  if (!pa_store_kv_set (b->store, kv, NULL, &e))
    g_warning ("store: %s", e->message);
  pa_login_stop_and_free (l);
}

void
pa_logins_apply_ministry (PaBridge *b, const PaMinistry *m, const char *plugin, gboolean enabled)
{
  if (!enabled)
    {
      g_autoptr (GPtrArray) stop = g_ptr_array_new ();
      GHashTableIter it;
      gpointer v;
      g_hash_table_iter_init (&it, b->logins);
      while (g_hash_table_iter_next (&it, NULL, &v))
        {
          PaAccount *l = v;
          if (g_str_equal (l->plugin, plugin) && pa_config_ministry_for (b->config, l->owner) == m)
            g_ptr_array_add (stop, l);
        }
      for (guint i = 0; i < stop->len; i++)
        {
          PaAccount *l = g_ptr_array_index (stop, i);
          g_autofree char *msg = g_strdup_printf ("Your ministry (%s) has disabled %s: your "
                                                  "connection is stopped.",
                                                  m->name, plugin);
          pa_portal_notify_owner (b, l->owner, msg);
          pa_login_stop_and_free (l);
        }
      return;
    }
  /* Enabled again: resume the saved logins it had stopped. */
  g_autoptr (GPtrArray) rows = pa_store_login_list (b->store, NULL);
  for (guint i = 0; rows && i < rows->len; i++)
    {
      PaLoginRow *r = g_ptr_array_index (rows, i);
      if (!g_str_equal (r->plugin, plugin) || r->remote_id == NULL
          || pa_login_by_id (b, r->id) != NULL || pa_config_ministry_for (b->config, r->owner) != m)
        continue;
      g_autoptr (GError) e = NULL;
      PaAccount *l = login_spawn (b, r->id, r->owner, r->plugin, TRUE, &e);
      if (l)
        {
          l->remote_id = g_strdup (r->remote_id);
          l->remote_name = g_strdup (r->remote_name);
          l->state = g_strdup ("connecting");
          g_autofree char *msg = g_strdup_printf ("Your ministry (%s) has enabled %s again: "
                                                  "reconnecting.",
                                                  m->name, plugin);
          pa_portal_notify_owner (b, l->owner, msg);
        }
    }
}

/* The frames held during a storage fault, in order (those of a login
 * stopped meanwhile are dropped: never acknowledged, its network
 * redelivers them).  A new fault during the replay holds the rest again. */
void
pa_login_replay_held (PaBridge *b)
{
  g_autoptr (GPtrArray) held = g_steal_pointer (&b->held_frames);
  if (held == NULL)
    return;
  g_message ("replaying %u worker frames held during the storage fault", held->len);
  for (guint i = 0; i < held->len; i++)
    {
      HeldFrame *h = g_ptr_array_index (held, i);
      PaAccount *l = pa_login_by_id (b, h->login_id);
      if (l != NULL)
        on_frame (l->worker, h->frame, l);
    }
}
