/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Cross-signing of a PaCrypto identity: the signing wrapper, the keys'
 * life in the store (sealed, reopened, refused under a wrong pickle key
 * or for another identity), the upload bodies' shape and signatures, and
 * pa_crypto_cross_sign() against a small fake homeserver that keeps what
 * it is sent. */
#define G_LOG_DOMAIN "passerelle-test-crypto"

#include "crypto/pa-canonical-json.h"
#include "crypto/pa-crypto-cross-signing.h"
#include "crypto/pa-crypto-store.h"
#include "crypto/pa-crypto.h"
#include "crypto/pa-olm-signing.h"
#include "crypto/pa-olm.h"
#include "pa-common.h"

#include <string.h>
#include <glib/gstdio.h>
#include <libsoup/soup.h>

#define BOT "@bot:example.org"
#define BOT_DEV "BOTDEVICE"
#define ALICE "@alice:example.org"
#define ALICE_DEV "ALICEPHONE"

static const guint8 pickle_key[32] = "0123456789abcdef0123456789abcdef";
static const guint8 other_key[32] = "fedcba9876543210fedcba9876543210";

typedef struct
{
  char *dir;
  char *db;
  PaCrypto *crypto;
} Fixture;

static PaCrypto *
open_crypto (Fixture *fx, PaMatrix *mx, const char *user, const char *device, const char *name,
             const guint8 *key)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *db = g_build_filename (fx->dir, name, NULL);
  PaCrypto *c = pa_crypto_new (mx, user, device, db, key, 32, &error);

  g_assert_no_error (error);
  g_assert_nonnull (c);
  return c;
}

static void
fixture_setup (Fixture *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  fx->dir = g_dir_make_tmp ("pa-xsign-XXXXXX", &error);
  g_assert_no_error (error);
  fx->db = g_build_filename (fx->dir, "crypto.db", NULL);
  fx->crypto = open_crypto (fx, NULL, BOT, BOT_DEV, "crypto.db", pickle_key);
}

static void
rm_rf (const char *path)
{
  g_autoptr (GDir) d = g_dir_open (path, 0, NULL);
  const char *name;

  if (d == NULL)
    {
      g_unlink (path);
      return;
    }
  while ((name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      rm_rf (child);
    }
  g_rmdir (path);
}

static void
fixture_teardown (Fixture *fx, gconstpointer data)
{
  pa_crypto_free (fx->crypto);
  rm_rf (fx->dir);
  g_free (fx->db);
  g_free (fx->dir);
}

static const char *
jstr (json_t *o, const char *key)
{
  return json_string_value (json_object_get (o, key));
}

/* ------------------------------------------------------------------ */

static void
test_signing (void)
{
  g_autoptr (GError) error = NULL;
  guint8 seed[PA_OLM_SIGNING_SEED_LEN];
  g_autoptr (PaOlmSigning) a = NULL, b = NULL, bad = NULL;
  g_autofree char *sig = NULL;
  const char *msg = "{\"a\":1}";

  memset (seed, 7, sizeof seed);
  a = pa_olm_signing_new (seed, sizeof seed, &error);
  g_assert_no_error (error);
  b = pa_olm_signing_new (seed, sizeof seed, &error);
  g_assert_no_error (error);
  /* The seed determines the key: 32 bytes → 43 unpadded base64. */
  g_assert_cmpstr (pa_olm_signing_public_key (a), ==, pa_olm_signing_public_key (b));
  g_assert_cmpuint (strlen (pa_olm_signing_public_key (a)), ==, 43);
  sig = pa_olm_signing_sign (a, msg, strlen (msg), &error);
  g_assert_no_error (error);
  g_assert_true (
      pa_olm_ed25519_verify (pa_olm_signing_public_key (a), msg, strlen (msg), sig, &error));
  g_assert_no_error (error);
  g_assert_false (pa_olm_ed25519_verify (pa_olm_signing_public_key (a), "{\"a\":2}", 7, sig, NULL));
  bad = pa_olm_signing_new (seed, 16, &error);
  g_assert_null (bad);
  g_assert_error (error, PA_ERROR, PA_ERROR_FAILED);
}

/* Keys are made once, kept across a reopen, and per identity. */
static void
test_ensure (Fixture *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *master = NULL;
  PaCrypto *alice;

  g_assert_null (pa_crypto_master_key (fx->crypto));
  g_assert_true (pa_crypto_cross_signing_ensure (fx->crypto, &error));
  g_assert_no_error (error);
  master = g_strdup (pa_crypto_master_key (fx->crypto));
  g_assert_nonnull (master);
  g_assert_cmpstr (master, !=, pa_crypto_self_signing_key (fx->crypto));
  g_assert_true (pa_crypto_cross_signing_ensure (fx->crypto, &error));
  g_assert_cmpstr (pa_crypto_master_key (fx->crypto), ==, master);

  pa_crypto_free (fx->crypto);
  fx->crypto = open_crypto (fx, NULL, BOT, BOT_DEV, "crypto.db", pickle_key);
  g_assert_null (pa_crypto_master_key (fx->crypto));
  g_assert_true (pa_crypto_cross_signing_ensure (fx->crypto, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (pa_crypto_master_key (fx->crypto), ==, master);

  /* Another identity gets its own keys. */
  alice = open_crypto (fx, NULL, ALICE, ALICE_DEV, "alice.db", pickle_key);
  g_assert_true (pa_crypto_cross_signing_ensure (alice, &error));
  g_assert_cmpstr (pa_crypto_master_key (alice), !=, master);
  pa_crypto_free (alice);
}

/* Copies the bot's sealed row into the store `name` under `user`. */
static void
copy_row (Fixture *fx, const char *name, const char *user)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = g_build_filename (fx->dir, name, NULL);
  g_autoptr (PaCryptoStore) from = pa_crypto_store_open (fx->db, &error);
  g_autoptr (PaCryptoStore) to = pa_crypto_store_open (path, &error);
  g_autoptr (PaCryptoCrossSigningRow) row = NULL;

  g_assert_no_error (error);
  g_assert_true (pa_crypto_store_load_cross_signing (from, BOT, &row, &error));
  g_assert_nonnull (row);
  g_assert_true (pa_crypto_store_save_cross_signing (to, user, row, &error));
  g_assert_no_error (error);
}

/* Sealed seeds open only with the pickle key and identity they were
 * sealed for: anything else fails cleanly, leaving no keys loaded. */
static void
test_sealed (Fixture *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  PaCrypto *c;

  g_assert_true (pa_crypto_cross_signing_ensure (fx->crypto, &error));

  c = open_crypto (fx, NULL, BOT, BOT_DEV, "other-key.db", other_key);
  copy_row (fx, "other-key.db", BOT);
  g_assert_false (pa_crypto_cross_signing_ensure (c, &error));
  g_assert_error (error, PA_ERROR, PA_ERROR_PERMISSION);
  g_assert_nonnull (strstr (error->message, "wrong pickle key"));
  g_assert_null (pa_crypto_master_key (c));
  g_clear_error (&error);
  g_assert_null (pa_crypto_cross_signing_upload_body (c, &error));
  g_assert_error (error, PA_ERROR, PA_ERROR_NOT_FOUND);
  g_clear_error (&error);
  pa_crypto_free (c);

  c = open_crypto (fx, NULL, ALICE, ALICE_DEV, "other-user.db", pickle_key);
  copy_row (fx, "other-user.db", ALICE);
  g_assert_false (pa_crypto_cross_signing_ensure (c, &error));
  g_assert_error (error, PA_ERROR, PA_ERROR_PERMISSION);
  g_assert_null (pa_crypto_master_key (c));
  pa_crypto_free (c);
}

/* The one key of a cross-signing key object, checking its shape. */
static const char *
check_key (json_t *key, const char *usage)
{
  json_t *keys = json_object_get (key, "keys");
  const char *id;
  json_t *v;

  g_assert_cmpstr (jstr (key, "user_id"), ==, BOT);
  g_assert_cmpuint (json_array_size (json_object_get (key, "usage")), ==, 1);
  g_assert_cmpstr (json_string_value (json_array_get (json_object_get (key, "usage"), 0)), ==,
                   usage);
  g_assert_cmpuint (json_object_size (keys), ==, 1);
  json_object_foreach (keys, id, v)
  {
    g_assert_true (g_str_has_prefix (id, "ed25519:"));
    g_assert_cmpstr (id + 8, ==, json_string_value (v));
    return json_string_value (v);
  }
  g_assert_not_reached ();
}

static void
test_bodies (Fixture *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (json_t) body = NULL, dev_body = NULL, signed_master = NULL;
  json_t *master, *ssk, *usk, *device;
  const char *mpub, *spub, *upub;
  PaCrypto *alice;

  g_assert_true (pa_crypto_cross_signing_ensure (fx->crypto, &error));
  body = pa_crypto_cross_signing_upload_body (fx->crypto, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (json_object_size (body), ==, 3);
  master = json_object_get (body, "master_key");
  ssk = json_object_get (body, "self_signing_key");
  usk = json_object_get (body, "user_signing_key");
  mpub = check_key (master, "master");
  spub = check_key (ssk, "self_signing");
  upub = check_key (usk, "user_signing");
  g_assert_cmpstr (mpub, ==, pa_crypto_master_key (fx->crypto));
  g_assert_cmpstr (spub, ==, pa_crypto_self_signing_key (fx->crypto));
  /* The master key is signed by the device, SSK and USK by the master. */
  g_assert_true (
      pa_crypto_verify_json (master, BOT, BOT_DEV, pa_crypto_get_ed25519 (fx->crypto), &error));
  g_assert_true (pa_crypto_verify_json (ssk, BOT, mpub, mpub, &error));
  g_assert_true (pa_crypto_verify_json (usk, BOT, mpub, mpub, &error));
  g_assert_no_error (error);
  g_assert_false (pa_crypto_verify_json (ssk, BOT, spub, spub, NULL));

  /* The device keys signed by the SSK (and still by the device). */
  dev_body = pa_crypto_cross_signing_device_body (fx->crypto, &error);
  g_assert_no_error (error);
  device = json_object_get (json_object_get (dev_body, BOT), BOT_DEV);
  g_assert_cmpstr (jstr (device, "device_id"), ==, BOT_DEV);
  g_assert_true (pa_crypto_verify_json (device, BOT, spub, spub, &error));
  g_assert_true (
      pa_crypto_verify_json (device, BOT, BOT_DEV, pa_crypto_get_ed25519 (fx->crypto), &error));
  g_assert_no_error (error);

  /* Alice's master key, signed with our USK after a verification. */
  alice = open_crypto (fx, NULL, ALICE, ALICE_DEV, "alice.db", pickle_key);
  g_assert_true (pa_crypto_cross_signing_ensure (alice, &error));
  {
    g_autoptr (json_t) alice_body = pa_crypto_cross_signing_upload_body (alice, &error);
    json_t *alice_master = json_object_get (alice_body, "master_key");
    json_t *out;

    signed_master = pa_crypto_sign_master_key (fx->crypto, ALICE, alice_master);
    g_assert_nonnull (signed_master);
    out = json_object_get (json_object_get (signed_master, ALICE), pa_crypto_master_key (alice));
    g_assert_nonnull (out);
    g_assert_true (pa_crypto_verify_json (out, BOT, upub, upub, &error));
    g_assert_no_error (error);
    /* Not her master key: refused. */
    g_assert_null (pa_crypto_sign_master_key (fx->crypto, BOT, alice_master));
    g_assert_null (pa_crypto_sign_master_key (fx->crypto, ALICE,
                                              json_object_get (alice_body, "self_signing_key")));
  }
  pa_crypto_free (alice);
}

/* A /keys/query answer holding what `body` (an upload body) and `device`
 * say. */
static json_t *
answer_of (json_t *body, json_t *device)
{
  json_t *a = json_pack ("{s:{}, s:{}, s:{}, s:{}}", "master_keys", "self_signing_keys",
                         "user_signing_keys", "device_keys");

  if (body != NULL)
    {
      json_object_set (json_object_get (a, "master_keys"), BOT,
                       json_object_get (body, "master_key"));
      json_object_set (json_object_get (a, "self_signing_keys"), BOT,
                       json_object_get (body, "self_signing_key"));
      json_object_set (json_object_get (a, "user_signing_keys"), BOT,
                       json_object_get (body, "user_signing_key"));
    }
  if (device != NULL)
    json_object_set_new (json_object_get (a, "device_keys"), BOT,
                         json_pack ("{s:O}", BOT_DEV, device));
  return a;
}

static void
test_compare (Fixture *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (json_t) body = NULL, dev = NULL, plain = NULL, a = NULL, b = NULL, c = NULL;
  g_autoptr (json_t) other_body = NULL;
  PaCrossSigningServer server;
  gboolean signed_;
  PaCrypto *other;

  g_assert_false (pa_crypto_cross_signing_compare (fx->crypto, NULL, &server, &signed_, &error));
  g_assert_error (error, PA_ERROR, PA_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_true (pa_crypto_cross_signing_ensure (fx->crypto, &error));
  body = pa_crypto_cross_signing_upload_body (fx->crypto, &error);
  dev = pa_crypto_cross_signing_device_body (fx->crypto, &error);
  plain = pa_crypto_device_keys (fx->crypto, &error);
  g_assert_no_error (error);

  a = answer_of (NULL, plain);
  g_assert_true (pa_crypto_cross_signing_compare (fx->crypto, a, &server, &signed_, &error));
  g_assert_cmpint (server, ==, PA_CROSS_SIGNING_SERVER_NONE);
  g_assert_false (signed_);

  b = answer_of (body, json_object_get (json_object_get (dev, BOT), BOT_DEV));
  g_assert_true (pa_crypto_cross_signing_compare (fx->crypto, b, &server, &signed_, &error));
  g_assert_cmpint (server, ==, PA_CROSS_SIGNING_SERVER_SAME);
  g_assert_true (signed_);

  /* Another identity's keys under our user id (a reset elsewhere). */
  other = open_crypto (fx, NULL, BOT, BOT_DEV, "other.db", pickle_key);
  g_assert_true (pa_crypto_cross_signing_ensure (other, &error));
  other_body = pa_crypto_cross_signing_upload_body (other, &error);
  c = answer_of (other_body, plain);
  g_assert_true (pa_crypto_cross_signing_compare (fx->crypto, c, &server, &signed_, &error));
  g_assert_cmpint (server, ==, PA_CROSS_SIGNING_SERVER_OTHER);
  g_assert_false (signed_);
  pa_crypto_free (other);
}

/* ------------------------------------------------------------------ */
/* pa_crypto_cross_sign() against a fake homeserver                    */

typedef struct
{
  json_t *body;   /* the keys uploaded last (an upload body), or NULL */
  json_t *device; /* the bot's device keys as the server holds them */
  guint queries, key_uploads, sig_uploads;
} Hs;

static void
reply_json (SoupServerMessage *msg, guint status, json_t *body)
{
  g_autofree char *text = json_dumps (body, JSON_COMPACT);

  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_COPY, text, strlen (text));
  json_decref (body);
}

static void
hs_cb (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
       gpointer user_data)
{
  Hs *hs = user_data;
  g_autoptr (GBytes) raw = soup_message_body_flatten (soup_server_message_get_request_body (msg));
  g_autoptr (json_t) body
      = json_loadb (g_bytes_get_data (raw, NULL), g_bytes_get_size (raw), 0, NULL);

  /* Every request is made as the identity's device. */
  g_assert_nonnull (query);
  g_assert_cmpstr (g_hash_table_lookup (query, "device_id"), ==, BOT_DEV);
  g_assert_cmpstr (g_hash_table_lookup (query, "user_id"), ==, BOT);
  if (strcmp (path, "/_matrix/client/v3/keys/query") == 0)
    {
      g_assert_nonnull (json_object_get (json_object_get (body, "device_keys"), BOT));
      hs->queries++;
      reply_json (msg, 200, answer_of (hs->body, hs->device));
    }
  else if (strcmp (path, "/_matrix/client/v3/keys/device_signing/upload") == 0)
    {
      hs->key_uploads++;
      if (hs->body != NULL)
        json_decref (hs->body);
      hs->body = json_incref (body);
      /* New keys drop the signatures made with the old ones. */
      json_object_del (hs->device, "signatures");
      reply_json (msg, 200, json_object ());
    }
  else if (strcmp (path, "/_matrix/client/v3/keys/signatures/upload") == 0)
    {
      json_t *dev = json_object_get (json_object_get (body, BOT), BOT_DEV);

      hs->sig_uploads++;
      g_assert_nonnull (dev);
      json_object_set (hs->device, "signatures", json_object_get (dev, "signatures"));
      reply_json (msg, 200, json_pack ("{s:{}}", "failures"));
    }
  else
    reply_json (msg, 404, json_pack ("{s:s}", "errcode", "M_UNRECOGNIZED"));
}

typedef struct
{
  gboolean done;
  json_t *result;
  GError *error;
} Done;

static void
done_cb (PaCrypto *crypto, json_t *result, const GError *error, gpointer user_data)
{
  Done *d = user_data;

  g_assert_false (d->done);
  d->done = TRUE;
  d->result = result != NULL ? json_incref (result) : NULL;
  d->error = error != NULL ? g_error_copy (error) : NULL;
}

/* Runs one pa_crypto_cross_sign() to its end; the result (transfer full). */
static json_t *
cross_sign (PaCrypto *crypto)
{
  Done d = { 0 };
  gint64 deadline = g_get_monotonic_time () + 8 * G_USEC_PER_SEC;

  pa_crypto_cross_sign (crypto, done_cb, &d);
  g_assert_false (d.done);
  while (!d.done && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE);
  g_assert_true (d.done);
  g_assert_no_error (d.error);
  return d.result;
}

static void
assert_result (json_t *r, const char *master, gboolean uploaded, gboolean reset,
               gboolean device_signed)
{
  g_assert_cmpstr (jstr (r, "master"), ==, master);
  g_assert_cmpint (json_is_true (json_object_get (r, "uploaded")), ==, uploaded);
  g_assert_cmpint (json_is_true (json_object_get (r, "reset")), ==, reset);
  g_assert_cmpint (json_is_true (json_object_get (r, "device_signed")), ==, device_signed);
}

static void
test_cross_sign (Fixture *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SoupServer) server = soup_server_new (NULL, NULL);
  g_autoptr (PaMatrix) mx = NULL;
  g_autofree char *base = NULL, *master = NULL;
  Hs hs = { 0 };
  GSList *uris;
  json_t *r;
  PaCrypto *other;

  soup_server_add_handler (server, NULL, hs_cb, &hs, NULL);
  g_assert_true (soup_server_listen_local (server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error));
  uris = soup_server_get_uris (server);
  base = g_strdup_printf ("http://127.0.0.1:%d", g_uri_get_port (uris->data));
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  mx = pa_matrix_new (base, "as-token");
  pa_crypto_free (fx->crypto);
  fx->crypto = open_crypto (fx, mx, BOT, BOT_DEV, "crypto.db", pickle_key);
  hs.device = pa_crypto_device_keys (fx->crypto, &error);

  /* First run: keys made, uploaded, the device signed. */
  r = cross_sign (fx->crypto);
  master = g_strdup (pa_crypto_master_key (fx->crypto));
  assert_result (r, master, TRUE, FALSE, TRUE);
  json_decref (r);
  g_assert_cmpuint (hs.key_uploads, ==, 1);
  g_assert_cmpuint (hs.sig_uploads, ==, 1);

  /* A restart: the same keys, nothing uploaded. */
  pa_crypto_free (fx->crypto);
  fx->crypto = open_crypto (fx, mx, BOT, BOT_DEV, "crypto.db", pickle_key);
  r = cross_sign (fx->crypto);
  assert_result (r, master, FALSE, FALSE, FALSE);
  json_decref (r);
  g_assert_cmpuint (hs.queries, ==, 2);
  g_assert_cmpuint (hs.key_uploads, ==, 1);
  g_assert_cmpuint (hs.sig_uploads, ==, 1);

  /* The device signature lost alone: only it is uploaded again. */
  json_object_del (hs.device, "signatures");
  r = cross_sign (fx->crypto);
  assert_result (r, master, FALSE, FALSE, TRUE);
  json_decref (r);
  g_assert_cmpuint (hs.key_uploads, ==, 1);
  g_assert_cmpuint (hs.sig_uploads, ==, 2);

  /* Someone else put other keys there: ours replace them. */
  other = open_crypto (fx, NULL, BOT, BOT_DEV, "other.db", pickle_key);
  g_assert_true (pa_crypto_cross_signing_ensure (other, &error));
  json_decref (hs.body);
  hs.body = pa_crypto_cross_signing_upload_body (other, &error);
  pa_crypto_free (other);
  g_test_expect_message ("passerelle-crypto", G_LOG_LEVEL_WARNING, "*other cross-signing keys*");
  r = cross_sign (fx->crypto);
  g_test_assert_expected_messages ();
  assert_result (r, master, TRUE, TRUE, TRUE);
  json_decref (r);
  g_assert_cmpstr (check_key (json_object_get (hs.body, "master_key"), "master"), ==, master);
  g_assert_cmpuint (hs.key_uploads, ==, 2);
  g_assert_cmpuint (hs.sig_uploads, ==, 3);

  json_decref (hs.body);
  json_decref (hs.device);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/cross-signing/signing", test_signing);
#define ADD(path, fn)                                                                              \
  g_test_add ("/cross-signing/" path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("ensure", test_ensure);
  ADD ("sealed", test_sealed);
  ADD ("bodies", test_bodies);
  ADD ("compare", test_compare);
  ADD ("cross-sign", test_cross_sign);
#undef ADD
  return g_test_run ();
}
