/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Telegram's formattedText ⇄ the SDK's HTML subset (tg-entities.h).
 *
 * To HTML: the entities' offsets and lengths count UTF-16 code units; they
 * are mapped onto the UTF-8 text's character boundaries (an offset inside
 * a surrogate pair, out of range or negative is clamped, never trusted).
 * The text is cut where any entity starts or ends; each piece is written
 * inside the entities that cover it, outermost first, so overlapping
 * entities close and open again and the HTML always nests.
 *
 * From HTML: Matrix's HTML is reduced to the tags TDLib's HTML parse mode
 * takes (b, i, u, s, tg-spoiler, code, pre, a href, blockquote), with the
 * newlines as text and only the four entities TDLib knows, then TDLib
 * parses it (parseTextEntities through the TgExecFunc).  The reduction
 * keeps the tags nested and keeps formatting out of code and links, so a
 * refusal by TDLib is rare; then the plain body is sent without
 * formatting. */
#include "tg-entities.h"

#include <string.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC (json_t, json_decref)

/* More entities than a Telegram message can hold (its text is 4096
 * characters): the rest are ignored. */
#define TG_MAX_ENTITIES 1000

/* ------------------------------------------------------------- helpers */

static void
escape (GString *out, const char *s, gsize len)
{
  for (gsize i = 0; i < len; i++)
    switch (s[i])
      {
      case '&':
        g_string_append (out, "&amp;");
        break;
      case '<':
        g_string_append (out, "&lt;");
        break;
      case '>':
        g_string_append (out, "&gt;");
        break;
      case '"':
        g_string_append (out, "&quot;");
        break;
      default:
        g_string_append_c (out, s[i]);
      }
}

/* http(s), mailto and tg links only: nothing a client would run. */
static gboolean
link_allowed (const char *url)
{
  static const char *const schemes[] = { "http://", "https://", "mailto:", "tg://" };
  if (url == NULL)
    return FALSE;
  for (gsize i = 0; i < G_N_ELEMENTS (schemes); i++)
    if (g_ascii_strncasecmp (url, schemes[i], strlen (schemes[i])) == 0
        && url[strlen (schemes[i])] != '\0')
      return TRUE;
  return FALSE;
}

/* A code block's language as a class name: [A-Za-z0-9_+.#-], else none. */
static gboolean
language_ok (const char *lang)
{
  if (lang == NULL || *lang == '\0' || strlen (lang) > 64)
    return FALSE;
  for (const char *p = lang; *p; p++)
    if (!g_ascii_isalnum (*p) && strchr ("_+.#-", *p) == NULL)
      return FALSE;
  return TRUE;
}

/* ------------------------------------------------- formattedText → HTML */

typedef enum
{
  /* In the order they open when they start together (outermost first). */
  K_QUOTE,
  K_PRE,
  K_LINK,
  K_BOLD,
  K_ITALIC,
  K_UNDERLINE,
  K_STRIKE,
  K_SPOILER,
  K_CODE,
} Kind;

typedef struct
{
  gsize start, end; /* byte offsets in the text */
  Kind kind;
  char *href;     /* K_LINK */
  char *language; /* K_PRE: PreCode's */
  guint order;    /* its place in the entity list (a stable tie-break) */
} Span;

static void
span_clear (Span *s)
{
  g_free (s->href);
  g_free (s->language);
}

/* The byte offset of each UTF-16 offset 0..n16 (n16 + 1 values); an offset
 * inside a surrogate pair maps to the end of its character. */
static gsize *
utf16_map (const char *text, gsize len, gsize *n16)
{
  gsize units = 0;
  for (const char *p = text; p < text + len; p = g_utf8_next_char (p))
    units += g_utf8_get_char (p) >= 0x10000 ? 2 : 1;
  gsize *map = g_new (gsize, units + 1);
  gsize u = 0;
  for (const char *p = text; p < text + len; p = g_utf8_next_char (p))
    {
      gsize next = (gsize) (g_utf8_next_char (p) - text);
      map[u++] = (gsize) (p - text);
      if (g_utf8_get_char (p) >= 0x10000)
        map[u++] = next;
    }
  map[u] = len;
  *n16 = units;
  return map;
}

static gint64
int_of (json_t *o, const char *key)
{
  json_t *v = json_object_get (o, key);
  return json_is_integer (v) ? json_integer_value (v) : -1;
}

/* What one entity shows as; FALSE when it shows as its text alone.
 * `*formats` is set for the kinds worth HTML on their own. */
static gboolean
span_of (json_t *type, const char *text, gsize start, gsize end, Span *sp, gboolean *formats)
{
  const char *t = json_string_value (json_object_get (type, "@type"));
  *formats = TRUE;
  if (t == NULL)
    return FALSE;
  if (g_str_equal (t, "textEntityTypeBold"))
    sp->kind = K_BOLD;
  else if (g_str_equal (t, "textEntityTypeItalic"))
    sp->kind = K_ITALIC;
  else if (g_str_equal (t, "textEntityTypeUnderline"))
    sp->kind = K_UNDERLINE;
  else if (g_str_equal (t, "textEntityTypeStrikethrough"))
    sp->kind = K_STRIKE;
  else if (g_str_equal (t, "textEntityTypeSpoiler"))
    sp->kind = K_SPOILER;
  else if (g_str_equal (t, "textEntityTypeCode"))
    sp->kind = K_CODE;
  else if (g_str_equal (t, "textEntityTypePre"))
    sp->kind = K_PRE;
  else if (g_str_equal (t, "textEntityTypePreCode"))
    {
      sp->kind = K_PRE;
      const char *lang = json_string_value (json_object_get (type, "language"));
      if (language_ok (lang))
        sp->language = g_strdup (lang);
    }
  else if (g_str_equal (t, "textEntityTypeBlockQuote")
           || g_str_equal (t, "textEntityTypeExpandableBlockQuote"))
    sp->kind = K_QUOTE;
  else if (g_str_equal (t, "textEntityTypeTextUrl"))
    {
      const char *url = json_string_value (json_object_get (type, "url"));
      if (!link_allowed (url))
        return FALSE;
      sp->kind = K_LINK;
      sp->href = g_strdup (url);
    }
  else if (g_str_equal (t, "textEntityTypeMentionName"))
    {
      json_t *uid = json_object_get (type, "user_id");
      if (!json_is_integer (uid) || json_integer_value (uid) <= 0)
        return FALSE;
      sp->kind = K_LINK;
      sp->href = g_strdup_printf ("tg://user?id=%" JSON_INTEGER_FORMAT, json_integer_value (uid));
    }
  else
    {
      /* Recognised in the text by TDLib itself: shown as links when the
       * message has other formatting, not worth HTML alone. */
      *formats = FALSE;
      g_autofree char *word = g_strndup (text + start, end - start);
      if (g_str_equal (t, "textEntityTypeUrl") && link_allowed (word))
        sp->href = g_strdup (word);
      else if (g_str_equal (t, "textEntityTypeEmailAddress") && strchr (word, '@') != NULL
               && strchr (word, ':') == NULL)
        sp->href = g_strconcat ("mailto:", word, NULL);
      else if (g_str_equal (t, "textEntityTypeMention") && word[0] == '@' && word[1] != '\0')
        {
          for (const char *p = word + 1; *p; p++)
            if (!g_ascii_isalnum (*p) && *p != '_')
              return FALSE;
          sp->href = g_strconcat ("https://t.me/", word + 1, NULL);
        }
      else
        /* Hashtags, cashtags, bot commands, phone and card numbers,
         * custom emoji (their emoji is the text), dates: the text. */
        return FALSE;
      sp->kind = K_LINK;
    }
  return TRUE;
}

static gint
span_cmp (gconstpointer a, gconstpointer b)
{
  const Span *x = a, *y = b;
  if (x->start != y->start)
    return x->start < y->start ? -1 : 1;
  if (x->end != y->end)
    return x->end > y->end ? -1 : 1;
  if (x->kind != y->kind)
    return x->kind < y->kind ? -1 : 1;
  return x->order < y->order ? -1 : x->order > y->order;
}

static gint
offset_cmp (gconstpointer a, gconstpointer b)
{
  gsize x = *(const gsize *) a, y = *(const gsize *) b;
  return x < y ? -1 : x > y;
}

static void
open_tag (GString *out, const Span *s)
{
  switch (s->kind)
    {
    case K_QUOTE:
      g_string_append (out, "<blockquote>");
      break;
    case K_PRE:
      if (s->language)
        g_string_append_printf (out, "<pre><code class=\"language-%s\">", s->language);
      else
        g_string_append (out, "<pre>");
      break;
    case K_LINK:
      g_string_append (out, "<a href=\"");
      escape (out, s->href, strlen (s->href));
      g_string_append (out, "\">");
      break;
    case K_BOLD:
      g_string_append (out, "<b>");
      break;
    case K_ITALIC:
      g_string_append (out, "<i>");
      break;
    case K_UNDERLINE:
      g_string_append (out, "<u>");
      break;
    case K_STRIKE:
      g_string_append (out, "<s>");
      break;
    case K_SPOILER:
      g_string_append (out, "<span data-mx-spoiler>");
      break;
    case K_CODE:
      g_string_append (out, "<code>");
      break;
    }
}

static void
close_tag (GString *out, const Span *s)
{
  static const char *const closers[]
      = { [K_QUOTE] = "</blockquote>", [K_PRE] = "</pre>",      [K_LINK] = "</a>",
          [K_BOLD] = "</b>",           [K_ITALIC] = "</i>",     [K_UNDERLINE] = "</u>",
          [K_STRIKE] = "</s>",         [K_SPOILER] = "</span>", [K_CODE] = "</code>" };
  if (s->kind == K_PRE && s->language)
    g_string_append (out, "</code>");
  g_string_append (out, closers[s->kind]);
}

/* Text of a piece: escaped, newlines as <br/> except in a code block. */
static void
put_text (GString *out, const char *s, gsize len, gboolean in_pre)
{
  const char *p = s, *end = s + len;
  while (p < end)
    {
      const char *nl = memchr (p, '\n', (gsize) (end - p));
      const char *stop = nl ? nl : end;
      escape (out, p, (gsize) (stop - p));
      if (nl == NULL)
        break;
      g_string_append (out, in_pre ? "\n" : "<br/>");
      p = nl + 1;
    }
}

char *
tg_entities_to_html (json_t *formatted_text)
{
  const char *raw = json_string_value (json_object_get (formatted_text, "text"));
  json_t *entities = json_object_get (formatted_text, "entities");
  if (raw == NULL || !json_is_array (entities) || json_array_size (entities) == 0)
    return NULL;
  g_autofree char *text = g_utf8_make_valid (raw, -1);
  gsize len = strlen (text);
  gsize n16 = 0;
  g_autofree gsize *map = utf16_map (text, len, &n16);

  g_autoptr (GArray) spans = g_array_new (FALSE, TRUE, sizeof (Span));
  g_array_set_clear_func (spans, (GDestroyNotify) span_clear);
  gboolean worth = FALSE;
  gsize n = MIN (json_array_size (entities), TG_MAX_ENTITIES);
  for (gsize i = 0; i < n; i++)
    {
      json_t *e = json_array_get (entities, i);
      gint64 off = int_of (e, "offset"), length = int_of (e, "length");
      if (off < 0 || length <= 0 || (guint64) off >= n16)
        continue;
      gsize a = (gsize) off, z = (gsize) MIN ((guint64) off + (guint64) length, (guint64) n16);
      Span sp = { .start = map[a], .end = map[z], .order = (guint) i };
      gboolean formats = FALSE;
      if (sp.start >= sp.end
          || !span_of (json_object_get (e, "type"), text, sp.start, sp.end, &sp, &formats))
        {
          span_clear (&sp);
          continue;
        }
      worth |= formats;
      g_array_append_val (spans, sp);
    }
  if (!worth)
    return NULL;
  g_array_sort (spans, span_cmp);

  /* Every place a span starts or ends cuts the text. */
  g_autoptr (GArray) cuts = g_array_new (FALSE, FALSE, sizeof (gsize));
  gsize zero = 0;
  g_array_append_val (cuts, zero);
  g_array_append_val (cuts, len);
  for (guint i = 0; i < spans->len; i++)
    {
      Span *s = &g_array_index (spans, Span, i);
      g_array_append_val (cuts, s->start);
      g_array_append_val (cuts, s->end);
    }
  g_array_sort (cuts, offset_cmp);

  GString *out = g_string_new (NULL);
  g_autoptr (GPtrArray) stack = g_ptr_array_new (); /* open Span*, outermost first */
  g_autoptr (GPtrArray) active = g_ptr_array_new ();
  for (guint c = 0; c + 1 < cuts->len; c++)
    {
      gsize from = g_array_index (cuts, gsize, c), to = g_array_index (cuts, gsize, c + 1);
      if (from == to)
        continue;
      /* The spans covering [from, to), in opening order. */
      g_ptr_array_set_size (active, 0);
      for (guint i = 0; i < spans->len; i++)
        {
          Span *s = &g_array_index (spans, Span, i);
          if (s->start <= from && s->end >= to)
            g_ptr_array_add (active, s);
        }
      guint keep = 0;
      while (keep < stack->len && keep < active->len
             && g_ptr_array_index (stack, keep) == g_ptr_array_index (active, keep))
        keep++;
      while (stack->len > keep)
        {
          close_tag (out, g_ptr_array_index (stack, stack->len - 1));
          g_ptr_array_remove_index (stack, stack->len - 1);
        }
      gboolean in_pre = FALSE;
      for (guint i = 0; i < active->len; i++)
        {
          Span *s = g_ptr_array_index (active, i);
          if (i >= keep)
            {
              open_tag (out, s);
              g_ptr_array_add (stack, s);
            }
          in_pre |= s->kind == K_PRE;
        }
      put_text (out, text + from, to - from, in_pre);
    }
  while (stack->len > 0)
    {
      close_tag (out, g_ptr_array_index (stack, stack->len - 1));
      g_ptr_array_remove_index (stack, stack->len - 1);
    }
  return g_string_free (out, FALSE);
}

/* ------------------------------------------------- HTML → formattedText */

/* Tags TDLib's HTML mode takes, as written to it. */
typedef enum
{
  T_NONE,
  T_B,
  T_I,
  T_U,
  T_S,
  T_SPOILER,
  T_CODE,
  T_PRE,
  T_A,
  T_QUOTE,
} Tag;

static const char *const tag_names[] = {
  [T_NONE] = NULL,   [T_B] = "b",
  [T_I] = "i",       [T_U] = "u",
  [T_S] = "s",       [T_SPOILER] = "tg-spoiler",
  [T_CODE] = "code", [T_PRE] = "pre",
  [T_A] = "a",       [T_QUOTE] = "blockquote",
};

typedef struct
{
  GString *out;   /* TDLib's HTML */
  GString *plain; /* the same text without tags (a fallback body) */
  GArray *open;   /* Tag of the tags written and not closed, outermost first */
  GArray *source; /* for each source element open: the Tag it wrote (T_NONE: none) */
  GPtrArray *source_names;
  GPtrArray *mailto;      /* for each source element open: a mailto link's address, or NULL */
  GPtrArray *mailto_from; /* …and where its text starts in `plain` */
  int skip;               /* inside mx-reply (or another dropped subtree): its depth */
  gboolean pending_break; /* a paragraph ended: a newline before more text */
} Reducer;

static gboolean
inside (Reducer *r, Tag t)
{
  for (guint i = 0; i < r->open->len; i++)
    if (g_array_index (r->open, Tag, i) == t)
      return TRUE;
  return FALSE;
}

static void
put_char_text (Reducer *r, const char *s, gsize len)
{
  if (len == 0)
    return;
  if (r->pending_break)
    {
      r->pending_break = FALSE;
      /* One newline between blocks, none before the first. */
      if (r->plain->len > 0 && r->plain->str[r->plain->len - 1] != '\n')
        {
          g_string_append_c (r->out, '\n');
          g_string_append_c (r->plain, '\n');
        }
    }
  escape (r->out, s, len);
  g_string_append_len (r->plain, s, (gssize) len);
}

static void
newline (Reducer *r)
{
  r->pending_break = FALSE;
  g_string_append_c (r->out, '\n');
  g_string_append_c (r->plain, '\n');
}

/* Decodes one entity at `p` (after '&') into `out`; returns the bytes
 * used after the '&', or 0 when it is not one (the '&' is text). */
static gsize
decode_entity (const char *p, const char *end, GString *out)
{
  static const struct
  {
    const char *name;
    const char *text;
  } named[] = { { "amp;", "&" },   { "lt;", "<" },   { "gt;", ">" },
                { "quot;", "\"" }, { "apos;", "'" }, { "nbsp;", "\xc2\xa0" } };
  for (gsize i = 0; i < G_N_ELEMENTS (named); i++)
    {
      gsize l = strlen (named[i].name);
      if ((gsize) (end - p) >= l && strncmp (p, named[i].name, l) == 0)
        {
          g_string_append (out, named[i].text);
          return l;
        }
    }
  if (p < end && *p == '#')
    {
      const char *q = p + 1;
      gboolean hex = q < end && (*q == 'x' || *q == 'X');
      if (hex)
        q++;
      guint64 v = 0;
      const char *digits = q;
      while (q < end && (hex ? g_ascii_isxdigit (*q) : g_ascii_isdigit (*q)) && q - digits < 8)
        {
          v = v * (hex ? 16 : 10) + (guint64) (hex ? g_ascii_xdigit_value (*q) : *q - '0');
          q++;
        }
      if (q == digits || q >= end || *q != ';')
        return 0;
      gunichar c = (gunichar) v;
      if (v == 0 || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        c = 0xFFFD;
      g_string_append_unichar (out, c);
      return (gsize) (q + 1 - p);
    }
  return 0;
}

/* Text of the source (between tags), entities decoded; literal newlines
 * are HTML whitespace outside a code block (Matrix clients put one
 * between paragraphs), kept inside. */
static void
text_run (Reducer *r, const char *s, gsize len)
{
  if (r->skip > 0)
    return;
  gboolean pre = inside (r, T_PRE);
  g_autoptr (GString) dec = g_string_new (NULL);
  const char *end = s + len;
  for (const char *p = s; p < end; p++)
    {
      if (*p == '&')
        {
          gsize used = decode_entity (p + 1, end, dec);
          if (used > 0)
            {
              p += used;
              continue;
            }
        }
      if ((*p == '\n' || *p == '\r') && !pre)
        continue;
      g_string_append_c (dec, *p);
    }
  put_char_text (r, dec->str, dec->len);
}

/* An attribute's value in a start tag (decoded, newly allocated), or NULL. */
static char *
attribute (const char *tag, gsize len, const char *name, gboolean *present)
{
  const char *p = tag, *end = tag + len;
  gsize nl = strlen (name);
  *present = FALSE;
  /* Skip the tag name. */
  while (p < end && !g_ascii_isspace (*p) && *p != '/')
    p++;
  while (p < end)
    {
      while (p < end && (g_ascii_isspace (*p) || *p == '/'))
        p++;
      const char *an = p;
      while (p < end && !g_ascii_isspace (*p) && *p != '=' && *p != '/')
        p++;
      gsize al = (gsize) (p - an);
      if (al == 0)
        {
          if (p < end)
            p++;
          continue;
        }
      while (p < end && g_ascii_isspace (*p))
        p++;
      const char *vs = NULL, *ve = NULL;
      if (p < end && *p == '=')
        {
          p++;
          while (p < end && g_ascii_isspace (*p))
            p++;
          if (p < end && (*p == '"' || *p == '\''))
            {
              char q = *p++;
              vs = p;
              while (p < end && *p != q)
                p++;
              ve = p;
              if (p < end)
                p++;
            }
          else
            {
              vs = p;
              while (p < end && !g_ascii_isspace (*p))
                p++;
              ve = p;
            }
        }
      if (al == nl && g_ascii_strncasecmp (an, name, nl) == 0)
        {
          *present = TRUE;
          if (vs == NULL)
            return NULL;
          GString *v = g_string_new (NULL);
          for (const char *c = vs; c < ve; c++)
            {
              gsize used = *c == '&' ? decode_entity (c + 1, ve, v) : 0;
              if (used > 0)
                c += used;
              else
                g_string_append_c (v, *c);
            }
          return g_string_free (v, FALSE);
        }
    }
  return NULL;
}

/* Writes an opening tag TDLib takes, unless the context forbids it (no
 * formatting in code, no link in a link). */
static Tag
open_out (Reducer *r, Tag t, const char *href, const char *language)
{
  if (inside (r, T_CODE) || (inside (r, T_PRE) && t != T_CODE))
    return T_NONE;
  if (t == T_A && inside (r, T_A))
    return T_NONE;
  if (r->pending_break && r->plain->len > 0 && r->plain->str[r->plain->len - 1] != '\n')
    newline (r);
  r->pending_break = FALSE;
  g_string_append_printf (r->out, "<%s", tag_names[t]);
  if (t == T_A)
    {
      g_string_append (r->out, " href=\"");
      escape (r->out, href, strlen (href));
      g_string_append_c (r->out, '"');
    }
  if (t == T_CODE && language != NULL)
    g_string_append_printf (r->out, " class=\"language-%s\"", language);
  g_string_append_c (r->out, '>');
  g_array_append_val (r->open, t);
  return t;
}

/* Closes what the source element `t` opened, and whatever was opened
 * inside it and left open (so the output always nests). */
static void
close_out (Reducer *r, Tag t)
{
  if (t == T_NONE || !inside (r, t))
    return;
  while (r->open->len > 0)
    {
      Tag top = g_array_index (r->open, Tag, r->open->len - 1);
      g_array_set_size (r->open, r->open->len - 1);
      g_string_append_printf (r->out, "</%s>", tag_names[top]);
      if (top == t)
        break;
    }
}

static gboolean
name_is (const char *name, const char *const *list)
{
  for (; *list; list++)
    if (g_ascii_strcasecmp (name, *list) == 0)
      return TRUE;
  return FALSE;
}

static const char *const blocks[]
    = { "p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "table", "tr", "hr", NULL };

static void
start_tag (Reducer *r, const char *name, const char *body, gsize len, gboolean self_closing)
{
  if (r->skip > 0)
    {
      if (g_ascii_strcasecmp (name, "mx-reply") == 0)
        r->skip++;
      return;
    }
  if (g_ascii_strcasecmp (name, "mx-reply") == 0)
    {
      r->skip = 1;
      return;
    }
  if (g_ascii_strcasecmp (name, "br") == 0)
    {
      newline (r);
      return;
    }
  if (g_ascii_strcasecmp (name, "img") == 0)
    {
      /* An inline image (a Matrix custom emoji): its alt text. */
      gboolean has = FALSE;
      g_autofree char *alt = attribute (body, len, "alt", &has);
      if (alt)
        put_char_text (r, alt, strlen (alt));
      return;
    }
  if (name_is (name, blocks))
    r->pending_break = TRUE;
  if (g_ascii_strcasecmp (name, "li") == 0)
    {
      r->pending_break = TRUE;
      put_char_text (r, "• ", strlen ("• "));
    }
  if (self_closing)
    return;

  Tag t = T_NONE;
  g_autofree char *href = NULL;
  g_autofree char *language = NULL;
  g_autofree char *mailto = NULL;
  gboolean has = FALSE;
  gboolean heading
      = (name[0] == 'h' || name[0] == 'H') && g_ascii_isdigit (name[1]) && name[2] == '\0';
  if (heading || name_is (name, (const char *const[]){ "b", "strong", NULL }))
    t = T_B;
  else if (name_is (name, (const char *const[]){ "i", "em", NULL }))
    t = T_I;
  else if (name_is (name, (const char *const[]){ "u", "ins", NULL }))
    t = T_U;
  else if (name_is (name, (const char *const[]){ "s", "del", "strike", NULL }))
    t = T_S;
  else if (g_ascii_strcasecmp (name, "span") == 0)
    {
      g_free (attribute (body, len, "data-mx-spoiler", &has));
      if (has)
        t = T_SPOILER;
    }
  else if (g_ascii_strcasecmp (name, "code") == 0)
    {
      t = T_CODE;
      g_autofree char *cls = attribute (body, len, "class", &has);
      if (cls && g_str_has_prefix (cls, "language-") && language_ok (cls + strlen ("language-"))
          && inside (r, T_PRE))
        language = g_strdup (cls + strlen ("language-"));
      /* A code block's <code> names its language, or is the block itself. */
      else if (inside (r, T_PRE))
        t = T_NONE;
    }
  else if (g_ascii_strcasecmp (name, "pre") == 0)
    {
      r->pending_break = TRUE;
      t = T_PRE;
    }
  else if (g_ascii_strcasecmp (name, "blockquote") == 0)
    {
      r->pending_break = TRUE;
      t = T_QUOTE;
    }
  else if (g_ascii_strcasecmp (name, "a") == 0)
    {
      href = attribute (body, len, "href", &has);
      /* TDLib takes no mailto link (it would make an http one of it): the
       * address is written after the link's text, and TDLib finds it. */
      if (href && g_ascii_strncasecmp (href, "mailto:", 7) == 0 && href[7] != '\0')
        mailto = g_strdup (href + 7);
      else if (link_allowed (href))
        t = T_A;
    }
  Tag wrote = t != T_NONE ? open_out (r, t, href, language) : T_NONE;
  g_array_append_val (r->source, wrote);
  g_ptr_array_add (r->source_names, g_ascii_strdown (name, -1));
  g_ptr_array_add (r->mailto, g_steal_pointer (&mailto));
  g_ptr_array_add (r->mailto_from, GSIZE_TO_POINTER (r->plain->len));
}

static void
end_tag (Reducer *r, const char *name)
{
  if (r->skip > 0)
    {
      if (g_ascii_strcasecmp (name, "mx-reply") == 0)
        r->skip--;
      return;
    }
  g_autofree char *lower = g_ascii_strdown (name, -1);
  /* The innermost open source element of that name, and those inside it. */
  for (guint i = r->source_names->len; i > 0; i--)
    if (g_str_equal (g_ptr_array_index (r->source_names, i - 1), lower))
      {
        while (r->source_names->len >= i)
          {
            guint last = r->source_names->len - 1;
            close_out (r, g_array_index (r->source, Tag, last));
            const char *address = g_ptr_array_index (r->mailto, last);
            gsize from = GPOINTER_TO_SIZE (g_ptr_array_index (r->mailto_from, last));
            /* The address, unless the link's text already shows it. */
            if (address && !g_strstr_len (r->plain->str + from, -1, address))
              {
                g_autofree char *shown = g_strdup_printf (" (%s)", address);
                put_char_text (r, shown, strlen (shown));
              }
            g_array_set_size (r->source, last);
            g_ptr_array_remove_index (r->source_names, last);
            g_ptr_array_remove_index (r->mailto, last);
            g_ptr_array_remove_index (r->mailto_from, last);
          }
        break;
      }
  if (name_is (lower, blocks) || g_str_equal (lower, "li") || g_str_equal (lower, "pre")
      || g_str_equal (lower, "blockquote"))
    r->pending_break = TRUE;
}

/* The reduction: `out` for TDLib, `plain` the text alone. */
static void
reduce (const char *html, GString *out, GString *plain)
{
  Reducer r = { .out = out,
                .plain = plain,
                .open = g_array_new (FALSE, FALSE, sizeof (Tag)),
                .source = g_array_new (FALSE, FALSE, sizeof (Tag)),
                .source_names = g_ptr_array_new_with_free_func (g_free),
                .mailto = g_ptr_array_new_with_free_func (g_free),
                .mailto_from = g_ptr_array_new () };
  const char *p = html;
  while (*p)
    {
      const char *lt = strchr (p, '<');
      if (lt == NULL)
        {
          text_run (&r, p, strlen (p));
          break;
        }
      text_run (&r, p, (gsize) (lt - p));
      if (g_str_has_prefix (lt, "<!--"))
        {
          const char *e = strstr (lt + 4, "-->");
          p = e ? e + 3 : lt + strlen (lt);
          continue;
        }
      const char *gt = strchr (lt + 1, '>');
      gboolean closing = lt[1] == '/';
      const char *nm = lt + (closing ? 2 : 1);
      const char *ne = nm;
      while (g_ascii_isalnum (*ne) || *ne == '-')
        ne++;
      if (gt == NULL || ne == nm)
        {
          /* Not a tag: a '<' of the text. */
          text_run (&r, "&lt;", 4);
          p = lt + 1;
          continue;
        }
      g_autofree char *name = g_strndup (nm, (gsize) (ne - nm));
      if (closing)
        end_tag (&r, name);
      else
        start_tag (&r, name, nm, (gsize) (gt - nm), gt > nm && gt[-1] == '/');
      p = gt + 1;
    }
  while (r.open->len > 0)
    close_out (&r, g_array_index (r.open, Tag, 0));
  g_array_free (r.open, TRUE);
  g_array_free (r.source, TRUE);
  g_ptr_array_free (r.source_names, TRUE);
  g_ptr_array_free (r.mailto, TRUE);
  g_ptr_array_free (r.mailto_from, TRUE);
}

static json_t *
plain_text (const char *text)
{
  return json_pack ("{s:s, s:s, s:[]}", "@type", "formattedText", "text", text ? text : "",
                    "entities");
}

json_t *
tg_entities_from_html (const char *html, const char *plain, TgExecFunc exec, void *user_data)
{
  g_autofree char *valid_plain = plain ? g_utf8_make_valid (plain, -1) : NULL;
  if (html == NULL)
    return plain_text (valid_plain);
  g_autofree char *valid = g_utf8_make_valid (html, -1);
  g_autoptr (GString) out = g_string_new (NULL);
  g_autoptr (GString) text = g_string_new (NULL);
  reduce (valid, out, text);
  const char *fallback = valid_plain ? valid_plain : text->str;
  if (exec == NULL)
    return plain_text (fallback);
  g_autoptr (json_t) req = json_pack ("{s:s, s:s, s:{s:s}}", "@type", "parseTextEntities", "text",
                                      out->str, "parse_mode", "@type", "textParseModeHTML");
  json_t *res = req ? exec (req, user_data) : NULL;
  if (res != NULL
      && g_strcmp0 (json_string_value (json_object_get (res, "@type")), "formattedText") == 0
      && json_is_string (json_object_get (res, "text")))
    return res;
  if (res != NULL)
    json_decref (res);
  return plain_text (fallback);
}
