/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The worker's environment (pa-worker-env.c) is an allow-list: the
 * locale, PATH and debugging variables pass, secrets and unknown names do
 * not, and HOME and TMPDIR point into the login's data dir. */
#include "host/pa-worker-env.h"

static void
test_allow_list (void)
{
  const char *host[] = { "PATH=/usr/bin",
                         "LANG=fr_FR.UTF-8",
                         "LC_TIME=fr_FR.UTF-8",
                         "TZ=Europe/Paris",
                         "G_MESSAGES_DEBUG=all",
                         "ASAN_OPTIONS=detect_leaks=1",
                         "PGPASS=secret",
                         "HS_CREDENTIALS=secret",
                         "AS_TOKEN=secret",
                         "FOO=bar",
                         "HOME=/root",
                         "TMPDIR=/tmp",
                         "NOEQUALS",
                         NULL };
  g_auto (GStrv) env = pa_worker_env_build (host, "/srv/data/L1");
  g_assert_cmpstr (g_environ_getenv (env, "PATH"), ==, "/usr/bin");
  g_assert_cmpstr (g_environ_getenv (env, "LANG"), ==, "fr_FR.UTF-8");
  g_assert_cmpstr (g_environ_getenv (env, "LC_TIME"), ==, "fr_FR.UTF-8");
  g_assert_cmpstr (g_environ_getenv (env, "TZ"), ==, "Europe/Paris");
  g_assert_cmpstr (g_environ_getenv (env, "G_MESSAGES_DEBUG"), ==, "all");
  g_assert_cmpstr (g_environ_getenv (env, "ASAN_OPTIONS"), ==, "detect_leaks=1");
  for (const char *const *n
       = (const char *const[]){ "PGPASS", "HS_CREDENTIALS", "AS_TOKEN", "FOO", "NOEQUALS", NULL };
       *n != NULL; n++)
    g_assert_null (g_environ_getenv (env, *n));
  g_assert_cmpstr (g_environ_getenv (env, "HOME"), ==, "/srv/data/L1");
  g_assert_cmpstr (g_environ_getenv (env, "TMPDIR"), ==, "/srv/data/L1/tmp");
  g_assert_cmpuint (g_strv_length (env), ==, 8);

  /* --describe has no data dir: no HOME, no TMPDIR. */
  g_auto (GStrv) bare = pa_worker_env_build (host, NULL);
  g_assert_null (g_environ_getenv (bare, "HOME"));
  g_assert_null (g_environ_getenv (bare, "TMPDIR"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/host/worker-env/allow-list", test_allow_list);
  return g_test_run ();
}
