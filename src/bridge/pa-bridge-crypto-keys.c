/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* End-to-bridge encryption, keys: the to-device messages, device list
 * changes and one-time key counts of the homeserver's transactions
 * (MSC2409, MSC3202: Synapse does not let an appservice's sender user
 * /sync); room key requests, ours (a session that never reached us) and
 * others' (answered or withheld by the crypto core's policy once the
 * requester's membership is checked); and events kept for a key that
 * comes late, bridged when it does through the caller's callback. */
#define G_LOG_DOMAIN "passerelle-bridge-crypto"

#include "pa-bridge-crypto-keys.h"

#include "pa-bridge-crypto-device.h"
#include "pa-bridge-crypto-ghosts.h"
#include "pa-ghost.h"
#include "pa-queue.h"

static const char *
str (json_t *o, const char *key)
{
  return json_string_value (json_object_get (o, key));
}

static gboolean
is_ours (PaBridge *b, const char *mxid)
{
  return pa_ghost_is_ours (b, mxid);
}

/* ------------------------------------------------ to-device, MSC2409 */

/* ------------------------------------------------------- late keys */

/* Events kept for a key that may still come (a forwarded one, a resent
 * one), beyond which the oldest are forgotten. */
#define MAX_LATE_EVENTS 500

static void
late_done (PaBridge *b)
{
}
void
pa_bridge_crypto_keep_for_late_key (PaBridgeCrypto *bc, json_t *ev)
{
  const char *session_id = str (json_object_get (ev, "content"), "session_id");
  if (session_id == NULL)
    return;
  if (bc->n_late >= MAX_LATE_EVENTS)
    {
      g_hash_table_remove_all (bc->late);
      bc->n_late = 0;
    }
  GPtrArray *list = g_hash_table_lookup (bc->late, session_id);
  if (list == NULL)
    {
      list = g_ptr_array_new_with_free_func ((GDestroyNotify)json_decref);
      g_hash_table_insert (bc->late, g_strdup (session_id), list);
    }
  g_ptr_array_add (list, json_incref (ev));
  bc->n_late++;
}
/* A room key arrived for a session whose events were given up on: they
 * are decrypted and bridged now, late rather than never. */
static void
late_key (PaBridgeCrypto *bc, const char *session_id, PaEventFunc handle)
{
  PaBridge *b = bc->bridge;
  gpointer stolen_key = NULL, stolen = NULL;
  if (session_id == NULL
      || !g_hash_table_steal_extended (bc->late, session_id, &stolen_key, &stolen))
    return;
  g_free (stolen_key);
  GPtrArray *list = stolen;
  bc->n_late -= MIN (bc->n_late, list->len);
  for (guint i = 0; i < list->len; i++)
    {
      json_t *ev = g_ptr_array_index (list, i);
      g_autoptr (GError) error = NULL;
      g_autoptr (json_t) clear = pa_crypto_decrypt (bc->crypto, ev, &error);
      if (clear == NULL)
        {
          g_message ("late key for %s: %s", str (ev, "event_id"), error->message);
          continue;
        }
      g_message ("late key: bridging %s", str (ev, "event_id"));
      if (str (ev, "sender"))
        g_hash_table_remove (bc->no_wait, str (ev, "sender"));
      pa_queue_notice (b, str (ev, "room_id"),
                       "✅ The key of your earlier message arrived: it is bridged now.");
      handle (b, clear, late_done);
    }
  g_ptr_array_unref (list);
}
typedef struct
{
  PaBridgeCrypto *bc;
  PaCrypto *crypto; /* the identity asked (the bot's or a ghost's device) */
  char *user_id;
  json_t *request;
} KeyRequest;
static void
key_request_free (KeyRequest *k)
{
  g_hash_table_remove (k->bc->key_requests, k);
  g_free (k->user_id);
  json_decref (k->request);
  g_free (k);
}
static void
key_answer_sent (PaCrypto *crypto, json_t *result, const GError *error, gpointer user_data)
{
  if (error)
    g_message ("answering a room key request: %s", error->message);
}
/* The requester's membership is known: the crypto core's policy decides
 * between the key and a withheld notice. */
static void
key_request_members_cb (PaMatrix *mx, const PaMatrixResponse *resp, gpointer user_data)
{
  KeyRequest *k = user_data;
  PaCrypto *crypto = k->crypto;
  json_t *joined = json_object_get (resp->body, "joined");
  gboolean member = pa_matrix_response_ok (resp) && json_object_get (joined, k->user_id) != NULL;
  const char *device = str (k->request, "requesting_device_id");
  const char *code = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (json_t) fwd
      = pa_crypto_forwarded_key (crypto, k->user_id, k->request, member, &code, &error);
  if (fwd)
    {
      g_message ("forwarding room key %s to %s %s",
                 str (json_object_get (k->request, "body"), "session_id"), k->user_id, device);
      pa_crypto_send_olm (crypto, k->user_id, device, NULL, FALSE, "m.forwarded_room_key", fwd,
                          key_answer_sent, NULL);
    }
  else if (code)
    {
      g_message ("withholding room key %s from %s %s: %s",
                 str (json_object_get (k->request, "body"), "session_id"), k->user_id, device,
                 code);
      g_autoptr (json_t) content = pa_crypto_withheld_content (crypto, k->request, code);
      g_autoptr (json_t) messages = json_pack ("{s:{s:O}}", k->user_id, device, content);
      pa_crypto_send_to_device (crypto, "m.room_key.withheld", messages, key_answer_sent, NULL);
    }
  else if (error)
    g_message ("room key request from %s: %s", k->user_id, error->message);
  key_request_free (k);
}
/* An m.room_key_request from a Matrix user's device to one of our
 * identities: only that identity's own sessions are considered, and only
 * after checking the user is still in the room (each identity sends only
 * into rooms its user is in). */
static void
answer_key_request (PaBridgeCrypto *bc, PaCrypto *crypto, const char *sender, json_t *request)
{
  json_t *body = json_object_get (request, "body");
  const char *room_id = str (body, "room_id");
  if (g_strcmp0 (str (request, "action"), "request") != 0 || room_id == NULL
      || str (request, "requesting_device_id") == NULL
      || g_strcmp0 (str (body, "sender_key"), pa_crypto_get_curve25519 (crypto)) != 0
      || is_ours (bc->bridge, sender) || g_hash_table_size (bc->key_requests) > 100)
    return;
  KeyRequest *k = g_new0 (KeyRequest, 1);
  k->bc = bc;
  k->crypto = crypto;
  k->user_id = g_strdup (sender);
  k->request = json_incref (request);
  g_hash_table_add (bc->key_requests, k);
  g_autofree char *er = pa_matrix_escape (room_id);
  g_autofree char *path = g_strdup_printf ("/_matrix/client/v3/rooms/%s/joined_members", er);
  PaMatrixRequest req = { .method = "GET",
                          .path = path,
                          .user_id = pa_crypto_get_user_id (crypto),
                          .max_attempts = 2 };
  pa_matrix_request (bc->bridge->mx, &req, key_request_members_cb, k);
}
/* Synapse refuses /sync to an appservice's own sender user, so the bot
 * device's to-device messages, device list changes and one-time key
 * counts come in the transactions (MSC2409, MSC3202).  Handled before the
 * transaction is acknowledged: a room key is stored before the events it
 * opens are processed, and a crash before the 200 gets it again. */
void
pa_bridge_crypto_txn (PaBridge *b, PaTxn *txn, PaEventFunc handle_late)
{
  PaBridgeCrypto *bc = b->crypto;
  if (bc == NULL)
    return;
  g_autoptr (GError) error = NULL;
  /* Each event goes to the identity it is addressed to: the bot's device
   * or a ghost's.  Other devices of our users' namespace are not ours. */
  g_autoptr (GHashTable) per_identity = g_hash_table_new_full (
      g_direct_hash, g_direct_equal, NULL, (GDestroyNotify)json_decref);
  GPtrArray *order = g_ptr_array_new ();
  gboolean olm = FALSE;
  size_t i;
  json_t *ev;
  json_array_foreach (txn->to_device, i, ev)
  {
    const char *to_user = str (ev, "to_user_id"), *to_device = str (ev, "to_device_id");
    PaCrypto *crypto = NULL;
    if (g_strcmp0 (to_user, b->bot_mxid) == 0)
      crypto = g_strcmp0 (to_device, bc->device_id) == 0 ? bc->crypto : NULL;
    else if (to_device != NULL && is_ours (b, to_user))
      crypto = pa_bridge_crypto_ghost_identity (bc, to_user, to_device);
    if (crypto == NULL)
      continue;
    if (crypto == bc->crypto)
      olm |= g_strcmp0 (str (ev, "type"), "m.room.encrypted") == 0;
    json_t *list = g_hash_table_lookup (per_identity, crypto);
    if (list == NULL)
      {
        list = json_array ();
        g_hash_table_insert (per_identity, crypto, list);
        g_ptr_array_add (order, crypto);
      }
    json_array_append (list, ev);
  }
  for (guint k = 0; k < order->len; k++)
    {
      PaCrypto *crypto = g_ptr_array_index (order, k);
      json_t *mine = g_hash_table_lookup (per_identity, crypto);
      g_autoptr (json_t) handled = pa_crypto_handle_to_device (crypto, mine, &error);
      if (handled == NULL)
        g_warning ("to-device events of %s: %s", pa_crypto_get_user_id (crypto), error->message);
      g_clear_error (&error);
      json_array_foreach (handled, i, ev)
      {
        const char *type = str (ev, "type");
        if (g_strcmp0 (type, "m.room_key_request") == 0)
          answer_key_request (bc, crypto, str (ev, "sender"), json_object_get (ev, "content"));
        else if (g_strcmp0 (type, "m.room_key") == 0
                 || g_strcmp0 (type, "m.forwarded_room_key") == 0)
          late_key (bc, str (json_object_get (ev, "content"), "session_id"), handle_late);
      }
    }
  g_ptr_array_free (order, TRUE);
  /* In slices: the crypto core caps the users of one call. */
  json_t *changed = json_object_get (txn->device_lists, "changed");
  g_autoptr (GPtrArray) users = g_ptr_array_new ();
  json_array_foreach (changed, i, ev)
  {
    if (json_is_string (ev))
      g_ptr_array_add (users, (gpointer)json_string_value (ev));
    if (users->len == PA_CRYPTO_MAX_USERS || (i + 1 == json_array_size (changed) && users->len))
      {
        g_ptr_array_add (users, NULL);
        if (!pa_crypto_devices_changed (bc->crypto, (const char *const *)users->pdata, &error))
          g_warning ("device lists: %s", error->message);
        g_clear_error (&error);
        g_ptr_array_set_size (users, 0);
      }
  }
  json_t *mine_counts
      = json_object_get (json_object_get (txn->otk_counts, b->bot_mxid), bc->device_id);
  json_t *count = json_object_get (mine_counts, "signed_curve25519");
  /* Without the count (MSC3202 off), an Olm message may have used a
   * one-time key: top up, the upload itself asks the server's count. */
  if ((json_is_integer (count) && json_integer_value (count) < PA_CRYPTO_OTK_TARGET / 2)
      || (count == NULL && olm))
    pa_bridge_crypto_upload_keys (bc);
  pa_bridge_crypto_ghosts_otk_counts (bc, txn->otk_counts);
}
static void
request_key_as (PaCrypto *crypto, json_t *ev, gboolean again)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (json_t) content = again ? pa_crypto_key_request_again (crypto, ev, &error)
                                     : pa_crypto_key_request (crypto, ev, &error);
  if (content == NULL)
    return;
  const char *sender = str (ev, "sender");
  g_message ("requesting room key %s from %s for %s%s",
             str (json_object_get (content, "body"), "session_id"), sender,
             pa_crypto_get_user_id (crypto), again ? " again" : "");
  g_autoptr (json_t) messages = json_pack ("{s:{s:O}}", sender, "*", content);
  pa_crypto_send_to_device (crypto, "m.room_key_request", messages, key_answer_sent, NULL);
}
/* The session of `ev` never reached us: ask the sender's devices for it
 * (once per session, or once more with `again`), while the event waits
 * for the key.  Clients answer only the devices they shared the session
 * with, so the request comes from a member's device: in a DM portal the
 * contact's ghost's (when it has one: the bot is not in the room), else
 * the bot's. */
void
pa_bridge_crypto_request_key (PaBridgeCrypto *bc, json_t *ev, gboolean again)
{
  const char *room_id = str (ev, "room_id");
  g_autofree char *key = room_id ? g_strdup_printf ("creator:%s", room_id) : NULL;
  g_autofree char *ghost = key ? pa_store_kv_get (bc->bridge->store, key) : NULL;
  PaCrypto *crypto = ghost ? pa_bridge_crypto_ghost_identity (bc, ghost, NULL) : NULL;
  request_key_as (crypto ? crypto : bc->crypto, ev, again);
}

void
pa_bridge_crypto_keys_clear (PaBridgeCrypto *bc)
{
  GHashTableIter it;
  gpointer p;
  while (g_hash_table_size (bc->key_requests) > 0)
    {
      g_hash_table_iter_init (&it, bc->key_requests);
      g_hash_table_iter_next (&it, &p, NULL);
      key_request_free (p);
    }
  g_hash_table_destroy (bc->key_requests);
}
