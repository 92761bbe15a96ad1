/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Matrix → legacy: a portal's messages, edits, reactions, redactions. */
#ifndef PA_TO_LEGACY_SEND_H
#define PA_TO_LEGACY_SEND_H

#include "pa-bridge-object.h"

G_BEGIN_DECLS

/* A portal event of the login's owner (message, edit, reaction,
 * redaction) becomes a worker operation; `done` when finished. */
void pa_to_legacy_send (PaBridge *b, PaPortalRow *row, PaAccount *login, json_t *ev,
                        PaEventDoneFunc done);

G_END_DECLS

#endif
