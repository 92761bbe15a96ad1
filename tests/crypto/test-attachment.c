/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Encrypted attachments: a known-answer test (NIST SP 800-38A F.5.5,
 * AES-256-CTR), round trips, and refusals of tampered or malformed
 * EncryptedFile objects. */
#include <string.h>

#include "crypto/pa-attachment.h"
#include "pa-common.h"

static guint8 *
unhex (const char *hex, gsize *len)
{
  *len = strlen (hex) / 2;
  guint8 *out = g_malloc (*len);
  for (gsize i = 0; i < *len; i++)
    out[i] = (guint8) (g_ascii_xdigit_value (hex[2 * i]) << 4
                       | g_ascii_xdigit_value (hex[2 * i + 1]));
  return out;
}

static char *
b64 (const guint8 *d, gsize n, gboolean url)
{
  char *s = g_base64_encode (d, n);
  if (url)
    for (char *p = s; *p; p++)
      *p = *p == '+' ? '-' : (*p == '/' ? '_' : *p);
  for (gsize l = strlen (s); l > 0 && s[l - 1] == '='; l--)
    s[l - 1] = '\0';
  return s;
}

static void
test_known_answer (void)
{
  gsize kl, il, pl, cl;
  g_autofree guint8 *key = unhex ("603deb1015ca71be2b73aef0857d7781"
                                  "1f352c073b6108d72d9810a30914dff4", &kl);
  g_autofree guint8 *iv = unhex ("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff", &il);
  g_autofree guint8 *plain = unhex ("6bc1bee22e409f96e93d7e117393172a"
                                    "ae2d8a571e03ac9c9eb76fac45af8e51", &pl);
  g_autofree guint8 *cipher = unhex ("601ec313775789a5b7a7f504bbf3d228"
                                     "f443e3ca4d62b59aca84e990cacaf5c5", &cl);
  guint8 hash[32];
  gsize hl = sizeof hash;
  g_autoptr (GChecksum) c = g_checksum_new (G_CHECKSUM_SHA256);
  g_checksum_update (c, cipher, (gssize) cl);
  g_checksum_get_digest (c, hash, &hl);
  g_autofree char *k = b64 (key, kl, TRUE), *ivs = b64 (iv, il, FALSE), *hs = b64 (hash, hl, FALSE);
  g_autoptr (json_t) info = json_pack ("{s:s, s:{s:s, s:s, s:s}, s:s, s:{s:s}, s:s}", "v", "v2",
                                       "key", "kty", "oct", "alg", "A256CTR", "k", k, "iv", ivs,
                                       "hashes", "sha256", hs, "url", "mxc://hs/abc");
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) out = pa_attachment_decrypt (cipher, cl, info, &error);
  g_assert_no_error (error);
  gsize n = 0;
  const guint8 *d = g_bytes_get_data (out, &n);
  g_assert_cmpmem (d, n, plain, pl);
  g_assert_cmpstr (pa_attachment_url (info), ==, "mxc://hs/abc");
}

static void
round_trip (gsize len)
{
  g_autofree guint8 *data = g_malloc (len + 1);
  for (gsize i = 0; i < len; i++)
    data[i] = (guint8) (i * 7 + 3);
  json_t *info = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) enc = pa_attachment_encrypt (data, len, &info, &error);
  g_assert_no_error (error);
  g_autoptr (json_t) owned = info;
  gsize n = 0;
  const guint8 *e = g_bytes_get_data (enc, &n);
  g_assert_cmpuint (n, ==, len);
  if (len >= 16)
    g_assert_false (memcmp (e, data, 16) == 0);
  /* The spec's shape: v2, a JWK with a 43-character key, a 16-byte iv
   * whose counter half is zero, the ciphertext's sha256. */
  g_assert_cmpstr (json_string_value (json_object_get (info, "v")), ==, "v2");
  json_t *jwk = json_object_get (info, "key");
  g_assert_cmpstr (json_string_value (json_object_get (jwk, "alg")), ==, "A256CTR");
  g_assert_cmpuint (strlen (json_string_value (json_object_get (jwk, "k"))), ==, 43);
  g_assert_true (json_is_true (json_object_get (jwk, "ext")));
  gsize ivl = 0;
  g_autofree char *ivp = g_strconcat (json_string_value (json_object_get (info, "iv")), "==",
                                      NULL);
  g_autofree guint8 *iv = g_base64_decode (ivp, &ivl);
  g_assert_cmpuint (ivl, ==, 16);
  for (int i = 8; i < 16; i++)
    g_assert_cmpuint (iv[i], ==, 0);
  g_autoptr (GBytes) dec = pa_attachment_decrypt (e, n, info, &error);
  g_assert_no_error (error);
  gsize m = 0;
  const guint8 *d = g_bytes_get_data (dec, &m);
  g_assert_cmpmem (d, m, data, len);
  /* Two encryptions of the same file share nothing. */
  json_t *info2 = NULL;
  g_autoptr (GBytes) enc2 = pa_attachment_encrypt (data, len, &info2, &error);
  g_autoptr (json_t) owned2 = info2;
  g_assert_cmpstr (json_string_value (json_object_get (json_object_get (info, "key"), "k")), !=,
                   json_string_value (json_object_get (json_object_get (info2, "key"), "k")));
}

static void
test_round_trip (void)
{
  round_trip (0);
  round_trip (1);
  round_trip (16);
  round_trip (100003);
}

static void
test_refused (void)
{
  const guint8 data[] = "a picture of the minister";
  json_t *info = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) enc = pa_attachment_encrypt (data, sizeof data, &info, &error);
  g_autoptr (json_t) good = info;
  gsize n = 0;
  const guint8 *e = g_bytes_get_data (enc, &n);
  g_autofree guint8 *flipped = g_memdup2 (e, n);
  flipped[3] ^= 1;
  g_autoptr (GBytes) bad = pa_attachment_decrypt (flipped, n, good, &error);
  g_assert_null (bad);
  g_assert_error (error, PA_ERROR, PA_ERROR_JSON);
  g_assert_nonnull (strstr (error->message, "hash"));
  g_clear_error (&error);

  /* Each field broken in turn. */
  static const struct { const char *path, *value; } cases[] = {
    { "key.alg", "A128CTR" }, { "key.k", "c2hvcnQ" }, { "key.k", "!!!!" },
    { "iv", "AAAA" },         { "hashes.sha256", "" }, { "v", "v9" }, { "key.kty", "RSA" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (json_t) copy = json_deep_copy (good);
      g_auto (GStrv) parts = g_strsplit (cases[i].path, ".", 2);
      json_t *obj = parts[1] ? json_object_get (copy, parts[0]) : copy;
      json_object_set_new (obj, parts[1] ? parts[1] : parts[0], json_string (cases[i].value));
      g_autoptr (GBytes) r = pa_attachment_decrypt (e, n, copy, &error);
      g_assert_null (r);
      g_assert_error (error, PA_ERROR, PA_ERROR_JSON);
      g_clear_error (&error);
    }
  g_autoptr (json_t) nokey = json_deep_copy (good);
  json_object_del (nokey, "key");
  g_assert_null (pa_attachment_decrypt (e, n, nokey, &error));
  g_clear_error (&error);
  g_assert_null (pa_attachment_decrypt (e, n, NULL, &error));
  g_clear_error (&error);
  json_object_set_new (nokey, "url", json_string ("https://elsewhere/x"));
  g_assert_null (pa_attachment_url (nokey));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/attachment/known-answer", test_known_answer);
  g_test_add_func ("/attachment/round-trip", test_round_trip);
  g_test_add_func ("/attachment/refused", test_refused);
  return g_test_run ();
}
