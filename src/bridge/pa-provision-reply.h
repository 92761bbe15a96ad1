/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* A provisioning API request waiting for its answer: the HTTP message
 * held (paused) until answered once, with the CORS headers a web page
 * needs, JSON bodies and Matrix-style errors. */
#ifndef PA_PROVISION_REPLY_H
#define PA_PROVISION_REPLY_H

#include "pa-bridge-object.h"

#include <libsoup/soup.h>

G_BEGIN_DECLS

typedef struct
{
  SoupServerMessage *msg; /* NULL once the client went away */
  gulong finished_id;
  GHashTable *live;  /* the set this request is in, NULL once forgotten */
  char *user;        /* the acting user, once authenticated */
  GHashTable *query; /* the URL's query (string → string), never NULL */
  GBytes *body;      /* never NULL */
} PaProvReq;

/* A request for msg (paused here), registered in `live`. */
PaProvReq *pa_provision_req_new (SoupServerMessage *msg, GHashTable *query, GBytes *body,
                                 GHashTable *live);

/* A query parameter, or NULL. */
const char *pa_provision_req_param (PaProvReq *r, const char *name);

/* Answers with `body` (transfer full) and frees r. */
void pa_provision_req_json (PaProvReq *r, guint status, json_t *body);

/* Answers {"errcode", "error"} and frees r. */
void pa_provision_req_error (PaProvReq *r, guint status, const char *errcode, const char *fmt, ...)
    G_GNUC_PRINTF (4, 5);

/* The CORS headers, on any answer of the API (preflight included). */
void pa_provision_cors (SoupServerMessage *msg);

/* The server is going away: every request still live lets go of its
 * message (their later answers go nowhere). */
void pa_provision_req_forget_all (GHashTable *live);

G_END_DECLS

#endif
