/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* End-to-bridge encryption, inbound: to-device messages of a
 * transaction, decryption of room events (the cleartext goes back to the
 * caller), key requests, and the end of the crypto state. */
#ifndef PA_BRIDGE_CRYPTO_RECEIVE_H
#define PA_BRIDGE_CRYPTO_RECEIVE_H

#include "pa-bridge-object.h"

G_BEGIN_DECLS

/* Inbound: TRUE when it took the event over; its cleartext then goes to
 * `decrypted` (with `done`), or `done` is called. */
gboolean pa_bridge_crypto_event (PaBridge *b, json_t *ev, PaEventFunc decrypted,
                                 PaEventDoneFunc done);

/* A portal was just created.  An encrypted DM (created by the contact's
 * ghost) gets the bot too: the agent's client shares its room keys only
 * with the devices of the room's members, and the bot device is the one
 * that decrypts.  Queued on the room, so it happens before any message. */
void pa_bridge_crypto_portal_created (PaBridge *b, const char *room_id, const char *creator,
                                      gboolean encrypted);

/* Frees the crypto state and the bot device client; requests in flight end
 * silently (call before the bridge's PaMatrix is freed). */
void pa_bridge_crypto_stop (PaBridge *b);

G_END_DECLS

#endif
