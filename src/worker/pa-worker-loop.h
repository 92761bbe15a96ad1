/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The event-loop members of PaHostApi (timer_add, fd_watch_add,
 * source_remove, invoke) on GLib's default main context. */
#ifndef PA_WORKER_LOOP_H
#define PA_WORKER_LOOP_H

#include "worker/pa-worker-state.h"

G_BEGIN_DECLS

uint32_t pa_worker_loop_timer_add (PaHost *host, uint32_t interval_ms, PaTimerFunc fn,
                                   void *user_data);
uint32_t pa_worker_loop_fd_watch_add (PaHost *host, int fd, uint32_t events, PaFdFunc fn,
                                      void *user_data);
void pa_worker_loop_source_remove (PaHost *host, uint32_t id);
void pa_worker_loop_invoke (PaHost *host, PaInvokeFunc fn, void *user_data);

G_END_DECLS

#endif
