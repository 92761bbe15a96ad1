/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Internal to src/crypto: the key request floor (pa-crypto-requests.c). */
#ifndef PA_CRYPTO_REQUESTS_H
#define PA_CRYPTO_REQUESTS_H

#include "pa-crypto-private.h"

G_BEGIN_DECLS

/* Stores an m.forwarded_room_key (decrypted payload) if it answers one of
 * our requests. */
gboolean pa_crypto_accept_forwarded_key (PaCrypto *crypto, json_t *payload, GError **error);

G_END_DECLS

#endif
