/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Recovery of a transaction body that jansson refuses as a whole.
 *
 * One event with a byte that is not UTF-8, a "\u0000" in an object key or a
 * lone surrogate ("\ud800") makes the whole body invalid for jansson, and a
 * refused transaction is retried by the homeserver for ever.  So when the
 * body does not decode, it is split here without being decoded: the top
 * level must be an object whose members are well formed (strings closed,
 * brackets balanced, nothing after the end); each member is then decoded
 * alone, and the arrays of events, ephemeral and to-device events element
 * by element.  An event that still does not decode is returned as
 * unreadable, with what could be read of its identifiers, for the bridge
 * to keep aside and answer.  Only a body whose top level cannot be split
 * is refused (it is not JSON). */
#define G_LOG_DOMAIN "passerelle-appservice"

#include "pa-common.h"
#include "appservice/pa-txn-salvage.h"

#include "appservice/pa-event-check.h"

#include <string.h>

typedef struct
{
  const char *p;
  const char *end;
} Span;

static const char *
skip_ws (const char *p, const char *end)
{
  while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
    p++;
  return p;
}

/* The end of the string starting at p (on its '"'), past the closing
 * quote, or NULL when it is not closed. */
static const char *
scan_string (const char *p, const char *end)
{
  for (p++; p < end; p++)
    {
      if (*p == '\\')
        p++;
      else if (*p == '"')
        return p + 1;
    }
  return NULL;
}

/* The end of the value starting at p, or NULL when it is not well formed
 * enough to find (an unclosed string, unbalanced brackets).  Contents are
 * not validated: that is jansson's job, value by value. */
static const char *
scan_value (const char *p, const char *end)
{
  guint depth = 0;

  if (p >= end)
    return NULL;
  if (*p == '"')
    return scan_string (p, end);
  if (*p != '[' && *p != '{')
    {
      const char *start = p;

      while (p < end && *p != ',' && *p != ']' && *p != '}' && *p != ' ' && *p != '\t' && *p != '\n'
             && *p != '\r')
        p++;
      return p > start ? p : NULL;
    }
  while (p < end)
    {
      switch (*p)
        {
        case '"':
          p = scan_string (p, end);
          if (p == NULL)
            return NULL;
          continue;
        case '[':
        case '{':
          depth++;
          break;
        case ']':
        case '}':
          if (depth == 0)
            return NULL;
          if (--depth == 0)
            return p + 1;
          break;
        default:
          break;
        }
      p++;
    }
  return NULL;
}

/* The members of the object at `obj` as (key span, value span) pairs, or
 * FALSE when it is not a well-formed object.  *after is set past its '}'. */
static gboolean
split_object (Span obj, GArray *members, const char **after)
{
  const char *p = skip_ws (obj.p, obj.end);

  if (p >= obj.end || *p != '{')
    return FALSE;
  p = skip_ws (p + 1, obj.end);
  if (p < obj.end && *p == '}')
    {
      *after = p + 1;
      return TRUE;
    }
  while (p < obj.end)
    {
      Span key, value;

      if (*p != '"')
        return FALSE;
      key.p = p;
      key.end = scan_string (p, obj.end);
      if (key.end == NULL)
        return FALSE;
      p = skip_ws (key.end, obj.end);
      if (p >= obj.end || *p != ':')
        return FALSE;
      value.p = skip_ws (p + 1, obj.end);
      value.end = scan_value (value.p, obj.end);
      if (value.end == NULL)
        return FALSE;
      g_array_append_val (members, key);
      g_array_append_val (members, value);
      p = skip_ws (value.end, obj.end);
      if (p < obj.end && *p == '}')
        {
          *after = p + 1;
          return TRUE;
        }
      if (p >= obj.end || *p != ',')
        return FALSE;
      p = skip_ws (p + 1, obj.end);
    }
  return FALSE;
}

/* The elements of the array at `arr`, or FALSE when not well formed. */
static gboolean
split_array (Span arr, GArray *items)
{
  const char *p = skip_ws (arr.p, arr.end);

  if (p >= arr.end || *p != '[')
    return FALSE;
  p = skip_ws (p + 1, arr.end);
  if (p < arr.end && *p == ']')
    return TRUE;
  while (p < arr.end)
    {
      Span item = { p, scan_value (p, arr.end) };

      if (item.end == NULL)
        return FALSE;
      g_array_append_val (items, item);
      p = skip_ws (item.end, arr.end);
      if (p < arr.end && *p == ']')
        return TRUE;
      if (p >= arr.end || *p != ',')
        return FALSE;
      p = skip_ws (p + 1, arr.end);
    }
  return FALSE;
}

static json_t *
decode (Span s, json_error_t *jerr)
{
  return json_loadb (s.p, (size_t) (s.end - s.p), JSON_DECODE_ANY | JSON_ALLOW_NUL, jerr);
}

/* The bytes of `s` as a UTF-8 C string: invalid sequences and NULs become
 * U+FFFD. */
static char *
printable (Span s)
{
  GString *out = g_string_sized_new ((gsize) (s.end - s.p));

  for (const char *p = s.p; p < s.end;)
    {
      gunichar c = g_utf8_get_char_validated (p, s.end - p);

      if (c == (gunichar) -1 || c == (gunichar) -2 || c == 0)
        {
          g_string_append (out, "\xEF\xBF\xBD");
          p++;
          continue;
        }
      g_string_append_unichar (out, c);
      p = g_utf8_next_char (p);
    }
  return g_string_free (out, FALSE);
}

/* An event that does not decode: why, its text, and the identifiers that
 * can be read from its own members. */
static json_t *
unreadable_record (Span ev, const char *why)
{
  static const char *const ids[] = { "event_id", "room_id", "sender", "type" };
  g_autoptr (GArray) members = g_array_new (FALSE, FALSE, sizeof (Span));
  g_autofree char *raw = printable (ev);
  g_autofree char *reason = g_strdup_printf ("the event is not valid JSON (%s)", why);
  json_t *record = json_pack ("{s:s, s:s}", "reason", reason, "raw", raw);
  const char *after;

  if (record == NULL) /* the jansson message was not UTF-8 */
    record = json_pack ("{s:s, s:s}", "reason", "the event is not valid JSON", "raw", raw);
  if (!split_object (ev, members, &after))
    return record;
  for (guint i = 0; i + 1 < members->len; i += 2)
    {
      g_autoptr (json_t) key = decode (g_array_index (members, Span, i), NULL);
      g_autoptr (json_t) value = NULL;

      if (!json_is_string (key))
        continue;
      for (gsize k = 0; k < G_N_ELEMENTS (ids); k++)
        {
          if (strcmp (json_string_value (key), ids[k]) != 0)
            continue;
          value = decode (g_array_index (members, Span, i + 1), NULL);
          if (pa_event_id_string (value) != NULL)
            json_object_set (record, ids[k], value);
        }
    }
  return record;
}

/* The elements of the array `value` that decode; for "events", the others
 * go to `unreadable`. */
static json_t *
salvage_array (const char *key, Span value, json_t *unreadable)
{
  g_autoptr (GArray) items = g_array_new (FALSE, FALSE, sizeof (Span));
  json_t *out;

  if (!split_array (value, items))
    return NULL;
  out = json_array ();
  for (guint i = 0; i < items->len; i++)
    {
      json_error_t jerr;
      Span item = g_array_index (items, Span, i);
      json_t *v = decode (item, &jerr);

      if (v != NULL)
        {
          json_array_append_new (out, v);
          continue;
        }
      if (unreadable == NULL)
        {
          g_warning ("transaction: %s[%u] does not decode, dropped: %s", key, i, jerr.text);
          continue;
        }
      json_array_append_new (unreadable, unreadable_record (item, jerr.text));
    }
  return out;
}

/* pa_txn_salvage: see pa-txn-salvage.h. */
json_t *
pa_txn_salvage (const char *data, gsize len, json_t *unreadable)
{
  static const char *const arrays[] = { "ephemeral", "de.sorunome.msc2409.ephemeral", "to_device",
                                        "de.sorunome.msc2409.to_device" };
  g_autoptr (GArray) members = g_array_new (FALSE, FALSE, sizeof (Span));
  Span body = { data, data + len };
  const char *after = NULL;
  g_autoptr (json_t) root = json_object ();

  g_return_val_if_fail (json_is_array (unreadable), NULL);

  if (data == NULL || !split_object (body, members, &after)
      || skip_ws (after, body.end) != body.end)
    return NULL;
  for (guint i = 0; i + 1 < members->len; i += 2)
    {
      json_error_t jerr;
      g_autoptr (json_t) key = decode (g_array_index (members, Span, i), &jerr);
      Span value = g_array_index (members, Span, i + 1);
      json_t *v;
      gboolean split = FALSE;

      if (!json_is_string (key) || strlen (json_string_value (key)) != json_string_length (key))
        {
          g_warning ("transaction: a top-level key does not decode, member dropped");
          continue;
        }
      for (gsize k = 0; k < G_N_ELEMENTS (arrays); k++)
        split = split || strcmp (json_string_value (key), arrays[k]) == 0;
      if (strcmp (json_string_value (key), "events") == 0)
        v = salvage_array ("events", value, unreadable);
      else if (split)
        v = salvage_array (json_string_value (key), value, NULL);
      else
        v = NULL;
      if (v == NULL)
        v = decode (value, &jerr);
      if (v == NULL)
        {
          g_warning ("transaction: \"%s\" does not decode, dropped: %s", json_string_value (key),
                     jerr.text);
          continue;
        }
      json_object_set_new (root, json_string_value (key), v);
    }
  return g_steal_pointer (&root);
}
