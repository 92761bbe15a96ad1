/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The worker's table of logins, for a process that hosts several logins of
 * one plugin (docs/worker-protocol.md, "Shared workers"). */
#ifndef PA_WORKER_LOGINS_H
#define PA_WORKER_LOGINS_H

#include "worker/pa-worker-state.h"

G_BEGIN_DECLS

/* The login a host frame names (its "login" member), on the process's
 * PaHost `proc`: an init creates that login's PaHost.  Returns the PaHost
 * the caller (the frame dispatch) dispatches the frame on, or NULL when
 * there is nothing left to do: a shutdown, which ends only that login, or
 * a frame ignored (logged to the host). */
PaHost *pa_worker_logins_route (PaHost *proc, json_t *frame);
/* login_free every login still open (the process is shutting down). */
void pa_worker_logins_close_all (PaHost *proc);
/* Free the table and the logins' PaHosts (at exit). */
void pa_worker_logins_free (PaHost *proc);

G_END_DECLS

#endif
