/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The metrics registry and the Prometheus text exposition 0.0.4 (see
 * pa-metrics.h).  A series is found by its label values through a hash
 * table whose keys are the series themselves: a lookup hashes a key built
 * on the stack, so an update of an existing series allocates nothing. */
#define G_LOG_DOMAIN "passerelle-metrics"

#include "metrics/pa-metrics.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* The label values of a series; first member of PaSeries, so a key on the
 * stack and a stored series hash and compare alike. */
typedef struct
{
  guint n;
  const char *values[PA_METRIC_MAX_LABELS];
} PaSeriesKey;

typedef struct
{
  PaSeriesKey key; /* values owned */
  double value;    /* counter, gauge */
  double sum;      /* histogram */
  guint64 count;
  guint64 *buckets; /* histogram: observations per bucket (not cumulative) */
} PaSeries;

struct _PaMetric
{
  PaMetricType type;
  char *name;
  char *help;
  guint n_labels;
  char *labels[PA_METRIC_MAX_LABELS];
  double *bounds;
  guint n_bounds;
  GHashTable *series; /* PaSeries* (key and value) */
};

typedef struct
{
  PaMetricsCollectFunc fn;
  gpointer data;
} PaCollector;

struct _PaMetrics
{
  GPtrArray *metrics;  /* PaMetric*, in registration order */
  GHashTable *by_name; /* name → PaMetric* */
  GArray *collectors;  /* PaCollector */
};

static guint
key_hash (gconstpointer p)
{
  const PaSeriesKey *k = p;
  guint h = k->n;

  for (guint i = 0; i < k->n; i++)
    h = h * 31 + g_str_hash (k->values[i]);
  return h;
}

static gboolean
key_equal (gconstpointer a, gconstpointer b)
{
  const PaSeriesKey *x = a, *y = b;

  if (x->n != y->n)
    return FALSE;
  for (guint i = 0; i < x->n; i++)
    if (strcmp (x->values[i], y->values[i]) != 0)
      return FALSE;
  return TRUE;
}

static void
series_free (gpointer p)
{
  PaSeries *s = p;

  for (guint i = 0; i < s->key.n; i++)
    g_free ((char *) s->key.values[i]);
  g_free (s->buckets);
  g_free (s);
}

static void
metric_free (gpointer p)
{
  PaMetric *m = p;

  g_hash_table_destroy (m->series);
  g_free (m->name);
  g_free (m->help);
  for (guint i = 0; i < m->n_labels; i++)
    g_free (m->labels[i]);
  g_free (m->bounds);
  g_free (m);
}

PaMetrics *
pa_metrics_new (void)
{
  PaMetrics *r = g_new0 (PaMetrics, 1);

  r->metrics = g_ptr_array_new_with_free_func (metric_free);
  r->by_name = g_hash_table_new (g_str_hash, g_str_equal);
  r->collectors = g_array_new (FALSE, FALSE, sizeof (PaCollector));
  return r;
}

void
pa_metrics_free (PaMetrics *r)
{
  if (r == NULL)
    return;
  g_hash_table_destroy (r->by_name);
  g_ptr_array_unref (r->metrics);
  g_array_unref (r->collectors);
  g_free (r);
}

/* [a-zA-Z_:][a-zA-Z0-9_:]* for metric names; without ':' for labels. */
static gboolean
valid_name (const char *s, gboolean colon)
{
  if (s == NULL || *s == '\0' || g_ascii_isdigit (*s))
    return FALSE;
  for (; *s; s++)
    if (!g_ascii_isalnum (*s) && *s != '_' && !(colon && *s == ':'))
      return FALSE;
  return TRUE;
}

static PaSeries *series_get (PaMetric *m, const PaSeriesKey *key);

/* pa_metrics_register: see the header. */
PaMetric *
pa_metrics_register (PaMetrics *r, PaMetricType type, const char *name, const char *help,
                     const char *const *labels, const double *buckets, guint n_buckets)
{
  guint n_labels = 0;
  PaMetric *m;

  g_return_val_if_fail (r != NULL && help != NULL, NULL);
  g_return_val_if_fail (valid_name (name, TRUE), NULL);
  g_return_val_if_fail (type == PA_METRIC_HISTOGRAM || n_buckets == 0, NULL);
  g_return_val_if_fail (type != PA_METRIC_HISTOGRAM || n_buckets == 0 || buckets != NULL, NULL);
  for (guint i = 0; i + 1 < n_buckets; i++)
    g_return_val_if_fail (buckets[i] < buckets[i + 1], NULL);
  while (labels != NULL && labels[n_labels] != NULL)
    {
      g_return_val_if_fail (n_labels < PA_METRIC_MAX_LABELS, NULL);
      g_return_val_if_fail (
          valid_name (labels[n_labels], FALSE) && !g_str_has_prefix (labels[n_labels], "__"), NULL);
      g_return_val_if_fail (type != PA_METRIC_HISTOGRAM || strcmp (labels[n_labels], "le") != 0,
                            NULL);
      n_labels++;
    }
  m = g_hash_table_lookup (r->by_name, name);
  if (m != NULL)
    {
      g_return_val_if_fail (m->type == type && m->n_labels == n_labels, NULL);
      return m;
    }
  m = g_new0 (PaMetric, 1);
  m->type = type;
  m->name = g_strdup (name);
  m->help = g_strdup (help);
  m->n_labels = n_labels;
  for (guint i = 0; i < n_labels; i++)
    m->labels[i] = g_strdup (labels[i]);
  m->n_bounds = n_buckets;
  m->bounds = n_buckets > 0 ? g_memdup2 (buckets, n_buckets * sizeof (double)) : NULL;
  m->series = g_hash_table_new_full (key_hash, key_equal, NULL, series_free);
  g_ptr_array_add (r->metrics, m);
  g_hash_table_insert (r->by_name, m->name, m);
  if (n_labels == 0)
    {
      /* The one series exists from the start: 0 until the first update. */
      PaSeriesKey none = { 0, { NULL } };
      series_get (m, &none);
    }
  return m;
}

static PaSeries *
series_get (PaMetric *m, const PaSeriesKey *key)
{
  PaSeries *s = g_hash_table_lookup (m->series, key);

  if (s != NULL)
    return s;
  s = g_new0 (PaSeries, 1);
  s->key.n = key->n;
  for (guint i = 0; i < key->n; i++)
    s->key.values[i] = g_strdup (key->values[i]);
  if (m->type == PA_METRIC_HISTOGRAM)
    s->buckets = g_new0 (guint64, m->n_bounds + 1);
  g_hash_table_add (m->series, s);
  return s;
}

static PaSeries *
series_va (PaMetric *m, va_list ap)
{
  PaSeriesKey key = { m->n_labels, { NULL } };

  for (guint i = 0; i < m->n_labels; i++)
    {
      const char *v = va_arg (ap, const char *);
      key.values[i] = v != NULL ? v : "";
    }
  return series_get (m, &key);
}

void
pa_metric_add (PaMetric *m, double value, ...)
{
  va_list ap;
  PaSeries *s;

  if (m == NULL)
    return;
  g_return_if_fail (m->type != PA_METRIC_HISTOGRAM);
  if (m->type == PA_METRIC_COUNTER && !(value >= 0))
    return;
  va_start (ap, value);
  s = series_va (m, ap);
  va_end (ap);
  s->value += value;
}

void
pa_metric_set (PaMetric *m, double value, ...)
{
  va_list ap;
  PaSeries *s;

  if (m == NULL)
    return;
  g_return_if_fail (m->type == PA_METRIC_GAUGE);
  va_start (ap, value);
  s = series_va (m, ap);
  va_end (ap);
  s->value = value;
}

void
pa_metric_observe (PaMetric *m, double value, ...)
{
  va_list ap;
  PaSeries *s;
  guint lo = 0, hi;

  if (m == NULL)
    return;
  g_return_if_fail (m->type == PA_METRIC_HISTOGRAM);
  va_start (ap, value);
  s = series_va (m, ap);
  va_end (ap);
  /* The first bucket whose bound is ≥ value (n_bounds: +Inf). */
  hi = m->n_bounds;
  while (lo < hi)
    {
      guint mid = (lo + hi) / 2;

      if (value <= m->bounds[mid])
        hi = mid;
      else
        lo = mid + 1;
    }
  s->buckets[lo]++;
  s->count++;
  s->sum += value;
}

void
pa_metric_zero (PaMetric *m)
{
  GHashTableIter it;
  gpointer k;

  if (m == NULL)
    return;
  g_return_if_fail (m->type == PA_METRIC_GAUGE);
  g_hash_table_iter_init (&it, m->series);
  while (g_hash_table_iter_next (&it, &k, NULL))
    ((PaSeries *) k)->value = 0;
}

void
pa_metrics_add_collector (PaMetrics *r, PaMetricsCollectFunc fn, gpointer data)
{
  PaCollector c = { fn, data };

  g_return_if_fail (r != NULL && fn != NULL);
  g_array_append_val (r->collectors, c);
}

void
pa_metrics_remove_collector (PaMetrics *r, PaMetricsCollectFunc fn, gpointer data)
{
  g_return_if_fail (r != NULL);
  for (guint i = 0; i < r->collectors->len; i++)
    {
      PaCollector *c = &g_array_index (r->collectors, PaCollector, i);

      if (c->fn == fn && c->data == data)
        {
          g_array_remove_index (r->collectors, i);
          return;
        }
    }
}

/* ------------------------------------------------------------ exposition */

/* A float as Prometheus reads it: the shortest of %.15g/%.17g that reads
 * back the same, +Inf, -Inf, NaN. */
static void
append_double (GString *out, double v)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  if (isnan (v))
    g_string_append (out, "NaN");
  else if (isinf (v))
    g_string_append (out, v > 0 ? "+Inf" : "-Inf");
  else
    {
      g_ascii_formatd (buf, sizeof buf, "%.15g", v);
      if (g_ascii_strtod (buf, NULL) != v)
        g_ascii_formatd (buf, sizeof buf, "%.17g", v);
      g_string_append (out, buf);
    }
}

/* HELP text: backslash and line feed escaped; label values: the double
 * quote too. */
static void
append_escaped (GString *out, const char *s, gboolean quote)
{
  for (; *s; s++)
    {
      if (*s == '\\')
        g_string_append (out, "\\\\");
      else if (*s == '\n')
        g_string_append (out, "\\n");
      else if (quote && *s == '"')
        g_string_append (out, "\\\"");
      else
        g_string_append_c (out, *s);
    }
}

/* name{a="x",b="y"[,le="…"]} — nothing in braces, no braces. */
static void
append_series_name (GString *out, const PaMetric *m, const char *suffix, const PaSeries *s,
                    const char *le)
{
  g_string_append (out, m->name);
  g_string_append (out, suffix);
  if (s->key.n == 0 && le == NULL)
    return;
  g_string_append_c (out, '{');
  for (guint i = 0; i < s->key.n; i++)
    {
      g_string_append_printf (out, "%s%s=\"", i > 0 ? "," : "", m->labels[i]);
      append_escaped (out, s->key.values[i], TRUE);
      g_string_append_c (out, '"');
    }
  if (le != NULL)
    g_string_append_printf (out, "%sle=\"%s\"", s->key.n > 0 ? "," : "", le);
  g_string_append_c (out, '}');
}

static gint
series_cmp (gconstpointer a, gconstpointer b)
{
  const PaSeries *x = *(PaSeries *const *) a, *y = *(PaSeries *const *) b;

  for (guint i = 0; i < x->key.n && i < y->key.n; i++)
    {
      int c = strcmp (x->key.values[i], y->key.values[i]);

      if (c != 0)
        return c;
    }
  return 0;
}

static void
render_histogram (GString *out, const PaMetric *m, const PaSeries *s)
{
  guint64 cumulative = 0;

  for (guint b = 0; b <= m->n_bounds; b++)
    {
      GString *le = g_string_new (NULL);

      if (b < m->n_bounds)
        append_double (le, m->bounds[b]);
      else
        g_string_append (le, "+Inf");
      cumulative += s->buckets[b];
      append_series_name (out, m, "_bucket", s, le->str);
      g_string_append_printf (out, " %" G_GUINT64_FORMAT "\n", cumulative);
      g_string_free (le, TRUE);
    }
  append_series_name (out, m, "_sum", s, NULL);
  g_string_append_c (out, ' ');
  append_double (out, s->sum);
  g_string_append_c (out, '\n');
  append_series_name (out, m, "_count", s, NULL);
  g_string_append_printf (out, " %" G_GUINT64_FORMAT "\n", s->count);
}

static void
render_metric (GString *out, const PaMetric *m)
{
  static const char *const type_names[] = { "counter", "gauge", "histogram" };
  g_autoptr (GPtrArray) sorted = g_ptr_array_sized_new (g_hash_table_size (m->series));
  GHashTableIter it;
  gpointer k;

  g_string_append_printf (out, "# HELP %s ", m->name);
  append_escaped (out, m->help, FALSE);
  g_string_append_printf (out, "\n# TYPE %s %s\n", m->name, type_names[m->type]);
  g_hash_table_iter_init (&it, m->series);
  while (g_hash_table_iter_next (&it, &k, NULL))
    g_ptr_array_add (sorted, k);
  g_ptr_array_sort (sorted, series_cmp);
  for (guint i = 0; i < sorted->len; i++)
    {
      const PaSeries *s = g_ptr_array_index (sorted, i);

      if (m->type == PA_METRIC_HISTOGRAM)
        {
          render_histogram (out, m, s);
          continue;
        }
      append_series_name (out, m, "", s, NULL);
      g_string_append_c (out, ' ');
      append_double (out, s->value);
      g_string_append_c (out, '\n');
    }
}

/* pa_metrics_render: see the header. */
char *
pa_metrics_render (PaMetrics *r)
{
  GString *out = g_string_new (NULL);

  g_return_val_if_fail (r != NULL, NULL);
  for (guint i = 0; i < r->collectors->len; i++)
    {
      PaCollector *c = &g_array_index (r->collectors, PaCollector, i);

      c->fn (c->data);
    }
  for (guint i = 0; i < r->metrics->len; i++)
    render_metric (out, g_ptr_array_index (r->metrics, i));
  return g_string_free (out, FALSE);
}
