/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The SDK's secret_store / secret_load: a plugin's credentials encrypted
 * at rest in its data dir with the login's key, which the host holds. */
#ifndef PA_WORKER_SECRETS_H
#define PA_WORKER_SECRETS_H

#include "worker/pa-worker-state.h"

G_BEGIN_DECLS

/* Takes the login's key from the init frame's `secret_key` (base64 of 32
 * bytes); FALSE with `error` when present but malformed. */
gboolean pa_worker_secrets_init (PaHost *h, json_t *frame, GError **error);

/* PaHostApi.secret_store and secret_load (plugin.h). */
bool pa_worker_secret_store (PaHost *h, const char *name, const void *data, size_t len);
void *pa_worker_secret_load (PaHost *h, const char *name, size_t *len);

G_END_DECLS

#endif
