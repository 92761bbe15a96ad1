/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Whether the bot may delete (redact) other members' messages in a room. */
#ifndef PA_ROOM_POWER_H
#define PA_ROOM_POWER_H

#include "pa-bridge-object.h"

G_BEGIN_DECLS

/* can_redact: the bot's power level reaches the room's `redact` level;
 * FALSE too when the power levels could not be read. */
typedef void (*PaRoomPowerFunc) (PaBridge *b, const char *room_id, gboolean can_redact,
                                 gpointer user_data);

/* Reads the room's m.room.power_levels as the bot and calls `done`. */
void pa_room_power_can_redact (PaBridge *b, const char *room_id, PaRoomPowerFunc done,
                               gpointer user_data);

G_END_DECLS

#endif
