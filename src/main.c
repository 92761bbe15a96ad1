/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* passerelle: the command line.  mautrix conventions, so admins feel at
 * home:
 *   passerelle -c config.yaml                 run the bridge
 *   passerelle -e config.yaml                 write a commented example config
 *   passerelle -g -c config.yaml -r reg.yaml  write the registration file
 *   passerelle --check -c config.yaml         check the homeserver's setup, exit 0/1
 *   passerelle import whatsapp FILE -c config.yaml --user @agent:hs
 *                                             queue a history import and follow it
 *   passerelle db migrate --from sqlite:PATH --to postgres://…
 *                                             copy the SQLite store into PostgreSQL
 * Workers are the passerelle-worker executable (src/worker/pa-worker-exe.c). */
#define G_LOG_DOMAIN "passerelle"

#include "bridge/pa-bridge.h"
#include "bridge/pa-self-check.h"
#include "config/pa-config.h"
#include "host/pa-fd-budget.h"
#include "host/pa-plugin-catalog.h"
#include "host/pa-worker-locate.h"
#include "host/pa-worker-pace.h"
#include "pa-db-cli.h"
#include "pa-import-cli.h"
#include "pa-build-config.h"
#include "pa-common.h"
#include "passerelle/plugin.h"

#include <curl/curl.h>
#include <stdio.h>

static char *
self_exe (const char *argv0)
{
  g_autoptr (GError) error = NULL;
  char *p = g_file_read_link ("/proc/self/exe", &error);
  return p ? p : g_strdup (argv0);
}

int
main (int argc, char **argv)
{
  if (argc > 1 && g_str_equal (argv[1], "import"))
    return pa_import_cli (argc, argv);
  if (argc > 1 && g_str_equal (argv[1], "db"))
    return pa_db_cli (argc, argv);

  g_autofree char *config_path = NULL;
  g_autofree char *example_path = NULL;
  g_autofree char *registration_path = NULL;
  g_autofree char *plugin_dir = NULL;
  gboolean generate = FALSE, version = FALSE, verbose = FALSE;
  gboolean check = FALSE;
  GOptionEntry entries[] = {
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path, "Configuration file", "FILE" },
    { "generate-example-config", 'e', 0, G_OPTION_ARG_FILENAME, &example_path,
      "Write a commented example configuration to FILE", "FILE" },
    { "generate-registration", 'g', 0, G_OPTION_ARG_NONE, &generate,
      "Write the appservice registration file (see -r)", NULL },
    { "registration", 'r', 0, G_OPTION_ARG_FILENAME, &registration_path,
      "Registration file to write with -g (default registration.yaml)", "FILE" },
    { "plugin-dir", 0, 0, G_OPTION_ARG_FILENAME, &plugin_dir,
      "With -e: where the installed plugins are (default " PA_PLUGIN_DIR ")", "DIR" },
    { "check", 0, 0, G_OPTION_ARG_NONE, &check,
      "Check what the bridge needs of the homeserver, then exit (0: all good)", NULL },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "Log debug messages", NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("- Matrix bridge for Tchap");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_set_description (
      ctx, "Passerelle bridges WhatsApp, Telegram, Olvid and libpurple networks to Tchap.\n"
           "Docs: README.md and docs/ in the source tree.");
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      fprintf (stderr, "passerelle: %s (try --help)\n", error->message);
      return 2;
    }
  if (version)
    {
      printf ("passerelle %s (plugin ABI %d.%d)\n", PA_VERSION, PA_PLUGIN_ABI_MAJOR,
              PA_PLUGIN_ABI_MINOR);
      return 0;
    }
  if (verbose)
    g_setenv ("G_MESSAGES_DEBUG", "all", TRUE);
  if (example_path)
    {
      /* The example, then a commented section for each installed plugin
       * from the keys it declares. */
      g_autofree char *self = self_exe (argv[0]);
      g_autofree char *exe = pa_worker_locate (self, &error);
      if (exe == NULL)
        {
          fprintf (stderr, "passerelle: %s\n", error->message);
          return 1;
        }
      g_autoptr (GPtrArray) plugins
          = pa_plugin_catalog_scan (exe, plugin_dir != NULL ? plugin_dir : PA_PLUGIN_DIR);
      g_autofree char *sections = pa_plugin_catalog_config_example (plugins);
      g_autofree char *text = g_strconcat (pa_config_example_text (), sections, NULL);
      if (!g_file_set_contents_full (example_path, text, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600,
                                     &error))
        {
          fprintf (stderr, "passerelle: %s\n", error->message);
          return 1;
        }
      printf ("Example configuration written to %s (%u plugin%s)\n", example_path, plugins->len,
              plugins->len == 1 ? "" : "s");
      return 0;
    }
  if (config_path == NULL)
    {
      fprintf (stderr, "passerelle: -c config.yaml is required (or -e to write an example; see "
                       "--help)\n");
      return 2;
    }
  g_autoptr (PaConfig) config = pa_config_load (config_path, &error);
  if (config == NULL)
    {
      fprintf (stderr, "passerelle: %s\n", error->message);
      return 1;
    }
  if (generate)
    {
      const char *reg = registration_path ? registration_path : "registration.yaml";
      if (!pa_config_write_registration (config, reg, &error))
        {
          fprintf (stderr, "passerelle: %s\n", error->message);
          return 1;
        }
      printf ("Registration written to %s; add it to Synapse's app_service_config_files.\n", reg);
      return 0;
    }
  if (check)
    return pa_self_check_main (config);
  /* Thousands of logins: descriptors, capacity, paced starts (docs/scale.md). */
  pa_fd_budget_raise ();
  pa_fd_budget_init (config->worker_max_logins);
  pa_worker_pace_set_limit (config->worker_start_concurrency);
  g_autofree char *self = self_exe (argv[0]);
  g_autofree char *exe = pa_worker_locate (self, &error);
  if (exe == NULL)
    {
      fprintf (stderr, "passerelle: %s\n", error->message);
      return 1;
    }
  curl_global_init (CURL_GLOBAL_DEFAULT);
  PaBridge *bridge = pa_bridge_new (config, exe, &error);
  if (bridge == NULL)
    {
      fprintf (stderr, "passerelle: %s\n", error->message);
      return 1;
    }
  gboolean ok = pa_bridge_run (bridge, &error);
  pa_bridge_free (bridge);
  curl_global_cleanup ();
  if (!ok)
    {
      fprintf (stderr, "passerelle: %s\n", error->message);
      return 1;
    }
  return 0;
}
