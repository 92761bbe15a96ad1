/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * purple-plugin.h — the purple plugin's one exported symbol, declared for
 * its unit tests (which link the plugin's code directly).
 */
#ifndef PASSERELLE_PURPLE_PLUGIN_H
#define PASSERELLE_PURPLE_PLUGIN_H

#include "passerelle/plugin.h"

/* The plugin descriptor: static, valid for the life of the process. */
const PaPluginDescriptor *pa_plugin_get_descriptor (void);

#endif /* PASSERELLE_PURPLE_PLUGIN_H */
