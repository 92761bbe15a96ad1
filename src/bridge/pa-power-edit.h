/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Legacy → Matrix: changes to a portal's m.room.power_levels, one room at
 * a time. */
#ifndef PA_POWER_EDIT_H
#define PA_POWER_EDIT_H

#include "pa-bridge-object.h"

G_BEGIN_DECLS

/* Changes `pl` (the room's power-level content) in place; TRUE when it
 * changed.  `voice` is who will write it (NULL: the bot). */
typedef gboolean (*PaPowerEditFunc) (PaBridge *b, const char *room_id, const char *voice,
                                     json_t *pl, gpointer data);

/* Called once the edit is queued (or the levels could not be read). */
typedef void (*PaPowerDoneFunc) (PaBridge *b, gpointer user_data);

/* Reads the room's power levels as its voice (the bot, or a DM's ghost),
 * runs `edit` on them and queues the PUT when it changed them, then calls
 * `done` (may be NULL): what the room's queue gets after it comes after
 * the new levels.  Edits of one room never overlap: an edit waits until
 * the PUT of the one before has reached the homeserver, so it reads what
 * that one wrote.  `free_data` (may be NULL) frees `data` after. */
void pa_power_edit (PaBridge *b, const char *room_id, PaPowerEditFunc edit, gpointer data,
                    GDestroyNotify free_data, PaPowerDoneFunc done, gpointer user_data);

/* Drops a room's waiting edits (at exit: the next CHAT_INFO asks them
 * again), leaving its line empty for pa_room_cache_free. */
void pa_power_edits_take (PaRoomCache *rc);

/* The outbound queue's handler for those PUTs (pa-bridge.c registers it
 * as "power_levels"). */
void pa_power_edit_sent (PaBridge *b, json_t *on_done, const char *event_id,
                         const PaMatrixResponse *resp);

G_END_DECLS

#endif
