/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* End-to-bridge encryption glue (the mautrix model, docs/encryption.md):
 * the bot logs in a device of its own once and keeps it across restarts,
 * the crypto core (src/crypto/) holds that device's Olm account, and this
 * file plugs it into the bridge's two data paths:
 *   - outbound: a /send/ item of the durable queue going into an
 *     encrypted room is encrypted just before it is sent, keeping its txn
 *     id (a resend stays idempotent) and its sender (ghosts send
 *     m.room.encrypted under their own names, with the bot device's keys);
 *   - inbound: m.room.encrypted events are decrypted and the cleartext
 *     goes down the normal path (commands, bridging).
 * To-device messages (room keys) arrive in the homeserver's transactions
 * (MSC2409): Synapse does not let an appservice's sender user /sync. */
#define G_LOG_DOMAIN "passerelle-bridge-crypto"

#include "pa-bridge-private.h"

#include "crypto/pa-crypto.h"

#define KV_TOKEN "crypto:access_token"
#define KV_DEVICE "crypto:device_id"
/* A room key may come in a later transaction than the event it opens:
 * wait this long before giving up. */
#define WAIT_FOR_KEY_MS 10000
#define WAIT_STEP_MS 300
/* After a wait ran out, that sender's next undecryptable events do not
 * wait for this long. */
#define NO_WAIT_MS 60000
/* Members fetched per room for key sharing (joined + invited). */
#define MAX_MEMBERS PA_CRYPTO_MAX_USERS
/* Room state the lookup caches. */
enum { ROOM_UNKNOWN = 0, ROOM_ENCRYPTED = 1, ROOM_PLAIN = 2 };

struct _PaBridgeCrypto {
  PaBridge *bridge;
  PaMatrix *device_mx; /* the bot device's own access token */
  PaCrypto *crypto;
  char *device_id;
  GHashTable *room_state;  /* room_id → ROOM_* */
  GHashTable *members;     /* room_id → GStrv of joined+invited users (not ours) */
  GHashTable *waiting;     /* event_id → gint64* first decrypt attempt (ms) */
  GHashTable *sends;       /* SendCtx set, freed at stop */
  GHashTable *deferred;    /* Deferred set, freed at stop */
  GHashTable *key_requests; /* KeyRequest set (others' requests being checked) */
  GHashTable *late;        /* session_id → GPtrArray of json_t * events given up on */
  GHashTable *no_wait;     /* sender → gint64 * time until which its events do not wait */
  guint n_late;
  gboolean uploading;
};

/* ------------------------------------------------------------ helpers */

static const char *
str (json_t *o, const char *key)
{
  return json_string_value (json_object_get (o, key));
}

/* HKDF-SHA-256 (RFC 5869) of the as_token, one output block: the pickle
 * key never appears in the config, and changes with the token's secret. */
static void
derive_pickle_key (const char *secret, guint8 out[32])
{
  static const char salt[] = "passerelle crypto store";
  static const guint8 info[] = "olm pickle key\x01";
  guint8 prk[32];
  gsize len = sizeof prk;
  g_autoptr (GHmac) extract = g_hmac_new (G_CHECKSUM_SHA256, (const guchar *) salt,
                                          sizeof salt - 1);
  g_hmac_update (extract, (const guchar *) secret, (gssize) strlen (secret));
  g_hmac_get_digest (extract, prk, &len);
  g_autoptr (GHmac) expand = g_hmac_new (G_CHECKSUM_SHA256, prk, sizeof prk);
  g_hmac_update (expand, info, sizeof info - 1);
  len = 32;
  g_hmac_get_digest (expand, out, &len);
  memset (prk, 0, sizeof prk);
}

static void
kv_set (PaBridge *b, const char *key, const char *value)
{
  g_autoptr (GError) error = NULL;
  pa_bridge_batch (b);
  if (!pa_store_kv_set (b->store, key, value, &error))
    g_warning ("store: %s", error->message);
}

static gboolean
is_ours (PaBridge *b, const char *mxid)
{
  return pa_ghost_is_ours (b, mxid);
}

static int
room_state (PaBridgeCrypto *bc, const char *room_id)
{
  return GPOINTER_TO_INT (g_hash_table_lookup (bc->room_state, room_id));
}

static void
set_room_state (PaBridgeCrypto *bc, const char *room_id, int state)
{
  g_hash_table_insert (bc->room_state, g_strdup (room_id), GINT_TO_POINTER (state));
}

/* ------------------------------------------------------------- start-up */

static PaMatrixResponse *
request_sync (PaMatrix *mx, const char *method, const char *path, json_t *body)
{
  PaMatrixRequest req = { .method = method, .path = path, .body = body, .max_attempts = 8,
                          .timeout_s = 30 };
  return pa_matrix_request_sync (mx, &req);
}

/* The device token from an earlier run when it still works (same device):
 * a new device would leave every session shared with the old one behind. */
static gboolean
reuse_device (PaBridge *b, PaBridgeCrypto *bc)
{
  g_autofree char *token = pa_store_kv_get (b->store, KV_TOKEN);
  g_autofree char *device = pa_store_kv_get (b->store, KV_DEVICE);
  if (token == NULL || device == NULL)
    return FALSE;
  g_autoptr (PaMatrix) mx = pa_matrix_new (b->config->hs_address, token);
  g_autoptr (PaMatrixResponse) resp = request_sync (mx, "GET",
                                                    "/_matrix/client/v3/account/whoami", NULL);
  if (!pa_matrix_response_ok (resp)
      || g_strcmp0 (str (resp->body, "device_id"), device) != 0)
    {
      g_message ("the bot device's stored token no longer works (%u): logging in again",
                 resp->status);
      return FALSE;
    }
  bc->device_mx = g_steal_pointer (&mx);
  bc->device_id = g_steal_pointer (&device);
  return TRUE;
}

/* Logs the bot in with the appservice login type (as_token auth), asking
 * for the stored device id if any, so its Olm account stays valid. */
static gboolean
login_device (PaBridge *b, PaBridgeCrypto *bc, GError **error)
{
  g_autofree char *device = pa_store_kv_get (b->store, KV_DEVICE);
  g_autoptr (json_t) body = json_pack ("{s:s, s:{s:s, s:s}, s:s}", "type",
                                       "m.login.application_service", "identifier", "type",
                                       "m.id.user", "user", b->config->bot_localpart,
                                       "initial_device_display_name", "Passerelle bridge");
  if (device)
    json_object_set_new (body, "device_id", json_string (device));
  g_autoptr (PaMatrixResponse) resp = request_sync (b->mx, "POST", "/_matrix/client/v3/login",
                                                    body);
  const char *token = str (resp->body, "access_token");
  const char *device_id = str (resp->body, "device_id");
  if (!pa_matrix_response_ok (resp) || token == NULL || device_id == NULL)
    {
      g_autoptr (GError) e = pa_matrix_response_to_error (resp);
      g_set_error (error, e->domain, e->code, "bot device login: %s", e->message);
      return FALSE;
    }
  kv_set (b, KV_TOKEN, token);
  kv_set (b, KV_DEVICE, device_id);
  pa_bridge_flush (b);
  bc->device_mx = pa_matrix_new (b->config->hs_address, token);
  bc->device_id = g_strdup (device_id);
  return TRUE;
}

static void
upload_done (PaCrypto *crypto, json_t *result, const GError *error, gpointer user_data)
{
  PaBridgeCrypto *bc = user_data;
  bc->uploading = FALSE;
  if (error)
    g_warning ("bot device key upload: %s", error->message);
  else
    g_debug ("bot device keys uploaded (%" JSON_INTEGER_FORMAT " one-time keys on the server)",
             json_integer_value (json_object_get (result, "signed_curve25519")));
}

static void
upload_keys (PaBridgeCrypto *bc)
{
  if (bc->uploading)
    return;
  bc->uploading = TRUE;
  pa_crypto_upload_keys (bc->crypto, upload_done, bc);
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
      list = g_ptr_array_new_with_free_func ((GDestroyNotify) json_decref);
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
      pa_bridge_notice (b, str (ev, "room_id"),
                        "✅ The key of your earlier message arrived: it is bridged now.");
      handle (b, clear, late_done);
    }
  g_ptr_array_unref (list);
}

/* ---------------------------------------------- others' key requests */

typedef struct {
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
  g_autoptr (json_t) fwd = pa_crypto_forwarded_key (crypto, k->user_id, k->request, member,
                                                    &code, &error);
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
        g_ptr_array_add (users, (gpointer) json_string_value (ev));
      if (users->len == PA_CRYPTO_MAX_USERS || (i + 1 == json_array_size (changed) && users->len))
        {
          g_ptr_array_add (users, NULL);
          if (!pa_crypto_devices_changed (bc->crypto, (const char *const *) users->pdata,
                                          &error))
            g_warning ("device lists: %s", error->message);
          g_clear_error (&error);
          g_ptr_array_set_size (users, 0);
        }
    }
  json_t *mine_counts = json_object_get (json_object_get (txn->otk_counts, b->bot_mxid),
                                         bc->device_id);
  json_t *count = json_object_get (mine_counts, "signed_curve25519");
  /* Without the count (MSC3202 off), an Olm message may have used a
   * one-time key: top up, the upload itself asks the server's count. */
  if ((json_is_integer (count) && json_integer_value (count) < PA_CRYPTO_OTK_TARGET / 2)
      || (count == NULL && olm))
    upload_keys (bc);
}

/* Starts end-to-bridge encryption when encryption.allow is on: the bot
 * device (logged in once, then reused), its crypto store next to the
 * database and the key upload. */
gboolean
pa_bridge_crypto_start (PaBridge *b, GError **error)
{
  if (!b->config->encryption_allow)
    return TRUE;
  PaBridgeCrypto *bc = g_new0 (PaBridgeCrypto, 1);
  bc->bridge = b;
  bc->room_state = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  bc->members = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                       (GDestroyNotify) g_strfreev);
  bc->waiting = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  bc->sends = g_hash_table_new (g_direct_hash, g_direct_equal);
  bc->deferred = g_hash_table_new (g_direct_hash, g_direct_equal);
  bc->key_requests = g_hash_table_new (g_direct_hash, g_direct_equal);
  bc->late = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                    (GDestroyNotify) g_ptr_array_unref);
  bc->no_wait = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  b->crypto = bc;
  if (!reuse_device (b, bc) && !login_device (b, bc, error))
    return FALSE;
  guint8 key[32];
  derive_pickle_key (b->config->as_token, key);
  g_autofree char *dir = g_path_get_dirname (b->config->database);
  g_autofree char *db = g_build_filename (dir, "crypto.db", NULL);
  bc->crypto = pa_crypto_new (bc->device_mx, b->bot_mxid, bc->device_id, db, key, sizeof key,
                              error);
  memset (key, 0, sizeof key);
  if (bc->crypto == NULL)
    {
      g_prefix_error (error, "%s: ", db);
      return FALSE;
    }
  g_message ("bot device %s (curve25519 %s)", bc->device_id,
             pa_crypto_get_curve25519 (bc->crypto));
  upload_keys (bc);
  return TRUE;
}

/* ------------------------------------------------------------- sending */

typedef struct {
  PaBridgeCrypto *bc;
  const PaOutboundItem *item; /* borrowed from the queue's flight */
  PaMatrixCallback cb;
  gpointer cb_data;
  char *room_id;
  char *type;
  char *txn;
  json_t *content;
} SendCtx;

static void
send_ctx_free (SendCtx *s)
{
  g_hash_table_remove (s->bc->sends, s);
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
  PaMatrixRequest req = { .method = it->method, .path = path, .user_id = it->user_id,
                          .ts = it->ts, .raw_body = raw ? raw : it->body, .max_attempts = 3,
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

static void
encrypt_now (SendCtx *s, GStrv users)
{
  pa_crypto_encrypt (s->bc->crypto, s->room_id, (const char *const *) users, s->type, s->content,
                     encrypted_cb, s);
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
  size_t i;
  json_t *ev;
  json_array_foreach (chunk, i, ev)
    {
      const char *who = str (ev, "state_key");
      const char *m = str (json_object_get (ev, "content"), "membership");
      /* Our ghosts have no devices; the bot device holds the session. */
      if (who == NULL || m == NULL || is_ours (b, who)
          || !(g_str_equal (m, "join") || g_str_equal (m, "invite")))
        continue;
      /* Users the permissions block are told the key is withheld. */
      pa_crypto_set_blocked (s->bc->crypto, who, pa_bridge_level (b, who) == PA_LEVEL_BLOCK);
      if (users->len >= MAX_MEMBERS)
        break;
      g_ptr_array_add (users, g_strdup (who));
    }
  g_ptr_array_add (users, NULL);
  GStrv list = (GStrv) g_ptr_array_free (g_steal_pointer (&users), FALSE);
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
                                           "?not_membership=leave", er);
  PaMatrixRequest req = { .method = "GET", .path = path, .user_id = s->item->user_id,
                          .max_attempts = 3 };
  pa_matrix_request (s->bc->bridge->mx, &req, members_cb, s);
}

static void
state_cb (PaMatrix *mx, const PaMatrixResponse *resp, gpointer user_data)
{
  SendCtx *s = user_data;
  if (pa_matrix_response_ok (resp))
    set_room_state (s->bc, s->room_id, ROOM_ENCRYPTED);
  else if (resp->status == 404)
    set_room_state (s->bc, s->room_id, ROOM_PLAIN);
  else if (resp->status == 0 || resp->status >= 500 || resp->status == 429)
    {
      g_autoptr (GError) e = pa_matrix_response_to_error (resp);
      send_retry (s, e->message);
      return;
    }
  /* Another refusal (the sender is not in the room): the send itself will
   * be refused the same way and dropped by the queue. */
  if (room_state (s->bc, s->room_id) == ROOM_ENCRYPTED)
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
pa_bridge_crypto_send (PaBridge *b, const PaOutboundItem *it, PaMatrixCallback cb,
                       gpointer cb_data)
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
  int state = room_state (bc, s->room_id);
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
                                               "m.room.encryption/", er);
      PaMatrixRequest req = { .method = "GET", .path = path, .user_id = it->user_id,
                              .max_attempts = 3 };
      pa_matrix_request (b->mx, &req, state_cb, s);
    }
  return TRUE;
}

/* ------------------------------------------------------------ receiving */

typedef struct {
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
  g_message ("could not decrypt %s in %s: %s", event_id ? event_id : "?", room_id,
             error->message);
  if (is_bridged_room (b, room_id))
    {
      gboolean missing = g_error_matches (error, PA_ERROR, PA_ERROR_NOT_FOUND);
      g_autofree char *msg = g_strdup_printf (
          missing ? "⚠ I could not decrypt your message yet (%s): I asked your devices for the "
                    "key and will bridge it if the key arrives."
                  : "⚠ I could not decrypt your message (%s): it was not bridged.",
          error->message);
      pa_bridge_notice (b, room_id, msg);
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
      set_room_state (bc, room_id, ROOM_ENCRYPTED);
      /* Remembered across restarts: media for the portal are encrypted. */
      g_autoptr (PaPortalRow) row = pa_store_portal_by_room (b->store, room_id);
      if (row && !row->encrypted)
        {
          g_autoptr (GError) error = NULL;
          row->encrypted = TRUE;
          pa_bridge_batch (b);
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
      if (who && !is_ours (b, who) && room_state (bc, room_id) != ROOM_PLAIN)
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
      set_room_state (bc, room_id, ROOM_ENCRYPTED);
      if (pa_bridge_level (b, sender) == PA_LEVEL_BLOCK)
        return FALSE;
      decrypt_event (b, ev, decrypted, done);
      return TRUE;
    }
  if (b->config->encryption_require && is_message_type (type)
      && !json_object_get (ev, "pa_encryption") && room_state (bc, room_id) != ROOM_ENCRYPTED)
    {
      g_autoptr (PaPortalRow) row = pa_store_portal_by_room (b->store, room_id);
      if (row && !row->encrypted && pa_bridge_level (b, sender) > PA_LEVEL_BLOCK)
        {
          pa_bridge_notice (b, room_id, "⚠ Not delivered: this bridge only bridges encrypted "
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
  set_room_state (b->crypto, room_id, ROOM_ENCRYPTED);
  if (creator == NULL)
    return;
  g_autofree char *esc = pa_matrix_escape (room_id);
  g_autofree char *ipath = g_strdup_printf ("/_matrix/client/v3/rooms/%s/invite", esc);
  g_autoptr (json_t) ibody = json_pack ("{s:s}", "user_id", b->bot_mxid);
  g_autofree char *itxn = pa_bridge_txn_id (room_id, "invite", b->bot_mxid, NULL);
  pa_bridge_queue_request (b, room_id, "POST", ipath, creator, ibody, 0, itxn, NULL);
  g_autofree char *jpath = g_strdup_printf ("/_matrix/client/v3/join/%s", esc);
  g_autofree char *jtxn = pa_bridge_txn_id (room_id, "join", b->bot_mxid, NULL);
  pa_bridge_queue_request (b, room_id, "POST", jpath, NULL, NULL, 0, jtxn, NULL);
}

gboolean
pa_bridge_crypto_room_encrypted (PaBridge *b, const char *room_id)
{
  if (b->crypto == NULL || room_id == NULL)
    return FALSE;
  int state = room_state (b->crypto, room_id);
  if (state != ROOM_UNKNOWN)
    return state == ROOM_ENCRYPTED;
  g_autoptr (PaPortalRow) row = pa_store_portal_by_room (b->store, room_id);
  if (row)
    return row->encrypted;
  /* Management rooms: Tchap encrypts every DM; an encrypted upload into a
   * clear room still shows in every client that supports encryption. */
  g_autofree char *owner = pa_store_management_owner (b->store, room_id);
  return owner != NULL && b->config->encryption_default;
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
  while (g_hash_table_size (bc->sends) > 0)
    {
      g_hash_table_iter_init (&it, bc->sends);
      g_hash_table_iter_next (&it, &p, NULL);
      send_ctx_free (p);
    }
  g_hash_table_destroy (bc->sends);
  while (g_hash_table_size (bc->key_requests) > 0)
    {
      g_hash_table_iter_init (&it, bc->key_requests);
      g_hash_table_iter_next (&it, &p, NULL);
      key_request_free (p);
    }
  g_hash_table_destroy (bc->key_requests);
  g_hash_table_destroy (bc->late);
  g_hash_table_destroy (bc->no_wait);
  g_clear_pointer (&bc->device_mx, pa_matrix_free);
  g_hash_table_destroy (bc->room_state);
  g_hash_table_destroy (bc->members);
  g_hash_table_destroy (bc->waiting);
  g_free (bc->device_id);
  g_free (bc);
}
