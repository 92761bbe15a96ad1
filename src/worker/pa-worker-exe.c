/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* passerelle-worker: the executable the host starts for each worker.  It
 * links only what a worker needs (GLib, jansson, the wire format, the
 * worker area), not the host's HTTP, TLS, SQLite or Olm libraries, so each
 * of thousands of workers maps a few libraries instead of the bridge's
 * dozens (docs/scale.md).  The modes are pa-worker-main.h's:
 *     passerelle-worker --plugin PATH --data-dir DIR --fd N
 *     passerelle-worker --describe PATH */
#include "worker/pa-worker-main.h"

int
main (int argc, char **argv)
{
  return pa_worker_main (argc, argv);
}
