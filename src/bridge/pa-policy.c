/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Who may use what: a Matrix user's permission level (config), and
 * whether a plugin is enabled for their ministry (the store's toggles over
 * the config's list).  Every path asks here before acting for a user. */
#define G_LOG_DOMAIN "passerelle-bridge"

#include "pa-policy.h"

#include "pa-plugins.h"

PaLevel
pa_policy_level (PaBridge *b, const char *mxid)
{
  return pa_config_level_for (b->config, mxid);
}
gboolean
pa_policy_ministry_plugin_enabled (PaBridge *b, const PaMinistry *m, const char *plugin)
{
  gboolean enabled = FALSE;
  if (pa_store_ministry_plugin_get (b->store, m->name, plugin, &enabled))
    return enabled;
  for (guint i = 0; i < m->plugins->len; i++)
    if (g_str_equal (g_ptr_array_index (m->plugins, i), plugin))
      return TRUE;
  return FALSE;
}
gboolean
pa_policy_plugin_allowed (PaBridge *b, const char *mxid, const char *plugin, char **why)
{
  PaPluginInfo *info = pa_plugin_info (b, plugin);
  if (info == NULL)
    {
      *why = g_strdup_printf ("there is no plugin named %s on this bridge", plugin);
      return FALSE;
    }
  if (pa_policy_level (b, mxid) < PA_LEVEL_USER)
    {
      *why = g_strdup ("you are not allowed to use this bridge (ask a bridge admin)");
      return FALSE;
    }
  const PaMinistry *m = pa_config_ministry_for (b->config, mxid);
  if (m == NULL)
    {
      *why = g_strdup ("your homeserver belongs to no ministry configured on this bridge");
      return FALSE;
    }
  gboolean stored = FALSE;
  if (pa_store_ministry_plugin_get (b->store, m->name, plugin, &stored) && !stored)
    {
      /* Switched off at run time (`ministry disable`): say so, and how it
       * comes back. */
      *why = g_strdup_printf ("%s is disabled for your ministry (%s) by a bridge admin "
                              "(`ministry enable %s %s` turns it back on)",
                              info->display_name ? info->display_name : plugin, m->name, m->name,
                              plugin);
      return FALSE;
    }
  if (!pa_policy_ministry_plugin_enabled (b, m, plugin))
    {
      *why = g_strdup_printf ("your ministry (%s) has not enabled %s", m->name, plugin);
      return FALSE;
    }
  return TRUE;
}
