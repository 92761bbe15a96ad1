/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Room key requests both ways.
 *   - Ours: an event of a session we never received makes the bridge ask
 *     the sender's devices (m.room_key_request); only an
 *     m.forwarded_room_key answering such a request is accepted, from the
 *     user who was asked.
 *   - Theirs: a member's device asking for one of our sessions gets it
 *     only if that device was given the session when it was shared (so a
 *     newcomer never reads what was said before they joined) and its user
 *     is still in the room; otherwise the caller answers with an
 *     m.room_key.withheld (pa_crypto_withheld_content()).
 * Calls only pa-crypto-inbound.c (to keep a forwarded session). */
#define G_LOG_DOMAIN "passerelle-crypto"

#include "pa-crypto-requests.h"

#include <string.h>

#include "pa-crypto-inbound.h"

/* Our outstanding requests are few; a flood of bad events must not grow them. */
#define MAX_REQUESTS 1000

static char *
request_key (const char *room_id, const char *sender_key, const char *session_id)
{
  return g_strjoin ("\x1f", room_id, sender_key, session_id, NULL);
}

/* The m.room_key_request content for `event`'s session: a new one (NULL
 * when that session was already asked for), or with `again` the same
 * session asked once more under a new request id (NULL when it never was). */
static json_t *
key_request (PaCrypto *crypto, json_t *event, gboolean again, GError **error)
{
  json_t *content = json_object_get (event, "content");
  const char *room_id = pa_crypto_jstr (event, "room_id"),
             *sender = pa_crypto_jstr (event, "sender");
  const char *sender_key = pa_crypto_jstr (content, "sender_key");
  const char *session_id = pa_crypto_jstr (content, "session_id");
  g_autofree char *key = NULL, *request_id = NULL;

  g_return_val_if_fail (crypto != NULL, NULL);
  if (g_strcmp0 (pa_crypto_jstr (content, "algorithm"), PA_CRYPTO_MEGOLM_ALGORITHM) != 0
      || room_id == NULL || sender == NULL || sender_key == NULL || session_id == NULL)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_JSON, "not a megolm event");
      return NULL;
    }
  key = request_key (room_id, sender_key, session_id);
  if (g_hash_table_contains (crypto->requests, key) != again)
    return NULL;
  if (!again)
    {
      if (g_hash_table_size (crypto->requests) >= MAX_REQUESTS)
        g_hash_table_remove_all (crypto->requests);
      g_hash_table_insert (crypto->requests, g_steal_pointer (&key), g_strdup (sender));
    }
  request_id = pa_random_token (12);
  return json_pack ("{s:s, s:{s:s, s:s, s:s, s:s}, s:s, s:s}", "action", "request", "body",
                    "algorithm", PA_CRYPTO_MEGOLM_ALGORITHM, "room_id", room_id, "sender_key",
                    sender_key, "session_id", session_id, "request_id", request_id,
                    "requesting_device_id", crypto->device_id);
}

json_t *
pa_crypto_key_request (PaCrypto *crypto, json_t *event, GError **error)
{
  return key_request (crypto, event, FALSE, error);
}

json_t *
pa_crypto_key_request_again (PaCrypto *crypto, json_t *event, GError **error)
{
  return key_request (crypto, event, TRUE, error);
}

gboolean
pa_crypto_accept_forwarded_key (PaCrypto *crypto, json_t *payload, GError **error)
{
  json_t *content = json_object_get (payload, "content");
  const char *room_id = pa_crypto_jstr (content, "room_id"),
             *sender_key = pa_crypto_jstr (content, "sender_key");
  const char *session_id = pa_crypto_jstr (content, "session_id");
  const char *session_key = pa_crypto_jstr (content, "session_key");
  const char *claimed_ed = pa_crypto_jstr (content, "sender_claimed_ed25519_key");
  g_autofree char *key = NULL;
  const char *asked;

  if (g_strcmp0 (pa_crypto_jstr (content, "algorithm"), PA_CRYPTO_MEGOLM_ALGORITHM) != 0
      || room_id == NULL || sender_key == NULL || session_id == NULL || session_key == NULL)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_JSON, "malformed m.forwarded_room_key");
      return FALSE;
    }
  key = request_key (room_id, sender_key, session_id);
  asked = g_hash_table_lookup (crypto->requests, key);
  /* Olm authenticated the forwarder as payload "sender" (checked against
   * the event's sender): it must be the user we asked. */
  if (asked == NULL || g_strcmp0 (asked, pa_crypto_jstr (payload, "sender")) != 0)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_PERMISSION, "not an answer to a request of ours");
      return FALSE;
    }
  if (!pa_crypto_keep_inbound (crypto, room_id, sender_key, claimed_ed, session_id, session_key,
                               TRUE, error))
    return FALSE;
  g_hash_table_remove (crypto->requests, key);
  g_info ("received forwarded megolm session %s for %s from %s", session_id, room_id,
          pa_crypto_jstr (payload, "sender"));
  return TRUE;
}

json_t *
pa_crypto_forwarded_key (PaCrypto *crypto, const char *user_id, json_t *request,
                         gboolean user_is_member, const char **withheld_code, GError **error)
{
  json_t *body = json_object_get (request, "body");
  const char *room_id = pa_crypto_jstr (body, "room_id"),
             *session_id = pa_crypto_jstr (body, "session_id");
  const char *device_id = pa_crypto_jstr (request, "requesting_device_id");
  g_autofree char *pickle = NULL, *exported = NULL;
  g_autoptr (PaOlmInboundGroup) g = NULL;
  gboolean shared = FALSE;
  GError *local = NULL;

  g_return_val_if_fail (crypto != NULL && withheld_code != NULL, NULL);
  *withheld_code = NULL;
  if (g_strcmp0 (pa_crypto_jstr (request, "action"), "request") != 0
      || g_strcmp0 (pa_crypto_jstr (body, "algorithm"), PA_CRYPTO_MEGOLM_ALGORITHM) != 0
      || room_id == NULL || session_id == NULL || device_id == NULL || user_id == NULL)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_JSON, "malformed m.room_key_request");
      return NULL;
    }
  /* Only the sessions this device created are ours to give. */
  if (g_strcmp0 (pa_crypto_jstr (body, "sender_key"), crypto->curve25519) != 0)
    return NULL;
  if (!pa_crypto_store_outbound_is_shared (crypto->store, room_id, session_id, user_id, device_id,
                                           &shared, error))
    return NULL;
  if (!shared || !user_is_member)
    {
      *withheld_code = "m.unauthorised";
      return NULL;
    }
  pickle = pa_crypto_store_get_inbound (crypto->store, room_id, crypto->curve25519, session_id,
                                        NULL, NULL, &local);
  if (local != NULL)
    {
      g_propagate_error (error, local);
      return NULL;
    }
  if (pickle == NULL)
    {
      *withheld_code = "m.unavailable";
      return NULL;
    }
  g = pa_olm_inbound_group_unpickle (pickle, crypto->pickle_key, crypto->pickle_key_len, error);
  explicit_bzero (pickle, strlen (pickle));
  if (g == NULL)
    return NULL;
  exported = pa_olm_inbound_group_export (g, pa_olm_inbound_group_first_known_index (g), error);
  if (exported == NULL)
    return NULL;
  json_t *fwd = json_pack (
      "{s:s, s:s, s:s, s:s, s:s, s:s, s:[]}", "algorithm", PA_CRYPTO_MEGOLM_ALGORITHM, "room_id",
      room_id, "sender_key", crypto->curve25519, "session_id", session_id, "session_key", exported,
      "sender_claimed_ed25519_key", crypto->ed25519, "forwarding_curve25519_key_chain");
  explicit_bzero (exported, strlen (exported));
  return fwd;
}
