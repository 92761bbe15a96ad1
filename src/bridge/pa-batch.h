/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Group commit: one SQLite transaction per burst of I/O, and the workers
 * acks held until it is committed. */
#ifndef PA_BATCH_H
#define PA_BATCH_H

#include "pa-bridge-object.h"

G_BEGIN_DECLS

/* Open the group-commit transaction if none is (committed when idle). */
void pa_batch_begin (PaBridge *b);

/* Commit now and send the acks that waited for it. */
void pa_batch_flush (PaBridge *b);

/* Tell the worker of login_id that event seq is stored, once committed. */
void pa_batch_defer_ack (PaBridge *b, const char *login_id, gint64 seq);

/* Delete the file at `path` once the batch is committed (a media file
 * whose event is done: if the commit fails, the event is replayed and
 * still needs it). */
void pa_batch_defer_unlink (PaBridge *b, const char *path);

G_END_DECLS

#endif
