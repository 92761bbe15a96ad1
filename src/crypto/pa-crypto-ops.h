/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Internal to src/crypto: the asynchronous operation queue
 * (pa-crypto-ops.c).  Its operations are declared in pa-crypto.h. */
#ifndef PA_CRYPTO_OPS_H
#define PA_CRYPTO_OPS_H

#include "pa-crypto-private.h"

G_BEGIN_DECLS

/* Sets up the (empty) queue of a new PaCrypto. */
void pa_crypto_ops_init (PaCrypto *crypto);
/* Drops everything queued without calling back; requests in flight end
 * silently when they answer. */
void pa_crypto_ops_dispose (PaCrypto *crypto);

G_END_DECLS

#endif
