/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * tg-content-in.c — a TDLib messageContent → PaContent: text with its
 * formatting, media (which file to download, its name, type, size,
 * dimensions), locations, contacts, polls, dice.  Service messages are
 * worded in tg-content-service.c.  The table is docs/telegram-messages.md;
 * the cases are tests/data/tdlib/content-in/.
 */
#define G_LOG_DOMAIN "passerelle-telegram"

#include <glib/gstdio.h>

#include "tg-content-in.h"
#include "tg-content-service.h"
#include "tg-entities.h"
#include "tg-files.h"

void
tg_content_in_sync (TgContentIn *c)
{
  c->c.struct_size = sizeof (PaContent);
  c->c.text = c->text;
  c->c.html = c->html;
  c->c.media_name = c->media_name;
  c->c.mimetype = c->mimetype;
  c->c.media_path = c->media_path;
  c->c.reply_to = c->reply_to;
  c->c.forwarded_from = c->forwarded_from;
}

void
tg_content_in_free (TgContentIn *c)
{
  if (c == NULL)
    return;
  g_free (c->text);
  g_free (c->html);
  g_free (c->media_name);
  g_free (c->mimetype);
  g_free (c->media_path);
  g_free (c->reply_to);
  g_free (c->forwarded_from);
  if (c->file != NULL)
    json_decref (c->file);
  g_free (c);
}

/* A formattedText (or, in older schemas, a plain string) → its text. */
static const char *
ft_text (json_t *ft)
{
  if (json_is_string (ft))
    return json_string_value (ft);
  return tg_jstr (ft, "text");
}

/* Text and, when it carries formatting, HTML. */
static void
set_formatted (TgContentIn *c, json_t *ft)
{
  const char *text = ft_text (ft);
  if (text == NULL || *text == '\0')
    return;
  c->text = g_strdup (text);
  if (json_is_object (ft))
    c->html = tg_entities_to_html (ft);
}

static void
set_media (TgContentIn *c, PaMsgKind kind, json_t *file, const char *name, const char *mime)
{
  c->c.kind = kind;
  c->file = file != NULL ? json_incref (file) : NULL;
  c->media_name = g_strdup (name);
  c->mimetype = g_strdup (mime);
  gint64 size = MAX (tg_jint (file, "size"), tg_jint (file, "expected_size"));
  c->c.media_size = (uint64_t) MAX (size, 0);
}

static const char *
nonempty (const char *s, const char *fallback)
{
  return s != NULL && *s != '\0' ? s : fallback;
}

static void
photo (TgContentIn *c, json_t *content)
{
  /* the largest size: TDLib lists them smallest first */
  json_t *sizes = json_object_get (json_object_get (content, "photo"), "sizes");
  json_t *best = json_array_get (sizes, json_array_size (sizes) - 1);
  set_media (c, PA_MSG_IMAGE, json_object_get (best, "photo"), "photo.jpg", "image/jpeg");
  c->c.width = (uint32_t) tg_jint (best, "width");
  c->c.height = (uint32_t) tg_jint (best, "height");
}

static void
video_like (TgContentIn *c, json_t *v, const char *file_key, const char *name, const char *mime)
{
  set_media (c, PA_MSG_VIDEO, json_object_get (v, file_key),
             nonempty (tg_jstr (v, "file_name"), name), nonempty (tg_jstr (v, "mime_type"), mime));
  c->c.width = (uint32_t) tg_jint (v, "width");
  c->c.height = (uint32_t) tg_jint (v, "height");
  c->c.duration_ms = (uint32_t) (tg_jint (v, "duration") * 1000);
}

static void
sticker (TgContentIn *c, json_t *s)
{
  json_t *format = json_object_get (s, "format");
  json_t *file = json_object_get (s, "sticker");
  if (tg_jis (format, "stickerFormatTgs"))
    set_media (c, PA_MSG_FILE, file, "sticker.tgs", "application/x-tgsticker");
  else if (tg_jis (format, "stickerFormatWebm"))
    set_media (c, PA_MSG_FILE, file, "sticker.webm", "video/webm");
  else
    set_media (c, PA_MSG_STICKER, file, "sticker.webp", "image/webp");
  c->c.width = (uint32_t) tg_jint (s, "width");
  c->c.height = (uint32_t) tg_jint (s, "height");
  const char *emoji = tg_jstr (s, "emoji");
  if (emoji != NULL && *emoji != '\0')
    c->text = g_strdup (emoji);
}

static void
contact (TgContentIn *c, json_t *ct)
{
  GString *t = g_string_new ("👤 ");
  g_autofree char *name = g_strdup_printf ("%s %s", nonempty (tg_jstr (ct, "first_name"), ""),
                                           nonempty (tg_jstr (ct, "last_name"), ""));
  g_string_append (t, g_strstrip (name));
  const char *phone = tg_jstr (ct, "phone_number");
  if (phone != NULL && *phone != '\0')
    g_string_append_printf (t, "\n%s%s", phone[0] == '+' ? "" : "+", phone);
  c->c.kind = PA_MSG_TEXT;
  c->text = g_string_free (t, FALSE);
}

static void
poll (TgContentIn *c, json_t *p)
{
  gboolean quiz = tg_jis (json_object_get (p, "type"), "pollTypeQuiz");
  gint64 total = tg_jint (p, "total_voter_count");
  gboolean results = total > 0;
  GString *t = g_string_new (NULL);
  g_string_append_printf (t, "📊 %s: %s", quiz ? "Quiz" : "Poll",
                          nonempty (ft_text (json_object_get (p, "question")), ""));
  size_t i;
  json_t *o;
  json_array_foreach (json_object_get (p, "options"), i, o)
  {
    g_string_append_printf (t, "\n%zu. %s", i + 1,
                            nonempty (ft_text (json_object_get (o, "text")), ""));
    if (results)
      {
        gint64 n = tg_jint (o, "voter_count");
        g_string_append_printf (t, " — %" G_GINT64_FORMAT " vote%s (%" G_GINT64_FORMAT "%%)", n,
                                n == 1 ? "" : "s", tg_jint (o, "vote_percentage"));
      }
  }
  if (json_is_true (json_object_get (p, "allows_multiple_answers")))
    g_string_append (t, "\n(several answers allowed)");
  if (results)
    g_string_append_printf (t, "\n%" G_GINT64_FORMAT " vote%s", total, total == 1 ? "" : "s");
  if (json_is_true (json_object_get (p, "is_closed")))
    g_string_append (t, ", closed");
  c->c.kind = PA_MSG_TEXT;
  c->text = g_string_free (t, FALSE);
}

/* Media and ordinary messages; FALSE when `type` is not one of them. */
static gboolean
ordinary (TgContentIn *c, const char *type, json_t *content)
{
  json_t *caption = json_object_get (content, "caption");
  if (strcmp (type, "messageText") == 0)
    {
      c->c.kind = PA_MSG_TEXT;
      set_formatted (c, json_object_get (content, "text"));
    }
  else if (strcmp (type, "messageAnimatedEmoji") == 0)
    {
      c->c.kind = PA_MSG_TEXT;
      c->text = g_strdup (tg_jstr (content, "emoji"));
    }
  else if (strcmp (type, "messagePhoto") == 0)
    photo (c, content);
  else if (strcmp (type, "messageVideo") == 0)
    video_like (c, json_object_get (content, "video"), "video", "video.mp4", "video/mp4");
  else if (strcmp (type, "messageAnimation") == 0)
    video_like (c, json_object_get (content, "animation"), "animation", "animation.mp4",
                "video/mp4");
  else if (strcmp (type, "messageVideoNote") == 0)
    {
      json_t *v = json_object_get (content, "video_note");
      set_media (c, PA_MSG_VIDEO, json_object_get (v, "video"), "video-note.mp4", "video/mp4");
      c->c.width = c->c.height = (uint32_t) tg_jint (v, "length");
      c->c.duration_ms = (uint32_t) (tg_jint (v, "duration") * 1000);
    }
  else if (strcmp (type, "messageVoiceNote") == 0)
    {
      json_t *v = json_object_get (content, "voice_note");
      set_media (c, PA_MSG_VOICE, json_object_get (v, "voice"), "voice.ogg",
                 nonempty (tg_jstr (v, "mime_type"), "audio/ogg"));
      c->c.duration_ms = (uint32_t) (tg_jint (v, "duration") * 1000);
    }
  else if (strcmp (type, "messageAudio") == 0)
    {
      json_t *a = json_object_get (content, "audio");
      set_media (c, PA_MSG_AUDIO, json_object_get (a, "audio"),
                 nonempty (tg_jstr (a, "file_name"), "audio.mp3"),
                 nonempty (tg_jstr (a, "mime_type"), "audio/mpeg"));
      c->c.duration_ms = (uint32_t) (tg_jint (a, "duration") * 1000);
    }
  else if (strcmp (type, "messageDocument") == 0)
    {
      json_t *d = json_object_get (content, "document");
      set_media (c, PA_MSG_FILE, json_object_get (d, "document"),
                 nonempty (tg_jstr (d, "file_name"), "file"),
                 nonempty (tg_jstr (d, "mime_type"), "application/octet-stream"));
    }
  else if (strcmp (type, "messageSticker") == 0)
    sticker (c, json_object_get (content, "sticker"));
  else if (strcmp (type, "messageLocation") == 0 || strcmp (type, "messageVenue") == 0)
    {
      json_t *venue = json_object_get (content, "venue");
      json_t *loc = venue != NULL ? json_object_get (venue, "location")
                                  : json_object_get (content, "location");
      c->c.kind = PA_MSG_LOCATION;
      c->c.latitude = json_number_value (json_object_get (loc, "latitude"));
      c->c.longitude = json_number_value (json_object_get (loc, "longitude"));
      if (venue != NULL)
        c->text = g_strdup_printf ("%s, %s", nonempty (tg_jstr (venue, "title"), ""),
                                   nonempty (tg_jstr (venue, "address"), ""));
    }
  else if (strcmp (type, "messageContact") == 0)
    contact (c, json_object_get (content, "contact"));
  else if (strcmp (type, "messagePoll") == 0)
    poll (c, json_object_get (content, "poll"));
  else if (strcmp (type, "messageDice") == 0)
    {
      c->c.kind = PA_MSG_TEXT;
      c->text = g_strdup_printf ("%s %" G_GINT64_FORMAT, nonempty (tg_jstr (content, "emoji"), "🎲"),
                                 tg_jint (content, "value"));
    }
  else
    return FALSE;
  if (caption != NULL && c->text == NULL)
    set_formatted (c, caption);
  return TRUE;
}

static gint64
max_media_bytes (PaLogin *login)
{
  gint64 n = login->api->config_int (login->host, "max_media_bytes");
  return n > 0 ? n : 50 * 1024 * 1024;
}

TgContentIn *
tg_content_in_new (PaLogin *login, gint64 chat_id, json_t *content, json_t *sender)
{
  TgContentIn *c = g_new0 (TgContentIn, 1);
  const char *type = tg_jstr (content, "@type");
  if (type == NULL)
    type = "";
  if (!ordinary (c, type, content))
    tg_content_service (login, c, chat_id, type, content, sender);
  if (c->file != NULL && c->c.media_size > (uint64_t) max_media_bytes (login))
    tg_content_in_unavailable (c, "over the bridge's size limit");
  tg_content_in_sync (c);
  return c;
}

/* "900 bytes", "54.3 kB", "5.2 MB" (GLib's own uses a no-break space). */
static char *
human_size (guint64 n)
{
  if (n < 1000)
    return g_strdup_printf ("%" G_GUINT64_FORMAT " bytes", n);
  if (n < 1000 * 1000)
    return g_strdup_printf ("%.1f kB", (double) n / 1e3);
  if (n < 1000 * 1000 * 1000)
    return g_strdup_printf ("%.1f MB", (double) n / 1e6);
  return g_strdup_printf ("%.1f GB", (double) n / 1e9);
}

void
tg_content_in_unavailable (TgContentIn *c, const char *why)
{
  g_autofree char *size = human_size (c->c.media_size);
  GString *t = g_string_new (NULL);
  g_string_append_printf (t, "📎 %s (%s) was not bridged: %s.",
                          c->media_name != NULL ? c->media_name : "a file", size, why);
  if (c->text != NULL)
    g_string_append_printf (t, "\n%s", c->text);
  g_free (c->text);
  c->text = g_string_free (t, FALSE);
  g_clear_pointer (&c->html, g_free);
  g_clear_pointer (&c->media_path, g_free);
  if (c->file != NULL)
    g_clear_pointer (&c->file, json_decref);
  c->c.kind = PA_MSG_NOTICE;
  c->c.width = c->c.height = c->c.duration_ms = 0;
  tg_content_in_sync (c);
}

/* Only [A-Za-z0-9._-] of a name go into a file name, at most 80 bytes. */
static char *
safe_file_name (const char *name)
{
  GString *o = g_string_new (NULL);
  for (const char *p = name; *p != '\0' && o->len < 80; p++)
    g_string_append_c (o, g_ascii_isalnum (*p) || *p == '.' || *p == '-' || *p == '_' ? *p : '_');
  if (o->len == 0 || o->str[0] == '.')
    g_string_prepend_c (o, 'f');
  return g_string_free (o, FALSE);
}

void
tg_content_in_take (PaLogin *login, TgContentIn *c, json_t *file, const char *base)
{
  int code = 0;
  const char *message = NULL;
  if (tg_td_is_error (file, &code, &message))
    {
      g_autofree char *why = g_strdup_printf ("Telegram did not give the file (%s)",
                                              message != NULL ? message : "error");
      tg_content_in_unavailable (c, why);
      return;
    }
  g_autofree char *name = safe_file_name (c->media_name != NULL ? c->media_name : "file");
  g_autofree char *leaf = g_strdup_printf ("%s-%s", base, name);
  g_autofree char *dest = g_build_filename (login->data_dir, "media", leaf, NULL);
  g_autoptr (GError) err = NULL;
  if (!tg_files_take (login, file, dest, &err))
    {
      tg_log (login, PA_LOG_WARNING, "media file not taken: %s", err->message);
      tg_content_in_unavailable (c, "the bridge could not store it");
      return;
    }
  GStatBuf st;
  if (g_stat (dest, &st) == 0)
    c->c.media_size = (uint64_t) st.st_size;
  g_free (c->media_path);
  c->media_path = g_steal_pointer (&dest);
  if (c->file != NULL)
    g_clear_pointer (&c->file, json_decref);
  tg_content_in_sync (c);
}
