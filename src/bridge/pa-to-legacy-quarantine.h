/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Matrix → legacy: events the bridge could not handle, kept aside and
 * answered once in their room, so that they never hold up the others. */
#ifndef PA_TO_LEGACY_QUARANTINE_H
#define PA_TO_LEGACY_QUARANTINE_H

#include "pa-bridge-object.h"

G_BEGIN_DECLS

/* Appends to `events` (and `texts`, their serialisations) one marker per
 * record of `rejected` (PaTxn.rejected), so that its answer takes its turn
 * in the inbound queue; mixes the records into the transaction's digest. */
void pa_quarantine_markers (json_t *rejected, json_t *events, GPtrArray *texts, GChecksum *sum);

/* Stores the records of `rejected` under transaction `txn_key`, inside the
 * caller's store transaction. */
gboolean pa_quarantine_keep (PaBridge *b, const char *txn_key, json_t *rejected, GError **error);

/* Whether an inbound event is one of our markers. */
gboolean pa_quarantine_is_marker (json_t *ev);

/* A marker's turn: "⚠ Could not bridge this message: <reason>." as a reply
 * to the event, once, when it was sent by a real, not blocked user, in a
 * portal or a management room, and was a message, reaction or redaction. */
void pa_quarantine_tell (PaBridge *b, json_t *marker);

G_END_DECLS

#endif
