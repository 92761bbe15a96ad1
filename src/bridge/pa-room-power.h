/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Power levels of the bridge's rooms: what a createRoom asks for, on the
 * homeserver's room version, and whether the bot may delete (redact) other
 * members' messages in a room. */
#ifndef PA_ROOM_POWER_H
#define PA_ROOM_POWER_H

#include "pa-bridge-object.h"

G_BEGIN_DECLS

/* can_redact: the bot's power level reaches the room's `redact` level;
 * FALSE too when the power levels could not be read. */
typedef void (*PaRoomPowerFunc) (PaBridge *b, const char *room_id, gboolean can_redact,
                                 gpointer user_data);

/* Reads the room's m.room.power_levels (and, from room version 12 on, its
 * creators) as the bot and calls `done`. */
void pa_room_power_can_redact (PaBridge *b, const char *room_id, PaRoomPowerFunc done,
                               gpointer user_data);

/* Whether a room of `version` makes its creators implicit (room version 12
 * on): they must then be left out of the power levels' `users`. */
gboolean pa_room_power_creators_implicit (const char *version);

/* error: NULL when `body` is ready to send. */
typedef void (*PaRoomCreateFunc) (PaBridge *b, const char *error, gpointer user_data);

/* Completes the createRoom `body` (borrowed, changed in place) that
 * `creator` (NULL = the bot) sends, for the homeserver's default room
 * version, read from its capabilities at each creation: `room_version` is
 * set to it, and power_level_content_override.users (the users to raise,
 * set by the caller) gets, below version 12, the creator and, with the
 * trusted_private_chat preset, the invitees at 100, as the presets would.
 * The override always carries `users`, so that Tchap's homeserver module
 * fills in only the levels the bridge left out (docs/tchap.md). */
void pa_room_power_prepare_create (PaBridge *b, const char *creator, json_t *body,
                                   PaRoomCreateFunc done, gpointer user_data);

G_END_DECLS

#endif
