/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Management rooms: the one direct room per agent where bare commands go to
 * the bot. */
#define G_LOG_DOMAIN "passerelle-store"

#include "pa-store-private.h"

/* Upsert by owner; fails if room_id is another owner's management room. */
gboolean
pa_store_management_put (PaStore *store, const char *owner, const char *room_id, GError **error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (owner != NULL && room_id != NULL, FALSE);
  return pa_store_run (store, error,
                       "INSERT INTO management_rooms (owner, room_id) VALUES (?, ?)"
                       " ON CONFLICT (owner) DO UPDATE SET room_id = excluded.room_id",
                       "tt", owner, room_id);
}

char *
pa_store_management_room (PaStore *store, const char *owner)
{
  g_return_val_if_fail (store != NULL, NULL);
  g_return_val_if_fail (owner != NULL, NULL);
  return pa_store_lookup_text (store, "SELECT room_id FROM management_rooms WHERE owner = ?", "t",
                               owner);
}

char *
pa_store_management_owner (PaStore *store, const char *room_id)
{
  g_return_val_if_fail (store != NULL, NULL);
  g_return_val_if_fail (room_id != NULL, NULL);
  return pa_store_lookup_text (store, "SELECT owner FROM management_rooms WHERE room_id = ?", "t",
                               room_id);
}
