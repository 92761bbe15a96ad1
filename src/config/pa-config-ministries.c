/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Ministries: groups of homeserver domains and the plugins their users may
 * bridge.  Reading the ministries: list and the look-ups by MXID or name. */
#define G_LOG_DOMAIN "passerelle-config"

#include "pa-config-private.h"

void
pa_config_ministry_free (PaMinistry *m)
{
  if (m == NULL)
    return;
  g_free (m->name);
  g_clear_pointer (&m->domains, g_ptr_array_unref);
  g_clear_pointer (&m->plugins, g_ptr_array_unref);
  g_free (m);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PaMinistry, pa_config_ministry_free)
static gboolean
load_ministry (const Loader *l, PaConfig *c, const Node *map, const char *mpath, GError **error)
{
  g_autoptr (PaMinistry) m = g_new0 (PaMinistry, 1);
  m->domains = g_ptr_array_new_with_free_func (g_free);
  m->plugins = g_ptr_array_new_with_free_func (g_free);
  const Node *domains_node = NULL;
  for (guint i = 0; i < node_n_pairs (map); i++)
    {
      const Node *k = node_key (map, i), *v = node_val (map, i);
      g_autofree char *path = g_strdup_printf ("%s.%s", mpath, k->value);
      gboolean ok = TRUE;
      if (g_str_equal (k->value, "name"))
        {
          ok = pa_config_get_string (l, v, path, MAX_NAME_LEN, &m->name, error);
          if (ok && m->name && !pa_config_is_ministry_name (m->name))
            ok = pa_config_fail (error, l->name, v->line, path, "must match [a-z0-9_-]+");
          if (ok && m->name && pa_config_ministry_by_name (c, m->name))
            ok = pa_config_fail (error, l->name, v->line, path, "duplicate ministry name \"%s\"",
                                 m->name);
        }
      else if (g_str_equal (k->value, "domains"))
        {
          domains_node = v;
          ok = pa_config_get_string_list (l, v, path, pa_config_is_server_name, "a server name",
                                          m->domains, error);
          for (guint j = 0; ok && j < m->domains->len; j++)
            {
              const char *d = g_ptr_array_index (m->domains, j);
              g_autofree char *probe = g_strdup_printf ("@x:%s", d);
              const PaMinistry *other = pa_config_ministry_for (c, probe);
              if (other)
                ok = pa_config_fail (error, l->name, v->line, path,
                                     "domain \"%s\" already belongs to ministry \"%s\"", d,
                                     other->name);
            }
        }
      else if (g_str_equal (k->value, "plugins"))
        ok = pa_config_get_string_list (l, v, path, pa_config_is_plugin_name,
                                        "a plugin name ([a-z0-9]+)", m->plugins, error);
      else
        pa_config_warn_unknown (l, k, path);
      if (!ok)
        return FALSE;
    }
  if (m->name == NULL)
    {
      g_autofree char *path = g_strconcat (mpath, ".name", NULL);
      return pa_config_fail (error, l->name, map->line, path, "required");
    }
  if (m->domains->len == 0)
    {
      g_autofree char *path = g_strconcat (mpath, ".domains", NULL);
      return pa_config_fail (error, l->name, domains_node ? domains_node->line : map->line, path,
                             "at least one domain is required");
    }
  g_ptr_array_add (c->ministries, g_steal_pointer (&m));
  return TRUE;
}

gboolean
pa_config_load_ministries (const Loader *l, PaConfig *c, const Node *v, GError **error)
{
  if (node_is_null (v))
    return TRUE;
  if (v->kind != YAML_SEQUENCE_NODE)
    return pa_config_fail (error, l->name, v->line, "ministries", "must be a list, not %s",
                           kind_name (v));
  for (guint i = 0; i < v->items->len; i++)
    {
      const Node *item = g_ptr_array_index (v->items, i);
      g_autofree char *path = g_strdup_printf ("ministries[%u]", i);
      if (item->kind != YAML_MAPPING_NODE)
        return pa_config_fail (error, l->name, item->line, path, "must be a mapping, not %s",
                               kind_name (item));
      if (!load_ministry (l, c, item, path, error))
        return FALSE;
    }
  return TRUE;
}

const PaMinistry *
pa_config_ministry_for (const PaConfig *config, const char *mxid)
{
  g_return_val_if_fail (config != NULL, NULL);
  const char *server = NULL;
  if (!pa_config_split_mxid (mxid, &server))
    return NULL;
  for (guint i = 0; config->ministries && i < config->ministries->len; i++)
    {
      const PaMinistry *m = g_ptr_array_index (config->ministries, i);
      for (guint j = 0; m->domains && j < m->domains->len; j++)
        if (g_ascii_strcasecmp (g_ptr_array_index (m->domains, j), server) == 0)
          return m;
    }
  return NULL;
}

const PaMinistry *
pa_config_ministry_by_name (const PaConfig *config, const char *name)
{
  g_return_val_if_fail (config != NULL, NULL);
  if (name == NULL)
    return NULL;
  for (guint i = 0; config->ministries && i < config->ministries->len; i++)
    {
      const PaMinistry *m = g_ptr_array_index (config->ministries, i);
      if (g_strcmp0 (m->name, name) == 0)
        return m;
    }
  return NULL;
}
