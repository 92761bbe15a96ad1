/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The SQLite driver: a database file created owner-only, statements
 * prepared once (SQLITE_PREPARE_PERSISTENT), which failures are the
 * storage's (full, I/O, busy…) rather than the statement's, and the schema
 * version in PRAGMA user_version. */
#define G_LOG_DOMAIN "passerelle-db"

#include "pa-db-private.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <sys/stat.h>
#include <unistd.h>

static void
set_error (PaDb *db, GError **error, const char *what)
{
  g_set_error (error, PA_ERROR, PA_ERROR_STORE, "%s: %s", what, sqlite3_errmsg (db->lite));
}

/* Creates the parent directory (0700) and the database file with mode
 * 0600 (tightened if it existed), so a database holding tokens or keys is
 * never readable by others; SQLite gives its -wal/-shm files that mode. */
static gboolean
create_private_file (const char *path, GError **error)
{
  g_autofree char *dir = g_path_get_dirname (path);
  int fd;

  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      int saved = errno;

      g_set_error (error, PA_ERROR, PA_ERROR_STORE, "creating directory %s: %s", dir,
                   g_strerror (saved));
      return FALSE;
    }
  fd = g_open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    {
      int saved = errno;

      g_set_error (error, PA_ERROR, PA_ERROR_STORE, "opening %s: %s", path, g_strerror (saved));
      return FALSE;
    }
  if (fchmod (fd, 0600) != 0)
    g_warning ("could not restrict %s to mode 0600: %s", path, g_strerror (errno));
  close (fd);
  return TRUE;
}

static gboolean
lite_open (PaDb *db, const char *path, const char *pg_schema, GError **error)
{
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_EXRESCODE;

  if (g_strcmp0 (path, ":memory:") != 0 && !create_private_file (path, error))
    return FALSE;
  if (sqlite3_open_v2 (path, &db->lite, flags, NULL) != SQLITE_OK)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_STORE, "opening %s: %s", path,
                   db->lite != NULL ? sqlite3_errmsg (db->lite) : "out of memory");
      return FALSE;
    }
  sqlite3_extended_result_codes (db->lite, 1);
  sqlite3_busy_timeout (db->lite, 5000);
  return TRUE;
}

static void
lite_close (PaDb *db)
{
  if (db->lite != NULL && sqlite3_close (db->lite) != SQLITE_OK)
    g_warning ("closing %s: %s", db->display, sqlite3_errmsg (db->lite));
  db->lite = NULL;
}

static gboolean
lite_ready (PaDb *db, GError **error)
{
  return TRUE;
}

static gboolean
lite_prepare (PaDbStmt *stmt, GError **error)
{
  if (sqlite3_prepare_v3 (stmt->db->lite, stmt->sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt->lite,
                          NULL)
      != SQLITE_OK)
    {
      set_error (stmt->db, error, "preparing statement");
      return FALSE;
    }
  return TRUE;
}

static void
lite_finalize (PaDbStmt *stmt)
{
  sqlite3_finalize (stmt->lite);
}

static gboolean
lite_bind_text (PaDbStmt *stmt, int i, const char *text, GError **error)
{
  int rc = text != NULL ? sqlite3_bind_text (stmt->lite, i, text, -1, SQLITE_TRANSIENT)
                        : sqlite3_bind_null (stmt->lite, i);

  if (rc == SQLITE_OK)
    return TRUE;
  set_error (stmt->db, error, "binding a value");
  return FALSE;
}

static gboolean
lite_bind_int64 (PaDbStmt *stmt, int i, gint64 value, GError **error)
{
  if (sqlite3_bind_int64 (stmt->lite, i, value) == SQLITE_OK)
    return TRUE;
  set_error (stmt->db, error, "binding a value");
  return FALSE;
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

static PaDbStep
lite_step (PaDbStmt *stmt, gboolean *fault, GError **error)
{
  int rc = sqlite3_step (stmt->lite);

  if (rc == SQLITE_ROW)
    return PA_DB_ROW;
  if (rc == SQLITE_DONE)
    return PA_DB_DONE;
  *fault = storage_fault (sqlite3_errcode (stmt->db->lite));
  set_error (stmt->db, error, "executing statement");
  return PA_DB_ERROR;
}

static void
lite_reset (PaDbStmt *stmt)
{
  sqlite3_reset (stmt->lite);
  sqlite3_clear_bindings (stmt->lite);
}

static gint64
lite_column_int64 (PaDbStmt *stmt, int col)
{
  return sqlite3_column_int64 (stmt->lite, col);
}

static const char *
lite_column_text (PaDbStmt *stmt, int col)
{
  return (const char *) sqlite3_column_text (stmt->lite, col);
}

static PaDbType
lite_column_type (PaDbStmt *stmt, int col)
{
  switch (sqlite3_column_type (stmt->lite, col))
    {
    case SQLITE_NULL:
      return PA_DB_NULL;
    case SQLITE_INTEGER:
      return PA_DB_INTEGER;
    default:
      return PA_DB_TEXT;
    }
}

static gint64
lite_changes (PaDb *db)
{
  return sqlite3_changes (db->lite);
}

static gboolean
lite_exec (PaDb *db, const char *sql, gboolean *fault, GError **error)
{
  char *msg = NULL;

  if (sqlite3_exec (db->lite, sql, NULL, NULL, &msg) == SQLITE_OK)
    return TRUE;
  *fault = storage_fault (sqlite3_errcode (db->lite));
  g_set_error_literal (error, PA_ERROR, PA_ERROR_STORE,
                       msg != NULL ? msg : sqlite3_errmsg (db->lite));
  sqlite3_free (msg);
  return FALSE;
}

static gboolean
lite_in_transaction (PaDb *db)
{
  return !sqlite3_get_autocommit (db->lite);
}

static gboolean
lite_get_version (PaDb *db, int *out_version, GError **error)
{
  sqlite3_stmt *stmt = NULL;
  gboolean ok = FALSE;

  if (sqlite3_prepare_v2 (db->lite, "PRAGMA user_version", -1, &stmt, NULL) == SQLITE_OK
      && sqlite3_step (stmt) == SQLITE_ROW)
    {
      *out_version = sqlite3_column_int (stmt, 0);
      ok = TRUE;
    }
  else
    set_error (db, error, "reading the schema version");
  sqlite3_finalize (stmt);
  return ok;
}

static gboolean
lite_set_version (PaDb *db, int version, GError **error)
{
  g_autofree char *sql = g_strdup_printf ("PRAGMA user_version = %d", version);
  gboolean fault = FALSE;

  return lite_exec (db, sql, &fault, error);
}

static void
lite_set_max_value (PaDb *db, int bytes)
{
  sqlite3_limit (db->lite, SQLITE_LIMIT_LENGTH, bytes);
}

const PaDbDriver pa_db_sqlite_driver = {
  .open = lite_open,
  .close = lite_close,
  .ready = lite_ready,
  .prepare = lite_prepare,
  .finalize = lite_finalize,
  .bind_text = lite_bind_text,
  .bind_int64 = lite_bind_int64,
  .step = lite_step,
  .reset = lite_reset,
  .column_int64 = lite_column_int64,
  .column_text = lite_column_text,
  .column_type = lite_column_type,
  .changes = lite_changes,
  .exec = lite_exec,
  .in_transaction = lite_in_transaction,
  .begin_sql = "BEGIN IMMEDIATE",
  .get_version = lite_get_version,
  .set_version = lite_set_version,
  .set_max_value = lite_set_max_value,
};
