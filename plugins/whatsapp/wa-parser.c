/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* WhatsApp .txt export parser.  Design notes:
 *  - input is UTF-8 or UTF-16 (converted in 8 KiB steps); lines are found
 *    and their UTF-8 checked in one pass over 16-byte blocks; a line split
 *    across two feeds is carried in a bounded buffer, all other lines are
 *    read in place;
 *  - a line is copied and sanitized (UTF-8 repair, invisible marks
 *    stripped, Arabic-Indic digits of a header read) only if it needs it;
 *  - the header grammar is hand-written and data-driven: day-period words
 *    come from locales/locales.def, marker phrases from locales/markers.def;
 *    a continuation line is rejected at its first byte in the common case;
 *  - each header keeps its three numbers; the orders in which they make a
 *    valid date narrow down over the file, and while more than one is left
 *    finished messages are queued (bounded), then the chronology decides;
 *  - the date of the last header and the zone's offset over an interval
 *    (or around one transition) are cached. */
#define G_LOG_DOMAIN "passerelle-whatsapp"

#include "wa-parser.h"

#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

G_DEFINE_QUARK (wa-parser-error-quark, wa_parser_error)

#define MAX_LRM_MARKS 16
#define U16_CHUNK 8192 /* input bytes converted at a time */

enum { ENC_UNKNOWN, ENC_UTF8, ENC_UTF16LE, ENC_UTF16BE };
#define MAX_SENDER_BYTES 200

#define N_ORDERS 4
#define ALL_ORDERS 0xF

/* A header's date as written: three numbers and their digit counts; which
 * WaDateOrder reads them is decided for the whole file. */
typedef struct {
  guint16 n[3];
  guint8 nd[3];
  guint8 h, mi, s;
  guint8 orders; /* bit (1 << WaDateOrder): orders giving a valid date */
} WaStamp;

typedef struct {
  WaStamp stamp;
  WaKind kind;
  gboolean edited;
  gboolean truncated;
  guint line_no;
  gsize sender_off; /* G_MAXSIZE when NULL */
  gsize text_off;
  gsize attach_off; /* G_MAXSIZE when NULL */
} WaPending;

typedef enum {
  HINT_NONE = 0,
  HINT_DAY_FIRST = 1,   /* language whose locales write day first */
  HINT_MONTH_FIRST = 2, /* weak: English AM/PM as in en-US */
} WaHint;

struct _WaParser {
  const struct _WaTables *tables;
  GTimeZone *tz;
  WaCallback cb;
  gpointer user_data;
  gboolean finished;
  GError *failure; /* sticky: set once the callback failed */

  /* input encoding: decided on the first two bytes */
  guint8 enc;    /* ENC_* */
  guint8 head[2];
  guint8 n_head;
  gboolean u16_have_odd;
  guint8 u16_odd;
  gunichar u16_high; /* pending high surrogate, 0 if none */
  char *u16_out;

  /* line assembly */
  GString *carry;
  gboolean carry_truncated;
  char *clean;
  gsize clean_alloc;
  gsize lrm_marks[MAX_LRM_MARKS];
  guint n_lrm_marks;
  guint64 line_no;

  /* message being accumulated */
  gboolean have_cur;
  WaStamp cur_stamp;
  gboolean cur_has_sender;
  gboolean cur_lrm; /* text began with U+200E/U+200F (iOS system/media lines) */
  gboolean cur_truncated;
  guint cur_line_no;
  GString *cur_sender;
  GString *cur_text;
  GString *attach_buf;

  /* day/month order */
  gboolean order_known;
  WaDateOrder order;
  WaOrderSource order_source;
  guint8 cand_orders; /* orders valid for every header so far */
  gboolean hint_day_first;
  gboolean hint_month_first;
  gboolean hint_12h_dotted; /* "p. m." style: Spanish locales, day first */
  gboolean hint_year_last;
  char connector[8];        /* last connector word between date and time */
  guint8 connector_len;  /* "/" or "." without space: no locale writes "yy/MM/dd" */

  GArray *pending; /* of WaPending */
  GString *pending_store;

  /* date and zone offset caches */
  gboolean day_cache_valid;
  guint16 day_cache_n[3];
  WaDateOrder day_cache_order;
  gint64 day_cache_day;
  gboolean tz_cache_valid;
  gint64 tz_cache_a, tz_cache_b; /* UTC range where the zone is known: */
  gint64 tz_cache_t;             /* its one transition (G_MAXINT64: none) */
  gint64 tz_cache_o1, tz_cache_o2; /* offsets before and from t */
  gint tz_cache_interval;        /* zone interval after t */

  WaSummary sum;
  GHashTable *sender_index; /* name (owned by sum.senders) -> index + 1 */
  guint recent_senders[64];  /* index + 1 of the senders counted last, 0 none */
};

/* ---- markers and day periods (data in locales/) ----------------------- */

typedef enum {
  MK_MEDIA,
  MK_DELETED,
  MK_CALL,
  MK_EDITED,
  MK_FILE_SUFFIX,
  MK_FILE_PREFIX,
} WaMarkerType;

typedef struct {
  const char *tag;
  WaMarkerType type;
  const char *text;
} WaMarkerData;

static const WaMarkerData marker_data[] = {
#define WA_MARKER(tag, type, text) { tag, MK_##type, text },
#include "locales/markers.def"
#undef WA_MARKER
};

typedef struct {
  const char *am;
  const char *pm;
} WaPeriodData;

static const WaPeriodData period_data[] = {
#define WA_LOCALE(tag, android, ios, am, pm) { am, pm },
#define WA_DAY_PERIOD(am, pm) { am, pm },
#include "locales/locales.def"
#undef WA_LOCALE
#undef WA_DAY_PERIOD
};

typedef struct {
  const char *text;
  WaKind kind;
  WaHint hint;
} WaMarker;

typedef struct {
  const char *text;
  guint8 len;
  gboolean pm;
} WaPeriod;

#define MAX_WHOLE_MARKER 255
#define ASCII_LOWER(c) ((c) >= 'A' && (c) <= 'Z' ? (char) ((c) + ('a' - 'A')) : (c))
#define MARKER_BLOOM_BITS 4096

/* A whole message is looked up only if its length and its first and last
 * bytes hit this filter: most messages skip the hash. */
static guint
marker_bloom_bit (const char *s, gsize len)
{
  guint k = (guint) len * 2654435761u ^ (guchar) s[0] * 40503u ^ (guchar) s[len - 1] * 9973u;
  return (k ^ (k >> 13)) % MARKER_BLOOM_BITS;
}

/* Built once from the data above. */
typedef struct _WaTables {
  GHashTable *whole;    /* text -> WaMarker*: media, deleted, call */
  guint64 whole_bloom[MARKER_BLOOM_BITS / 64];
  GArray *edited;       /* of WaMarker */
  GArray *file_suffix;  /* of WaMarker */
  GArray *file_prefix;  /* of WaMarker */
  WaMarker *markers;
  GArray *periods;      /* of WaPeriod, by folded first byte, then longest first */
  guint16 period_start[256]; /* first index of the words starting with a folded byte */
  guint8 period_count[256];
} WaTables;


static gint
period_cmp (gconstpointer a, gconstpointer b)
{
  const WaPeriod *x = a, *y = b;
  gint fx = g_ascii_tolower (x->text[0]), fy = g_ascii_tolower (y->text[0]);
  if (fx != fy)
    return (gint) (guchar) fx - (gint) (guchar) fy;
  return (gint) y->len - (gint) x->len;
}

static void
add_period (GArray *periods, const char *text, gboolean pm)
{
  gsize n = strlen (text);

  if (n == 0 || n > 64)
    return;
  for (guint i = 0; i < periods->len; i++)
    if (g_ascii_strcasecmp (g_array_index (periods, WaPeriod, i).text, text) == 0)
      return;
  WaPeriod w = { text, (guint8) n, pm };
  g_array_append_val (periods, w);
}

static const WaTables *
tables (void)
{
  static WaTables *t;

  if (g_once_init_enter (&t))
    {
      WaTables *n = g_new0 (WaTables, 1);
      n->whole = g_hash_table_new (g_str_hash, g_str_equal);
      n->edited = g_array_new (FALSE, FALSE, sizeof (WaMarker));
      n->file_suffix = g_array_new (FALSE, FALSE, sizeof (WaMarker));
      n->file_prefix = g_array_new (FALSE, FALSE, sizeof (WaMarker));
      n->markers = g_new0 (WaMarker, G_N_ELEMENTS (marker_data));
      for (gsize i = 0; i < G_N_ELEMENTS (marker_data); i++)
        {
          const WaMarkerData *d = &marker_data[i];
          WaMarker *m = &n->markers[i];
          gsize len = strlen (d->text);
          m->text = d->text;
          /* English is written both ways round; the other languages whose
           * phrases are listed write the day before the month */
          m->hint = g_str_has_prefix (d->tag, "en") ? HINT_NONE : HINT_DAY_FIRST;
          switch (d->type)
            {
            case MK_MEDIA:
            case MK_DELETED:
            case MK_CALL:
              m->kind = d->type == MK_MEDIA     ? WA_KIND_MEDIA_OMITTED
                        : d->type == MK_DELETED ? WA_KIND_DELETED
                                                : WA_KIND_CALL;
              if (len <= MAX_WHOLE_MARKER)
                {
                  g_hash_table_insert (n->whole, (gpointer) d->text, m);
                  guint bit = marker_bloom_bit (d->text, len);
                  n->whole_bloom[bit >> 6] |= G_GUINT64_CONSTANT (1) << (bit & 63);
                }
              break;
            case MK_EDITED:
              m->kind = WA_KIND_TEXT;
              g_array_append_val (n->edited, *m);
              break;
            case MK_FILE_SUFFIX:
              m->kind = WA_KIND_ATTACHMENT;
              g_array_append_val (n->file_suffix, *m);
              break;
            case MK_FILE_PREFIX:
              m->kind = WA_KIND_ATTACHMENT;
              g_array_append_val (n->file_prefix, *m);
              break;
            default:
              break;
            }
        }
      n->periods = g_array_new (FALSE, FALSE, sizeof (WaPeriod));
      for (gsize i = 0; i < G_N_ELEMENTS (period_data); i++)
        {
          add_period (n->periods, period_data[i].am, FALSE);
          add_period (n->periods, period_data[i].pm, TRUE);
        }
      /* the English forms, whatever the locales list says */
      add_period (n->periods, "a. m.", FALSE);
      add_period (n->periods, "p. m.", TRUE);
      add_period (n->periods, "a.m.", FALSE);
      add_period (n->periods, "p.m.", TRUE);
      add_period (n->periods, "a.m", FALSE);
      add_period (n->periods, "p.m", TRUE);
      add_period (n->periods, "am", FALSE);
      add_period (n->periods, "pm", TRUE);
      g_array_sort (n->periods, period_cmp);
      for (guint k = n->periods->len; k-- > 0;)
        {
          guchar c = (guchar) g_ascii_tolower (g_array_index (n->periods, WaPeriod, k).text[0]);
          n->period_start[c] = (guint16) k;
          n->period_count[c]++;
        }
      g_once_init_leave (&t, n);
    }
  return t;
}

/* Words of system lines (encryption notice, group events) that give away a
 * language whose locales write the day first. */
static const char *const day_first_system_words[] = {
  "chiffrés", " a ajouté ", " a créé ", "Ende-zu-Ende", " hat ", "cifrados", " creó ",
  "crittografati", "criptografadas", "versleuteld", " à ",
};

/* ---- small helpers ---------------------------------------------------- */

static gboolean
is_leap (guint y)
{
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static gboolean
valid_date (guint y, guint m, guint d)
{
  static const guint8 mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

  if (m < 1 || m > 12 || d < 1)
    return FALSE;
  if (m == 2 && is_leap (y))
    return d <= 29;
  return d <= mdays[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static gint64
days_from_civil (gint64 y, guint m, guint d)
{
  y -= m <= 2;
  gint64 era = (y >= 0 ? y : y - 399) / 400;
  gint64 yoe = y - era * 400;
  gint64 doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  gint64 doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static gint64
offset_at_utc (GTimeZone *tz, gint64 utc)
{
  gint i = g_time_zone_find_interval (tz, G_TIME_TYPE_UNIVERSAL, utc);
  return i < 0 ? 0 : g_time_zone_get_offset (tz, i);
}

/* UTC seconds for local seconds `local`: in a gap the offset before the gap,
 * in an overlap the first occurrence.  Transitions are assumed to be more
 * than a day apart, which holds for every zone in tzdata. */
static gint64
local_to_utc (GTimeZone *tz, gint64 local)
{
  gint64 o_before = offset_at_utc (tz, local - 86400);
  gint64 o_after = offset_at_utc (tz, local + 86400);
  gint64 c1 = local - o_before;
  gint64 c2 = local - o_after;
  gboolean ok1 = offset_at_utc (tz, c1) == o_before;
  gboolean ok2 = offset_at_utc (tz, c2) == o_after;

  if (ok1 && ok2)
    return MIN (c1, c2);
  if (ok2)
    return c2;
  return c1;
}

/* local_to_utc() with a cache of the zone around the last answer: one
 * interval (stretched a month ahead at a time), or the days around one
 * transition, whose instant is found once by bisection. */
static gint64
local_to_utc_cached (WaParser *self, gint64 local)
{
  GTimeZone *tz = self->tz;

  if (self->tz_cache_valid)
    {
      gint64 c1 = local - self->tz_cache_o1, c2 = local - self->tz_cache_o2;
      if (MIN (c1, c2) >= self->tz_cache_a)
        {
          if (MAX (c1, c2) < self->tz_cache_b)
            {
              gboolean ok1 = c1 < self->tz_cache_t, ok2 = c2 >= self->tz_cache_t;
              if (ok1 && ok2)
                return MIN (c1, c2);
              return ok2 ? c2 : c1;
            }
          if (self->tz_cache_t == G_MAXINT64)
            for (gint64 ahead = 31 * 86400; ahead > 0; ahead = ahead > 2 * 86400 ? 2 * 86400 : 0)
              if (g_time_zone_find_interval (tz, G_TIME_TYPE_UNIVERSAL, c1 + ahead)
                  == self->tz_cache_interval)
                {
                  self->tz_cache_b = c1 + ahead;
                  return c1;
                }
        }
    }

  gint64 lo = local - 2 * 86400, hi = local + 2 * 86400;
  gint i1 = g_time_zone_find_interval (tz, G_TIME_TYPE_UNIVERSAL, lo);
  gint i2 = g_time_zone_find_interval (tz, G_TIME_TYPE_UNIVERSAL, hi);
  self->tz_cache_valid = i1 >= 0 && i2 >= 0;
  if (!self->tz_cache_valid)
    return local_to_utc (tz, local);
  self->tz_cache_a = lo;
  self->tz_cache_b = hi;
  self->tz_cache_o1 = g_time_zone_get_offset (tz, i1);
  self->tz_cache_o2 = g_time_zone_get_offset (tz, i2);
  self->tz_cache_interval = i2;
  self->tz_cache_t = G_MAXINT64;
  if (i1 != i2)
    {
      /* transitions are more than 4 days apart: one in (lo, hi] */
      gint64 l = lo, h = hi;
      while (h - l > 1)
        {
          gint64 mid = l + (h - l) / 2;
          if (g_time_zone_find_interval (tz, G_TIME_TYPE_UNIVERSAL, mid) == i1)
            l = mid;
          else
            h = mid;
        }
      self->tz_cache_t = h;
    }
  else
    self->tz_cache_o2 = self->tz_cache_o1;
  return local_to_utc_cached (self, local);
}

static guint
full_year (guint n, guint nd)
{
  if (nd <= 2)
    return 2000 + n; /* WhatsApp is younger than 2000 */
  if (n >= 2400 && n <= 2700)
    return n - 543; /* Buddhist era (Thai) */
  return n;
}

/* The date of `st` read in `order`; FALSE if that gives no valid date. */
static gboolean
stamp_date (const WaStamp *st, WaDateOrder order, guint *y, guint *m, guint *d)
{
  guint yi, mi, di;

  switch (order)
    {
    case WA_DATE_ORDER_DAY_FIRST: di = 0, mi = 1, yi = 2; break;
    case WA_DATE_ORDER_MONTH_FIRST: mi = 0, di = 1, yi = 2; break;
    case WA_DATE_ORDER_YEAR_FIRST: yi = 0, mi = 1, di = 2; break;
    case WA_DATE_ORDER_YEAR_DAY_MONTH: yi = 0, di = 1, mi = 2; break;
    default: return FALSE;
    }
  if (st->nd[yi] != 2 && st->nd[yi] != 4)
    return FALSE;
  if (st->nd[mi] > 2 || st->nd[di] > 2)
    return FALSE;
  *y = full_year (st->n[yi], st->nd[yi]);
  *m = st->n[mi];
  *d = st->n[di];
  return *y >= 1970 && *y <= 2199 && valid_date (*y, *m, *d);
}

/* Local seconds since the epoch of `st` read in `order` (the date must be
 * valid in that order). */
static gint64
stamp_local (const WaStamp *st, WaDateOrder order)
{
  guint y = 1970, m = 1, d = 1;

  if (!stamp_date (st, order, &y, &m, &d))
    {
      /* a stamp queued while its order was open: read it in any order that
       * gives a date rather than invent one */
      for (guint o = 0; o < N_ORDERS; o++)
        if (stamp_date (st, (WaDateOrder) o, &y, &m, &d))
          break;
    }
  return days_from_civil (y, m, d) * 86400 + (gint64) st->h * 3600 + st->mi * 60 + st->s;
}

static gint64
stamp_to_ms (WaParser *self, const WaStamp *st, WaDateOrder order)
{
  gint64 local, day;

  /* consecutive messages mostly share their date */
  if (self->day_cache_valid && memcmp (self->day_cache_n, st->n, sizeof st->n) == 0
      && self->day_cache_order == order)
    {
      day = self->day_cache_day;
      local = day * 86400 + (gint64) st->h * 3600 + st->mi * 60 + st->s;
    }
  else
    {
      local = stamp_local (st, order);
      day = local >= 0 ? local / 86400 : (local - 86399) / 86400;
      memcpy (self->day_cache_n, st->n, sizeof st->n);
      self->day_cache_order = order;
      self->day_cache_day = day;
      self->day_cache_valid = TRUE;
    }

  return local_to_utc_cached (self, local) * 1000;
}

static gsize
utf8_cut (const char *s, gsize len, gsize max)
{
  if (len <= max)
    return len;
  gsize cut = max;
  while (cut > 0 && ((guchar) s[cut] & 0xC0) == 0x80)
    cut--;
  return cut;
}

/* ---- line sanitizing -------------------------------------------------- */

static gsize
decode_utf8 (const guchar *p, gsize len, gunichar *out)
{
  guchar c = p[0];
  gsize n;
  gunichar u, min;

  if (c < 0x80)
    {
      *out = c;
      return 1;
    }
  if (c >= 0xC2 && c <= 0xDF)
    n = 2, u = c & 0x1F, min = 0x80;
  else if (c >= 0xE0 && c <= 0xEF)
    n = 3, u = c & 0x0F, min = 0x800;
  else if (c >= 0xF0 && c <= 0xF4)
    n = 4, u = c & 0x07, min = 0x10000;
  else
    return 0;
  if (len < n)
    return 0;
  for (gsize i = 1; i < n; i++)
    {
      if ((p[i] & 0xC0) != 0x80)
        return 0;
      u = (u << 6) | (p[i] & 0x3F);
    }
  if (u < min || u > 0x10FFFF || (u >= 0xD800 && u <= 0xDFFF))
    return 0;
  *out = u;
  return n;
}

/* Checks the multi-byte character at p[i] (p[i] >= 0x80): returns its
 * length if it is valid UTF-8 and not one of the characters the sanitizer
 * changes (U+00A0, U+200E/200F, U+202A-202F, U+2066-2069, U+FEFF), else 0.
 * Never reads past `len`. */
static inline gsize
clean_char (const guchar *p, gsize len, gsize i)
{
  guchar c = p[i];

  if (c >= 0xC2 && c <= 0xDF)
    {
      if (i + 1 >= len || (p[i + 1] & 0xC0) != 0x80 || (c == 0xC2 && p[i + 1] == 0xA0))
        return 0;
      /* U+061C, and Arabic-Indic digits (read in headers) */
      if ((c == 0xD8 && p[i + 1] == 0x9C) || (c == 0xD9 && p[i + 1] >= 0xA0 && p[i + 1] <= 0xA9)
          || (c == 0xDB && p[i + 1] >= 0xB0 && p[i + 1] <= 0xB9))
        return 0;
      return 2;
    }
  if (c >= 0xE0 && c <= 0xEF)
    {
      if (i + 2 >= len)
        return 0;
      guchar c1 = p[i + 1], c2 = p[i + 2];
      if ((c1 & 0xC0) != 0x80 || (c2 & 0xC0) != 0x80)
        return 0;
      if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 >= 0xA0))
        return 0; /* overlong, surrogate */
      if (c == 0xE2
          && ((c1 == 0x80 && (c2 == 0x8E || c2 == 0x8F || (c2 >= 0xAA && c2 <= 0xAF)))
              || (c1 == 0x81 && c2 >= 0xA6 && c2 <= 0xA9)))
        return 0;
      if (c == 0xEF && c1 == 0xBB && c2 == 0xBF)
        return 0;
      return 3;
    }
  if (c >= 0xF0 && c <= 0xF4)
    {
      if (i + 3 >= len)
        return 0;
      if ((p[i + 1] & 0xC0) != 0x80 || (p[i + 2] & 0xC0) != 0x80 || (p[i + 3] & 0xC0) != 0x80)
        return 0;
      if ((c == 0xF0 && p[i + 1] < 0x90) || (c == 0xF4 && p[i + 1] >= 0x90))
        return 0;
      return 4;
    }
  return 0;
}

/* Index of the first byte >= 0x80 from i on (len if none), 16 or 8 bytes at
 * a time. */
static inline gsize
skip_ascii (const guchar *p, gsize len, gsize i)
{
#ifdef __SSE2__
  while (i + 16 <= len)
    {
      guint m = (guint) _mm_movemask_epi8 (_mm_loadu_si128 ((const __m128i *) (p + i)));
      if (m != 0)
        return i + (gsize) __builtin_ctz (m);
      i += 16;
    }
#endif
  while (i + 8 <= len)
    {
      guint64 w;
      memcpy (&w, p + i, 8);
      w &= G_GUINT64_CONSTANT (0x8080808080808080);
      if (w != 0)
        {
#if G_BYTE_ORDER == G_LITTLE_ENDIAN
          return i + (gsize) (__builtin_ctzll (w) >> 3);
#else
          break;
#endif
        }
      i += 8;
    }
  while (i < len && p[i] < 0x80)
    i++;
  return i;
}

/* TRUE if the line is valid UTF-8 without any character the sanitizer
 * would change, so it can be used in place (the common case). */
static gboolean
line_is_clean (const char *line, gsize len)
{
  const guchar *p = (const guchar *) line;
  gsize i = 0;

  for (;;)
    {
      i = skip_ascii (p, len, i);
      if (i >= len)
        return TRUE;
      gsize n = clean_char (p, len, i);
      if (n == 0)
        return FALSE;
      i += n;
    }
}

/* Finds the end of the line at p[0] in one pass: returns the index of its
 * '\n' (len if none) and sets *clean as line_is_clean() would for it. */
static gsize
scan_line (const char *s, gsize len, gboolean *clean)
{
  const guchar *p = (const guchar *) s;
  gsize i = 0;

  *clean = TRUE;
#ifdef __SSE2__
  const __m128i nl = _mm_set1_epi8 ('\n');
  while (i + 16 <= len)
    {
      __m128i v = _mm_loadu_si128 ((const __m128i *) (p + i));
      guint m_nl = (guint) _mm_movemask_epi8 (_mm_cmpeq_epi8 (v, nl));
      guint m = m_nl | (guint) _mm_movemask_epi8 (v);
      if (m == 0)
        {
          i += 16;
          continue;
        }
      if (m != m_nl)
        {
          /* the common non-ASCII block: only characters none of which is
           * stripped or rewritten, each whole inside the block: two-byte
           * leads C3-D7 (Latin, Greek, Cyrillic, Hebrew), three-byte E3-EC
           * (CJK, Hangul), four-byte F0 90-BF (emoji) */
          guint hi = m & ~m_nl;
          guint lead2 = (guint) _mm_movemask_epi8 (
            _mm_and_si128 (_mm_cmpgt_epi8 (v, _mm_set1_epi8 ((char) 0xC2)),
                           _mm_cmplt_epi8 (v, _mm_set1_epi8 ((char) 0xD8))));
          guint lead3 = (guint) _mm_movemask_epi8 (
            _mm_and_si128 (_mm_cmpgt_epi8 (v, _mm_set1_epi8 ((char) 0xE2)),
                           _mm_cmplt_epi8 (v, _mm_set1_epi8 ((char) 0xED))));
          guint lead4 = (guint) _mm_movemask_epi8 (_mm_cmpeq_epi8 (v, _mm_set1_epi8 ((char) 0xF0)));
          guint cont = (guint) _mm_movemask_epi8 (_mm_cmplt_epi8 (v, _mm_set1_epi8 ((char) 0xC0)));
          guint cont_hi = (guint) _mm_movemask_epi8 (
            _mm_and_si128 (_mm_cmpgt_epi8 (v, _mm_set1_epi8 ((char) 0x8F)),
                           _mm_cmplt_epi8 (v, _mm_set1_epi8 ((char) 0xC0))));
          guint want = (lead2 << 1) | (lead3 << 1) | (lead3 << 2) | (lead4 << 1) | (lead4 << 2)
                       | (lead4 << 3);
          if ((hi & ~(lead2 | lead3 | lead4 | cont)) == 0 && cont == want
              && (lead4 << 1 & ~cont_hi) == 0)
            {
              if (m_nl != 0)
                return i + (gsize) __builtin_ctz (m_nl);
              i += 16;
              continue;
            }
        }
      gsize k = i + (gsize) __builtin_ctz (m);
      if (p[k] == '\n')
        return k;
      /* a character ends before the line does: '\n' is not a continuation */
      gsize n = clean_char (p, len, k);
      if (n == 0)
        break;
      i = k + n;
    }
#endif
  while (i < len)
    {
      if (p[i] == '\n')
        return i;
      if (p[i] < 0x80)
        {
          i++;
          continue;
        }
      gsize n = clean_char (p, len, i);
      if (n == 0)
        break;
      i += n;
    }
  if (i >= len)
    return len;
  *clean = FALSE;
  const guchar *e = memchr (p + i, '\n', len - i);
  return e != NULL ? (gsize) (e - p) : len;
}

/* Copies a line holding non-ASCII bytes into self->clean, repairing UTF-8
 * and applying the invisible-character rules.  Returns the clean length. */
static gsize
sanitize_line (WaParser *self, const char *line, gsize len, gboolean header_digits,
               gboolean *converted)
{
  const guchar *p = (const guchar *) line;
  char *o = self->clean;
  gsize i = 0;
  /* Arabic-Indic digits become ASCII in what may be a header, up to its
   * " - " or "]"; *converted tells the caller to redo the line without that
   * if it is no header */
  gboolean hdr = header_digits;

  *converted = FALSE;
  while (i < len)
    {
      gsize run = skip_ascii (p, len, i);
      if (hdr && run > i)
        {
          if (o == self->clean && p[i] != '[' && !g_ascii_isdigit (p[i]))
            hdr = FALSE; /* text first: not a header */
          else if (memchr (p + i, '-', run - i) != NULL || memchr (p + i, ']', run - i) != NULL)
            hdr = FALSE; /* the header ended */
        }
      memcpy (o, p + i, run - i);
      o += run - i;
      i = run;
      if (i >= len)
        break;
      gunichar u;
      gsize n = decode_utf8 (p + i, len - i, &u);
      if (n == 0)
        {
          self->sum.n_invalid_utf8++;
          memcpy (o, "\xEF\xBF\xBD", 3);
          o += 3;
          i++;
          continue;
        }
      if (u == 0x200E || u == 0x200F)
        {
          if (self->n_lrm_marks < MAX_LRM_MARKS)
            self->lrm_marks[self->n_lrm_marks++] = (gsize) (o - self->clean);
        }
      else if ((u >= 0x202A && u <= 0x202E) || (u >= 0x2066 && u <= 0x2069) || u == 0xFEFF
               || u == 0x061C)
        ;
      else if (hdr && ((u >= 0x0660 && u <= 0x0669) || (u >= 0x06F0 && u <= 0x06F9)))
        {
          *o++ = (char) ('0' + (u >= 0x06F0 ? u - 0x06F0 : u - 0x0660));
          *converted = TRUE;
        }
      else if (u == 0x00A0 || u == 0x202F)
        *o++ = ' ';
      else
        {
          /* text first, or Arabic letters other than the day periods
           * (ص م, Persian ق.ظ. ب.ظ.): not a header, or past it */
          if (o == self->clean
              || (u >= 0x0600 && u <= 0x06FF && u != 0x060C && u != 0x0635 && u != 0x0645
                  && u != 0x0642 && u != 0x0638 && u != 0x0628))
            hdr = FALSE;
          memcpy (o, p + i, n);
          o += n;
        }
      if (o - self->clean > 48)
        hdr = FALSE;
      i += n;
    }
  return (gsize) (o - self->clean);
}

/* ---- header matching -------------------------------------------------- */

static gsize
read_num (const char *p, gsize len, gsize i, guint max_digits, guint *out, guint *n_digits)
{
  guint v = 0, n = 0;

  while (i < len && n < max_digits && g_ascii_isdigit (p[i]))
    {
      v = v * 10 + (guint) (p[i] - '0');
      i++;
      n++;
    }
  *out = v;
  *n_digits = n;
  return i;
}

static gsize
skip_spaces (const char *p, gsize len, gsize i)
{
  while (i < len && p[i] == ' ')
    i++;
  return i;
}

/* A day-period word of the locale data at p[i] (ASCII letters in either
 * case).  Returns the offset after it, or 0. */
static gsize
match_period (WaParser *self, const char *p, gsize len, gsize i, gboolean *pm)
{
  const WaTables *t = self->tables;
  guchar c;

  if (i >= len)
    return 0;
  c = (guchar) ASCII_LOWER (p[i]);
  for (guint k = t->period_start[c], e = k + t->period_count[c]; k < e; k++)
    {
      const WaPeriod *w = &g_array_index (t->periods, WaPeriod, k);
      gsize b = 1;
      if (len - i < w->len)
        continue;
      while (b < w->len && ASCII_LOWER (p[i + b]) == ASCII_LOWER (w->text[b]))
        b++;
      if (b == w->len)
        {
          /* a Latin word must end there ("am" is not "amigo") */
          if (g_ascii_isalpha (w->text[w->len - 1]) && i + w->len < len
              && g_ascii_isalpha (p[i + w->len]))
            continue;
          *pm = w->pm;
          if (w->len == 2 && g_ascii_isupper (p[i]) && g_ascii_isupper (p[i + 1])
              && (p[i] == 'A' || p[i] == 'P'))
            self->hint_month_first = TRUE;
          if (memchr (w->text, ' ', w->len) != NULL)
            self->hint_12h_dotted = TRUE;
          return i + w->len;
        }
    }
  return 0;
}

/* Matches a header at the start of a clean line:
 *   ["["] N sep N sep N ["."] [","] " "+ [word " "*] H sep MM [sep SS]
 *   [" "* period] " "* ("]" [" "] | "- ")
 * where sep is "/", "." (optionally followed by one space: "2023. 12. 31."),
 * or "-"; the time separator ":" or "."; word a day period ("오후", "上午",
 * glued to the time or not) or a connector ("à", "um", "klo").  Which number
 * is the year, the month and the day is left to the file (st->orders).
 * On success fills `st` and `*rest` (offset of what follows). */
static gboolean
match_header (WaParser *self, const char *p, gsize len, WaStamp *st, gsize *rest)
{
  gsize i = 0;
  guint n[3], nd[3], h, mi, s = 0, d;
  gboolean bracket = FALSE, have_period = FALSE, pm = FALSE, dotted_space = FALSE;
  char sep = 0;

  if (len < 12)
    return FALSE;
  if (p[0] == '[')
    {
      bracket = TRUE;
      i++;
    }
  if (!g_ascii_isdigit (p[i]))
    return FALSE;
  for (guint k = 0; k < 3; k++)
    {
      if (k > 0)
        {
          if (i >= len || p[i] != sep)
            return FALSE;
          i++;
          if (sep == '.' && i < len && p[i] == ' ')
            {
              i++;
              dotted_space = TRUE;
            }
        }
      i = read_num (p, len, i, 4, &n[k], &nd[k]);
      if (nd[k] == 0 || nd[k] == 3 || i >= len)
        return FALSE;
      if (k == 0)
        {
          sep = p[i];
          if (sep != '/' && sep != '.' && sep != '-')
            return FALSE;
        }
    }
  if (nd[1] > 2 || (nd[0] == 4 && nd[2] == 4))
    return FALSE;
  if (p[i] == '.' && sep == '.')
    i++;
  if (i < len && p[i] == ',')
    i++;
  else if (i + 1 < len && p[i] == '\xD8' && p[i + 1] == '\x8C')
    i += 2; /* Arabic comma U+060C */
  if (i >= len || p[i] != ' ')
    return FALSE;
  i = skip_spaces (p, len, i);
  if (i < len && !g_ascii_isdigit (p[i]))
    {
      /* every header of a file has the same word: the last connector is
       * checked first */
      gsize cl = self->connector_len;
      if (cl > 0 && cl < len - i && p[i + cl] == ' ' && memcmp (p + i, self->connector, cl) == 0)
        i = skip_spaces (p, len, i + cl);
      else
        {
          gsize e = match_period (self, p, len, i, &pm);
          if (e > 0)
            {
              have_period = TRUE;
              i = skip_spaces (p, len, e);
            }
          else
            {
              /* connector word: "à" (fr), "um" (de), "às" (pt), "kl." (nb/da) */
              gsize w = i;
              while (i < len && p[i] != ' ' && !g_ascii_isdigit (p[i]) && i - w < 8)
                i++;
              if (i >= len || p[i] != ' ' || i == w)
                return FALSE;
              self->connector_len = (guint8) (i - w);
              memcpy (self->connector, p + w, i - w);
              i = skip_spaces (p, len, i);
              self->hint_day_first = TRUE;
            }
        }
    }
  i = read_num (p, len, i, 2, &h, &d);
  if (d == 0 || i >= len || (p[i] != ':' && p[i] != '.'))
    return FALSE;
  char tsep = p[i];
  i = read_num (p, len, i + 1, 2, &mi, &d);
  if (d != 2)
    return FALSE;
  if (i + 1 < len && p[i] == tsep && g_ascii_isdigit (p[i + 1]))
    {
      i = read_num (p, len, i + 1, 2, &s, &d);
      if (d != 2)
        return FALSE;
    }
  if (!have_period)
    {
      gsize j = skip_spaces (p, len, i);
      gsize e = j < len && p[j] != '-' && p[j] != ']' ? match_period (self, p, len, j, &pm) : 0;
      if (e > 0)
        {
          have_period = TRUE;
          i = e;
        }
    }
  if (have_period)
    {
      if (h > 12)
        return FALSE;
      if (pm && h != 12)
        h += 12;
      else if (!pm && h == 12)
        h = 0;
    }
  if (h > 23 || mi > 59 || s > 59)
    return FALSE;

  i = skip_spaces (p, len, i);
  if (bracket)
    {
      if (i >= len || p[i] != ']')
        return FALSE;
      i++;
      if (i < len && p[i] == ' ')
        i++;
    }
  else
    {
      if (i + 1 >= len || p[i] != '-' || p[i + 1] != ' ')
        return FALSE;
      i += 2;
    }

  memset (st, 0, sizeof *st);
  st->h = (guint8) h;
  st->mi = (guint8) mi;
  st->s = (guint8) s;
  for (guint k = 0; k < 3; k++)
    {
      st->n[k] = (guint16) n[k];
      st->nd[k] = (guint8) nd[k];
    }
  guint y, m, dd;
  if (self->order_known)
    {
      if (!stamp_date (st, self->order, &y, &m, &dd))
        return FALSE;
      st->orders = (guint8) (1u << self->order);
    }
  else
    {
      for (guint o = 0; o < N_ORDERS; o++)
        if (stamp_date (st, (WaDateOrder) o, &y, &m, &dd))
          st->orders |= (guint8) (1u << o);
      if (!(st->orders & self->cand_orders))
        return FALSE;
    }
  if (sep == '.' && (st->orders & (1u << WA_DATE_ORDER_DAY_FIRST)))
    self->hint_day_first = TRUE;
  if (sep == '/' || (sep == '.' && !dotted_space))
    self->hint_year_last = TRUE;
  *rest = i;
  return TRUE;
}

/* ---- emission ---------------------------------------------------------- */

static void
count_sender (WaParser *self, const char *name)
{
  WaSenderCount *sc;
  guint32 h = 2166136261u;
  for (guint k = 0; k < 12 && name[k] != '\0'; k++)
    h = (h ^ (guchar) name[k]) * 16777619u;
  guint slot = (h ^ (h >> 16)) % G_N_ELEMENTS (self->recent_senders);

  /* most chats have a few senders: a direct-mapped cache of the last
   * ones spares the hash table */
  if (self->recent_senders[slot] != 0)
    {
      sc = g_ptr_array_index (self->sum.senders, self->recent_senders[slot] - 1);
      if (strcmp (sc->name, name) == 0)
        {
          sc->count++;
          return;
        }
    }
  guint idx = GPOINTER_TO_UINT (g_hash_table_lookup (self->sender_index, name));
  if (idx == 0)
    {
      if (self->sum.senders->len >= WA_PARSER_MAX_SENDERS)
        {
          self->sum.n_untracked_sender_messages++;
          return;
        }
      sc = g_new0 (WaSenderCount, 1);
      sc->name = g_strdup (name);
      g_ptr_array_add (self->sum.senders, sc);
      idx = self->sum.senders->len;
      g_hash_table_insert (self->sender_index, sc->name, GUINT_TO_POINTER (idx));
    }
  sc = g_ptr_array_index (self->sum.senders, idx - 1);
  sc->count++;
  self->recent_senders[slot] = idx;
}

static gboolean
emit (WaParser *self, const WaStamp *st, WaMessage *msg, GError **error)
{
  WaSummary *sum = &self->sum;
  g_autoptr (GError) local_error = NULL;

  msg->ts_ms = stamp_to_ms (self, st, self->order);
  if (sum->n_messages == 0)
    sum->first_ts_ms = msg->ts_ms;
  sum->last_ts_ms = msg->ts_ms;
  sum->n_messages++;
  switch (msg->kind)
    {
    case WA_KIND_TEXT: sum->n_text++; break;
    case WA_KIND_SYSTEM: sum->n_system++; break;
    case WA_KIND_MEDIA_OMITTED: sum->n_media_omitted++; break;
    case WA_KIND_ATTACHMENT: sum->n_attachments++; break;
    case WA_KIND_DELETED: sum->n_deleted++; break;
    case WA_KIND_CALL: sum->n_calls++; break;
    default: break;
    }
  if (msg->edited)
    sum->n_edited++;
  if (msg->truncated)
    sum->n_truncated++;
  if (msg->sender != NULL)
    count_sender (self, msg->sender);

  if (self->cb != NULL && !self->cb (msg, self->user_data, &local_error))
    {
      if (local_error == NULL)
        g_set_error (&local_error, WA_PARSER_ERROR, WA_PARSER_ERROR_ABORTED,
                     "import stopped by the consumer at line %u", msg->line_no);
      self->failure = g_error_copy (local_error);
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  return TRUE;
}

static gboolean
flush_pending (WaParser *self, GError **error)
{
  const char *store = self->pending_store->str;

  for (guint i = 0; i < self->pending->len; i++)
    {
      const WaPending *pm = &g_array_index (self->pending, WaPending, i);
      WaMessage msg = {
        .kind = pm->kind,
        .sender = pm->sender_off == G_MAXSIZE ? NULL : store + pm->sender_off,
        .text = store + pm->text_off,
        .attachment = pm->attach_off == G_MAXSIZE ? NULL : store + pm->attach_off,
        .edited = pm->edited,
        .truncated = pm->truncated,
        .line_no = pm->line_no,
      };
      if (!emit (self, &pm->stamp, &msg, error))
        return FALSE;
    }
  g_array_set_size (self->pending, 0);
  g_string_truncate (self->pending_store, 0);
  return TRUE;
}

static gboolean
decide_order (WaParser *self, WaDateOrder order, WaOrderSource source, GError **error)
{
  self->order_known = TRUE;
  self->order = order;
  self->order_source = source;
  return flush_pending (self, error);
}

static gboolean
year_last (guint o)
{
  return o == WA_DATE_ORDER_DAY_FIRST || o == WA_DATE_ORDER_MONTH_FIRST;
}

/* Without a single date to settle it.  First the chronology of the queued
 * lines: the order that keeps them non-decreasing (fewest steps back), then
 * the one that keeps them closest together (a chat is read day by day, not a
 * month or a year at a time).  Then the language's hints, then defaults:
 * the year where it gives the latest date not in the future, day first. */
static gboolean
decide_order_undecided (WaParser *self, GError **error)
{
  guint cand = self->cand_orders & ALL_ORDERS;
  guint64 back[N_ORDERS] = { 0 };
  guint64 span[N_ORDERS] = { 0 };
  guint n = self->pending->len;

  if (cand == 0)
    cand = ALL_ORDERS;
  if (n >= 2)
    {
      for (guint o = 0; o < N_ORDERS; o++)
        {
          if (!(cand & (1u << o)))
            continue;
          gint64 prev = stamp_local (&g_array_index (self->pending, WaPending, 0).stamp, o);
          for (guint i = 1; i < n; i++)
            {
              gint64 t = stamp_local (&g_array_index (self->pending, WaPending, i).stamp, o);
              if (t < prev)
                back[o]++;
              span[o] += (guint64) (t < prev ? prev - t : t - prev);
              prev = t;
            }
        }
      gint best = -1;
      gboolean tie = FALSE;
      for (guint o = 0; o < N_ORDERS; o++)
        if ((cand & (1u << o))
            && (best < 0 || back[o] < back[best]
                || (back[o] == back[best] && span[o] < span[best])))
          best = (gint) o;
      /* as many steps back: the spread decides only by a clear margin (a
       * chat read day by day against month by month), else the language */
      for (guint o = 0; o < N_ORDERS && best >= 0; o++)
        if ((cand & (1u << o)) && (gint) o != best && back[o] == back[best]
            && span[o] < 4 * span[best] + 1)
          tie = TRUE;
      if (best >= 0 && !tie)
        return decide_order (self, (WaDateOrder) best, WA_ORDER_SOURCE_CHRONOLOGY, error);
    }

  /* Year first or last: last with "/" and "." (Korean "yy. M. d." has
   * spaces), else the reading of the first date that is the latest not in
   * the future ("24-01-15" is 2024, not 2015). */
  if ((cand & 0x3) && (cand & 0xC) && self->hint_year_last)
    cand &= 0x3;
  if ((cand & 0x3) && (cand & 0xC) && n > 0)
    {
      const WaStamp *st = &g_array_index (self->pending, WaPending, 0).stamp;
      gint64 now = g_get_real_time () / G_USEC_PER_SEC + 86400;
      gint64 best_last = G_MININT64, best_first = G_MININT64;
      for (guint o = 0; o < N_ORDERS; o++)
        {
          if (!(cand & (1u << o)))
            continue;
          gint64 t = stamp_local (st, o);
          if (t > now)
            continue;
          if (year_last (o))
            best_last = MAX (best_last, t);
          else
            best_first = MAX (best_first, t);
        }
      cand &= best_first > best_last ? 0xC : 0x3;
    }
  if ((cand & (1u << WA_DATE_ORDER_DAY_FIRST)) && (cand & (1u << WA_DATE_ORDER_MONTH_FIRST)))
    {
      if (self->hint_day_first || self->hint_12h_dotted)
        return decide_order (self, WA_DATE_ORDER_DAY_FIRST, WA_ORDER_SOURCE_LOCALE, error);
      if (self->hint_month_first)
        return decide_order (self, WA_DATE_ORDER_MONTH_FIRST, WA_ORDER_SOURCE_LOCALE, error);
    }
  for (guint o = 0; o < N_ORDERS; o++)
    if (cand & (1u << o))
      return decide_order (self, (WaDateOrder) o, WA_ORDER_SOURCE_DEFAULT, error);
  return decide_order (self, WA_DATE_ORDER_DAY_FIRST, WA_ORDER_SOURCE_DEFAULT, error);
}

static gsize
store_str (GString *store, const char *s, gsize len)
{
  gsize off = store->len;
  g_string_append_len (store, s, (gssize) len);
  g_string_append_c (store, '\0');
  return off;
}

static void
note_hint (WaParser *self, WaHint hint)
{
  if (hint == HINT_DAY_FIRST)
    self->hint_day_first = TRUE;
}

static gboolean
has_prefix_len (const char *s, gsize len, const char *prefix, gsize *plen)
{
  gsize n = strlen (prefix);
  *plen = n;
  return len >= n && memcmp (s, prefix, n) == 0;
}

/* Classifies the accumulated message and emits it, or queues it while the
 * date order is unknown. */
static gboolean
finish_current (WaParser *self, GError **error)
{
  GString *text = self->cur_text;
  const char *sender = self->cur_has_sender ? self->cur_sender->str : NULL;
  WaKind kind = sender != NULL ? WA_KIND_TEXT : WA_KIND_SYSTEM;
  gboolean edited = FALSE;
  const char *attach = NULL;
  gsize attach_len = 0;
  const char *body = text->str;
  gsize body_len;

  self->have_cur = FALSE;

  /* Trailing blank continuation lines carry nothing. */
  while (text->len > 0 && (text->str[text->len - 1] == '\n' || text->str[text->len - 1] == ' '))
    g_string_truncate (text, text->len - 1);

  if (text->len > 0 && text->str[text->len - 1] == '>')
    {
      GArray *edited_markers = self->tables->edited;
      for (guint i = 0; i < edited_markers->len; i++)
        {
          const WaMarker *em = &g_array_index (edited_markers, WaMarker, i);
          gsize n = strlen (em->text);
          if (text->len >= n && memcmp (text->str + text->len - n, em->text, n) == 0)
            {
              edited = TRUE;
              note_hint (self, em->hint);
              g_string_truncate (text, text->len - n);
              while (text->len > 0 && (text->str[text->len - 1] == ' '
                                       || text->str[text->len - 1] == '\n'))
                g_string_truncate (text, text->len - 1);
              break;
            }
        }
    }
  body = text->str;
  body_len = text->len;

  if (sender != NULL)
    {
      const char *nl = memchr (text->str, '\n', text->len);
      gsize first_len = nl != NULL ? (gsize) (nl - text->str) : text->len;
      const char *first = text->str;

      if (nl == NULL && text->len > 0 && text->len <= MAX_WHOLE_MARKER)
        {
          gsize klen = text->len;
          if (klen > 1 && text->str[klen - 1] == '.')
            klen--;
          const WaTables *t = self->tables;
          const WaMarker *mk = NULL;
          guint bit = marker_bloom_bit (text->str, klen);
          if (t->whole_bloom[bit >> 6] & (G_GUINT64_CONSTANT (1) << (bit & 63)))
            {
              char key[MAX_WHOLE_MARKER + 1];
              memcpy (key, text->str, klen);
              key[klen] = '\0';
              mk = g_hash_table_lookup (t->whole, key);
            }
          if (mk == NULL && klen > 17
              && memcmp (text->str + klen - 17, " document omitted", 17) == 0)
            mk = g_hash_table_lookup (t->whole, "document omitted");
          if (mk != NULL)
            {
              kind = mk->kind;
              note_hint (self, mk->hint);
            }
        }
      if (kind == WA_KIND_TEXT && first_len > 2 && first[first_len - 1] == ')')
        {
          GArray *suffixes = self->tables->file_suffix;
          for (guint i = 0; i < suffixes->len; i++)
            {
              const WaMarker *fm = &g_array_index (suffixes, WaMarker, i);
              gsize n = strlen (fm->text);
              if (first_len > n && memcmp (first + first_len - n, fm->text, n) == 0)
                {
                  kind = WA_KIND_ATTACHMENT;
                  note_hint (self, fm->hint);
                  attach = first;
                  attach_len = first_len - n;
                  break;
                }
            }
        }
      gsize close = first_len > 3 && first[first_len - 1] == '>' ? 1
                    : first_len > 6 && memcmp (first + first_len - 3, "\xE2\x80\xBA", 3) == 0
                        ? 3
                        : 0;
      if (kind == WA_KIND_TEXT && close > 0
          && (first[0] == '<' || memcmp (first, "\xE2\x80\xB9", 3) == 0))
        {
          gsize open = first[0] == '<' ? 1 : 3;
          GArray *prefixes = self->tables->file_prefix;
          for (guint i = 0; i < prefixes->len && open + close < first_len; i++)
            {
              const WaMarker *fm = &g_array_index (prefixes, WaMarker, i);
              gsize n;
              if (has_prefix_len (first + open, first_len - open - close, fm->text, &n))
                {
                  kind = WA_KIND_ATTACHMENT;
                  note_hint (self, fm->hint);
                  attach = first + open + n;
                  attach_len = first_len - open - n - close;
                  break;
                }
            }
        }
      if (kind == WA_KIND_ATTACHMENT)
        {
          body = nl != NULL ? nl + 1 : text->str + text->len;
          body_len = (gsize) (text->str + text->len - body);
        }
      else if (kind == WA_KIND_TEXT && self->cur_lrm
               && !g_str_has_prefix (text->str, "Location: ")
               && !g_str_has_prefix (text->str, "POLL:"))
        {
          /* iOS writes system events as from the chat, text led by U+200E */
          kind = WA_KIND_SYSTEM;
          sender = NULL;
        }
    }
  if (kind == WA_KIND_SYSTEM && !self->order_known && !self->hint_day_first)
    {
      for (gsize i = 0; i < G_N_ELEMENTS (day_first_system_words); i++)
        if (strstr (body, day_first_system_words[i]) != NULL)
          {
            self->hint_day_first = TRUE;
            break;
          }
    }

  if (self->order_known)
    {
      /* body is text itself or its NUL-terminated tail after the file line */
      if (attach != NULL)
        {
          g_string_truncate (self->attach_buf, 0);
          g_string_append_len (self->attach_buf, attach, (gssize) attach_len);
        }
      WaMessage msg = {
        .kind = kind,
        .sender = sender,
        .text = body,
        .attachment = attach != NULL ? self->attach_buf->str : NULL,
        .edited = edited,
        .truncated = self->cur_truncated,
        .line_no = self->cur_line_no,
      };
      return emit (self, &self->cur_stamp, &msg, error);
    }

  WaPending pm = {
    .stamp = self->cur_stamp,
    .kind = kind,
    .edited = edited,
    .truncated = self->cur_truncated,
    .line_no = self->cur_line_no,
    .sender_off = G_MAXSIZE,
    .attach_off = G_MAXSIZE,
  };
  if (sender != NULL)
    pm.sender_off = store_str (self->pending_store, sender, self->cur_sender->len);
  pm.text_off = store_str (self->pending_store, body, body_len);
  if (attach != NULL)
    pm.attach_off = store_str (self->pending_store, attach, attach_len);
  g_array_append_val (self->pending, pm);

  if (self->pending->len >= WA_PARSER_MAX_PENDING
      || self->pending_store->len >= WA_PARSER_MAX_PENDING_BYTES)
    return decide_order_undecided (self, error);
  return TRUE;
}

/* g_string_append_len() without the call when the string has room. */
static inline void
gs_append (GString *t, const char *s, gsize n)
{
  if (t->len + n < t->allocated_len)
    {
      memcpy (t->str + t->len, s, n);
      t->len += n;
      t->str[t->len] = '\0';
    }
  else
    g_string_append_len (t, s, (gssize) n);
}

static void
append_text (WaParser *self, const char *s, gsize len)
{
  GString *t = self->cur_text;
  gsize room = WA_PARSER_MAX_MESSAGE_BYTES - MIN (t->len, WA_PARSER_MAX_MESSAGE_BYTES);
  gsize n = utf8_cut (s, len, room);

  if (n < len)
    self->cur_truncated = TRUE;
  gs_append (t, s, n);
}

static gboolean
handle_line (WaParser *self, const char *line, gsize len, gboolean truncated, gint clean,
             GError **error)
{
  WaStamp st;
  gsize rest;

  self->line_no++;
  self->sum.n_lines++;
  if (len > 0 && line[len - 1] == '\r')
    len--;
  if (len > WA_PARSER_MAX_MESSAGE_BYTES)
    {
      len = utf8_cut (line, len, WA_PARSER_MAX_MESSAGE_BYTES);
      truncated = TRUE;
    }

  self->n_lrm_marks = 0;
  /* clean: 1 known clean, 0 known not, -1 to be checked */
  const char *raw = line;
  gsize raw_len = len;
  guint64 n_invalid = self->sum.n_invalid_utf8;
  gboolean digits = FALSE;
  if (clean == 0 || (clean < 0 && !line_is_clean (line, len)))
    {
      len = sanitize_line (self, line, len, TRUE, &digits);
      line = self->clean;
    }

  gboolean is_header = match_header (self, line, len, &st, &rest);
  if (!is_header && digits)
    {
      /* not a header after all: its Arabic-Indic digits are text */
      self->n_lrm_marks = 0;
      self->sum.n_invalid_utf8 = n_invalid;
      len = sanitize_line (self, raw, raw_len, FALSE, &digits);
    }
  if (is_header)
    {
      if (self->have_cur && !finish_current (self, error))
        return FALSE;

      self->have_cur = TRUE;
      self->cur_stamp = st;
      self->cur_line_no = (guint) MIN (self->line_no, G_MAXUINT);
      self->cur_truncated = truncated;
      self->cur_lrm = FALSE;
      self->cur_has_sender = FALSE;
      g_string_truncate (self->cur_text, 0);

      const char *r = line + rest;
      gsize rlen = len - rest;
      gsize name_len = 0, text_start = 0;
      gboolean has_sender = FALSE;
      const char *colon = memchr (r, ':', MIN (rlen, MAX_SENDER_BYTES + 1));
      while (colon != NULL)
        {
          gsize c = (gsize) (colon - r);
          if (c + 1 >= rlen || r[c + 1] == ' ')
            {
              has_sender = c > 0;
              name_len = c;
              text_start = MIN (c + 2, rlen);
              break;
            }
          colon = memchr (colon + 1, ':', MIN (rlen, MAX_SENDER_BYTES + 1) - c - 1);
        }
      if (!has_sender)
        {
          /* "Name:text" with no space, as some exports write "Name:." */
          colon = memchr (r, ':', MIN (rlen, MAX_SENDER_BYTES + 1));
          if (colon != NULL && colon > r && !g_ascii_isdigit (colon[-1])
              && !g_ascii_isdigit (colon[1]) && colon[1] != '/')
            {
              has_sender = TRUE;
              name_len = (gsize) (colon - r);
              text_start = name_len + 1;
            }
        }
      if (has_sender && memchr (r, '"', name_len) != NULL)
        has_sender = FALSE; /* system line quoting a subject that holds ": " */
      if (has_sender)
        {
          self->cur_has_sender = TRUE;
          self->cur_sender->len = 0;
          gs_append (self->cur_sender, r, name_len);
          while (self->cur_sender->len > 0
                 && self->cur_sender->str[self->cur_sender->len - 1] == ' ')
            g_string_truncate (self->cur_sender, self->cur_sender->len - 1);
          if (self->cur_sender->len == 0)
            self->cur_has_sender = FALSE;
        }
      else
        text_start = 0;

      for (guint k = 0; k < self->n_lrm_marks; k++)
        if (self->lrm_marks[k] == rest + text_start)
          self->cur_lrm = TRUE;
      append_text (self, r + text_start, rlen - text_start);

      if (!self->order_known)
        {
          self->cand_orders &= st.orders;
          if ((self->cand_orders & (self->cand_orders - 1)) == 0)
            return decide_order (self, (WaDateOrder) g_bit_nth_lsf (self->cand_orders, -1),
                                 WA_ORDER_SOURCE_EVIDENCE, error);
        }
      return TRUE;
    }

  if (self->have_cur)
    {
      if (truncated)
        self->cur_truncated = TRUE;
      append_text (self, "\n", 1);
      append_text (self, line, len);
      return TRUE;
    }

  if (len > 0)
    {
      self->sum.n_unparsed_lines++;
      if (self->sum.unparsed_line_nos->len < WA_PARSER_MAX_UNPARSED_LINE_NOS)
        {
          guint n = (guint) MIN (self->line_no, G_MAXUINT);
          g_array_append_val (self->sum.unparsed_line_nos, n);
        }
    }
  if (truncated)
    self->sum.n_truncated++;
  return TRUE;
}

/* ---- public API -------------------------------------------------------- */

/* See wa-parser.h. */
WaParser *
wa_parser_new (const char *tz_name, WaCallback cb, gpointer user_data, GError **error)
{
  GTimeZone *tz = g_time_zone_new_identifier (tz_name != NULL ? tz_name : "Europe/Paris");

  if (tz == NULL)
    {
      g_set_error (error, WA_PARSER_ERROR, WA_PARSER_ERROR_TIMEZONE, "unknown time zone “%s”",
                   tz_name);
      return NULL;
    }

  WaParser *self = g_new0 (WaParser, 1);
  self->tables = tables ();
  self->tz = tz;
  self->cb = cb;
  self->user_data = user_data;
  self->carry = g_string_sized_new (256);
  /* worst case: every input byte becomes a 3-byte U+FFFD */
  self->clean_alloc = 3 * (gsize) WA_PARSER_MAX_MESSAGE_BYTES + 16;
  self->clean = g_malloc (self->clean_alloc);
  self->cur_sender = g_string_sized_new (64);
  self->cur_text = g_string_sized_new (1024);
  self->attach_buf = g_string_sized_new (128);
  self->pending = g_array_new (FALSE, FALSE, sizeof (WaPending));
  self->pending_store = g_string_sized_new (4096);
  self->sum.senders = g_ptr_array_new ();
  self->sum.unparsed_line_nos = g_array_new (FALSE, FALSE, sizeof (guint));
  self->sender_index = g_hash_table_new (g_str_hash, g_str_equal);
  self->cand_orders = ALL_ORDERS;
  return self;
}

static gboolean
check_usable (WaParser *self, GError **error)
{
  if (self->failure != NULL)
    {
      g_propagate_error (error, g_error_copy (self->failure));
      return FALSE;
    }
  if (self->finished)
    {
      g_set_error_literal (error, WA_PARSER_ERROR, WA_PARSER_ERROR_FAILED,
                           "parser already finished");
      return FALSE;
    }
  return TRUE;
}

static gboolean
feed_utf8 (WaParser *self, const char *buf, gsize len, GError **error)
{
  const char *p = buf;
  const char *end = buf + len;

  if (self->carry->len > 0 || self->carry_truncated)
    {
      const char *nl = memchr (p, '\n', len);
      gsize take = nl != NULL ? (gsize) (nl - p) : len;
      gsize room = WA_PARSER_MAX_MESSAGE_BYTES + 1 - MIN (self->carry->len,
                                                           WA_PARSER_MAX_MESSAGE_BYTES + 1);
      if (take > room)
        self->carry_truncated = TRUE;
      g_string_append_len (self->carry, p, (gssize) MIN (take, room));
      if (nl == NULL)
        return TRUE;
      gboolean ok = handle_line (self, self->carry->str, self->carry->len,
                                 self->carry_truncated, -1, error);
      g_string_truncate (self->carry, 0);
      self->carry_truncated = FALSE;
      if (!ok)
        return FALSE;
      p = nl + 1;
    }

  while (p < end)
    {
      gboolean clean;
      gsize k = scan_line (p, (gsize) (end - p), &clean);
      const char *nl = p + k < end ? p + k : NULL;
      if (nl == NULL)
        {
          gsize take = (gsize) (end - p);
          gsize room = WA_PARSER_MAX_MESSAGE_BYTES + 1;
          if (take > room)
            self->carry_truncated = TRUE;
          g_string_append_len (self->carry, p, (gssize) MIN (take, room));
          break;
        }
      if (!handle_line (self, p, (gsize) (nl - p), FALSE, clean ? 1 : 0, error))
        return FALSE;
      p = nl + 1;
    }
  return TRUE;
}

static char *
put_utf8 (char *o, gunichar u)
{
  return o + g_unichar_to_utf8 (u, o);
}

/* UTF-16 to UTF-8, streaming: an odd byte and a high surrogate may wait for
 * the next feed.  Unpaired surrogates become U+FFFD. */
static gboolean
feed_utf16 (WaParser *self, const guchar *p, gsize len, GError **error)
{
  gboolean le = self->enc == ENC_UTF16LE;

  while (len > 0)
    {
      gsize take = MIN (len, U16_CHUNK);
      char *o = self->u16_out;
      for (gsize i = 0; i < take; i++)
        {
          if (!self->u16_have_odd)
            {
              self->u16_odd = p[i];
              self->u16_have_odd = TRUE;
              continue;
            }
          self->u16_have_odd = FALSE;
          gunichar u = le ? (gunichar) (self->u16_odd | (p[i] << 8))
                          : (gunichar) ((self->u16_odd << 8) | p[i]);
          if (self->u16_high != 0)
            {
              gunichar hi = self->u16_high;
              self->u16_high = 0;
              if (u >= 0xDC00 && u <= 0xDFFF)
                {
                  o = put_utf8 (o, 0x10000 + ((hi - 0xD800) << 10) + (u - 0xDC00));
                  continue;
                }
              self->sum.n_invalid_utf8++;
              o = put_utf8 (o, 0xFFFD);
            }
          if (u >= 0xD800 && u <= 0xDBFF)
            self->u16_high = u;
          else if (u >= 0xDC00 && u <= 0xDFFF)
            {
              self->sum.n_invalid_utf8++;
              o = put_utf8 (o, 0xFFFD);
            }
          else
            o = put_utf8 (o, u);
        }
      if (!feed_utf8 (self, self->u16_out, (gsize) (o - self->u16_out), error))
        return FALSE;
      p += take;
      len -= take;
    }
  return TRUE;
}

static gboolean
feed_decoded (WaParser *self, const guchar *p, gsize len, GError **error)
{
  if (self->enc == ENC_UTF8)
    return feed_utf8 (self, (const char *) p, len, error);
  return feed_utf16 (self, p, len, error);
}

/* Decides the encoding on the first two bytes: a UTF-16 BOM, or a NUL next
 * to the first character (UTF-16 without BOM), else UTF-8. */
static gboolean
feed_head (WaParser *self, GError **error)
{
  const guint8 *h = self->head;
  gsize skip = 0;

  if (self->n_head == 2 && h[0] == 0xFF && h[1] == 0xFE)
    self->enc = ENC_UTF16LE, skip = 2;
  else if (self->n_head == 2 && h[0] == 0xFE && h[1] == 0xFF)
    self->enc = ENC_UTF16BE, skip = 2;
  else if (self->n_head == 2 && h[0] != 0 && h[1] == 0)
    self->enc = ENC_UTF16LE;
  else if (self->n_head == 2 && h[0] == 0 && h[1] != 0)
    self->enc = ENC_UTF16BE;
  else
    self->enc = ENC_UTF8;
  if (self->enc != ENC_UTF8)
    self->u16_out = g_malloc (U16_CHUNK / 2 * 4 + 8);
  return feed_decoded (self, h + skip, self->n_head - skip, error);
}

/* See wa-parser.h. */
gboolean
wa_parser_feed (WaParser *self, const char *buf, gsize len, GError **error)
{
  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (buf != NULL || len == 0, FALSE);

  if (!check_usable (self, error))
    return FALSE;
  self->sum.n_bytes += len;

  const guchar *p = (const guchar *) buf;
  if (self->enc == ENC_UNKNOWN)
    {
      while (len > 0 && self->n_head < 2)
        {
          self->head[self->n_head++] = *p++;
          len--;
        }
      if (self->n_head < 2)
        return TRUE;
      if (!feed_head (self, error))
        return FALSE;
    }
  return feed_decoded (self, p, len, error);
}

/* See wa-parser.h. */
gboolean
wa_parser_finish (WaParser *self, WaSummary *out, GError **error)
{
  g_return_val_if_fail (self != NULL, FALSE);

  if (!check_usable (self, error))
    return FALSE;
  if (self->enc == ENC_UNKNOWN && !feed_head (self, error))
    return FALSE;
  if (self->enc != ENC_UTF8 && (self->u16_have_odd || self->u16_high != 0))
    {
      char tail[4];
      self->u16_have_odd = FALSE;
      self->u16_high = 0;
      self->sum.n_invalid_utf8++;
      if (!feed_utf8 (self, tail, (gsize) (put_utf8 (tail, 0xFFFD) - tail), error))
        return FALSE;
    }
  if (self->carry->len > 0 || self->carry_truncated)
    {
      gboolean ok = handle_line (self, self->carry->str, self->carry->len,
                                 self->carry_truncated, -1, error);
      g_string_truncate (self->carry, 0);
      self->carry_truncated = FALSE;
      if (!ok)
        return FALSE;
    }
  if (self->have_cur && !finish_current (self, error))
    return FALSE;
  if (!self->order_known && !decide_order_undecided (self, error))
    return FALSE;
  self->finished = TRUE;

  if (out != NULL)
    {
      *out = self->sum;
      out->date_order = self->order;
      out->order_source = self->order_source;
      /* ownership moves to the caller; keep empty containers for free() */
      g_hash_table_remove_all (self->sender_index);
      memset (self->recent_senders, 0, sizeof self->recent_senders);
      self->sum.senders = g_ptr_array_new ();
      self->sum.unparsed_line_nos = g_array_new (FALSE, FALSE, sizeof (guint));
    }
  return TRUE;
}

static void
sender_count_free (gpointer p)
{
  WaSenderCount *sc = p;
  g_free (sc->name);
  g_free (sc);
}

/* See wa-parser.h. */
void
wa_summary_clear (WaSummary *summary)
{
  if (summary == NULL)
    return;
  if (summary->senders != NULL)
    {
      g_ptr_array_set_free_func (summary->senders, sender_count_free);
      g_ptr_array_unref (summary->senders);
    }
  if (summary->unparsed_line_nos != NULL)
    g_array_unref (summary->unparsed_line_nos);
  memset (summary, 0, sizeof *summary);
}

/* See wa-parser.h. */
void
wa_parser_free (WaParser *self)
{
  if (self == NULL)
    return;
  g_hash_table_unref (self->sender_index);
  wa_summary_clear (&self->sum);
  g_time_zone_unref (self->tz);
  g_string_free (self->carry, TRUE);
  g_free (self->clean);
  g_free (self->u16_out);
  g_string_free (self->cur_sender, TRUE);
  g_string_free (self->cur_text, TRUE);
  g_string_free (self->attach_buf, TRUE);
  g_array_unref (self->pending);
  g_string_free (self->pending_store, TRUE);
  g_clear_error (&self->failure);
  g_free (self);
}

/* See wa-parser.h. */
char *
wa_normalize_phone (const char *sender)
{
  g_return_val_if_fail (sender != NULL, NULL);

  const char *p = sender;
  GString *digits = g_string_sized_new (16);

  /* bidi marks often wrap numbers copied out of the app */
  for (;;)
    {
      if (*p == ' ')
        p++;
      else if (g_str_has_prefix (p, "\xE2\x80\x8E") || g_str_has_prefix (p, "\xE2\x80\x8F")
               || g_str_has_prefix (p, "\xE2\x80\xAA") || g_str_has_prefix (p, "\xE2\x81\xA6"))
        p += 3;
      else
        break;
    }
  if (*p == '+')
    p++;
  else if (p[0] == '0' && p[1] == '0')
    p += 2;
  else
    return (g_string_free (digits, TRUE), NULL);

  for (; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char_validated (p, -1);
      if (c >= '0' && c <= '9')
        g_string_append_c (digits, (char) c);
      else if (c == ' ' || c == '-' || c == '(' || c == ')' || c == '.' || c == 0x00A0
               || c == 0x202F || c == 0x2011 || c == 0x2010 || c == 0x200E || c == 0x200F
               || (c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069))
        continue;
      else
        return (g_string_free (digits, TRUE), NULL);
    }
  if (digits->len < 7 || digits->len > 15 || digits->str[0] == '0')
    return (g_string_free (digits, TRUE), NULL);
  return g_string_free (digits, FALSE);
}

/* See wa-parser.h. */
const char *
wa_kind_to_string (WaKind kind)
{
  switch (kind)
    {
    case WA_KIND_TEXT: return "text";
    case WA_KIND_SYSTEM: return "system";
    case WA_KIND_MEDIA_OMITTED: return "media-omitted";
    case WA_KIND_ATTACHMENT: return "attachment";
    case WA_KIND_DELETED: return "deleted";
    case WA_KIND_CALL: return "call";
    default: return "unknown";
    }
}

/* See wa-parser.h. */
const char *
wa_date_order_to_string (WaDateOrder order)
{
  switch (order)
    {
    case WA_DATE_ORDER_DAY_FIRST: return "day-first";
    case WA_DATE_ORDER_MONTH_FIRST: return "month-first";
    case WA_DATE_ORDER_YEAR_FIRST: return "year-first";
    case WA_DATE_ORDER_YEAR_DAY_MONTH: return "year-day-month";
    default: return "unknown";
    }
}

/* See wa-parser.h. */
const char *
wa_order_source_to_string (WaOrderSource source)
{
  switch (source)
    {
    case WA_ORDER_SOURCE_EVIDENCE: return "a date in the file settles it";
    case WA_ORDER_SOURCE_CHRONOLOGY:
      return "no single date settles it; the only order that keeps the messages in sequence, "
             "day after day";
    case WA_ORDER_SOURCE_LOCALE:
      return "ASSUMED from the language of the export: no date in the file settles it, check "
             "the dates";
    default: return "ASSUMED by default: nothing in the file settles it, check the dates";
    }
}
