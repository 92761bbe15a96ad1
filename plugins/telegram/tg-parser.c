/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Telegram Desktop result.json parser.  The input is buffered (bounded by a
 * cap), checked for UTF-8 first so the error can name the byte offset
 * (jansson only says "unable to decode"), parsed with jansson, then walked
 * message by message.  Every field is type-checked: a message with a field
 * of the wrong type is skipped and counted, never fatal. */
#define G_LOG_DOMAIN "passerelle-telegram"

#include "tg-parser.h"

#include <jansson.h>
#include <string.h>

G_DEFINE_QUARK (tg-parser-error-quark, tg_parser_error)

#define NOT_INCLUDED_PREFIX "(File not included."

struct _TgParser {
  GTimeZone *tz;
  TgCallback cb;
  gpointer user_data;
  guint64 max_bytes;
  GByteArray *buf;
  gboolean finished;

  TgSummary sum;
  GString *plain;
  GString *html;
  GString *why;
  GPtrArray *answers;
};

static void
json_decref0 (json_t *j)
{
  json_decref (j);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (json_t, json_decref0)

/* ---- field access with type checks ------------------------------------- */

static gboolean
opt_str (json_t *o, const char *key, const char **out, GString *why)
{
  json_t *v = json_object_get (o, key);

  *out = NULL;
  if (v == NULL || json_is_null (v))
    return TRUE;
  if (!json_is_string (v))
    {
      g_string_printf (why, "“%s” is not a string", key);
      return FALSE;
    }
  *out = json_string_value (v);
  return TRUE;
}

/* Integers; numeric strings too, as tdesktop writes date_unixtime "1544006350". */
static gboolean
opt_int (json_t *o, const char *key, gint64 *out, gboolean *present, GString *why)
{
  json_t *v = json_object_get (o, key);

  *out = 0;
  *present = FALSE;
  if (v == NULL || json_is_null (v))
    return TRUE;
  if (json_is_integer (v))
    {
      *out = json_integer_value (v);
      *present = TRUE;
      return TRUE;
    }
  if (json_is_string (v))
    {
      const char *s = json_string_value (v);
      guint64 n;
      if (s[0] != '-' && g_ascii_string_to_unsigned (s, 10, 0, G_MAXINT64, &n, NULL))
        {
          *out = (gint64) n;
          *present = TRUE;
          return TRUE;
        }
    }
  g_string_printf (why, "“%s” is not an integer", key);
  return FALSE;
}

static gboolean
opt_small_int (json_t *o, const char *key, gint *out, GString *why)
{
  gint64 v;
  gboolean present;

  if (!opt_int (o, key, &v, &present, why))
    return FALSE;
  *out = (gint) CLAMP (v, 0, G_MAXINT);
  return TRUE;
}

/* "2018-12-05T11:39:10" in the parser's zone. */
static gboolean
parse_local_date (TgParser *self, const char *s, gint64 *ms)
{
  int y, mo, d, h, mi, sec;
  char tail;

  if (s == NULL || sscanf (s, "%4d-%2d-%2dT%2d:%2d:%2d%c", &y, &mo, &d, &h, &mi, &sec, &tail) != 6)
    return FALSE;
  g_autoptr (GDateTime) dt = g_date_time_new (self->tz, y, mo, d, h, mi, sec);
  if (dt == NULL)
    return FALSE;
  *ms = g_date_time_to_unix (dt) * 1000;
  return TRUE;
}

/* ---- text rendering ---------------------------------------------------- */

static void
html_escape (GString *out, const char *s)
{
  for (; *s != '\0'; s++)
    {
      switch (*s)
        {
        case '&': g_string_append (out, "&amp;"); break;
        case '<': g_string_append (out, "&lt;"); break;
        case '>': g_string_append (out, "&gt;"); break;
        case '"': g_string_append (out, "&quot;"); break;
        case '\'': g_string_append (out, "&#39;"); break;
        case '\n': g_string_append (out, "<br/>"); break;
        default: g_string_append_c (out, *s); break;
        }
    }
}

/* Only schemes a Matrix client may follow; anything else stays plain text. */
static gboolean
safe_href (const char *href)
{
  static const char *const schemes[] = { "http://", "https://", "mailto:", "tg://" };

  for (const char *p = href; *p != '\0'; p++)
    if ((guchar) *p < 0x20 || *p == ' ')
      return FALSE;
  for (gsize i = 0; i < G_N_ELEMENTS (schemes); i++)
    if (g_ascii_strncasecmp (href, schemes[i], strlen (schemes[i])) == 0)
      return href[strlen (schemes[i])] != '\0';
  return FALSE;
}

static void
append_link (GString *html, const char *href, const char *text)
{
  g_string_append (html, "<a href=\"");
  html_escape (html, href);
  g_string_append (html, "\">");
  html_escape (html, text);
  g_string_append (html, "</a>");
}

static gboolean
render_entity (TgParser *self, json_t *ent, gboolean *fmt)
{
  const char *type, *text, *href;
  static const struct {
    const char *type, *open, *close;
  } tags[] = {
    { "bold", "<b>", "</b>" },
    { "italic", "<i>", "</i>" },
    { "underline", "<u>", "</u>" },
    { "strikethrough", "<s>", "</s>" },
    { "code", "<code>", "</code>" },
    { "pre", "<pre><code>", "</code></pre>" },
    { "spoiler", "<span data-mx-spoiler>", "</span>" },
    { "blockquote", "<blockquote>", "</blockquote>" },
  };

  if (!json_is_object (ent))
    {
      g_string_assign (self->why, "text entity is neither a string nor an object");
      return FALSE;
    }
  if (!opt_str (ent, "type", &type, self->why) || !opt_str (ent, "text", &text, self->why)
      || !opt_str (ent, "href", &href, self->why))
    return FALSE;
  if (text == NULL)
    {
      g_string_assign (self->why, "text entity without text");
      return FALSE;
    }
  g_string_append (self->plain, text);
  if (type != NULL)
    {
      for (gsize i = 0; i < G_N_ELEMENTS (tags); i++)
        if (strcmp (type, tags[i].type) == 0)
          {
            g_string_append (self->html, tags[i].open);
            html_escape (self->html, text);
            g_string_append (self->html, tags[i].close);
            *fmt = TRUE;
            return TRUE;
          }
      if (strcmp (type, "text_link") == 0 && href != NULL && safe_href (href))
        {
          append_link (self->html, href, text);
          *fmt = TRUE;
          return TRUE;
        }
      if (strcmp (type, "link") == 0)
        {
          g_autofree char *full = strstr (text, "://") != NULL ? g_strdup (text)
                                                               : g_strconcat ("https://", text,
                                                                              NULL);
          if (safe_href (full))
            {
              append_link (self->html, full, text);
              *fmt = TRUE;
              return TRUE;
            }
        }
      if (strcmp (type, "email") == 0)
        {
          g_autofree char *full = g_strconcat ("mailto:", text, NULL);
          if (safe_href (full))
            {
              append_link (self->html, full, text);
              *fmt = TRUE;
              return TRUE;
            }
        }
    }
  /* plain, mention, mention_name, hashtag, bot_command, phone, unknown... */
  html_escape (self->html, text);
  return TRUE;
}

/* `text` is a string or an array of strings and entity objects. */
static gboolean
render_text (TgParser *self, json_t *text, gboolean *fmt)
{
  g_string_truncate (self->plain, 0);
  g_string_truncate (self->html, 0);
  *fmt = FALSE;
  if (text == NULL || json_is_null (text))
    return TRUE;
  if (json_is_string (text))
    {
      g_string_append (self->plain, json_string_value (text));
      html_escape (self->html, json_string_value (text));
      return TRUE;
    }
  if (!json_is_array (text))
    {
      g_string_assign (self->why, "“text” is neither a string nor an array");
      return FALSE;
    }
  gsize i;
  json_t *part;
  json_array_foreach (text, i, part)
    {
      if (json_is_string (part))
        {
          g_string_append (self->plain, json_string_value (part));
          html_escape (self->html, json_string_value (part));
        }
      else if (!render_entity (self, part, fmt))
        return FALSE;
    }
  return TRUE;
}

/* Service actions as one language-neutral line: "[action] actor → detail". */
static gboolean
render_action (TgParser *self, json_t *m, const char *action, const char *actor)
{
  const char *title, *inviter, *reason;
  gint64 pinned, duration;
  gboolean has_pinned, has_duration;
  json_t *members = json_object_get (m, "members");
  GString *t = self->plain;

  if (!opt_str (m, "title", &title, self->why) || !opt_str (m, "inviter", &inviter, self->why)
      || !opt_str (m, "discard_reason", &reason, self->why)
      || !opt_int (m, "message_id", &pinned, &has_pinned, self->why)
      || !opt_int (m, "duration_seconds", &duration, &has_duration, self->why))
    return FALSE;
  if (members != NULL && !json_is_null (members) && !json_is_array (members))
    {
      g_string_assign (self->why, "“members” is not an array");
      return FALSE;
    }

  g_string_truncate (t, 0);
  g_string_append_printf (t, "[%s]", action);
  if (actor != NULL)
    g_string_append_printf (t, " %s", actor);
  if (title != NULL)
    g_string_append_printf (t, " « %s »", title);
  if (json_is_array (members) && json_array_size (members) > 0)
    {
      gsize i;
      json_t *who;
      g_string_append (t, " →");
      json_array_foreach (members, i, who)
        {
          g_string_append (t, i == 0 ? " " : ", ");
          g_string_append (t, json_is_string (who) ? json_string_value (who) : "?");
        }
    }
  if (inviter != NULL)
    g_string_append_printf (t, " ← %s", inviter);
  if (has_pinned)
    g_string_append_printf (t, " → #%" G_GINT64_FORMAT, pinned);
  if (has_duration)
    g_string_append_printf (t, " (%" G_GINT64_FORMAT " s)", duration);
  if (reason != NULL)
    g_string_append_printf (t, " (%s)", reason);
  g_string_truncate (self->html, 0);
  html_escape (self->html, t->str);
  return TRUE;
}

/* ---- messages ---------------------------------------------------------- */

static void
warn (TgParser *self, const TgChat *chat, gsize index)
{
  self->sum.n_skipped++;
  if (self->sum.warnings->len < TG_PARSER_MAX_WARNINGS)
    g_ptr_array_add (self->sum.warnings,
                     g_strdup_printf ("chat %u, message %zu: %s", chat->index, index,
                                      self->why->str));
}

static TgMediaKind
media_kind (const char *media_type)
{
  static const struct {
    const char *name;
    TgMediaKind kind;
  } kinds[] = {
    { "sticker", TG_MEDIA_STICKER },
    { "voice_message", TG_MEDIA_VOICE_MESSAGE },
    { "video_message", TG_MEDIA_VIDEO_MESSAGE },
    { "animation", TG_MEDIA_ANIMATION },
    { "video_file", TG_MEDIA_VIDEO_FILE },
    { "audio_file", TG_MEDIA_AUDIO_FILE },
  };

  if (media_type != NULL)
    for (gsize i = 0; i < G_N_ELEMENTS (kinds); i++)
      if (strcmp (media_type, kinds[i].name) == 0)
        return kinds[i].kind;
  return TG_MEDIA_FILE;
}

/* Fills `msg` from `m`; FALSE (with self->why) if a field has a wrong type. */
static gboolean
read_message (TgParser *self, json_t *m, TgMessage *msg)
{
  const char *type, *date, *edited, *photo, *file, *media_type, *actor, *actor_id, *action;
  gint64 v;
  gboolean present, fmt = FALSE;
  json_t *sub;

  if (!json_is_object (m))
    {
      g_string_assign (self->why, "not an object");
      return FALSE;
    }
  if (!opt_int (m, "id", &msg->id, &present, self->why) || !opt_str (m, "type", &type, self->why))
    return FALSE;
  if (type == NULL || (strcmp (type, "message") != 0 && strcmp (type, "service") != 0))
    {
      g_string_printf (self->why, "unknown type “%s”", type != NULL ? type : "(none)");
      return FALSE;
    }
  msg->type = strcmp (type, "service") == 0 ? TG_MESSAGE_SERVICE : TG_MESSAGE_REGULAR;

  if (!opt_int (m, "date_unixtime", &v, &present, self->why) || !opt_str (m, "date", &date,
                                                                            self->why))
    return FALSE;
  if (present)
    msg->ts_ms = v * 1000;
  else if (!parse_local_date (self, date, &msg->ts_ms))
    {
      g_string_assign (self->why, "no usable “date_unixtime” nor “date”");
      return FALSE;
    }

  if (!opt_str (m, "from", &msg->from, self->why)
      || !opt_str (m, "from_id", &msg->from_id, self->why)
      || !opt_int (m, "reply_to_message_id", &msg->reply_to_id, &present, self->why)
      || !opt_str (m, "edited", &edited, self->why)
      || !opt_int (m, "edited_unixtime", &msg->edited_ts_ms, &present, self->why)
      || !opt_str (m, "forwarded_from", &msg->forwarded_from, self->why)
      || !opt_str (m, "photo", &photo, self->why) || !opt_str (m, "file", &file, self->why)
      || !opt_str (m, "media_type", &media_type, self->why)
      || !opt_str (m, "mime_type", &msg->mime_type, self->why)
      || !opt_small_int (m, "width", &msg->width, self->why)
      || !opt_small_int (m, "height", &msg->height, self->why)
      || !opt_small_int (m, "duration_seconds", &msg->duration_s, self->why)
      || !opt_str (m, "actor", &actor, self->why) || !opt_str (m, "actor_id", &actor_id, self->why)
      || !opt_str (m, "action", &action, self->why))
    return FALSE;
  msg->edited_ts_ms *= 1000;
  if (!present && edited != NULL)
    parse_local_date (self, edited, &msg->edited_ts_ms);
  msg->edited = edited != NULL || msg->edited_ts_ms != 0;

  const char *path = photo != NULL ? photo : file;
  if (photo != NULL)
    msg->media = TG_MEDIA_PHOTO;
  else if (file != NULL)
    msg->media = media_kind (media_type);
  else if (media_type != NULL)
    msg->media = media_kind (media_type);
  if (path != NULL && g_str_has_prefix (path, NOT_INCLUDED_PREFIX))
    msg->media_not_included = TRUE;
  else
    msg->media_path = path;

  sub = json_object_get (m, "location_information");
  if (sub != NULL)
    {
      json_t *lat = json_object_get (sub, "latitude"), *lon = json_object_get (sub, "longitude");
      if (!json_is_object (sub) || !json_is_number (lat) || !json_is_number (lon))
        {
          g_string_assign (self->why, "bad “location_information”");
          return FALSE;
        }
      msg->has_location = TRUE;
      msg->latitude = json_number_value (lat);
      msg->longitude = json_number_value (lon);
    }

  sub = json_object_get (m, "poll");
  if (sub != NULL)
    {
      json_t *answers = json_object_get (sub, "answers");
      if (!json_is_object (sub) || !opt_str (sub, "question", &msg->poll_question, self->why)
          || (answers != NULL && !json_is_array (answers)))
        {
          if (self->why->len == 0)
            g_string_assign (self->why, "bad “poll”");
          return FALSE;
        }
      g_ptr_array_set_size (self->answers, 0);
      gsize i;
      json_t *a;
      json_array_foreach (answers, i, a)
        {
          const char *at = NULL;
          if (!json_is_object (a) || !opt_str (a, "text", &at, self->why) || at == NULL)
            {
              g_string_assign (self->why, "bad poll answer");
              return FALSE;
            }
          g_ptr_array_add (self->answers, (gpointer) at);
        }
      g_ptr_array_add (self->answers, NULL);
      msg->poll_answers = (const char *const *) self->answers->pdata;
    }

  sub = json_object_get (m, "contact_information");
  if (sub != NULL)
    {
      const char *first, *last;
      if (!json_is_object (sub) || !opt_str (sub, "first_name", &first, self->why)
          || !opt_str (sub, "last_name", &last, self->why)
          || !opt_str (sub, "phone_number", &msg->contact_phone, self->why))
        {
          if (self->why->len == 0)
            g_string_assign (self->why, "bad “contact_information”");
          return FALSE;
        }
      /* `why` is free scratch once the message is known to be good */
      msg->contact_name = first != NULL ? first : last;
      if (first != NULL && last != NULL && *last != '\0')
        {
          g_string_printf (self->why, "%s %s", first, last);
          msg->contact_name = self->why->str;
        }
    }

  if (msg->type == TG_MESSAGE_SERVICE)
    {
      msg->action = action != NULL ? action : "unknown";
      if (msg->from == NULL)
        msg->from = actor;
      if (msg->from_id == NULL)
        msg->from_id = actor_id;
      if (!render_action (self, m, msg->action, actor))
        return FALSE;
    }
  else
    {
      json_t *text = json_object_get (m, "text");
      if (text == NULL)
        text = json_object_get (m, "text_entities");
      if (!render_text (self, text, &fmt))
        return FALSE;
    }
  msg->text = self->plain->str;
  msg->html = self->html->str;
  msg->has_formatting = fmt;
  return TRUE;
}

static gboolean
walk_chat (TgParser *self, json_t *chat_obj, guint index, GError **error)
{
  TgChat chat = { .index = index };
  json_t *messages;
  gboolean present;

  g_string_truncate (self->why, 0);
  if (!json_is_object (chat_obj) || !opt_str (chat_obj, "name", &chat.name, self->why)
      || !opt_str (chat_obj, "type", &chat.type, self->why)
      || !opt_int (chat_obj, "id", &chat.id, &present, self->why)
      || !json_is_array (messages = json_object_get (chat_obj, "messages")))
    {
      if (self->why->len == 0)
        g_string_assign (self->why, "chat without a messages array");
      self->sum.n_skipped++;
      if (self->sum.warnings->len < TG_PARSER_MAX_WARNINGS)
        g_ptr_array_add (self->sum.warnings, g_strdup_printf ("chat %u: %s", index,
                                                              self->why->str));
      return TRUE;
    }
  self->sum.n_chats++;

  gsize i;
  json_t *m;
  json_array_foreach (messages, i, m)
    {
      TgMessage msg = { .chat = &chat };
      g_autoptr (GError) local_error = NULL;

      g_string_truncate (self->why, 0);
      if (!read_message (self, m, &msg))
        {
          warn (self, &chat, i);
          continue;
        }
      if (self->sum.n_messages == 0)
        self->sum.first_ts_ms = msg.ts_ms;
      self->sum.last_ts_ms = msg.ts_ms;
      self->sum.n_messages++;
      if (msg.type == TG_MESSAGE_SERVICE)
        self->sum.n_service++;
      if (msg.media != TG_MEDIA_NONE)
        self->sum.n_media++;
      if (msg.media_not_included)
        self->sum.n_media_not_included++;
      if (self->cb != NULL && !self->cb (&msg, self->user_data, &local_error))
        {
          if (local_error == NULL)
            g_set_error (&local_error, TG_PARSER_ERROR, TG_PARSER_ERROR_ABORTED,
                         "import stopped by the consumer at chat %u, message %zu", index, i);
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
    }
  return TRUE;
}

/* ---- public API -------------------------------------------------------- */

/* See tg-parser.h. */
TgParser *
tg_parser_new (const char *tz_name, TgCallback cb, gpointer user_data, GError **error)
{
  GTimeZone *tz = g_time_zone_new_identifier (tz_name != NULL ? tz_name : "Europe/Paris");

  if (tz == NULL)
    {
      g_set_error (error, TG_PARSER_ERROR, TG_PARSER_ERROR_TIMEZONE, "unknown time zone “%s”",
                   tz_name);
      return NULL;
    }
  TgParser *self = g_new0 (TgParser, 1);
  self->tz = tz;
  self->cb = cb;
  self->user_data = user_data;
  self->max_bytes = TG_PARSER_DEFAULT_MAX_BYTES;
  self->buf = g_byte_array_new ();
  self->plain = g_string_new (NULL);
  self->html = g_string_new (NULL);
  self->why = g_string_new (NULL);
  self->answers = g_ptr_array_new ();
  self->sum.warnings = g_ptr_array_new_with_free_func (g_free);
  return self;
}

/* See tg-parser.h. */
void
tg_parser_set_max_bytes (TgParser *self, guint64 max_bytes)
{
  g_return_if_fail (self != NULL);
  self->max_bytes = max_bytes;
}

/* See tg-parser.h. */
gboolean
tg_parser_feed (TgParser *self, const char *buf, gsize len, GError **error)
{
  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (buf != NULL || len == 0, FALSE);

  if (self->finished)
    {
      g_set_error_literal (error, TG_PARSER_ERROR, TG_PARSER_ERROR_FAILED,
                           "parser already finished");
      return FALSE;
    }
  if ((guint64) self->buf->len + len > self->max_bytes || len > G_MAXUINT - self->buf->len)
    {
      g_set_error (error, TG_PARSER_ERROR, TG_PARSER_ERROR_TOO_LARGE,
                   "Telegram export larger than the limit of %" G_GUINT64_FORMAT " bytes",
                   self->max_bytes);
      return FALSE;
    }
  g_byte_array_append (self->buf, (const guint8 *) buf, (guint) len);
  return TRUE;
}

/* See tg-parser.h. */
gboolean
tg_parser_finish (TgParser *self, TgSummary *out, GError **error)
{
  const char *data, *end;
  json_error_t jerr;
  json_t *list;

  g_return_val_if_fail (self != NULL, FALSE);

  if (self->finished)
    {
      g_set_error_literal (error, TG_PARSER_ERROR, TG_PARSER_ERROR_FAILED,
                           "parser already finished");
      return FALSE;
    }
  self->finished = TRUE;
  data = (const char *) self->buf->data;
  if (data == NULL)
    data = "";
  if (!g_utf8_validate_len (data, self->buf->len, &end))
    {
      g_set_error (error, TG_PARSER_ERROR, TG_PARSER_ERROR_UTF8,
                   "Telegram export is not valid UTF-8 (or holds a NUL byte) at byte offset %zu",
                   (gsize) (end - data));
      return FALSE;
    }

  g_autoptr (json_t) root = json_loadb (data, self->buf->len, JSON_REJECT_DUPLICATES, &jerr);
  g_byte_array_set_size (self->buf, 0);
  if (root == NULL)
    {
      g_set_error (error, TG_PARSER_ERROR, TG_PARSER_ERROR_JSON,
                   "Telegram export is not valid JSON: %s (line %d, column %d, byte offset %d)",
                   jerr.text, jerr.line, jerr.column, jerr.position);
      return FALSE;
    }
  if (!json_is_object (root))
    {
      g_set_error_literal (error, TG_PARSER_ERROR, TG_PARSER_ERROR_FORMAT,
                           "Telegram export is not a JSON object");
      return FALSE;
    }

  list = json_object_get (json_object_get (root, "chats"), "list");
  if (json_is_array (list))
    {
      gsize i;
      json_t *chat;
      json_t *left = json_object_get (json_object_get (root, "left_chats"), "list");
      json_array_foreach (list, i, chat)
        if (!walk_chat (self, chat, (guint) i, error))
          return FALSE;
      if (json_is_array (left))
        json_array_foreach (left, i, chat)
          if (!walk_chat (self, chat, (guint) (json_array_size (list) + i), error))
            return FALSE;
    }
  else if (json_is_array (json_object_get (root, "messages")))
    {
      if (!walk_chat (self, root, 0, error))
        return FALSE;
    }
  else
    {
      g_set_error_literal (error, TG_PARSER_ERROR, TG_PARSER_ERROR_FORMAT,
                           "not a Telegram Desktop export: no “messages” nor “chats.list”");
      return FALSE;
    }

  if (out != NULL)
    {
      *out = self->sum;
      self->sum.warnings = g_ptr_array_new_with_free_func (g_free);
    }
  return TRUE;
}

/* See tg-parser.h. */
gboolean
tg_parser_parse_file (TgParser *self, const char *path, TgSummary *out, GError **error)
{
  g_autoptr (GMappedFile) map = NULL;
  g_autoptr (GError) local_error = NULL;

  g_return_val_if_fail (self != NULL && path != NULL, FALSE);

  map = g_mapped_file_new (path, FALSE, &local_error);
  if (map == NULL)
    {
      g_set_error (error, TG_PARSER_ERROR, TG_PARSER_ERROR_FAILED, "cannot read %s: %s", path,
                   local_error->message);
      return FALSE;
    }
  const char *data = g_mapped_file_get_contents (map);
  gsize len = g_mapped_file_get_length (map);
  return tg_parser_feed (self, data != NULL ? data : "", len, error)
         && tg_parser_finish (self, out, error);
}

/* See tg-parser.h. */
void
tg_summary_clear (TgSummary *summary)
{
  if (summary == NULL)
    return;
  if (summary->warnings != NULL)
    g_ptr_array_unref (summary->warnings);
  memset (summary, 0, sizeof *summary);
}

/* See tg-parser.h. */
void
tg_parser_free (TgParser *self)
{
  if (self == NULL)
    return;
  g_time_zone_unref (self->tz);
  g_byte_array_unref (self->buf);
  g_string_free (self->plain, TRUE);
  g_string_free (self->html, TRUE);
  g_string_free (self->why, TRUE);
  g_ptr_array_unref (self->answers);
  tg_summary_clear (&self->sum);
  g_free (self);
}
