/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Unit tests that write WhatsApp exports from the parser's locale data
 * (locales/locales.def, locales/markers.def): for every locale and both
 * header forms (Android, iOS), a chat with morning, afternoon, noon and
 * midnight times, a multi-line body, the locale's media, deleted and
 * attachment markers, and a system line; parsed back, every message must
 * come out with its exact sender, UTC time (Europe/Paris) and text.  Each
 * chat is written twice: once with days above 12, once with days that never
 * settle the order alone (the chronology must).  Also UTF-16 and BOMs. */
#include "wa-parser.h"

#include <string.h>

typedef struct
{
  const char *tag;
  const char *android;
  const char *ios;
  const char *am;
  const char *pm;
} Locale;

static const Locale locales[] = {
#define WA_LOCALE(tag, android, ios, am, pm) { tag, android, ios, am, pm },
#define WA_DAY_PERIOD(am, pm)
#include "locales/locales.def"
#undef WA_LOCALE
#undef WA_DAY_PERIOD
};

typedef enum
{
  MEDIA,
  DELETED,
  CALL,
  EDITED,
  FILE_SUFFIX,
  FILE_PREFIX,
} MarkerType;

typedef struct
{
  const char *tag;
  MarkerType type;
  const char *text;
} Marker;

static const Marker markers[] = {
#define WA_MARKER(tag, type, text) { tag, type, text },
#include "locales/markers.def"
#undef WA_MARKER
};

/* The locale's own phrase of a type, else its language's, else English. */
static const char *
marker_for (const char *tag, MarkerType type, gboolean ios)
{
  g_autofree char *lang = g_strndup (tag, strcspn (tag, "-"));
  const char *tags[] = { tag, lang, "en" };

  for (gsize t = 0; t < G_N_ELEMENTS (tags); t++)
    for (gsize i = 0; i < G_N_ELEMENTS (markers); i++)
      if (markers[i].type == type && strcmp (markers[i].tag, tags[t]) == 0)
        {
          /* media: Android writes "<...>", iOS a phrase without brackets */
          if (type == MEDIA && (markers[i].text[0] == '<') == ios && t < 2)
            continue;
          return markers[i].text;
        }
  return type == MEDIA ? (ios ? "image omitted" : "<Media omitted>") : NULL;
}

typedef struct
{
  guint y, mo, d, h, mi, s;
} Local;

/* Writes one header for `t` after CLDR-style `pattern`. */
static void write_header_ascii (GString *out, const Locale *loc, const char *pattern,
                                const Local *t, gboolean narrow_space);

/* Arabic and Persian exports may write their own digits (U+0660.., U+06F0..). */
static gboolean native_digits;

static void
write_header (GString *out, const Locale *loc, const char *pattern, const Local *t,
              gboolean narrow_space)
{
  g_autoptr (GString) h = g_string_new (NULL);

  write_header_ascii (h, loc, pattern, t, narrow_space);
  for (const char *c = h->str; *c != '\0'; c++)
    {
      if (native_digits && g_ascii_isdigit (*c))
        g_string_append_unichar (out, (g_str_has_prefix (loc->tag, "fa") ? 0x06F0 : 0x0660)
                                          + (gunichar) (*c - '0'));
      else
        g_string_append_c (out, *c);
    }
}

static void
write_header_ascii (GString *out, const Locale *loc, const char *pattern, const Local *t,
                    gboolean narrow_space)
{
  gboolean rtl = g_str_has_prefix (loc->tag, "ar") || g_str_has_prefix (loc->tag, "he")
                 || g_str_has_prefix (loc->tag, "fa");

  for (const char *p = pattern; *p != '\0';)
    {
      if (*p == '\'')
        {
          const char *e = strchr (p + 1, '\'');
          g_string_append_len (out, p + 1, e - p - 1);
          p = e + 1;
          continue;
        }
      if (strchr ("yMdHhmsa", *p) == NULL)
        {
          if (*p == ' ' && p[1] == 'a' && narrow_space)
            g_string_append (out, "\xE2\x80\xAF"); /* U+202F, as recent exports write */
          else
            g_string_append_c (out, *p);
          if (rtl && *p == '/')
            g_string_append (out, "\xE2\x80\x8F"); /* U+200F */
          p++;
          continue;
        }
      gsize n = 1;
      while (p[n] == *p)
        n++;
      guint h12 = t->h % 12 == 0 ? 12 : t->h % 12;
      switch (*p)
        {
        case 'y':
          g_string_append_printf (out, n == 2 ? "%02u" : "%04u", n == 2 ? t->y % 100 : t->y);
          break;
        case 'M':
          g_string_append_printf (out, n == 2 ? "%02u" : "%u", t->mo);
          break;
        case 'd':
          g_string_append_printf (out, n == 2 ? "%02u" : "%u", t->d);
          break;
        case 'H':
          g_string_append_printf (out, n == 2 ? "%02u" : "%u", t->h);
          break;
        case 'h':
          g_string_append_printf (out, n == 2 ? "%02u" : "%u", h12);
          break;
        case 'm':
          g_string_append_printf (out, "%02u", t->mi);
          break;
        case 's':
          g_string_append_printf (out, "%02u", t->s);
          break;
        case 'a':
          g_string_append (out, t->h < 12 ? loc->am : loc->pm);
          break;
        default:
          g_assert_not_reached ();
        }
      p += n;
    }
}

typedef struct
{
  WaKind kind;
  gint64 ts_ms;
  const char *sender;
  char *text;
  const char *attachment;
} Want;

typedef struct
{
  GArray *want; /* of Want */
  guint next;
  const char *what;
} Check;

static gboolean
check_message (const WaMessage *m, gpointer user_data, GError **error)
{
  Check *c = user_data;

  g_test_message ("%s: message %u (line %u)", c->what, c->next, m->line_no);
  g_assert_cmpuint (c->next, <, c->want->len);
  const Want *w = &g_array_index (c->want, Want, c->next);
  g_assert_cmpstr (wa_kind_to_string (m->kind), ==, wa_kind_to_string (w->kind));
  g_assert_cmpstr (m->sender, ==, w->sender);
  g_assert_cmpstr (m->text, ==, w->text);
  g_assert_cmpstr (m->attachment, ==, w->attachment);
  g_assert_cmpint (m->ts_ms, ==, w->ts_ms);
  c->next++;
  return TRUE;
}

static gint64
paris_ms (const Local *t, gboolean has_seconds)
{
  g_autoptr (GTimeZone) tz = g_time_zone_new_identifier ("Europe/Paris");
  g_autoptr (GDateTime) dt = g_date_time_new (tz, (gint) t->y, (gint) t->mo, (gint) t->d,
                                              (gint) t->h, (gint) t->mi, has_seconds ? t->s : 0);
  return g_date_time_to_unix (dt) * 1000;
}

static void
want_add (GArray *want, WaKind kind, const Local *t, gboolean secs, const char *sender,
          const char *text, const char *attachment)
{
  Want w = { kind, paris_ms (t, secs), sender, g_strdup (text), attachment };
  g_array_append_val (want, w);
}

static void
want_clear (gpointer p)
{
  g_free (((Want *) p)->text);
}

/* Writes the chat of `loc` in one header form and the messages it must give. */
static void
write_chat (GString *out, GArray *want, const Locale *loc, gboolean ios, const Local *times)
{
  const char *pattern = ios ? loc->ios : loc->android;
  gboolean secs = strstr (pattern, "ss") != NULL;
  const char *media = marker_for (loc->tag, MEDIA, ios);
  const char *deleted = marker_for (loc->tag, DELETED, ios);
  const char *suffix = marker_for (loc->tag, FILE_SUFFIX, FALSE);
  const char *prefix = marker_for (loc->tag, FILE_PREFIX, TRUE);
  const char *photo = ios ? "00000012-PHOTO-2023-12-29-14-35-09.jpg" : "IMG-20231229-WA0001.jpg";

  /* a system line */
  write_header (out, loc, pattern, &times[0], ios);
  if (ios)
    g_string_append (out, "Famille: \xE2\x80\x8E");
  g_string_append (out, "Alice Martin added Bob\n");
  want_add (want, WA_KIND_SYSTEM, &times[0], secs, NULL, "Alice Martin added Bob", NULL);

  write_header (out, loc, pattern, &times[1], ios);
  g_string_append (out, "Alice Martin: Bonjour à tous\n");
  want_add (want, WA_KIND_TEXT, &times[1], secs, "Alice Martin", "Bonjour à tous", NULL);

  /* afternoon, multi-line, a line that looks like a time but is text */
  write_header (out, loc, pattern, &times[2], ios);
  g_string_append (out, "+33 6 12 34 56 78: ligne un\nligne deux: 10:30\n\n3. fin\n");
  want_add (want, WA_KIND_TEXT, &times[2], secs, "+33 6 12 34 56 78",
            "ligne un\nligne deux: 10:30\n\n3. fin", NULL);

  write_header (out, loc, pattern, &times[3], ios);
  g_string_append_printf (out, "Bob: %s\n", media);
  want_add (want, WA_KIND_MEDIA_OMITTED, &times[3], secs, "Bob", media, NULL);

  write_header (out, loc, pattern, &times[4], ios);
  if (ios)
    {
      g_string_append_printf (out, "Alice Martin: \xE2\x80\x8E<%s%s>\n", prefix, photo);
      want_add (want, WA_KIND_ATTACHMENT, &times[4], secs, "Alice Martin", "", photo);
    }
  else
    {
      g_string_append_printf (out, "Alice Martin: %s%s\nla photo\n", photo, suffix);
      want_add (want, WA_KIND_ATTACHMENT, &times[4], secs, "Alice Martin", "la photo", photo);
    }

  write_header (out, loc, pattern, &times[5], ios);
  g_string_append_printf (out, "Bob: %s\n", deleted);
  want_add (want, WA_KIND_DELETED, &times[5], secs, "Bob", deleted, NULL);
}

/* Days above 12: one date settles the order. */
static const Local late_days[] = {
  { 2023, 12, 29, 9, 5, 7 },   { 2023, 12, 29, 10, 41, 0 }, { 2023, 12, 29, 14, 35, 9 },
  { 2023, 12, 30, 12, 10, 0 }, { 2023, 12, 31, 0, 15, 30 }, { 2024, 1, 2, 23, 59, 59 },
};

/* Days and months up to 12: only the chronology settles it. */
static const Local early_days[] = {
  { 2024, 3, 5, 8, 0, 1 }, { 2024, 3, 5, 12, 30, 2 }, { 2024, 3, 5, 15, 45, 3 },
  { 2024, 3, 6, 0, 5, 4 }, { 2024, 3, 7, 19, 0, 5 },  { 2024, 3, 9, 12, 0, 6 },
};

static void
run_chat (const Locale *loc, gboolean ios, const Local *times, const char *what)
{
  g_autoptr (GString) out = g_string_new (NULL);
  g_autoptr (GArray) want = g_array_new (FALSE, FALSE, sizeof (Want));
  g_autoptr (GError) error = NULL;
  const gsize chunks[] = { 0, 7, 1 };

  g_array_set_clear_func (want, want_clear);
  write_chat (out, want, loc, ios, times);
  for (gsize c = 0; c < G_N_ELEMENTS (chunks); c++)
    {
      g_autofree char *label = g_strdup_printf ("%s %s %s, chunks of %zu", loc->tag,
                                                ios ? "ios" : "android", what, chunks[c]);
      Check check = { want, 0, label };
      g_autoptr (WaParser) p = wa_parser_new ("Europe/Paris", check_message, &check, &error);
      WaSummary sum = { 0 };
      gsize step = chunks[c] == 0 ? out->len : chunks[c];

      g_assert_no_error (error);
      for (gsize off = 0; off < out->len; off += step)
        g_assert_true (wa_parser_feed (p, out->str + off, MIN (step, out->len - off), &error));
      g_assert_true (wa_parser_finish (p, &sum, &error));
      g_assert_no_error (error);
      if (check.next != want->len)
        g_test_message ("%s:\n%s", label, out->str);
      g_assert_cmpuint (check.next, ==, want->len);
      g_assert_cmpuint (sum.n_unparsed_lines, ==, 0);
      if (times == early_days)
        g_assert_cmpint (sum.order_source, !=, WA_ORDER_SOURCE_DEFAULT);
      wa_summary_clear (&sum);
    }
}

static void
test_locale (gconstpointer data)
{
  const Locale *loc = data;

  for (int ios = 0; ios <= 1; ios++)
    {
      run_chat (loc, ios, late_days, "late days");
      run_chat (loc, ios, early_days, "early days");
      if (g_str_has_prefix (loc->tag, "ar") || g_str_has_prefix (loc->tag, "fa"))
        {
          native_digits = TRUE;
          run_chat (loc, ios, late_days, "late days, native digits");
          run_chat (loc, ios, early_days, "early days, native digits");
          native_digits = FALSE;
        }
    }
}

/* The same chat in UTF-16 LE and BE with a BOM, and UTF-8 with a BOM and
 * CRLF, fed in odd chunks (a code unit or a surrogate pair cut in two). */
static void
test_encodings (void)
{
  const char *utf8 = "31/12/2023, 22:15 - Élodie 🌸: bonne année 🎉\n"
                     "suite\n"
                     "01/01/2024, 00:01 - Paul: merci\n";
  const gint64 t0 = 1704057300000, t1 = 1704063660000;

  for (int variant = 0; variant < 4; variant++)
    for (gsize step = 1; step <= 8; step++)
      {
        g_autoptr (GError) error = NULL;
        g_autofree char *data = NULL;
        gsize len = 0;
        if (variant < 2)
          {
            g_autofree char *conv = g_convert (utf8, -1, variant == 0 ? "UTF-16LE" : "UTF-16BE",
                                               "UTF-8", NULL, &len, &error);
            g_assert_no_error (error);
            data = g_malloc (len + 2);
            memcpy (data, variant == 0 ? "\xFF\xFE" : "\xFE\xFF", 2);
            memcpy (data + 2, conv, len);
            len += 2;
          }
        else
          {
            g_autoptr (GString) s = g_string_new (variant == 2 ? "\xEF\xBB\xBF" : "");
            for (const char *p = utf8; *p != '\0'; p++)
              {
                if (*p == '\n' && variant == 3)
                  g_string_append_c (s, '\r');
                g_string_append_c (s, *p);
              }
            len = s->len;
            data = g_string_free (g_steal_pointer (&s), FALSE);
          }

        g_autoptr (GArray) want = g_array_new (FALSE, FALSE, sizeof (Want));
        g_array_set_clear_func (want, want_clear);
        Want w0 = { WA_KIND_TEXT, t0, "Élodie 🌸", g_strdup ("bonne année 🎉\nsuite"), NULL };
        Want w1 = { WA_KIND_TEXT, t1, "Paul", g_strdup ("merci"), NULL };
        g_array_append_val (want, w0);
        g_array_append_val (want, w1);
        Check check = { want, 0, "encodings" };
        g_autoptr (WaParser) p = wa_parser_new ("Europe/Paris", check_message, &check, &error);
        WaSummary sum = { 0 };
        for (gsize off = 0; off < len; off += step)
          g_assert_true (wa_parser_feed (p, data + off, MIN (step, len - off), &error));
        g_assert_true (wa_parser_finish (p, &sum, &error));
        g_assert_no_error (error);
        g_assert_cmpuint (check.next, ==, 2);
        g_assert_cmpuint (sum.n_invalid_utf8, ==, 0);
        wa_summary_clear (&sum);
      }
}

/* The classes the issue names, one line each, with what they must give. */
static void
test_named_cases (void)
{
  static const struct
  {
    const char *line;
    const char *utc;
    WaKind kind;
    const char *text;
    const char *attachment;
  } cases[] = {
    /* Chinese period glued to the time, then spaced: never dropped */
    { "2023/12/31 下午10:30 - 王: 你好\n", "2023-12-31T21:30:00Z", WA_KIND_TEXT, "你好", NULL },
    { "2023/12/31 下午 10:30 - 王: 你好\n", "2023-12-31T21:30:00Z", WA_KIND_TEXT, "你好", NULL },
    { "[2023/12/31 上午12:05:00] 王: 早\n", "2023-12-30T23:05:00Z", WA_KIND_TEXT, "早", NULL },
    /* Korean, dotted date with spaces, period before the time */
    { "2023. 12. 31. 오후 3:07 - 민수: 안녕\n", "2023-12-31T14:07:00Z", WA_KIND_TEXT, "안녕",
      NULL },
    /* Arabic period after the time, RTL marks */
    { "31/12/2023، 10:30 م - أحمد: مرحبا\n", "2023-12-31T21:30:00Z", WA_KIND_TEXT, "مرحبا", NULL },
    { "\xE2\x80\x8F"
      "31/12/23 \xE2\x80\x8F"
      "10:30 ص - أحمد: مرحبا\n",
      "2023-12-31T09:30:00Z", WA_KIND_TEXT, "مرحبا", NULL },
    /* Arabic-Indic digits in the header, kept in the text */
    { "\xE2\x80\x8F٣١\xE2\x80\x8F/١٢\xE2\x80\x8F/٢٠٢٣، ١٠:٣٠ م - أحمد: عندي ٣ تفاحات\n",
      "2023-12-31T21:30:00Z", WA_KIND_TEXT, "عندي ٣ تفاحات", NULL },
    { "[۳۱/۱۲/۲۰۲۳، ۱۰:۳۰:۰۰ ب.ظ.] علی: ۲ تا\n", "2023-12-31T21:30:00Z", WA_KIND_TEXT, "۲ تا",
      NULL },
    /* two-digit year first */
    { "24-01-15 09:00 - A: x\n", "2024-01-15T08:00:00Z", WA_KIND_TEXT, "x", NULL },
    /* ... but no locale writes "yy/MM/dd": one line alone is day first */
    { "25/12/19 10:00 - A: x\n", "2019-12-25T09:00:00Z", WA_KIND_TEXT, "x", NULL },
    /* year-day-month */
    { "2024-15-01 09:00 - A: x\n", "2024-01-15T08:00:00Z", WA_KIND_TEXT, "x", NULL },
    /* localized markers */
    { "31/12/2023 14:00 - Ana: <Arquivo de mídia oculto>\n", "2023-12-31T13:00:00Z",
      WA_KIND_MEDIA_OMITTED, "<Arquivo de mídia oculto>", NULL },
    { "31/12/2023 14:00 - Ana: Essa mensagem foi apagada\n", "2023-12-31T13:00:00Z",
      WA_KIND_DELETED, "Essa mensagem foi apagada", NULL },
    { "31.12.2023, 14:00 - Иван: <Без медиафайлов>\n", "2023-12-31T13:00:00Z",
      WA_KIND_MEDIA_OMITTED, "<Без медиафайлов>", NULL },
    { "31.12.2023, 14:00 - Иван: IMG-20231231-WA0001.jpg (файл добавлен)\n", "2023-12-31T13:00:00Z",
      WA_KIND_ATTACHMENT, "", "IMG-20231231-WA0001.jpg" },
    { "31.12.2023 14:00 - Ayşe: <Medya atlanmış>\n", "2023-12-31T13:00:00Z", WA_KIND_MEDIA_OMITTED,
      "<Medya atlanmış>", NULL },
    { "[2023/12/31 14:00:00] 太郎: \xE2\x80\x8E画像は省略されました\n", "2023-12-31T13:00:00Z",
      WA_KIND_MEDIA_OMITTED, "画像は省略されました", NULL },
    { "[2023/12/31 14:00:00] 太郎: \xE2\x80\x8E<添付: 00000012-PHOTO.jpg>\n",
      "2023-12-31T13:00:00Z", WA_KIND_ATTACHMENT, "", "00000012-PHOTO.jpg" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GArray) want = g_array_new (FALSE, FALSE, sizeof (Want));
      g_autoptr (GError) error = NULL;
      g_autoptr (GDateTime) dt = g_date_time_new_from_iso8601 (cases[i].utc, NULL);
      const char *colon = strstr (cases[i].line, ": ");
      const char *dash = strstr (cases[i].line, " - ");
      const char *start = dash != NULL && dash < colon ? dash + 3 : strchr (cases[i].line, ']') + 2;
      g_autofree char *sender = g_strndup (start, colon - start);

      g_array_set_clear_func (want, want_clear);
      Want w = { cases[i].kind, g_date_time_to_unix (dt) * 1000, sender, g_strdup (cases[i].text),
                 cases[i].attachment };
      g_array_append_val (want, w);
      Check check = { want, 0, cases[i].line };
      g_autoptr (WaParser) p = wa_parser_new ("Europe/Paris", check_message, &check, &error);
      g_assert_true (wa_parser_feed (p, cases[i].line, strlen (cases[i].line), &error));
      g_assert_true (wa_parser_finish (p, NULL, &error));
      g_assert_no_error (error);
      g_assert_cmpuint (check.next, ==, 1);
    }
}

/* Random messages made of pieces whose output is known: letters of every
 * script, long ASCII runs (the 16-byte blocks), spaces to read as spaces,
 * marks to strip, bytes to replace; continuation lines too, some led by
 * Arabic-Indic digits (text, not a header). */
static void
test_text_pieces (void)
{
  static const struct
  {
    const char *in, *out;
  } pieces[] = {
    { "a", "a" },
    { "abcdefghijklmnopqrstuvwxyz0123456789", "abcdefghijklmnopqrstuvwxyz0123456789" },
    { "é", "é" },
    { "àçèù", "àçèù" },
    { "Привет", "Привет" },
    { "שלום", "שלום" },
    { "你好世界", "你好世界" },
    { "안녕", "안녕" },
    { "😀👍", "😀👍" },
    { "’", "’" },
    { "٣٤", "٣٤" },
    { "مرحبا", "مرحبا" },
    { "\xC2\xA0", " " },
    { "\xE2\x80\xAF", " " },
    { "\xE2\x80\x8E", "" },
    { "\xE2\x80\x8F", "" },
    { "\xEF\xBB\xBF", "" },
    { "\xE2\x80\xAA", "" },
    { "\xE2\x81\xA6", "" },
    { "\xD8\x9C", "" },
    { "\xFF", "\xEF\xBF\xBD" },
    { "\xE3\x81", "\xEF\xBF\xBD\xEF\xBF\xBD" },
    { "\xED\xA0\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD" },
    { "\xF0\x80\x80\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD" },
    { "\xC2\xA9", "©" },
  };
  g_autoptr (GRand) rnd = g_rand_new_with_seed (15);

  for (guint round = 0; round < 300; round++)
    {
      g_autoptr (GString) in = g_string_new (NULL);
      g_autoptr (GArray) want = g_array_new (FALSE, FALSE, sizeof (Want));
      g_array_set_clear_func (want, want_clear);
      guint n_msgs = (guint) g_rand_int_range (rnd, 1, 6);
      for (guint m = 0; m < n_msgs; m++)
        {
          g_autoptr (GString) out = g_string_new ("x");
          g_string_append_printf (in, "13/02/2024, 10:%02u - Bob: x", m);
          guint n = (guint) g_rand_int_range (rnd, 0, 40);
          for (guint k = 0; k < n; k++)
            {
              gsize pi = (gsize) g_rand_int_range (rnd, 0, G_N_ELEMENTS (pieces));
              if (g_rand_int_range (rnd, 0, 8) == 0)
                {
                  /* a continuation line, led by Arabic-Indic digits or a word */
                  const char *lead = g_rand_boolean (rnd) ? "٣١/١٢ " : "y ";
                  g_string_append_printf (in, "\n%s", lead);
                  g_string_append_printf (out, "\n%s", lead);
                }
              else
                {
                  g_string_append_c (in, ' ');
                  g_string_append_c (out, ' ');
                }
              g_string_append (in, pieces[pi].in);
              g_string_append (out, pieces[pi].out);
            }
          g_string_append (in, " z\n");
          g_string_append (out, " z");
          Local t = { 2024, 2, 13, 10, m, 0 };
          want_add (want, WA_KIND_TEXT, &t, FALSE, "Bob", out->str, NULL);
        }
      for (gsize step = 1; step <= 64; step *= 4)
        {
          Check check = { want, 0, "pieces" };
          g_autoptr (GError) error = NULL;
          g_autoptr (WaParser) p = wa_parser_new ("Europe/Paris", check_message, &check, &error);
          for (gsize off = 0; off < in->len; off += step)
            g_assert_true (wa_parser_feed (p, in->str + off, MIN (step, in->len - off), &error));
          g_assert_true (wa_parser_finish (p, NULL, &error));
          g_assert_no_error (error);
          g_assert_cmpuint (check.next, ==, want->len);
        }
    }
}

/* Two messages two months apart read either way (10 Jan -> 11 Mar, or 1 Oct
 * -> 3 Nov): the spread is no clear evidence, the language decides; a day
 * apart against a month apart is. */
static void
test_chronology_margin (void)
{
  static const struct
  {
    const char *text;
    WaDateOrder order;
    WaOrderSource source;
  } cases[] = {
    { "10/01/2024 à 09:00 - A: x\n11/03/2024 à 09:00 - A: y\n", WA_DATE_ORDER_DAY_FIRST,
      WA_ORDER_SOURCE_LOCALE },
    { "10/01/2024, 9:00 AM - A: x\n11/03/2024, 9:00 AM - A: y\n", WA_DATE_ORDER_MONTH_FIRST,
      WA_ORDER_SOURCE_LOCALE },
    { "10/01/2024 à 09:00 - A: x\n10/02/2024 à 09:00 - A: y\n", WA_DATE_ORDER_MONTH_FIRST,
      WA_ORDER_SOURCE_CHRONOLOGY },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (WaParser) p = wa_parser_new ("Europe/Paris", NULL, NULL, &error);
      WaSummary sum = { 0 };
      g_assert_true (wa_parser_feed (p, cases[i].text, strlen (cases[i].text), &error));
      g_assert_true (wa_parser_finish (p, &sum, &error));
      g_assert_cmpint (sum.date_order, ==, cases[i].order);
      g_assert_cmpint (sum.order_source, ==, cases[i].source);
      wa_summary_clear (&sum);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (gsize i = 0; i < G_N_ELEMENTS (locales); i++)
    {
      g_autofree char *path = g_strdup_printf ("/whatsapp/locale/%s", locales[i].tag);
      g_test_add_data_func (path, &locales[i], test_locale);
    }
  g_test_add_func ("/whatsapp/encodings", test_encodings);
  g_test_add_func ("/whatsapp/named-cases", test_named_cases);
  g_test_add_func ("/whatsapp/text-pieces", test_text_pieces);
  g_test_add_func ("/whatsapp/chronology-margin", test_chronology_margin);
  return g_test_run ();
}
