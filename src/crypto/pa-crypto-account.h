/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Internal to src/crypto: the account floor (pa-crypto-account.c), which
 * every other PaCrypto file may call.  Its public functions (signing, key
 * upload bodies) are declared in pa-crypto.h. */
#ifndef PA_CRYPTO_ACCOUNT_H
#define PA_CRYPTO_ACCOUNT_H

#include "pa-crypto-private.h"

G_BEGIN_DECLS

/* Opens the store at `db_path` into crypto->store and loads, or creates
 * and saves, the Olm account of crypto->user_id/device_id (which, with
 * the pickle key, must be set).  Fails if the store belongs to another
 * user/device or the pickle key is wrong. */
gboolean pa_crypto_account_open (PaCrypto *crypto, const char *db_path, GError **error);
/* The same with crypto->store already open (a ghost identity sharing its
 * primary's store): loads the identity of crypto->user_id, or creates it
 * under crypto->device_id. */
gboolean pa_crypto_account_load (PaCrypto *crypto, GError **error);
/* Pickles and saves the account. */
gboolean pa_crypto_account_save (PaCrypto *crypto, GError **error);
/* Ends a store transaction already begun: commits when `ok`, else rolls
 * back and returns FALSE (the error is the caller's). */
gboolean pa_crypto_tx_end (PaCrypto *crypto, gboolean ok, GError **error);

G_END_DECLS

#endif
