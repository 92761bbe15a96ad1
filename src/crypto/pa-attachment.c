/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Encrypted attachments: AES-256-CTR and SHA-256 from OpenSSL's libcrypto,
 * random bytes from getrandom() (pa_olm_random).  v2 layout: the IV's
 * first 8 bytes are random and the 64-bit counter half starts at zero, so
 * no file of under 2^64 blocks wraps the counter. */
#define G_LOG_DOMAIN "passerelle-crypto"

#include "pa-attachment.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <string.h>

#include "pa-common.h"
#include "pa-olm.h"

#define KEY_LEN 32
#define IV_LEN 16
#define HASH_LEN 32

static const char *
str (json_t *o, const char *key)
{
  return json_string_value (json_object_get (o, key));
}

/* Unpadded base64 (URL-safe when `url`), as the spec writes keys. */
static char *
b64_encode (const guint8 *data, gsize len, gboolean url)
{
  char *s = g_base64_encode (data, len);
  gsize n = strlen (s);
  while (n > 0 && s[n - 1] == '=')
    s[--n] = '\0';
  if (url)
    for (char *p = s; *p; p++)
      *p = *p == '+' ? '-' : (*p == '/' ? '_' : *p);
  return s;
}

/* Decodes standard or URL-safe base64, padded or not, into exactly
 * `want` bytes; anything else is refused (g_base64_decode skips junk). */
static gboolean
b64_decode_exact (const char *in, guint8 *out, gsize want)
{
  if (in == NULL)
    return FALSE;
  gsize n = strlen (in);
  while (n > 0 && in[n - 1] == '=')
    n--;
  if (n == 0 || n > 4 * want || n % 4 == 1)
    return FALSE;
  g_autofree char *s = g_malloc (n + 4);
  for (gsize i = 0; i < n; i++)
    {
      char c = in[i];
      if (c == '-')
        c = '+';
      else if (c == '_')
        c = '/';
      if (!g_ascii_isalnum (c) && c != '+' && c != '/')
        return FALSE;
      s[i] = c;
    }
  gsize m = n;
  while (m % 4)
    s[m++] = '=';
  s[m] = '\0';
  gsize got = 0;
  g_autofree guint8 *raw = g_base64_decode (s, &got);
  gboolean ok = got == want;
  if (ok)
    memcpy (out, raw, want);
  if (raw)
    OPENSSL_cleanse (raw, got);
  return ok;
}

static gboolean
aes_ctr (const guint8 key[KEY_LEN], const guint8 iv[IV_LEN], const guint8 *in, gsize len,
         guint8 *out, GError **error)
{
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new ();
  int n = 0, fin = 0;
  gboolean ok = ctx != NULL && EVP_EncryptInit_ex (ctx, EVP_aes_256_ctr (), NULL, key, iv) == 1;
  /* EVP takes int lengths: go in slices. */
  for (gsize done = 0; ok && done < len; done += (gsize) n)
    {
      int chunk = (int) MIN (len - done, (gsize) (1 << 30));
      ok = EVP_EncryptUpdate (ctx, out + done, &n, in + done, chunk) == 1 && n == chunk;
    }
  ok = ok && EVP_EncryptFinal_ex (ctx, out + len, &fin) == 1 && fin == 0;
  EVP_CIPHER_CTX_free (ctx);
  if (!ok)
    g_set_error (error, PA_ERROR, PA_ERROR_FAILED, "AES-256-CTR failed");
  return ok;
}

static void
sha256 (const guint8 *data, gsize len, guint8 out[HASH_LEN])
{
  gsize n = HASH_LEN;
  g_autoptr (GChecksum) c = g_checksum_new (G_CHECKSUM_SHA256);
  /* GChecksum takes gssize: slices again, for files over 2 GiB. */
  for (gsize done = 0; done < len;)
    {
      gsize chunk = MIN (len - done, (gsize) G_MAXINT32);
      g_checksum_update (c, data + done, (gssize) chunk);
      done += chunk;
    }
  g_checksum_get_digest (c, out, &n);
}

GBytes *
pa_attachment_encrypt (const guint8 *data, gsize len, json_t **file_info, GError **error)
{
  guint8 key[KEY_LEN], iv[IV_LEN] = { 0 }, hash[HASH_LEN];
  if (!pa_olm_random (key, sizeof key, error) || !pa_olm_random (iv, 8, error))
    return NULL;
  guint8 *out = g_malloc (len + 1);
  if (!aes_ctr (key, iv, data, len, out, error))
    {
      OPENSSL_cleanse (key, sizeof key);
      g_free (out);
      return NULL;
    }
  sha256 (out, len, hash);
  g_autofree char *k = b64_encode (key, sizeof key, TRUE);
  g_autofree char *ivs = b64_encode (iv, sizeof iv, FALSE);
  g_autofree char *hs = b64_encode (hash, sizeof hash, FALSE);
  OPENSSL_cleanse (key, sizeof key);
  *file_info = json_pack ("{s:s, s:{s:s, s:[ss], s:s, s:s, s:b}, s:s, s:{s:s}}", "v", "v2",
                          "key", "kty", "oct", "key_ops", "encrypt", "decrypt", "alg", "A256CTR",
                          "k", k, "ext", TRUE, "iv", ivs, "hashes", "sha256", hs);
  OPENSSL_cleanse (k, strlen (k));
  return g_bytes_new_take (out, len);
}

GBytes *
pa_attachment_decrypt (const guint8 *data, gsize len, json_t *file_info, GError **error)
{
  json_t *jwk = json_object_get (file_info, "key");
  const char *v = str (file_info, "v");
  guint8 key[KEY_LEN], iv[IV_LEN], want[HASH_LEN], got[HASH_LEN];
  const char *why = NULL;
  if (!json_is_object (file_info) || !json_is_object (jwk))
    why = "no key";
  else if (v != NULL && !g_str_equal (v, "v2") && !g_str_equal (v, "v1"))
    why = "unknown version";
  else if (g_strcmp0 (str (jwk, "alg"), "A256CTR") != 0
           || (str (jwk, "kty") && !g_str_equal (str (jwk, "kty"), "oct")))
    why = "unsupported algorithm";
  else if (!b64_decode_exact (str (jwk, "k"), key, sizeof key))
    why = "bad key";
  else if (!b64_decode_exact (str (file_info, "iv"), iv, sizeof iv))
    why = "bad iv";
  else if (!b64_decode_exact (str (json_object_get (file_info, "hashes"), "sha256"), want,
                              sizeof want))
    why = "no sha256 hash";
  if (why == NULL)
    {
      sha256 (data, len, got);
      if (CRYPTO_memcmp (got, want, sizeof got) != 0)
        why = "the file does not match its hash";
    }
  if (why)
    {
      OPENSSL_cleanse (key, sizeof key);
      g_set_error (error, PA_ERROR, PA_ERROR_JSON, "encrypted file: %s", why);
      return NULL;
    }
  guint8 *out = g_malloc (len + 1);
  gboolean ok = aes_ctr (key, iv, data, len, out, error);
  OPENSSL_cleanse (key, sizeof key);
  if (!ok)
    {
      g_free (out);
      return NULL;
    }
  return g_bytes_new_take (out, len);
}

const char *
pa_attachment_url (json_t *file_info)
{
  const char *url = str (file_info, "url");
  return url && g_str_has_prefix (url, "mxc://") ? url : NULL;
}
