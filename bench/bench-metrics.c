/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * bench-metrics.c — the CPU cost of the metrics' counting calls, alone, for
 * issue 16: what one bridged message adds on the send path (a counter bump
 * and one latency observation with its endpoint class), metrics off and on,
 * and what one scrape's rendering costs.
 *
 *   bench-metrics [CALLS]
 *
 * Prints one line of key=value pairs (nanoseconds per call, the mean of
 * CALLS calls, default 5,000,000; the render over 1000 renders):
 *
 *   off_msg_ns=N on_msg_ns=N on_counter_ns=N on_observe_ns=N render_us=N render_bytes=N
 *
 * off_msg / on_msg: the calls one message to Matrix makes (the message
 * counter and the /send/ attempt observed, its class included).
 */
#define G_LOG_DOMAIN "passerelle-bench"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <glib.h>

#include "matrix/pa-matrix-endpoint.h"
#include "metrics/pa-metrics-points.h"

#define SEND_URL                                                                                   \
  "http://127.0.0.1:8008/_matrix/client/v3/rooms/%21abcdefghijkl%3Alocalhost/send/"                \
  "m.room.message/pa.0123456789abcdef0123456789abcdef?user_id=%40_pa_sink_peer%3Alocalhost"        \
  "&ts=1700000000000"

static volatile guint sink;

/* This thread's CPU time in ns: a loaded machine slows the wall clock,
 * not this. */
static gint64
cpu_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  return (gint64) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static double
per_call_ns (gint64 t0, guint64 calls)
{
  return (double) (cpu_ns () - t0) / (double) calls;
}

/* As the bridge does for one message to Matrix (pa-to-matrix-sent.c,
 * pa-matrix.c). */
static void
one_message (guint64 i)
{
  pa_metrics_message_bridged ("sink", "to_matrix");
  if (pa_metrics_points_enabled ())
    pa_metrics_hs_request (pa_matrix_endpoint_class (SEND_URL), (gint64) (i % 50000));
}

int
main (int argc, char **argv)
{
  guint64 calls = argc > 1 ? g_ascii_strtoull (argv[1], NULL, 10) : 5000000;
  double off_msg, on_msg, on_counter, on_observe, render_us;
  gsize render_bytes = 0;
  PaMetrics *r;
  gint64 t0;

  if (calls < 1 || calls > G_GUINT64_CONSTANT (1000000000))
    {
      fprintf (stderr, "usage: bench-metrics [CALLS 1..1e9]\n");
      return 2;
    }
  t0 = cpu_ns ();
  for (guint64 i = 0; i < calls; i++)
    one_message (i);
  off_msg = per_call_ns (t0, calls);

  r = pa_metrics_points_enable ();
  /* A registry as a busy bridge has it: a few plugins, every queue, states. */
  static const char *const plugins[] = { "whatsapp", "telegram", "olvid", "purple", "sink" };
  for (guint p = 0; p < G_N_ELEMENTS (plugins); p++)
    {
      pa_metrics_message_bridged (plugins[p], "to_legacy");
      pa_metrics_add_logins (plugins[p], "connected", 100);
      pa_metrics_to_legacy_failure (plugins[p], "too_large");
    }
  pa_metrics_set_queue ("outbound", 3, 0);
  t0 = cpu_ns ();
  for (guint64 i = 0; i < calls; i++)
    one_message (i);
  on_msg = per_call_ns (t0, calls);
  t0 = cpu_ns ();
  for (guint64 i = 0; i < calls; i++)
    pa_metrics_message_bridged ("sink", "to_matrix");
  on_counter = per_call_ns (t0, calls);
  t0 = cpu_ns ();
  for (guint64 i = 0; i < calls; i++)
    pa_metrics_hs_request ("send", (gint64) (i % 50000));
  on_observe = per_call_ns (t0, calls);
  t0 = cpu_ns ();
  for (guint i = 0; i < 1000; i++)
    {
      char *text = pa_metrics_render (r);
      render_bytes = strlen (text);
      sink += (guint) render_bytes;
      g_free (text);
    }
  render_us = (double) (cpu_ns () - t0) / 1000.0 / 1000.0;
  pa_metrics_points_disable ();
  printf ("off_msg_ns=%.1f on_msg_ns=%.1f on_counter_ns=%.1f on_observe_ns=%.1f render_us=%.1f "
          "render_bytes=%zu\n",
          off_msg, on_msg, on_counter, on_observe, render_us, render_bytes);
  return 0;
}
