/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Group commit: writes made while handling a burst of I/O share one
 * SQLite transaction, and the workers' "persisted" acks wait for it.  A
 * commit that fails is rolled back and held: the writes that must not be
 * lost are redone, in order, by a retry with backoff, and their acks go out
 * only once that retry is committed. */
#define G_LOG_DOMAIN "passerelle-bridge"

#include "pa-batch.h"

#include "pa-file-beneath.h"
#include "pa-login-table.h"

#include <errno.h>
#include <string.h>
#include <glib/gstdio.h>

#define RETRY_FIRST_MS 500
#define RETRY_MAX_MS 10000
#define PROBE_KEY "store.write_probe"

/* An ack waiting for a commit, for the worker process it came from: a
 * worker restarted meanwhile numbers its events anew and is not acked
 * (its network redelivers what it never acknowledged). */
typedef struct
{
  gint64 seq;
  gpointer worker;
  guint restarts;
  char login_id[];
} PaBatchAck;

typedef struct
{
  PaBatchRedoFunc redo;
  gpointer data;
  GDestroyNotify free_data;
} PaBatchRedo;

static void
redo_free (gpointer p)
{
  PaBatchRedo *r = p;
  if (r->free_data != NULL)
    r->free_data (r->data);
  g_free (r);
}

static GPtrArray *
redo_list (PaBridge *b)
{
  if (b->pending_redo == NULL)
    b->pending_redo = g_ptr_array_new_with_free_func (redo_free);
  return b->pending_redo;
}

/* Writes made while handling a burst of I/O (worker frames, inbound
 * events, homeserver answers) share one SQLite transaction, committed when
 * the loop has nothing more urgent to do.  Durability points flush first:
 * the 200 to a homeserver transaction, and the "persisted" acks to
 * workers, which are held until their rows are committed. */
static gboolean
batch_commit_idle (gpointer data)
{
  PaBridge *b = data;
  b->batch_source = 0;
  pa_batch_flush (b);
  return G_SOURCE_REMOVE;
}
void
pa_batch_begin (PaBridge *b)
{
  if (b->batch_open)
    return;
  g_autoptr (GError) error = NULL;
  if (!pa_store_begin (b->store, &error))
    {
      pa_batch_fail (b, error);
      return;
    }
  b->batch_open = TRUE;
  b->batch_source = g_idle_add_full (G_PRIORITY_DEFAULT_IDLE - 10, batch_commit_idle, b, NULL);
}

/* The acks and file deletions that waited for a commit. */
static void
release_held (PaBridge *b)
{
  for (guint i = 0; i < b->pending_acks->len; i++)
    {
      PaBatchAck *a = g_ptr_array_index (b->pending_acks, i);
      PaAccount *l = pa_login_by_id (b, a->login_id);
      if (l == NULL || (gpointer)l->worker != a->worker
          || pa_worker_restarts (l->worker) != a->restarts)
        continue;
      g_autoptr (json_t) ack
          = json_pack ("{s:s, s:I}", "t", "persisted", "seq", (json_int_t)a->seq);
      pa_worker_send (l->worker, ack);
    }
  g_ptr_array_set_size (b->pending_acks, 0);
  for (guint i = 0; i < b->pending_unlinks->len; i++)
    {
      const char *path = g_ptr_array_index (b->pending_unlinks, i);
      g_autoptr (GError) e = NULL;
      if (!pa_file_unlink_beneath (b->config->data_dir, path, &e))
        g_debug ("media file: %s", e->message);
    }
  g_ptr_array_set_size (b->pending_unlinks, 0);
  if (b->pending_redo != NULL)
    g_ptr_array_set_size (b->pending_redo, 0);
}

/* One attempt at the held batch: its writes redone in one transaction,
 * with a write of our own so that an empty batch proves the store writes
 * too.  FALSE (rolled back) when the store still cannot. */
static gboolean
retry_held (PaBridge *b, GError **error)
{
  g_autofree char *now = g_strdup_printf ("%" G_GINT64_FORMAT, pa_now_ms ());
  if (!pa_store_begin (b->store, error))
    return FALSE;
  GPtrArray *redo = redo_list (b);
  for (guint i = 0; i < redo->len; i++)
    {
      PaBatchRedo *r = g_ptr_array_index (redo, i);
      if (!r->redo (b, r->data, error))
        {
          pa_store_rollback (b->store);
          return FALSE;
        }
    }
  if (!pa_store_kv_set (b->store, PROBE_KEY, now, error))
    {
      pa_store_rollback (b->store);
      return FALSE;
    }
  return pa_store_commit (b->store, error);
}

static gboolean
retry_timeout (gpointer data)
{
  PaBridge *b = data;
  g_autoptr (GError) error = NULL;
  b->store_retry_source = 0;
  /* What was written during the fault goes first (or is rolled back). */
  if (b->batch_open)
    pa_batch_flush (b);
  /* The WAL may be what fills the disk: give its space back first. */
  if (!pa_store_checkpoint (b->store, &error))
    {
      g_debug ("store: %s", error->message);
      g_clear_error (&error);
    }
  if (!retry_held (b, &error))
    {
      b->store_retry_delay_ms = MIN (b->store_retry_delay_ms * 2, RETRY_MAX_MS);
      g_message ("store still cannot write (%s); %u held writes, retrying in %u ms",
                 error != NULL ? error->message : "?", redo_list (b)->len,
                 b->store_retry_delay_ms);
      b->store_retry_source = g_timeout_add (b->store_retry_delay_ms, retry_timeout, b);
      return G_SOURCE_REMOVE;
    }
  g_message ("store writes again: %u held writes committed", redo_list (b)->len);
  b->store_faulted = FALSE;
  release_held (b);
  if (b->store_fault_changed != NULL)
    b->store_fault_changed (b, FALSE, NULL);
  return G_SOURCE_REMOVE;
}

void
pa_batch_fail (PaBridge *b, const GError *error)
{
  const char *reason = error != NULL ? error->message : "unknown error";
  /* Roll back now: SQLite may already have, and the writes that follow
   * would then each commit on their own, some failing and some not.  They
   * go into a new batch, committed or rolled back whole. */
  if (b->batch_open)
    {
      if (b->batch_source)
        g_source_remove (b->batch_source);
      b->batch_source = 0;
      b->batch_open = FALSE;
      pa_store_rollback (b->store);
    }
  if (b->store_faulted)
    return;
  g_warning ("store cannot write (%s): the batch is held and retried, nothing is acknowledged "
             "until it is committed",
             reason);
  b->store_faulted = TRUE;
  b->store_retry_delay_ms = RETRY_FIRST_MS;
  b->store_retry_source = g_timeout_add (b->store_retry_delay_ms, retry_timeout, b);
  if (b->store_fault_changed != NULL)
    b->store_fault_changed (b, TRUE, reason);
}

gboolean
pa_batch_faulted (PaBridge *b)
{
  return b->store_faulted;
}

gboolean
pa_batch_flush (PaBridge *b)
{
  if (b->batch_source)
    {
      g_source_remove (b->batch_source);
      b->batch_source = 0;
    }
  if (b->batch_open)
    {
      g_autoptr (GError) error = NULL;
      b->batch_open = FALSE;
      if (!pa_store_commit (b->store, &error))
        {
          /* Rolled back: the writes to redo and the acks stay held. */
          pa_batch_fail (b, error);
          return FALSE;
        }
    }
  if (b->store_faulted)
    return FALSE;
  release_held (b);
  return TRUE;
}

void
pa_batch_redo (PaBridge *b, PaBatchRedoFunc redo, gpointer data, GDestroyNotify free_data)
{
  PaBatchRedo *r = g_new0 (PaBatchRedo, 1);
  r->redo = redo;
  r->data = data;
  r->free_data = free_data;
  g_ptr_array_add (redo_list (b), r);
}

void
pa_batch_clear (PaBridge *b)
{
  if (b->store_retry_source)
    g_source_remove (b->store_retry_source);
  b->store_retry_source = 0;
  if (b->store_faulted)
    {
      /* Stopping during a fault: one last try, else say what is given up. */
      g_autoptr (GError) error = NULL;
      if (b->batch_open)
        pa_batch_flush (b);
      if (!pa_store_checkpoint (b->store, &error))
        g_clear_error (&error);
      if (retry_held (b, &error))
        {
          b->store_faulted = FALSE;
          release_held (b);
        }
      else
        g_warning ("stopping with %u writes the store could not take (%s): the networks "
                   "redeliver their unacknowledged events, and Matrix events handled during the "
                   "fault may be handled again at the next start",
                   redo_list (b)->len, error != NULL ? error->message : "?");
    }
  g_clear_pointer (&b->pending_redo, g_ptr_array_unref);
  g_clear_pointer (&b->held_frames, g_ptr_array_unref);
}

void
pa_batch_defer_unlink (PaBridge *b, const char *path)
{
  g_ptr_array_add (b->pending_unlinks, g_strdup (path));
  if (!b->batch_open)
    pa_batch_flush (b);
}

void
pa_batch_defer_ack (PaBridge *b, const char *login_id, gint64 seq)
{
  gsize len = strlen (login_id) + 1;
  PaBatchAck *a = g_malloc0 (sizeof (PaBatchAck) + len);
  PaAccount *l = pa_login_by_id (b, login_id);
  a->seq = seq;
  a->worker = l != NULL ? (gpointer)l->worker : NULL;
  a->restarts = l != NULL && l->worker != NULL ? pa_worker_restarts (l->worker) : 0;
  memcpy (a->login_id, login_id, len);
  g_ptr_array_add (b->pending_acks, a);
  if (!b->batch_open)
    pa_batch_flush (b);
}
