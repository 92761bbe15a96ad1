/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * purple-markup.c — a tolerant, allow-list HTML scanner between libpurple
 * bodies and Passerelle content.  It is a scanner, not a parser: remote HTML
 * is often not well formed, so it never fails, and what it writes is always
 * well formed (open tags are tracked and closed).
 */
#define G_LOG_DOMAIN "passerelle-purple"

#include <string.h>

#include "purple-markup.h"

#define PP_MAX_DEPTH 32

typedef struct {
  GString *plain;
  GString *html;
  const char *open[PP_MAX_DEPTH];
  guint depth;
  gboolean formatted;
  char *href; /* the open <a>'s target, to show it in plain text */
  gsize link_start;
} PpOut;

static const struct {
  const char *in;
  const char *out;
} pp_tags[] = {
  { "b", "b" },     { "strong", "b" }, { "i", "i" },       { "em", "i" },
  { "u", "u" },     { "s", "s" },      { "strike", "s" },  { "del", "s" },
  { "code", "code" }, { "pre", "pre" }, { "blockquote", "blockquote" }, { "a", "a" },
};

static const char *
pp_map_tag (const char *name)
{
  for (gsize i = 0; i < G_N_ELEMENTS (pp_tags); i++)
    if (g_ascii_strcasecmp (name, pp_tags[i].in) == 0)
      return pp_tags[i].out;
  return NULL;
}

/* Appends the decoded text run [p, end) to both outputs. */
static void
pp_text (PpOut *o, const char *p, const char *end)
{
  while (p < end)
    {
      if (*p == '&')
        {
          const char *semi = memchr (p, ';', (gsize) MIN (end - p, 12));
          gunichar c = 0;
          if (semi != NULL)
            {
              g_autofree char *ent = g_strndup (p + 1, (gsize) (semi - p - 1));
              if (ent[0] == '#')
                {
                  gboolean hex = ent[1] == 'x' || ent[1] == 'X';
                  guint64 v = 0;
                  char *stop = NULL;
                  const char *digits = ent + (hex ? 2 : 1);
                  if (*digits != '\0')
                    v = g_ascii_strtoull (digits, &stop, hex ? 16 : 10);
                  if (stop != NULL && *stop == '\0' && v > 0 && v <= 0x10FFFF
                      && g_unichar_validate ((gunichar) v))
                    c = (gunichar) v;
                }
              else if (strcmp (ent, "lt") == 0)
                c = '<';
              else if (strcmp (ent, "gt") == 0)
                c = '>';
              else if (strcmp (ent, "amp") == 0)
                c = '&';
              else if (strcmp (ent, "quot") == 0)
                c = '"';
              else if (strcmp (ent, "apos") == 0)
                c = '\'';
              else if (strcmp (ent, "nbsp") == 0)
                c = 0xA0;
            }
          if (c != 0)
            {
              char buf[8];
              gint n = g_unichar_to_utf8 (c, buf);
              g_string_append_len (o->plain, buf, n);
              g_autofree char *esc = g_markup_escape_text (buf, n);
              g_string_append (o->html, esc);
              p = semi + 1;
              continue;
            }
        }
      const char *next = p + 1;
      while (next < end && *next != '&')
        next++;
      g_string_append_len (o->plain, p, next - p);
      g_autofree char *esc = g_markup_escape_text (p, next - p);
      g_string_append (o->html, esc);
      p = next;
    }
}

/* The value of attribute `attr` in the tag body [p, end), or NULL. */
static char *
pp_attr (const char *p, const char *end, const char *attr)
{
  gsize alen = strlen (attr);
  while (p < end)
    {
      while (p < end && !g_ascii_isalpha (*p))
        p++;
      const char *name = p;
      while (p < end && (g_ascii_isalnum (*p) || *p == '-' || *p == ':'))
        p++;
      gsize nlen = (gsize) (p - name);
      while (p < end && g_ascii_isspace (*p))
        p++;
      if (p >= end || *p != '=')
        continue;
      p++;
      while (p < end && g_ascii_isspace (*p))
        p++;
      const char *v, *vend;
      if (p < end && (*p == '"' || *p == '\''))
        {
          char q = *p++;
          v = p;
          while (p < end && *p != q)
            p++;
          vend = p;
          if (p < end)
            p++;
        }
      else
        {
          v = p;
          while (p < end && !g_ascii_isspace (*p))
            p++;
          vend = p;
        }
      if (nlen == alen && g_ascii_strncasecmp (name, attr, alen) == 0)
        {
          /* Decode entities in the value (&amp; in URLs). */
          PpOut tmp = { g_string_new (NULL), g_string_new (NULL), { 0 }, 0, FALSE, NULL, 0 };
          pp_text (&tmp, v, vend);
          g_string_free (tmp.html, TRUE);
          return g_string_free (tmp.plain, FALSE);
        }
    }
  return NULL;
}

static gboolean
pp_safe_href (const char *href)
{
  return href != NULL
         && (g_ascii_strncasecmp (href, "http://", 7) == 0
             || g_ascii_strncasecmp (href, "https://", 8) == 0
             || g_ascii_strncasecmp (href, "mailto:", 7) == 0
             || g_ascii_strncasecmp (href, "xmpp:", 5) == 0)
         && strpbrk (href, "\r\n\t ") == NULL;
}

static void
pp_close_top (PpOut *o)
{
  const char *t = o->open[--o->depth];
  g_string_append_printf (o->html, "</%s>", t);
  if (strcmp (t, "a") == 0 && o->href != NULL)
    {
      /* Plain text keeps the target when the link text does not show it. */
      if (strcmp (o->plain->str + o->link_start, o->href) != 0)
        g_string_append_printf (o->plain, " <%s>", o->href);
      g_clear_pointer (&o->href, g_free);
    }
}

static void
pp_tag (PpOut *o, const char *p, const char *end)
{
  gboolean closing = FALSE;
  if (p < end && *p == '/')
    {
      closing = TRUE;
      p++;
    }
  const char *name = p;
  while (p < end && g_ascii_isalnum (*p))
    p++;
  if (p == name)
    return;
  g_autofree char *tag = g_ascii_strdown (name, p - name);
  if (strcmp (tag, "br") == 0)
    {
      g_string_append_c (o->plain, '\n');
      g_string_append (o->html, "<br>");
      return;
    }
  if ((strcmp (tag, "p") == 0 || strcmp (tag, "div") == 0) && closing)
    {
      g_string_append_c (o->plain, '\n');
      g_string_append (o->html, "<br>");
      return;
    }
  const char *out = pp_map_tag (tag);
  if (out == NULL)
    return;
  if (closing)
    {
      for (guint i = o->depth; i > 0; i--)
        if (strcmp (o->open[i - 1], out) == 0)
          {
            while (o->depth >= i)
              pp_close_top (o);
            return;
          }
      return;
    }
  if (o->depth >= PP_MAX_DEPTH)
    return;
  if (strcmp (out, "a") == 0)
    {
      g_autofree char *href = pp_attr (p, end, "href");
      /* Nested links are not HTML, and unsafe targets are dropped. */
      if (o->href != NULL || !pp_safe_href (href))
        return;
      g_autofree char *esc = g_markup_escape_text (href, -1);
      g_string_append_printf (o->html, "<a href=\"%s\">", esc);
      o->href = g_steal_pointer (&href);
      o->link_start = o->plain->len;
    }
  else
    g_string_append_printf (o->html, "<%s>", out);
  o->open[o->depth++] = out;
  o->formatted = TRUE;
}

/* Copies at most PP_MAX_BODY bytes of valid UTF-8 from `in`. */
static char *
pp_clip (const char *in)
{
  gsize len = strnlen (in, PP_MAX_BODY + 1);
  if (len > PP_MAX_BODY)
    len = PP_MAX_BODY;
  return g_utf8_make_valid (in, (gssize) len);
}

void
pp_markup_from_purple (const char *purple_html, char **text, char **html)
{
  g_autofree char *in = pp_clip (purple_html != NULL ? purple_html : "");
  PpOut o = { g_string_new (NULL), g_string_new (NULL), { 0 }, 0, FALSE, NULL, 0 };
  const char *p = in;
  const char *end = in + strlen (in);
  while (p < end)
    {
      if (*p == '<' && g_str_has_prefix (p, "<!--"))
        {
          const char *c = strstr (p + 4, "-->");
          p = c != NULL ? c + 3 : end;
          continue;
        }
      if (*p == '<' && p + 1 < end && (g_ascii_isalpha (p[1]) || p[1] == '/'))
        {
          /* Find the tag's end, skipping quoted attribute values. */
          const char *q = p + 1;
          char quote = 0;
          while (q < end && (quote != 0 || *q != '>'))
            {
              if (quote == 0 && (*q == '"' || *q == '\''))
                quote = *q;
              else if (quote != 0 && *q == quote)
                quote = 0;
              q++;
            }
          if (q < end)
            {
              pp_tag (&o, p + 1, q);
              p = q + 1;
              continue;
            }
        }
      const char *next = p + 1;
      while (next < end && *next != '<')
        next++;
      pp_text (&o, p, next);
      p = next;
    }
  while (o.depth > 0)
    pp_close_top (&o);
  g_free (o.href);
  /* Block ends (</p>, </div>, a final <br>) leave line breaks at the end. */
  while (o.plain->len > 0 && o.plain->str[o.plain->len - 1] == '\n')
    g_string_truncate (o.plain, o.plain->len - 1);
  while (g_str_has_suffix (o.html->str, "<br>"))
    g_string_truncate (o.html, o.html->len - 4);
  *text = g_string_free (o.plain, FALSE);
  if (o.formatted)
    *html = g_string_free (o.html, FALSE);
  else
    {
      *html = NULL;
      g_string_free (o.html, TRUE);
    }
}

char *
pp_markup_to_purple (const char *text, const char *html)
{
  if (html != NULL)
    {
      g_autofree char *plain = NULL;
      g_autofree char *clean = NULL;
      pp_markup_from_purple (html, &plain, &clean);
      if (clean != NULL)
        return g_steal_pointer (&clean);
      text = plain != NULL ? plain : text;
      return pp_markup_to_purple (text, NULL);
    }
  g_autofree char *in = pp_clip (text != NULL ? text : "");
  GString *out = g_string_new (NULL);
  const char *p = in;
  while (*p != '\0')
    {
      const char *nl = strchr (p, '\n');
      gsize n = nl != NULL ? (gsize) (nl - p) : strlen (p);
      g_autofree char *esc = g_markup_escape_text (p, (gssize) n);
      g_string_append (out, esc);
      if (nl == NULL)
        break;
      g_string_append (out, "<br>");
      p = nl + 1;
    }
  return g_string_free (out, FALSE);
}
