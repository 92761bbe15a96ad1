/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Unit tests for the metrics port (src/appservice/pa-metrics-server.c):
 * GET /metrics answers the registry's exposition with the 0.0.4 content
 * type; other paths and methods are refused; a taken port fails to bind. */
#include "appservice/pa-metrics-server.h"

#include <string.h>

typedef struct
{
  guint port;
  char *request;
  char *response; /* the whole answer: status line, headers, body */
  gint done;
} Req;

static gpointer
client_thread (gpointer data)
{
  Req *r = data;
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_autoptr (GSocketConnection) conn = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GString) buf = g_string_new (NULL);
  char tmp[4096];
  gssize n;

  conn = g_socket_client_connect_to_host (client, "127.0.0.1", (guint16) r->port, NULL, &error);
  g_assert_no_error (error);
  g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (conn)), r->request,
                             strlen (r->request), NULL, NULL, NULL);
  /* Connection: close: the server ends the answer by closing. */
  while ((n = g_input_stream_read (g_io_stream_get_input_stream (G_IO_STREAM (conn)), tmp,
                                   sizeof tmp, NULL, NULL))
         > 0)
    g_string_append_len (buf, tmp, n);
  r->response = g_strdup (buf->str);
  g_atomic_int_set (&r->done, 1);
  g_main_context_wakeup (NULL);
  return NULL;
}

static char *
fetch (guint port, const char *method, const char *path)
{
  Req r = { .port = port };
  GThread *t;

  r.request = g_strdup_printf ("%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
                               method, path);
  t = g_thread_new ("client", client_thread, &r);
  while (!g_atomic_int_get (&r.done))
    g_main_context_iteration (NULL, TRUE);
  g_thread_join (t);
  g_free (r.request);
  return r.response;
}

static void
test_serves_metrics (void)
{
  g_autoptr (PaMetrics) reg = pa_metrics_new ();
  g_autoptr (PaMetricsServer) s = pa_metrics_server_new (reg);
  g_autoptr (GError) error = NULL;
  PaMetric *c = pa_metrics_register (reg, PA_METRIC_COUNTER, "t_total", "T", NULL, NULL, 0);
  g_autofree char *ok = NULL, *other = NULL, *post = NULL;

  g_assert_cmpuint (pa_metrics_server_port (s), ==, 0);
  g_assert_true (pa_metrics_server_listen (s, "127.0.0.1", 0, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (pa_metrics_server_port (s), >, 0);
  pa_metric_add (c, 3);
  ok = fetch (pa_metrics_server_port (s), "GET", "/metrics");
  g_assert_true (g_str_has_prefix (ok, "HTTP/1.1 200"));
  g_assert_nonnull (strstr (ok, "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
  g_assert_true (g_str_has_suffix (ok, "\r\n\r\n# HELP t_total T\n# TYPE t_total counter\n"
                                       "t_total 3\n"));
  other = fetch (pa_metrics_server_port (s), "GET", "/");
  g_assert_true (g_str_has_prefix (other, "HTTP/1.1 404"));
  g_assert_null (strstr (other, "t_total"));
  post = fetch (pa_metrics_server_port (s), "POST", "/metrics");
  g_assert_true (g_str_has_prefix (post, "HTTP/1.1 405"));
  g_assert_null (strstr (post, "t_total"));
}

static void
test_listen_errors (void)
{
  g_autoptr (PaMetrics) reg = pa_metrics_new ();
  g_autoptr (PaMetricsServer) a = pa_metrics_server_new (reg);
  g_autoptr (PaMetricsServer) b = pa_metrics_server_new (reg);
  g_autoptr (GError) error = NULL;

  g_assert_false (pa_metrics_server_listen (a, "localhost", 0, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_true (pa_metrics_server_listen (a, "127.0.0.1", 0, &error));
  g_assert_no_error (error);
  g_assert_false (pa_metrics_server_listen (a, "127.0.0.1", 0, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS);
  g_clear_error (&error);
  /* The port is taken: the error says so. */
  g_assert_false (pa_metrics_server_listen (b, "127.0.0.1", pa_metrics_server_port (a), &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE);
  g_assert_cmpuint (pa_metrics_server_port (b), ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/metrics-server/serves", test_serves_metrics);
  g_test_add_func ("/metrics-server/listen-errors", test_listen_errors);
  return g_test_run ();
}
