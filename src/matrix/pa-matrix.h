/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The AS → homeserver client: libcurl multi driven by the GLib main loop.
 * It knows HTTP and the Matrix error format, not portals or ghosts.
 *
 * Every request carries `Authorization: Bearer <as_token>`; `user_id`
 * (masquerading) and `ts` (timestamp massaging) are added as query
 * parameters when set.  Retries: network errors and 5xx are retried with
 * exponential backoff (250 ms doubling to 30 s, with jitter) up to
 * `max_attempts` (0 = forever); 429 waits `retry_after_ms` (or the
 * Retry-After header) before retrying and does not count as an attempt.
 * Any other 4xx is final and reported with errcode/error. */
#ifndef PA_MATRIX_H
#define PA_MATRIX_H

#include <gio/gio.h>
#include <jansson.h>

G_BEGIN_DECLS

typedef struct _PaMatrix PaMatrix;

typedef struct {
  guint status;        /* HTTP status, 0 on network failure */
  char *errcode;       /* Matrix errcode ("M_FORBIDDEN") or NULL */
  char *error;         /* human message or curl error text */
  json_t *body;        /* parsed JSON body (may be NULL) */
  gint attempts;
  /* Appended by the lead (bridge needs media downloads): */
  GByteArray *raw;     /* the raw response body (always set when a body arrived) */
  char *content_type;  /* response Content-Type, or NULL */
} PaMatrixResponse;

/* Called once per request on the main thread.  `resp` is borrowed. */
typedef void (*PaMatrixCallback) (PaMatrix *mx, const PaMatrixResponse *resp, gpointer user_data);

typedef struct {
  const char *method;      /* "GET", "PUT", "POST", "DELETE" */
  const char *path;        /* "/_matrix/client/v3/…" already URL-escaped; may contain '?' */
  const char *user_id;     /* masquerade, or NULL */
  gint64 ts;               /* ?ts=, 0 = none */
  json_t *body;            /* JSON body (borrowed), or NULL */
  const char *raw_body;    /* alternative: raw JSON text */
  const guint8 *data;      /* alternative: raw bytes (media upload) */
  gsize data_len;
  const char *content_type;/* with data; default "application/octet-stream" */
  guint max_attempts;      /* 0 = retry forever (queue items), else cap */
  guint timeout_s;         /* per attempt, default 60 */
} PaMatrixRequest;

PaMatrix *pa_matrix_new (const char *hs_address, const char *as_token);
void pa_matrix_free (PaMatrix *mx);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PaMatrix, pa_matrix_free)

/* Start a request; returns immediately.  cb may be NULL. */
void pa_matrix_request (PaMatrix *mx, const PaMatrixRequest *req, PaMatrixCallback cb,
                        gpointer user_data);

/* Blocking convenience for start-up and CLI paths: runs a nested main
 * context iteration until done.  Returns the response (transfer full, free
 * with pa_matrix_response_free). */
PaMatrixResponse *pa_matrix_request_sync (PaMatrix *mx, const PaMatrixRequest *req);
void pa_matrix_response_free (PaMatrixResponse *resp);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PaMatrixResponse, pa_matrix_response_free)

/* Requests currently in flight (for status and tests). */
guint pa_matrix_in_flight (PaMatrix *mx);

/* Cancel everything in flight; callbacks are not called. */
void pa_matrix_cancel_all (PaMatrix *mx);

/* Helpers that build correctly escaped paths (transfer full). */
char *pa_matrix_path_send (const char *room_id, const char *event_type, const char *txn_id);
char *pa_matrix_path_state (const char *room_id, const char *event_type, const char *state_key);
char *pa_matrix_escape (const char *segment);

/* GError from a failed response: PA_ERROR_HTTP with "M_CODE: message",
 * PA_ERROR_NETWORK, or PA_ERROR_EXPIRED for ORG_MATRIX_EXPIRED_ACCOUNT. */
GError *pa_matrix_response_to_error (const PaMatrixResponse *resp);
gboolean pa_matrix_response_ok (const PaMatrixResponse *resp);

G_END_DECLS

#endif
