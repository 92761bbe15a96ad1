/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Plugin discovery: each .so in plugin_dir is described by a worker
 * (`passerelle-worker --describe`, no plugin code runs in the host) and its hello
 * kept by name in the bridge object, for logins, commands and the
 * third-party protocol queries. */
#define G_LOG_DOMAIN "passerelle-logins"

#include "pa-plugins.h"

gboolean
pa_plugins_discover (PaBridge *b, GError **error)
{
  g_autoptr (GPtrArray) found = pa_plugin_catalog_scan (b->self_exe, b->config->plugin_dir);
  g_autoptr (GPtrArray) names = g_ptr_array_new ();
  for (guint i = 0; i < found->len; i++)
    g_ptr_array_add (names, ((PaPluginInfo *) found->pdata[i])->name);
  g_ptr_array_add (names, NULL);
  if (!pa_config_check_plugin_names (b->config, (const char *const *) names->pdata, error))
    return FALSE;
  for (guint i = 0; i < found->len; i++)
    {
      PaPluginInfo *info = found->pdata[i];
      json_t *schema = json_object_get (info->hello, "config");
      g_autoptr (GError) section_error = NULL;
      if (!pa_config_plugin_section (b->config, info->name, schema, &info->settings,
                                     &section_error))
        {
          /* Installed (a package ships every plugin) but never named by the
           * config, and it needs settings it was not given: set aside, so
           * that no ministry can enable it until an admin configures it. */
          if (pa_config_names_plugin (b->config, info->name)
              || !g_error_matches (section_error, PA_ERROR, PA_ERROR_CONFIG))
            {
              g_propagate_error (error, g_steal_pointer (&section_error));
              return FALSE;
            }
          g_warning ("plugin %s is installed but not configured, so it is not offered: %s",
                     info->name, section_error->message);
          g_ptr_array_remove_index (found, i--);
          continue;
        }
      json_t *declared = json_object_get (info->hello, "logins_per_worker");
      if (!pa_config_logins_per_worker (
              b->config, info->name,
              json_is_integer (declared) ? (guint) CLAMP (json_integer_value (declared), 0, G_MAXUINT) : 0,
              &info->logins_per_worker, error))
        return FALSE;
      const char *version = json_string_value (json_object_get (info->hello, "version"));
      g_message ("plugin %s (%s %s) from %s", info->name, info->display_name,
                 version != NULL ? version : "?", info->path);
    }
  /* The hash table owns them from here. */
  while (found->len > 0)
    {
      PaPluginInfo *info = g_ptr_array_steal_index (found, 0);
      g_hash_table_insert (b->plugins, info->name, info);
    }
  return TRUE;
}

PaPluginInfo *
pa_plugin_info (PaBridge *b, const char *name)
{
  return name ? g_hash_table_lookup (b->plugins, name) : NULL;
}
