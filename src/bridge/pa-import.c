/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* History import jobs.  A job is a row in the store (import_jobs), created
 * by `passerelle import …` or by an agent uploading an export to their
 * management room; the running bridge picks it up:
 *
 *   queued → parsing → [awaiting_me] → sending → done | failed
 *
 * parsing: a worker runs the plugin's importer on the file; every event it
 * emits is stored in the job's own lane of the remote table (deduplicated on
 * chat + message id), and a summary is kept (senders, dates, counts,
 * importer notices).
 * sending: the job's lane is drained like live traffic (ghost, room, media,
 * durable outbound queue with ?ts= and deterministic txn ids), so a kill -9
 * anywhere resumes where it stopped, with neither gap nor duplicate, and
 * re-running the same import is a no-op.  Rooms are created by the bot
 * (Tchap private-room settings, the agent invited as admin).  Messages of
 * one room go oldest first, one at a time: Synapse's ?ts= does not reorder
 * the room graph. */
#define G_LOG_DOMAIN "passerelle-import"

#include "pa-import.h"

#include "pa-batch.h"
#include "pa-outbound.h"
#include "pa-plugins.h"
#include "pa-portal.h"
#include "pa-queue.h"
#include "pa-to-matrix-lane.h"

#include <gio/gio.h>

struct _PaImportJob {
  PaBridge *b;
  char *id;
  json_t *row;         /* the store row (owned; written back on changes) */
  PaAccount *account;  /* virtual login "import:<id>" for the lane */
  PaLane lane;
  PaWorker *worker;    /* while parsing */
  gboolean parse_done;
  GHashTable *senders; /* sender id → json object {name, count} (in summary) */
  gint64 started_ms;
  gint64 last_status_ms;
  gint64 remaining_at_start;
};

static const char *
str (json_t *o, const char *key)
{
  return json_string_value (json_object_get (o, key));
}

static json_t *
opt (PaImportJob *j)
{
  return json_object_get (j->row, "options");
}

static PaAccount *
job_account (PaImportJob *job)
{
  return job->account;
}

static const char *
job_source (PaImportJob *job)
{
  return job->account->plugin;
}

static const char *
job_me (PaImportJob *job)
{
  return str (opt (job), "me");
}

static const char *
job_display_suffix (PaImportJob *job)
{
  PaPluginInfo *info = pa_plugin_info (job->b, job->account->plugin);
  return info ? info->display_name : job->account->plugin;
}

static void job_room_ensure (PaImportJob *j, const char *chat_id, json_t *chat, PaPortalFunc done,
                             gpointer user_data);

/* What the job's lane asks of it (pa-to-matrix-lane.c). */
static const PaLaneImport lane_import = {
  .account = job_account,
  .source = job_source,
  .display_suffix = job_display_suffix,
  .me = job_me,
  .room_ensure = job_room_ensure,
};

static void
job_save (PaImportJob *j)
{
  g_autoptr (GError) e = NULL;
  if (!pa_store_job_put (j->b->store, j->row, &e))
    g_warning ("import %s: %s", j->id, e->message);
}

static void
job_set_state (PaImportJob *j, const char *state, const char *error)
{
  json_object_set_new (j->row, "state", json_string (state));
  if (error)
    json_object_set_new (j->row, "error", json_string (error));
  job_save (j);
  g_message ("import %s: %s%s%s", j->id, state, error ? ": " : "", error ? error : "");
}

static json_t *
summary (PaImportJob *j)
{
  json_t *s = json_object_get (j->row, "summary");
  if (!json_is_object (s))
    {
      s = json_pack ("{s:i, s:i, s:i, s:[], s:{}, s:[]}", "messages", 0, "media", 0, "notices", 0,
                     "chats", "senders", "importer_notes");
      json_object_set_new (j->row, "summary", s);
    }
  return s;
}

static void
notify (PaImportJob *j, const char *text)
{
  pa_portal_notify_owner (j->b, str (j->row, "owner"), text);
}

/* ------------------------------------------------------------- rooms */

typedef struct {
  PaImportJob *job;
  char *chat_id;
  json_t *chat;
  PaPortalFunc done;
  gpointer user_data;
} RoomCtx;

static void
room_ctx_free (RoomCtx *r)
{
  g_free (r->chat_id);
  json_decref (r->chat);
  g_free (r);
}

static void
room_ready (PaBridge *b, const char *room_id, const char *error, gpointer user_data)
{
  RoomCtx *r = user_data;
  PaImportJob *j = r->job;
  if (room_id && str (j->row, "room_id") == NULL)
    {
      json_object_set_new (j->row, "room_id", json_string (room_id));
      job_save (j);
    }
  r->done (b, room_id, error, r->user_data);
  room_ctx_free (r);
}

static void
create_room (RoomCtx *r)
{
  PaImportJob *j = r->job;
  /* Import rooms are group-shaped and made by the bot, whatever the
   * export's kind: it holds history, not a live DM. */
  g_autoptr (json_t) chat = json_deep_copy (r->chat ? r->chat : json_object ());
  const char *name = str (chat, "name");
  g_autofree char *title
      = g_strdup_printf ("%s (%s)", name ? name : r->chat_id, job_display_suffix (j));
  json_object_set_new (chat, "kind", json_string ("group"));
  json_object_set_new (chat, "name", json_string (title));
  if (str (chat, "topic") == NULL)
    {
      g_autofree char *base = g_path_get_basename (str (j->row, "path"));
      g_autofree char *topic = g_strdup_printf ("History imported by Passerelle from %s", base);
      json_object_set_new (chat, "topic", json_string (topic));
    }
  pa_portal_ensure (j->b, j->account, r->chat_id, chat, NULL, room_ready, r);
}

static void
target_checked (PaMatrix *mx, const PaMatrixResponse *resp, gpointer user_data)
{
  RoomCtx *r = user_data;
  PaImportJob *j = r->job;
  PaBridge *b = j->b;
  const char *target = str (opt (j), "room");
  if (!pa_matrix_response_ok (resp))
    {
      g_autoptr (GError) e = pa_matrix_response_to_error (resp);
      g_autofree char *msg = g_strdup_printf ("cannot read the room %s (%s): is the bridge bot in "
                                              "it?", target, e->message);
      r->done (b, NULL, msg, r->user_data);
      room_ctx_free (r);
      return;
    }
  gboolean has_messages = FALSE;
  size_t i;
  json_t *ev;
  json_array_foreach (json_object_get (resp->body, "chunk"), i, ev)
    {
      const char *type = str (ev, "type");
      if (type && (g_str_equal (type, "m.room.message") || g_str_equal (type, "m.room.encrypted")
                   || g_str_equal (type, "m.sticker"))
          && json_object_get (json_object_get (ev, "content"), "fr.passerelle.import") == NULL)
        has_messages = TRUE;
    }
  if (!has_messages)
    {
      PaPortalRow row = { .plugin = j->account->plugin, .login_id = j->account->id,
                          .chat_id = r->chat_id, .room_id = (char *) target, .kind = "import",
                          .name = (char *) str (r->chat, "name") };
      g_autoptr (GError) e = NULL;
      if (!pa_store_portal_put (b->store, &row, &e))
        g_warning ("store: %s", e->message);
      room_ready (b, target, NULL, r);
      return;
    }
  /* The room already has a conversation: history cannot go before it
   * (?ts= does not reorder), so it goes to an archive room, linked. */
  g_message ("import %s: %s has messages; importing into an archive room", j->id, target);
  json_object_set_new (opt (j), "archive_of", json_string (target));
  job_save (j);
  create_room (r);
}

static void
job_room_ensure (PaImportJob *j, const char *chat_id, json_t *chat, PaPortalFunc done,
                 gpointer user_data)
{
  PaBridge *b = j->b;
  g_autoptr (PaPortalRow) row = pa_store_portal_get (b->store, j->account->plugin, j->account->id,
                                                     chat_id);
  if (row && row->room_id)
    {
      done (b, row->room_id, NULL, user_data);
      return;
    }
  RoomCtx *r = g_new0 (RoomCtx, 1);
  r->job = j;
  r->chat_id = g_strdup (chat_id);
  r->chat = chat ? json_incref (chat) : NULL;
  r->done = done;
  r->user_data = user_data;
  const char *target = str (opt (j), "room");
  if (target && str (opt (j), "archive_of") == NULL && str (j->row, "room_id") == NULL)
    {
      g_autofree char *er = pa_matrix_escape (target);
      g_autofree char *path = g_strdup_printf ("/_matrix/client/v3/rooms/%s/messages?dir=b&limit=50",
                                               er);
      PaMatrixRequest req = { .method = "GET", .path = path, .max_attempts = 5 };
      pa_matrix_request (b->mx, &req, target_checked, r);
      return;
    }
  create_room (r);
}

/* ------------------------------------------------------ status message */

/* One notice in the agent's management room that is edited as the import
 * progresses (its event id comes back through the outbound queue). */
static void
status_room_cb (PaBridge *b, const char *room_id, const char *error, gpointer user_data)
{
  g_autofree char *id = user_data;
  PaImportJob *j = g_hash_table_lookup (b->imports, id);
  if (room_id == NULL || j == NULL)
    return;
  g_autofree char *key = g_strdup_printf ("import-status:%s", j->id);
  g_autofree char *event_id = pa_store_kv_get (b->store, key);
  json_int_t total = json_integer_value (json_object_get (j->row, "total"));
  json_int_t sent = json_integer_value (json_object_get (summary (j), "sent"));
  const char *state = str (j->row, "state");
  g_autofree char *text = NULL;
  if (g_strcmp0 (state, "done") == 0)
    text = g_strdup_printf ("Import finished: %" JSON_INTEGER_FORMAT "/%" JSON_INTEGER_FORMAT
                            " messages.", total, total);
  else
    {
      double secs = (double) (pa_now_ms () - j->started_ms) / 1000.0;
      double rate = secs > 0.5 ? (double) sent / secs : 0.0;
      int eta = rate > 0 ? (int) ((double) (total - sent) / rate) : 0;
      text = g_strdup_printf ("Importing… %" JSON_INTEGER_FORMAT "/%" JSON_INTEGER_FORMAT
                              " messages, %.0f msg/s, about %d:%02d left.",
                              sent, total, rate, eta / 60, eta % 60);
    }
  if (event_id == NULL)
    {
      g_autoptr (json_t) content = json_pack ("{s:s, s:s}", "msgtype", "m.notice", "body", text);
      g_autoptr (json_t) done = json_pack ("{s:s, s:s}", "what", "import_status", "key", key);
      g_autofree char *seed = g_strdup_printf ("import-status\x1f%s", j->id);
      pa_queue_send (b, room_id, NULL, "m.room.message", content, 0, seed, done);
      return;
    }
  g_autoptr (json_t) content = json_pack (
      "{s:s, s:s, s:{s:s, s:s}, s:{s:s, s:s}}", "msgtype", "m.notice", "body", text,
      "m.new_content", "msgtype", "m.notice", "body", text, "m.relates_to", "rel_type",
      "m.replace", "event_id", event_id);
  json_t *body = json_object_get (content, "body");
  g_autofree char *star = g_strdup_printf ("* %s", json_string_value (body));
  json_object_set_new (content, "body", json_string (star));
  pa_queue_send (b, room_id, NULL, "m.room.message", content, 0, NULL, NULL);
}

static void
status_update (PaImportJob *j)
{
  j->last_status_ms = pa_now_ms ();
  pa_portal_management_room (j->b, str (j->row, "owner"), status_room_cb, g_strdup (j->id));
}

/* ------------------------------------------------------------ parsing */

static void job_finish_parse (PaImportJob *j, gboolean ok, const char *error);

static void
on_hello (PaWorker *w, json_t *hello, gpointer user_data)
{
  PaImportJob *j = user_data;
  PaConfig *c = j->b->config;
  g_autofree char *work = g_build_filename (c->data_dir, j->account->id, "media", NULL);
  g_mkdir_with_parents (work, 0700);
  json_t *o = opt (j);
  g_autoptr (json_t) frame = json_pack (
      "{s:s, s:s, s:{s:s, s:s?, s:s, s:I, s:I}}", "t", "import", "path", str (j->row, "path"),
      "options", "timezone", str (o, "timezone") ? str (o, "timezone") : "Europe/Paris", "chat",
      str (o, "chat"), "work_dir", work, "max_total_bytes", (json_int_t) c->max_import_bytes,
      "max_entries", (json_int_t) 100000);
  pa_worker_send (w, frame);
}

static void
count_event (PaImportJob *j, json_t *ev)
{
  json_t *s = summary (j);
  const char *type = str (ev, "type");
  if (g_strcmp0 (type, "chat_info") == 0)
    {
      json_t *chat = json_object_get (ev, "chat");
      json_array_append_new (json_object_get (s, "chats"),
                             json_pack ("{s:s?, s:s?, s:s?}", "id", str (chat, "id"), "name",
                                        str (chat, "name"), "kind", str (chat, "kind")));
      return;
    }
  if (g_strcmp0 (type, "message") != 0)
    return;
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
        json_object_set_new (one, "count",
                             json_integer (json_integer_value (json_object_get (one, "count")) + 1));
    }
}

static void
on_frame (PaWorker *w, json_t *frame, gpointer user_data)
{
  PaImportJob *j = user_data;
  PaBridge *b = j->b;
  const char *t = str (frame, "t");
  if (t == NULL)
    return;
  pa_batch_begin (b);
  if (g_str_equal (t, "event"))
    {
      json_t *ev = json_object_get (frame, "event");
      if (!json_is_object (ev))
        return;
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
      count_event (j, ev);
    }
  else if (g_str_equal (t, "notice") && str (frame, "text"))
    {
      json_t *notes = json_object_get (summary (j), "importer_notes");
      if (json_array_size (notes) < 200)
        json_array_append_new (notes, json_string (str (frame, "text")));
    }
  else if (g_str_equal (t, "log") && str (frame, "message"))
    g_message ("[%s] %s", j->account->id, str (frame, "message"));
  else if (g_str_equal (t, "import_done"))
    job_finish_parse (j, json_is_true (json_object_get (frame, "ok")), str (frame, "error"));
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
      job_finish_parse (j, FALSE, why);
    }
}

static void
delete_lane_rows (PaImportJob *j)
{
  for (;;)
    {
      g_autoptr (GError) e = NULL;
      g_autoptr (json_t) rows = pa_store_remote_peek_import (j->b->store, j->account->id, 500, &e);
      if (rows == NULL || json_array_size (rows) == 0)
        return;
      size_t i;
      json_t *r;
      json_array_foreach (rows, i, r)
        pa_store_remote_done (j->b->store, json_integer_value (json_object_get (r, "seq")), NULL);
    }
}

static char *
summary_text (PaImportJob *j)
{
  json_t *s = summary (j);
  GString *t = g_string_new (NULL);
  g_autofree char *base = g_path_get_basename (str (j->row, "path"));
  g_string_append_printf (t,
                          "%s export %s: %" JSON_INTEGER_FORMAT " messages (%" JSON_INTEGER_FORMAT
                          " with media, %" JSON_INTEGER_FORMAT " notices)",
                          job_display_suffix (j), base,
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
  json_object_foreach (json_object_get (s, "senders"), id, one)
    g_string_append_printf (t, "\n%u. %s — %" JSON_INTEGER_FORMAT " messages", ++n,
                            str (one, "name"), json_integer_value (json_object_get (one, "count")));
  size_t i;
  json_t *note;
  json_array_foreach (json_object_get (s, "importer_notes"), i, note)
    g_string_append_printf (t, "\nℹ %s", json_string_value (note));
  return g_string_free (t, FALSE);
}

static gboolean job_tick (gpointer data);

static void
job_finish_parse (PaImportJob *j, gboolean ok, const char *error)
{
  if (j->parse_done)
    return;
  j->parse_done = TRUE;
  pa_batch_flush (j->b);
  if (j->worker)
    pa_worker_stop (j->worker);
  json_t *s = summary (j);
  json_object_set_new (j->row, "total", json_integer (json_integer_value (json_object_get (s,
                                                                                      "messages"))));
  if (!ok && json_integer_value (json_object_get (s, "messages")) == 0)
    {
      delete_lane_rows (j);
      job_set_state (j, "failed", error ? error : "the importer failed");
      g_autofree char *msg = g_strdup_printf ("❌ Import failed: %s", error ? error : "?");
      notify (j, msg);
      return;
    }
  if (!ok)
    {
      /* A truncated or partly broken file: what was read is imported. */
      json_t *notes = json_object_get (s, "importer_notes");
      g_autofree char *note = g_strdup_printf ("the importer stopped early: %s",
                                               error ? error : "?");
      json_array_append_new (notes, json_string (note));
    }
  g_autofree char *text = summary_text (j);
  if (json_is_true (json_object_get (opt (j), "dry_run")))
    {
      delete_lane_rows (j);
      job_set_state (j, "done", NULL);
      g_autofree char *msg = g_strdup_printf ("Dry run, nothing imported.\n%s", text);
      if (json_is_true (json_object_get (opt (j), "notify")))
        notify (j, msg);
      return;
    }
  if (json_is_true (json_object_get (opt (j), "ask_me")) && str (opt (j), "me") == NULL)
    {
      job_set_state (j, "awaiting_me", NULL);
      g_autofree char *msg = g_strdup_printf (
          "%s\n\nWhich sender is you? Reply with their number (0 if none), or `cancel`.", text);
      notify (j, msg);
      return;
    }
  job_set_state (j, "sending", NULL);
  j->remaining_at_start = pa_store_remote_count_login (j->b->store, j->account->id);
  g_autofree char *msg = g_strdup_printf ("Importing…\n%s", text);
  notify (j, msg);
  status_update (j);
  pa_lane_schedule (&j->lane);
}

static void
job_start_parse (PaImportJob *j)
{
  PaBridge *b = j->b;
  PaPluginInfo *info = pa_plugin_info (b, j->account->plugin);
  if (info == NULL)
    {
      job_set_state (j, "failed", "no such plugin on this bridge");
      return;
    }
  j->parse_done = FALSE;
  /* A parse after a crash starts over: the counts restart, the stored
   * events are deduplicated. */
  json_object_del (j->row, "summary");
  g_autofree char *dir = g_build_filename (b->config->data_dir, j->account->id, NULL);
  g_mkdir_with_parents (dir, 0700);
  PaWorkerCallbacks cbs = { .hello = on_hello, .frame = on_frame, .exited = on_exited };
  j->worker = pa_worker_new (b->self_exe, info->path, j->account->id, dir, &cbs, j);
  pa_worker_set_restart (j->worker, FALSE, 0);
  g_autoptr (GError) e = NULL;
  if (!pa_worker_start (j->worker, &e))
    {
      job_set_state (j, "failed", e->message);
      return;
    }
  job_set_state (j, "parsing", NULL);
}

/* ------------------------------------------------------------ jobs */

static PaImportJob *
job_new (PaBridge *b, json_t *row)
{
  PaImportJob *j = g_new0 (PaImportJob, 1);
  j->b = b;
  j->id = g_strdup (str (row, "id"));
  j->row = json_deep_copy (row);
  if (!json_is_object (json_object_get (j->row, "options")))
    json_object_set_new (j->row, "options", json_object ());
  j->account = g_new0 (PaAccount, 1);
  j->account->bridge = b;
  j->account->id = g_strdup_printf ("import:%s", j->id);
  j->account->owner = g_strdup (str (row, "owner"));
  j->account->plugin = g_strdup (str (row, "plugin"));
  j->account->logged_in = TRUE;
  j->account->pending = g_hash_table_new (g_int64_hash, g_int64_equal);
  j->lane.bridge = b;
  j->lane.job = j;
  j->lane.import = &lane_import;
  j->started_ms = pa_now_ms ();
  g_hash_table_insert (b->imports, j->id, j);
  return j;
}

static void
job_free (PaImportJob *j)
{
  pa_lane_cancel (&j->lane);
  if (j->worker)
    {
      pa_worker_stop (j->worker);
      pa_worker_free (j->worker);
    }
  g_hash_table_destroy (j->account->pending);
  g_free (j->account->id);
  g_free (j->account->owner);
  g_free (j->account->plugin);
  g_free (j->account);
  json_decref (j->row);
  g_free (j->id);
  g_free (j);
}

/* Four times a second: pick up new jobs, report progress, finish drained
 * ones (the CLI inserts jobs into the store; polling it is what lets the
 * bridge notice them). */
static gboolean
job_tick (gpointer data)
{
  PaBridge *b = data;
  g_autoptr (json_t) active = pa_store_job_list_active (b->store);
  size_t i;
  json_t *row;
  json_array_foreach (active, i, row)
    {
      const char *id = str (row, "id");
      PaImportJob *j = g_hash_table_lookup (b->imports, id);
      if (j == NULL)
        {
          j = job_new (b, row);
          const char *state = str (row, "state");
          if (g_strcmp0 (state, "sending") == 0)
            {
              j->parse_done = TRUE;
              j->remaining_at_start = pa_store_remote_count_login (b->store, j->account->id);
              pa_lane_schedule (&j->lane);
            }
          else if (g_strcmp0 (state, "awaiting_me") == 0)
            j->parse_done = TRUE;
          else
            job_start_parse (j); /* queued, or parsing when we died: parse again */
          continue;
        }
      if (g_strcmp0 (str (j->row, "state"), "sending") != 0)
        continue;
      gint64 remaining = pa_store_remote_count_login (b->store, j->account->id);
      const char *room = str (j->row, "room_id");
      if (remaining == 0 && (room == NULL || !pa_outbound_room_pending (b, room)))
        {
          json_int_t total = json_integer_value (json_object_get (j->row, "total"));
          json_object_set_new (summary (j), "sent", json_integer (total));
          job_set_state (j, "done", NULL);
          g_autofree char *base = g_path_get_basename (str (j->row, "path"));
          g_autofree char *done_text = g_strdup_printf (
              "✅ History imported: %" JSON_INTEGER_FORMAT " messages from %s.", total, base);
          if (room)
            pa_queue_notice (b, room, done_text);
          const char *archive_of = str (opt (j), "archive_of");
          if (archive_of && room)
            {
              g_autofree char *link = g_strdup_printf (
                  "The history of this conversation before it came to Tchap is in another "
                  "room: https://matrix.to/#/%s",
                  room);
              pa_queue_notice (b, archive_of, link);
            }
          notify (j, done_text);
          status_update (j); /* the management room is known: answered at once */
          g_hash_table_remove (b->imports, j->id);
          job_free (j);
          continue;
        }
      /* Progress, for the CLI (it reads the row): messages the homeserver
       * accepted (mapped), not merely queued. */
      gint64 mapped = pa_store_message_count_login (b->store, j->account->plugin, j->account->id);
      json_object_set_new (summary (j), "sent", json_integer (MAX (0, mapped)));
      if (pa_now_ms () - j->last_status_ms >= 3000)
        status_update (j);
      json_object_set_new (j->row, "state", json_string ("sending"));
      job_save (j);
    }
  return G_SOURCE_CONTINUE;
}

void
pa_import_poll (PaBridge *b)
{
  job_tick (b);
}

void
pa_import_start (PaBridge *b)
{
  if (b->import_timer == 0)
    b->import_timer = g_timeout_add (250, job_tick, b);
  job_tick (b);
}

void
pa_import_stop_all (PaBridge *b)
{
  if (b->import_timer)
    g_source_remove (b->import_timer);
  b->import_timer = 0;
  GHashTableIter it;
  gpointer v;
  g_hash_table_iter_init (&it, b->imports);
  while (g_hash_table_iter_next (&it, NULL, &v))
    job_free (v);
  g_hash_table_remove_all (b->imports);
}

gboolean
pa_import_handle_answer (PaBridge *b, const char *owner, const char *room_id, const char *text)
{
  GHashTableIter it;
  gpointer v;
  PaImportJob *j = NULL;
  g_hash_table_iter_init (&it, b->imports);
  while (g_hash_table_iter_next (&it, NULL, &v))
    {
      PaImportJob *c = v;
      if (g_strcmp0 (str (c->row, "owner"), owner) == 0
          && g_strcmp0 (str (c->row, "state"), "awaiting_me") == 0)
        j = c;
    }
  if (j == NULL)
    return FALSE;
  g_autofree char *answer = g_strstrip (g_strdup (text));
  if (g_str_equal (answer, "cancel"))
    {
      delete_lane_rows (j);
      job_set_state (j, "failed", "cancelled by the agent");
      pa_queue_notice (b, room_id, "Import cancelled.");
      g_hash_table_remove (b->imports, j->id);
      job_free (j);
      return TRUE;
    }
  char *end = NULL;
  guint64 n = g_ascii_strtoull (answer, &end, 10);
  json_t *senders = json_object_get (summary (j), "senders");
  if (end == answer || *end != '\0' || n > json_object_size (senders))
    {
      pa_queue_notice (b, room_id,
                       "Please reply with a sender's number (0 if none), or "
                       "`cancel`.");
      return TRUE;
    }
  if (n > 0)
    {
      guint k = 0;
      const char *id;
      json_t *one;
      json_object_foreach (senders, id, one)
        if (++k == n)
          json_object_set_new (opt (j), "me", json_string (str (one, "name")));
    }
  json_object_set_new (opt (j), "ask_me", json_false ());
  job_set_state (j, "sending", NULL);
  j->remaining_at_start = pa_store_remote_count_login (b->store, j->account->id);
  status_update (j);
  pa_lane_schedule (&j->lane);
  return TRUE;
}

/* Outbound completion of the status notice: later progress edits it. */
void
pa_import_status_sent (PaBridge *b, json_t *on_done, const char *event_id,
                       const PaMatrixResponse *resp)
{
  if (event_id == NULL)
    return;
  g_autoptr (GError) e = NULL;
  if (!pa_store_kv_set (b->store, str (on_done, "key"), event_id, &e))
    g_warning ("store: %s", e->message);
}
