/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Inbound Megolm sessions and decrypting room events with them.  A
 * session is kept only if its key matches its id, and never replaces a
 * copy that decrypts more history (a lower first index); decryption
 * rejects replayed message indexes, a ciphertext bound to another room and
 * a sender key that belongs to another user.  Calls nothing else in
 * src/crypto but the store and pa-olm.c. */
#define G_LOG_DOMAIN "passerelle-crypto"

#include "pa-crypto-inbound.h"

#include <string.h>

gboolean
pa_crypto_inbound_save (PaCrypto *crypto, const char *room_id, const char *sender_key,
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

gboolean
pa_crypto_keep_inbound (PaCrypto *crypto, const char *room_id, const char *sender_key,
                        const char *sender_ed25519, const char *session_id, const char *session_key,
                        gboolean exported, GError **error)
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
  return pa_crypto_inbound_save (crypto, room_id, sender_key, sender_ed25519, g, error);
}

json_t *
pa_crypto_decrypt (PaCrypto *crypto, json_t *event, GError **error)
{
  json_t *content = json_object_get (event, "content");
  const char *room_id = pa_crypto_jstr (event, "room_id"),
             *sender = pa_crypto_jstr (event, "sender");
  const char *event_id = pa_crypto_jstr (event, "event_id");
  const char *sender_key = pa_crypto_jstr (content, "sender_key");
  const char *session_id = pa_crypto_jstr (content, "session_id");
  const char *ciphertext = pa_crypto_jstr (content, "ciphertext");
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
  if (g_strcmp0 (pa_crypto_jstr (event, "type"), "m.room.encrypted") != 0 || room_id == NULL
      || sender == NULL || event_id == NULL || sender_key == NULL || session_id == NULL
      || ciphertext == NULL)
    return pa_crypto_bad_json (error, "encrypted event");
  if (g_strcmp0 (pa_crypto_jstr (content, "algorithm"), PA_CRYPTO_MEGOLM_ALGORITHM) != 0)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_FAILED, "unsupported algorithm %s",
                   pa_crypto_jstr (content, "algorithm"));
      return NULL;
    }
  if (strlen (ciphertext) > PA_CRYPTO_MAX_CIPHERTEXT)
    {
      g_set_error_literal (error, PA_ERROR, PA_ERROR_TOO_LARGE, "megolm ciphertext too large");
      return NULL;
    }
  pickle = pa_crypto_store_get_inbound (crypto->store, room_id, sender_key, session_id, &sender_ed,
                                        NULL, &local);
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
  /* A "\u0000" in a text is valid JSON: decoded, and repaired by the
   * bridge's event check like in a clear event. */
  payload = json_loadb (plain, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, NULL);
  explicit_bzero (plain, len);
  g_free (plain);
  inner = json_object_get (payload, "content");
  if (!json_is_object (payload) || pa_crypto_jstr (payload, "type") == NULL
      || !json_is_object (inner))
    return pa_crypto_bad_json (error, "megolm payload");
  if (g_strcmp0 (pa_crypto_jstr (payload, "room_id"), room_id) != 0)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_PERMISSION,
                   "megolm payload is bound to room %s, not %s",
                   pa_crypto_jstr (payload, "room_id"), room_id);
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
                       "megolm sender key belongs to %s, not the sender %s", dev->user_id, sender);
          return NULL;
        }
      verified = dev != NULL && !dev->deleted && dev->verified
                 && g_strcmp0 (dev->ed25519, sender_ed) == 0;
    }
  if (!pa_crypto_store_check_index (
          crypto->store, session_id, index, event_id,
          (gint64) json_integer_value (json_object_get (event, "origin_server_ts")), error))
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
