/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The bridge: portals, ghosts, message map, commands, permissions.  It
 * owns every Matrix concept and drives the store, the homeserver client,
 * the appservice server and the plugin workers. */
#ifndef PA_BRIDGE_H
#define PA_BRIDGE_H

#include "config/pa-config.h"

G_BEGIN_DECLS

typedef struct _PaBridge PaBridge;

/* Opens the store and prepares everything; does not touch the network. */
PaBridge *pa_bridge_new (PaConfig *config, const char *self_exe, GError **error);

/* Start-up: listen for the homeserver, check /versions and whoami, register
 * the bot, ping the appservice (flushes Synapse's retry queue), start the
 * saved logins and the queues.  Runs the default main loop until
 * pa_bridge_quit (or SIGINT/SIGTERM).  Returns FALSE with error when
 * start-up fails. */
gboolean pa_bridge_run (PaBridge *bridge, GError **error);
void pa_bridge_quit (PaBridge *bridge);
void pa_bridge_free (PaBridge *bridge);

G_END_DECLS

#endif
