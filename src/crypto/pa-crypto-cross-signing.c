/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Cross-signing keys of a PaCrypto identity (see pa-crypto-cross-signing.h).
 * The three keys are ed25519 keys made from 32-byte seeds; the seeds are
 * what is kept, sealed with AES-256-GCM under a key derived from the
 * pickle key (the same secret that guards the Olm pickles), bound to the
 * identity's user id.  Above the account floor (it signs with the
 * device), below the operation queue, which runs pa_crypto_cross_sign(). */
#define G_LOG_DOMAIN "passerelle-crypto"

#include "pa-crypto-cross-signing.h"

#include <string.h>
#include <openssl/evp.h>

#include "pa-canonical-json.h"
#include "pa-crypto-private.h"

#define SEEDS_LEN (3 * PA_OLM_SIGNING_SEED_LEN)
#define NONCE_LEN 12
#define TAG_LEN 16
#define SEALED_LEN (NONCE_LEN + SEEDS_LEN + TAG_LEN)

void
pa_crypto_cross_signing_dispose (PaCrypto *crypto)
{
  g_clear_pointer (&crypto->master_key, pa_olm_signing_free);
  g_clear_pointer (&crypto->self_signing_key, pa_olm_signing_free);
  g_clear_pointer (&crypto->user_signing_key, pa_olm_signing_free);
}

const char *
pa_crypto_master_key (PaCrypto *crypto)
{
  return crypto->master_key != NULL ? pa_olm_signing_public_key (crypto->master_key) : NULL;
}

const char *
pa_crypto_self_signing_key (PaCrypto *crypto)
{
  return crypto->self_signing_key != NULL ? pa_olm_signing_public_key (crypto->self_signing_key)
                                          : NULL;
}

/* ------------------------------------------------------------ sealing */

/* The sealing key: HMAC-SHA-256 of a label under the pickle key, so the
 * pickle key itself is used for one purpose only. */
static void
sealing_key (PaCrypto *crypto, guint8 out[32])
{
  static const char label[] = "passerelle cross-signing seeds";
  g_autoptr (GHmac) mac
      = g_hmac_new (G_CHECKSUM_SHA256, crypto->pickle_key, crypto->pickle_key_len);
  gsize len = 32;

  g_hmac_update (mac, (const guchar *) label, sizeof label - 1);
  g_hmac_get_digest (mac, out, &len);
}

/* AES-256-GCM of `seeds` (nonce ‖ ciphertext ‖ tag, base64), the user id
 * as associated data: a row copied to another identity does not open. */
static char *
seal (PaCrypto *crypto, const guint8 seeds[SEEDS_LEN], GError **error)
{
  guint8 key[32], out[SEALED_LEN];
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new ();
  int n = 0, fin = 0;
  gboolean ok;

  if (!pa_olm_random (out, NONCE_LEN, error))
    {
      EVP_CIPHER_CTX_free (ctx);
      return NULL;
    }
  sealing_key (crypto, key);
  ok = ctx != NULL && EVP_EncryptInit_ex (ctx, EVP_aes_256_gcm (), NULL, NULL, NULL) == 1
       && EVP_CIPHER_CTX_ctrl (ctx, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) == 1
       && EVP_EncryptInit_ex (ctx, NULL, NULL, key, out) == 1
       && EVP_EncryptUpdate (ctx, NULL, &n, (const guint8 *) crypto->user_id,
                             (int) strlen (crypto->user_id))
              == 1
       && EVP_EncryptUpdate (ctx, out + NONCE_LEN, &n, seeds, SEEDS_LEN) == 1 && n == SEEDS_LEN
       && EVP_EncryptFinal_ex (ctx, out + NONCE_LEN + n, &fin) == 1 && fin == 0
       && EVP_CIPHER_CTX_ctrl (ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, out + NONCE_LEN + SEEDS_LEN)
              == 1;
  EVP_CIPHER_CTX_free (ctx);
  explicit_bzero (key, sizeof key);
  if (!ok)
    {
      g_set_error_literal (error, PA_ERROR, PA_ERROR_FAILED, "sealing the cross-signing keys");
      return NULL;
    }
  return g_base64_encode (out, sizeof out);
}

static gboolean
unseal (PaCrypto *crypto, const char *sealed, guint8 seeds[SEEDS_LEN], GError **error)
{
  g_autofree guint8 *in = NULL;
  gsize in_len = 0;
  guint8 key[32];
  EVP_CIPHER_CTX *ctx;
  int n = 0, fin = 0;
  gboolean ok;

  in = g_base64_decode (sealed, &in_len);
  if (in_len != SEALED_LEN)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_STORE,
                   "the sealed cross-signing keys of %s are "
                   "damaged",
                   crypto->user_id);
      return FALSE;
    }
  ctx = EVP_CIPHER_CTX_new ();
  sealing_key (crypto, key);
  ok = ctx != NULL && EVP_DecryptInit_ex (ctx, EVP_aes_256_gcm (), NULL, NULL, NULL) == 1
       && EVP_CIPHER_CTX_ctrl (ctx, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) == 1
       && EVP_DecryptInit_ex (ctx, NULL, NULL, key, in) == 1
       && EVP_DecryptUpdate (ctx, NULL, &n, (const guint8 *) crypto->user_id,
                             (int) strlen (crypto->user_id))
              == 1
       && EVP_DecryptUpdate (ctx, seeds, &n, in + NONCE_LEN, SEEDS_LEN) == 1 && n == SEEDS_LEN
       && EVP_CIPHER_CTX_ctrl (ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN, in + NONCE_LEN + SEEDS_LEN) == 1
       && EVP_DecryptFinal_ex (ctx, seeds + n, &fin) == 1;
  EVP_CIPHER_CTX_free (ctx);
  explicit_bzero (key, sizeof key);
  if (!ok)
    {
      explicit_bzero (seeds, SEEDS_LEN);
      g_set_error (error, PA_ERROR, PA_ERROR_PERMISSION,
                   "the cross-signing keys of %s do not open (wrong pickle key?)", crypto->user_id);
      return FALSE;
    }
  return TRUE;
}

/* ------------------------------------------------------------- ensure */

static gboolean
keys_from_seeds (PaCrypto *crypto, const guint8 seeds[SEEDS_LEN], GError **error)
{
  g_autoptr (PaOlmSigning) master = NULL, self_signing = NULL, user_signing = NULL;

  master = pa_olm_signing_new (seeds, PA_OLM_SIGNING_SEED_LEN, error);
  if (master != NULL)
    self_signing
        = pa_olm_signing_new (seeds + PA_OLM_SIGNING_SEED_LEN, PA_OLM_SIGNING_SEED_LEN, error);
  if (self_signing != NULL)
    user_signing
        = pa_olm_signing_new (seeds + 2 * PA_OLM_SIGNING_SEED_LEN, PA_OLM_SIGNING_SEED_LEN, error);
  if (user_signing == NULL)
    return FALSE;
  crypto->master_key = g_steal_pointer (&master);
  crypto->self_signing_key = g_steal_pointer (&self_signing);
  crypto->user_signing_key = g_steal_pointer (&user_signing);
  return TRUE;
}

static gboolean
load_keys (PaCrypto *crypto, const PaCryptoCrossSigningRow *row, GError **error)
{
  guint8 seeds[SEEDS_LEN];
  gboolean ok
      = unseal (crypto, row->sealed, seeds, error) && keys_from_seeds (crypto, seeds, error);

  explicit_bzero (seeds, sizeof seeds);
  if (!ok)
    return FALSE;
  if (g_strcmp0 (row->master, pa_crypto_master_key (crypto)) != 0
      || g_strcmp0 (row->self_signing, pa_olm_signing_public_key (crypto->self_signing_key)) != 0
      || g_strcmp0 (row->user_signing, pa_olm_signing_public_key (crypto->user_signing_key)) != 0)
    {
      pa_crypto_cross_signing_dispose (crypto);
      g_set_error (error, PA_ERROR, PA_ERROR_STORE,
                   "the cross-signing keys of %s do not match their public keys", crypto->user_id);
      return FALSE;
    }
  return TRUE;
}

static gboolean
create_keys (PaCrypto *crypto, GError **error)
{
  guint8 seeds[SEEDS_LEN];
  g_autofree char *sealed = NULL;
  PaCryptoCrossSigningRow row = { 0 };
  gboolean ok = pa_olm_random (seeds, sizeof seeds, error) && keys_from_seeds (crypto, seeds, error)
                && (sealed = seal (crypto, seeds, error)) != NULL;

  explicit_bzero (seeds, sizeof seeds);
  if (ok)
    {
      row.sealed = sealed;
      row.master = (char *) pa_crypto_master_key (crypto);
      row.self_signing = (char *) pa_olm_signing_public_key (crypto->self_signing_key);
      row.user_signing = (char *) pa_olm_signing_public_key (crypto->user_signing_key);
      ok = pa_crypto_store_save_cross_signing (crypto->store, crypto->user_id, &row, error);
    }
  if (!ok)
    {
      pa_crypto_cross_signing_dispose (crypto);
      return FALSE;
    }
  g_info ("created cross-signing keys for %s (master key %s)", crypto->user_id,
          pa_crypto_master_key (crypto));
  return TRUE;
}

gboolean
pa_crypto_cross_signing_ensure (PaCrypto *crypto, GError **error)
{
  g_autoptr (PaCryptoCrossSigningRow) row = NULL;

  g_return_val_if_fail (crypto != NULL, FALSE);
  if (crypto->master_key != NULL)
    return TRUE;
  if (!pa_crypto_store_load_cross_signing (crypto->store, crypto->user_id, &row, error))
    return FALSE;
  return row != NULL ? load_keys (crypto, row, error) : create_keys (crypto, error);
}

/* ------------------------------------------------------------- bodies */

static gboolean
need_keys (PaCrypto *crypto, GError **error)
{
  if (crypto->master_key != NULL)
    return TRUE;
  g_set_error (error, PA_ERROR, PA_ERROR_NOT_FOUND, "%s has no cross-signing keys loaded",
               crypto->user_id);
  return FALSE;
}

/* Adds the signature of `key` (signatures.<our user>."ed25519:<pub>"). */
static gboolean
sign_with (PaCrypto *crypto, PaOlmSigning *key, json_t *object, GError **error)
{
  g_autofree char *text = pa_canonical_json_for_signing (object, error);
  g_autofree char *sig = NULL;

  if (text == NULL)
    return FALSE;
  sig = pa_olm_signing_sign (key, text, strlen (text), error);
  if (sig == NULL)
    return FALSE;
  pa_canonical_json_add_signature (object, crypto->user_id, pa_olm_signing_public_key (key), sig);
  return TRUE;
}

/* {"user_id", "usage": [usage], "keys": {"ed25519:<pub>": pub}} */
static json_t *
key_object (PaCrypto *crypto, const char *usage, PaOlmSigning *key)
{
  const char *pub = pa_olm_signing_public_key (key);
  g_autofree char *key_id = g_strconcat ("ed25519:", pub, NULL);

  return json_pack ("{s:s, s:[s], s:{s:s}}", "user_id", crypto->user_id, "usage", usage, "keys",
                    key_id, pub);
}

json_t *
pa_crypto_cross_signing_upload_body (PaCrypto *crypto, GError **error)
{
  g_autoptr (json_t) master = NULL, self_signing = NULL, user_signing = NULL;

  g_return_val_if_fail (crypto != NULL, NULL);
  if (!need_keys (crypto, error))
    return NULL;
  master = key_object (crypto, "master", crypto->master_key);
  self_signing = key_object (crypto, "self_signing", crypto->self_signing_key);
  user_signing = key_object (crypto, "user_signing", crypto->user_signing_key);
  /* The device vouches for the master key, as Element's clients do: a
   * client that trusts the device then trusts the identity. */
  if (!pa_crypto_sign_json (crypto, master, error)
      || !sign_with (crypto, crypto->master_key, self_signing, error)
      || !sign_with (crypto, crypto->master_key, user_signing, error))
    return NULL;
  return json_pack ("{s:O, s:O, s:O}", "master_key", master, "self_signing_key", self_signing,
                    "user_signing_key", user_signing);
}

json_t *
pa_crypto_cross_signing_device_body (PaCrypto *crypto, GError **error)
{
  g_autoptr (json_t) device = NULL;

  g_return_val_if_fail (crypto != NULL, NULL);
  if (!need_keys (crypto, error))
    return NULL;
  device = pa_crypto_device_keys (crypto, error);
  if (device == NULL || !sign_with (crypto, crypto->self_signing_key, device, error))
    return NULL;
  return json_pack ("{s:{s:O}}", crypto->user_id, crypto->device_id, device);
}

/* The one ed25519 key of a cross-signing key object, or NULL. */
static const char *
single_key (json_t *key_object)
{
  json_t *keys = json_object_get (key_object, "keys");
  const char *id;
  json_t *value;

  if (json_object_size (keys) != 1)
    return NULL;
  json_object_foreach (keys, id, value)
  {
    if (g_str_has_prefix (id, "ed25519:") && g_strcmp0 (id + 8, json_string_value (value)) == 0)
      return json_string_value (value);
  }
  return NULL;
}

static gboolean
has_usage (json_t *key_object, const char *usage)
{
  gsize i;
  json_t *u;

  json_array_foreach (json_object_get (key_object, "usage"), i, u)
  {
    if (g_strcmp0 (json_string_value (u), usage) == 0)
      return TRUE;
  }
  return FALSE;
}

json_t *
pa_crypto_sign_master_key (PaCrypto *crypto, const char *user_id, json_t *master_key)
{
  g_autoptr (json_t) copy = NULL;
  g_autoptr (GError) error = NULL;
  const char *pub = single_key (master_key);

  g_return_val_if_fail (crypto != NULL && user_id != NULL, NULL);
  if (crypto->user_signing_key == NULL || pub == NULL || !has_usage (master_key, "master")
      || g_strcmp0 (pa_crypto_jstr (master_key, "user_id"), user_id) != 0)
    {
      g_message ("not signing the master key of %s: %s", user_id,
                 crypto->user_signing_key == NULL ? "no user-signing key loaded"
                                                  : "not a master key of that user");
      return NULL;
    }
  copy = json_deep_copy (master_key);
  json_object_del (copy, "signatures");
  json_object_del (copy, "unsigned");
  if (!sign_with (crypto, crypto->user_signing_key, copy, &error))
    {
      g_message ("not signing the master key of %s: %s", user_id, error->message);
      return NULL;
    }
  return json_pack ("{s:{s:O}}", user_id, pub, copy);
}

/* ------------------------------------------------------------ compare */

gboolean
pa_crypto_cross_signing_compare (PaCrypto *crypto, json_t *answer, PaCrossSigningServer *server,
                                 gboolean *device_signed, GError **error)
{
  const char *ssk = pa_crypto_self_signing_key (crypto);
  json_t *master, *device;

  g_return_val_if_fail (crypto != NULL && server != NULL && device_signed != NULL, FALSE);
  if (!need_keys (crypto, error))
    return FALSE;
  if (!json_is_object (answer))
    return pa_crypto_bad_input (error, "keys query answer");
  master = json_object_get (json_object_get (answer, "master_keys"), crypto->user_id);
  if (master == NULL)
    *server = PA_CROSS_SIGNING_SERVER_NONE;
  else if (g_strcmp0 (single_key (master), pa_crypto_master_key (crypto)) == 0
           && g_strcmp0 (single_key (json_object_get (json_object_get (answer, "self_signing_keys"),
                                                      crypto->user_id)),
                         ssk)
                  == 0
           && g_strcmp0 (single_key (json_object_get (json_object_get (answer, "user_signing_keys"),
                                                      crypto->user_id)),
                         pa_olm_signing_public_key (crypto->user_signing_key))
                  == 0)
    *server = PA_CROSS_SIGNING_SERVER_SAME;
  else
    *server = PA_CROSS_SIGNING_SERVER_OTHER;
  device
      = json_object_get (json_object_get (json_object_get (answer, "device_keys"), crypto->user_id),
                         crypto->device_id);
  *device_signed
      = device != NULL && pa_crypto_verify_json (device, crypto->user_id, ssk, ssk, NULL);
  return TRUE;
}
