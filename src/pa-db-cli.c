/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* `passerelle db migrate --from sqlite:PATH --to postgres://…`: copies the
 * bridge's SQLite store and its crypto.db into an empty PostgreSQL
 * database, in one PostgreSQL transaction, then compares each table's row
 * count and says so table by table (docs/store.md, "Moving to
 * PostgreSQL").  Exit status: 0 copied, 1 usage, 2 a database cannot be
 * opened, 3 the target is not empty, 4 the copy or a count failed (nothing
 * is kept in the target then). */
#define G_LOG_DOMAIN "passerelle"

#include "pa-db-cli.h"

#include <stdio.h>

#include "crypto/pa-crypto-store.h"
#include "db/pa-db.h"
#include "store/pa-store.h"

enum
{
  EXIT_USAGE = 1,
  EXIT_OPEN = 2,
  EXIT_NOT_EMPTY = 3,
  EXIT_COPY = 4,
};

/* Tables filled by triggers from others: never copied, still counted. */
static gboolean
derived_table (const char *table)
{
  return g_str_equal (table, "outbound_heads");
}

/* Tables whose PostgreSQL seq stands for SQLite's rowid. */
static gboolean
rowid_table (const char *table)
{
  return g_str_equal (table, "shared_messages") || g_str_equal (table, "olm_sessions");
}

/* The names of the source's tables (SQLite's own excluded). */
static GPtrArray *
source_tables (PaDb *src, GError **error)
{
  g_autoptr (GPtrArray) out = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (PaDbStmt) stmt = pa_db_stmt (
      src, error,
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
      " ORDER BY name",
      "");
  PaDbStep rc = PA_DB_ERROR;

  while (stmt != NULL && (rc = pa_db_step (stmt, error)) == PA_DB_ROW)
    g_ptr_array_add (out, g_strdup (pa_db_column_text (stmt, 0)));
  return rc == PA_DB_DONE ? g_steal_pointer (&out) : NULL;
}

static gint64
count_rows (PaDb *db, const char *table, GError **error)
{
  g_autofree char *sql = g_strdup_printf ("SELECT count(*) FROM %s", table);
  g_autoptr (PaDbStmt) stmt = pa_db_stmt (db, error, sql, "");

  if (stmt == NULL || pa_db_step (stmt, error) != PA_DB_ROW)
    return -1;
  return pa_db_column_int64 (stmt, 0);
}

/* The highest seq SQLite ever gave in `table` (AUTOINCREMENT), 0 if none. */
static gint64
sqlite_sequence (PaDb *src, const char *table)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PaDbStmt) stmt
      = pa_db_stmt (src, &error, "SELECT seq FROM sqlite_sequence WHERE name = ?", "t", table);

  if (stmt == NULL || pa_db_step (stmt, &error) != PA_DB_ROW)
    return 0;
  return pa_db_column_int64 (stmt, 0);
}

static gboolean
has_identity (const char *table)
{
  static const char *const tables[]
      = { "inbound", "remote", "outbound", "quarantine", "shared_messages", "olm_sessions" };

  for (guint i = 0; i < G_N_ELEMENTS (tables); i++)
    if (g_str_equal (table, tables[i]))
      return TRUE;
  return FALSE;
}

/* Copies `table` of `src` into `target` (schema-qualified); its row count
 * in *copied. */
static gboolean
copy_table (PaDb *src, PaDb *dst, const char *table, const char *target, gint64 *copied,
            GError **error)
{
  g_autoptr (GPtrArray) cols = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *info = g_strdup_printf ("PRAGMA table_info (%s)", table);
  PaDbStep rc = PA_DB_ERROR;

  *copied = 0;
  {
    g_autoptr (PaDbStmt) stmt = pa_db_stmt (src, error, info, "");

    while (stmt != NULL && (rc = pa_db_step (stmt, error)) == PA_DB_ROW)
      g_ptr_array_add (cols, g_strdup (pa_db_column_text (stmt, 1)));
    if (rc != PA_DB_DONE)
      return FALSE;
  }
  g_autoptr (GString) select = g_string_new ("SELECT ");
  g_autoptr (GString) insert = g_string_new (NULL);
  g_autoptr (GString) values = g_string_new (NULL);

  g_string_append_printf (insert, "INSERT INTO %s (", target);
  for (guint i = 0; i < cols->len; i++)
    {
      const char *col = g_ptr_array_index (cols, i);

      g_string_append_printf (select, "%s%s", i > 0 ? ", " : "", col);
      g_string_append_printf (insert, "%s%s", i > 0 ? ", " : "", col);
      g_string_append (values, i > 0 ? ", ?" : "?");
    }
  if (rowid_table (table))
    {
      g_string_append (select, ", rowid");
      g_string_append (insert, ", seq");
      g_string_append (values, ", ?");
    }
  /* in seq order, so that triggers see the queues as they were */
  g_string_append_printf (select, " FROM %s%s", table,
                          has_identity (table) ? " ORDER BY rowid" : "");
  g_string_append_printf (insert, ") VALUES (%s)", values->str);

  int n = (int) cols->len + (rowid_table (table) ? 1 : 0);
  g_autoptr (PaDbStmt) rows = pa_db_stmt (src, error, select->str, "");

  rc = PA_DB_ERROR;
  while (rows != NULL && (rc = pa_db_step (rows, error)) == PA_DB_ROW)
    {
      PaDbStmt *ins = pa_db_prepare (dst, insert->str, error);

      if (ins == NULL)
        return FALSE;
      for (int i = 0; i < n; i++)
        if (!pa_db_bind_text (ins, i + 1, pa_db_column_text (rows, i), error))
          {
            pa_db_release (ins);
            return FALSE;
          }
      PaDbStep done = pa_db_step (ins, error);

      pa_db_release (ins);
      if (done != PA_DB_DONE)
        {
          g_prefix_error (error, "%s: ", table);
          return FALSE;
        }
      (*copied)++;
    }
  return rc == PA_DB_DONE;
}

/* Moves the target's identity past the source's highest seq, so that new
 * rows never reuse one (AUTOINCREMENT's promise). */
static gboolean
set_sequence (PaDb *src, PaDb *dst, const char *table, const char *target, GError **error)
{
  g_autofree char *sql
      = g_strdup_printf ("SELECT setval (pg_get_serial_sequence ('%s', 'seq'),"
                         " GREATEST ((SELECT max(seq) FROM %s), CAST (? AS BIGINT), 1))",
                         target, target);
  g_autoptr (PaDbStmt) stmt = pa_db_stmt (dst, error, sql, "I", sqlite_sequence (src, table));

  return stmt != NULL && pa_db_step (stmt, error) == PA_DB_ROW;
}

/* Copies every table of `src` into `dst` under `prefix` ("" or
 * "crypto."), prints the counts; the exit status, 0 when all match. */
static int
copy_all (PaDb *src, PaDb *dst, const char *prefix, gboolean check_only)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) tables = source_tables (src, &error);
  int status = 0;

  if (tables == NULL)
    {
      fprintf (stderr, "reading the tables of %s: %s\n", pa_db_display (src), error->message);
      return EXIT_COPY;
    }
  for (guint i = 0; i < tables->len; i++)
    {
      const char *table = g_ptr_array_index (tables, i);
      g_autofree char *target = g_strconcat (prefix, table, NULL);
      gint64 copied = 0, want, got;

      if (check_only)
        {
          if ((got = count_rows (dst, target, &error)) != 0)
            {
              fprintf (stderr, "the target is not empty: %s has %" G_GINT64_FORMAT " rows%s%s\n",
                       target, got, error != NULL ? ": " : "", error != NULL ? error->message : "");
              return got < 0 ? EXIT_OPEN : EXIT_NOT_EMPTY;
            }
          continue;
        }
      if (!derived_table (table)
          && (!copy_table (src, dst, table, target, &copied, &error)
              || (has_identity (table) && !set_sequence (src, dst, table, target, &error))))
        {
          fprintf (stderr, "copying %s: %s\n", target, error->message);
          return EXIT_COPY;
        }
      want = count_rows (src, table, NULL);
      got = count_rows (dst, target, NULL);
      printf ("%-28s %8" G_GINT64_FORMAT " rows in the source, %8" G_GINT64_FORMAT
              " in the target: %s\n",
              target, want, got, want == got && want >= 0 ? "ok" : "MISMATCH");
      if (want != got || want < 0)
        status = EXIT_COPY;
    }
  return status;
}

static int
migrate (const char *from, const char *crypto_from, const char *to)
{
  g_autoptr (GError) error = NULL;

  if (pa_db_target_is_postgres (from) || !pa_db_target_is_postgres (to))
    {
      fprintf (stderr, "db migrate copies a SQLite store (--from) into PostgreSQL (--to)\n");
      return EXIT_USAGE;
    }
  /* Both ends at the current schema: the source migrated if it is older,
   * the target's tables made (or found). */
  {
    g_autoptr (PaStore) s = pa_store_open (from, &error);
    g_autoptr (PaStore) d = s != NULL ? pa_store_open (to, &error) : NULL;

    if (d == NULL)
      {
        fprintf (stderr, "%s\n", error->message);
        return EXIT_OPEN;
      }
  }
  if (crypto_from != NULL)
    {
      g_autoptr (PaCryptoStore) s = pa_crypto_store_open (crypto_from, &error);
      g_autoptr (PaCryptoStore) d = s != NULL ? pa_crypto_store_open (to, &error) : NULL;

      if (d == NULL)
        {
          fprintf (stderr, "%s\n", error->message);
          return EXIT_OPEN;
        }
    }
  g_autoptr (PaDb) src = pa_db_open (from, NULL, &error);
  g_autoptr (PaDb) csrc
      = src != NULL && crypto_from != NULL ? pa_db_open (crypto_from, NULL, &error) : NULL;
  g_autoptr (PaDb) dst = error == NULL ? pa_db_open (to, NULL, &error) : NULL;
  if (dst == NULL)
    {
      fprintf (stderr, "%s\n", error->message);
      return EXIT_OPEN;
    }
  int status = copy_all (src, dst, "", TRUE);
  if (status == 0 && csrc != NULL)
    status = copy_all (csrc, dst, "crypto.", TRUE);
  if (status != 0)
    return status;

  printf ("copying %s%s%s into %s\n", pa_db_display (src), csrc != NULL ? " and " : "",
          csrc != NULL ? pa_db_display (csrc) : "", pa_db_display (dst));
  if (!pa_db_begin (dst, &error))
    {
      fprintf (stderr, "%s\n", error->message);
      return EXIT_COPY;
    }
  status = copy_all (src, dst, "", FALSE);
  if (status == 0 && csrc != NULL)
    status = copy_all (csrc, dst, "crypto.", FALSE);
  if (status != 0)
    {
      pa_db_rollback (dst);
      fprintf (stderr, "nothing was kept in the target\n");
      return status;
    }
  if (!pa_db_commit (dst, &error))
    {
      fprintf (stderr, "committing: %s\n", error->message);
      return EXIT_COPY;
    }
  printf ("done: every table has as many rows in the target as in the source\n");
  return 0;
}

int
pa_db_cli (int argc, char **argv)
{
  g_autofree char *from = NULL, *to = NULL, *crypto_from = NULL;
  gboolean no_crypto = FALSE;
  GOptionEntry entries[] = {
    { "from", 0, 0, G_OPTION_ARG_STRING, &from, "The SQLite store (PATH or sqlite:PATH)", "DB" },
    { "to", 0, 0, G_OPTION_ARG_STRING, &to, "The PostgreSQL database (postgres://…)", "URI" },
    { "crypto-from", 0, 0, G_OPTION_ARG_FILENAME, &crypto_from,
      "The crypto store (default: crypto.db beside --from, when it exists)", "PATH" },
    { "no-crypto", 0, 0, G_OPTION_ARG_NONE, &no_crypto, "Copy the bridge's store only", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) ctx
      = g_option_context_new ("migrate - copy a SQLite store into PostgreSQL");
  g_autoptr (GError) error = NULL;

  g_option_context_add_main_entries (ctx, entries, NULL);
  /* argv[1] is "db": parse from "migrate" on */
  if (argc < 3 || !g_str_equal (argv[2], "migrate"))
    {
      fprintf (stderr, "usage: passerelle db migrate --from sqlite:PATH --to postgres://…\n");
      return EXIT_USAGE;
    }
  argc--;
  argv++;
  if (!g_option_context_parse (ctx, &argc, &argv, &error) || from == NULL || to == NULL)
    {
      fprintf (stderr, "%s\n", error != NULL ? error->message : "--from and --to are needed");
      return EXIT_USAGE;
    }
  if (crypto_from == NULL && !no_crypto)
    {
      g_autofree char *beside = pa_db_target_sibling (from, "crypto.db");

      if (g_file_test (beside, G_FILE_TEST_EXISTS))
        crypto_from = g_steal_pointer (&beside);
    }
  if (no_crypto)
    g_clear_pointer (&crypto_from, g_free);
  return migrate (from, crypto_from, to);
}
