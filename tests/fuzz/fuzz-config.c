/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* libFuzzer target: pa_config_load_from_data() on arbitrary bytes, then the
 * look-ups and the plugins: checks (against a fixed schema) on whatever
 * loaded. */
#define G_LOG_DOMAIN "passerelle-fuzz-config"

#include "config/pa-config.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
drop_log (const gchar *domain, GLogLevelFlags level, const gchar *message, gpointer user_data)
{
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static gboolean initialised = FALSE;
  if (!initialised)
    {
      /* Unknown keys are warnings: expected here, and too noisy to print. */
      g_log_set_handler ("passerelle-config", G_LOG_LEVEL_WARNING, drop_log, NULL);
      initialised = TRUE;
    }
  g_autoptr (GError) error = NULL;
  g_autoptr (PaConfig) c = pa_config_load_from_data ((const char *) data, size, "fuzz.yaml",
                                                     &error);
  g_assert ((c == NULL) == (error != NULL));
  if (c != NULL)
    {
      static const char *const ids[] = { "@a:localhost", "@admin:localhost", "@x:a.b", "bad" };
      for (guint i = 0; i < G_N_ELEMENTS (ids); i++)
        {
          (void) pa_level_to_string (pa_config_level_for (c, ids[i]));
          (void) pa_config_ministry_for (c, ids[i]);
        }
      (void) pa_config_ministry_by_name (c, "finances");
      g_assert_nonnull (c->hs_address);
      g_assert_nonnull (c->hs_domain);

      static json_t *schema = NULL;
      if (schema == NULL)
        schema = json_loads ("[{\"key\": \"n\", \"type\": \"int\", \"default\": \"1\"},"
                             " {\"key\": \"s\", \"type\": \"string\", \"secret\": true,"
                             "  \"required\": true},"
                             " {\"key\": \"b\", \"type\": \"bool\", \"default\": \"no\"},"
                             " {\"key\": \"p\", \"type\": \"path\", \"default\": \"d\"}]",
                             0, NULL);
      static const char *const installed[] = { "telegram", "whatsapp", NULL };
      g_autoptr (GError) names_error = NULL;
      (void) pa_config_check_plugin_names (c, installed, &names_error);
      for (guint i = 0; i < c->plugin_sections->len; i++)
        {
          const PaPluginSection *s = g_ptr_array_index (c->plugin_sections, i);
          g_autoptr (GError) section_error = NULL;
          json_t *out = NULL;
          gboolean ok = pa_config_plugin_section (c, s->name, schema, &out, &section_error);
          g_assert (ok == (out != NULL));
          json_decref (out);
        }
    }
  return 0;
}
