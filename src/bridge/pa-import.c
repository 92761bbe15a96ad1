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
 * the room graph.
 * This file keeps the table of running jobs (picked up from the store four
 * times a second, finished when drained, the agent's answers, stop); the
 * job itself is pa-import-job.c, parsing pa-import-parse.c, rooms
 * pa-import-rooms.c and the progress notice pa-import-status.c. */
#define G_LOG_DOMAIN "passerelle-import"

#include "pa-import.h"

#include "pa-import-job.h"
#include "pa-import-parse.h"
#include "pa-import-purge.h"
#include "pa-import-rooms.h"
#include "pa-import-status.h"
#include "pa-outbound.h"
#include "pa-queue.h"
#include "pa-to-matrix-lane.h"

#include <gio/gio.h>

static const char *
str (json_t *o, const char *key)
{
  return json_string_value (json_object_get (o, key));
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
job_path (PaImportJob *job)
{
  return str (job->row, "path");
}

static const char *
job_me (PaImportJob *job)
{
  return str (pa_import_job_opt (job), "me");
}

/* The room whose messages are not sent again: the live portal the agent
 * named, or the room a former import of the same chat went to. */
static const char *
job_live_room (PaImportJob *job, const char *chat_id)
{
  const char *former = str (pa_import_job_chat (job, chat_id, FALSE), "already_in");
  return former ? former : str (pa_import_job_opt (job), "room");
}

/* What the job's lane asks of it (pa-to-matrix-lane.c). */
static const PaLaneImport lane_import = {
  .account = job_account,
  .source = job_source,
  .path = job_path,
  .display_suffix = pa_import_job_display_suffix,
  .me = job_me,
  .room_ensure = pa_import_rooms_ensure,
  .live_room = job_live_room,
};

/* ------------------------------------------------------------ jobs */

/* Exported messages not imported because the live portal shows them
 * already (pa-fingerprint.c): counted in the summary, for the notices and
 * the CLI. */
static json_int_t
job_already_live (PaImportJob *j)
{
  gint64 n = pa_store_fingerprint_claimed (j->b->store, j->account->id);
  if (n > 0)
    json_object_set_new (pa_import_job_summary (j), "already_live", json_integer (n));
  return MAX (0, n);
}

/* Whether a room of the job's chats (a full export makes one per chat)
 * still has messages on their way to the homeserver. */
static gboolean
job_rooms_pending (PaImportJob *j)
{
  size_t i;
  json_t *c;
  json_array_foreach (json_object_get (pa_import_job_summary (j), "chats"), i, c)
    if (str (c, "room_id") && pa_outbound_room_pending (j->b, str (c, "room_id")))
      return TRUE;
  return FALSE;
}

/* What was already in each former room (an earlier import of the same
 * chat): its messages this job matched there, for the summary. */
static void
job_already_there (PaImportJob *j)
{
  size_t i;
  json_t *c;
  json_array_foreach (json_object_get (pa_import_job_summary (j), "chats"), i, c)
    if (str (c, "already_in"))
      {
        gint64 n = pa_store_fingerprint_claimed_in (j->b->store, j->account->id,
                                                    str (c, "already_in"));
        json_object_set_new (c, "already_there", json_integer (MAX (0, n)));
      }
}

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
  j->account->history = TRUE;
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
  pa_import_job_chats_reset (j);
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
  /* `passerelle import` reads this to tell a job queued for a bridge that
   * runs from one queued with none to take it. */
  gint64 now = pa_now_ms ();
  if (now - b->import_alive_ms >= PA_IMPORT_ALIVE_PERIOD_MS)
    {
      g_autofree char *v = g_strdup_printf ("%" G_GINT64_FORMAT, now);
      g_autoptr (GError) e = NULL;
      if (pa_store_kv_set (b->store, PA_IMPORT_ALIVE_KEY, v, &e))
        b->import_alive_ms = now;
      else
        g_debug ("import: %s", e->message);
    }
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
            pa_import_parse_start (j); /* queued, or parsing when we died: parse again */
          continue;
        }
      if (g_strcmp0 (str (j->row, "state"), "sending") != 0)
        continue;
      gint64 remaining = pa_store_remote_count_login (b->store, j->account->id);
      const char *room = str (j->row, "room_id");
      if (remaining == 0 && (room == NULL || !pa_outbound_room_pending (b, room))
          && !job_rooms_pending (j))
        {
          /* Counted from the message map: what the homeserver accepted,
           * not what was queued (a refused event is not a message imported). */
          json_int_t total = json_integer_value (json_object_get (j->row, "total"));
          json_int_t sent = MAX (0, pa_store_message_count_login (b->store, j->account->plugin,
                                                                  j->account->id));
          json_int_t live = job_already_live (j);
          job_already_there (j);
          json_object_set_new (pa_import_job_summary (j), "sent", json_integer (sent));
          /* Its files go first: once "done" is read, nothing of it is left. */
          pa_import_job_remove_files (j);
          pa_import_job_set_state (j, "done", NULL);
          g_autofree char *base = g_path_get_basename (str (j->row, "path"));
          g_autofree char *imported
              = sent + live >= total
                    ? g_strdup_printf ("✅ History imported: %" JSON_INTEGER_FORMAT
                                       " messages from %s.",
                                       sent, base)
                    : g_strdup_printf ("⚠️ History imported: %" JSON_INTEGER_FORMAT
                                       " of %" JSON_INTEGER_FORMAT
                                       " messages from %s; the homeserver refused %"
                                       JSON_INTEGER_FORMAT " (the bridge's log names them).",
                                       sent, total - live, base, total - live - sent);
          g_autofree char *live_text = pa_import_status_already_live (j);
          g_autofree char *done_text = g_strconcat (imported, live_text, NULL);
          if (room)
            pa_queue_notice (b, room, done_text);
          const char *archive_of = str (pa_import_job_opt (j), "archive_of");
          if (archive_of && room)
            {
              g_autofree char *link = g_strdup_printf (
                  "The history of this conversation before it came to Tchap is in another "
                  "room: https://matrix.to/#/%s",
                  room);
              pa_queue_notice (b, archive_of, link);
            }
          pa_import_job_notify (j, done_text);
          pa_import_status_update (j); /* the management room is known: answered at once */
          g_hash_table_remove (b->imports, j->id);
          job_free (j);
          continue;
        }
      /* Progress, for the CLI (it reads the row): messages the homeserver
       * accepted (mapped), not merely queued. */
      gint64 mapped = pa_store_message_count_login (b->store, j->account->plugin, j->account->id);
      json_object_set_new (pa_import_job_summary (j), "sent", json_integer (MAX (0, mapped)));
      job_already_live (j);
      if (pa_now_ms () - j->last_status_ms >= 3000)
        pa_import_status_update (j);
      json_object_set_new (j->row, "state", json_string ("sending"));
      pa_import_job_save (j);
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
    {
      b->import_timer = g_timeout_add (250, job_tick, b);
      pa_import_purge_resume (b);
    }
  job_tick (b);
}

void
pa_import_stop_all (PaBridge *b)
{
  if (b->import_timer)
    g_source_remove (b->import_timer);
  b->import_timer = 0;
  g_autoptr (GError) e = NULL;
  if (b->import_alive_ms > 0 && !pa_store_kv_set (b->store, PA_IMPORT_ALIVE_KEY, "0", &e))
    g_debug ("import: %s", e->message);
  b->import_alive_ms = 0;
  pa_import_purge_stop (b);
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
      pa_import_job_delete_lane_rows (j);
      pa_import_job_set_state (j, "failed", "cancelled by the agent");
      pa_queue_notice (b, room_id, "Import cancelled.");
      g_hash_table_remove (b->imports, j->id);
      job_free (j);
      return TRUE;
    }
  char *end = NULL;
  guint64 n = g_ascii_strtoull (answer, &end, 10);
  json_t *senders = json_object_get (pa_import_job_summary (j), "senders");
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
          json_object_set_new (pa_import_job_opt (j), "me", json_string (str (one, "name")));
    }
  json_object_set_new (pa_import_job_opt (j), "ask_me", json_false ());
  pa_import_job_set_state (j, "sending", NULL);
  j->remaining_at_start = pa_store_remote_count_login (b->store, j->account->id);
  pa_import_status_update (j);
  pa_lane_schedule (&j->lane);
  return TRUE;
}
