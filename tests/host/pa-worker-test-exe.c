/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Stand-in for `passerelle --worker` in the host tests.
 *
 * PA_TEST_FAKE_WORKER=garbage makes it a misbehaving worker instead: it
 * announces an oversized frame on fd 3, which the host must treat as a
 * protocol error. */
#include "worker/pa-worker-main.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int
main (int argc, char **argv)
{
  const char *fake = getenv ("PA_TEST_FAKE_WORKER");
  if (fake != NULL && strcmp (fake, "garbage") == 0)
    {
      static const unsigned char header[] = { 0xff, 0xff, 0xff, 0xff, '{' };
      if (write (3, header, sizeof header) != (ssize_t) sizeof header)
        return 1;
      for (;;)
        pause ();
    }
  return pa_worker_main (argc, argv);
}
