/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * purple-plugin.h — the purple plugin's one exported symbol, declared for
 * its unit tests (which link the plugin's code directly).
 */
#ifndef PASSERELLE_PURPLE_PLUGIN_H
#define PASSERELLE_PURPLE_PLUGIN_H

#include "passerelle/plugin.h"

/* The network table: static, valid for the life of the process. */
const PaNetwork *pa_plugin_get_network (void);

#endif /* PASSERELLE_PURPLE_PLUGIN_H */
