/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The statement helpers every store file uses: a cache of prepared
 * statements (the hot paths never re-prepare), binding, stepping, counting,
 * single-value look-ups, and transactions that nest through savepoints.
 * Everything else in src/store is built on these and nothing else. */
#define G_LOG_DOMAIN "passerelle-store"

#include "pa-store-private.h"

#include <stdarg.h>

/* ------------------------------------------------------- statements */

void
pa_store_stmt_release (PaStoreStmt *stmt)
{
  sqlite3_reset (stmt);
  sqlite3_clear_bindings (stmt);
}

void
pa_store_stmt_finalize (gpointer stmt)
{
  sqlite3_finalize (stmt);
}

void
pa_store_set_error (PaStore *store, GError **error, const char *what)
{
  g_set_error (error, PA_ERROR, PA_ERROR_STORE, "%s: %s", what, sqlite3_errmsg (store->db));
}

PaStoreStmt *
pa_store_prepare (PaStore *store, const char *sql, GError **error)
{
  sqlite3_stmt *stmt = g_hash_table_lookup (store->stmts, sql);

  if (stmt != NULL)
    return stmt;
  if (sqlite3_prepare_v3 (store->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL) != SQLITE_OK)
    {
      pa_store_set_error (store, error, "preparing statement");
      return NULL;
    }
  g_hash_table_insert (store->stmts, g_strdup (sql), stmt);
  return stmt;
}

/* The cached statement for `sql` with its parameters bound, or NULL. */
PaStoreStmt *
pa_store_stmt (PaStore *store, GError **error, const char *sql, const char *types, ...)
{
  PaStoreStmt *stmt = pa_store_prepare (store, sql, error);
  va_list ap;
  gboolean ok;

  if (stmt == NULL)
    return NULL;
  va_start (ap, types);
  ok = pa_sqlite_vbind (store->db, stmt, types, ap, 0, "", error);
  va_end (ap);
  if (!ok)
    {
      pa_store_stmt_release (stmt);
      return NULL;
    }
  return stmt;
}

/* Whether a failed step was the storage's fault rather than the statement's
 * (a constraint, a misuse): SQLite then undoes the statement or the whole
 * transaction. */
static gboolean
storage_fault (int rc)
{
  switch (rc & 0xff)
    {
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_BUSY:
    case SQLITE_NOMEM:
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
      return TRUE;
    default:
      return FALSE;
    }
}

/* One step: SQLITE_ROW or SQLITE_DONE, or SQLITE_ERROR with `error` set. */
int
pa_store_step (PaStore *store, sqlite3_stmt *stmt, GError **error)
{
  g_autoptr (GError) local = NULL;

  /* SQLite aborted the open transaction (disk full…): a statement now
   * would run and commit on its own, outside the caller's transaction. */
  if (store->depth > 0 && sqlite3_get_autocommit (store->db))
    {
      g_set_error (error, PA_ERROR, PA_ERROR_STORE,
                   "executing statement: the transaction was aborted by SQLite (%s)",
                   store->tx_failure != NULL ? store->tx_failure : "?");
      store->tx_failed = TRUE;
      return SQLITE_ERROR;
    }
  int rc = pa_sqlite_step (store->db, stmt, "", &local);

  if (rc == SQLITE_ERROR && store->depth > 0 && !store->tx_failed
      && storage_fault (sqlite3_errcode (store->db)))
    {
      store->tx_failed = TRUE;
      g_free (store->tx_failure);
      store->tx_failure = g_strdup (local->message);
    }
  if (local != NULL)
    g_propagate_error (error, g_steal_pointer (&local));
  return rc;
}

/* Runs a statement that returns no rows. */
gboolean
pa_store_run (PaStore *store, GError **error, const char *sql, const char *types, ...)
{
  g_autoptr (PaStoreStmt) stmt = pa_store_prepare (store, sql, error);
  va_list ap;
  gboolean ok;

  if (stmt == NULL)
    return FALSE;
  va_start (ap, types);
  ok = pa_sqlite_vbind (store->db, stmt, types, ap, 0, "", error);
  va_end (ap);
  if (!ok)
    return FALSE;
  return pa_store_step (store, stmt, error) == SQLITE_DONE;
}

char *
pa_store_column_strdup (sqlite3_stmt *stmt, int col)
{
  return g_strdup ((const char *) sqlite3_column_text (stmt, col));
}

/* See pa-store.h. */
gint64
pa_store_hash64 (const char *text)
{
  guint8 sum[32];
  gsize len = sizeof sum;
  g_autoptr (GChecksum) ck = g_checksum_new (G_CHECKSUM_SHA256);
  g_checksum_update (ck, (const guchar *) text, (gssize) strlen (text));
  g_checksum_get_digest (ck, sum, &len);
  guint64 v = 0;
  for (int i = 0; i < 8; i++)
    v = (v << 8) | sum[i];
  return (gint64) v;
}

/* SELECT count(*)…: the count, or -1 (logged) on failure. */
gint64
pa_store_count (PaStore *store, const char *sql, const char *arg)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PaStoreStmt) stmt = pa_store_stmt (store, &error, sql, arg != NULL ? "t" : "", arg);

  if (stmt == NULL || pa_store_step (store, stmt, &error) != SQLITE_ROW)
    {
      g_warning ("counting rows: %s", error != NULL ? error->message : "no row");
      return -1;
    }
  return sqlite3_column_int64 (stmt, 0);
}

/* Lookups that cannot report errors: a failure is logged and reads as "not
 * found", which every caller already handles. */
void
pa_store_log_lookup_error (GError *error)
{
  if (error != NULL)
    g_warning ("store lookup failed: %s", error->message);
}

/* ------------------------------------------------------ transactions */

/* Transactions nest: the outermost level is BEGIN IMMEDIATE (taking the
 * write lock up front so it never fails half-way with SQLITE_BUSY), inner
 * levels are SAVEPOINTs, so a function with its own transaction works both
 * alone and inside the caller's pa_store_begin(). */
gboolean
pa_store_tx_begin (PaStore *store, GError **error)
{
  g_autoptr (PaStoreStmt) stmt = NULL;

  /* SQLite may abort a whole transaction on some errors (disk full, I/O);
   * nesting a savepoint then would silently start a new one. */
  if (store->depth > 0 && sqlite3_get_autocommit (store->db))
    {
      g_set_error_literal (error, PA_ERROR, PA_ERROR_STORE,
                           "the enclosing transaction was aborted by SQLite");
      return FALSE;
    }
  stmt = pa_store_prepare (store, store->depth == 0 ? "BEGIN IMMEDIATE" : "SAVEPOINT pa", error);
  if (stmt == NULL || pa_store_step (store, stmt, error) != SQLITE_DONE)
    return FALSE;
  if (store->depth == 0)
    store->tx_failed = FALSE;
  store->depth++;
  return TRUE;
}

void
pa_store_tx_rollback (PaStore *store)
{
  g_autoptr (GError) error = NULL;

  if (store->depth == 0)
    return;
  store->depth--;
  /* Rows inserted since may be gone: forget what is cached about them. */
  g_hash_table_remove_all (store->inbound_fresh);
  if (sqlite3_get_autocommit (store->db))
    return; /* SQLite already rolled everything back */
  if (store->depth == 0)
    {
      g_autoptr (PaStoreStmt) stmt = pa_store_prepare (store, "ROLLBACK", &error);

      if (stmt != NULL && pa_store_step (store, stmt, &error) == SQLITE_DONE)
        return;
    }
  else
    {
      if (pa_store_run (store, &error, "ROLLBACK TO pa", "")
          && pa_store_run (store, &error, "RELEASE pa", ""))
        return;
    }
  g_warning ("rolling back: %s", error->message);
}

gboolean
pa_store_tx_commit (PaStore *store, GError **error)
{
  g_autoptr (PaStoreStmt) stmt = NULL;

  g_return_val_if_fail (store->depth > 0, FALSE);
  if (store->depth == 1 && store->tx_failed && !sqlite3_get_autocommit (store->db))
    {
      /* A write of it failed: whole or nothing. */
      g_set_error (error, PA_ERROR, PA_ERROR_STORE, "a write of the transaction failed: %s",
                   store->tx_failure);
      pa_store_tx_rollback (store);
      return FALSE;
    }
  if (sqlite3_get_autocommit (store->db))
    {
      store->depth--;
      g_hash_table_remove_all (store->inbound_fresh);
      g_set_error_literal (error, PA_ERROR, PA_ERROR_STORE,
                           "the transaction was aborted by SQLite");
      return FALSE;
    }
  stmt = pa_store_prepare (store, store->depth == 1 ? "COMMIT" : "RELEASE pa", error);
  if (stmt == NULL || pa_store_step (store, stmt, error) != SQLITE_DONE)
    {
      g_clear_pointer (&stmt, pa_store_stmt_release);
      pa_store_tx_rollback (store);
      return FALSE;
    }
  store->depth--;
  return TRUE;
}

/* Starts a transaction, or a savepoint inside the current one.  Pair with
 * pa_store_commit() or pa_store_rollback(). */
gboolean
pa_store_begin (PaStore *store, GError **error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  return pa_store_tx_begin (store, error);
}

/* Commits the innermost level.  On failure that level is rolled back, so
 * the caller must not call pa_store_rollback() for it (doing so is a
 * harmless no-op at the outermost level). */
gboolean
pa_store_commit (PaStore *store, GError **error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  return pa_store_tx_commit (store, error);
}

/* Undoes everything since the matching pa_store_begin().  No-op when no
 * transaction is open. */
void
pa_store_rollback (PaStore *store)
{
  g_return_if_fail (store != NULL);
  pa_store_tx_rollback (store);
}
/* Copies the WAL into the database and truncates it: after a failed write
 * (disk full) this gives the WAL's space back, which the WAL itself may
 * hold.  Outside any transaction only. */
gboolean
pa_store_checkpoint (PaStore *store, GError **error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  if (store->depth > 0)
    {
      g_set_error_literal (error, PA_ERROR, PA_ERROR_STORE, "checkpoint inside a transaction");
      return FALSE;
    }
  if (sqlite3_wal_checkpoint_v2 (store->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL)
      != SQLITE_OK)
    {
      pa_store_set_error (store, error, "checkpoint");
      return FALSE;
    }
  return TRUE;
}

/* --------------------------------------------------- single values */

/* The first column of the first row as a string, or NULL (logged on error). */
char *
pa_store_lookup_text (PaStore *store, const char *sql, const char *types, ...)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PaStoreStmt) stmt = pa_store_prepare (store, sql, &error);
  va_list ap;
  gboolean ok;

  if (stmt == NULL)
    {
      pa_store_log_lookup_error (error);
      return NULL;
    }
  va_start (ap, types);
  ok = pa_sqlite_vbind (store->db, stmt, types, ap, 0, "", &error);
  va_end (ap);
  if (!ok || pa_store_step (store, stmt, &error) != SQLITE_ROW)
    {
      pa_store_log_lookup_error (error);
      return NULL;
    }
  return pa_store_column_strdup (stmt, 0);
}
