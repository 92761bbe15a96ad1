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
#include "pa-to-legacy-dispatch.h"
#include "pa-to-legacy-quarantine.h"

gboolean
pa_to_legacy_txn (const char *txn_id, PaTxn *txn, gpointer user_data, GError **error)
{
  PaBridge *b = user_data;
  gboolean dup = FALSE;
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
    char *text = json_dumps (ev, JSON_COMPACT | JSON_SORT_KEYS);
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
  if (!pa_store_begin (b->store, error))
    return FALSE;
  if (!pa_store_txn_accept_texts (b->store, key, queued, texts, &dup, error)
      || (!dup && !pa_quarantine_keep (b, key, txn->rejected, error)))
    {
      pa_store_rollback (b->store);
      return FALSE;
    }
  if (!pa_store_commit (b->store, error))
    return FALSE;
  /* The 200 promises the events are stored: commit before answering. */
  pa_batch_flush (b);
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
static void
inbound_event_done (PaBridge *b)
{
  g_autoptr (GError) error = NULL;
  /* Only now does the event leave the queue: a crash while it was being
   * handled replays it, and the handlers are idempotent (deterministic
   * txn ids). */
  pa_batch_begin (b);
  if (!pa_store_inbound_done (b->store, b->inbound_current_seq, &error))
    g_warning ("inbound queue: %s", error->message);
  b->inbound_busy = FALSE;
  pa_to_legacy_schedule (b);
}
/* Processes inbound events one at a time, in order.  Each handler may be
 * asynchronous (it calls inbound_event_done when finished).  Rows are read
 * from the store a hundred at a time. */
static gboolean
inbound_step (PaBridge *b)
{
  if (b->inbound_busy)
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
  json_t *event = json_object_get (row, "event");
  b->inbound_busy = TRUE;
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
  if (!b->dispatching || b->inbound_scheduled || b->inbound_busy)
    return;
  b->inbound_scheduled = TRUE;
  g_idle_add (inbound_idle, b);
}
