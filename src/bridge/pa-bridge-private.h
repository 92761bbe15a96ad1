/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Internal to src/bridge/: the bridge object and the functions its files
 * share.  Nothing outside src/bridge/ includes this. */
#ifndef PA_BRIDGE_PRIVATE_H
#define PA_BRIDGE_PRIVATE_H

#include "pa-bridge-object.h"

G_BEGIN_DECLS

/* ---- pa-bridge.c */
/* Open the group-commit transaction if none is (committed when idle). */
void pa_bridge_batch (PaBridge *b);
/* Commit now and send the acks that waited for it. */
void pa_bridge_flush (PaBridge *b);
/* Tell the worker of login_id that event seq is stored, once committed. */
void pa_bridge_defer_ack (PaBridge *b, const char *login_id, gint64 seq);
/* Send a notice (m.notice) as the bot into room_id through the queue. */
void pa_bridge_notice (PaBridge *b, const char *room_id, const char *text);
/* Notice to the owner's management room (created on demand). */
void pa_bridge_notify_owner (PaBridge *b, const char *owner, const char *text);
/* Deterministic outbound txn id: "pa." + hex of SHA-256 of the parts. */
char *pa_bridge_txn_id (const char *first, ...) G_GNUC_NULL_TERMINATED;
/* Queue an event send into room as user (NULL = bot); on_done may be NULL
 * (borrowed).  txn_seed makes the txn id deterministic. */
void pa_bridge_queue_send (PaBridge *b, const char *room_id, const char *user_id,
                           const char *event_type, json_t *content, gint64 ts,
                           const char *txn_seed, json_t *on_done);
void pa_bridge_queue_request (PaBridge *b, const char *queue_key, const char *method,
                              const char *path, const char *user_id, json_t *body, gint64 ts,
                              const char *txn_id, json_t *on_done);
PaLevel pa_bridge_level (PaBridge *b, const char *mxid);
/* Whether `plugin` is enabled for the ministry of mxid; *why set when not. */
gboolean pa_bridge_plugin_allowed (PaBridge *b, const char *mxid, const char *plugin,
                                   char **why);
gboolean pa_bridge_ministry_plugin_enabled (PaBridge *b, const PaMinistry *m, const char *plugin);

/* ---- pa-outbound.c */
void pa_outbound_kick (PaBridge *b);
void pa_outbound_flight_free (gpointer flight);
/* Items still queued for this room (ordering key). */
gboolean pa_outbound_room_pending (PaBridge *b, const char *room_id);

/* ---- pa-ghost.c */
char *pa_ghost_mxid (PaBridge *b, const char *plugin, const char *legacy_id);
/* Parse a ghost MXID back: TRUE with plugin and legacy id if it is ours. */
gboolean pa_ghost_parse (PaBridge *b, const char *mxid, char **plugin, char **legacy_id);
gboolean pa_ghost_is_ours (PaBridge *b, const char *mxid);
/* Register the ghost (idempotent) and set its display name / avatar. */
void pa_ghost_ensure (PaBridge *b, const char *plugin, const char *legacy_id,
                      const char *displayname, const char *avatar_path, PaDoneFunc done,
                      gpointer user_data);

/* ---- pa-portal.c */
/* Find or create the room for (plugin, login, chat).  `chat` is the wire
 * chat object (may be NULL: a DM with `dm_peer` is assumed). */
void pa_portal_ensure (PaBridge *b, PaAccount *login, const char *chat_id, json_t *chat,
                       const char *dm_peer, PaPortalFunc done, gpointer user_data);
/* Queue invite+join of the ghost into room unless known joined. */
void pa_portal_ensure_member (PaBridge *b, const char *room_id, const char *ghost_mxid);
void pa_portal_forget_member (PaBridge *b, const char *room_id, const char *ghost_mxid);
PaRoomCache *pa_portal_cache (PaBridge *b, const char *room_id);
char *pa_portal_alias_localpart (PaBridge *b, const char *plugin, const char *login_id,
                                 const char *chat_id);
/* Create (or find) the owner's management room. */
void pa_portal_management_room (PaBridge *b, const char *owner, PaPortalFunc done,
                                gpointer user_data);

/* ---- pa-remote.c (legacy → Matrix) */
void pa_lane_schedule (PaLane *lane);
void pa_lane_cancel (PaLane *lane);

/* ---- pa-presence.c (contacts' presence, when bridge.presence is on) */
/* A PRESENCE event of `login`'s network: the contact's ghost gets it. */
void pa_presence_update (PaBridge *b, PaAccount *login, json_t *ev);
/* Stop re-sending ghost presence and forget it. */
void pa_presence_stop (PaBridge *b);

/* ---- pa-media.c (media both ways; encrypted files in encrypted rooms) */
/* Upload done: `mxc`, and `file` (borrowed) when the upload was encrypted
 * (an EncryptedFile with its url, to put in the event instead of `url`);
 * or `error`. */
typedef void (*PaUploadFunc) (PaBridge *b, const char *mxc, json_t *file, const char *error,
                              gpointer user_data);
/* Uploads a local file; for `room_id` an encrypted room (NULL: a clear
 * upload, e.g. an avatar) it is encrypted first. */
void pa_media_upload (PaBridge *b, const char *room_id, const char *path, const char *name,
                      const char *mimetype, PaUploadFunc done, gpointer user_data);
/* Download done: the cleartext (borrowed), or `error` for the agent. */
typedef void (*PaDownloadFunc) (PaBridge *b, GBytes *data, const char *error,
                                gpointer user_data);
/* Downloads the media of a Matrix message content (`url`, or `file`
 * decrypted after its hash is checked); FALSE (nothing started) when the
 * content has no usable mxc URL. */
gboolean pa_media_download (PaBridge *b, json_t *content, gint64 max_bytes, guint timeout_s,
                            PaDownloadFunc done, gpointer user_data);
/* Whether a message content carries media (`url` or `file`). */
gboolean pa_media_has (json_t *content);
/* mxc://server/id as an authenticated-media download path (transfer full), or NULL. */
char *pa_media_download_path (const char *mxc);

/* ---- pa-to-legacy-queue.c */
gboolean pa_to_legacy_txn (const char *txn_id, PaTxn *txn, gpointer user_data, GError **error);
void pa_to_legacy_schedule (PaBridge *b);
/* ---- pa-to-legacy-dispatch.c */
void pa_to_legacy_dispatch (PaBridge *b, json_t *ev, PaEventDoneFunc done);
/* ---- pa-to-legacy-send.c */
void pa_to_legacy_send (PaBridge *b, PaPortalRow *row, PaAccount *login, json_t *ev,
                        PaEventDoneFunc done);
/* ---- pa-to-legacy-ephemeral.c */
void pa_to_legacy_ephemeral (PaBridge *b, json_t *ev);
/* ---- pa-to-matrix-sent.c */
void pa_to_matrix_sent (PaBridge *b, json_t *on_done, const char *event_id,
                        const PaMatrixResponse *resp);
/* ---- pa-to-matrix-*.c */
typedef struct _PaWork PaWork;
void pa_to_matrix_message (PaWork *w);
void pa_to_matrix_relate (PaWork *w);
void pa_to_matrix_ephemeral (PaWork *w);
void pa_to_matrix_chat_info (PaWork *w);
void pa_import_status_sent (PaBridge *b, json_t *on_done, const char *event_id,
                            const PaMatrixResponse *resp);
void pa_login_password_redacted (PaBridge *b, json_t *on_done, const char *event_id,
                                 const PaMatrixResponse *resp);
void pa_outbound_on_sent (PaBridge *b, const char *what, PaSentFunc func);

/* ---- pa-import.c (history import jobs) */
void pa_import_start (PaBridge *b);
void pa_import_stop_all (PaBridge *b);
/* The import lane met a chat: find or create its room. */
void pa_import_room_ensure (PaImportJob *job, const char *chat_id, json_t *chat,
                            PaPortalFunc done, gpointer user_data);
PaAccount *pa_import_account (PaImportJob *job);
const char *pa_import_source (PaImportJob *job);
const char *pa_import_display_suffix (PaImportJob *job);
/* The export's name of the agent (--me, or chosen in Tchap), or NULL. */
const char *pa_import_me (PaImportJob *job);
/* An agent uploaded an export to their management room. */
void pa_import_from_upload (PaBridge *b, const char *owner, const char *room_id, json_t *content);
/* The agent answered an import question; FALSE if none was pending. */
gboolean pa_import_handle_answer (PaBridge *b, const char *owner, const char *room_id,
                                  const char *text);

/* ---- pa-bridge-crypto.c (end-to-bridge encryption; each is a no-op or
 * FALSE when encryption.allow is off) */
gboolean pa_bridge_crypto_start (PaBridge *b, GError **error);
void pa_bridge_crypto_stop (PaBridge *b);
/* To-device events, device lists and key counts of a new transaction. */
/* `handle_late` takes the events decrypted with keys that came late. */
void pa_bridge_crypto_txn (PaBridge *b, PaTxn *txn, PaEventFunc handle_late);
/* Outbound: TRUE when it took a /send/ item over (see the .c). */
gboolean pa_bridge_crypto_send (PaBridge *b, const PaOutboundItem *it, PaMatrixCallback cb,
                                gpointer cb_data);
/* Inbound: TRUE when it took the event over; its cleartext then goes to
 * `decrypted` (with `done`), or `done` is called. */
gboolean pa_bridge_crypto_event (PaBridge *b, json_t *ev, PaEventFunc decrypted,
                                 PaEventDoneFunc done);
void pa_bridge_crypto_portal_created (PaBridge *b, const char *room_id, const char *creator,
                                      gboolean encrypted);
/* Whether media for `room_id` must be uploaded encrypted (known to be an
 * encrypted room: the portal's flag or an m.room.encryption seen). */
gboolean pa_bridge_crypto_room_encrypted (PaBridge *b, const char *room_id);

/* ---- pa-commands.c */
void pa_commands_handle (PaBridge *b, const char *room_id, const char *sender,
                         const char *event_id, const char *body, gboolean management);

/* ---- pa-logins.c */
void pa_plugins_discover (PaBridge *b);
PaPluginInfo *pa_plugin_info (PaBridge *b, const char *name);
PaAccount *pa_login_start_new (PaBridge *b, const char *owner, const char *plugin, GError **error);
void pa_login_resume_all (PaBridge *b);
PaAccount *pa_login_find (PaBridge *b, const char *owner, const char *plugin);
PaAccount *pa_login_by_id (PaBridge *b, const char *id);
/* Send an op to the login's worker; the pending op is owned by the login. */
gboolean pa_login_send_op (PaAccount *login, const char *op, json_t *args, const char *kind,
                           const char *room_id, const char *event_id, const char *chat_id,
                           const char *extra, GError **error);
/* The agent answered a login prompt in the management room. */
gboolean pa_login_handle_answer (PaBridge *b, const char *owner, const char *room_id,
                                 const char *event_id, const char *text);
void pa_login_logout (PaAccount *login);
void pa_login_stop_and_free (PaAccount *login);
/* Stop or start the logins affected by a ministry toggle. */
void pa_logins_apply_ministry (PaBridge *b, const PaMinistry *m, const char *plugin,
                               gboolean enabled);
void pa_login_free (PaAccount *login);

G_END_DECLS

#endif
