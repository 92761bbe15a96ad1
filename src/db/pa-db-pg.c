/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The PostgreSQL driver (libpq): `?` placeholders rewritten to `$n`
 * outside quotes, each statement prepared once per connection (PQprepare),
 * parameters and results in text form, a lost connection re-established
 * before the next statement outside a transaction (PQreset), and the
 * schema version in a one-row table.  Errors name the server, never the
 * connection string: it may hold a password. */
#define G_LOG_DOMAIN "passerelle-db"

#include "pa-db-private.h"

#include <stdlib.h>
#include <string.h>

#define BOOLOID 16
#define INT8OID 20
#define INT2OID 21
#define INT4OID 23

/* libpq messages end with a newline; GError messages do not. */
static void
set_pg_error (GError **error, const char *what, const char *message)
{
  g_autofree char *msg = g_strstrip (g_strdup (message != NULL ? message : "?"));

  g_set_error (error, PA_ERROR, PA_ERROR_STORE, "%s: %s", what, msg);
}

/* Notices ("already exists, skipping") are not for the log. */
static void
notice (void *data, const char *message)
{
}

static gboolean
pg_open (PaDb *db, const char *target, const char *pg_schema, GError **error)
{
  g_autofree char *options
      = pg_schema != NULL ? g_strdup_printf ("-c search_path=%s", pg_schema) : NULL;
  const char *keys[] = { "dbname", options != NULL ? "options" : NULL, NULL };
  const char *values[] = { target, options, NULL };

  db->pg = PQconnectdbParams (keys, values, 1);
  if (db->pg == NULL || PQstatus (db->pg) != CONNECTION_OK)
    {
      g_autofree char *what = g_strdup_printf ("cannot connect to %s", db->display);

      set_pg_error (error, what, db->pg != NULL ? PQerrorMessage (db->pg) : "out of memory");
      return FALSE;
    }
  PQsetNoticeProcessor (db->pg, notice, NULL);
  if (pg_schema != NULL)
    {
      g_autofree char *sql = g_strdup_printf ("CREATE SCHEMA IF NOT EXISTS %s", pg_schema);
      PGresult *res = PQexec (db->pg, sql);
      gboolean ok = PQresultStatus (res) == PGRES_COMMAND_OK;

      if (!ok)
        set_pg_error (error, "creating the schema", PQresultErrorMessage (res));
      PQclear (res);
      return ok;
    }
  return TRUE;
}

static void
pg_close (PaDb *db)
{
  g_clear_pointer (&db->pg, PQfinish);
}

static gboolean
pg_ready (PaDb *db, GError **error)
{
  if (PQstatus (db->pg) == CONNECTION_OK)
    return TRUE;
  PQreset (db->pg);
  if (PQstatus (db->pg) != CONNECTION_OK)
    {
      g_autofree char *what = g_strdup_printf ("%s is unreachable", db->display);

      set_pg_error (error, what, PQerrorMessage (db->pg));
      return FALSE;
    }
  g_message ("%s: connection re-established", db->display);
  db->pg_generation++;
  return TRUE;
}

/* `sql` with each `?` outside quotes, identifiers and comments replaced by
 * $1, $2…; their count in *n. */
static char *
rewrite_placeholders (const char *sql, int *n)
{
  GString *out = g_string_sized_new (strlen (sql) + 16);
  char quote = 0;

  *n = 0;
  for (const char *p = sql; *p != '\0'; p++)
    {
      if (quote != 0)
        {
          if (*p == quote)
            quote = 0;
          g_string_append_c (out, *p);
        }
      else if (*p == '\'' || *p == '"')
        {
          quote = *p;
          g_string_append_c (out, *p);
        }
      else if (p[0] == '-' && p[1] == '-')
        {
          const char *end = strchr (p, '\n');
          size_t len = end != NULL ? (size_t) (end - p) : strlen (p);

          g_string_append_len (out, p, (gssize) len);
          p += len - 1;
        }
      else if (*p == '?')
        g_string_append_printf (out, "$%d", ++*n);
      else
        g_string_append_c (out, *p);
    }
  return g_string_free (out, FALSE);
}

static gboolean
pg_prepare (PaDbStmt *stmt, GError **error)
{
  stmt->pg_sql = rewrite_placeholders (stmt->sql, &stmt->pg_nparams);
  stmt->pg_values = g_new0 (char *, stmt->pg_nparams + 1);
  stmt->pg_name = g_strdup_printf ("pa%u", ++stmt->db->pg_next_name);
  return TRUE;
}

/* Prepares the statement on this connection if it was not yet. */
static gboolean
pg_ensure_prepared (PaDbStmt *stmt, gboolean *fault, GError **error)
{
  PaDb *db = stmt->db;

  if (stmt->pg_prepared && stmt->pg_generation == db->pg_generation)
    return TRUE;
  PGresult *res = PQprepare (db->pg, stmt->pg_name, stmt->pg_sql, stmt->pg_nparams, NULL);
  gboolean ok = PQresultStatus (res) == PGRES_COMMAND_OK;

  if (!ok)
    {
      *fault = TRUE;
      set_pg_error (error, "preparing statement",
                    res != NULL ? PQresultErrorMessage (res) : PQerrorMessage (db->pg));
    }
  PQclear (res);
  stmt->pg_prepared = ok;
  stmt->pg_generation = db->pg_generation;
  return ok;
}

static void
pg_reset (PaDbStmt *stmt)
{
  g_clear_pointer (&stmt->pg_res, PQclear);
  stmt->pg_row = -1;
  for (int i = 0; i < stmt->pg_nparams; i++)
    g_clear_pointer (&stmt->pg_values[i], g_free);
}

static void
pg_finalize (PaDbStmt *stmt)
{
  /* the cache lives as long as the connection: the server forgets the
   * prepared statement with it */
  pg_reset (stmt);
  g_free (stmt->pg_values);
  g_free (stmt->pg_name);
  g_free (stmt->pg_sql);
}

static gboolean
pg_bind_text (PaDbStmt *stmt, int i, const char *text, GError **error)
{
  if (i > stmt->pg_nparams)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_STORE, "binding a value: no parameter %d", i);
      return FALSE;
    }
  g_free (stmt->pg_values[i - 1]);
  stmt->pg_values[i - 1] = g_strdup (text);
  return TRUE;
}

static gboolean
pg_bind_int64 (PaDbStmt *stmt, int i, gint64 value, GError **error)
{
  char buf[32];

  g_snprintf (buf, sizeof buf, "%" G_GINT64_FORMAT, value);
  return pg_bind_text (stmt, i, buf, error);
}

static PaDbStep
pg_step (PaDbStmt *stmt, gboolean *fault, GError **error)
{
  PaDb *db = stmt->db;

  if (stmt->pg_res == NULL)
    {
      if (!pg_ensure_prepared (stmt, fault, error))
        return PA_DB_ERROR;
      stmt->pg_res = PQexecPrepared (db->pg, stmt->pg_name, stmt->pg_nparams,
                                     (const char *const *) stmt->pg_values, NULL, NULL, 0);
      ExecStatusType st = PQresultStatus (stmt->pg_res);

      if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)
        {
          /* Inside a transaction any failure aborts it on the server. */
          *fault = TRUE;
          set_pg_error (error, "executing statement",
                        stmt->pg_res != NULL ? PQresultErrorMessage (stmt->pg_res)
                                             : PQerrorMessage (db->pg));
          g_clear_pointer (&stmt->pg_res, PQclear);
          return PA_DB_ERROR;
        }
      const char *n = PQcmdTuples (stmt->pg_res);

      db->pg_changes = n[0] != '\0' ? g_ascii_strtoll (n, NULL, 10) : 0;
      stmt->pg_row = -1;
    }
  stmt->pg_row++;
  return stmt->pg_row < PQntuples (stmt->pg_res) ? PA_DB_ROW : PA_DB_DONE;
}

static const char *
pg_column_text (PaDbStmt *stmt, int col)
{
  if (stmt->pg_res == NULL || PQgetisnull (stmt->pg_res, stmt->pg_row, col))
    return NULL;
  return PQgetvalue (stmt->pg_res, stmt->pg_row, col);
}

static gint64
pg_column_int64 (PaDbStmt *stmt, int col)
{
  const char *v = pg_column_text (stmt, col);

  if (v == NULL)
    return 0;
  if (v[0] == 't')
    return 1;
  if (v[0] == 'f')
    return 0;
  return g_ascii_strtoll (v, NULL, 10);
}

static PaDbType
pg_column_type (PaDbStmt *stmt, int col)
{
  if (pg_column_text (stmt, col) == NULL)
    return PA_DB_NULL;
  switch (PQftype (stmt->pg_res, col))
    {
    case INT8OID:
    case INT4OID:
    case INT2OID:
    case BOOLOID:
      return PA_DB_INTEGER;
    default:
      return PA_DB_TEXT;
    }
}

static gint64
pg_changes (PaDb *db)
{
  return db->pg_changes;
}

static gboolean
pg_exec (PaDb *db, const char *sql, gboolean *fault, GError **error)
{
  PGresult *res = PQexec (db->pg, sql);
  ExecStatusType st = PQresultStatus (res);
  gboolean ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY;

  if (!ok)
    {
      *fault = TRUE;
      set_pg_error (error, "executing statement",
                    res != NULL ? PQresultErrorMessage (res) : PQerrorMessage (db->pg));
    }
  PQclear (res);
  return ok;
}

static gboolean
pg_in_transaction (PaDb *db)
{
  switch (PQtransactionStatus (db->pg))
    {
    case PQTRANS_INTRANS:
    case PQTRANS_INERROR:
    case PQTRANS_ACTIVE:
      return TRUE;
    default:
      return FALSE;
    }
}

static gboolean
pg_get_version (PaDb *db, int *out_version, GError **error)
{
  PGresult *res = PQexec (db->pg, "SELECT to_regclass ('schema_version') IS NOT NULL");
  gboolean exists, ok = TRUE;

  if (PQresultStatus (res) != PGRES_TUPLES_OK)
    {
      set_pg_error (error, "reading the schema version", PQresultErrorMessage (res));
      PQclear (res);
      return FALSE;
    }
  exists = PQgetvalue (res, 0, 0)[0] == 't';
  PQclear (res);
  *out_version = 0;
  if (!exists)
    return TRUE;
  res = PQexec (db->pg, "SELECT version FROM schema_version");
  if (PQresultStatus (res) != PGRES_TUPLES_OK)
    {
      set_pg_error (error, "reading the schema version", PQresultErrorMessage (res));
      ok = FALSE;
    }
  else if (PQntuples (res) > 0)
    *out_version = (int) g_ascii_strtoll (PQgetvalue (res, 0, 0), NULL, 10);
  PQclear (res);
  return ok;
}

static gboolean
pg_set_version (PaDb *db, int version, GError **error)
{
  g_autofree char *sql = g_strdup_printf (
      "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);"
      " DELETE FROM schema_version; INSERT INTO schema_version (version) VALUES (%d)",
      version);
  gboolean fault = FALSE;

  return pg_exec (db, sql, &fault, error);
}

static void
pg_set_max_value (PaDb *db, int bytes)
{
  /* checked when binding (pa-db.c) */
}

const PaDbDriver pa_db_pg_driver = {
  .open = pg_open,
  .close = pg_close,
  .ready = pg_ready,
  .prepare = pg_prepare,
  .finalize = pg_finalize,
  .bind_text = pg_bind_text,
  .bind_int64 = pg_bind_int64,
  .step = pg_step,
  .reset = pg_reset,
  .column_int64 = pg_column_int64,
  .column_text = pg_column_text,
  .column_type = pg_column_type,
  .changes = pg_changes,
  .exec = pg_exec,
  .in_transaction = pg_in_transaction,
  .begin_sql = "BEGIN",
  .get_version = pg_get_version,
  .set_version = pg_set_version,
  .set_max_value = pg_set_max_value,
};
