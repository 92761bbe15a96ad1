/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The metrics port (see pa-metrics-server.h): a SoupServer of its own fed
 * by a PaAsListener, so that a scraper never shares the appservice's
 * connections, and an accept error or a slow client is handled as on the
 * appservice port.  The body is rendered at each GET: the registry's
 * collectors read the queues then. */
#define G_LOG_DOMAIN "passerelle-metrics"

#include "appservice/pa-metrics-server.h"

#include "appservice/pa-as-listener.h"

#include <libsoup/soup.h>
#include <string.h>

#define PA_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct _PaMetricsServer
{
  PaMetrics *registry;
  SoupServer *server;
  PaAsListener *listener;
  guint port;
};

static void
reply_text (SoupServerMessage *msg, guint status, const char *text)
{
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "text/plain; charset=utf-8", SOUP_MEMORY_COPY, text,
                                    strlen (text));
}

static void
handler (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
         gpointer data)
{
  PaMetricsServer *s = data;
  const char *method = soup_server_message_get_method (msg);
  char *body;

  if (strcmp (path, "/metrics") != 0)
    {
      reply_text (msg, SOUP_STATUS_NOT_FOUND, "Not found: the metrics are at /metrics\n");
      return;
    }
  if (strcmp (method, "GET") != 0 && strcmp (method, "HEAD") != 0)
    {
      soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Allow",
                                    "GET, HEAD");
      reply_text (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "Only GET\n");
      return;
    }
  body = pa_metrics_render (s->registry);
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, PA_METRICS_CONTENT_TYPE, SOUP_MEMORY_TAKE, body,
                                    strlen (body));
}

PaMetricsServer *
pa_metrics_server_new (PaMetrics *registry)
{
  PaMetricsServer *s;

  g_return_val_if_fail (registry != NULL, NULL);
  s = g_new0 (PaMetricsServer, 1);
  s->registry = registry;
  s->server = soup_server_new ("server-header", NULL, NULL);
  soup_server_add_handler (s->server, NULL, handler, s, NULL);
  return s;
}

gboolean
pa_metrics_server_listen (PaMetricsServer *s, const char *bind, guint port, GError **error)
{
  /* A scraper or two: a small cap, short timeouts. */
  const PaAsListenerLimits limits
      = { .max_connections = 16, .idle_timeout_s = 30, .request_timeout_s = 10 };
  g_autoptr (GSocketAddress) addr = NULL;

  g_return_val_if_fail (s != NULL && bind != NULL, FALSE);
  if (s->listener != NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_EXISTS, "already listening");
      return FALSE;
    }
  if (port > G_MAXUINT16)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "invalid port %u", port);
      return FALSE;
    }
  addr = g_inet_socket_address_new_from_string (bind, port);
  if (addr == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "bind address \"%s\" is not an IP address", bind);
      return FALSE;
    }
  s->listener = pa_as_listener_new (s->server, &limits);
  if (!pa_as_listener_listen (s->listener, addr, &s->port, error))
    {
      g_clear_pointer (&s->listener, pa_as_listener_free);
      s->port = 0;
      return FALSE;
    }
  return TRUE;
}

guint
pa_metrics_server_port (PaMetricsServer *s)
{
  g_return_val_if_fail (s != NULL, 0);
  return s->port;
}

void
pa_metrics_server_free (PaMetricsServer *s)
{
  if (s == NULL)
    return;
  g_clear_pointer (&s->listener, pa_as_listener_free);
  if (s->server != NULL)
    soup_server_disconnect (s->server);
  g_clear_object (&s->server);
  g_free (s);
}
