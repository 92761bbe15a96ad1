/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Internal to src/crypto: Olm session repair (pa-crypto-repair.c). */
#ifndef PA_CRYPTO_REPAIR_H
#define PA_CRYPTO_REPAIR_H

#include "pa-crypto-private.h"

G_BEGIN_DECLS

/* An Olm message from `sender`'s device `sender_key` did not decrypt:
 * queues a new session and an m.dummy (unless done within the hour). */
void pa_crypto_repair_olm (PaCrypto *crypto, const char *sender, const char *sender_key);

G_END_DECLS

#endif
