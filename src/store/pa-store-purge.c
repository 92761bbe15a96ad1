/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Giving space back in bounded steps: the rows of an abandoned history
 * import lane are deleted a chunk at a time (so a ten-million-row import
 * never holds the main loop), and the pages they freed return to the file
 * system through SQLite's incremental vacuum, a few pages per step.  The
 * database is switched to auto_vacuum=INCREMENTAL once, when opened.
 * PostgreSQL's autovacuum does the second part there. */
#define G_LOG_DOMAIN "passerelle-store"

#include "pa-store-private.h"

gint64
pa_store_remote_purge_lane (PaStore *store, const char *login_id, guint limit, GError **error)
{
  g_return_val_if_fail (store != NULL && login_id != NULL, -1);
  /* Not pa_store_remote_done: an abandoned import is forgotten, its dedup
   * keys included, so that importing the same file again works. */
  if (!pa_store_run (store, error,
                     "DELETE FROM remote WHERE seq IN (SELECT seq FROM remote"
                     " WHERE lane = 1 AND login_id = ? ORDER BY seq LIMIT ?)",
                     "tI", login_id, (gint64) limit))
    return -1;
  return pa_db_changes (store->db);
}

json_t *
pa_store_remote_import_lanes (PaStore *store, GError **error)
{
  g_autoptr (PaStoreStmt) stmt
      = pa_store_stmt (store, error, "SELECT DISTINCT login_id FROM remote WHERE lane = 1", "");
  if (stmt == NULL)
    return NULL;
  g_autoptr (json_t) out = json_array ();
  PaDbStep rc;
  while ((rc = pa_store_step (store, stmt, error)) == PA_DB_ROW)
    json_array_append_new (out, json_string (pa_db_column_text (stmt, 0)));
  return rc == PA_DB_DONE ? g_steal_pointer (&out) : NULL;
}

static gint64
pragma_int (PaStore *store, const char *sql)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PaStoreStmt) stmt = pa_store_prepare (store, sql, &error);
  if (stmt == NULL || pa_store_step (store, stmt, &error) != PA_DB_ROW)
    return -1;
  return pa_db_column_int64 (stmt, 0);
}

gboolean
pa_store_vacuum_setup (PaStore *store, GError **error)
{
  /* PostgreSQL's autovacuum gives space back on its own. */
  if (pa_db_backend (store->db) != PA_DB_SQLITE)
    return TRUE;
  /* 2 = INCREMENTAL.  Switching an existing database takes one VACUUM
   * (a full rewrite, before the bridge serves anything); a new one is tiny. */
  if (pragma_int (store, "PRAGMA auto_vacuum") == 2)
    return TRUE;
  gint64 pages = pragma_int (store, "PRAGMA page_count");
  if (pages > 25600)
    g_message ("store: switching to incremental vacuum (a one-time VACUUM of %" G_GINT64_FORMAT
               " pages)",
               pages);
  if (!pa_db_exec (store->db, "PRAGMA auto_vacuum = INCREMENTAL; VACUUM;", error))
    {
      g_prefix_error (error, "enabling incremental vacuum: ");
      return FALSE;
    }
  return TRUE;
}

gint64
pa_store_vacuum_step (PaStore *store, guint pages)
{
  g_autoptr (GError) error = NULL;
  if (pa_db_backend (store->db) != PA_DB_SQLITE)
    return 0;
  g_autofree char *sql = g_strdup_printf ("PRAGMA incremental_vacuum (%u)", pages);
  /* The pragma frees one page per step of its statement. */
  if (!pa_db_exec (store->db, sql, &error))
    {
      g_warning ("store: incremental vacuum: %s", error->message);
      return -1;
    }
  gint64 left = pragma_int (store, "PRAGMA freelist_count");
  /* In WAL mode the file shrinks when a checkpoint copies the last pages
   * back; the automatic one may not come for a while.  PASSIVE: never
   * waits for a reader. */
  if (left == 0 && pa_db_depth (store->db) == 0)
    pa_db_exec (store->db, "PRAGMA wal_checkpoint (PASSIVE)", NULL);
  return left;
}
