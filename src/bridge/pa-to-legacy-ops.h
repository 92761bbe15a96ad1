/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Matrix → legacy: operations sent to the workers, and their results. */
#ifndef PA_TO_LEGACY_OPS_H
#define PA_TO_LEGACY_OPS_H

#include "pa-bridge-object.h"

G_BEGIN_DECLS

/* The worker stopped: pending operations are failed, the agent told. */
void pa_to_legacy_ops_fail (PaAccount *l, const char *why);

/* The worker was killed by the watchdog (pa-worker-watchdog.c): the
 * message-like operations it had not read yet (sent after `read_until_us`)
 * or that were waiting for a retry are held, to be sent again once the
 * login is connected (pa_to_legacy_ops_release) or told as failed after
 * two minutes; the others are failed as by pa_to_legacy_ops_fail. */
void pa_to_legacy_ops_hold_unread (PaAccount *l, gint64 read_until_us, const char *why);
/* The login is connected again: the held operations are sent again (same
 * op id, same txn id). */
void pa_to_legacy_ops_release (PaAccount *l);

/* A RESULT frame: complete its pending operation. */
void pa_to_legacy_op_result (PaAccount *l, json_t *frame);

/* Send an op to the login's worker; the pending op is owned by the login. */
gboolean pa_to_legacy_op (PaAccount *l, const char *op, json_t *args, const char *kind,
                          const char *room_id, const char *event_id, const char *chat_id,
                          const char *extra, GError **error);

/* Send an op whose answer `reply` waits for (told exactly once: the
 * result frame and the contacts collected, or frame NULL when the login
 * stopped first); nothing is told in a room.  FALSE (reply never called)
 * when the worker is not running. */
gboolean pa_to_legacy_op_call (PaAccount *l, const char *op, json_t *args,
                               void (*reply) (gboolean ok, json_t *frame, json_t *contacts,
                                              gpointer data),
                               gpointer data, GError **error);

/* A table of pending operations (op_id → PaPendingOp) for a login. */
GHashTable *pa_to_legacy_ops_new (void);

/* A CONTACT frame: collected for the operation that asked. */
void pa_to_legacy_op_contact (PaAccount *l, json_t *frame);

G_END_DECLS

#endif
