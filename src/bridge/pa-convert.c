/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Pure conversions between the wire `content` object of the worker
 * protocol and Matrix event contents, both ways: message kinds and
 * msgtypes, HTML, media info, voice notes, stickers, locations (geo: URI),
 * forwarded-from prefixes, reply relations and fallbacks, edits and the
 * flags of imported messages.
 *
 * Kept apart from the paths that use them so that each kind is checked
 * by a table (tests/data/convert/, run by tests/bridge/test-convert.c)
 * without a homeserver: nothing here does I/O or touches the bridge. */
#define G_LOG_DOMAIN "passerelle-convert"

#include "pa-convert.h"

#include "passerelle/plugin.h"

#include <stdio.h>
#include <string.h>

static const char *
str (json_t *o, const char *key)
{
  return json_string_value (json_object_get (o, key));
}

/* ---------------------------------------------------- legacy → Matrix */

static const char *
msgtype_for (const char *kind)
{
  static const struct
  {
    const char *kind, *msgtype;
  } map[] = {
    { "text", "m.text" },   { "notice", "m.notice" }, { "emote", "m.emote" },
    { "image", "m.image" }, { "video", "m.video" },   { "audio", "m.audio" },
    { "voice", "m.audio" }, { "file", "m.file" },     { "location", "m.location" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (map); i++)
    if (kind && g_str_equal (kind, map[i].kind))
      return map[i].msgtype;
  return "m.text";
}

json_t *
pa_convert_content_to_matrix (json_t *c, const char *mxc, json_t *file, const char **out_event_type)
{
  const char *kind = str (c, "kind");
  const char *text = str (c, "text");
  const char *html = str (c, "html");
  const char *fwd = str (c, "forwarded_from");
  json_t *m = json_object ();
  *out_event_type = "m.room.message";
  if (kind && g_str_equal (kind, "sticker"))
    *out_event_type = "m.sticker";
  else
    json_object_set_new (m, "msgtype", json_string (msgtype_for (kind)));

  g_autofree char *body = NULL;
  if (mxc)
    {
      const char *name = str (c, "media_name");
      body = g_strdup (text ? text : (name ? name : "file"));
      if (file)
        json_object_set (m, "file", file);
      else
        json_object_set_new (m, "url", json_string (mxc));
      if (name)
        json_object_set_new (m, "filename", json_string (name));
      json_t *info = json_object ();
      if (str (c, "mimetype"))
        json_object_set_new (info, "mimetype", json_string (str (c, "mimetype")));
      static const char *const ints[][2] = {
        { "size", "size" }, { "width", "w" }, { "height", "h" }, { "duration_ms", "duration" }
      };
      for (guint i = 0; i < G_N_ELEMENTS (ints); i++)
        {
          json_int_t v = json_integer_value (json_object_get (c, ints[i][0]));
          if (v > 0)
            json_object_set_new (info, ints[i][1], json_integer (v));
        }
      json_object_set_new (m, "info", info);
      if (kind && g_str_equal (kind, "voice"))
        {
          json_object_set_new (m, "org.matrix.msc3245.voice", json_object ());
          json_object_set_new (m, "org.matrix.msc1767.audio",
                               json_pack ("{s:I}", "duration",
                                          json_integer_value (json_object_get (c, "duration_ms"))));
        }
    }
  else if (kind && g_str_equal (kind, "location"))
    {
      double lat = json_real_value (json_object_get (c, "latitude"));
      double lon = json_real_value (json_object_get (c, "longitude"));
      char geo[96];
      g_snprintf (geo, sizeof geo, "geo:%.6f,%.6f", lat, lon);
      body = g_strdup_printf ("%s%s%s", text ? text : "Location", text ? " " : ": ", geo);
      json_object_set_new (m, "geo_uri", json_string (geo));
    }
  else
    body = g_strdup (text ? text : "");

  if (fwd)
    {
      char *t = g_strdup_printf ("↪ Forwarded from %s:\n%s", fwd, body);
      g_free (body);
      body = t;
      if (html)
        {
          g_autofree char *efwd = g_markup_escape_text (fwd, -1);
          g_autofree char *h = g_strdup_printf ("<i>↪ Forwarded from %s:</i><br>%s", efwd, html);
          json_object_set_new (m, "format", json_string ("org.matrix.custom.html"));
          json_object_set_new (m, "formatted_body", json_string (h));
          html = NULL;
        }
    }
  json_object_set_new (m, "body", json_string (body));
  if (html)
    {
      json_object_set_new (m, "format", json_string ("org.matrix.custom.html"));
      json_object_set_new (m, "formatted_body", json_string (html));
    }
  return m;
}

json_t *
pa_convert_message_to_matrix (json_t *c, const PaConvertToMatrix *ctx, const char **event_type)
{
  json_t *content = pa_convert_content_to_matrix (c, ctx->mxc, ctx->file, event_type);
  if (ctx->reply_event)
    json_object_set_new (content, "m.relates_to",
                         json_pack ("{s:{s:s}}", "m.in_reply_to", "event_id", ctx->reply_event));
  json_int_t flags = json_integer_value (json_object_get (c, "flags"));
  if (flags & PA_CONTENT_EDITED)
    {
      /* History cannot hold the edit itself; say so where it shows. */
      g_autofree char *body
          = g_strdup_printf ("%s (edited)", json_string_value (json_object_get (content, "body")));
      json_object_set_new (content, "body", json_string (body));
    }
  if (ctx->import_source)
    {
      /* Imported events are told apart from live ones. */
      json_t *mark = json_pack ("{s:s, s:s?}", "source", ctx->import_source, "id", ctx->message_id);
      if (flags & PA_CONTENT_EDITED)
        json_object_set_new (mark, "edited", json_true ());
      if (flags & PA_CONTENT_DELETED)
        json_object_set_new (mark, "deleted", json_true ());
      if (flags & PA_CONTENT_NOT_INCLUDED)
        json_object_set_new (mark, "not_included", json_true ());
      if (flags & PA_CONTENT_SYSTEM)
        json_object_set_new (mark, "system", json_true ());
      json_object_set_new (content, "fr.passerelle.import", mark);
    }
  return content;
}

json_t *
pa_convert_edit_to_matrix (json_t *wire, const char *target_event)
{
  const char *etype = NULL;
  g_autoptr (json_t) newc = pa_convert_content_to_matrix (wire, NULL, NULL, &etype);
  return pa_convert_edit_of_content (newc, target_event);
}

json_t *
pa_convert_edit_of_content (json_t *newc, const char *target_event)
{
  json_t *content = json_deep_copy (newc);
  g_autofree char *star = g_strdup_printf ("* %s", str (newc, "body"));
  json_object_set_new (content, "body", json_string (star));
  json_object_set (content, "m.new_content", newc);
  json_object_set_new (content, "m.relates_to",
                       json_pack ("{s:s, s:s}", "rel_type", "m.replace", "event_id", target_event));
  return content;
}

void
pa_convert_media_lost (json_t *c, const char *error)
{
  /* The message still goes through, as text saying what was lost. */
  g_autofree char *t = g_strdup_printf ("%s[media not bridged: %s]",
                                        str (c, "text") ? str (c, "text") : "", error);
  json_object_set_new (c, "text", json_string (t));
  json_object_set_new (c, "kind", json_string ("text"));
  json_object_del (c, "media_path");
}

/* ---------------------------------------------------- Matrix → legacy */

json_t *
pa_convert_content_to_wire (json_t *c, const char *media_path)
{
  const char *msgtype = str (c, "msgtype");
  const char *kind = "text";
  static const struct
  {
    const char *msgtype, *kind;
  } map[] = {
    { "m.text", "text" },   { "m.notice", "notice" },     { "m.emote", "emote" },
    { "m.image", "image" }, { "m.video", "video" },       { "m.audio", "audio" },
    { "m.file", "file" },   { "m.location", "location" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (map); i++)
    if (msgtype && g_str_equal (msgtype, map[i].msgtype))
      kind = map[i].kind;
  if (json_object_get (c, "org.matrix.msc3245.voice"))
    kind = "voice";
  json_t *w = json_pack ("{s:s}", "kind", kind);
  const char *body = str (c, "body");
  gboolean media = media_path != NULL;
  if (body && (!media || (str (c, "filename") && g_strcmp0 (body, str (c, "filename")) != 0)))
    json_object_set_new (w, "text", json_string (body));
  if (g_strcmp0 (str (c, "format"), "org.matrix.custom.html") == 0 && str (c, "formatted_body"))
    json_object_set_new (w, "html", json_string (str (c, "formatted_body")));
  if (media)
    {
      json_t *info = json_object_get (c, "info");
      json_object_set_new (w, "media_path", json_string (media_path));
      const char *name = str (c, "filename") ? str (c, "filename") : body;
      if (name)
        json_object_set_new (w, "media_name", json_string (name));
      if (str (info, "mimetype"))
        json_object_set_new (w, "mimetype", json_string (str (info, "mimetype")));
      static const char *const ints[][2] = {
        { "size", "size" }, { "w", "width" }, { "h", "height" }, { "duration", "duration_ms" }
      };
      for (guint i = 0; i < G_N_ELEMENTS (ints); i++)
        {
          json_t *v = json_object_get (info, ints[i][0]);
          if (json_is_integer (v))
            json_object_set (w, ints[i][1], v);
        }
    }
  if (g_str_equal (kind, "location") && str (c, "geo_uri"))
    {
      double lat = 0, lon = 0;
      if (sscanf (str (c, "geo_uri"), "geo:%lf,%lf", &lat, &lon) == 2)
        {
          json_object_set_new (w, "latitude", json_real (lat));
          json_object_set_new (w, "longitude", json_real (lon));
        }
    }
  return w;
}

void
pa_convert_strip_reply_fallback (json_t *w)
{
  const char *text = str (w, "text");
  if (text && g_str_has_prefix (text, "> "))
    {
      const char *end = strstr (text, "\n\n");
      if (end)
        json_object_set_new (w, "text", json_string (end + 2));
    }
  const char *html = str (w, "html");
  if (html)
    {
      const char *end = strstr (html, "</mx-reply>");
      if (end)
        json_object_set_new (w, "html", json_string (end + strlen ("</mx-reply>")));
    }
}

json_t *
pa_convert_message_to_wire (json_t *content, const char *media_path, const char *reply_to)
{
  json_t *wc = pa_convert_content_to_wire (content, media_path);
  if (reply_to)
    {
      json_object_set_new (wc, "reply_to", json_string (reply_to));
      pa_convert_strip_reply_fallback (wc);
    }
  return wc;
}

json_t *
pa_convert_edit_to_wire (json_t *content)
{
  json_t *newc = json_object_get (content, "m.new_content");
  return newc ? pa_convert_content_to_wire (newc, NULL) : NULL;
}
