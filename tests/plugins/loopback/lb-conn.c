/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * lb-conn.c — the TCP connection to loopnet: connect (with a timeout), say
 * hello with the credentials, read newline-delimited JSON and hand each line
 * to login->on_line, write queued lines in order, and on loss call
 * login->on_lost.  Also the reconnection policy (backoff doubling up to the
 * configured reconnect_max_s) and the acks of persisted events.
 *
 * Everything is asynchronous on GLib's default main context (allowed by
 * THREADING in plugin.h): a callback never blocks.
 */
#define G_LOG_DOMAIN "passerelle-loopback"

#include "lb-conn.h"

#include <string.h>

#include "lb-plugin.h"
#include "lb-util.h"

static LbConn *
lb_conn_ref (LbConn *c)
{
  c->refs++;
  return c;
}

static void
lb_conn_unref (LbConn *c)
{
  if (--c->refs > 0)
    return;
  g_clear_handle_id (&c->timeout_id, g_source_remove);
  g_clear_object (&c->sock);
  g_clear_object (&c->cancel);
  g_byte_array_unref (c->inbuf);
  g_queue_clear_full (&c->outq, (GDestroyNotify) g_bytes_unref);
  g_free (c);
}

/* Detaches the connection from its login: the socket is shut down at once so
 * the network sees EOF; memory goes with the last pending callback. */
void
lb_conn_abandon (LbConn *c)
{
  c->login = NULL;
  g_clear_handle_id (&c->timeout_id, g_source_remove);
  g_cancellable_cancel (c->cancel);
  if (c->sock != NULL)
    g_socket_shutdown (g_socket_connection_get_socket (c->sock), TRUE, TRUE, NULL);
  lb_conn_unref (c);
}

static void lb_write_next (LbConn *c);

static void
lb_on_written (GObject *src, GAsyncResult *res, gpointer data)
{
  LbConn *c = data;
  g_autoptr (GError) err = NULL;
  gboolean ok = g_output_stream_write_all_finish (G_OUTPUT_STREAM (src), res, NULL, &err);
  if (c->login == NULL)
    {
      lb_conn_unref (c);
      return;
    }
  if (!ok)
    {
      g_autofree char *why = g_strdup_printf ("write failed: %s", err->message);
      c->login->on_lost (c->login, why);
      lb_conn_unref (c);
      return;
    }
  g_bytes_unref (g_queue_pop_head (&c->outq));
  lb_write_next (c);
  lb_conn_unref (c);
}

static void
lb_write_next (LbConn *c)
{
  GBytes *line = g_queue_peek_head (&c->outq);
  c->writing = line != NULL;
  if (line == NULL)
    return;
  gsize len = 0;
  const void *data = g_bytes_get_data (line, &len);
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (c->sock));
  g_output_stream_write_all_async (out, data, len, G_PRIORITY_DEFAULT, c->cancel, lb_on_written,
                                   lb_conn_ref (c));
}

void
lb_conn_send (LbConn *c, json_t *msg)
{
  if (c == NULL || c->sock == NULL)
    return;
  char *text = json_dumps (msg, JSON_COMPACT);
  if (text == NULL)
    {
      g_warning ("cannot serialise a request");
      return;
    }
  gsize len = strlen (text);
  char *line = g_malloc (len + 1);
  memcpy (line, text, len);
  line[len] = '\n';
  free (text);
  g_queue_push_tail (&c->outq, g_bytes_new_take (line, len + 1));
  if (!c->writing)
    lb_write_next (c);
}

void
lb_ack (LbLogin *login, guint64 net_seq)
{
  if (login->phase != LB_PHASE_ONLINE)
    return; /* the network redelivers what was not acked */
  g_autoptr (json_t) msg = json_pack ("{s:s, s:I}", "op", "ack", "seq", (json_int_t) net_seq);
  lb_conn_send (login->conn, msg);
}

/* Fails every operation sent but not answered.  NOT_CONNECTED: the host
 * retries them once the login is back.  loopnet may have applied a request
 * it had not answered yet and has no idempotency key, so a retried send
 * could arrive twice. */
static void
lb_fail_pending (LbLogin *login, const char *why)
{
  g_autofree char *msg = g_strdup_printf ("The loopback network connection was lost (%s)", why);
  g_autoptr (GArray) ops = g_array_new (FALSE, FALSE, sizeof (guint64));
  GHashTableIter it;
  gpointer value;
  g_hash_table_iter_init (&it, login->inflight);
  while (g_hash_table_iter_next (&it, NULL, &value))
    g_array_append_val (ops, ((LbRequest *) value)->op_id);
  g_hash_table_remove_all (login->inflight); /* the table frees the requests */
  for (guint i = 0; i < ops->len; i++)
    lb_fail_op (login, g_array_index (ops, guint64, i), PA_RESULT_NOT_CONNECTED, msg);
}

void
lb_drop_connection (LbLogin *login, const char *why)
{
  if (login->conn != NULL)
    lb_conn_abandon (g_steal_pointer (&login->conn));
  login->phase = LB_PHASE_IDLE;
  lb_fail_pending (login, why);
}

static gboolean
lb_on_reconnect (gpointer data)
{
  LbLogin *login = data;
  login->reconnect_id = 0;
  if (login->conn == NULL && login->session != NULL && login->want_online)
    lb_start_connection (login);
  return G_SOURCE_REMOVE;
}

void
lb_schedule_reconnect (LbLogin *login, const char *why)
{
  g_clear_handle_id (&login->reconnect_id, g_source_remove);
  guint delay_s = MIN (login->backoff_s, lb_plugin.backoff_max_s);
  g_autofree char *msg = g_strdup_printf (
      "Disconnected from the loopback network (%s); retrying in %u s", why, delay_s);
  login->api->login_state (login->host, PA_STATE_TRANSIENT_DISCONNECT, msg);
  login->reconnect_id = g_timeout_add (delay_s * 1000, lb_on_reconnect, login);
  login->backoff_s = MIN (login->backoff_s * 2, lb_plugin.backoff_max_s);
}

static void lb_read_more (LbConn *c);

static void
lb_on_read (GObject *src, GAsyncResult *res, gpointer data)
{
  LbConn *c = data;
  g_autoptr (GError) err = NULL;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (src), res, &err);
  LbLogin *login = c->login;
  if (login == NULL)
    {
      lb_conn_unref (c);
      return;
    }
  if (n <= 0)
    {
      login->on_lost (login, n < 0 ? err->message : "the network closed the connection");
      lb_conn_unref (c);
      return;
    }
  g_byte_array_append (c->inbuf, c->chunk, (guint) n);

  /* Handle every complete line; handling one may drop this connection. */
  gsize start = 0;
  while (c->login == login)
    {
      guint8 *nl = memchr (c->inbuf->data + c->scanned, '\n', c->inbuf->len - c->scanned);
      if (nl == NULL)
        {
          c->scanned = c->inbuf->len;
          break;
        }
      gsize end = (gsize) (nl - c->inbuf->data);
      c->scanned = end + 1;
      if (end - start > LB_MAX_LINE)
        {
          login->on_lost (login, "the network sent a line longer than 16 MiB");
          break;
        }
      login->on_line (login, (const char *) c->inbuf->data + start, end - start);
      start = end + 1;
    }
  if (c->login != login)
    {
      lb_conn_unref (c);
      return;
    }
  g_byte_array_remove_range (c->inbuf, 0, (guint) start);
  c->scanned -= start;
  if (c->inbuf->len > LB_MAX_LINE)
    {
      login->on_lost (login, "the network sent a line longer than 16 MiB");
      lb_conn_unref (c);
      return;
    }
  lb_read_more (c);
  lb_conn_unref (c);
}

static void
lb_read_more (LbConn *c)
{
  GInputStream *in = g_io_stream_get_input_stream (G_IO_STREAM (c->sock));
  g_input_stream_read_async (in, c->chunk, sizeof c->chunk, G_PRIORITY_DEFAULT, c->cancel,
                             lb_on_read, lb_conn_ref (c));
}

static void
lb_on_connected (GObject *src, GAsyncResult *res, gpointer data)
{
  LbConn *c = data;
  g_autoptr (GError) err = NULL;
  GSocketConnection *sock
      = g_socket_client_connect_to_host_finish (G_SOCKET_CLIENT (src), res, &err);
  LbLogin *login = c->login;
  if (login == NULL)
    {
      g_clear_object (&sock);
      lb_conn_unref (c);
      return;
    }
  g_clear_handle_id (&c->timeout_id, g_source_remove);
  if (sock == NULL)
    {
      login->on_lost (login, err->message);
      lb_conn_unref (c);
      return;
    }
  c->sock = sock;
  login->phase = LB_PHASE_HELLO;
  lb_read_more (c);
  const LbCreds *cr = login->attempt != NULL ? login->attempt : login->session;
  g_autoptr (json_t) hello
      = json_pack ("{s:s, s:s, s:s}", "op", "hello", "user", cr->user, "password", cr->password);
  lb_conn_send (c, hello);
  lb_conn_unref (c);
}

static gboolean
lb_on_connect_timeout (gpointer data)
{
  LbConn *c = data;
  c->timeout_id = 0;
  if (c->login != NULL)
    c->login->on_lost (c->login, "timed out connecting");
  return G_SOURCE_REMOVE;
}

/* Connects with the login attempt's credentials, else the saved session's. */
void
lb_start_connection (LbLogin *login)
{
  const LbCreds *cr = login->attempt != NULL ? login->attempt : login->session;
  g_return_if_fail (cr != NULL && login->conn == NULL);
  g_clear_handle_id (&login->reconnect_id, g_source_remove);
  LbConn *c = g_new0 (LbConn, 1);
  c->refs = 1;
  c->login = login;
  c->cancel = g_cancellable_new ();
  c->inbuf = g_byte_array_new ();
  g_queue_init (&c->outq);
  login->conn = c;
  login->phase = LB_PHASE_CONNECTING;
  c->timeout_id = g_timeout_add_seconds (LB_CONNECT_TIMEOUT_S, lb_on_connect_timeout, c);
  g_socket_client_connect_to_host_async (login->client, cr->server, 0, c->cancel, lb_on_connected,
                                         lb_conn_ref (c));
}
