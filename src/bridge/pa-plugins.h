/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Plugin discovery and lookup. */
#ifndef PA_PLUGINS_H
#define PA_PLUGINS_H

#include "pa-bridge-object.h"

G_BEGIN_DECLS

/* Describe every .so of plugin_dir (by a worker) into b->plugins, and
 * check config.yaml's plugins: section against the keys each declares
 * (PaPluginInfo.settings gets the checked values).  FALSE with a config
 * error naming file and line when a section is wrong or names a plugin
 * that is not installed. */
gboolean pa_plugins_discover (PaBridge *b, GError **error);

/* The plugin of that name, or NULL. */
PaPluginInfo *pa_plugin_info (PaBridge *b, const char *name);

G_END_DECLS

#endif
