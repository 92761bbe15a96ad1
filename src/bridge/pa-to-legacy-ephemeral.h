/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Matrix → legacy: the owner's typing and read receipts. */
#ifndef PA_TO_LEGACY_EPHEMERAL_H
#define PA_TO_LEGACY_EPHEMERAL_H

#include "pa-bridge-object.h"

G_BEGIN_DECLS

/* A typing or receipt event of a transaction (best effort). */
void pa_to_legacy_ephemeral (PaBridge *b, json_t *ev);

G_END_DECLS

#endif
