/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * lb-plugin.h — the plugin-wide state network->init fills: the host table
 * and the configuration (see lb-plugin.c).
 */
#ifndef LB_PLUGIN_H
#define LB_PLUGIN_H

#include "lb-types.h"

/* What network->init gave, and the configuration read then. */
typedef struct
{
  PaHost *host;
  const PaHostApi *api;
  char *default_server; /* config "server": the login form's default */
  guint backoff_max_s;  /* config "reconnect_max_s" */
} LbPlugin;

extern LbPlugin lb_plugin;

/* network->init: checks the host table, reads and checks the configuration. */
bool lb_init (PaHost *host, const PaHostApi *api, char **error);
/* network->shutdown: forgets what init kept. */
void lb_shutdown (PaHost *host);

#endif
