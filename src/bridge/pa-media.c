/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Media between the bridge and the homeserver, both ways:
 *   - upload: a local file (from a worker, an avatar, a login image) goes
 *     to the media repository; into an encrypted room it is encrypted
 *     first (an EncryptedFile, docs/encryption.md), so the homeserver never
 *     holds the cleartext of what a portal shows;
 *   - download: the media of a Matrix event (`url`, or the `file` of an
 *     encrypted room, checked against its hash and decrypted) through the
 *     authenticated media API, with the caller's size cap. */
#define G_LOG_DOMAIN "passerelle-bridge"

#include "pa-media.h"

#include "pa-bridge-crypto-device.h"
#include "pa-file-beneath.h"

#include "crypto/pa-attachment.h"
#include "db/pa-db.h"

#include <errno.h>
#include <unistd.h>

static const char *
str (json_t *o, const char *key)
{
  return json_string_value (json_object_get (o, key));
}

/* ------------------------------------------------------------- upload */

typedef struct {
  PaBridge *b;
  PaUploadFunc done;
  gpointer user_data;
  json_t *file; /* EncryptedFile without url, or NULL (clear upload) */
} UploadCtx;

static void
upload_cb (PaMatrix *mx, const PaMatrixResponse *resp, gpointer user_data)
{
  UploadCtx *u = user_data;
  const char *mxc = json_string_value (json_object_get (resp->body, "content_uri"));
  if (pa_matrix_response_ok (resp) && mxc)
    {
      if (u->file)
        json_object_set_new (u->file, "url", json_string (mxc));
      u->done (u->b, mxc, u->file, NULL, u->user_data);
    }
  else
    {
      g_autoptr (GError) e = pa_matrix_response_to_error (resp);
      u->done (u->b, NULL, NULL, e->message, u->user_data);
    }
  json_decref (u->file);
  g_free (u);
}

/* Whether the file behind `st` is one of the host's own: its config or its
 * store (a worker's path might name them through a hard link, or sit in an
 * export folder next to them). */
static gboolean
host_file (PaBridge *b, const struct stat *st)
{
  const char *own[] = { b->config->path, pa_db_target_path (b->config->database) };
  for (gsize i = 0; i < G_N_ELEMENTS (own); i++)
    {
      struct stat o;
      if (own[i] != NULL && stat (own[i], &o) == 0 && o.st_dev == st->st_dev
          && o.st_ino == st->st_ino)
        return TRUE;
    }
  return FALSE;
}

/* The whole file of `fd` (at most `max` bytes), or NULL with `why`. */
static char *
read_fd (int fd, gint64 max, gsize *len, char **why)
{
  g_autoptr (GByteArray) buf = g_byte_array_new ();
  guint8 chunk[65536];
  for (;;)
    {
      ssize_t n = read (fd, chunk, sizeof chunk);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          *why = g_strdup (g_strerror (errno));
          return NULL;
        }
      if (n == 0)
        break;
      if ((gint64) buf->len + n > max)
        {
          *why = g_strdup_printf ("media is larger than the %" G_GINT64_FORMAT " bytes limit", max);
          return NULL;
        }
      g_byte_array_append (buf, chunk, (guint) n);
    }
  *len = buf->len;
  return (char *) g_byte_array_free (g_steal_pointer (&buf), FALSE);
}

void
pa_media_upload (PaBridge *b, const char *room_id, const char *root, const char *path,
                 const char *name, const char *mimetype, PaUploadFunc done, gpointer user_data)
{
  g_autoptr (GError) error = NULL;
  gsize len = 0;
  /* Opened once, without following links, and read from that descriptor:
   * the worker cannot swap the file for another between check and read. */
  struct stat st;
  int fd = pa_file_open_beneath (root, path, &st, &error);
  if (fd < 0)
    {
      g_warning ("media refused: %s", error->message);
      done (b, NULL, NULL, "the file was refused", user_data);
      return;
    }
  if (host_file (b, &st))
    {
      g_warning ("media refused: %s is the host's own config or store", path);
      close (fd);
      done (b, NULL, NULL, "the file was refused", user_data);
      return;
    }
  if (st.st_size > b->config->max_media_bytes)
    {
      close (fd);
      g_autofree char *msg = g_strdup_printf ("media is larger than the %" G_GINT64_FORMAT
                                              " bytes limit", b->config->max_media_bytes);
      done (b, NULL, NULL, msg, user_data);
      return;
    }
  g_autofree char *why = NULL;
  g_autofree char *data = read_fd (fd, b->config->max_media_bytes, &len, &why);
  close (fd);
  if (data == NULL)
    {
      done (b, NULL, NULL, why, user_data);
      return;
    }
  g_autofree char *guessed = NULL;
  if (mimetype == NULL)
    {
      g_autofree char *ct = g_content_type_guess (name, (const guchar *) data, len, NULL);
      guessed = g_content_type_get_mime_type (ct);
      mimetype = guessed ? guessed : "application/octet-stream";
    }
  UploadCtx *u = g_new0 (UploadCtx, 1);
  u->b = b;
  u->done = done;
  u->user_data = user_data;
  g_autoptr (GBytes) cipher = NULL;
  const guint8 *body = (const guint8 *) data;
  if (room_id && pa_bridge_crypto_room_encrypted (b, room_id))
    {
      cipher = pa_attachment_encrypt ((const guint8 *) data, len, &u->file, &error);
      if (cipher == NULL)
        {
          /* Never fall back to a clear upload into an encrypted room. */
          done (b, NULL, NULL, error->message, user_data);
          g_free (u);
          return;
        }
      body = g_bytes_get_data (cipher, &len);
      /* The name and type are in the (encrypted) event, not the upload. */
      mimetype = "application/octet-stream";
      name = NULL;
    }
  g_autofree char *esc = pa_matrix_escape (name ? name : "file");
  g_autofree char *upath = g_strdup_printf ("/_matrix/media/v3/upload?filename=%s", esc);
  PaMatrixRequest req = { .method = "POST", .path = upath, .data = body, .data_len = len,
                          .content_type = mimetype, .max_attempts = 5, .timeout_s = 300 };
  pa_matrix_request (b->mx, &req, upload_cb, u);
}

/* ----------------------------------------------------------- download */

/* mxc://server/id as an authenticated-media download path, or NULL. */
char *
pa_media_download_path (const char *mxc)
{
  if (mxc == NULL || !g_str_has_prefix (mxc, "mxc://"))
    return NULL;
  const char *sp = mxc + strlen ("mxc://");
  const char *slash = strchr (sp, '/');
  if (slash == NULL || slash == sp || slash[1] == '\0' || strchr (slash + 1, '/') != NULL
      || strstr (slash + 1, "..") != NULL)
    return NULL;
  g_autofree char *server = g_strndup (sp, (gsize) (slash - sp));
  g_autofree char *es = pa_matrix_escape (server);
  g_autofree char *em = pa_matrix_escape (slash + 1);
  return g_strdup_printf ("/_matrix/client/v1/media/download/%s/%s", es, em);
}

typedef struct {
  PaBridge *b;
  json_t *file; /* EncryptedFile, or NULL */
  gint64 max_bytes;
  PaDownloadFunc done;
  gpointer user_data;
} DownloadCtx;

static void
download_cb (PaMatrix *mx, const PaMatrixResponse *resp, gpointer user_data)
{
  DownloadCtx *d = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) data = NULL;
  g_autofree char *why = NULL;
  if (!pa_matrix_response_ok (resp) || resp->raw == NULL)
    {
      g_autoptr (GError) e = pa_matrix_response_to_error (resp);
      why = g_strdup_printf ("could not download the media (%s)", e->message);
    }
  else if ((gint64) resp->raw->len > d->max_bytes)
    why = g_strdup ("the media is larger than this bridge's limit");
  else if (d->file)
    {
      data = pa_attachment_decrypt (resp->raw->data, resp->raw->len, d->file, &error);
      if (data == NULL)
        why = g_strdup_printf ("could not decrypt the media (%s)", error->message);
    }
  else
    data = g_bytes_new (resp->raw->data, resp->raw->len);
  d->done (d->b, data, why, d->user_data);
  json_decref (d->file);
  g_free (d);
}

gboolean
pa_media_download (PaBridge *b, json_t *content, gint64 max_bytes, guint timeout_s,
                   PaDownloadFunc done, gpointer user_data)
{
  json_t *file = json_object_get (content, "file");
  const char *url = json_is_object (file) ? pa_attachment_url (file) : str (content, "url");
  g_autofree char *path = pa_media_download_path (url);
  if (path == NULL)
    return FALSE;
  DownloadCtx *d = g_new0 (DownloadCtx, 1);
  d->b = b;
  d->file = json_is_object (file) ? json_deep_copy (file) : NULL;
  d->max_bytes = max_bytes;
  d->done = done;
  d->user_data = user_data;
  PaMatrixRequest req = { .method = "GET", .path = path, .max_attempts = 3,
                          .timeout_s = timeout_s };
  pa_matrix_request (b->mx, &req, download_cb, d);
  return TRUE;
}

gboolean
pa_media_has (json_t *content)
{
  json_t *file = json_object_get (content, "file");
  return str (content, "url") != NULL || (json_is_object (file) && str (file, "url") != NULL);
}

char *
pa_media_save_for_login (PaBridge *b, const char *login_id, GBytes *data, GError **error)
{
  gsize len = 0;
  const char *bytes = g_bytes_get_data (data, &len);
  /* A file name of our own: the event's names are for the legacy side. */
  g_autofree char *name = g_uuid_string_random ();
  g_autofree char *dir = g_build_filename (b->config->data_dir, login_id, "outgoing", NULL);
  g_autofree char *file = g_build_filename (dir, name, NULL);
  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno),
                   "cannot make the folder for the media file");
      return NULL;
    }
  if (!g_file_set_contents_full (file, bytes ? bytes : "", (gssize) len,
                                 G_FILE_SET_CONTENTS_CONSISTENT, 0600, error))
    return NULL;
  return g_steal_pointer (&file);
}
