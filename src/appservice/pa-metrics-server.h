/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The metrics port: GET /metrics answers a registry's text exposition
 * (Prometheus format 0.0.4); anything else is 404 (another path) or 405
 * (another method).  It has its own listening socket, apart from the
 * appservice's, with the same accept loop (pa-as-listener.c) and a small
 * connection cap: a scraper or two, never the homeserver. */
#ifndef PA_METRICS_SERVER_H
#define PA_METRICS_SERVER_H

#include <gio/gio.h>

#include "metrics/pa-metrics.h"

G_BEGIN_DECLS

typedef struct _PaMetricsServer PaMetricsServer;

/* A server rendering `registry` (not owned; must outlive the server). */
PaMetricsServer *pa_metrics_server_new (PaMetrics *registry);
/* Binds bind:port (an IP literal; port 0 picks a free one).  Fails with
 * G_IO_ERROR_INVALID_ARGUMENT for a bind that is not an IP literal, and
 * with the socket's error (G_IO_ERROR_ADDRESS_IN_USE…) when binding fails. */
gboolean pa_metrics_server_listen (PaMetricsServer *s, const char *bind, guint port,
                                   GError **error);
/* The bound port, 0 before a successful listen. */
guint pa_metrics_server_port (PaMetricsServer *s);
void pa_metrics_server_free (PaMetricsServer *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PaMetricsServer, pa_metrics_server_free)

G_END_DECLS

#endif
