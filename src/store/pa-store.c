/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The store: one SQLite connection in WAL mode, a schema versioned with
 * PRAGMA user_version and migrated step by step, and a cache of prepared
 * statements so the hot paths (queues, message map) never re-prepare. */
#define G_LOG_DOMAIN "passerelle-store"

#include "pa-store.h"

#include "pa-sqlite.h"

#include <stdarg.h>
#include <string.h>
#include <glib/gstdio.h>

#include "pa-common.h"

/* Hard cap on any single stored value (event, body, metadata): far above
 * what Matrix allows for an event (64 KiB) yet small enough that a runaway
 * value fails cleanly instead of filling the disk. */
#define STORE_MAX_VALUE_BYTES (32 * 1024 * 1024)

/* How long "already seen" markers are kept.  The homeserver replays a
 * transaction only until we ack it and a worker re-sends an event only
 * around a reconnect, so days are plenty; pruning keeps the tables small. */
#define DAY_MS ((gint64) 24 * 60 * 60 * 1000)
#define OUTBOUND_DONE_KEEP_MS (7 * DAY_MS)
#define REMOTE_SEEN_KEEP_MS (7 * DAY_MS)
#define TXN_KEEP_MS (30 * DAY_MS)

struct _PaStore {
  sqlite3 *db;
  GHashTable *stmts; /* SQL text (owned) → sqlite3_stmt* (finalized on removal) */
  guint depth;       /* open transaction levels: 1 = BEGIN, >1 = SAVEPOINTs */
  int version;
  guint migrations_run;
};

/* ------------------------------------------------------------ schema */

/* migrations[i] takes the schema from version i to i + 1.  Append only: a
 * step that shipped is never edited, a change is a new step. */
static const char *const migrations[] = {
  /* v0 → v1: everything */
  "CREATE TABLE txns ("
  "  txn_id TEXT PRIMARY KEY NOT NULL,"
  "  at INTEGER NOT NULL) WITHOUT ROWID;"
  "CREATE INDEX txns_at ON txns (at);"

  "CREATE TABLE inbound ("
  "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
  "  txn_id TEXT NOT NULL,"
  "  event TEXT NOT NULL);"

  "CREATE TABLE remote ("
  "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
  "  login_id TEXT NOT NULL,"
  "  dedup_key TEXT UNIQUE,"
  "  event TEXT NOT NULL);"
  /* dedup keys of remote events already bridged, so a worker re-sending
   * them after a reconnect is still recognised */
  "CREATE TABLE remote_seen ("
  "  dedup_key TEXT PRIMARY KEY NOT NULL,"
  "  at INTEGER NOT NULL) WITHOUT ROWID;"
  "CREATE INDEX remote_seen_at ON remote_seen (at);"

  "CREATE TABLE outbound ("
  "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
  "  txn_id TEXT NOT NULL UNIQUE,"
  "  queue_key TEXT NOT NULL,"
  "  method TEXT NOT NULL,"
  "  path TEXT NOT NULL,"
  "  user_id TEXT,"
  "  ts INTEGER NOT NULL DEFAULT 0,"
  "  body TEXT NOT NULL,"
  "  on_done TEXT,"
  "  attempts INTEGER NOT NULL DEFAULT 0,"
  "  not_before INTEGER NOT NULL DEFAULT 0);"
  "CREATE INDEX outbound_by_key ON outbound (queue_key, seq);"
  /* The head (oldest item) of every queue key, maintained by triggers so
   * that finding what can be sent costs O(keys), not O(items).  seq is
   * AUTOINCREMENT, so a new item is never older than an existing head. */
  "CREATE TABLE outbound_heads ("
  "  queue_key TEXT PRIMARY KEY NOT NULL,"
  "  seq INTEGER NOT NULL UNIQUE);"
  "CREATE TRIGGER outbound_head_insert AFTER INSERT ON outbound BEGIN"
  "  INSERT OR IGNORE INTO outbound_heads (queue_key, seq) VALUES (new.queue_key, new.seq);"
  "END;"
  "CREATE TRIGGER outbound_head_delete AFTER DELETE ON outbound BEGIN"
  "  DELETE FROM outbound_heads WHERE queue_key = old.queue_key AND seq = old.seq;"
  "  INSERT OR IGNORE INTO outbound_heads (queue_key, seq)"
  "    SELECT queue_key, seq FROM outbound WHERE queue_key = old.queue_key"
  "    ORDER BY seq LIMIT 1;"
  "END;"
  "CREATE TABLE outbound_done ("
  "  txn_id TEXT PRIMARY KEY NOT NULL,"
  "  at INTEGER NOT NULL) WITHOUT ROWID;"
  "CREATE INDEX outbound_done_at ON outbound_done (at);"

  "CREATE TABLE ghosts ("
  "  mxid TEXT PRIMARY KEY NOT NULL,"
  "  plugin TEXT NOT NULL,"
  "  legacy_id TEXT NOT NULL,"
  "  registered INTEGER NOT NULL DEFAULT 0,"
  "  displayname TEXT,"
  "  avatar_url TEXT);"

  "CREATE TABLE portals ("
  "  plugin TEXT NOT NULL,"
  "  login_id TEXT NOT NULL,"
  "  chat_id TEXT NOT NULL,"
  "  room_id TEXT UNIQUE,"
  "  kind TEXT,"
  "  name TEXT,"
  "  encrypted INTEGER NOT NULL DEFAULT 0,"
  "  UNIQUE (plugin, login_id, chat_id));"

  "CREATE TABLE messages ("
  "  plugin TEXT NOT NULL,"
  "  login_id TEXT NOT NULL,"
  "  chat_id TEXT NOT NULL,"
  "  legacy_id TEXT NOT NULL,"
  "  room_id TEXT NOT NULL,"
  "  event_id TEXT NOT NULL,"
  "  sender TEXT,"
  "  ts INTEGER NOT NULL DEFAULT 0,"
  "  UNIQUE (plugin, login_id, chat_id, legacy_id),"
  "  UNIQUE (room_id, event_id));"

  "CREATE TABLE logins ("
  "  id TEXT PRIMARY KEY NOT NULL,"
  "  owner TEXT NOT NULL,"
  "  plugin TEXT NOT NULL,"
  "  remote_id TEXT,"
  "  remote_name TEXT,"
  "  state TEXT NOT NULL);"
  "CREATE INDEX logins_by_owner ON logins (owner, id);"

  "CREATE TABLE management_rooms ("
  "  owner TEXT PRIMARY KEY NOT NULL,"
  "  room_id TEXT NOT NULL UNIQUE);"

  "CREATE TABLE ministry_plugins ("
  "  ministry TEXT NOT NULL,"
  "  plugin TEXT NOT NULL,"
  "  enabled INTEGER NOT NULL,"
  "  PRIMARY KEY (ministry, plugin)) WITHOUT ROWID;"

  "CREATE TABLE meta ("
  "  login_id TEXT NOT NULL,"
  "  scope INTEGER NOT NULL,"
  "  id TEXT NOT NULL,"
  "  value TEXT NOT NULL,"
  "  PRIMARY KEY (login_id, scope, id)) WITHOUT ROWID;"

  "CREATE TABLE kv ("
  "  key TEXT PRIMARY KEY NOT NULL,"
  "  value TEXT NOT NULL) WITHOUT ROWID;",

  /* v1 → v2: history import jobs, and a lane per remote event so imports
   * drain beside live traffic instead of in front of it. */
  "ALTER TABLE remote ADD COLUMN lane INTEGER NOT NULL DEFAULT 0;"
  "CREATE INDEX remote_by_lane ON remote (lane, login_id, seq);"
  "CREATE TABLE import_jobs ("
  "  id TEXT PRIMARY KEY NOT NULL,"
  "  owner TEXT NOT NULL,"
  "  plugin TEXT NOT NULL,"
  "  path TEXT NOT NULL,"
  "  options TEXT NOT NULL,"
  "  state TEXT NOT NULL,"
  "  room_id TEXT,"
  "  total INTEGER NOT NULL DEFAULT 0,"
  "  summary TEXT,"
  "  error TEXT,"
  "  created_at INTEGER NOT NULL,"
  "  updated_at INTEGER NOT NULL) WITHOUT ROWID;",
};

#define SCHEMA_VERSION ((int) G_N_ELEMENTS (migrations))

/* ------------------------------------------------------- statements */

/* A cached statement borrowed for one use: the cleanup resets it and drops
 * its bindings instead of finalizing it, so it can be reused. */
typedef sqlite3_stmt PaStoreStmt;

static void
store_stmt_release (PaStoreStmt *stmt)
{
  sqlite3_reset (stmt);
  sqlite3_clear_bindings (stmt);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PaStoreStmt, store_stmt_release)

static void
store_stmt_finalize (gpointer stmt)
{
  sqlite3_finalize (stmt);
}

static void
store_set_error (PaStore *store, GError **error, const char *what)
{
  g_set_error (error, PA_ERROR, PA_ERROR_STORE, "%s: %s", what, sqlite3_errmsg (store->db));
}

static PaStoreStmt *
store_prepare (PaStore *store, const char *sql, GError **error)
{
  sqlite3_stmt *stmt = g_hash_table_lookup (store->stmts, sql);

  if (stmt != NULL)
    return stmt;
  if (sqlite3_prepare_v3 (store->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL)
      != SQLITE_OK)
    {
      store_set_error (store, error, "preparing statement");
      return NULL;
    }
  g_hash_table_insert (store->stmts, g_strdup (sql), stmt);
  return stmt;
}

/* The cached statement for `sql` with its parameters bound, or NULL. */
static PaStoreStmt *
store_stmt (PaStore *store, GError **error, const char *sql, const char *types, ...)
{
  PaStoreStmt *stmt = store_prepare (store, sql, error);
  va_list ap;
  gboolean ok;

  if (stmt == NULL)
    return NULL;
  va_start (ap, types);
  ok = pa_sqlite_vbind (store->db, stmt, types, ap, 0, "", error);
  va_end (ap);
  if (!ok)
    {
      store_stmt_release (stmt);
      return NULL;
    }
  return stmt;
}

/* One step: SQLITE_ROW or SQLITE_DONE, or SQLITE_ERROR with `error` set. */
static int
store_step (PaStore *store, sqlite3_stmt *stmt, GError **error)
{
  return pa_sqlite_step (store->db, stmt, "", error);
}

/* Runs a statement that returns no rows. */
static gboolean
store_run (PaStore *store, GError **error, const char *sql, const char *types, ...)
{
  g_autoptr (PaStoreStmt) stmt = store_prepare (store, sql, error);
  va_list ap;
  gboolean ok;

  if (stmt == NULL)
    return FALSE;
  va_start (ap, types);
  ok = pa_sqlite_vbind (store->db, stmt, types, ap, 0, "", error);
  va_end (ap);
  if (!ok)
    return FALSE;
  return store_step (store, stmt, error) == SQLITE_DONE;
}

static char *
column_strdup (sqlite3_stmt *stmt, int col)
{
  return g_strdup ((const char *) sqlite3_column_text (stmt, col));
}

/* SELECT count(*)…: the count, or -1 (logged) on failure. */
static gint64
store_count (PaStore *store, const char *sql, const char *arg)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PaStoreStmt) stmt = store_stmt (store, &error, sql, arg != NULL ? "t" : "", arg);

  if (stmt == NULL || store_step (store, stmt, &error) != SQLITE_ROW)
    {
      g_warning ("counting rows: %s", error != NULL ? error->message : "no row");
      return -1;
    }
  return sqlite3_column_int64 (stmt, 0);
}

/* Lookups that cannot report errors: a failure is logged and reads as "not
 * found", which every caller already handles. */
static void
log_lookup_error (GError *error)
{
  if (error != NULL)
    g_warning ("store lookup failed: %s", error->message);
}

/* ------------------------------------------------------ transactions */

/* Transactions nest: the outermost level is BEGIN IMMEDIATE (taking the
 * write lock up front so it never fails half-way with SQLITE_BUSY), inner
 * levels are SAVEPOINTs, so a function with its own transaction works both
 * alone and inside the caller's pa_store_begin(). */
static gboolean
store_tx_begin (PaStore *store, GError **error)
{
  g_autoptr (PaStoreStmt) stmt = NULL;

  /* SQLite may abort a whole transaction on some errors (disk full, I/O);
   * nesting a savepoint then would silently start a new one. */
  if (store->depth > 0 && sqlite3_get_autocommit (store->db))
    {
      g_set_error_literal (error, PA_ERROR, PA_ERROR_STORE,
                           "the enclosing transaction was aborted by SQLite");
      return FALSE;
    }
  stmt = store_prepare (store, store->depth == 0 ? "BEGIN IMMEDIATE" : "SAVEPOINT pa", error);
  if (stmt == NULL || store_step (store, stmt, error) != SQLITE_DONE)
    return FALSE;
  store->depth++;
  return TRUE;
}

static void
store_tx_rollback (PaStore *store)
{
  g_autoptr (GError) error = NULL;

  if (store->depth == 0)
    return;
  store->depth--;
  if (sqlite3_get_autocommit (store->db))
    return; /* SQLite already rolled everything back */
  if (store->depth == 0)
    {
      g_autoptr (PaStoreStmt) stmt = store_prepare (store, "ROLLBACK", &error);

      if (stmt != NULL && store_step (store, stmt, &error) == SQLITE_DONE)
        return;
    }
  else
    {
      if (store_run (store, &error, "ROLLBACK TO pa", "")
          && store_run (store, &error, "RELEASE pa", ""))
        return;
    }
  g_warning ("rolling back: %s", error->message);
}

static gboolean
store_tx_commit (PaStore *store, GError **error)
{
  g_autoptr (PaStoreStmt) stmt = NULL;

  g_return_val_if_fail (store->depth > 0, FALSE);
  if (sqlite3_get_autocommit (store->db))
    {
      store->depth--;
      g_set_error_literal (error, PA_ERROR, PA_ERROR_STORE,
                           "the transaction was aborted by SQLite");
      return FALSE;
    }
  stmt = store_prepare (store, store->depth == 1 ? "COMMIT" : "RELEASE pa", error);
  if (stmt == NULL || store_step (store, stmt, error) != SQLITE_DONE)
    {
      g_clear_pointer (&stmt, store_stmt_release);
      store_tx_rollback (store);
      return FALSE;
    }
  store->depth--;
  return TRUE;
}

/* Starts a transaction, or a savepoint inside the current one.  Pair with
 * pa_store_commit() or pa_store_rollback(). */
gboolean
pa_store_begin (PaStore *store, GError **error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  return store_tx_begin (store, error);
}

/* Commits the innermost level.  On failure that level is rolled back, so
 * the caller must not call pa_store_rollback() for it (doing so is a
 * harmless no-op at the outermost level). */
gboolean
pa_store_commit (PaStore *store, GError **error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  return store_tx_commit (store, error);
}

/* Undoes everything since the matching pa_store_begin().  No-op when no
 * transaction is open. */
void
pa_store_rollback (PaStore *store)
{
  g_return_if_fail (store != NULL);
  store_tx_rollback (store);
}

/* -------------------------------------------------------- open/close */

static gboolean
store_exec (PaStore *store, const char *sql, GError **error)
{
  char *msg = NULL;

  if (sqlite3_exec (store->db, sql, NULL, NULL, &msg) != SQLITE_OK)
    {
      g_set_error_literal (error, PA_ERROR, PA_ERROR_STORE,
                           msg != NULL ? msg : sqlite3_errmsg (store->db));
      sqlite3_free (msg);
      return FALSE;
    }
  return TRUE;
}

static gboolean
store_read_version (PaStore *store, int *out_version, GError **error)
{
  g_autoptr (PaStoreStmt) stmt = store_prepare (store, "PRAGMA user_version", error);

  if (stmt == NULL || store_step (store, stmt, error) != SQLITE_ROW)
    return FALSE;
  *out_version = sqlite3_column_int (stmt, 0);
  return TRUE;
}

static gboolean
store_migrate (PaStore *store, const char *path, GError **error)
{
  int version;

  if (!store_read_version (store, &version, error))
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
      g_set_error (error, PA_ERROR, PA_ERROR_STORE,
                   "%s: invalid database schema version %d", path, version);
      return FALSE;
    }
  /* Each step commits together with its version bump, so an interrupted
   * upgrade resumes at the first step that did not complete. */
  for (; version < SCHEMA_VERSION; version++)
    {
      g_autofree char *bump = g_strdup_printf ("PRAGMA user_version = %d", version + 1);

      if (!store_tx_begin (store, error))
        return FALSE;
      if (!store_exec (store, migrations[version], error) || !store_exec (store, bump, error))
        {
          store_tx_rollback (store);
          g_prefix_error (error, "%s: migrating schema to version %d: ", path, version + 1);
          return FALSE;
        }
      if (!store_tx_commit (store, error))
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

  if (!store_tx_begin (store, error))
    return FALSE;
  if (!store_run (store, error, "DELETE FROM outbound_done WHERE at < ?", "I",
                  now - OUTBOUND_DONE_KEEP_MS)
      || !store_run (store, error, "DELETE FROM remote_seen WHERE at < ?", "I",
                     now - REMOTE_SEEN_KEEP_MS)
      || !store_run (store, error, "DELETE FROM txns WHERE at < ?", "I", now - TXN_KEEP_MS))
    {
      store_tx_rollback (store);
      return FALSE;
    }
  return store_tx_commit (store, error);
}

/* Opens (creating if needed) the database at `path` and migrates it to the
 * current schema.  ":memory:" gives a private in-memory database. */
PaStore *
pa_store_open (const char *path, GError **error)
{
  g_autoptr (PaStore) store = NULL;
  gboolean in_memory;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_EXRESCODE;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  in_memory = g_strcmp0 (path, ":memory:") == 0;
  if (!in_memory && !pa_sqlite_create_private_file (path, error))
    return NULL;

  store = g_new0 (PaStore, 1);
  store->stmts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                        store_stmt_finalize);
  if (sqlite3_open_v2 (path, &store->db, flags, NULL) != SQLITE_OK)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_STORE, "opening %s: %s", path,
                   store->db != NULL ? sqlite3_errmsg (store->db) : "out of memory");
      return NULL;
    }
  sqlite3_extended_result_codes (store->db, 1);
  sqlite3_limit (store->db, SQLITE_LIMIT_LENGTH, STORE_MAX_VALUE_BYTES);

  /* synchronous=NORMAL in WAL mode survives a process crash (kill -9) and
   * loses at most the last commits on power loss, never consistency. */
  if (!store_exec (store, "PRAGMA busy_timeout = 5000", error)
      || !store_exec (store, "PRAGMA foreign_keys = ON", error)
      || !store_exec (store, "PRAGMA journal_mode = WAL", error)
      || !store_exec (store, "PRAGMA synchronous = NORMAL", error))
    {
      g_prefix_error (error, "%s: configuring the connection: ", path);
      return NULL;
    }
  if (!in_memory)
    {
      g_autoptr (PaStoreStmt) stmt = store_prepare (store, "PRAGMA journal_mode", error);

      if (stmt == NULL || store_step (store, stmt, error) != SQLITE_ROW)
        return NULL;
      if (g_ascii_strcasecmp ((const char *) sqlite3_column_text (stmt, 0), "wal") != 0)
        g_warning ("%s: could not enable WAL journaling (got %s)", path,
                   sqlite3_column_text (stmt, 0));
    }

  if (!store_migrate (store, path, error) || !store_prune (store, error))
    return NULL;
  return g_steal_pointer (&store);
}

/* Closes the database; an open transaction is rolled back.  NULL-safe. */
void
pa_store_close (PaStore *store)
{
  if (store == NULL)
    return;
  if (store->depth > 0)
    {
      g_warning ("closing the store with an open transaction: rolling it back");
      while (store->depth > 0)
        store_tx_rollback (store);
    }
  g_clear_pointer (&store->stmts, g_hash_table_destroy);
  if (store->db != NULL)
    {
      /* never touch a database we refused (newer schema) */
      if (store->version == SCHEMA_VERSION)
        sqlite3_exec (store->db, "PRAGMA optimize", NULL, NULL, NULL);
      if (sqlite3_close (store->db) != SQLITE_OK)
        g_warning ("closing the database: %s", sqlite3_errmsg (store->db));
    }
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

gboolean
pa_store_check (PaStore *store, GError **error)
{
  g_autoptr (PaStoreStmt) stmt = NULL;
  int rc;

  g_return_val_if_fail (store != NULL, FALSE);

  stmt = store_stmt (store, error, "PRAGMA integrity_check", "");
  if (stmt == NULL || store_step (store, stmt, error) != SQLITE_ROW)
    return FALSE;
  if (g_strcmp0 ((const char *) sqlite3_column_text (stmt, 0), "ok") != 0)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_STORE, "integrity check failed: %s",
                   sqlite3_column_text (stmt, 0));
      return FALSE;
    }
  g_clear_pointer (&stmt, store_stmt_release);

  stmt = store_stmt (store, error, "PRAGMA foreign_key_check", "");
  if (stmt == NULL || (rc = store_step (store, stmt, error)) == SQLITE_ERROR)
    return FALSE;
  if (rc == SQLITE_ROW)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_STORE, "foreign key check failed in table %s",
                   sqlite3_column_text (stmt, 0));
      return FALSE;
    }
  g_clear_pointer (&stmt, store_stmt_release);

  /* every key with items has exactly one head, and it is its oldest item */
  stmt = store_stmt (store, error,
                     "SELECT k.queue_key FROM"
                     " (SELECT queue_key, min(seq) AS seq FROM outbound GROUP BY queue_key) k"
                     " WHERE NOT EXISTS (SELECT 1 FROM outbound_heads h"
                     "   WHERE h.queue_key = k.queue_key AND h.seq = k.seq)"
                     " UNION ALL SELECT h.queue_key FROM outbound_heads h"
                     " WHERE NOT EXISTS (SELECT 1 FROM outbound o"
                     "   WHERE o.seq = h.seq AND o.queue_key = h.queue_key)"
                     " LIMIT 1",
                     "");
  if (stmt == NULL || (rc = store_step (store, stmt, error)) == SQLITE_ERROR)
    return FALSE;
  if (rc == SQLITE_ROW)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_STORE,
                   "outbound queue head of %s is not its oldest item",
                   sqlite3_column_text (stmt, 0));
      return FALSE;
    }
  return TRUE;
}

/* ------------------------------------------------------------ inbound */

gboolean
pa_store_txn_accept (PaStore *store, const char *txn_id, json_t *events,
                     gboolean *out_duplicate, GError **error)
{
  size_t i;
  json_t *event;

  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (txn_id != NULL, FALSE);

  if (out_duplicate != NULL)
    *out_duplicate = FALSE;
  if (!json_is_array (events))
    {
      g_set_error (error, PA_ERROR, PA_ERROR_JSON, "transaction %s: events is not an array",
                   txn_id);
      return FALSE;
    }
  if (!store_tx_begin (store, error))
    return FALSE;
  if (!store_run (store, error, "INSERT INTO txns (txn_id, at) VALUES (?, ?)"
                  " ON CONFLICT (txn_id) DO NOTHING", "tI", txn_id, pa_now_ms ()))
    goto fail;
  if (sqlite3_changes (store->db) == 0)
    {
      if (out_duplicate != NULL)
        *out_duplicate = TRUE;
      store_tx_rollback (store);
      return TRUE;
    }
  json_array_foreach (events, i, event)
    {
      g_autofree char *text = json_dumps (event, JSON_COMPACT | JSON_ENCODE_ANY);

      if (text == NULL)
        {
          g_set_error (error, PA_ERROR, PA_ERROR_JSON,
                       "transaction %s: event %zu cannot be serialised", txn_id, i);
          goto fail;
        }
      if (!store_run (store, error, "INSERT INTO inbound (txn_id, event) VALUES (?, ?)", "tt",
                      txn_id, text))
        goto fail;
    }
  return store_tx_commit (store, error);

fail:
  store_tx_rollback (store);
  return FALSE;
}

json_t *
pa_store_inbound_peek (PaStore *store, guint limit, GError **error)
{
  g_autoptr (json_t) result = json_array ();
  g_autoptr (PaStoreStmt) stmt = NULL;
  int rc;

  g_return_val_if_fail (store != NULL, NULL);

  stmt = store_stmt (store, error, "SELECT seq, event FROM inbound ORDER BY seq LIMIT ?", "I",
                     (gint64) limit);
  if (stmt == NULL)
    return NULL;
  while ((rc = store_step (store, stmt, error)) == SQLITE_ROW)
    {
      gint64 seq = sqlite3_column_int64 (stmt, 0);
      json_error_t jerr;
      json_t *event = json_loads ((const char *) sqlite3_column_text (stmt, 1),
                                  JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);

      if (event == NULL)
        {
          g_set_error (error, PA_ERROR, PA_ERROR_JSON, "inbound event %" G_GINT64_FORMAT
                       " is not valid JSON: %s", seq, jerr.text);
          return NULL;
        }
      /* "o" steals event even if packing fails */
      json_array_append_new (result, json_pack ("{s:I, s:o}", "seq", (json_int_t) seq,
                                                "event", event));
    }
  if (rc != SQLITE_DONE)
    return NULL;
  return g_steal_pointer (&result);
}

gboolean
pa_store_inbound_done (PaStore *store, gint64 seq, GError **error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  return store_run (store, error, "DELETE FROM inbound WHERE seq = ?", "I", seq);
}

gint64
pa_store_inbound_count (PaStore *store)
{
  g_return_val_if_fail (store != NULL, -1);
  return store_count (store, "SELECT count(*) FROM inbound", NULL);
}

/* ------------------------------------------------------------- remote */

/* Returns the new seq, 0 for a duplicate (*out_duplicate set), -1 on
 * error.  A key stays known after pa_store_remote_done() for a week. */
gint64
pa_store_remote_add (PaStore *store, const char *login_id, const char *dedup_key,
                     const char *event_json, gboolean *out_duplicate, GError **error)
{
  gint64 seq = -1;

  g_return_val_if_fail (store != NULL, -1);
  g_return_val_if_fail (login_id != NULL, -1);
  g_return_val_if_fail (event_json != NULL, -1);

  if (out_duplicate != NULL)
    *out_duplicate = FALSE;
  /* peek hands these back as JSON strings, which must be UTF-8 */
  if (!g_utf8_validate (login_id, -1, NULL) || !g_utf8_validate (event_json, -1, NULL))
    {
      g_set_error_literal (error, PA_ERROR, PA_ERROR_JSON,
                           "remote event or login id is not valid UTF-8");
      return -1;
    }
  if (dedup_key != NULL)
    {
      g_autoptr (PaStoreStmt) stmt = store_stmt (store, error,
                                                 "SELECT 1 FROM remote_seen WHERE dedup_key = ?",
                                                 "t", dedup_key);
      int rc;

      if (stmt == NULL || (rc = store_step (store, stmt, error)) == SQLITE_ERROR)
        return -1;
      if (rc == SQLITE_ROW)
        {
          if (out_duplicate != NULL)
            *out_duplicate = TRUE;
          return 0;
        }
    }
  if (!store_run (store, error,
                  "INSERT INTO remote (login_id, dedup_key, event, lane) VALUES (?, ?, ?,"
                  " CASE WHEN substr (?1, 1, 7) = 'import:' THEN 1 ELSE 0 END)"
                  " ON CONFLICT (dedup_key) DO NOTHING",
                  "ttt", login_id, dedup_key, event_json))
    return -1;
  if (sqlite3_changes (store->db) == 0)
    {
      if (out_duplicate != NULL)
        *out_duplicate = TRUE;
      return 0;
    }
  seq = sqlite3_last_insert_rowid (store->db);
  return seq;
}

/* Rows of a remote peek statement as [{seq, login_id, event}]. */
static json_t *
remote_rows (PaStore *store, PaStoreStmt *stmt, GError **error)
{
  g_autoptr (json_t) result = json_array ();
  int rc;

  while ((rc = store_step (store, stmt, error)) == SQLITE_ROW)
    {
      gint64 seq = sqlite3_column_int64 (stmt, 0);
      json_t *entry = json_pack ("{s:I, s:s, s:s}", "seq", (json_int_t) seq,
                                 "login_id", (const char *) sqlite3_column_text (stmt, 1),
                                 "event", (const char *) sqlite3_column_text (stmt, 2));

      /* only reachable with rows written by something else than remote_add */
      if (entry == NULL)
        {
          g_set_error (error, PA_ERROR, PA_ERROR_JSON,
                       "remote event %" G_GINT64_FORMAT " is not valid UTF-8", seq);
          return NULL;
        }
      json_array_append_new (result, entry);
    }
  if (rc != SQLITE_DONE)
    return NULL;
  return g_steal_pointer (&result);
}

json_t *
pa_store_remote_peek (PaStore *store, guint limit, GError **error)
{
  g_return_val_if_fail (store != NULL, NULL);

  g_autoptr (PaStoreStmt) stmt = store_stmt (
      store, error, "SELECT seq, login_id, event FROM remote WHERE lane = 0 ORDER BY seq LIMIT ?",
      "I", (gint64) limit);
  return stmt ? remote_rows (store, stmt, error) : NULL;
}

/* Deletes the event and remembers its dedup key. */
gboolean
pa_store_remote_done (PaStore *store, gint64 seq, GError **error)
{
  g_return_val_if_fail (store != NULL, FALSE);

  if (!store_tx_begin (store, error))
    return FALSE;
  if (!store_run (store, error,
                  "INSERT OR IGNORE INTO remote_seen (dedup_key, at)"
                  " SELECT dedup_key, ? FROM remote WHERE seq = ? AND dedup_key IS NOT NULL",
                  "II", pa_now_ms (), seq)
      || !store_run (store, error, "DELETE FROM remote WHERE seq = ?", "I", seq))
    {
      store_tx_rollback (store);
      return FALSE;
    }
  return store_tx_commit (store, error);
}

gint64
pa_store_remote_count (PaStore *store)
{
  g_return_val_if_fail (store != NULL, -1);
  return store_count (store, "SELECT count(*) FROM remote", NULL);
}

/* ----------------------------------------------------------- outbound */

void
pa_outbound_item_free (PaOutboundItem *item)
{
  if (item == NULL)
    return;
  g_free (item->txn_id);
  g_free (item->queue_key);
  g_free (item->method);
  g_free (item->path);
  g_free (item->user_id);
  g_free (item->body);
  g_free (item->on_done);
  g_free (item);
}

/* Returns the new seq (> 0), 0 for a duplicate, -1 on error.  item->seq is
 * ignored. */
gint64
pa_store_outbound_add (PaStore *store, const PaOutboundItem *item, gboolean *out_duplicate,
                       GError **error)
{
  g_return_val_if_fail (store != NULL, -1);
  g_return_val_if_fail (item != NULL, -1);
  g_return_val_if_fail (item->txn_id != NULL && item->queue_key != NULL, -1);
  g_return_val_if_fail (item->method != NULL && item->path != NULL, -1);
  g_return_val_if_fail (item->body != NULL, -1);

  if (out_duplicate != NULL)
    *out_duplicate = FALSE;
  {
    g_autoptr (PaStoreStmt) stmt = store_stmt (store, error,
                                               "SELECT 1 FROM outbound_done WHERE txn_id = ?",
                                               "t", item->txn_id);
    int rc;

    if (stmt == NULL || (rc = store_step (store, stmt, error)) == SQLITE_ERROR)
      return -1;
    if (rc == SQLITE_ROW)
      {
        if (out_duplicate != NULL)
          *out_duplicate = TRUE;
        return 0;
      }
  }
  if (!store_run (store, error,
                  "INSERT INTO outbound (txn_id, queue_key, method, path, user_id, ts, body,"
                  " on_done, attempts, not_before) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                  " ON CONFLICT (txn_id) DO NOTHING",
                  "tttttIttiI", item->txn_id, item->queue_key, item->method, item->path,
                  item->user_id, item->ts, item->body, item->on_done, item->attempts,
                  item->not_before_ms))
    return -1;
  if (sqlite3_changes (store->db) == 0)
    {
      if (out_duplicate != NULL)
        *out_duplicate = TRUE;
      return 0;
    }
  return sqlite3_last_insert_rowid (store->db);
}

static PaOutboundItem *
outbound_item_from_row (sqlite3_stmt *stmt)
{
  PaOutboundItem *item = g_new0 (PaOutboundItem, 1);

  item->seq = sqlite3_column_int64 (stmt, 0);
  item->txn_id = column_strdup (stmt, 1);
  item->queue_key = column_strdup (stmt, 2);
  item->method = column_strdup (stmt, 3);
  item->path = column_strdup (stmt, 4);
  item->user_id = column_strdup (stmt, 5);
  item->ts = sqlite3_column_int64 (stmt, 6);
  item->body = column_strdup (stmt, 7);
  item->on_done = column_strdup (stmt, 8);
  item->attempts = sqlite3_column_int (stmt, 9);
  item->not_before_ms = sqlite3_column_int64 (stmt, 10);
  return item;
}

/* Walks the heads in seq order (the UNIQUE index on outbound_heads.seq),
 * so the cost is the number of heads skipped (busy or backing off) plus
 * `limit`, whatever the length of the queues behind them.  CROSS JOIN
 * pins that loop order: SQLite never reorders it. */
GPtrArray *
pa_store_outbound_ready (PaStore *store, GHashTable *busy_keys, gint64 now_ms, guint limit,
                         GError **error)
{
  g_autoptr (GPtrArray) result =
    g_ptr_array_new_with_free_func ((GDestroyNotify) pa_outbound_item_free);
  g_autoptr (PaStoreStmt) stmt = NULL;
  int rc = SQLITE_DONE;

  g_return_val_if_fail (store != NULL, NULL);

  if (limit == 0)
    return g_steal_pointer (&result);
  stmt = store_stmt (store, error,
                     "SELECT o.seq, o.txn_id, o.queue_key, o.method, o.path, o.user_id, o.ts,"
                     " o.body, o.on_done, o.attempts, o.not_before"
                     " FROM outbound_heads h CROSS JOIN outbound o ON o.seq = h.seq"
                     " WHERE o.not_before <= ? ORDER BY h.seq",
                     "I", now_ms);
  if (stmt == NULL)
    return NULL;
  while (result->len < limit && (rc = store_step (store, stmt, error)) == SQLITE_ROW)
    {
      const char *key = (const char *) sqlite3_column_text (stmt, 2);

      if (busy_keys != NULL && g_hash_table_contains (busy_keys, key))
        continue;
      g_ptr_array_add (result, outbound_item_from_row (stmt));
    }
  if (rc == SQLITE_ERROR)
    return NULL;
  return g_steal_pointer (&result);
}

gboolean
pa_store_outbound_done (PaStore *store, gint64 seq, GError **error)
{
  g_return_val_if_fail (store != NULL, FALSE);

  if (!store_tx_begin (store, error))
    return FALSE;
  if (!store_run (store, error,
                  "INSERT OR IGNORE INTO outbound_done (txn_id, at)"
                  " SELECT txn_id, ? FROM outbound WHERE seq = ?",
                  "II", pa_now_ms (), seq)
      || !store_run (store, error, "DELETE FROM outbound WHERE seq = ?", "I", seq))
    {
      store_tx_rollback (store);
      return FALSE;
    }
  return store_tx_commit (store, error);
}

gboolean
pa_store_outbound_retry (PaStore *store, gint64 seq, gint64 not_before_ms, GError **error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  return store_run (store, error,
                    "UPDATE outbound SET attempts = attempts + 1, not_before = ? WHERE seq = ?",
                    "II", not_before_ms, seq);
}

/* Only queue heads count: an item behind another cannot be sent before it,
 * whatever its own not_before, and counting it would make the caller wake
 * up for nothing. */
gint64
pa_store_outbound_next_due (PaStore *store)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PaStoreStmt) stmt = NULL;

  g_return_val_if_fail (store != NULL, -1);

  stmt = store_stmt (store, &error,
                     "SELECT min(o.not_before) FROM outbound_heads h CROSS"
                     " JOIN outbound o ON o.seq = h.seq", "");
  if (stmt == NULL || store_step (store, stmt, &error) != SQLITE_ROW)
    {
      log_lookup_error (error);
      return -1;
    }
  if (sqlite3_column_type (stmt, 0) == SQLITE_NULL)
    return -1;
  return sqlite3_column_int64 (stmt, 0);
}

gint64
pa_store_outbound_count (PaStore *store)
{
  g_return_val_if_fail (store != NULL, -1);
  return store_count (store, "SELECT count(*) FROM outbound", NULL);
}

/* ------------------------------------------------------------- ghosts */

/* TRUE if the ghost is known; each out parameter may be NULL. */
gboolean
pa_store_ghost_get (PaStore *store, const char *mxid, gboolean *out_registered,
                    char **out_displayname, char **out_avatar_url)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PaStoreStmt) stmt = NULL;

  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (mxid != NULL, FALSE);

  stmt = store_stmt (store, &error,
                     "SELECT registered, displayname, avatar_url FROM ghosts WHERE mxid = ?", "t",
                     mxid);
  if (stmt == NULL || store_step (store, stmt, &error) != SQLITE_ROW)
    {
      log_lookup_error (error);
      return FALSE;
    }
  if (out_registered != NULL)
    *out_registered = sqlite3_column_int (stmt, 0) != 0;
  if (out_displayname != NULL)
    *out_displayname = column_strdup (stmt, 1);
  if (out_avatar_url != NULL)
    *out_avatar_url = column_strdup (stmt, 2);
  return TRUE;
}

/* Upsert by mxid. */
gboolean
pa_store_ghost_put (PaStore *store, const char *mxid, const char *plugin, const char *legacy_id,
                    gboolean registered, const char *displayname, const char *avatar_url,
                    GError **error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (mxid != NULL && plugin != NULL && legacy_id != NULL, FALSE);

  return store_run (store, error,
                    "INSERT INTO ghosts (mxid, plugin, legacy_id, registered, displayname,"
                    " avatar_url) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (mxid) DO UPDATE SET"
                    " plugin = excluded.plugin, legacy_id = excluded.legacy_id,"
                    " registered = excluded.registered, displayname = excluded.displayname,"
                    " avatar_url = excluded.avatar_url",
                    "tttitt", mxid, plugin, legacy_id, registered ? 1 : 0, displayname,
                    avatar_url);
}

gint64
pa_store_ghost_count (PaStore *store)
{
  g_return_val_if_fail (store != NULL, -1);
  return store_count (store, "SELECT count(*) FROM ghosts", NULL);
}

/* ------------------------------------------------------------ portals */

void
pa_portal_row_free (PaPortalRow *row)
{
  if (row == NULL)
    return;
  g_free (row->plugin);
  g_free (row->login_id);
  g_free (row->chat_id);
  g_free (row->room_id);
  g_free (row->kind);
  g_free (row->name);
  g_free (row);
}

/* Fails (PA_ERROR_STORE) if row->room_id already belongs to another portal. */
gboolean
pa_store_portal_put (PaStore *store, const PaPortalRow *row, GError **error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (row != NULL, FALSE);
  g_return_val_if_fail (row->plugin != NULL && row->login_id != NULL && row->chat_id != NULL,
                        FALSE);

  return store_run (store, error,
                    "INSERT INTO portals (plugin, login_id, chat_id, room_id, kind, name,"
                    " encrypted) VALUES (?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (plugin, login_id, chat_id) DO UPDATE SET"
                    " room_id = excluded.room_id, kind = excluded.kind, name = excluded.name,"
                    " encrypted = excluded.encrypted",
                    "tttttti", row->plugin, row->login_id, row->chat_id, row->room_id, row->kind,
                    row->name, row->encrypted ? 1 : 0);
}

static PaPortalRow *
portal_from_row (sqlite3_stmt *stmt)
{
  PaPortalRow *row = g_new0 (PaPortalRow, 1);

  row->plugin = column_strdup (stmt, 0);
  row->login_id = column_strdup (stmt, 1);
  row->chat_id = column_strdup (stmt, 2);
  row->room_id = column_strdup (stmt, 3);
  row->kind = column_strdup (stmt, 4);
  row->name = column_strdup (stmt, 5);
  row->encrypted = sqlite3_column_int (stmt, 6) != 0;
  return row;
}

#define PORTAL_COLUMNS "SELECT plugin, login_id, chat_id, room_id, kind, name, encrypted"

/* The portal, or NULL (transfer full). */
PaPortalRow *
pa_store_portal_get (PaStore *store, const char *plugin, const char *login_id,
                     const char *chat_id)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PaStoreStmt) stmt = NULL;

  g_return_val_if_fail (store != NULL, NULL);
  g_return_val_if_fail (plugin != NULL && login_id != NULL && chat_id != NULL, NULL);

  stmt = store_stmt (store, &error,
                     PORTAL_COLUMNS " FROM portals"
                     " WHERE plugin = ? AND login_id = ? AND chat_id = ?",
                     "ttt", plugin, login_id, chat_id);
  if (stmt == NULL || store_step (store, stmt, &error) != SQLITE_ROW)
    {
      log_lookup_error (error);
      return NULL;
    }
  return portal_from_row (stmt);
}

/* The portal bridged to room_id, or NULL (transfer full). */
PaPortalRow *
pa_store_portal_by_room (PaStore *store, const char *room_id)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PaStoreStmt) stmt = NULL;

  g_return_val_if_fail (store != NULL, NULL);
  g_return_val_if_fail (room_id != NULL, NULL);

  stmt = store_stmt (store, &error, PORTAL_COLUMNS " FROM portals WHERE room_id = ?", "t",
                     room_id);
  if (stmt == NULL || store_step (store, stmt, &error) != SQLITE_ROW)
    {
      log_lookup_error (error);
      return NULL;
    }
  return portal_from_row (stmt);
}

/* Deleting a room no portal has is not an error. */
gboolean
pa_store_portal_delete (PaStore *store, const char *room_id, GError **error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (room_id != NULL, FALSE);
  return store_run (store, error, "DELETE FROM portals WHERE room_id = ?", "t", room_id);
}

gint64
pa_store_portal_count (PaStore *store)
{
  g_return_val_if_fail (store != NULL, -1);
  return store_count (store, "SELECT count(*) FROM portals", NULL);
}

/* ----------------------------------------------------------- messages */

/* A legacy id (or event id) already mapped keeps its first mapping: the
 * second put is a successful no-op. */
gboolean
pa_store_message_put (PaStore *store, const char *plugin, const char *login_id,
                      const char *chat_id, const char *legacy_id, const char *room_id,
                      const char *event_id, const char *sender, gint64 ts, GError **error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (plugin != NULL && login_id != NULL && chat_id != NULL, FALSE);
  g_return_val_if_fail (legacy_id != NULL && room_id != NULL && event_id != NULL, FALSE);

  return store_run (store, error,
                    "INSERT INTO messages (plugin, login_id, chat_id, legacy_id, room_id,"
                    " event_id, sender, ts) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT DO NOTHING",
                    "tttttttI", plugin, login_id, chat_id, legacy_id, room_id, event_id, sender,
                    ts);
}

char *
pa_store_message_event_id (PaStore *store, const char *plugin, const char *login_id,
                           const char *chat_id, const char *legacy_id)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PaStoreStmt) stmt = NULL;

  g_return_val_if_fail (store != NULL, NULL);
  g_return_val_if_fail (plugin != NULL && login_id != NULL, NULL);
  g_return_val_if_fail (chat_id != NULL && legacy_id != NULL, NULL);

  stmt = store_stmt (store, &error,
                     "SELECT event_id FROM messages"
                     " WHERE plugin = ? AND login_id = ? AND chat_id = ? AND legacy_id = ?",
                     "tttt", plugin, login_id, chat_id, legacy_id);
  if (stmt == NULL || store_step (store, stmt, &error) != SQLITE_ROW)
    {
      log_lookup_error (error);
      return NULL;
    }
  return column_strdup (stmt, 0);
}

char *
pa_store_message_legacy_id (PaStore *store, const char *room_id, const char *event_id,
                            char **out_chat_id)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PaStoreStmt) stmt = NULL;

  if (out_chat_id != NULL)
    *out_chat_id = NULL;
  g_return_val_if_fail (store != NULL, NULL);
  g_return_val_if_fail (room_id != NULL && event_id != NULL, NULL);

  stmt = store_stmt (store, &error,
                     "SELECT legacy_id, chat_id FROM messages WHERE room_id = ? AND event_id = ?",
                     "tt", room_id, event_id);
  if (stmt == NULL || store_step (store, stmt, &error) != SQLITE_ROW)
    {
      log_lookup_error (error);
      return NULL;
    }
  if (out_chat_id != NULL)
    *out_chat_id = column_strdup (stmt, 1);
  return column_strdup (stmt, 0);
}

gint64
pa_store_message_count_in_room (PaStore *store, const char *room_id)
{
  g_return_val_if_fail (store != NULL, -1);
  g_return_val_if_fail (room_id != NULL, -1);
  return store_count (store, "SELECT count(*) FROM messages WHERE room_id = ?", room_id);
}

/* ------------------------------------------------------------- logins */

void
pa_login_row_free (PaLoginRow *row)
{
  if (row == NULL)
    return;
  g_free (row->id);
  g_free (row->owner);
  g_free (row->plugin);
  g_free (row->remote_id);
  g_free (row->remote_name);
  g_free (row->state);
  g_free (row);
}

/* Upsert by id. */
gboolean
pa_store_login_put (PaStore *store, const PaLoginRow *row, GError **error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (row != NULL, FALSE);
  g_return_val_if_fail (row->id != NULL && row->owner != NULL && row->plugin != NULL, FALSE);

  return store_run (store, error,
                    "INSERT INTO logins (id, owner, plugin, remote_id, remote_name, state)"
                    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET"
                    " owner = excluded.owner, plugin = excluded.plugin,"
                    " remote_id = excluded.remote_id, remote_name = excluded.remote_name,"
                    " state = excluded.state",
                    "tttttt", row->id, row->owner, row->plugin, row->remote_id, row->remote_name,
                    row->state != NULL ? row->state : "new");
}

#define LOGIN_COLUMNS "SELECT id, owner, plugin, remote_id, remote_name, state FROM logins"

static PaLoginRow *
login_from_row (sqlite3_stmt *stmt)
{
  PaLoginRow *row = g_new0 (PaLoginRow, 1);

  row->id = column_strdup (stmt, 0);
  row->owner = column_strdup (stmt, 1);
  row->plugin = column_strdup (stmt, 2);
  row->remote_id = column_strdup (stmt, 3);
  row->remote_name = column_strdup (stmt, 4);
  row->state = column_strdup (stmt, 5);
  return row;
}

PaLoginRow *
pa_store_login_get (PaStore *store, const char *id)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PaStoreStmt) stmt = NULL;

  g_return_val_if_fail (store != NULL, NULL);
  g_return_val_if_fail (id != NULL, NULL);

  stmt = store_stmt (store, &error, LOGIN_COLUMNS " WHERE id = ?", "t", id);
  if (stmt == NULL || store_step (store, stmt, &error) != SQLITE_ROW)
    {
      log_lookup_error (error);
      return NULL;
    }
  return login_from_row (stmt);
}

/* Sorted by id.  On a database error the list is empty (and logged). */
GPtrArray *
pa_store_login_list (PaStore *store, const char *owner)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PaStoreStmt) stmt = NULL;
  GPtrArray *result = g_ptr_array_new_with_free_func ((GDestroyNotify) pa_login_row_free);
  int rc = SQLITE_ERROR;

  g_return_val_if_fail (store != NULL, result);

  if (owner != NULL)
    stmt = store_stmt (store, &error, LOGIN_COLUMNS " WHERE owner = ? ORDER BY id", "t", owner);
  else
    stmt = store_stmt (store, &error, LOGIN_COLUMNS " ORDER BY id", "");
  if (stmt != NULL)
    while ((rc = store_step (store, stmt, &error)) == SQLITE_ROW)
      g_ptr_array_add (result, login_from_row (stmt));
  if (rc != SQLITE_DONE)
    {
      log_lookup_error (error);
      g_ptr_array_set_size (result, 0);
    }
  return result;
}

/* Deleting an unknown login is not an error.  The login's plugin metadata
 * is left alone: the caller decides whether a logout forgets it. */
gboolean
pa_store_login_delete (PaStore *store, const char *id, GError **error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (id != NULL, FALSE);
  return store_run (store, error, "DELETE FROM logins WHERE id = ?", "t", id);
}

/* --------------------------------------------------- single values */

/* The first column of the first row as a string, or NULL (logged on error). */
static char *
store_lookup_text (PaStore *store, const char *sql, const char *types, ...)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PaStoreStmt) stmt = store_prepare (store, sql, &error);
  va_list ap;
  gboolean ok;

  if (stmt == NULL)
    {
      log_lookup_error (error);
      return NULL;
    }
  va_start (ap, types);
  ok = pa_sqlite_vbind (store->db, stmt, types, ap, 0, "", &error);
  va_end (ap);
  if (!ok || store_step (store, stmt, &error) != SQLITE_ROW)
    {
      log_lookup_error (error);
      return NULL;
    }
  return column_strdup (stmt, 0);
}

/* Upsert by owner; fails if room_id is another owner's management room. */
gboolean
pa_store_management_put (PaStore *store, const char *owner, const char *room_id,
                         GError **error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (owner != NULL && room_id != NULL, FALSE);
  return store_run (store, error,
                    "INSERT INTO management_rooms (owner, room_id) VALUES (?, ?)"
                    " ON CONFLICT (owner) DO UPDATE SET room_id = excluded.room_id",
                    "tt", owner, room_id);
}

char *
pa_store_management_room (PaStore *store, const char *owner)
{
  g_return_val_if_fail (store != NULL, NULL);
  g_return_val_if_fail (owner != NULL, NULL);
  return store_lookup_text (store, "SELECT room_id FROM management_rooms WHERE owner = ?", "t",
                            owner);
}

char *
pa_store_management_owner (PaStore *store, const char *room_id)
{
  g_return_val_if_fail (store != NULL, NULL);
  g_return_val_if_fail (room_id != NULL, NULL);
  return store_lookup_text (store, "SELECT owner FROM management_rooms WHERE room_id = ?", "t",
                            room_id);
}

gboolean
pa_store_ministry_plugin_set (PaStore *store, const char *ministry, const char *plugin,
                              gboolean enabled, GError **error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (ministry != NULL && plugin != NULL, FALSE);
  return store_run (store, error,
                    "INSERT INTO ministry_plugins (ministry, plugin, enabled) VALUES (?, ?, ?)"
                    " ON CONFLICT (ministry, plugin) DO UPDATE SET enabled = excluded.enabled",
                    "tti", ministry, plugin, enabled ? 1 : 0);
}

gboolean
pa_store_ministry_plugin_get (PaStore *store, const char *ministry, const char *plugin,
                              gboolean *out_enabled)
{
  g_autofree char *value = NULL;

  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (ministry != NULL && plugin != NULL, FALSE);

  value = store_lookup_text (store,
                             "SELECT enabled FROM ministry_plugins"
                             " WHERE ministry = ? AND plugin = ?",
                             "tt", ministry, plugin);
  if (value == NULL)
    return FALSE;
  if (out_enabled != NULL)
    *out_enabled = g_strcmp0 (value, "0") != 0;
  return TRUE;
}

/* A NULL value deletes the entry. */
gboolean
pa_store_meta_set (PaStore *store, const char *login_id, int scope, const char *id,
                   const char *value, GError **error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (login_id != NULL && id != NULL, FALSE);

  if (value == NULL)
    return store_run (store, error, "DELETE FROM meta WHERE login_id = ? AND scope = ? AND id = ?",
                      "tit", login_id, scope, id);
  return store_run (store, error,
                    "INSERT INTO meta (login_id, scope, id, value) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT (login_id, scope, id) DO UPDATE SET value = excluded.value",
                    "titt", login_id, scope, id, value);
}

char *
pa_store_meta_get (PaStore *store, const char *login_id, int scope, const char *id)
{
  g_return_val_if_fail (store != NULL, NULL);
  g_return_val_if_fail (login_id != NULL && id != NULL, NULL);
  return store_lookup_text (store,
                            "SELECT value FROM meta WHERE login_id = ? AND scope = ? AND id = ?",
                            "tit", login_id, scope, id);
}

/* A NULL value deletes the key. */
gboolean
pa_store_kv_set (PaStore *store, const char *key, const char *value, GError **error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (key != NULL, FALSE);

  if (value == NULL)
    return store_run (store, error, "DELETE FROM kv WHERE key = ?", "t", key);
  return store_run (store, error,
                    "INSERT INTO kv (key, value) VALUES (?, ?)"
                    " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    "tt", key, value);
}

char *
pa_store_kv_get (PaStore *store, const char *key)
{
  g_return_val_if_fail (store != NULL, NULL);
  g_return_val_if_fail (key != NULL, NULL);
  return store_lookup_text (store, "SELECT value FROM kv WHERE key = ?", "t", key);
}

json_t *
pa_store_meta_list (PaStore *store, const char *login_id)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PaStoreStmt) stmt = NULL;
  json_t *result = json_array ();
  int rc = SQLITE_ERROR;

  g_return_val_if_fail (store != NULL && login_id != NULL, result);

  stmt = store_stmt (store, &error,
                     "SELECT scope, id, value FROM meta WHERE login_id = ? ORDER BY scope, id", "t",
                     login_id);
  if (stmt != NULL)
    while ((rc = store_step (store, stmt, &error)) == SQLITE_ROW)
      json_array_append_new (result,
                             json_pack ("{s:i, s:s, s:s}", "scope", sqlite3_column_int (stmt, 0),
                                        "id", (const char *) sqlite3_column_text (stmt, 1),
                                        "value", (const char *) sqlite3_column_text (stmt, 2)));
  if (rc != SQLITE_DONE)
    {
      log_lookup_error (error);
      json_array_clear (result);
    }
  return result;
}

/* ------------------------------------------------------- import lanes */

json_t *
pa_store_remote_peek_import (PaStore *store, const char *login_id, guint limit, GError **error)
{
  g_return_val_if_fail (store != NULL && login_id != NULL, NULL);

  g_autoptr (PaStoreStmt) stmt = store_stmt (
      store, error,
      "SELECT seq, login_id, event FROM remote WHERE lane = 1 AND login_id = ? ORDER BY seq"
      " LIMIT ?",
      "tI", login_id, (gint64) limit);
  return stmt ? remote_rows (store, stmt, error) : NULL;
}

gint64
pa_store_remote_count_login (PaStore *store, const char *login_id)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PaStoreStmt) stmt = store_stmt (store, &error,
                                             "SELECT count(*) FROM remote WHERE login_id = ?",
                                             "t", login_id);
  if (stmt == NULL || store_step (store, stmt, &error) != SQLITE_ROW)
    return -1;
  return sqlite3_column_int64 (stmt, 0);
}

/* ------------------------------------------------------- import jobs */

gboolean
pa_store_job_put (PaStore *store, json_t *job, GError **error)
{
  g_return_val_if_fail (store != NULL && json_is_object (job), FALSE);
#define JS(k) json_string_value (json_object_get (job, k))
  g_autofree char *options = json_dumps (json_object_get (job, "options"), JSON_COMPACT);
  g_autofree char *summary = json_object_get (job, "summary")
                                 ? json_dumps (json_object_get (job, "summary"), JSON_COMPACT)
                                 : NULL;
  gint64 now = g_get_real_time () / 1000;
  if (JS ("id") == NULL || JS ("owner") == NULL || JS ("plugin") == NULL || JS ("path") == NULL
      || JS ("state") == NULL)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_FAILED, "import job without id/owner/plugin/state");
      return FALSE;
    }
  return store_run (store, error,
                    "INSERT INTO import_jobs (id, owner, plugin, path, options, state, room_id,"
                    " total, summary, error, created_at, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (id) DO UPDATE SET state = excluded.state,"
                    " room_id = excluded.room_id, total = excluded.total,"
                    " summary = excluded.summary, error = excluded.error,"
                    " options = excluded.options, updated_at = excluded.updated_at",
                    "ttttttt" "I" "tt" "II", JS ("id"), JS ("owner"), JS ("plugin"), JS ("path"),
                    options ? options : "{}", JS ("state"), JS ("room_id"),
                    (gint64) json_integer_value (json_object_get (job, "total")), summary,
                    JS ("error"), now, now);
#undef JS
}

static json_t *
job_from_row (sqlite3_stmt *stmt)
{
  json_t *job = json_object ();
  static const char *const cols[] = { "id", "owner", "plugin", "path", "options", "state",
                                      "room_id", "total", "summary", "error", "created_at",
                                      "updated_at" };
  for (int i = 0; i < (int) G_N_ELEMENTS (cols); i++)
    {
      int type = sqlite3_column_type (stmt, i);
      if (type == SQLITE_NULL)
        continue;
      if (type == SQLITE_INTEGER)
        json_object_set_new (job, cols[i], json_integer (sqlite3_column_int64 (stmt, i)));
      else if (g_str_equal (cols[i], "options") || g_str_equal (cols[i], "summary"))
        {
          json_t *v = json_loads ((const char *) sqlite3_column_text (stmt, i), 0, NULL);
          json_object_set_new (job, cols[i], v ? v : json_object ());
        }
      else
        json_object_set_new (job, cols[i],
                             json_string ((const char *) sqlite3_column_text (stmt, i)));
    }
  return job;
}

#define JOB_COLUMNS                                                                       \
  "SELECT id, owner, plugin, path, options, state, room_id, total, summary, error,"     \
  " created_at, updated_at FROM import_jobs"

json_t *
pa_store_job_get (PaStore *store, const char *id)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PaStoreStmt) stmt = store_stmt (store, &error, JOB_COLUMNS " WHERE id = ?", "t", id);
  if (stmt == NULL || store_step (store, stmt, &error) != SQLITE_ROW)
    return NULL;
  return job_from_row (stmt);
}

json_t *
pa_store_job_list_active (PaStore *store)
{
  g_autoptr (GError) error = NULL;
  json_t *result = json_array ();
  g_autoptr (PaStoreStmt) stmt = store_stmt (store, &error,
                                             JOB_COLUMNS " WHERE state NOT IN ('done', 'failed')"
                                                         " ORDER BY created_at, id",
                                             "");
  int rc = SQLITE_ERROR;
  if (stmt != NULL)
    while ((rc = store_step (store, stmt, &error)) == SQLITE_ROW)
      json_array_append_new (result, job_from_row (stmt));
  return result;
}

gboolean
pa_store_outbound_has_key (PaStore *store, const char *queue_key)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PaStoreStmt) stmt = store_stmt (
      store, &error, "SELECT EXISTS (SELECT 1 FROM outbound WHERE queue_key = ?)", "t", queue_key);
  if (stmt == NULL || store_step (store, stmt, &error) != SQLITE_ROW)
    return FALSE;
  return sqlite3_column_int (stmt, 0) != 0;
}

gint64
pa_store_message_count_login (PaStore *store, const char *plugin, const char *login_id)
{
  g_autoptr (GError) error = NULL;
  /* (plugin, login_id) is a prefix of the message map's unique index. */
  g_autoptr (PaStoreStmt) stmt = store_stmt (
      store, &error, "SELECT count(*) FROM messages WHERE plugin = ? AND login_id = ?", "tt",
      plugin, login_id);
  if (stmt == NULL || store_step (store, stmt, &error) != SQLITE_ROW)
    return -1;
  return sqlite3_column_int64 (stmt, 0);
}
