/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The AS → homeserver client.  One CURLM per PaMatrix, driven by the GLib
 * main context that was thread-default when it was created:
 *
 *  - CURLMOPT_SOCKETFUNCTION keeps one fd watch per socket curl asks about
 *    (replaced when the wanted condition changes, removed on POLL_REMOVE);
 *  - CURLMOPT_TIMERFUNCTION keeps exactly one timeout source (a new value
 *    replaces it, -1 removes it), unlike curl's ghiper.c which leaks them;
 *  - both call curl_multi_socket_action() and then drain
 *    curl_multi_info_read().
 *
 * User callbacks are never called from inside a curl callback nor from
 * inside pa_matrix_request(): finished requests go to a "done" queue that is
 * delivered at the end of each main-loop dispatch.  cancel_all and free
 * empty that queue, which is how "no callback afterwards" is guaranteed even
 * when a callback cancels its siblings or frees the client.
 *
 * Not thread-safe: use a PaMatrix only from the thread running its context. */
#define G_LOG_DOMAIN "passerelle-matrix"

#include "matrix/pa-matrix.h"
#include "pa-common.h"
#include "matrix/pa-matrix-endpoint.h"
#include "metrics/pa-metrics-points.h"

#include <curl/curl.h>
#include <glib-unix.h>
#include <string.h>

/* Hard cap on a response body: media downloads go elsewhere, and no
 * client-server API answer legitimately comes near this. */
#define PA_MATRIX_MAX_BODY (64 * 1024 * 1024)
#define PA_MATRIX_BACKOFF_FIRST_MS 250
#define PA_MATRIX_BACKOFF_MAX_MS 30000
#define PA_MATRIX_DEFAULT_429_MS 1000
/* A homeserver asking us to wait longer than this is capped, so a bogus
 * value cannot park a queue item for days or overflow the timer. */
#define PA_MATRIX_MAX_429_MS (60 * 60 * 1000)
#define PA_MATRIX_DEFAULT_TIMEOUT_S 60
#define PA_MATRIX_MAX_HOST_CONNECTIONS 16

struct _PaMatrix {
  gint ref;          /* internal: dispatch and request_sync hold a ref */
  gboolean closed;   /* pa_matrix_free ran */
  guint generation;  /* bumped by cancel_all / free */
  char *base;        /* hs_address without trailing '/' */
  char *auth_header; /* "Authorization: Bearer …" */
  GMainContext *ctx;
  CURLM *multi;
  GSource *timer;      /* the single curl timer, or NULL */
  GHashTable *sockets; /* fd → GSource* watch */
  GHashTable *requests; /* PaMxReq* set: transferring or waiting to retry */
  GQueue done;          /* PaMxReq* finished, callback not yet called */
  GSource *deliver;     /* idle that empties `done` outside a dispatch */
};

typedef struct {
  PaMatrix *mx;
  char *url;
  char *method;
  struct curl_slist *headers;
  GBytes *body; /* NULL = no request body */
  guint max_attempts;
  guint timeout_s;
  PaMatrixCallback cb;
  gpointer user_data;

  CURL *easy;      /* non-NULL while a transfer runs */
  GSource *retry;  /* non-NULL while waiting to retry */
  guint failures;  /* consecutive network/5xx failures, for backoff */
  GByteArray *buf; /* response body of the current attempt */
  gboolean too_large;
  gint64 retry_after_s; /* Retry-After header, -1 if absent */
  char errbuf[CURL_ERROR_SIZE];

  PaMatrixResponse resp;
} PaMxReq;

static PaMatrix *
mx_ref (PaMatrix *mx)
{
  mx->ref++;
  return mx;
}

static void
mx_unref (PaMatrix *mx)
{
  if (--mx->ref > 0)
    return;
  g_assert (mx->multi == NULL);
  g_hash_table_unref (mx->sockets);
  g_hash_table_unref (mx->requests);
  g_main_context_unref (mx->ctx);
  g_free (mx->base);
  /* The token should not linger in freed heap memory. */
  memset (mx->auth_header, 0, strlen (mx->auth_header));
  g_free (mx->auth_header);
  g_free (mx);
}

static void
source_destroy_unref (GSource *source)
{
  g_source_destroy (source);
  g_source_unref (source);
}

static void
response_clear (PaMatrixResponse *resp)
{
  g_clear_pointer (&resp->errcode, g_free);
  g_clear_pointer (&resp->error, g_free);
  g_clear_pointer (&resp->body, json_decref);
  g_clear_pointer (&resp->raw, g_byte_array_unref);
  g_clear_pointer (&resp->content_type, g_free);
  resp->status = 0;
}

static void
req_stop_transfer (PaMxReq *req)
{
  if (req->easy == NULL)
    return;
  if (req->mx->multi != NULL)
    curl_multi_remove_handle (req->mx->multi, req->easy);
  curl_easy_cleanup (req->easy);
  req->easy = NULL;
}

static void
req_free (PaMxReq *req)
{
  req_stop_transfer (req);
  g_clear_pointer (&req->retry, source_destroy_unref);
  g_free (req->url);
  g_free (req->method);
  curl_slist_free_all (req->headers);
  g_clear_pointer (&req->body, g_bytes_unref);
  if (req->buf != NULL)
    g_byte_array_unref (req->buf);
  response_clear (&req->resp);
  g_free (req);
}

/* ------------------------------------------------------------------ */
/* Delivery of finished requests                                       */

/* Calls the callbacks of finished requests.  A callback may start requests,
 * cancel everything or free the client: the queue is re-read after each
 * callback, and cancel/free empty it. */
static void
mx_deliver (PaMatrix *mx)
{
  PaMxReq *req;

  g_clear_pointer (&mx->deliver, source_destroy_unref);
  mx_ref (mx);
  while (!mx->closed && (req = g_queue_pop_head (&mx->done)) != NULL)
    {
      if (req->cb != NULL)
        req->cb (mx, &req->resp, req->user_data);
      req_free (req);
    }
  mx_unref (mx);
}

static gboolean
deliver_idle_cb (gpointer user_data)
{
  PaMatrix *mx = user_data;

  /* mx_deliver destroys mx->deliver, which is this source. */
  mx_deliver (mx);
  return G_SOURCE_REMOVE;
}

static void
req_finish (PaMxReq *req)
{
  PaMatrix *mx = req->mx;

  g_hash_table_remove (mx->requests, req);
  g_queue_push_tail (&mx->done, req);
  if (mx->deliver == NULL)
    {
      /* Normally the dispatch that finished the request delivers it right
       * away; the idle covers finishing from pa_matrix_request itself. */
      mx->deliver = g_idle_source_new ();
      g_source_set_callback (mx->deliver, deliver_idle_cb, mx, NULL);
      g_source_set_static_name (mx->deliver, "[passerelle] matrix deliver");
      g_source_attach (mx->deliver, mx->ctx);
    }
}

/* ------------------------------------------------------------------ */
/* curl ⇄ GMainContext glue                                            */

static void mx_drain (PaMatrix *mx);

static void
mx_socket_action (PaMatrix *mx, curl_socket_t fd, int ev_bitmask)
{
  int running = 0;

  mx_ref (mx);
  if (mx->multi != NULL)
    {
      CURLMcode mc = curl_multi_socket_action (mx->multi, fd, ev_bitmask, &running);
      if (mc != CURLM_OK)
        g_warning ("curl_multi_socket_action: %s", curl_multi_strerror (mc));
      mx_drain (mx);
      mx_deliver (mx);
    }
  mx_unref (mx);
}

static gboolean
socket_ready_cb (gint fd, GIOCondition condition, gpointer user_data)
{
  PaMatrix *mx = user_data;
  int ev = 0;

  if (condition & (G_IO_IN | G_IO_HUP))
    ev |= CURL_CSELECT_IN;
  if (condition & G_IO_OUT)
    ev |= CURL_CSELECT_OUT;
  if (condition & (G_IO_ERR | G_IO_NVAL))
    ev |= CURL_CSELECT_ERR;
  /* This watch may be destroyed by curl's socket callback during the
   * action; GLib keeps the source alive until we return. */
  mx_socket_action (mx, fd, ev);
  return G_SOURCE_CONTINUE;
}

static int
curl_socket_cb (CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
  PaMatrix *mx = userp;
  GIOCondition cond = 0;

  if (what == CURL_POLL_REMOVE)
    {
      g_hash_table_remove (mx->sockets, GINT_TO_POINTER (fd));
      return 0;
    }
  if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
    cond |= G_IO_IN;
  if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
    cond |= G_IO_OUT;
  /* poll() reports these whatever we ask; asking makes it explicit. */
  cond |= G_IO_ERR | G_IO_HUP;

  /* g_hash_table_replace destroys the previous watch for this fd. */
  GSource *watch = g_unix_fd_source_new (fd, cond);
  g_source_set_callback (watch, G_SOURCE_FUNC (socket_ready_cb), mx, NULL);
  g_source_set_static_name (watch, "[passerelle] curl socket");
  g_source_attach (watch, mx->ctx);
  g_hash_table_replace (mx->sockets, GINT_TO_POINTER (fd), watch);
  return 0;
}

static gboolean
timer_fired_cb (gpointer user_data)
{
  PaMatrix *mx = user_data;

  /* Forget the source before the action: curl will usually set a new
   * timer from inside it, and that must not destroy this one twice. */
  g_clear_pointer (&mx->timer, g_source_unref);
  mx_socket_action (mx, CURL_SOCKET_TIMEOUT, 0);
  return G_SOURCE_REMOVE;
}

static int
curl_timer_cb (CURLM *multi, long timeout_ms, void *userp)
{
  PaMatrix *mx = userp;

  g_clear_pointer (&mx->timer, source_destroy_unref);
  if (timeout_ms < 0)
    return 0;
  mx->timer = g_timeout_source_new ((guint) MIN (timeout_ms, (long) G_MAXINT));
  g_source_set_callback (mx->timer, timer_fired_cb, mx, NULL);
  g_source_set_static_name (mx->timer, "[passerelle] curl timer");
  g_source_attach (mx->timer, mx->ctx);
  return 0;
}

/* ------------------------------------------------------------------ */
/* Attempts and retries                                                */

static gboolean req_start_attempt (PaMxReq *req);

static gboolean
retry_fired_cb (gpointer user_data)
{
  PaMxReq *req = user_data;
  PaMatrix *mx = mx_ref (req->mx);

  g_clear_pointer (&req->retry, g_source_unref);
  req_start_attempt (req);
  mx_deliver (mx);
  mx_unref (mx);
  return G_SOURCE_REMOVE;
}

static void
req_schedule_retry (PaMxReq *req, guint delay_ms)
{
  /* The path only: a query may hold a token (the OpenID userinfo call's). */
  g_debug ("%s %.*s: retrying in %u ms", req->method, (int) strcspn (req->url, "?"), req->url,
           delay_ms);
  req->retry = g_timeout_source_new (delay_ms);
  g_source_set_callback (req->retry, retry_fired_cb, req, NULL);
  g_source_set_static_name (req->retry, "[passerelle] matrix retry");
  g_source_attach (req->retry, req->mx->ctx);
}

static guint
backoff_ms (guint failures)
{
  guint ms = PA_MATRIX_BACKOFF_FIRST_MS;

  for (guint i = 1; i < failures && ms < PA_MATRIX_BACKOFF_MAX_MS; i++)
    ms *= 2;
  ms = MIN (ms, PA_MATRIX_BACKOFF_MAX_MS);
  /* ±20 % so that a queue of requests failing together does not hammer a
   * recovering homeserver in lock-step. */
  return (guint) (ms * g_random_double_range (0.8, 1.2));
}

/* A counted attempt failed in a retryable way: retry or give up. */
static void
req_retry_or_finish (PaMxReq *req)
{
  req->failures++;
  if (req->max_attempts != 0 && (guint) req->resp.attempts >= req->max_attempts)
    {
      req_finish (req);
      return;
    }
  req_schedule_retry (req, backoff_ms (req->failures));
}

static guint
retry_after_ms (PaMxReq *req)
{
  json_t *ms = req->resp.body ? json_object_get (req->resp.body, "retry_after_ms") : NULL;

  if (json_is_integer (ms) && json_integer_value (ms) >= 0)
    return (guint) MIN (json_integer_value (ms), (json_int_t) PA_MATRIX_MAX_429_MS);
  if (req->retry_after_s >= 0)
    return (guint) MIN (req->retry_after_s, (gint64) PA_MATRIX_MAX_429_MS / 1000) * 1000;
  return PA_MATRIX_DEFAULT_429_MS;
}

static gboolean
curl_error_is_final (CURLcode rc)
{
  switch (rc)
    {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_BAD_FUNCTION_ARGUMENT:
    case CURLE_FILESIZE_EXCEEDED:
    case CURLE_OUT_OF_MEMORY:
      return TRUE;
    default:
      return FALSE;
    }
}

/* A transfer ended: fill the response and decide what happens next. */
static void
req_transfer_done (PaMxReq *req, CURLcode rc)
{
  long code = 0;
  const char *ctype = NULL;
  curl_off_t took_us = 0;

  curl_easy_getinfo (req->easy, CURLINFO_RESPONSE_CODE, &code);
  curl_easy_getinfo (req->easy, CURLINFO_CONTENT_TYPE, &ctype);
  if (pa_metrics_points_enabled ()
      && curl_easy_getinfo (req->easy, CURLINFO_TOTAL_TIME_T, &took_us) == CURLE_OK)
    pa_metrics_hs_request (pa_matrix_endpoint_class (req->url), took_us);
  response_clear (&req->resp);
  /* ctype belongs to the easy handle: copy it before the cleanup. */
  req->resp.content_type = g_strdup (ctype);
  req_stop_transfer (req);
  req->resp.attempts++;

  if (req->too_large || rc == CURLE_FILESIZE_EXCEEDED)
    {
      req->resp.error = g_strdup_printf ("response body larger than %d bytes",
                                         PA_MATRIX_MAX_BODY);
      req_finish (req);
      return;
    }
  if (rc != CURLE_OK || code < 100 || code > 999)
    {
      if (rc == CURLE_OK)
        req->resp.error = g_strdup_printf ("invalid HTTP status %ld", code);
      else
        req->resp.error = g_strdup (req->errbuf[0] ? req->errbuf : curl_easy_strerror (rc));
      g_debug ("%s %.*s: attempt %d failed: %s", req->method, (int) strcspn (req->url, "?"),
               req->url, req->resp.attempts, req->resp.error);
      if (rc != CURLE_OK && curl_error_is_final (rc))
        req_finish (req);
      else
        req_retry_or_finish (req);
      return;
    }

  req->resp.status = (guint) code;
  if (req->buf->len > 0)
    {
      json_error_t jerr;
      if (req->resp.content_type == NULL || strstr (req->resp.content_type, "json") != NULL)
        req->resp.body = json_loadb ((const char *) req->buf->data, req->buf->len, 0, &jerr);
      /* The body moves to the response; the next attempt starts afresh. */
      req->resp.raw = g_steal_pointer (&req->buf);
    }
  json_t *errcode = req->resp.body ? json_object_get (req->resp.body, "errcode") : NULL;
  json_t *error = req->resp.body ? json_object_get (req->resp.body, "error") : NULL;
  if (json_is_string (errcode))
    req->resp.errcode = g_strdup (json_string_value (errcode));
  if (json_is_string (error))
    req->resp.error = g_strdup (json_string_value (error));
  else if (code >= 300)
    req->resp.error = g_strdup_printf ("HTTP %ld", code);

  if (code == 429)
    {
      /* Rate limiting is the homeserver pacing us, not a failure. */
      req->resp.attempts--;
      req_schedule_retry (req, retry_after_ms (req));
    }
  else if (code >= 500)
    req_retry_or_finish (req);
  else
    req_finish (req);
}

static void
mx_drain (PaMatrix *mx)
{
  CURLMsg *msg;
  int left = 0;

  while (mx->multi != NULL && (msg = curl_multi_info_read (mx->multi, &left)) != NULL)
    {
      if (msg->msg != CURLMSG_DONE)
        continue;
      /* msg does not survive remove_handle: copy what we need first. */
      CURL *easy = msg->easy_handle;
      CURLcode rc = msg->data.result;
      PaMxReq *req = NULL;
      curl_easy_getinfo (easy, CURLINFO_PRIVATE, (char **) &req);
      g_assert (req != NULL && req->easy == easy);
      req_transfer_done (req, rc);
    }
}

static size_t
write_cb (char *ptr, size_t size, size_t nmemb, void *userdata)
{
  PaMxReq *req = userdata;
  size_t n = size * nmemb;

  if (n > PA_MATRIX_MAX_BODY - req->buf->len)
    {
      req->too_large = TRUE;
      return 0; /* makes curl abort with CURLE_WRITE_ERROR */
    }
  g_byte_array_append (req->buf, (const guint8 *) ptr, (guint) n);
  return n;
}

static size_t
header_cb (char *buffer, size_t size, size_t nitems, void *userdata)
{
  PaMxReq *req = userdata;
  size_t n = size * nitems;
  static const char name[] = "retry-after:";

  if (n > 5 && g_ascii_strncasecmp (buffer, "HTTP/", 5) == 0)
    req->retry_after_s = -1; /* a new response (after 100 Continue, …) */
  else if (n > sizeof name - 1 && n < 64
           && g_ascii_strncasecmp (buffer, name, sizeof name - 1) == 0)
    {
      /* Only delta-seconds is understood; an HTTP-date falls back to the
       * default wait. */
      g_autofree char *value = g_strstrip (g_strndup (buffer + sizeof name - 1,
                                                      n - (sizeof name - 1)));
      guint64 secs;
      if (g_ascii_string_to_unsigned (value, 10, 0, G_MAXINT, &secs, NULL))
        req->retry_after_s = (gint64) secs;
    }
  return n;
}

static gboolean
req_start_attempt (PaMxReq *req)
{
  PaMatrix *mx = req->mx;
  CURLMcode mc;

  g_assert (req->easy == NULL && req->retry == NULL);
  if (req->buf != NULL)
    g_byte_array_set_size (req->buf, 0);
  else
    req->buf = g_byte_array_new ();
  req->too_large = FALSE;
  req->retry_after_s = -1;
  req->errbuf[0] = '\0';

  req->easy = curl_easy_init ();
  if (req->easy == NULL)
    {
      response_clear (&req->resp);
      req->resp.attempts++;
      req->resp.error = g_strdup ("curl_easy_init failed");
      req_retry_or_finish (req);
      return FALSE;
    }

  CURL *e = req->easy;
  curl_easy_setopt (e, CURLOPT_URL, req->url);
  curl_easy_setopt (e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt (e, CURLOPT_PRIVATE, req);
  curl_easy_setopt (e, CURLOPT_ERRORBUFFER, req->errbuf);
  curl_easy_setopt (e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt (e, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt (e, CURLOPT_PIPEWAIT, 1L);
  curl_easy_setopt (e, CURLOPT_TIMEOUT, (long) req->timeout_s);
  curl_easy_setopt (e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) PA_MATRIX_MAX_BODY);
  curl_easy_setopt (e, CURLOPT_HTTPHEADER, req->headers);
  curl_easy_setopt (e, CURLOPT_WRITEFUNCTION, write_cb);
  curl_easy_setopt (e, CURLOPT_WRITEDATA, req);
  curl_easy_setopt (e, CURLOPT_HEADERFUNCTION, header_cb);
  curl_easy_setopt (e, CURLOPT_HEADERDATA, req);
  if (g_strcmp0 (req->method, "GET") == 0)
    curl_easy_setopt (e, CURLOPT_HTTPGET, 1L);
  else if (req->body != NULL)
    {
      gsize len;
      const void *data = g_bytes_get_data (req->body, &len);
      /* Not copied by curl: req->body outlives the easy handle. */
      curl_easy_setopt (e, CURLOPT_POSTFIELDS, data != NULL ? data : "");
      curl_easy_setopt (e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) len);
    }
  else if (g_strcmp0 (req->method, "POST") == 0 || g_strcmp0 (req->method, "PUT") == 0)
    {
      /* An empty body with "Content-Length: 0", which some proxies insist on. */
      curl_easy_setopt (e, CURLOPT_POSTFIELDS, "");
      curl_easy_setopt (e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) 0);
    }
  if (g_strcmp0 (req->method, "GET") != 0 && g_strcmp0 (req->method, "POST") != 0)
    curl_easy_setopt (e, CURLOPT_CUSTOMREQUEST, req->method);

  mc = curl_multi_add_handle (mx->multi, e);
  if (mc != CURLM_OK)
    {
      curl_easy_cleanup (e);
      req->easy = NULL;
      response_clear (&req->resp);
      req->resp.attempts++;
      req->resp.error = g_strdup_printf ("curl_multi_add_handle: %s", curl_multi_strerror (mc));
      req_retry_or_finish (req);
      return FALSE;
    }
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* Public API                                                          */

static void
curl_global_init_once (void)
{
  static gsize done = 0;

  if (g_once_init_enter (&done))
    {
      CURLcode rc = curl_global_init (CURL_GLOBAL_DEFAULT);
      if (rc != CURLE_OK)
        g_warning ("curl_global_init: %s", curl_easy_strerror (rc));
      g_once_init_leave (&done, 1);
    }
}

/* Creates a client for `hs_address` ("https://hs.example" with or without
 * a trailing '/') that authenticates with `as_token`.  It attaches its
 * sources to the thread-default main context of the caller. */
PaMatrix *
pa_matrix_new (const char *hs_address, const char *as_token)
{
  g_return_val_if_fail (hs_address != NULL, NULL);
  g_return_val_if_fail (as_token != NULL, NULL);
  /* A CR/LF would let the token inject headers; config validation must
   * have refused it already. */
  g_return_val_if_fail (strpbrk (as_token, "\r\n") == NULL, NULL);

  curl_global_init_once ();

  PaMatrix *mx = g_new0 (PaMatrix, 1);
  mx->ref = 1;
  gsize len = strlen (hs_address);
  while (len > 0 && hs_address[len - 1] == '/')
    len--;
  mx->base = g_strndup (hs_address, len);
  mx->auth_header = g_strconcat ("Authorization: Bearer ", as_token, NULL);
  mx->ctx = g_main_context_ref_thread_default ();
  mx->sockets = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) source_destroy_unref);
  mx->requests = g_hash_table_new (NULL, NULL);
  g_queue_init (&mx->done);

  mx->multi = curl_multi_init ();
  g_assert (mx->multi != NULL); /* only fails on out-of-memory */
  curl_multi_setopt (mx->multi, CURLMOPT_SOCKETFUNCTION, curl_socket_cb);
  curl_multi_setopt (mx->multi, CURLMOPT_SOCKETDATA, mx);
  curl_multi_setopt (mx->multi, CURLMOPT_TIMERFUNCTION, curl_timer_cb);
  curl_multi_setopt (mx->multi, CURLMOPT_TIMERDATA, mx);
  curl_multi_setopt (mx->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
                     (long) PA_MATRIX_MAX_HOST_CONNECTIONS);
  /* Keep every host connection in the cache so sends reuse them. */
  curl_multi_setopt (mx->multi, CURLMOPT_MAXCONNECTS, (long) PA_MATRIX_MAX_HOST_CONNECTIONS * 2);
  return mx;
}

static void
mx_cancel (PaMatrix *mx)
{
  GHashTableIter iter;
  gpointer key;
  PaMxReq *req;

  mx->generation++;
  g_hash_table_iter_init (&iter, mx->requests);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    {
      g_hash_table_iter_remove (&iter);
      req_free (key);
    }
  while ((req = g_queue_pop_head (&mx->done)) != NULL)
    req_free (req);
  g_clear_pointer (&mx->deliver, source_destroy_unref);
}

/* Cancels every request and frees the client; no callback runs after this,
 * even when called from inside a callback. */
void
pa_matrix_free (PaMatrix *mx)
{
  if (mx == NULL || mx->closed)
    return;
  mx->closed = TRUE;
  mx_cancel (mx);
  /* curl may still call the socket and timer callbacks while it closes
   * cached connections; they only touch mx->sockets and mx->timer. */
  curl_multi_cleanup (mx->multi);
  mx->multi = NULL;
  g_hash_table_remove_all (mx->sockets);
  g_clear_pointer (&mx->timer, source_destroy_unref);
  mx_unref (mx);
}

/* Header values that come from elsewhere (a legacy network's MIME type)
 * must not smuggle a CR/LF or other control characters. */
static gboolean
header_value_ok (const char *value)
{
  for (const char *p = value; *p; p++)
    if ((guchar) *p < 0x20 || *p == 0x7f)
      return FALSE;
  return *value != '\0';
}

/* Starts `req` (all of it is copied, nothing is borrowed after return).
 * `cb` runs once, later, from the main context, unless the request is
 * cancelled by pa_matrix_cancel_all or pa_matrix_free. */
void
pa_matrix_request (PaMatrix *mx, const PaMatrixRequest *req, PaMatrixCallback cb,
                   gpointer user_data)
{
  g_return_if_fail (mx != NULL && !mx->closed);
  g_return_if_fail (req != NULL && req->method != NULL && req->path != NULL);

  PaMxReq *r = g_new0 (PaMxReq, 1);
  r->mx = mx;
  r->method = g_ascii_strup (req->method, -1);
  r->cb = cb;
  r->user_data = user_data;
  r->max_attempts = req->max_attempts;
  r->timeout_s = req->timeout_s != 0 ? req->timeout_s : PA_MATRIX_DEFAULT_TIMEOUT_S;

  GString *url = g_string_new (mx->base);
  if (req->path[0] != '/')
    g_string_append_c (url, '/');
  g_string_append (url, req->path);
  char sep = strchr (req->path, '?') != NULL ? '&' : '?';
  if (req->user_id != NULL)
    {
      g_autofree char *uid = pa_matrix_escape (req->user_id);
      g_string_append_printf (url, "%cuser_id=%s", sep, uid);
      sep = '&';
    }
  if (req->ts != 0)
    g_string_append_printf (url, "%cts=%" G_GINT64_FORMAT, sep, req->ts);
  r->url = g_string_free (url, FALSE);

  const char *content_type = NULL;
  if (req->body != NULL)
    {
      char *text = json_dumps (req->body, JSON_COMPACT);
      if (text != NULL)
        r->body = g_bytes_new_with_free_func (text, strlen (text), free, text);
      else
        r->body = g_bytes_new_static ("{}", 2); /* json_dumps only fails on non-containers */
      content_type = "application/json";
    }
  else if (req->raw_body != NULL)
    {
      r->body = g_bytes_new (req->raw_body, strlen (req->raw_body));
      content_type = "application/json";
    }
  else if (req->data != NULL)
    {
      r->body = g_bytes_new (req->data, req->data_len);
      content_type = req->content_type != NULL && header_value_ok (req->content_type)
                         ? req->content_type
                         : "application/octet-stream";
    }

  r->headers = curl_slist_append (NULL, mx->auth_header);
  if (content_type != NULL)
    {
      g_autofree char *h = g_strconcat ("Content-Type: ", content_type, NULL);
      r->headers = curl_slist_append (r->headers, h);
    }
  /* No "Expect: 100-continue" round trip before large uploads. */
  r->headers = curl_slist_append (r->headers, "Expect:");

  g_hash_table_add (mx->requests, r);
  req_start_attempt (r);
}

typedef struct {
  gboolean done;
  PaMatrixResponse *resp;
} SyncWait;

static void
sync_cb (PaMatrix *mx, const PaMatrixResponse *resp, gpointer user_data)
{
  SyncWait *w = user_data;

  w->resp = g_new0 (PaMatrixResponse, 1);
  w->resp->status = resp->status;
  w->resp->errcode = g_strdup (resp->errcode);
  w->resp->error = g_strdup (resp->error);
  w->resp->body = resp->body ? json_incref (resp->body) : NULL;
  w->resp->raw = resp->raw ? g_byte_array_ref (resp->raw) : NULL;
  w->resp->content_type = g_strdup (resp->content_type);
  w->resp->attempts = resp->attempts;
  w->done = TRUE;
}

/* For start-up and CLI paths only: iterates the client's main context
 * (the default one unless another was thread-default at pa_matrix_new)
 * until the request completes, so other sources of that context run
 * meanwhile.  Do not call it from a PaMatrix callback.  If the request is
 * cancelled (cancel_all, free) the response has status 0 and an error. */
PaMatrixResponse *
pa_matrix_request_sync (PaMatrix *mx, const PaMatrixRequest *req)
{
  g_return_val_if_fail (mx != NULL && !mx->closed, NULL);

  SyncWait w = { FALSE, NULL };
  mx_ref (mx);
  guint generation = mx->generation;
  pa_matrix_request (mx, req, sync_cb, &w);
  while (!w.done && !mx->closed && mx->generation == generation)
    g_main_context_iteration (mx->ctx, TRUE);
  mx_unref (mx);

  if (!w.done)
    {
      w.resp = g_new0 (PaMatrixResponse, 1);
      w.resp->error = g_strdup ("request cancelled");
    }
  return w.resp;
}

/* Frees a response from pa_matrix_request_sync. */
void
pa_matrix_response_free (PaMatrixResponse *resp)
{
  if (resp == NULL)
    return;
  response_clear (resp);
  g_free (resp);
}

/* Requests started and not yet reported to their callback (transferring,
 * waiting to retry, or finished and about to be delivered). */
guint
pa_matrix_in_flight (PaMatrix *mx)
{
  g_return_val_if_fail (mx != NULL, 0);
  return g_hash_table_size (mx->requests) + mx->done.length;
}

/* Aborts all transfers and pending retries; their callbacks never run. */
void
pa_matrix_cancel_all (PaMatrix *mx)
{
  g_return_if_fail (mx != NULL);
  mx_cancel (mx);
}

/* Percent-encodes everything but RFC 3986 unreserved characters, so a
 * Matrix identifier is always a single path segment or query value. */
char *
pa_matrix_escape (const char *segment)
{
  static const char hex[] = "0123456789ABCDEF";

  g_return_val_if_fail (segment != NULL, NULL);
  GString *out = g_string_sized_new (strlen (segment) * 3 + 1);
  for (const guchar *p = (const guchar *) segment; *p; p++)
    {
      if (g_ascii_isalnum (*p) || *p == '-' || *p == '.' || *p == '_' || *p == '~')
        g_string_append_c (out, (char) *p);
      else
        {
          g_string_append_c (out, '%');
          g_string_append_c (out, hex[*p >> 4]);
          g_string_append_c (out, hex[*p & 0xf]);
        }
    }
  return g_string_free (out, FALSE);
}

/* "/_matrix/client/v3/rooms/{room}/send/{type}/{txn}", each escaped. */
char *
pa_matrix_path_send (const char *room_id, const char *event_type, const char *txn_id)
{
  g_return_val_if_fail (room_id != NULL && event_type != NULL && txn_id != NULL, NULL);
  g_autofree char *r = pa_matrix_escape (room_id);
  g_autofree char *t = pa_matrix_escape (event_type);
  g_autofree char *x = pa_matrix_escape (txn_id);
  return g_strdup_printf ("/_matrix/client/v3/rooms/%s/send/%s/%s", r, t, x);
}

/* "/_matrix/client/v3/rooms/{room}/state/{type}/{key}", each escaped; a NULL
 * or empty state key gives the trailing '/' the spec asks for. */
char *
pa_matrix_path_state (const char *room_id, const char *event_type, const char *state_key)
{
  g_return_val_if_fail (room_id != NULL && event_type != NULL, NULL);
  g_autofree char *r = pa_matrix_escape (room_id);
  g_autofree char *t = pa_matrix_escape (event_type);
  g_autofree char *k = pa_matrix_escape (state_key != NULL ? state_key : "");
  return g_strdup_printf ("/_matrix/client/v3/rooms/%s/state/%s/%s", r, t, k);
}

/* Always returns a GError (transfer full); meant for responses that are not
 * pa_matrix_response_ok.  PA_ERROR_EXPIRED for ORG_MATRIX_EXPIRED_ACCOUNT,
 * PA_ERROR_NETWORK for status 0, else PA_ERROR_HTTP "M_CODE (status): error". */
GError *
pa_matrix_response_to_error (const PaMatrixResponse *resp)
{
  g_return_val_if_fail (resp != NULL, NULL);

  const char *msg = resp->error != NULL ? resp->error : "no details";
  if (g_strcmp0 (resp->errcode, "ORG_MATRIX_EXPIRED_ACCOUNT") == 0)
    return g_error_new (PA_ERROR, PA_ERROR_EXPIRED, "account expired (%u): %s", resp->status,
                        msg);
  if (resp->status == 0)
    return g_error_new (PA_ERROR, PA_ERROR_NETWORK, "homeserver unreachable: %s", msg);
  return g_error_new (PA_ERROR, PA_ERROR_HTTP, "%s (%u): %s",
                      resp->errcode != NULL ? resp->errcode : "M_UNKNOWN", resp->status, msg);
}

/* TRUE for a 2xx status. */
gboolean
pa_matrix_response_ok (const PaMatrixResponse *resp)
{
  return resp != NULL && resp->status >= 200 && resp->status < 300;
}
