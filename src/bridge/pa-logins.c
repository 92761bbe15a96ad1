/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Plugins and logins.  Plugins are discovered by asking a worker to
 * describe each .so in plugin_dir (no plugin code runs in the host).  Each
 * login is a worker process; its frames arrive here: remote events are
 * stored durably and acknowledged to the worker, login steps become a
 * conversation in the agent's management room, operation results update
 * the message map or tell the agent what failed. */
#define G_LOG_DOMAIN "passerelle-logins"

#include "pa-bridge-private.h"

#include <glib/gstdio.h>

static const char *
str (json_t *o, const char *key)
{
  return json_string_value (json_object_get (o, key));
}

static const char *const meta_scopes[] = { "login", "chat", "contact", "message" };

/* The first frame of every worker start: its login and the plugin's
 * metadata, so meta_get answers locally in the worker. */
static json_t *
init_frame (PaBridge *b, const char *login_id, gboolean saved)
{
  g_autoptr (json_t) rows = pa_store_meta_list (b->store, login_id);
  json_t *meta = json_array ();
  size_t i;
  json_t *r;
  json_array_foreach (rows, i, r)
    {
      json_int_t scope = json_integer_value (json_object_get (r, "scope"));
      if (scope < 0 || scope >= (json_int_t) G_N_ELEMENTS (meta_scopes))
        continue;
      json_array_append_new (meta, json_pack ("{s:s, s:O, s:O}", "scope", meta_scopes[scope],
                                              "id", json_object_get (r, "id"), "value",
                                              json_object_get (r, "value")));
    }
  return json_pack ("{s:s, s:s, s:b, s:o}", "t", "init", "login_id", login_id, "saved", saved,
                    "meta", meta);
}

/* ------------------------------------------------------------ plugins */

void
pa_plugins_discover (PaBridge *b)
{
  const char *dir = b->config->plugin_dir;
  g_autoptr (GError) error = NULL;
  g_autoptr (GDir) d = g_dir_open (dir, 0, &error);
  if (d == NULL)
    {
      g_warning ("plugin directory %s: %s", dir, error->message);
      return;
    }
  const char *name;
  while ((name = g_dir_read_name (d)) != NULL)
    {
      if (!g_str_has_suffix (name, ".so"))
        continue;
      g_autofree char *path = g_build_filename (dir, name, NULL);
      g_autoptr (GError) e = NULL;
      json_t *hello = pa_worker_describe (b->self_exe, path, &e);
      if (hello == NULL)
        {
          g_warning ("plugin %s not loaded: %s", path, e->message);
          continue;
        }
      const char *pname = str (hello, "plugin");
      if (pname == NULL || g_hash_table_contains (b->plugins, pname))
        {
          g_warning ("plugin %s: missing or duplicate name", path);
          json_decref (hello);
          continue;
        }
      PaPluginInfo *info = g_new0 (PaPluginInfo, 1);
      info->name = g_strdup (pname);
      info->display_name = g_strdup (str (hello, "display_name") ? str (hello, "display_name")
                                                                 : pname);
      info->path = g_steal_pointer (&path);
      info->hello = hello;
      g_hash_table_insert (b->plugins, info->name, info);
      g_message ("plugin %s (%s %s) from %s", info->name, info->display_name,
                 str (hello, "version") ? str (hello, "version") : "?", info->path);
    }
}

PaPluginInfo *
pa_plugin_info (PaBridge *b, const char *name)
{
  return name ? g_hash_table_lookup (b->plugins, name) : NULL;
}

/* ------------------------------------------------------------- logins */

PaAccount *
pa_login_by_id (PaBridge *b, const char *id)
{
  return id ? g_hash_table_lookup (b->logins, id) : NULL;
}

PaAccount *
pa_login_find (PaBridge *b, const char *owner, const char *plugin)
{
  GHashTableIter it;
  gpointer v;
  g_hash_table_iter_init (&it, b->logins);
  while (g_hash_table_iter_next (&it, NULL, &v))
    {
      PaAccount *l = v;
      if (g_str_equal (l->owner, owner) && g_str_equal (l->plugin, plugin))
        return l;
    }
  return NULL;
}

static void
pending_free (gpointer p)
{
  PaPendingOp *op = p;
  g_free (op->kind);
  g_free (op->room_id);
  g_free (op->event_id);
  g_free (op->chat_id);
  g_free (op->extra);
  json_decref (op->contacts);
  g_free (op);
}

static void
save_login (PaAccount *l)
{
  PaLoginRow row = { .id = l->id, .owner = l->owner, .plugin = l->plugin,
                     .remote_id = l->remote_id, .remote_name = l->remote_name,
                     .state = l->state };
  g_autoptr (GError) e = NULL;
  if (!pa_store_login_put (l->bridge->store, &row, &e))
    g_warning ("store: %s", e->message);
}

static void
set_state (PaAccount *l, const char *state)
{
  if (g_strcmp0 (l->state, state) == 0)
    return;
  g_free (l->state);
  l->state = g_strdup (state);
  save_login (l);
}

static void
fail_pending (PaAccount *l, const char *why)
{
  GHashTableIter it;
  gpointer v;
  g_hash_table_iter_init (&it, l->pending);
  while (g_hash_table_iter_next (&it, NULL, &v))
    {
      PaPendingOp *op = v;
      if (op->room_id && (g_str_equal (op->kind, "send") || g_str_equal (op->kind, "edit")
                          || g_str_equal (op->kind, "redact") || g_str_equal (op->kind, "react")))
        {
          g_autofree char *msg = g_strdup_printf ("⚠ Not delivered: %s", why);
          pa_bridge_notice (l->bridge, op->room_id, msg);
        }
    }
  g_hash_table_remove_all (l->pending);
}

/* Ask the next field of a user_input step. */
static void
ask_field (PaAccount *l)
{
  json_t *fields = json_object_get (json_object_get (l->step, "step"), "fields");
  json_t *f = json_array_get (fields, l->field_index);
  if (f == NULL)
    return;
  const char *label = str (f, "label") ? str (f, "label") : str (f, "id");
  const char *type = str (f, "type") ? str (f, "type") : "text";
  GString *q = g_string_new (NULL);
  g_string_append_printf (q, "Please send your %s", label);
  if (g_str_equal (type, "password"))
    g_string_append (q, " (your message will be deleted right away)");
  if (str (f, "default"))
    g_string_append_printf (q, " — or `-` for the default (%s)", str (f, "default"));
  else if (json_is_true (json_object_get (f, "optional")))
    g_string_append (q, " — or `-` to leave it empty");
  json_t *choices = json_object_get (f, "choices");
  if (json_array_size (choices) > 0)
    {
      g_string_append (q, ". Choices:");
      size_t i;
      json_t *c;
      json_array_foreach (choices, i, c)
        g_string_append_printf (q, " `%s`", json_string_value (c));
    }
  g_string_append (q, ". Send `cancel` to stop.");
  pa_bridge_notify_owner (l->bridge, l->owner, q->str);
  g_string_free (q, TRUE);
}

static void
image_uploaded (PaBridge *b, const char *mxc, json_t *file, const char *error,
                gpointer user_data)
{
  g_autofree char *owner = user_data;
  if (mxc == NULL)
    {
      g_autofree char *msg = g_strdup_printf ("Could not show the login image: %s", error);
      pa_bridge_notify_owner (b, owner, msg);
      return;
    }
  g_autofree char *room = pa_store_management_room (b->store, owner);
  if (room == NULL)
    return;
  /* A login code is a secret: in an encrypted room the file is too. */
  g_autoptr (json_t) content = json_pack ("{s:s, s:s, s:{s:s}}", "msgtype", "m.image", "body",
                                          "login-code.png", "info", "mimetype", "image/png");
  if (file)
    json_object_set (content, "file", file);
  else
    json_object_set_new (content, "url", json_string (mxc));
  pa_bridge_queue_send (b, room, NULL, "m.room.message", content, 0, NULL, NULL);
}

static void
login_step (PaAccount *l, json_t *frame)
{
  PaBridge *b = l->bridge;
  json_t *step = json_object_get (frame, "step");
  const char *kind = str (step, "kind");
  const char *instr = str (step, "instructions");
  if (kind == NULL)
    return;
  if (g_str_equal (kind, "user_input"))
    {
      if (instr)
        pa_bridge_notify_owner (b, l->owner, instr);
      json_decref (l->step);
      l->step = json_incref (frame);
      l->field_index = 0;
      json_decref (l->answers);
      l->answers = json_object ();
      if (json_array_size (json_object_get (step, "fields")) == 0)
        {
          /* Nothing to ask: submit straight away. */
          g_autoptr (json_t) f = json_pack ("{s:s, s:s?, s:o}", "t", "login_submit", "step_id",
                                            str (step, "step_id"), "values", json_object ());
          pa_worker_send (l->worker, f);
          g_clear_pointer (&l->step, json_decref);
          return;
        }
      ask_field (l);
    }
  else if (g_str_equal (kind, "display_and_wait"))
    {
      g_clear_pointer (&l->step, json_decref);
      if (instr)
        pa_bridge_notify_owner (b, l->owner, instr);
      const char *text = str (step, "display_text");
      if (text)
        pa_bridge_notify_owner (b, l->owner, text);
      const char *image = str (step, "image_path");
      if (image)
        {
          /* The worker may only show files from its own directory. */
          g_autofree char *dir = g_build_filename (b->config->data_dir, l->id, NULL);
          g_autofree char *real_dir = g_canonicalize_filename (dir, NULL);
          g_autofree char *real = g_canonicalize_filename (image, real_dir);
          if (!g_str_has_prefix (real, real_dir) || real[strlen (real_dir)] != '/')
            g_warning ("login %s: image outside its data dir refused: %s", l->id, image);
          else
            {
              g_autofree char *room = pa_store_management_room (b->store, l->owner);
              pa_media_upload (b, room, real, "login-code.png", "image/png", image_uploaded,
                               g_strdup (l->owner));
            }
        }
    }
  else if (g_str_equal (kind, "complete"))
    {
      g_clear_pointer (&l->step, json_decref);
      g_free (l->remote_id);
      l->remote_id = g_strdup (str (step, "remote_id"));
      g_free (l->remote_name);
      l->remote_name = g_strdup (str (step, "remote_name"));
      l->logged_in = TRUE;
      set_state (l, "connected");
      save_login (l);
      PaPluginInfo *info = pa_plugin_info (b, l->plugin);
      g_autofree char *msg = g_strdup_printf (
          "✅ Logged in to %s as %s%s%s%s. Your conversations will appear as rooms.",
          info ? info->display_name : l->plugin, l->remote_name ? l->remote_name : "",
          l->remote_name ? " (" : "", l->remote_id ? l->remote_id : "?", l->remote_name ? ")" : "");
      pa_bridge_notify_owner (b, l->owner, msg);
    }
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
  set_state (l, state);
  if (l->resuming && g_str_equal (state, "connected"))
    {
      /* Back after a bridge restart: nothing to tell the agent. */
      l->resuming = FALSE;
      return;
    }
  /* Tell the agent about changes that matter, not every reconnect step. */
  if (changed && (was_connected || !g_str_equal (state, "connecting"))
      && !(g_str_equal (state, "connected") && !was_connected && l->step == NULL
           && !l->logged_in))
    {
      PaPluginInfo *info = pa_plugin_info (l->bridge, l->plugin);
      g_autofree char *msg = g_strdup_printf ("%s: %s%s%s", info ? info->display_name : l->plugin,
                                              state_text (state), message ? " — " : "",
                                              message ? message : "");
      pa_bridge_notify_owner (l->bridge, l->owner, msg);
    }
}

static void
op_result (PaAccount *l, json_t *frame)
{
  PaBridge *b = l->bridge;
  guint64 op_id = (guint64) json_integer_value (json_object_get (frame, "op_id"));
  PaPendingOp *op = g_hash_table_lookup (l->pending, &op_id);
  if (op == NULL)
    return;
  gboolean ok = json_is_true (json_object_get (frame, "ok"));
  const char *legacy_id = str (frame, "legacy_id");
  const char *error = str (frame, "error");
  g_autoptr (GError) e = NULL;
  if (!ok)
    {
      if (op->room_id && !g_str_equal (op->kind, "typing") && !g_str_equal (op->kind, "mark_read"))
        {
          g_autofree char *msg = g_strdup_printf ("⚠ Not delivered: %s",
                                                  error ? error : "the network refused it");
          pa_bridge_notice (b, op->room_id, msg);
        }
      else if (g_str_equal (op->kind, "command") || g_str_equal (op->kind, "join")
               || g_str_equal (op->kind, "start") || g_str_equal (op->kind, "contacts"))
        {
          g_autofree char *msg = g_strdup_printf ("Failed: %s", error ? error : "unknown error");
          pa_bridge_notify_owner (b, l->owner, msg);
        }
    }
  else if (g_str_equal (op->kind, "send") && legacy_id && op->event_id)
    {
      if (!pa_store_message_put (b->store, l->plugin, l->id, op->chat_id, legacy_id, op->room_id,
                                 op->event_id, l->owner, pa_now_ms (), &e))
        g_debug ("message map: %s", e->message);
    }
  else if (g_str_equal (op->kind, "react") && op->event_id && op->extra)
    {
      /* Remember the reaction (extra = "target<US>key") so that its
       * redaction can be bridged and the network's echo recognised. */
      g_auto (GStrv) tk = g_strsplit (op->extra, "\x1f", 2);
      g_autofree char *legacy = g_strdup_printf ("reaction\x1f%s\x1f%s\x1f%s", tk[0],
                                                 l->remote_id ? l->remote_id : "",
                                                 tk[1] ? tk[1] : "");
      if (!pa_store_message_put (b->store, l->plugin, l->id, op->chat_id, legacy, op->room_id,
                                 op->event_id, l->owner, pa_now_ms (), &e))
        g_debug ("message map: %s", e->message);
    }
  else if (g_str_equal (op->kind, "contacts"))
    {
      GString *s = g_string_new ("Contacts:\n");
      size_t i;
      json_t *c;
      json_array_foreach (op->contacts, i, c)
        g_string_append_printf (s, "- %s (`%s`)\n", str (c, "name") ? str (c, "name") : "?",
                                str (c, "id") ? str (c, "id") : "?");
      if (json_array_size (op->contacts) == 0)
        g_string_append (s, "(none)");
      pa_bridge_notify_owner (b, l->owner, s->str);
      g_string_free (s, TRUE);
    }
  else if (g_str_equal (op->kind, "join"))
    {
      g_autofree char *msg = g_strdup_printf ("Joined %s: you will be invited to its room.",
                                              op->chat_id ? op->chat_id : "the room");
      pa_bridge_notify_owner (b, l->owner, msg);
    }
  else if (g_str_equal (op->kind, "start") && legacy_id)
    {
      g_autofree char *msg = g_strdup_printf ("Conversation %s opened: you will be invited to "
                                              "its room.", legacy_id);
      pa_bridge_notify_owner (b, l->owner, msg);
    }
  else if (g_str_equal (op->kind, "logout"))
    {
      pa_bridge_notify_owner (b, l->owner, "Logged out.");
    }
  g_hash_table_remove (l->pending, &op_id);
}

static void
remote_event (PaAccount *l, json_t *frame)
{
  PaBridge *b = l->bridge;
  json_t *ev = json_object_get (frame, "event");
  json_int_t seq = json_integer_value (json_object_get (frame, "seq"));
  if (!json_is_object (ev))
    return;
  const char *type = str (ev, "type");
  const char *mid = str (ev, "message_id");
  g_autofree char *key = NULL;
  if (type && mid && (g_str_equal (type, "message") || g_str_equal (type, "message_upsert")))
    key = g_strjoin ("\x1f", l->id, str (ev, "chat_id") ? str (ev, "chat_id") : "", mid, type,
                     NULL);
  g_autofree char *text = json_dumps (ev, JSON_COMPACT);
  gboolean dup = FALSE;
  g_autoptr (GError) e = NULL;
  if (pa_store_remote_add (b->store, l->id, key, text, &dup, &e) < 0 && e)
    {
      /* Not persisted: do not acknowledge, so the network redelivers. */
      g_warning ("could not store a remote event: %s", e->message);
      return;
    }
  /* Once committed (or already known), the plugin may ack its network. */
  pa_bridge_defer_ack (b, l->id, seq);
  pa_lane_schedule (&b->live);
}

static void
on_hello (PaWorker *w, json_t *hello, gpointer user_data)
{
  PaAccount *l = user_data;
  g_debug ("worker for %s is up (pid %d)", l->id, (int) pa_worker_pid (w));
}

static void
on_frame (PaWorker *w, json_t *frame, gpointer user_data)
{
  PaAccount *l = user_data;
  const char *t = str (frame, "t");
  if (t == NULL)
    return;
  pa_bridge_batch (l->bridge);
  if (g_str_equal (t, "event"))
    remote_event (l, frame);
  else if (g_str_equal (t, "result"))
    op_result (l, frame);
  else if (g_str_equal (t, "contact"))
    {
      guint64 op_id = (guint64) json_integer_value (json_object_get (frame, "op_id"));
      PaPendingOp *op = g_hash_table_lookup (l->pending, &op_id);
      if (op && json_is_object (json_object_get (frame, "contact")))
        {
          if (op->contacts == NULL)
            op->contacts = json_array ();
          json_array_append (op->contacts, json_object_get (frame, "contact"));
        }
    }
  else if (g_str_equal (t, "login_step"))
    login_step (l, frame);
  else if (g_str_equal (t, "login_state"))
    login_state (l, frame);
  else if (g_str_equal (t, "notice") && str (frame, "text"))
    pa_bridge_notify_owner (l->bridge, l->owner, str (frame, "text"));
  else if (g_str_equal (t, "meta_set"))
    {
      const char *scope = str (frame, "scope");
      int s = 0;
      for (guint i = 0; i < G_N_ELEMENTS (meta_scopes); i++)
        if (g_strcmp0 (scope, meta_scopes[i]) == 0)
          s = (int) i;
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
  g_autofree char *why = g_strdup_printf ("the %s connection stopped (%s)", name,
                                          reason ? reason : "exited");
  fail_pending (l, why);
  if (crashed)
    {
      g_warning ("worker of login %s: %s", l->id, reason ? reason : "crashed");
      g_autofree char *msg = g_strdup_printf ("⚠ Your %s connection crashed (%s).%s", name,
                                              reason ? reason : "?",
                                              will_restart ? " Restarting it…" : "");
      pa_bridge_notify_owner (l->bridge, l->owner, msg);
    }
  /* After a restart the plugin resumes from its saved session. */
  g_autoptr (json_t) init = init_frame (l->bridge, l->id, l->logged_in);
  pa_worker_set_init (w, init);
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
  l->pending = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, pending_free);
  PaWorkerCallbacks cbs = { .hello = on_hello, .frame = on_frame, .exited = on_exited };
  l->worker = pa_worker_new (b->self_exe, info->path, id, dir, &cbs, l);
  pa_worker_set_restart (l->worker, TRUE, b->config->worker_restart_max_delay_s);
  g_autoptr (json_t) init = init_frame (b, id, saved);
  pa_worker_set_init (l->worker, init);
  if (!pa_worker_start (l->worker, error))
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
    set_state (l, "new");
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
      if (!pa_bridge_plugin_allowed (b, r->owner, r->plugin, &why))
        {
          g_message ("login %s not resumed: %s", r->id, why);
          continue;
        }
      g_autoptr (GError) e = NULL;
      PaAccount *l = login_spawn (b, r->id, r->owner, r->plugin, TRUE, &e);
      if (l == NULL)
        {
          g_warning ("login %s not resumed: %s", r->id, e->message);
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

gboolean
pa_login_send_op (PaAccount *l, const char *op, json_t *args, const char *kind, const char *room_id,
                  const char *event_id, const char *chat_id, const char *extra, GError **error)
{
  if (!pa_worker_is_running (l->worker))
    {
      g_set_error (error, PA_ERROR, PA_ERROR_FAILED,
                   "the %s connection is restarting; try again in a moment", l->plugin);
      return FALSE;
    }
  PaBridge *b = l->bridge;
  guint64 op_id = b->next_op_id++;
  g_autoptr (json_t) frame = json_deep_copy (args ? args : json_object ());
  json_object_set_new (frame, "t", json_string ("op"));
  json_object_set_new (frame, "op", json_string (op));
  json_object_set_new (frame, "op_id", json_integer ((json_int_t) op_id));
  if (!pa_worker_send (l->worker, frame))
    {
      g_set_error (error, PA_ERROR, PA_ERROR_FAILED, "the %s connection is not running",
                   l->plugin);
      return FALSE;
    }
  PaPendingOp *p = g_new0 (PaPendingOp, 1);
  p->op_id = op_id;
  p->kind = g_strdup (kind);
  p->room_id = g_strdup (room_id);
  p->event_id = g_strdup (event_id);
  p->chat_id = g_strdup (chat_id);
  p->extra = g_strdup (extra);
  guint64 *key = g_new (guint64, 1);
  *key = op_id;
  g_hash_table_insert (l->pending, key, p);
  return TRUE;
}

gboolean
pa_login_handle_answer (PaBridge *b, const char *owner, const char *room_id, const char *event_id,
                        const char *text)
{
  PaAccount *l = NULL;
  GHashTableIter it;
  gpointer v;
  g_hash_table_iter_init (&it, b->logins);
  while (g_hash_table_iter_next (&it, NULL, &v))
    {
      PaAccount *c = v;
      if (g_str_equal (c->owner, owner) && c->step != NULL)
        l = c;
    }
  if (l == NULL)
    return FALSE;
  g_autofree char *answer = g_strstrip (g_strdup (text));
  if (g_str_equal (answer, "cancel"))
    {
      g_autoptr (json_t) f = json_pack ("{s:s}", "t", "login_cancel");
      pa_worker_send (l->worker, f);
      g_clear_pointer (&l->step, json_decref);
      pa_bridge_notify_owner (b, owner, "Login cancelled.");
      if (!l->logged_in)
        pa_login_stop_and_free (l);
      return TRUE;
    }
  json_t *step = json_object_get (l->step, "step");
  json_t *fields = json_object_get (step, "fields");
  json_t *f = json_array_get (fields, l->field_index);
  if (f == NULL)
    return FALSE;
  const char *type = str (f, "type") ? str (f, "type") : "text";
  if (g_str_equal (type, "password") && event_id)
    {
      /* Do not leave a password in the room's history. */
      g_autofree char *txn = pa_bridge_txn_id (room_id, "redact", event_id, NULL);
      g_autofree char *er = pa_matrix_escape (room_id);
      g_autofree char *ee = pa_matrix_escape (event_id);
      g_autofree char *path = g_strdup_printf ("/_matrix/client/v3/rooms/%s/redact/%s/%s", er, ee,
                                               txn);
      g_autoptr (json_t) body = json_pack ("{s:s}", "reason", "password removed");
      g_autoptr (json_t) done = json_pack ("{s:s, s:s}", "what", "redact_password", "room",
                                           room_id);
      pa_bridge_queue_request (b, room_id, "PUT", path, NULL, body, 0, txn, done);
    }
  const char *value = answer;
  if (g_str_equal (answer, "-"))
    value = str (f, "default") ? str (f, "default") : "";
  json_t *choices = json_object_get (f, "choices");
  if (json_array_size (choices) > 0)
    {
      gboolean found = FALSE;
      size_t i;
      json_t *c;
      json_array_foreach (choices, i, c)
        if (g_strcmp0 (json_string_value (c), value) == 0)
          found = TRUE;
      if (!found)
        {
          pa_bridge_notify_owner (b, owner, "That is not one of the choices.");
          ask_field (l);
          return TRUE;
        }
    }
  json_object_set_new (l->answers, str (f, "id") ? str (f, "id") : "", json_string (value));
  l->field_index++;
  if (l->field_index < json_array_size (fields))
    {
      ask_field (l);
      return TRUE;
    }
  g_autoptr (json_t) submit = json_pack ("{s:s, s:s?, s:O}", "t", "login_submit", "step_id",
                                         str (step, "step_id"), "values", l->answers);
  g_clear_pointer (&l->step, json_decref);
  pa_worker_send (l->worker, submit);
  pa_bridge_notify_owner (b, owner, "Thanks, logging in…");
  return TRUE;
}

void
pa_login_logout (PaAccount *l)
{
  PaBridge *b = l->bridge;
  g_autoptr (GError) e = NULL;
  /* Ask the network to forget us; then stop whatever it answers. */
  pa_login_send_op (l, "logout", NULL, "logout", NULL, NULL, NULL, NULL, NULL);
  set_state (l, "logged_out");
  if (!pa_store_login_delete (b->store, l->id, &e))
    g_warning ("store: %s", e->message);
  pa_login_stop_and_free (l);
}

static gboolean
free_later (gpointer data)
{
  pa_login_free (data);
  return G_SOURCE_REMOVE;
}

void
pa_login_stop_and_free (PaAccount *l)
{
  g_hash_table_remove (l->bridge->logins, l->id);
  pa_worker_stop (l->worker);
  /* The worker may be inside a callback of ours: free on the next turn. */
  g_timeout_add (100, free_later, l);
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
                                                  "connection is stopped.", m->name, plugin);
          pa_bridge_notify_owner (b, l->owner, msg);
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
          || pa_login_by_id (b, r->id) != NULL
          || pa_config_ministry_for (b->config, r->owner) != m)
        continue;
      g_autoptr (GError) e = NULL;
      PaAccount *l = login_spawn (b, r->id, r->owner, r->plugin, TRUE, &e);
      if (l)
        {
          l->remote_id = g_strdup (r->remote_id);
          l->remote_name = g_strdup (r->remote_name);
          l->state = g_strdup ("connecting");
          g_autofree char *msg = g_strdup_printf ("Your ministry (%s) has enabled %s again: "
                                                  "reconnecting.", m->name, plugin);
          pa_bridge_notify_owner (b, l->owner, msg);
        }
    }
}

void
pa_login_free (PaAccount *l)
{
  if (l == NULL)
    return;
  if (l->worker)
    {
      pa_worker_stop (l->worker);
      pa_worker_free (l->worker);
    }
  g_hash_table_destroy (l->pending);
  json_decref (l->step);
  json_decref (l->answers);
  g_free (l->id);
  g_free (l->owner);
  g_free (l->plugin);
  g_free (l->remote_id);
  g_free (l->remote_name);
  g_free (l->state);
  g_free (l);
}

/* Outbound completion of a password's redaction: when it failed, the
 * agent deletes it. */
void
pa_login_password_redacted (PaBridge *b, json_t *on_done, const char *event_id,
                            const PaMatrixResponse *resp)
{
  if (resp && !pa_matrix_response_ok (resp))
    /* In a room the agent created, the bot may lack the power to redact. */
    pa_bridge_notice (b, str (on_done, "room"),
                      "⚠ I could not delete your password message (I am not a moderator of "
                      "this room): please delete it yourself.");
}
