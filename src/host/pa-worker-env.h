/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The environment a worker process starts with: an allow-list of the
 * host's variables (locale, time zone, PATH, proxies, debugging and
 * sanitizer options), HOME and TMPDIR pointed into the login's data dir,
 * and nothing else, so that no secret the host was started with
 * (PGPASS, HS_CREDENTIALS, a token) reaches plugin code. */
#ifndef PA_WORKER_ENV_H
#define PA_WORKER_ENV_H

#include <glib.h>

G_BEGIN_DECLS

/* The worker's environment (transfer full): the allowed variables of
 * `host_env`, then HOME=`data_dir` and TMPDIR=`data_dir`/tmp when
 * `data_dir` is not NULL. */
GStrv pa_worker_env_build (const char *const *host_env, const char *data_dir);

G_END_DECLS

#endif
