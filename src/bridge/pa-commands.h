/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Commands of the management room (and with the prefix elsewhere). */
#ifndef PA_COMMANDS_H
#define PA_COMMANDS_H

#include "pa-bridge-object.h"

G_BEGIN_DECLS

/* Run the command `body` of `sender` (management: bare words allowed). */
void pa_commands_handle (PaBridge *b, const char *room_id, const char *sender, const char *event_id,
                         const char *body, gboolean management);

G_END_DECLS

#endif
