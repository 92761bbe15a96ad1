/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Loads one plugin .so and checks its descriptor (libpurple/BitlBee style:
 * magic + ABI version, refused with a clear reason). */
#define G_LOG_DOMAIN "passerelle-host"

#include "worker/pa-plugin-loader.h"
#include "pa-common.h"
#include "wire/pa-wire.h"

#include <gmodule.h>

#define NAME_MAX_LEN 32
#define FLOWS_MAX 64

/* Everything up to import_file is ABI 2.0. */
#define NETWORK_SIZE_2_0 (offsetof (PaNetwork, import_file) + sizeof (void *))
#define LOGIN_OPS_SIZE_2_0 (offsetof (PaLoginOps, fetch_history) + sizeof (void *))
#define CONFIG_KEYS_MAX 256

/* The four members every SDK major shares, read before anything else. */
typedef struct
{
  uint32_t magic;
  uint16_t abi_major;
  uint16_t abi_minor;
  uint32_t struct_size;
} DescriptorHead;

struct _PaPluginHandle
{
  GModule *module; /* resident: never closed */
  char *path;
  const PaNetwork *desc;
};

static gboolean
valid_name (const char *name)
{
  if (name == NULL || *name == '\0' || strlen (name) > NAME_MAX_LEN)
    return FALSE;
  for (const char *p = name; *p; p++)
    if (!g_ascii_islower (*p) && !g_ascii_isdigit (*p))
      return FALSE;
  return TRUE;
}

static gboolean
check_descriptor (const PaNetwork *d, const char *base, GError **error)
{
  if (d->magic != PA_PLUGIN_MAGIC)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_PLUGIN,
                   "plugin %s is not a passerelle plugin (bad magic 0x%08x)", base, d->magic);
      return FALSE;
    }
  if (d->abi_major < PA_PLUGIN_ABI_MAJOR)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_PLUGIN,
                   "plugin %s was built for plugin SDK %u.%u, which this passerelle no longer "
                   "loads: rebuild it against SDK %d (include/passerelle/plugin.h, "
                   "docs/plugin-guide.md)",
                   base, d->abi_major, d->abi_minor, PA_PLUGIN_ABI_MAJOR);
      return FALSE;
    }
  if (d->abi_major != PA_PLUGIN_ABI_MAJOR || d->abi_minor > PA_PLUGIN_ABI_MINOR)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_PLUGIN,
                   "plugin %s was built for ABI %u.%u; this passerelle speaks %d.%d", base,
                   d->abi_major, d->abi_minor, PA_PLUGIN_ABI_MAJOR, PA_PLUGIN_ABI_MINOR);
      return FALSE;
    }
  if (d->struct_size < NETWORK_SIZE_2_0)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_PLUGIN,
                   "plugin %s has a network descriptor of %u bytes, smaller than the ABI 2.0 "
                   "size %" G_GSIZE_FORMAT " (struct_size not set?)",
                   base, d->struct_size, (gsize) NETWORK_SIZE_2_0);
      return FALSE;
    }
  if ((d->login_new == NULL) != (d->login_ops == NULL))
    {
      g_set_error (error, PA_ERROR, PA_ERROR_PLUGIN,
                   "plugin %s: login_new and login_ops go together", base);
      return FALSE;
    }
  if (d->login_ops != NULL
      && (d->login_ops->struct_size < LOGIN_OPS_SIZE_2_0 || d->login_ops->login_free == NULL))
    {
      g_set_error (error, PA_ERROR, PA_ERROR_PLUGIN,
                   "plugin %s: login_ops is smaller than ABI 2.0 or has no login_free", base);
      return FALSE;
    }
  if (d->n_config_keys > CONFIG_KEYS_MAX || (d->n_config_keys > 0 && d->config_keys == NULL))
    {
      g_set_error (error, PA_ERROR, PA_ERROR_PLUGIN, "plugin %s: bad config_keys array", base);
      return FALSE;
    }
  for (gsize i = 0; i < d->n_config_keys; i++)
    {
      g_autoptr (GError) local = NULL;
      g_autoptr (json_t) k = pa_wire_config_key_to_json (&d->config_keys[i], &local);
      if (k == NULL)
        {
          g_set_error (error, PA_ERROR, PA_ERROR_PLUGIN,
                       "plugin %s: config key %" G_GSIZE_FORMAT ": %s", base, i, local->message);
          return FALSE;
        }
    }
  if (!valid_name (d->name))
    {
      g_set_error (error, PA_ERROR, PA_ERROR_PLUGIN,
                   "plugin %s has an invalid name (want [a-z0-9]{1,%d})", base, NAME_MAX_LEN);
      return FALSE;
    }
  if (d->display_name != NULL && !g_utf8_validate (d->display_name, -1, NULL))
    {
      g_set_error (error, PA_ERROR, PA_ERROR_PLUGIN, "plugin %s: display_name is not UTF-8", base);
      return FALSE;
    }
  if (d->n_login_flows > FLOWS_MAX || (d->n_login_flows > 0 && d->login_flows == NULL))
    {
      g_set_error (error, PA_ERROR, PA_ERROR_PLUGIN, "plugin %s: bad login_flows array", base);
      return FALSE;
    }
  for (gsize i = 0; i < d->n_login_flows; i++)
    {
      const PaLoginFlow *f = &d->login_flows[i];
      if (f->struct_size < offsetof (PaLoginFlow, description) + sizeof (f->description)
          || f->id == NULL)
        {
          g_set_error (error, PA_ERROR, PA_ERROR_PLUGIN,
                       "plugin %s: login flow %" G_GSIZE_FORMAT " is malformed", base, i);
          return FALSE;
        }
    }
  return TRUE;
}

/* See pa-plugin-loader.h. */
PaPluginHandle *
pa_plugin_load (const char *path, GError **error)
{
  g_return_val_if_fail (path != NULL, NULL);

  /* An absolute path, so dlopen never searches the library path for it. */
  g_autofree char *abs = g_canonicalize_filename (path, NULL);
  g_autofree char *base = g_path_get_basename (abs);

  if (!g_file_test (abs, G_FILE_TEST_IS_REGULAR))
    {
      g_set_error (error, PA_ERROR, PA_ERROR_PLUGIN, "plugin %s: no such file (%s)", base, abs);
      return NULL;
    }
  /* Not LAZY: an unresolved symbol fails here, not in the middle of a login. */
  GModule *module = g_module_open (abs, G_MODULE_BIND_LOCAL);
  if (module == NULL)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_PLUGIN, "plugin %s cannot be loaded: %s", base,
                   g_module_error ());
      return NULL;
    }
  /* Its constructors have run: it may have started a runtime that dlclose
   * would pull out from under running threads, even if we refuse it. */
  g_module_make_resident (module);

  gpointer sym = NULL;
  if (!g_module_symbol (module, PA_PLUGIN_ENTRY_SYMBOL, &sym) || sym == NULL)
    {
      /* An SDK 1 plugin: its descriptor starts with the same four members,
       * so its version can be named in the refusal. */
      if (g_module_symbol (module, PA_PLUGIN_ENTRY_SYMBOL_V1, &sym) && sym != NULL)
        {
          const DescriptorHead *(*old_entry) (void);
          memcpy (&old_entry, &sym, sizeof old_entry);
          const DescriptorHead *head = old_entry ();
          g_set_error (error, PA_ERROR, PA_ERROR_PLUGIN,
                       "plugin %s was built for plugin SDK %u.%u, which this passerelle no "
                       "longer loads: rebuild it against SDK %d (include/passerelle/plugin.h, "
                       "docs/plugin-guide.md)",
                       base, head != NULL ? head->abi_major : 1, head != NULL ? head->abi_minor : 0,
                       PA_PLUGIN_ABI_MAJOR);
          return NULL;
        }
      g_set_error (error, PA_ERROR, PA_ERROR_PLUGIN, "plugin %s does not export %s", base,
                   PA_PLUGIN_ENTRY_SYMBOL);
      return NULL;
    }
  PaPluginEntry entry;
  memcpy (&entry, &sym, sizeof entry);
  const PaNetwork *desc = entry ();
  if (desc == NULL)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_PLUGIN, "plugin %s returned no network", base);
      return NULL;
    }
  if (!check_descriptor (desc, base, error))
    return NULL;

  PaPluginHandle *h = g_new0 (PaPluginHandle, 1);
  h->module = module;
  h->path = g_steal_pointer (&abs);
  h->desc = desc;
  g_debug ("loaded plugin %s (%s) from %s", desc->name,
           desc->version != NULL ? desc->version : "no version", h->path);
  return h;
}

/* See pa-plugin-loader.h. */
const PaNetwork *
pa_plugin_handle_network (PaPluginHandle *h)
{
  g_return_val_if_fail (h != NULL, NULL);
  return h->desc;
}

/* See pa-plugin-loader.h. */
const char *
pa_plugin_handle_name (PaPluginHandle *h)
{
  g_return_val_if_fail (h != NULL, NULL);
  return h->desc->name;
}

/* See pa-plugin-loader.h. */
const char *
pa_plugin_handle_display_name (PaPluginHandle *h)
{
  g_return_val_if_fail (h != NULL, NULL);
  return h->desc->display_name != NULL ? h->desc->display_name : h->desc->name;
}

/* See pa-plugin-loader.h. */
const char *
pa_plugin_handle_path (PaPluginHandle *h)
{
  g_return_val_if_fail (h != NULL, NULL);
  return h->path;
}

/* See pa-plugin-loader.h. */
void
pa_plugin_handle_free (PaPluginHandle *h)
{
  if (h == NULL)
    return;
  /* The GModule wrapper is deliberately leaked with the resident module. */
  g_free (h->path);
  g_free (h);
}
