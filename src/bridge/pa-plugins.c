/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Plugin discovery: each .so in plugin_dir is described by a worker
 * (`passerelle --describe`, no plugin code runs in the host) and its hello
 * kept by name in the bridge object, for logins, commands and the
 * third-party protocol queries. */
#define G_LOG_DOMAIN "passerelle-logins"

#include "pa-plugins.h"

static const char *
str (json_t *o, const char *key)
{
  return json_string_value (json_object_get (o, key));
}

void
pa_plugins_discover (PaBridge *b)
{
  const char *dir = b->config->plugin_dir;
  g_autoptr (GError) error = NULL;
  g_autoptr (GDir) d = g_dir_open (dir, 0, &error);
  if (d == NULL)
    {
      g_warning ("plugin directory %s: %s", dir, error->message);
      return;
    }
  const char *name;
  while ((name = g_dir_read_name (d)) != NULL)
    {
      if (!g_str_has_suffix (name, ".so"))
        continue;
      g_autofree char *path = g_build_filename (dir, name, NULL);
      g_autoptr (GError) e = NULL;
      json_t *hello = pa_worker_describe (b->self_exe, path, &e);
      if (hello == NULL)
        {
          g_warning ("plugin %s not loaded: %s", path, e->message);
          continue;
        }
      const char *pname = str (hello, "plugin");
      if (pname == NULL || g_hash_table_contains (b->plugins, pname))
        {
          g_warning ("plugin %s: missing or duplicate name", path);
          json_decref (hello);
          continue;
        }
      PaPluginInfo *info = g_new0 (PaPluginInfo, 1);
      info->name = g_strdup (pname);
      info->display_name
          = g_strdup (str (hello, "display_name") ? str (hello, "display_name") : pname);
      info->path = g_steal_pointer (&path);
      info->hello = hello;
      g_hash_table_insert (b->plugins, info->name, info);
      g_message ("plugin %s (%s %s) from %s", info->name, info->display_name,
                 str (hello, "version") ? str (hello, "version") : "?", info->path);
    }
}
PaPluginInfo *
pa_plugin_info (PaBridge *b, const char *name)
{
  return name ? g_hash_table_lookup (b->plugins, name) : NULL;
}
