/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Private to src/db: the connection and statement structures and the
 * driver table.  pa-db.c (cache, binding, transactions) calls a driver
 * only through PaDbDriver; each driver (pa-db-sqlite.c, pa-db-pg.c) uses
 * only this header, never the other driver nor pa-db.c. */
#ifndef PA_DB_PRIVATE_H
#define PA_DB_PRIVATE_H

#include "pa-db.h"

#include <libpq-fe.h>
#include <sqlite3.h>

#include "pa-common.h"

G_BEGIN_DECLS

typedef struct
{
  /* Opens db->lite or db->pg; the error names the target's display. */
  gboolean (*open) (PaDb *db, const char *target, const char *pg_schema, GError **error);
  void (*close) (PaDb *db);
  /* Before a statement at depth 0: a lost connection is re-established
   * (PostgreSQL), or the call fails naming the server. */
  gboolean (*ready) (PaDb *db, GError **error);
  gboolean (*prepare) (PaDbStmt *stmt, GError **error);
  void (*finalize) (PaDbStmt *stmt);
  /* Binds parameter `i` (from 1); `text` NULL binds NULL. */
  gboolean (*bind_text) (PaDbStmt *stmt, int i, const char *text, GError **error);
  gboolean (*bind_int64) (PaDbStmt *stmt, int i, gint64 value, GError **error);
  /* One step; *fault tells a failure of the storage (not of the
   * statement), which the storage-fault rule applies to. */
  PaDbStep (*step) (PaDbStmt *stmt, gboolean *fault, GError **error);
  void (*reset) (PaDbStmt *stmt);
  gint64 (*column_int64) (PaDbStmt *stmt, int col);
  const char *(*column_text) (PaDbStmt *stmt, int col);
  PaDbType (*column_type) (PaDbStmt *stmt, int col);
  gint64 (*changes) (PaDb *db);
  gboolean (*exec) (PaDb *db, const char *sql, gboolean *fault, GError **error);
  /* Whether the engine has a transaction open (FALSE while depth > 0: it
   * was aborted under us). */
  gboolean (*in_transaction) (PaDb *db);
  const char *begin_sql;
  gboolean (*get_version) (PaDb *db, int *out_version, GError **error);
  gboolean (*set_version) (PaDb *db, int version, GError **error);
  void (*set_max_value) (PaDb *db, int bytes);
} PaDbDriver;

struct _PaDb
{
  const PaDbDriver *driver;
  PaDbBackend backend;
  char *display;
  GHashTable *stmts; /* SQL text (owned) → PaDbStmt* (finalized on removal) */
  guint depth;
  /* The storage-fault rule: the level (1 = outermost) whose statement
   * failed, 0 when none; its message. */
  guint failed_level;
  char *failure;
  int max_value;

  sqlite3 *lite;

  PGconn *pg;
  guint pg_generation; /* bumped by each reconnection: statements re-prepare */
  guint pg_next_name;
  gint64 pg_changes;
};

struct _PaDbStmt
{
  PaDb *db;
  char *sql;

  sqlite3_stmt *lite;

  char *pg_name;
  char *pg_sql; /* with $n placeholders */
  int pg_nparams;
  char **pg_values; /* owned, pg_nparams */
  guint pg_generation;
  gboolean pg_prepared;
  PGresult *pg_res;
  int pg_row; /* the current row, -1 before the first */
};

extern const PaDbDriver pa_db_sqlite_driver;
extern const PaDbDriver pa_db_pg_driver;

G_END_DECLS

#endif
