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
  GHashTable *requests; /* "room\x1fsender_key\x1fsession" → user asked (our key requests) */
  GHashTable *repairs;  /* curve25519 → gint64 * time of the last Olm session repair */
  GHashTable *withheld; /* "session\x1fuser\x1fdevice" told m.room_key.withheld */
  /* room → the share state it was last completed for (session, device
   * epoch, members): an encrypt that finds the same skips the per-device
   * walk, which otherwise costs every message O(member devices). */
  GHashTable *shared_ok;
  guint64 device_epoch; /* bumped by every device list or blocking change */
  GHashTable *blocked;  /* users the bridge's policy blocks (set) */
  guint kick_id;     /* idle source starting the head op */
};

PaCryptoLife *pa_crypto_life_ref (PaCryptoLife *life);
void pa_crypto_life_unref (PaCryptoLife *life);

/* pa-crypto.c: the room key content encrypted per device (encrypt) or
 * only the devices that still need an Olm session (!encrypt).  With
 * encrypt, *withheld (when asked for) gets the /sendToDevice messages of
 * m.room_key.withheld for the devices refused (unverified: m.unverified;
 * no one-time key: m.no_olm), or NULL. */
json_t *pa_crypto_room_key_build (PaCrypto *crypto, const char *room_id,
                                  const char *const *user_ids, gboolean encrypt,
                                  json_t **need_session, json_t **withheld, GError **error);
/* pa-crypto.c: the room's outbound session id, rotated first when due
 * (transfer full), or NULL with an error. */
char *pa_crypto_current_session_id (PaCrypto *crypto, const char *room_id, GError **error);
/* pa-crypto.c: withheld messages ({user: {device: content}}) for
 * {user: {device: code}}; and recording that they were sent (the devices
 * are then skipped for the rest of that session). */
json_t *pa_crypto_withheld_messages (PaCrypto *crypto, const char *room_id,
                                     const char *session_id, json_t *codes);
void pa_crypto_withheld_sent (PaCrypto *crypto, json_t *messages);

/* pa-crypto-keys.c: stores an m.forwarded_room_key (decrypted payload)
 * if it answers one of our requests. */
gboolean pa_crypto_accept_forwarded_key (PaCrypto *crypto, json_t *payload, GError **error);
/* pa-crypto-keys.c: an Olm message from `sender_key` did not decrypt. */
void pa_crypto_repair_olm (PaCrypto *crypto, const char *sender, const char *sender_key);
/* pa-crypto.c: stores the inbound Megolm session of `session_key` (an
 * m.room_key session key, or an `exported` one from a forwarded key) after
 * checking it is `session_id`, unless a better copy (lower first index)
 * is already there. */
gboolean pa_crypto_keep_inbound (PaCrypto *crypto, const char *room_id, const char *sender_key,
                                 const char *sender_ed25519, const char *session_id,
                                 const char *session_key, gboolean exported, GError **error);
/* pa-crypto-ops.c: drop everything queued without calling back. */
void pa_crypto_ops_clear (PaCrypto *crypto);

G_END_DECLS

#endif
