/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* End-to-bridge encryption, ghosts' own devices: which identity (the
 * bot's device or a ghost's) encrypts for a sender, created and published
 * on first use; routing of to-device traffic and key counts to them. */
#ifndef PA_BRIDGE_CRYPTO_GHOSTS_H
#define PA_BRIDGE_CRYPTO_GHOSTS_H

#include "pa-bridge-crypto-device.h"

G_BEGIN_DECLS

/* The identity for a sender, or an error (transient: try again later).
 * `crypto` is borrowed (lives as long as the bridge's crypto state). */
typedef void (*PaBridgeCryptoIdentityFunc) (PaBridgeCrypto *bc, PaCrypto *crypto,
                                            const GError *error, gpointer data);

/* After pa_bridge_crypto_start() (when it made b->crypto): whether ghosts
 * get devices (encryption.ghost_devices, and a homeserver creating devices
 * for the appservice's users, MSC4190: known from how the bot's own device
 * was made, else asked), logged in one line. */
void pa_bridge_crypto_ghosts_start (PaBridge *b);
/* Frees every ghost identity (before the bot's PaCrypto); waiting
 * callbacks are dropped, not called. */
void pa_bridge_crypto_ghosts_free (PaBridgeCrypto *bc);

/* Whether ghosts have devices of their own (probe and config). */
gboolean pa_bridge_crypto_ghost_devices (PaBridgeCrypto *bc);

/* The identity `sender` encrypts with: its own published device when
 * ghosts have devices (created, keyed and cross-signed first: `cb` may be
 * called later), else the bot's.  `cb` may be called before this returns. */
void pa_bridge_crypto_identity_for (PaBridgeCrypto *bc, const char *sender,
                                    PaBridgeCryptoIdentityFunc cb, gpointer data);
/* Drops the pending callbacks carrying `data` (its request is gone). */
void pa_bridge_crypto_forget_waiter (PaBridgeCrypto *bc, gpointer data);

/* A ghost's saved identity (opened from the store if needed), when it has
 * one and, if `device_id` is not NULL, that is its device; else NULL. */
PaCrypto *pa_bridge_crypto_ghost_identity (PaBridgeCrypto *bc, const char *mxid,
                                           const char *device_id);

/* MSC3202 one-time key counts of a transaction: ghosts' devices running
 * low are topped up. */
void pa_bridge_crypto_ghosts_otk_counts (PaBridgeCrypto *bc, json_t *otk_counts);

G_END_DECLS

#endif
