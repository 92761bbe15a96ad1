/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The in-memory state the bridge keeps per portal room (members known
 * joined, ghosts raised to post, the line of power-level changes): made on
 * first use, freed with the bridge.  Below the portal code and the
 * room-state code, which both read it. */
#ifndef PA_ROOM_CACHE_H
#define PA_ROOM_CACHE_H

#include "pa-bridge-object.h"

G_BEGIN_DECLS

/* The cached state of a portal room (created on first use). */
PaRoomCache *pa_portal_cache (PaBridge *b, const char *room_id);

/* Frees a room's cache; its waiting power-level changes must have been
 * taken first (pa_power_edits_take). */
void pa_room_cache_free (gpointer cache);

G_END_DECLS

#endif
