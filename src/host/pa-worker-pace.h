/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Paced worker start-up: at most N workers between their spawn and their
 * hello at once (workers.start_concurrency; default from the CPU count).
 * A bridge resuming thousands of logins starts them in parallel without a
 * stampede of thousands of processes loading at the same moment
 * (docs/scale.md). */
#ifndef PA_WORKER_PACE_H
#define PA_WORKER_PACE_H

#include <glib.h>

G_BEGIN_DECLS

typedef struct _PaPaceSlot PaPaceSlot;

typedef void (*PaPaceReady) (gpointer user_data);

/* Workers starting at once; 0: the default (twice the CPUs, at least 4). */
void pa_worker_pace_set_limit (guint n);
guint pa_worker_pace_limit (void);
/* TRUE: a start slot is held now (*slot set).  FALSE: *slot waits in line
 * and `ready` is called from the main loop once it holds a slot. */
gboolean pa_worker_pace_acquire (PaPaceSlot **slot, PaPaceReady ready, gpointer user_data);
/* Whether *slot is still waiting in line. */
gboolean pa_worker_pace_waiting (PaPaceSlot *slot);
/* The start is over (hello, exit, stop, free): gives the slot back or
 * leaves the line; *slot is cleared.  NULL-safe. */
void pa_worker_pace_release (PaPaceSlot **slot);

G_END_DECLS

#endif
