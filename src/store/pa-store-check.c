/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The store's self-check: SQLite's own integrity and foreign-key checks
 * (SQLite only) plus the invariants of our tables (each outbound queue's
 * recorded head is its oldest item).  Used by tests and maintenance, never
 * on a hot path. */
#define G_LOG_DOMAIN "passerelle-store"

#include "pa-store-private.h"

/* SQLite's integrity and foreign-key checks.  PostgreSQL has none to run
 * on line: the server keeps its own consistency. */
static gboolean
sqlite_check (PaStore *store, GError **error)
{
  g_autoptr (PaStoreStmt) stmt = NULL;
  PaDbStep rc;

  stmt = pa_store_stmt (store, error, "PRAGMA integrity_check", "");
  if (stmt == NULL || pa_store_step (store, stmt, error) != PA_DB_ROW)
    return FALSE;
  if (g_strcmp0 (pa_db_column_text (stmt, 0), "ok") != 0)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_STORE, "integrity check failed: %s",
                   pa_db_column_text (stmt, 0));
      return FALSE;
    }
  g_clear_pointer (&stmt, pa_store_stmt_release);

  stmt = pa_store_stmt (store, error, "PRAGMA foreign_key_check", "");
  if (stmt == NULL || (rc = pa_store_step (store, stmt, error)) == PA_DB_ERROR)
    return FALSE;
  if (rc == PA_DB_ROW)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_STORE, "foreign key check failed in table %s",
                   pa_db_column_text (stmt, 0));
      return FALSE;
    }
  return TRUE;
}

gboolean
pa_store_check (PaStore *store, GError **error)
{
  g_autoptr (PaStoreStmt) stmt = NULL;
  PaDbStep rc;

  g_return_val_if_fail (store != NULL, FALSE);

  if (pa_db_backend (store->db) == PA_DB_SQLITE && !sqlite_check (store, error))
    return FALSE;

  /* every key with items has exactly one head, and it is its oldest item */
  stmt = pa_store_stmt (store, error,
                        "SELECT k.queue_key FROM"
                        " (SELECT queue_key, min(seq) AS seq FROM outbound GROUP BY queue_key) k"
                        " WHERE NOT EXISTS (SELECT 1 FROM outbound_heads h"
                        "   WHERE h.queue_key = k.queue_key AND h.seq = k.seq)"
                        " UNION ALL SELECT h.queue_key FROM outbound_heads h"
                        " WHERE NOT EXISTS (SELECT 1 FROM outbound o"
                        "   WHERE o.seq = h.seq AND o.queue_key = h.queue_key)"
                        " LIMIT 1",
                        "");
  if (stmt == NULL || (rc = pa_store_step (store, stmt, error)) == PA_DB_ERROR)
    return FALSE;
  if (rc == PA_DB_ROW)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_STORE,
                   "outbound queue head of %s is not its oldest item",
                   pa_db_column_text (stmt, 0));
      return FALSE;
    }
  return TRUE;
}
