/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Plugin discovery and lookup. */
#ifndef PA_PLUGINS_H
#define PA_PLUGINS_H

#include "pa-bridge-object.h"

G_BEGIN_DECLS

/* Describe every .so of plugin_dir (by a worker) into b->plugins. */
void pa_plugins_discover (PaBridge *b);

/* The plugin of that name, or NULL. */
PaPluginInfo *pa_plugin_info (PaBridge *b, const char *name);

G_END_DECLS

#endif
