/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Shared between pa-crypto.c (state, sync layer) and pa-crypto-ops.c
 * (the queued asynchronous operations); not for other areas. */
#ifndef PA_CRYPTO_PRIVATE_H
#define PA_CRYPTO_PRIVATE_H

#include "pa-crypto.h"
#include "pa-crypto-store.h"
#include "pa-olm.h"

G_BEGIN_DECLS

/* Outlives the PaCrypto when requests are still in flight: their
 * callbacks find crypto == NULL and end silently. */
typedef struct {
  gint refs;
  PaCrypto *crypto;
} PaCryptoLife;

struct _PaCrypto {
  PaMatrix *mx;
  char *user_id;
  char *device_id;
  PaCryptoStore *store;
  guint8 *pickle_key;
  gsize pickle_key_len;
  PaOlmAccount *account;
  char *curve25519;
  char *ed25519;
  gboolean keys_uploaded;
  PaCryptoLife *life;
  GQueue ops;        /* queued CryptoOp *, head is running */
  guint kick_id;     /* idle source starting the head op */
};

PaCryptoLife *pa_crypto_life_ref (PaCryptoLife *life);
void pa_crypto_life_unref (PaCryptoLife *life);

/* pa-crypto.c: the room key content encrypted per device (encrypt) or
 * only the devices that still need an Olm session (!encrypt). */
json_t *pa_crypto_room_key_build (PaCrypto *crypto, const char *room_id,
                                  const char *const *user_ids, gboolean encrypt,
                                  json_t **need_session, GError **error);

/* pa-crypto-ops.c: drop everything queued without calling back. */
void pa_crypto_ops_clear (PaCrypto *crypto);

G_END_DECLS

#endif
