/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The bottom floor of PaCrypto: the bot device's Olm account and what
 * only it can do.  It opens the crypto store and loads (or creates) the
 * account, signs and verifies JSON, and builds /keys/upload bodies with
 * one-time and fallback keys.  Every change to the account is saved
 * before a function returns, so a crash can lose a message but never
 * hand out a one-time key twice.  Calls nothing else in src/crypto but
 * the store, pa-olm.c and canonical JSON. */
#define G_LOG_DOMAIN "passerelle-crypto"

#include "pa-crypto-account.h"

#include <string.h>

#include "db/pa-db.h"
#include "pa-canonical-json.h"

gboolean
pa_crypto_account_open (PaCrypto *crypto, const char *db_path, GError **error)
{
  crypto->store = pa_crypto_store_open (db_path, error);
  if (crypto->store == NULL)
    return FALSE;
  if (!pa_crypto_account_load (crypto, error))
    {
      g_autofree char *shown = pa_db_target_display (db_path);
      g_prefix_error (error, "%s: ", shown);
      return FALSE;
    }
  return TRUE;
}

/* The identity's account from the store (the primary's when crypto->primary
 * is NULL, which must be the same user and device), or a new one saved
 * under crypto->device_id.  A ghost identity already saved keeps its
 * device: crypto->device_id is replaced by the stored one. */
gboolean
pa_crypto_account_load (PaCrypto *crypto, GError **error)
{
  g_autofree char *pickle = NULL, *stored_user = NULL, *stored_device = NULL;
  gboolean primary = crypto->primary == NULL;
  GError *local = NULL;

  pickle = pa_crypto_store_load_identity (crypto->store, primary ? NULL : crypto->user_id,
                                          &stored_user, &stored_device, &crypto->keys_uploaded,
                                          &crypto->published, &local);
  if (local != NULL)
    {
      g_propagate_error (error, local);
      return FALSE;
    }
  if (pickle != NULL)
    {
      if (primary
          && (g_strcmp0 (stored_user, crypto->user_id) != 0
              || g_strcmp0 (stored_device, crypto->device_id) != 0))
        {
          g_set_error (error, PA_ERROR, PA_ERROR_CONFIG,
                       "the store holds the crypto account of %s device %s, not %s device %s",
                       stored_user, stored_device, crypto->user_id, crypto->device_id);
          return FALSE;
        }
      g_free (crypto->device_id);
      crypto->device_id = g_steal_pointer (&stored_device);
      crypto->account
          = pa_olm_account_unpickle (pickle, crypto->pickle_key, crypto->pickle_key_len, error);
      explicit_bzero (pickle, strlen (pickle));
      if (crypto->account == NULL)
        {
          g_prefix_error (error, "wrong pickle key? ");
          return FALSE;
        }
    }
  else
    {
      crypto->account = pa_olm_account_new (error);
      if (crypto->account == NULL || !pa_crypto_account_save (crypto, error))
        return FALSE;
      g_info ("created crypto account for %s device %s", crypto->user_id, crypto->device_id);
    }
  return pa_olm_account_identity_keys (crypto->account, &crypto->curve25519, &crypto->ed25519,
                                       error);
}

gboolean
pa_crypto_account_save (PaCrypto *crypto, GError **error)
{
  g_autofree char *pickle
      = pa_olm_account_pickle (crypto->account, crypto->pickle_key, crypto->pickle_key_len, error);

  return pickle != NULL
         && pa_crypto_store_save_identity (crypto->store, crypto->user_id, crypto->device_id,
                                           pickle, crypto->keys_uploaded, crypto->primary == NULL,
                                           error);
}

gboolean
pa_crypto_tx_end (PaCrypto *crypto, gboolean ok, GError **error)
{
  if (!ok)
    {
      pa_crypto_store_rollback (crypto->store);
      return FALSE;
    }
  return pa_crypto_store_commit (crypto->store, error);
}

/* ------------------------------------------------------------ signing */

gboolean
pa_crypto_sign_json (PaCrypto *crypto, json_t *object, GError **error)
{
  g_autofree char *text = NULL, *sig = NULL;

  g_return_val_if_fail (crypto != NULL && object != NULL, FALSE);
  text = pa_canonical_json_for_signing (object, error);
  if (text == NULL)
    return FALSE;
  sig = pa_olm_account_sign (crypto->account, text, strlen (text), error);
  if (sig == NULL)
    return FALSE;
  pa_canonical_json_add_signature (object, crypto->user_id, crypto->device_id, sig);
  return TRUE;
}

gboolean
pa_crypto_verify_json (json_t *object, const char *signer_user, const char *signer_device,
                       const char *ed25519, GError **error)
{
  g_autofree char *key_id = NULL, *text = NULL;
  g_autoptr (GError) local = NULL;
  const char *sig;

  g_return_val_if_fail (signer_user != NULL && signer_device != NULL && ed25519 != NULL, FALSE);
  if (!json_is_object (object))
    return pa_crypto_bad_input (error, "signed object");
  key_id = g_strconcat ("ed25519:", signer_device, NULL);
  sig = json_string_value (json_object_get (
      json_object_get (json_object_get (object, "signatures"), signer_user), key_id));
  if (sig == NULL)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_PERMISSION, "no signature by %s %s", signer_user,
                   key_id);
      return FALSE;
    }
  text = pa_canonical_json_for_signing (object, error);
  if (text == NULL)
    return FALSE;
  if (!pa_olm_ed25519_verify (ed25519, text, strlen (text), sig, &local))
    {
      g_set_error (error, PA_ERROR, PA_ERROR_PERMISSION, "signature by %s %s: %s", signer_user,
                   key_id, local->message);
      return FALSE;
    }
  return TRUE;
}

/* ------------------------------------------------------------ account */

json_t *
pa_crypto_device_keys (PaCrypto *crypto, GError **error)
{
  g_autoptr (json_t) keys = NULL;
  g_autofree char *ck = g_strconcat ("curve25519:", crypto->device_id, NULL);
  g_autofree char *ek = g_strconcat ("ed25519:", crypto->device_id, NULL);

  keys
      = json_pack ("{s:s, s:s, s:[s, s], s:{s:s, s:s}}", "user_id", crypto->user_id, "device_id",
                   crypto->device_id, "algorithms", PA_CRYPTO_OLM_ALGORITHM,
                   PA_CRYPTO_MEGOLM_ALGORITHM, "keys", ck, crypto->curve25519, ek, crypto->ed25519);
  if (!pa_crypto_sign_json (crypto, keys, error))
    return NULL;
  return g_steal_pointer (&keys);
}

/* {"signed_curve25519:<id>": {"key": …, ["fallback": true,] "signatures": …}}
 * from libolm's {"curve25519": {id: key}}. */
static json_t *
signed_keys (PaCrypto *crypto, json_t *olm_keys, gboolean fallback, GError **error)
{
  g_autoptr (json_t) out = json_object ();
  const char *id;
  json_t *key;

  json_object_foreach (json_object_get (olm_keys, "curve25519"), id, key)
  {
    g_autoptr (json_t) k = json_pack ("{s:O}", "key", key);
    g_autofree char *name = g_strconcat ("signed_curve25519:", id, NULL);

    if (fallback)
      json_object_set_new (k, "fallback", json_true ());
    if (!pa_crypto_sign_json (crypto, k, error))
      return NULL;
    json_object_set (out, name, k);
  }
  return g_steal_pointer (&out);
}

json_t *
pa_crypto_keys_upload_body (PaCrypto *crypto, guint server_otk_count, GError **error)
{
  g_autoptr (json_t) body = json_object ();
  g_autoptr (json_t) otks = NULL, fallback = NULL, signed_otks = NULL, signed_fb = NULL;
  gsize target
      = MIN ((gsize) crypto->otk_target, pa_olm_account_max_one_time_keys (crypto->account) / 2);
  gsize pending;

  g_return_val_if_fail (crypto != NULL, NULL);
  if (!crypto->keys_uploaded)
    {
      json_t *dk = pa_crypto_device_keys (crypto, error);

      if (dk == NULL)
        return NULL;
      json_object_set_new (body, "device_keys", dk);
    }
  otks = pa_olm_account_one_time_keys (crypto->account, error);
  if (otks == NULL)
    return NULL;
  pending = json_object_size (json_object_get (otks, "curve25519"));
  if (server_otk_count + pending < target)
    {
      if (!pa_olm_account_generate_one_time_keys (crypto->account,
                                                  target - server_otk_count - pending, error))
        return NULL;
      g_clear_pointer (&otks, json_decref);
      otks = pa_olm_account_one_time_keys (crypto->account, error);
      if (otks == NULL)
        return NULL;
    }
  fallback = pa_olm_account_unpublished_fallback_key (crypto->account, error);
  if (fallback == NULL)
    return NULL;
  /* A fallback key is made once, with the first upload; clients replace
   * theirs when it gets used, which libolm does not tell us, so ours is
   * kept (the spec allows reuse; it only weakens forward secrecy of the
   * first message of sessions made from it). */
  if (!crypto->keys_uploaded && json_object_size (json_object_get (fallback, "curve25519")) == 0)
    {
      g_clear_pointer (&fallback, json_decref);
      if (!pa_olm_account_generate_fallback_key (crypto->account, error))
        return NULL;
      fallback = pa_olm_account_unpublished_fallback_key (crypto->account, error);
      if (fallback == NULL)
        return NULL;
    }
  signed_otks = signed_keys (crypto, otks, FALSE, error);
  signed_fb = signed_keys (crypto, fallback, TRUE, error);
  if (signed_otks == NULL || signed_fb == NULL)
    return NULL;
  if (json_object_size (signed_otks) > 0)
    json_object_set (body, "one_time_keys", signed_otks);
  if (json_object_size (signed_fb) > 0)
    json_object_set (body, "fallback_keys", signed_fb);
  /* Saved before the upload: keys the server may get must survive us. */
  if (!pa_crypto_account_save (crypto, error))
    return NULL;
  return g_steal_pointer (&body);
}

gboolean
pa_crypto_keys_uploaded (PaCrypto *crypto, GError **error)
{
  pa_olm_account_mark_published (crypto->account);
  crypto->keys_uploaded = TRUE;
  return pa_crypto_account_save (crypto, error);
}
