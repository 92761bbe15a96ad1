/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* History import, progress: one notice in the agent's management room,
 * edited as the import goes (its event id comes back through the
 * outbound queue's completion). */
#define G_LOG_DOMAIN "passerelle-import"

#include "pa-import-status.h"

#include "pa-import-job.h"
#include "pa-portal.h"
#include "pa-queue.h"

static const char *
str (json_t *o, const char *key)
{
  return json_string_value (json_object_get (o, key));
}

/* ------------------------------------------------------ status message */

char *
pa_import_status_already_live (PaImportJob *j)
{
  json_int_t n = json_integer_value (json_object_get (pa_import_job_summary (j), "already_live"));
  if (n <= 0)
    return g_strdup ("");
  /* A former import of the same chat: its room is topped up. */
  size_t i;
  json_t *c;
  json_array_foreach (json_object_get (pa_import_job_summary (j), "chats"), i, c)
    if (str (c, "already_in"))
      return g_strdup_printf (" %" JSON_INTEGER_FORMAT " message%s already in the room from an "
                              "earlier import %s not sent again.",
                              n, n == 1 ? "" : "s", n == 1 ? "was" : "were");
  return g_strdup_printf (" %" JSON_INTEGER_FORMAT " message%s already bridged live %s not "
                          "imported again.",
                          n, n == 1 ? "" : "s", n == 1 ? "was" : "were");
}

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
  json_int_t sent = json_integer_value (json_object_get (pa_import_job_summary (j), "sent"));
  /* Messages the live portal already showed are not sent: out of the total. */
  json_int_t live
      = json_integer_value (json_object_get (pa_import_job_summary (j), "already_live"));
  total = MAX (0, total - live);
  const char *state = str (j->row, "state");
  g_autofree char *text = NULL;
  if (g_strcmp0 (state, "done") == 0)
    {
      g_autofree char *live_text = pa_import_status_already_live (j);
      text = g_strdup_printf ("Import finished: %" JSON_INTEGER_FORMAT "/%" JSON_INTEGER_FORMAT
                              " messages delivered.%s",
                              sent, total, live_text);
    }
  else
    {
      double secs = (double)(pa_now_ms () - j->started_ms) / 1000.0;
      double rate = secs > 0.5 ? (double)sent / secs : 0.0;
      int eta = rate > 0 ? (int)((double)(total - sent) / rate) : 0;
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
  g_autoptr (json_t) content
      = json_pack ("{s:s, s:s, s:{s:s, s:s}, s:{s:s, s:s}}", "msgtype", "m.notice", "body", text,
                   "m.new_content", "msgtype", "m.notice", "body", text, "m.relates_to", "rel_type",
                   "m.replace", "event_id", event_id);
  json_t *body = json_object_get (content, "body");
  g_autofree char *star = g_strdup_printf ("* %s", json_string_value (body));
  json_object_set_new (content, "body", json_string (star));
  pa_queue_send (b, room_id, NULL, "m.room.message", content, 0, NULL, NULL);
}
void
pa_import_status_update (PaImportJob *j)
{
  j->last_status_ms = pa_now_ms ();
  pa_portal_management_room (j->b, str (j->row, "owner"), status_room_cb, g_strdup (j->id));
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
