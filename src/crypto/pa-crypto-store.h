/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The crypto state in its own SQLite file (WAL, mode 0600, schema versioned
 * with PRAGMA user_version): the account, Olm sessions, Megolm sessions
 * both ways, the device cache, tracked users and the message indexes seen
 * (replay protection).  Pickles arrive already encrypted by libolm with the
 * caller's pickle key; this file never sees a key. */
#ifndef PA_CRYPTO_STORE_H
#define PA_CRYPTO_STORE_H

#include <glib.h>

G_BEGIN_DECLS

typedef struct _PaCryptoStore PaCryptoStore;

typedef struct {
  char *user_id;
  char *device_id;
  char *ed25519;
  char *curve25519;
  gboolean verified; /* the device's self-signature checked out */
  gboolean deleted;  /* gone from the owner's device list */
} PaCryptoDevice;

typedef struct {
  char *room_id;
  char *session_id;
  char *pickle;
  gint64 created_at;  /* ms */
  guint message_count;
} PaCryptoOutbound;

void pa_crypto_device_free (PaCryptoDevice *d);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PaCryptoDevice, pa_crypto_device_free)
void pa_crypto_outbound_free (PaCryptoOutbound *o);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PaCryptoOutbound, pa_crypto_outbound_free)

/* Opens (creating, 0600) and migrates the database at `path`. */
PaCryptoStore *pa_crypto_store_open (const char *path, GError **error);
void pa_crypto_store_free (PaCryptoStore *store);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PaCryptoStore, pa_crypto_store_free)
int pa_crypto_store_schema_version (PaCryptoStore *store);

/* Transactions: begin/commit pair, rollback undoes (no nesting). */
gboolean pa_crypto_store_begin (PaCryptoStore *store, GError **error);
gboolean pa_crypto_store_commit (PaCryptoStore *store, GError **error);
void pa_crypto_store_rollback (PaCryptoStore *store);

/* Identities: a Matrix user, its device and its Olm account's pickle.
 * One is the primary (the bot's device, whose store this is); the others
 * are ghosts' devices.  load: by user, or the primary when `user_id` is
 * NULL; NULL with no error when none was saved.  `published`: the device
 * exists on the homeserver with its keys and cross-signing (set by
 * pa_crypto_store_set_published, never unset). */
char *pa_crypto_store_load_identity (PaCryptoStore *store, const char *user_id,
                                     char **out_user_id, char **device_id,
                                     gboolean *keys_uploaded, gboolean *published,
                                     GError **error);
gboolean pa_crypto_store_save_identity (PaCryptoStore *store, const char *user_id,
                                        const char *device_id, const char *pickle,
                                        gboolean keys_uploaded, gboolean primary, GError **error);
gboolean pa_crypto_store_set_published (PaCryptoStore *store, const char *user_id,
                                        GError **error);
/* How many identities the store holds (-1 on error). */
gint64 pa_crypto_store_count_identities (PaCryptoStore *store, GError **error);

/* In memory, shared by the identities of the store: bumped by every device
 * list or blocking change. */
guint64 pa_crypto_store_device_epoch (PaCryptoStore *store);
void pa_crypto_store_bump_device_epoch (PaCryptoStore *store);

/* Olm sessions of the identity `owner` (its user id) by the peer's
 * curve25519 key. */
gboolean pa_crypto_store_save_olm_session (PaCryptoStore *store, const char *owner,
                                           const char *sender_key, const char *session_id,
                                           const char *pickle, GError **error);
/* Pickles (char *) of the `limit` most recently used sessions of `owner`
 * with `sender_key`, newest first; an empty array when there are none. */
GPtrArray *pa_crypto_store_olm_sessions (PaCryptoStore *store, const char *owner,
                                         const char *sender_key, guint limit, GError **error);

/* Outbound Megolm, one per identity (`owner`) and room.  get returns NULL
 * with no error if none. */
PaCryptoOutbound *pa_crypto_store_get_outbound (PaCryptoStore *store, const char *owner,
                                                const char *room_id, GError **error);
gboolean pa_crypto_store_save_outbound (PaCryptoStore *store, const char *owner,
                                        const PaCryptoOutbound *o, GError **error);
/* Forgets the room's outbound session of `owner`, or of every identity
 * when `owner` is NULL (whom it went to is kept, for answering key
 * requests; the pairs are keyed by session id). */
gboolean pa_crypto_store_delete_outbound (PaCryptoStore *store, const char *owner,
                                          const char *room_id, GError **error);
gboolean pa_crypto_store_outbound_is_shared (PaCryptoStore *store, const char *room_id,
                                             const char *session_id, const char *user_id,
                                             const char *device_id, gboolean *shared,
                                             GError **error);
gboolean pa_crypto_store_mark_outbound_shared (PaCryptoStore *store, const char *room_id,
                                               const char *session_id, const char *user_id,
                                               const char *device_id, GError **error);

/* Inbound Megolm by (room, sender curve25519 key, session id). */
gboolean pa_crypto_store_save_inbound (PaCryptoStore *store, const char *room_id,
                                       const char *sender_key, const char *session_id,
                                       const char *sender_ed25519, const char *pickle,
                                       guint32 first_known_index, GError **error);
/* NULL with no error when unknown; out parameters may be NULL. */
char *pa_crypto_store_get_inbound (PaCryptoStore *store, const char *room_id,
                                   const char *sender_key, const char *session_id,
                                   char **sender_ed25519, guint32 *first_known_index,
                                   GError **error);

/* Device cache. get/by_curve return NULL with no error when unknown. */
gboolean pa_crypto_store_save_device (PaCryptoStore *store, const PaCryptoDevice *d,
                                      GError **error);
PaCryptoDevice *pa_crypto_store_get_device (PaCryptoStore *store, const char *user_id,
                                            const char *device_id, GError **error);
PaCryptoDevice *pa_crypto_store_get_device_by_curve (PaCryptoStore *store,
                                                     const char *curve25519, GError **error);
/* All devices of `user_id` (PaCryptoDevice *), deleted ones included. */
GPtrArray *pa_crypto_store_list_devices (PaCryptoStore *store, const char *user_id,
                                         GError **error);

/* Tracked users: tracking starts dirty (device list must be fetched). */
gboolean pa_crypto_store_track_user (PaCryptoStore *store, const char *user_id, GError **error);
gboolean pa_crypto_store_set_user_dirty (PaCryptoStore *store, const char *user_id,
                                         gboolean dirty, GError **error);
gboolean pa_crypto_store_user_state (PaCryptoStore *store, const char *user_id,
                                     gboolean *tracked, gboolean *dirty, GError **error);

/* Replay protection: records that (session, index) decrypted `event_id`.
 * Seeing the same pair again for the same event is fine (a re-delivery);
 * for another event it is a replay and fails. */
gboolean pa_crypto_store_check_index (PaCryptoStore *store, const char *session_id,
                                      guint32 index, const char *event_id, gint64 ts,
                                      GError **error);

/* Cross-signing keys of one identity (pa-crypto-cross-signing.c): the
 * seeds, sealed by the caller with the pickle key, and the three public
 * keys they make. */
typedef struct {
  char *sealed;
  char *master;
  char *self_signing;
  char *user_signing;
} PaCryptoCrossSigningRow;

void pa_crypto_cross_signing_row_free (PaCryptoCrossSigningRow *row);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PaCryptoCrossSigningRow, pa_crypto_cross_signing_row_free)
/* *row is NULL (and TRUE returned) when `user_id` has none saved. */
gboolean pa_crypto_store_load_cross_signing (PaCryptoStore *store, const char *user_id,
                                             PaCryptoCrossSigningRow **row, GError **error);
gboolean pa_crypto_store_save_cross_signing (PaCryptoStore *store, const char *user_id,
                                             const PaCryptoCrossSigningRow *row,
                                             GError **error);

G_END_DECLS

#endif
