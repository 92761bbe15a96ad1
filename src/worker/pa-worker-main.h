/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Worker mode: `passerelle-worker --plugin PATH --data-dir DIR --fd N`
 * or `passerelle-worker --describe PATH` (docs/worker-protocol.md). */
#ifndef PA_WORKER_MAIN_H
#define PA_WORKER_MAIN_H

#include <glib.h>

G_BEGIN_DECLS

/* passerelle-worker's main (pa-worker-exe.c); returns the exit code. */
int pa_worker_main (int argc, char **argv);

G_END_DECLS

#endif
