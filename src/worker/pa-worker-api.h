/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The PaHostApi table a worker hands its plugin: each call becomes a frame
 * for the host (docs/worker-protocol.md) or is answered locally (data dir,
 * budget, metadata cache, configuration, event loop). */
#ifndef PA_WORKER_API_H
#define PA_WORKER_API_H

#include "worker/pa-worker-state.h"

G_BEGIN_DECLS

/* Fill h->api. */
void pa_worker_api_fill (PaHost *h);
/* Load the metadata cache from an init frame's `meta` array. */
void pa_worker_api_meta_preload (PaHost *h, json_t *meta);

G_END_DECLS

#endif
