/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Internal to src/crypto: the Olm session floor (pa-crypto-olm-sessions.c). */
#ifndef PA_CRYPTO_OLM_SESSIONS_H
#define PA_CRYPTO_OLM_SESSIONS_H

#include "pa-crypto-private.h"

G_BEGIN_DECLS

/* pa_crypto_olm_encrypt() for a device already looked up (and checked
 * usable by the caller): the to-device m.room.encrypted content (transfer
 * full), or NULL (PA_ERROR_NOT_FOUND when there is no Olm session). */
json_t *pa_crypto_olm_encrypt_to (PaCrypto *crypto, PaCryptoDevice *d, const char *type,
                                  json_t *content, GError **error);

G_END_DECLS

#endif
