/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Matrix → legacy: the inbound queue of the homeserver's transactions. */
#ifndef PA_TO_LEGACY_QUEUE_H
#define PA_TO_LEGACY_QUEUE_H

#include "pa-bridge-object.h"

G_BEGIN_DECLS

/* The appservice's transaction handler: persist, then queue the events. */
gboolean pa_to_legacy_txn (const char *txn_id, PaTxn *txn, gpointer user_data, GError **error);

/* Handle the queued events soon (idle), one at a time. */
void pa_to_legacy_schedule (PaBridge *b);

G_END_DECLS

#endif
