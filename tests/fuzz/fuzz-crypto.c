/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Arbitrary JSON into the crypto layer's inputs from outside: to-device
 * event lists, room events to decrypt, /keys/query device lists and
 * /keys/claim answers, key requests, encrypted-file descriptions (with
 * the input itself as the ciphertext), plus the canonical JSON writer.  A real account,
 * store and one Olm session exist so the libolm paths are reached. */
#include "crypto/pa-attachment.h"
#include "crypto/pa-canonical-json.h"
#include "crypto/pa-crypto.h"
#include "pa-common.h"

#include <glib/gstdio.h>
#include <stdint.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static PaCrypto *crypto;

static void
quiet (const char *domain, GLogLevelFlags level, const char *message, gpointer user_data)
{
}

static void
setup (void)
{
  static const guint8 key[32] = "fuzz-pickle-key-fuzz-pickle-key";
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("pa-fuzz-crypto-XXXXXX", &error);
  g_autofree char *db = NULL;

  g_assert_no_error (error);
  db = g_build_filename (dir, "crypto.db", NULL);
  crypto = pa_crypto_new (NULL, "@bot:example.org", "BOT", db, key, sizeof key, &error);
  g_assert_no_error (error);
  /* Leave the files for the process lifetime; unlinking them now keeps the
   * temp dir clean while SQLite holds them open. */
  g_unlink (db);
  {
    g_autofree char *wal = g_strconcat (db, "-wal", NULL);
    g_autofree char *shm = g_strconcat (db, "-shm", NULL);

    g_unlink (wal);
    g_unlink (shm);
  }
  g_rmdir (dir);
  json_decref (pa_crypto_keys_upload_body (crypto, 0, &error));
  g_assert_no_error (error);
}

/* The fuzzer cannot guess our curve25519 key: a ciphertext addressed to
 * "x" is readdressed to us so the Olm paths are reached. */
static void
readdress (json_t *event)
{
  json_t *ct = json_object_get (json_object_get (event, "content"), "ciphertext");
  json_t *mine = json_object_get (ct, "x");

  if (json_is_object (ct) && mine != NULL)
    json_object_set (ct, pa_crypto_get_curve25519 (crypto), mine);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (json_t) v = NULL;
  json_error_t jerr;

  if (crypto == NULL)
    {
      g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR);
      g_log_set_handler ("passerelle-crypto", G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO
                         | G_LOG_LEVEL_DEBUG, quiet, NULL);
      setup ();
    }
  if (size > 64 * 1024)
    return 0;
  v = json_loadb ((const char *) data, size, JSON_DECODE_ANY, &jerr);
  if (v == NULL)
    return 0;
  {
    g_autoptr (GError) error = NULL;

    g_free (pa_canonical_json (v, &error));
  }
  if (json_is_array (v))
    {
      g_autoptr (GError) error = NULL;
      size_t i;
      json_t *ev;
      json_t *out;

      json_array_foreach (v, i, ev)
        readdress (ev);
      out = pa_crypto_handle_to_device (crypto, v, &error);
      if (out != NULL)
        json_decref (out);
    }
  if (json_is_object (v))
    {
      g_autoptr (GError) error = NULL;
      json_t *out = pa_crypto_decrypt (crypto, v, &error);

      if (out != NULL)
        json_decref (out);
      g_clear_error (&error);
      readdress (v);
      out = pa_crypto_olm_decrypt (crypto, v, &error);
      if (out != NULL)
        json_decref (out);
    }
  if (json_is_object (v))
    {
      g_autoptr (GError) error = NULL;

      (void) pa_crypto_add_device_keys (crypto, "@alice:example.org", v, &error);
      g_clear_error (&error);
      (void) pa_crypto_create_olm_session (crypto, "@alice:example.org", "ALICE", v, &error);
      g_clear_error (&error);
      (void) pa_crypto_verify_json (v, "@alice:example.org", "ALICE",
                                    "l6XpJ9B+QiK1h8B4LRQ5ZjqF4WoE6bqOc5kV1Jt0f1I", &error);
      g_clear_error (&error);
      {
        const char *code = NULL;
        json_t *fwd = pa_crypto_forwarded_key (crypto, "@alice:example.org", v, TRUE, &code,
                                               &error);
        if (fwd != NULL)
          json_decref (fwd);
        g_clear_error (&error);
        json_t *req = pa_crypto_key_request (crypto, v, &error);
        if (req != NULL)
          json_decref (req);
        g_clear_error (&error);
        GBytes *clear = pa_attachment_decrypt (data, size, json_object_get (v, "file"), &error);
        if (clear != NULL)
          g_bytes_unref (clear);
      }
    }
  return 0;
}
