/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Matrix → legacy: an agent changed a group portal's name, topic or
 * picture. */
#ifndef PA_TO_LEGACY_ROOM_STATE_H
#define PA_TO_LEGACY_ROOM_STATE_H

#include "pa-bridge-object.h"

G_BEGIN_DECLS

/* Whether `type` is a room state event this file bridges. */
gboolean pa_to_legacy_room_state_type (const char *type);

/* The state event `ev` of the login's owner in the portal `row` becomes a
 * set_chat_info operation; `done` when finished. */
void pa_to_legacy_room_state (PaBridge *b, PaPortalRow *row, PaAccount *login, json_t *ev,
                              PaEventDoneFunc done);

G_END_DECLS

#endif
