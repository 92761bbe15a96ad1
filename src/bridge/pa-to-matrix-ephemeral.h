/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Legacy → Matrix: typing and read receipts. */
#ifndef PA_TO_MATRIX_EPHEMERAL_H
#define PA_TO_MATRIX_EPHEMERAL_H

#include "pa-bridge-object.h"
#include "pa-to-matrix-work.h"

G_BEGIN_DECLS

/* Best-effort ephemeral updates: straight requests, not queued. */
void pa_to_matrix_ephemeral (PaWork *w);

G_END_DECLS

#endif
