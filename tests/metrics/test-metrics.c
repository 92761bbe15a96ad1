/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Unit tests for src/metrics: the text exposition of a registry, as a
 * table (the updates that make a state, the exact text expected), and the
 * bridge's metric set (labels kept to their fixed lists, no-op when off). */
#include "metrics/pa-metrics.h"
#include "metrics/pa-metrics-points.h"

#include <math.h>

typedef void (*Fill) (PaMetrics *r);

static const char *const no_labels[] = { NULL };
static const char *const one_label[] = { "plugin", NULL };
static const char *const two_labels[] = { "plugin", "direction", NULL };

static void
fill_empty_counter (PaMetrics *r)
{
  pa_metrics_register (r, PA_METRIC_COUNTER, "a_total", "Things done", no_labels, NULL, 0);
}

static void
fill_labelled_unused (PaMetrics *r)
{
  pa_metrics_register (r, PA_METRIC_COUNTER, "b_total", "Per plugin", one_label, NULL, 0);
}

static void
fill_two_labels_sorted (PaMetrics *r)
{
  PaMetric *m = pa_metrics_register (r, PA_METRIC_COUNTER, "m_total", "Msgs", two_labels, NULL, 0);
  pa_metric_add (m, 1, "whatsapp", "to_matrix");
  pa_metric_add (m, 2, "loopback", "to_legacy");
  pa_metric_add (m, 1, "loopback", "to_matrix");
  pa_metric_add (m, 3, "loopback", "to_legacy");
  pa_metric_add (m, -4, "loopback", "to_legacy"); /* a counter never goes down */
}

static void
fill_escaping (PaMetrics *r)
{
  PaMetric *m = pa_metrics_register (r, PA_METRIC_GAUGE, "e", "Back\\slash and\nnew \"line\"",
                                     one_label, NULL, 0);
  pa_metric_set (m, 1.5, "a\"b\\c\nd");
  pa_metric_set (m, -2, NULL);
}

static void
fill_gauge_values (PaMetrics *r)
{
  PaMetric *m = pa_metrics_register (r, PA_METRIC_GAUGE, "g", "G", one_label, NULL, 0);
  pa_metric_set (m, 0.1, "a");
  pa_metric_set (m, 1e21, "b");
  pa_metric_set (m, INFINITY, "c");
  pa_metric_set (m, NAN, "d");
  pa_metric_add (m, 5, "e");
  pa_metric_add (m, -7, "e");
  pa_metric_set (m, 3, "f");
  pa_metric_zero (m);
  pa_metric_add (m, 1, "f");
}

static void
fill_histogram (PaMetrics *r)
{
  static const double b[] = { 0.125, 1, 2.5 };
  PaMetric *h = pa_metrics_register (r, PA_METRIC_HISTOGRAM, "d_seconds", "Durations", one_label, b,
                                     G_N_ELEMENTS (b));
  pa_metric_observe (h, 0.0625, "send");
  pa_metric_observe (h, 0.125, "send"); /* le is inclusive */
  pa_metric_observe (h, 2, "send");
  pa_metric_observe (h, 7, "send");
  pa_metric_observe (h, 0.5, "media");
}

static void
fill_histogram_no_labels (PaMetrics *r)
{
  static const double b[] = { 1 };
  pa_metrics_register (r, PA_METRIC_HISTOGRAM, "h", "H", NULL, b, 1);
}

static void
fill_registered_twice (PaMetrics *r)
{
  PaMetric *a = pa_metrics_register (r, PA_METRIC_COUNTER, "x_total", "X", NULL, NULL, 0);
  PaMetric *b = pa_metrics_register (r, PA_METRIC_COUNTER, "x_total", "X", NULL, NULL, 0);
  g_assert_true (a == b);
  pa_metric_add (a, 1);
  pa_metric_add (b, 1);
  pa_metrics_register (r, PA_METRIC_GAUGE, "y", "Y", NULL, NULL, 0);
}

static void
collect_cb (gpointer data)
{
  guint *calls = data;
  (*calls)++;
}

static guint collect_calls;

static void
fill_collector (PaMetrics *r)
{
  PaMetric *g = pa_metrics_register (r, PA_METRIC_GAUGE, "c", "C", NULL, NULL, 0);
  collect_calls = 0;
  pa_metrics_add_collector (r, collect_cb, &collect_calls);
  pa_metric_set (g, 4);
}

static const struct
{
  const char *name;
  Fill fill;
  const char *expected;
} cases[] = {
  { "empty-counter", fill_empty_counter,
    "# HELP a_total Things done\n"
    "# TYPE a_total counter\n"
    "a_total 0\n" },
  { "labelled-unused", fill_labelled_unused,
    "# HELP b_total Per plugin\n"
    "# TYPE b_total counter\n" },
  { "two-labels-sorted", fill_two_labels_sorted,
    "# HELP m_total Msgs\n"
    "# TYPE m_total counter\n"
    "m_total{plugin=\"loopback\",direction=\"to_legacy\"} 5\n"
    "m_total{plugin=\"loopback\",direction=\"to_matrix\"} 1\n"
    "m_total{plugin=\"whatsapp\",direction=\"to_matrix\"} 1\n" },
  { "escaping", fill_escaping,
    "# HELP e Back\\\\slash and\\nnew \"line\"\n"
    "# TYPE e gauge\n"
    "e{plugin=\"\"} -2\n"
    "e{plugin=\"a\\\"b\\\\c\\nd\"} 1.5\n" },
  { "gauge-values", fill_gauge_values,
    "# HELP g G\n"
    "# TYPE g gauge\n"
    "g{plugin=\"a\"} 0\n"
    "g{plugin=\"b\"} 0\n"
    "g{plugin=\"c\"} 0\n"
    "g{plugin=\"d\"} 0\n"
    "g{plugin=\"e\"} 0\n"
    "g{plugin=\"f\"} 1\n" },
  { "histogram", fill_histogram,
    "# HELP d_seconds Durations\n"
    "# TYPE d_seconds histogram\n"
    "d_seconds_bucket{plugin=\"media\",le=\"0.125\"} 0\n"
    "d_seconds_bucket{plugin=\"media\",le=\"1\"} 1\n"
    "d_seconds_bucket{plugin=\"media\",le=\"2.5\"} 1\n"
    "d_seconds_bucket{plugin=\"media\",le=\"+Inf\"} 1\n"
    "d_seconds_sum{plugin=\"media\"} 0.5\n"
    "d_seconds_count{plugin=\"media\"} 1\n"
    "d_seconds_bucket{plugin=\"send\",le=\"0.125\"} 2\n"
    "d_seconds_bucket{plugin=\"send\",le=\"1\"} 2\n"
    "d_seconds_bucket{plugin=\"send\",le=\"2.5\"} 3\n"
    "d_seconds_bucket{plugin=\"send\",le=\"+Inf\"} 4\n"
    "d_seconds_sum{plugin=\"send\"} 9.1875\n"
    "d_seconds_count{plugin=\"send\"} 4\n" },
  { "histogram-no-labels", fill_histogram_no_labels,
    "# HELP h H\n"
    "# TYPE h histogram\n"
    "h_bucket{le=\"1\"} 0\n"
    "h_bucket{le=\"+Inf\"} 0\n"
    "h_sum 0\n"
    "h_count 0\n" },
  { "registered-twice", fill_registered_twice,
    "# HELP x_total X\n"
    "# TYPE x_total counter\n"
    "x_total 2\n"
    "# HELP y Y\n"
    "# TYPE y gauge\n"
    "y 0\n" },
  { "collector", fill_collector,
    "# HELP c C\n"
    "# TYPE c gauge\n"
    "c 4\n" },
};

static void
test_exposition (gconstpointer data)
{
  guint i = GPOINTER_TO_UINT (data);
  g_autoptr (PaMetrics) r = pa_metrics_new ();
  g_autofree char *text = NULL;

  cases[i].fill (r);
  text = pa_metrics_render (r);
  g_assert_cmpstr (text, ==, cases[i].expected);
}

static void
test_values_formatted (void)
{
  g_autoptr (PaMetrics) r = pa_metrics_new ();
  PaMetric *g = pa_metrics_register (r, PA_METRIC_GAUGE, "v", "V", one_label, NULL, 0);
  g_autofree char *text = NULL;

  pa_metric_set (g, 0.1, "a");
  pa_metric_set (g, 1e21, "b");
  pa_metric_set (g, INFINITY, "c");
  pa_metric_set (g, NAN, "d");
  pa_metric_set (g, -INFINITY, "e");
  pa_metric_set (g, 1.0 / 3, "f");
  text = pa_metrics_render (r);
  g_assert_cmpstr (text, ==,
                   "# HELP v V\n# TYPE v gauge\n"
                   "v{plugin=\"a\"} 0.1\n"
                   "v{plugin=\"b\"} 1e+21\n"
                   "v{plugin=\"c\"} +Inf\n"
                   "v{plugin=\"d\"} NaN\n"
                   "v{plugin=\"e\"} -Inf\n"
                   "v{plugin=\"f\"} 0.33333333333333331\n");
}

static void
test_collector_runs_each_render (void)
{
  g_autoptr (PaMetrics) r = pa_metrics_new ();
  g_autofree char *a = NULL, *b = NULL, *c = NULL;

  fill_collector (r);
  a = pa_metrics_render (r);
  b = pa_metrics_render (r);
  g_assert_cmpuint (collect_calls, ==, 2);
  pa_metrics_remove_collector (r, collect_cb, &collect_calls);
  c = pa_metrics_render (r);
  g_assert_cmpuint (collect_calls, ==, 2);
}

static void
test_bad_registrations (void)
{
  g_autoptr (PaMetrics) r = pa_metrics_new ();
  static const char *const le[] = { "le", NULL };
  static const char *const bad[] = { "a-b", NULL };
  static const double down[] = { 2, 1 };

  g_test_expect_message ("passerelle-metrics", G_LOG_LEVEL_CRITICAL, "*valid_name*");
  g_assert_null (pa_metrics_register (r, PA_METRIC_COUNTER, "9x", "h", NULL, NULL, 0));
  g_test_assert_expected_messages ();
  g_test_expect_message ("passerelle-metrics", G_LOG_LEVEL_CRITICAL, "*le*");
  g_assert_null (pa_metrics_register (r, PA_METRIC_HISTOGRAM, "h", "h", le, NULL, 0));
  g_test_assert_expected_messages ();
  g_test_expect_message ("passerelle-metrics", G_LOG_LEVEL_CRITICAL, "*valid_name*");
  g_assert_null (pa_metrics_register (r, PA_METRIC_GAUGE, "g", "h", bad, NULL, 0));
  g_test_assert_expected_messages ();
  g_test_expect_message ("passerelle-metrics", G_LOG_LEVEL_CRITICAL, "*buckets*");
  g_assert_null (pa_metrics_register (r, PA_METRIC_HISTOGRAM, "h", "h", NULL, down, 2));
  g_test_assert_expected_messages ();
  pa_metrics_register (r, PA_METRIC_GAUGE, "t", "h", NULL, NULL, 0);
  g_test_expect_message ("passerelle-metrics", G_LOG_LEVEL_CRITICAL, "*type*");
  g_assert_null (pa_metrics_register (r, PA_METRIC_COUNTER, "t", "h", NULL, NULL, 0));
  g_test_assert_expected_messages ();
  /* A NULL metric is a no-op. */
  pa_metric_add (NULL, 1, "x");
  pa_metric_set (NULL, 1);
  pa_metric_observe (NULL, 1);
  pa_metric_zero (NULL);
}

/* The bridge's metric set: nothing counts before enable; labels outside the
 * fixed lists become "other"; a Matrix errcode is a label, text is not. */
static void
test_points (void)
{
  g_autofree char *text = NULL;
  PaMetrics *r;

  pa_metrics_message_bridged ("loopback", "to_matrix"); /* off: lost */
  r = pa_metrics_points_enable ();
  g_assert_true (pa_metrics_points_enable () == r);
  pa_metrics_message_bridged ("loopback", "to_matrix");
  pa_metrics_message_bridged ("loopback", "to_legacy");
  pa_metrics_message_bridged ("loopback", "to_legacy");
  pa_metrics_message_bridged ("Bad Plugin", "sideways");
  pa_metrics_to_legacy_failure ("loopback", "too_large");
  pa_metrics_to_legacy_failure ("loopback", "a text a plugin made up");
  pa_metrics_to_matrix_failure (403, "M_FORBIDDEN", TRUE);
  pa_metrics_to_matrix_failure (400, "not an errcode", TRUE);
  pa_metrics_to_matrix_failure (502, NULL, FALSE);
  pa_metrics_to_matrix_failure (0, NULL, FALSE);
  pa_metrics_worker_restart ("loopback", "crash");
  pa_metrics_hs_request ("send", 20000);
  pa_metrics_add_logins ("loopback", "connected", 2);
  pa_metrics_add_logins ("loopback", "weird", 1);
  pa_metrics_set_queue ("outbound", 3, 1.5);
  pa_metrics_add_import_jobs ("loopback", "done", 1);
  pa_metrics_quarantined ();
  pa_metrics_imported_message ("loopback");
  text = pa_metrics_render (r);
  g_assert_nonnull (strstr (text, "passerelle_messages_bridged_total{plugin=\"loopback\","
                                  "direction=\"to_legacy\"} 2\n"));
  g_assert_nonnull (strstr (text, "passerelle_messages_bridged_total{plugin=\"loopback\","
                                  "direction=\"to_matrix\"} 1\n"));
  g_assert_nonnull (strstr (text, "passerelle_messages_bridged_total{plugin=\"other\","
                                  "direction=\"other\"} 1\n"));
  g_assert_nonnull (strstr (text, "{plugin=\"loopback\",code=\"too_large\"} 1\n"));
  g_assert_nonnull (strstr (text, "{plugin=\"loopback\",code=\"other\"} 1\n"));
  g_assert_nonnull (strstr (text, "{kind=\"M_FORBIDDEN\",outcome=\"dropped\"} 1\n"));
  g_assert_nonnull (strstr (text, "{kind=\"http_4xx\",outcome=\"dropped\"} 1\n"));
  g_assert_nonnull (strstr (text, "{kind=\"http_5xx\",outcome=\"retried\"} 1\n"));
  g_assert_nonnull (strstr (text, "{kind=\"network\",outcome=\"retried\"} 1\n"));
  g_assert_nonnull (strstr (text, "passerelle_worker_restarts_total{plugin=\"loopback\","
                                  "reason=\"crash\"} 1\n"));
  g_assert_nonnull (strstr (text, "passerelle_homeserver_request_duration_seconds_bucket{"
                                  "endpoint=\"send\",le=\"0.025\"} 1\n"));
  g_assert_nonnull (strstr (text, "passerelle_logins{plugin=\"loopback\",state=\"other\"} 1\n"));
  g_assert_nonnull (strstr (text, "passerelle_queue_oldest_age_seconds{queue=\"outbound\"} 1.5\n"));
  g_assert_nonnull (strstr (text, "passerelle_quarantined_events_total 1\n"));
  g_assert_nonnull (strstr (text, "passerelle_imported_messages_total{plugin=\"loopback\"} 1\n"));
  g_assert_null (strstr (text, "not an errcode"));
  g_clear_pointer (&text, g_free);
  pa_metrics_gauges_zero ();
  text = pa_metrics_render (r);
  g_assert_nonnull (
      strstr (text, "passerelle_logins{plugin=\"loopback\",state=\"connected\"} 0\n"));
  pa_metrics_points_disable ();
  pa_metrics_message_bridged ("loopback", "to_matrix"); /* off again: a no-op */
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/metrics/exposition/%s", cases[i].name);
      g_test_add_data_func (path, GUINT_TO_POINTER (i), test_exposition);
    }
  g_test_add_func ("/metrics/values-formatted", test_values_formatted);
  g_test_add_func ("/metrics/collector-each-render", test_collector_runs_each_render);
  g_test_add_func ("/metrics/bad-registrations", test_bad_registrations);
  g_test_add_func ("/metrics/points", test_points);
  return g_test_run ();
}
