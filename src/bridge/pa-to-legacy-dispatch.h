/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Matrix → legacy: what each homeserver event becomes. */
#ifndef PA_TO_LEGACY_DISPATCH_H
#define PA_TO_LEGACY_DISPATCH_H

#include "pa-bridge-object.h"

G_BEGIN_DECLS

/* Handle one homeserver event; `done` when finished (possibly at once).
 * NULL `done`: an ephemeral event. */
void pa_to_legacy_dispatch (PaBridge *b, json_t *ev, PaEventDoneFunc done);

G_END_DECLS

#endif
