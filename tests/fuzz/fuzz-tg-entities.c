/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* libFuzzer target for the Telegram formatting (plugins/telegram/tg-entities.c),
 * both ways.  The first byte picks the direction:
 *   - even: formattedText → HTML, with entities made from the next bytes
 *     (offsets and lengths out of range, negative, overlapping, inside
 *     surrogate pairs) over the rest as text;
 *   - odd: HTML → formattedText, with a stand-in for td_execute that
 *     checks the reduced HTML and answers its text unformatted.
 * Either way the HTML written must be valid UTF-8 with its tags nested. */
#include "tg-entities.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* Every '<' in what tg-entities writes opens or closes one of its tags
 * (text is escaped): they must nest. */
static void
check_html (const char *html)
{
  if (!g_utf8_validate (html, -1, NULL))
    __builtin_trap ();
  GPtrArray *stack = g_ptr_array_new_with_free_func (g_free);
  for (const char *p = strchr (html, '<'); p; p = strchr (p + 1, '<'))
    {
      const char *gt = strchr (p, '>');
      if (gt == NULL)
        __builtin_trap ();
      gboolean closing = p[1] == '/';
      const char *n = p + (closing ? 2 : 1);
      gsize len = strcspn (n, " />");
      char *name = g_strndup (n, len);
      if (gt[-1] == '/')
        g_free (name); /* <br/> */
      else if (!closing)
        g_ptr_array_add (stack, name);
      else
        {
          if (stack->len == 0 || strcmp (g_ptr_array_index (stack, stack->len - 1), name) != 0)
            __builtin_trap ();
          g_ptr_array_remove_index (stack, stack->len - 1);
          g_free (name);
        }
    }
  if (stack->len != 0)
    __builtin_trap ();
  g_ptr_array_free (stack, TRUE);
}

static json_t *
stand_in_exec (json_t *request, void *user_data)
{
  const char *text = json_string_value (json_object_get (request, "text"));
  if (text == NULL)
    __builtin_trap ();
  check_html (text);
  return json_pack ("{s:s, s:s, s:[]}", "@type", "formattedText", "text", text, "entities");
}

static const char *const types[] = {
  "textEntityTypeBold",
  "textEntityTypeItalic",
  "textEntityTypeUnderline",
  "textEntityTypeStrikethrough",
  "textEntityTypeSpoiler",
  "textEntityTypeCode",
  "textEntityTypePre",
  "textEntityTypePreCode",
  "textEntityTypeBlockQuote",
  "textEntityTypeExpandableBlockQuote",
  "textEntityTypeTextUrl",
  "textEntityTypeUrl",
  "textEntityTypeEmailAddress",
  "textEntityTypeMention",
  "textEntityTypeMentionName",
  "textEntityTypeHashtag",
  "textEntityTypeCustomEmoji",
  "textEntityTypeBotCommand",
  "noSuchType",
};

static const char *const urls[]
    = { "https://x.org/?a=1&b=\"2\"", "javascript:alert(1)", "tg://", "mailto:a@b.c", "" };

static void
to_html (const uint8_t *data, size_t size)
{
  if (size < 1)
    return;
  size_t n = data[0] % 32;
  data++;
  size--;
  if (size < n * 6)
    return;
  json_t *entities = json_array ();
  for (size_t i = 0; i < n; i++, data += 6, size -= 6)
    {
      int16_t off = (int16_t) (data[0] | data[1] << 8), len = (int16_t) (data[2] | data[3] << 8);
      json_t *type = json_pack ("{s:s}", "@type", types[data[4] % G_N_ELEMENTS (types)]);
      json_object_set_new (type, "url", json_string (urls[data[5] % G_N_ELEMENTS (urls)]));
      json_object_set_new (type, "language", json_string (data[5] & 1 ? "c++" : "x\"<"));
      json_object_set_new (type, "user_id", json_integer ((json_int_t) data[5] - 3));
      json_array_append_new (entities, json_pack ("{s:s, s:i, s:i, s:o}", "@type", "textEntity",
                                                  "offset", off, "length", len, "type", type));
    }
  char *text = g_utf8_make_valid ((const char *) data, (gssize) size);
  json_t *ft
      = json_pack ("{s:s, s:s, s:o}", "@type", "formattedText", "text", text, "entities", entities);
  char *html = tg_entities_to_html (ft);
  if (html)
    check_html (html);
  g_free (html);
  json_decref (ft);
  g_free (text);
}

static void
from_html (const uint8_t *data, size_t size)
{
  char *html = g_strndup ((const char *) data, size);
  json_t *ft = tg_entities_from_html (html, size % 2 ? NULL : "plain", stand_in_exec, NULL);
  const char *text = json_string_value (json_object_get (ft, "text"));
  if (text == NULL || !g_utf8_validate (text, -1, NULL))
    __builtin_trap ();
  json_decref (ft);
  g_free (html);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size == 0)
    return 0;
  if (data[0] % 2 == 0)
    to_html (data + 1, size - 1);
  else
    from_html (data + 1, size - 1);
  return 0;
}
