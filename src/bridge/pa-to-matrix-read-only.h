/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Legacy → Matrix: the power levels of a read-only chat's portal (a
 * channel the agent may read but not write). */
#ifndef PA_TO_MATRIX_READ_ONLY_H
#define PA_TO_MATRIX_READ_ONLY_H

#include "pa-power-edit.h"

G_BEGIN_DECLS

/* events_default of a read-only portal, and the level of the ghosts that
 * post there. */
#define PA_READ_ONLY_POST_LEVEL 50

/* Whether the chat of room_id is read-only (its last CHAT_INFO said so). */
gboolean pa_room_state_read_only (PaBridge *b, const char *room_id);

/* Records whether room_id is read-only; TRUE when that changed (the first
 * CHAT_INFO of a writable chat changes nothing). */
gboolean pa_read_only_record (PaBridge *b, const char *room_id, gboolean read_only);

/* Adjusts the room's power-level content `pl` in place: to what read-only
 * asks when the room is read-only, to what a writable chat asks when
 * `restore` (the chat just stopped being read-only), else leaves it.
 * `voice` is who will PUT it (NULL: the bot).  TRUE when it changed. */
gboolean pa_read_only_adjust (PaBridge *b, const char *room_id, const char *voice, json_t *pl,
                              gboolean restore);

/* Raises the room's ghosts to the post level of a read-only chat
 * (pa-power-edit.c: read, changed, PUT queued), then calls `done`, so a
 * message queued then comes after. */
void pa_read_only_sync (PaBridge *b, const char *room_id, PaPowerDoneFunc done, gpointer user_data);

G_END_DECLS

#endif
