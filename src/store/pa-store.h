/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The store: one SQLite database (WAL), versioned schema with stepwise
 * migrations.  It knows rows, not portals: the bridge gives meaning to them.
 *
 * Durability contract:
 *  - pa_store_txn_accept() records a transaction id and its events in one
 *    SQLite transaction, so an acked HS transaction is never lost and a
 *    replayed one is recognised.
 *  - remote events from workers are stored (pa_store_remote_add) before the
 *    worker is told they are persisted.
 *  - an outbound item leaves the queue only by pa_store_outbound_done(),
 *    called after the homeserver acknowledged it.
 * All functions run on the main thread; none blocks on the network. */
#ifndef PA_STORE_H
#define PA_STORE_H

#include <glib.h>
#include <jansson.h>

G_BEGIN_DECLS

typedef struct _PaStore PaStore;

PaStore *pa_store_open (const char *path, GError **error);
void pa_store_close (PaStore *store);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PaStore, pa_store_close)
int pa_store_schema_version (PaStore *store);

/* Explicit transactions, for grouping several writes atomically. */
gboolean pa_store_begin (PaStore *store, GError **error);
gboolean pa_store_commit (PaStore *store, GError **error);
void pa_store_rollback (PaStore *store);
/* Copy the WAL into the database and truncate it (gives its space back
 * after a disk-full failure); outside any transaction. */
gboolean pa_store_checkpoint (PaStore *store, GError **error);

/* ---- HS → AS transactions and their events (inbound queue) */

/* Records txn_id and appends each event (borrowed json_t objects, serialised)
 * to the inbound queue, atomically.  *out_duplicate is TRUE (and nothing is
 * written) if txn_id was seen before. */
gboolean pa_store_txn_accept (PaStore *store, const char *txn_id, json_t *events,
                              gboolean *out_duplicate, GError **error);
/* The oldest unprocessed inbound events, up to `limit`: array of
 * {"seq": int, "event": {...}} (transfer full). */
/* The same, with texts[i] (borrowed, may be NULL) the serialisation of
 * events[i] already made by the caller: each event is serialised once. */
gboolean pa_store_txn_accept_texts (PaStore *store, const char *txn_id, json_t *events,
                                    const GPtrArray *texts, gboolean *out_duplicate,
                                    GError **error);
json_t *pa_store_inbound_peek (PaStore *store, guint limit, GError **error);
gboolean pa_store_inbound_done (PaStore *store, gint64 seq, GError **error);
gint64 pa_store_inbound_count (PaStore *store);

/* ---- quarantine: events of accepted transactions that the bridge could
 * not handle, kept aside (30 days) instead of refusing their transaction */

/* Adds one; event_id, room_id and sender may be NULL; `event` is the
 * event as JSON text (or the raw bytes made UTF-8). */
gboolean pa_store_quarantine_add (PaStore *store, const char *txn_id, const char *event_id,
                                  const char *room_id, const char *sender, const char *reason,
                                  const char *event, GError **error);
gint64 pa_store_quarantine_count (PaStore *store);

/* ---- remote (legacy) events from workers, durable until bridged */

/* Appends an event (serialised by the caller).  dedup_key (may be NULL) is
 * unique: "<login>\x1f<chat>\x1f<message id>\x1f<type>"; a second add with
 * the same key is a no-op that sets *out_duplicate. Returns the seq. */
gint64 pa_store_remote_add (PaStore *store, const char *login_id, const char *dedup_key,
                            const char *event_json, gboolean *out_duplicate, GError **error);
/* Oldest first: array of {"seq", "login_id", "event" (string)} (transfer full). */
json_t *pa_store_remote_peek (PaStore *store, guint limit, GError **error);
gboolean pa_store_remote_done (PaStore *store, gint64 seq, GError **error);
gint64 pa_store_remote_count (PaStore *store);

/* ---- outbound queue (AS → HS requests) */

typedef struct {
  gint64 seq;
  char *txn_id;      /* deterministic, unique */
  char *queue_key;   /* ordering domain, usually the room id: items with the same
                        key are sent strictly in order */
  char *method;      /* "PUT" / "POST" */
  char *path;        /* "/_matrix/client/v3/rooms/!r/send/m.room.message/<txn>" */
  char *user_id;     /* masquerade as, or NULL for the bot */
  gint64 ts;         /* ?ts= massaging, 0 = none */
  char *body;        /* JSON text */
  char *on_done;     /* JSON text the bridge attaches (message-map info) or NULL */
  gint attempts;
  gint64 not_before_ms; /* backoff */
} PaOutboundItem;

void pa_outbound_item_free (PaOutboundItem *item);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PaOutboundItem, pa_outbound_item_free)

/* Enqueue; returns the seq.  A txn_id already queued (or already done and
 * remembered) is a no-op returning 0 with *out_duplicate set. */
gint64 pa_store_outbound_add (PaStore *store, const PaOutboundItem *item,
                              gboolean *out_duplicate, GError **error);
/* The head item of every queue_key that is due at `now_ms` and not in
 * `busy_keys` (a set of char* queue keys), oldest first, at most `limit`.
 * Returns a GPtrArray of PaOutboundItem* (transfer full). */
GPtrArray *pa_store_outbound_ready (PaStore *store, GHashTable *busy_keys, gint64 now_ms,
                                    guint limit, GError **error);
/* Delete the item; remembers its txn_id as done (so a re-add is a no-op). */
gboolean pa_store_outbound_done (PaStore *store, gint64 seq, GError **error);
/* Record a failed attempt: attempts++ and not_before = now + delay. */
gboolean pa_store_outbound_retry (PaStore *store, gint64 seq, gint64 not_before_ms,
                                  GError **error);
/* Earliest not_before of any item, or -1 if the queue is empty. */
gint64 pa_store_outbound_next_due (PaStore *store);
gint64 pa_store_outbound_count (PaStore *store);
/* Whether any item (due or not) waits under queue_key. */
gboolean pa_store_outbound_has_key (PaStore *store, const char *queue_key);

/* ---- ghosts */
gboolean pa_store_ghost_get (PaStore *store, const char *mxid, gboolean *out_registered,
                             char **out_displayname, char **out_avatar_url);
gboolean pa_store_ghost_put (PaStore *store, const char *mxid, const char *plugin,
                             const char *legacy_id, gboolean registered,
                             const char *displayname, const char *avatar_url, GError **error);
gint64 pa_store_ghost_count (PaStore *store);

/* ---- portals */
typedef struct {
  char *plugin;
  char *login_id;    /* receiving login; PA_STORE_SHARED_LOGIN for a shared group */
  char *chat_id;
  char *room_id;     /* NULL while not created */
  char *kind;        /* "dm" / "group" / "import" */
  char *name;
  gboolean encrypted;
} PaPortalRow;

void pa_portal_row_free (PaPortalRow *row);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PaPortalRow, pa_portal_row_free)

/* The login_id of a shared group portal (one per plugin and chat, no
 * login of its own: see portal_logins). */
#define PA_STORE_SHARED_LOGIN ""

/* Upsert by (plugin, login_id, chat_id). */
gboolean pa_store_portal_put (PaStore *store, const PaPortalRow *row, GError **error);
PaPortalRow *pa_store_portal_get (PaStore *store, const char *plugin, const char *login_id,
                                  const char *chat_id);
PaPortalRow *pa_store_portal_by_room (PaStore *store, const char *room_id);
/* The login's own portal of the chat, else the chat's shared portal. */
PaPortalRow *pa_store_portal_find (PaStore *store, const char *plugin, const char *login_id,
                                   const char *chat_id);
gboolean pa_store_portal_delete (PaStore *store, const char *room_id, GError **error);
gint64 pa_store_portal_count (PaStore *store);

/* ---- logins in shared portals */
gboolean pa_store_portal_login_add (PaStore *store, const char *room_id, const char *login_id,
                                    gboolean *out_new, GError **error);
gboolean pa_store_portal_login_remove (PaStore *store, const char *room_id,
                                       const char *login_id, GError **error);
/* First in first; NULL-terminated, transfer full. */
char **pa_store_portal_logins (PaStore *store, const char *room_id);
/* 1: this login delivered legacy_id of the shared chat first (bridge it);
 * 0: another login did (a copy); -1: error. */
int pa_store_shared_claim (PaStore *store, const char *plugin, const char *chat_id,
                           const char *legacy_id, const char *login_id, GError **error);

/* ---- message map (legacy id ↔ event id) */
gboolean pa_store_message_put (PaStore *store, const char *plugin, const char *login_id,
                               const char *chat_id, const char *legacy_id,
                               const char *room_id, const char *event_id,
                               const char *sender, gint64 ts, GError **error);
/* Look up by legacy id: returns event id (transfer full) or NULL. */
char *pa_store_message_event_id (PaStore *store, const char *plugin, const char *login_id,
                                 const char *chat_id, const char *legacy_id);
/* Look up by event id: returns legacy id (transfer full) or NULL; chat id optional out. */
char *pa_store_message_legacy_id (PaStore *store, const char *room_id, const char *event_id,
                                  char **out_chat_id);
gint64 pa_store_message_count_in_room (PaStore *store, const char *room_id);
/* The mappings of a chat whose legacy id starts with `prefix` (e.g. one
 * sender's reactions on a message): [{legacy_id, event_id}] (transfer full,
 * empty on error). */
json_t *pa_store_message_list_prefix (PaStore *store, const char *plugin, const char *login_id,
                                      const char *chat_id, const char *prefix);
/* Drop one mapping (a reaction that was removed: the same key may come
 * back and must then be sent again). */
gboolean pa_store_message_forget (PaStore *store, const char *plugin, const char *login_id,
                                  const char *chat_id, const char *legacy_id, GError **error);
/* Messages mapped for one login (an import job's progress). */
gint64 pa_store_message_count_login (PaStore *store, const char *plugin, const char *login_id);

/* ---- live fingerprints (pa-store-fingerprints.c, schema v5) */
/* Records that live message legacy_id of room_id, sent in `minute` (UTC
 * minutes since the epoch), has this class and digest; a second add of the
 * same (room, legacy id, digest) is a no-op. */
gboolean pa_store_fingerprint_add (PaStore *store, const char *room_id, const char *legacy_id,
                                   gint64 minute, const char *cls, gint64 digest, GError **error);
/* The same, for a message import job job_id sends into room_id (schema
 * v7): marked as that job's, so that the job never matches its own
 * messages as ones already there; other jobs match them. */
gboolean pa_store_fingerprint_add_own (PaStore *store, const char *job_id, const char *room_id,
                                       const char *legacy_id, gint64 minute, const char *cls,
                                       gint64 digest, GError **error);
/* One more fingerprint of a live message already recorded (its edit, its
 * deletion), in the minute of its first one; a no-op when the message has
 * none (bridged before fingerprints existed). */
gboolean pa_store_fingerprint_add_later (PaStore *store, const char *room_id,
                                         const char *legacy_id, const char *cls, gint64 digest,
                                         GError **error);
/* Import job job_id claims a live message of room_id in `minute` with this
 * digest (or, with any_media, of any media class) that it has not claimed
 * yet: 1 when one was claimed, 0 when none is left, -1 on error. */
int pa_store_fingerprint_claim (PaStore *store, const char *job_id, const char *room_id,
                                gint64 minute, gboolean any_media, gint64 digest, GError **error);
/* How many messages already there (live, or sent by another import)
 * job_id has claimed (-1 on error). */
gint64 pa_store_fingerprint_claimed (PaStore *store, const char *job_id);
/* The same, in room_id alone. */
gint64 pa_store_fingerprint_claimed_in (PaStore *store, const char *job_id, const char *room_id);
/* Drops job_id's claims (the job is cancelled or failed: run again, it
 * starts from its first message and must match the same live ones). */
gboolean pa_store_fingerprint_forget_job (PaStore *store, const char *job_id, GError **error);
/* The first 8 bytes of the SHA-256 of `text`, as a signed integer: the
 * content digests, and the keys of rooms and messages in these tables
 * (pa-store-sql.c). */
gint64 pa_store_hash64 (const char *text);

/* ---- logins */
typedef struct {
  char *id;          /* host-chosen, e.g. "loopback-3f2a" */
  char *owner;       /* agent MXID */
  char *plugin;
  char *remote_id;   /* NULL until logged in */
  char *remote_name;
  char *state;       /* "new", "connected", "logged_out", "error" … */
} PaLoginRow;

void pa_login_row_free (PaLoginRow *row);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PaLoginRow, pa_login_row_free)

gboolean pa_store_login_put (PaStore *store, const PaLoginRow *row, GError **error);
PaLoginRow *pa_store_login_get (PaStore *store, const char *id);
/* All logins (owner NULL) or an owner's: GPtrArray of PaLoginRow* (transfer full). */
GPtrArray *pa_store_login_list (PaStore *store, const char *owner);
gboolean pa_store_login_delete (PaStore *store, const char *id, GError **error);

/* ---- management rooms (one per agent) */
gboolean pa_store_management_put (PaStore *store, const char *owner, const char *room_id,
                                  GError **error);
char *pa_store_management_room (PaStore *store, const char *owner);
char *pa_store_management_owner (PaStore *store, const char *room_id);

/* ---- ministry plugin overrides (run-time enable/disable) */
gboolean pa_store_ministry_plugin_set (PaStore *store, const char *ministry, const char *plugin,
                                       gboolean enabled, GError **error);
/* Returns TRUE if an override exists, with its value in *out_enabled. */
gboolean pa_store_ministry_plugin_get (PaStore *store, const char *ministry, const char *plugin,
                                       gboolean *out_enabled);

/* ---- opaque plugin metadata and host key/values */
gboolean pa_store_meta_set (PaStore *store, const char *login_id, int scope, const char *id,
                            const char *value, GError **error);
char *pa_store_meta_get (PaStore *store, const char *login_id, int scope, const char *id);
/* Every metadata value of a login, for the worker's init frame: array of
 * {"scope": int, "id", "value"} (transfer full; empty on error). */
json_t *pa_store_meta_list (PaStore *store, const char *login_id);
gboolean pa_store_kv_set (PaStore *store, const char *key, const char *value, GError **error);
char *pa_store_kv_get (PaStore *store, const char *key);

/* ---- maintenance (appended) */

/* How many schema migration steps pa_store_open() ran on this database: 0
 * when it was already current.  For logging and tests. */
guint pa_store_migrations_run (PaStore *store);
/* Runs SQLite's integrity_check and foreign_key_check and verifies the
 * store's own invariants (every outbound queue's recorded head is its oldest
 * item).  FALSE with PA_ERROR_STORE naming the first problem found. */
gboolean pa_store_check (PaStore *store, GError **error);

/* ---- history import (schema v2) */

/* Remote events of one import job (login ids starting "import:" go to the
 * import lane, which the live processor never peeks). */
json_t *pa_store_remote_peek_import (PaStore *store, const char *login_id, guint limit,
                                     GError **error);
gint64 pa_store_remote_count_login (PaStore *store, const char *login_id);

/* ---- giving space back (pa-store-purge.c) */

/* Deletes up to `limit` of the oldest rows of an import lane, without
 * remembering their dedup keys; returns how many (0: the lane is empty),
 * -1 on error. */
gint64 pa_store_remote_purge_lane (PaStore *store, const char *login_id, guint limit,
                                   GError **error);
/* The login ids of every import lane that still has rows (a JSON array). */
json_t *pa_store_remote_import_lanes (PaStore *store, GError **error);
/* Makes the database auto_vacuum=INCREMENTAL (once: a VACUUM of an older
 * file); called when the store is opened. */
gboolean pa_store_vacuum_setup (PaStore *store, GError **error);
/* Returns up to `pages` free pages to the file system; the free pages
 * left, -1 on error.  When none is left (outside a transaction) a passive
 * checkpoint lets the file shrink at once. */
gint64 pa_store_vacuum_step (PaStore *store, guint pages);

/* Import jobs as JSON objects: id, owner, plugin, path, options (object),
 * state ("queued", "parsing", "sending", "done", "failed"), room_id, total,
 * summary (object), error, created_at, updated_at.  put upserts. */
gboolean pa_store_job_put (PaStore *store, json_t *job, GError **error);
json_t *pa_store_job_get (PaStore *store, const char *id);
json_t *pa_store_job_list_active (PaStore *store);
/* Import identity (schema v7): the room an agent's chat of `plugin`, known
 * by `identity`, was imported into, or NULL (transfer full); put records
 * it (a second put of the same identity keeps the first room). */
char *pa_store_import_chat_room (PaStore *store, const char *owner, const char *plugin,
                                 const char *identity);
gboolean pa_store_import_chat_put (PaStore *store, const char *owner, const char *plugin,
                                   const char *identity, const char *room_id, const char *name,
                                   GError **error);

/* ---- pa-store-stats.c: figures for the metrics ------------------------- */

typedef struct
{
  gint64 depth;    /* rows waiting */
  gint64 head_seq; /* seq of the oldest, -1 when empty */
} PaStoreQueueStat;

typedef struct
{
  PaStoreQueueStat inbound;       /* Matrix → legacy events */
  PaStoreQueueStat remote_live;   /* legacy → Matrix, live lane */
  PaStoreQueueStat remote_import; /* legacy → Matrix, import lanes */
  PaStoreQueueStat outbound;      /* homeserver requests */
  json_t *import_jobs;            /* [{plugin, state, count}]: the caller's to decref */
} PaStoreStats;

/* The queues' depths and heads and the import jobs by (plugin, state):
 * one aggregate query each. */
gboolean pa_store_stats (PaStore *store, PaStoreStats *out, GError **error);

G_END_DECLS

#endif
