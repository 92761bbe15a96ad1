/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The bridge's metrics (see pa-metrics-points.h and docs/metrics.md): their
 * names, help texts, labels and buckets in one table-like place, and the
 * one-line calls the bridge, the homeserver client and the store stats
 * make.  The registry is the process's own (the host has one main loop);
 * NULL while the metrics are off, which makes every call a no-op. */
#define G_LOG_DOMAIN "passerelle-metrics"

#include "metrics/pa-metrics-points.h"

#include <string.h>

typedef struct
{
  PaMetrics *registry;
  PaMetric *messages;
  PaMetric *imported;
  PaMetric *legacy_failures;
  PaMetric *matrix_failures;
  PaMetric *quarantined;
  PaMetric *restarts;
  PaMetric *hs_latency;
  PaMetric *queue_depth;
  PaMetric *queue_age;
  PaMetric *logins;
  PaMetric *import_jobs;
} PaPoints;

static PaPoints points;

/* Seconds: 5 ms to 30 s, for requests that range from a state event to
 * a large upload. */
static const double latency_buckets[]
    = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30 };

static PaMetric *
reg (PaMetricType type, const char *name, const char *help, const char *const *labels)
{
  return pa_metrics_register (points.registry, type, name, help, labels,
                              type == PA_METRIC_HISTOGRAM ? latency_buckets : NULL,
                              type == PA_METRIC_HISTOGRAM ? G_N_ELEMENTS (latency_buckets) : 0);
}

PaMetrics *
pa_metrics_points_enable (void)
{
  static const char *const plugin_direction[] = { "plugin", "direction", NULL };
  static const char *const plugin[] = { "plugin", NULL };
  static const char *const plugin_code[] = { "plugin", "code", NULL };
  static const char *const kind_outcome[] = { "kind", "outcome", NULL };
  static const char *const plugin_reason[] = { "plugin", "reason", NULL };
  static const char *const endpoint[] = { "endpoint", NULL };
  static const char *const queue[] = { "queue", NULL };
  static const char *const plugin_state[] = { "plugin", "state", NULL };

  if (points.registry != NULL)
    return points.registry;
  points.registry = pa_metrics_new ();
  points.messages
      = reg (PA_METRIC_COUNTER, "passerelle_messages_bridged_total",
             "Messages accepted by the homeserver (to_matrix) or by the network (to_legacy)",
             plugin_direction);
  points.imported = reg (PA_METRIC_COUNTER, "passerelle_imported_messages_total",
                         "Messages of history imports accepted by the homeserver", plugin);
  points.legacy_failures
      = reg (PA_METRIC_COUNTER, "passerelle_to_legacy_failures_total",
             "Matrix to legacy operations that finally failed, by result code", plugin_code);
  points.matrix_failures = reg (
      PA_METRIC_COUNTER, "passerelle_to_matrix_failures_total",
      "Outbound homeserver requests refused (dropped) or failed for now (retried)", kind_outcome);
  points.quarantined = reg (PA_METRIC_COUNTER, "passerelle_quarantined_events_total",
                            "Events of homeserver transactions set aside as malformed", NULL);
  points.restarts = reg (PA_METRIC_COUNTER, "passerelle_worker_restarts_total",
                         "Restarts of login workers, by reason (crash, watchdog)", plugin_reason);
  points.hs_latency = reg (PA_METRIC_HISTOGRAM, "passerelle_homeserver_request_duration_seconds",
                           "Duration of HTTP requests to the homeserver, per attempt", endpoint);
  points.queue_depth
      = reg (PA_METRIC_GAUGE, "passerelle_queue_depth", "Items waiting in a durable queue", queue);
  points.queue_age = reg (
      PA_METRIC_GAUGE, "passerelle_queue_oldest_age_seconds",
      "How long the item at the head of a queue has been waiting there (0 when empty)", queue);
  points.logins
      = reg (PA_METRIC_GAUGE, "passerelle_logins", "Running logins by state", plugin_state);
  points.import_jobs = reg (PA_METRIC_GAUGE, "passerelle_import_jobs",
                            "History import jobs by state", plugin_state);
  return points.registry;
}

void
pa_metrics_points_disable (void)
{
  PaMetrics *r = points.registry;

  memset (&points, 0, sizeof points);
  pa_metrics_free (r);
}

gboolean
pa_metrics_points_enabled (void)
{
  return points.registry != NULL;
}

/* `value` if it is one of `known` (NULL-terminated), else "other". */
static const char *
one_of (const char *value, const char *const *known)
{
  for (guint i = 0; value != NULL && known[i] != NULL; i++)
    if (strcmp (value, known[i]) == 0)
      return known[i];
  return "other";
}

/* Plugin names are [a-z0-9]+ (config.yaml's rule): anything else is not a
 * plugin and is not a label either. */
static const char *
plugin_label (const char *plugin)
{
  if (plugin == NULL || *plugin == '\0' || strlen (plugin) > 64)
    return "other";
  for (const char *p = plugin; *p; p++)
    if (!g_ascii_islower (*p) && !g_ascii_isdigit (*p))
      return "other";
  return plugin;
}

void
pa_metrics_message_bridged (const char *plugin, const char *direction)
{
  static const char *const directions[] = { "to_matrix", "to_legacy", NULL };

  if (points.registry != NULL)
    pa_metric_add (points.messages, 1, plugin_label (plugin), one_of (direction, directions));
}

void
pa_metrics_imported_message (const char *plugin)
{
  if (points.registry != NULL)
    pa_metric_add (points.imported, 1, plugin_label (plugin));
}

void
pa_metrics_to_legacy_failure (const char *plugin, const char *code)
{
  static const char *const codes[]
      = { "not_connected", "unsupported", "too_large", "rate_limited", "not_found", "forbidden",
          "temporary",     "permanent",   "uncertain", "worker_lost",  NULL };

  if (points.registry != NULL)
    pa_metric_add (points.legacy_failures, 1, plugin_label (plugin), one_of (code, codes));
}

/* M_ and 1 to 48 of [A-Z0-9_]: a Matrix errcode, else not a label. */
static gboolean
is_errcode (const char *s)
{
  gsize n = 0;

  if (s == NULL || strncmp (s, "M_", 2) != 0)
    return FALSE;
  for (s += 2; *s; s++, n++)
    if (!g_ascii_isupper (*s) && !g_ascii_isdigit (*s) && *s != '_')
      return FALSE;
  return n >= 1 && n <= 48;
}

void
pa_metrics_to_matrix_failure (guint status, const char *errcode, gboolean dropped)
{
  const char *kind;

  if (points.registry == NULL)
    return;
  if (is_errcode (errcode))
    kind = errcode;
  else if (status >= 500 && status < 600)
    kind = "http_5xx";
  else if (status >= 400 && status < 500)
    kind = "http_4xx";
  else if (status == 0)
    kind = "network";
  else
    kind = "other";
  pa_metric_add (points.matrix_failures, 1, kind, dropped ? "dropped" : "retried");
}

void
pa_metrics_quarantined (void)
{
  pa_metric_add (points.quarantined, 1);
}

void
pa_metrics_worker_restart (const char *plugin, const char *reason)
{
  static const char *const reasons[] = { "crash", "watchdog", NULL };

  if (points.registry != NULL)
    pa_metric_add (points.restarts, 1, plugin_label (plugin), one_of (reason, reasons));
}

void
pa_metrics_hs_request (const char *endpoint, gint64 duration_us)
{
  if (points.registry != NULL)
    pa_metric_observe (points.hs_latency, (double) duration_us / G_USEC_PER_SEC,
                       endpoint != NULL ? endpoint : "other");
}

void
pa_metrics_gauges_zero (void)
{
  pa_metric_zero (points.logins);
  pa_metric_zero (points.import_jobs);
}

void
pa_metrics_set_queue (const char *queue, gint64 depth, double oldest_age_s)
{
  static const char *const queues[]
      = { "inbound", "remote_live", "remote_import", "outbound", NULL };

  if (points.registry == NULL)
    return;
  pa_metric_set (points.queue_depth, (double) depth, one_of (queue, queues));
  pa_metric_set (points.queue_age, oldest_age_s, one_of (queue, queues));
}

void
pa_metrics_add_logins (const char *plugin, const char *state, guint n)
{
  static const char *const states[]
      = { "new",        "connecting",    "connected", "transient_disconnect", "bad_credentials",
          "logged_out", "unknown_error", NULL };

  if (points.registry != NULL)
    pa_metric_add (points.logins, n, plugin_label (plugin), one_of (state, states));
}

void
pa_metrics_add_import_jobs (const char *plugin, const char *state, gint64 n)
{
  static const char *const states[]
      = { "queued", "parsing", "awaiting_me", "sending", "done", "failed", NULL };

  if (points.registry != NULL)
    pa_metric_add (points.import_jobs, (double) n, plugin_label (plugin), one_of (state, states));
}
