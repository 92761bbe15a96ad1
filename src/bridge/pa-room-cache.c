/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The per-room cache of the bridge (pa-room-cache.h). */
#include "pa-room-cache.h"

PaRoomCache *
pa_portal_cache (PaBridge *b, const char *room_id)
{
  PaRoomCache *r = g_hash_table_lookup (b->rooms, room_id);
  if (r == NULL)
    {
      r = g_new0 (PaRoomCache, 1);
      r->room_id = g_strdup (room_id);
      r->joined = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
      r->posters = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
      r->power_edits = g_queue_new ();
      g_hash_table_insert (b->rooms, r->room_id, r);
    }
  return r;
}

void
pa_room_cache_free (gpointer cache)
{
  PaRoomCache *r = cache;
  g_free (r->room_id);
  g_hash_table_destroy (r->joined);
  g_hash_table_destroy (r->posters);
  /* the power-level changes still waiting are pa-power-edit.c's to free
   * (pa_power_edits_take), before; only the empty line is left here */
  if (r->power_edits != NULL)
    g_queue_free (r->power_edits);
  g_free (r);
}
