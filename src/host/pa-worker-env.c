/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The worker's environment (pa-worker-env.h): built from an allow-list
 * rather than by removing names that look secret, which missed PGPASS,
 * HS_CREDENTIALS and any name nobody thought of. */
#define G_LOG_DOMAIN "passerelle-host"

#include "host/pa-worker-env.h"

#include <string.h>

/* Variables passed as they are.  Add a name here only for a need a
 * plugin documents; docs/hardening.md lists them. */
static const char *const allowed_names[] = {
  "PATH",
  "LANG",
  "LANGUAGE",
  "TZ",
  "TZDIR",
  "USER",
  "LOGNAME",
  /* TLS trust stores an admin points at (the files must also be readable
   * in the sandbox: workers.sandbox_read). */
  "SSL_CERT_FILE",
  "SSL_CERT_DIR",
  /* A network reached through a proxy. */
  "http_proxy",
  "https_proxy",
  "no_proxy",
  "HTTP_PROXY",
  "HTTPS_PROXY",
  "NO_PROXY",
  "ALL_PROXY",
  "all_proxy",
  /* Debugging: GLib's logs, libpurple's (purple plugin), sanitizers. */
  "G_MESSAGES_DEBUG",
  "G_DEBUG",
  "PA_PURPLE_DEBUG",
  "ASAN_OPTIONS",
  "UBSAN_OPTIONS",
  "LSAN_OPTIONS",
  /* The host tests' stand-in worker (tests/host/pa-worker-test-exe.c). */
  "PA_TEST_FAKE_WORKER",
};

static gboolean
env_allowed (const char *name)
{
  if (g_str_has_prefix (name, "LC_"))
    return TRUE;
  for (gsize i = 0; i < G_N_ELEMENTS (allowed_names); i++)
    if (strcmp (name, allowed_names[i]) == 0)
      return TRUE;
  return FALSE;
}

GStrv
pa_worker_env_build (const char *const *host_env, const char *data_dir)
{
  g_autoptr (GStrvBuilder) b = g_strv_builder_new ();
  for (gsize i = 0; host_env != NULL && host_env[i] != NULL; i++)
    {
      const char *eq = strchr (host_env[i], '=');
      if (eq == NULL)
        continue;
      g_autofree char *name = g_strndup (host_env[i], (gsize) (eq - host_env[i]));
      if (env_allowed (name))
        g_strv_builder_add (b, host_env[i]);
    }
  if (data_dir != NULL)
    {
      g_autofree char *home = g_strconcat ("HOME=", data_dir, NULL);
      g_autofree char *tmp = g_strconcat ("TMPDIR=", data_dir, G_DIR_SEPARATOR_S, "tmp", NULL);
      g_strv_builder_add (b, home);
      g_strv_builder_add (b, tmp);
    }
  return g_strv_builder_end (b);
}
