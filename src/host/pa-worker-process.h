/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Several logins of one plugin in one worker process: the pool of shared
 * processes and a login's place in one (pa-worker-process.c).  The bridge
 * keeps seeing one PaWorker per login (pa-worker.h); a PaWorker given a pool
 * delegates to its PaWorkerSlot here. */
#ifndef PA_WORKER_PROCESS_H
#define PA_WORKER_PROCESS_H

#include "host/pa-worker.h"

G_BEGIN_DECLS

typedef struct _PaWorkerSlot PaWorkerSlot;

/* The settings every shared process of the pool gets (the same as the
 * bridge gives a login's own process).  `sandbox_read` (char *) is
 * borrowed, copied. */
PaWorkerPool *pa_worker_pool_new (const char *self_exe, const char *sandbox,
                                  GPtrArray *sandbox_read, guint restart_max_delay_s,
                                  guint ping_interval_s, guint ping_timeout_s);
/* Kills the processes still running, without callbacks. */
void pa_worker_pool_free (PaWorkerPool *pool);

/* Place login `w` in a process of `plugin_path` with room for `capacity`
 * logins: one still forming (started at the next turn of the main loop,
 * with the data dirs of every login placed meanwhile: its sandbox is closed
 * over them), else a new one.  Frames sent before it runs wait. */
PaWorkerSlot *pa_worker_pool_place (PaWorkerPool *pool, PaWorker *w, const char *plugin_path,
                                    const char *login_id, const char *data_dir, json_t *init,
                                    guint capacity, const PaWorkerCallbacks *cb,
                                    gpointer user_data);
void pa_worker_slot_set_init (PaWorkerSlot *s, json_t *init);
gboolean pa_worker_slot_send (PaWorkerSlot *s, json_t *frame);
gboolean pa_worker_slot_running (PaWorkerSlot *s);
GPid pa_worker_slot_pid (PaWorkerSlot *s);
gboolean pa_worker_slot_hung (PaWorkerSlot *s);
gint64 pa_worker_slot_read_until_us (PaWorkerSlot *s);
guint pa_worker_slot_restarts (PaWorkerSlot *s);
/* The login leaves its process (a shutdown frame naming it; the process
 * ends when it was the last); `exited` follows (not crashed, no restart). */
void pa_worker_slot_leave (PaWorkerSlot *s);
/* Leave without callbacks, and free. */
void pa_worker_slot_free (PaWorkerSlot *s);

G_END_DECLS

#endif
