/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Outbound Megolm sessions, one per encrypted room: creation (also kept
 * as an inbound session, so our ghosts' messages decrypt like anyone
 * else's), rotation, encryption, and the m.room_key payloads that share a
 * session with the devices of the room's members.  The sharing policy is
 * here too: which devices get the key, and the m.room_key.withheld notice
 * the others get instead (once per session), including for the blocked
 * users.  Calls pa-crypto-olm-sessions.c, pa-crypto-inbound.c and
 * pa-crypto-account.c. */
#define G_LOG_DOMAIN "passerelle-crypto"

#include "pa-crypto-outbound.h"

#include <string.h>

#include "pa-crypto-account.h"
#include "pa-crypto-inbound.h"
#include "pa-crypto-olm-sessions.h"

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
  o->pickle = o->session_id != NULL ? pa_olm_outbound_group_pickle (g, crypto->pickle_key,
                                                                    crypto->pickle_key_len, error)
                                    : NULL;
  o->created_at = pa_now_ms ();
  if (in == NULL || o->pickle == NULL)
    return NULL;
  if (!pa_crypto_store_begin (crypto->store, error))
    return NULL;
  if (!pa_crypto_tx_end (
          crypto,
          pa_crypto_store_delete_outbound (crypto->store, crypto->user_id, room_id, error)
              && pa_crypto_store_save_outbound (crypto->store, crypto->user_id, o, error)
              && pa_crypto_inbound_save (crypto, room_id, crypto->curve25519, crypto->ed25519, in,
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
  PaCryptoOutbound *o
      = pa_crypto_store_get_outbound (crypto->store, crypto->user_id, room_id, &local);

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
  g_autoptr (PaCryptoOutbound) o
      = pa_crypto_store_get_outbound (crypto->store, crypto->user_id, room_id, NULL);

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
  pa_crypto_store_bump_device_epoch (crypto->store);
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
  /* Every identity's session in the room: a membership change concerns
   * what the bot and each ghost sends there alike. */
  return pa_crypto_store_delete_outbound (crypto->store, NULL, room_id, error);
}

json_t *
pa_crypto_group_encrypt (PaCrypto *crypto, const char *room_id, const char *type, json_t *content,
                         GError **error)
{
  g_autoptr (PaCryptoOutbound) o = NULL;
  g_autoptr (PaOlmOutboundGroup) g = NULL;
  g_autoptr (json_t) payload = NULL, result = NULL;
  g_autofree char *text = NULL, *ct = NULL, *pickle = NULL;
  json_t *relates;

  g_return_val_if_fail (crypto != NULL && room_id != NULL && type != NULL, NULL);
  if (!json_is_object (content))
    return pa_crypto_bad_json (error, "event content");
  o = outbound_current (crypto, room_id, error);
  if (o == NULL)
    return NULL;
  g = pa_olm_outbound_group_unpickle (o->pickle, crypto->pickle_key, crypto->pickle_key_len, error);
  if (g == NULL)
    return NULL;
  /* room_id inside the ciphertext binds it to this room: a server cannot
   * replay it into another one. */
  payload = json_pack ("{s:s, s:O, s:s}", "type", type, "content", content, "room_id", room_id);
  text = payload != NULL ? json_dumps (payload, JSON_COMPACT) : NULL;
  if (text == NULL)
    return pa_crypto_bad_json (error, "event content");
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
  if (!pa_crypto_store_save_outbound (crypto->store, crypto->user_id, o, error))
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
  g = pa_olm_outbound_group_unpickle (o->pickle, crypto->pickle_key, crypto->pickle_key_len, error);
  if (g == NULL)
    return NULL;
  key = pa_olm_outbound_group_key (g, error);
  if (key == NULL)
    return NULL;
  content = json_pack ("{s:s, s:s, s:s, s:s}", "algorithm", PA_CRYPTO_MEGOLM_ALGORITHM, "room_id",
                       room_id, "session_id", o->session_id, "session_key", key);
  explicit_bzero (key, strlen (key));
  g_free (key);
  for (guint u = 0; user_ids != NULL && user_ids[u] != NULL; u++)
    {
      g_autoptr (GPtrArray) devices
          = pa_crypto_store_list_devices (crypto->store, user_ids[u], error);
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
          sessions = pa_crypto_store_olm_sessions (crypto->store, crypto->user_id, d->curve25519, 1,
                                                   error);
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
          enc = pa_crypto_olm_encrypt_to (crypto, d, "m.room_key", content, error);
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

  json_object_foreach (codes, user_id, devices) json_object_foreach (devices, device_id, code)
  {
    g_autoptr (json_t) request
        = json_pack ("{s:{s:s, s:s}}", "body", "room_id", room_id, "session_id", session_id);
    json_object_set_new (map_user (messages, user_id, FALSE), device_id,
                         pa_crypto_withheld_content (crypto, request, json_string_value (code)));
  }
  return messages;
}

void
pa_crypto_withheld_sent (PaCrypto *crypto, json_t *messages)
{
  const char *user_id, *device_id;
  json_t *devices, *content;

  json_object_foreach (messages, user_id, devices) json_object_foreach (devices, device_id, content)
  {
    if (g_hash_table_size (crypto->withheld) >= 100000)
      g_hash_table_remove_all (crypto->withheld);
    g_hash_table_add (crypto->withheld,
                      g_strjoin ("\x1f",
                                 json_string_value (json_object_get (content, "session_id")),
                                 user_id, device_id, NULL));
  }
}

gboolean
pa_crypto_room_key_sent (PaCrypto *crypto, const char *room_id, json_t *payload, GError **error)
{
  g_autoptr (PaCryptoOutbound) o = NULL;
  GError *local = NULL;
  const char *user_id, *device_id;
  json_t *per_user, *v;
  gboolean ok = TRUE;

  o = pa_crypto_store_get_outbound (crypto->store, crypto->user_id, room_id, &local);
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
        ok = pa_crypto_store_mark_outbound_shared (crypto->store, room_id, o->session_id, user_id,
                                                   device_id, error);
    }
  }
  return pa_crypto_tx_end (crypto, ok, error);
}

json_t *
pa_crypto_withheld_content (PaCrypto *crypto, json_t *request, const char *code)
{
  json_t *body = json_object_get (request, "body");
  static const struct
  {
    const char *code, *reason;
  } reasons[] = {
    { "m.unauthorised", "You are not allowed to read this session (not shared with this "
                        "device, or no longer in the room)." },
    { "m.unavailable", "The bridge no longer has this session." },
    { "m.unverified", "Your device keys could not be verified." },
    { "m.no_olm", "No one-time key to open an encrypted channel to your device." },
    { "m.blacklisted", "This bridge does not serve your account." },
  };
  const char *reason = NULL;
  for (guint i = 0; i < G_N_ELEMENTS (reasons); i++)
    if (g_strcmp0 (code, reasons[i].code) == 0)
      reason = reasons[i].reason;
  return json_pack ("{s:s, s:s?, s:s?, s:s, s:s, s:s?, s:s}", "algorithm",
                    PA_CRYPTO_MEGOLM_ALGORITHM, "room_id", pa_crypto_jstr (body, "room_id"),
                    "session_id", pa_crypto_jstr (body, "session_id"), "sender_key",
                    crypto->curve25519, "code", code, "reason", reason, "from_device",
                    crypto->device_id);
}
