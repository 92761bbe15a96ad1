/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Private to src/store: the PaStore structure, the limits, and the shared
 * statement and transaction helpers (pa-store-sql.c) and migration steps
 * (pa-store-schema.c).  The store is a star: each pa-store-<purpose>.c uses
 * only what this header declares, never another purpose file. */
#ifndef PA_STORE_PRIVATE_H
#define PA_STORE_PRIVATE_H

#include "pa-store.h"

#include "pa-common.h"
#include "db/pa-db.h"

#include <string.h>

G_BEGIN_DECLS

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
/* Events kept aside (quarantine): long enough for an admin to look. */
#define QUARANTINE_KEEP_MS (30 * DAY_MS)

struct _PaStore
{
  /* The connection (SQLite or PostgreSQL), its statement cache and its
   * transactions, with the storage-fault rule: a statement of the open
   * transaction that failed for want of storage fails its commit, even if
   * the caller carried on, so that a group commit is whole or nothing. */
  PaDb *db;
  int version;
  guint migrations_run;
  /* Inbound events stored by this process and not yet done: seq → the
   * json_t they were serialised from, so that pa_store_inbound_peek() does
   * not parse them back.  Only a cache: emptied on any rollback, as the
   * rows (and their seqs) may then not exist. */
  GHashTable *inbound_fresh;
};

/* ---- pa-store-schema.c ---------------------------------------------- */

/* pa_store_migrations[i] takes the schema from version i to i + 1 on
 * SQLite, pa_store_pg_migrations[i] on PostgreSQL; the schema version of
 * the code is pa_store_n_migrations, the length of both. */
extern const char *const pa_store_migrations[];
extern const char *const pa_store_pg_migrations[];
extern const guint pa_store_n_migrations;
extern const guint pa_store_n_pg_migrations;

/* ---- pa-store-sql.c -------------------------------------------------- */

/* A cached statement borrowed for one use: the cleanup resets it and drops
 * its bindings instead of finalizing it, so it can be reused. */
typedef PaDbStmt PaStoreStmt;
#define pa_store_stmt_release pa_db_release
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PaStoreStmt, pa_db_release)

/* The cached statement for `sql`, prepared on first use. */
PaStoreStmt *pa_store_prepare (PaStore *store, const char *sql, GError **error);
/* The cached statement for `sql` with its parameters bound (types as
 * pa_db_vbind), or NULL. */
PaStoreStmt *pa_store_stmt (PaStore *store, GError **error, const char *sql, const char *types,
                            ...);
/* One step: PA_DB_ROW or PA_DB_DONE, or PA_DB_ERROR with `error` set. */
PaDbStep pa_store_step (PaStore *store, PaStoreStmt *stmt, GError **error);
/* Runs a statement that returns no rows. */
gboolean pa_store_run (PaStore *store, GError **error, const char *sql, const char *types, ...);
char *pa_store_column_strdup (PaStoreStmt *stmt, int col);
/* SELECT count(*)…: the count, or -1 (logged) on failure. */
gint64 pa_store_count (PaStore *store, const char *sql, const char *arg);
/* Lookups that cannot report errors log them and read as "not found". */
void pa_store_log_lookup_error (GError *error);
/* The first column of the first row as a string, or NULL (logged on error). */
char *pa_store_lookup_text (PaStore *store, const char *sql, const char *types, ...);

/* Nesting transactions (pa_db_begin); a rollback also empties the cache of
 * fresh inbound events. */
gboolean pa_store_tx_begin (PaStore *store, GError **error);
void pa_store_tx_rollback (PaStore *store);
gboolean pa_store_tx_commit (PaStore *store, GError **error);

G_END_DECLS

#endif
