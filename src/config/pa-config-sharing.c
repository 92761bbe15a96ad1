/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* workers.logins_per_worker: how many logins of a plugin share one worker
 * process.  Loading checks the shape (plugin name → a count from 1); the
 * count is checked against what the plugin declares (its hello's
 * logins_per_worker, 0 when its logins cannot share) once the plugins are
 * known, with the file and line of the entry in the message. */
#define G_LOG_DOMAIN "passerelle-config"

#include "pa-config-private.h"

#define MAX_LOGINS_PER_WORKER 10000

void
pa_config_sharing_free (PaWorkerSharing *s)
{
  if (s == NULL)
    return;
  g_free (s->plugin);
  g_free (s);
}

gboolean
pa_config_load_logins_per_worker (const Loader *l, PaConfig *c, const Node *v, const char *path,
                                  GError **error)
{
  gboolean is_null = FALSE;
  if (!pa_config_check_section (l, v, path, &is_null, error))
    return FALSE;
  for (guint i = 0; !is_null && i < node_n_pairs (v); i++)
    {
      const Node *k = node_key (v, i), *n = node_val (v, i);
      g_autofree char *key_path = g_strdup_printf ("%s.%s", path, k->value);
      if (!pa_config_is_plugin_name (k->value))
        return pa_config_fail (error, l->name, k->line, key_path, "not a plugin name");
      gint64 count = 1;
      if (!pa_config_get_int (l, n, key_path, 1, MAX_LOGINS_PER_WORKER, &count, error))
        return FALSE;
      PaWorkerSharing *s = g_new0 (PaWorkerSharing, 1);
      s->plugin = g_strdup (k->value);
      s->logins = (guint) count;
      s->line = n->line;
      g_ptr_array_add (c->worker_sharing, s);
    }
  return TRUE;
}

/* See pa-config.h. */
gboolean
pa_config_logins_per_worker (const PaConfig *c, const char *plugin, guint declared, guint *out,
                             GError **error)
{
  g_return_val_if_fail (c != NULL && plugin != NULL && out != NULL, FALSE);
  *out = MAX (declared, 1);
  for (guint i = 0; c->worker_sharing != NULL && i < c->worker_sharing->len; i++)
    {
      const PaWorkerSharing *s = g_ptr_array_index (c->worker_sharing, i);
      if (!g_str_equal (s->plugin, plugin))
        continue;
      if (s->logins > 1 && declared == 0)
        {
          g_autofree char *path = g_strdup_printf ("workers.logins_per_worker.%s", plugin);
          return pa_config_fail (error, c->source_name ? c->source_name : "<config>", s->line, path,
                                 "the %s plugin cannot run several logins in one worker process "
                                 "(it keeps per-login state process-wide); remove the entry or "
                                 "set it to 1",
                                 plugin);
        }
      *out = s->logins;
    }
  return TRUE;
}
