/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Host frames → the plugin: init, login conversation, connection, acks,
 * operations, import, shutdown (docs/worker-protocol.md). */
#ifndef PA_WORKER_DISPATCH_H
#define PA_WORKER_DISPATCH_H

#include "worker/pa-worker-state.h"

G_BEGIN_DECLS

/* Handle one host frame (borrowed).  A shutdown frame ends the process. */
void pa_worker_dispatch_frame (PaHost *h, json_t *frame);

G_END_DECLS

#endif
