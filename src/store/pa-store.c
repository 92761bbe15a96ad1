/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Opening and closing the store: one connection (SQLite in WAL mode with
 * its pragmas, or PostgreSQL), the stepwise migration to the schema of
 * pa-store-schema.c and the pruning of old "already seen" markers. */
#define G_LOG_DOMAIN "passerelle-store"

#include "pa-store-private.h"
#include <glib/gstdio.h>

#define SCHEMA_VERSION ((int) pa_store_n_migrations)

/* -------------------------------------------------------- open/close */

static gboolean
store_migrate (PaStore *store, const char *path, GError **error)
{
  gboolean pg = pa_db_backend (store->db) == PA_DB_POSTGRES;
  const char *const *steps = pg ? pa_store_pg_migrations : pa_store_migrations;
  int version;

  if (!pa_db_get_version (store->db, &version, error))
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
      if (!pa_store_tx_begin (store, error))
        return FALSE;
      if (!pa_db_exec (store->db, steps[version], error)
          || !pa_db_set_version (store->db, version + 1, error))
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

/* The pragmas of a SQLite connection. */
static gboolean
store_configure_sqlite (PaStore *store, gboolean in_memory, GError **error)
{
  /* synchronous=NORMAL in WAL mode survives a process crash (kill -9) and
   * loses at most the last commits on power loss, never consistency. */
  if (!pa_db_exec (store->db, "PRAGMA foreign_keys = ON", error)
      || !pa_db_exec (store->db, "PRAGMA journal_mode = WAL", error)
      || !pa_db_exec (store->db, "PRAGMA synchronous = NORMAL", error)
      /* Deleted rows are overwritten with zeros, not left in free pages
       * (docs/hardening.md, Secrets). */
      || !pa_db_exec (store->db, "PRAGMA secure_delete = ON", error)
      /* the WAL file shrinks back after a checkpoint instead of keeping
       * the size of the largest burst */
      || !pa_db_exec (store->db, "PRAGMA journal_size_limit = 67108864", error))
    return FALSE;
  if (!in_memory)
    {
      g_autoptr (PaStoreStmt) stmt = pa_store_prepare (store, "PRAGMA journal_mode", error);

      if (stmt == NULL || pa_store_step (store, stmt, error) != PA_DB_ROW)
        return FALSE;
      if (g_ascii_strcasecmp (pa_db_column_text (stmt, 0), "wal") != 0)
        g_warning ("%s: could not enable WAL journaling (got %s)", pa_db_display (store->db),
                   pa_db_column_text (stmt, 0));
    }
  return TRUE;
}

/* Opens (creating if needed) the database `target` (a SQLite path,
 * "sqlite:PATH" or a PostgreSQL URI) and migrates it to the current
 * schema.  ":memory:" gives a private in-memory database. */
PaStore *
pa_store_open (const char *target, GError **error)
{
  g_autoptr (PaStore) store = NULL;
  gboolean in_memory;

  g_return_val_if_fail (target != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  in_memory = g_strcmp0 (target, ":memory:") == 0;
  store = g_new0 (PaStore, 1);
  store->inbound_fresh = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free,
                                                (GDestroyNotify) json_decref);
  store->db = pa_db_open (target, NULL, error);
  if (store->db == NULL)
    return NULL;
  const char *path = pa_db_display (store->db);
  pa_db_set_max_value (store->db, STORE_MAX_VALUE_BYTES);
  if (pa_db_backend (store->db) == PA_DB_SQLITE
      && !store_configure_sqlite (store, in_memory, error))
    {
      g_prefix_error (error, "%s: configuring the connection: ", path);
      return NULL;
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
  if (store->db != NULL && pa_db_depth (store->db) > 0)
    {
      g_warning ("closing the store with an open transaction: rolling it back");
      while (pa_db_depth (store->db) > 0)
        pa_store_tx_rollback (store);
    }
  /* never touch a database we refused (newer schema) */
  if (store->db != NULL && store->version == SCHEMA_VERSION
      && pa_db_backend (store->db) == PA_DB_SQLITE)
    pa_db_exec (store->db, "PRAGMA optimize", NULL);
  g_clear_pointer (&store->db, pa_db_close);
  g_clear_pointer (&store->inbound_fresh, g_hash_table_destroy);
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
