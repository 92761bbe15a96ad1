/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* End-to-bridge encryption, outbound: a /send/ item of the durable queue
 * going into an encrypted room is encrypted just before it is sent,
 * keeping its txn id (a resend stays idempotent) and its sender (ghosts
 * send m.room.encrypted under their own names, with their own devices'
 * keys, or the bot device's: pa-bridge-crypto-ghosts.c), for the room's
 * members that are not ours.  Nothing goes out in
 * clear when encrypting cannot be done now: the queue retries. */
#define G_LOG_DOMAIN "passerelle-bridge-crypto"

#include "pa-bridge-crypto-send.h"

#include "pa-bridge-crypto-device.h"
#include "pa-bridge-crypto-ghosts.h"
#include "pa-ghost.h"
#include "pa-policy.h"

/* Members fetched per room for key sharing (joined + invited). */
#define MAX_MEMBERS PA_CRYPTO_MAX_USERS

static const char *
str (json_t *o, const char *key)
{
  return json_string_value (json_object_get (o, key));
}

typedef struct
{
  PaBridgeCrypto *bc;
  const PaOutboundItem *item; /* borrowed from the queue's flight */
  PaMatrixCallback cb;
  gpointer cb_data;
  char *room_id;
  char *type;
  char *txn;
  json_t *content;
  GStrv users;      /* the room's members to share with (not ours) */
  gboolean waiting; /* for the sender's identity (pa-bridge-crypto-ghosts.c) */
  guint hold_source; /* a DM waiting for its agent to join (below) */
  guint hold_s;
} SendCtx;
static void
send_ctx_free (SendCtx *s)
{
  g_hash_table_remove (s->bc->sends, s);
  if (s->waiting)
    pa_bridge_crypto_forget_waiter (s->bc, s);
  if (s->hold_source)
    g_source_remove (s->hold_source);
  g_strfreev (s->users);
  g_free (s->room_id);
  g_free (s->type);
  g_free (s->txn);
  json_decref (s->content);
  g_free (s);
}
/* Ends the attempt as a network failure: the queue keeps the item at its
 * room's head and retries with backoff (nothing goes out in clear). */
static void
send_retry (SendCtx *s, const char *why)
{
  g_message ("encrypting for %s postponed: %s", s->room_id, why);
  g_autofree char *msg = g_strdup (why);
  PaMatrixResponse resp = { .status = 0, .error = msg };
  PaMatrixCallback cb = s->cb;
  gpointer data = s->cb_data;
  PaMatrix *mx = s->bc->bridge->mx;
  send_ctx_free (s);
  cb (mx, &resp, data);
}
static void
send_request (SendCtx *s, const char *path, json_t *body)
{
  const PaOutboundItem *it = s->item;
  g_autofree char *raw = body ? json_dumps (body, JSON_COMPACT) : NULL;
  PaMatrixRequest req = { .method = it->method,
                          .path = path,
                          .user_id = it->user_id,
                          .ts = it->ts,
                          .raw_body = raw ? raw : it->body,
                          .max_attempts = 3,
                          .timeout_s = 60 };
  PaMatrix *mx = s->bc->bridge->mx;
  PaMatrixCallback cb = s->cb;
  gpointer data = s->cb_data;
  send_ctx_free (s);
  pa_matrix_request (mx, &req, cb, data);
}
static void
encrypted_cb (PaCrypto *crypto, json_t *result, const GError *error, gpointer user_data)
{
  SendCtx *s = user_data;
  if (error)
    {
      send_retry (s, error->message);
      return;
    }
  g_autofree char *path = pa_matrix_path_send (s->room_id, "m.room.encrypted", s->txn);
  send_request (s, path, result);
}
/* The sender's identity is known: its device encrypts (a ghost's own, or
 * the bot's).  Users the permissions block are told the key is withheld. */
static void
identity_cb (PaBridgeCrypto *bc, PaCrypto *crypto, const GError *error, gpointer data)
{
  SendCtx *s = data;
  s->waiting = FALSE;
  if (crypto == NULL)
    {
      send_retry (s, error ? error->message : "no device to encrypt with");
      return;
    }
  for (guint i = 0; s->users[i] != NULL; i++)
    pa_crypto_set_blocked (crypto, s->users[i],
                           pa_policy_level (bc->bridge, s->users[i]) == PA_LEVEL_BLOCK);
  pa_crypto_encrypt (crypto, s->room_id, (const char *const *)s->users, s->type, s->content,
                     encrypted_cb, s);
}
static void
encrypt_now (SendCtx *s, GStrv users)
{
  s->users = g_strdupv (users);
  s->waiting = TRUE;
  pa_bridge_crypto_identity_for (s->bc, s->item->user_id, identity_cb, s);
}
static void encrypt_in_room (SendCtx *s);
static gboolean
hold_over (gpointer data)
{
  SendCtx *s = data;
  s->hold_source = 0;
  encrypt_in_room (s);
  return G_SOURCE_REMOVE;
}
/* A DM portal of the sending ghost that its agent has not joined yet: the
 * message waits for the join.  A client excluding insecure devices refuses
 * for good an event whose room key came from a device it did not know, and
 * it learns the ghost's device only once it is in the room.  Nothing is
 * lost: the item stays at its room's head, checked again with a growing
 * pause (1 s to 30 s). */
static gboolean
dm_holds (SendCtx *s, guint joined)
{
  PaBridge *b = s->bc->bridge;
  if (joined > 0 || !pa_bridge_crypto_ghost_devices (s->bc))
    return FALSE;
  g_autofree char *key = g_strdup_printf ("creator:%s", s->room_id);
  g_autofree char *creator = pa_store_kv_get (b->store, key);
  if (g_strcmp0 (creator, s->item->user_id) != 0)
    return FALSE;
  s->hold_s = s->hold_s == 0 ? 1 : MIN (s->hold_s * 2, 30);
  if (s->hold_s == 1)
    g_message ("DM %s: the ghost's messages wait for the agent to join", s->room_id);
  s->hold_source = g_timeout_add_seconds (s->hold_s, hold_over, s);
  return TRUE;
}
static void
members_cb (PaMatrix *mx, const PaMatrixResponse *resp, gpointer user_data)
{
  SendCtx *s = user_data;
  PaBridge *b = s->bc->bridge;
  json_t *chunk = json_object_get (resp->body, "chunk");
  if (!pa_matrix_response_ok (resp) || !json_is_array (chunk))
    {
      g_autoptr (GError) e = pa_matrix_response_to_error (resp);
      send_retry (s, e->message);
      return;
    }
  g_autoptr (GPtrArray) users = g_ptr_array_new_with_free_func (g_free);
  guint joined = 0;
  size_t i;
  json_t *ev;
  json_array_foreach (chunk, i, ev)
  {
    const char *who = str (ev, "state_key");
    const char *m = str (json_object_get (ev, "content"), "membership");
    /* Our own users need no key: the bridge sent it. */
    if (who == NULL || m == NULL || pa_ghost_is_ours (b, who)
        || !(g_str_equal (m, "join") || g_str_equal (m, "invite")))
      continue;
    if (users->len >= MAX_MEMBERS)
      break;
    joined += g_str_equal (m, "join");
    g_ptr_array_add (users, g_strdup (who));
  }
  if (dm_holds (s, joined))
    return;
  g_ptr_array_add (users, NULL);
  GStrv list = (GStrv)g_ptr_array_free (g_steal_pointer (&users), FALSE);
  g_hash_table_insert (s->bc->members, g_strdup (s->room_id), list);
  encrypt_now (s, list);
}
static void
encrypt_in_room (SendCtx *s)
{
  GStrv users = g_hash_table_lookup (s->bc->members, s->room_id);
  if (users)
    {
      encrypt_now (s, users);
      return;
    }
  g_autofree char *er = pa_matrix_escape (s->room_id);
  g_autofree char *path = g_strdup_printf ("/_matrix/client/v3/rooms/%s/members"
                                           "?not_membership=leave",
                                           er);
  PaMatrixRequest req
      = { .method = "GET", .path = path, .user_id = s->item->user_id, .max_attempts = 3 };
  pa_matrix_request (s->bc->bridge->mx, &req, members_cb, s);
}
static void
state_cb (PaMatrix *mx, const PaMatrixResponse *resp, gpointer user_data)
{
  SendCtx *s = user_data;
  if (pa_matrix_response_ok (resp))
    pa_bridge_crypto_set_room_state (s->bc, s->room_id, ROOM_ENCRYPTED);
  else if (resp->status == 404)
    pa_bridge_crypto_set_room_state (s->bc, s->room_id, ROOM_PLAIN);
  else if (resp->status == 0 || resp->status >= 500 || resp->status == 429)
    {
      g_autoptr (GError) e = pa_matrix_response_to_error (resp);
      send_retry (s, e->message);
      return;
    }
  /* Another refusal (the sender is not in the room): the send itself will
   * be refused the same way and dropped by the queue. */
  if (pa_bridge_crypto_room_state (s->bc, s->room_id) == ROOM_ENCRYPTED)
    encrypt_in_room (s);
  else
    send_request (s, s->item->path, NULL);
}
/* The event type and txn id of "/_matrix/client/v3/rooms/<r>/send/<type>/<txn>". */
static gboolean
parse_send_path (const char *path, char **type, char **txn)
{
  if (!g_str_has_prefix (path, "/_matrix/client/v3/rooms/"))
    return FALSE;
  const char *p = strstr (path, "/send/");
  if (p == NULL)
    return FALSE;
  g_auto (GStrv) parts = g_strsplit (p + strlen ("/send/"), "/", 3);
  if (parts[0] == NULL || parts[1] == NULL || parts[2] != NULL || strchr (parts[1], '?'))
    return FALSE;
  *type = g_uri_unescape_string (parts[0], NULL);
  *txn = g_uri_unescape_string (parts[1], NULL);
  return *type != NULL && *txn != NULL;
}
/* Takes over a /send/ item of the outbound queue: sends it as is into an
 * unencrypted room, encrypted (same txn id, sender and ts) into an
 * encrypted one; `cb` gets the homeserver's answer, or a status-0
 * response (retry later) when encrypting could not be done now. */
gboolean
pa_bridge_crypto_send (PaBridge *b, const PaOutboundItem *it, PaMatrixCallback cb, gpointer cb_data)
{
  PaBridgeCrypto *bc = b->crypto;
  g_autofree char *type = NULL, *txn = NULL;
  if (bc == NULL || g_strcmp0 (it->method, "PUT") != 0 || it->queue_key == NULL
      || !parse_send_path (it->path, &type, &txn) || g_str_equal (type, "m.room.encrypted"))
    return FALSE;
  g_autoptr (json_t) content = json_loads (it->body, 0, NULL);
  if (!json_is_object (content))
    return FALSE;
  SendCtx *s = g_new0 (SendCtx, 1);
  s->bc = bc;
  s->item = it;
  s->cb = cb;
  s->cb_data = cb_data;
  s->room_id = g_strdup (it->queue_key);
  s->type = g_steal_pointer (&type);
  s->txn = g_steal_pointer (&txn);
  s->content = g_steal_pointer (&content);
  g_hash_table_add (bc->sends, s);
  int state = pa_bridge_crypto_room_state (bc, s->room_id);
  if (state == ROOM_UNKNOWN)
    {
      g_autoptr (PaPortalRow) row = pa_store_portal_by_room (b->store, s->room_id);
      if (row && row->encrypted)
        state = ROOM_ENCRYPTED;
    }
  if (state == ROOM_ENCRYPTED)
    encrypt_in_room (s);
  else if (state == ROOM_PLAIN)
    send_request (s, it->path, NULL);
  else
    {
      /* First use of a room (created by someone else, or before a restart). */
      g_autofree char *er = pa_matrix_escape (s->room_id);
      g_autofree char *path = g_strdup_printf ("/_matrix/client/v3/rooms/%s/state/"
                                               "m.room.encryption/",
                                               er);
      PaMatrixRequest req
          = { .method = "GET", .path = path, .user_id = it->user_id, .max_attempts = 3 };
      pa_matrix_request (b->mx, &req, state_cb, s);
    }
  return TRUE;
}

void
pa_bridge_crypto_send_clear (PaBridgeCrypto *bc)
{
  GHashTableIter it;
  gpointer p;
  while (g_hash_table_size (bc->sends) > 0)
    {
      g_hash_table_iter_init (&it, bc->sends);
      g_hash_table_iter_next (&it, &p, NULL);
      send_ctx_free (p);
    }
  g_hash_table_destroy (bc->sends);
}
