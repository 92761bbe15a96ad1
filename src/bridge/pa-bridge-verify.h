/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* An agent verifies the bot's device the way they verify a person: "Verify
 * user" in their management room (an in-room m.key.verification.request,
 * then SAS).  The bot posts the emoji and numbers it computed for the agent
 * to compare, and confirms on its side at once: it cannot see the agent's
 * screen, the agent's confirmation is what counts. */
#ifndef PA_BRIDGE_VERIFY_H
#define PA_BRIDGE_VERIFY_H

#include "pa-bridge-object.h"

G_BEGIN_DECLS

/* Verifications time out this long after the request (spec: 10 minutes). */
#define PA_VERIFY_TIMEOUT_MS (10 * 60 * 1000)
/* Verifications kept at once in one room; a newer request ends the oldest. */
#define PA_VERIFY_MAX_PER_ROOM 3

/* Handles `ev` when it belongs to a key verification (an m.room.message
 * of msgtype m.key.verification.request, or an m.key.verification.*
 * event): TRUE when it did (whether it acted on it or ignored it: only the
 * owner of a management room can verify the bot there), FALSE for any
 * other event. */
gboolean pa_bridge_verify_event (PaBridge *b, json_t *ev);

/* Ends every verification in progress, silently (the bridge stops). */
void pa_bridge_verify_stop (PaBridge *b);

G_END_DECLS

#endif
