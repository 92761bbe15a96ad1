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
#include "pa-bridge-crypto-ghosts.h"
#include "pa-bridge-crypto-keys.h"
#include "pa-bridge-crypto-send.h"
#include "pa-ghost.h"
#include "pa-policy.h"
#include "pa-queue.h"

#include "appservice/pa-event-check.h"
#include "crypto/pa-crypto.h"

/* A room key may come in a later transaction than the event it opens:
 * wait this long before giving up. */
#define WAIT_FOR_KEY_MS 10000
/* When the key has not come after this long, it is asked for once more. */
#define ASK_AGAIN_MS 3000
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

/* The cleartext is outside input like any event: checked the same way
 * (appservice/pa-event-check.h), NULs in texts repaired.  One the bridge
 * cannot handle is kept aside (the encrypted event, not the cleartext, is
 * what the quarantine keeps), logged, and its sender told once. */
static gboolean
cleartext_usable (PaBridge *b, json_t *ev, json_t *clear)
{
  g_autofree char *reason = NULL;
  const char *event_id = str (ev, "event_id");
  const char *room_id = str (ev, "room_id");
  const char *sender = str (ev, "sender");

  if (pa_event_check (clear, &reason) != PA_EVENT_REJECTED)
    return TRUE;
  g_message ("decrypted event %s from %s quarantined: %s", event_id, sender, reason);
  g_autoptr (GError) error = NULL;
  g_autofree char *raw = json_dumps (ev, JSON_COMPACT | JSON_SORT_KEYS);
  if (raw == NULL
      || !pa_store_quarantine_add (b->store, "decrypted", event_id, room_id, sender, reason, raw,
                                   &error))
    g_warning ("quarantine: %s", error ? error->message : "the event cannot be serialised");
  if (!pa_ghost_is_ours (b, sender) && pa_policy_level (b, sender) != PA_LEVEL_BLOCK)
    {
      g_autofree char *text = g_strdup_printf ("⚠ Could not bridge this message: %s.", reason);
      pa_queue_notice_reply_once (b, room_id, event_id, "quarantine", text);
    }
  return FALSE;
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
      if (!cleartext_usable (b, ev, clear))
        {
          done (b);
          return;
        }
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
          since = g_new0 (gint64, 2);
          since[0] = pa_now_ms ();
          g_hash_table_insert (bc->waiting, g_strdup (event_id), since);
          pa_bridge_crypto_request_key (bc, ev, FALSE);
        }
      else if (since[1] == 0 && pa_now_ms () - since[0] >= ASK_AGAIN_MS)
        {
          /* An answer sent while the homeserver still took the bridge for
           * down (it replays its queue, the request goes out meanwhile) is
           * dropped: Synapse sends no to-device messages to an appservice
           * in recovery.  Asked once more. */
          since[1] = 1;
          pa_bridge_crypto_request_key (bc, ev, TRUE);
        }
      /* A sender whose last wait ran out does not hold the queue again for
       * a while: a flood of events of sessions nobody shares must not stall
       * everyone's traffic 10 s apiece (their keys still count if late). */
      gint64 *quiet = g_hash_table_lookup (bc->no_wait, str (ev, "sender"));
      if (quiet && pa_now_ms () < *quiet)
        since[0] = 0;
      if (pa_now_ms () - since[0] < WAIT_FOR_KEY_MS)
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
        pa_bridge_crypto_keep_for_late_key (bc, ev);
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

/* A portal was just created.  The agent's client shares its room keys
 * only with the devices of the room's members.  With ghosts' devices, the
 * DM's ghost holds one (made now, before the agent writes), and the room
 * keeps its two members (Tchap's "direct" rule).  Without, the encrypted
 * DM gets the bot too, whose device decrypts: queued on the room, so it
 * happens before any message. */
void
pa_bridge_crypto_portal_created (PaBridge *b, const char *room_id, const char *creator,
                                 gboolean encrypted)
{
  if (b->crypto == NULL || !encrypted)
    return;
  pa_bridge_crypto_set_room_state (b->crypto, room_id, ROOM_ENCRYPTED);
  if (creator == NULL)
    return;
  if (pa_bridge_crypto_ghost_devices (b->crypto))
    {
      pa_bridge_crypto_identity_for (b->crypto, creator, NULL, NULL);
      return;
    }
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
  /* The ghosts' identities borrow the bot's store: they go first. */
  pa_bridge_crypto_ghosts_free (bc);
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
  pa_bridge_crypto_keys_clear (bc);
  g_hash_table_destroy (bc->late);
  g_hash_table_destroy (bc->no_wait);
  pa_bridge_crypto_device_free (bc);
}
