/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The metrics port of the bridge (see pa-bridge-metrics.h).  Counters are
 * bumped where things happen (pa-metrics-points.h); the gauges are read
 * here at each scrape: one aggregate query per durable queue and one for
 * the import jobs (pa_store_stats), and the running logins from the login
 * table.  A queue's age is how long its head item (lowest seq) has been
 * seen at the head: the store keeps no enqueue time, so a head first seen
 * at a scrape counts from that scrape (or from the start of the bridge for
 * what was queued before).  A queue that drains reads 0; one that is
 * stuck grows by the scrape interval each time. */
#define G_LOG_DOMAIN "passerelle-metrics"

#include "pa-bridge-metrics.h"

#include "appservice/pa-metrics-server.h"
#include "metrics/pa-metrics-points.h"

typedef struct
{
  gint64 seq;      /* head seen last, -1: empty */
  gint64 since_us; /* monotonic time it was first seen */
} PaQueueHead;

struct _PaBridgeMetrics
{
  PaMetricsServer *server;
  PaQueueHead heads[4]; /* inbound, remote_live, remote_import, outbound */
  gint64 started_us;
};

static void
queue_gauges (PaBridgeMetrics *m, guint i, const char *name, const PaStoreQueueStat *q, gint64 now)
{
  PaQueueHead *h = &m->heads[i];

  if (q->head_seq != h->seq)
    {
      /* Before the first scrape, the queue waited since the start. */
      h->since_us = h->seq == G_MININT64 ? m->started_us : now;
      h->seq = q->head_seq;
    }
  pa_metrics_set_queue (name, q->depth,
                        q->head_seq < 0 ? 0 : (double) (now - h->since_us) / G_USEC_PER_SEC);
}

static void
collect (gpointer data)
{
  PaBridge *b = data;
  PaBridgeMetrics *m = b->metrics;
  PaStoreStats st;
  g_autoptr (GError) error = NULL;
  gint64 now = g_get_monotonic_time ();
  GHashTableIter it;
  gpointer v;

  pa_metrics_gauges_zero ();
  if (pa_store_stats (b->store, &st, &error))
    {
      size_t i;
      json_t *job;

      queue_gauges (m, 0, "inbound", &st.inbound, now);
      queue_gauges (m, 1, "remote_live", &st.remote_live, now);
      queue_gauges (m, 2, "remote_import", &st.remote_import, now);
      queue_gauges (m, 3, "outbound", &st.outbound, now);
      json_array_foreach (st.import_jobs, i, job)
          pa_metrics_add_import_jobs (json_string_value (json_object_get (job, "plugin")),
                                      json_string_value (json_object_get (job, "state")),
                                      json_integer_value (json_object_get (job, "count")));
      json_decref (st.import_jobs);
    }
  else
    g_debug ("metrics: the store cannot be read: %s", error->message);
  /* History import jobs run logins of their own: they are not agents'. */
  g_hash_table_iter_init (&it, b->logins);
  while (g_hash_table_iter_next (&it, NULL, &v))
    {
      PaAccount *l = v;

      if (!l->history)
        pa_metrics_add_logins (l->plugin, l->state != NULL ? l->state : "new", 1);
    }
}

gboolean
pa_bridge_metrics_start (PaBridge *b, GError **error)
{
  PaConfig *c = b->config;
  PaMetrics *registry;
  g_autoptr (GError) e = NULL;
  gboolean v6;

  if (!c->metrics_enabled || b->metrics != NULL)
    return TRUE;
  registry = pa_metrics_points_enable ();
  b->metrics = g_new0 (PaBridgeMetrics, 1);
  b->metrics->started_us = g_get_monotonic_time ();
  for (guint i = 0; i < G_N_ELEMENTS (b->metrics->heads); i++)
    b->metrics->heads[i].seq = G_MININT64;
  b->metrics->server = pa_metrics_server_new (registry);
  v6 = strchr (c->metrics_bind, ':') != NULL;
  if (!pa_metrics_server_listen (b->metrics->server, c->metrics_bind, c->metrics_port, &e))
    {
      g_set_error (error, PA_ERROR, PA_ERROR_CONFIG,
                   "metrics: cannot listen on %s%s%s:%u (metrics.bind and metrics.port in %s): "
                   "%s",
                   v6 ? "[" : "", c->metrics_bind, v6 ? "]" : "", c->metrics_port,
                   c->source_name != NULL ? c->source_name : "the configuration", e->message);
      pa_bridge_metrics_stop (b);
      return FALSE;
    }
  pa_metrics_add_collector (registry, collect, b);
  g_message ("metrics at http://%s%s%s:%u/metrics", v6 ? "[" : "", c->metrics_bind, v6 ? "]" : "",
             pa_metrics_server_port (b->metrics->server));
  return TRUE;
}

void
pa_bridge_metrics_stop (PaBridge *b)
{
  if (b->metrics == NULL)
    return;
  g_clear_pointer (&b->metrics->server, pa_metrics_server_free);
  g_clear_pointer (&b->metrics, g_free);
  /* The registry goes with its collector. */
  pa_metrics_points_disable ();
}
