/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Internal to src/crypto: the inbound Megolm floor (pa-crypto-inbound.c). */
#ifndef PA_CRYPTO_INBOUND_H
#define PA_CRYPTO_INBOUND_H

#include "pa-crypto-private.h"

G_BEGIN_DECLS

/* Saves inbound session `g` of `room_id` from `sender_key` (pickled). */
gboolean pa_crypto_inbound_save (PaCrypto *crypto, const char *room_id, const char *sender_key,
                                 const char *sender_ed25519, PaOlmInboundGroup *g, GError **error);
/* Stores the inbound Megolm session of `session_key` (an m.room_key
 * session key, or an `exported` one from a forwarded key) after checking
 * it is `session_id`, unless a better copy (lower first index) is already
 * there. */
gboolean pa_crypto_keep_inbound (PaCrypto *crypto, const char *room_id, const char *sender_key,
                                 const char *sender_ed25519, const char *session_id,
                                 const char *session_key, gboolean exported, GError **error);

G_END_DECLS

#endif
