/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Loading a configuration: read the file (bounded), parse it into nodes,
 * read the keys, and free it all again.  The pieces live in pa-config-*.c,
 * one purpose each; this file only strings them together. */
#define G_LOG_DOMAIN "passerelle-config"

#include "pa-config-private.h"

static PaConfig *
load_internal (const char *data, gsize len, const char *name, GError **error)
{
  g_autoptr (Node) root = NULL;
  if (!pa_config_parse_yaml (data, len, name, &root, error))
    return NULL;
  g_autofree char *dir = g_path_get_dirname (name);
  Loader l = { .name = name, .base_dir = g_canonicalize_filename (dir, NULL) };
  PaConfig *c = pa_config_from_tree (&l, root, error);
  g_free (l.base_dir);
  return c;
}
PaConfig *
pa_config_load (const char *path, GError **error)
{
  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  gsize len = 0;
  g_autofree char *data = pa_config_read_limited (path, &len, error);
  if (data == NULL)
    return NULL;
  PaConfig *c = load_internal (data, len, path, error);
  if (c != NULL)
    c->path = g_canonicalize_filename (path, NULL);
  return c;
}

PaConfig *
pa_config_load_from_data (const char *data, gsize len, const char *name, GError **error)
{
  g_return_val_if_fail (data != NULL || len == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  return load_internal (data ? data : "", len, name ? name : "<memory>", error);
}

void
pa_config_free (PaConfig *c)
{
  if (c == NULL)
    return;
  g_free (c->hs_address);
  g_free (c->hs_domain);
  g_free (c->as_id);
  g_free (c->as_address);
  g_free (c->as_bind);
  g_free (c->as_token);
  g_free (c->hs_token);
  g_free (c->bot_localpart);
  g_free (c->bot_displayname);
  g_free (c->bot_avatar);
  g_free (c->ghost_prefix);
  g_free (c->database);
  g_free (c->data_dir);
  g_free (c->plugin_dir);
  g_free (c->history_visibility);
  g_free (c->command_prefix);
  g_free (c->worker_sandbox);
  g_free (c->provisioning_secret);
  g_free (c->provisioning_prefix);
  g_free (c->metrics_bind);
  g_clear_pointer (&c->worker_sandbox_read, g_ptr_array_unref);
  g_clear_pointer (&c->worker_sharing, g_ptr_array_unref);
  g_clear_pointer (&c->ministries, g_ptr_array_unref);
  g_clear_pointer (&c->permissions, g_ptr_array_unref);
  g_clear_pointer (&c->plugin_sections, g_ptr_array_unref);
  g_free (c->source_name);
  g_free (c->base_dir);
  g_free (c->path);
  g_free (c);
}
