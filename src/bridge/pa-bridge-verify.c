/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Verification of the bot's device in a management room (see
 * pa-bridge-verify.h).  Each verification is a PaSas kept in memory under
 * (room, request event id) for at most PA_VERIFY_TIMEOUT_MS; what it
 * answers goes out through the durable queue as the bot, encrypted like
 * every message in the room.  A restart forgets them: the agent's client
 * times out, and a request older than the timeout is not answered. */
#define G_LOG_DOMAIN "passerelle-bridge-crypto"

#include "pa-bridge-verify.h"

#include "crypto/pa-crypto-cross-signing.h"
#include "crypto/pa-crypto-sas.h"
#include "pa-bridge-crypto-device.h"
#include "pa-queue.h"

#define PREFIX "m.key.verification."

typedef struct
{
  PaBridge *b;
  char *room_id;
  char *txn;
  char *their_user;
  char *their_device;
  PaSas *sas;
  gint64 created; /* ms, for the per-room limit */
  guint timeout_id;
  gboolean shown; /* the SAS notice was posted */
} Verification;

static const char *
str (json_t *o, const char *key)
{
  return json_string_value (json_object_get (o, key));
}

static void
verification_free (gpointer p)
{
  Verification *v = p;

  if (v->timeout_id != 0)
    g_source_remove (v->timeout_id);
  pa_sas_free (v->sas);
  g_free (v->room_id);
  g_free (v->txn);
  g_free (v->their_user);
  g_free (v->their_device);
  g_free (v);
}

static char *
table_key (const char *room_id, const char *txn)
{
  return g_strdup_printf ("%s\x1f%s", room_id, txn);
}

static GHashTable *
table (PaBridge *b)
{
  if (b->verifications == NULL)
    b->verifications = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, verification_free);
  return b->verifications;
}

static void
forget (Verification *v)
{
  g_autofree char *key = table_key (v->room_id, v->txn);

  g_hash_table_remove (table (v->b), key);
}

/* The keys the bot certifies to the agent, "ed25519:<id>" → key: its device
 * key, and its cross-signing master key when it has one. */
static json_t *
certified_keys (PaBridgeCrypto *bc)
{
  json_t *keys = json_object ();
  g_autofree char *device_key_id = g_strconcat ("ed25519:", bc->device_id, NULL);

  json_object_set_new (keys, device_key_id, json_string (pa_crypto_get_ed25519 (bc->crypto)));
  /* The agent's client then trusts the bot's identity, not only this
   * device. */
  const char *master = pa_crypto_master_key (bc->crypto);
  if (master != NULL)
    {
      g_autofree char *master_id = g_strconcat ("ed25519:", master, NULL);
      json_object_set_new (keys, master_id, json_string (master));
    }
  return keys;
}

/* Sends what the PaSas answered (consumed), in order, as the bot. */
static void
send_all (Verification *v, json_t *events)
{
  size_t i;
  json_t *ev;

  json_array_foreach (events, i, ev)
  {
    const char *type = str (ev, "type");
    g_autofree char *seed = g_strdup_printf ("verify\x1f%s\x1f%s", v->txn, type);

    pa_queue_send (v->b, v->room_id, NULL, type, json_object_get (ev, "content"), 0, seed, NULL);
  }
  json_decref (events);
}

static void
post_sas (Verification *v)
{
  guint emoji[PA_SAS_EMOJI_COUNT];
  guint numbers[PA_SAS_DECIMAL_COUNT];
  GString *s = g_string_new (NULL);

  if (!pa_sas_emoji (v->sas, emoji) || !pa_sas_decimal (v->sas, numbers))
    return;
  g_string_append_printf (s,
                          "🔐 Verification with your device %s. Compare with what your client "
                          "shows:\n",
                          v->their_device);
  for (guint i = 0; i < PA_SAS_EMOJI_COUNT; i++)
    g_string_append_printf (s, "%s%s (%s)", i ? "  " : "", pa_sas_emoji_symbol (emoji[i]),
                            pa_sas_emoji_name (emoji[i]));
  g_string_append_printf (s, "\nor the numbers %u %u %u.\n", numbers[0], numbers[1], numbers[2]);
  g_string_append (s, "If they are the same, confirm in your client. If not, cancel there: "
                      "someone is between us. I cannot see your screen, so I confirm on my "
                      "side now; nothing is verified until you confirm.");
  pa_queue_notice (v->b, v->room_id, s->str);
  g_string_free (s, TRUE);
}

/* After the PaSas moved: show the SAS once, confirm, and end it when it
 * is over.  `v` may be freed. */
static void
advance (Verification *v)
{
  switch (pa_sas_state (v->sas))
    {
    case PA_SAS_KEYS:
      if (!v->shown)
        {
          v->shown = TRUE;
          post_sas (v);
          send_all (v, pa_sas_confirm (v->sas));
          advance (v);
        }
      break;
    case PA_SAS_DONE:
      {
        g_autofree char *msg = g_strdup_printf (
            "✅ Verification done: your device %s confirmed my keys and I checked its key. "
            "Your client now shows me as verified.",
            v->their_device);

        g_message ("verification %s with %s %s done", v->txn, v->their_user, v->their_device);
        pa_queue_notice (v->b, v->room_id, msg);
        forget (v);
      }
      break;
    case PA_SAS_CANCELLED:
      {
        g_autofree char *msg = g_strdup_printf ("Verification cancelled (%s). Nothing was "
                                                "verified; you can start again from your "
                                                "client.",
                                                pa_sas_cancel_code (v->sas));

        pa_queue_notice (v->b, v->room_id, msg);
        forget (v);
      }
      break;
    default:
      break;
    }
}

static gboolean
timed_out (gpointer data)
{
  Verification *v = data;

  v->timeout_id = 0;
  send_all (v, pa_sas_cancel (v->sas, "m.timeout", "no answer in 10 minutes"));
  advance (v);
  return G_SOURCE_REMOVE;
}

/* Ends the oldest verification of `room_id` while it has the maximum. */
static void
make_room (PaBridge *b, const char *room_id)
{
  for (;;)
    {
      Verification *oldest = NULL;
      guint n = 0;
      GHashTableIter it;
      gpointer val;

      g_hash_table_iter_init (&it, table (b));
      while (g_hash_table_iter_next (&it, NULL, &val))
        {
          Verification *v = val;

          if (!g_str_equal (v->room_id, room_id))
            continue;
          n++;
          if (oldest == NULL || v->created < oldest->created)
            oldest = v;
        }
      if (n < PA_VERIFY_MAX_PER_ROOM)
        return;
      send_all (oldest, pa_sas_cancel (oldest->sas, "m.user", "a newer request replaces it"));
      advance (oldest);
    }
}

static void
on_request (PaBridge *b, json_t *ev, const char *room_id, const char *sender)
{
  json_t *content = json_object_get (ev, "content");
  const char *txn = str (ev, "event_id");
  const char *from_device = str (content, "from_device");
  json_int_t ts = json_integer_value (json_object_get (ev, "origin_server_ts"));
  PaBridgeCrypto *bc = b->crypto;
  g_autoptr (json_t) keys = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *key = NULL;
  g_autofree char *their_ed25519 = NULL;
  const char *users[] = { sender, NULL };
  Verification *v;

  if (g_strcmp0 (str (content, "to"), b->bot_mxid) != 0 || txn == NULL || from_device == NULL)
    return;
  if (ts > 0 && ts < pa_now_ms () - PA_VERIFY_TIMEOUT_MS)
    {
      /* Replayed after a restart: the agent's client gave up long ago. */
      g_message ("verification request %s from %s is too old, ignored", txn, sender);
      return;
    }
  if (bc == NULL)
    {
      pa_queue_notice (b, room_id,
                       "Encryption is off on this bridge: I have no device to "
                       "verify.");
      return;
    }
  key = table_key (room_id, txn);
  if (g_hash_table_contains (table (b), key))
    return;
  make_room (b, room_id);
  keys = certified_keys (bc);
  v = g_new0 (Verification, 1);
  v->b = b;
  v->room_id = g_strdup (room_id);
  v->txn = g_strdup (txn);
  v->their_user = g_strdup (sender);
  v->their_device = g_strdup (from_device);
  v->created = pa_now_ms ();
  v->sas = pa_sas_new (b->bot_mxid, bc->device_id, pa_crypto_get_ed25519 (bc->crypto), keys, sender,
                       from_device, txn, &error);
  if (v->sas == NULL)
    {
      g_warning ("verification %s: %s", txn, error->message);
      verification_free (v);
      return;
    }
  their_ed25519 = pa_crypto_device_ed25519 (bc->crypto, sender, from_device);
  if (their_ed25519 == NULL)
    /* Not known yet: asked for now, looked up again when their MAC comes. */
    pa_crypto_track_users (bc->crypto, users, NULL, NULL);
  g_message ("verification %s requested by %s %s", txn, sender, from_device);
  v->timeout_id = g_timeout_add (PA_VERIFY_TIMEOUT_MS, timed_out, v);
  g_hash_table_insert (table (b), g_steal_pointer (&key), v);
  send_all (v, pa_sas_receive (v->sas, PREFIX "request", content));
  advance (v);
}

static void
on_verification_event (PaBridge *b, json_t *ev, const char *room_id, const char *type)
{
  json_t *content = json_object_get (ev, "content");
  const char *txn = str (json_object_get (content, "m.relates_to"), "event_id");
  g_autofree char *key = NULL;
  Verification *v;

  if (txn == NULL)
    return;
  key = table_key (room_id, txn);
  v = g_hash_table_lookup (table (b), key);
  if (v == NULL)
    {
      g_debug ("%s for unknown verification %s ignored", type, txn);
      return;
    }
  if (g_str_equal (type, PREFIX "mac"))
    {
      /* Their device key, now that their device list surely arrived.
       * (Their master key is not kept by the bridge: it is not checked.) */
      g_autofree char *ed
          = pa_crypto_device_ed25519 (b->crypto->crypto, v->their_user, v->their_device);
      g_autofree char *key_id = g_strconcat ("ed25519:", v->their_device, NULL);

      if (ed != NULL)
        pa_sas_set_their_key (v->sas, key_id, ed);
    }
  send_all (v, pa_sas_receive (v->sas, type, content));
  advance (v);
}

gboolean
pa_bridge_verify_event (PaBridge *b, json_t *ev)
{
  const char *type = str (ev, "type");
  const char *room_id = str (ev, "room_id");
  const char *sender = str (ev, "sender");
  json_t *content = json_object_get (ev, "content");
  gboolean request = g_strcmp0 (type, "m.room.message") == 0
                     && g_strcmp0 (str (content, "msgtype"), PREFIX "request") == 0;
  g_autofree char *owner = NULL;
  g_autoptr (PaPortalRow) row = NULL;

  if (!request && (type == NULL || !g_str_has_prefix (type, PREFIX)))
    return FALSE;
  if (room_id == NULL || sender == NULL || !json_is_object (content))
    return TRUE;
  /* A portal is never a management room, whatever an old record says. */
  row = pa_store_portal_by_room (b->store, room_id);
  owner = row == NULL ? pa_store_management_owner (b->store, room_id) : NULL;
  if (owner == NULL || !g_str_equal (owner, sender))
    return TRUE;
  if (request)
    on_request (b, ev, room_id, sender);
  else if (b->crypto != NULL)
    on_verification_event (b, ev, room_id, type);
  return TRUE;
}

void
pa_bridge_verify_stop (PaBridge *b)
{
  g_clear_pointer (&b->verifications, g_hash_table_destroy);
}
