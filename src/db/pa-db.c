/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The connection object every database user holds: what a `database:`
 * target means, the cache of prepared statements (hot paths never
 * re-prepare), binding from a type string, stepping under the
 * storage-fault rule, and transactions that nest through savepoints.  The
 * engines are behind the driver table (pa-db-private.h). */
#define G_LOG_DOMAIN "passerelle-db"

#include "pa-db-private.h"

#include <string.h>

/* ------------------------------------------------------------ targets */

gboolean
pa_db_target_is_postgres (const char *target)
{
  return g_str_has_prefix (target, "postgres://") || g_str_has_prefix (target, "postgresql://");
}

/* The SQLite path of a target that is not PostgreSQL. */
static const char *
sqlite_path (const char *target)
{
  return g_str_has_prefix (target, "sqlite:") ? target + strlen ("sqlite:") : target;
}

const char *
pa_db_target_path (const char *target)
{
  return pa_db_target_is_postgres (target) ? NULL : sqlite_path (target);
}

char *
pa_db_target_sibling (const char *target, const char *file)
{
  if (pa_db_target_is_postgres (target))
    return g_strdup (target);
  g_autofree char *dir = g_path_get_dirname (sqlite_path (target));
  return g_build_filename (dir, file, NULL);
}

char *
pa_db_target_display (const char *target)
{
  if (!pa_db_target_is_postgres (target))
    return g_strdup (sqlite_path (target));

  PQconninfoOption *opts = PQconninfoParse (target, NULL);
  const char *host = NULL, *port = NULL, *dbname = NULL;

  for (PQconninfoOption *o = opts; o != NULL && o->keyword != NULL; o++)
    {
      if (strcmp (o->keyword, "host") == 0)
        host = o->val;
      else if (strcmp (o->keyword, "port") == 0)
        port = o->val;
      else if (strcmp (o->keyword, "dbname") == 0)
        dbname = o->val;
    }
  char *out = g_strdup_printf (
      "PostgreSQL database %s on host %s%s%s", dbname != NULL ? dbname : "(default)",
      host != NULL ? host : "(default)", port != NULL ? ":" : "", port != NULL ? port : "");
  PQconninfoFree (opts);
  return out;
}

/* --------------------------------------------------------- connection */

static void
stmt_free (gpointer data)
{
  PaDbStmt *stmt = data;

  stmt->db->driver->finalize (stmt);
  g_free (stmt->sql);
  g_free (stmt);
}

PaDb *
pa_db_open (const char *target, const char *pg_schema, GError **error)
{
  g_autoptr (PaDb) db = g_new0 (PaDb, 1);
  gboolean pg = pa_db_target_is_postgres (target);

  g_return_val_if_fail (target != NULL, NULL);
  db->backend = pg ? PA_DB_POSTGRES : PA_DB_SQLITE;
  db->driver = pg ? &pa_db_pg_driver : &pa_db_sqlite_driver;
  db->display = pa_db_target_display (target);
  db->stmts = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, stmt_free);
  if (!db->driver->open (db, pg ? target : sqlite_path (target), pg_schema, error))
    return NULL;
  return g_steal_pointer (&db);
}

void
pa_db_close (PaDb *db)
{
  if (db == NULL)
    return;
  while (db->depth > 0)
    pa_db_rollback (db);
  g_clear_pointer (&db->stmts, g_hash_table_destroy);
  if (db->driver != NULL)
    db->driver->close (db);
  g_free (db->failure);
  g_free (db->display);
  g_free (db);
}

PaDbBackend
pa_db_backend (PaDb *db)
{
  return db->backend;
}

const char *
pa_db_display (PaDb *db)
{
  return db->display;
}

void
pa_db_set_max_value (PaDb *db, int bytes)
{
  db->max_value = bytes;
  db->driver->set_max_value (db, bytes);
}

/* The engine aborted the open transaction under us (SQLite on some
 * errors, a lost PostgreSQL connection): a statement now would run on
 * its own, outside the caller's transaction. */
static gboolean
tx_lost (PaDb *db, GError **error)
{
  if (db->depth == 0 || db->driver->in_transaction (db))
    return FALSE;
  g_set_error (error, PA_ERROR, PA_ERROR_STORE, "the transaction was aborted (%s)",
               db->failure != NULL ? db->failure : "by the database");
  if (db->failed_level == 0)
    db->failed_level = 1;
  return TRUE;
}

/* Records a failure under the storage-fault rule. */
static void
note_failure (PaDb *db, gboolean fault, const char *message)
{
  if (db->depth == 0 || !fault)
    return;
  if (db->failed_level == 0 || db->failed_level > db->depth)
    {
      /* SQLite may have rolled back the whole transaction; PostgreSQL
       * aborted the current level, which rolling it back recovers. */
      db->failed_level = db->backend == PA_DB_SQLITE ? 1 : db->depth;
      g_free (db->failure);
      db->failure = g_strdup (message);
    }
}

gboolean
pa_db_exec (PaDb *db, const char *sql, GError **error)
{
  gboolean fault = FALSE;
  g_autoptr (GError) local = NULL;

  if (sql[0] == '\0')
    return TRUE;
  if (tx_lost (db, error) || (db->depth == 0 && !db->driver->ready (db, error)))
    return FALSE;
  if (db->driver->exec (db, sql, &fault, &local))
    return TRUE;
  note_failure (db, fault, local->message);
  g_propagate_error (error, g_steal_pointer (&local));
  return FALSE;
}

gboolean
pa_db_get_version (PaDb *db, int *out_version, GError **error)
{
  if (db->depth == 0 && !db->driver->ready (db, error))
    return FALSE;
  return db->driver->get_version (db, out_version, error);
}

gboolean
pa_db_set_version (PaDb *db, int version, GError **error)
{
  return db->driver->set_version (db, version, error);
}

/* --------------------------------------------------------- statements */

PaDbStmt *
pa_db_prepare (PaDb *db, const char *sql, GError **error)
{
  PaDbStmt *stmt = g_hash_table_lookup (db->stmts, sql);

  if (stmt != NULL)
    return stmt;
  stmt = g_new0 (PaDbStmt, 1);
  stmt->db = db;
  stmt->sql = g_strdup (sql);
  stmt->pg_row = -1;
  if (!db->driver->prepare (stmt, error))
    {
      g_free (stmt->sql);
      g_free (stmt);
      return NULL;
    }
  g_hash_table_insert (db->stmts, stmt->sql, stmt);
  return stmt;
}

void
pa_db_release (PaDbStmt *stmt)
{
  stmt->db->driver->reset (stmt);
}

gboolean
pa_db_vbind (PaDbStmt *stmt, const char *types, va_list ap, gsize max_text, GError **error)
{
  PaDb *db = stmt->db;

  for (int i = 0; types[i] != '\0'; i++)
    {
      gboolean ok = FALSE;

      switch (types[i])
        {
        case 't':
          {
            const char *s = va_arg (ap, const char *);
            gsize len = s != NULL ? strlen (s) : 0;

            if (max_text > 0 && len > max_text)
              {
                g_set_error_literal (error, PA_ERROR, PA_ERROR_TOO_LARGE, "value too large");
                pa_db_release (stmt);
                return FALSE;
              }
            if (db->max_value > 0 && len > (gsize) db->max_value)
              {
                g_set_error (error, PA_ERROR, PA_ERROR_STORE,
                             "binding a value: string or blob too big (%" G_GSIZE_FORMAT
                             " bytes, at most %d)",
                             len, db->max_value);
                pa_db_release (stmt);
                return FALSE;
              }
            ok = db->driver->bind_text (stmt, i + 1, s, error);
            break;
          }
        case 'I':
          ok = db->driver->bind_int64 (stmt, i + 1, va_arg (ap, gint64), error);
          break;
        case 'i':
          ok = db->driver->bind_int64 (stmt, i + 1, va_arg (ap, int), error);
          break;
        default:
          g_return_val_if_reached (FALSE);
        }
      if (!ok)
        {
          pa_db_release (stmt);
          return FALSE;
        }
    }
  return TRUE;
}

gboolean
pa_db_bind_text (PaDbStmt *stmt, int i, const char *text, GError **error)
{
  return stmt->db->driver->bind_text (stmt, i, text, error);
}

PaDbStmt *
pa_db_vstmt (PaDb *db, GError **error, const char *sql, const char *types, va_list ap)
{
  PaDbStmt *stmt = pa_db_prepare (db, sql, error);

  if (stmt == NULL)
    return NULL;
  return pa_db_vbind (stmt, types, ap, 0, error) ? stmt : NULL;
}

PaDbStmt *
pa_db_stmt (PaDb *db, GError **error, const char *sql, const char *types, ...)
{
  va_list ap;

  va_start (ap, types);
  PaDbStmt *stmt = pa_db_vstmt (db, error, sql, types, ap);
  va_end (ap);
  return stmt;
}

PaDbStep
pa_db_step (PaDbStmt *stmt, GError **error)
{
  PaDb *db = stmt->db;
  gboolean fault = FALSE;
  g_autoptr (GError) local = NULL;
  PaDbStep rc;

  if (tx_lost (db, error))
    return PA_DB_ERROR;
  if (db->depth == 0 && stmt->pg_row < 0 && !db->driver->ready (db, error))
    return PA_DB_ERROR;
  rc = db->driver->step (stmt, &fault, &local);
  if (rc != PA_DB_ERROR)
    return rc;
  note_failure (db, fault, local->message);
  g_propagate_error (error, g_steal_pointer (&local));
  return PA_DB_ERROR;
}

gboolean
pa_db_vrun (PaDb *db, GError **error, const char *sql, const char *types, va_list ap)
{
  g_autoptr (PaDbStmt) stmt = pa_db_vstmt (db, error, sql, types, ap);

  return stmt != NULL && pa_db_step (stmt, error) == PA_DB_DONE;
}

gboolean
pa_db_run (PaDb *db, GError **error, const char *sql, const char *types, ...)
{
  va_list ap;

  va_start (ap, types);
  gboolean ok = pa_db_vrun (db, error, sql, types, ap);
  va_end (ap);
  return ok;
}

gint64
pa_db_column_int64 (PaDbStmt *stmt, int col)
{
  return stmt->db->driver->column_int64 (stmt, col);
}

const char *
pa_db_column_text (PaDbStmt *stmt, int col)
{
  return stmt->db->driver->column_text (stmt, col);
}

PaDbType
pa_db_column_type (PaDbStmt *stmt, int col)
{
  return stmt->db->driver->column_type (stmt, col);
}

gint64
pa_db_changes (PaDb *db)
{
  return db->driver->changes (db);
}

/* ------------------------------------------------------- transactions */

/* A transaction-control statement (cached like any other). */
static gboolean
control (PaDb *db, const char *sql, GError **error)
{
  g_autoptr (PaDbStmt) stmt = pa_db_prepare (db, sql, error);

  return stmt != NULL && pa_db_step (stmt, error) == PA_DB_DONE;
}

gboolean
pa_db_begin (PaDb *db, GError **error)
{
  if (tx_lost (db, error))
    return FALSE;
  if (!control (db, db->depth == 0 ? db->driver->begin_sql : "SAVEPOINT pa", error))
    return FALSE;
  if (db->depth == 0)
    {
      db->failed_level = 0;
      g_clear_pointer (&db->failure, g_free);
    }
  db->depth++;
  return TRUE;
}

void
pa_db_rollback (PaDb *db)
{
  g_autoptr (GError) error = NULL;
  guint level = db->depth;

  if (level == 0)
    return;
  db->depth--;
  if (db->failed_level >= level)
    db->failed_level = 0;
  if (!db->driver->in_transaction (db))
    {
      /* the engine already rolled everything back */
      if (db->depth == 0)
        db->failed_level = 0;
      return;
    }
  if (level == 1 ? control (db, "ROLLBACK", &error)
                 : control (db, "ROLLBACK TO pa", &error) && control (db, "RELEASE pa", &error))
    return;
  g_warning ("%s: rolling back: %s", db->display, error->message);
}

gboolean
pa_db_commit (PaDb *db, GError **error)
{
  guint level = db->depth;

  g_return_val_if_fail (level > 0, FALSE);
  /* SQLite records a failure at level 1 (it may have undone more than the
   * statement), PostgreSQL at the level whose statement failed. */
  if (db->failed_level == level && db->driver->in_transaction (db))
    {
      /* A write of this level failed: whole or nothing. */
      g_set_error (error, PA_ERROR, PA_ERROR_STORE, "a write of the transaction failed: %s",
                   db->failure != NULL ? db->failure : "?");
      pa_db_rollback (db);
      return FALSE;
    }
  if (!db->driver->in_transaction (db))
    {
      db->depth--;
      if (db->depth == 0)
        db->failed_level = 0;
      g_set_error (error, PA_ERROR, PA_ERROR_STORE, "the transaction was aborted (%s)",
                   db->failure != NULL ? db->failure : "by the database");
      return FALSE;
    }
  if (!control (db, level == 1 ? "COMMIT" : "RELEASE pa", error))
    {
      pa_db_rollback (db);
      return FALSE;
    }
  db->depth--;
  return TRUE;
}

guint
pa_db_depth (PaDb *db)
{
  return db->depth;
}
