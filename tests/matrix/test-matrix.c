/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* PaMatrix against a SoupServer playing a homeserver on 127.0.0.1, in the
 * same process and (except for the source-leak test) the same main loop. */
#define G_LOG_DOMAIN "passerelle-test-matrix"

#include "matrix/pa-matrix.h"
#include "pa-common.h"

#include <libsoup/soup.h>
#include <string.h>

#define TOKEN "as-secret-token"
#define HUGE_LEN (64 * 1024 * 1024 + 1)

/* ------------------------------------------------------------------ */
/* The fake homeserver                                                 */

typedef struct {
  GMutex lock;
  GHashTable *hits;       /* path → number of requests */
  GHashTable *first_time; /* path → monotonic µs of the first request */
} ServerState;

static ServerState default_state;
static SoupServer *default_server;
static char *default_base;

static void
reply_json (SoupServerMessage *msg, guint status, json_t *body)
{
  g_autofree char *text = json_dumps (body, JSON_COMPACT);

  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_COPY, text,
                                    strlen (text));
  json_decref (body);
}

static guint
count_hit (ServerState *st, const char *path, gint64 *since_first_ms)
{
  g_mutex_lock (&st->lock);
  guint n = GPOINTER_TO_UINT (g_hash_table_lookup (st->hits, path)) + 1;
  g_hash_table_insert (st->hits, g_strdup (path), GUINT_TO_POINTER (n));
  gint64 now = g_get_monotonic_time ();
  if (n == 1)
    g_hash_table_insert (st->first_time, g_strdup (path), g_memdup2 (&now, sizeof now));
  gint64 *first = g_hash_table_lookup (st->first_time, path);
  *since_first_ms = (now - *first) / 1000;
  g_mutex_unlock (&st->lock);
  return n;
}

static guint
server_hits (ServerState *st, const char *path)
{
  g_mutex_lock (&st->lock);
  guint n = GPOINTER_TO_UINT (g_hash_table_lookup (st->hits, path));
  g_mutex_unlock (&st->lock);
  return n;
}

static void
server_cb (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
           gpointer user_data)
{
  ServerState *st = user_data;
  SoupMessageHeaders *rh = soup_server_message_get_request_headers (msg);
  const char *auth = soup_message_headers_get_one (rh, "Authorization");
  gint64 since_first_ms;

  if (g_strcmp0 (auth, "Bearer " TOKEN) != 0)
    {
      reply_json (msg, 401, json_pack ("{s:s, s:s}", "errcode", "M_UNKNOWN_TOKEN", "error", "bad"));
      return;
    }
  guint hits = count_hit (st, path, &since_first_ms);
  g_autoptr (GBytes) body = soup_message_body_flatten (soup_server_message_get_request_body (msg));
  const char *ctype = soup_message_headers_get_one (rh, "Content-Type");

  if (g_str_has_prefix (path, "/fail500twice/"))
    {
      if (hits <= 2)
        reply_json (msg, 500, json_pack ("{s:s, s:s}", "errcode", "M_UNKNOWN", "error", "boom"));
      else
        reply_json (msg, 200, json_pack ("{s:i}", "hits", hits));
    }
  else if (g_str_has_prefix (path, "/always500/"))
    reply_json (msg, 502, json_object ());
  else if (g_str_has_prefix (path, "/ratelimit/"))
    {
      if (hits == 1)
        reply_json (msg, 429, json_pack ("{s:s, s:s, s:i}", "errcode", "M_LIMIT_EXCEEDED", "error",
                                         "slow down", "retry_after_ms", 50));
      else
        reply_json (msg, 200, json_pack ("{s:I, s:i}", "waited_ms", since_first_ms, "hits", hits));
    }
  else if (g_str_has_prefix (path, "/ratelimit-header/"))
    {
      if (hits == 1)
        {
          soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                        "Retry-After", "1");
          reply_json (msg, 429, json_pack ("{s:s}", "errcode", "M_LIMIT_EXCEEDED"));
        }
      else
        reply_json (msg, 200, json_pack ("{s:I, s:i}", "waited_ms", since_first_ms, "hits", hits));
    }
  else if (g_str_has_prefix (path, "/forbidden/"))
    reply_json (msg, 403, json_pack ("{s:s, s:s}", "errcode", "M_FORBIDDEN", "error", "nope"));
  else if (g_str_has_prefix (path, "/expired/"))
    reply_json (msg, 403, json_pack ("{s:s, s:s}", "errcode", "ORG_MATRIX_EXPIRED_ACCOUNT",
                                     "error", "account has expired"));
  else if (g_str_has_prefix (path, "/huge/"))
    {
      char *big = g_malloc (HUGE_LEN);
      memset (big, ' ', HUGE_LEN);
      soup_server_message_set_status (msg, 200, NULL);
      soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_TAKE, big,
                                        HUGE_LEN);
    }
  else
    {
      /* Echo: what a test needs to check the request was built right. */
      gsize len;
      const char *data = g_bytes_get_data (body, &len);
      g_autofree char *sha = g_compute_checksum_for_data (G_CHECKSUM_SHA256,
                                                          (const guchar *) (data ? data : ""),
                                                          len);
      json_t *parsed = len > 0 ? json_loadb (data, len, 0, NULL) : NULL;
      const char *raw_query = g_uri_get_query (soup_server_message_get_uri (msg));
      json_t *echo = json_pack ("{s:s, s:s, s:s?, s:s?, s:s?, s:s?, s:I, s:s, s:o?, s:b}",
                                "method", soup_server_message_get_method (msg),
                                "path", path,
                                "raw_query", raw_query,
                                "user_id", query ? g_hash_table_lookup (query, "user_id") : NULL,
                                "ts", query ? g_hash_table_lookup (query, "ts") : NULL,
                                "content_type", ctype,
                                "len", (json_int_t) len,
                                "sha256", sha,
                                "body", parsed,
                                "expect", soup_message_headers_get_one (rh, "Expect") != NULL);
      g_assert_nonnull (echo);
      reply_json (msg, 200, echo);
    }
}

static void
server_state_init (ServerState *st)
{
  g_mutex_init (&st->lock);
  st->hits = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  st->first_time = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
}

static void
server_state_clear (ServerState *st)
{
  g_hash_table_unref (st->hits);
  g_hash_table_unref (st->first_time);
  g_mutex_clear (&st->lock);
}

/* Starts a server on the thread-default context; returns its base URL. */
static SoupServer *
start_server (ServerState *st, char **base)
{
  g_autoptr (GError) error = NULL;
  SoupServer *server = soup_server_new (NULL, NULL);

  soup_server_add_handler (server, NULL, server_cb, st, NULL);
  g_assert_true (soup_server_listen_local (server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error));
  g_assert_no_error (error);
  GSList *uris = soup_server_get_uris (server);
  g_assert_nonnull (uris);
  *base = g_strdup_printf ("http://127.0.0.1:%d", g_uri_get_port (uris->data));
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  return server;
}

/* ------------------------------------------------------------------ */
/* Main-loop helpers                                                   */

static gboolean
set_flag_cb (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Iterates `ctx` until *flag or timeout; fails the test on timeout. */
static void
wait_for (GMainContext *ctx, const gboolean *flag, guint timeout_ms)
{
  gboolean timed_out = FALSE;
  GSource *t = g_timeout_source_new (timeout_ms);

  g_source_set_callback (t, set_flag_cb, &timed_out, NULL);
  g_source_attach (t, ctx);
  while (!*flag && !timed_out)
    g_main_context_iteration (ctx, TRUE);
  g_source_destroy (t);
  g_source_unref (t);
  g_assert_true (*flag);
}

static void
run_for (GMainContext *ctx, guint ms)
{
  gboolean timed_out = FALSE;
  GSource *t = g_timeout_source_new (ms);

  g_source_set_callback (t, set_flag_cb, &timed_out, NULL);
  g_source_attach (t, ctx);
  while (!timed_out)
    g_main_context_iteration (ctx, TRUE);
  g_source_unref (t);
}

typedef struct {
  gboolean done;
  guint calls;
  PaMatrixResponse resp; /* deep copy */
  gint64 t_start, t_done;
} Result;

static void
result_clear (Result *r)
{
  g_free (r->resp.errcode);
  g_free (r->resp.error);
  if (r->resp.body)
    json_decref (r->resp.body);
  if (r->resp.raw)
    g_byte_array_unref (r->resp.raw);
  g_free (r->resp.content_type);
  memset (r, 0, sizeof *r);
}

static void
result_cb (PaMatrix *mx, const PaMatrixResponse *resp, gpointer user_data)
{
  Result *r = user_data;

  g_assert_false (r->done); /* called once */
  r->calls++;
  r->done = TRUE;
  r->t_done = g_get_monotonic_time ();
  r->resp.status = resp->status;
  r->resp.errcode = g_strdup (resp->errcode);
  r->resp.error = g_strdup (resp->error);
  r->resp.body = resp->body ? json_incref (resp->body) : NULL;
  r->resp.attempts = resp->attempts;
  r->resp.raw = resp->raw ? g_byte_array_ref (resp->raw) : NULL;
  r->resp.content_type = g_strdup (resp->content_type);
}

/* Runs one request asynchronously on the default context. */
static void
run_request (PaMatrix *mx, const PaMatrixRequest *req, Result *r, guint timeout_ms)
{
  memset (r, 0, sizeof *r);
  r->t_start = g_get_monotonic_time ();
  pa_matrix_request (mx, req, result_cb, r);
  g_assert_cmpuint (pa_matrix_in_flight (mx), >=, 1);
  wait_for (NULL, &r->done, timeout_ms);
  g_assert_cmpuint (r->calls, ==, 1);
}

static const char *
body_str (const PaMatrixResponse *resp, const char *key)
{
  g_assert_nonnull (resp->body);
  return json_string_value (json_object_get (resp->body, key));
}

static json_int_t
body_int (const PaMatrixResponse *resp, const char *key)
{
  g_assert_nonnull (resp->body);
  json_t *v = json_object_get (resp->body, key);
  g_assert_true (json_is_integer (v));
  return json_integer_value (v);
}

/* ------------------------------------------------------------------ */
/* Tests                                                               */

static void
test_escape (void)
{
  g_autofree char *room = pa_matrix_escape ("!room:hs");
  g_autofree char *event = pa_matrix_escape ("$event");
  g_autofree char *user = pa_matrix_escape ("@user:hs");
  g_autofree char *txn = pa_matrix_escape ("txn/1 2?&=#%");
  g_autofree char *unreserved = pa_matrix_escape ("AZaz09-._~");
  g_autofree char *utf8 = pa_matrix_escape ("é");

  g_assert_cmpstr (room, ==, "%21room%3Ahs");
  g_assert_cmpstr (event, ==, "%24event");
  g_assert_cmpstr (user, ==, "%40user%3Ahs");
  g_assert_cmpstr (txn, ==, "txn%2F1%202%3F%26%3D%23%25");
  g_assert_cmpstr (unreserved, ==, "AZaz09-._~");
  g_assert_cmpstr (utf8, ==, "%C3%A9");

  g_autofree char *send = pa_matrix_path_send ("!room:hs", "m.room.message", "a/b");
  g_assert_cmpstr (send, ==, "/_matrix/client/v3/rooms/%21room%3Ahs/send/m.room.message/a%2Fb");
  g_autofree char *state = pa_matrix_path_state ("!room:hs", "m.room.member", "@user:hs");
  g_assert_cmpstr (state, ==,
                   "/_matrix/client/v3/rooms/%21room%3Ahs/state/m.room.member/%40user%3Ahs");
  g_autofree char *state_empty = pa_matrix_path_state ("!room:hs", "m.room.name", "");
  g_assert_cmpstr (state_empty, ==, "/_matrix/client/v3/rooms/%21room%3Ahs/state/m.room.name/");
}

static void
test_response_errors (void)
{
  PaMatrixResponse ok = { .status = 200 };
  PaMatrixResponse net = { .status = 0, .error = (char *) "Connection refused" };
  PaMatrixResponse forb = { .status = 403, .errcode = (char *) "M_FORBIDDEN",
                            .error = (char *) "nope" };
  PaMatrixResponse exp = { .status = 403, .errcode = (char *) "ORG_MATRIX_EXPIRED_ACCOUNT" };

  g_assert_true (pa_matrix_response_ok (&ok));
  g_assert_false (pa_matrix_response_ok (&net));
  g_assert_false (pa_matrix_response_ok (&forb));
  g_autoptr (GError) e1 = pa_matrix_response_to_error (&net);
  g_assert_error (e1, PA_ERROR, PA_ERROR_NETWORK);
  g_autoptr (GError) e2 = pa_matrix_response_to_error (&forb);
  g_assert_error (e2, PA_ERROR, PA_ERROR_HTTP);
  g_assert_cmpstr (e2->message, ==, "M_FORBIDDEN (403): nope");
  g_autoptr (GError) e3 = pa_matrix_response_to_error (&exp);
  g_assert_error (e3, PA_ERROR, PA_ERROR_EXPIRED);
}

static void
test_echo (void)
{
  g_autoptr (PaMatrix) mx = pa_matrix_new (default_base, TOKEN);
  g_autoptr (json_t) body = json_pack ("{s:s, s:i}", "msgtype", "m.text", "n", 7);
  PaMatrixRequest req = {
    .method = "PUT", .path = "/echo/a?foo=bar", .user_id = "@user:hs", .ts = 1234,
    .body = body, .max_attempts = 1,
  };
  Result r;

  run_request (mx, &req, &r, 5000);
  g_assert_cmpuint (r.resp.status, ==, 200);
  g_assert_cmpint (r.resp.attempts, ==, 1);
  g_assert_true (pa_matrix_response_ok (&r.resp));
  g_assert_null (r.resp.errcode);
  g_assert_cmpstr (body_str (&r.resp, "method"), ==, "PUT");
  g_assert_cmpstr (body_str (&r.resp, "path"), ==, "/echo/a");
  g_assert_cmpstr (body_str (&r.resp, "raw_query"), ==, "foo=bar&user_id=%40user%3Ahs&ts=1234");
  g_assert_cmpstr (body_str (&r.resp, "user_id"), ==, "@user:hs");
  g_assert_cmpstr (body_str (&r.resp, "ts"), ==, "1234");
  g_assert_cmpstr (body_str (&r.resp, "content_type"), ==, "application/json");
  g_assert_true (json_equal (json_object_get (r.resp.body, "body"), body));
  g_assert_cmpuint (pa_matrix_in_flight (mx), ==, 0);
  result_clear (&r);

  /* raw_body, no user_id/ts: no query string at all. */
  PaMatrixRequest raw = { .method = "POST", .path = "/echo/b", .raw_body = "{\"x\":[1,2]}" };
  run_request (mx, &raw, &r, 5000);
  g_assert_cmpuint (r.resp.status, ==, 200);
  g_assert_cmpstr (body_str (&r.resp, "method"), ==, "POST");
  g_assert_null (body_str (&r.resp, "raw_query"));
  g_assert_cmpint (body_int (&r.resp, "len"), ==, strlen ("{\"x\":[1,2]}"));
  g_assert_cmpstr (body_str (&r.resp, "content_type"), ==, "application/json");
  result_clear (&r);

  /* GET without body: no Content-Type; only ts. */
  PaMatrixRequest get = { .method = "GET", .path = "/echo/c", .ts = 99 };
  run_request (mx, &get, &r, 5000);
  g_assert_cmpstr (body_str (&r.resp, "method"), ==, "GET");
  g_assert_cmpstr (body_str (&r.resp, "raw_query"), ==, "ts=99");
  g_assert_null (body_str (&r.resp, "content_type"));
  g_assert_cmpint (body_int (&r.resp, "len"), ==, 0);
  result_clear (&r);

  /* DELETE goes out as DELETE. */
  PaMatrixRequest del = { .method = "DELETE", .path = "/echo/d" };
  run_request (mx, &del, &r, 5000);
  g_assert_cmpstr (body_str (&r.resp, "method"), ==, "DELETE");
  result_clear (&r);
}

/* SoupServer hands handlers a decoded path, so checking what really goes
 * on the wire takes a raw one-shot server in a thread. */
typedef struct {
  GSocket *listener;
  char *head; /* request line and headers */
} RawServer;

static gpointer
raw_server_thread (gpointer data)
{
  RawServer *rs = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocket) conn = g_socket_accept (rs->listener, NULL, &error);
  g_assert_no_error (error);
  GString *head = g_string_new (NULL);
  char buf[4096];
  while (strstr (head->str, "\r\n\r\n") == NULL && head->len < 65536)
    {
      gssize n = g_socket_receive (conn, buf, sizeof buf, NULL, &error);
      g_assert_no_error (error);
      if (n <= 0)
        break;
      g_string_append_len (head, buf, n);
    }
  static const char reply[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                              "Content-Length: 2\r\nConnection: close\r\n\r\n{}";
  g_socket_send (conn, reply, strlen (reply), NULL, &error);
  g_assert_no_error (error);
  g_socket_close (conn, NULL);
  rs->head = g_string_free (head, FALSE);
  return NULL;
}

static void
test_send_path (void)
{
  g_autoptr (GError) error = NULL;
  RawServer rs = { 0 };
  rs.listener = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                              &error);
  g_assert_no_error (error);
  g_autoptr (GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new (lo, 0);
  g_assert_true (g_socket_bind (rs.listener, any, TRUE, &error));
  g_assert_true (g_socket_listen (rs.listener, &error));
  g_autoptr (GSocketAddress) local = g_socket_get_local_address (rs.listener, &error);
  g_autofree char *base = g_strdup_printf (
      "http://127.0.0.1:%u", g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local)));
  GThread *thread = g_thread_new ("raw", raw_server_thread, &rs);

  g_autoptr (PaMatrix) mx = pa_matrix_new (base, TOKEN);
  g_autofree char *path = pa_matrix_path_send ("!room:hs", "m.room.message", "txn/1");
  PaMatrixRequest req = { .method = "PUT", .path = path, .raw_body = "{}", .user_id = "@g:hs",
                          .ts = 42, .max_attempts = 1 };
  Result r;

  run_request (mx, &req, &r, 5000);
  g_thread_join (thread);
  g_assert_cmpuint (r.resp.status, ==, 200);
  g_assert_cmpstr (r.resp.content_type, ==, "application/json");
  g_assert_nonnull (r.resp.raw);
  g_assert_cmpuint (r.resp.raw->len, ==, 2);
  /* Each identifier stays a single, escaped path segment on the wire. */
  g_assert_true (g_str_has_prefix (rs.head, "PUT /_matrix/client/v3/rooms/%21room%3Ahs/send/"
                                            "m.room.message/txn%2F1?user_id=%40g%3Ahs&ts=42 "
                                            "HTTP/1.1\r\n"));
  g_assert_nonnull (strstr (rs.head, "\r\nAuthorization: Bearer " TOKEN "\r\n"));
  g_assert_nonnull (strstr (rs.head, "\r\nContent-Type: application/json\r\n"));
  g_assert_null (strstr (rs.head, "Expect:"));
  result_clear (&r);
  g_free (rs.head);
  g_socket_close (rs.listener, NULL);
  g_object_unref (rs.listener);
}

static void
test_bad_token (void)
{
  g_autoptr (PaMatrix) mx = pa_matrix_new (default_base, "wrong");
  PaMatrixRequest req = { .method = "GET", .path = "/echo/x" };
  Result r;

  run_request (mx, &req, &r, 5000);
  g_assert_cmpuint (r.resp.status, ==, 401);
  g_assert_cmpstr (r.resp.errcode, ==, "M_UNKNOWN_TOKEN");
  g_assert_cmpint (r.resp.attempts, ==, 1);
  result_clear (&r);
}

static void
test_retry_500 (void)
{
  g_autoptr (PaMatrix) mx = pa_matrix_new (default_base, TOKEN);
  PaMatrixRequest req = { .method = "GET", .path = "/fail500twice/a", .max_attempts = 5 };
  Result r;

  run_request (mx, &req, &r, 5000);
  g_assert_cmpuint (r.resp.status, ==, 200);
  g_assert_cmpint (r.resp.attempts, ==, 3);
  g_assert_cmpint (body_int (&r.resp, "hits"), ==, 3);
  g_assert_cmpuint (server_hits (&default_state, "/fail500twice/a"), ==, 3);
  /* Backoff 250 ms then 500 ms, each −20 % at worst. */
  g_assert_cmpint (r.t_done - r.t_start, >=, (250 + 500) * 800);
  result_clear (&r);

  /* With a cap of 2, the second 5xx is final and reported as such. */
  PaMatrixRequest capped = { .method = "GET", .path = "/always500/a", .max_attempts = 2 };
  run_request (mx, &capped, &r, 5000);
  g_assert_cmpuint (r.resp.status, ==, 502);
  g_assert_cmpint (r.resp.attempts, ==, 2);
  g_assert_cmpuint (server_hits (&default_state, "/always500/a"), ==, 2);
  g_autoptr (GError) error = pa_matrix_response_to_error (&r.resp);
  g_assert_error (error, PA_ERROR, PA_ERROR_HTTP);
  result_clear (&r);
}

static void
test_ratelimit (void)
{
  g_autoptr (PaMatrix) mx = pa_matrix_new (default_base, TOKEN);
  PaMatrixRequest req = { .method = "GET", .path = "/ratelimit/a", .max_attempts = 1 };
  Result r;

  /* max_attempts = 1 still succeeds: a 429 is not an attempt. */
  run_request (mx, &req, &r, 5000);
  g_assert_cmpuint (r.resp.status, ==, 200);
  g_assert_cmpint (r.resp.attempts, ==, 1);
  g_assert_cmpint (body_int (&r.resp, "hits"), ==, 2);
  g_assert_cmpint (body_int (&r.resp, "waited_ms"), >=, 50);
  result_clear (&r);
}

static void
test_ratelimit_header (void)
{
  g_autoptr (PaMatrix) mx = pa_matrix_new (default_base, TOKEN);
  PaMatrixRequest req = { .method = "GET", .path = "/ratelimit-header/a", .max_attempts = 1 };
  Result r;

  run_request (mx, &req, &r, 5000);
  g_assert_cmpuint (r.resp.status, ==, 200);
  g_assert_cmpint (r.resp.attempts, ==, 1);
  g_assert_cmpint (body_int (&r.resp, "waited_ms"), >=, 1000);
  result_clear (&r);
}

static void
test_forbidden (void)
{
  g_autoptr (PaMatrix) mx = pa_matrix_new (default_base, TOKEN);
  /* max_attempts 0 = forever, and still final at once. */
  PaMatrixRequest req = { .method = "PUT", .path = "/forbidden/a", .raw_body = "{}" };
  Result r;

  run_request (mx, &req, &r, 5000);
  g_assert_cmpuint (r.resp.status, ==, 403);
  g_assert_cmpint (r.resp.attempts, ==, 1);
  g_assert_cmpstr (r.resp.errcode, ==, "M_FORBIDDEN");
  g_assert_cmpstr (r.resp.error, ==, "nope");
  g_assert_cmpuint (server_hits (&default_state, "/forbidden/a"), ==, 1);
  g_autoptr (GError) error = pa_matrix_response_to_error (&r.resp);
  g_assert_error (error, PA_ERROR, PA_ERROR_HTTP);
  g_assert_nonnull (strstr (error->message, "M_FORBIDDEN (403)"));
  result_clear (&r);
}

static void
test_expired (void)
{
  g_autoptr (PaMatrix) mx = pa_matrix_new (default_base, TOKEN);
  PaMatrixRequest req = { .method = "GET", .path = "/expired/a" };

  /* Through the sync path, which iterates the default context that the
   * server also runs on. */
  g_autoptr (PaMatrixResponse) resp = pa_matrix_request_sync (mx, &req);
  g_assert_nonnull (resp);
  g_assert_cmpuint (resp->status, ==, 403);
  g_assert_cmpint (resp->attempts, ==, 1);
  g_autoptr (GError) error = pa_matrix_response_to_error (resp);
  g_assert_error (error, PA_ERROR, PA_ERROR_EXPIRED);
  g_assert_cmpuint (pa_matrix_in_flight (mx), ==, 0);
}

static guint
closed_port (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocket) sock = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                           G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_no_error (error);
  g_autoptr (GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new (lo, 0);
  g_assert_true (g_socket_bind (sock, any, TRUE, &error));
  g_autoptr (GSocketAddress) local = g_socket_get_local_address (sock, &error);
  g_assert_no_error (error);
  guint port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local));
  g_socket_close (sock, NULL);
  return port;
}

static void
test_refused (void)
{
  g_autofree char *base = g_strdup_printf ("http://127.0.0.1:%u/", closed_port ());
  g_autoptr (PaMatrix) mx = pa_matrix_new (base, TOKEN);
  PaMatrixRequest req = { .method = "GET", .path = "/echo/a", .max_attempts = 3 };
  Result r;

  run_request (mx, &req, &r, 5000);
  g_assert_cmpuint (r.resp.status, ==, 0);
  g_assert_cmpint (r.resp.attempts, ==, 3);
  g_assert_nonnull (r.resp.error);
  g_assert_false (pa_matrix_response_ok (&r.resp));
  g_assert_cmpint (r.t_done - r.t_start, >=, (250 + 500) * 800);
  g_autoptr (GError) error = pa_matrix_response_to_error (&r.resp);
  g_assert_error (error, PA_ERROR, PA_ERROR_NETWORK);
  result_clear (&r);
}

static void
test_upload (void)
{
  g_autoptr (PaMatrix) mx = pa_matrix_new (default_base, TOKEN);
  gsize len = 1024 * 1024;
  g_autofree guint8 *data = g_malloc (len);
  for (gsize i = 0; i < len; i++)
    data[i] = (guint8) g_random_int ();
  g_autofree char *sha = g_compute_checksum_for_data (G_CHECKSUM_SHA256, data, len);
  PaMatrixRequest req = {
    .method = "POST", .path = "/_matrix/media/v3/upload?filename=a.png", .data = data,
    .data_len = len, .content_type = "image/png", .user_id = "@ghost:hs",
  };
  Result r;

  run_request (mx, &req, &r, 10000);
  g_assert_cmpuint (r.resp.status, ==, 200);
  g_assert_cmpint (body_int (&r.resp, "len"), ==, len);
  g_assert_cmpstr (body_str (&r.resp, "sha256"), ==, sha);
  g_assert_cmpstr (body_str (&r.resp, "content_type"), ==, "image/png");
  g_assert_false (json_is_true (json_object_get (r.resp.body, "expect")));
  g_assert_cmpstr (body_str (&r.resp, "raw_query"), ==, "filename=a.png&user_id=%40ghost%3Ahs");
  result_clear (&r);

  /* A content type with a CR/LF cannot inject a header. */
  PaMatrixRequest evil = { .method = "POST", .path = "/upload/b", .data = data, .data_len = 10,
                           .content_type = "text/plain\r\nX-Evil: 1" };
  run_request (mx, &evil, &r, 10000);
  g_assert_cmpstr (body_str (&r.resp, "content_type"), ==, "application/octet-stream");
  result_clear (&r);
}

static void
test_huge_response (void)
{
  g_autoptr (PaMatrix) mx = pa_matrix_new (default_base, TOKEN);
  PaMatrixRequest req = { .method = "GET", .path = "/huge/a" };
  Result r;

  run_request (mx, &req, &r, 10000);
  g_assert_cmpuint (r.resp.status, ==, 0);
  g_assert_cmpint (r.resp.attempts, ==, 1);
  g_assert_nonnull (strstr (r.resp.error, "larger"));
  g_assert_null (r.resp.body);
  result_clear (&r);
}

#define N_CONCURRENT 200

typedef struct {
  guint index;
  guint *completed;
  gboolean *all_done;
} ConcurrentItem;

static void
concurrent_cb (PaMatrix *mx, const PaMatrixResponse *resp, gpointer user_data)
{
  ConcurrentItem *it = user_data;

  g_assert_cmpuint (resp->status, ==, 200);
  g_assert_cmpint (resp->attempts, ==, 1);
  json_t *n = json_object_get (json_object_get (resp->body, "body"), "i");
  g_assert_cmpint (json_integer_value (n), ==, it->index);
  if (++*it->completed == N_CONCURRENT)
    *it->all_done = TRUE;
}

static void
test_concurrent (void)
{
  g_autoptr (PaMatrix) mx = pa_matrix_new (default_base, TOKEN);
  ConcurrentItem items[N_CONCURRENT];
  guint completed = 0;
  gboolean all_done = FALSE;

  for (guint i = 0; i < N_CONCURRENT; i++)
    {
      g_autoptr (json_t) body = json_pack ("{s:i}", "i", (int) i);
      g_autofree char *path = g_strdup_printf ("/echo/c%u", i);
      PaMatrixRequest req = { .method = "PUT", .path = path, .body = body };
      items[i] = (ConcurrentItem) { i, &completed, &all_done };
      pa_matrix_request (mx, &req, concurrent_cb, &items[i]);
    }
  g_assert_cmpuint (pa_matrix_in_flight (mx), ==, N_CONCURRENT);
  wait_for (NULL, &all_done, 9000);
  g_assert_cmpuint (completed, ==, N_CONCURRENT);
  g_assert_cmpuint (pa_matrix_in_flight (mx), ==, 0);
}

static void
never_cb (PaMatrix *mx, const PaMatrixResponse *resp, gpointer user_data)
{
  g_assert_not_reached ();
}

static void
test_cancel_all (void)
{
  g_autoptr (PaMatrix) mx = pa_matrix_new (default_base, TOKEN);
  PaMatrixRequest retrying = { .method = "GET", .path = "/always500/cancel" };
  PaMatrixRequest echo = { .method = "GET", .path = "/echo/cancel" };

  /* One waiting for its retry timer ... */
  pa_matrix_request (mx, &retrying, never_cb, NULL);
  run_for (NULL, 100);
  g_assert_cmpuint (server_hits (&default_state, "/always500/cancel"), ==, 1);
  /* ... and some still transferring. */
  for (int i = 0; i < 5; i++)
    pa_matrix_request (mx, &echo, never_cb, NULL);
  g_assert_cmpuint (pa_matrix_in_flight (mx), ==, 6);
  pa_matrix_cancel_all (mx);
  g_assert_cmpuint (pa_matrix_in_flight (mx), ==, 0);
  run_for (NULL, 600);
  g_assert_cmpuint (server_hits (&default_state, "/always500/cancel"), ==, 1);

  /* The client is still usable afterwards. */
  Result r;
  run_request (mx, &echo, &r, 5000);
  g_assert_cmpuint (r.resp.status, ==, 200);
  result_clear (&r);
}

typedef struct {
  PaMatrix *mx;
  guint calls;
  gboolean free_it;
} FromCallback;

static void
cancelling_cb (PaMatrix *mx, const PaMatrixResponse *resp, gpointer user_data)
{
  FromCallback *fc = user_data;

  fc->calls++;
  if (fc->free_it)
    {
      pa_matrix_free (fc->mx);
      fc->mx = NULL;
    }
  else
    pa_matrix_cancel_all (mx);
}

static void
test_cancel_from_callback (void)
{
  for (int mode = 0; mode < 2; mode++)
    {
      FromCallback fc = { pa_matrix_new (default_base, TOKEN), 0, mode == 1 };
      PaMatrixRequest echo = { .method = "GET", .path = "/echo/fromcb" };

      for (int i = 0; i < 20; i++)
        pa_matrix_request (fc.mx, &echo, cancelling_cb, &fc);
      while (fc.calls == 0)
        g_main_context_iteration (NULL, TRUE);
      run_for (NULL, 300);
      g_assert_cmpuint (fc.calls, ==, 1);
      if (fc.mx != NULL)
        {
          g_assert_cmpuint (pa_matrix_in_flight (fc.mx), ==, 0);
          pa_matrix_free (fc.mx);
        }
    }
}

static void
test_free_pending (void)
{
  PaMatrix *mx = pa_matrix_new (default_base, TOKEN);
  PaMatrixRequest retrying = { .method = "GET", .path = "/always500/free" };
  PaMatrixRequest echo = { .method = "GET", .path = "/echo/free" };

  /* One waiting for its retry, one just started: neither may call back. */
  pa_matrix_request (mx, &retrying, never_cb, NULL);
  run_for (NULL, 100);
  g_assert_cmpuint (server_hits (&default_state, "/always500/free"), ==, 1);
  pa_matrix_request (mx, &echo, never_cb, NULL);
  pa_matrix_free (mx);
  run_for (NULL, 500);
  g_assert_cmpuint (server_hits (&default_state, "/always500/free"), ==, 1);
}

/* Sources left in a context: (fds polled, timeout) from prepare/query. */
static void
context_poll_state (GMainContext *ctx, gint *n_fds, gint *timeout)
{
  GPollFD fds[256];
  gint prio = G_MAXINT;

  g_assert_true (g_main_context_acquire (ctx));
  g_main_context_prepare (ctx, &prio);
  *n_fds = g_main_context_query (ctx, G_MAXINT, timeout, fds, G_N_ELEMENTS (fds));
  g_main_context_check (ctx, G_MAXINT, fds, MIN (*n_fds, (gint) G_N_ELEMENTS (fds)));
  g_main_context_dispatch (ctx);
  g_main_context_release (ctx);
}

typedef struct {
  GMainContext *ctx;
  GMainLoop *loop;
  ServerState st;
  char *base;
  GMutex lock;
  GCond cond;
  gboolean ready;
} ThreadServer;

static gpointer
server_thread (gpointer data)
{
  ThreadServer *ts = data;

  g_main_context_push_thread_default (ts->ctx);
  SoupServer *server = start_server (&ts->st, &ts->base);
  g_mutex_lock (&ts->lock);
  ts->ready = TRUE;
  g_cond_signal (&ts->cond);
  g_mutex_unlock (&ts->lock);
  g_main_loop_run (ts->loop);
  soup_server_disconnect (server);
  g_object_unref (server);
  g_main_context_pop_thread_default (ts->ctx);
  return NULL;
}

static void
test_no_leaked_sources (void)
{
  /* The server gets its own thread and context so that the client's
   * context holds nothing but the client's sources. */
  ThreadServer ts = { 0 };
  ts.ctx = g_main_context_new ();
  ts.loop = g_main_loop_new (ts.ctx, FALSE);
  server_state_init (&ts.st);
  g_mutex_init (&ts.lock);
  g_cond_init (&ts.cond);
  GThread *thread = g_thread_new ("hs", server_thread, &ts);
  g_mutex_lock (&ts.lock);
  while (!ts.ready)
    g_cond_wait (&ts.cond, &ts.lock);
  g_mutex_unlock (&ts.lock);

  GMainContext *ctx = g_main_context_new ();
  gint empty_fds, empty_timeout, n_fds, timeout;
  context_poll_state (ctx, &empty_fds, &empty_timeout);
  g_assert_cmpint (empty_timeout, ==, -1);

  g_main_context_push_thread_default (ctx);
  PaMatrix *mx = pa_matrix_new (ts.base, TOKEN);
  g_main_context_pop_thread_default (ctx);

  Result a, b;
  memset (&a, 0, sizeof a);
  memset (&b, 0, sizeof b);
  PaMatrixRequest retry = { .method = "GET", .path = "/fail500twice/leak" };
  PaMatrixRequest echo = { .method = "PUT", .path = "/echo/leak", .raw_body = "{}" };
  pa_matrix_request (mx, &retry, result_cb, &a);
  pa_matrix_request (mx, &echo, result_cb, &b);
  wait_for (ctx, &b.done, 5000);
  /* a is waiting for its retry: the check must see that timer. */
  context_poll_state (ctx, &n_fds, &timeout);
  g_assert_cmpint (timeout, >=, 0);
  wait_for (ctx, &a.done, 5000);
  g_assert_cmpuint (a.resp.status, ==, 200);
  g_assert_cmpint (a.resp.attempts, ==, 3);
  g_assert_cmpuint (b.resp.status, ==, 200);

  /* Some requests, then a cancel with one waiting to retry. */
  PaMatrixRequest always = { .method = "GET", .path = "/always500/leak" };
  pa_matrix_request (mx, &always, never_cb, NULL);
  run_for (ctx, 100);
  pa_matrix_cancel_all (mx);
  pa_matrix_free (mx);
  for (int i = 0; i < 5; i++)
    g_main_context_iteration (ctx, FALSE);
  g_assert_false (g_main_context_pending (ctx));
  context_poll_state (ctx, &n_fds, &timeout);
  g_assert_cmpint (n_fds, ==, empty_fds);
  g_assert_cmpint (timeout, ==, -1);

  result_clear (&a);
  result_clear (&b);
  g_main_context_unref (ctx);
  g_main_loop_quit (ts.loop);
  g_thread_join (thread);
  g_main_loop_unref (ts.loop);
  g_main_context_unref (ts.ctx);
  server_state_clear (&ts.st);
  g_free (ts.base);
  g_mutex_clear (&ts.lock);
  g_cond_clear (&ts.cond);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  server_state_init (&default_state);
  default_server = start_server (&default_state, &default_base);

  g_test_add_func ("/matrix/escape", test_escape);
  g_test_add_func ("/matrix/response-errors", test_response_errors);
  g_test_add_func ("/matrix/echo", test_echo);
  g_test_add_func ("/matrix/send-path", test_send_path);
  g_test_add_func ("/matrix/bad-token", test_bad_token);
  g_test_add_func ("/matrix/retry-500", test_retry_500);
  g_test_add_func ("/matrix/ratelimit", test_ratelimit);
  g_test_add_func ("/matrix/ratelimit-header", test_ratelimit_header);
  g_test_add_func ("/matrix/forbidden", test_forbidden);
  g_test_add_func ("/matrix/expired", test_expired);
  g_test_add_func ("/matrix/refused", test_refused);
  g_test_add_func ("/matrix/upload", test_upload);
  g_test_add_func ("/matrix/huge-response", test_huge_response);
  g_test_add_func ("/matrix/concurrent", test_concurrent);
  g_test_add_func ("/matrix/cancel-all", test_cancel_all);
  g_test_add_func ("/matrix/cancel-from-callback", test_cancel_from_callback);
  g_test_add_func ("/matrix/free-pending", test_free_pending);
  g_test_add_func ("/matrix/no-leaked-sources", test_no_leaked_sources);

  int ret = g_test_run ();

  soup_server_disconnect (default_server);
  g_object_unref (default_server);
  g_free (default_base);
  server_state_clear (&default_state);
  return ret;
}
