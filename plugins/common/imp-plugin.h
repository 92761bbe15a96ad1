/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * imp-plugin.h — the SDK 2 glue every export importer plugin shares: the
 * host table kept from network->init, its checks, and emit() with the FILES
 * rule applied (a media file the host refuses stays ours, so it is deleted).
 *
 * Why shared: the whatsapp and telegram importers have the same lifecycle
 * (init, one import_file, shutdown, in a worker of their own) and must
 * follow the same ownership rules; one copy keeps them from drifting.
 */
#ifndef IMP_PLUGIN_H
#define IMP_PLUGIN_H

#include <glib.h>

#include "passerelle/plugin.h"

G_BEGIN_DECLS

/* network->init for an importer: checks the host table (ABI major, size)
 * and keeps it for import_file.  FALSE with a malloc'd *error otherwise. */
bool imp_plugin_init (PaHost *host, const PaHostApi *api, char **error);
/* network->shutdown: forgets the table. */
void imp_plugin_shutdown (PaHost *host);
/* The table init kept, or NULL outside init…shutdown. */
const PaHostApi *imp_plugin_api (void);

/* api->emit, then, when the host refused the event, deletes its
 * content->media_path: ownership passes to the host only on success (FILES
 * in plugin.h).  Returns emit's sequence number (0: refused). */
guint64 imp_emit (PaHost *host, const PaHostApi *api, const PaEvent *event);

G_END_DECLS

#endif
