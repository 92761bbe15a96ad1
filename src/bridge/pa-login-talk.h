/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The login conversation in the agent's management room. */
#ifndef PA_LOGIN_TALK_H
#define PA_LOGIN_TALK_H

#include "pa-bridge-object.h"

G_BEGIN_DECLS

/* A LOGIN_STEP frame: ask, show or announce it in the management room. */
void pa_login_talk_step (PaAccount *l, json_t *frame);

/* A COMPLETE step (the wire object): the login is recorded and saved, and
 * the agent told in the management room, however it was driven. */
void pa_login_talk_complete (PaAccount *l, json_t *step);

/* The agent answered a login prompt in the management room. */
gboolean pa_login_talk_answer (PaBridge *b, const char *owner, const char *room_id,
                               const char *event_id, const char *text);

/* Outbound completion of a password's redaction: when it failed, the
 * agent deletes it. */
void pa_login_talk_password_redacted (PaBridge *b, json_t *on_done, const char *event_id,
                                      const PaMatrixResponse *resp);

G_END_DECLS

#endif
