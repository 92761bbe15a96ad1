/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The metrics: section of config.yaml: whether the bridge serves its
 * Prometheus metrics, and on which address and port (docs/metrics.md).
 * Off by default; the listener is separate from the appservice's. */
#define G_LOG_DOMAIN "passerelle-config"

#include "pa-config-private.h"

#include <gio/gio.h>

gboolean
pa_config_load_metrics (const Loader *l, PaConfig *c, const Node *map, GError **error)
{
  for (guint i = 0; i < node_n_pairs (map); i++)
    {
      const Node *k = node_key (map, i), *v = node_val (map, i);
      g_autofree char *path = g_strdup_printf ("metrics.%s", k->value);
      gboolean ok = TRUE;

      if (g_str_equal (k->value, "enabled"))
        ok = pa_config_get_bool (l, v, path, &c->metrics_enabled, error);
      else if (g_str_equal (k->value, "bind"))
        {
          ok = pa_config_get_string (l, v, path, 64, &c->metrics_bind, error);
          if (ok && !g_hostname_is_ip_address (c->metrics_bind))
            ok = pa_config_fail (error, l->name, v->line, path,
                                 "must be an IP address to listen on (127.0.0.1, ::1, 0.0.0.0)");
        }
      else if (g_str_equal (k->value, "port"))
        {
          gint64 n = c->metrics_port;

          ok = pa_config_get_int (l, v, path, 1, 65535, &n, error);
          c->metrics_port = (guint) n;
        }
      else
        pa_config_warn_unknown (l, k, path);
      if (!ok)
        return FALSE;
    }
  return TRUE;
}
