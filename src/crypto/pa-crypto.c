/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The bot device's crypto state and the synchronous half of the protocol:
 * signing, device lists, Olm to-device messages, Megolm both ways.  Every
 * change to libolm state is saved before the function returns, so a crash
 * can lose a message but never reuse a ratchet step. */
#define G_LOG_DOMAIN "passerelle-crypto"

#include "pa-crypto-private.h"

#include <string.h>

#include "pa-canonical-json.h"
#include "pa-common.h"

/* Olm sessions tried per sender key when a message arrives: a peer that
 * keeps creating sessions cannot make us try thousands. */
#define OLM_SESSIONS_TRIED 10
/* A decrypted payload larger than this is refused before parsing. */
#define MAX_PLAINTEXT (PA_CRYPTO_MAX_CIPHERTEXT)

/* ------------------------------------------------------------ helpers */

static const char *
jstr (json_t *obj, const char *key)
{
  return json_string_value (json_object_get (obj, key));
}

static gboolean
bad_input (GError **error, const char *what)
{
  g_set_error (error, PA_ERROR, PA_ERROR_JSON, "malformed %s", what);
  return FALSE;
}

static void *
bad_json (GError **error, const char *what)
{
  bad_input (error, what);
  return NULL;
}

PaCryptoLife *
pa_crypto_life_ref (PaCryptoLife *life)
{
  life->refs++;
  return life;
}

void
pa_crypto_life_unref (PaCryptoLife *life)
{
  if (--life->refs == 0)
    g_free (life);
}

static gboolean
account_save (PaCrypto *crypto, GError **error)
{
  g_autofree char *pickle = pa_olm_account_pickle (crypto->account, crypto->pickle_key,
                                                   crypto->pickle_key_len, error);

  return pickle != NULL
         && pa_crypto_store_save_account (crypto->store, crypto->user_id, crypto->device_id,
                                          pickle, crypto->keys_uploaded, error);
}

/* Runs `ok` inside a transaction already begun: commits on success, rolls
 * back on failure. */
static gboolean
tx_end (PaCrypto *crypto, gboolean ok, GError **error)
{
  if (!ok)
    {
      pa_crypto_store_rollback (crypto->store);
      return FALSE;
    }
  return pa_crypto_store_commit (crypto->store, error);
}

/* ---------------------------------------------------------- lifecycle */

PaCrypto *
pa_crypto_new (PaMatrix *bot_client, const char *user_id, const char *device_id,
               const char *db_path, const guint8 *pickle_key, gsize pickle_key_len,
               GError **error)
{
  g_autoptr (PaCrypto) crypto = NULL;
  g_autofree char *pickle = NULL, *stored_user = NULL, *stored_device = NULL;
  GError *local = NULL;

  g_return_val_if_fail (user_id != NULL && device_id != NULL && db_path != NULL, NULL);
  g_return_val_if_fail (pickle_key != NULL && pickle_key_len > 0, NULL);
  crypto = g_new0 (PaCrypto, 1);
  crypto->mx = bot_client;
  crypto->user_id = g_strdup (user_id);
  crypto->device_id = g_strdup (device_id);
  crypto->pickle_key = g_memdup2 (pickle_key, pickle_key_len);
  crypto->pickle_key_len = pickle_key_len;
  crypto->life = g_new0 (PaCryptoLife, 1);
  crypto->life->refs = 1;
  crypto->life->crypto = crypto;
  g_queue_init (&crypto->ops);
  crypto->requests = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  crypto->repairs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  crypto->withheld = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  crypto->shared_ok = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  crypto->blocked = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  crypto->store = pa_crypto_store_open (db_path, error);
  if (crypto->store == NULL)
    return NULL;
  pickle = pa_crypto_store_load_account (crypto->store, &stored_user, &stored_device,
                                         &crypto->keys_uploaded, &local);
  if (local != NULL)
    {
      g_propagate_error (error, local);
      return NULL;
    }
  if (pickle != NULL)
    {
      if (g_strcmp0 (stored_user, user_id) != 0 || g_strcmp0 (stored_device, device_id) != 0)
        {
          g_set_error (error, PA_ERROR, PA_ERROR_CONFIG,
                       "%s holds the crypto account of %s device %s, not %s device %s", db_path,
                       stored_user, stored_device, user_id, device_id);
          return NULL;
        }
      crypto->account = pa_olm_account_unpickle (pickle, pickle_key, pickle_key_len, error);
      explicit_bzero (pickle, strlen (pickle));
      if (crypto->account == NULL)
        {
          g_prefix_error (error, "%s (wrong pickle key?): ", db_path);
          return NULL;
        }
    }
  else
    {
      crypto->account = pa_olm_account_new (error);
      if (crypto->account == NULL || !account_save (crypto, error))
        return NULL;
      g_info ("created crypto account for %s device %s", user_id, device_id);
    }
  if (!pa_olm_account_identity_keys (crypto->account, &crypto->curve25519, &crypto->ed25519,
                                     error))
    return NULL;
  return g_steal_pointer (&crypto);
}

void
pa_crypto_free (PaCrypto *crypto)
{
  if (crypto == NULL)
    return;
  pa_crypto_ops_clear (crypto);
  if (crypto->life != NULL)
    {
      crypto->life->crypto = NULL;
      pa_crypto_life_unref (crypto->life);
    }
  pa_olm_account_free (crypto->account);
  pa_crypto_store_free (crypto->store);
  if (crypto->pickle_key != NULL)
    explicit_bzero (crypto->pickle_key, crypto->pickle_key_len);
  g_free (crypto->pickle_key);
  g_free (crypto->user_id);
  g_free (crypto->device_id);
  g_free (crypto->curve25519);
  g_free (crypto->ed25519);
  g_clear_pointer (&crypto->requests, g_hash_table_destroy);
  g_clear_pointer (&crypto->repairs, g_hash_table_destroy);
  g_clear_pointer (&crypto->withheld, g_hash_table_destroy);
  g_clear_pointer (&crypto->shared_ok, g_hash_table_destroy);
  g_clear_pointer (&crypto->blocked, g_hash_table_destroy);
  g_free (crypto);
}

const char *
pa_crypto_get_user_id (PaCrypto *crypto)
{
  return crypto->user_id;
}

const char *
pa_crypto_get_device_id (PaCrypto *crypto)
{
  return crypto->device_id;
}

const char *
pa_crypto_get_curve25519 (PaCrypto *crypto)
{
  return crypto->curve25519;
}

const char *
pa_crypto_get_ed25519 (PaCrypto *crypto)
{
  return crypto->ed25519;
}

/* ------------------------------------------------------------ signing */

gboolean
pa_crypto_sign_json (PaCrypto *crypto, json_t *object, GError **error)
{
  g_autofree char *text = NULL, *sig = NULL, *key_id = NULL;
  json_t *sigs, *mine;

  g_return_val_if_fail (crypto != NULL && object != NULL, FALSE);
  text = pa_canonical_json_for_signing (object, error);
  if (text == NULL)
    return FALSE;
  sig = pa_olm_account_sign (crypto->account, text, strlen (text), error);
  if (sig == NULL)
    return FALSE;
  sigs = json_object_get (object, "signatures");
  if (!json_is_object (sigs))
    {
      sigs = json_object ();
      json_object_set_new (object, "signatures", sigs);
    }
  mine = json_object_get (sigs, crypto->user_id);
  if (!json_is_object (mine))
    {
      mine = json_object ();
      json_object_set_new (sigs, crypto->user_id, mine);
    }
  key_id = g_strconcat ("ed25519:", crypto->device_id, NULL);
  json_object_set_new (mine, key_id, json_string (sig));
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
    return bad_input (error, "signed object");
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

  keys = json_pack ("{s:s, s:s, s:[s, s], s:{s:s, s:s}}", "user_id", crypto->user_id,
                    "device_id", crypto->device_id, "algorithms", PA_CRYPTO_OLM_ALGORITHM,
                    PA_CRYPTO_MEGOLM_ALGORITHM, "keys", ck, crypto->curve25519, ek,
                    crypto->ed25519);
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
  gsize target = MIN ((gsize) PA_CRYPTO_OTK_TARGET,
                      pa_olm_account_max_one_time_keys (crypto->account) / 2);
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
  if (!account_save (crypto, error))
    return NULL;
  return g_steal_pointer (&body);
}

gboolean
pa_crypto_keys_uploaded (PaCrypto *crypto, GError **error)
{
  pa_olm_account_mark_published (crypto->account);
  crypto->keys_uploaded = TRUE;
  return account_save (crypto, error);
}

/* ------------------------------------------------------------ devices */

/* One device from /keys/query, or NULL (logged) when it must be ignored. */
static PaCryptoDevice *
device_from_keys (PaCrypto *crypto, const char *user_id, const char *device_id, json_t *keys)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *ck = g_strconcat ("curve25519:", device_id, NULL);
  g_autofree char *ek = g_strconcat ("ed25519:", device_id, NULL);
  json_t *k = json_object_get (keys, "keys");
  const char *curve = jstr (k, ck), *ed = jstr (k, ek);
  PaCryptoDevice *d;

  if (g_strcmp0 (jstr (keys, "user_id"), user_id) != 0
      || g_strcmp0 (jstr (keys, "device_id"), device_id) != 0 || curve == NULL || ed == NULL)
    {
      g_message ("ignoring malformed device keys of %s %s", user_id, device_id);
      return NULL;
    }
  if (!pa_crypto_verify_json (keys, user_id, device_id, ed, &error))
    {
      g_message ("ignoring device %s of %s: %s", device_id, user_id, error->message);
      return NULL;
    }
  d = g_new0 (PaCryptoDevice, 1);
  d->user_id = g_strdup (user_id);
  d->device_id = g_strdup (device_id);
  d->ed25519 = g_strdup (ed);
  d->curve25519 = g_strdup (curve);
  d->verified = TRUE;
  return d;
}

static gboolean
add_device_keys_tx (PaCrypto *crypto, const char *user_id, json_t *devices, GError **error)
{
  g_autoptr (GPtrArray) cached = pa_crypto_store_list_devices (crypto->store, user_id, error);
  const char *device_id;
  json_t *keys;

  if (cached == NULL || !pa_crypto_store_track_user (crypto->store, user_id, error))
    return FALSE;
  json_object_foreach (devices, device_id, keys)
    {
      g_autoptr (PaCryptoDevice) d = device_from_keys (crypto, user_id, device_id, keys);
      g_autoptr (PaCryptoDevice) old = NULL;
      GError *local = NULL;

      if (d == NULL)
        continue;
      old = pa_crypto_store_get_device (crypto->store, user_id, device_id, &local);
      if (local != NULL)
        {
          g_propagate_error (error, local);
          return FALSE;
        }
      /* A device id never changes keys; a new key under an old id is an
       * attack or a server bug, and the spec says to ignore it. */
      if (old != NULL && g_strcmp0 (old->ed25519, d->ed25519) != 0)
        {
          g_message ("device %s of %s changed its ed25519 key; ignoring the new keys", device_id,
                     user_id);
          continue;
        }
      if (!pa_crypto_store_save_device (crypto->store, d, error))
        return FALSE;
    }
  for (guint i = 0; i < cached->len; i++)
    {
      PaCryptoDevice *d = g_ptr_array_index (cached, i);

      if (json_object_get (devices, d->device_id) == NULL && !d->deleted)
        {
          d->deleted = TRUE;
          if (!pa_crypto_store_save_device (crypto->store, d, error))
            return FALSE;
        }
    }
  return pa_crypto_store_set_user_dirty (crypto->store, user_id, FALSE, error);
}

gboolean
pa_crypto_add_device_keys (PaCrypto *crypto, const char *user_id, json_t *devices,
                           GError **error)
{
  g_return_val_if_fail (crypto != NULL && user_id != NULL, FALSE);
  crypto->device_epoch++;
  if (!json_is_object (devices))
    return bad_input (error, "device list");
  if (json_object_size (devices) > PA_CRYPTO_MAX_DEVICES_PER_USER)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_TOO_LARGE, "%s has more than %d devices", user_id,
                   PA_CRYPTO_MAX_DEVICES_PER_USER);
      return FALSE;
    }
  if (!pa_crypto_store_begin (crypto->store, error))
    return FALSE;
  return tx_end (crypto, add_device_keys_tx (crypto, user_id, devices, error), error);
}

gboolean
pa_crypto_devices_changed (PaCrypto *crypto, const char *const *user_ids, GError **error)
{
  g_return_val_if_fail (crypto != NULL, FALSE);
  crypto->device_epoch++;
  for (guint i = 0; user_ids != NULL && user_ids[i] != NULL; i++)
    if (!pa_crypto_store_set_user_dirty (crypto->store, user_ids[i], TRUE, error))
      return FALSE;
  return TRUE;
}

/* A cached device we may encrypt to, or NULL with an error. */
static PaCryptoDevice *
usable_device (PaCrypto *crypto, const char *user_id, const char *device_id, GError **error)
{
  GError *local = NULL;
  PaCryptoDevice *d = pa_crypto_store_get_device (crypto->store, user_id, device_id, &local);

  if (local != NULL)
    {
      g_propagate_error (error, local);
      return NULL;
    }
  if (d == NULL || d->deleted || !d->verified)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_NOT_FOUND, "no usable device %s of %s", device_id,
                   user_id);
      pa_crypto_device_free (d);
      return NULL;
    }
  return d;
}

/* ---------------------------------------------------------------- olm */

static gboolean
save_olm_session (PaCrypto *crypto, const char *their_key, PaOlmSession *s, GError **error)
{
  g_autofree char *id = pa_olm_session_id (s, error);
  g_autofree char *pickle = NULL;

  if (id == NULL)
    return FALSE;
  pickle = pa_olm_session_pickle (s, crypto->pickle_key, crypto->pickle_key_len, error);
  return pickle != NULL
         && pa_crypto_store_save_olm_session (crypto->store, their_key, id, pickle, error);
}

gboolean
pa_crypto_create_olm_session (PaCrypto *crypto, const char *user_id, const char *device_id,
                              json_t *claimed, GError **error)
{
  g_autoptr (PaCryptoDevice) d = NULL;
  g_autoptr (PaOlmSession) s = NULL;
  const char *name, *otk = NULL;
  json_t *value, *key_obj = NULL;

  g_return_val_if_fail (crypto != NULL && user_id != NULL && device_id != NULL, FALSE);
  d = usable_device (crypto, user_id, device_id, error);
  if (d == NULL)
    return FALSE;
  json_object_foreach (claimed, name, value)
    {
      if (g_str_has_prefix (name, "signed_curve25519:") && json_is_object (value))
        {
          key_obj = value;
          break;
        }
    }
  otk = jstr (key_obj, "key");
  if (otk == NULL)
    return bad_input (error, "claimed one-time key");
  if (!pa_crypto_verify_json (key_obj, user_id, device_id, d->ed25519, error))
    return FALSE;
  s = pa_olm_session_new_outbound (crypto->account, d->curve25519, otk, error);
  return s != NULL && save_olm_session (crypto, d->curve25519, s, error);
}

static json_t *
olm_encrypt_to (PaCrypto *crypto, PaCryptoDevice *d, const char *type, json_t *content,
                GError **error)
{
  g_autoptr (GPtrArray) pickles = NULL;
  g_autoptr (PaOlmSession) s = NULL;
  g_autoptr (json_t) payload = NULL;
  g_autofree char *text = NULL, *body = NULL;
  int msg_type = 0;

  pickles = pa_crypto_store_olm_sessions (crypto->store, d->curve25519, 1, error);
  if (pickles == NULL)
    return NULL;
  if (pickles->len == 0)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_NOT_FOUND, "no olm session with %s %s",
                   d->user_id, d->device_id);
      return NULL;
    }
  s = pa_olm_session_unpickle (g_ptr_array_index (pickles, 0), crypto->pickle_key,
                               crypto->pickle_key_len, error);
  if (s == NULL)
    return NULL;
  payload = json_pack ("{s:s, s:O, s:s, s:s, s:{s:s}, s:s, s:{s:s}}", "type", type, "content",
                       content, "sender", crypto->user_id, "sender_device", crypto->device_id,
                       "keys", "ed25519", crypto->ed25519, "recipient", d->user_id,
                       "recipient_keys", "ed25519", d->ed25519);
  if (payload == NULL)
    return bad_json (error, "to-device content");
  text = json_dumps (payload, JSON_COMPACT);
  if (text == NULL)
    return bad_json (error, "to-device content");
  body = pa_olm_session_encrypt (s, text, strlen (text), &msg_type, error);
  explicit_bzero (text, strlen (text));
  if (body == NULL || !save_olm_session (crypto, d->curve25519, s, error))
    return NULL;
  return json_pack ("{s:s, s:s, s:{s:{s:i, s:s}}}", "algorithm", PA_CRYPTO_OLM_ALGORITHM,
                    "sender_key", crypto->curve25519, "ciphertext", d->curve25519, "type",
                    msg_type, "body", body);
}

json_t *
pa_crypto_olm_encrypt (PaCrypto *crypto, const char *user_id, const char *device_id,
                       const char *type, json_t *content, GError **error)
{
  g_autoptr (PaCryptoDevice) d = NULL;

  g_return_val_if_fail (crypto != NULL && type != NULL && json_is_object (content), NULL);
  d = usable_device (crypto, user_id, device_id, error);
  if (d == NULL)
    return NULL;
  return olm_encrypt_to (crypto, d, type, content, error);
}

/* Decrypts with an existing session, or makes a new inbound one from a
 * pre-key message.  The plaintext is transfer full (wipe it). */
static char *
olm_decrypt_body (PaCrypto *crypto, const char *sender_key, int type, const char *body,
                  gsize *len, GError **error)
{
  g_autoptr (GPtrArray) pickles = NULL;
  g_autoptr (PaOlmSession) fresh = NULL;
  char *plain;
  gboolean ok;

  pickles = pa_crypto_store_olm_sessions (crypto->store, sender_key, OLM_SESSIONS_TRIED, error);
  if (pickles == NULL)
    return NULL;
  for (guint i = 0; i < pickles->len; i++)
    {
      g_autoptr (PaOlmSession) s = pa_olm_session_unpickle (g_ptr_array_index (pickles, i),
                                                            crypto->pickle_key,
                                                            crypto->pickle_key_len, error);
      if (s == NULL)
        return NULL;
      if (type == PA_OLM_MESSAGE_PREKEY)
        {
          gboolean matches = FALSE;

          if (!pa_olm_session_matches_inbound (s, sender_key, body, &matches, error))
            return NULL;
          if (!matches)
            continue;
        }
      plain = pa_olm_session_decrypt (s, type, body, len, NULL);
      if (plain == NULL)
        {
          if (type == PA_OLM_MESSAGE_PREKEY)
            {
              g_set_error_literal (error, PA_ERROR, PA_ERROR_FAILED,
                                   "pre-key message matched a session but did not decrypt");
              return NULL;
            }
          continue;
        }
      if (!save_olm_session (crypto, sender_key, s, error))
        {
          explicit_bzero (plain, *len);
          g_free (plain);
          return NULL;
        }
      return plain;
    }
  if (type != PA_OLM_MESSAGE_PREKEY)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_NOT_FOUND,
                   "no olm session with %s decrypts this message", sender_key);
      return NULL;
    }
  fresh = pa_olm_session_new_inbound (crypto->account, sender_key, body, error);
  if (fresh == NULL)
    return NULL;
  plain = pa_olm_session_decrypt (fresh, type, body, len, error);
  if (plain == NULL)
    return NULL;
  /* The one-time key is spent only once the message proved genuine; the
   * account and the session are saved together so neither outlives the
   * other on disk. */
  if (!pa_crypto_store_begin (crypto->store, error))
    ok = FALSE;
  else
    ok = tx_end (crypto,
                 pa_olm_account_remove_one_time_keys (crypto->account, fresh, error)
                     && save_olm_session (crypto, sender_key, fresh, error)
                     && account_save (crypto, error),
                 error);
  if (!ok)
    {
      explicit_bzero (plain, *len);
      g_free (plain);
      return NULL;
    }
  return plain;
}

json_t *
pa_crypto_olm_decrypt (PaCrypto *crypto, json_t *event, GError **error)
{
  const char *sender = jstr (event, "sender");
  json_t *content = json_object_get (event, "content");
  const char *sender_key = jstr (content, "sender_key");
  json_t *mine = json_object_get (json_object_get (content, "ciphertext"), crypto->curve25519);
  const char *body = jstr (mine, "body");
  json_t *type_j = json_object_get (mine, "type");
  g_autoptr (json_t) payload = NULL;
  g_autoptr (PaCryptoDevice) dev = NULL;
  GError *local = NULL;
  char *plain;
  gsize len = 0;
  json_int_t type;

  g_return_val_if_fail (crypto != NULL, NULL);
  if (sender == NULL || sender_key == NULL
      || g_strcmp0 (jstr (content, "algorithm"), PA_CRYPTO_OLM_ALGORITHM) != 0)
    return bad_json (error, "olm event");
  if (mine == NULL)
    {
      g_set_error_literal (error, PA_ERROR, PA_ERROR_NOT_FOUND,
                           "olm event has no ciphertext for our device");
      return NULL;
    }
  if (body == NULL || !json_is_integer (type_j))
    return bad_json (error, "olm ciphertext");
  if (strlen (body) > PA_CRYPTO_MAX_CIPHERTEXT)
    {
      g_set_error_literal (error, PA_ERROR, PA_ERROR_TOO_LARGE, "olm ciphertext too large");
      return NULL;
    }
  type = json_integer_value (type_j);
  if (type != PA_OLM_MESSAGE_PREKEY && type != PA_OLM_MESSAGE_NORMAL)
    return bad_json (error, "olm message type");
  plain = olm_decrypt_body (crypto, sender_key, (int) type, body, &len, error);
  if (plain == NULL)
    return NULL;
  payload = json_loadb (plain, len, JSON_REJECT_DUPLICATES, NULL);
  explicit_bzero (plain, len);
  g_free (plain);
  if (!json_is_object (payload) || jstr (payload, "type") == NULL
      || !json_is_object (json_object_get (payload, "content")))
    return bad_json (error, "olm payload");
  /* The spec's checks: the payload names us and the claimed sender, so a
   * message cannot be replayed to another device or pinned on someone. */
  if (g_strcmp0 (jstr (payload, "sender"), sender) != 0
      || g_strcmp0 (jstr (payload, "recipient"), crypto->user_id) != 0
      || g_strcmp0 (jstr (json_object_get (payload, "recipient_keys"), "ed25519"),
                    crypto->ed25519) != 0)
    {
      g_set_error_literal (error, PA_ERROR, PA_ERROR_PERMISSION,
                           "olm payload sender/recipient do not match the event");
      return NULL;
    }
  dev = pa_crypto_store_get_device_by_curve (crypto->store, sender_key, &local);
  if (local != NULL)
    {
      g_propagate_error (error, local);
      return NULL;
    }
  if (dev != NULL
      && (g_strcmp0 (dev->user_id, sender) != 0
          || g_strcmp0 (dev->ed25519, jstr (json_object_get (payload, "keys"), "ed25519")) != 0))
    {
      g_set_error (error, PA_ERROR, PA_ERROR_PERMISSION,
                   "olm sender key belongs to %s %s, not the claimed sender %s", dev->user_id,
                   dev->device_id, sender);
      return NULL;
    }
  json_object_set_new (payload, "sender_key", json_string (sender_key));
  return g_steal_pointer (&payload);
}

/* ------------------------------------------------------ megolm inbound */

static gboolean
save_inbound (PaCrypto *crypto, const char *room_id, const char *sender_key,
              const char *sender_ed25519, PaOlmInboundGroup *g, GError **error)
{
  g_autofree char *id = pa_olm_inbound_group_id (g, error);
  g_autofree char *pickle = NULL;

  if (id == NULL)
    return FALSE;
  pickle = pa_olm_inbound_group_pickle (g, crypto->pickle_key, crypto->pickle_key_len, error);
  return pickle != NULL
         && pa_crypto_store_save_inbound (crypto->store, room_id, sender_key, id, sender_ed25519,
                                          pickle, pa_olm_inbound_group_first_known_index (g),
                                          error);
}

/* Stores the session of an m.room_key that arrived Olm-encrypted. */
static gboolean
add_room_key (PaCrypto *crypto, json_t *payload, GError **error)
{
  json_t *content = json_object_get (payload, "content");
  const char *room_id = jstr (content, "room_id"), *session_id = jstr (content, "session_id");
  const char *key = jstr (content, "session_key"), *sender_key = jstr (payload, "sender_key");
  const char *sender_ed = jstr (json_object_get (payload, "keys"), "ed25519");

  if (g_strcmp0 (jstr (content, "algorithm"), PA_CRYPTO_MEGOLM_ALGORITHM) != 0
      || room_id == NULL || session_id == NULL || key == NULL || sender_key == NULL)
    return bad_input (error, "m.room_key");
  return pa_crypto_keep_inbound (crypto, room_id, sender_key, sender_ed, session_id, key, FALSE,
                                 error);
}

gboolean
pa_crypto_keep_inbound (PaCrypto *crypto, const char *room_id, const char *sender_key,
                        const char *sender_ed25519, const char *session_id,
                        const char *session_key, gboolean exported, GError **error)
{
  g_autoptr (PaOlmInboundGroup) g = exported ? pa_olm_inbound_group_import (session_key, error)
                                             : pa_olm_inbound_group_new (session_key, error);
  g_autofree char *id = g != NULL ? pa_olm_inbound_group_id (g, error) : NULL;
  g_autofree char *existing = NULL;
  guint32 existing_first = 0;
  GError *local = NULL;

  if (id == NULL)
    return FALSE;
  if (strcmp (id, session_id) != 0)
    {
      g_set_error_literal (error, PA_ERROR, PA_ERROR_PERMISSION,
                           "room key session id does not match its key");
      return FALSE;
    }
  existing = pa_crypto_store_get_inbound (crypto->store, room_id, sender_key, id, NULL,
                                          &existing_first, &local);
  if (local != NULL)
    {
      g_propagate_error (error, local);
      return FALSE;
    }
  /* Never let a re-sent key replace one that decrypts more history. */
  if (existing != NULL && existing_first <= pa_olm_inbound_group_first_known_index (g))
    return TRUE;
  return save_inbound (crypto, room_id, sender_key, sender_ed25519, g, error);
}

json_t *
pa_crypto_handle_to_device (PaCrypto *crypto, json_t *events, GError **error)
{
  g_autoptr (json_t) out = json_array ();
  gsize i;
  json_t *ev;

  g_return_val_if_fail (crypto != NULL, NULL);
  if (!json_is_array (events))
    return bad_json (error, "to-device event list");
  if (json_array_size (events) > PA_CRYPTO_MAX_TO_DEVICE)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_TOO_LARGE, "more than %d to-device events",
                   PA_CRYPTO_MAX_TO_DEVICE);
      return NULL;
    }
  json_array_foreach (events, i, ev)
    {
      g_autoptr (GError) local = NULL;
      g_autoptr (json_t) payload = NULL;
      const char *type = jstr (ev, "type"), *sender = jstr (ev, "sender");
      const char *inner;

      if (type == NULL || sender == NULL)
        {
          g_message ("ignoring malformed to-device event");
          continue;
        }
      if (strcmp (type, "m.room.encrypted") != 0)
        {
          if (strcmp (type, "m.room_key.withheld") == 0)
            g_info ("%s withheld a room key: %s", sender,
                    jstr (json_object_get (ev, "content"), "code"));
          /* Requests are answered by the caller, who knows the members. */
          if (strcmp (type, "m.room_key_request") == 0
              && json_is_object (json_object_get (ev, "content")))
            json_array_append_new (out, json_pack ("{s:s, s:s, s:O}", "type", type, "sender",
                                                   sender, "content",
                                                   json_object_get (ev, "content")));
          continue;
        }
      payload = pa_crypto_olm_decrypt (crypto, ev, &local);
      if (payload == NULL)
        {
          g_message ("could not decrypt a to-device event from %s: %s", sender, local->message);
          /* A wedged session (not a forgery): start a new one. */
          if ((g_error_matches (local, PA_ERROR, PA_ERROR_NOT_FOUND)
               || g_error_matches (local, PA_ERROR, PA_ERROR_FAILED))
              && json_object_get (json_object_get (json_object_get (ev, "content"),
                                                   "ciphertext"),
                                  crypto->curve25519) != NULL)
            pa_crypto_repair_olm (crypto, sender,
                                  jstr (json_object_get (ev, "content"), "sender_key"));
          continue;
        }
      inner = jstr (payload, "type");
      if (strcmp (inner, "m.room_key") == 0)
        {
          if (!add_room_key (crypto, payload, &local))
            {
              g_message ("ignoring m.room_key from %s: %s", sender, local->message);
              continue;
            }
        }
      else if (strcmp (inner, "m.forwarded_room_key") == 0)
        {
          if (!pa_crypto_accept_forwarded_key (crypto, payload, &local))
            {
              g_message ("ignoring m.forwarded_room_key from %s: %s", sender, local->message);
              continue;
            }
        }
      json_array_append_new (out, json_pack ("{s:s, s:s, s:O, s:O}", "type", inner, "sender",
                                             sender, "sender_key",
                                             json_object_get (payload, "sender_key"), "content",
                                             json_object_get (payload, "content")));
    }
  return g_steal_pointer (&out);
}

/* ----------------------------------------------------- megolm outbound */

/* A new outbound session for `room_id`, also kept as an inbound session
 * so our own (ghost-sent) messages decrypt like anyone else's. */
static PaCryptoOutbound *
outbound_create (PaCrypto *crypto, const char *room_id, GError **error)
{
  g_autoptr (PaOlmOutboundGroup) g = pa_olm_outbound_group_new (error);
  g_autoptr (PaOlmInboundGroup) in = NULL;
  g_autoptr (PaCryptoOutbound) o = NULL;
  char *key;

  if (g == NULL)
    return NULL;
  key = pa_olm_outbound_group_key (g, error);
  if (key == NULL)
    return NULL;
  in = pa_olm_inbound_group_new (key, error);
  explicit_bzero (key, strlen (key));
  g_free (key);
  o = g_new0 (PaCryptoOutbound, 1);
  o->room_id = g_strdup (room_id);
  o->session_id = pa_olm_outbound_group_id (g, error);
  o->pickle = o->session_id != NULL
                  ? pa_olm_outbound_group_pickle (g, crypto->pickle_key, crypto->pickle_key_len,
                                                  error)
                  : NULL;
  o->created_at = pa_now_ms ();
  if (in == NULL || o->pickle == NULL)
    return NULL;
  if (!pa_crypto_store_begin (crypto->store, error))
    return NULL;
  if (!tx_end (crypto,
               pa_crypto_store_delete_outbound (crypto->store, room_id, error)
                   && pa_crypto_store_save_outbound (crypto->store, o, error)
                   && save_inbound (crypto, room_id, crypto->curve25519, crypto->ed25519, in,
                                    error),
               error))
    return NULL;
  g_debug ("new megolm session %s for %s", o->session_id, room_id);
  return g_steal_pointer (&o);
}

/* The room's current outbound session, rotated when due. */
static PaCryptoOutbound *
outbound_current (PaCrypto *crypto, const char *room_id, GError **error)
{
  GError *local = NULL;
  PaCryptoOutbound *o = pa_crypto_store_get_outbound (crypto->store, room_id, &local);

  if (local != NULL)
    {
      g_propagate_error (error, local);
      return NULL;
    }
  if (o != NULL && o->message_count < PA_CRYPTO_ROTATION_MESSAGES
      && pa_now_ms () - o->created_at < PA_CRYPTO_ROTATION_MS)
    return o;
  pa_crypto_outbound_free (o);
  return outbound_create (crypto, room_id, error);
}

char *
pa_crypto_outbound_session_id (PaCrypto *crypto, const char *room_id)
{
  g_autoptr (PaCryptoOutbound) o = pa_crypto_store_get_outbound (crypto->store, room_id, NULL);

  return o != NULL ? g_steal_pointer (&o->session_id) : NULL;
}

void
pa_crypto_set_blocked (PaCrypto *crypto, const char *user_id, gboolean blocked)
{
  g_return_if_fail (crypto != NULL && user_id != NULL);
  if (blocked == g_hash_table_contains (crypto->blocked, user_id))
    return;
  if (blocked)
    g_hash_table_add (crypto->blocked, g_strdup (user_id));
  else
    {
      /* Unblocked: the current sessions may be given again. */
      g_autofree char *part = g_strdup_printf ("\x1f%s\x1f", user_id);
      GHashTableIter it;
      gpointer key;

      g_hash_table_remove (crypto->blocked, user_id);
      g_hash_table_iter_init (&it, crypto->withheld);
      while (g_hash_table_iter_next (&it, &key, NULL))
        if (strstr (key, part) != NULL)
          g_hash_table_iter_remove (&it);
    }
  crypto->device_epoch++;
}

char *
pa_crypto_current_session_id (PaCrypto *crypto, const char *room_id, GError **error)
{
  g_autoptr (PaCryptoOutbound) o = outbound_current (crypto, room_id, error);

  return o != NULL ? g_steal_pointer (&o->session_id) : NULL;
}

gboolean
pa_crypto_room_changed (PaCrypto *crypto, const char *room_id, GError **error)
{
  g_return_val_if_fail (crypto != NULL && room_id != NULL, FALSE);
  g_hash_table_remove (crypto->shared_ok, room_id);
  return pa_crypto_store_delete_outbound (crypto->store, room_id, error);
}

json_t *
pa_crypto_group_encrypt (PaCrypto *crypto, const char *room_id, const char *type,
                         json_t *content, GError **error)
{
  g_autoptr (PaCryptoOutbound) o = NULL;
  g_autoptr (PaOlmOutboundGroup) g = NULL;
  g_autoptr (json_t) payload = NULL, result = NULL;
  g_autofree char *text = NULL, *ct = NULL, *pickle = NULL;
  json_t *relates;

  g_return_val_if_fail (crypto != NULL && room_id != NULL && type != NULL, NULL);
  if (!json_is_object (content))
    return bad_json (error, "event content");
  o = outbound_current (crypto, room_id, error);
  if (o == NULL)
    return NULL;
  g = pa_olm_outbound_group_unpickle (o->pickle, crypto->pickle_key, crypto->pickle_key_len,
                                      error);
  if (g == NULL)
    return NULL;
  /* room_id inside the ciphertext binds it to this room: a server cannot
   * replay it into another one. */
  payload = json_pack ("{s:s, s:O, s:s}", "type", type, "content", content, "room_id", room_id);
  text = payload != NULL ? json_dumps (payload, JSON_COMPACT) : NULL;
  if (text == NULL)
    return bad_json (error, "event content");
  ct = pa_olm_outbound_group_encrypt (g, text, strlen (text), error);
  explicit_bzero (text, strlen (text));
  if (ct == NULL)
    return NULL;
  pickle = pa_olm_outbound_group_pickle (g, crypto->pickle_key, crypto->pickle_key_len, error);
  if (pickle == NULL)
    return NULL;
  g_free (o->pickle);
  o->pickle = g_steal_pointer (&pickle);
  o->message_count++;
  if (!pa_crypto_store_save_outbound (crypto->store, o, error))
    return NULL;
  result = json_pack ("{s:s, s:s, s:s, s:s, s:s}", "algorithm", PA_CRYPTO_MEGOLM_ALGORITHM,
                      "sender_key", crypto->curve25519, "ciphertext", ct, "session_id",
                      o->session_id, "device_id", crypto->device_id);
  /* Relations stay in clear so servers can aggregate them (spec: m.relates_to
   * of encrypted events is not encrypted). */
  relates = json_object_get (content, "m.relates_to");
  if (relates != NULL)
    json_object_set (result, "m.relates_to", relates);
  return g_steal_pointer (&result);
}

static gboolean
check_users (const char *const *user_ids, GError **error)
{
  if (user_ids == NULL || g_strv_length ((char **) user_ids) <= PA_CRYPTO_MAX_USERS)
    return TRUE;
  g_set_error (error, PA_ERROR, PA_ERROR_TOO_LARGE, "more than %d users", PA_CRYPTO_MAX_USERS);
  return FALSE;
}

/* map[user] as an object (for messages) or an array (for device lists). */
static json_t *
map_user (json_t *map, const char *user_id, gboolean array)
{
  json_t *per_user = json_object_get (map, user_id);

  if (per_user == NULL)
    {
      per_user = array ? json_array () : json_object ();
      json_object_set_new (map, user_id, per_user);
    }
  return per_user;
}

json_t *
pa_crypto_room_key_payload (PaCrypto *crypto, const char *room_id, const char *const *user_ids,
                            json_t **need_session, GError **error)
{
  return pa_crypto_room_key_build (crypto, room_id, user_ids, TRUE, need_session, NULL, error);
}

json_t *
pa_crypto_room_key_build (PaCrypto *crypto, const char *room_id, const char *const *user_ids,
                          gboolean encrypt, json_t **need_session, json_t **withheld,
                          GError **error)
{
  g_autoptr (PaCryptoOutbound) o = NULL;
  g_autoptr (PaOlmOutboundGroup) g = NULL;
  g_autoptr (json_t) messages = json_object (), need = json_object (), content = NULL;
  g_autoptr (json_t) refused = json_object ();
  char *key;

  g_return_val_if_fail (crypto != NULL && room_id != NULL, NULL);
  if (!check_users (user_ids, error))
    return NULL;
  o = outbound_current (crypto, room_id, error);
  if (o == NULL)
    return NULL;
  g = pa_olm_outbound_group_unpickle (o->pickle, crypto->pickle_key, crypto->pickle_key_len,
                                      error);
  if (g == NULL)
    return NULL;
  key = pa_olm_outbound_group_key (g, error);
  if (key == NULL)
    return NULL;
  content = json_pack ("{s:s, s:s, s:s, s:s}", "algorithm", PA_CRYPTO_MEGOLM_ALGORITHM,
                       "room_id", room_id, "session_id", o->session_id, "session_key", key);
  explicit_bzero (key, strlen (key));
  g_free (key);
  for (guint u = 0; user_ids != NULL && user_ids[u] != NULL; u++)
    {
      g_autoptr (GPtrArray) devices = pa_crypto_store_list_devices (crypto->store, user_ids[u],
                                                                    error);
      if (devices == NULL)
        return NULL;
      for (guint i = 0; i < devices->len && i < PA_CRYPTO_MAX_DEVICES_PER_USER; i++)
        {
          PaCryptoDevice *d = g_ptr_array_index (devices, i);
          g_autoptr (GPtrArray) sessions = NULL;
          gboolean shared = FALSE;
          json_t *enc;

          g_autofree char *wkey = NULL;

          if (d->deleted
              || (strcmp (d->user_id, crypto->user_id) == 0
                  && strcmp (d->device_id, crypto->device_id) == 0))
            continue;
          /* Already told why it gets nothing from this session. */
          wkey = g_strjoin ("\x1f", o->session_id, d->user_id, d->device_id, NULL);
          if (g_hash_table_contains (crypto->withheld, wkey))
            continue;
          if (!d->verified || g_hash_table_contains (crypto->blocked, d->user_id))
            {
              json_object_set_new (map_user (refused, d->user_id, FALSE), d->device_id,
                                   json_string (d->verified ? "m.blacklisted" : "m.unverified"));
              continue;
            }
          if (!pa_crypto_store_outbound_is_shared (crypto->store, room_id, o->session_id,
                                                   d->user_id, d->device_id, &shared, error))
            return NULL;
          if (shared)
            continue;
          sessions = pa_crypto_store_olm_sessions (crypto->store, d->curve25519, 1, error);
          if (sessions == NULL)
            return NULL;
          if (sessions->len == 0 || !encrypt)
            {
              if (sessions->len > 0)
                continue;
              json_array_append_new (map_user (need, d->user_id, TRUE), json_string (d->device_id));
              /* After the claim: no one-time key was to be had. */
              if (encrypt)
                json_object_set_new (map_user (refused, d->user_id, FALSE), d->device_id,
                                     json_string ("m.no_olm"));
              continue;
            }
          enc = olm_encrypt_to (crypto, d, "m.room_key", content, error);
          if (enc == NULL)
            return NULL;
          json_object_set_new (map_user (messages, d->user_id, FALSE), d->device_id, enc);
        }
    }
  /* The session key must not linger in freed heap memory. */
  {
    json_t *k = json_object_get (content, "session_key");
    char *ks = (char *) json_string_value (k);

    explicit_bzero (ks, strlen (ks));
  }
  if (need_session != NULL)
    *need_session = g_steal_pointer (&need);
  if (withheld != NULL)
    *withheld = json_object_size (refused) > 0
                    ? pa_crypto_withheld_messages (crypto, room_id, o->session_id, refused)
                    : NULL;
  return json_pack ("{s:O}", "messages", messages);
}

json_t *
pa_crypto_withheld_messages (PaCrypto *crypto, const char *room_id, const char *session_id,
                             json_t *codes)
{
  json_t *messages = json_object ();
  const char *user_id, *device_id;
  json_t *devices, *code;

  json_object_foreach (codes, user_id, devices)
    json_object_foreach (devices, device_id, code)
      {
        g_autoptr (json_t) request = json_pack ("{s:{s:s, s:s}}", "body", "room_id", room_id,
                                                "session_id", session_id);
        json_object_set_new (map_user (messages, user_id, FALSE), device_id,
                             pa_crypto_withheld_content (crypto, request,
                                                         json_string_value (code)));
      }
  return messages;
}

void
pa_crypto_withheld_sent (PaCrypto *crypto, json_t *messages)
{
  const char *user_id, *device_id;
  json_t *devices, *content;

  json_object_foreach (messages, user_id, devices)
    json_object_foreach (devices, device_id, content)
      {
        if (g_hash_table_size (crypto->withheld) >= 100000)
          g_hash_table_remove_all (crypto->withheld);
        g_hash_table_add (crypto->withheld,
                          g_strjoin ("\x1f", json_string_value (json_object_get (content,
                                                                                  "session_id")),
                                     user_id, device_id, NULL));
      }
}

gboolean
pa_crypto_room_key_sent (PaCrypto *crypto, const char *room_id, json_t *payload,
                         GError **error)
{
  g_autoptr (PaCryptoOutbound) o = NULL;
  GError *local = NULL;
  const char *user_id, *device_id;
  json_t *per_user, *v;
  gboolean ok = TRUE;

  o = pa_crypto_store_get_outbound (crypto->store, room_id, &local);
  if (local != NULL)
    {
      g_propagate_error (error, local);
      return FALSE;
    }
  if (o == NULL)
    return TRUE; /* rotated away meanwhile: nothing to record */
  if (!pa_crypto_store_begin (crypto->store, error))
    return FALSE;
  json_object_foreach (json_object_get (payload, "messages"), user_id, per_user)
    {
      json_object_foreach (per_user, device_id, v)
        {
          if (ok)
            ok = pa_crypto_store_mark_outbound_shared (crypto->store, room_id, o->session_id,
                                                       user_id, device_id, error);
        }
    }
  return tx_end (crypto, ok, error);
}

/* -------------------------------------------------------- megolm decrypt */

json_t *
pa_crypto_decrypt (PaCrypto *crypto, json_t *event, GError **error)
{
  json_t *content = json_object_get (event, "content");
  const char *room_id = jstr (event, "room_id"), *sender = jstr (event, "sender");
  const char *event_id = jstr (event, "event_id");
  const char *sender_key = jstr (content, "sender_key");
  const char *session_id = jstr (content, "session_id");
  const char *ciphertext = jstr (content, "ciphertext");
  g_autofree char *pickle = NULL, *sender_ed = NULL;
  g_autoptr (PaOlmInboundGroup) g = NULL;
  g_autoptr (json_t) payload = NULL, out = NULL;
  g_autoptr (PaCryptoDevice) dev = NULL;
  GError *local = NULL;
  json_t *inner, *relates;
  gboolean verified;
  guint32 index = 0;
  gsize len = 0;
  char *plain;

  g_return_val_if_fail (crypto != NULL, NULL);
  if (g_strcmp0 (jstr (event, "type"), "m.room.encrypted") != 0 || room_id == NULL
      || sender == NULL || event_id == NULL || sender_key == NULL || session_id == NULL
      || ciphertext == NULL)
    return bad_json (error, "encrypted event");
  if (g_strcmp0 (jstr (content, "algorithm"), PA_CRYPTO_MEGOLM_ALGORITHM) != 0)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_FAILED, "unsupported algorithm %s",
                   jstr (content, "algorithm"));
      return NULL;
    }
  if (strlen (ciphertext) > PA_CRYPTO_MAX_CIPHERTEXT)
    {
      g_set_error_literal (error, PA_ERROR, PA_ERROR_TOO_LARGE, "megolm ciphertext too large");
      return NULL;
    }
  pickle = pa_crypto_store_get_inbound (crypto->store, room_id, sender_key, session_id,
                                        &sender_ed, NULL, &local);
  if (local != NULL)
    {
      g_propagate_error (error, local);
      return NULL;
    }
  if (pickle == NULL)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_NOT_FOUND, "unknown megolm session %s in %s",
                   session_id, room_id);
      return NULL;
    }
  g = pa_olm_inbound_group_unpickle (pickle, crypto->pickle_key, crypto->pickle_key_len, error);
  if (g == NULL)
    return NULL;
  plain = pa_olm_inbound_group_decrypt (g, ciphertext, &len, &index, error);
  if (plain == NULL)
    return NULL;
  payload = json_loadb (plain, len, JSON_REJECT_DUPLICATES, NULL);
  explicit_bzero (plain, len);
  g_free (plain);
  inner = json_object_get (payload, "content");
  if (!json_is_object (payload) || jstr (payload, "type") == NULL || !json_is_object (inner))
    return bad_json (error, "megolm payload");
  if (g_strcmp0 (jstr (payload, "room_id"), room_id) != 0)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_PERMISSION,
                   "megolm payload is bound to room %s, not %s", jstr (payload, "room_id"),
                   room_id);
      return NULL;
    }
  if (strcmp (sender_key, crypto->curve25519) == 0)
    verified = TRUE; /* our own session, sent by one of our ghosts */
  else
    {
      dev = pa_crypto_store_get_device_by_curve (crypto->store, sender_key, &local);
      if (local != NULL)
        {
          g_propagate_error (error, local);
          return NULL;
        }
      if (dev != NULL && strcmp (dev->user_id, sender) != 0)
        {
          g_set_error (error, PA_ERROR, PA_ERROR_PERMISSION,
                       "megolm sender key belongs to %s, not the sender %s", dev->user_id,
                       sender);
          return NULL;
        }
      verified = dev != NULL && !dev->deleted && dev->verified
                 && g_strcmp0 (dev->ed25519, sender_ed) == 0;
    }
  if (!pa_crypto_store_check_index (crypto->store, session_id, index, event_id,
                                    (gint64) json_integer_value (
                                        json_object_get (event, "origin_server_ts")),
                                    error))
    return NULL;
  out = json_deep_copy (event);
  json_object_set (out, "type", json_object_get (payload, "type"));
  relates = json_object_get (content, "m.relates_to");
  if (relates != NULL && json_object_get (inner, "m.relates_to") == NULL)
    json_object_set (inner, "m.relates_to", relates);
  json_object_set (out, "content", inner);
  json_object_set_new (out, "pa_encryption",
                       json_pack ("{s:s, s:s, s:I, s:b}", "sender_key", sender_key, "session_id",
                                  session_id, "message_index", (json_int_t) index, "verified",
                                  verified));
  return g_steal_pointer (&out);
}
