/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* End-to-bridge encryption, inbound (the mautrix model,
 * docs/encryption.md): m.room.encrypted events are decrypted with the bot
 * device's sessions and the cleartext is handed back to the caller's
 * callback, which takes it down the normal path (commands, bridging);
 * an event whose key has not come yet waits a little (the inbound queue
 * with it), then is kept for a late key.  To-device messages (room keys,
 * others' key requests) arrive in the homeserver's transactions (MSC2409):
 * Synapse does not let an appservice's sender user /sync.  Also: rooms
 * learnt encrypted, key rotation on membership changes, the bot invited
 * into encrypted DMs, and the end of the whole crypto state. */
#define G_LOG_DOMAIN "passerelle-bridge-crypto"

#include "pa-bridge-crypto-receive.h"

#include "pa-batch.h"
#include "pa-bridge-crypto-device.h"
#include "pa-bridge-crypto-send.h"
#include "pa-ghost.h"
#include "pa-policy.h"
#include "pa-queue.h"

#include "crypto/pa-crypto.h"

/* A room key may come in a later transaction than the event it opens:
 * wait this long before giving up. */
#define WAIT_FOR_KEY_MS 10000
#define WAIT_STEP_MS 300
/* After a wait ran out, that sender's next undecryptable events do not
 * wait for this long. */
#define NO_WAIT_MS 60000

/* ------------------------------------------------------------ helpers */

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

static void
keep_for_late_key (PaBridgeCrypto *bc, json_t *ev)
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

/* ---------------------------------------------- others' key requests */

typedef struct
{
  PaBridgeCrypto *bc;
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
  PaCrypto *crypto = k->bc->crypto;
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

/* An m.room_key_request from a Matrix user's device: only our own
 * sessions are considered, and only after checking the user is still in
 * the room (the bot is in every encrypted room it sends to). */
static void
answer_key_request (PaBridgeCrypto *bc, const char *sender, json_t *request)
{
  json_t *body = json_object_get (request, "body");
  const char *room_id = str (body, "room_id");
  if (g_strcmp0 (str (request, "action"), "request") != 0 || room_id == NULL
      || str (request, "requesting_device_id") == NULL
      || g_strcmp0 (str (body, "sender_key"), pa_crypto_get_curve25519 (bc->crypto)) != 0
      || is_ours (bc->bridge, sender) || g_hash_table_size (bc->key_requests) > 100)
    return;
  KeyRequest *k = g_new0 (KeyRequest, 1);
  k->bc = bc;
  k->user_id = g_strdup (sender);
  k->request = json_incref (request);
  g_hash_table_add (bc->key_requests, k);
  g_autofree char *er = pa_matrix_escape (room_id);
  g_autofree char *path = g_strdup_printf ("/_matrix/client/v3/rooms/%s/joined_members", er);
  PaMatrixRequest req = { .method = "GET", .path = path, .max_attempts = 2 };
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
  g_autoptr (json_t) mine = json_array ();
  gboolean olm = FALSE;
  size_t i;
  json_t *ev;
  json_array_foreach (txn->to_device, i, ev)
  {
    /* Other devices of our users' namespace are not ours to read. */
    if (g_strcmp0 (str (ev, "to_user_id"), b->bot_mxid) != 0
        || g_strcmp0 (str (ev, "to_device_id"), bc->device_id) != 0)
      continue;
    olm |= g_strcmp0 (str (ev, "type"), "m.room.encrypted") == 0;
    json_array_append (mine, ev);
  }
  if (json_array_size (mine) > 0)
    {
      g_autoptr (json_t) handled = pa_crypto_handle_to_device (bc->crypto, mine, &error);
      if (handled == NULL)
        g_warning ("to-device events: %s", error->message);
      g_clear_error (&error);
      json_array_foreach (handled, i, ev)
      {
        const char *type = str (ev, "type");
        if (g_strcmp0 (type, "m.room_key_request") == 0)
          answer_key_request (bc, str (ev, "sender"), json_object_get (ev, "content"));
        else if (g_strcmp0 (type, "m.room_key") == 0
                 || g_strcmp0 (type, "m.forwarded_room_key") == 0)
          late_key (bc, str (json_object_get (ev, "content"), "session_id"), handle_late);
      }
    }
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
}

/* ------------------------------------------------------------ receiving */

typedef struct
{
  PaBridge *b;
  json_t *ev;
  PaEventFunc decrypted;
  PaEventDoneFunc done;
  guint source;
} Deferred;

static void
deferred_free (Deferred *d)
{
  json_decref (d->ev);
  g_free (d);
}

static void decrypt_event (PaBridge *b, json_t *ev, PaEventFunc decrypted, PaEventDoneFunc done);

/* The wait step of an event whose key may still come: try again. */
static gboolean
deferred_run (gpointer data)
{
  Deferred *d = data;
  PaBridge *b = d->b;
  d->source = 0;
  g_hash_table_remove (b->crypto->deferred, d);
  decrypt_event (b, d->ev, d->decrypted, d->done);
  deferred_free (d);
  return G_SOURCE_REMOVE;
}

static gboolean
is_bridged_room (PaBridge *b, const char *room_id)
{
  g_autoptr (PaPortalRow) row = pa_store_portal_by_room (b->store, room_id);
  g_autofree char *owner = pa_store_management_owner (b->store, room_id);
  return row != NULL || owner != NULL;
}

/* The session of `ev` never reached us: ask the sender's devices for it
 * (once per session), while the event waits for the key. */
static void
request_key (PaBridgeCrypto *bc, json_t *ev)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (json_t) content = pa_crypto_key_request (bc->crypto, ev, &error);
  if (content == NULL)
    return;
  const char *sender = str (ev, "sender");
  g_message ("requesting room key %s from %s",
             str (json_object_get (content, "body"), "session_id"), sender);
  g_autoptr (json_t) messages = json_pack ("{s:{s:O}}", sender, "*", content);
  pa_crypto_send_to_device (bc->crypto, "m.room_key_request", messages, key_answer_sent, NULL);
}

static void
decrypt_event (PaBridge *b, json_t *ev, PaEventFunc decrypted, PaEventDoneFunc done)
{
  PaBridgeCrypto *bc = b->crypto;
  const char *room_id = str (ev, "room_id");
  const char *event_id = str (ev, "event_id");
  g_autoptr (GError) error = NULL;
  g_autoptr (json_t) clear = pa_crypto_decrypt (bc->crypto, ev, &error);
  if (clear)
    {
      if (event_id)
        g_hash_table_remove (bc->waiting, event_id);
      g_debug ("decrypted %s in %s: %s", event_id ? event_id : "?", room_id, str (clear, "type"));
      /* The cleartext goes back to the caller, which takes it down the
       * normal path (its type is no longer m.room.encrypted, so this hook
       * lets it through). */
      decrypted (b, clear, done);
      return;
    }
  if (event_id && g_error_matches (error, PA_ERROR, PA_ERROR_NOT_FOUND))
    {
      gint64 *since = g_hash_table_lookup (bc->waiting, event_id);
      if (since == NULL)
        {
          since = g_new (gint64, 1);
          *since = pa_now_ms ();
          g_hash_table_insert (bc->waiting, g_strdup (event_id), since);
          request_key (bc, ev);
        }
      /* A sender whose last wait ran out does not hold the queue again for
       * a while: a flood of events of sessions nobody shares must not stall
       * everyone's traffic 10 s apiece (their keys still count if late). */
      gint64 *quiet = g_hash_table_lookup (bc->no_wait, str (ev, "sender"));
      if (quiet && pa_now_ms () < *quiet)
        *since = 0;
      if (pa_now_ms () - *since < WAIT_FOR_KEY_MS)
        {
          /* The inbound queue waits with it: order is kept. */
          Deferred *d = g_new0 (Deferred, 1);
          d->b = b;
          d->ev = json_incref (ev);
          d->decrypted = decrypted;
          d->done = done;
          g_hash_table_add (bc->deferred, d);
          d->source = g_timeout_add (WAIT_STEP_MS, deferred_run, d);
          return;
        }
    }
  if (event_id && g_hash_table_remove (bc->waiting, event_id) && str (ev, "sender")
      && g_error_matches (error, PA_ERROR, PA_ERROR_NOT_FOUND))
    {
      gint64 *until = g_new (gint64, 1);
      *until = pa_now_ms () + NO_WAIT_MS;
      if (g_hash_table_size (bc->no_wait) > 10000)
        g_hash_table_remove_all (bc->no_wait);
      g_hash_table_replace (bc->no_wait, g_strdup (str (ev, "sender")), until);
    }
  g_message ("could not decrypt %s in %s: %s", event_id ? event_id : "?", room_id, error->message);
  if (is_bridged_room (b, room_id))
    {
      gboolean missing = g_error_matches (error, PA_ERROR, PA_ERROR_NOT_FOUND);
      g_autofree char *msg = g_strdup_printf (
          missing ? "⚠ I could not decrypt your message yet (%s): I asked your devices for the "
                    "key and will bridge it if the key arrives."
                  : "⚠ I could not decrypt your message (%s): it was not bridged.",
          error->message);
      pa_queue_notice (b, room_id, msg);
      if (missing)
        keep_for_late_key (bc, ev);
    }
  done (b);
}

static gboolean
is_message_type (const char *type)
{
  return g_str_equal (type, "m.room.message") || g_str_equal (type, "m.sticker")
         || g_str_equal (type, "m.reaction");
}

/* Inbound hook, before the normal handling of every (non-ephemeral)
 * event: learns which rooms are encrypted and who is in them, rotates the
 * room's session on membership changes, decrypts m.room.encrypted and
 * gives the cleartext to `decrypted` (with `done`), refuses clear messages
 * when encryption is required.  TRUE when it took the event over (`done`
 * is then its job, or that of `decrypted`). */
gboolean
pa_bridge_crypto_event (PaBridge *b, json_t *ev, PaEventFunc decrypted, PaEventDoneFunc done)
{
  PaBridgeCrypto *bc = b->crypto;
  const char *type = str (ev, "type");
  const char *room_id = str (ev, "room_id");
  const char *sender = str (ev, "sender");
  if (bc == NULL || done == NULL || type == NULL || room_id == NULL)
    return FALSE;
  if (g_str_equal (type, "m.room.encryption") && g_strcmp0 (str (ev, "state_key"), "") == 0)
    {
      pa_bridge_crypto_set_room_state (bc, room_id, ROOM_ENCRYPTED);
      /* Remembered across restarts: media for the portal are encrypted. */
      g_autoptr (PaPortalRow) row = pa_store_portal_by_room (b->store, room_id);
      if (row && !row->encrypted)
        {
          g_autoptr (GError) error = NULL;
          row->encrypted = TRUE;
          pa_batch_begin (b);
          if (!pa_store_portal_put (b->store, row, &error))
            g_warning ("store: %s", error->message);
        }
      return FALSE;
    }
  if (g_str_equal (type, "m.room.member"))
    {
      const char *who = str (ev, "state_key");
      g_hash_table_remove (bc->members, room_id);
      /* Our ghost inviting the bot into an encrypted DM (below): the join
       * is already queued; this is not an agent opening a management room. */
      if (g_strcmp0 (who, b->bot_mxid) == 0 && sender && is_ours (b, sender)
          && g_strcmp0 (str (json_object_get (ev, "content"), "membership"), "invite") == 0)
        {
          done (b);
          return TRUE;
        }
      /* Someone with devices came or went: a new session, so that a leaver
       * cannot read what follows and a newcomer what preceded. */
      if (who && !is_ours (b, who) && pa_bridge_crypto_room_state (bc, room_id) != ROOM_PLAIN)
        {
          g_autoptr (GError) error = NULL;
          if (!pa_crypto_room_changed (bc->crypto, room_id, &error))
            g_warning ("key rotation in %s: %s", room_id, error->message);
        }
      return FALSE;
    }
  if (sender == NULL || is_ours (b, sender))
    return FALSE;
  if (g_str_equal (type, "m.room.encrypted"))
    {
      pa_bridge_crypto_set_room_state (bc, room_id, ROOM_ENCRYPTED);
      if (pa_policy_level (b, sender) == PA_LEVEL_BLOCK)
        return FALSE;
      decrypt_event (b, ev, decrypted, done);
      return TRUE;
    }
  if (b->config->encryption_require && is_message_type (type)
      && !json_object_get (ev, "pa_encryption")
      && pa_bridge_crypto_room_state (bc, room_id) != ROOM_ENCRYPTED)
    {
      g_autoptr (PaPortalRow) row = pa_store_portal_by_room (b->store, room_id);
      if (row && !row->encrypted && pa_policy_level (b, sender) > PA_LEVEL_BLOCK)
        {
          pa_queue_notice (b, room_id,
                           "⚠ Not delivered: this bridge only bridges encrypted "
                           "rooms (enable encryption in the room settings).");
          done (b);
          return TRUE;
        }
    }
  return FALSE;
}

/* A portal was just created.  An encrypted DM (created by the contact's
 * ghost) gets the bot too: the agent's client shares its room keys only
 * with the devices of the room's members, and the bot device is the one
 * that decrypts.  Queued on the room, so it happens before any message. */
void
pa_bridge_crypto_portal_created (PaBridge *b, const char *room_id, const char *creator,
                                 gboolean encrypted)
{
  if (b->crypto == NULL || !encrypted)
    return;
  pa_bridge_crypto_set_room_state (b->crypto, room_id, ROOM_ENCRYPTED);
  if (creator == NULL)
    return;
  g_autofree char *esc = pa_matrix_escape (room_id);
  g_autofree char *ipath = g_strdup_printf ("/_matrix/client/v3/rooms/%s/invite", esc);
  g_autoptr (json_t) ibody = json_pack ("{s:s}", "user_id", b->bot_mxid);
  g_autofree char *itxn = pa_queue_txn_id (room_id, "invite", b->bot_mxid, NULL);
  pa_queue_request (b, room_id, "POST", ipath, creator, ibody, 0, itxn, NULL);
  g_autofree char *jpath = g_strdup_printf ("/_matrix/client/v3/join/%s", esc);
  g_autofree char *jtxn = pa_queue_txn_id (room_id, "join", b->bot_mxid, NULL);
  pa_queue_request (b, room_id, "POST", jpath, NULL, NULL, 0, jtxn, NULL);
}

/* Frees the crypto state and the bot device client; requests in flight end
 * silently (call before the bridge's PaMatrix is freed). */
void
pa_bridge_crypto_stop (PaBridge *b)
{
  PaBridgeCrypto *bc = b->crypto;
  if (bc == NULL)
    return;
  b->crypto = NULL;
  if (bc->device_mx)
    pa_matrix_cancel_all (bc->device_mx);
  g_clear_pointer (&bc->crypto, pa_crypto_free);
  /* Sends waiting for the bridge's own client are cancelled with it by the
   * caller; their contexts are freed here. */
  GHashTableIter it;
  gpointer p;
  g_hash_table_iter_init (&it, bc->deferred);
  while (g_hash_table_iter_next (&it, &p, NULL))
    {
      Deferred *d = p;
      g_source_remove (d->source);
      deferred_free (d);
    }
  g_hash_table_destroy (bc->deferred);
  pa_matrix_cancel_all (b->mx);
  pa_bridge_crypto_send_clear (bc);
  while (g_hash_table_size (bc->key_requests) > 0)
    {
      g_hash_table_iter_init (&it, bc->key_requests);
      g_hash_table_iter_next (&it, &p, NULL);
      key_request_free (p);
    }
  g_hash_table_destroy (bc->key_requests);
  g_hash_table_destroy (bc->late);
  g_hash_table_destroy (bc->no_wait);
  pa_bridge_crypto_device_free (bc);
}
