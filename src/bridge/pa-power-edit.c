/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Legacy → Matrix: the bridge's changes to a portal's power levels (the
 * network's admins, a read-only chat), read and written one room at a
 * time.  Each change reads the levels, edits them and queues the PUT
 * behind the room's messages; a second change read before that PUT
 * reached the homeserver would write back the old levels over it.  So the
 * edits of a room wait in a line (PaRoomCache.power_edits): those waiting
 * together share one read and one PUT, and the next read starts when the
 * outbound queue has sent the PUT (its on_done, "power_levels"). */
#define G_LOG_DOMAIN "passerelle-remote"

#include "pa-power-edit.h"

#include "pa-room-cache.h"
#include "pa-queue.h"

typedef struct
{
  PaPowerEditFunc edit;
  gpointer data;
  GDestroyNotify free_data;
  PaPowerDoneFunc done;
  gpointer user_data;
} Edit;

typedef struct
{
  PaBridge *b;
  char *room_id;
  char *voice;
  GPtrArray *edits; /* Edit*, read together */
} Batch;

static void start (PaBridge *b, const char *room_id);

static void
edit_finish (PaBridge *b, Edit *e)
{
  if (e->done)
    e->done (b, e->user_data);
  if (e->free_data)
    e->free_data (e->data);
  g_free (e);
}

static void
batch_free (Batch *bt)
{
  g_free (bt->room_id);
  g_free (bt->voice);
  g_ptr_array_free (bt->edits, TRUE);
  g_free (bt);
}

/* The room's line moves on. */
static void
idle (PaBridge *b, const char *room_id)
{
  PaRoomCache *rc = pa_portal_cache (b, room_id);
  rc->power_busy = FALSE;
  if (!g_queue_is_empty (rc->power_edits))
    start (b, room_id);
}

static void
levels_read (PaMatrix *mx, const PaMatrixResponse *resp, gpointer data)
{
  Batch *bt = data;
  PaBridge *b = bt->b;
  gboolean dirty = FALSE;
  g_autoptr (json_t) pl = NULL;
  if (pa_matrix_response_ok (resp) && json_is_object (resp->body))
    {
      pl = json_deep_copy (resp->body);
      for (guint i = 0; i < bt->edits->len; i++)
        {
          Edit *e = g_ptr_array_index (bt->edits, i);
          dirty |= e->edit (b, bt->room_id, bt->voice, pl, e->data);
        }
    }
  else
    g_warning ("power levels of %s not read (%u): not changed", bt->room_id, resp->status);
  if (dirty)
    {
      g_autofree char *path = pa_matrix_path_state (bt->room_id, "m.room.power_levels", "");
      /* The same levels may come back later (read-only, writable,
       * read-only again): the time keeps each PUT its own transaction. */
      g_autofree char *dump = json_dumps (pl, JSON_SORT_KEYS | JSON_COMPACT);
      g_autofree char *now = g_strdup_printf ("%" G_GINT64_FORMAT, g_get_real_time ());
      g_autofree char *txn = pa_queue_txn_id (bt->room_id, "power-levels", dump, now, NULL);
      g_autoptr (json_t) on_done
          = json_pack ("{s:s, s:s}", "what", "power_levels", "room", bt->room_id);
      pa_queue_request (b, bt->room_id, "PUT", path, bt->voice, pl, 0, txn, on_done);
    }
  for (guint i = 0; i < bt->edits->len; i++)
    edit_finish (b, g_ptr_array_index (bt->edits, i));
  g_ptr_array_set_size (bt->edits, 0);
  /* Without a PUT, nothing to wait for. */
  if (!dirty)
    idle (b, bt->room_id);
  batch_free (bt);
}

static void
start (PaBridge *b, const char *room_id)
{
  PaRoomCache *rc = pa_portal_cache (b, room_id);
  rc->power_busy = TRUE;
  Batch *bt = g_new0 (Batch, 1);
  bt->b = b;
  bt->room_id = g_strdup (room_id);
  bt->edits = g_ptr_array_new ();
  while (!g_queue_is_empty (rc->power_edits))
    g_ptr_array_add (bt->edits, g_queue_pop_head (rc->power_edits));
  /* A DM has no bot: its ghost speaks for the bridge. */
  g_autofree char *ck = g_strdup_printf ("creator:%s", room_id);
  bt->voice = pa_store_kv_get (b->store, ck);
  g_autofree char *path = pa_matrix_path_state (room_id, "m.room.power_levels", "");
  PaMatrixRequest req = { .method = "GET", .path = path, .user_id = bt->voice, .max_attempts = 3 };
  pa_matrix_request (b->mx, &req, levels_read, bt);
}

void
pa_power_edit (PaBridge *b, const char *room_id, PaPowerEditFunc edit, gpointer data,
               GDestroyNotify free_data, PaPowerDoneFunc done, gpointer user_data)
{
  Edit *e = g_new0 (Edit, 1);
  e->edit = edit;
  e->data = data;
  e->free_data = free_data;
  e->done = done;
  e->user_data = user_data;
  PaRoomCache *rc = pa_portal_cache (b, room_id);
  g_queue_push_tail (rc->power_edits, e);
  if (!rc->power_busy)
    start (b, room_id);
}

static void
edit_drop (gpointer p)
{
  Edit *e = p;
  if (e->free_data)
    e->free_data (e->data);
  g_free (e);
}

void
pa_power_edits_take (PaRoomCache *rc)
{
  if (rc->power_edits == NULL)
    return;
  while (!g_queue_is_empty (rc->power_edits))
    edit_drop (g_queue_pop_head (rc->power_edits));
}

void
pa_power_edit_sent (PaBridge *b, json_t *on_done, const char *event_id,
                    const PaMatrixResponse *resp)
{
  const char *room_id = json_string_value (json_object_get (on_done, "room"));
  if (room_id == NULL)
    return;
  /* A PUT queued by an earlier run finds the room idle: nothing waits. */
  PaRoomCache *rc = pa_portal_cache (b, room_id);
  if (rc->power_busy)
    idle (b, room_id);
}
