/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The memory budget of a transaction's JSON tree: the cost estimate and the
 * rewrite of a body that would go over it (see pa-txn-budget.h).
 *
 * The scan reads the bytes the way JSON is laid out (strings skipped with
 * their escapes, brackets counted) without validating them: jansson
 * validates whatever is parsed afterwards.  The costs are upper bounds of
 * jansson 2.x's allocations measured with glibc's malloc, per item: an
 * object ~235 bytes, an array ~140, a member or element slot ~45–135, plus
 * the text itself. */
#define G_LOG_DOMAIN "passerelle-appservice"

#include "pa-common.h"
#include "appservice/pa-txn-budget.h"

#include <string.h>

#define COST_OBJECT (256 + 96) /* the object, and its first member */
#define COST_ARRAY (160 + 96)  /* the array, and its first element */
#define COST_COMMA 96          /* one more member or element */
#define COST_COLON 160         /* a member's key and hash slot */
#define COST_SCALAR 96         /* a value outside any container */
/* Scalars of an event's envelope longer than this are left out of a stub. */
#define STUB_MAX_SCALAR 1024

#define BAD ((gsize) -1)

/* Where a scan of JSON's layout stands: in a string (and after a
 * backslash), how deep in containers, and the cost seen so far. */
typedef struct
{
  guint depth;
  gboolean in_string, escaped;
  guint64 cost;
} Scan;

/* Reads one byte: strings are skipped with their escapes, containers
 * counted with their cost.  FALSE for a closing bracket with none open
 * (the depth stays 0). */
static gboolean
scan_byte (Scan *s, char ch)
{
  if (s->in_string)
    {
      if (s->escaped)
        s->escaped = FALSE;
      else if (ch == '\\')
        s->escaped = TRUE;
      else if (ch == '"')
        s->in_string = FALSE;
      return TRUE;
    }
  switch (ch)
    {
    case '"':
      s->in_string = TRUE;
      break;
    case '{':
    case '[':
      s->depth++;
      s->cost += ch == '{' ? COST_OBJECT : COST_ARRAY;
      break;
    case '}':
    case ']':
      if (s->depth == 0)
        return FALSE;
      s->depth--;
      break;
    case ',':
      s->cost += COST_COMMA;
      break;
    case ':':
      s->cost += COST_COLON;
      break;
    default:
      break;
    }
  return TRUE;
}

gboolean
pa_txn_budget_cost (const char *data, gsize len, guint max_depth, guint64 *cost)
{
  Scan s = { .cost = COST_SCALAR + len };

  for (gsize i = 0; i < len; i++)
    {
      /* A stray closing bracket is jansson's to refuse. */
      (void) scan_byte (&s, data[i]);
      if (s.depth > max_depth)
        return FALSE;
    }
  *cost = s.cost;
  return TRUE;
}

static gsize
skip_ws (const char *d, gsize len, gsize i)
{
  while (i < len && (d[i] == ' ' || d[i] == '\t' || d[i] == '\n' || d[i] == '\r'))
    i++;
  return i;
}

/* The end (exclusive) of the value starting at i, or BAD; *cost (if not
 * NULL) gets its estimate. */
static gsize
value_end (const char *d, gsize len, gsize i, guint64 *cost)
{
  gsize start = i;
  Scan s = { .cost = COST_SCALAR };

  if (i >= len)
    return BAD;
  if (d[i] != '"' && d[i] != '{' && d[i] != '[')
    {
      while (i < len && strchr (",]} \t\r\n", d[i]) == NULL)
        i++;
      if (i == start)
        return BAD;
      if (cost != NULL)
        *cost = s.cost + (i - start);
      return i;
    }
  /* A string up to its closing quote, a container up to its closing
   * bracket. */
  for (; i < len; i++)
    {
      if (!scan_byte (&s, d[i]))
        return BAD;
      if (s.depth == 0 && !s.in_string)
        break;
    }
  if (i >= len)
    return BAD;
  if (cost != NULL)
    *cost = s.cost + (i + 1 - start);
  return i + 1;
}

static gboolean
key_is (const char *d, gsize start, gsize end, const char *name)
{
  gsize n = strlen (name);

  return end - start == n + 2 && memcmp (d + start + 1, name, n) == 0;
}

/* A stub for the event at [start, end): its envelope's short scalars, an
 * empty content, the stripped mark; "null" when it is not an object. */
static void
append_stub (GString *out, const char *d, gsize start, gsize end)
{
  static const char *const keep[]
      = { "type", "event_id", "room_id", "sender", "state_key", "origin_server_ts", "redacts" };
  gsize i = start + 1;

  if (d[start] != '{')
    {
      g_string_append (out, "null");
      return;
    }
  g_string_append_c (out, '{');
  for (;;)
    {
      gsize kstart, kend, vstart, vend;

      i = skip_ws (d, end, i);
      if (i >= end || d[i] != '"')
        break;
      kstart = i;
      kend = value_end (d, end, i, NULL);
      if (kend == BAD)
        break;
      i = skip_ws (d, end, kend);
      if (i >= end || d[i] != ':')
        break;
      vstart = skip_ws (d, end, i + 1);
      vend = value_end (d, end, vstart, NULL);
      if (vend == BAD)
        break;
      if (d[vstart] != '{' && d[vstart] != '[' && vend - vstart <= STUB_MAX_SCALAR)
        for (guint k = 0; k < G_N_ELEMENTS (keep); k++)
          if (key_is (d, kstart, kend, keep[k]))
            {
              g_string_append_len (out, d + kstart, (gssize) (kend - kstart));
              g_string_append_c (out, ':');
              g_string_append_len (out, d + vstart, (gssize) (vend - vstart));
              g_string_append_c (out, ',');
              break;
            }
      i = skip_ws (d, end, vend);
      if (i >= end || d[i] != ',')
        break;
      i++;
    }
  g_string_append (out, "\"content\":{},\"" PA_TXN_STRIPPED_KEY "\":true}");
}

static void
fail_json (GError **error, gsize at)
{
  g_set_error (error, PA_ERROR, PA_ERROR_JSON, "M_NOT_JSON: malformed transaction near byte %zu",
               at);
}

/* The entries of the array at *i (on its '['), copied or replaced. */
static gboolean
rewrite_array (GString *out, const char *d, gsize len, gsize *i, const char *key, gsize keylen,
               gboolean events, guint64 budget, guint64 *used, guint max_entries, guint *n_stripped,
               GError **error)
{
  guint n = 0;
  gsize p = skip_ws (d, len, *i + 1);

  g_string_append_c (out, '[');
  if (p < len && d[p] == ']')
    {
      g_string_append_c (out, ']');
      *i = p + 1;
      return TRUE;
    }
  for (;;)
    {
      guint64 cost = 0;
      gsize e = value_end (d, len, p, &cost);

      if (e == BAD)
        {
          fail_json (error, p);
          return FALSE;
        }
      if (++n > max_entries)
        {
          g_set_error (error, PA_ERROR, PA_ERROR_TOO_LARGE,
                       "M_TOO_LARGE: \"%.*s\" has more than %u entries", (int) keylen, key,
                       max_entries);
          return FALSE;
        }
      if (n > 1)
        g_string_append_c (out, ',');
      if (*used + cost <= budget)
        {
          g_string_append_len (out, d + p, (gssize) (e - p));
          *used += cost;
        }
      else
        {
          (*n_stripped)++;
          if (events)
            append_stub (out, d, p, e);
          else
            {
              g_warning ("transaction: %.*s[%u] too large for the memory budget (a tree of "
                         "about %" G_GUINT64_FORMAT " bytes), dropped",
                         (int) keylen, key, n - 1, cost);
              g_string_append (out, "null");
            }
        }
      p = skip_ws (d, len, e);
      if (p < len && d[p] == ',')
        {
          p = skip_ws (d, len, p + 1);
          continue;
        }
      if (p < len && d[p] == ']')
        break;
      {
        fail_json (error, p);
        return FALSE;
      }
    }
  g_string_append_c (out, ']');
  *i = p + 1;
  return TRUE;
}

char *
pa_txn_budget_rewrite (const char *data, gsize len, guint64 budget, guint max_entries,
                       gsize *out_len, guint *n_stripped, GError **error)
{
  g_autoptr (GString) out = g_string_new (NULL);
  guint64 used = 0;
  gsize i = skip_ws (data, len, 0);

  g_return_val_if_fail (data != NULL && out_len != NULL && n_stripped != NULL, NULL);

  *n_stripped = 0;
  if (i >= len || data[i] != '{')
    {
      g_set_error_literal (error, PA_ERROR, PA_ERROR_JSON,
                           "M_BAD_JSON: transaction body is not an object");
      return NULL;
    }
  g_string_append_c (out, '{');
  i = skip_ws (data, len, i + 1);
  if (i < len && data[i] == '}')
    i++;
  else
    for (;;)
      {
        gsize kstart = i, kend, v;

        if (i >= len || data[i] != '"' || (kend = value_end (data, len, i, NULL)) == BAD)
          {
            fail_json (error, i);
            return NULL;
          }
        i = skip_ws (data, len, kend);
        if (i >= len || data[i] != ':')
          {
            fail_json (error, i);
            return NULL;
          }
        v = skip_ws (data, len, i + 1);
        g_string_append_len (out, data + kstart, (gssize) (kend - kstart));
        g_string_append_c (out, ':');
        if (v < len && data[v] == '[')
          {
            i = v;
            if (!rewrite_array (out, data, len, &i, data + kstart + 1, kend - kstart - 2,
                                key_is (data, kstart, kend, "events"), budget, &used, max_entries,
                                n_stripped, error))
              return NULL;
          }
        else
          {
            guint64 cost = 0;
            gsize e = value_end (data, len, v, &cost);

            if (e == BAD)
              {
                fail_json (error, v);
                return NULL;
              }
            if (used + cost <= budget)
              {
                g_string_append_len (out, data + v, (gssize) (e - v));
                used += cost;
              }
            else
              {
                (*n_stripped)++;
                g_warning ("transaction: %.*s too large for the memory budget (a tree of about "
                           "%" G_GUINT64_FORMAT " bytes), ignored",
                           (int) (kend - kstart), data + kstart, cost);
                g_string_append (out, "null");
              }
            i = e;
          }
        i = skip_ws (data, len, i);
        if (i < len && data[i] == ',')
          {
            g_string_append_c (out, ',');
            i = skip_ws (data, len, i + 1);
            continue;
          }
        if (i < len && data[i] == '}')
          {
            i++;
            break;
          }
        {
          fail_json (error, i);
          return NULL;
        }
      }
  if (skip_ws (data, len, i) != len)
    {
      fail_json (error, i);
      return NULL;
    }
  g_string_append_c (out, '}');
  *out_len = out->len;
  return g_string_free (g_steal_pointer (&out), FALSE);
}
