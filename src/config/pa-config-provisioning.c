/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The provisioning: section of config.yaml (docs/provisioning.md): the
 * shared secret of the provisioning API, its URL prefix on the appservice
 * port and how long an unused login process lives.  As in the mautrix
 * bridges, the API is off without a secret (the key absent, or the word
 * `disable`); a secret shorter than 16 characters is refused rather than
 * taken. */
#define G_LOG_DOMAIN "passerelle-config"

#include "pa-config-private.h"

#include <string.h>

#define SECRET_MIN_LEN 16

static gboolean
prefix_ok (const char *p)
{
  if (p[0] != '/' || p[1] == '\0' || g_str_has_suffix (p, "/"))
    return FALSE;
  if (g_str_has_prefix (p, "/_matrix/app/") || g_str_equal (p, "/_matrix/app"))
    return FALSE;
  for (const char *c = p; *c; c++)
    if (!g_ascii_isalnum (*c) && strchr ("/_-.", *c) == NULL)
      return FALSE;
  return strstr (p, "//") == NULL;
}

/* pa_config_load_provisioning: reads the provisioning: mapping into c. */
gboolean
pa_config_load_provisioning (const Loader *l, PaConfig *c, const Node *map, GError **error)
{
  for (guint i = 0; i < node_n_pairs (map); i++)
    {
      const Node *k = node_key (map, i), *v = node_val (map, i);
      g_autofree char *path = g_strdup_printf ("provisioning.%s", k->value);
      gboolean ok = TRUE;
      if (g_str_equal (k->value, "shared_secret"))
        {
          g_autofree char *secret = NULL;
          ok = pa_config_get_string (l, v, path, 1024, &secret, error);
          if (ok && secret != NULL && !g_str_equal (secret, "disable"))
            {
              if (strlen (secret) < SECRET_MIN_LEN || !pa_config_is_token (secret))
                ok = pa_config_fail (error, l->name, v->line, path,
                                     "must be `disable` or at least %d printable characters "
                                     "without spaces",
                                     SECRET_MIN_LEN);
              else
                {
                  g_free (c->provisioning_secret);
                  c->provisioning_secret = g_steal_pointer (&secret);
                }
            }
        }
      else if (g_str_equal (k->value, "prefix"))
        {
          ok = pa_config_get_string (l, v, path, 128, &c->provisioning_prefix, error);
          if (ok && !prefix_ok (c->provisioning_prefix))
            ok = pa_config_fail (error, l->name, v->line, path,
                                 "must be a path such as /_matrix/provision (no trailing slash, "
                                 "not under /_matrix/app)");
        }
      else if (g_str_equal (k->value, "login_idle_s"))
        {
          gint64 s = 0;
          ok = pa_config_get_int (l, v, path, 5, 86400, &s, error);
          if (ok)
            c->provisioning_login_idle_s = (guint) s;
        }
      else
        pa_config_warn_unknown (l, k, path);
      if (!ok)
        return FALSE;
    }
  return TRUE;
}
