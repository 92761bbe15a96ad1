/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* A registry of Prometheus metrics and their text exposition (format
 * 0.0.4): counters, gauges and histograms, each registered once by name
 * with its help text and up to PA_METRIC_MAX_LABELS label names.
 *
 * A series (one set of label values) is made the first time its values are
 * used and kept: later updates of it look it up without allocating.  A NULL
 * PaMetric is accepted everywhere and does nothing, so code holding the
 * metrics of a registry that was never made pays one test per update.
 *
 * Not thread-safe: one thread (the host's main loop) updates and renders. */
#ifndef PA_METRICS_H
#define PA_METRICS_H

#include <glib.h>

G_BEGIN_DECLS

#define PA_METRIC_MAX_LABELS 4

typedef struct _PaMetrics PaMetrics;
typedef struct _PaMetric PaMetric;

typedef enum
{
  PA_METRIC_COUNTER,
  PA_METRIC_GAUGE,
  PA_METRIC_HISTOGRAM,
} PaMetricType;

/* Called by pa_metrics_render() before it writes anything: sets the gauges
 * that are computed at scrape time. */
typedef void (*PaMetricsCollectFunc) (gpointer data);

PaMetrics *pa_metrics_new (void);
void pa_metrics_free (PaMetrics *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PaMetrics, pa_metrics_free)

/* Registers a metric (transfer none: the registry owns it).  `labels` is
 * NULL-terminated (NULL: none); `buckets` are a histogram's upper bounds,
 * strictly increasing, without +Inf (added by the exposition); NULL for
 * the other types.  Registering a name again returns the metric already
 * registered when the type matches, else NULL with a critical warning (a
 * programming error, as is an invalid name). */
PaMetric *pa_metrics_register (PaMetrics *r, PaMetricType type, const char *name, const char *help,
                               const char *const *labels, const double *buckets, guint n_buckets);

/* Updates of the series named by the label values that follow `value` (as
 * many as the metric has labels, each a string; NULL counts as "").
 * add: counters and gauges (a counter ignores a negative value); set:
 * gauges; observe: histograms. */
void pa_metric_add (PaMetric *m, double value, ...);
void pa_metric_set (PaMetric *m, double value, ...);
void pa_metric_observe (PaMetric *m, double value, ...);
/* Sets every series of a gauge to 0 (before a collector fills it again:
 * series stay, so a state that emptied reads 0 rather than vanishing). */
void pa_metric_zero (PaMetric *m);

/* Collectors run in the order added, at each render. */
void pa_metrics_add_collector (PaMetrics *r, PaMetricsCollectFunc fn, gpointer data);
void pa_metrics_remove_collector (PaMetrics *r, PaMetricsCollectFunc fn, gpointer data);

/* The whole registry in the text format (transfer full): families in the
 * order registered, each with # HELP and # TYPE, series sorted by label
 * values; a metric without labels shows its one series from the start. */
char *pa_metrics_render (PaMetrics *r);

G_END_DECLS

#endif
