/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Legacy → Matrix: contacts' presence (bridge.presence). */
#ifndef PA_TO_MATRIX_PRESENCE_H
#define PA_TO_MATRIX_PRESENCE_H

#include "pa-bridge-object.h"

G_BEGIN_DECLS

/* A PRESENCE event of `login`'s network: the contact's ghost gets it. */
void pa_presence_update (PaBridge *b, PaAccount *login, json_t *ev);

/* Stop re-sending ghost presence and forget it. */
void pa_presence_stop (PaBridge *b);

G_END_DECLS

#endif
