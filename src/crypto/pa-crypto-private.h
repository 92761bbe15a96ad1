/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The PaCrypto object's fields, shared by the files of src/crypto that
 * implement pa-crypto.h; not for other areas.  Each field says which file
 * owns it (writes it); the functions are declared in one internal header
 * per file, so a file includes only the headers of the floors below it
 * (docs/encryption.md, "Code layout"). */
#ifndef PA_CRYPTO_PRIVATE_H
#define PA_CRYPTO_PRIVATE_H

#include "pa-common.h"
#include "pa-crypto-store.h"
#include "pa-crypto.h"
#include "pa-olm.h"
#include "pa-olm-signing.h"

G_BEGIN_DECLS

/* Owned by pa-crypto-ops.c: outlives the PaCrypto while requests are in
 * flight. */
typedef struct _PaCryptoLife PaCryptoLife;

struct _PaCrypto
{
  /* pa-crypto.c and pa-crypto-account.c (set once when opened) */
  PaMatrix *mx;
  char *user_id;
  char *device_id;
  PaCryptoStore *store; /* owned by the primary, borrowed by its ghosts */
  PaCrypto *primary;    /* NULL for the primary identity (the bot's device) */
  gboolean published;   /* the device, its keys and cross-signing are on the server */
  guint otk_target;     /* one-time keys kept on the server */
  guint8 *pickle_key;
  gsize pickle_key_len;
  PaOlmAccount *account;
  char *curve25519;
  char *ed25519;
  gboolean keys_uploaded;
  /* pa-crypto-ops.c */
  PaCryptoLife *life;
  GQueue ops;    /* queued CryptoOp *, head is running */
  guint kick_id; /* idle source starting the head op */
  /* room → the share state it was last completed for (session, device
   * epoch, members): an encrypt that finds the same skips the per-device
   * walk, which otherwise costs every message O(member devices).  Filled
   * by pa-crypto-ops.c, emptied for a room by pa-crypto-outbound.c. */
  GHashTable *shared_ok;
  /* pa-crypto-requests.c: "room\x1fsender_key\x1fsession" → user asked */
  GHashTable *requests;
  /* pa-crypto-repair.c: curve25519 → gint64 * time of the last repair */
  GHashTable *repairs;
  /* pa-crypto-outbound.c */
  GHashTable *withheld; /* "session\x1fuser\x1fdevice" told m.room_key.withheld */
  GHashTable *blocked;  /* users the bridge's policy blocks (set) */
  /* pa-crypto-cross-signing.c: this identity's cross-signing keys, NULL
   * until pa_crypto_cross_signing_ensure() loaded or made them; freed by
   * pa_crypto_cross_signing_dispose(). */
  PaOlmSigning *master_key;
  PaOlmSigning *self_signing_key;
  PaOlmSigning *user_signing_key;
};

/* Small JSON helpers every file uses. */
static inline const char *
pa_crypto_jstr (json_t *obj, const char *key)
{
  return json_string_value (json_object_get (obj, key));
}

static inline gboolean
pa_crypto_bad_input (GError **error, const char *what)
{
  g_set_error (error, PA_ERROR, PA_ERROR_JSON, "malformed %s", what);
  return FALSE;
}

static inline void *
pa_crypto_bad_json (GError **error, const char *what)
{
  pa_crypto_bad_input (error, what);
  return NULL;
}

G_END_DECLS

#endif
