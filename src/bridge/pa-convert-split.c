/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Splitting a converted legacy message that is too large for one Matrix
 * event into several events (see pa-convert-split.h): the body is cut at
 * UTF-8 character boundaries, at a line or word end when one is near. */
#define G_LOG_DOMAIN "passerelle-convert"

#include "pa-convert-split.h"

#include <string.h>

/* Room kept in every part for its "(i/n) " prefix. */
#define PA_SPLIT_MARK_BYTES 24
/* A part body is never given less than this, whatever the rest weighs. */
#define PA_SPLIT_MIN_BODY 64

static gsize
json_size (json_t *j)
{
  char *s = json_dumps (j, JSON_COMPACT);
  gsize n = s != NULL ? strlen (s) : 0;
  free (s);
  return n;
}

/* The bytes the character at p (n bytes) takes in jansson's compact JSON. */
static gsize
escaped_len (const char *p, gsize n)
{
  guchar c = (guchar) *p;
  if (n > 1)
    return n;
  if (c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t')
    return 2;
  return c < 0x20 ? 6 : 1;
}

/* `body` cut into pieces of at most `budget` escaped bytes each. */
static GPtrArray *
cut_body (const char *body, gsize budget)
{
  GPtrArray *pieces = g_ptr_array_new_with_free_func (g_free);
  const char *p = body;
  while (*p != '\0')
    {
      const char *q = p, *last_nl = NULL, *last_sp = NULL;
      gsize used = 0;
      while (*q != '\0')
        {
          const char *next = g_utf8_next_char (q);
          gsize w = escaped_len (q, (gsize) (next - q));
          if (used + w > budget)
            break;
          used += w;
          if (*q == '\n')
            last_nl = next;
          else if (*q == ' ')
            last_sp = next;
          q = next;
        }
      const char *end = q;
      if (*q != '\0')
        {
          /* Not the last piece: end it at a line, else a word, if one ends
           * in its second half. */
          const char *half = p + (q - p) / 2;
          if (last_nl != NULL && last_nl > half)
            end = last_nl;
          else if (last_sp != NULL && last_sp > half)
            end = last_sp;
        }
      if (end == p)
        end = g_utf8_next_char (p);
      g_ptr_array_add (pieces, g_strndup (p, (gsize) (end - p)));
      p = end;
    }
  return pieces;
}

static const char *
later_msgtype (json_t *content)
{
  const char *mt = json_string_value (json_object_get (content, "msgtype"));
  if (g_strcmp0 (mt, "m.notice") == 0 || g_strcmp0 (mt, "m.emote") == 0)
    return mt;
  return "m.text";
}

json_t *
pa_convert_split_for_matrix (json_t *content, const char *event_type, gsize max_bytes)
{
  json_t *out = json_array ();
  const char *body = json_string_value (json_object_get (content, "body"));
  if (json_size (content) <= max_bytes || body == NULL)
    {
      /* Fits, or has no body to cut (an oversized event without one is
       * left to the homeserver's answer). */
      json_array_append_new (out, json_pack ("{s:s, s:O}", "type", event_type, "content", content));
      return out;
    }
  g_autoptr (json_t) first = json_deep_copy (content);
  json_object_del (first, "format");
  json_object_del (first, "formatted_body");
  json_object_set_new (first, "body", json_string (""));
  json_t *mark = json_object_get (content, "fr.passerelle.import");
  g_autoptr (json_t) later
      = json_pack ("{s:s, s:s}", "msgtype", later_msgtype (content), "body", "");
  if (mark != NULL)
    {
      json_t *m = json_deep_copy (mark);
      json_object_set_new (m, "part", json_integer (G_MAXINT32));
      json_object_set_new (later, "fr.passerelle.import", m);
    }
  gsize overhead = MAX (json_size (first), json_size (later)) + PA_SPLIT_MARK_BYTES;
  gsize budget
      = max_bytes > overhead + PA_SPLIT_MIN_BODY ? max_bytes - overhead : PA_SPLIT_MIN_BODY;
  g_autoptr (GPtrArray) pieces = cut_body (body, budget);
  for (guint i = 0; i < pieces->len; i++)
    {
      json_t *part = i == 0 ? json_deep_copy (first) : json_deep_copy (later);
      g_autofree char *text
          = g_strdup_printf ("(%u/%u) %s", i + 1, pieces->len, (char *) pieces->pdata[i]);
      json_object_set_new (part, "body", json_string (text));
      json_t *pm = json_object_get (part, "fr.passerelle.import");
      if (pm != NULL)
        json_object_set_new (pm, "part", json_integer (i + 1));
      json_array_append_new (out,
                             json_pack ("{s:s, s:o}", "type",
                                        i == 0 ? event_type : "m.room.message", "content", part));
    }
  return out;
}
