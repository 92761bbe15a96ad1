/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Several logins of one plugin in one worker process: the pool of shared
 * processes (pa-worker-process.c).  The bridge keeps seeing one PaWorker
 * per login (pa-worker.h); a login the pool places in a shared process is a
 * PaWorker given its place there (pa_worker_set_place), to which pa-worker.c
 * forwards the login's calls without knowing this file. */
#ifndef PA_WORKER_PROCESS_H
#define PA_WORKER_PROCESS_H

#include "host/pa-worker.h"

G_BEGIN_DECLS

typedef struct _PaWorkerPool PaWorkerPool;

/* The settings every shared process of the pool gets (the same as the
 * bridge gives a login's own process).  `sandbox_read` (char *) is
 * borrowed, copied. */
PaWorkerPool *pa_worker_pool_new (const char *self_exe, const char *sandbox,
                                  GPtrArray *sandbox_read, guint restart_max_delay_s,
                                  guint ping_interval_s, guint ping_timeout_s);
/* Kills the processes still running, without callbacks. */
void pa_worker_pool_free (PaWorkerPool *pool);

/* Start login `w` (set up as for pa_worker_start: init, callbacks).  With
 * logins_per_worker > 1 it is placed in a process of its plugin with room
 * for that many logins: one still forming (started at the next turn of the
 * main loop, with the data dirs of every login placed meanwhile: its
 * sandbox is closed over them), else a new one; frames sent before it runs
 * wait.  1 (or less): pa_worker_start, a process of its own. */
gboolean pa_worker_pool_start (PaWorkerPool *pool, PaWorker *w, guint logins_per_worker,
                               GError **error);

G_END_DECLS

#endif
