/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Matrix → legacy, the inbound queue: the homeserver's transactions are
 * persisted (txn id + events, one SQLite transaction) before the 200 is
 * sent, then their events are handled one at a time, in order, by the
 * dispatcher (pa-to-legacy-dispatch.c).  An event leaves the queue only
 * once handled: a crash after the ack loses nothing, a replayed
 * transaction is recognised. */
#define G_LOG_DOMAIN "passerelle-bridge"

#include "pa-to-legacy-queue.h"

#include "pa-batch.h"
#include "pa-bridge-crypto-keys.h"
#include "pa-login-withhold.h"
#include "pa-to-legacy-dispatch.h"
#include "pa-to-legacy-quarantine.h"

gboolean
pa_to_legacy_txn (const char *txn_id, PaTxn *txn, gpointer user_data, GError **error)
{
  PaBridge *b = user_data;
  gboolean dup = FALSE;
  /* While the store cannot write, nothing is half-taken: the homeserver
   * gets a 503 and sends the transaction again later. */
  if (pa_batch_faulted (b))
    {
      g_set_error_literal (error, PA_ERROR, PA_ERROR_STORE,
                           "storage unavailable: the bridge cannot write for now");
      return FALSE;
    }
  /* Synapse on SQLite restarts its transaction ids after a restart when
   * none is pending, so an id alone does not identify a transaction: a
   * replay is the same id with the same events. */
  /* Each event is serialised once: its text is both stored and hashed.
   * The digest is that of the compact, key-sorted array, "[e1,e2,...]". */
  g_autoptr (GPtrArray) texts = g_ptr_array_new_full (json_array_size (txn->events), g_free);
  g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  size_t i;
  json_t *ev;
  g_checksum_update (sum, (const guchar *) "[", 1);
  json_array_foreach (txn->events, i, ev)
  {
    /* A login answer is stored (and hashed) without its content. */
    char *text = pa_login_withhold (b, ev);
    if (text == NULL)
      text = json_dumps (ev, JSON_COMPACT | JSON_SORT_KEYS);
    if (i > 0)
      g_checksum_update (sum, (const guchar *) ",", 1);
    if (text != NULL)
      g_checksum_update (sum, (const guchar *) text, -1);
    g_ptr_array_add (texts, text);
  }
  g_checksum_update (sum, (const guchar *) "]", 1);
  /* Events the parser rejected are kept aside with the others, in the same
   * SQLite transaction, and their markers queued after them. */
  g_autoptr (json_t) queued = json_incref (txn->events);
  if (json_array_size (txn->rejected) > 0)
    {
      json_decref (queued);
      queued = json_copy (txn->events);
      pa_quarantine_markers (txn->rejected, queued, texts, sum);
    }
  g_autofree char *key = g_strdup_printf ("%s:%.32s", txn_id, g_checksum_get_string (sum));
  /* Accepted whole or not at all; a store that cannot write puts the
   * bridge in its storage fault (pa-batch.c) and the homeserver gets 503. */
  gboolean stored = pa_store_begin (b->store, error);
  if (stored
      && (!pa_store_txn_accept_texts (b->store, key, queued, texts, &dup, error)
          || (!dup && !pa_quarantine_keep (b, key, txn->rejected, error))))
    {
      pa_store_rollback (b->store);
      stored = FALSE;
    }
  if (stored && !pa_store_commit (b->store, error))
    stored = FALSE;
  if (!stored)
    {
      pa_batch_fail (b, *error);
      pa_batch_flush (b);
      return FALSE;
    }
  /* The 200 promises the events are stored: commit before answering. */
  if (!pa_batch_flush (b))
    {
      g_set_error_literal (error, PA_ERROR, PA_ERROR_STORE,
                           "storage unavailable: the transaction could not be committed");
      return FALSE;
    }
  if (dup)
    {
      g_debug ("transaction %s replayed: ignored", txn_id);
      return TRUE;
    }
  b->n_txns++;
  b->n_events_in += json_array_size (txn->events);
  /* Room keys first: the events they open are processed from the queue. */
  pa_bridge_crypto_txn (b, txn, pa_to_legacy_dispatch);
  /* Ephemeral events (typing, receipts) are not persisted by Synapse
   * either; handle them at once, best effort (not at all during start-up). */
  if (b->dispatching)
    json_array_foreach (txn->ephemeral, i, ev) pa_to_legacy_dispatch (b, ev, NULL);
  pa_to_legacy_schedule (b);
  return TRUE;
}
/* The redo of an event's removal whose batch could not be committed: the
 * event was handled (sent to its worker), so it must not be handled twice. */
static gboolean
inbound_done_redo (PaBridge *b, gpointer data, GError **error)
{
  return pa_store_inbound_done (b->store, *(gint64 *)data, error);
}

static void
inbound_event_done (PaBridge *b)
{
  g_autoptr (GError) error = NULL;
  /* Only now does the event leave the queue: a crash while it was being
   * handled replays it, and the handlers are idempotent (deterministic
   * txn ids).  If the store cannot write, the removal is held and redone by
   * the retry (pa-batch.c). */
  pa_batch_begin (b);
  pa_batch_redo (b, inbound_done_redo, g_memdup2 (&b->inbound_current_seq, sizeof (gint64)),
                 g_free);
  if (!pa_batch_faulted (b) && !pa_store_inbound_done (b->store, b->inbound_current_seq, &error))
    {
      g_warning ("inbound queue: %s", error->message);
      pa_batch_fail (b, error);
    }
  b->inbound_busy = FALSE;
  pa_to_legacy_schedule (b);
}
/* Processes inbound events one at a time, in order.  Each handler may be
 * asynchronous (it calls inbound_event_done when finished).  Rows are read
 * from the store a hundred at a time. */
static gboolean
inbound_step (PaBridge *b)
{
  /* The store cannot write: the queue waits for the retry (pa-batch.c). */
  if (b->inbound_busy || pa_batch_faulted (b))
    return FALSE;
  if (b->inbound_cache == NULL || b->inbound_cache_pos >= json_array_size (b->inbound_cache))
    {
      g_autoptr (GError) error = NULL;
      g_clear_pointer (&b->inbound_cache, json_decref);
      b->inbound_cache_pos = 0;
      b->inbound_cache = pa_store_inbound_peek (b->store, 100, &error);
      if (b->inbound_cache == NULL)
        {
          g_warning ("inbound queue: %s", error ? error->message : "?");
          return FALSE;
        }
      if (json_array_size (b->inbound_cache) == 0)
        return FALSE;
    }
  json_t *row = json_array_get (b->inbound_cache, b->inbound_cache_pos++);
  b->inbound_current_seq = json_integer_value (json_object_get (row, "seq"));
  /* The row (in the cache) keeps the event alive while it is handled. */
  json_t *event = pa_login_withhold_take (b, json_object_get (row, "event"));
  b->inbound_busy = TRUE;
  if (event == NULL)
    {
      inbound_event_done (b);
      return TRUE;
    }
  json_object_set_new (row, "event", event);
  pa_to_legacy_dispatch (b, event, inbound_event_done);
  return TRUE;
}
static gboolean
inbound_idle (gpointer data)
{
  PaBridge *b = data;
  b->inbound_scheduled = FALSE;
  pa_batch_begin (b);
  /* Handle synchronous events in a burst, yielding to the loop every 256. */
  gboolean more = TRUE;
  for (int i = 0; i < 256 && more && !b->inbound_busy; i++)
    more = inbound_step (b);
  if (more && !b->inbound_busy)
    pa_to_legacy_schedule (b);
  return G_SOURCE_REMOVE;
}
void
pa_to_legacy_schedule (PaBridge *b)
{
  if (!b->dispatching || b->inbound_scheduled || b->inbound_busy || pa_batch_faulted (b))
    return;
  b->inbound_scheduled = TRUE;
  g_idle_add (inbound_idle, b);
}
