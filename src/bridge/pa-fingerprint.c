/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Live fingerprints (issue 12, history on link).  Once an agent links a
 * chat live, an export of it imported later into its portal goes to an
 * archive room (?ts= cannot reorder the portal) and would bring again the
 * messages the portal already shows.  So each live message leaves a
 * fingerprint (minute, class, digest of its normalised content: exports
 * carry neither the network's message ids nor seconds), and the import
 * skips an exported message that matches one.  Senders are not compared:
 * an export names them by display name, the live network by id.
 * An import leaves the same fingerprints in the room it sends to (issue
 * 15), so that another export of the same chat imported later into that
 * room — the zip after the .txt, a Telegram chat alone then within the
 * full export — skips what is already there. */
#define G_LOG_DOMAIN "passerelle-remote"

#include "pa-fingerprint.h"

#include "passerelle/plugin.h"

#include <string.h>

static const char *
str (json_t *o, const char *key)
{
  return json_string_value (json_object_get (o, key));
}

char *
pa_fingerprint_normalise (const char *text)
{
  g_autofree char *nfc = text ? g_utf8_normalize (text, -1, G_NORMALIZE_NFC) : NULL;
  if (nfc == NULL)
    return g_strdup ("");
  GString *out = g_string_sized_new (strlen (nfc));
  gboolean space = FALSE;
  for (const char *p = nfc; *p; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);
      /* Direction marks (WhatsApp puts one before "<attached: …>"), zero
       * width space and joiner-less marks, the byte order mark. */
      if (c == 0x200B || c == 0x200E || c == 0x200F || c == 0x2060 || c == 0xFEFF)
        continue;
      if (g_unichar_isspace (c))
        {
          space = out->len > 0;
          continue;
        }
      if (space)
        g_string_append_c (out, ' ');
      space = FALSE;
      g_string_append_unichar (out, c);
    }
  return g_string_free (out, FALSE);
}

/* The class of a wire message kind: what an export can still tell apart
 * (a voice note and an audio file are both audio files there; a sticker is
 * an image). */
static const char *
kind_class (const char *kind)
{
  static const struct
  {
    const char *kind, *cls;
  } classes[] = {
    { "text", "text" },   { "emote", "text" },    { "notice", "text" },
    { "image", "image" }, { "sticker", "image" }, { "video", "video" },
    { "audio", "audio" }, { "voice", "audio" },   { "file", "file" },
  };
  for (gsize i = 0; kind && i < G_N_ELEMENTS (classes); i++)
    if (g_str_equal (kind, classes[i].kind))
      return classes[i].cls;
  return NULL; /* location, or unknown */
}

char *
pa_fingerprint_key (json_t *content, gboolean with_name, const char **out_class)
{
  const char *dummy;
  const char **cls = out_class ? out_class : &dummy;
  *cls = NULL;
  json_int_t flags = json_integer_value (json_object_get (content, "flags"));
  if (flags & PA_CONTENT_SYSTEM)
    return NULL;
  if (flags & PA_CONTENT_DELETED)
    {
      *cls = "deleted";
      return g_strdup ("deleted");
    }
  if (flags & PA_CONTENT_NOT_INCLUDED)
    {
      /* Its text is the importer's ("<Media omitted>", "file not
       * included: …"): only "some media" is known. */
      *cls = "media";
      return g_strdup ("media");
    }
  const char *c = kind_class (str (content, "kind"));
  if (c == NULL)
    return NULL;
  g_autofree char *text = pa_fingerprint_normalise (str (content, "text"));
  if (g_str_equal (c, "text"))
    {
      if (text[0] == '\0')
        return NULL;
      *cls = c;
      return g_strconcat ("text\x1f", text, NULL);
    }
  *cls = c;
  g_autofree char *name = with_name && g_str_equal (c, "file")
                              ? pa_fingerprint_normalise (str (content, "media_name"))
                              : NULL;
  if (name && name[0])
    return g_strjoin ("\x1f", c, text, name, NULL);
  return g_strjoin ("\x1f", c, text, NULL);
}

gint64
pa_fingerprint_digest (const char *key)
{
  return pa_store_hash64 (key);
}

gint64
pa_fingerprint_minute (gint64 ts_ms)
{
  /* Floor, also before 1970: an export's minute starts at :00. */
  return ts_ms >= 0 ? ts_ms / 60000 : -((-ts_ms + 59999) / 60000);
}

static void
add (PaBridge *b, const char *job_id, const char *room_id, const char *legacy_id, gint64 minute,
     const char *cls, const char *key)
{
  g_autoptr (GError) e = NULL;
  gboolean ok;
  if (job_id != NULL)
    ok = pa_store_fingerprint_add_own (b->store, job_id, room_id, legacy_id, minute, cls,
                                       pa_fingerprint_digest (key), &e);
  else if (minute == G_MININT64)
    ok = pa_store_fingerprint_add_later (b->store, room_id, legacy_id, cls,
                                         pa_fingerprint_digest (key), &e);
  else
    ok = pa_store_fingerprint_add (b->store, room_id, legacy_id, minute, cls,
                                   pa_fingerprint_digest (key), &e);
  if (!ok)
    g_warning ("fingerprint of %s in %s: %s", legacy_id, room_id, e->message);
}

/* Both forms of a file's key (with its name, and without, for an export
 * that names it otherwise or not at all): one message, one match. */
static void
add_content (PaBridge *b, const char *job_id, const char *room_id, const char *legacy_id,
             gint64 minute, json_t *content)
{
  const char *cls = NULL;
  g_autofree char *named = pa_fingerprint_key (content, TRUE, &cls);
  if (named == NULL)
    return;
  add (b, job_id, room_id, legacy_id, minute, cls, named);
  g_autofree char *plain = pa_fingerprint_key (content, FALSE, NULL);
  if (!g_str_equal (plain, named))
    add (b, job_id, room_id, legacy_id, minute, cls, plain);
}

void
pa_fingerprint_record (PaBridge *b, const char *room_id, const char *legacy_id, gint64 ts_ms,
                       json_t *content)
{
  if (room_id && legacy_id && content)
    add_content (b, NULL, room_id, legacy_id, pa_fingerprint_minute (ts_ms), content);
}

void
pa_fingerprint_record_import (PaBridge *b, const char *job_id, const char *room_id,
                              const char *legacy_id, gint64 ts_ms, json_t *content)
{
  if (job_id == NULL || room_id == NULL || legacy_id == NULL || content == NULL)
    return;
  /* Message ids are the export's own: two exports of one chat may number
   * differently, so the job's id keeps them apart. */
  g_autofree char *msg = g_strjoin ("\x1f", job_id, legacy_id, NULL);
  add_content (b, job_id, room_id, msg, pa_fingerprint_minute (ts_ms), content);
}

void
pa_fingerprint_record_change (PaBridge *b, const char *room_id, const char *legacy_id,
                              json_t *content)
{
  if (room_id == NULL || legacy_id == NULL)
    return;
  if (content)
    add_content (b, NULL, room_id, legacy_id, G_MININT64, content);
  else
    add (b, NULL, room_id, legacy_id, G_MININT64, "deleted", "deleted");
}

gboolean
pa_fingerprint_already_live (PaBridge *b, const char *job_id, const char *room_id, gint64 ts_ms,
                             json_t *content)
{
  const char *cls = NULL;
  g_autofree char *named = pa_fingerprint_key (content, TRUE, &cls);
  if (named == NULL || room_id == NULL)
    return FALSE;
  gint64 minute = pa_fingerprint_minute (ts_ms);
  g_autoptr (GError) e = NULL;
  int got;
  if (g_str_equal (cls, "media"))
    got = pa_store_fingerprint_claim (b->store, job_id, room_id, minute, TRUE, 0, &e);
  else
    {
      got = pa_store_fingerprint_claim (b->store, job_id, room_id, minute, FALSE,
                                        pa_fingerprint_digest (named), &e);
      g_autofree char *plain = pa_fingerprint_key (content, FALSE, NULL);
      if (got == 0 && !g_str_equal (plain, named))
        got = pa_store_fingerprint_claim (b->store, job_id, room_id, minute, FALSE,
                                          pa_fingerprint_digest (plain), &e);
    }
  if (got < 0)
    g_warning ("live fingerprints of %s: %s (imported rather than lost)", room_id, e->message);
  return got > 0;
}

char *
pa_fingerprint_anchor (json_t *ev)
{
  json_t *c = json_object_get (ev, "content");
  if (!json_is_object (c) || json_integer_value (json_object_get (c, "flags")) & PA_CONTENT_SYSTEM)
    return NULL;
  const char *cls = NULL;
  g_autofree char *key = pa_fingerprint_key (c, FALSE, &cls);
  const char *sender = str (ev, "sender_id");
  /* Only "media" for what is not text: the .txt alone says a photo was
   * there ("file not included"), its zip holds it. */
  return g_strdup_printf ("%s\x1f%" G_GINT64_FORMAT "\x1f%s", sender ? sender : "",
                          pa_fingerprint_minute (json_integer_value (json_object_get (ev, "ts"))),
                          g_strcmp0 (cls, "text") == 0 ? key : "media");
}

char *
pa_fingerprint_chat_identity (const char *chat_id, const char *anchor)
{
  g_return_val_if_fail (chat_id != NULL, NULL);
  if (!g_str_has_prefix (chat_id, "chat-"))
    return g_strconcat ("id:", chat_id, NULL);
  if (anchor == NULL)
    return NULL; /* no message: nothing to know the chat by */
  g_autofree char *sum = g_compute_checksum_for_string (G_CHECKSUM_SHA256, anchor, -1);
  return g_strdup_printf ("name:%s:%.32s", chat_id, sum);
}
