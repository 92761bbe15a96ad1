/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Opening and closing the store: one SQLite connection in WAL mode, its
 * pragmas, the stepwise migration to the schema of pa-store-schema.c and the
 * pruning of old "already seen" markers. */
#define G_LOG_DOMAIN "passerelle-store"

#include "pa-store-private.h"
#include <glib/gstdio.h>

#define SCHEMA_VERSION ((int) pa_store_n_migrations)

/* -------------------------------------------------------- open/close */

static gboolean
store_exec (PaStore *store, const char *sql, GError **error)
{
  char *msg = NULL;

  if (sqlite3_exec (store->db, sql, NULL, NULL, &msg) != SQLITE_OK)
    {
      g_set_error_literal (error, PA_ERROR, PA_ERROR_STORE,
                           msg != NULL ? msg : sqlite3_errmsg (store->db));
      sqlite3_free (msg);
      return FALSE;
    }
  return TRUE;
}

static gboolean
store_read_version (PaStore *store, int *out_version, GError **error)
{
  g_autoptr (PaStoreStmt) stmt = pa_store_prepare (store, "PRAGMA user_version", error);

  if (stmt == NULL || pa_store_step (store, stmt, error) != SQLITE_ROW)
    return FALSE;
  *out_version = sqlite3_column_int (stmt, 0);
  return TRUE;
}

static gboolean
store_migrate (PaStore *store, const char *path, GError **error)
{
  int version;

  if (!store_read_version (store, &version, error))
    return FALSE;
  if (version > SCHEMA_VERSION)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_STORE,
                   "%s: database schema version %d is newer than this Passerelle supports "
                   "(%d); refusing to open it (was it used by a newer release?)",
                   path, version, SCHEMA_VERSION);
      return FALSE;
    }
  if (version < 0)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_STORE, "%s: invalid database schema version %d", path,
                   version);
      return FALSE;
    }
  /* Each step commits together with its version bump, so an interrupted
   * upgrade resumes at the first step that did not complete. */
  for (; version < SCHEMA_VERSION; version++)
    {
      g_autofree char *bump = g_strdup_printf ("PRAGMA user_version = %d", version + 1);

      if (!pa_store_tx_begin (store, error))
        return FALSE;
      if (!store_exec (store, pa_store_migrations[version], error)
          || !store_exec (store, bump, error))
        {
          pa_store_tx_rollback (store);
          g_prefix_error (error, "%s: migrating schema to version %d: ", path, version + 1);
          return FALSE;
        }
      if (!pa_store_tx_commit (store, error))
        return FALSE;
      store->migrations_run++;
      g_debug ("%s: schema migrated to version %d", path, version + 1);
    }
  store->version = version;
  return TRUE;
}

/* Forget "already seen" markers old enough that nothing can replay them. */
static gboolean
store_prune (PaStore *store, GError **error)
{
  gint64 now = pa_now_ms ();

  if (!pa_store_tx_begin (store, error))
    return FALSE;
  if (!pa_store_run (store, error, "DELETE FROM outbound_done WHERE at < ?", "I",
                     now - OUTBOUND_DONE_KEEP_MS)
      || !pa_store_run (store, error, "DELETE FROM remote_seen WHERE at < ?", "I",
                        now - REMOTE_SEEN_KEEP_MS)
      || !pa_store_run (store, error, "DELETE FROM shared_messages WHERE at < ?", "I",
                        now - REMOTE_SEEN_KEEP_MS)
      || !pa_store_run (store, error, "DELETE FROM txns WHERE at < ?", "I", now - TXN_KEEP_MS)
      || !pa_store_run (store, error, "DELETE FROM quarantine WHERE at < ?", "I",
                        now - QUARANTINE_KEEP_MS))
    {
      pa_store_tx_rollback (store);
      return FALSE;
    }
  return pa_store_tx_commit (store, error);
}

/* Opens (creating if needed) the database at `path` and migrates it to the
 * current schema.  ":memory:" gives a private in-memory database. */
PaStore *
pa_store_open (const char *path, GError **error)
{
  g_autoptr (PaStore) store = NULL;
  gboolean in_memory;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_EXRESCODE;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  in_memory = g_strcmp0 (path, ":memory:") == 0;
  if (!in_memory && !pa_sqlite_create_private_file (path, error))
    return NULL;

  store = g_new0 (PaStore, 1);
  store->stmts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, pa_store_stmt_finalize);
  store->inbound_fresh = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free,
                                                (GDestroyNotify) json_decref);
  if (sqlite3_open_v2 (path, &store->db, flags, NULL) != SQLITE_OK)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_STORE, "opening %s: %s", path,
                   store->db != NULL ? sqlite3_errmsg (store->db) : "out of memory");
      return NULL;
    }
  sqlite3_extended_result_codes (store->db, 1);
  sqlite3_limit (store->db, SQLITE_LIMIT_LENGTH, STORE_MAX_VALUE_BYTES);

  /* synchronous=NORMAL in WAL mode survives a process crash (kill -9) and
   * loses at most the last commits on power loss, never consistency. */
  if (!store_exec (store, "PRAGMA busy_timeout = 5000", error)
      || !store_exec (store, "PRAGMA foreign_keys = ON", error)
      || !store_exec (store, "PRAGMA journal_mode = WAL", error)
      || !store_exec (store, "PRAGMA synchronous = NORMAL", error)
      /* Deleted rows are overwritten with zeros, not left in free pages
       * (docs/hardening.md, Secrets). */
      || !store_exec (store, "PRAGMA secure_delete = ON", error)
      /* the WAL file shrinks back after a checkpoint instead of keeping
       * the size of the largest burst */
      || !store_exec (store, "PRAGMA journal_size_limit = 67108864", error))
    {
      g_prefix_error (error, "%s: configuring the connection: ", path);
      return NULL;
    }
  if (!in_memory)
    {
      g_autoptr (PaStoreStmt) stmt = pa_store_prepare (store, "PRAGMA journal_mode", error);

      if (stmt == NULL || pa_store_step (store, stmt, error) != SQLITE_ROW)
        return NULL;
      if (g_ascii_strcasecmp ((const char *) sqlite3_column_text (stmt, 0), "wal") != 0)
        g_warning ("%s: could not enable WAL journaling (got %s)", path,
                   sqlite3_column_text (stmt, 0));
    }

  if (!store_migrate (store, path, error) || !store_prune (store, error)
      || (!in_memory && !pa_store_vacuum_setup (store, error)))
    return NULL;
  return g_steal_pointer (&store);
}

/* Closes the database; an open transaction is rolled back.  NULL-safe. */
void
pa_store_close (PaStore *store)
{
  if (store == NULL)
    return;
  if (store->depth > 0)
    {
      g_warning ("closing the store with an open transaction: rolling it back");
      while (store->depth > 0)
        pa_store_tx_rollback (store);
    }
  g_clear_pointer (&store->stmts, g_hash_table_destroy);
  g_clear_pointer (&store->inbound_fresh, g_hash_table_destroy);
  if (store->db != NULL)
    {
      /* never touch a database we refused (newer schema) */
      if (store->version == SCHEMA_VERSION)
        sqlite3_exec (store->db, "PRAGMA optimize", NULL, NULL, NULL);
      if (sqlite3_close (store->db) != SQLITE_OK)
        g_warning ("closing the database: %s", sqlite3_errmsg (store->db));
    }
  g_free (store->tx_failure);
  g_free (store);
}

/* The schema version the database is at (the code's, once opened). */
int
pa_store_schema_version (PaStore *store)
{
  g_return_val_if_fail (store != NULL, -1);
  return store->version;
}

guint
pa_store_migrations_run (PaStore *store)
{
  g_return_val_if_fail (store != NULL, 0);
  return store->migrations_run;
}
