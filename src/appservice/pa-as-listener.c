/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The appservice port's accept loop, connection cap and timeouts (see
 * pa-as-listener.h).
 *
 * Why not soup_server_listen(): libsoup's own listener removes its accept
 * watch on the first accept error, so one spell of EMFILE stops the port for
 * good, and it has no connection cap nor any server-side timeout.
 *
 * Connections are tracked by their GSocket: a weak reference on the
 * GSocketConnection we hand to libsoup tells us when libsoup is done with it
 * (the count goes down then).  A connection waits for a request (idle)
 * after it is accepted and after each response ("request-finished" or
 * "-aborted"); the first bytes of the next request show in the kernel's
 * count of bytes received (TCP_INFO, read at each sweep: libsoup's own
 * "request-started" comes before any byte in 3.2); "request-read" says the
 * request is all in.  A connection is closed by shutting its socket down,
 * never by closing its descriptor under libsoup: libsoup then reads an end
 * of file and drops the connection itself. */
#define G_LOG_DOMAIN "passerelle-appservice"

#include "appservice/pa-as-listener.h"

#include <errno.h>
#include <linux/tcp.h> /* struct tcp_info with tcpi_bytes_received */
#include <netinet/in.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* How often the timeouts are checked. */
#define PA_AS_SWEEP_MS 500
/* After an accept error: pause this long before trying again. */
#define PA_AS_RETRY_MS 250
/* At most one accept-error warning per this many microseconds. */
#define PA_AS_WARN_INTERVAL_US (10 * G_USEC_PER_SEC)
/* Connections accepted per wake-up, so a flood does not starve the loop. */
#define PA_AS_ACCEPT_BATCH 64

typedef enum
{
  CONN_IDLE,     /* waiting for the first byte of a request */
  CONN_READING,  /* a request's first bytes came; the rest is awaited */
  CONN_HANDLING, /* request read; the response is being prepared or sent */
  CONN_CLOSING,  /* shut down by us; waiting for libsoup to let go */
} PaConnState;

typedef struct
{
  PaAsListener *l;
  GSocketConnection *conn; /* weak: libsoup holds it */
  GSocket *socket;         /* valid while conn is */
  GSocketAddress *remote;  /* ref; the key: libsoup hands it back per message */
  PaConnState state;
  gint64 since;          /* monotonic µs: when the state was entered */
  guint64 bytes_at_idle; /* TCP bytes received when CONN_IDLE was entered */
} PaConn;

struct _PaAsListener
{
  SoupServer *server;
  PaAsListenerLimits limits;
  GSocket *socket;
  GSource *accept_source; /* NULL while paused */
  guint retry_id;         /* pending re-arm after an accept error */
  guint sweep_id;
  gboolean paused_at_cap;
  GHashTable *conns;     /* remote GSocketAddress* → PaConn* */
  GSocket *keepalive[2]; /* see pa_as_listener_listen() */
  gulong signal_ids[3];
  /* accept errors */
  gboolean failing;     /* since the last successful accept */
  guint64 failures;     /* since the last warning */
  guint64 failures_all; /* since failing began */
  gint64 last_warning;  /* monotonic µs, 0 = never */
  gint64 last_cap_log;
};

static void arm_accept (PaAsListener *l);

/* Bytes received on the connection so far (TCP_INFO), 0 if unknown. */
static guint64
bytes_received (PaConn *c)
{
  struct tcp_info ti;
  socklen_t len = sizeof ti;

  memset (&ti, 0, sizeof ti);
  if (getsockopt (g_socket_get_fd (c->socket), IPPROTO_TCP, TCP_INFO, &ti, &len) != 0
      || len < offsetof (struct tcp_info, tcpi_bytes_received) + sizeof ti.tcpi_bytes_received)
    return 0;
  return ti.tcpi_bytes_received;
}

static void
conn_set_state (PaConn *c, PaConnState state)
{
  if (c->state == CONN_CLOSING)
    return;
  c->state = state;
  c->since = g_get_monotonic_time ();
  if (state == CONN_IDLE)
    c->bytes_at_idle = bytes_received (c);
}

static void
conn_close (PaConn *c, const char *why)
{
  if (c->state == CONN_CLOSING)
    return;
  g_debug ("closing an appservice connection: %s", why);
  c->state = CONN_CLOSING;
  c->since = g_get_monotonic_time ();
  /* Both directions: libsoup's pending read returns end of file and it
   * drops the connection; the descriptor is closed by its owner. */
  g_socket_shutdown (c->socket, TRUE, TRUE, NULL);
}

/* The connection waiting for a request the longest, or NULL. */
static PaConn *
oldest_idle (PaAsListener *l)
{
  GHashTableIter it;
  gpointer v;
  PaConn *oldest = NULL;

  g_hash_table_iter_init (&it, l->conns);
  while (g_hash_table_iter_next (&it, NULL, &v))
    {
      PaConn *c = v;

      if (c->state == CONN_IDLE && (oldest == NULL || c->since < oldest->since))
        oldest = c;
    }
  return oldest;
}

static void
conn_gone (gpointer data, GObject *where_the_object_was)
{
  PaConn *c = data;
  PaAsListener *l = c->l;

  g_hash_table_remove (l->conns, c->remote);
  g_object_unref (c->remote);
  g_free (c);
  if (l->paused_at_cap && g_hash_table_size (l->conns) < l->limits.max_connections)
    {
      l->paused_at_cap = FALSE;
      arm_accept (l);
    }
}

static PaConn *
conn_for_message (PaAsListener *l, SoupServerMessage *msg)
{
  /* The address object given to soup_server_accept_iostream(): the
   * message's socket is not known to libsoup for such connections. */
  GSocketAddress *a = soup_server_message_get_remote_address (msg);

  return a != NULL ? g_hash_table_lookup (l->conns, a) : NULL;
}

static void
request_read_cb (SoupServer *server, SoupServerMessage *msg, gpointer data)
{
  PaConn *c = conn_for_message (data, msg);

  if (c != NULL)
    conn_set_state (c, CONN_HANDLING);
}

static void
request_done_cb (SoupServer *server, SoupServerMessage *msg, gpointer data)
{
  PaConn *c = conn_for_message (data, msg);

  if (c != NULL)
    conn_set_state (c, CONN_IDLE);
}

static gboolean
sweep_cb (gpointer data)
{
  PaAsListener *l = data;
  gint64 now = g_get_monotonic_time ();
  gint64 idle_us = (gint64) l->limits.idle_timeout_s * G_USEC_PER_SEC;
  gint64 request_us = (gint64) l->limits.request_timeout_s * G_USEC_PER_SEC;
  GHashTableIter it;
  gpointer v;

  g_hash_table_iter_init (&it, l->conns);
  while (g_hash_table_iter_next (&it, NULL, &v))
    {
      PaConn *c = v;

      /* conn_close() only shuts the socket down: the table is not touched
       * while we iterate (conn_gone runs later, from libsoup). */
      if (c->state == CONN_IDLE && bytes_received (c) != c->bytes_at_idle)
        {
          /* The first bytes of a request: from now on it has
           * request_timeout_s to arrive whole (seen within one sweep). */
          c->state = CONN_READING;
          c->since = now;
        }
      if (c->state == CONN_IDLE && now - c->since >= idle_us)
        conn_close (c, "idle timeout");
      else if (c->state == CONN_READING && now - c->since >= request_us)
        {
          g_message ("appservice: a request was not received within %u s, connection closed",
                     l->limits.request_timeout_s);
          conn_close (c, "request read timeout");
        }
    }
  return G_SOURCE_CONTINUE;
}

static void
track (PaAsListener *l, GSocketConnection *conn, GSocket *socket, GSocketAddress *remote)
{
  PaConn *c = g_new0 (PaConn, 1);

  c->l = l;
  c->conn = conn;
  c->socket = socket;
  c->remote = g_object_ref (remote);
  c->state = CONN_IDLE;
  c->since = g_get_monotonic_time ();
  c->bytes_at_idle = bytes_received (c);
  g_hash_table_insert (l->conns, remote, c);
  g_object_weak_ref (G_OBJECT (conn), conn_gone, c);
}

static gboolean
retry_cb (gpointer data)
{
  PaAsListener *l = data;

  l->retry_id = 0;
  if (!l->paused_at_cap)
    arm_accept (l);
  return G_SOURCE_REMOVE;
}

static void
disarm_accept (PaAsListener *l)
{
  if (l->accept_source != NULL)
    {
      g_source_destroy (l->accept_source);
      g_clear_pointer (&l->accept_source, g_source_unref);
    }
}

static void
accept_failed (PaAsListener *l, const GError *error)
{
  gint64 now = g_get_monotonic_time ();
  PaConn *idle;

  l->failing = TRUE;
  l->failures++;
  l->failures_all++;
  if (l->last_warning == 0 || now - l->last_warning >= PA_AS_WARN_INTERVAL_US)
    {
      g_warning ("appservice listener cannot accept connections: %s (%u open; %" G_GUINT64_FORMAT
                 " failed accept%s since the last warning); retrying every %u ms",
                 error->message, pa_as_listener_n_connections (l), l->failures,
                 l->failures == 1 ? "" : "s", PA_AS_RETRY_MS);
      l->last_warning = now;
      l->failures = 0;
    }
  /* Give a descriptor back: the homeserver matters more than an idle one. */
  idle = oldest_idle (l);
  if (idle != NULL)
    conn_close (idle, "descriptors exhausted");
  disarm_accept (l);
  if (l->retry_id == 0)
    l->retry_id = g_timeout_add (PA_AS_RETRY_MS, retry_cb, l);
}

static void
at_cap (PaAsListener *l)
{
  gint64 now = g_get_monotonic_time ();
  PaConn *idle = oldest_idle (l);

  if (l->last_cap_log == 0 || now - l->last_cap_log >= PA_AS_WARN_INTERVAL_US)
    {
      g_warning ("appservice listener: %u connections open, the limit "
                 "(limits.max_connections); %s",
                 l->limits.max_connections,
                 idle != NULL ? "closing the one idle the longest"
                              : "new ones wait until one closes");
      l->last_cap_log = now;
    }
  if (idle != NULL)
    conn_close (idle, "connection cap reached");
  l->paused_at_cap = TRUE;
  disarm_accept (l);
}

static gboolean
accept_cb (GSocket *socket, GIOCondition cond, gpointer data)
{
  PaAsListener *l = data;

  for (guint i = 0; i < PA_AS_ACCEPT_BATCH; i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GSocket) client = NULL;
      g_autoptr (GSocketConnection) conn = NULL;
      g_autoptr (GSocketAddress) local = NULL;
      g_autoptr (GSocketAddress) remote = NULL;

      if (g_hash_table_size (l->conns) >= l->limits.max_connections)
        {
          /* Only a wake-up says a connection is waiting: after accepting,
           * come back through the poll rather than evict for nothing. */
          if (i > 0)
            return G_SOURCE_CONTINUE;
          at_cap (l);
          return G_SOURCE_REMOVE;
        }
      client = g_socket_accept (l->socket, NULL, &error);
      if (client == NULL)
        {
          if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
            return G_SOURCE_CONTINUE;
          accept_failed (l, error);
          return G_SOURCE_REMOVE;
        }
      if (l->failing)
        {
          g_message ("appservice listener accepting connections again (%" G_GUINT64_FORMAT
                     " failed accept%s)",
                     l->failures_all, l->failures_all == 1 ? "" : "s");
          l->failing = FALSE;
          l->failures = 0;
          l->failures_all = 0;
          l->last_warning = 0;
        }
      conn = g_socket_connection_factory_create_connection (client);
      local = g_socket_get_local_address (client, NULL);
      remote = g_socket_get_remote_address (client, NULL);
      if (local == NULL || remote == NULL)
        {
          /* The peer is already gone. */
          g_io_stream_close (G_IO_STREAM (conn), NULL, NULL);
          continue;
        }
      track (l, conn, client, remote);
      if (!soup_server_accept_iostream (l->server, G_IO_STREAM (conn), local, remote, &error))
        {
          g_warning ("appservice listener: connection not taken: %s", error->message);
          g_io_stream_close (G_IO_STREAM (conn), NULL, NULL);
        }
      /* Our reference goes with the autoptr; libsoup keeps its own. */
    }
  return G_SOURCE_CONTINUE;
}

static void
arm_accept (PaAsListener *l)
{
  if (l->accept_source != NULL || l->socket == NULL)
    return;
  l->accept_source = g_socket_create_source (l->socket, G_IO_IN, NULL);
  g_source_set_callback (l->accept_source, G_SOURCE_FUNC (accept_cb), l, NULL);
  g_source_attach (l->accept_source, g_main_context_get_thread_default ());
}

/* pa_as_listener_new: see the header.  Zero limits take the defaults. */
PaAsListener *
pa_as_listener_new (SoupServer *server, const PaAsListenerLimits *limits)
{
  PaAsListener *l;

  g_return_val_if_fail (SOUP_IS_SERVER (server), NULL);

  l = g_new0 (PaAsListener, 1);
  l->server = server;
  if (limits != NULL)
    l->limits = *limits;
  if (l->limits.max_connections == 0)
    l->limits.max_connections = 256;
  if (l->limits.idle_timeout_s == 0)
    l->limits.idle_timeout_s = 60;
  if (l->limits.request_timeout_s == 0)
    l->limits.request_timeout_s = 30;
  l->conns = g_hash_table_new (NULL, NULL);
  l->signal_ids[0] = g_signal_connect (server, "request-read", G_CALLBACK (request_read_cb), l);
  l->signal_ids[1] = g_signal_connect (server, "request-finished", G_CALLBACK (request_done_cb), l);
  l->signal_ids[2] = g_signal_connect (server, "request-aborted", G_CALLBACK (request_done_cb), l);
  return l;
}

static gboolean
soup_server_listen_keepalive_sentinel (PaAsListener *l, GError **error)
{
  int fds[2];

  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
    {
      int e = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e), "socketpair: %s", g_strerror (e));
      return FALSE;
    }
  for (guint i = 0; i < 2; i++)
    {
      l->keepalive[i] = g_socket_new_from_fd (fds[i], error);
      if (l->keepalive[i] == NULL)
        {
          close (fds[i]);
          if (i == 0)
            close (fds[1]);
          g_clear_object (&l->keepalive[0]);
          return FALSE;
        }
    }
  if (!soup_server_listen_socket (l->server, l->keepalive[0], 0, error))
    {
      for (guint i = 0; i < 2; i++)
        g_clear_object (&l->keepalive[i]);
      return FALSE;
    }
  return TRUE;
}

/* pa_as_listener_listen: one listening socket per listener (a second call
 * fails with G_IO_ERROR_EXISTS). */
gboolean
pa_as_listener_listen (PaAsListener *l, GSocketAddress *addr, guint *port_out, GError **error)
{
  g_autoptr (GSocket) s = NULL;
  g_autoptr (GSocketAddress) local = NULL;

  g_return_val_if_fail (l != NULL && G_IS_SOCKET_ADDRESS (addr), FALSE);

  if (l->socket != NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_EXISTS, "already listening");
      return FALSE;
    }
  s = g_socket_new (g_socket_address_get_family (addr), G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                    error);
  if (s == NULL)
    return FALSE;
  g_socket_set_blocking (s, FALSE);
  g_socket_set_listen_backlog (s, 128);
  if (!g_socket_bind (s, addr, TRUE, error) || !g_socket_listen (s, error))
    return FALSE;
  local = g_socket_get_local_address (s, error);
  if (local == NULL)
    return FALSE;
  if (port_out != NULL)
    *port_out = G_IS_INET_SOCKET_ADDRESS (local)
                    ? g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local))
                    : 0;
  /* libsoup keeps a connection alive after a response only while the
   * server has a listener of its own (soup-server.c, request_finished):
   * without one every request would cost a new connection.  Give it one
   * that can never accept anything: one end of a socket pair whose other
   * end we hold and never write to. */
  if (!soup_server_listen_keepalive_sentinel (l, error))
    return FALSE;
  l->socket = g_steal_pointer (&s);
  arm_accept (l);
  l->sweep_id = g_timeout_add (PA_AS_SWEEP_MS, sweep_cb, l);
  return TRUE;
}

guint
pa_as_listener_n_connections (PaAsListener *l)
{
  g_return_val_if_fail (l != NULL, 0);
  return g_hash_table_size (l->conns);
}

void
pa_as_listener_free (PaAsListener *l)
{
  GHashTableIter it;
  gpointer v;

  if (l == NULL)
    return;
  disarm_accept (l);
  g_clear_handle_id (&l->retry_id, g_source_remove);
  g_clear_handle_id (&l->sweep_id, g_source_remove);
  for (guint i = 0; i < G_N_ELEMENTS (l->signal_ids); i++)
    g_clear_signal_handler (&l->signal_ids[i], l->server);
  g_hash_table_iter_init (&it, l->conns);
  while (g_hash_table_iter_next (&it, NULL, &v))
    {
      PaConn *c = v;

      g_object_weak_unref (G_OBJECT (c->conn), conn_gone, c);
      g_object_unref (c->remote);
      g_free (c);
    }
  g_hash_table_unref (l->conns);
  if (l->socket != NULL)
    g_socket_close (l->socket, NULL);
  g_clear_object (&l->socket);
  for (guint i = 0; i < 2; i++)
    g_clear_object (&l->keepalive[i]);
  g_free (l);
}
