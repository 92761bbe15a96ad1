/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Ministries' run-time plugin overrides: what an admin enabled or disabled
 * with `ministry enable/disable`, over the config's defaults. */
#define G_LOG_DOMAIN "passerelle-store"

#include "pa-store-private.h"

gboolean
pa_store_ministry_plugin_set (PaStore *store, const char *ministry, const char *plugin,
                              gboolean enabled, GError **error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (ministry != NULL && plugin != NULL, FALSE);
  return pa_store_run (store, error,
                       "INSERT INTO ministry_plugins (ministry, plugin, enabled) VALUES (?, ?, ?)"
                       " ON CONFLICT (ministry, plugin) DO UPDATE SET enabled = excluded.enabled",
                       "tti", ministry, plugin, enabled ? 1 : 0);
}

gboolean
pa_store_ministry_plugin_get (PaStore *store, const char *ministry, const char *plugin,
                              gboolean *out_enabled)
{
  g_autofree char *value = NULL;

  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (ministry != NULL && plugin != NULL, FALSE);

  value = pa_store_lookup_text (store,
                                "SELECT enabled FROM ministry_plugins"
                                " WHERE ministry = ? AND plugin = ?",
                                "tt", ministry, plugin);
  if (value == NULL)
    return FALSE;
  if (out_enabled != NULL)
    *out_enabled = g_strcmp0 (value, "0") != 0;
  return TRUE;
}
