/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Olm sessions with other devices: creating one from a claimed one-time
 * key, encrypting a to-device event with the newest session, and
 * decrypting one (with an existing session, or a new inbound one from a
 * pre-key message, which spends our one-time key).  The checks of the
 * decrypted payload (recipient, recipient keys, the sender key belongs to
 * the sender) live here, so no caller gets an unchecked payload.  Calls
 * pa-crypto-devices.c and pa-crypto-account.c. */
#define G_LOG_DOMAIN "passerelle-crypto"

#include "pa-crypto-olm-sessions.h"

#include <string.h>

#include "pa-crypto-account.h"
#include "pa-crypto-devices.h"

/* Olm sessions tried per sender key when a message arrives: a peer that
 * keeps creating sessions cannot make us try thousands. */
#define OLM_SESSIONS_TRIED 10

static gboolean
save_olm_session (PaCrypto *crypto, const char *their_key, PaOlmSession *s, GError **error)
{
  g_autofree char *id = pa_olm_session_id (s, error);
  g_autofree char *pickle = NULL;

  if (id == NULL)
    return FALSE;
  pickle = pa_olm_session_pickle (s, crypto->pickle_key, crypto->pickle_key_len, error);
  return pickle != NULL
         && pa_crypto_store_save_olm_session (crypto->store, crypto->user_id, their_key, id, pickle,
                                              error);
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
  d = pa_crypto_usable_device (crypto, user_id, device_id, error);
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
  otk = pa_crypto_jstr (key_obj, "key");
  if (otk == NULL)
    return pa_crypto_bad_input (error, "claimed one-time key");
  if (!pa_crypto_verify_json (key_obj, user_id, device_id, d->ed25519, error))
    return FALSE;
  s = pa_olm_session_new_outbound (crypto->account, d->curve25519, otk, error);
  return s != NULL && save_olm_session (crypto, d->curve25519, s, error);
}

json_t *
pa_crypto_olm_encrypt_to (PaCrypto *crypto, PaCryptoDevice *d, const char *type, json_t *content,
                          GError **error)
{
  g_autoptr (GPtrArray) pickles = NULL;
  g_autoptr (PaOlmSession) s = NULL;
  g_autoptr (json_t) payload = NULL;
  g_autofree char *text = NULL, *body = NULL;
  int msg_type = 0;

  pickles = pa_crypto_store_olm_sessions (crypto->store, crypto->user_id, d->curve25519, 1, error);
  if (pickles == NULL)
    return NULL;
  if (pickles->len == 0)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_NOT_FOUND, "no olm session with %s %s", d->user_id,
                   d->device_id);
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
    return pa_crypto_bad_json (error, "to-device content");
  text = json_dumps (payload, JSON_COMPACT);
  if (text == NULL)
    return pa_crypto_bad_json (error, "to-device content");
  body = pa_olm_session_encrypt (s, text, strlen (text), &msg_type, error);
  explicit_bzero (text, strlen (text));
  if (body == NULL || !save_olm_session (crypto, d->curve25519, s, error))
    return NULL;
  return json_pack ("{s:s, s:s, s:{s:{s:i, s:s}}}", "algorithm", PA_CRYPTO_OLM_ALGORITHM,
                    "sender_key", crypto->curve25519, "ciphertext", d->curve25519, "type", msg_type,
                    "body", body);
}

json_t *
pa_crypto_olm_encrypt (PaCrypto *crypto, const char *user_id, const char *device_id,
                       const char *type, json_t *content, GError **error)
{
  g_autoptr (PaCryptoDevice) d = NULL;

  g_return_val_if_fail (crypto != NULL && type != NULL && json_is_object (content), NULL);
  d = pa_crypto_usable_device (crypto, user_id, device_id, error);
  if (d == NULL)
    return NULL;
  return pa_crypto_olm_encrypt_to (crypto, d, type, content, error);
}

/* Decrypts with an existing session, or makes a new inbound one from a
 * pre-key message.  The plaintext is transfer full (wipe it). */
static char *
olm_decrypt_body (PaCrypto *crypto, const char *sender_key, int type, const char *body, gsize *len,
                  GError **error)
{
  g_autoptr (GPtrArray) pickles = NULL;
  g_autoptr (PaOlmSession) fresh = NULL;
  char *plain;
  gboolean ok;

  pickles = pa_crypto_store_olm_sessions (crypto->store, crypto->user_id, sender_key,
                                          OLM_SESSIONS_TRIED, error);
  if (pickles == NULL)
    return NULL;
  for (guint i = 0; i < pickles->len; i++)
    {
      g_autoptr (PaOlmSession) s = pa_olm_session_unpickle (
          g_ptr_array_index (pickles, i), crypto->pickle_key, crypto->pickle_key_len, error);
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
    ok = pa_crypto_tx_end (crypto,
                           pa_olm_account_remove_one_time_keys (crypto->account, fresh, error)
                               && save_olm_session (crypto, sender_key, fresh, error)
                               && pa_crypto_account_save (crypto, error),
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
  const char *sender = pa_crypto_jstr (event, "sender");
  json_t *content = json_object_get (event, "content");
  const char *sender_key = pa_crypto_jstr (content, "sender_key");
  json_t *mine = json_object_get (json_object_get (content, "ciphertext"), crypto->curve25519);
  const char *body = pa_crypto_jstr (mine, "body");
  json_t *type_j = json_object_get (mine, "type");
  g_autoptr (json_t) payload = NULL;
  g_autoptr (PaCryptoDevice) dev = NULL;
  GError *local = NULL;
  char *plain;
  gsize len = 0;
  json_int_t type;

  g_return_val_if_fail (crypto != NULL, NULL);
  if (sender == NULL || sender_key == NULL
      || g_strcmp0 (pa_crypto_jstr (content, "algorithm"), PA_CRYPTO_OLM_ALGORITHM) != 0)
    return pa_crypto_bad_json (error, "olm event");
  if (mine == NULL)
    {
      g_set_error_literal (error, PA_ERROR, PA_ERROR_NOT_FOUND,
                           "olm event has no ciphertext for our device");
      return NULL;
    }
  if (body == NULL || !json_is_integer (type_j))
    return pa_crypto_bad_json (error, "olm ciphertext");
  if (strlen (body) > PA_CRYPTO_MAX_CIPHERTEXT)
    {
      g_set_error_literal (error, PA_ERROR, PA_ERROR_TOO_LARGE, "olm ciphertext too large");
      return NULL;
    }
  type = json_integer_value (type_j);
  if (type != PA_OLM_MESSAGE_PREKEY && type != PA_OLM_MESSAGE_NORMAL)
    return pa_crypto_bad_json (error, "olm message type");
  plain = olm_decrypt_body (crypto, sender_key, (int) type, body, &len, error);
  if (plain == NULL)
    return NULL;
  payload = json_loadb (plain, len, JSON_REJECT_DUPLICATES, NULL);
  explicit_bzero (plain, len);
  g_free (plain);
  if (!json_is_object (payload) || pa_crypto_jstr (payload, "type") == NULL
      || !json_is_object (json_object_get (payload, "content")))
    return pa_crypto_bad_json (error, "olm payload");
  /* The spec's checks: the payload names us and the claimed sender, so a
   * message cannot be replayed to another device or pinned on someone. */
  if (g_strcmp0 (pa_crypto_jstr (payload, "sender"), sender) != 0
      || g_strcmp0 (pa_crypto_jstr (payload, "recipient"), crypto->user_id) != 0
      || g_strcmp0 (pa_crypto_jstr (json_object_get (payload, "recipient_keys"), "ed25519"),
                    crypto->ed25519)
             != 0)
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
          || g_strcmp0 (dev->ed25519, pa_crypto_jstr (json_object_get (payload, "keys"), "ed25519"))
                 != 0))
    {
      g_set_error (error, PA_ERROR, PA_ERROR_PERMISSION,
                   "olm sender key belongs to %s %s, not the claimed sender %s", dev->user_id,
                   dev->device_id, sender);
      return NULL;
    }
  json_object_set_new (payload, "sender_key", json_string (sender_key));
  return g_steal_pointer (&payload);
}
