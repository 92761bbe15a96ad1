/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The asynchronous half: operations that need the homeserver, run one at
 * a time from a FIFO.  Serialising them is what keeps the protocol simple:
 * no two operations claim keys for the same device, share the same room's
 * session or save the account concurrently.  Each operation is a small
 * state machine advanced by PaMatrix callbacks; crypto state is re-read
 * from the store at every step, so synchronous calls made in between
 * (decrypting, pa_crypto_room_changed()) are seen.  The queue, its idle
 * source and the PaCryptoLife its requests hold are owned here.  Calls
 * pa-crypto-outbound.c, pa-crypto-olm-sessions.c, pa-crypto-devices.c,
 * pa-crypto-cross-signing.c and pa-crypto-account.c (through their
 * pa-crypto.h functions too). */
#define G_LOG_DOMAIN "passerelle-crypto"

#include "pa-crypto-ops.h"

#include <string.h>

#include "pa-crypto-cross-signing.h"
#include "pa-crypto-outbound.h"

#define HTTP_ATTEMPTS 5
/* Server-side wait for remote servers in /keys/query and /keys/claim. */
#define FEDERATION_TIMEOUT_MS 10000
/* An encrypt retries its share when the room's session changed under it
 * (pa_crypto_room_changed() between two requests); more means a bug. */
#define MAX_SHARE_ROUNDS 3

/* Outlives the PaCrypto when requests are still in flight: their
 * callbacks find crypto == NULL and end silently. */
struct _PaCryptoLife
{
  gint refs;
  PaCrypto *crypto;
};

typedef enum
{
  OP_UPLOAD,
  OP_TRACK,
  OP_SHARE,
  OP_ENCRYPT,
  OP_SEND_CLEAR, /* a clear to-device event (key requests, withheld notices) */
  OP_SEND_OLM,   /* an Olm-encrypted to-device event to one device */
  OP_CROSS_SIGN, /* the identity's cross-signing keys and device signature */
} OpKind;

typedef struct _CryptoOp CryptoOp;
typedef void (*OpStep) (CryptoOp *op, PaCrypto *crypto, const PaMatrixResponse *resp);

struct _CryptoOp
{
  OpKind kind;
  PaCryptoLife *life;
  PaCryptoCallback cb;
  gpointer user_data;
  char *room_id;
  GStrv users;
  char *type;
  json_t *content;
  gboolean in_flight;
  gboolean orphaned; /* the PaCrypto is gone; free when the request ends */
  OpStep next;
  GStrv queried;  /* users sent in the current /keys/query */
  json_t *failed; /* users whose device list could not be fetched */
  guint n_queried;
  json_t *payload; /* /sendToDevice body in flight */
  guint no_session;
  guint rounds;
  gboolean claimed;
  char *shared_session; /* the session the share phase ended with */
  GError *early_error;  /* fail as soon as run */
  char *device_id;      /* OP_SEND_OLM: the target, by id ... */
  char *curve25519;     /* ... or by its curve25519 key */
  gboolean new_session; /* OP_SEND_OLM: claim a fresh Olm session first */
  json_t *withheld;     /* m.room_key.withheld messages of the share */
  guint n_shared;
  /* OP_CROSS_SIGN: what the homeserver had, and what was uploaded */
  gboolean xs_device_was_signed;
  gboolean xs_uploaded;
  gboolean xs_reset;
  gboolean xs_device_signed;
};

static void ops_kick (PaCrypto *crypto);

static PaCryptoLife *
life_ref (PaCryptoLife *life)
{
  life->refs++;
  return life;
}

static void
life_unref (PaCryptoLife *life)
{
  if (--life->refs == 0)
    g_free (life);
}

static void
op_free (CryptoOp *op)
{
  life_unref (op->life);
  g_free (op->room_id);
  g_strfreev (op->users);
  g_strfreev (op->queried);
  g_free (op->type);
  g_free (op->shared_session);
  g_free (op->device_id);
  g_free (op->curve25519);
  g_clear_error (&op->early_error);
  if (op->content != NULL)
    json_decref (op->content);
  if (op->failed != NULL)
    json_decref (op->failed);
  if (op->payload != NULL)
    json_decref (op->payload);
  if (op->withheld != NULL)
    json_decref (op->withheld);
  g_free (op);
}

/* Ends the running (head) operation and starts the next. */
static void
op_finish (CryptoOp *op, PaCrypto *crypto, json_t *result, GError *error)
{
  g_assert (g_queue_peek_head (&crypto->ops) == op);
  g_queue_pop_head (&crypto->ops);
  if (op->cb != NULL)
    op->cb (crypto, error == NULL ? result : NULL, error, op->user_data);
  if (result != NULL)
    json_decref (result);
  g_clear_error (&error);
  op_free (op);
  ops_kick (crypto);
}

static void
op_fail (CryptoOp *op, PaCrypto *crypto, GError *error)
{
  op_finish (op, crypto, NULL, error);
}

static void
http_done (PaMatrix *mx, const PaMatrixResponse *resp, gpointer user_data)
{
  CryptoOp *op = user_data;
  PaCrypto *crypto = op->life->crypto;

  op->in_flight = FALSE;
  if (op->orphaned || crypto == NULL)
    {
      op_free (op);
      return;
    }
  if (!pa_matrix_response_ok (resp))
    {
      op_fail (op, crypto, pa_matrix_response_to_error (resp));
      return;
    }
  if (!json_is_object (resp->body))
    {
      op_fail (op, crypto,
               g_error_new_literal (PA_ERROR, PA_ERROR_JSON,
                                    "homeserver answered without a JSON object"));
      return;
    }
  op->next (op, crypto, resp);
}

/* Sends a request as the bot device; `next` gets the successful answer. */
static void
op_http (CryptoOp *op, PaCrypto *crypto, const char *method, const char *path, json_t *body,
         OpStep next)
{
  g_autofree char *dev = pa_matrix_escape (crypto->device_id);
  g_autofree char *full = g_strdup_printf ("%s?device_id=%s", path, dev);
  PaMatrixRequest req = {
    .method = method,
    .path = full,
    .user_id = crypto->user_id,
    .body = body,
    .max_attempts = HTTP_ATTEMPTS,
  };

  op->next = next;
  op->in_flight = TRUE;
  pa_matrix_request (crypto->mx, &req, http_done, op);
}

/* -------------------------------------------------------------- upload */

static void
upload_done (CryptoOp *op, PaCrypto *crypto, const PaMatrixResponse *resp)
{
  GError *error = NULL;
  json_t *count
      = json_object_get (json_object_get (resp->body, "one_time_key_counts"), "signed_curve25519");

  if (!pa_crypto_keys_uploaded (crypto, &error))
    {
      op_fail (op, crypto, error);
      return;
    }
  op_finish (op, crypto,
             json_pack ("{s:I}", "signed_curve25519",
                        json_is_integer (count) ? json_integer_value (count) : (json_int_t) 0),
             NULL);
}

static void
upload_counted (CryptoOp *op, PaCrypto *crypto, const PaMatrixResponse *resp)
{
  GError *error = NULL;
  json_t *count
      = json_object_get (json_object_get (resp->body, "one_time_key_counts"), "signed_curve25519");
  json_int_t n = json_is_integer (count) ? json_integer_value (count) : 0;
  g_autoptr (json_t) body = NULL;

  body = pa_crypto_keys_upload_body (crypto, (guint) CLAMP (n, 0, (gint64) crypto->otk_target),
                                     &error);
  if (body == NULL)
    {
      op_fail (op, crypto, error);
      return;
    }
  op_http (op, crypto, "POST", "/_matrix/client/v3/keys/upload", body, upload_done);
}

static void
upload_start (CryptoOp *op, PaCrypto *crypto)
{
  g_autoptr (json_t) empty = json_object ();

  /* An empty upload answers with the server's one-time key count, which
   * says how many to generate. */
  op_http (op, crypto, "POST", "/_matrix/client/v3/keys/upload", empty, upload_counted);
}

/* --------------------------------------------------------------- track */

static void share_claim (CryptoOp *op, PaCrypto *crypto);
static void track_finished (CryptoOp *op, PaCrypto *crypto);

static void
track_answered (CryptoOp *op, PaCrypto *crypto, const PaMatrixResponse *resp)
{
  json_t *keys = json_object_get (resp->body, "device_keys");

  for (guint i = 0; op->queried[i] != NULL; i++)
    {
      g_autoptr (GError) error = NULL;
      json_t *devices = json_object_get (keys, op->queried[i]);

      if (devices == NULL || !pa_crypto_add_device_keys (crypto, op->queried[i], devices, &error))
        {
          g_message ("device list of %s not updated: %s", op->queried[i],
                     error != NULL ? error->message : "missing from the answer");
          json_array_append_new (op->failed, json_string (op->queried[i]));
          continue;
        }
      op->n_queried++;
    }
  track_finished (op, crypto);
}

/* Queries the users of the operation that are new or dirty. */
static void
track_start (CryptoOp *op, PaCrypto *crypto)
{
  g_autoptr (GPtrArray) dirty = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (json_t) body = NULL;
  json_t *wanted = json_object ();
  GError *error = NULL;

  op->failed = json_array ();
  for (guint i = 0; op->users != NULL && op->users[i] != NULL; i++)
    {
      gboolean tracked, is_dirty;

      if (!pa_crypto_store_track_user (crypto->store, op->users[i], &error)
          || !pa_crypto_store_user_state (crypto->store, op->users[i], &tracked, &is_dirty, &error))
        {
          json_decref (wanted);
          op_fail (op, crypto, error);
          return;
        }
      if (is_dirty && json_object_get (wanted, op->users[i]) == NULL)
        {
          json_object_set_new (wanted, op->users[i], json_array ());
          g_ptr_array_add (dirty, g_strdup (op->users[i]));
        }
    }
  if (dirty->len == 0)
    {
      json_decref (wanted);
      track_finished (op, crypto);
      return;
    }
  g_ptr_array_add (dirty, NULL);
  op->queried = (GStrv) g_ptr_array_free (g_steal_pointer (&dirty), FALSE);
  body = json_pack ("{s:o, s:i}", "device_keys", wanted, "timeout", FEDERATION_TIMEOUT_MS);
  op_http (op, crypto, "POST", "/_matrix/client/v3/keys/query", body, track_answered);
}

static void olm_send_start (CryptoOp *op, PaCrypto *crypto);

static void
track_finished (CryptoOp *op, PaCrypto *crypto)
{
  if (op->kind == OP_SEND_OLM)
    {
      olm_send_start (op, crypto);
      return;
    }
  if (op->kind == OP_TRACK)
    {
      op_finish (op, crypto,
                 json_pack ("{s:i, s:O}", "queried", (int) op->n_queried, "failed", op->failed),
                 NULL);
      return;
    }
  share_claim (op, crypto);
}

/* --------------------------------------------------------------- share */

static void share_send (CryptoOp *op, PaCrypto *crypto);

static void
share_claimed (CryptoOp *op, PaCrypto *crypto, const PaMatrixResponse *resp)
{
  json_t *otks = json_object_get (resp->body, "one_time_keys");
  const char *user_id, *device_id;
  json_t *per_user, *claimed;

  json_object_foreach (otks, user_id, per_user)
  {
    json_object_foreach (per_user, device_id, claimed)
    {
      g_autoptr (GError) error = NULL;

      if (!pa_crypto_create_olm_session (crypto, user_id, device_id, claimed, &error))
        g_message ("no olm session with %s %s: %s", user_id, device_id, error->message);
    }
  }
  share_send (op, crypto);
}

/* Claims one-time keys for the devices that have no Olm session yet. */
static void
share_claim (CryptoOp *op, PaCrypto *crypto)
{
  g_autoptr (json_t) need = NULL, payload = NULL, body = NULL;
  json_t *wanted;
  const char *user_id;
  json_t *devices;
  GError *error = NULL;

  if (op->claimed)
    {
      share_send (op, crypto);
      return;
    }
  op->claimed = TRUE;
  payload = pa_crypto_room_key_build (crypto, op->room_id, (const char *const *) op->users, FALSE,
                                      &need, NULL, &error);
  if (payload == NULL)
    {
      op_fail (op, crypto, error);
      return;
    }
  if (json_object_size (need) == 0)
    {
      share_send (op, crypto);
      return;
    }
  wanted = json_object ();
  json_object_foreach (need, user_id, devices)
  {
    json_t *per_user = json_object ();
    gsize i;
    json_t *d;

    json_array_foreach (devices, i, d)
        json_object_set_new (per_user, json_string_value (d), json_string ("signed_curve25519"));
    json_object_set_new (wanted, user_id, per_user);
  }
  body = json_pack ("{s:o, s:i}", "one_time_keys", wanted, "timeout", FEDERATION_TIMEOUT_MS);
  op_http (op, crypto, "POST", "/_matrix/client/v3/keys/claim", body, share_claimed);
}

static void encrypt_finish (CryptoOp *op, PaCrypto *crypto);
static void share_withhold (CryptoOp *op, PaCrypto *crypto, guint shared);

static gint
compare_strp (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(const char *const *) a, *(const char *const *) b);
}

/* What a completed share covered: the session, the device lists' epoch
 * and the members (sorted). */
static char *
share_signature (PaCrypto *crypto, CryptoOp *op, const char *session_id)
{
  g_autoptr (GPtrArray) users = g_ptr_array_new ();
  GString *sig = g_string_new (session_id);

  for (guint i = 0; op->users != NULL && op->users[i] != NULL; i++)
    g_ptr_array_add (users, op->users[i]);
  g_ptr_array_sort (users, compare_strp);
  g_string_append_printf (sig, "\x1e%" G_GUINT64_FORMAT,
                          pa_crypto_store_device_epoch (crypto->store));
  for (guint i = 0; i < users->len; i++)
    g_string_append_printf (sig, "\x1e%s", (const char *) g_ptr_array_index (users, i));
  return g_string_free (sig, FALSE);
}

static void
share_complete (CryptoOp *op, PaCrypto *crypto, guint shared)
{
  g_autofree char *session_id = pa_crypto_outbound_session_id (crypto, op->room_id);

  if (session_id != NULL)
    g_hash_table_insert (crypto->shared_ok, g_strdup (op->room_id),
                         share_signature (crypto, op, session_id));

  if (op->kind == OP_ENCRYPT)
    {
      g_free (op->shared_session);
      op->shared_session = g_steal_pointer (&session_id);
      encrypt_finish (op, crypto);
      return;
    }
  op_finish (op, crypto,
             json_pack ("{s:s?, s:i, s:i}", "session_id", session_id, "shared", (int) shared,
                        "no_session", (int) op->no_session),
             NULL);
}

static void
share_sent (CryptoOp *op, PaCrypto *crypto, const PaMatrixResponse *resp)
{
  GError *error = NULL;
  guint shared = 0;
  const char *user_id;
  json_t *per_user;

  if (!pa_crypto_room_key_sent (crypto, op->room_id, op->payload, &error))
    {
      op_fail (op, crypto, error);
      return;
    }
  json_object_foreach (json_object_get (op->payload, "messages"), user_id, per_user) shared
      += json_object_size (per_user);
  g_clear_pointer (&op->payload, json_decref);
  share_withhold (op, crypto, shared);
}

static void
withheld_sent (CryptoOp *op, PaCrypto *crypto, const PaMatrixResponse *resp)
{
  pa_crypto_withheld_sent (crypto, op->withheld);
  g_clear_pointer (&op->withheld, json_decref);
  share_complete (op, crypto, op->n_shared);
}

/* Devices refused the key are told why, once per session (a client then
 * shows "the sender's device withheld the key" instead of waiting). */
static void
share_withhold (CryptoOp *op, PaCrypto *crypto, guint shared)
{
  g_autofree char *txn = NULL;
  g_autoptr (json_t) body = NULL;

  op->n_shared = shared;
  if (op->withheld == NULL || json_object_size (op->withheld) == 0)
    {
      share_complete (op, crypto, shared);
      return;
    }
  txn = pa_random_token (16);
  g_autofree char *path = g_strdup_printf ("/_matrix/client/v3/sendToDevice/"
                                           "m.room_key.withheld/%s",
                                           txn);
  body = json_pack ("{s:O}", "messages", op->withheld);
  op_http (op, crypto, "PUT", path, body, withheld_sent);
}

static void
share_send (CryptoOp *op, PaCrypto *crypto)
{
  g_autoptr (json_t) need = NULL;
  g_autofree char *txn = NULL, *path = NULL;
  GError *error = NULL;
  const char *user_id;
  json_t *devices;

  g_clear_pointer (&op->payload, json_decref);
  g_clear_pointer (&op->withheld, json_decref);
  op->payload = pa_crypto_room_key_build (crypto, op->room_id, (const char *const *) op->users,
                                          TRUE, &need, &op->withheld, &error);
  if (op->payload == NULL)
    {
      op_fail (op, crypto, error);
      return;
    }
  op->no_session = 0;
  json_object_foreach (need, user_id, devices) op->no_session += json_array_size (devices);
  if (json_object_size (json_object_get (op->payload, "messages")) == 0)
    {
      share_withhold (op, crypto, 0);
      return;
    }
  txn = pa_random_token (16);
  path = g_strdup_printf ("/_matrix/client/v3/sendToDevice/m.room.encrypted/%s", txn);
  op_http (op, crypto, "PUT", path, op->payload, share_sent);
}

/* ------------------------------------------------------------- encrypt */

static void
encrypt_finish (CryptoOp *op, PaCrypto *crypto)
{
  g_autofree char *current = pa_crypto_outbound_session_id (crypto, op->room_id);
  GError *error = NULL;
  json_t *content;

  /* The session was dropped (pa_crypto_room_changed()) after it was shared:
   * share the new one first, or its recipients could not read this. */
  if (current == NULL || g_strcmp0 (current, op->shared_session) != 0)
    {
      if (op->rounds++ < MAX_SHARE_ROUNDS)
        {
          op->claimed = FALSE;
          share_claim (op, crypto);
          return;
        }
      op_fail (op, crypto,
               g_error_new (PA_ERROR, PA_ERROR_FAILED,
                            "the megolm session of %s keeps changing while it is "
                            "shared",
                            op->room_id));
      return;
    }
  content = pa_crypto_group_encrypt (crypto, op->room_id, op->type, op->content, &error);
  if (content == NULL)
    {
      op_fail (op, crypto, error);
      return;
    }
  op_finish (op, crypto, content, NULL);
}

/* -------------------------------------------------------- to-device */

static void
sent_done (CryptoOp *op, PaCrypto *crypto, const PaMatrixResponse *resp)
{
  op_finish (op, crypto, json_pack ("{s:b}", "sent", TRUE), NULL);
}

static void
send_clear_start (CryptoOp *op, PaCrypto *crypto)
{
  g_autofree char *txn = pa_random_token (16);
  g_autofree char *etype = g_uri_escape_string (op->type, NULL, FALSE);
  g_autofree char *path = g_strdup_printf ("/_matrix/client/v3/sendToDevice/%s/%s", etype, txn);
  g_autoptr (json_t) body = json_pack ("{s:O}", "messages", op->content);

  op_http (op, crypto, "PUT", path, body, sent_done);
}

/* The target device of an OP_SEND_OLM, from the (just refreshed) cache. */
static PaCryptoDevice *
olm_target (CryptoOp *op, PaCrypto *crypto, GError **error)
{
  GError *local = NULL;
  PaCryptoDevice *d
      = op->device_id != NULL
            ? pa_crypto_store_get_device (crypto->store, op->users[0], op->device_id, &local)
            : pa_crypto_store_get_device_by_curve (crypto->store, op->curve25519, &local);

  if (local != NULL)
    {
      g_propagate_error (error, local);
      return NULL;
    }
  if (d == NULL || d->deleted || !d->verified || g_strcmp0 (d->user_id, op->users[0]) != 0)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_NOT_FOUND, "no verified device %s of %s",
                   op->device_id != NULL ? op->device_id : op->curve25519, op->users[0]);
      pa_crypto_device_free (d);
      return NULL;
    }
  return d;
}

static void
olm_send_encrypt (CryptoOp *op, PaCrypto *crypto)
{
  g_autoptr (PaCryptoDevice) d = NULL;
  g_autoptr (json_t) enc = NULL, body = NULL;
  g_autofree char *txn = NULL, *path = NULL;
  GError *error = NULL;

  d = olm_target (op, crypto, &error);
  if (d != NULL)
    enc = pa_crypto_olm_encrypt (crypto, d->user_id, d->device_id, op->type, op->content, &error);
  if (enc == NULL)
    {
      op_fail (op, crypto, error);
      return;
    }
  body = json_pack ("{s:{s:{s:O}}}", "messages", d->user_id, d->device_id, enc);
  txn = pa_random_token (16);
  path = g_strdup_printf ("/_matrix/client/v3/sendToDevice/m.room.encrypted/%s", txn);
  op_http (op, crypto, "PUT", path, body, sent_done);
}

static void
olm_send_claimed (CryptoOp *op, PaCrypto *crypto, const PaMatrixResponse *resp)
{
  g_autoptr (PaCryptoDevice) d = olm_target (op, crypto, NULL);
  json_t *claimed = d != NULL ? json_object_get (
                        json_object_get (json_object_get (resp->body, "one_time_keys"), d->user_id),
                        d->device_id)
                              : NULL;
  GError *error = NULL;

  if (claimed == NULL)
    {
      op_fail (
          op, crypto,
          g_error_new (PA_ERROR, PA_ERROR_NOT_FOUND, "%s has no one-time key left", op->users[0]));
      return;
    }
  if (!pa_crypto_create_olm_session (crypto, d->user_id, d->device_id, claimed, &error))
    {
      op_fail (op, crypto, error);
      return;
    }
  olm_send_encrypt (op, crypto);
}

/* After the device list was refreshed: claim a one-time key when there is
 * no Olm session (or a new one is wanted), then encrypt and send. */
static void
olm_send_start (CryptoOp *op, PaCrypto *crypto)
{
  g_autoptr (PaCryptoDevice) d = NULL;
  g_autoptr (GPtrArray) sessions = NULL;
  g_autoptr (json_t) body = NULL;
  GError *error = NULL;

  d = olm_target (op, crypto, &error);
  if (d != NULL)
    sessions
        = pa_crypto_store_olm_sessions (crypto->store, crypto->user_id, d->curve25519, 1, &error);
  if (sessions == NULL)
    {
      op_fail (op, crypto, error);
      return;
    }
  if (sessions->len > 0 && !op->new_session)
    {
      olm_send_encrypt (op, crypto);
      return;
    }
  body = json_pack ("{s:{s:{s:s}}, s:i}", "one_time_keys", d->user_id, d->device_id,
                    "signed_curve25519", "timeout", FEDERATION_TIMEOUT_MS);
  op_http (op, crypto, "POST", "/_matrix/client/v3/keys/claim", body, olm_send_claimed);
}

/* ---------------------------------------------------------- cross-sign */

static void
xsign_finish (CryptoOp *op, PaCrypto *crypto)
{
  op_finish (op, crypto,
             json_pack ("{s:s, s:b, s:b, s:b}", "master", pa_crypto_master_key (crypto), "uploaded",
                        op->xs_uploaded, "reset", op->xs_reset, "device_signed",
                        op->xs_device_signed),
             NULL);
}

static void
xsign_device_signed (CryptoOp *op, PaCrypto *crypto, const PaMatrixResponse *resp)
{
  json_t *failures = json_object_get (resp->body, "failures");

  if (json_object_size (failures) > 0)
    {
      g_autofree char *text = json_dumps (failures, JSON_COMPACT);

      op_fail (op, crypto,
               g_error_new (PA_ERROR, PA_ERROR_FAILED, "device signature refused: %.200s",
                            text != NULL ? text : "?"));
      return;
    }
  op->xs_device_signed = TRUE;
  xsign_finish (op, crypto);
}

/* The device signature, unless the device already carries it. */
static void
xsign_sign_device (CryptoOp *op, PaCrypto *crypto)
{
  g_autoptr (json_t) body = NULL;
  GError *error = NULL;

  if (op->xs_device_was_signed)
    {
      xsign_finish (op, crypto);
      return;
    }
  body = pa_crypto_cross_signing_device_body (crypto, &error);
  if (body == NULL)
    {
      op_fail (op, crypto, error);
      return;
    }
  op_http (op, crypto, "POST", "/_matrix/client/v3/keys/signatures/upload", body,
           xsign_device_signed);
}

static void
xsign_uploaded (CryptoOp *op, PaCrypto *crypto, const PaMatrixResponse *resp)
{
  op->xs_uploaded = TRUE;
  xsign_sign_device (op, crypto);
}

static void
xsign_queried (CryptoOp *op, PaCrypto *crypto, const PaMatrixResponse *resp)
{
  PaCrossSigningServer server;
  g_autoptr (json_t) body = NULL;
  GError *error = NULL;

  if (!pa_crypto_cross_signing_compare (crypto, resp->body, &server, &op->xs_device_was_signed,
                                        &error))
    {
      op_fail (op, crypto, error);
      return;
    }
  if (server == PA_CROSS_SIGNING_SERVER_SAME)
    {
      xsign_sign_device (op, crypto);
      return;
    }
  if (server == PA_CROSS_SIGNING_SERVER_OTHER)
    {
      /* Ours are the ones whose seeds we hold: the others cannot sign
       * anything for us, so they are replaced (the server then drops the
       * signatures made with them). */
      g_warning ("the homeserver holds other cross-signing keys for %s than the stored ones: "
                 "resetting them to master key %s",
                 crypto->user_id, pa_crypto_master_key (crypto));
      op->xs_reset = TRUE;
      op->xs_device_was_signed = FALSE;
    }
  body = pa_crypto_cross_signing_upload_body (crypto, &error);
  if (body == NULL)
    {
      op_fail (op, crypto, error);
      return;
    }
  op_http (op, crypto, "POST", "/_matrix/client/v3/keys/device_signing/upload", body,
           xsign_uploaded);
}

static void
xsign_start (CryptoOp *op, PaCrypto *crypto)
{
  g_autoptr (json_t) body = NULL;
  GError *error = NULL;

  if (!pa_crypto_cross_signing_ensure (crypto, &error))
    {
      op_fail (op, crypto, error);
      return;
    }
  body = json_pack ("{s:{s:[]}}", "device_keys", crypto->user_id);
  op_http (op, crypto, "POST", "/_matrix/client/v3/keys/query", body, xsign_queried);
}

/* ---------------------------------------------------------------- queue */

static void
op_run (CryptoOp *op, PaCrypto *crypto)
{
  if (op->early_error != NULL)
    {
      op_fail (op, crypto, g_steal_pointer (&op->early_error));
      return;
    }
  if (crypto->mx == NULL)
    {
      op_fail (op, crypto,
               g_error_new_literal (PA_ERROR, PA_ERROR_NETWORK, "crypto has no homeserver client"));
      return;
    }
  switch (op->kind)
    {
    case OP_UPLOAD:
      upload_start (op, crypto);
      break;
    case OP_ENCRYPT:
      {
        /* Nothing changed since the last complete share: encrypt now. */
        g_autofree char *sid = pa_crypto_current_session_id (crypto, op->room_id, NULL);
        g_autofree char *sig = sid != NULL ? share_signature (crypto, op, sid) : NULL;

        if (sig != NULL
            && g_strcmp0 (g_hash_table_lookup (crypto->shared_ok, op->room_id), sig) == 0)
          {
            op->shared_session = g_steal_pointer (&sid);
            encrypt_finish (op, crypto);
            break;
          }
      }
      track_start (op, crypto);
      break;
    case OP_TRACK:
    case OP_SHARE:
    case OP_SEND_OLM:
      track_start (op, crypto);
      break;
    case OP_SEND_CLEAR:
      send_clear_start (op, crypto);
      break;
    case OP_CROSS_SIGN:
      xsign_start (op, crypto);
      break;
    default:
      /* A programming error, but never a reason to abort the bridge. */
      op_fail (
          op, crypto,
          g_error_new (PA_ERROR, PA_ERROR_FAILED, "unknown crypto operation %d", (int) op->kind));
      break;
    }
}

static gboolean
ops_kick_cb (gpointer user_data)
{
  PaCrypto *crypto = user_data;
  CryptoOp *op = g_queue_peek_head (&crypto->ops);

  crypto->kick_id = 0;
  if (op != NULL && !op->in_flight)
    op_run (op, crypto);
  return G_SOURCE_REMOVE;
}

/* Starts the head operation from the main loop (never from inside the
 * caller's call, so callbacks never run re-entrantly). */
static void
ops_kick (PaCrypto *crypto)
{
  if (crypto->kick_id == 0 && !g_queue_is_empty (&crypto->ops))
    crypto->kick_id = g_idle_add (ops_kick_cb, crypto);
}

static void
op_enqueue (PaCrypto *crypto, CryptoOp *op)
{
  gboolean was_idle = g_queue_is_empty (&crypto->ops);

  op->life = life_ref (crypto->life);
  g_queue_push_tail (&crypto->ops, op);
  if (was_idle)
    ops_kick (crypto);
}

void
pa_crypto_ops_init (PaCrypto *crypto)
{
  crypto->life = g_new0 (PaCryptoLife, 1);
  crypto->life->refs = 1;
  crypto->life->crypto = crypto;
  g_queue_init (&crypto->ops);
}

void
pa_crypto_ops_dispose (PaCrypto *crypto)
{
  CryptoOp *op;

  g_clear_handle_id (&crypto->kick_id, g_source_remove);
  while ((op = g_queue_pop_head (&crypto->ops)) != NULL)
    {
      if (op->in_flight)
        op->orphaned = TRUE; /* http_done frees it */
      else
        op_free (op);
    }
  if (crypto->life != NULL)
    {
      crypto->life->crypto = NULL;
      g_clear_pointer (&crypto->life, life_unref);
    }
}

static CryptoOp *
op_new (OpKind kind, const char *const *users, PaCryptoCallback cb, gpointer user_data)
{
  CryptoOp *op = g_new0 (CryptoOp, 1);

  op->kind = kind;
  op->users = g_strdupv ((char **) users);
  op->cb = cb;
  op->user_data = user_data;
  return op;
}

/* Too many users is a run-time condition (a huge room), reported through
 * the callback like any other failure, from the main loop. */
static CryptoOp *
op_new_checked (OpKind kind, const char *const *users, PaCryptoCallback cb, gpointer user_data)
{
  CryptoOp *op = op_new (kind, NULL, cb, user_data);

  if (users != NULL && g_strv_length ((char **) users) > PA_CRYPTO_MAX_USERS)
    op->early_error
        = g_error_new (PA_ERROR, PA_ERROR_TOO_LARGE, "more than %d users in one crypto operation",
                       PA_CRYPTO_MAX_USERS);
  else
    op->users = g_strdupv ((char **) users);
  return op;
}

void
pa_crypto_upload_keys (PaCrypto *crypto, PaCryptoCallback cb, gpointer user_data)
{
  g_return_if_fail (crypto != NULL);
  op_enqueue (crypto, op_new (OP_UPLOAD, NULL, cb, user_data));
}

void
pa_crypto_track_users (PaCrypto *crypto, const char *const *user_ids, PaCryptoCallback cb,
                       gpointer user_data)
{
  g_return_if_fail (crypto != NULL);
  op_enqueue (crypto, op_new_checked (OP_TRACK, user_ids, cb, user_data));
}

void
pa_crypto_share_room_key (PaCrypto *crypto, const char *room_id, const char *const *user_ids,
                          PaCryptoCallback cb, gpointer user_data)
{
  CryptoOp *op;

  g_return_if_fail (crypto != NULL && room_id != NULL);
  op = op_new_checked (OP_SHARE, user_ids, cb, user_data);
  op->room_id = g_strdup (room_id);
  op_enqueue (crypto, op);
}

void
pa_crypto_encrypt (PaCrypto *crypto, const char *room_id, const char *const *user_ids,
                   const char *type, json_t *content, PaCryptoCallback cb, gpointer user_data)
{
  CryptoOp *op;

  g_return_if_fail (crypto != NULL && room_id != NULL && type != NULL);
  g_return_if_fail (json_is_object (content));
  op = op_new_checked (OP_ENCRYPT, user_ids, cb, user_data);
  op->room_id = g_strdup (room_id);
  op->type = g_strdup (type);
  op->content = json_deep_copy (content);
  op_enqueue (crypto, op);
}

void
pa_crypto_send_to_device (PaCrypto *crypto, const char *type, json_t *messages, PaCryptoCallback cb,
                          gpointer user_data)
{
  CryptoOp *op;

  g_return_if_fail (crypto != NULL && type != NULL && json_is_object (messages));
  op = op_new (OP_SEND_CLEAR, NULL, cb, user_data);
  op->type = g_strdup (type);
  op->content = json_deep_copy (messages);
  op_enqueue (crypto, op);
}

void
pa_crypto_send_olm (PaCrypto *crypto, const char *user_id, const char *device_id,
                    const char *curve25519, gboolean new_session, const char *type, json_t *content,
                    PaCryptoCallback cb, gpointer user_data)
{
  const char *users[] = { user_id, NULL };
  CryptoOp *op;

  g_return_if_fail (crypto != NULL && user_id != NULL && type != NULL);
  g_return_if_fail ((device_id != NULL) != (curve25519 != NULL) && json_is_object (content));
  op = op_new (OP_SEND_OLM, users, cb, user_data);
  op->device_id = g_strdup (device_id);
  op->curve25519 = g_strdup (curve25519);
  op->new_session = new_session;
  op->type = g_strdup (type);
  op->content = json_deep_copy (content);
  op_enqueue (crypto, op);
}

void
pa_crypto_cross_sign (PaCrypto *crypto, PaCryptoCallback cb, gpointer user_data)
{
  g_return_if_fail (crypto != NULL);
  op_enqueue (crypto, op_new (OP_CROSS_SIGN, NULL, cb, user_data));
}

guint
pa_crypto_pending (PaCrypto *crypto)
{
  return g_queue_get_length (&crypto->ops);
}
