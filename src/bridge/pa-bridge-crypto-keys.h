/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* End-to-bridge encryption, keys: to-device messages of a transaction,
 * room key requests both ways, events waiting for a late key. */
#ifndef PA_BRIDGE_CRYPTO_KEYS_H
#define PA_BRIDGE_CRYPTO_KEYS_H

#include "pa-bridge-object.h"
#include "pa-bridge-crypto-device.h"

G_BEGIN_DECLS

/* To-device events, device lists and key counts of a new transaction;
 * `handle_late` takes the events decrypted with keys that came late. */
void pa_bridge_crypto_txn (PaBridge *b, PaTxn *txn, PaEventFunc handle_late);

/* Keep an undecryptable event for a key that may still come. */
void pa_bridge_crypto_keep_for_late_key (PaBridgeCrypto *bc, json_t *ev);

/* Ask the sender's devices for the session of `ev` (once per session), or
 * with `again` once more for a session already asked for. */
void pa_bridge_crypto_request_key (PaBridgeCrypto *bc, json_t *ev, gboolean again);

/* Frees the key requests being checked (at stop). */
void pa_bridge_crypto_keys_clear (PaBridgeCrypto *bc);

G_END_DECLS

#endif
