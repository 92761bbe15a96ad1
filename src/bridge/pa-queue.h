/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Requests and notices put on the durable outbound queue. */
#ifndef PA_QUEUE_H
#define PA_QUEUE_H

#include "pa-bridge-object.h"

G_BEGIN_DECLS

/* Deterministic outbound txn id: "pa." + hex of SHA-256 of the parts. */
char *pa_queue_txn_id (const char *first, ...);

/* Queue a request (ordered by queue_key, a room) with a deterministic
 * txn id; on_done (borrowed, may be NULL) is given to its completion. */
void pa_queue_request (PaBridge *b, const char *queue_key, const char *method, const char *path,
                       const char *user_id, json_t *body, gint64 ts, const char *txn_id,
                       json_t *on_done);

/* Queue an event send into room as user (NULL = bot); on_done may be NULL
 * (borrowed).  txn_seed makes the txn id deterministic. */
void pa_queue_send (PaBridge *b, const char *room_id, const char *user_id, const char *event_type,
                    json_t *content, gint64 ts, const char *txn_seed, json_t *on_done);

/* Send a notice (m.notice) as the bot into room_id through the queue. */
void pa_queue_notice (PaBridge *b, const char *room_id, const char *text);
/* The same, as a reply to `event_id` (so clients show which message it is
 * about); a plain notice when event_id is NULL. */
void pa_queue_notice_reply (PaBridge *b, const char *room_id, const char *event_id,
                            const char *text);
/* The same reply, sent at most once for (what, event_id): its txn id is
 * derived from them, so handling the event again changes nothing. */
void pa_queue_notice_reply_once (PaBridge *b, const char *room_id, const char *event_id,
                                 const char *what, const char *text);

G_END_DECLS

#endif
