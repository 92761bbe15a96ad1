/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Plugin credentials encrypted at rest.  The host keeps one random 256-bit
 * key per login in its store (never in the login's data dir) and hands it
 * to the worker in the init frame; secret_store writes
 * DATA_DIR/<name>.secret as "PAS1" | 12-byte nonce | AES-256-GCM ciphertext
 * | 16-byte tag, the login id and the name as associated data (a file
 * copied to another login or renamed does not open), 0600, through a
 * temporary file and a rename.  secret_load reverses it (docs/hardening.md,
 * Secrets; docs/plugin-guide.md). */
#define G_LOG_DOMAIN "passerelle-worker"

#include "worker/pa-worker-secrets.h"
#include "worker/pa-worker-libcrypto.h"
#include "pa-common.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>

#define MAGIC "PAS1"
#define MAGIC_LEN 4
#define NONCE_LEN 12
#define TAG_LEN 16
#define KEY_LEN 32
#define SECRET_MAX (1024 * 1024)

gboolean
pa_worker_secrets_init (PaHost *h, json_t *frame, GError **error)
{
  json_t *v = json_object_get (frame, "secret_key");
  if (v == NULL)
    return TRUE;
  gsize n = 0;
  g_autofree guchar *key = json_is_string (v) ? g_base64_decode (json_string_value (v), &n) : NULL;
  if (key == NULL || n != KEY_LEN)
    {
      if (key != NULL)
        explicit_bzero (key, n);
      g_set_error_literal (error, PA_ERROR, PA_ERROR_JSON, "secret_key is not 32 bytes of base64");
      return FALSE;
    }
  memcpy (h->secret_key, key, KEY_LEN);
  explicit_bzero (key, n);
  h->has_secret_key = TRUE;
  return TRUE;
}

/* A plain file name: no directory part, no dot file, at most 64 bytes. */
static gboolean
name_ok (const char *name)
{
  if (name == NULL || name[0] == '\0' || name[0] == '.' || strlen (name) > 64)
    return FALSE;
  for (const char *p = name; *p; p++)
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '_' && *p != '.')
      return FALSE;
  return TRUE;
}

static char *
aad_of (PaHost *h, const char *name)
{
  return g_strdup_printf ("%s\x1f%s", h->login_id != NULL ? h->login_id : "", name);
}

/* AES-256-GCM one shot; FALSE on any failure (a bad tag when opening). */
static gboolean
gcm (PaHost *h, gboolean seal, const char *name, const guchar *nonce, const guchar *in, int len,
     guchar *out, guchar *tag)
{
  /* libcrypto is loaded at the first secret (pa-worker-libcrypto.h). */
  const PaLibcrypto *c = pa_libcrypto ();
  if (c == NULL)
    return FALSE;
  g_autofree char *aad = aad_of (h, name);
  EVP_CIPHER_CTX *ctx = c->cipher_ctx_new ();
  int n = 0, fin = 0;
  gboolean ok = ctx != NULL
                && c->cipher_init_ex (ctx, c->aes_256_gcm (), NULL, NULL, NULL, seal ? 1 : 0) == 1
                && c->cipher_ctx_ctrl (ctx, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) == 1
                && c->cipher_init_ex (ctx, NULL, NULL, h->secret_key, nonce, seal ? 1 : 0) == 1
                && c->cipher_update (ctx, NULL, &n, (const guchar *) aad, (int) strlen (aad)) == 1
                && c->cipher_update (ctx, out, &n, in, len) == 1
                && (seal || c->cipher_ctx_ctrl (ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tag) == 1)
                && c->cipher_final_ex (ctx, out + n, &fin) == 1
                && (!seal || c->cipher_ctx_ctrl (ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, tag) == 1);
  if (ctx != NULL)
    c->cipher_ctx_free (ctx);
  return ok;
}

static char *
path_of (PaHost *h, const char *name)
{
  g_autofree char *file = g_strconcat (name, ".secret", NULL);
  return g_build_filename (h->data_dir, file, NULL);
}

bool
pa_worker_secret_store (PaHost *h, const char *name, const void *data, size_t len)
{
  if (h == NULL || !h->has_secret_key || !name_ok (name) || (data == NULL && len > 0)
      || len > SECRET_MAX)
    return false;
  g_autofree char *path = path_of (h, name);
  if (data == NULL)
    return g_unlink (path) == 0 || errno == ENOENT;
  gsize total = MAGIC_LEN + NONCE_LEN + len + TAG_LEN;
  g_autofree guchar *buf = g_malloc (total);
  memcpy (buf, MAGIC, MAGIC_LEN);
  guchar *nonce = buf + MAGIC_LEN;
  guchar *ct = nonce + NONCE_LEN;
  const PaLibcrypto *c = pa_libcrypto ();
  if (c == NULL || c->rand_bytes (nonce, NONCE_LEN) != 1
      || !gcm (h, TRUE, name, nonce, data, (int) len, ct, ct + len))
    return false;
  g_autoptr (GError) error = NULL;
  if (!g_file_set_contents_full (path, (const char *) buf, (gssize) total,
                                 G_FILE_SET_CONTENTS_CONSISTENT, 0600, &error))
    {
      g_warning ("secret %s not stored: %s", name, error->message);
      return false;
    }
  return true;
}

void *
pa_worker_secret_load (PaHost *h, const char *name, size_t *len)
{
  if (len != NULL)
    *len = 0;
  if (h == NULL || !h->has_secret_key || !name_ok (name))
    return NULL;
  g_autofree char *path = path_of (h, name);
  g_autofree char *raw = NULL;
  gsize n = 0;
  if (!g_file_get_contents (path, &raw, &n, NULL) || n < MAGIC_LEN + NONCE_LEN + TAG_LEN
      || n > MAGIC_LEN + NONCE_LEN + SECRET_MAX + TAG_LEN || memcmp (raw, MAGIC, MAGIC_LEN) != 0)
    return NULL;
  gsize plain_len = n - MAGIC_LEN - NONCE_LEN - TAG_LEN;
  guchar *nonce = (guchar *) raw + MAGIC_LEN;
  guchar *ct = nonce + NONCE_LEN;
  /* One byte more, zero: a text secret can be used as a C string. */
  guchar *out = malloc (plain_len + 1);
  if (out == NULL)
    return NULL;
  if (!gcm (h, FALSE, name, nonce, ct, (int) plain_len, out, ct + plain_len))
    {
      g_warning ("secret %s does not open with this login's key", name);
      explicit_bzero (out, plain_len);
      free (out);
      return NULL;
    }
  out[plain_len] = '\0';
  if (len != NULL)
    *len = plain_len;
  return out;
}
