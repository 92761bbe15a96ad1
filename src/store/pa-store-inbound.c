/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* HS -> AS transactions and the inbound queue: a transaction's id and its
 * events are stored together before the homeserver gets its ack, and each
 * event leaves the queue only once processed, so a crash replays instead of
 * losing. */
#define G_LOG_DOMAIN "passerelle-store"

#include "pa-store-private.h"

/* At most this many parsed inbound events are kept for the dispatcher. */
#define PA_INBOUND_FRESH_MAX 1000

/* ------------------------------------------------------------ inbound */

static gint
cmp_seq (gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;

  return x < y ? -1 : x > y;
}

/* PostgreSQL: the events of a transaction in one statement, so one round
 * trip to the server instead of one per event (an array of texts, rows
 * made in its order, so their seqs ascend in that order).  FALSE with
 * nothing in `error` when the batch would pass the value limit: the
 * caller then inserts row by row. */
static gboolean
insert_batch_pg (PaStore *store, const char *txn_id, GPtrArray *texts, GArray *seqs,
                 GError **error)
{
  g_autoptr (GString) array = g_string_new ("{");

  for (guint i = 0; i < texts->len; i++)
    {
      g_string_append (array, i > 0 ? ",\"" : "\"");
      for (const char *p = g_ptr_array_index (texts, i); *p != '\0'; p++)
        {
          if (*p == '"' || *p == '\\')
            g_string_append_c (array, '\\');
          g_string_append_c (array, *p);
        }
      g_string_append_c (array, '"');
      if (array->len > STORE_MAX_VALUE_BYTES)
        return FALSE;
    }
  g_string_append_c (array, '}');

  g_autoptr (PaStoreStmt) insert
      = pa_store_stmt (store, error,
                       "INSERT INTO inbound (txn_id, event) SELECT ?, u.event"
                       " FROM unnest (CAST (? AS TEXT[])) WITH ORDINALITY AS u (event, n)"
                       " ORDER BY u.n RETURNING seq",
                       "tt", txn_id, array->str);
  PaDbStep rc = insert != NULL ? PA_DB_ROW : PA_DB_ERROR;

  while (insert != NULL && (rc = pa_store_step (store, insert, error)) == PA_DB_ROW)
    {
      gint64 seq = pa_db_column_int64 (insert, 0);

      g_array_append_val (seqs, seq);
    }
  if (rc != PA_DB_DONE)
    return FALSE;
  g_array_sort (seqs, cmp_seq);
  if (seqs->len != texts->len)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_STORE, "transaction %s: %u of %u events stored",
                   txn_id, seqs->len, texts->len);
      return FALSE;
    }
  return TRUE;
}

gboolean
pa_store_txn_accept (PaStore *store, const char *txn_id, json_t *events, gboolean *out_duplicate,
                     GError **error)
{
  return pa_store_txn_accept_texts (store, txn_id, events, NULL, out_duplicate, error);
}

gboolean
pa_store_txn_accept_texts (PaStore *store, const char *txn_id, json_t *events,
                           const GPtrArray *texts, gboolean *out_duplicate, GError **error)
{
  size_t i;
  json_t *event;
  PaStoreStmt *insert;
  g_autoptr (GArray) seqs = g_array_new (FALSE, FALSE, sizeof (gint64));
  /* the texts, serialised here where the caller has none */
  g_autoptr (GPtrArray) owned = g_ptr_array_new_with_free_func (free);
  g_autoptr (GPtrArray) all = g_ptr_array_new ();

  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (txn_id != NULL, FALSE);

  if (out_duplicate != NULL)
    *out_duplicate = FALSE;
  if (!json_is_array (events))
    {
      g_set_error (error, PA_ERROR, PA_ERROR_JSON, "transaction %s: events is not an array",
                   txn_id);
      return FALSE;
    }
  g_return_val_if_fail (texts == NULL || texts->len == json_array_size (events), FALSE);
  if (!pa_store_tx_begin (store, error))
    return FALSE;
  if (!pa_store_run (store, error,
                     "INSERT INTO txns (txn_id, at) VALUES (?, ?)"
                     " ON CONFLICT (txn_id) DO NOTHING",
                     "tI", txn_id, pa_now_ms ()))
    goto fail;
  if (pa_db_changes (store->db) == 0)
    {
      if (out_duplicate != NULL)
        *out_duplicate = TRUE;
      pa_store_tx_rollback (store);
      return TRUE;
    }
  json_array_foreach (events, i, event)
  {
    const char *text = texts != NULL ? g_ptr_array_index (texts, i) : NULL;

    if (text == NULL)
      {
        char *own = json_dumps (event, JSON_COMPACT | JSON_ENCODE_ANY);

        if (own == NULL)
          {
            g_set_error (error, PA_ERROR, PA_ERROR_JSON,
                         "transaction %s: event %zu cannot be serialised", txn_id, i);
            goto fail;
          }
        g_ptr_array_add (owned, own);
        text = own;
      }
    g_ptr_array_add (all, (gpointer) text);
  }
  if (pa_db_backend (store->db) == PA_DB_POSTGRES && all->len > 1)
    {
      GError *local = NULL;

      if (insert_batch_pg (store, txn_id, all, seqs, &local))
        goto stored;
      if (local != NULL)
        {
          g_propagate_error (error, local);
          goto fail;
        }
      g_array_set_size (seqs, 0);
    }
  for (i = 0; i < all->len; i++)
  {
    const char *text = g_ptr_array_index (all, i);

    /* One prepared statement for every row (cached: never re-prepared). */
    insert = pa_store_stmt (store, error,
                            "INSERT INTO inbound (txn_id, event) VALUES (?, ?) RETURNING seq", "tt",
                            txn_id, text);
    if (insert == NULL)
      goto fail;
    PaDbStep rc = pa_store_step (store, insert, error);
    if (rc == PA_DB_ROW)
      {
        gint64 seq = pa_db_column_int64 (insert, 0);

        g_array_append_val (seqs, seq);
      }
    pa_store_stmt_release (insert);
    if (rc != PA_DB_ROW)
      goto fail;
  }
stored:
  if (!pa_store_tx_commit (store, error))
    return FALSE;
  /* Remember the events of the rows for pa_store_inbound_peek(), as long
   * as the backlog is short (a long one stays on disk only, as before). */
  if (g_hash_table_size (store->inbound_fresh) + json_array_size (events) > PA_INBOUND_FRESH_MAX)
    return TRUE;
  json_array_foreach (events, i, event)
  {
    gint64 *key = g_new (gint64, 1);

    *key = g_array_index (seqs, gint64, i);
    g_hash_table_replace (store->inbound_fresh, key, json_incref (event));
  }
  return TRUE;

fail:
  pa_store_tx_rollback (store);
  return FALSE;
}

json_t *
pa_store_inbound_peek (PaStore *store, guint limit, GError **error)
{
  g_autoptr (json_t) result = json_array ();
  g_autoptr (PaStoreStmt) stmt = NULL;
  PaDbStep rc;

  g_return_val_if_fail (store != NULL, NULL);

  stmt = pa_store_stmt (store, error, "SELECT seq, event FROM inbound ORDER BY seq LIMIT ?", "I",
                        (gint64) limit);
  if (stmt == NULL)
    return NULL;
  while ((rc = pa_store_step (store, stmt, error)) == PA_DB_ROW)
    {
      gint64 seq = pa_db_column_int64 (stmt, 0);
      json_error_t jerr;
      json_t *event = g_hash_table_lookup (store->inbound_fresh, &seq);

      if (event != NULL)
        event = json_incref (event);
      else
        event = json_loads (pa_db_column_text (stmt, 1),
                            JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
      if (event == NULL)
        {
          g_set_error (error, PA_ERROR, PA_ERROR_JSON,
                       "inbound event %" G_GINT64_FORMAT " is not valid JSON: %s", seq, jerr.text);
          return NULL;
        }
      /* "o" steals event even if packing fails */
      json_array_append_new (result,
                             json_pack ("{s:I, s:o}", "seq", (json_int_t) seq, "event", event));
    }
  if (rc != PA_DB_DONE)
    return NULL;
  return g_steal_pointer (&result);
}

gboolean
pa_store_inbound_done (PaStore *store, gint64 seq, GError **error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  if (!pa_store_run (store, error, "DELETE FROM inbound WHERE seq = ?", "I", seq))
    return FALSE;
  g_hash_table_remove (store->inbound_fresh, &seq);
  return TRUE;
}

gint64
pa_store_inbound_count (PaStore *store)
{
  g_return_val_if_fail (store != NULL, -1);
  return pa_store_count (store, "SELECT count(*) FROM inbound", NULL);
}
