/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Internal to src/crypto: the device list floor (pa-crypto-devices.c). */
#ifndef PA_CRYPTO_DEVICES_H
#define PA_CRYPTO_DEVICES_H

#include "pa-crypto-private.h"

G_BEGIN_DECLS

/* A cached device we may encrypt to (known, not deleted, verified), or
 * NULL with an error (PA_ERROR_NOT_FOUND when there is none). */
PaCryptoDevice *pa_crypto_usable_device (PaCrypto *crypto, const char *user_id,
                                         const char *device_id, GError **error);

G_END_DECLS

#endif
