/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* To-device dispatch: the events of /sync's to_device section.  Olm
 * messages are decrypted and routed (m.room_key to the inbound sessions,
 * m.forwarded_room_key to the key requests), a message that no session
 * decrypts starts a repair, m.room_key.withheld is logged, and clear key
 * requests are handed back to the caller, who knows the room members.
 * Calls pa-crypto-repair.c, pa-crypto-requests.c,
 * pa-crypto-olm-sessions.c (public part) and pa-crypto-inbound.c. */
#define G_LOG_DOMAIN "passerelle-crypto"

#include "pa-crypto-private.h"

#include <string.h>

#include "pa-crypto-inbound.h"
#include "pa-crypto-repair.h"
#include "pa-crypto-requests.h"

/* Stores the session of an m.room_key that arrived Olm-encrypted. */
static gboolean
add_room_key (PaCrypto *crypto, json_t *payload, GError **error)
{
  json_t *content = json_object_get (payload, "content");
  const char *room_id = pa_crypto_jstr (content, "room_id"),
             *session_id = pa_crypto_jstr (content, "session_id");
  const char *key = pa_crypto_jstr (content, "session_key"),
             *sender_key = pa_crypto_jstr (payload, "sender_key");
  const char *sender_ed = pa_crypto_jstr (json_object_get (payload, "keys"), "ed25519");

  if (g_strcmp0 (pa_crypto_jstr (content, "algorithm"), PA_CRYPTO_MEGOLM_ALGORITHM) != 0
      || room_id == NULL || session_id == NULL || key == NULL || sender_key == NULL)
    return pa_crypto_bad_input (error, "m.room_key");
  return pa_crypto_keep_inbound (crypto, room_id, sender_key, sender_ed, session_id, key, FALSE,
                                 error);
}

json_t *
pa_crypto_handle_to_device (PaCrypto *crypto, json_t *events, GError **error)
{
  g_autoptr (json_t) out = json_array ();
  gsize i;
  json_t *ev;

  g_return_val_if_fail (crypto != NULL, NULL);
  if (!json_is_array (events))
    return pa_crypto_bad_json (error, "to-device event list");
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
    const char *type = pa_crypto_jstr (ev, "type"), *sender = pa_crypto_jstr (ev, "sender");
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
                  pa_crypto_jstr (json_object_get (ev, "content"), "code"));
        /* Requests are answered by the caller, who knows the members. */
        if (strcmp (type, "m.room_key_request") == 0
            && json_is_object (json_object_get (ev, "content")))
          json_array_append_new (out, json_pack ("{s:s, s:s, s:O}", "type", type, "sender", sender,
                                                 "content", json_object_get (ev, "content")));
        continue;
      }
    payload = pa_crypto_olm_decrypt (crypto, ev, &local);
    if (payload == NULL)
      {
        g_message ("could not decrypt a to-device event from %s: %s", sender, local->message);
        /* A wedged session (not a forgery): start a new one. */
        if ((g_error_matches (local, PA_ERROR, PA_ERROR_NOT_FOUND)
             || g_error_matches (local, PA_ERROR, PA_ERROR_FAILED))
            && json_object_get (json_object_get (json_object_get (ev, "content"), "ciphertext"),
                                crypto->curve25519)
                   != NULL)
          pa_crypto_repair_olm (crypto, sender,
                                pa_crypto_jstr (json_object_get (ev, "content"), "sender_key"));
        continue;
      }
    inner = pa_crypto_jstr (payload, "type");
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
    json_array_append_new (out, json_pack ("{s:s, s:s, s:O, s:O}", "type", inner, "sender", sender,
                                           "sender_key", json_object_get (payload, "sender_key"),
                                           "content", json_object_get (payload, "content")));
  }
  return g_steal_pointer (&out);
}
