/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The durable outbound queue's dispatcher. */
#ifndef PA_OUTBOUND_H
#define PA_OUTBOUND_H

#include "pa-bridge-object.h"

G_BEGIN_DECLS

/* Frees a request in flight (the bridge's table of flights owns them). */
void pa_outbound_flight_free (gpointer data);

/* Call `func` when an item queued with on_done {"what": what} is answered. */
void pa_outbound_on_sent (PaBridge *b, const char *what, PaSentFunc func);

/* Send what is ready, soon (idle). */
void pa_outbound_kick (PaBridge *b);

/* Items still queued for this room (ordering key). */
gboolean pa_outbound_room_pending (PaBridge *b, const char *room_id);

G_END_DECLS

#endif
