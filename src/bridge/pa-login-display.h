/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* A login's DISPLAY_AND_WAIT steps in the agent's management room: a code
 * (text and image) that a new code of the same step replaces. */
#ifndef PA_LOGIN_DISPLAY_H
#define PA_LOGIN_DISPLAY_H

#include "pa-bridge-object.h"

G_BEGIN_DECLS

/* Shows the step (the wire object of a display_and_wait step). */
void pa_login_display_step (PaAccount *l, json_t *step);

/* The login completed (or stopped): the code last shown is redacted. */
void pa_login_display_clear (PaAccount *l);

/* Outbound completion ("what": "login_shown"): remembers the event shown. */
void pa_login_display_sent (PaBridge *b, json_t *on_done, const char *event_id,
                            const PaMatrixResponse *resp);

G_END_DECLS

#endif
