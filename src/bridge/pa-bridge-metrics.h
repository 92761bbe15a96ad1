/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The bridge's metrics port (config `metrics:`, docs/metrics.md): started
 * with the bridge when enabled, and the gauges read at each scrape (queue
 * depths and head ages, logins by state, import jobs by state). */
#ifndef PA_BRIDGE_METRICS_H
#define PA_BRIDGE_METRICS_H

#include "pa-bridge-object.h"

G_BEGIN_DECLS

/* Nothing when metrics.enabled is false.  Else turns the counters on and
 * listens on metrics.bind:metrics.port; fails (PA_ERROR_CONFIG, naming the
 * address and the keys) when the port cannot be bound. */
gboolean pa_bridge_metrics_start (PaBridge *b, GError **error);
/* Stops listening and turns the counters off (nothing when not started). */
void pa_bridge_metrics_stop (PaBridge *b);

G_END_DECLS

#endif
