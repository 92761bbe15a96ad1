/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * tg-outgoing-content.c — what a Matrix → Telegram send carries: the
 * inputMessage* object for a PaContent (the kind Telegram shows, its
 * caption), and the files TDLib uploads from.
 *
 * The host deletes its media file once the op is answered, and TDLib
 * reads it while it uploads, so each send keeps a link (or copy) of its
 * own under tg-out/ in the data dir, named after the file (a document
 * shows that name on Telegram), deleted when the op is answered.
 */
#define G_LOG_DOMAIN "passerelle-telegram"

#include <errno.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tg-outgoing.h"

/* -------------------------------------------------------------- files */

static const struct
{
  const char *mimetype, *ext;
} extensions[] = {
  { "image/jpeg", ".jpg" },      { "image/png", ".png" },  { "image/gif", ".gif" },
  { "image/webp", ".webp" },     { "video/mp4", ".mp4" },  { "video/webm", ".webm" },
  { "audio/ogg", ".ogg" },       { "audio/mpeg", ".mp3" }, { "audio/mp4", ".m4a" },
  { "application/pdf", ".pdf" },
};

char *
tg_out_safe_name (const char *name, const char *mimetype)
{
  g_autofree char *valid = g_utf8_make_valid (name != NULL ? name : "", -1);
  GString *s = g_string_new (NULL);
  for (const char *p = valid; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);
      if (c == '/' || c == '\\' || c < 0x20 || c == 0x7f)
        c = '_';
      if (s->len == 0 && c == '.')
        continue;
      if (s->len + 6 > 120)
        break;
      g_string_append_unichar (s, c);
    }
  if (s->len > 0)
    return g_string_free (s, FALSE);
  g_string_append (s, "file");
  for (gsize i = 0; i < G_N_ELEMENTS (extensions); i++)
    if (g_strcmp0 (mimetype, extensions[i].mimetype) == 0)
      g_string_append (s, extensions[i].ext);
  return g_string_free (s, FALSE);
}

static gboolean
copy_file (const char *from, const char *to)
{
  FILE *in = fopen (from, "rb");
  if (in == NULL)
    return FALSE;
  FILE *out = fopen (to, "wbx");
  if (out == NULL)
    {
      fclose (in);
      return FALSE;
    }
  char buf[65536];
  size_t n;
  gboolean ok = TRUE;
  while (ok && (n = fread (buf, 1, sizeof buf, in)) > 0)
    ok = fwrite (buf, 1, n, out) == n;
  ok = ok && !ferror (in);
  fclose (in);
  if (fclose (out) != 0)
    ok = FALSE;
  if (!ok)
    g_unlink (to);
  return ok;
}

char *
tg_out_keep_file (PaLogin *login, const char *path, const char *name, const char *mimetype)
{
  TgOut *out = login->out;
  if (path == NULL || out == NULL || out->dir == NULL)
    return NULL;
  g_autofree char *safe = tg_out_safe_name (name, mimetype);
  g_autofree char *sub = g_strdup_printf ("%u", ++out->next_file);
  g_autofree char *dir = g_build_filename (out->dir, sub, NULL);
  if (g_mkdir_with_parents (dir, 0700) != 0)
    return NULL;
  g_autofree char *copy = g_build_filename (dir, safe, NULL);
  /* A link costs no room and no time; a copy only across file systems. */
  if (link (path, copy) == 0)
    return g_steal_pointer (&copy);
  GStatBuf st;
  gint64 left = login->api->budget_left != NULL ? login->api->budget_left (login->host) : -1;
  if (g_stat (path, &st) == 0 && (left < 0 || (gint64) st.st_size <= left)
      && copy_file (path, copy))
    return g_steal_pointer (&copy);
  tg_log (login, PA_LOG_WARNING, "cannot keep a copy of a file to send: %s", g_strerror (errno));
  g_rmdir (dir);
  return NULL;
}

void
tg_out_drop_file (const char *copy)
{
  if (copy == NULL)
    return;
  g_unlink (copy);
  g_autofree char *dir = g_path_get_dirname (copy);
  g_rmdir (dir);
}

void
tg_out_remove_tree (const char *path)
{
  GDir *d = g_dir_open (path, 0, NULL);
  if (d == NULL)
    return;
  const char *n;
  while ((n = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *p = g_build_filename (path, n, NULL);
      if (g_file_test (p, G_FILE_TEST_IS_DIR) && !g_file_test (p, G_FILE_TEST_IS_SYMLINK))
        {
          tg_out_remove_tree (p);
          g_rmdir (p);
        }
      else
        g_unlink (p);
    }
  g_dir_close (d);
}

/* ------------------------------------------------------------ content */

gsize
tg_out_utf16_len (const char *s)
{
  gsize n = 0;
  for (const char *p = s; p != NULL && *p != '\0'; p = g_utf8_next_char (p))
    n += g_utf8_get_char (p) > 0xffff ? 2 : 1;
  return n;
}

static json_t *
local_file (const char *path)
{
  return json_pack ("{s:s, s:s}", "@type", "inputFileLocal", "path", path);
}

static gboolean
mime_is (const char *mimetype, const char *const *list)
{
  for (; *list != NULL; list++)
    if (g_strcmp0 (mimetype, *list) == 0)
      return TRUE;
  return FALSE;
}

json_t *
tg_out_input_content (const PaContent *c, json_t *text, const char *file)
{
  static const char *const photos[] = { "image/jpeg", "image/png", "image/webp", NULL };
  static const char *const stickers[]
      = { "image/webp", "application/x-tgsticker", "video/webm", NULL };
  static const char *const voices[] = { "audio/ogg", "audio/opus", NULL };
  int duration = (int) ((c->duration_ms + 500) / 1000);
  int w = (int) c->width, h = (int) c->height;
  PaMsgKind kind = c->kind;

  if (kind == PA_MSG_LOCATION)
    {
      json_decref (text);
      return json_pack ("{s:s, s:{s:s, s:f, s:f, s:f}}", "@type", "inputMessageLocation",
                        "location", "@type", "location", "latitude", c->latitude, "longitude",
                        c->longitude, "horizontal_accuracy", 0.0);
    }
  if (file == NULL)
    return json_pack ("{s:s, s:o, s:n, s:b}", "@type", "inputMessageText", "text", text,
                      "link_preview_options", "clear_draft", 0);

  if (kind == PA_MSG_STICKER && !mime_is (c->mimetype, stickers))
    kind = PA_MSG_IMAGE; /* Telegram's stickers are WebP, TGS or WebM */
  if (kind == PA_MSG_IMAGE && g_strcmp0 (c->mimetype, "image/gif") == 0)
    return json_pack ("{s:s, s:{s:s, s:o, s:n, s:[], s:i, s:i, s:i}, s:o, s:b, s:b}", "@type",
                      "inputMessageAnimation", "animation", "@type", "inputAnimation", "animation",
                      local_file (file), "thumbnail", "added_sticker_file_ids", "duration",
                      duration, "width", w, "height", h, "caption", text,
                      "show_caption_above_media", 0, "has_spoiler", 0);
  if (kind == PA_MSG_IMAGE && !mime_is (c->mimetype, photos))
    kind = PA_MSG_FILE; /* an SVG, a TIFF…: Telegram's photos are JPEG, PNG, WebP */
  if (kind == PA_MSG_VOICE && !mime_is (c->mimetype, voices))
    kind = PA_MSG_AUDIO; /* a voice note is Ogg Opus */

  switch (kind)
    {
    case PA_MSG_IMAGE:
      return json_pack ("{s:s, s:{s:s, s:o, s:n, s:n, s:[], s:i, s:i}, s:o, s:b, s:n, s:b}",
                        "@type", "inputMessagePhoto", "photo", "@type", "inputPhoto", "photo",
                        local_file (file), "thumbnail", "video", "added_sticker_file_ids", "width",
                        w, "height", h, "caption", text, "show_caption_above_media", 0,
                        "self_destruct_type", "has_spoiler", 0);
    case PA_MSG_VIDEO:
      return json_pack (
          "{s:s, s:{s:s, s:o, s:n, s:n, s:i, s:[], s:i, s:i, s:i, s:b}, s:o, s:b, s:n, s:b}",
          "@type", "inputMessageVideo", "video", "@type", "inputVideo", "video", local_file (file),
          "thumbnail", "cover", "start_timestamp", 0, "added_sticker_file_ids", "duration",
          duration, "width", w, "height", h, "supports_streaming", 1, "caption", text,
          "show_caption_above_media", 0, "self_destruct_type", "has_spoiler", 0);
    case PA_MSG_AUDIO:
      return json_pack ("{s:s, s:{s:s, s:o, s:n, s:i, s:s, s:s}, s:o}", "@type",
                        "inputMessageAudio", "audio", "@type", "inputAudio", "audio",
                        local_file (file), "album_cover_thumbnail", "duration", duration, "title",
                        "", "performer", "", "caption", text);
    case PA_MSG_VOICE:
      return json_pack ("{s:s, s:{s:s, s:o, s:i, s:s}, s:o, s:n}", "@type", "inputMessageVoiceNote",
                        "voice_note", "@type", "inputVoiceNote", "voice_note", local_file (file),
                        "duration", duration, "waveform", "", "caption", text,
                        "self_destruct_type");
    case PA_MSG_STICKER:
      json_decref (text); /* a sticker has no caption */
      return json_pack ("{s:s, s:{s:s, s:o, s:n, s:i, s:i}, s:s}", "@type", "inputMessageSticker",
                        "sticker", "@type", "inputSticker", "sticker", local_file (file),
                        "thumbnail", "width", w, "height", h, "emoji", "");
    default:
      /* A file stays a file: no detection turning it into a photo. */
      return json_pack ("{s:s, s:{s:s, s:o, s:n, s:b}, s:o}", "@type", "inputMessageDocument",
                        "document", "@type", "inputDocument", "document", local_file (file),
                        "thumbnail", "disable_content_type_detection", 1, "caption", text);
    }
}

gboolean
tg_out_is_media_kind (PaMsgKind kind)
{
  return kind == PA_MSG_IMAGE || kind == PA_MSG_VIDEO || kind == PA_MSG_AUDIO
         || kind == PA_MSG_VOICE || kind == PA_MSG_FILE || kind == PA_MSG_STICKER;
}
