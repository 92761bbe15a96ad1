/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* File descriptors and the login capacity they allow.  Each login costs
 * the host descriptors for as long as its worker runs; the rest (the
 * appservice listener and its connections, the homeserver client, the
 * database, files) needs a reserve.  Running out used to stall new logins
 * silently; now a login beyond the capacity is refused with a reason
 * (docs/scale.md). */
#ifndef PA_FD_BUDGET_H
#define PA_FD_BUDGET_H

#include <glib.h>

G_BEGIN_DECLS

/* Host descriptors per login: its worker's socket, and one for the
 * process's exit watch or a spawn in progress. */
#define PA_FD_PER_LOGIN 2u

/* The soft RLIMIT_NOFILE up to the hard one (as root, the hard one up
 * toward fs.nr_open first); logged.  Returns the soft limit now. */
guint64 pa_fd_budget_raise (void);
/* Logins that `limit` descriptors allow (0 when even the reserve does not
 * fit). */
guint pa_fd_budget_capacity_for (guint64 limit);
/* Sets the capacity from the current limit and `max_logins` (config
 * workers.max_logins, 0: what the limit allows); warns, naming the numbers
 * and how to raise the limit, when the limit allows fewer.  Returns it. */
guint pa_fd_budget_init (guint max_logins);
/* Whether one more login fits beside `running` ones; FALSE with a message
 * for the agent (and a log line) when not. */
gboolean pa_fd_budget_admit (guint running, GError **error);
/* A spawn failed with `errno_value`: the error to report, which names the
 * descriptor limit when that is what ran out. */
void pa_fd_budget_spawn_error (int errno_value, const char *what, GError **error);

G_END_DECLS

#endif
