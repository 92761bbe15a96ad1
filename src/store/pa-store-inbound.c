/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* HS -> AS transactions and the inbound queue: a transaction's id and its
 * events are stored together before the homeserver gets its ack, and each
 * event leaves the queue only once processed, so a crash replays instead of
 * losing. */
#define G_LOG_DOMAIN "passerelle-store"

#include "pa-store-private.h"

/* ------------------------------------------------------------ inbound */

gboolean
pa_store_txn_accept (PaStore *store, const char *txn_id, json_t *events, gboolean *out_duplicate,
                     GError **error)
{
  size_t i;
  json_t *event;

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
  if (!pa_store_tx_begin (store, error))
    return FALSE;
  if (!pa_store_run (store, error,
                     "INSERT INTO txns (txn_id, at) VALUES (?, ?)"
                     " ON CONFLICT (txn_id) DO NOTHING",
                     "tI", txn_id, pa_now_ms ()))
    goto fail;
  if (sqlite3_changes (store->db) == 0)
    {
      if (out_duplicate != NULL)
        *out_duplicate = TRUE;
      pa_store_tx_rollback (store);
      return TRUE;
    }
  json_array_foreach (events, i, event)
  {
    g_autofree char *text = json_dumps (event, JSON_COMPACT | JSON_ENCODE_ANY);

    if (text == NULL)
      {
        g_set_error (error, PA_ERROR, PA_ERROR_JSON,
                     "transaction %s: event %zu cannot be serialised", txn_id, i);
        goto fail;
      }
    if (!pa_store_run (store, error, "INSERT INTO inbound (txn_id, event) VALUES (?, ?)", "tt",
                       txn_id, text))
      goto fail;
  }
  return pa_store_tx_commit (store, error);

fail:
  pa_store_tx_rollback (store);
  return FALSE;
}

json_t *
pa_store_inbound_peek (PaStore *store, guint limit, GError **error)
{
  g_autoptr (json_t) result = json_array ();
  g_autoptr (PaStoreStmt) stmt = NULL;
  int rc;

  g_return_val_if_fail (store != NULL, NULL);

  stmt = pa_store_stmt (store, error, "SELECT seq, event FROM inbound ORDER BY seq LIMIT ?", "I",
                        (gint64) limit);
  if (stmt == NULL)
    return NULL;
  while ((rc = pa_store_step (store, stmt, error)) == SQLITE_ROW)
    {
      gint64 seq = sqlite3_column_int64 (stmt, 0);
      json_error_t jerr;
      json_t *event = json_loads ((const char *) sqlite3_column_text (stmt, 1),
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
  if (rc != SQLITE_DONE)
    return NULL;
  return g_steal_pointer (&result);
}

gboolean
pa_store_inbound_done (PaStore *store, gint64 seq, GError **error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  return pa_store_run (store, error, "DELETE FROM inbound WHERE seq = ?", "I", seq);
}

gint64
pa_store_inbound_count (PaStore *store)
{
  g_return_val_if_fail (store != NULL, -1);
  return pa_store_count (store, "SELECT count(*) FROM inbound", NULL);
}
