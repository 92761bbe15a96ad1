/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Unit tests for workers.logins_per_worker (pa-config-sharing.c): the count
 * a plugin gets from the config and its declaration, and the refusals, as
 * a table. */
#define G_LOG_DOMAIN "passerelle-config-test"

#include "config/pa-config.h"
#include "pa-common.h"

#include <string.h>

#define MINIMAL "homeserver:\n  address: http://127.0.0.1:8008\n  domain: localhost\n"
#define NAME "/etc/pa/config.yaml"

typedef struct
{
  const char *workers; /* the workers: section's logins_per_worker value, or NULL */
  const char *plugin;
  guint declared;    /* the plugin's hello logins_per_worker */
  guint expect;      /* the count, or 0: refused at start-up */
  const char *error; /* part of the refusal's message */
} Case;

static const Case cases[] = {
  /* absent: the plugin's default; 0 ("cannot share") is one per process */
  { NULL, "loopback", 1, 1, NULL },
  { NULL, "whatsapp", 10, 10, NULL },
  { NULL, "purple", 0, 1, NULL },
  { "{}", "purple", 0, 1, NULL },
  /* the entry wins over the default, for its plugin only */
  { "{loopback: 3}", "loopback", 1, 3, NULL },
  { "{loopback: 3}", "whatsapp", 10, 10, NULL },
  { "{whatsapp: 1}", "whatsapp", 10, 1, NULL },
  /* 1 is today's isolation, allowed for any plugin */
  { "{purple: 1}", "purple", 0, 1, NULL },
  /* more than 1 for a plugin that cannot share: refused, file and line */
  { "{purple: 2}", "purple", 0, 0,
    NAME ":7: workers.logins_per_worker.purple: the purple plugin "
         "cannot run several logins in one worker process" },
};

static const struct
{
  const char *value;
  const char *error;
} load_errors[] = {
  { "{loopback: 0}", "workers.logins_per_worker.loopback" },
  { "{loopback: -2}", "workers.logins_per_worker.loopback" },
  { "{loopback: many}", "workers.logins_per_worker.loopback" },
  { "{Loop-Back: 2}", "not a plugin name" },
  { "[loopback]", "must be a mapping" },
};

static PaConfig *
load (const char *value, GError **error)
{
  g_autofree char *text = value != NULL
                              ? g_strdup_printf (MINIMAL "workers:\n  restart_max_delay_s: 2\n"
                                                         "  logins_per_worker:\n"
                                                         "    %s\n",
                                                 value)
                              : g_strdup (MINIMAL);
  return pa_config_load_from_data (text, strlen (text), NAME, error);
}

static void
test_table (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const Case *c = &cases[i];
      g_autoptr (GError) error = NULL;
      PaConfig *config = load (c->workers, &error);
      g_assert_no_error (error);
      guint n = 12345;
      gboolean ok = pa_config_logins_per_worker (config, c->plugin, c->declared, &n, &error);
      if (c->expect == 0)
        {
          g_assert_false (ok);
          g_assert_error (error, PA_ERROR, PA_ERROR_CONFIG);
          if (strstr (error->message, c->error) == NULL)
            g_error ("case %" G_GSIZE_FORMAT ": %s", i, error->message);
        }
      else
        {
          g_assert_no_error (error);
          g_assert_true (ok);
          if (n != c->expect)
            g_error ("case %" G_GSIZE_FORMAT ": %u, not %u", i, n, c->expect);
        }
      pa_config_free (config);
    }
}

static void
test_load_errors (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (load_errors); i++)
    {
      g_autoptr (GError) error = NULL;
      PaConfig *config = load (load_errors[i].value, &error);
      g_assert_null (config);
      g_assert_error (error, PA_ERROR, PA_ERROR_CONFIG);
      if (strstr (error->message, load_errors[i].error) == NULL)
        g_error ("%s: %s", load_errors[i].value, error->message);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/config/sharing/table", test_table);
  g_test_add_func ("/config/sharing/load-errors", test_load_errors);
  return g_test_run ();
}
