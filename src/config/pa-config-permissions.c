/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Permission levels: reading the permissions: mapping and the look-up of a
 * user's level (exact MXID, then domain, then "*"). */
#define G_LOG_DOMAIN "passerelle-config"

#include "pa-config-private.h"

#include <string.h>

static gboolean
level_from_string (const char *s, PaLevel *out)
{
  for (int lv = PA_LEVEL_BLOCK; lv <= PA_LEVEL_ADMIN; lv++)
    if (g_str_equal (s, pa_level_to_string ((PaLevel) lv)))
      {
        *out = (PaLevel) lv;
        return TRUE;
      }
  return FALSE;
}
void
pa_config_permission_free (PaPermission *p)
{
  if (p == NULL)
    return;
  g_free (p->key);
  g_free (p);
}
gboolean
pa_config_load_permissions (const Loader *l, PaConfig *c, const Node *map, GError **error)
{
  for (guint i = 0; i < node_n_pairs (map); i++)
    {
      const Node *k = node_key (map, i), *v = node_val (map, i);
      g_autofree char *path = g_strdup_printf ("permissions.%s", k->value);
      const char *server = NULL;
      if (!g_str_equal (k->value, "*") && !pa_config_is_server_name (k->value)
          && !pa_config_split_mxid (k->value, &server))
        return pa_config_fail (error, l->name, k->line, path,
                               "key must be \"*\", a domain or an @localpart:domain user ID");
      PaLevel level = PA_LEVEL_BLOCK;
      if (v->kind != YAML_SCALAR_NODE || !level_from_string (v->value, &level))
        return pa_config_fail (error, l->name, v->line, path,
                               "level must be one of block, relay, user, admin");
      PaPermission *p = g_new0 (PaPermission, 1);
      p->key = g_strdup (k->value);
      p->level = level;
      g_ptr_array_add (c->permissions, p);
    }
  return TRUE;
}

/* ---------------------------------------------------------------------- */
/* Look-ups                                                                 */

PaLevel
pa_config_level_for (const PaConfig *config, const char *mxid)
{
  g_return_val_if_fail (config != NULL, PA_LEVEL_BLOCK);
  const char *server = NULL;
  if (!pa_config_split_mxid (mxid, &server))
    return PA_LEVEL_BLOCK;
  gsize local_len = (gsize) (server - mxid); /* "@local:" */
  int exact = -1, domain = -1, star = -1;
  for (guint i = 0; config->permissions && i < config->permissions->len; i++)
    {
      const PaPermission *p = g_ptr_array_index (config->permissions, i);
      if (p->key == NULL)
        continue;
      if (p->key[0] == '@')
        {
          /* Localparts compare exactly; server names are case-insensitive. */
          if (strncmp (p->key, mxid, local_len) == 0
              && g_ascii_strcasecmp (p->key + local_len, server) == 0)
            exact = (int) p->level;
        }
      else if (g_str_equal (p->key, "*"))
        star = (int) p->level;
      else if (g_ascii_strcasecmp (p->key, server) == 0)
        domain = (int) p->level;
    }
  if (exact >= 0)
    return (PaLevel) exact;
  if (domain >= 0)
    return (PaLevel) domain;
  if (star >= 0)
    return (PaLevel) star;
  return PA_LEVEL_BLOCK;
}

const char *
pa_level_to_string (PaLevel level)
{
  switch (level)
    {
    case PA_LEVEL_BLOCK:
      return "block";
    case PA_LEVEL_RELAY:
      return "relay";
    case PA_LEVEL_USER:
      return "user";
    case PA_LEVEL_ADMIN:
      return "admin";
    default:
      return "block";
    }
}
