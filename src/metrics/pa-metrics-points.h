/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The bridge's own metrics (docs/metrics.md), one registry per process,
 * and one call per point of the code that counts something, so that an
 * instrumented place is a single line.  Until pa_metrics_points_enable()
 * (config `metrics.enabled`), every call returns at once: the metrics cost
 * nothing when they are off.
 *
 * Nothing secret is ever a label: plugins, directions, result codes,
 * homeserver error codes, login and job states, endpoint classes — all
 * from short fixed lists (anything else becomes "other"); never a user,
 * a room, a token or a message. */
#ifndef PA_METRICS_POINTS_H
#define PA_METRICS_POINTS_H

#include "metrics/pa-metrics.h"

G_BEGIN_DECLS

/* Makes the registry and registers every metric (idempotent); returns it
 * (transfer none). */
PaMetrics *pa_metrics_points_enable (void);
/* Frees the registry: updates are no-ops again. */
void pa_metrics_points_disable (void);
/* Whether the metrics are on (to skip work that only feeds them). */
gboolean pa_metrics_points_enabled (void);

/* A message accepted by the homeserver (direction "to_matrix") or the
 * network (the worker answered ok: "to_legacy"). */
void pa_metrics_message_bridged (const char *plugin, const char *direction);
/* A message of an import job accepted by the homeserver. */
void pa_metrics_imported_message (const char *plugin);
/* A Matrix → legacy operation that finally failed, by its result code
 * ("too_large", "not_connected"… as plugin.h's PaResultCode; "worker_lost"
 * when the worker stopped before answering). */
void pa_metrics_to_legacy_failure (const char *plugin, const char *code);
/* A request of the outbound queue the homeserver refused (dropped: a 4xx)
 * or that failed for now (retried: 5xx or network): by errcode (M_…) when
 * the homeserver gave one, else by HTTP class. */
void pa_metrics_to_matrix_failure (guint status, const char *errcode, gboolean dropped);
/* An event of a transaction set aside (quarantined). */
void pa_metrics_quarantined (void);
/* A login's worker restarted: reason "crash" or "watchdog". */
void pa_metrics_worker_restart (const char *plugin, const char *reason);
/* One HTTP attempt to the homeserver took `duration_us`; `endpoint` is a
 * class (pa_matrix_endpoint_class). */
void pa_metrics_hs_request (const char *endpoint, gint64 duration_us);

/* Scrape-time gauges, set by the bridge's collector. */
void pa_metrics_gauges_zero (void);
void pa_metrics_set_queue (const char *queue, gint64 depth, double oldest_age_s);
void pa_metrics_add_logins (const char *plugin, const char *state, guint n);
void pa_metrics_add_import_jobs (const char *plugin, const char *state, gint64 n);

G_END_DECLS

#endif
