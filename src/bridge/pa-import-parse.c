/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* History import, parsing: a worker runs the plugin's importer on the
 * file; every event it emits is stored in the job's lane of the remote
 * table (deduplicated on chat + message id) and counted in the summary;
 * at the end the job is failed, done (dry run), waits for the agent to
 * say which sender they are, or starts sending. */
#define G_LOG_DOMAIN "passerelle-import"

#include "pa-import-parse.h"

#include "pa-batch.h"
#include "pa-fingerprint.h"
#include "pa-import-job.h"
#include "pa-import-status.h"
#include "pa-plugins.h"
#include "pa-to-matrix-files.h"
#include "pa-to-matrix-lane.h"

#include "passerelle/plugin.h"

#include <signal.h>

static const char *
str (json_t *o, const char *key)
{
  return json_string_value (json_object_get (o, key));
}

/* ------------------------------------------------------------ parsing */

static void job_finish_parse (PaImportJob *j, gboolean ok, gboolean whole, const char *error);

/* Events stored per commit while parsing: a flood of frames from the
 * worker is written in bounded transactions, not one that never ends. */
#define PA_IMPORT_EVENTS_PER_COMMIT 2000

static void
on_hello (PaWorker *w, json_t *hello, gpointer user_data)
{
  PaImportJob *j = user_data;
  PaConfig *c = j->b->config;
  g_autofree char *work = g_build_filename (c->data_dir, j->account->id, "media", NULL);
  g_mkdir_with_parents (work, 0700);
  json_t *o = pa_import_job_opt (j);
  g_autoptr (json_t) frame = json_pack (
      "{s:s, s:s, s:{s:s, s:s?, s:s, s:I, s:I}}", "t", "import", "path", str (j->row, "path"),
      "options", "timezone", str (o, "timezone") ? str (o, "timezone") : "Europe/Paris", "chat",
      str (o, "chat"), "work_dir", work, "max_total_bytes", (json_int_t)c->max_import_bytes,
      "max_entries", (json_int_t)c->max_import_entries);
  /* The plugin's checked settings, as a login's worker gets them. */
  PaPluginInfo *info = pa_plugin_info (j->b, j->account->plugin);
  if (info != NULL && info->settings != NULL)
    json_object_set_new (frame, "config", json_deep_copy (info->settings));
  pa_worker_send (w, frame);
}

/* A chat's anchor: the fingerprint of its first message (see
 * pa_fingerprint_chat_identity), kept while parsing. */
static void
anchor_add (PaImportJob *j, const char *chat_id, json_t *ev)
{
  if (j->anchors != NULL && g_hash_table_contains (j->anchors, chat_id))
    return;
  char *anchor = pa_fingerprint_anchor (ev);
  if (anchor == NULL)
    return;
  if (j->anchors == NULL)
    j->anchors = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_hash_table_insert (j->anchors, g_strdup (chat_id), anchor);
}

/* Each chat's identity, and the room a former import of it went to. */
static void
identify_chats (PaImportJob *j)
{
  size_t i;
  json_t *c;
  json_array_foreach (json_object_get (pa_import_job_summary (j), "chats"), i, c)
    {
      const char *chat_id = str (c, "id");
      g_autofree char *identity
          = chat_id ? pa_fingerprint_chat_identity (
                chat_id, j->anchors ? g_hash_table_lookup (j->anchors, chat_id) : NULL)
                    : NULL;
      if (identity == NULL)
        continue;
      json_object_set_new (c, "identity", json_string (identity));
      g_autofree char *room = pa_store_import_chat_room (j->b->store, str (j->row, "owner"),
                                                         j->account->plugin, identity);
      /* This very job's room (it resumes after a restart) is not a former
       * import. */
      g_autoptr (PaPortalRow) own
          = pa_store_portal_get (j->b->store, j->account->plugin, j->account->id, chat_id);
      if (room != NULL && (own == NULL || g_strcmp0 (own->room_id, room) != 0))
        json_object_set_new (c, "already_in", json_string (room));
    }
}

static void
count_event (PaImportJob *j, json_t *ev)
{
  json_t *s = pa_import_job_summary (j);
  const char *type = str (ev, "type");
  const char *chat_id = str (ev, "chat_id");
  if (g_strcmp0 (type, "chat_info") == 0)
    {
      json_t *chat = json_object_get (ev, "chat");
      const char *id = str (chat, "id") ? str (chat, "id") : chat_id;
      json_t *entry = id ? pa_import_job_chat (j, id, TRUE) : NULL;
      if (entry == NULL)
        {
          entry = json_pack ("{s:i}", "messages", 0);
          json_array_append_new (json_object_get (s, "chats"), entry);
        }
      if (str (chat, "name"))
        json_object_set_new (entry, "name", json_string (str (chat, "name")));
      if (str (chat, "kind"))
        json_object_set_new (entry, "kind", json_string (str (chat, "kind")));
      return;
    }
  if (g_strcmp0 (type, "message") != 0)
    return;
  json_t *entry = chat_id ? pa_import_job_chat (j, chat_id, TRUE) : NULL;
  if (entry != NULL)
    {
      json_object_set_new (
          entry, "messages",
          json_integer (json_integer_value (json_object_get (entry, "messages")) + 1));
      anchor_add (j, chat_id, ev);
    }
  json_object_set_new (s, "messages",
                       json_integer (json_integer_value (json_object_get (s, "messages")) + 1));
  json_t *c = json_object_get (ev, "content");
  if (str (c, "media_path"))
    json_object_set_new (s, "media",
                         json_integer (json_integer_value (json_object_get (s, "media")) + 1));
  if (g_strcmp0 (str (c, "kind"), "notice") == 0)
    json_object_set_new (s, "notices",
                         json_integer (json_integer_value (json_object_get (s, "notices")) + 1));
  json_int_t ts = json_integer_value (json_object_get (ev, "ts"));
  if (ts > 0)
    {
      json_t *first = json_object_get (s, "first_ts");
      if (first == NULL || ts < json_integer_value (first))
        json_object_set_new (s, "first_ts", json_integer (ts));
      if (ts > json_integer_value (json_object_get (s, "last_ts")))
        json_object_set_new (s, "last_ts", json_integer (ts));
    }
  const char *sender = str (ev, "sender_id");
  if (sender)
    {
      json_t *senders = json_object_get (s, "senders");
      json_t *one = json_object_get (senders, sender);
      if (one == NULL && json_object_size (senders) < 10000)
        {
          one = json_pack ("{s:s, s:i}", "name",
                           str (json_object_get (ev, "contact"), "name")
                               ? str (json_object_get (ev, "contact"), "name")
                               : sender,
                           "count", 0);
          json_object_set_new (senders, sender, one);
        }
      if (one)
        json_object_set_new (
            one, "count", json_integer (json_integer_value (json_object_get (one, "count")) + 1));
    }
}
/* A message past limits.max_import_messages: the import is refused whole
 * (the worker stopped, what it queued removed). */
static gboolean
over_message_budget (PaImportJob *j, json_t *ev)
{
  if (g_strcmp0 (str (ev, "type"), "message") != 0)
    return FALSE;
  json_int_t n = json_integer_value (json_object_get (pa_import_job_summary (j), "messages"));
  if (n < j->b->config->max_import_messages)
    return FALSE;
  j->refused = TRUE;
  /* The importer may still be extracting files into the work dir that is
   * about to be removed: it has nothing to save, it is stopped at once. */
  GPid pid = j->worker != NULL && pa_worker_is_running (j->worker) ? pa_worker_pid (j->worker) : 0;
  if (pid > 0)
    kill (pid, SIGKILL);
  g_autofree char *why = g_strdup_printf (
      "the export holds more than %" G_GINT64_FORMAT
      " messages, the limit of this bridge (limits.max_import_messages); nothing was imported",
      j->b->config->max_import_messages);
  job_finish_parse (j, FALSE, TRUE, why);
  return TRUE;
}

static void
on_frame (PaWorker *w, json_t *frame, gpointer user_data)
{
  PaImportJob *j = user_data;
  PaBridge *b = j->b;
  const char *t = str (frame, "t");
  if (t == NULL || j->refused)
    return;
  pa_batch_begin (b);
  if (g_str_equal (t, "event"))
    {
      json_t *ev = json_object_get (frame, "event");
      if (!json_is_object (ev))
        return;
      g_autofree char *export_dir = g_path_get_dirname (str (j->row, "path"));
      pa_to_matrix_files_confine (b, j->account, export_dir, ev);
      if (over_message_budget (j, ev))
        {
          g_autofree char *owned = pa_to_matrix_files_owned (b, j->account, ev);
          if (owned != NULL)
            pa_batch_defer_unlink (b, owned);
          return;
        }
      if (json_is_true (json_object_get (pa_import_job_opt (j), "dry_run")))
        {
          /* A dry run only counts: nothing is queued, its files go. */
          g_autofree char *owned = pa_to_matrix_files_owned (b, j->account, ev);
          if (owned != NULL)
            pa_batch_defer_unlink (b, owned);
          count_event (j, ev);
          return;
        }
      const char *type = str (ev, "type");
      const char *chat = str (ev, "chat_id") ? str (ev, "chat_id") : "";
      g_autofree char *key = NULL;
      if (g_strcmp0 (type, "message") == 0 && str (ev, "message_id"))
        key = g_strjoin ("\x1f", j->account->id, chat, str (ev, "message_id"), NULL);
      else if (g_strcmp0 (type, "chat_info") == 0)
        key = g_strjoin ("\x1f", j->account->id, "chat", chat, NULL);
      g_autofree char *text = json_dumps (ev, JSON_COMPACT);
      gboolean dup = FALSE;
      g_autoptr (GError) e = NULL;
      if (pa_store_remote_add (b->store, j->account->id, key, text, &dup, &e) < 0 && e)
        g_warning ("import %s: %s", j->id, e->message);
      else if (dup)
        {
          /* A resumed job parses again: files of events already stored go. */
          g_autofree char *owned = pa_to_matrix_files_owned (b, j->account, ev);
          if (owned != NULL)
            pa_batch_defer_unlink (b, owned);
        }
      count_event (j, ev);
      if (++j->unflushed >= PA_IMPORT_EVENTS_PER_COMMIT)
        {
          j->unflushed = 0;
          pa_batch_flush (b);
        }
    }
  else if (g_str_equal (t, "notice") && str (frame, "text"))
    {
      json_t *notes = json_object_get (pa_import_job_summary (j), "importer_notes");
      if (json_array_size (notes) < 200)
        json_array_append_new (notes, json_string (str (frame, "text")));
    }
  else if (g_str_equal (t, "log") && str (frame, "message"))
    g_message ("[%s] %s", j->account->id, str (frame, "message"));
  else if (g_str_equal (t, "import_done"))
    {
      /* An importer that fails refuses the file whole (plugin.h): a zip
       * bomb found half-way leaves nothing imported. */
      gboolean ok = json_is_true (json_object_get (frame, "ok"));
      job_finish_parse (j, ok, !ok, str (frame, "error"));
    }
}
static void
on_exited (PaWorker *w, gboolean crashed, gboolean will_restart, const char *reason,
           gpointer user_data)
{
  PaImportJob *j = user_data;
  if (!j->parse_done)
    {
      g_autofree char *why = g_strdup_printf ("the importer stopped before the end (%s)",
                                              reason ? reason : "exited");
      job_finish_parse (j, FALSE, FALSE, why);
    }
}
static char *
summary_text (PaImportJob *j)
{
  json_t *s = pa_import_job_summary (j);
  GString *t = g_string_new (NULL);
  g_autofree char *base = g_path_get_basename (str (j->row, "path"));
  g_string_append_printf (t,
                          "%s export %s: %" JSON_INTEGER_FORMAT " messages (%" JSON_INTEGER_FORMAT
                          " with media, %" JSON_INTEGER_FORMAT " notices)",
                          pa_import_job_display_suffix (j), base,
                          json_integer_value (json_object_get (s, "messages")),
                          json_integer_value (json_object_get (s, "media")),
                          json_integer_value (json_object_get (s, "notices")));
  json_int_t first = json_integer_value (json_object_get (s, "first_ts"));
  json_int_t last = json_integer_value (json_object_get (s, "last_ts"));
  if (first > 0)
    {
      g_autoptr (GDateTime) d1 = g_date_time_new_from_unix_utc (first / 1000);
      g_autoptr (GDateTime) d2 = g_date_time_new_from_unix_utc (last / 1000);
      g_autofree char *s1 = g_date_time_format (d1, "%Y-%m-%d");
      g_autofree char *s2 = g_date_time_format (d2, "%Y-%m-%d");
      g_string_append_printf (t, ", from %s to %s", s1, s2);
    }
  g_string_append (t, ".\nSenders:");
  const char *id;
  json_t *one;
  guint n = 0;
  json_object_foreach (json_object_get (s, "senders"), id, one) g_string_append_printf (
      t, "\n%u. %s — %" JSON_INTEGER_FORMAT " messages", ++n, str (one, "name"),
      json_integer_value (json_object_get (one, "count")));
  size_t i;
  json_t *note;
  json_array_foreach (json_object_get (s, "importer_notes"), i, note)
      g_string_append_printf (t, "\nℹ %s", json_string_value (note));
  return g_string_free (t, FALSE);
}
static void
job_finish_parse (PaImportJob *j, gboolean ok, gboolean whole, const char *error)
{
  if (j->parse_done)
    return;
  j->parse_done = TRUE;
  pa_batch_flush (j->b);
  if (j->worker)
    pa_worker_stop (j->worker);
  json_t *s = pa_import_job_summary (j);
  json_object_set_new (j->row, "total",
                       json_integer (json_integer_value (json_object_get (s, "messages"))));
  identify_chats (j);
  g_clear_pointer (&j->anchors, g_hash_table_destroy);
  if (!ok && (whole || json_integer_value (json_object_get (s, "messages")) == 0))
    {
      pa_import_job_delete_lane_rows (j);
      pa_import_job_set_state (j, "failed", error ? error : "the importer failed");
      g_autofree char *msg = g_strdup_printf ("❌ Import failed: %s", error ? error : "?");
      pa_import_job_notify (j, msg);
      return;
    }
  if (!ok)
    {
      /* A truncated or partly broken file: what was read is imported. */
      json_t *notes = json_object_get (s, "importer_notes");
      g_autofree char *note
          = g_strdup_printf ("the importer stopped early: %s", error ? error : "?");
      json_array_append_new (notes, json_string (note));
    }
  g_autofree char *text = summary_text (j);
  if (json_is_true (json_object_get (pa_import_job_opt (j), "dry_run")))
    {
      pa_import_job_delete_lane_rows (j);
      pa_import_job_set_state (j, "done", NULL);
      g_autofree char *msg = g_strdup_printf ("Dry run, nothing imported.\n%s", text);
      if (json_is_true (json_object_get (pa_import_job_opt (j), "notify")))
        pa_import_job_notify (j, msg);
      return;
    }
  if (json_is_true (json_object_get (pa_import_job_opt (j), "ask_me"))
      && str (pa_import_job_opt (j), "me") == NULL)
    {
      pa_import_job_set_state (j, "awaiting_me", NULL);
      g_autofree char *msg = g_strdup_printf (
          "%s\n\nWhich sender is you? Reply with their number (0 if none), or `cancel`.", text);
      pa_import_job_notify (j, msg);
      return;
    }
  pa_import_job_set_state (j, "sending", NULL);
  j->remaining_at_start = pa_store_remote_count_login (j->b->store, j->account->id);
  g_autofree char *msg = g_strdup_printf ("Importing…\n%s", text);
  pa_import_job_notify (j, msg);
  pa_import_status_update (j);
  pa_lane_schedule (&j->lane);
}
void
pa_import_parse_start (PaImportJob *j)
{
  PaBridge *b = j->b;
  PaPluginInfo *info = pa_plugin_info (b, j->account->plugin);
  if (info == NULL)
    {
      pa_import_job_set_state (j, "failed", "no such plugin on this bridge");
      return;
    }
  j->parse_done = FALSE;
  /* A parse after a crash starts over: the counts restart, the stored
   * events are deduplicated. */
  json_object_del (j->row, "summary");
  pa_import_job_chats_reset (j);
  g_autofree char *dir = g_build_filename (b->config->data_dir, j->account->id, NULL);
  g_mkdir_with_parents (dir, 0700);
  PaWorkerCallbacks cbs = { .hello = on_hello, .frame = on_frame, .exited = on_exited };
  j->worker = pa_worker_new (b->self_exe, info->path, j->account->id, dir, &cbs, j);
  pa_worker_set_restart (j->worker, FALSE, 0);
  /* The importer reads the export in place: an archive alone (it extracts
   * into the login's dir), else its folder (the media next to a chat
   * file), which may hold whatever else the agent or admin put there. */
  const char *export_path = str (j->row, "path");
  g_autofree char *lower = g_ascii_strdown (export_path, -1);
  g_autofree char *export_dir = g_path_get_dirname (export_path);
  pa_worker_set_sandbox (j->worker, b->config->worker_sandbox, b->config->worker_sandbox_read);
  pa_worker_add_sandbox_read (j->worker,
                              g_str_has_suffix (lower, ".zip") ? export_path : export_dir);
  g_autoptr (GError) e = NULL;
  if (!pa_worker_start (j->worker, &e))
    {
      pa_import_job_set_state (j, "failed", e->message);
      return;
    }
  pa_import_job_set_state (j, "parsing", NULL);
}
