/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The HS → AS HTTP server (libsoup-3 SoupServer on the main loop).
 *
 * Routes (base /_matrix/app/v1, and the legacy unprefixed paths):
 *   PUT  transactions/{txnId}   → txn callback; 200 {} once persisted
 *   GET  users/{userId}         → user_query callback (async)
 *   GET  rooms/{alias}          → alias_query callback (async)
 *   POST ping                   → 200 {}
 *   GET  thirdparty/protocol/{p}, thirdparty/user/{p}, thirdparty/location/{p}
 *                               → protocol callback
 * Auth: `Authorization: Bearer <hs_token>` (or ?access_token= legacy);
 * constant-time compare; missing → 401 M_MISSING_TOKEN, wrong → 403
 * M_FORBIDDEN.  Unknown path → 404 M_UNRECOGNIZED; known path with a wrong
 * method → 405 M_UNRECOGNIZED.  Body above the limit → 413 M_TOO_LARGE,
 * invalid JSON → 400 M_NOT_JSON, JSON of the wrong shape → 400 M_BAD_JSON. */
#ifndef PA_APPSERVICE_H
#define PA_APPSERVICE_H

#include <glib.h>
#include <jansson.h>
#include <libsoup/soup.h>

G_BEGIN_DECLS

typedef struct _PaAppservice PaAppservice;

/* The tree of a transaction may take this many times the body limit. */
#define PA_TXN_BUDGET_FACTOR 4

/* A parsed transaction body.  `events` and `ephemeral` are arrays (never
 * NULL, maybe empty); ephemeral merges "ephemeral" and
 * "de.sorunome.msc2409.ephemeral" without duplicates; to_device likewise
 * with "de.sorunome.msc2409.to_device". */
typedef struct {
  json_t *events;
  /* Events the bridge cannot handle (pa-event-check.h), to be kept aside:
   * objects {"reason", "raw" (the event as JSON text), and when usable
   * "event_id", "room_id", "sender", "type"}.  Never NULL. */
  json_t *rejected;
  json_t *ephemeral;
  json_t *to_device;
  json_t *device_lists;     /* object or NULL (MSC3202) */
  json_t *otk_counts;       /* object or NULL */
} PaTxn;

void pa_txn_free (PaTxn *txn);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PaTxn, pa_txn_free)

/* Parse and validate a transaction body.  Errors: PA_ERROR_JSON with
 * message starting "M_NOT_JSON:" or "M_BAD_JSON:"; PA_ERROR_TOO_LARGE when
 * more than max_events events (also the cap on ephemeral and to_device).
 * Nesting deeper than 64 is refused by a scan of the raw bytes before
 * jansson parses them; events that fail pa_event_check() go to `rejected`
 * (the transaction is still accepted), a non-array "events" is
 * M_BAD_JSON.  The tree jansson builds stays within tree_budget bytes: when
 * the body's estimate is above it, the entries that do not fit are
 * replaced (pa-txn-budget.h) and the transaction is still accepted; an
 * event so replaced carries PA_TXN_STRIPPED_KEY. */
PaTxn *pa_txn_parse (const char *data, gsize len, guint max_events, guint64 tree_budget,
                     GError **error);

/* Handlers.  Returning FALSE from `txn` with *error set answers 500 (503
 * when the error is PA_ERROR_STORE: the bridge cannot write now) so the
 * homeserver retries; TRUE answers 200 {}. */
typedef struct {
  gboolean (*txn) (const char *txn_id, PaTxn *txn, gpointer user_data, GError **error);
  /* Answer by calling pa_appservice_reply_query(handle, found). */
  void (*user_query) (const char *user_id, gpointer handle, gpointer user_data);
  void (*alias_query) (const char *alias, gpointer handle, gpointer user_data);
  /* kind: "protocol", "user", "location"; return a JSON body (transfer full)
   * or NULL for 404. query is the URL query as an object. */
  json_t *(*thirdparty) (const char *kind, const char *protocol, json_t *query,
                         gpointer user_data);
  void (*ping) (gpointer user_data);
} PaAppserviceHandlers;

PaAppservice *pa_appservice_new (const char *hs_token, gint64 max_body_bytes,
                                 guint max_events_per_txn, const PaAppserviceHandlers *handlers,
                                 gpointer user_data);
/* The listener's limits (see pa-as-listener.h); 0 keeps a default (256
 * connections, 60 s idle, 30 s to read a request).  Call before listening. */
void pa_appservice_set_connection_limits (PaAppservice *as, guint max_connections,
                                          guint idle_timeout_s, guint request_timeout_s);
/* Listen on bind:port (port 0 = any; the chosen one via pa_appservice_port). */
gboolean pa_appservice_listen (PaAppservice *as, const char *bind, guint port, GError **error);
guint pa_appservice_port (PaAppservice *as);

/* Another API on the same port (the provisioning API).  `rest` is the raw
 * path after the prefix ("" or "/v3/…", not percent-decoded), `body` the
 * request body (never NULL, maybe empty); the handler answers `msg`, at
 * once or later (soup_server_message_pause). */
typedef void (*PaAppservicePrefixFunc) (SoupServerMessage *msg, const char *rest,
                                        GHashTable *query, GBytes *body, gpointer user_data);
/* Requests whose path is `prefix` or below it skip the homeserver token
 * and the AS routes and go to fn, any method, once their body is read
 * (bounded like every body).  One prefix; fn NULL removes it. */
void pa_appservice_set_prefix_handler (PaAppservice *as, const char *prefix,
                                       PaAppservicePrefixFunc fn, gpointer user_data);
void pa_appservice_reply_query (gpointer handle, gboolean found);
void pa_appservice_free (PaAppservice *as);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PaAppservice, pa_appservice_free)

G_END_DECLS

#endif
