/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Plugin discovery (pa-plugin-catalog.h): one describe per .so, in a
 * worker process, so a plugin that crashes or prints while loading costs
 * the host nothing. */
#define G_LOG_DOMAIN "passerelle-host"

#include "host/pa-plugin-catalog.h"
#include "config/pa-config.h"
#include "host/pa-worker.h"
#include "pa-common.h"

/* See pa-plugin-catalog.h. */
void
pa_plugin_info_free (PaPluginInfo *info)
{
  if (info == NULL)
    return;
  g_free (info->name);
  g_free (info->display_name);
  g_free (info->path);
  json_decref (info->hello);
  json_decref (info->settings);
  g_free (info);
}

static int
by_name (gconstpointer a, gconstpointer b)
{
  const PaPluginInfo *x = *(PaPluginInfo *const *) a;
  const PaPluginInfo *y = *(PaPluginInfo *const *) b;
  return strcmp (x->name, y->name);
}

/* See pa-plugin-catalog.h. */
GPtrArray *
pa_plugin_catalog_scan (const char *self_exe, const char *dir)
{
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) pa_plugin_info_free);
  g_autoptr (GError) error = NULL;
  g_autoptr (GDir) d = g_dir_open (dir, 0, &error);
  if (d == NULL)
    {
      g_warning ("plugin directory %s: %s", dir, error->message);
      return out;
    }
  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  const char *file;
  while ((file = g_dir_read_name (d)) != NULL)
    {
      if (!g_str_has_suffix (file, ".so"))
        continue;
      g_autofree char *path = g_build_filename (dir, file, NULL);
      g_autoptr (GError) e = NULL;
      g_autoptr (json_t) hello = pa_worker_describe (self_exe, path, &e);
      if (hello == NULL)
        {
          g_warning ("plugin %s not loaded: %s", path, e->message);
          continue;
        }
      const char *name = json_string_value (json_object_get (hello, "plugin"));
      const char *display = json_string_value (json_object_get (hello, "display_name"));
      if (name == NULL || g_hash_table_contains (seen, name))
        {
          g_warning ("plugin %s: missing or duplicate name", path);
          continue;
        }
      PaPluginInfo *info = g_new0 (PaPluginInfo, 1);
      info->name = g_strdup (name);
      info->display_name = g_strdup (display != NULL ? display : name);
      info->path = g_steal_pointer (&path);
      info->hello = g_steal_pointer (&hello);
      g_hash_table_add (seen, info->name);
      g_ptr_array_add (out, info);
    }
  g_ptr_array_sort (out, by_name);
  return out;
}

/* See pa-plugin-catalog.h. */
char *
pa_plugin_catalog_config_example (GPtrArray *plugins)
{
  GString *s = g_string_new (NULL);
  gboolean any_keys = FALSE;
  for (guint i = 0; i < plugins->len; i++)
    {
      const PaPluginInfo *p = plugins->pdata[i];
      if (json_array_size (json_object_get (p->hello, "config")) > 0)
        any_keys = TRUE;
    }
  if (plugins->len == 0)
    return g_string_free (s, FALSE);
  g_string_append (s, "\n# The installed plugins' settings (written by passerelle -e).\n");
  g_string_append (s, any_keys ? "plugins:\n" : "#plugins:\n");
  for (guint i = 0; i < plugins->len; i++)
    {
      const PaPluginInfo *p = plugins->pdata[i];
      g_autofree char *block
          = pa_config_plugin_example (p->name, json_object_get (p->hello, "config"));
      if (block != NULL)
        g_string_append (s, block);
    }
  return g_string_free (s, FALSE);
}
