/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Unit tests for the SQLite store: schema migrations, the durable queues
 * (inbound, remote, outbound) and their dedup, the row tables, nested
 * transactions, and crash safety under SIGKILL. */
#define G_LOG_DOMAIN "passerelle-store-test"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "pa-common.h"
#include "store/pa-store.h"
#include "store/pa-store-private.h"
#include "../pa-test-db.h"

/* The PostgreSQL database of this run, NULL when the run is SQLite's. */
static const char *pg_uri;

typedef struct {
  char *dir;
  char *path; /* database inside a not-yet-existing subdirectory */
} Fixture;

static void
fixture_setup (Fixture *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  fx->dir = g_dir_make_tmp ("pa-store-XXXXXX", &error);
  g_assert_no_error (error);
  if (pg_uri != NULL)
    {
      pa_test_db_pg_reset (pg_uri);
      fx->path = g_strdup (pg_uri);
    }
  else
    fx->path = g_build_filename (fx->dir, "sub", "passerelle.db", NULL);
}

static void
rm_rf (const char *path)
{
  GDir *dir = g_dir_open (path, 0, NULL);

  if (dir != NULL)
    {
      const char *name;

      while ((name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);

          rm_rf (child);
        }
      g_dir_close (dir);
      g_rmdir (path);
    }
  else
    g_unlink (path);
}

static void
fixture_teardown (Fixture *fx, gconstpointer data)
{
  rm_rf (fx->dir);
  g_free (fx->dir);
  g_free (fx->path);
}

static PaStore *
open_store (Fixture *fx)
{
  g_autoptr (GError) error = NULL;
  PaStore *store = pa_store_open (fx->path, &error);

  g_assert_no_error (error);
  g_assert_nonnull (store);
  return store;
}

/* Runs SQL on a separate raw connection (to tamper with the database). */
static void
raw_exec (Fixture *fx, const char *sql)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PaDb) db = pa_db_open (fx->path, NULL, &error);

  g_assert_no_error (error);
  if (!pa_db_exec (db, sql, &error))
    g_error ("%s: %s", sql, error->message);
}

/* The first column of the first row, read on a separate connection. */
static char *
raw_text (Fixture *fx, const char *sql)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PaDb) db = pa_db_open (fx->path, NULL, &error);
  g_assert_no_error (error);
  g_autoptr (PaDbStmt) stmt = pa_db_stmt (db, &error, sql, "");

  g_assert_no_error (error);
  g_assert_cmpint (pa_db_step (stmt, &error), ==, PA_DB_ROW);
  return g_strdup (pa_db_column_text (stmt, 0));
}

static gint64
raw_int (Fixture *fx, const char *sql)
{
  g_autofree char *text = raw_text (fx, sql);

  return text != NULL ? g_ascii_strtoll (text, NULL, 10) : 0;
}

static void
assert_consistent (PaStore *store)
{
  g_autoptr (GError) error = NULL;

  g_assert_true (pa_store_check (store, &error));
  g_assert_no_error (error);
}

/* ------------------------------------------------------------ schema */

static void
test_migrations (Fixture *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *wal = g_strconcat (fx->path, "-wal", NULL);
  g_autofree char *garbage = g_build_filename (fx->dir, "garbage.db", NULL);
  PaStore *store;
  GStatBuf st;

  /* fresh: the parent directory is created, every step runs */
  store = open_store (fx);
  g_assert_cmpint (pa_store_schema_version (store), >=, 1);
  g_assert_cmpuint (pa_store_migrations_run (store), ==, pa_store_schema_version (store));
  g_assert_true (pa_store_kv_set (store, "k", "v", &error));
  g_assert_no_error (error);
  assert_consistent (store);

  /* the database and its WAL hold secrets: owner-only */
  g_assert_cmpint (g_stat (fx->path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  g_assert_cmpint (g_stat (wal, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  pa_store_close (store);

  g_assert_cmpint (raw_int (fx, "PRAGMA user_version"), ==, 7);
  {
    g_autofree char *mode = raw_text (fx, "PRAGMA journal_mode");

    g_assert_cmpstr (mode, ==, "wal");
  }

  /* reopen: nothing runs, data is there */
  store = open_store (fx);
  g_assert_cmpuint (pa_store_migrations_run (store), ==, 0);
  g_assert_cmpint (pa_store_schema_version (store), ==, 7);
  {
    g_autofree char *v = pa_store_kv_get (store, "k");

    g_assert_cmpstr (v, ==, "v");
  }
  pa_store_close (store);

  /* a database from a newer release is refused, and left untouched */
  raw_exec (fx, "PRAGMA user_version = 99");
  store = pa_store_open (fx->path, &error);
  g_assert_null (store);
  g_assert_error (error, PA_ERROR, PA_ERROR_STORE);
  g_assert_nonnull (strstr (error->message, "newer"));
  g_assert_nonnull (strstr (error->message, "99"));
  g_clear_error (&error);
  g_assert_cmpint (raw_int (fx, "PRAGMA user_version"), ==, 99);

  /* not a database at all */
  g_assert_true (g_file_set_contents (garbage, "this is not sqlite, just text padding it out "
                                      "to more than a header's worth of bytes........",
                                      -1, NULL));
  store = pa_store_open (garbage, &error);
  g_assert_null (store);
  g_assert_error (error, PA_ERROR, PA_ERROR_STORE);
}

static void
test_memory (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PaStore) store = pa_store_open (":memory:", &error);
  g_autofree char *v = NULL;

  g_assert_no_error (error);
  g_assert_true (pa_store_kv_set (store, "a", "b", &error));
  v = pa_store_kv_get (store, "a");
  g_assert_cmpstr (v, ==, "b");
}

/* ------------------------------------------------------ transactions */

/* A statement that fails for want of space (SQLITE_FULL, here from a page
 * limit) fails the whole transaction at its commit, even when the caller
 * carried on and later statements succeeded: a group commit is whole or
 * nothing.  The next transaction starts clean. */
static void
test_write_failure (Fixture *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  PaStore *store = open_store (fx);
  g_autofree char *limit = NULL;
  {
    g_autoptr (PaDbStmt) st = pa_db_stmt (store->db, &error, "PRAGMA page_count", "");
    g_assert_cmpint (pa_db_step (st, &error), ==, PA_DB_ROW);
    limit = g_strdup_printf ("PRAGMA max_page_count = %d", (int) pa_db_column_int64 (st, 0) + 4);
  }
  g_assert_true (pa_db_exec (store->db, limit, &error));

  g_autofree char *big = g_strnfill (200 * 1024, 'x');
  g_assert_true (pa_store_begin (store, &error));
  g_assert_true (pa_store_kv_set (store, "before", "1", &error));
  g_assert_false (pa_store_kv_set (store, "big", big, &error));
  g_assert_nonnull (strstr (error->message, "full"));
  g_clear_error (&error);
  /* SQLite undid that statement, or the whole transaction: either way a
   * later write is not committed, neither inside the transaction nor on its
   * own. */
  pa_store_kv_set (store, "after", "1", &error);
  g_clear_error (&error);
  g_assert_false (pa_store_commit (store, &error));
  g_clear_error (&error);
  g_autofree char *before = pa_store_kv_get (store, "before");
  g_autofree char *after = pa_store_kv_get (store, "after");
  g_assert_null (before);
  g_assert_null (after);

  g_assert_true (pa_store_begin (store, &error));
  g_assert_true (pa_store_kv_set (store, "next", "1", &error));
  g_assert_true (pa_store_commit (store, &error));
  g_autofree char *next = pa_store_kv_get (store, "next");
  g_assert_cmpstr (next, ==, "1");
  /* Outside a transaction a failure is the statement's alone. */
  g_assert_false (pa_store_kv_set (store, "big", big, &error));
  g_clear_error (&error);
  g_assert_true (pa_store_kv_set (store, "alone", "1", &error));
  pa_store_close (store);
}

static void
test_nesting (Fixture *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PaStore) store = open_store (fx);
  g_autoptr (json_t) events = json_pack ("[{s:s}]", "type", "m.room.message");
  gboolean dup = TRUE;
  char *v;

  /* inner rollback keeps the outer work; functions with their own
   * transaction (txn_accept) nest inside an explicit one */
  g_assert_true (pa_store_begin (store, &error));
  g_assert_true (pa_store_kv_set (store, "outer", "1", &error));
  g_assert_true (pa_store_begin (store, &error));
  g_assert_true (pa_store_kv_set (store, "inner", "1", &error));
  pa_store_rollback (store);
  g_assert_true (pa_store_txn_accept (store, "t-nested", events, &dup, &error));
  g_assert_no_error (error);
  g_assert_false (dup);
  g_assert_true (pa_store_commit (store, &error));
  g_assert_no_error (error);

  v = pa_store_kv_get (store, "outer");
  g_assert_cmpstr (v, ==, "1");
  g_free (v);
  v = pa_store_kv_get (store, "inner");
  g_assert_null (v);
  g_assert_cmpint (pa_store_inbound_count (store), ==, 1);

  /* outer rollback undoes the nested txn_accept too: not a duplicate later */
  g_assert_true (pa_store_begin (store, &error));
  g_assert_true (pa_store_txn_accept (store, "t-undone", events, &dup, &error));
  g_assert_false (dup);
  pa_store_rollback (store);
  g_assert_cmpint (pa_store_inbound_count (store), ==, 1);
  g_assert_true (pa_store_txn_accept (store, "t-undone", events, &dup, &error));
  g_assert_false (dup);
  g_assert_cmpint (pa_store_inbound_count (store), ==, 2);

  /* a rolled-back event's seq may be given again: peek must then return
   * the event stored under it, not the one rolled back */
  {
    g_autoptr (json_t) undone = json_pack ("[{s:s}]", "type", "undone");
    g_autoptr (json_t) kept = json_pack ("[{s:s}]", "type", "kept");
    g_autoptr (json_t) rows = NULL;

    g_assert_true (pa_store_begin (store, &error));
    g_assert_true (pa_store_txn_accept (store, "t-stale", undone, &dup, &error));
    pa_store_rollback (store);
    g_assert_true (pa_store_txn_accept (store, "t-kept", kept, &dup, &error));
    g_assert_no_error (error);
    rows = pa_store_inbound_peek (store, 10, &error);
    g_assert_no_error (error);
    g_assert_cmpint (json_array_size (rows), ==, 3);
    g_assert_true (json_equal (json_object_get (json_array_get (rows, 2), "event"),
                               json_array_get (kept, 0)));
    g_assert_true (pa_store_inbound_done (
        store, json_integer_value (json_object_get (json_array_get (rows, 2), "seq")), &error));
    g_assert_cmpint (pa_store_inbound_count (store), ==, 2);
  }

  /* a failing statement inside an explicit transaction leaves it usable
   * on SQLite; on PostgreSQL it aborts it: whole or nothing */
  g_assert_true (pa_store_begin (store, &error));
  g_assert_true (pa_store_management_put (store, "@a:x", "!m:x", &error));
  g_assert_false (pa_store_management_put (store, "@b:x", "!m:x", &error));
  g_assert_error (error, PA_ERROR, PA_ERROR_STORE);
  g_assert_nonnull (strstr (error->message, pg_uri != NULL ? "unique" : "UNIQUE"));
  g_clear_error (&error);
  if (pg_uri != NULL)
    {
      g_assert_false (pa_store_kv_set (store, "after", "1", &error));
      g_clear_error (&error);
      g_assert_false (pa_store_commit (store, &error));
      g_clear_error (&error);
      g_assert_null (pa_store_management_room (store, "@a:x"));
      g_assert_true (pa_store_begin (store, &error));
      g_assert_true (pa_store_management_put (store, "@a:x", "!m:x", &error));
    }
  g_assert_true (pa_store_kv_set (store, "after", "1", &error));
  g_assert_true (pa_store_commit (store, &error));
  g_assert_no_error (error);
  v = pa_store_management_room (store, "@a:x");
  g_assert_cmpstr (v, ==, "!m:x");
  g_free (v);

  /* rollback with nothing open is a no-op */
  pa_store_rollback (store);
  assert_consistent (store);
}

/* ----------------------------------------------------------- inbound */

static void
test_inbound (Fixture *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (json_t) events = json_pack ("[{s:s, s:i}, {s:s, s:i}]", "type", "a", "n", 1,
                                         "type", "b", "n", 2);
  g_autoptr (json_t) more = json_pack ("[{s:s, s:i}]", "type", "c", "n", 3);
  g_autoptr (json_t) not_array = json_object ();
  g_autoptr (json_t) empty = json_array ();
  g_autoptr (json_t) peek = NULL;
  PaStore *store = open_store (fx);
  gboolean dup = TRUE;
  gint64 first;

  g_assert_true (pa_store_txn_accept (store, "txn1", events, &dup, &error));
  g_assert_no_error (error);
  g_assert_false (dup);
  g_assert_true (pa_store_txn_accept (store, "txn2", more, &dup, &error));
  g_assert_false (dup);
  g_assert_true (pa_store_txn_accept (store, "txn1", more, &dup, &error));
  g_assert_true (dup);
  g_assert_cmpint (pa_store_inbound_count (store), ==, 3);

  g_assert_false (pa_store_txn_accept (store, "txn3", not_array, &dup, &error));
  g_assert_error (error, PA_ERROR, PA_ERROR_JSON);
  g_clear_error (&error);
  pa_store_close (store);

  /* duplicate detection survives a restart */
  store = open_store (fx);
  g_assert_true (pa_store_txn_accept (store, "txn2", events, &dup, &error));
  g_assert_true (dup);
  g_assert_true (pa_store_txn_accept (store, "txn3", empty, &dup, &error));
  g_assert_false (dup);
  g_assert_true (pa_store_txn_accept (store, "txn3", events, &dup, &error));
  g_assert_true (dup);
  g_assert_cmpint (pa_store_inbound_count (store), ==, 3);

  /* order is arrival order, across transactions */
  peek = pa_store_inbound_peek (store, 10, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (json_array_size (peek), ==, 3);
  for (size_t i = 0; i < 3; i++)
    {
      json_t *entry = json_array_get (peek, i);

      g_assert_cmpint (json_integer_value (json_object_get (json_object_get (entry, "event"),
                                                            "n")), ==, (json_int_t) i + 1);
      if (i > 0)
        g_assert_cmpint (json_integer_value (json_object_get (entry, "seq")), >,
                         json_integer_value (json_object_get (json_array_get (peek, i - 1),
                                                              "seq")));
    }
  first = json_integer_value (json_object_get (json_array_get (peek, 0), "seq"));
  g_clear_pointer (&peek, json_decref);

  peek = pa_store_inbound_peek (store, 1, &error);
  g_assert_cmpuint (json_array_size (peek), ==, 1);
  g_clear_pointer (&peek, json_decref);

  g_assert_true (pa_store_inbound_done (store, first, &error));
  peek = pa_store_inbound_peek (store, 10, &error);
  g_assert_cmpuint (json_array_size (peek), ==, 2);
  g_assert_cmpstr (json_string_value (json_object_get (
                     json_object_get (json_array_get (peek, 0), "event"), "type")), ==, "b");
  g_assert_cmpint (pa_store_inbound_count (store), ==, 2);
  pa_store_close (store);
}

/* ------------------------------------------------------------ remote */

static void
test_remote (Fixture *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (json_t) peek = NULL;
  PaStore *store = open_store (fx);
  gboolean dup = TRUE;
  gint64 s1, s2, s3;
  const char *key = "login\x1f" "chat\x1f" "m1\x1f" "message";

  s1 = pa_store_remote_add (store, "login", key, "{\"n\":1}", &dup, &error);
  g_assert_no_error (error);
  g_assert_cmpint (s1, >, 0);
  g_assert_false (dup);
  s2 = pa_store_remote_add (store, "login", key, "{\"n\":99}", &dup, &error);
  g_assert_no_error (error);
  g_assert_cmpint (s2, ==, 0);
  g_assert_true (dup);
  /* no key: never a duplicate */
  s2 = pa_store_remote_add (store, "login", NULL, "{\"n\":2}", &dup, &error);
  g_assert_false (dup);
  s3 = pa_store_remote_add (store, "other", NULL, "{\"n\":3}", &dup, &error);
  g_assert_false (dup);
  g_assert_cmpint (s1, <, s2);
  g_assert_cmpint (s2, <, s3);
  g_assert_cmpint (pa_store_remote_count (store), ==, 3);

  /* peek returns JSON strings: refuse what cannot be one */
  g_assert_cmpint (pa_store_remote_add (store, "login", NULL, "{\"a\":\"\xff\"}", &dup, &error),
                   ==, -1);
  g_assert_error (error, PA_ERROR, PA_ERROR_JSON);
  g_clear_error (&error);
  g_assert_cmpint (pa_store_remote_count (store), ==, 3);

  peek = pa_store_remote_peek (store, 2, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (json_array_size (peek), ==, 2);
  g_assert_cmpint (json_integer_value (json_object_get (json_array_get (peek, 0), "seq")), ==,
                   s1);
  g_assert_cmpstr (json_string_value (json_object_get (json_array_get (peek, 0), "event")), ==,
                   "{\"n\":1}");
  g_assert_cmpstr (json_string_value (json_object_get (json_array_get (peek, 1), "login_id")),
                   ==, "login");
  g_clear_pointer (&peek, json_decref);

  /* once bridged, the key is still known, also after a restart */
  g_assert_true (pa_store_remote_done (store, s1, &error));
  pa_store_close (store);
  store = open_store (fx);
  g_assert_cmpint (pa_store_remote_add (store, "login", key, "{}", &dup, &error), ==, 0);
  g_assert_true (dup);
  g_assert_cmpint (pa_store_remote_count (store), ==, 2);
  peek = pa_store_remote_peek (store, 10, &error);
  g_assert_cmpint (json_integer_value (json_object_get (json_array_get (peek, 0), "seq")), ==,
                   s2);
  g_assert_cmpstr (json_string_value (json_object_get (json_array_get (peek, 1), "login_id")),
                   ==, "other");
  pa_store_close (store);

  /* a week later the marker is pruned at open */
  raw_exec (fx, "UPDATE remote_seen SET at = 0");
  store = open_store (fx);
  g_assert_cmpint (pa_store_remote_add (store, "login", key, "{}", &dup, &error), >, s3);
  g_assert_false (dup);
  pa_store_close (store);
}

/* ---------------------------------------------------------- outbound */

static gint64
add_item (PaStore *store, const char *txn_id, const char *key, gint64 not_before,
          gboolean *out_dup)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = g_strdup_printf ("/_matrix/client/v3/rooms/%s/send/m.room.message/%s",
                                           key, txn_id);
  PaOutboundItem item = {
    .txn_id = (char *) txn_id,
    .queue_key = (char *) key,
    .method = (char *) "PUT",
    .path = path,
    .user_id = (char *) "@ghost:x",
    .ts = 1234,
    .body = (char *) "{\"body\":\"hi\"}",
    .on_done = NULL,
    .not_before_ms = not_before,
  };
  gint64 seq = pa_store_outbound_add (store, &item, out_dup, &error);

  g_assert_no_error (error);
  return seq;
}

static GPtrArray *
ready (PaStore *store, GHashTable *busy, gint64 now, guint limit)
{
  g_autoptr (GError) error = NULL;
  GPtrArray *items = pa_store_outbound_ready (store, busy, now, limit, &error);

  g_assert_no_error (error);
  g_assert_nonnull (items);
  return items;
}

static void
test_outbound (Fixture *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GHashTable) busy = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GPtrArray) items = NULL;
  PaStore *store = open_store (fx);
  gboolean dup = TRUE;
  gint64 a1, b1, a2, c1, b2;
  PaOutboundItem *it;

  g_assert_cmpint (pa_store_outbound_next_due (store), ==, -1);
  a1 = add_item (store, "ta1", "!a", 0, &dup);
  g_assert_false (dup);
  b1 = add_item (store, "tb1", "!b", 0, &dup);
  a2 = add_item (store, "ta2", "!a", 0, &dup);
  c1 = add_item (store, "tc1", "!c", 500, &dup);
  b2 = add_item (store, "tb2", "!b", 0, &dup);
  g_assert_cmpint (a1, <, b1);
  g_assert_cmpint (b1, <, a2);
  g_assert_cmpint (a2, <, c1);
  g_assert_cmpint (c1, <, b2);
  g_assert_cmpint (pa_store_outbound_count (store), ==, 5);

  /* re-adding a queued txn id is a no-op */
  g_assert_cmpint (add_item (store, "ta2", "!a", 0, &dup), ==, 0);
  g_assert_true (dup);
  g_assert_cmpint (pa_store_outbound_count (store), ==, 5);

  /* heads only, oldest first, due only; all fields round-trip */
  items = ready (store, NULL, 100, 10);
  g_assert_cmpuint (items->len, ==, 2);
  it = g_ptr_array_index (items, 0);
  g_assert_cmpint (it->seq, ==, a1);
  g_assert_cmpstr (it->txn_id, ==, "ta1");
  g_assert_cmpstr (it->queue_key, ==, "!a");
  g_assert_cmpstr (it->method, ==, "PUT");
  g_assert_cmpstr (it->path, ==, "/_matrix/client/v3/rooms/!a/send/m.room.message/ta1");
  g_assert_cmpstr (it->user_id, ==, "@ghost:x");
  g_assert_cmpint (it->ts, ==, 1234);
  g_assert_cmpstr (it->body, ==, "{\"body\":\"hi\"}");
  g_assert_null (it->on_done);
  g_assert_cmpint (it->attempts, ==, 0);
  g_assert_cmpint (((PaOutboundItem *) g_ptr_array_index (items, 1))->seq, ==, b1);
  g_clear_pointer (&items, g_ptr_array_unref);

  items = ready (store, NULL, 500, 10);
  g_assert_cmpuint (items->len, ==, 3);
  g_assert_cmpint (((PaOutboundItem *) g_ptr_array_index (items, 2))->seq, ==, c1);
  g_clear_pointer (&items, g_ptr_array_unref);

  items = ready (store, NULL, 500, 1);
  g_assert_cmpuint (items->len, ==, 1);
  g_clear_pointer (&items, g_ptr_array_unref);
  items = ready (store, NULL, 500, 0);
  g_assert_cmpuint (items->len, ==, 0);
  g_clear_pointer (&items, g_ptr_array_unref);

  /* a busy key is skipped, not blocking the others */
  g_hash_table_add (busy, (gpointer) "!a");
  items = ready (store, busy, 100, 10);
  g_assert_cmpuint (items->len, ==, 1);
  g_assert_cmpint (((PaOutboundItem *) g_ptr_array_index (items, 0))->seq, ==, b1);
  g_clear_pointer (&items, g_ptr_array_unref);
  g_hash_table_remove_all (busy);

  /* backoff on a head holds its whole key back */
  g_assert_cmpint (pa_store_outbound_next_due (store), ==, 0);
  g_assert_true (pa_store_outbound_retry (store, a1, 1000, &error));
  g_assert_no_error (error);
  g_assert_true (pa_store_outbound_retry (store, b1, 700, &error));
  g_assert_true (pa_store_outbound_retry (store, b1, 800, &error));
  /* next_due considers heads: a2 (not_before 0) waits behind a1 */
  g_assert_cmpint (pa_store_outbound_next_due (store), ==, 500);
  items = ready (store, NULL, 600, 10);
  g_assert_cmpuint (items->len, ==, 1);
  g_assert_cmpint (((PaOutboundItem *) g_ptr_array_index (items, 0))->seq, ==, c1);
  g_clear_pointer (&items, g_ptr_array_unref);
  items = ready (store, NULL, 1000, 10);
  g_assert_cmpuint (items->len, ==, 3);
  it = g_ptr_array_index (items, 0);
  g_assert_cmpint (it->seq, ==, a1);
  g_assert_cmpint (it->attempts, ==, 1);
  g_assert_cmpint (it->not_before_ms, ==, 1000);
  it = g_ptr_array_index (items, 1);
  g_assert_cmpint (it->seq, ==, b1);
  g_assert_cmpint (it->attempts, ==, 2);
  g_clear_pointer (&items, g_ptr_array_unref);

  /* done: the next item of the key becomes the head */
  g_assert_true (pa_store_outbound_done (store, a1, &error));
  g_assert_true (pa_store_outbound_done (store, c1, &error));
  g_assert_no_error (error);
  g_assert_cmpint (pa_store_outbound_next_due (store), ==, 0);
  items = ready (store, NULL, 0, 10);
  g_assert_cmpuint (items->len, ==, 1);
  g_assert_cmpint (((PaOutboundItem *) g_ptr_array_index (items, 0))->seq, ==, a2);
  g_clear_pointer (&items, g_ptr_array_unref);
  g_assert_cmpint (pa_store_outbound_count (store), ==, 3);
  /* done twice is harmless */
  g_assert_true (pa_store_outbound_done (store, a1, &error));
  assert_consistent (store);
  pa_store_close (store);

  /* a sent txn id stays remembered across restarts … */
  store = open_store (fx);
  g_assert_cmpint (add_item (store, "ta1", "!a", 0, &dup), ==, 0);
  g_assert_true (dup);
  g_assert_cmpint (pa_store_outbound_count (store), ==, 3);
  items = ready (store, NULL, 10000, 10);
  g_assert_cmpuint (items->len, ==, 2);
  g_assert_cmpint (((PaOutboundItem *) g_ptr_array_index (items, 0))->seq, ==, b1);
  g_assert_cmpint (((PaOutboundItem *) g_ptr_array_index (items, 1))->seq, ==, a2);
  g_clear_pointer (&items, g_ptr_array_unref);
  g_assert_true (pa_store_outbound_done (store, a2, &error));
  g_assert_true (pa_store_outbound_done (store, b1, &error));
  g_assert_true (pa_store_outbound_done (store, b2, &error));
  g_assert_cmpint (pa_store_outbound_next_due (store), ==, -1);
  g_assert_cmpint (pa_store_outbound_count (store), ==, 0);
  assert_consistent (store);
  pa_store_close (store);

  /* … until it is a week old */
  raw_exec (fx, "UPDATE outbound_done SET at = 0 WHERE txn_id = 'ta1'");
  store = open_store (fx);
  g_assert_cmpint (add_item (store, "ta1", "!a", 0, &dup), >, b2);
  g_assert_false (dup);
  g_assert_cmpint (add_item (store, "ta2", "!a", 0, &dup), ==, 0);
  g_assert_true (dup);
  pa_store_close (store);
}

/* 100,000 items over 10,000 keys: correctness asserted, speed printed. */
static void
test_outbound_scale (Fixture *fx, gconstpointer data)
{
  enum { N_KEYS = 10000, N_ITEMS = 100000 };
  g_autoptr (GError) error = NULL;
  g_autoptr (PaStore) store = open_store (fx);
  g_autoptr (GHashTable) busy = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (GPtrArray) items = NULL;
  gint64 t0, t_small, t_all, t_due;
  gint64 prev = 0;

  t0 = g_get_monotonic_time ();
  g_assert_true (pa_store_begin (store, &error));
  for (int i = 0; i < N_ITEMS; i++)
    {
      char txn[32], key[32];

      g_snprintf (txn, sizeof txn, "t%d", i);
      g_snprintf (key, sizeof key, "!r%05d", i % N_KEYS);
      /* item i has seq i + 1; the head of key k is seq k + 1 */
      g_assert_cmpint (add_item (store, txn, key, 0, NULL), ==, i + 1);
    }
  g_assert_true (pa_store_commit (store, &error));
  g_test_message ("filled %d items in %.0f ms", N_ITEMS,
                  (g_get_monotonic_time () - t0) / 1000.0);

  /* keys 0-99 busy, heads of keys 100-199 backing off */
  for (int k = 0; k < 100; k++)
    g_hash_table_add (busy, g_strdup_printf ("!r%05d", k));
  for (int k = 100; k < 200; k++)
    g_assert_true (pa_store_outbound_retry (store, k + 1, 60000, &error));

  t0 = g_get_monotonic_time ();
  items = ready (store, busy, 1000, 100);
  t_small = g_get_monotonic_time () - t0;
  g_assert_cmpuint (items->len, ==, 100);
  for (guint i = 0; i < items->len; i++)
    g_assert_cmpint (((PaOutboundItem *) g_ptr_array_index (items, i))->seq, ==, 201 + i);
  g_clear_pointer (&items, g_ptr_array_unref);

  t0 = g_get_monotonic_time ();
  items = ready (store, busy, 1000, N_ITEMS);
  t_all = g_get_monotonic_time () - t0;
  g_assert_cmpuint (items->len, ==, N_KEYS - 200);
  for (guint i = 0; i < items->len; i++)
    {
      PaOutboundItem *it = g_ptr_array_index (items, i);
      g_assert_cmpint (it->seq, >, prev);
      prev = it->seq;
      g_assert_cmpint (it->seq, <=, N_KEYS); /* a head */
      g_assert_false (g_hash_table_contains (busy, it->queue_key));
      g_assert_cmpint (it->not_before_ms, <=, 1000);
    }
  g_clear_pointer (&items, g_ptr_array_unref);

  t0 = g_get_monotonic_time ();
  g_assert_cmpint (pa_store_outbound_next_due (store), ==, 0);
  t_due = g_get_monotonic_time () - t0;

  /* finishing heads promotes the next item of the same key */
  g_assert_true (pa_store_outbound_done (store, 201, &error));
  items = ready (store, busy, 1000, 1);
  g_assert_cmpint (((PaOutboundItem *) g_ptr_array_index (items, 0))->seq, ==, 202);
  g_clear_pointer (&items, g_ptr_array_unref);
  items = ready (store, busy, 1000, N_ITEMS);
  g_assert_cmpint (((PaOutboundItem *) g_ptr_array_index (items, items->len - 1))->seq, ==,
                   N_KEYS + 201);
  g_clear_pointer (&items, g_ptr_array_unref);

  g_test_message ("outbound_ready over %d items / %d keys: limit 100 in %.2f ms, "
                  "all %d heads in %.2f ms; next_due in %.2f ms",
                  N_ITEMS, N_KEYS, t_small / 1000.0, N_KEYS - 200, t_all / 1000.0,
                  t_due / 1000.0);
  assert_consistent (store);
}

/* --------------------------------------------------------------- rows */

static void
test_rows (Fixture *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  PaStore *store = open_store (fx);
  gboolean registered = FALSE, enabled = FALSE;
  char *s1 = NULL, *s2 = NULL;

  /* ghosts */
  g_assert_false (pa_store_ghost_get (store, "@g:x", NULL, NULL, NULL));
  g_assert_true (pa_store_ghost_put (store, "@g:x", "loopback", "u1", FALSE, "Gee", NULL, &error));
  g_assert_true (pa_store_ghost_put (store, "@g:x", "loopback", "u1", TRUE, "Gee 2", "mxc://a/b",
                                     &error));
  g_assert_true (pa_store_ghost_put (store, "@h:x", "loopback", "u2", FALSE, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (pa_store_ghost_get (store, "@g:x", &registered, &s1, &s2));
  g_assert_true (registered);
  g_assert_cmpstr (s1, ==, "Gee 2");
  g_assert_cmpstr (s2, ==, "mxc://a/b");
  g_clear_pointer (&s1, g_free);
  g_clear_pointer (&s2, g_free);
  g_assert_true (pa_store_ghost_get (store, "@h:x", &registered, &s1, NULL));
  g_assert_false (registered);
  g_assert_null (s1);
  g_assert_cmpint (pa_store_ghost_count (store), ==, 2);

  /* portals */
  {
    PaPortalRow row = { .plugin = (char *) "loopback", .login_id = (char *) "l1",
                        .chat_id = (char *) "c1", .room_id = NULL, .kind = (char *) "dm",
                        .name = (char *) "Chat", .encrypted = FALSE };
    PaPortalRow other = row;
    g_autoptr (PaPortalRow) got = NULL;

    g_assert_true (pa_store_portal_put (store, &row, &error));
    got = pa_store_portal_get (store, "loopback", "l1", "c1");
    g_assert_nonnull (got);
    g_assert_null (got->room_id);
    g_assert_cmpstr (got->kind, ==, "dm");
    g_clear_pointer (&got, pa_portal_row_free);

    row.room_id = (char *) "!room:x";
    row.name = (char *) "Renamed";
    row.encrypted = TRUE;
    g_assert_true (pa_store_portal_put (store, &row, &error));
    g_assert_no_error (error);
    g_assert_cmpint (pa_store_portal_count (store), ==, 1);
    got = pa_store_portal_by_room (store, "!room:x");
    g_assert_nonnull (got);
    g_assert_cmpstr (got->plugin, ==, "loopback");
    g_assert_cmpstr (got->login_id, ==, "l1");
    g_assert_cmpstr (got->chat_id, ==, "c1");
    g_assert_cmpstr (got->name, ==, "Renamed");
    g_assert_true (got->encrypted);
    g_clear_pointer (&got, pa_portal_row_free);

    /* one room, one portal */
    other.chat_id = (char *) "c2";
    other.room_id = (char *) "!room:x";
    g_assert_false (pa_store_portal_put (store, &other, &error));
    g_assert_error (error, PA_ERROR, PA_ERROR_STORE);
    g_clear_error (&error);
    other.login_id = (char *) "";
    other.room_id = (char *) "!import:x";
    other.kind = (char *) "import";
    g_assert_true (pa_store_portal_put (store, &other, &error));
    g_assert_cmpint (pa_store_portal_count (store), ==, 2);

    g_assert_null (pa_store_portal_by_room (store, "!nope:x"));
    g_assert_null (pa_store_portal_get (store, "loopback", "l1", "nope"));
    g_assert_true (pa_store_portal_delete (store, "!room:x", &error));
    g_assert_true (pa_store_portal_delete (store, "!room:x", &error));
    g_assert_null (pa_store_portal_by_room (store, "!room:x"));
    g_assert_cmpint (pa_store_portal_count (store), ==, 1);
  }

  /* messages: the first mapping wins */
  g_assert_true (pa_store_message_put (store, "lb", "l1", "c1", "m1", "!r:x", "$e1", "@g:x", 5,
                                       &error));
  g_assert_true (pa_store_message_put (store, "lb", "l1", "c1", "m1", "!r:x", "$e1b", "@g:x", 6,
                                       &error));
  g_assert_true (pa_store_message_put (store, "lb", "l1", "c1", "m2", "!r:x", "$e2", NULL, 7,
                                       &error));
  g_assert_true (pa_store_message_put (store, "lb", "l1", "c9", "m1", "!r9:x", "$e9", NULL, 7,
                                       &error));
  g_assert_no_error (error);
  s1 = pa_store_message_event_id (store, "lb", "l1", "c1", "m1");
  g_assert_cmpstr (s1, ==, "$e1");
  g_clear_pointer (&s1, g_free);
  s1 = pa_store_message_event_id (store, "lb", "l1", "c9", "m1");
  g_assert_cmpstr (s1, ==, "$e9");
  g_clear_pointer (&s1, g_free);
  g_assert_null (pa_store_message_event_id (store, "lb", "l2", "c1", "m1"));
  s1 = pa_store_message_legacy_id (store, "!r:x", "$e2", &s2);
  g_assert_cmpstr (s1, ==, "m2");
  g_assert_cmpstr (s2, ==, "c1");
  g_clear_pointer (&s1, g_free);
  g_clear_pointer (&s2, g_free);
  s2 = (char *) "junk";
  g_assert_null (pa_store_message_legacy_id (store, "!r:x", "$e1b", &s2));
  g_assert_null (s2);
  g_assert_null (pa_store_message_legacy_id (store, "!r9:x", "$e2", NULL));
  g_assert_cmpint (pa_store_message_count_in_room (store, "!r:x"), ==, 2);
  g_assert_cmpint (pa_store_message_count_in_room (store, "!none:x"), ==, 0);

  /* logins */
  {
    PaLoginRow l1 = { .id = (char *) "lb-1", .owner = (char *) "@agent:x",
                      .plugin = (char *) "loopback", .state = (char *) "new" };
    PaLoginRow l2 = { .id = (char *) "lb-0", .owner = (char *) "@agent:x",
                      .plugin = (char *) "loopback", .remote_id = (char *) "r0",
                      .remote_name = (char *) "Zero", .state = (char *) "connected" };
    PaLoginRow l3 = { .id = (char *) "wa-1", .owner = (char *) "@boss:x",
                      .plugin = (char *) "whatsapp", .state = (char *) "new" };
    g_autoptr (PaLoginRow) got = NULL;
    g_autoptr (GPtrArray) list = NULL;

    g_assert_true (pa_store_login_put (store, &l1, &error));
    g_assert_true (pa_store_login_put (store, &l2, &error));
    g_assert_true (pa_store_login_put (store, &l3, &error));
    l1.remote_id = (char *) "r1";
    l1.state = (char *) "connected";
    g_assert_true (pa_store_login_put (store, &l1, &error));
    g_assert_no_error (error);

    got = pa_store_login_get (store, "lb-1");
    g_assert_nonnull (got);
    g_assert_cmpstr (got->remote_id, ==, "r1");
    g_assert_null (got->remote_name);
    g_assert_cmpstr (got->state, ==, "connected");
    g_assert_cmpstr (got->owner, ==, "@agent:x");
    g_assert_null (pa_store_login_get (store, "nope"));

    list = pa_store_login_list (store, "@agent:x");
    g_assert_cmpuint (list->len, ==, 2);
    g_assert_cmpstr (((PaLoginRow *) g_ptr_array_index (list, 0))->id, ==, "lb-0");
    g_assert_cmpstr (((PaLoginRow *) g_ptr_array_index (list, 0))->remote_name, ==, "Zero");
    g_assert_cmpstr (((PaLoginRow *) g_ptr_array_index (list, 1))->id, ==, "lb-1");
    g_clear_pointer (&list, g_ptr_array_unref);
    list = pa_store_login_list (store, NULL);
    g_assert_cmpuint (list->len, ==, 3);
    g_clear_pointer (&list, g_ptr_array_unref);

    g_assert_true (pa_store_login_delete (store, "lb-0", &error));
    list = pa_store_login_list (store, "@agent:x");
    g_assert_cmpuint (list->len, ==, 1);
    g_clear_pointer (&list, g_ptr_array_unref);
    list = pa_store_login_list (store, "@nobody:x");
    g_assert_cmpuint (list->len, ==, 0);
  }

  /* management rooms */
  g_assert_true (pa_store_management_put (store, "@agent:x", "!m1:x", &error));
  g_assert_true (pa_store_management_put (store, "@agent:x", "!m2:x", &error));
  g_assert_no_error (error);
  s1 = pa_store_management_room (store, "@agent:x");
  g_assert_cmpstr (s1, ==, "!m2:x");
  g_clear_pointer (&s1, g_free);
  s1 = pa_store_management_owner (store, "!m2:x");
  g_assert_cmpstr (s1, ==, "@agent:x");
  g_clear_pointer (&s1, g_free);
  g_assert_null (pa_store_management_owner (store, "!m1:x"));
  g_assert_null (pa_store_management_room (store, "@other:x"));

  /* ministry overrides */
  g_assert_false (pa_store_ministry_plugin_get (store, "interieur", "whatsapp", &enabled));
  g_assert_true (pa_store_ministry_plugin_set (store, "interieur", "whatsapp", FALSE, &error));
  enabled = TRUE;
  g_assert_true (pa_store_ministry_plugin_get (store, "interieur", "whatsapp", &enabled));
  g_assert_false (enabled);
  g_assert_true (pa_store_ministry_plugin_set (store, "interieur", "whatsapp", TRUE, &error));
  g_assert_true (pa_store_ministry_plugin_get (store, "interieur", "whatsapp", &enabled));
  g_assert_true (enabled);
  g_assert_false (pa_store_ministry_plugin_get (store, "armees", "whatsapp", NULL));

  /* meta: keyed by login, scope and id */
  g_assert_true (pa_store_meta_set (store, "l1", 1, "chat", "v-chat", &error));
  g_assert_true (pa_store_meta_set (store, "l1", 2, "chat", "v-contact", &error));
  g_assert_true (pa_store_meta_set (store, "l2", 1, "chat", "v-other", &error));
  g_assert_true (pa_store_meta_set (store, "l1", 1, "chat", "v-chat-2", &error));
  g_assert_no_error (error);
  s1 = pa_store_meta_get (store, "l1", 1, "chat");
  g_assert_cmpstr (s1, ==, "v-chat-2");
  g_clear_pointer (&s1, g_free);
  s1 = pa_store_meta_get (store, "l1", 2, "chat");
  g_assert_cmpstr (s1, ==, "v-contact");
  g_clear_pointer (&s1, g_free);
  g_assert_null (pa_store_meta_get (store, "l1", 3, "chat"));
  {
    /* The worker's init frame: every value of one login, nothing of others. */
    g_autoptr (json_t) list = pa_store_meta_list (store, "l1");
    g_assert_cmpuint (json_array_size (list), ==, 2);
    g_assert_cmpint (json_integer_value (json_object_get (json_array_get (list, 0), "scope")), ==,
                     1);
    g_assert_cmpstr (json_string_value (json_object_get (json_array_get (list, 0), "value")), ==,
                     "v-chat-2");
    g_assert_cmpstr (json_string_value (json_object_get (json_array_get (list, 1), "value")), ==,
                     "v-contact");
  }
  g_assert_true (pa_store_meta_set (store, "l1", 1, "chat", NULL, &error));
  g_assert_null (pa_store_meta_get (store, "l1", 1, "chat"));
  s1 = pa_store_meta_get (store, "l2", 1, "chat");
  g_assert_cmpstr (s1, ==, "v-other");
  g_clear_pointer (&s1, g_free);

  /* kv, with an awkward value */
  g_assert_true (pa_store_kv_set (store, "token", "a'b\"c;--\xc3\xa9", &error));
  g_assert_true (pa_store_kv_set (store, "other", "x", &error));
  pa_store_close (store);

  /* everything survives a reopen */
  store = open_store (fx);
  s1 = pa_store_kv_get (store, "token");
  g_assert_cmpstr (s1, ==, "a'b\"c;--\xc3\xa9");
  g_clear_pointer (&s1, g_free);
  g_assert_true (pa_store_kv_set (store, "token", NULL, &error));
  g_assert_null (pa_store_kv_get (store, "token"));
  s1 = pa_store_kv_get (store, "other");
  g_assert_cmpstr (s1, ==, "x");
  g_clear_pointer (&s1, g_free);
  g_assert_cmpint (pa_store_ghost_count (store), ==, 2);
  g_assert_cmpint (pa_store_portal_count (store), ==, 1);
  g_assert_cmpint (pa_store_message_count_in_room (store, "!r:x"), ==, 2);
  g_assert_true (pa_store_ministry_plugin_get (store, "interieur", "whatsapp", &enabled));
  g_assert_true (enabled);
  assert_consistent (store);
  pa_store_close (store);
}

/* A value past the hard size cap fails cleanly. */
static void
test_too_large (Fixture *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PaStore) store = open_store (fx);
  gsize n = 33 * 1024 * 1024;
  g_autofree char *big = g_malloc (n + 1);

  memset (big, 'x', n);
  big[n] = '\0';
  g_assert_false (pa_store_kv_set (store, "big", big, &error));
  g_assert_error (error, PA_ERROR, PA_ERROR_STORE);
  g_assert_null (pa_store_kv_get (store, "big"));
}

/* ------------------------------------------------------------- crash */

/* The child adds items forever, reporting each seq through the pipe just
 * before committing it; it is SIGKILLed at a random point.  Every reported
 * seq but the last must have been committed, the last may or may not. */
static G_GNUC_NORETURN void
crash_child (const char *path, int fd)
{
  g_autoptr (GError) error = NULL;
  PaStore *store = pa_store_open (path, &error);

  if (store == NULL)
    _exit (2);
  for (guint i = 0;; i++)
    {
      g_autofree char *txn = g_strdup_printf ("crash-%d-%u", (int) getpid (), i);
      g_autofree char *key = g_strdup_printf ("!k%u", i % 7);
      PaOutboundItem item = { .txn_id = txn, .queue_key = key, .method = (char *) "PUT",
                              .path = (char *) "/p", .body = (char *) "{}" };
      gint64 seq;

      if (!pa_store_begin (store, NULL))
        _exit (3);
      seq = pa_store_outbound_add (store, &item, NULL, NULL);
      g_autofree char *seq_text = g_strdup_printf ("%" G_GINT64_FORMAT, seq);

      /* a second write in the same transaction: both or neither survive */
      if (seq <= 0 || !pa_store_kv_set (store, "last-seq", seq_text, NULL))
        _exit (4);
      if (write (fd, &seq, sizeof seq) != sizeof seq)
        _exit (5);
      if (!pa_store_commit (store, NULL))
        _exit (6);
    }
}

static void
test_crash (Fixture *fx, gconstpointer data)
{
  for (int round = 0; round < 3; round++)
    {
      g_autoptr (PaStore) store = NULL;
      int fds[2], status;
      gint64 seq, last = 0, before_last = 0;
      guint n = 0, kill_after = g_test_rand_int_range (200, 1200);
      pid_t pid;
      ssize_t r;

      g_assert_cmpint (pipe (fds), ==, 0);
      pid = fork ();
      g_assert_cmpint (pid, >=, 0);
      if (pid == 0)
        {
          close (fds[0]);
          crash_child (fx->path, fds[1]);
        }
      close (fds[1]);
      while ((r = read (fds[0], &seq, sizeof seq)) == sizeof seq)
        {
          before_last = last;
          last = seq;
          if (++n == kill_after)
            g_assert_cmpint (kill (pid, SIGKILL), ==, 0);
        }
      g_assert_cmpint (r, ==, 0);
      close (fds[0]);
      g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
      if (!WIFSIGNALED (status))
        g_error ("child exited with %d before being killed", WEXITSTATUS (status));
      g_assert_cmpint (WTERMSIG (status), ==, SIGKILL);

      /* reopening recovers the WAL; the queue is exactly 1..count */
      store = open_store (fx);
      assert_consistent (store);
      {
        gint64 count = pa_store_outbound_count (store);
        gint64 min_seq = raw_int (fx, "SELECT min(seq) FROM outbound");
        gint64 max_seq = raw_int (fx, "SELECT max(seq) FROM outbound");

        g_test_message ("round %d: killed after %u reports, last reported %" G_GINT64_FORMAT
                        ", %" G_GINT64_FORMAT " items committed", round, n, last, count);
        /* PostgreSQL never gives back a seq taken by a transaction that
         * did not commit: gaps there, none with SQLite */
        if (pg_uri == NULL)
          {
            g_assert_cmpint (min_seq, ==, 1);
            g_assert_cmpint (max_seq, ==, count);
          }
        if (pg_uri == NULL)
          g_assert_true (count == last || count == last - 1);
        else
          g_assert_true (max_seq == last || max_seq == before_last);
        g_autofree char *last_kv = pa_store_kv_get (store, "last-seq");

        g_assert_cmpint (g_ascii_strtoll (last_kv, NULL, 10), ==, max_seq);
      }
    }
}

/* An abandoned import lane goes in bounded chunks, forgets its dedup
 * keys (so the same file can be imported again), and the space comes back
 * to the file system through incremental vacuum steps. */
static void
test_import_purge (Fixture *fx, gconstpointer data)
{
  PaStore *store = open_store (fx);
  g_autoptr (GError) error = NULL;
  gboolean dup = FALSE;
  g_autofree char *pad = g_strnfill (400, 'x');
  g_assert_true (pa_store_begin (store, &error));
  for (guint i = 0; i < 20000; i++)
    {
      g_autofree char *key = g_strdup_printf ("k%u", i);
      g_autofree char *ev = g_strdup_printf ("{\"n\":%u,\"pad\":\"%s\"}", i, pad);
      g_assert_cmpint (pa_store_remote_add (store, "import:big", key, ev, &dup, &error), >, 0);
    }
  g_assert_true (pa_store_commit (store, &error));
  g_assert_cmpint (pa_store_remote_add (store, "live-1", "live", "{}", &dup, &error), >, 0);
  pa_store_close (store);
  GStatBuf st = { 0 };
  gint64 full = 0;
  if (pg_uri == NULL)
    {
      g_assert_cmpint (g_stat (fx->path, &st), ==, 0);
      full = st.st_size;
      g_assert_cmpint (full, >, 8 * 1024 * 1024);
    }

  store = open_store (fx);
  g_autoptr (json_t) lanes = pa_store_remote_import_lanes (store, &error);
  g_assert_cmpuint (json_array_size (lanes), ==, 1);
  g_assert_cmpstr (json_string_value (json_array_get (lanes, 0)), ==, "import:big");
  guint steps = 0;
  gint64 n;
  while ((n = pa_store_remote_purge_lane (store, "import:big", 1000, &error)) > 0)
    {
      g_assert_cmpint (n, <=, 1000);
      steps++;
    }
  g_assert_no_error (error);
  g_assert_cmpint (n, ==, 0);
  g_assert_cmpuint (steps, ==, 20);
  g_assert_cmpint (pa_store_remote_count_login (store, "import:big"), ==, 0);
  g_assert_cmpint (pa_store_remote_count_login (store, "live-1"), ==, 1);
  /* keys forgotten: the same event can be queued again */
  g_assert_cmpint (pa_store_remote_add (store, "import:big", "k7", "{}", &dup, &error), >, 0);
  g_assert_false (dup);
  g_assert_cmpint (pa_store_remote_purge_lane (store, "import:big", 1000, &error), ==, 1);
  guint vsteps = 0;
  while (pa_store_vacuum_step (store, 256) > 0)
    vsteps++;
  pa_store_close (store);
  if (pg_uri != NULL)
    return; /* PostgreSQL's autovacuum gives the space back */
  g_assert_cmpuint (vsteps, >, 1); /* bounded steps, not one pass */
  g_assert_cmpint (g_stat (fx->path, &st), ==, 0);
  g_test_message ("db %" G_GINT64_FORMAT " bytes full, %" G_GINT64_FORMAT " after", full,
                  (gint64) st.st_size);
  g_assert_cmpint (st.st_size, <, full / 4);
}

/* Import jobs and the import lane: live peeks never see import rows. */
static void
test_import_lane (Fixture *fx, gconstpointer data)
{
  PaStore *store = open_store (fx);
  g_autoptr (GError) error = NULL;
  gboolean dup = FALSE;

  g_assert_cmpint (pa_store_remote_add (store, "import:j1", "k1", "{\"n\":1}", &dup, &error), >, 0);
  g_assert_cmpint (pa_store_remote_add (store, "live-1", "k2", "{\"n\":2}", &dup, &error), >, 0);
  g_assert_cmpint (pa_store_remote_add (store, "import:j1", "k3", "{\"n\":3}", &dup, &error), >, 0);
  g_assert_cmpint (pa_store_remote_add (store, "import:j2", "k4", "{\"n\":4}", &dup, &error), >, 0);
  {
    g_autoptr (json_t) live = pa_store_remote_peek (store, 10, &error);
    g_assert_cmpuint (json_array_size (live), ==, 1);
    g_assert_cmpstr (json_string_value (json_object_get (json_array_get (live, 0), "login_id")),
                     ==, "live-1");
    g_autoptr (json_t) imp = pa_store_remote_peek_import (store, "import:j1", 10, &error);
    g_assert_cmpuint (json_array_size (imp), ==, 2);
    g_assert_cmpstr (json_string_value (json_object_get (json_array_get (imp, 1), "event")), ==,
                     "{\"n\":3}");
  }
  g_assert_cmpint (pa_store_remote_count_login (store, "import:j1"), ==, 2);
  g_assert_cmpint (pa_store_remote_count_login (store, "nobody"), ==, 0);
  g_assert_false (pa_store_outbound_has_key (store, "!room:hs"));
  {
    PaOutboundItem item = { .txn_id = "t-has", .queue_key = "!room:hs", .method = "PUT",
                            .path = "/x", .body = "{}" };
    g_assert_cmpint (pa_store_outbound_add (store, &item, &dup, &error), >, 0);
  }
  g_assert_true (pa_store_outbound_has_key (store, "!room:hs"));
  g_assert_false (pa_store_outbound_has_key (store, "!other:hs"));

  g_autoptr (json_t) job = json_pack ("{s:s, s:s, s:s, s:s, s:{s:s}, s:s, s:i}", "id", "j1",
                                      "owner", "@a:hs", "plugin", "whatsapp", "path", "/x.zip",
                                      "options", "me", "Alice", "state", "queued", "total", 0);
  g_assert_true (pa_store_job_put (store, job, &error));
  json_object_set_new (job, "state", json_string ("sending"));
  json_object_set_new (job, "room_id", json_string ("!r:hs"));
  json_object_set_new (job, "total", json_integer (42));
  json_object_set_new (job, "summary", json_pack ("{s:i}", "messages", 42));
  g_assert_true (pa_store_job_put (store, job, &error));
  pa_store_close (store);

  store = open_store (fx);
  g_autoptr (json_t) back = pa_store_job_get (store, "j1");
  g_assert_nonnull (back);
  g_assert_cmpstr (json_string_value (json_object_get (back, "state")), ==, "sending");
  g_assert_cmpstr (json_string_value (json_object_get (back, "room_id")), ==, "!r:hs");
  g_assert_cmpint (json_integer_value (json_object_get (back, "total")), ==, 42);
  g_assert_cmpstr (json_string_value (json_object_get (json_object_get (back, "options"), "me")),
                   ==, "Alice");
  g_assert_cmpint (json_integer_value (json_object_get (json_object_get (back, "summary"),
                                                        "messages")), ==, 42);
  g_assert_null (pa_store_job_get (store, "nope"));
  g_autoptr (json_t) active = pa_store_job_list_active (store);
  g_assert_cmpuint (json_array_size (active), ==, 1);
  json_object_set_new (job, "state", json_string ("done"));
  g_assert_true (pa_store_job_put (store, job, &error));
  g_autoptr (json_t) active2 = pa_store_job_list_active (store);
  g_assert_cmpuint (json_array_size (active2), ==, 0);
  pa_store_close (store);
}

/* ------------------------------------------------------- quarantine */

/* v3 → v4: the quarantine table, and a portal that an invite of the bot
 * had recorded as a management room is not one any more (the agent's real
 * management room stays). */
static void
test_quarantine (Fixture *fx, gconstpointer data)
{
  PaStore *store = open_store (fx);
  g_autoptr (GError) error = NULL;

  pa_store_close (store);
  /* from v3 on SQLite (its step 4 drops a management room that is a
   * portal); PostgreSQL starts at v7, only the queries are tested */
  if (pg_uri == NULL)
    {
      raw_exec (fx, "DROP TABLE quarantine; DROP TABLE live_fingerprints; DROP TABLE live_claims;"
                    "DROP TABLE import_chats; PRAGMA user_version = 3;");
      raw_exec (fx, "INSERT INTO portals (plugin, login_id, chat_id, room_id, kind, name) VALUES"
                    " ('lb', 'l1', 'bob', '!dm:x', 'dm', NULL);"
                    "INSERT INTO management_rooms (owner, room_id) VALUES"
                    " ('@a:x', '!dm:x'), ('@b:x', '!mgmt:x');");
    }
  else
    raw_exec (fx, "INSERT INTO management_rooms (owner, room_id) VALUES ('@b:x', '!mgmt:x');");
  store = open_store (fx);
  g_assert_cmpuint (pa_store_migrations_run (store), ==, pg_uri == NULL ? 4 : 0);
  g_assert_cmpint (pa_store_schema_version (store), ==, 7);
  assert_consistent (store);
  {
    g_autofree char *a = pa_store_management_room (store, "@a:x");
    g_autofree char *bm = pa_store_management_room (store, "@b:x");

    g_assert_null (a);
    g_assert_cmpstr (bm, ==, "!mgmt:x");
  }

  g_assert_cmpint (pa_store_quarantine_count (store), ==, 0);
  g_assert_true (pa_store_quarantine_add (store, "t1:abc", "$e", "!r:x", "@u:x",
                                          "content.body is a number, not a string",
                                          "{\"type\":\"m.room.message\"}", &error));
  g_assert_no_error (error);
  /* an event without usable identifiers is kept too */
  g_assert_true (pa_store_quarantine_add (store, "t1:abc", NULL, NULL, NULL,
                                          "the event is a string, not an object", "\"x\"",
                                          &error));
  g_assert_no_error (error);
  g_assert_cmpint (pa_store_quarantine_count (store), ==, 2);
  {
    g_autofree char *reason
        = raw_text (fx, "SELECT reason FROM quarantine WHERE event_id = '$e'");

    g_assert_cmpstr (reason, ==, "content.body is a number, not a string");
  }
  pa_store_close (store);
}

/* ------------------------------------------------- live fingerprints */

/* v4 → v5: the live fingerprints of portals and the import jobs' claims
 * on them: a v4 database gains the two empty tables, keeps its rows; one
 * live message is claimed once per job (its edit is the same message),
 * another job claims it again; deleting the portal drops both. */
/* v6 → v7: import identity.  A chat's room is kept per agent and plugin
 * (the first one recorded stays); an import job's own fingerprints are not
 * matched by it, another job matches them. */
static void
test_import_identity (Fixture *fx, gconstpointer data)
{
  PaStore *store = open_store (fx);
  g_autoptr (GError) error = NULL;

  pa_store_close (store);
  /* from v6 on SQLite; PostgreSQL starts at v7, only the queries are tested */
  if (pg_uri == NULL)
    raw_exec (fx, "DROP TABLE import_chats; DROP TABLE live_fingerprints;"
                  "CREATE TABLE live_fingerprints (room INTEGER NOT NULL, minute INTEGER NOT NULL,"
                  " digest INTEGER NOT NULL, msg INTEGER NOT NULL, class TEXT NOT NULL,"
                  " PRIMARY KEY (room, minute, digest, msg)) WITHOUT ROWID;"
                  "CREATE INDEX live_fingerprints_by_msg ON live_fingerprints (room, msg);"
                  "PRAGMA user_version = 6;");
  store = open_store (fx);
  g_assert_cmpuint (pa_store_migrations_run (store), ==, pg_uri == NULL ? 1 : 0);
  /* a live message of v6, matched by any job */
  g_assert_true (pa_store_fingerprint_add (store, "!r1:x", "live", 99, "text", 7, &error));
  g_assert_cmpint (pa_store_fingerprint_claim (store, "import:a", "!r1:x", 99, FALSE, 7, &error),
                   ==, 1);
  g_assert_cmpint (pa_store_fingerprint_claimed (store, "import:a"), ==, 1);

  g_assert_null (pa_store_import_chat_room (store, "@a:x", "whatsapp", "name:chat-1:ab"));
  g_assert_true (pa_store_import_chat_put (store, "@a:x", "whatsapp", "name:chat-1:ab", "!r1:x",
                                           "Team", &error));
  g_assert_true (pa_store_import_chat_put (store, "@a:x", "whatsapp", "name:chat-1:ab", "!r2:x",
                                           NULL, &error));
  g_assert_no_error (error);
  g_autofree char *room = pa_store_import_chat_room (store, "@a:x", "whatsapp", "name:chat-1:ab");
  g_assert_cmpstr (room, ==, "!r1:x");
  g_assert_null (pa_store_import_chat_room (store, "@b:x", "whatsapp", "name:chat-1:ab"));
  g_assert_null (pa_store_import_chat_room (store, "@a:x", "telegram", "name:chat-1:ab"));
  g_assert_null (pa_store_import_chat_room (store, "@a:x", "whatsapp", NULL));

  /* job a sends m1 into !r1:x: its own, not matched by it */
  g_assert_true (pa_store_fingerprint_add_own (store, "import:a", "!r1:x", "import:a/m1", 100,
                                               "text", 7, &error));
  g_assert_no_error (error);
  g_assert_cmpint (pa_store_fingerprint_claim (store, "import:a", "!r1:x", 100, FALSE, 7, &error),
                   ==, 0);
  g_assert_cmpint (pa_store_fingerprint_claim (store, "import:a", "!r1:x", 100, TRUE, 0, &error),
                   ==, 0);
  g_assert_cmpint (pa_store_fingerprint_claimed (store, "import:a"), ==, 1);
  /* job b, the same chat again, finds it once */
  g_assert_cmpint (pa_store_fingerprint_claim (store, "import:b", "!r1:x", 100, FALSE, 7, &error),
                   ==, 1);
  g_assert_cmpint (pa_store_fingerprint_claim (store, "import:b", "!r1:x", 100, FALSE, 7, &error),
                   ==, 0);
  g_assert_cmpint (pa_store_fingerprint_claimed (store, "import:b"), ==, 1);
  g_assert_cmpint (pa_store_fingerprint_claimed_in (store, "import:b", "!r1:x"), ==, 1);
  g_assert_cmpint (pa_store_fingerprint_claimed_in (store, "import:b", "!r2:x"), ==, 0);
  g_assert_no_error (error);
  pa_store_close (store);
}

static void
test_fingerprint_migration (Fixture *fx, gconstpointer data)
{
  PaStore *store = open_store (fx);
  g_autoptr (GError) error = NULL;

  pa_store_close (store);
  /* from v4 on SQLite; PostgreSQL starts at v7, only the queries are tested */
  if (pg_uri == NULL)
    raw_exec (fx, "DROP TABLE live_fingerprints; DROP TABLE live_claims; DROP TABLE import_chats;"
                  "PRAGMA user_version = 4;");
  raw_exec (fx, "INSERT INTO portals (plugin, login_id, chat_id, room_id, kind, name) VALUES"
                " ('lb', 'l1', 'bob', '!p:x', 'dm', NULL);"
                "INSERT INTO messages (plugin, login_id, chat_id, legacy_id, room_id, event_id)"
                " VALUES ('lb', 'l1', 'bob', 'm0', '!p:x', '$0');");
  store = open_store (fx);
  g_assert_cmpuint (pa_store_migrations_run (store), ==, pg_uri == NULL ? 3 : 0);
  g_assert_cmpint (pa_store_schema_version (store), ==, 7);
  assert_consistent (store);
  g_assert_cmpint (pa_store_message_count_in_room (store, "!p:x"), ==, 1);
  g_assert_cmpint (raw_int (fx, "SELECT count(*) FROM live_fingerprints"), ==, 0);

  /* two live messages of minute 100 with digest 7 (one edited to 8), one
   * of minute 101, one in another room */
  g_assert_true (pa_store_fingerprint_add (store, "!p:x", "m1", 100, "text", 7, &error));
  g_assert_true (pa_store_fingerprint_add (store, "!p:x", "m1", 100, "text", 7, &error));
  g_assert_true (pa_store_fingerprint_add (store, "!p:x", "m2", 100, "text", 7, &error));
  g_assert_true (pa_store_fingerprint_add_later (store, "!p:x", "m2", "text", 8, &error));
  g_assert_true (pa_store_fingerprint_add (store, "!p:x", "m3", 101, "image", 9, &error));
  g_assert_true (pa_store_fingerprint_add (store, "!q:x", "m4", 100, "text", 7, &error));
  /* an edit of a message never fingerprinted: nothing */
  g_assert_true (pa_store_fingerprint_add_later (store, "!p:x", "old", "text", 7, &error));
  g_assert_no_error (error);
  g_assert_cmpint (raw_int (fx, "SELECT count(*) FROM live_fingerprints"), ==, 5);
  g_assert_cmpint (raw_int (fx, "SELECT minute FROM live_fingerprints WHERE digest = 8"), ==,
                   100);

  /* digest 8 claims m2; digest 7 then finds m1 only (m2 is taken) */
  g_assert_cmpint (pa_store_fingerprint_claim (store, "import:a", "!p:x", 100, FALSE, 8, &error),
                   ==, 1);
  g_assert_cmpint (pa_store_fingerprint_claim (store, "import:a", "!p:x", 100, FALSE, 7, &error),
                   ==, 1);
  g_assert_cmpint (pa_store_fingerprint_claim (store, "import:a", "!p:x", 100, FALSE, 7, &error),
                   ==, 0);
  g_assert_cmpint (pa_store_fingerprint_claim (store, "import:a", "!p:x", 101, FALSE, 7, &error),
                   ==, 0);
  /* any media of minute 101: m3, once */
  g_assert_cmpint (pa_store_fingerprint_claim (store, "import:a", "!p:x", 101, TRUE, 0, &error),
                   ==, 1);
  g_assert_cmpint (pa_store_fingerprint_claim (store, "import:a", "!p:x", 101, TRUE, 0, &error),
                   ==, 0);
  /* another job: its own claims */
  g_assert_cmpint (pa_store_fingerprint_claim (store, "import:b", "!p:x", 100, FALSE, 7, &error),
                   ==, 1);
  g_assert_no_error (error);
  g_assert_cmpint (pa_store_fingerprint_claimed (store, "import:a"), ==, 3);
  g_assert_cmpint (pa_store_fingerprint_claimed (store, "import:b"), ==, 1);
  g_assert_cmpint (pa_store_fingerprint_claimed (store, "import:none"), ==, 0);
  /* a cancelled job forgets its claims, and makes them again */
  g_assert_true (pa_store_fingerprint_forget_job (store, "import:b", &error));
  g_assert_cmpint (pa_store_fingerprint_claimed (store, "import:b"), ==, 0);
  g_assert_cmpint (pa_store_fingerprint_claim (store, "import:b", "!p:x", 100, FALSE, 7, &error),
                   ==, 1);
  g_assert_cmpint (pa_store_fingerprint_claimed (store, "import:a"), ==, 3);

  /* the portal goes: its fingerprints and claims with it, not the others */
  g_assert_true (pa_store_portal_delete (store, "!p:x", &error));
  g_assert_no_error (error);
  g_assert_cmpint (raw_int (fx, "SELECT count(*) FROM live_fingerprints"), ==, 1);
  g_assert_cmpint (pa_store_fingerprint_claimed (store, "import:a"), ==, 0);
  assert_consistent (store);
  pa_store_close (store);
}

/* ---------------------------------------------------- shared portals */

/* v2 → v3: the oldest group room of each (plugin, chat) becomes the shared
 * portal, with its messages; a second agent's own room of the same group
 * keeps working for its login; DMs and imports are left alone. */
static void
test_shared_migration (Fixture *fx, gconstpointer data)
{
  PaStore *store = open_store (fx);

  pa_store_close (store);
  /* back to v2: the v3 step only added these two tables, v4 the third, v5
   * the last two */
  raw_exec (fx, "DROP TABLE portal_logins; DROP TABLE shared_messages; DROP TABLE quarantine;"
                "DROP TABLE live_fingerprints; DROP TABLE live_claims; DROP TABLE import_chats;"
                "PRAGMA user_version = 2;");
  raw_exec (fx,
            "INSERT INTO portals (plugin, login_id, chat_id, room_id, kind, name) VALUES"
            " ('lb', 'l1', 'g1', '!old:x', 'group', 'G'),"
            " ('lb', 'l2', 'g1', '!newer:x', 'group', 'G'),"
            " ('lb', 'l2', 'g2', '!only:x', 'group', 'H'),"
            " ('lb', 'l1', 'bob', '!dm:x', 'dm', NULL),"
            " ('lb', 'import:j', 'g1', '!imp:x', 'import', 'G');"
            "INSERT INTO messages (plugin, login_id, chat_id, legacy_id, room_id, event_id) VALUES"
            " ('lb', 'l1', 'g1', 'm1', '!old:x', '$1'),"
            " ('lb', 'l2', 'g1', 'm1', '!newer:x', '$2'),"
            " ('lb', 'l1', 'bob', 'm2', '!dm:x', '$3');");
  store = open_store (fx);
  g_assert_cmpuint (pa_store_migrations_run (store), ==, 5);
  g_assert_cmpint (pa_store_schema_version (store), ==, 7);
  assert_consistent (store);
  {
    g_autoptr (PaPortalRow) shared
        = pa_store_portal_get (store, "lb", PA_STORE_SHARED_LOGIN, "g1");
    g_autoptr (PaPortalRow) l2 = pa_store_portal_find (store, "lb", "l2", "g1");
    g_autoptr (PaPortalRow) l1 = pa_store_portal_find (store, "lb", "l1", "g1");
    g_autoptr (PaPortalRow) l3 = pa_store_portal_find (store, "lb", "l3", "g1");
    g_autoptr (PaPortalRow) g2 = pa_store_portal_find (store, "lb", "l1", "g2");
    g_autoptr (PaPortalRow) dm = pa_store_portal_get (store, "lb", "l1", "bob");
    g_autoptr (PaPortalRow) imp = pa_store_portal_get (store, "lb", "import:j", "g1");
    g_auto (GStrv) old_logins = pa_store_portal_logins (store, "!old:x");
    g_auto (GStrv) newer_logins = pa_store_portal_logins (store, "!newer:x");
    g_autofree char *ev_shared
        = pa_store_message_event_id (store, "lb", PA_STORE_SHARED_LOGIN, "g1", "m1");
    g_autofree char *ev_l2 = pa_store_message_event_id (store, "lb", "l2", "g1", "m1");
    g_autofree char *ev_dm = pa_store_message_event_id (store, "lb", "l1", "bob", "m2");

    g_assert_nonnull (shared);
    g_assert_cmpstr (shared->room_id, ==, "!old:x");
    g_assert_cmpstr (l1->room_id, ==, "!old:x");    /* via the shared row */
    g_assert_cmpstr (l2->room_id, ==, "!newer:x");  /* its own, still working */
    g_assert_cmpstr (l3->room_id, ==, "!old:x");    /* a new login joins the shared one */
    g_assert_cmpstr (g2->room_id, ==, "!only:x");   /* single-login group: shared */
    g_assert_cmpstr (g2->login_id, ==, PA_STORE_SHARED_LOGIN);
    g_assert_cmpstr (dm->room_id, ==, "!dm:x");
    g_assert_cmpstr (imp->room_id, ==, "!imp:x");
    g_assert_cmpint (g_strv_length (old_logins), ==, 1);
    g_assert_cmpstr (old_logins[0], ==, "l1");
    g_assert_cmpint (g_strv_length (newer_logins), ==, 1);
    g_assert_cmpstr (newer_logins[0], ==, "l2");
    g_assert_cmpstr (ev_shared, ==, "$1");
    g_assert_cmpstr (ev_l2, ==, "$2");
    g_assert_cmpstr (ev_dm, ==, "$3");
  }
  pa_store_close (store);
}

static void
test_shared_portals (Fixture *fx, gconstpointer data)
{
  g_autoptr (PaStore) store = open_store (fx);
  g_autoptr (GError) error = NULL;
  PaPortalRow row = { .plugin = "lb", .login_id = PA_STORE_SHARED_LOGIN, .chat_id = "g",
                      .room_id = "!g:x", .kind = "group", .name = "G" };
  gboolean is_new = FALSE;

  g_assert_true (pa_store_portal_put (store, &row, &error));
  g_assert_no_error (error);
  /* one shared portal per (plugin, chat): a second put updates that row */
  {
    PaPortalRow again = row;

    again.room_id = "!g2:x";
    g_assert_true (pa_store_portal_put (store, &again, &error));
    g_assert_cmpint (pa_store_portal_count (store), ==, 1);
    g_assert_true (pa_store_portal_put (store, &row, &error));
  }
  /* logins in it, first in first; adding twice is a no-op */
  g_assert_true (pa_store_portal_login_add (store, "!g:x", "l1", &is_new, &error));
  g_assert_true (is_new);
  g_usleep (2000);
  g_assert_true (pa_store_portal_login_add (store, "!g:x", "l2", &is_new, &error));
  g_assert_true (is_new);
  g_assert_true (pa_store_portal_login_add (store, "!g:x", "l1", &is_new, &error));
  g_assert_false (is_new);
  {
    g_auto (GStrv) ids = pa_store_portal_logins (store, "!g:x");

    g_assert_cmpint (g_strv_length (ids), ==, 2);
    g_assert_cmpstr (ids[0], ==, "l1");
    g_assert_cmpstr (ids[1], ==, "l2");
  }

  /* dedup: the first login to deliver a message bridges it, the other's
   * copy is not, a replay by the first still is */
  g_assert_cmpint (pa_store_shared_claim (store, "lb", "g", "m1", "l2", &error), ==, 1);
  g_assert_cmpint (pa_store_shared_claim (store, "lb", "g", "m1", "l1", &error), ==, 0);
  g_assert_cmpint (pa_store_shared_claim (store, "lb", "g", "m1", "l2", &error), ==, 1);
  g_assert_cmpint (pa_store_shared_claim (store, "lb", "g", "m1", "l1", &error), ==, 0);
  g_assert_cmpint (pa_store_shared_claim (store, "lb", "g", "m2", "l1", &error), ==, 1);
  /* same id in another chat or network is another message */
  g_assert_cmpint (pa_store_shared_claim (store, "lb", "h", "m1", "l1", &error), ==, 1);
  g_assert_cmpint (pa_store_shared_claim (store, "xx", "g", "m1", "l1", &error), ==, 1);
  g_assert_no_error (error);
  /* the message map of a shared portal is keyed without a login: one event */
  g_assert_true (pa_store_message_put (store, "lb", PA_STORE_SHARED_LOGIN, "g", "m1", "!g:x",
                                       "$m1", NULL, 0, &error));
  g_assert_true (pa_store_message_put (store, "lb", PA_STORE_SHARED_LOGIN, "g", "m1", "!g:x",
                                       "$other", NULL, 0, &error));
  {
    g_autofree char *ev
        = pa_store_message_event_id (store, "lb", PA_STORE_SHARED_LOGIN, "g", "m1");

    g_assert_cmpstr (ev, ==, "$m1");
  }

  /* a deleted login leaves the portals it was in */
  g_assert_true (pa_store_login_delete (store, "l1", &error));
  g_assert_true (pa_store_portal_login_remove (store, "!g:x", "nobody", &error));
  {
    g_auto (GStrv) ids = pa_store_portal_logins (store, "!g:x");

    g_assert_cmpint (g_strv_length (ids), ==, 1);
    g_assert_cmpstr (ids[0], ==, "l2");
  }
  g_assert_true (pa_store_portal_delete (store, "!g:x", &error));
  {
    g_auto (GStrv) ids = pa_store_portal_logins (store, "!g:x");

    g_assert_cmpint (g_strv_length (ids), ==, 0);
  }
  g_assert_no_error (error);
  assert_consistent (store);
}

/* ------------------------------------------------------- PostgreSQL */

/* PostgreSQL's migration table ends at the same version as SQLite's; a
 * fresh database runs every step, a second open none, and a newer
 * database is refused untouched. */
static void
test_pg_schema (Fixture *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  PaStore *store;

  g_assert_cmpuint (pa_store_n_pg_migrations, ==, pa_store_n_migrations);
  store = open_store (fx);
  g_assert_cmpint (pa_store_schema_version (store), ==, 7);
  g_assert_cmpuint (pa_store_migrations_run (store), ==, 7);
  g_assert_true (pa_store_kv_set (store, "k", "v", &error));
  assert_consistent (store);
  pa_store_close (store);
  g_assert_cmpint (raw_int (fx, "SELECT version FROM schema_version"), ==, 7);

  store = open_store (fx);
  g_assert_cmpuint (pa_store_migrations_run (store), ==, 0);
  {
    g_autofree char *v = pa_store_kv_get (store, "k");

    g_assert_cmpstr (v, ==, "v");
  }
  pa_store_close (store);

  raw_exec (fx, "UPDATE schema_version SET version = 99");
  store = pa_store_open (fx->path, &error);
  g_assert_null (store);
  g_assert_error (error, PA_ERROR, PA_ERROR_STORE);
  g_assert_nonnull (strstr (error->message, "newer"));
  /* the URI is never in a message: only the host and database */
  g_assert_null (strstr (error->message, "postgres://"));
  g_assert_null (strstr (error->message, "postgresql://"));
  g_clear_error (&error);
  g_assert_cmpint (raw_int (fx, "SELECT version FROM schema_version"), ==, 99);

  /* a server that is not there: the host is named */
  store = pa_store_open ("postgresql://nobody:secret@127.0.0.1:1/none", &error);
  g_assert_null (store);
  g_assert_error (error, PA_ERROR, PA_ERROR_STORE);
  g_assert_nonnull (strstr (error->message, "127.0.0.1"));
  g_assert_null (strstr (error->message, "secret"));
}

/* On PostgreSQL any failed statement aborts the transaction it ran in:
 * the level it ran at cannot commit (whole or nothing), a savepoint
 * rolled back recovers the level around it. */
static void
test_pg_write_failure (Fixture *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PaStore) store = open_store (fx);

  g_assert_true (pa_store_begin (store, &error));
  g_assert_true (pa_store_kv_set (store, "before", "1", &error));
  g_assert_false (pa_db_run (store->db, &error, "INSERT INTO kv (key, value) VALUES (?, NULL)",
                             "t", "null"));
  g_clear_error (&error);
  g_assert_false (pa_store_kv_set (store, "after", "1", &error));
  g_clear_error (&error);
  g_assert_false (pa_store_commit (store, &error));
  g_clear_error (&error);
  g_assert_null (pa_store_kv_get (store, "before"));
  g_assert_null (pa_store_kv_get (store, "after"));

  /* inside a savepoint: rolling it back keeps the outer level whole */
  g_assert_true (pa_store_begin (store, &error));
  g_assert_true (pa_store_kv_set (store, "outer", "1", &error));
  g_assert_true (pa_store_begin (store, &error));
  g_assert_false (pa_db_run (store->db, &error, "INSERT INTO kv (key, value) VALUES (?, NULL)",
                             "t", "null"));
  g_clear_error (&error);
  g_assert_false (pa_store_commit (store, &error));
  g_clear_error (&error);
  g_assert_true (pa_store_kv_set (store, "outer2", "1", &error));
  g_assert_true (pa_store_commit (store, &error));
  g_autofree char *outer = pa_store_kv_get (store, "outer");
  g_autofree char *outer2 = pa_store_kv_get (store, "outer2");
  g_assert_cmpstr (outer, ==, "1");
  g_assert_cmpstr (outer2, ==, "1");
}

/* The events of a transaction go to PostgreSQL in one statement (an array
 * of texts): quotes, backslashes, braces and non-ASCII text come back as
 * they were, in order, once the cache of parsed events is gone. */
static void
test_pg_inbound_batch (Fixture *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (json_t) events = json_pack ("[{s:s}, {s:s}, {s:s}, {s:[i,i]}]", "body", "a\"b\\c",
                                         "body", "{x,y} \"é\" \\\\", "body", "", "n", 1, 2);
  gboolean dup = TRUE;
  PaStore *store = open_store (fx);

  g_assert_true (pa_store_txn_accept (store, "batch", events, &dup, &error));
  g_assert_no_error (error);
  g_assert_false (dup);
  pa_store_close (store);
  store = open_store (fx);
  g_autoptr (json_t) rows = pa_store_inbound_peek (store, 10, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (json_array_size (rows), ==, 4);
  for (guint i = 0; i < 4; i++)
    g_assert_true (json_equal (json_object_get (json_array_get (rows, i), "event"),
                               json_array_get (events, i)));
  pa_store_close (store);
}

/* A connection the server dropped: the call that meets it fails like a
 * full disk, the next one reconnects and works, statements prepared
 * again. */
static void
test_pg_reconnect (Fixture *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PaStore) store = open_store (fx);
  g_autofree char *pid = NULL;

  g_assert_true (pa_store_kv_set (store, "a", "1", &error));
  {
    g_autoptr (PaDbStmt) st = pa_db_stmt (store->db, &error, "SELECT pg_backend_pid ()", "");
    g_assert_cmpint (pa_db_step (st, &error), ==, PA_DB_ROW);
    pid = g_strdup (pa_db_column_text (st, 0));
  }
  g_autofree char *kill = g_strdup_printf ("SELECT pg_terminate_backend (%s)", pid);
  raw_exec (fx, kill);

  g_assert_true (pa_store_begin (store, &error) || error != NULL);
  if (error == NULL)
    {
      /* BEGIN went through before the server closed: the write fails */
      gboolean ok = pa_store_kv_set (store, "b", "1", &error);
      ok = pa_store_commit (store, ok ? &error : NULL) && ok;
      g_assert_false (ok);
    }
  g_clear_error (&error);
  g_assert_true (pa_store_kv_set (store, "c", "1", &error));
  g_assert_no_error (error);
  g_autofree char *a = pa_store_kv_get (store, "a");
  g_autofree char *c = pa_store_kv_get (store, "c");
  g_assert_cmpstr (a, ==, "1");
  g_assert_cmpstr (c, ==, "1");
}

int
main (int argc, char **argv)
{
  pg_uri = pa_test_db_pg_uri (&argc, argv);
  g_test_init (&argc, &argv, NULL);

#define ADD(name, fn) g_test_add (name, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  if (pg_uri != NULL)
    {
      ADD ("/store/pg/schema", test_pg_schema);
      ADD ("/store/pg/write-failure", test_pg_write_failure);
      ADD ("/store/pg/reconnect", test_pg_reconnect);
      ADD ("/store/pg/inbound-batch", test_pg_inbound_batch);
    }
  else
    {
      ADD ("/store/migrations", test_migrations);
      g_test_add_func ("/store/memory", test_memory);
      ADD ("/store/write-failure", test_write_failure);
      ADD ("/store/shared-migration", test_shared_migration);
    }
  ADD ("/store/fingerprint-migration", test_fingerprint_migration);
  ADD ("/store/import-identity", test_import_identity);
  ADD ("/store/shared-portals", test_shared_portals);
  ADD ("/store/quarantine", test_quarantine);
  ADD ("/store/nesting", test_nesting);
  ADD ("/store/inbound", test_inbound);
  ADD ("/store/remote", test_remote);
  ADD ("/store/outbound", test_outbound);
  ADD ("/store/outbound-scale", test_outbound_scale);
  ADD ("/store/rows", test_rows);
  ADD ("/store/too-large", test_too_large);
  ADD ("/store/crash", test_crash);
  ADD ("/store/import-lane", test_import_lane);
  ADD ("/store/import-purge", test_import_purge);
#undef ADD

  return g_test_run ();
}
