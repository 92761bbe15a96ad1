/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* End-to-bridge encryption (docs/encryption.md), the bot's device: it is
 * created once through MSC4190 device management (or, on a homeserver
 * without it, logged in) and kept across restarts, its Olm account lives
 * in the crypto core (src/crypto/) with a pickle key derived from the
 * as_token, its keys are uploaded and topped up, and it is cross-signed.
 * Also the table of which rooms are encrypted, which the sending and
 * receiving files share. */
#define G_LOG_DOMAIN "passerelle-bridge-crypto"

#include "pa-bridge-crypto-device.h"

#include "db/pa-db.h"

#include "pa-batch.h"
#include "crypto/pa-crypto-cross-signing.h"

#define KV_TOKEN "crypto:access_token"
#define KV_DEVICE "crypto:device_id"
/* How the device was made, so a restart takes the same way: */
#define KV_MODE "crypto:device_mode"
#define MODE_MSC4190 "msc4190" /* PUT /devices as the appservice, no token */
#define MODE_LOGIN "login"     /* m.login.application_service, own token */
#define HOW_LACKS_MSC4190 "logged in: the homeserver lacks MSC4190"

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
  g_autoptr (GHmac) extract = g_hmac_new (G_CHECKSUM_SHA256, (const guchar *)salt, sizeof salt - 1);
  g_hmac_update (extract, (const guchar *)secret, (gssize)strlen (secret));
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
  pa_batch_begin (b);
  if (!pa_store_kv_set (b->store, key, value, &error))
    g_warning ("store: %s", error->message);
}
int
pa_bridge_crypto_room_state (PaBridgeCrypto *bc, const char *room_id)
{
  return GPOINTER_TO_INT (g_hash_table_lookup (bc->room_state, room_id));
}
void
pa_bridge_crypto_set_room_state (PaBridgeCrypto *bc, const char *room_id, int state)
{
  g_hash_table_insert (bc->room_state, g_strdup (room_id), GINT_TO_POINTER (state));
}
static PaMatrixResponse *
request_sync (PaMatrix *mx, const char *method, const char *path, json_t *body)
{
  PaMatrixRequest req
      = { .method = method, .path = path, .body = body, .max_attempts = 8, .timeout_s = 30 };
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
  g_autoptr (PaMatrixResponse) resp
      = request_sync (mx, "GET", "/_matrix/client/v3/account/whoami", NULL);
  if (!pa_matrix_response_ok (resp) || g_strcmp0 (str (resp->body, "device_id"), device) != 0)
    {
      g_message ("the bot device's stored token no longer works (%u)",
                 resp->status);
      return FALSE;
    }
  bc->device_mx = g_steal_pointer (&mx);
  bc->device_id = g_steal_pointer (&device);
  return TRUE;
}
/* A new device id, shaped like Synapse's own (10 capital letters). */
static char *
new_device_id (void)
{
  char id[11];
  for (guint i = 0; i < 10; i++)
    id[i] = (char)('A' + g_random_int_range (0, 26));
  id[10] = '\0';
  return g_strdup (id);
}
/* MSC4190: the appservice creates the bot's device itself (Synapse upserts
 * devices for appservice users on PUT /devices/<id>), then uses it without
 * an access token, naming it in ?device_id= (MSC3202 masquerading).  For a
 * stored id the PUT is a no-op that says whether the device still exists.
 * FALSE with *status when the homeserver refused. */
static gboolean
put_device (PaBridge *b, const char *device_id, gboolean *created, guint *status)
{
  g_autofree char *escaped = pa_matrix_escape (device_id);
  g_autofree char *path = g_strdup_printf ("/_matrix/client/v3/devices/%s", escaped);
  g_autoptr (json_t) body = json_pack ("{s:s}", "display_name", "Passerelle bridge");
  PaMatrixRequest req = { .method = "PUT", .path = path, .user_id = b->bot_mxid, .body = body,
                          .max_attempts = 8, .timeout_s = 30 };
  g_autoptr (PaMatrixResponse) resp = pa_matrix_request_sync (b->mx, &req);
  *status = resp->status;
  *created = resp->status == 201;
  return pa_matrix_response_ok (resp);
}
/* The bot device through MSC4190, under the stored id or a new one; FALSE
 * when the homeserver refuses (it lacks MSC4190).  *how is for the log. */
static gboolean
msc4190_device (PaBridge *b, PaBridgeCrypto *bc, const char **how)
{
  g_autofree char *stored = pa_store_kv_get (b->store, KV_DEVICE);
  g_autofree char *id = stored != NULL ? g_strdup (stored) : new_device_id ();
  gboolean created = FALSE;
  guint status = 0;
  if (!put_device (b, id, &created, &status))
    {
      g_message ("the homeserver did not create the bot's device (HTTP %u): logging in instead",
                 status);
      return FALSE;
    }
  if (stored == NULL)
    *how = "created through MSC4190 device management";
  else if (created)
    {
      /* Deleted on the server (an admin): same id, but its published keys
       * are gone; clients find it again once it uploads new ones. */
      g_warning ("the homeserver no longer had device %s of %s: made again", id, b->bot_mxid);
      *how = "made again through MSC4190 device management";
    }
  else
    *how = "kept through MSC4190 device management";
  kv_set (b, KV_DEVICE, id);
  kv_set (b, KV_MODE, MODE_MSC4190);
  pa_batch_flush (b);
  bc->device_mx = pa_matrix_new (b->config->hs_address, b->config->as_token);
  bc->device_id = g_steal_pointer (&id);
  return TRUE;
}
/* Logs the bot in with the appservice login type (as_token auth), asking
 * for the stored device id if any, so its Olm account stays valid. */
static gboolean
login_device (PaBridge *b, PaBridgeCrypto *bc, GError **error)
{
  g_autofree char *device = pa_store_kv_get (b->store, KV_DEVICE);
  g_autoptr (json_t) body
      = json_pack ("{s:s, s:{s:s, s:s}, s:s}", "type", "m.login.application_service", "identifier",
                   "type", "m.id.user", "user", b->config->bot_localpart,
                   "initial_device_display_name", "Passerelle bridge");
  if (device)
    json_object_set_new (body, "device_id", json_string (device));
  g_autoptr (PaMatrixResponse) resp
      = request_sync (b->mx, "POST", "/_matrix/client/v3/login", body);
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
  pa_batch_flush (b);
  bc->device_mx = pa_matrix_new (b->config->hs_address, token);
  bc->device_id = g_strdup (device_id);
  return TRUE;
}
/* The bot device: an existing deployment's logged-in device while its
 * token works; else MSC4190; else (older homeservers) a login. */
static gboolean
open_device (PaBridge *b, PaBridgeCrypto *bc, const char **how, GError **error)
{
  g_autofree char *mode = pa_store_kv_get (b->store, KV_MODE);
  if (g_strcmp0 (mode, MODE_MSC4190) != 0 && reuse_device (b, bc))
    {
      if (mode == NULL)
        {
          kv_set (b, KV_MODE, MODE_LOGIN);
          pa_batch_flush (b);
        }
      *how = "logged in, its access token kept from an earlier run";
      return TRUE;
    }
  if (msc4190_device (b, bc, how))
    return TRUE;
  if (!login_device (b, bc, error))
    return FALSE;
  kv_set (b, KV_MODE, MODE_LOGIN);
  pa_batch_flush (b);
  *how = HOW_LACKS_MSC4190;
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
void
pa_bridge_crypto_upload_keys (PaBridgeCrypto *bc)
{
  if (bc->uploading)
    return;
  bc->uploading = TRUE;
  pa_crypto_upload_keys (bc->crypto, upload_done, bc);
}
static void
cross_sign_done (PaCrypto *crypto, json_t *result, const GError *error, gpointer user_data)
{
  if (error)
    {
      g_warning ("bot cross-signing: %s", error->message);
      return;
    }
  gboolean uploaded = json_is_true (json_object_get (result, "uploaded"));
  gboolean reset = json_is_true (json_object_get (result, "reset"));
  g_message ("bot cross-signing: master key %s (%s)%s", str (result, "master"),
             reset ? "reset" : uploaded ? "uploaded" : "unchanged",
             json_is_true (json_object_get (result, "device_signed")) ? ", device signed" : "");
}
/* Starts end-to-bridge encryption when encryption.allow is on: the bot
 * device (made once, then reused), its crypto store next to the
 * database, the key upload and the cross-signing. */
gboolean
pa_bridge_crypto_start (PaBridge *b, GError **error)
{
  if (!b->config->encryption_allow)
    return TRUE;
  PaBridgeCrypto *bc = g_new0 (PaBridgeCrypto, 1);
  bc->bridge = b;
  bc->room_state = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  bc->members = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_strfreev);
  bc->waiting = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  bc->sends = g_hash_table_new (g_direct_hash, g_direct_equal);
  bc->deferred = g_hash_table_new (g_direct_hash, g_direct_equal);
  bc->key_requests = g_hash_table_new (g_direct_hash, g_direct_equal);
  bc->late
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_ptr_array_unref);
  bc->no_wait = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  b->crypto = bc;
  const char *how = NULL;
  if (!open_device (b, bc, &how, error))
    return FALSE;
  guint8 key[32];
  derive_pickle_key (b->config->as_token, key);
  /* crypto.db beside a SQLite store; the schema "crypto" of a PostgreSQL one */
  g_autofree char *db = pa_db_target_sibling (b->config->database, "crypto.db");
  bc->crypto
      = pa_crypto_new (bc->device_mx, b->bot_mxid, bc->device_id, db, key, sizeof key, error);
  memset (key, 0, sizeof key);
  if (bc->crypto == NULL)
    {
      g_autofree char *shown = pa_db_target_display (db);
      g_prefix_error (error, "%s: ", shown);
      return FALSE;
    }
  g_message ("bot device %s (%s; curve25519 %s)", bc->device_id, how,
             pa_crypto_get_curve25519 (bc->crypto));
  pa_bridge_crypto_upload_keys (bc);
  /* Queued behind the upload: the device's keys are on the server by the
   * time it is signed.  A restart finds everything in place and uploads
   * nothing. */
  pa_crypto_cross_sign (bc->crypto, cross_sign_done, NULL);
  /* Whether the homeserver creates devices for us: the bot's own device
   * answered it, unless it is a logged-in device kept from an earlier run
   * (ghosts' devices depend on it: pa-bridge-crypto-ghosts.c). */
  g_autofree char *mode = pa_store_kv_get (b->store, KV_MODE);
  bc->msc4190 = g_strcmp0 (mode, MODE_MSC4190) == 0   ? PA_MSC4190_YES
                : g_str_equal (how, HOW_LACKS_MSC4190) ? PA_MSC4190_NO
                                                       : PA_MSC4190_ASK;
  return TRUE;
}
gboolean
pa_bridge_crypto_room_encrypted (PaBridge *b, const char *room_id)
{
  if (b->crypto == NULL || room_id == NULL)
    return FALSE;
  int state = pa_bridge_crypto_room_state (b->crypto, room_id);
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

void
pa_bridge_crypto_device_free (PaBridgeCrypto *bc)
{
  g_clear_pointer (&bc->device_mx, pa_matrix_free);
  g_hash_table_destroy (bc->room_state);
  g_hash_table_destroy (bc->members);
  g_hash_table_destroy (bc->waiting);
  g_free (bc->device_id);
  g_free (bc);
}
