/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* For unit tests that run on both database engines: the PostgreSQL
 * database the environment gives (PA_TEST_PG_URI, a libpq URI of an empty
 * database the tests may fill and drop tables in), and emptying it between
 * cases.  Header-only: each test executable includes it once. */
#ifndef PA_TEST_DB_H
#define PA_TEST_DB_H

#include <stdio.h>
#include <string.h>

#include "db/pa-db.h"

/* Meson's exit status for a skipped test. */
#define PA_TEST_SKIP 77

/* With "postgres" as argv[1]: the URI of the test server, or exits 77 with
 * a message when the environment gives none.  NULL otherwise (SQLite).
 * argv[1] is removed so that g_test_init sees the usual arguments. */
static inline const char *
pa_test_db_pg_uri (int *argc, char **argv)
{
  if (*argc < 2 || strcmp (argv[1], "postgres") != 0)
    return NULL;
  memmove (argv + 1, argv + 2, sizeof (char *) * (size_t) (*argc - 1));
  (*argc)--;
  const char *uri = g_getenv ("PA_TEST_PG_URI");
  if (uri == NULL || uri[0] == '\0')
    {
      printf ("1..0 # SKIP PostgreSQL cases: PA_TEST_PG_URI is not set (a libpq URI of an "
              "empty database these tests may fill)\n");
      exit (PA_TEST_SKIP);
    }
  return uri;
}

/* Drops every table, function and the crypto schema the tests made. */
static inline void
pa_test_db_pg_reset (const char *uri)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PaDb) db = pa_db_open (uri, NULL, &error);

  g_assert_no_error (error);
  if (!pa_db_exec (db,
                   "DROP SCHEMA IF EXISTS crypto CASCADE;"
                   "DO $$ DECLARE r record; BEGIN"
                   " FOR r IN SELECT tablename FROM pg_tables WHERE schemaname = 'public' LOOP"
                   "  EXECUTE 'DROP TABLE IF EXISTS ' || quote_ident (r.tablename) || ' CASCADE';"
                   " END LOOP; END $$;"
                   "DROP FUNCTION IF EXISTS outbound_head_insert () CASCADE;"
                   "DROP FUNCTION IF EXISTS outbound_head_delete () CASCADE;",
                   &error))
    g_error ("emptying the test database: %s", error->message);
}

#endif
