/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The lookup of pa-worker-locate.h. */
#define G_LOG_DOMAIN "passerelle-host"

#include "host/pa-worker-locate.h"
#include "pa-build-config.h"
#include "pa-common.h"

#include <unistd.h>

#define WORKER_NAME "passerelle-worker"

/* See pa-worker-locate.h. */
char *
pa_worker_locate (const char *self_exe, GError **error)
{
  g_autofree char *self
      = self_exe != NULL ? g_strdup (self_exe) : g_file_read_link ("/proc/self/exe", NULL);
  g_autofree char *beside = NULL;
  if (self != NULL)
    {
      g_autofree char *dir = g_path_get_dirname (self);
      beside = g_build_filename (dir, WORKER_NAME, NULL);
      if (access (beside, X_OK) == 0)
        return g_steal_pointer (&beside);
    }
  g_autofree char *installed = g_build_filename (PA_WORKER_DIR, WORKER_NAME, NULL);
  if (access (installed, X_OK) == 0)
    return g_steal_pointer (&installed);
  g_set_error (error, PA_ERROR, PA_ERROR_CONFIG,
               "the worker executable %s is missing: looked for %s%s%s; install passerelle "
               "completely (it runs every login's plugin)",
               WORKER_NAME, beside != NULL ? beside : "", beside != NULL ? " and " : "", installed);
  return NULL;
}
