/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The worker's link to the host: frames out (from any thread), frames in
 * (handed to one function), and what happens when the host goes away. */
#ifndef PA_WORKER_LINK_H
#define PA_WORKER_LINK_H

#include "worker/pa-worker-state.h"

G_BEGIN_DECLS

typedef void (*PaWorkerFrameFunc) (PaHost *h, json_t *frame);

/* Start reading host frames from `fd` on the default main context; each
 * goes to `on_frame`.  End of stream exits the process with 0, a corrupt
 * stream with PA_WORKER_EXIT_PROTOCOL. */
void pa_worker_link_open (PaHost *h, int fd, PaWorkerFrameFunc on_frame);
/* A new frame {"t": t} (transfer full). */
json_t *pa_worker_frame_new (const char *t);
/* Send `frame` (taken) to the host.  Any thread: from another thread the
 * frame (already complete JSON) is handed to the main thread. */
void pa_worker_link_submit (PaHost *h, json_t *frame);
void pa_worker_link_log (PaHost *h, PaLogLevel level, const char *message);
void pa_worker_link_login_state (PaHost *h, PaLoginState state, const char *message);
/* An op the worker answers itself (unsupported, malformed, not logged in). */
void pa_worker_link_fail (PaHost *h, guint64 op_id, PaResultCode code, const char *error);
/* Block until what is queued is written (at most timeout_ms). */
void pa_worker_link_drain (PaHost *h, gint64 timeout_ms);
/* Stop reading host frames. */
void pa_worker_link_stop_reading (PaHost *h);
/* Log a plugin callback that held the main thread too long (t0 from
 * g_get_monotonic_time before the call). */
void pa_worker_link_check_slow (PaHost *h, const char *what, gint64 t0);

G_END_DECLS

#endif
