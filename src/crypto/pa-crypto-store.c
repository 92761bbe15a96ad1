/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The crypto database.  Kept apart from the bridge's store so it can be
 * backed up, wiped (forcing a new device) or moved on its own, and so a
 * schema change on either side never touches the other. */
#define G_LOG_DOMAIN "passerelle-crypto"

#include "pa-crypto-store.h"

#include <stdarg.h>
#include <string.h>
#include <glib/gstdio.h>

#include "pa-common.h"
#include "db/pa-db.h"

/* A pickle (the largest value we store) is a few KiB; refuse anything
 * absurd rather than write it. */
#define MAX_VALUE_BYTES (1024 * 1024)

struct _PaCryptoStore {
  PaDb *db;
  int version;
  gboolean in_tx;
  /* Bumped by every change of a device list or of blocking, whichever
   * identity saw it: each identity's "already shared" cache compares it. */
  guint64 device_epoch;
};

/* migrations[i] takes the schema from version i to i + 1; append only. */
static const char *const migrations[] = {
  "CREATE TABLE account ("
  "  id INTEGER PRIMARY KEY CHECK (id = 1),"
  "  user_id TEXT NOT NULL,"
  "  device_id TEXT NOT NULL,"
  "  pickle TEXT NOT NULL,"
  "  keys_uploaded INTEGER NOT NULL DEFAULT 0);"

  "CREATE TABLE olm_sessions ("
  "  session_id TEXT PRIMARY KEY NOT NULL,"
  "  sender_key TEXT NOT NULL,"
  "  pickle TEXT NOT NULL,"
  "  created_at INTEGER NOT NULL,"
  "  last_used INTEGER NOT NULL);"
  "CREATE INDEX olm_sessions_by_key ON olm_sessions (sender_key, last_used);"

  "CREATE TABLE megolm_outbound ("
  "  room_id TEXT PRIMARY KEY NOT NULL,"
  "  session_id TEXT NOT NULL,"
  "  pickle TEXT NOT NULL,"
  "  created_at INTEGER NOT NULL,"
  "  message_count INTEGER NOT NULL DEFAULT 0);"
  "CREATE TABLE megolm_outbound_shared ("
  "  room_id TEXT NOT NULL,"
  "  session_id TEXT NOT NULL,"
  "  user_id TEXT NOT NULL,"
  "  device_id TEXT NOT NULL,"
  "  PRIMARY KEY (room_id, session_id, user_id, device_id)) WITHOUT ROWID;"

  "CREATE TABLE megolm_inbound ("
  "  room_id TEXT NOT NULL,"
  "  sender_key TEXT NOT NULL,"
  "  session_id TEXT NOT NULL,"
  "  sender_ed25519 TEXT,"
  "  pickle TEXT NOT NULL,"
  "  first_known_index INTEGER NOT NULL,"
  "  created_at INTEGER NOT NULL,"
  "  PRIMARY KEY (room_id, sender_key, session_id)) WITHOUT ROWID;"

  "CREATE TABLE devices ("
  "  user_id TEXT NOT NULL,"
  "  device_id TEXT NOT NULL,"
  "  ed25519 TEXT NOT NULL,"
  "  curve25519 TEXT NOT NULL,"
  "  verified INTEGER NOT NULL DEFAULT 0,"
  "  deleted INTEGER NOT NULL DEFAULT 0,"
  "  PRIMARY KEY (user_id, device_id)) WITHOUT ROWID;"
  "CREATE INDEX devices_by_curve ON devices (curve25519);"

  "CREATE TABLE tracked_users ("
  "  user_id TEXT PRIMARY KEY NOT NULL,"
  "  dirty INTEGER NOT NULL DEFAULT 1) WITHOUT ROWID;"

  "CREATE TABLE seen_indexes ("
  "  session_id TEXT NOT NULL,"
  "  msg_index INTEGER NOT NULL,"
  "  event_id TEXT NOT NULL,"
  "  ts INTEGER NOT NULL,"
  "  PRIMARY KEY (session_id, msg_index)) WITHOUT ROWID;",

  /* 2: several identities (the bot's device and one device per ghost)
   * share the store.  An identity is a Matrix user with its device and
   * Olm account; Olm sessions and outbound Megolm sessions belong to one
   * (`owner`, its user id).  Inbound sessions, the device cache, tracked
   * users and replay indexes are what every identity sees alike. */
  "CREATE TABLE identities ("
  "  user_id TEXT PRIMARY KEY NOT NULL,"
  "  device_id TEXT NOT NULL,"
  "  pickle TEXT NOT NULL,"
  "  keys_uploaded INTEGER NOT NULL DEFAULT 0,"
  "  is_primary INTEGER NOT NULL DEFAULT 0,"
  "  published INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
  "INSERT INTO identities (user_id, device_id, pickle, keys_uploaded, is_primary, published)"
  "  SELECT user_id, device_id, pickle, keys_uploaded, 1, 1 FROM account;"
  "DROP TABLE account;"
  "ALTER TABLE olm_sessions ADD COLUMN owner TEXT NOT NULL DEFAULT '';"
  "UPDATE olm_sessions SET owner ="
  "  COALESCE((SELECT user_id FROM identities WHERE is_primary = 1), '');"
  "DROP INDEX olm_sessions_by_key;"
  "CREATE INDEX olm_sessions_by_key ON olm_sessions (owner, sender_key, last_used);"
  "CREATE TABLE megolm_outbound_v2 ("
  "  owner TEXT NOT NULL,"
  "  room_id TEXT NOT NULL,"
  "  session_id TEXT NOT NULL,"
  "  pickle TEXT NOT NULL,"
  "  created_at INTEGER NOT NULL,"
  "  message_count INTEGER NOT NULL DEFAULT 0,"
  "  PRIMARY KEY (owner, room_id)) WITHOUT ROWID;"
  "INSERT INTO megolm_outbound_v2"
  "  SELECT COALESCE((SELECT user_id FROM identities WHERE is_primary = 1), ''),"
  "  room_id, session_id, pickle, created_at, message_count FROM megolm_outbound;"
  "DROP TABLE megolm_outbound;"
  "ALTER TABLE megolm_outbound_v2 RENAME TO megolm_outbound;",

  /* 3: cross-signing keys, one row per identity (pa-crypto-cross-signing.c):
   * the seeds sealed with the pickle key, the public keys in clear. */
  "CREATE TABLE cross_signing ("
  "  user_id TEXT PRIMARY KEY NOT NULL,"
  "  sealed TEXT NOT NULL,"
  "  master TEXT NOT NULL,"
  "  self_signing TEXT NOT NULL,"
  "  user_signing TEXT NOT NULL) WITHOUT ROWID;",
};

/* The same schema on PostgreSQL (in the schema "crypto" of the bridge's
 * database): no such database older than v3 exists, so the first step
 * creates v3 whole; every later step is added to both tables.
 * olm_sessions.seq stands for SQLite's rowid (the order sessions were
 * saved in). */
static const char *const pg_migrations[] = {
  "CREATE TABLE identities ("
  "  user_id TEXT PRIMARY KEY NOT NULL,"
  "  device_id TEXT NOT NULL,"
  "  pickle TEXT NOT NULL,"
  "  keys_uploaded INTEGER NOT NULL DEFAULT 0,"
  "  is_primary INTEGER NOT NULL DEFAULT 0,"
  "  published INTEGER NOT NULL DEFAULT 0);"
  "CREATE TABLE olm_sessions ("
  "  seq BIGINT GENERATED BY DEFAULT AS IDENTITY UNIQUE,"
  "  session_id TEXT PRIMARY KEY NOT NULL,"
  "  sender_key TEXT NOT NULL,"
  "  pickle TEXT NOT NULL,"
  "  created_at BIGINT NOT NULL,"
  "  last_used BIGINT NOT NULL,"
  "  owner TEXT NOT NULL DEFAULT '');"
  "CREATE INDEX olm_sessions_by_key ON olm_sessions (owner, sender_key, last_used);"
  "CREATE TABLE megolm_outbound ("
  "  owner TEXT NOT NULL,"
  "  room_id TEXT NOT NULL,"
  "  session_id TEXT NOT NULL,"
  "  pickle TEXT NOT NULL,"
  "  created_at BIGINT NOT NULL,"
  "  message_count BIGINT NOT NULL DEFAULT 0,"
  "  PRIMARY KEY (owner, room_id));"
  "CREATE TABLE megolm_outbound_shared ("
  "  room_id TEXT NOT NULL,"
  "  session_id TEXT NOT NULL,"
  "  user_id TEXT NOT NULL,"
  "  device_id TEXT NOT NULL,"
  "  PRIMARY KEY (room_id, session_id, user_id, device_id));"
  "CREATE TABLE megolm_inbound ("
  "  room_id TEXT NOT NULL,"
  "  sender_key TEXT NOT NULL,"
  "  session_id TEXT NOT NULL,"
  "  sender_ed25519 TEXT,"
  "  pickle TEXT NOT NULL,"
  "  first_known_index BIGINT NOT NULL,"
  "  created_at BIGINT NOT NULL,"
  "  PRIMARY KEY (room_id, sender_key, session_id));"
  "CREATE TABLE devices ("
  "  user_id TEXT NOT NULL,"
  "  device_id TEXT NOT NULL,"
  "  ed25519 TEXT NOT NULL,"
  "  curve25519 TEXT NOT NULL,"
  "  verified INTEGER NOT NULL DEFAULT 0,"
  "  deleted INTEGER NOT NULL DEFAULT 0,"
  "  PRIMARY KEY (user_id, device_id));"
  "CREATE INDEX devices_by_curve ON devices (curve25519);"
  "CREATE TABLE tracked_users ("
  "  user_id TEXT PRIMARY KEY NOT NULL,"
  "  dirty INTEGER NOT NULL DEFAULT 1);"
  "CREATE TABLE seen_indexes ("
  "  session_id TEXT NOT NULL,"
  "  msg_index BIGINT NOT NULL,"
  "  event_id TEXT NOT NULL,"
  "  ts BIGINT NOT NULL,"
  "  PRIMARY KEY (session_id, msg_index));"
  "CREATE TABLE cross_signing ("
  "  user_id TEXT PRIMARY KEY NOT NULL,"
  "  sealed TEXT NOT NULL,"
  "  master TEXT NOT NULL,"
  "  self_signing TEXT NOT NULL,"
  "  user_signing TEXT NOT NULL);",
  /* 2, 3: in the first step */
  "",
  "",
};

#define SCHEMA_VERSION ((int) G_N_ELEMENTS (migrations))
G_STATIC_ASSERT (G_N_ELEMENTS (pg_migrations) == G_N_ELEMENTS (migrations));

/* ------------------------------------------------------------ helpers */

/* The cached statement for `sql` with 't' text (NULL → NULL), 'I' gint64,
 * 'i' int bound; released (not finalized) by its cleanup. */
static PaDbStmt *
stmt_new (PaCryptoStore *store, GError **error, const char *sql, const char *types, ...)
{
  PaDbStmt *stmt = pa_db_prepare (store->db, sql, error);
  va_list ap;
  gboolean ok;

  if (stmt == NULL)
    {
      g_prefix_error (error, "crypto store: ");
      return NULL;
    }
  va_start (ap, types);
  ok = pa_db_vbind (stmt, types, ap, MAX_VALUE_BYTES, error);
  va_end (ap);
  if (!ok)
    g_prefix_error (error, "crypto store: ");
  return ok ? stmt : NULL;
}

/* One step: PA_DB_ROW, PA_DB_DONE, or PA_DB_ERROR with `error` set. */
static PaDbStep
stmt_step (PaCryptoStore *store, PaDbStmt *stmt, GError **error)
{
  PaDbStep rc = pa_db_step (stmt, error);

  if (rc == PA_DB_ERROR)
    g_prefix_error (error, "crypto store: ");
  return rc;
}

static gboolean
stmt_done (PaCryptoStore *store, PaDbStmt *stmt, GError **error)
{
  g_autoptr (PaDbStmt) owned = stmt;

  return owned != NULL && stmt_step (store, owned, error) == PA_DB_DONE;
}

static char *
col_str (PaDbStmt *stmt, int col)
{
  return g_strdup (pa_db_column_text (stmt, col));
}

static gboolean
exec_sql (PaCryptoStore *store, const char *sql, GError **error)
{
  if (pa_db_exec (store->db, sql, error))
    return TRUE;
  g_prefix_error (error, "crypto store: ");
  return FALSE;
}

void
pa_crypto_device_free (PaCryptoDevice *d)
{
  if (d == NULL)
    return;
  g_free (d->user_id);
  g_free (d->device_id);
  g_free (d->ed25519);
  g_free (d->curve25519);
  g_free (d);
}

void
pa_crypto_outbound_free (PaCryptoOutbound *o)
{
  if (o == NULL)
    return;
  g_free (o->room_id);
  g_free (o->session_id);
  if (o->pickle != NULL)
    explicit_bzero (o->pickle, strlen (o->pickle));
  g_free (o->pickle);
  g_free (o);
}

/* ------------------------------------------------------- transactions */

gboolean
pa_crypto_store_begin (PaCryptoStore *store, GError **error)
{
  g_return_val_if_fail (store != NULL && !store->in_tx, FALSE);
  if (!pa_db_begin (store->db, error))
    {
      g_prefix_error (error, "crypto store: ");
      return FALSE;
    }
  store->in_tx = TRUE;
  return TRUE;
}

gboolean
pa_crypto_store_commit (PaCryptoStore *store, GError **error)
{
  g_return_val_if_fail (store != NULL && store->in_tx, FALSE);
  store->in_tx = FALSE;
  if (!pa_db_commit (store->db, error))
    {
      g_prefix_error (error, "crypto store: ");
      return FALSE;
    }
  return TRUE;
}

void
pa_crypto_store_rollback (PaCryptoStore *store)
{
  g_return_if_fail (store != NULL);
  if (!store->in_tx)
    return;
  store->in_tx = FALSE;
  pa_db_rollback (store->db);
}

/* ---------------------------------------------------------- open/close */

static gboolean
migrate (PaCryptoStore *store, const char *path, GError **error)
{
  const char *const *steps
      = pa_db_backend (store->db) == PA_DB_POSTGRES ? pg_migrations : migrations;
  int version;

  if (!pa_db_get_version (store->db, &version, error))
    return FALSE;
  if (version > SCHEMA_VERSION || version < 0)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_STORE,
                   "%s: crypto schema version %d is not one this Passerelle knows (max %d)",
                   path, version, SCHEMA_VERSION);
      return FALSE;
    }
  for (; version < SCHEMA_VERSION; version++)
    {
      if (!pa_crypto_store_begin (store, error))
        return FALSE;
      if (!exec_sql (store, steps[version], error)
          || !pa_db_set_version (store->db, version + 1, error))
        {
          pa_crypto_store_rollback (store);
          g_prefix_error (error, "%s: migrating to version %d: ", path, version + 1);
          return FALSE;
        }
      if (!pa_crypto_store_commit (store, error))
        return FALSE;
    }
  store->version = version;
  return TRUE;
}

/* `target`: a SQLite path, or the PostgreSQL URI of the bridge's store, in
 * whose schema "crypto" the tables live. */
PaCryptoStore *
pa_crypto_store_open (const char *target, GError **error)
{
  g_autoptr (PaCryptoStore) store = g_new0 (PaCryptoStore, 1);

  g_return_val_if_fail (target != NULL, NULL);
  store->db = pa_db_open (target, "crypto", error);
  if (store->db == NULL)
    return NULL;
  const char *path = pa_db_display (store->db);
  if (pa_db_backend (store->db) == PA_DB_SQLITE
      && !exec_sql (store, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
                    "PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON;", error))
    {
      g_prefix_error (error, "%s: ", path);
      return NULL;
    }
  if (!migrate (store, path, error))
    return NULL;
  return g_steal_pointer (&store);
}

void
pa_crypto_store_free (PaCryptoStore *store)
{
  if (store == NULL)
    return;
  g_clear_pointer (&store->db, pa_db_close);
  g_free (store);
}

int
pa_crypto_store_schema_version (PaCryptoStore *store)
{
  return store->version;
}

/* --------------------------------------------------------- identities */

char *
pa_crypto_store_load_identity (PaCryptoStore *store, const char *user_id, char **out_user_id,
                               char **device_id, gboolean *keys_uploaded, gboolean *published,
                               GError **error)
{
  /* user_id NULL: the primary identity, whoever it is. */
  g_autoptr (PaDbStmt) stmt = stmt_new (store, error,
      "SELECT pickle, user_id, device_id, keys_uploaded, published FROM identities"
      " WHERE (CAST (? AS TEXT) IS NULL AND is_primary = 1) OR user_id = ?", "tt", user_id,
      user_id);
  PaDbStep rc;

  if (stmt == NULL)
    return NULL;
  rc = stmt_step (store, stmt, error);
  if (rc != PA_DB_ROW)
    return NULL;
  if (out_user_id != NULL)
    *out_user_id = col_str (stmt, 1);
  if (device_id != NULL)
    *device_id = col_str (stmt, 2);
  if (keys_uploaded != NULL)
    *keys_uploaded = pa_db_column_int64 (stmt, 3) != 0;
  if (published != NULL)
    *published = pa_db_column_int64 (stmt, 4) != 0;
  return col_str (stmt, 0);
}

gboolean
pa_crypto_store_save_identity (PaCryptoStore *store, const char *user_id, const char *device_id,
                               const char *pickle, gboolean keys_uploaded, gboolean primary,
                               GError **error)
{
  return stmt_done (store, stmt_new (store, error,
      "INSERT INTO identities (user_id, device_id, pickle, keys_uploaded, is_primary)"
      " VALUES (?, ?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET"
      " device_id = excluded.device_id, pickle = excluded.pickle,"
      " keys_uploaded = excluded.keys_uploaded",
      "tttii", user_id, device_id, pickle, keys_uploaded ? 1 : 0, primary ? 1 : 0), error);
}

gboolean
pa_crypto_store_set_published (PaCryptoStore *store, const char *user_id, GError **error)
{
  return stmt_done (store, stmt_new (store, error,
      "UPDATE identities SET published = 1 WHERE user_id = ?", "t", user_id), error);
}

gint64
pa_crypto_store_count_identities (PaCryptoStore *store, GError **error)
{
  g_autoptr (PaDbStmt) stmt = stmt_new (store, error, "SELECT count(*) FROM identities", "");

  if (stmt == NULL || stmt_step (store, stmt, error) != PA_DB_ROW)
    return -1;
  return pa_db_column_int64 (stmt, 0);
}

guint64
pa_crypto_store_device_epoch (PaCryptoStore *store)
{
  return store->device_epoch;
}

void
pa_crypto_store_bump_device_epoch (PaCryptoStore *store)
{
  store->device_epoch++;
}

/* ------------------------------------------------------- olm sessions */

gboolean
pa_crypto_store_save_olm_session (PaCryptoStore *store, const char *owner,
                                  const char *sender_key, const char *session_id,
                                  const char *pickle, GError **error)
{
  gint64 now = pa_now_ms ();

  return stmt_done (store, stmt_new (store, error,
      "INSERT INTO olm_sessions (session_id, owner, sender_key, pickle, created_at, last_used)"
      " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (session_id) DO UPDATE SET"
      " pickle = excluded.pickle, last_used = excluded.last_used",
      "ttttII", session_id, owner, sender_key, pickle, now, now), error);
}

GPtrArray *
pa_crypto_store_olm_sessions (PaCryptoStore *store, const char *owner, const char *sender_key,
                              guint limit, GError **error)
{
  /* the last saved first among equals: SQLite's rowid, PostgreSQL's seq */
  g_autoptr (PaDbStmt) stmt = stmt_new (store, error,
      pa_db_backend (store->db) == PA_DB_SQLITE
          ? "SELECT pickle FROM olm_sessions WHERE owner = ? AND sender_key = ?"
            " ORDER BY last_used DESC, rowid DESC LIMIT ?"
          : "SELECT pickle FROM olm_sessions WHERE owner = ? AND sender_key = ?"
            " ORDER BY last_used DESC, seq DESC LIMIT ?",
      "tti", owner, sender_key, (int) limit);
  g_autoptr (GPtrArray) out = g_ptr_array_new_with_free_func (g_free);
  PaDbStep rc;

  if (stmt == NULL)
    return NULL;
  while ((rc = stmt_step (store, stmt, error)) == PA_DB_ROW)
    g_ptr_array_add (out, col_str (stmt, 0));
  if (rc != PA_DB_DONE)
    return NULL;
  return g_steal_pointer (&out);
}

/* ---------------------------------------------------- megolm outbound */

PaCryptoOutbound *
pa_crypto_store_get_outbound (PaCryptoStore *store, const char *owner, const char *room_id,
                              GError **error)
{
  g_autoptr (PaDbStmt) stmt = stmt_new (store, error,
      "SELECT session_id, pickle, created_at, message_count FROM megolm_outbound"
      " WHERE owner = ? AND room_id = ?", "tt", owner, room_id);
  PaCryptoOutbound *o;

  if (stmt == NULL || stmt_step (store, stmt, error) != PA_DB_ROW)
    return NULL;
  o = g_new0 (PaCryptoOutbound, 1);
  o->room_id = g_strdup (room_id);
  o->session_id = col_str (stmt, 0);
  o->pickle = col_str (stmt, 1);
  o->created_at = pa_db_column_int64 (stmt, 2);
  o->message_count = (guint) pa_db_column_int64 (stmt, 3);
  return o;
}

gboolean
pa_crypto_store_save_outbound (PaCryptoStore *store, const char *owner,
                               const PaCryptoOutbound *o, GError **error)
{
  return stmt_done (store, stmt_new (store, error,
      "INSERT INTO megolm_outbound (owner, room_id, session_id, pickle, created_at,"
      " message_count) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (owner, room_id) DO UPDATE SET"
      " session_id = excluded.session_id, pickle = excluded.pickle,"
      " created_at = excluded.created_at, message_count = excluded.message_count",
      "ttttII", owner, o->room_id, o->session_id, o->pickle, o->created_at,
      (gint64) o->message_count), error);
}

gboolean
pa_crypto_store_delete_outbound (PaCryptoStore *store, const char *owner, const char *room_id,
                                 GError **error)
{
  /* Whom each past session went to is kept: it is what decides whether a
   * device asking for that session again (m.room_key_request) gets it.
   * owner NULL: every identity's session in the room. */
  return stmt_done (store, stmt_new (store, error,
      "DELETE FROM megolm_outbound WHERE room_id = ? AND (CAST (? AS TEXT) IS NULL OR owner = ?)",
      "ttt", room_id, owner, owner), error);
}

gboolean
pa_crypto_store_outbound_is_shared (PaCryptoStore *store, const char *room_id,
                                    const char *session_id, const char *user_id,
                                    const char *device_id, gboolean *shared, GError **error)
{
  g_autoptr (PaDbStmt) stmt = stmt_new (store, error,
      "SELECT 1 FROM megolm_outbound_shared WHERE room_id = ? AND session_id = ?"
      " AND user_id = ? AND device_id = ?", "tttt", room_id, session_id, user_id, device_id);
  PaDbStep rc;

  if (stmt == NULL)
    return FALSE;
  rc = stmt_step (store, stmt, error);
  *shared = rc == PA_DB_ROW;
  return rc != PA_DB_ERROR;
}

gboolean
pa_crypto_store_mark_outbound_shared (PaCryptoStore *store, const char *room_id,
                                      const char *session_id, const char *user_id,
                                      const char *device_id, GError **error)
{
  return stmt_done (store, stmt_new (store, error,
      "INSERT INTO megolm_outbound_shared (room_id, session_id, user_id, device_id)"
      " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING", "tttt", room_id, session_id, user_id, device_id), error);
}

/* ----------------------------------------------------- megolm inbound */

gboolean
pa_crypto_store_save_inbound (PaCryptoStore *store, const char *room_id, const char *sender_key,
                              const char *session_id, const char *sender_ed25519,
                              const char *pickle, guint32 first_known_index, GError **error)
{
  return stmt_done (store, stmt_new (store, error,
      "INSERT INTO megolm_inbound (room_id, sender_key, session_id, sender_ed25519, pickle,"
      " first_known_index, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
      " ON CONFLICT (room_id, sender_key, session_id) DO UPDATE SET"
      " sender_ed25519 = excluded.sender_ed25519, pickle = excluded.pickle,"
      " first_known_index = excluded.first_known_index",
      "tttttII", room_id, sender_key, session_id, sender_ed25519, pickle,
      (gint64) first_known_index, pa_now_ms ()), error);
}

char *
pa_crypto_store_get_inbound (PaCryptoStore *store, const char *room_id, const char *sender_key,
                             const char *session_id, char **sender_ed25519,
                             guint32 *first_known_index, GError **error)
{
  g_autoptr (PaDbStmt) stmt = stmt_new (store, error,
      "SELECT pickle, sender_ed25519, first_known_index FROM megolm_inbound"
      " WHERE room_id = ? AND sender_key = ? AND session_id = ?",
      "ttt", room_id, sender_key, session_id);

  if (stmt == NULL || stmt_step (store, stmt, error) != PA_DB_ROW)
    return NULL;
  if (sender_ed25519 != NULL)
    *sender_ed25519 = col_str (stmt, 1);
  if (first_known_index != NULL)
    *first_known_index = (guint32) pa_db_column_int64 (stmt, 2);
  return col_str (stmt, 0);
}

/* ------------------------------------------------------------ devices */

gboolean
pa_crypto_store_save_device (PaCryptoStore *store, const PaCryptoDevice *d, GError **error)
{
  return stmt_done (store, stmt_new (store, error,
      "INSERT INTO devices (user_id, device_id, ed25519, curve25519, verified, deleted)"
      " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (user_id, device_id) DO UPDATE SET"
      " ed25519 = excluded.ed25519, curve25519 = excluded.curve25519,"
      " verified = excluded.verified, deleted = excluded.deleted",
      "ttttii", d->user_id, d->device_id, d->ed25519, d->curve25519, d->verified ? 1 : 0,
      d->deleted ? 1 : 0), error);
}

#define DEVICE_COLUMNS "user_id, device_id, ed25519, curve25519, verified, deleted"

static PaCryptoDevice *
device_from_row (PaDbStmt *stmt)
{
  PaCryptoDevice *d = g_new0 (PaCryptoDevice, 1);

  d->user_id = col_str (stmt, 0);
  d->device_id = col_str (stmt, 1);
  d->ed25519 = col_str (stmt, 2);
  d->curve25519 = col_str (stmt, 3);
  d->verified = pa_db_column_int64 (stmt, 4) != 0;
  d->deleted = pa_db_column_int64 (stmt, 5) != 0;
  return d;
}

PaCryptoDevice *
pa_crypto_store_get_device (PaCryptoStore *store, const char *user_id, const char *device_id,
                            GError **error)
{
  g_autoptr (PaDbStmt) stmt = stmt_new (store, error,
      "SELECT " DEVICE_COLUMNS " FROM devices WHERE user_id = ? AND device_id = ?", "tt",
      user_id, device_id);

  if (stmt == NULL || stmt_step (store, stmt, error) != PA_DB_ROW)
    return NULL;
  return device_from_row (stmt);
}

PaCryptoDevice *
pa_crypto_store_get_device_by_curve (PaCryptoStore *store, const char *curve25519,
                                     GError **error)
{
  /* A key claimed by two devices (a forged upload) reads as the verified,
   * not-deleted one if any. */
  g_autoptr (PaDbStmt) stmt = stmt_new (store, error,
      "SELECT " DEVICE_COLUMNS " FROM devices WHERE curve25519 = ?"
      " ORDER BY deleted ASC, verified DESC LIMIT 1", "t", curve25519);

  if (stmt == NULL || stmt_step (store, stmt, error) != PA_DB_ROW)
    return NULL;
  return device_from_row (stmt);
}

GPtrArray *
pa_crypto_store_list_devices (PaCryptoStore *store, const char *user_id, GError **error)
{
  g_autoptr (PaDbStmt) stmt = stmt_new (store, error,
      "SELECT " DEVICE_COLUMNS " FROM devices WHERE user_id = ? ORDER BY device_id", "t",
      user_id);
  g_autoptr (GPtrArray) out = g_ptr_array_new_with_free_func (
      (GDestroyNotify) pa_crypto_device_free);
  PaDbStep rc;

  if (stmt == NULL)
    return NULL;
  while ((rc = stmt_step (store, stmt, error)) == PA_DB_ROW)
    g_ptr_array_add (out, device_from_row (stmt));
  if (rc != PA_DB_DONE)
    return NULL;
  return g_steal_pointer (&out);
}

/* -------------------------------------------------------------- users */

gboolean
pa_crypto_store_track_user (PaCryptoStore *store, const char *user_id, GError **error)
{
  return stmt_done (store, stmt_new (store, error,
      "INSERT INTO tracked_users (user_id, dirty) VALUES (?, 1) ON CONFLICT DO NOTHING", "t",
      user_id),
      error);
}

gboolean
pa_crypto_store_set_user_dirty (PaCryptoStore *store, const char *user_id, gboolean dirty,
                                GError **error)
{
  return stmt_done (store, stmt_new (store, error,
      "UPDATE tracked_users SET dirty = ? WHERE user_id = ?", "it", dirty ? 1 : 0, user_id),
      error);
}

gboolean
pa_crypto_store_user_state (PaCryptoStore *store, const char *user_id, gboolean *tracked,
                            gboolean *dirty, GError **error)
{
  g_autoptr (PaDbStmt) stmt = stmt_new (store, error,
      "SELECT dirty FROM tracked_users WHERE user_id = ?", "t", user_id);
  PaDbStep rc;

  if (stmt == NULL)
    return FALSE;
  rc = stmt_step (store, stmt, error);
  if (rc == PA_DB_ERROR)
    return FALSE;
  *tracked = rc == PA_DB_ROW;
  *dirty = rc == PA_DB_ROW ? pa_db_column_int64 (stmt, 0) != 0 : TRUE;
  return TRUE;
}

/* ------------------------------------------------------------- replay */

gboolean
pa_crypto_store_check_index (PaCryptoStore *store, const char *session_id, guint32 index,
                             const char *event_id, gint64 ts, GError **error)
{
  g_autoptr (PaDbStmt) stmt = stmt_new (store, error,
      "SELECT event_id FROM seen_indexes WHERE session_id = ? AND msg_index = ?", "tI",
      session_id, (gint64) index);
  PaDbStep rc;

  if (stmt == NULL)
    return FALSE;
  rc = stmt_step (store, stmt, error);
  if (rc == PA_DB_ERROR)
    return FALSE;
  if (rc == PA_DB_ROW)
    {
      const char *seen = pa_db_column_text (stmt, 0);

      if (g_strcmp0 (seen, event_id) == 0)
        return TRUE;
      g_set_error (error, PA_ERROR, PA_ERROR_PERMISSION,
                   "megolm message index %u of session %s was already used by %s: replay "
                   "rejected", index, session_id, seen);
      return FALSE;
    }
  return stmt_done (store, stmt_new (store, error,
      "INSERT INTO seen_indexes (session_id, msg_index, event_id, ts) VALUES (?, ?, ?, ?)",
      "tItI", session_id, (gint64) index, event_id, ts), error);
}

/* ------------------------------------------------------ cross-signing */

gboolean
pa_crypto_store_load_cross_signing (PaCryptoStore *store, const char *user_id,
                                    PaCryptoCrossSigningRow **row, GError **error)
{
  g_autoptr (PaDbStmt) stmt = stmt_new (store, error,
      "SELECT sealed, master, self_signing, user_signing FROM cross_signing WHERE user_id = ?",
      "t", user_id);
  PaCryptoCrossSigningRow *r;
  PaDbStep rc;

  *row = NULL;
  if (stmt == NULL)
    return FALSE;
  rc = stmt_step (store, stmt, error);
  if (rc == PA_DB_ERROR)
    return FALSE;
  if (rc != PA_DB_ROW)
    return TRUE;
  r = g_new0 (PaCryptoCrossSigningRow, 1);
  r->sealed = col_str (stmt, 0);
  r->master = col_str (stmt, 1);
  r->self_signing = col_str (stmt, 2);
  r->user_signing = col_str (stmt, 3);
  *row = r;
  return TRUE;
}

gboolean
pa_crypto_store_save_cross_signing (PaCryptoStore *store, const char *user_id,
                                    const PaCryptoCrossSigningRow *row, GError **error)
{
  return stmt_done (store, stmt_new (store, error,
      "INSERT INTO cross_signing (user_id, sealed, master, self_signing, user_signing)"
      " VALUES (?, ?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET sealed = excluded.sealed,"
      " master = excluded.master, self_signing = excluded.self_signing,"
      " user_signing = excluded.user_signing", "ttttt", user_id, row->sealed, row->master,
      row->self_signing, row->user_signing), error);
}

void
pa_crypto_cross_signing_row_free (PaCryptoCrossSigningRow *row)
{
  if (row == NULL)
    return;
  g_free (row->sealed);
  g_free (row->master);
  g_free (row->self_signing);
  g_free (row->user_signing);
  g_free (row);
}
