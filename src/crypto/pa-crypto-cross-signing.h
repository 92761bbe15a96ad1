/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Cross-signing of one PaCrypto identity (a Matrix user and its device):
 * its master, self-signing and user-signing keys, kept in the crypto
 * store under the identity's user id, sealed with the pickle key; the
 * bodies that publish them and sign the identity's own device; and the
 * operation that brings the homeserver in line (docs/encryption.md,
 * "Cross-signing").  Nothing here is specific to the bot: every identity
 * of the store gets the same. */
#ifndef PA_CRYPTO_CROSS_SIGNING_H
#define PA_CRYPTO_CROSS_SIGNING_H

#include "pa-crypto.h"

G_BEGIN_DECLS

/* Loads the identity's cross-signing keys from the store, or makes them
 * (random seeds) and saves them.  Idempotent.  Fails, leaving the
 * identity without keys, when the stored seeds do not open with this
 * pickle key. */
gboolean pa_crypto_cross_signing_ensure (PaCrypto *crypto, GError **error);

/* The master key's public half (unpadded base64), NULL before
 * pa_crypto_cross_signing_ensure(). */
const char *pa_crypto_master_key (PaCrypto *crypto);
/* The self-signing key's public half, likewise. */
const char *pa_crypto_self_signing_key (PaCrypto *crypto);

/* The /keys/device_signing/upload body (transfer full): master key
 * (signed by the identity's device), self-signing and user-signing keys
 * (signed by the master key). */
json_t *pa_crypto_cross_signing_upload_body (PaCrypto *crypto, GError **error);

/* The /keys/signatures/upload body signing the identity's own device keys
 * with its self-signing key (transfer full). */
json_t *pa_crypto_cross_signing_device_body (PaCrypto *crypto, GError **error);

/* The /keys/signatures/upload body signing `user_id`'s master key (as
 * /keys/query gives it) with our user-signing key, after that user was
 * verified (transfer full); NULL when the key is not `user_id`'s master
 * key or our keys are not loaded. */
json_t *pa_crypto_sign_master_key (PaCrypto *crypto, const char *user_id, json_t *master_key);

/* What the homeserver holds for the identity, from a /keys/query answer
 * about its own user. */
typedef enum
{
  PA_CROSS_SIGNING_SERVER_NONE,  /* no master key: first upload */
  PA_CROSS_SIGNING_SERVER_SAME,  /* our three keys */
  PA_CROSS_SIGNING_SERVER_OTHER, /* other keys: ours replace them */
} PaCrossSigningServer;

/* Compares the /keys/query answer `answer` with our keys: *server says
 * what the homeserver holds, *device_signed whether the identity's device
 * carries a valid signature by our self-signing key. */
gboolean pa_crypto_cross_signing_compare (PaCrypto *crypto, json_t *answer,
                                          PaCrossSigningServer *server, gboolean *device_signed,
                                          GError **error);

/* Makes the homeserver hold our keys and our device's signature, through
 * the operation queue (its steps are in pa-crypto-ops.c): ensures the
 * keys, queries our own user, uploads the keys when the server has none
 * or others (a reset, logged as a warning), then the device signature
 * when missing.  result: {"master": pub, "uploaded": bool (keys uploaded
 * now), "reset": bool (they replaced others), "device_signed": bool (the
 * device signature uploaded now)}. */
void pa_crypto_cross_sign (PaCrypto *crypto, PaCryptoCallback cb, gpointer user_data);

/* Frees the keys (pa_crypto_free()). */
void pa_crypto_cross_signing_dispose (PaCrypto *crypto);

G_END_DECLS

#endif
