/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The schema, as the ordered list of migration steps: step i takes a
 * database from version i to i + 1 (SQLite's PRAGMA user_version,
 * PostgreSQL's schema_version table), one table per engine.  Kept alone so a
 * new step is one obvious addition at the end of one table, and so no
 * released step is edited by accident while working on queries. */
#define G_LOG_DOMAIN "passerelle-store"

#include "pa-store-private.h"

/* ------------------------------------------------------------ schema */

/* pa_store_migrations[i] takes the schema from version i to i + 1.  Append only: a
 * step that shipped is never edited, a change is a new step. */
const char *const pa_store_migrations[] = {
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

  /* v2 → v3: shared portals.  A group chat is one room per (plugin, chat),
   * kept as a portal row whose login_id is '' (no login); which logins are
   * in it is portal_logins (whose logins may send there, whose owners are
   * invited).  shared_messages remembers which logins delivered which legacy
   * message of a shared group, so that the copy of the second login is not
   * bridged again: the first login to deliver it wins.
   * Existing group portals: the oldest room of each (plugin, chat) becomes
   * the shared one, with its messages; the others (several agents already
   * had their own room for that group) stay as they are, still found for
   * their login, so nothing that works today stops working. */
  "CREATE TABLE portal_logins ("
  "  room_id TEXT NOT NULL,"
  "  login_id TEXT NOT NULL,"
  "  since INTEGER NOT NULL,"
  "  PRIMARY KEY (room_id, login_id)) WITHOUT ROWID;"
  "CREATE INDEX portal_logins_by_login ON portal_logins (login_id);"
  "CREATE TABLE shared_messages ("
  "  plugin TEXT NOT NULL,"
  "  chat_id TEXT NOT NULL,"
  "  legacy_id TEXT NOT NULL,"
  "  login_id TEXT NOT NULL,"
  "  at INTEGER NOT NULL,"
  "  UNIQUE (plugin, chat_id, legacy_id, login_id));"
  "CREATE INDEX shared_messages_at ON shared_messages (at);"
  "INSERT OR IGNORE INTO portal_logins (room_id, login_id, since)"
  "  SELECT room_id, login_id, CAST (strftime ('%s', 'now') AS INTEGER) * 1000 FROM portals"
  "  WHERE kind = 'group' AND room_id IS NOT NULL AND login_id != '';"
  "UPDATE portals SET login_id = '' WHERE rowid IN ("
  "  SELECT min (rowid) FROM portals WHERE kind = 'group' AND room_id IS NOT NULL"
  "  AND login_id != '' GROUP BY plugin, chat_id);"
  "UPDATE messages SET login_id = '' WHERE room_id IN ("
  "  SELECT room_id FROM portals WHERE login_id = '' AND kind = 'group' AND room_id IS NOT NULL);",

  /* v3 → v4: events the bridge could not handle, kept aside instead of
   * refusing their transaction (the homeserver would retry it for ever);
   * and portals that an invite of the bot had wrongly recorded as
   * management rooms stop being one (a portal is never a management room). */
  "CREATE TABLE quarantine ("
  "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
  "  txn_id TEXT NOT NULL,"
  "  event_id TEXT,"
  "  room_id TEXT,"
  "  sender TEXT,"
  "  reason TEXT NOT NULL,"
  "  event TEXT NOT NULL,"
  "  at INTEGER NOT NULL);"
  "CREATE INDEX quarantine_at ON quarantine (at);"
  "DELETE FROM management_rooms WHERE room_id IN ("
  "  SELECT room_id FROM portals WHERE room_id IS NOT NULL);",

  /* v4 → v5: live fingerprints.  Each live message bridged into a portal
   * leaves (room, minute of its time, 8 bytes of a SHA-256 of its
   * normalised content, message, class), an edit or deletion one more row
   * for the same message; an export of that chat imported later skips the
   * messages found here.  The room and the message are 8-byte hashes of
   * their ids (pa_store_hash64), which keeps a row under 80 bytes with its
   * index.
   * live_claims: which live messages an import job has already matched, so
   * that one live message excuses one exported message only, across
   * restarts. */
  "CREATE TABLE live_fingerprints ("
  "  room INTEGER NOT NULL,"
  "  minute INTEGER NOT NULL,"
  "  digest INTEGER NOT NULL,"
  "  msg INTEGER NOT NULL,"
  "  class TEXT NOT NULL,"
  "  PRIMARY KEY (room, minute, digest, msg)) WITHOUT ROWID;"
  "CREATE INDEX live_fingerprints_by_msg ON live_fingerprints (room, msg);"
  "CREATE TABLE live_claims ("
  "  job_id TEXT NOT NULL,"
  "  room INTEGER NOT NULL,"
  "  msg INTEGER NOT NULL,"
  "  PRIMARY KEY (job_id, room, msg)) WITHOUT ROWID;",

  /* v5 → v6: the live lane's next event in one index step.  remote_by_lane
   * (lane, login_id, seq) made "lane 0 by seq" sort every live row at each
   * step: a phone's history sync of 10,000 messages, queued at once, was
   * drained in quadratic time. */
  "CREATE INDEX IF NOT EXISTS remote_live ON remote (lane, seq);",

  /* v6 → v7: import identity.  import_chats: the room each imported chat
   * went to, by agent, plugin and the chat's identity as its export tells
   * it (src/bridge/pa-fingerprint.c), so that the same chat imported
   * again — another file, another container — tops up that room.
   * live_fingerprints.job: the 8-byte hash of the import job that sent the
   * message (NULL for a live one), so that a job never takes its own
   * messages for ones already there (8 bytes a row, not a claim). */
  "CREATE TABLE import_chats ("
  "  owner TEXT NOT NULL,"
  "  plugin TEXT NOT NULL,"
  "  identity TEXT NOT NULL,"
  "  room_id TEXT NOT NULL,"
  "  name TEXT,"
  "  at INTEGER NOT NULL,"
  "  PRIMARY KEY (owner, plugin, identity));"
  "ALTER TABLE live_fingerprints ADD COLUMN job INTEGER;",
};

const guint pa_store_n_migrations = G_N_ELEMENTS (pa_store_migrations);

/* The same schema on PostgreSQL.  No PostgreSQL database older than v7
 * exists, so its first step creates v7 whole and steps 2 to 7 have nothing
 * left to do; every step after v7 is added to both tables (the unit test
 * checks they have the same length).  The dialect's differences: BIGINT
 * for INTEGER, identity columns for AUTOINCREMENT, plpgsql triggers, and
 * shared_messages.seq in place of SQLite's rowid (the order logins
 * delivered a shared message in). */
const char *const pa_store_pg_migrations[] = {
  /* v0 → v7 */
  "CREATE TABLE txns ("
  "  txn_id TEXT PRIMARY KEY NOT NULL,"
  "  at BIGINT NOT NULL);"
  "CREATE INDEX txns_at ON txns (at);"

  "CREATE TABLE inbound ("
  "  seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
  "  txn_id TEXT NOT NULL,"
  "  event TEXT NOT NULL);"

  "CREATE TABLE remote ("
  "  seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
  "  login_id TEXT NOT NULL,"
  "  dedup_key TEXT UNIQUE,"
  "  event TEXT NOT NULL,"
  "  lane INTEGER NOT NULL DEFAULT 0);"
  "CREATE INDEX remote_by_lane ON remote (lane, login_id, seq);"
  "CREATE INDEX remote_live ON remote (lane, seq);"
  "CREATE TABLE remote_seen ("
  "  dedup_key TEXT PRIMARY KEY NOT NULL,"
  "  at BIGINT NOT NULL);"
  "CREATE INDEX remote_seen_at ON remote_seen (at);"

  "CREATE TABLE outbound ("
  "  seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
  "  txn_id TEXT NOT NULL UNIQUE,"
  "  queue_key TEXT NOT NULL,"
  "  method TEXT NOT NULL,"
  "  path TEXT NOT NULL,"
  "  user_id TEXT,"
  "  ts BIGINT NOT NULL DEFAULT 0,"
  "  body TEXT NOT NULL,"
  "  on_done TEXT,"
  "  attempts INTEGER NOT NULL DEFAULT 0,"
  "  not_before BIGINT NOT NULL DEFAULT 0);"
  "CREATE INDEX outbound_by_key ON outbound (queue_key, seq);"
  "CREATE TABLE outbound_heads ("
  "  queue_key TEXT PRIMARY KEY NOT NULL,"
  "  seq BIGINT NOT NULL UNIQUE);"
  "CREATE FUNCTION outbound_head_insert () RETURNS trigger LANGUAGE plpgsql AS $$"
  "BEGIN"
  "  INSERT INTO outbound_heads (queue_key, seq) VALUES (NEW.queue_key, NEW.seq)"
  "    ON CONFLICT DO NOTHING;"
  "  RETURN NULL;"
  "END $$;"
  "CREATE TRIGGER outbound_head_insert AFTER INSERT ON outbound"
  "  FOR EACH ROW EXECUTE FUNCTION outbound_head_insert ();"
  "CREATE FUNCTION outbound_head_delete () RETURNS trigger LANGUAGE plpgsql AS $$"
  "BEGIN"
  "  DELETE FROM outbound_heads WHERE queue_key = OLD.queue_key AND seq = OLD.seq;"
  "  INSERT INTO outbound_heads (queue_key, seq)"
  "    SELECT queue_key, seq FROM outbound WHERE queue_key = OLD.queue_key"
  "    ORDER BY seq LIMIT 1 ON CONFLICT DO NOTHING;"
  "  RETURN NULL;"
  "END $$;"
  "CREATE TRIGGER outbound_head_delete AFTER DELETE ON outbound"
  "  FOR EACH ROW EXECUTE FUNCTION outbound_head_delete ();"
  "CREATE TABLE outbound_done ("
  "  txn_id TEXT PRIMARY KEY NOT NULL,"
  "  at BIGINT NOT NULL);"
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
  "  ts BIGINT NOT NULL DEFAULT 0,"
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
  "  PRIMARY KEY (ministry, plugin));"

  "CREATE TABLE meta ("
  "  login_id TEXT NOT NULL,"
  "  scope INTEGER NOT NULL,"
  "  id TEXT NOT NULL,"
  "  value TEXT NOT NULL,"
  "  PRIMARY KEY (login_id, scope, id));"

  "CREATE TABLE kv ("
  "  key TEXT PRIMARY KEY NOT NULL,"
  "  value TEXT NOT NULL);"

  "CREATE TABLE import_jobs ("
  "  id TEXT PRIMARY KEY NOT NULL,"
  "  owner TEXT NOT NULL,"
  "  plugin TEXT NOT NULL,"
  "  path TEXT NOT NULL,"
  "  options TEXT NOT NULL,"
  "  state TEXT NOT NULL,"
  "  room_id TEXT,"
  "  total BIGINT NOT NULL DEFAULT 0,"
  "  summary TEXT,"
  "  error TEXT,"
  "  created_at BIGINT NOT NULL,"
  "  updated_at BIGINT NOT NULL);"

  "CREATE TABLE portal_logins ("
  "  room_id TEXT NOT NULL,"
  "  login_id TEXT NOT NULL,"
  "  since BIGINT NOT NULL,"
  "  PRIMARY KEY (room_id, login_id));"
  "CREATE INDEX portal_logins_by_login ON portal_logins (login_id);"
  "CREATE TABLE shared_messages ("
  "  seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
  "  plugin TEXT NOT NULL,"
  "  chat_id TEXT NOT NULL,"
  "  legacy_id TEXT NOT NULL,"
  "  login_id TEXT NOT NULL,"
  "  at BIGINT NOT NULL,"
  "  UNIQUE (plugin, chat_id, legacy_id, login_id));"
  "CREATE INDEX shared_messages_at ON shared_messages (at);"

  "CREATE TABLE quarantine ("
  "  seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
  "  txn_id TEXT NOT NULL,"
  "  event_id TEXT,"
  "  room_id TEXT,"
  "  sender TEXT,"
  "  reason TEXT NOT NULL,"
  "  event TEXT NOT NULL,"
  "  at BIGINT NOT NULL);"
  "CREATE INDEX quarantine_at ON quarantine (at);"

  "CREATE TABLE live_fingerprints ("
  "  room BIGINT NOT NULL,"
  "  minute BIGINT NOT NULL,"
  "  digest BIGINT NOT NULL,"
  "  msg BIGINT NOT NULL,"
  "  class TEXT NOT NULL,"
  "  job BIGINT,"
  "  PRIMARY KEY (room, minute, digest, msg));"
  "CREATE INDEX live_fingerprints_by_msg ON live_fingerprints (room, msg);"
  "CREATE TABLE live_claims ("
  "  job_id TEXT NOT NULL,"
  "  room BIGINT NOT NULL,"
  "  msg BIGINT NOT NULL,"
  "  PRIMARY KEY (job_id, room, msg));"

  "CREATE TABLE import_chats ("
  "  owner TEXT NOT NULL,"
  "  plugin TEXT NOT NULL,"
  "  identity TEXT NOT NULL,"
  "  room_id TEXT NOT NULL,"
  "  name TEXT,"
  "  at BIGINT NOT NULL,"
  "  PRIMARY KEY (owner, plugin, identity));",
  /* v1 → v7: all in the first step */
  "",
  "",
  "",
  "",
  "",
  "",
};

const guint pa_store_n_pg_migrations = G_N_ELEMENTS (pa_store_pg_migrations);
G_STATIC_ASSERT (G_N_ELEMENTS (pa_store_pg_migrations) == G_N_ELEMENTS (pa_store_migrations));
