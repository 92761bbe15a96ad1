/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The keys of config.yaml: defaults, one reader per section (homeserver,
 * appservice, bridge, encryption, limits, workers, paths) and the top-level
 * table that hands ministries, permissions and plugins to their own files.
 * Kept apart from the YAML reader so adding a key touches one place. */
#define G_LOG_DOMAIN "passerelle-config"

#include "pa-config-private.h"
#include "pa-build-config.h"

static gboolean
load_homeserver (const Loader *l, PaConfig *c, const Node *map, GError **error)
{
  for (guint i = 0; i < node_n_pairs (map); i++)
    {
      const Node *k = node_key (map, i), *v = node_val (map, i);
      g_autofree char *path = g_strdup_printf ("homeserver.%s", k->value);
      gboolean ok = TRUE;
      if (g_str_equal (k->value, "address"))
        ok = pa_config_get_url (l, v, path, &c->hs_address, error);
      else if (g_str_equal (k->value, "domain"))
        {
          ok = pa_config_get_string (l, v, path, MAX_SERVER_NAME_LEN, &c->hs_domain, error);
          if (ok && c->hs_domain && !pa_config_is_server_name (c->hs_domain))
            ok = pa_config_fail (error, l->name, v->line, path, "\"%s\" is not a valid server name",
                                 c->hs_domain);
        }
      else
        pa_config_warn_unknown (l, k, path);
      if (!ok)
        return FALSE;
    }
  return TRUE;
}

static gboolean
load_bot (const Loader *l, PaConfig *c, const Node *map, GError **error)
{
  for (guint i = 0; i < node_n_pairs (map); i++)
    {
      const Node *k = node_key (map, i), *v = node_val (map, i);
      g_autofree char *path = g_strdup_printf ("appservice.bot.%s", k->value);
      gboolean ok = TRUE;
      if (g_str_equal (k->value, "localpart"))
        {
          ok = pa_config_get_string (l, v, path, 255, &c->bot_localpart, error);
          if (ok && !pa_config_is_localpart (c->bot_localpart, 255))
            ok = pa_config_fail (error, l->name, v->line, path,
                                 "must be a Matrix localpart (a-z, 0-9 and ._=-/+)");
        }
      else if (g_str_equal (k->value, "displayname"))
        ok = pa_config_get_string (l, v, path, 256, &c->bot_displayname, error);
      else if (g_str_equal (k->value, "avatar"))
        {
          ok = pa_config_get_string (l, v, path, 1024, &c->bot_avatar, error);
          if (ok && c->bot_avatar[0] != '\0' && !g_str_has_prefix (c->bot_avatar, "mxc://"))
            ok = pa_config_fail (error, l->name, v->line, path, "must be an mxc:// URI or empty");
        }
      else
        pa_config_warn_unknown (l, k, path);
      if (!ok)
        return FALSE;
    }
  return TRUE;
}

static gboolean
load_token (const Loader *l, const Node *v, const char *path, char **out, GError **error)
{
  if (!pa_config_get_string (l, v, path, MAX_TOKEN_LEN, out, error))
    return FALSE;
  if (*out != NULL && (*out)[0] == '\0')
    g_clear_pointer (out, g_free); /* "" means "not generated yet" */
  if (*out != NULL && !pa_config_is_token (*out))
    return pa_config_fail (error, l->name, v->line, path,
                           "must not contain spaces or control characters");
  return TRUE;
}

static gboolean
load_appservice (const Loader *l, PaConfig *c, const Node *map, GError **error)
{
  for (guint i = 0; i < node_n_pairs (map); i++)
    {
      const Node *k = node_key (map, i), *v = node_val (map, i);
      g_autofree char *path = g_strdup_printf ("appservice.%s", k->value);
      gboolean ok = TRUE, is_null = FALSE;
      gint64 n = c->as_port;
      if (g_str_equal (k->value, "id"))
        {
          ok = pa_config_get_string (l, v, path, 255, &c->as_id, error);
          if (ok && !pa_config_is_simple_word (c->as_id))
            ok = pa_config_fail (error, l->name, v->line, path, "must be a non-empty word");
        }
      else if (g_str_equal (k->value, "address"))
        ok = pa_config_get_url (l, v, path, &c->as_address, error);
      else if (g_str_equal (k->value, "bind"))
        {
          ok = pa_config_get_string (l, v, path, 255, &c->as_bind, error);
          if (ok && !pa_config_is_simple_word (c->as_bind))
            ok = pa_config_fail (error, l->name, v->line, path, "must be an address to listen on");
        }
      else if (g_str_equal (k->value, "port"))
        {
          ok = pa_config_get_int (l, v, path, 1, 65535, &n, error);
          c->as_port = (guint) n;
        }
      else if (g_str_equal (k->value, "as_token"))
        ok = load_token (l, v, path, &c->as_token, error);
      else if (g_str_equal (k->value, "hs_token"))
        ok = load_token (l, v, path, &c->hs_token, error);
      else if (g_str_equal (k->value, "bot"))
        {
          ok = pa_config_check_section (l, v, path, &is_null, error);
          if (ok && !is_null)
            ok = load_bot (l, c, v, error);
        }
      else if (g_str_equal (k->value, "double_puppet"))
        ok = pa_config_get_bool (l, v, path, &c->double_puppet, error);
      else if (g_str_equal (k->value, "ghost_prefix"))
        {
          ok = pa_config_get_string (l, v, path, MAX_NAME_LEN, &c->ghost_prefix, error);
          if (ok && !pa_config_is_localpart (c->ghost_prefix, MAX_NAME_LEN))
            ok = pa_config_fail (error, l->name, v->line, path,
                                 "must be a Matrix localpart prefix (a-z, 0-9 and ._=-/+)");
        }
      else
        pa_config_warn_unknown (l, k, path);
      if (!ok)
        return FALSE;
    }
  if (c->as_token && c->hs_token && g_str_equal (c->as_token, c->hs_token))
    {
      const Node *k = node_lookup_key (map, "hs_token");
      return pa_config_fail (error, l->name, k ? k->line : map->line, "appservice.hs_token",
                             "must differ from as_token");
    }
  return TRUE;
}

static gboolean
load_bridge (const Loader *l, PaConfig *c, const Node *map, GError **error)
{
  static const char *const visibilities[] = { "invited", "joined", "shared", "world_readable" };
  for (guint i = 0; i < node_n_pairs (map); i++)
    {
      const Node *k = node_key (map, i), *v = node_val (map, i);
      g_autofree char *path = g_strdup_printf ("bridge.%s", k->value);
      gboolean ok = TRUE;
      if (g_str_equal (k->value, "encryption_default"))
        ok = pa_config_get_bool (l, v, path, &c->encryption_default, error);
      else if (g_str_equal (k->value, "presence"))
        ok = pa_config_get_bool (l, v, path, &c->presence, error);
      else if (g_str_equal (k->value, "history_visibility"))
        {
          ok = pa_config_get_string (l, v, path, 32, &c->history_visibility, error);
          gboolean known = FALSE;
          for (guint j = 0; ok && j < G_N_ELEMENTS (visibilities); j++)
            known |= g_str_equal (c->history_visibility, visibilities[j]);
          if (ok && !known)
            ok = pa_config_fail (error, l->name, v->line, path,
                                 "must be one of invited, joined, shared, world_readable");
        }
      else if (g_str_equal (k->value, "command_prefix"))
        {
          ok = pa_config_get_string (l, v, path, 32, &c->command_prefix, error);
          if (ok && !pa_config_is_simple_word (c->command_prefix))
            ok = pa_config_fail (error, l->name, v->line, path,
                                 "must be a non-empty word without spaces");
        }
      else
        pa_config_warn_unknown (l, k, path);
      if (!ok)
        return FALSE;
    }
  return TRUE;
}

/* mautrix's layout: default and require need allow (checked once the
 * whole file is read, as bridge.encryption_default may come later). */
static gboolean
load_encryption (const Loader *l, PaConfig *c, const Node *map, GError **error)
{
  for (guint i = 0; i < node_n_pairs (map); i++)
    {
      const Node *k = node_key (map, i), *v = node_val (map, i);
      g_autofree char *path = g_strdup_printf ("encryption.%s", k->value);
      gboolean ok = TRUE;
      if (g_str_equal (k->value, "allow"))
        ok = pa_config_get_bool (l, v, path, &c->encryption_allow, error);
      else if (g_str_equal (k->value, "default"))
        ok = pa_config_get_bool (l, v, path, &c->encryption_default, error);
      else if (g_str_equal (k->value, "require"))
        ok = pa_config_get_bool (l, v, path, &c->encryption_require, error);
      else if (g_str_equal (k->value, "ghost_devices"))
        ok = pa_config_get_bool (l, v, path, &c->encryption_ghost_devices, error);
      else
        pa_config_warn_unknown (l, k, path);
      if (!ok)
        return FALSE;
    }
  return TRUE;
}

/* The byte limits: key, field, bounds. */
static const struct
{
  const char *key;
  gsize offset;
  gint64 min, max;
} byte_limits[] = {
  { "max_body_bytes", G_STRUCT_OFFSET (PaConfig, max_body_bytes), 1024,
    G_GINT64_CONSTANT (1) << 30 },
  { "max_media_bytes", G_STRUCT_OFFSET (PaConfig, max_media_bytes), 1024,
    G_GINT64_CONSTANT (16) << 30 },
  { "max_import_bytes", G_STRUCT_OFFSET (PaConfig, max_import_bytes), 1024,
    G_GINT64_CONSTANT (1) << 40 },
  { "login_data_bytes", G_STRUCT_OFFSET (PaConfig, login_data_bytes), 1024 * 1024,
    G_GINT64_CONSTANT (1) << 40 },
};

/* The count and time limits: key, field (guint), bounds. */
static const struct
{
  const char *key;
  gsize offset;
  gint64 min, max;
} count_limits[] = {
  { "max_events_per_txn", G_STRUCT_OFFSET (PaConfig, max_events_per_txn), 1, 100000 },
  { "max_connections", G_STRUCT_OFFSET (PaConfig, max_connections), 4, 65536 },
  { "idle_timeout_s", G_STRUCT_OFFSET (PaConfig, idle_timeout_s), 1, 3600 },
  { "request_timeout_s", G_STRUCT_OFFSET (PaConfig, request_timeout_s), 1, 3600 },
};

static gboolean
load_limits (const Loader *l, PaConfig *c, const Node *map, GError **error)
{
  for (guint i = 0; i < node_n_pairs (map); i++)
    {
      const Node *k = node_key (map, i), *v = node_val (map, i);
      g_autofree char *path = g_strdup_printf ("limits.%s", k->value);
      gboolean ok = TRUE, known = FALSE;
      for (guint b = 0; b < G_N_ELEMENTS (byte_limits) && !known; b++)
        if (g_str_equal (k->value, byte_limits[b].key))
          {
            gint64 *field = G_STRUCT_MEMBER_P (c, byte_limits[b].offset);
            ok = pa_config_get_int (l, v, path, byte_limits[b].min, byte_limits[b].max, field,
                                    error);
            known = TRUE;
          }
      for (guint u = 0; u < G_N_ELEMENTS (count_limits) && !known; u++)
        if (g_str_equal (k->value, count_limits[u].key))
          {
            guint *field = G_STRUCT_MEMBER_P (c, count_limits[u].offset);
            gint64 n = *field;
            ok = pa_config_get_int (l, v, path, count_limits[u].min, count_limits[u].max, &n,
                                    error);
            *field = (guint) n;
            known = TRUE;
          }
      if (!known && g_str_equal (k->value, "max_import_messages"))
        {
          ok = pa_config_get_int (l, v, path, 1, G_GINT64_CONSTANT (1) << 32,
                                  &c->max_import_messages, error);
          known = TRUE;
        }
      if (!known && g_str_equal (k->value, "max_import_entries"))
        {
          ok = pa_config_get_int (l, v, path, 1, 10000000, &c->max_import_entries, error);
          known = TRUE;
        }
      if (!known && g_str_equal (k->value, "max_events_per_txn"))
        {
          gint64 n = c->max_events_per_txn;
          ok = pa_config_get_int (l, v, path, 1, 100000, &n, error);
          c->max_events_per_txn = (guint) n;
          known = TRUE;
        }
      if (!known)
        pa_config_warn_unknown (l, k, path);
      if (!ok)
        return FALSE;
    }
  return TRUE;
}

static gboolean
load_workers (const Loader *l, PaConfig *c, const Node *map, GError **error)
{
  for (guint i = 0; i < node_n_pairs (map); i++)
    {
      const Node *k = node_key (map, i), *v = node_val (map, i);
      g_autofree char *path = g_strdup_printf ("workers.%s", k->value);
      gboolean ok = TRUE;
      if (g_str_equal (k->value, "restart_max_delay_s"))
        {
          gint64 n = c->worker_restart_max_delay_s;
          ok = pa_config_get_int (l, v, path, 1, 86400, &n, error);
          c->worker_restart_max_delay_s = (guint) n;
        }
      else if (g_str_equal (k->value, "ping_interval_s"))
        {
          gint64 n = c->worker_ping_interval_s;
          ok = pa_config_get_int (l, v, path, 0, 3600, &n, error);
          c->worker_ping_interval_s = (guint) n;
        }
      else if (g_str_equal (k->value, "ping_timeout_s"))
        {
          gint64 n = c->worker_ping_timeout_s;
          ok = pa_config_get_int (l, v, path, 1, 86400, &n, error);
          c->worker_ping_timeout_s = (guint) n;
        }
      else if (g_str_equal (k->value, "max_logins"))
        {
          gint64 n = c->worker_max_logins;
          ok = pa_config_get_int (l, v, path, 1, 10000000, &n, error);
          c->worker_max_logins = (guint) n;
        }
      else if (g_str_equal (k->value, "start_concurrency"))
        {
          gint64 n = c->worker_start_concurrency;
          ok = pa_config_get_int (l, v, path, 1, 10000, &n, error);
          c->worker_start_concurrency = (guint) n;
        }
      else if (g_str_equal (k->value, "notice_burst"))
        {
          gint64 n = c->worker_notice_burst;
          ok = pa_config_get_int (l, v, path, 1, 10000, &n, error);
          c->worker_notice_burst = (guint) n;
        }
      else if (g_str_equal (k->value, "notice_every_s"))
        {
          gint64 n = c->worker_notice_every_s;
          ok = pa_config_get_int (l, v, path, 0, 86400, &n, error);
          c->worker_notice_every_s = (guint) n;
        }
      else if (g_str_equal (k->value, "sandbox"))
        {
          ok = pa_config_get_string (l, v, path, 32, &c->worker_sandbox, error);
          if (ok && !g_str_equal (c->worker_sandbox, "required")
              && !g_str_equal (c->worker_sandbox, "best_effort")
              && !g_str_equal (c->worker_sandbox, "off"))
            ok = pa_config_fail (error, l->name, v->line, path,
                                 "must be required, best_effort or off");
        }
      else if (g_str_equal (k->value, "logins_per_worker"))
        ok = pa_config_load_logins_per_worker (l, c, v, path, error);
      else if (g_str_equal (k->value, "sandbox_read"))
        ok = pa_config_get_string_list (l, v, path, g_path_is_absolute, "an absolute path",
                                        c->worker_sandbox_read, error);
      else
        pa_config_warn_unknown (l, k, path);
      if (!ok)
        return FALSE;
    }
  return TRUE;
}

static PaConfig *
config_new_defaults (void)
{
  PaConfig *c = g_new0 (PaConfig, 1);
  c->as_id = g_strdup ("passerelle");
  c->as_address = g_strdup ("http://127.0.0.1:29340");
  c->as_bind = g_strdup ("127.0.0.1");
  c->as_port = 29340;
  c->bot_localpart = g_strdup ("passerelle");
  c->bot_displayname = g_strdup ("Passerelle");
  c->bot_avatar = g_strdup ("");
  c->ghost_prefix = g_strdup ("_pa_");
  c->database = g_strdup ("passerelle.db");
  c->data_dir = g_strdup ("data");
  c->plugin_dir = g_strdup (PA_PLUGIN_DIR);
  c->encryption_default = TRUE;
  c->encryption_allow = TRUE;
  c->encryption_ghost_devices = TRUE;
  c->history_visibility = g_strdup ("invited");
  c->command_prefix = g_strdup ("!pa");
  c->max_body_bytes = 32 * 1024 * 1024;
  c->max_media_bytes = 100 * 1024 * 1024;
  c->login_data_bytes = G_GINT64_CONSTANT (2) << 30;
  c->max_import_bytes = G_GINT64_CONSTANT (4) << 30;
  c->max_import_messages = 1000000;
  c->max_import_entries = 100000;
  c->max_events_per_txn = 1000;
  c->max_connections = 256;
  c->idle_timeout_s = 60;
  c->request_timeout_s = 30;
  c->worker_restart_max_delay_s = 60;
  c->worker_ping_interval_s = 20;
  c->worker_ping_timeout_s = 60;
  c->worker_notice_burst = 10;
  c->worker_notice_every_s = 5;
  c->worker_sandbox = g_strdup ("best_effort");
  c->worker_sandbox_read = g_ptr_array_new_with_free_func (g_free);
  c->provisioning_prefix = g_strdup ("/_matrix/provision");
  c->provisioning_login_idle_s = 600;
  c->metrics_bind = g_strdup ("127.0.0.1");
  c->metrics_port = 9108;
  c->worker_sharing = g_ptr_array_new_with_free_func ((GDestroyNotify) pa_config_sharing_free);
  c->ministries = g_ptr_array_new_with_free_func ((GDestroyNotify) pa_config_ministry_free);
  c->permissions = g_ptr_array_new_with_free_func ((GDestroyNotify) pa_config_permission_free);
  c->plugin_sections
      = g_ptr_array_new_with_free_func ((GDestroyNotify) pa_config_plugin_section_free);
  return c;
}

static gboolean
load_path (const Loader *l, const Node *v, const char *path, char **out, GError **error)
{
  if (!pa_config_get_string (l, v, path, 4096, out, error))
    return FALSE;
  if ((*out)[0] == '\0')
    return pa_config_fail (error, l->name, v->line, path, "must not be empty");
  return TRUE;
}

static void
resolve_path (const Loader *l, char **p)
{
  char *abs = g_canonicalize_filename (*p, l->base_dir);
  g_free (*p);
  *p = abs;
}

typedef gboolean (*SectionLoader) (const Loader *l, PaConfig *c, const Node *map, GError **error);

static gboolean
load_section (const Loader *l, PaConfig *c, const Node *v, const char *path, SectionLoader fn,
              GError **error)
{
  gboolean is_null = FALSE;
  if (!pa_config_check_section (l, v, path, &is_null, error))
    return FALSE;
  return is_null || fn (l, c, v, error);
}

static gboolean
load_ministries_key (const Loader *l, PaConfig *c, const Node *k, const Node *v, GError **error)
{
  return pa_config_load_ministries (l, c, v, error);
}

/* The top-level keys, in the order `passerelle -e` documents them.  Each is
 * a mapping section read by `section` (null means all defaults), a path
 * (the char * field at `path_offset`, made absolute once the file is read),
 * or a value of its own shape read by `other`. */
static const struct
{
  const char *key;
  SectionLoader section;
  gssize path_offset; /* -1 when not a path */
  gboolean (*other) (const Loader *l, PaConfig *c, const Node *k, const Node *v, GError **error);
} top_keys[] = {
  { "homeserver", load_homeserver, -1, NULL },
  { "appservice", load_appservice, -1, NULL },
  { "database", NULL, G_STRUCT_OFFSET (PaConfig, database), NULL },
  { "data_dir", NULL, G_STRUCT_OFFSET (PaConfig, data_dir), NULL },
  { "plugin_dir", NULL, G_STRUCT_OFFSET (PaConfig, plugin_dir), NULL },
  { "bridge", load_bridge, -1, NULL },
  { "encryption", load_encryption, -1, NULL },
  { "limits", load_limits, -1, NULL },
  { "workers", load_workers, -1, NULL },
  { "metrics", pa_config_load_metrics, -1, NULL },
  { "ministries", NULL, -1, load_ministries_key },
  { "permissions", pa_config_load_permissions, -1, NULL },
  { "plugins", NULL, -1, pa_config_load_plugins },
  { "provisioning", pa_config_load_provisioning, -1, NULL },
};

PaConfig *
pa_config_from_tree (const Loader *l, const Node *root, GError **error)
{
  g_autoptr (PaConfig) c = config_new_defaults ();
  c->source_name = g_strdup (l->name);
  c->base_dir = g_strdup (l->base_dir);
  guint root_line = root ? root->line : 1;
  if (root != NULL && !node_is_null (root) && root->kind != YAML_MAPPING_NODE)
    {
      pa_config_fail (error, l->name, root->line, "(top level)", "must be a mapping, not %s",
                      kind_name (root));
      return NULL;
    }
  gboolean have_permissions = FALSE;
  guint n = (root && root->kind == YAML_MAPPING_NODE) ? node_n_pairs (root) : 0;
  for (guint i = 0; i < n; i++)
    {
      const Node *k = node_key (root, i), *v = node_val (root, i);
      const char *key = k->value;
      gboolean ok = TRUE;
      guint e = 0;
      while (e < G_N_ELEMENTS (top_keys) && !g_str_equal (key, top_keys[e].key))
        e++;
      if (e == G_N_ELEMENTS (top_keys))
        {
          pa_config_warn_unknown (l, k, key);
          continue;
        }
      if (top_keys[e].section != NULL)
        ok = load_section (l, c, v, key, top_keys[e].section, error);
      else if (top_keys[e].path_offset >= 0)
        ok = load_path (l, v, key, G_STRUCT_MEMBER_P (c, top_keys[e].path_offset), error);
      else
        ok = top_keys[e].other (l, c, k, v, error);
      if (g_str_equal (key, "permissions"))
        have_permissions = !node_is_null (v);
      if (!ok)
        return NULL;
    }

  if ((c->encryption_default || c->encryption_require) && !c->encryption_allow)
    {
      const Node *enc
          = (root && root->kind == YAML_MAPPING_NODE) ? node_lookup (root, "encryption") : NULL;
      pa_config_fail (error, l->name, enc ? enc->line : root_line, "encryption.allow",
                      "must be true when encryption.default or encryption.require is");
      return NULL;
    }
  const Node *hs
      = (root && root->kind == YAML_MAPPING_NODE) ? node_lookup (root, "homeserver") : NULL;
  guint hs_line = hs ? hs->line : root_line;
  if (c->hs_address == NULL)
    {
      pa_config_fail (error, l->name, hs_line, "homeserver.address", "required");
      return NULL;
    }
  if (c->hs_domain == NULL)
    {
      pa_config_fail (error, l->name, hs_line, "homeserver.domain", "required");
      return NULL;
    }
  /* Without a permissions section, users of our own homeserver may use the
   * bridge and nobody else: the safe default that still works out of the box. */
  if (!have_permissions)
    {
      PaPermission *p = g_new0 (PaPermission, 1);
      p->key = g_strdup (c->hs_domain);
      p->level = PA_LEVEL_USER;
      g_ptr_array_add (c->permissions, p);
    }
  /* database: a PostgreSQL URI is kept as it is, "sqlite:PATH" is PATH
   * (docs/store.md, Backends) */
  if (g_str_has_prefix (c->database, "sqlite:"))
    {
      char *path = g_strdup (c->database + strlen ("sqlite:"));
      g_free (c->database);
      c->database = path;
    }
  gboolean database_uri = g_str_has_prefix (c->database, "postgres://")
                          || g_str_has_prefix (c->database, "postgresql://");
  for (guint e = 0; e < G_N_ELEMENTS (top_keys); e++)
    if (top_keys[e].path_offset >= 0
        && !(database_uri && top_keys[e].path_offset == G_STRUCT_OFFSET (PaConfig, database)))
      resolve_path (l, G_STRUCT_MEMBER_P (c, top_keys[e].path_offset));
  return g_steal_pointer (&c);
}
