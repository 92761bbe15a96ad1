/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Plugin loader: opens a plugin shared object with GModule, finds its
 * network descriptor and checks it against the ABI this passerelle speaks.
 *
 * A loaded module is never unloaded (g_module_make_resident): Go runtimes,
 * libpurple and TDLib do not survive dlclose.  Freeing a handle releases
 * only the loader's bookkeeping. */
#ifndef PA_PLUGIN_LOADER_H
#define PA_PLUGIN_LOADER_H

#include <glib.h>

#include <passerelle/plugin.h>

G_BEGIN_DECLS

typedef struct _PaPluginHandle PaPluginHandle;

/* Load the plugin at `path` and validate its network descriptor: magic,
 * abi_major == PA_PLUGIN_ABI_MAJOR (an SDK 1 plugin is told to rebuild),
 * abi_minor <= PA_PLUGIN_ABI_MINOR, struct_size at least the ABI 2.0 size,
 * name matching [a-z0-9]+ (at most 32 chars), well-formed login flows and
 * config keys, login_new and login_ops together.  On failure returns NULL with a PA_ERROR_PLUGIN
 * error whose message names the file and the reason. */
PaPluginHandle *pa_plugin_load (const char *path, GError **error);

/* The validated network (owned by the plugin, valid for the process's
 * life). */
const PaNetwork *pa_plugin_handle_network (PaPluginHandle *h);
/* descriptor->name */
const char *pa_plugin_handle_name (PaPluginHandle *h);
/* display_name, falling back to name when the plugin gave none. */
const char *pa_plugin_handle_display_name (PaPluginHandle *h);
/* The absolute path the plugin was loaded from. */
const char *pa_plugin_handle_path (PaPluginHandle *h);
/* Frees the handle; the module itself stays loaded. */
void pa_plugin_handle_free (PaPluginHandle *h);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PaPluginHandle, pa_plugin_handle_free)

G_END_DECLS

#endif
