/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * lb-media.c — media files.  Received media are decoded into a NEW file of
 * DATA_DIR/media for every emission: once emitted, a file is the host's
 * (FILES in plugin.h), so a redelivered message must never rewrite one the
 * host may be uploading.  A file that would take the data dir over its
 * budget is not written.  Also the mapping between PaMsgKind and the kind
 * names of the wire.
 */
#define G_LOG_DOMAIN "passerelle-loopback"

#include "lb-media.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "lb-util.h"

PaMsgKind
lb_media_kind (const char *kind, const char *mimetype)
{
  static const struct
  {
    const char *name;
    PaMsgKind kind;
  } names[] = {
    { "image", PA_MSG_IMAGE }, { "video", PA_MSG_VIDEO }, { "audio", PA_MSG_AUDIO },
    { "voice", PA_MSG_VOICE }, { "file", PA_MSG_FILE },   { "sticker", PA_MSG_STICKER },
  };
  for (gsize i = 0; kind != NULL && i < G_N_ELEMENTS (names); i++)
    if (strcmp (kind, names[i].name) == 0)
      return names[i].kind;
  if (mimetype == NULL)
    return PA_MSG_FILE;
  if (g_str_has_prefix (mimetype, "image/"))
    return PA_MSG_IMAGE;
  if (g_str_has_prefix (mimetype, "video/"))
    return PA_MSG_VIDEO;
  if (g_str_has_prefix (mimetype, "audio/"))
    return PA_MSG_AUDIO;
  return PA_MSG_FILE;
}

const char *
lb_media_kind_name (PaMsgKind kind)
{
  switch (kind)
    {
    case PA_MSG_IMAGE:
      return "image";
    case PA_MSG_VIDEO:
      return "video";
    case PA_MSG_AUDIO:
      return "audio";
    case PA_MSG_VOICE:
      return "voice";
    case PA_MSG_STICKER:
      return "sticker";
    case PA_MSG_FILE:
    case PA_MSG_TEXT:
    case PA_MSG_NOTICE:
    case PA_MSG_EMOTE:
    case PA_MSG_LOCATION:
    default:
      return "file";
    }
}

gboolean
lb_is_media_kind (PaMsgKind kind)
{
  return kind == PA_MSG_IMAGE || kind == PA_MSG_VIDEO || kind == PA_MSG_AUDIO
         || kind == PA_MSG_VOICE || kind == PA_MSG_FILE || kind == PA_MSG_STICKER;
}

/* A file name that cannot escape the media directory, new for every
 * emission: an emitted file is the host's (FILES in plugin.h), so a
 * redelivered message must not rewrite the file the host may be uploading. */
static char *
lb_media_file_name (const char *chat, const char *id, const char *name)
{
  g_autofree char *key = g_strdup_printf ("%s\n%s\n%" G_GINT64_FORMAT "\n%08x%08x", chat, id,
                                          g_get_real_time (), g_random_int (), g_random_int ());
  g_autofree char *hash = g_compute_checksum_for_string (G_CHECKSUM_SHA256, key, -1);
  g_autoptr (GString) safe = g_string_new (NULL);
  for (const char *p = name; p != NULL && *p != '\0' && safe->len < 80; p++)
    g_string_append_c (safe,
                       g_ascii_isalnum (*p) || *p == '.' || *p == '-' || *p == '_' ? *p : '_');
  if (safe->len == 0 || safe->str[0] == '.')
    g_string_prepend (safe, "file");
  return g_strdup_printf ("%.16s-%s", hash, safe->str);
}

/* Writes a new private file; never replaces or follows an existing one. */
static gboolean
lb_write_new_file (const char *path, const guchar *data, gsize len, GError **error)
{
  int fd = g_open (path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "cannot create %s: %s", path,
                   g_strerror (saved));
      return FALSE;
    }
  gsize done = 0;
  while (done < len)
    {
      gssize n = write (fd, data + done, len - done);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          int saved = errno;
          close (fd);
          g_unlink (path);
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "cannot write %s: %s",
                       path, g_strerror (saved));
          return FALSE;
        }
      done += (gsize) n;
    }
  if (close (fd) != 0)
    {
      int saved = errno;
      g_unlink (path);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "cannot write %s: %s", path,
                   g_strerror (saved));
      return FALSE;
    }
  return TRUE;
}

/* Decodes a message's media into a new file of data_dir/media/ and returns
 * its path, or fails with G_IO_ERROR_NO_SPACE when it would take the data
 * dir over its budget (budget_left), G_IO_ERROR_INVALID_DATA when the
 * network sent no data. */
char *
lb_store_media (PaHost *host, const PaHostApi *api, const char *data_dir, const char *chat,
                const char *id, json_t *media, gsize *size, GError **error)
{
  const char *b64 = lb_js (media, "data_b64");
  if (b64 == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "media without data_b64");
      return NULL;
    }
  g_autofree char *dir = g_build_filename (data_dir, "media", NULL);
  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "cannot create %s: %s", dir,
                   g_strerror (saved));
      return NULL;
    }
  gsize len = 0;
  g_autofree guchar *data = g_base64_decode (b64, &len);
  gint64 left = api->budget_left (host);
  if (left >= 0 && (guint64) len > (guint64) left)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE,
                   "%" G_GSIZE_FORMAT " bytes, and the login's storage budget has %" G_GINT64_FORMAT
                   " left",
                   len, left);
      *size = len;
      return NULL;
    }
  g_autofree char *file = lb_media_file_name (chat, id, lb_js (media, "name"));
  g_autofree char *path = g_build_filename (dir, file, NULL);
  if (!lb_write_new_file (path, data, len, error))
    return NULL;
  *size = len;
  return g_steal_pointer (&path);
}
