/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The database abstraction under the bridge's store and the crypto store:
 * one connection to SQLite or PostgreSQL, prepared statements cached by
 * their SQL text, binding from a type string, stepping, column getters,
 * nesting transactions with the storage-fault rule, and multi-statement
 * execution for migrations.  SQL written for it uses `?` placeholders and
 * the dialect both engines accept (docs/store.md, "Dialect"). */
#ifndef PA_DB_H
#define PA_DB_H

#include <glib.h>
#include <stdarg.h>

G_BEGIN_DECLS

typedef struct _PaDb PaDb;
typedef struct _PaDbStmt PaDbStmt;

typedef enum
{
  PA_DB_SQLITE,
  PA_DB_POSTGRES,
} PaDbBackend;

/* What pa_db_step() returns. */
typedef enum
{
  PA_DB_ERROR,
  PA_DB_ROW,
  PA_DB_DONE,
} PaDbStep;

typedef enum
{
  PA_DB_NULL,
  PA_DB_INTEGER,
  PA_DB_TEXT,
} PaDbType;

/* ---- targets: what `database:` says --------------------------------- */

/* A target is a path (SQLite), "sqlite:PATH", or a libpq URI
 * ("postgres://…", "postgresql://…"). */
gboolean pa_db_target_is_postgres (const char *target);
/* The file of a SQLite target (without "sqlite:"), NULL for PostgreSQL. */
const char *pa_db_target_path (const char *target);
/* The target for a sibling database: with SQLite, `file` beside the
 * target's file; with PostgreSQL, the same database (the caller keeps its
 * tables apart with a schema). */
char *pa_db_target_sibling (const char *target, const char *file);
/* The target as it may be logged: a path, or "PostgreSQL database D on
 * host H" (never the user's password nor any other parameter). */
char *pa_db_target_display (const char *target);

/* ---- the connection -------------------------------------------------- */

/* Opens the target.  SQLite: the file is created owner-only (0600, its
 * directory 0700), ":memory:" gives a private in-memory database.
 * PostgreSQL: `pg_schema` (or NULL: the server's default) is created if
 * missing and is the connection's search_path, across reconnections.  A
 * server that cannot be reached fails here with its host named. */
PaDb *pa_db_open (const char *target, const char *pg_schema, GError **error);
void pa_db_close (PaDb *db);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PaDb, pa_db_close)

PaDbBackend pa_db_backend (PaDb *db);
/* The target's loggable name (pa_db_target_display). */
const char *pa_db_display (PaDb *db);
/* Values bound longer than this fail: with SQLite through its length
 * limit, with PostgreSQL at binding (PA_ERROR_STORE either way). */
void pa_db_set_max_value (PaDb *db, int bytes);

/* Runs `sql`, which may hold several statements and no parameters
 * (migrations, pragmas).  An empty string does nothing. */
gboolean pa_db_exec (PaDb *db, const char *sql, GError **error);

/* The schema version: SQLite's user_version, PostgreSQL's one-row table
 * schema_version (0 when it does not exist yet). */
gboolean pa_db_get_version (PaDb *db, int *out_version, GError **error);
/* Sets it; run inside the migration step's transaction. */
gboolean pa_db_set_version (PaDb *db, int version, GError **error);

/* ---- statements ------------------------------------------------------ */

/* The cached statement for `sql`, prepared on first use (PostgreSQL: once
 * per connection, again after a reconnection). */
PaDbStmt *pa_db_prepare (PaDb *db, const char *sql, GError **error);
/* Binds parameters 1…n from `types`: 't' text (NULL binds NULL), 'I'
 * gint64, 'i' int (also gboolean).  A text longer than `max_text` bytes (0:
 * no limit) fails with PA_ERROR_TOO_LARGE.  On failure the statement is
 * released. */
gboolean pa_db_vbind (PaDbStmt *stmt, const char *types, va_list ap, gsize max_text,
                      GError **error);
/* Binds parameter `i` (from 1) as text, NULL binding NULL: for callers
 * whose number of parameters is known at run time only. */
gboolean pa_db_bind_text (PaDbStmt *stmt, int i, const char *text, GError **error);
/* pa_db_prepare and pa_db_vbind in one: the statement, or NULL. */
PaDbStmt *pa_db_stmt (PaDb *db, GError **error, const char *sql, const char *types, ...);
/* The same with the parameters as a va_list (for wrappers). */
PaDbStmt *pa_db_vstmt (PaDb *db, GError **error, const char *sql, const char *types, va_list ap);
/* One step: PA_DB_ROW or PA_DB_DONE, or PA_DB_ERROR with `error` set. */
PaDbStep pa_db_step (PaDbStmt *stmt, GError **error);
/* Ends a use of the statement (reset, bindings cleared); it stays cached. */
void pa_db_release (PaDbStmt *stmt);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PaDbStmt, pa_db_release)
/* Runs a statement that returns no rows. */
gboolean pa_db_run (PaDb *db, GError **error, const char *sql, const char *types, ...);
/* The same with the parameters as a va_list (for wrappers). */
gboolean pa_db_vrun (PaDb *db, GError **error, const char *sql, const char *types, va_list ap);

/* Columns of the current row, from 0.  Text is valid until the next step
 * or release; integers read from booleans as 0/1. */
gint64 pa_db_column_int64 (PaDbStmt *stmt, int col);
const char *pa_db_column_text (PaDbStmt *stmt, int col);
PaDbType pa_db_column_type (PaDbStmt *stmt, int col);
/* Rows written by the last INSERT/UPDATE/DELETE run. */
gint64 pa_db_changes (PaDb *db);

/* ---- transactions ---------------------------------------------------- */

/* Transactions nest: the outermost level is BEGIN (BEGIN IMMEDIATE on
 * SQLite, taking the write lock up front), inner levels are SAVEPOINTs.
 * The storage-fault rule: when a statement of an open transaction fails
 * for want of storage (disk full, I/O, lock, lost connection; and on
 * PostgreSQL any failure, which aborts the transaction there) the level it
 * ran at cannot commit: its commit fails and rolls it back, even if the
 * caller carried on; rolling back that level (or an outer one) clears it. */
gboolean pa_db_begin (PaDb *db, GError **error);
/* Commits the innermost level; on failure that level is rolled back. */
gboolean pa_db_commit (PaDb *db, GError **error);
/* Undoes the innermost level.  No-op with no transaction open. */
void pa_db_rollback (PaDb *db);
/* Open levels: 0 none, 1 BEGIN, >1 savepoints. */
guint pa_db_depth (PaDb *db);

G_END_DECLS

#endif
