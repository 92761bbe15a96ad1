/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The outbound queue of homeserver requests: one ordered lane per queue key
 * (room), heads kept by triggers so "the next item of every room" is a walk
 * over rooms, and done txn ids remembered so a re-add is a no-op. */
#define G_LOG_DOMAIN "passerelle-store"

#include "pa-store-private.h"

/* ----------------------------------------------------------- outbound */

void
pa_outbound_item_free (PaOutboundItem *item)
{
  if (item == NULL)
    return;
  g_free (item->txn_id);
  g_free (item->queue_key);
  g_free (item->method);
  g_free (item->path);
  g_free (item->user_id);
  g_free (item->body);
  g_free (item->on_done);
  g_free (item);
}

/* Returns the new seq (> 0), 0 for a duplicate, -1 on error.  item->seq is
 * ignored. */
gint64
pa_store_outbound_add (PaStore *store, const PaOutboundItem *item, gboolean *out_duplicate,
                       GError **error)
{
  g_return_val_if_fail (store != NULL, -1);
  g_return_val_if_fail (item != NULL, -1);
  g_return_val_if_fail (item->txn_id != NULL && item->queue_key != NULL, -1);
  g_return_val_if_fail (item->method != NULL && item->path != NULL, -1);
  g_return_val_if_fail (item->body != NULL, -1);

  if (out_duplicate != NULL)
    *out_duplicate = FALSE;
  /* One statement: a txn id already done or already queued is a duplicate. */
  g_autoptr (PaStoreStmt) insert = pa_store_stmt (
      store, error,
      "INSERT INTO outbound (txn_id, queue_key, method, path, user_id, ts, body,"
      " on_done, attempts, not_before)"
      " SELECT ?, ?, ?, ?, ?, CAST (? AS BIGINT), ?, ?, CAST (? AS INTEGER), CAST (? AS BIGINT)"
      " WHERE NOT EXISTS (SELECT 1 FROM outbound_done WHERE txn_id = ?)"
      " ON CONFLICT (txn_id) DO NOTHING RETURNING seq",
      "tttttIttiIt", item->txn_id, item->queue_key, item->method, item->path, item->user_id,
      item->ts, item->body, item->on_done, item->attempts, item->not_before_ms, item->txn_id);
  PaDbStep rc = insert != NULL ? pa_store_step (store, insert, error) : PA_DB_ERROR;

  if (rc == PA_DB_ERROR)
    return -1;
  if (rc == PA_DB_DONE)
    {
      if (out_duplicate != NULL)
        *out_duplicate = TRUE;
      return 0;
    }
  return pa_db_column_int64 (insert, 0);
}

static PaOutboundItem *
outbound_item_from_row (PaStoreStmt *stmt)
{
  PaOutboundItem *item = g_new0 (PaOutboundItem, 1);

  item->seq = pa_db_column_int64 (stmt, 0);
  item->txn_id = pa_store_column_strdup (stmt, 1);
  item->queue_key = pa_store_column_strdup (stmt, 2);
  item->method = pa_store_column_strdup (stmt, 3);
  item->path = pa_store_column_strdup (stmt, 4);
  item->user_id = pa_store_column_strdup (stmt, 5);
  item->ts = pa_db_column_int64 (stmt, 6);
  item->body = pa_store_column_strdup (stmt, 7);
  item->on_done = pa_store_column_strdup (stmt, 8);
  item->attempts = (int) pa_db_column_int64 (stmt, 9);
  item->not_before_ms = pa_db_column_int64 (stmt, 10);
  return item;
}

/* Walks the heads in seq order (the UNIQUE index on outbound_heads.seq),
 * so the cost is the number of heads skipped (busy or backing off) plus
 * `limit`, whatever the length of the queues behind them.  CROSS JOIN
 * pins that loop order: SQLite never reorders it (PostgreSQL plans it
 * alone, with the same indexes). */
GPtrArray *
pa_store_outbound_ready (PaStore *store, GHashTable *busy_keys, gint64 now_ms, guint limit,
                         GError **error)
{
  g_autoptr (GPtrArray) result
      = g_ptr_array_new_with_free_func ((GDestroyNotify) pa_outbound_item_free);
  g_autoptr (PaStoreStmt) stmt = NULL;
  PaDbStep rc = PA_DB_DONE;

  g_return_val_if_fail (store != NULL, NULL);

  if (limit == 0)
    return g_steal_pointer (&result);
  stmt = pa_store_stmt (store, error,
                        "SELECT o.seq, o.txn_id, o.queue_key, o.method, o.path, o.user_id, o.ts,"
                        " o.body, o.on_done, o.attempts, o.not_before"
                        " FROM outbound_heads h CROSS JOIN outbound o"
                        " WHERE o.seq = h.seq AND o.not_before <= ? ORDER BY h.seq",
                        "I", now_ms);
  if (stmt == NULL)
    return NULL;
  while (result->len < limit && (rc = pa_store_step (store, stmt, error)) == PA_DB_ROW)
    {
      const char *key = pa_db_column_text (stmt, 2);

      if (busy_keys != NULL && g_hash_table_contains (busy_keys, key))
        continue;
      g_ptr_array_add (result, outbound_item_from_row (stmt));
    }
  if (rc == PA_DB_ERROR)
    return NULL;
  return g_steal_pointer (&result);
}

gboolean
pa_store_outbound_done (PaStore *store, gint64 seq, GError **error)
{
  g_return_val_if_fail (store != NULL, FALSE);

  if (!pa_store_tx_begin (store, error))
    return FALSE;
  if (!pa_store_run (store, error,
                     "INSERT INTO outbound_done (txn_id, at)"
                     " SELECT txn_id, CAST (? AS BIGINT) FROM outbound WHERE seq = ?"
                     " ON CONFLICT DO NOTHING",
                     "II", pa_now_ms (), seq)
      || !pa_store_run (store, error, "DELETE FROM outbound WHERE seq = ?", "I", seq))
    {
      pa_store_tx_rollback (store);
      return FALSE;
    }
  return pa_store_tx_commit (store, error);
}

gboolean
pa_store_outbound_retry (PaStore *store, gint64 seq, gint64 not_before_ms, GError **error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  return pa_store_run (store, error,
                       "UPDATE outbound SET attempts = attempts + 1, not_before = ? WHERE seq = ?",
                       "II", not_before_ms, seq);
}

/* Only queue heads count: an item behind another cannot be sent before it,
 * whatever its own not_before, and counting it would make the caller wake
 * up for nothing. */
gint64
pa_store_outbound_next_due (PaStore *store)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PaStoreStmt) stmt = NULL;

  g_return_val_if_fail (store != NULL, -1);

  stmt = pa_store_stmt (store, &error,
                        "SELECT min(o.not_before) FROM outbound_heads h CROSS"
                        " JOIN outbound o WHERE o.seq = h.seq",
                        "");
  if (stmt == NULL || pa_store_step (store, stmt, &error) != PA_DB_ROW)
    {
      pa_store_log_lookup_error (error);
      return -1;
    }
  if (pa_db_column_type (stmt, 0) == PA_DB_NULL)
    return -1;
  return pa_db_column_int64 (stmt, 0);
}

gint64
pa_store_outbound_count (PaStore *store)
{
  g_return_val_if_fail (store != NULL, -1);
  return pa_store_count (store, "SELECT count(*) FROM outbound", NULL);
}
gboolean
pa_store_outbound_has_key (PaStore *store, const char *queue_key)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PaStoreStmt) stmt = pa_store_stmt (
      store, &error, "SELECT EXISTS (SELECT 1 FROM outbound WHERE queue_key = ?)", "t", queue_key);
  if (stmt == NULL || pa_store_step (store, stmt, &error) != PA_DB_ROW)
    return FALSE;
  return (int) pa_db_column_int64 (stmt, 0) != 0;
}
