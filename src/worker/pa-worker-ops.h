/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Host "op" frames → PaLoginOps calls (docs/worker-protocol.md). */
#ifndef PA_WORKER_OPS_H
#define PA_WORKER_OPS_H

#include "worker/pa-worker-state.h"

G_BEGIN_DECLS

/* Check the frame, call the operation; answer it with a typed failure when
 * it is malformed, unknown, unsupported or arrives before the login. */
void pa_worker_ops_handle (PaHost *h, json_t *frame);

G_END_DECLS

#endif
