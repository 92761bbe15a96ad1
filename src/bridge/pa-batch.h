/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Group commit: one SQLite transaction per burst of I/O, and the workers
 * acks held until it is committed.  A batch that cannot be committed (disk
 * full, I/O error, lock timeout) is held, never dropped: its redo entries
 * and acks wait in memory and are retried with backoff. */
#ifndef PA_BATCH_H
#define PA_BATCH_H

#include "pa-bridge-object.h"

G_BEGIN_DECLS

/* Redoes one write of a batch inside the retry's transaction; FALSE with
 * `error` set when the store still cannot take it. */
typedef gboolean (*PaBatchRedoFunc) (PaBridge *b, gpointer data, GError **error);

/* Open the group-commit transaction if none is (committed when idle). */
void pa_batch_begin (PaBridge *b);

/* Commit now and send the acks that waited for it.  FALSE when the batch
 * could not be committed (it is rolled back and held for the retry) or an
 * earlier held batch still waits: nothing written since is durable yet. */
gboolean pa_batch_flush (PaBridge *b);

/* A write of the open batch failed: the batch is rolled back now (its redo
 * entries and acks held) and the store is in fault from now on (the queues
 * pause, a retry is scheduled). */
void pa_batch_fail (PaBridge *b, const GError *error);

/* Whether the store is in fault (a held batch waits for its retry). */
gboolean pa_batch_faulted (PaBridge *b);

/* Remember a write that must survive a failed commit: `redo` runs again,
 * in order with the others, in the retry's transaction if this batch
 * fails.  Dropped (free_data) once the batch is committed. */
void pa_batch_redo (PaBridge *b, PaBatchRedoFunc redo, gpointer data, GDestroyNotify free_data);

/* Tell the worker of login_id that event seq is stored, once committed. */
void pa_batch_defer_ack (PaBridge *b, const char *login_id, gint64 seq);

/* Delete the file at `path` once the batch is committed (a media file
 * whose event is done: if the commit fails, the event is replayed and
 * still needs it). */
void pa_batch_defer_unlink (PaBridge *b, const char *path);

/* Drop what is held (the bridge stops: the workers were not acked, so
 * their networks redeliver). */
void pa_batch_clear (PaBridge *b);

G_END_DECLS

#endif
