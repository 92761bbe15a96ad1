/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * lb-plugin.c — network->init and network->shutdown: keep the host table and
 * read the configuration (server, reconnect_max_s).
 *
 * lb_plugin is the plugin's one piece of file-static state.  That is fine
 * for a plugin (the "no file-static state" rule binds the host): it holds
 * what is the same for every login of the process (the configuration), init
 * and shutdown bracket every use, and nothing of one login lives here, so
 * several logins may share a worker process (plugin.h, Process model).
 */
#define G_LOG_DOMAIN "passerelle-loopback"

#include "lb-plugin.h"

#include "lb-util.h"

LbPlugin lb_plugin;

bool
lb_init (PaHost *host, const PaHostApi *api, char **error)
{
  if (api == NULL || api->abi_major != PA_PLUGIN_ABI_MAJOR
      || !PA_HAS_MEMBER (api, PaHostApi, invoke))
    {
      *error = lb_c_strdup ("the host API table is not the SDK 2 one the loopback plugin needs");
      return false;
    }
  /* The host applies the declared defaults; still, an int key cannot say
   * "unset" (config_int answers 0), so 0 means the default here too, and a
   * host that sends no configuration at all still gets a working plugin. */
  gint64 max_s = api->config_int (host, "reconnect_max_s");
  if (max_s == 0)
    max_s = LB_DEFAULT_RECONNECT_MAX_S;
  if (max_s < 1 || max_s > LB_MAX_RECONNECT_MAX_S)
    {
      g_autofree char *msg = g_strdup_printf (
          "plugins.loopback.reconnect_max_s is %" G_GINT64_FORMAT ": it must be 1 to %d", max_s,
          LB_MAX_RECONNECT_MAX_S);
      *error = lb_c_strdup (msg);
      return false;
    }
  const char *server = api->config_string (host, "server");
  lb_plugin.host = host;
  lb_plugin.api = api;
  lb_plugin.backoff_max_s = (guint) max_s;
  lb_plugin.default_server
      = g_strdup (server != NULL && *server != '\0' ? server : LB_DEFAULT_SERVER);
  return true;
}

void
lb_shutdown (PaHost *host)
{
  g_clear_pointer (&lb_plugin.default_server, g_free);
  lb_plugin.host = NULL;
  lb_plugin.api = NULL;
}
