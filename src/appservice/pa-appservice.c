/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The HS → AS HTTP server: a libsoup-3 SoupServer on the thread-default main
 * context.
 *
 * Everything that can be decided from the request line and headers (route,
 * method, token, Content-Length) is decided in the early handler, before a
 * byte of body is read.  When such a request is refused and it announces a
 * body, the connection is taken from libsoup: we write the error response
 * ourselves with "Connection: close", read and discard what the client still
 * sends (bounded in bytes and time, so that closing does not turn into a TCP
 * reset that would destroy the response), then close.  Without that, libsoup
 * would read the whole announced body before answering.
 *
 * Accepted requests collect their body in got-chunk with libsoup's own
 * accumulation switched off, counting as they go.  A chunked body that grows
 * past max_body_bytes is refused at that moment (413) in the same way: its
 * memory never exceeds the limit. */
#define G_LOG_DOMAIN "passerelle-appservice"

#include "pa-common.h"
#include "appservice/pa-appservice.h"
#include "appservice/pa-as-listener.h"

#include <libsoup/soup.h>
#include <string.h>

#define PA_AS_PREFIX "/_matrix/app/v1"
/* A rejected client may keep sending; we discard at most this much of it,
 * for at most this long, before closing. */
#define PA_AS_DRAIN_MAX_BYTES (16 * 1024 * 1024)
#define PA_AS_DRAIN_SECONDS 5
#define PA_AS_REQ_KEY "pa-appservice-request"

typedef enum {
  ROUTE_NONE,
  ROUTE_TXN,
  ROUTE_USER,
  ROUTE_ROOM,
  ROUTE_PING,
  ROUTE_TP_PROTOCOL,
  ROUTE_TP_USER,
  ROUTE_TP_LOCATION,
  ROUTE_PREFIX, /* the other API of pa_appservice_set_prefix_handler */
} PaRoute;

struct _PaAppservice {
  SoupServer *server;
  PaAsListener *listener;
  PaAsListenerLimits limits;
  char *hs_token;
  gint64 max_body_bytes;
  guint max_events;
  PaAppserviceHandlers handlers;
  gpointer user_data;
  guint port;
  GHashTable *queries; /* PaQuery* set: user/alias queries not answered yet */
  GHashTable *drains;  /* PaDrain* set: refused connections being drained */
  char *prefix;        /* pa_appservice_set_prefix_handler, or NULL */
  PaAppservicePrefixFunc prefix_fn;
  gpointer prefix_data;
};

/* Per-request state, attached to the SoupServerMessage. */
typedef struct {
  PaAppservice *as;
  PaRoute route;
  char *param;         /* decoded path parameter, or NULL */
  GByteArray *body;
  gboolean rejected;   /* connection taken from libsoup and answered */
} PaRequest;

/* A pending user/alias query: the handle given to the callback. */
typedef struct {
  PaAppservice *as;       /* NULL once the server is freed */
  SoupServerMessage *msg; /* ref held; NULL once finished or the server freed */
  gulong finished_id;
} PaQuery;

/* A refused connection: write the response, drain, close. */
typedef struct {
  PaAppservice *as; /* NULL once the server is freed */
  GIOStream *stream;
  GCancellable *cancellable;
  char *response;
  gsize response_len;
  gsize drained;
  guint timeout_id;
  guint8 buf[8192];
} PaDrain;

static void
pa_request_free (gpointer data)
{
  PaRequest *req = data;

  g_free (req->param);
  if (req->body != NULL)
    g_byte_array_unref (req->body);
  g_free (req);
}

static char *
error_body (const char *errcode, const char *message)
{
  g_autoptr (json_t) j = json_pack ("{s:s, s:s}", "errcode", errcode, "error",
                                    message != NULL ? message : "");

  if (j == NULL) /* message was not UTF-8 */
    j = json_pack ("{s:s, s:s}", "errcode", errcode, "error", "");
  return json_dumps (j, JSON_COMPACT);
}

static void
reply_raw (SoupServerMessage *msg, guint status, const char *body)
{
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_COPY, body,
                                    strlen (body));
}

static void
reply_error (SoupServerMessage *msg, guint status, const char *errcode, const char *message)
{
  g_autofree char *body = error_body (errcode, message);

  reply_raw (msg, status, body);
}

/* ---- refused connections -------------------------------------------------- */

static void
drain_finish (PaDrain *d)
{
  if (d->as != NULL)
    g_hash_table_remove (d->as->drains, d);
  g_clear_handle_id (&d->timeout_id, g_source_remove);
  /* Plain sockets close at once; the error, if any, changes nothing. */
  g_io_stream_close (d->stream, NULL, NULL);
  g_object_unref (d->stream);
  g_object_unref (d->cancellable);
  g_free (d->response);
  g_free (d);
}

static gboolean
drain_timeout (gpointer data)
{
  PaDrain *d = data;

  d->timeout_id = 0;
  g_cancellable_cancel (d->cancellable);
  return G_SOURCE_REMOVE;
}

static void
drain_read_cb (GObject *source, GAsyncResult *res, gpointer data)
{
  PaDrain *d = data;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), res, NULL);

  if (n <= 0 || d->drained + (gsize) n >= PA_AS_DRAIN_MAX_BYTES)
    {
      drain_finish (d);
      return;
    }
  d->drained += (gsize) n;
  g_input_stream_read_async (G_INPUT_STREAM (source), d->buf, sizeof d->buf,
                             G_PRIORITY_DEFAULT, d->cancellable, drain_read_cb, d);
}

static void
drain_written_cb (GObject *source, GAsyncResult *res, gpointer data)
{
  PaDrain *d = data;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), res, NULL, NULL))
    {
      drain_finish (d);
      return;
    }
  g_input_stream_read_async (g_io_stream_get_input_stream (d->stream), d->buf, sizeof d->buf,
                             G_PRIORITY_DEFAULT, d->cancellable, drain_read_cb, d);
}

/* Refuse a request before its body is read.  When it announces no body,
 * libsoup answers normally and keeps the connection; otherwise we take the
 * connection (see the comment at the top). */
static void
reject_early (PaRequest *req, SoupServerMessage *msg, guint status, const char *errcode,
              const char *message)
{
  SoupMessageHeaders *hdrs = soup_server_message_get_request_headers (msg);
  SoupEncoding enc = soup_message_headers_get_encoding (hdrs);
  gboolean has_body = enc == SOUP_ENCODING_CHUNKED || enc == SOUP_ENCODING_EOF
                      || (enc == SOUP_ENCODING_CONTENT_LENGTH
                          && soup_message_headers_get_content_length (hdrs) > 0);
  g_autofree char *body = error_body (errcode, message);
  PaAppservice *as = req->as;
  GIOStream *stream;
  PaDrain *d;

  g_debug ("refusing %s %s early: %u %s", soup_server_message_get_method (msg),
           g_uri_get_path (soup_server_message_get_uri (msg)), status, errcode);
  if (!has_body)
    {
      reply_raw (msg, status, body);
      return;
    }

  req->rejected = TRUE;
  stream = soup_server_message_steal_connection (msg);
  if (stream == NULL)
    {
      /* Not an HTTP/1 connection we can take: answer after the body, which
       * is discarded as it arrives because accumulation is off. */
      soup_message_body_set_accumulate (soup_server_message_get_request_body (msg), FALSE);
      reply_raw (msg, status, body);
      return;
    }

  /* msg, and req with it, may be gone now: use only the locals. */
  d = g_new0 (PaDrain, 1);
  d->as = as;
  d->stream = stream;
  d->cancellable = g_cancellable_new ();
  d->response = g_strdup_printf ("HTTP/1.1 %u %s\r\n"
                                 "Content-Type: application/json\r\n"
                                 "Content-Length: %zu\r\n"
                                 "Connection: close\r\n"
                                 "\r\n"
                                 "%s",
                                 status, soup_status_get_phrase (status), strlen (body), body);
  d->response_len = strlen (d->response);
  d->timeout_id = g_timeout_add_seconds (PA_AS_DRAIN_SECONDS, drain_timeout, d);
  g_hash_table_add (as->drains, d);
  g_output_stream_write_all_async (g_io_stream_get_output_stream (stream), d->response,
                                   d->response_len, G_PRIORITY_DEFAULT, d->cancellable,
                                   drain_written_cb, d);
}

/* ---- routing -------------------------------------------------------------- */

/* Percent-decode one path segment, exactly once.  NULL if it is empty, has
 * a bad escape, decodes to a NUL or a '/' is not what we split on, or is not
 * UTF-8. */
static char *
decode_segment (const char *seg, gsize len)
{
  g_autofree char *raw = g_strndup (seg, len);
  g_autofree char *dec = NULL;

  if (len == 0)
    return NULL;
  dec = g_uri_unescape_segment (raw, NULL, NULL);
  if (dec == NULL || *dec == '\0' || !g_utf8_validate (dec, -1, NULL))
    return NULL;
  return g_steal_pointer (&dec);
}

/* Match the path (raw, still percent-encoded).  Returns the route and sets
 * *param (transfer full) and *method (the one the route accepts).  Returns
 * ROUTE_NONE for an unknown path; *bad_param is set when the path is known
 * but its parameter does not decode. */
static PaRoute
match_route (const char *path, char **param, const char **method, gboolean *bad_param)
{
  const char *rest;
  gboolean legacy = FALSE;
  const char *slash;

  *param = NULL;
  *method = NULL;
  *bad_param = FALSE;

  if (g_str_has_prefix (path, PA_AS_PREFIX "/"))
    rest = path + strlen (PA_AS_PREFIX "/");
  else if (path[0] == '/')
    {
      rest = path + 1;
      legacy = TRUE;
    }
  else
    return ROUTE_NONE;

  if (!legacy && strcmp (rest, "ping") == 0)
    {
      *method = "POST";
      return ROUTE_PING;
    }
  if (!legacy && strcmp (rest, "thirdparty/user") == 0)
    {
      *method = "GET";
      return ROUTE_TP_USER;
    }
  if (!legacy && strcmp (rest, "thirdparty/location") == 0)
    {
      *method = "GET";
      return ROUTE_TP_LOCATION;
    }

  static const struct {
    const char *prefix;
    PaRoute route;
    const char *method;
    gboolean legacy_too;
  } with_param[] = {
    { "transactions/", ROUTE_TXN, "PUT", TRUE },
    { "users/", ROUTE_USER, "GET", TRUE },
    { "rooms/", ROUTE_ROOM, "GET", TRUE },
    { "thirdparty/protocol/", ROUTE_TP_PROTOCOL, "GET", FALSE },
    { "thirdparty/user/", ROUTE_TP_USER, "GET", FALSE },
    { "thirdparty/location/", ROUTE_TP_LOCATION, "GET", FALSE },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (with_param); i++)
    {
      const char *seg;

      if (legacy && !with_param[i].legacy_too)
        continue;
      if (!g_str_has_prefix (rest, with_param[i].prefix))
        continue;
      seg = rest + strlen (with_param[i].prefix);
      slash = strchr (seg, '/');
      if (slash != NULL || *seg == '\0')
        return ROUTE_NONE;
      *param = decode_segment (seg, strlen (seg));
      if (*param == NULL)
        *bad_param = TRUE;
      *method = with_param[i].method;
      return with_param[i].route;
    }
  return ROUTE_NONE;
}

/* The token from "Authorization: Bearer X", else from ?access_token=X. */
static const char *
request_token (SoupServerMessage *msg, GHashTable *query)
{
  const char *auth = soup_message_headers_get_one (soup_server_message_get_request_headers (msg),
                                                   "Authorization");

  if (auth != NULL)
    {
      while (*auth == ' ')
        auth++;
      if (g_ascii_strncasecmp (auth, "Bearer ", 7) == 0)
        {
          auth += 7;
          while (*auth == ' ')
            auth++;
          if (*auth != '\0')
            return auth;
        }
    }
  if (query != NULL)
    {
      const char *t = g_hash_table_lookup (query, "access_token");

      if (t != NULL && *t != '\0')
        return t;
    }
  return NULL;
}

static void
got_chunk_cb (SoupServerMessage *msg, GBytes *chunk, gpointer data)
{
  PaRequest *req = data;
  gsize n = g_bytes_get_size (chunk);

  if (req->rejected)
    return;
  if ((gint64) (req->body->len + n) > req->as->max_body_bytes)
    {
      g_clear_pointer (&req->body, g_byte_array_unref);
      req->body = g_byte_array_new ();
      reject_early (req, msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, "M_TOO_LARGE",
                    "request body too large");
      return;
    }
  g_byte_array_append (req->body, g_bytes_get_data (chunk, NULL), (guint) n);
}

static void
early_handler (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
               gpointer data)
{
  PaAppservice *as = data;
  PaRequest *req = g_new0 (PaRequest, 1);
  const char *token, *want_method;
  gboolean bad_param;
  SoupMessageHeaders *hdrs = soup_server_message_get_request_headers (msg);
  SoupEncoding enc;

  req->as = as;
  req->body = g_byte_array_new ();
  g_object_set_data_full (G_OBJECT (msg), PA_AS_REQ_KEY, req, pa_request_free);

  if (as->prefix != NULL && g_str_has_prefix (path, as->prefix)
      && (path[strlen (as->prefix)] == '\0' || path[strlen (as->prefix)] == '/'))
    {
      /* Its own auth and routes; only the body limit below is ours. */
      req->route = ROUTE_PREFIX;
      goto body;
    }
  token = request_token (msg, query);
  if (token == NULL)
    {
      reject_early (req, msg, SOUP_STATUS_UNAUTHORIZED, "M_MISSING_TOKEN",
                    "missing access token");
      return;
    }
  if (!pa_secure_equal (token, as->hs_token))
    {
      reject_early (req, msg, SOUP_STATUS_FORBIDDEN, "M_FORBIDDEN", "invalid access token");
      return;
    }

  req->route = match_route (path, &req->param, &want_method, &bad_param);
  if (req->route == ROUTE_NONE)
    {
      reject_early (req, msg, SOUP_STATUS_NOT_FOUND, "M_UNRECOGNIZED", "unrecognized request");
      return;
    }
  if (strcmp (soup_server_message_get_method (msg), want_method) != 0)
    {
      reject_early (req, msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "M_UNRECOGNIZED",
                    "method not allowed");
      return;
    }
  if (bad_param)
    {
      reject_early (req, msg, SOUP_STATUS_BAD_REQUEST, "M_INVALID_PARAM",
                    "path parameter is not valid percent-encoded UTF-8");
      return;
    }

body:
  enc = soup_message_headers_get_encoding (hdrs);
  if (enc == SOUP_ENCODING_CONTENT_LENGTH
      && soup_message_headers_get_content_length (hdrs) > as->max_body_bytes)
    {
      reject_early (req, msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, "M_TOO_LARGE",
                    "request body too large");
      return;
    }

  /* The announced size (already bounded) at once: growing by doubling would
   * hold up to twice the body. */
  if (enc == SOUP_ENCODING_CONTENT_LENGTH)
    {
      g_byte_array_unref (req->body);
      req->body = g_byte_array_sized_new ((guint) soup_message_headers_get_content_length (hdrs));
    }
  soup_message_body_set_accumulate (soup_server_message_get_request_body (msg), FALSE);
  g_signal_connect (msg, "got-chunk", G_CALLBACK (got_chunk_cb), req);
}

/* ---- handlers ------------------------------------------------------------- */

static void
handle_txn (PaAppservice *as, PaRequest *req, SoupServerMessage *msg)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PaTxn) txn = NULL;

  txn = pa_txn_parse ((const char *) req->body->data, req->body->len, as->max_events,
                      (guint64) as->max_body_bytes * PA_TXN_BUDGET_FACTOR, &error);
  /* The body is not needed any more: give its memory back before handling. */
  g_clear_pointer (&req->body, g_byte_array_unref);

  if (txn == NULL)
    {
      const char *colon = strchr (error->message, ':');
      g_autofree char *errcode = NULL;
      const char *text = error->message;

      if (g_error_matches (error, PA_ERROR, PA_ERROR_TOO_LARGE))
        errcode = g_strdup ("M_TOO_LARGE");
      else if (colon != NULL && g_str_has_prefix (error->message, "M_"))
        errcode = g_strndup (error->message, (gsize) (colon - error->message));
      else
        errcode = g_strdup ("M_BAD_JSON");
      if (colon != NULL && g_str_has_prefix (error->message, "M_"))
        text = colon[1] == ' ' ? colon + 2 : colon + 1;
      /* The homeserver will send this transaction again and again. */
      g_warning ("transaction %s refused: %s", req->param, error->message);
      reply_error (msg,
                   g_error_matches (error, PA_ERROR, PA_ERROR_TOO_LARGE)
                     ? SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE
                     : SOUP_STATUS_BAD_REQUEST,
                   errcode, text);
      return;
    }
  if (as->handlers.txn != NULL
      && !as->handlers.txn (req->param, txn, as->user_data, &error))
    {
      g_warning ("transaction %s not processed: %s", req->param,
                 error != NULL ? error->message : "no reason given");
      /* The store cannot write: 503, and the homeserver sends it again. */
      reply_error (msg,
                   g_error_matches (error, PA_ERROR, PA_ERROR_STORE)
                       ? SOUP_STATUS_SERVICE_UNAVAILABLE
                       : SOUP_STATUS_INTERNAL_SERVER_ERROR,
                   "M_UNKNOWN", error != NULL ? error->message : "transaction not processed");
      return;
    }
  reply_raw (msg, SOUP_STATUS_OK, "{}");
}

static void
query_finished_cb (SoupServerMessage *msg, gpointer data)
{
  PaQuery *q = data;

  /* The client went away (or the reply was sent): never touch msg again. */
  g_clear_signal_handler (&q->finished_id, q->msg);
  g_clear_object (&q->msg);
}

static void
handle_query (PaAppservice *as, PaRequest *req, SoupServerMessage *msg)
{
  void (*cb) (const char *, gpointer, gpointer) = req->route == ROUTE_USER
                                                    ? as->handlers.user_query
                                                    : as->handlers.alias_query;
  PaQuery *q;

  if (cb == NULL)
    {
      reply_error (msg, SOUP_STATUS_NOT_FOUND, "M_NOT_FOUND", "not found");
      return;
    }
  q = g_new0 (PaQuery, 1);
  q->as = as;
  q->msg = g_object_ref (msg);
  q->finished_id = g_signal_connect (msg, "finished", G_CALLBACK (query_finished_cb), q);
  g_hash_table_add (as->queries, q);
  soup_server_message_pause (msg);
  cb (req->param, q, as->user_data);
}

/* pa_appservice_reply_query: answers a pending user/alias query exactly
 * once: 200 {} when found, else 404 M_NOT_FOUND.  Frees the handle.  Safe
 * when the client has gone or the server was freed meanwhile. */
void
pa_appservice_reply_query (gpointer handle, gboolean found)
{
  PaQuery *q = handle;

  g_return_if_fail (q != NULL);

  if (q->as != NULL)
    g_hash_table_remove (q->as->queries, q);
  if (q->msg != NULL)
    {
      if (found)
        reply_raw (q->msg, SOUP_STATUS_OK, "{}");
      else
        reply_error (q->msg, SOUP_STATUS_NOT_FOUND, "M_NOT_FOUND", "not found");
      g_clear_signal_handler (&q->finished_id, q->msg);
      soup_server_message_unpause (q->msg);
      g_clear_object (&q->msg);
    }
  g_free (q);
}

static void
handle_thirdparty (PaAppservice *as, PaRequest *req, SoupServerMessage *msg, GHashTable *query)
{
  const char *kind = req->route == ROUTE_TP_PROTOCOL ? "protocol"
                     : req->route == ROUTE_TP_USER   ? "user"
                                                     : "location";
  g_autoptr (json_t) q = json_object ();
  g_autoptr (json_t) result = NULL;
  g_autofree char *body = NULL;

  if (query != NULL)
    {
      GHashTableIter it;
      gpointer k, v;

      g_hash_table_iter_init (&it, query);
      while (g_hash_table_iter_next (&it, &k, &v))
        {
          /* The token is ours, not a search field; invalid UTF-8 is dropped. */
          if (strcmp (k, "access_token") == 0)
            continue;
          json_t *s = json_string (v);
          if (s != NULL)
            json_object_set_new (q, k, s);
        }
    }
  if (as->handlers.thirdparty != NULL)
    result = as->handlers.thirdparty (kind, req->param, q, as->user_data);
  if (result != NULL)
    body = json_dumps (result, JSON_COMPACT | JSON_ENCODE_ANY);
  if (body == NULL)
    {
      reply_error (msg, SOUP_STATUS_NOT_FOUND, "M_NOT_FOUND", "no such third-party entity");
      return;
    }
  reply_raw (msg, SOUP_STATUS_OK, body);
}

static void
server_handler (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
                gpointer data)
{
  PaAppservice *as = data;
  PaRequest *req = g_object_get_data (G_OBJECT (msg), PA_AS_REQ_KEY);

  if (req == NULL || req->rejected)
    {
      /* The early handler always runs first; this is only reachable if
       * libsoup changes that. */
      reply_error (msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, "M_UNKNOWN", "request not checked");
      return;
    }

  switch (req->route)
    {
    case ROUTE_TXN:
      handle_txn (as, req, msg);
      break;
    case ROUTE_USER:
    case ROUTE_ROOM:
      handle_query (as, req, msg);
      break;
    case ROUTE_PING:
      if (as->handlers.ping != NULL)
        as->handlers.ping (as->user_data);
      reply_raw (msg, SOUP_STATUS_OK, "{}");
      break;
    case ROUTE_TP_PROTOCOL:
    case ROUTE_TP_USER:
    case ROUTE_TP_LOCATION:
      handle_thirdparty (as, req, msg, query);
      break;
    case ROUTE_PREFIX:
      if (as->prefix_fn != NULL)
        {
          g_autoptr (GBytes) body = g_byte_array_free_to_bytes (g_steal_pointer (&req->body));
          as->prefix_fn (msg, path + strlen (as->prefix), query, body, as->prefix_data);
        }
      else
        reply_error (msg, SOUP_STATUS_NOT_FOUND, "M_UNRECOGNIZED", "unrecognized request");
      break;
    case ROUTE_NONE:
    default:
      reply_error (msg, SOUP_STATUS_NOT_FOUND, "M_UNRECOGNIZED", "unrecognized request");
      break;
    }
}

/* ---- lifecycle ------------------------------------------------------------ */

/* pa_appservice_new: a server that is not listening yet.  The handlers
 * table is copied; hs_token is copied.  max_body_bytes bounds every request
 * body, max_events_per_txn is passed to pa_txn_parse(). */
PaAppservice *
pa_appservice_new (const char *hs_token, gint64 max_body_bytes, guint max_events_per_txn,
                   const PaAppserviceHandlers *handlers, gpointer user_data)
{
  PaAppservice *as;

  g_return_val_if_fail (hs_token != NULL && *hs_token != '\0', NULL);
  g_return_val_if_fail (max_body_bytes > 0, NULL);
  g_return_val_if_fail (handlers != NULL, NULL);

  as = g_new0 (PaAppservice, 1);
  as->hs_token = g_strdup (hs_token);
  as->max_body_bytes = max_body_bytes;
  as->max_events = max_events_per_txn;
  as->handlers = *handlers;
  as->user_data = user_data;
  as->queries = g_hash_table_new (NULL, NULL);
  as->drains = g_hash_table_new (NULL, NULL);
  /* raw-paths: libsoup would otherwise decode the path once itself, and a
   * %2F inside a user ID would then split the path. */
  as->server = soup_server_new ("raw-paths", TRUE, "server-header", NULL, NULL);
  soup_server_add_early_handler (as->server, NULL, early_handler, as, NULL);
  soup_server_add_handler (as->server, NULL, server_handler, as, NULL);
  return as;
}

/* pa_appservice_listen: binds bind:port (an IP literal).  Fails with
 * G_IO_ERROR_INVALID_ARGUMENT for an address that is not an IP literal, and
 * with the socket error when binding fails. */
gboolean
pa_appservice_listen (PaAppservice *as, const char *bind, guint port, GError **error)
{
  g_autoptr (GSocketAddress) addr = NULL;

  g_return_val_if_fail (as != NULL, FALSE);
  g_return_val_if_fail (bind != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

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
  if (as->listener != NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_EXISTS, "already listening");
      return FALSE;
    }
  as->listener = pa_as_listener_new (as->server, &as->limits);
  if (!pa_as_listener_listen (as->listener, addr, &as->port, error))
    {
      g_clear_pointer (&as->listener, pa_as_listener_free);
      return FALSE;
    }
  g_debug ("listening on %s:%u", bind, as->port);
  return TRUE;
}

/* pa_appservice_set_connection_limits: the listener's connection cap and
 * timeouts (0 keeps a default: 256 connections, 60 s idle, 30 s to read a
 * request).  Takes effect at the next listen. */
void
pa_appservice_set_connection_limits (PaAppservice *as, guint max_connections,
                                     guint idle_timeout_s, guint request_timeout_s)
{
  g_return_if_fail (as != NULL);
  as->limits.max_connections = max_connections;
  as->limits.idle_timeout_s = idle_timeout_s;
  as->limits.request_timeout_s = request_timeout_s;
}

/* pa_appservice_port: the port bound by the last successful listen, 0
 * before. */
guint
pa_appservice_port (PaAppservice *as)
{
  g_return_val_if_fail (as != NULL, 0);
  return as->port;
}

/* pa_appservice_free: stops listening and drops every connection.  Query
 * handles still held by the application stay valid until answered (the
 * answer then goes nowhere). */
void
pa_appservice_free (PaAppservice *as)
{
  GHashTableIter it;
  gpointer key;

  if (as == NULL)
    return;

  g_hash_table_iter_init (&it, as->queries);
  while (g_hash_table_iter_next (&it, &key, NULL))
    {
      PaQuery *q = key;

      q->as = NULL;
      if (q->msg != NULL)
        {
          g_clear_signal_handler (&q->finished_id, q->msg);
          g_clear_object (&q->msg);
        }
    }
  g_hash_table_iter_init (&it, as->drains);
  while (g_hash_table_iter_next (&it, &key, NULL))
    {
      PaDrain *d = key;

      /* Its callbacks still run and close the stream; they no longer see us. */
      d->as = NULL;
      g_cancellable_cancel (d->cancellable);
    }
  g_clear_pointer (&as->listener, pa_as_listener_free);
  soup_server_disconnect (as->server);
  g_clear_object (&as->server);
  g_hash_table_unref (as->queries);
  g_hash_table_unref (as->drains);
  g_free (as->hs_token);
  g_free (as->prefix);
  g_free (as);
}

/* pa_appservice_set_prefix_handler: see pa-appservice.h.  The prefix is
 * copied. */
void
pa_appservice_set_prefix_handler (PaAppservice *as, const char *prefix, PaAppservicePrefixFunc fn,
                                  gpointer user_data)
{
  g_return_if_fail (as != NULL);
  g_clear_pointer (&as->prefix, g_free);
  as->prefix_fn = fn;
  as->prefix_data = user_data;
  if (fn != NULL && prefix != NULL)
    as->prefix = g_strdup (prefix);
}
