/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The statement helpers every store file uses: a cache of prepared
 * statements (the hot paths never re-prepare), binding, stepping, counting,
 * single-value look-ups, and transactions that nest through savepoints,
 * over the database abstraction (src/db).  Everything else in src/store is
 * built on these and nothing else. */
#define G_LOG_DOMAIN "passerelle-store"

#include "pa-store-private.h"

#include <stdarg.h>

/* ------------------------------------------------------- statements */

PaStoreStmt *
pa_store_prepare (PaStore *store, const char *sql, GError **error)
{
  return pa_db_prepare (store->db, sql, error);
}

/* The cached statement for `sql` with its parameters bound, or NULL. */
PaStoreStmt *
pa_store_stmt (PaStore *store, GError **error, const char *sql, const char *types, ...)
{
  va_list ap;

  va_start (ap, types);
  PaStoreStmt *stmt = pa_db_vstmt (store->db, error, sql, types, ap);
  va_end (ap);
  return stmt;
}

/* One step: PA_DB_ROW or PA_DB_DONE, or PA_DB_ERROR with `error` set. */
PaDbStep
pa_store_step (PaStore *store, PaStoreStmt *stmt, GError **error)
{
  return pa_db_step (stmt, error);
}

/* Runs a statement that returns no rows. */
gboolean
pa_store_run (PaStore *store, GError **error, const char *sql, const char *types, ...)
{
  va_list ap;

  va_start (ap, types);
  gboolean ok = pa_db_vrun (store->db, error, sql, types, ap);
  va_end (ap);
  return ok;
}

char *
pa_store_column_strdup (PaStoreStmt *stmt, int col)
{
  return g_strdup (pa_db_column_text (stmt, col));
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

  if (stmt == NULL || pa_store_step (store, stmt, &error) != PA_DB_ROW)
    {
      g_warning ("counting rows: %s", error != NULL ? error->message : "no row");
      return -1;
    }
  return pa_db_column_int64 (stmt, 0);
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

/* Transactions nest (pa_db_begin): the outermost level is BEGIN (BEGIN
 * IMMEDIATE on SQLite, taking the write lock up front so it never fails
 * half-way with SQLITE_BUSY), inner levels are SAVEPOINTs, so a function
 * with its own transaction works both alone and inside the caller's
 * pa_store_begin(). */
gboolean
pa_store_tx_begin (PaStore *store, GError **error)
{
  return pa_db_begin (store->db, error);
}

void
pa_store_tx_rollback (PaStore *store)
{
  if (pa_db_depth (store->db) == 0)
    return;
  /* Rows inserted since may be gone: forget what is cached about them. */
  g_hash_table_remove_all (store->inbound_fresh);
  pa_db_rollback (store->db);
}

gboolean
pa_store_tx_commit (PaStore *store, GError **error)
{
  if (pa_db_commit (store->db, error))
    return TRUE;
  g_hash_table_remove_all (store->inbound_fresh);
  return FALSE;
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
 * hold.  Outside any transaction only.  PostgreSQL manages its own WAL:
 * nothing to do there. */
gboolean
pa_store_checkpoint (PaStore *store, GError **error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  if (pa_db_depth (store->db) > 0)
    {
      g_set_error_literal (error, PA_ERROR, PA_ERROR_STORE, "checkpoint inside a transaction");
      return FALSE;
    }
  if (pa_db_backend (store->db) != PA_DB_SQLITE)
    return TRUE;
  g_autoptr (PaStoreStmt) stmt = pa_store_prepare (store, "PRAGMA wal_checkpoint (TRUNCATE)", error);
  if (stmt == NULL || pa_store_step (store, stmt, error) != PA_DB_ROW)
    {
      g_prefix_error (error, "checkpoint: ");
      return FALSE;
    }
  if (pa_db_column_int64 (stmt, 0) != 0)
    {
      g_set_error_literal (error, PA_ERROR, PA_ERROR_STORE, "checkpoint: database is locked");
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
  ok = pa_db_vbind (stmt, types, ap, 0, &error);
  va_end (ap);
  if (!ok || pa_store_step (store, stmt, &error) != PA_DB_ROW)
    {
      pa_store_log_lookup_error (error);
      return NULL;
    }
  return pa_store_column_strdup (stmt, 0);
}
