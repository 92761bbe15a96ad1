/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Tests for the HS → AS server.  The server runs on this thread's main loop;
 * each request is made by a helper thread over a raw TCP socket to
 * 127.0.0.1, so that we control exactly what is sent (a Content-Length with
 * no body, chunked bodies, early disconnects). */
#define G_LOG_DOMAIN "passerelle-appservice"

#include "pa-common.h"
#include "appservice/pa-appservice.h"

#include <gio/gio.h>
#include <string.h>

#define TOKEN "hs-secret-token"
#define MAX_BODY 4096
#define MAX_EVENTS 5

typedef struct {
  PaAppservice *as;
  guint port;
  GPtrArray *txn_ids;
  GPtrArray *event_types;
  GPtrArray *queries;
  gboolean fail_txn;
  int pings;
  char *tp_kind;
  char *tp_protocol;
  char *tp_query;
  gpointer held_handle; /* a query handle the test answers itself */
} Fixture;

/* ---- a tiny HTTP/1.1 client in a thread ----------------------------------- */

typedef struct {
  guint port;
  GBytes *request;
  gboolean close_early; /* send, then hang up without reading */
  guint status;
  char *headers;
  char *body;
  gint done;
} Req;

static gboolean
read_more (GInputStream *in, GString *buf)
{
  char tmp[4096];
  gssize n = g_input_stream_read (in, tmp, sizeof tmp, NULL, NULL);

  if (n <= 0)
    return FALSE;
  g_string_append_len (buf, tmp, n);
  return TRUE;
}

static gpointer
client_thread (gpointer data)
{
  Req *r = data;
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_autoptr (GSocketConnection) conn = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GString) buf = g_string_new (NULL);
  GInputStream *in;
  const char *end, *cl;
  gsize body_len = 0, head_len;

  conn = g_socket_client_connect_to_host (client, "127.0.0.1", (guint16) r->port, NULL, &error);
  g_assert_no_error (error);
  /* A refused request may be answered before the whole body is sent, and
   * the write may then fail: that is allowed, the answer is still read. */
  g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (conn)),
                             g_bytes_get_data (r->request, NULL), g_bytes_get_size (r->request),
                             NULL, NULL, NULL);
  if (r->close_early)
    goto out;

  in = g_io_stream_get_input_stream (G_IO_STREAM (conn));
  while ((end = strstr (buf->str, "\r\n\r\n")) == NULL)
    if (!read_more (in, buf))
      goto out;
  head_len = (gsize) (end - buf->str) + 4;
  r->headers = g_strndup (buf->str, head_len);
  r->status = (guint) g_ascii_strtoull (buf->str + strlen ("HTTP/1.1 "), NULL, 10);
  cl = strstr (r->headers, "Content-Length: ");
  if (cl != NULL)
    body_len = g_ascii_strtoull (cl + strlen ("Content-Length: "), NULL, 10);
  while (buf->len < head_len + body_len)
    if (!read_more (in, buf))
      break;
  r->body = g_strndup (buf->str + head_len, MIN (body_len, buf->len - head_len));

out:
  g_io_stream_close (G_IO_STREAM (conn), NULL, NULL);
  g_atomic_int_set (&r->done, 1);
  g_main_context_wakeup (NULL);
  return NULL;
}

/* Run one request while the main loop serves it. */
static void
run (Fixture *f, Req *r)
{
  GThread *t;

  r->port = f->port;
  t = g_thread_new ("client", client_thread, r);
  while (!g_atomic_int_get (&r->done))
    g_main_context_iteration (NULL, TRUE);
  g_thread_join (t);
}

static void
req_clear (Req *r)
{
  g_clear_pointer (&r->request, g_bytes_unref);
  g_clear_pointer (&r->headers, g_free);
  g_clear_pointer (&r->body, g_free);
}

/* A request with Connection: close; `auth` is a whole header line or NULL. */
static void
request (Fixture *f, Req *r, const char *method, const char *path, const char *auth,
         const char *body)
{
  g_autoptr (GString) s = g_string_new (NULL);

  memset (r, 0, sizeof *r);
  g_string_append_printf (s, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n",
                          method, path);
  if (auth != NULL)
    g_string_append_printf (s, "%s\r\n", auth);
  if (body != NULL)
    g_string_append_printf (s, "Content-Type: application/json\r\nContent-Length: %zu\r\n",
                            strlen (body));
  g_string_append (s, "\r\n");
  if (body != NULL)
    g_string_append (s, body);
  r->request = g_string_free_to_bytes (g_steal_pointer (&s));
  run (f, r);
}

#define AUTH "Authorization: Bearer " TOKEN

/* Check status, JSON content type and (when given) errcode. */
static void
assert_reply (Req *r, guint status, const char *errcode)
{
  g_autoptr (json_t) j = NULL;

  if (r->status != status || r->headers == NULL
      || strstr (r->headers, "Content-Type: application/json") == NULL)
    g_test_message ("unexpected reply:\n%s%s", r->headers ? r->headers : "(none)",
                    r->body ? r->body : "");
  g_assert_cmpuint (r->status, ==, status);
  g_assert_nonnull (r->headers);
  g_assert_nonnull (strstr (r->headers, "Content-Type: application/json"));
  j = json_loads (r->body, 0, NULL);
  g_assert_nonnull (j);
  if (errcode != NULL)
    {
      g_assert_cmpstr (json_string_value (json_object_get (j, "errcode")), ==, errcode);
      g_assert_true (json_is_string (json_object_get (j, "error")));
    }
}

static void
check (Fixture *f, const char *method, const char *path, const char *auth, const char *body,
       guint status, const char *errcode)
{
  Req r;

  request (f, &r, method, path, auth, body);
  assert_reply (&r, status, errcode);
  req_clear (&r);
}

/* ---- handlers ------------------------------------------------------------- */

static gboolean
on_txn (const char *txn_id, PaTxn *txn, gpointer user_data, GError **error)
{
  Fixture *f = user_data;
  size_t i;
  json_t *ev;

  if (f->fail_txn)
    {
      g_set_error_literal (error, PA_ERROR, PA_ERROR_STORE, "disk full");
      return FALSE;
    }
  g_ptr_array_add (f->txn_ids, g_strdup (txn_id));
  json_array_foreach (txn->events, i, ev)
    g_ptr_array_add (f->event_types, g_strdup (json_string_value (json_object_get (ev, "type"))));
  return TRUE;
}

typedef struct {
  gpointer handle;
  gboolean found;
} Answer;

static gboolean
answer_later (gpointer data)
{
  Answer *a = data;

  pa_appservice_reply_query (a->handle, a->found);
  g_free (a);
  return G_SOURCE_REMOVE;
}

static void
on_query (const char *id, gpointer handle, gpointer user_data)
{
  Fixture *f = user_data;
  Answer *a;

  g_ptr_array_add (f->queries, g_strdup (id));
  if (strstr (id, "hold") != NULL)
    {
      f->held_handle = handle;
      return;
    }
  a = g_new0 (Answer, 1);
  a->handle = handle;
  a->found = strstr (id, "found") != NULL && strstr (id, "notfound") == NULL;
  g_timeout_add (50, answer_later, a);
}

static json_t *
on_thirdparty (const char *kind, const char *protocol, json_t *query, gpointer user_data)
{
  Fixture *f = user_data;

  g_free (f->tp_kind);
  g_free (f->tp_protocol);
  g_free (f->tp_query);
  f->tp_kind = g_strdup (kind);
  f->tp_protocol = g_strdup (protocol);
  f->tp_query = json_dumps (query, JSON_COMPACT | JSON_SORT_KEYS);
  if (protocol != NULL && strcmp (protocol, "none") == 0)
    return NULL;
  if (strcmp (kind, "protocol") == 0)
    return json_pack ("{s:[], s:s}", "user_fields", "icon", "mxc://x/y");
  return json_pack ("[{s:s}]", "protocol", protocol != NULL ? protocol : "any");
}

static void
on_ping (gpointer user_data)
{
  Fixture *f = user_data;

  f->pings++;
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  PaAppserviceHandlers h = {
    .txn = on_txn,
    .user_query = on_query,
    .alias_query = on_query,
    .thirdparty = on_thirdparty,
    .ping = on_ping,
  };
  g_autoptr (GError) error = NULL;

  memset (f, 0, sizeof *f);
  f->txn_ids = g_ptr_array_new_with_free_func (g_free);
  f->event_types = g_ptr_array_new_with_free_func (g_free);
  f->queries = g_ptr_array_new_with_free_func (g_free);
  f->as = pa_appservice_new (TOKEN, MAX_BODY, MAX_EVENTS, &h, f);
  g_assert_nonnull (f->as);
  g_assert_cmpuint (pa_appservice_port (f->as), ==, 0);
  g_assert_true (pa_appservice_listen (f->as, "127.0.0.1", 0, &error));
  g_assert_no_error (error);
  f->port = pa_appservice_port (f->as);
  g_assert_cmpuint (f->port, >, 0);
}

/* Let pending sources (drains, answers) finish. */
static void
spin (guint ms)
{
  gint64 until = g_get_monotonic_time () + ms * 1000;

  while (g_get_monotonic_time () < until)
    g_main_context_iteration (NULL, FALSE), g_usleep (1000);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_clear_pointer (&f->as, pa_appservice_free);
  spin (20);
  g_ptr_array_unref (f->txn_ids);
  g_ptr_array_unref (f->event_types);
  g_ptr_array_unref (f->queries);
  g_free (f->tp_kind);
  g_free (f->tp_protocol);
  g_free (f->tp_query);
}

/* ---- tests ---------------------------------------------------------------- */

static void
test_auth (Fixture *f, gconstpointer data)
{
  const char *ping = "/_matrix/app/v1/ping";

  check (f, "POST", ping, NULL, "{}", 401, "M_MISSING_TOKEN");
  check (f, "POST", ping, "Authorization: Bearer", "{}", 401, "M_MISSING_TOKEN");
  check (f, "POST", ping, "Authorization: Basic " TOKEN, NULL, 401, "M_MISSING_TOKEN");
  check (f, "POST", ping, "Authorization: Bearer wrong", "{}", 403, "M_FORBIDDEN");
  check (f, "POST", ping, "Authorization: Bearer " TOKEN "x", NULL, 403, "M_FORBIDDEN");
  check (f, "POST", "/_matrix/app/v1/ping?access_token=wrong", NULL, "{}", 403, "M_FORBIDDEN");
  check (f, "GET", "/_matrix/app/v1/users/%40a%3Ax", NULL, NULL, 401, "M_MISSING_TOKEN");
  check (f, "PUT", "/_matrix/app/v1/transactions/1", "Authorization: Bearer nope",
         "{\"events\":[{\"type\":\"m.x\"}]}", 403, "M_FORBIDDEN");
  g_assert_cmpint (f->pings, ==, 0);
  g_assert_cmpuint (f->txn_ids->len, ==, 0);
  g_assert_cmpuint (f->queries->len, ==, 0);

  check (f, "POST", ping, AUTH, "{\"transaction_id\":\"abc\"}", 200, NULL);
  check (f, "POST", ping, "authorization: bearer " TOKEN, NULL, 200, NULL);
  check (f, "POST", "/_matrix/app/v1/ping?access_token=" TOKEN, NULL, "{}", 200, NULL);
  g_assert_cmpint (f->pings, ==, 3);
}

static void
test_routes (Fixture *f, gconstpointer data)
{
  check (f, "GET", "/", AUTH, NULL, 404, "M_UNRECOGNIZED");
  check (f, "GET", "/_matrix/app/v1/unknown", AUTH, NULL, 404, "M_UNRECOGNIZED");
  check (f, "GET", "/_matrix/app/v1/users/", AUTH, NULL, 404, "M_UNRECOGNIZED");
  check (f, "GET", "/_matrix/app/v1/users/a/b", AUTH, NULL, 404, "M_UNRECOGNIZED");
  check (f, "GET", "/_matrix/app/v1/thirdparty/protocol", AUTH, NULL, 404, "M_UNRECOGNIZED");
  check (f, "POST", "/ping", AUTH, NULL, 404, "M_UNRECOGNIZED");
  check (f, "PUT", "/_matrix/app/v2/transactions/1", AUTH, "{\"events\":[]}", 404,
         "M_UNRECOGNIZED");

  check (f, "GET", "/_matrix/app/v1/transactions/1", AUTH, NULL, 405, "M_UNRECOGNIZED");
  check (f, "POST", "/_matrix/app/v1/transactions/1", AUTH, "{}", 405, "M_UNRECOGNIZED");
  check (f, "PUT", "/_matrix/app/v1/users/%40a%3Ax", AUTH, "{}", 405, "M_UNRECOGNIZED");
  check (f, "GET", "/_matrix/app/v1/ping", AUTH, NULL, 405, "M_UNRECOGNIZED");
  check (f, "DELETE", "/rooms/%23a%3Ax", AUTH, NULL, 405, "M_UNRECOGNIZED");
  check (f, "POST", "/_matrix/app/v1/thirdparty/user", AUTH, "{}", 405, "M_UNRECOGNIZED");

  /* A bad escape is refused by libsoup's own URI parser (400, empty body)
   * before any handler runs. */
  {
    Req r;

    request (f, &r, "GET", "/_matrix/app/v1/users/%ZZ", AUTH, NULL);
    g_assert_cmpuint (r.status, ==, 400);
    req_clear (&r);
  }
  check (f, "GET", "/_matrix/app/v1/users/%00", AUTH, NULL, 400, "M_INVALID_PARAM");
  check (f, "GET", "/_matrix/app/v1/users/%FF", AUTH, NULL, 400, "M_INVALID_PARAM");
  g_assert_cmpuint (f->queries->len, ==, 0);
}

static void
test_txn (Fixture *f, gconstpointer data)
{
#define IDS "\"event_id\":\"$e\",\"room_id\":\"!r:x\",\"sender\":\"@u:x\",\"content\":{},"
  const char *body = "{\"events\":[{" IDS "\"type\":\"m.room.message\"},{" IDS
                     "\"state_key\":\"@u:x\",\"type\":\"m.room.member\"},"
                     "{" IDS "\"type\":5},{" IDS "\"type\":\"m.reaction\"}]}";

  /* the member event has no membership, the third no string type: kept
   * aside, the transaction accepted */
  g_test_expect_message (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "*events[1]*membership*");
  g_test_expect_message (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "*events[2]*");
  check (f, "PUT", "/_matrix/app/v1/transactions/t%2F1%20x", AUTH, body, 200, NULL);
  g_test_assert_expected_messages ();
  g_assert_cmpuint (f->txn_ids->len, ==, 1);
  g_assert_cmpstr (f->txn_ids->pdata[0], ==, "t/1 x");
  g_assert_cmpuint (f->event_types->len, ==, 2);
  g_assert_cmpstr (f->event_types->pdata[0], ==, "m.room.message");
  g_assert_cmpstr (f->event_types->pdata[1], ==, "m.reaction");

  /* legacy path */
  check (f, "PUT", "/transactions/legacy?access_token=" TOKEN, NULL,
         "{\"events\":[{" IDS "\"type\":\"m.x\"}]}", 200, NULL);
#undef IDS
  g_assert_cmpuint (f->txn_ids->len, ==, 2);
  g_assert_cmpstr (f->txn_ids->pdata[1], ==, "legacy");

  g_test_expect_message (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "*refused*");
  check (f, "PUT", "/_matrix/app/v1/transactions/2", AUTH, "{\"events\":", 400, "M_NOT_JSON");
  g_test_expect_message (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "*refused*");
  check (f, "PUT", "/_matrix/app/v1/transactions/2", AUTH, "[]", 400, "M_BAD_JSON");
  g_test_expect_message (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "*refused*");
  check (f, "PUT", "/_matrix/app/v1/transactions/2", AUTH, "{\"events\":{}}", 400,
         "M_BAD_JSON");
  g_test_expect_message (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "*refused*");
  check (f, "PUT", "/_matrix/app/v1/transactions/2", AUTH,
         "{\"events\":[{},{},{},{},{},{}]}", 413, "M_TOO_LARGE");
  g_test_expect_message (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "*refused*");
  check (f, "PUT", "/_matrix/app/v1/transactions/2", AUTH, NULL, 400, "M_NOT_JSON");
  g_test_assert_expected_messages ();
  g_assert_cmpuint (f->txn_ids->len, ==, 2);

  f->fail_txn = TRUE;
  g_test_expect_message (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "*disk full*");
  /* A store failure: 503, the homeserver sends the transaction again. */
  check (f, "PUT", "/_matrix/app/v1/transactions/3", AUTH, "{\"events\":[]}", 503, "M_UNKNOWN");
  g_test_assert_expected_messages ();
  f->fail_txn = FALSE;
  check (f, "PUT", "/_matrix/app/v1/transactions/3", AUTH, "{\"events\":[]}", 200, NULL);
  g_assert_cmpstr (f->txn_ids->pdata[2], ==, "3");
}

static void
test_too_large (Fixture *f, gconstpointer data)
{
  Req r;
  g_autofree char *big = g_strnfill (MAX_BODY + 1, ' ');
  g_autoptr (GString) chunked = g_string_new (NULL);

  /* A huge Content-Length and no body at all: answered from the headers. */
  memset (&r, 0, sizeof r);
  r.request = g_bytes_new_static ("PUT /_matrix/app/v1/transactions/big HTTP/1.1\r\n"
                                  "Host: x\r\n" AUTH "\r\n"
                                  "Content-Length: 1000000000000\r\n\r\n",
                                  strlen ("PUT /_matrix/app/v1/transactions/big HTTP/1.1\r\n"
                                          "Host: x\r\n" AUTH "\r\n"
                                          "Content-Length: 1000000000000\r\n\r\n"));
  run (f, &r);
  assert_reply (&r, 413, "M_TOO_LARGE");
  g_assert_nonnull (strstr (r.headers, "Connection: close"));
  req_clear (&r);

  /* Exactly over the limit, body sent. */
  check (f, "PUT", "/_matrix/app/v1/transactions/big", AUTH, big, 413, "M_TOO_LARGE");

  /* Chunked, growing past the limit while being received. */
  memset (&r, 0, sizeof r);
  g_string_append (chunked, "PUT /_matrix/app/v1/transactions/chunked HTTP/1.1\r\nHost: x\r\n"
                            AUTH "\r\nTransfer-Encoding: chunked\r\n\r\n");
  for (int i = 0; i < 10; i++)
    {
      g_string_append (chunked, "400\r\n");
      for (int k = 0; k < 0x400; k++)
        g_string_append_c (chunked, ' ');
      g_string_append (chunked, "\r\n");
    }
  g_string_append (chunked, "0\r\n\r\n");
  r.request = g_bytes_new (chunked->str, chunked->len);
  run (f, &r);
  assert_reply (&r, 413, "M_TOO_LARGE");
  req_clear (&r);

  /* Chunked within the limit is fine. */
  memset (&r, 0, sizeof r);
  g_string_truncate (chunked, 0);
  g_string_append (chunked, "PUT /_matrix/app/v1/transactions/chunked HTTP/1.1\r\nHost: x\r\n"
                            AUTH "\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n"
                            "5\r\n{\"eve\r\n"
                            "9\r\nnts\":[]}\r\n"
                            "0\r\n\r\n");
  r.request = g_bytes_new (chunked->str, chunked->len);
  run (f, &r);
  assert_reply (&r, 200, NULL);
  req_clear (&r);
  g_assert_cmpuint (f->txn_ids->len, ==, 1);
  g_assert_cmpstr (f->txn_ids->pdata[0], ==, "chunked");
}

static void
test_queries (Fixture *f, gconstpointer data)
{
  gint64 t0 = g_get_monotonic_time ();

  check (f, "GET", "/_matrix/app/v1/users/%40found%3Aexample.org", AUTH, NULL, 200, NULL);
  g_assert_cmpint (g_get_monotonic_time () - t0, >=, 50 * 1000);
  check (f, "GET", "/_matrix/app/v1/users/%40notfound%3Aexample.org", AUTH, NULL, 404,
         "M_NOT_FOUND");
  check (f, "GET", "/_matrix/app/v1/rooms/%23found%3Aexample.org", AUTH, NULL, 200, NULL);
  check (f, "GET", "/_matrix/app/v1/rooms/%23notfound%3Aexample.org", AUTH, NULL, 404,
         "M_NOT_FOUND");
  check (f, "GET", "/users/%40found%3Ax?access_token=" TOKEN, NULL, NULL, 200, NULL);
  check (f, "GET", "/rooms/%23notfound%3Ax", AUTH, NULL, 404, "M_NOT_FOUND");
  g_assert_cmpuint (f->queries->len, ==, 6);
  g_assert_cmpstr (f->queries->pdata[0], ==, "@found:example.org");
  g_assert_cmpstr (f->queries->pdata[2], ==, "#found:example.org");
  /* decoded once only: %2540 stays %40 */
  check (f, "GET", "/_matrix/app/v1/users/%2540x", AUTH, NULL, 404, "M_NOT_FOUND");
  g_assert_cmpstr (f->queries->pdata[6], ==, "%40x");
}

static void
test_query_client_gone (Fixture *f, gconstpointer data)
{
  Req r;

  /* The client hangs up while its query is pending; answering later must
   * be harmless. */
  memset (&r, 0, sizeof r);
  r.close_early = TRUE;
  r.request = g_bytes_new_static ("GET /_matrix/app/v1/users/%40hold%3Ax HTTP/1.1\r\n"
                                  "Host: x\r\n" AUTH "\r\n\r\n",
                                  strlen ("GET /_matrix/app/v1/users/%40hold%3Ax HTTP/1.1\r\n"
                                          "Host: x\r\n" AUTH "\r\n\r\n"));
  run (f, &r);
  req_clear (&r);
  while (f->held_handle == NULL)
    g_main_context_iteration (NULL, TRUE);
  spin (50);
  pa_appservice_reply_query (f->held_handle, TRUE);
  f->held_handle = NULL;
  spin (20);

  /* The server is freed while a query is pending; the handle stays valid. */
  memset (&r, 0, sizeof r);
  r.close_early = TRUE;
  r.request = g_bytes_new_static ("GET /rooms/%23hold%3Ax HTTP/1.1\r\n"
                                  "Host: x\r\n" AUTH "\r\n\r\n",
                                  strlen ("GET /rooms/%23hold%3Ax HTTP/1.1\r\n"
                                          "Host: x\r\n" AUTH "\r\n\r\n"));
  run (f, &r);
  req_clear (&r);
  while (f->held_handle == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_clear_pointer (&f->as, pa_appservice_free);
  pa_appservice_reply_query (f->held_handle, FALSE);
  f->held_handle = NULL;

  /* and the server still works after a client went away */
  g_assert_cmpuint (f->queries->len, ==, 2);
}

static void
test_thirdparty (Fixture *f, gconstpointer data)
{
  Req r;
  g_autoptr (json_t) j = NULL;

  request (f, &r, "GET", "/_matrix/app/v1/thirdparty/protocol/whatsapp", AUTH, NULL);
  assert_reply (&r, 200, NULL);
  j = json_loads (r.body, 0, NULL);
  g_assert_cmpstr (json_string_value (json_object_get (j, "icon")), ==, "mxc://x/y");
  g_assert_cmpstr (f->tp_kind, ==, "protocol");
  g_assert_cmpstr (f->tp_protocol, ==, "whatsapp");
  req_clear (&r);
  g_clear_pointer (&j, json_decref);

  request (f, &r, "GET", "/_matrix/app/v1/thirdparty/user/irc?nick=bob&access_token=" TOKEN,
           NULL, NULL);
  assert_reply (&r, 200, NULL);
  j = json_loads (r.body, 0, NULL);
  g_assert_true (json_is_array (j));
  g_assert_cmpstr (f->tp_kind, ==, "user");
  g_assert_cmpstr (f->tp_protocol, ==, "irc");
  g_assert_cmpstr (f->tp_query, ==, "{\"nick\":\"bob\"}");
  req_clear (&r);

  check (f, "GET", "/_matrix/app/v1/thirdparty/location/irc?alias=%23a%3Ax", AUTH, NULL, 200,
         NULL);
  g_assert_cmpstr (f->tp_kind, ==, "location");
  g_assert_cmpstr (f->tp_query, ==, "{\"alias\":\"#a:x\"}");

  check (f, "GET", "/_matrix/app/v1/thirdparty/user?userid=%40a%3Ax", AUTH, NULL, 200, NULL);
  g_assert_cmpstr (f->tp_kind, ==, "user");
  g_assert_null (f->tp_protocol);
  check (f, "GET", "/_matrix/app/v1/thirdparty/location", AUTH, NULL, 200, NULL);
  g_assert_cmpstr (f->tp_kind, ==, "location");
  g_assert_null (f->tp_protocol);

  check (f, "GET", "/_matrix/app/v1/thirdparty/protocol/none", AUTH, NULL, 404, "M_NOT_FOUND");
  check (f, "GET", "/_matrix/app/v1/thirdparty/user/none", AUTH, NULL, 404, "M_NOT_FOUND");
}

static void
test_keepalive_after_reject (Fixture *f, gconstpointer data)
{
  /* A refusal of a request without body keeps the connection usable; the
   * one with a body closes it.  Either way the next request is served. */
  check (f, "GET", "/_matrix/app/v1/users/%40a%3Ax", "Authorization: Bearer bad", NULL, 403,
         "M_FORBIDDEN");
  check (f, "POST", "/_matrix/app/v1/ping", "Authorization: Bearer bad", "{}", 403,
         "M_FORBIDDEN");
  check (f, "POST", "/_matrix/app/v1/ping", AUTH, "{}", 200, NULL);
  g_assert_cmpint (f->pings, ==, 1);
}

static void
test_listen_errors (void)
{
  PaAppserviceHandlers h = { 0 };
  g_autoptr (PaAppservice) as = pa_appservice_new (TOKEN, MAX_BODY, MAX_EVENTS, &h, NULL);
  g_autoptr (PaAppservice) as2 = pa_appservice_new (TOKEN, MAX_BODY, MAX_EVENTS, &h, NULL);
  g_autoptr (GError) error = NULL;

  g_assert_false (pa_appservice_listen (as, "localhost", 0, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_true (pa_appservice_listen (as, "127.0.0.1", 0, &error));
  g_assert_no_error (error);
  /* the same port twice cannot be bound */
  g_assert_false (pa_appservice_listen (as2, "127.0.0.1", pa_appservice_port (as), &error));
  g_assert_nonnull (error);
}

static gboolean
peer_closed (GSocket *s)
{
  char b;
  g_autoptr (GError) error = NULL;

  return g_socket_receive (s, &b, 1, NULL, &error) == 0;
}

/* At the connection cap the connection idle the longest is closed, and the
 * next request is still served; idle connections are closed after the idle
 * timeout. */
static void
test_connection_cap_and_idle (void)
{
  Fixture fx, *f = &fx;
  PaAppserviceHandlers h = { .ping = on_ping };
  g_autoptr (GError) error = NULL;
  GSocket *clients[5];
  g_autoptr (GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  guint closed = 0;

  memset (f, 0, sizeof *f);
  f->txn_ids = g_ptr_array_new_with_free_func (g_free);
  f->event_types = g_ptr_array_new_with_free_func (g_free);
  f->queries = g_ptr_array_new_with_free_func (g_free);
  f->as = pa_appservice_new (TOKEN, MAX_BODY, MAX_EVENTS, &h, f);
  pa_appservice_set_connection_limits (f->as, 3, 2, 30);
  g_assert_true (pa_appservice_listen (f->as, "127.0.0.1", 0, &error));
  f->port = pa_appservice_port (f->as);

  /* Logged once (then at most every 10 s). */
  g_test_expect_message ("passerelle-appservice", G_LOG_LEVEL_WARNING,
                         "*3 connections open*limits.max_connections*idle the longest*");
  for (guint i = 0; i < G_N_ELEMENTS (clients); i++)
    {
      g_autoptr (GSocketAddress) a = g_inet_socket_address_new (lo, (guint16) f->port);

      clients[i] = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                 G_SOCKET_PROTOCOL_TCP, &error);
      g_assert_no_error (error);
      g_assert_true (g_socket_connect (clients[i], a, NULL, &error));
      g_socket_set_blocking (clients[i], FALSE);
      spin (50); /* accepted in order: the first is idle the longest */
    }
  spin (300);
  for (guint i = 0; i < G_N_ELEMENTS (clients); i++)
    if (peer_closed (clients[i]))
      {
        g_assert_cmpuint (i, <, 2); /* the oldest ones */
        closed++;
      }
  g_assert_cmpuint (closed, ==, 2);
  g_test_assert_expected_messages ();
  /* A new connection gets in: another idle one makes room. */
  check (f, "POST", "/_matrix/app/v1/ping", AUTH, "{}", 200, NULL);
  g_assert_cmpint (f->pings, ==, 1);
  /* The rest are closed once idle for 2 s. */
  spin (3000);
  for (guint i = 0; i < G_N_ELEMENTS (clients); i++)
    {
      g_assert_true (peer_closed (clients[i]));
      g_object_unref (clients[i]);
    }
  fixture_teardown (f, NULL);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(name, fn) g_test_add ("/appservice/" name, Fixture, NULL, fixture_setup, fn, \
                                  fixture_teardown)
  ADD ("auth", test_auth);
  ADD ("routes", test_routes);
  ADD ("txn", test_txn);
  ADD ("too-large", test_too_large);
  ADD ("queries", test_queries);
  ADD ("query-client-gone", test_query_client_gone);
  ADD ("thirdparty", test_thirdparty);
  ADD ("keepalive-after-reject", test_keepalive_after_reject);
#undef ADD
  g_test_add_func ("/appservice/listen-errors", test_listen_errors);
  g_test_add_func ("/appservice/connection-cap-and-idle", test_connection_cap_and_idle);
  return g_test_run ();
}
