/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* End-to-bridge encryption, the mautrix model: one bot device holds an Olm
 * account, keeps one outbound Megolm session per encrypted portal, shares
 * its key (m.room_key, Olm-encrypted) with every device of the room's
 * members, and decrypts what Matrix users send.  Ghosts then send the
 * resulting m.room.encrypted content under their own names.
 *
 * Two layers:
 *  - synchronous building blocks (no network), which are what a test or a
 *    replacement transport drives directly;
 *  - asynchronous operations over the bot's PaMatrix on the GLib main loop
 *    (/keys/upload, /keys/query, /keys/claim, /sendToDevice).  They run one
 *    at a time in call order, so a room key is never shared twice in
 *    parallel and the account is never mutated by two requests at once.
 *
 * All state lives in its own SQLite file; pickles are encrypted by libolm
 * with the caller's pickle key (derive it from a secret, e.g. HKDF-SHA-256
 * of the as_token).  libolm itself is only touched from pa-olm.c. */
#ifndef PA_CRYPTO_H
#define PA_CRYPTO_H

#include <glib.h>
#include <jansson.h>

#include "matrix/pa-matrix.h"

G_BEGIN_DECLS

#define PA_CRYPTO_OLM_ALGORITHM "m.olm.v1.curve25519-aes-sha2"
#define PA_CRYPTO_MEGOLM_ALGORITHM "m.megolm.v1.aes-sha2"
/* One-time keys kept on the server. */
#define PA_CRYPTO_OTK_TARGET 50
/* Megolm rotation defaults (the spec's recommendation for m.room.encryption). */
#define PA_CRYPTO_ROTATION_MESSAGES 100
#define PA_CRYPTO_ROTATION_MS ((gint64) 7 * 24 * 60 * 60 * 1000)
/* Caps on what other parties make us process in one go. */
#define PA_CRYPTO_MAX_USERS 1000          /* per query/share */
#define PA_CRYPTO_MAX_DEVICES_PER_USER 100
#define PA_CRYPTO_MAX_TO_DEVICE 1000      /* events per pa_crypto_handle_to_device() */
#define PA_CRYPTO_MAX_CIPHERTEXT (256 * 1024)

typedef struct _PaCrypto PaCrypto;

/* Completion of an asynchronous operation, on the main thread.  Exactly one
 * of `result` (borrowed; operation specific, see each function) and
 * `error` is non-NULL.  Not called after pa_crypto_free(). */
typedef void (*PaCryptoCallback) (PaCrypto *crypto, json_t *result, const GError *error,
                                  gpointer user_data);

/* Opens (creating) the crypto store at `db_path` and loads, or creates and
 * saves, the Olm account of `device_id`.  `bot_client` (borrowed, must
 * outlive the PaCrypto; NULL allowed when only the synchronous layer is
 * used) sends as `user_id` with ?user_id= and ?device_id= appended.  Fails
 * if the store belongs to another user/device or the pickle key is wrong. */
PaCrypto *pa_crypto_new (PaMatrix *bot_client, const char *user_id, const char *device_id,
                         const char *db_path, const guint8 *pickle_key, gsize pickle_key_len,
                         GError **error);
/* Frees everything; operations in flight end silently. */
void pa_crypto_free (PaCrypto *crypto);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PaCrypto, pa_crypto_free)

/* Another identity in the same store: the device `user_id` (one of the
 * appservice's ghosts) holds, with its own Olm account, Olm sessions and
 * outbound Megolm sessions; inbound sessions, the device cache and replay
 * protection are shared with `primary` (which must outlive it: free the
 * identities first).  A user saved before keeps its device and account
 * (`new_device_id` is then ignored: see pa_crypto_get_device_id());
 * otherwise a new account is created and saved under `new_device_id`.
 * `client` sends as `user_id` with ?user_id= and ?device_id= (an
 * appservice token: device masquerading, MSC3202/MSC4190). */
PaCrypto *pa_crypto_new_identity (PaCrypto *primary, PaMatrix *client, const char *user_id,
                                  const char *new_device_id, GError **error);
/* The device of `user_id`'s saved identity (transfer full), or NULL with
 * no error when it has none; *published (may be NULL) as below. */
char *pa_crypto_identity_device (PaCrypto *primary, const char *user_id, gboolean *published,
                                 GError **error);
/* Whether the identity's device, keys and cross-signing were put on the
 * homeserver; the caller says so once they were (saved, never unset). */
gboolean pa_crypto_set_published (PaCrypto *crypto, GError **error);
gboolean pa_crypto_is_published (PaCrypto *crypto);
/* How many one-time keys to keep on the server (default and maximum
 * PA_CRYPTO_OTK_TARGET): ghosts' devices, many and little used, keep fewer. */
void pa_crypto_set_otk_target (PaCrypto *crypto, guint target);
/* Identities saved in the store (the primary included), -1 on error. */
gint64 pa_crypto_count_identities (PaCrypto *crypto);

const char *pa_crypto_get_user_id (PaCrypto *crypto);
const char *pa_crypto_get_device_id (PaCrypto *crypto);
const char *pa_crypto_get_curve25519 (PaCrypto *crypto);
const char *pa_crypto_get_ed25519 (PaCrypto *crypto);

/* ---------------------------------------------------------- sync layer */

/* Adds our signature to `object` (signatures.<user>."ed25519:<device>"),
 * computed over its canonical JSON without signatures/unsigned. */
gboolean pa_crypto_sign_json (PaCrypto *crypto, json_t *object, GError **error);

/* Checks the signature of `signer_user`'s `signer_device` on `object` with
 * that device's `ed25519` key.  No network, no state. */
gboolean pa_crypto_verify_json (json_t *object, const char *signer_user,
                                const char *signer_device, const char *ed25519,
                                GError **error);

/* Our signed device keys, as /keys/upload's "device_keys" (transfer full). */
json_t *pa_crypto_device_keys (PaCrypto *crypto, GError **error);

/* A /keys/upload body (transfer full): device keys while not yet uploaded,
 * signed one-time keys topping the server's `server_otk_count` up to
 * PA_CRYPTO_OTK_TARGET, and a fallback key while unpublished.  The account
 * is saved with the new keys before this returns. */
json_t *pa_crypto_keys_upload_body (PaCrypto *crypto, guint server_otk_count, GError **error);

/* After a successful upload of a body from pa_crypto_keys_upload_body():
 * marks its keys published and saves. */
gboolean pa_crypto_keys_uploaded (PaCrypto *crypto, GError **error);

/* Stores the devices of `user_id` from a /keys/query answer (`devices`:
 * the object device_id → device keys).  Devices whose self-signature does
 * not verify, whose user/device ids do not match, or whose ed25519 key
 * changed from the cached one are ignored (logged); cached devices absent
 * from `devices` are marked deleted; the user is no longer dirty. */
gboolean pa_crypto_add_device_keys (PaCrypto *crypto, const char *user_id, json_t *devices,
                                    GError **error);

/* Marks users whose device lists changed (/sync device_lists.changed, or
 * membership changes) so the next operation queries them again. */
gboolean pa_crypto_devices_changed (PaCrypto *crypto, const char *const *user_ids,
                                    GError **error);

/* The ed25519 key of a cached, self-signed, not deleted device (transfer
 * full), or NULL when there is none.  No network. */
char *pa_crypto_device_ed25519 (PaCrypto *crypto, const char *user_id, const char *device_id);

/* Creates an Olm session to a cached device from /keys/claim's answer for
 * it (`claimed`: {"signed_curve25519:<id>": {"key": …, "signatures": …}}),
 * after checking the key's signature against the device's ed25519 key. */
gboolean pa_crypto_create_olm_session (PaCrypto *crypto, const char *user_id,
                                       const char *device_id, json_t *claimed, GError **error);

/* Encrypts an event for one device with its newest Olm session: the
 * to-device m.room.encrypted content (transfer full).  PA_ERROR_NOT_FOUND
 * when the device or a session to it is unknown. */
json_t *pa_crypto_olm_encrypt (PaCrypto *crypto, const char *user_id, const char *device_id,
                               const char *type, json_t *content, GError **error);

/* Decrypts one to-device m.room.encrypted event ({"sender", "content"}):
 * the checked plaintext payload (transfer full) with "sender_key" added.
 * Checks recipient, recipient_keys and (when the device is known) that
 * the sender key belongs to the sender. */
json_t *pa_crypto_olm_decrypt (PaCrypto *crypto, json_t *event, GError **error);

/* Processes to-device events (a JSON array, e.g. /sync to_device.events):
 * decrypts m.room.encrypted, stores m.room_key sessions, records
 * m.room_key.withheld, accepts an m.forwarded_room_key only when it answers
 * one of our key requests, and repairs (a fresh Olm session and an
 * m.dummy, at most hourly per device) an Olm session that no longer
 * decrypts.  Returns the decrypted events and the clear
 * m.room_key_request events (transfer full array of {"type", "sender",
 * "sender_key", "content"}; answering requests is the caller's policy, see
 * pa_crypto_forwarded_key()); a bad event is logged and skipped.  Fails
 * only when `events` itself is unusable. */
json_t *pa_crypto_handle_to_device (PaCrypto *crypto, json_t *events, GError **error);

/* Encrypts with the room's outbound Megolm session, creating (or rotating:
 * PA_CRYPTO_ROTATION_MESSAGES messages, PA_CRYPTO_ROTATION_MS, or after
 * pa_crypto_room_changed()) it as needed: the room event's m.room.encrypted
 * content (transfer full).  Does not share the key; pa_crypto_encrypt()
 * does both. */
json_t *pa_crypto_group_encrypt (PaCrypto *crypto, const char *room_id, const char *type,
                                 json_t *content, GError **error);

/* The current outbound session id of the room (transfer full), or NULL. */
char *pa_crypto_outbound_session_id (PaCrypto *crypto, const char *room_id);

/* Forces the room's next message onto a new Megolm session (membership
 * changed, a user left, history visibility changed). */
gboolean pa_crypto_room_changed (PaCrypto *crypto, const char *room_id, GError **error);

/* The /sendToDevice body ({"messages": {user: {device: content}}}) sharing
 * the room's current outbound session (created if needed) with every
 * verified, non-deleted device of `user_ids` that has an Olm session and
 * has not been sent this session yet (transfer full).  Devices needing an
 * Olm session first are returned in *need_session (when non-NULL) as
 * {user: [device, …]}. */
json_t *pa_crypto_room_key_payload (PaCrypto *crypto, const char *room_id,
                                    const char *const *user_ids, json_t **need_session,
                                    GError **error);

/* Records that a payload from pa_crypto_room_key_payload() was delivered. */
gboolean pa_crypto_room_key_sent (PaCrypto *crypto, const char *room_id, json_t *payload,
                                  GError **error);

/* Decrypts a room event (m.room.encrypted, megolm) into the cleartext event
 * (transfer full): same event with "type" and "content" replaced, the
 * encrypted content's m.relates_to kept, and "pa_encryption":
 * {"sender_key", "session_id", "message_index", "verified"} added
 * ("verified": the session came from a known device of the sender).
 * Rejects a replayed message index, a room_id mismatch and a sender key
 * that belongs to another user. */
json_t *pa_crypto_decrypt (PaCrypto *crypto, json_t *event, GError **error);

/* --------------------------------------------------------- async layer */

/* Uploads device keys (once), a fallback key and one-time keys up to
 * PA_CRYPTO_OTK_TARGET.  result: {"signed_curve25519": <count on server>}. */
void pa_crypto_upload_keys (PaCrypto *crypto, PaCryptoCallback cb, gpointer user_data);

/* Starts tracking `user_ids` and fetches, with /keys/query, the device
 * lists of those not yet known or marked changed.  result:
 * {"queried": n, "failed": [user, …]}. */
void pa_crypto_track_users (PaCrypto *crypto, const char *const *user_ids, PaCryptoCallback cb,
                            gpointer user_data);

/* Makes sure every device of `user_ids` holds the room's current session:
 * tracks users, claims one-time keys for devices without an Olm session,
 * and sends m.room_key.  result: {"session_id", "shared": n,
 * "no_session": n (devices that had no one-time key)}. */
void pa_crypto_share_room_key (PaCrypto *crypto, const char *room_id,
                               const char *const *user_ids, PaCryptoCallback cb,
                               gpointer user_data);

/* Shares as above when needed, then encrypts: result is the
 * m.room.encrypted content to send into `room_id`. */
void pa_crypto_encrypt (PaCrypto *crypto, const char *room_id, const char *const *user_ids,
                        const char *type, json_t *content, PaCryptoCallback cb,
                        gpointer user_data);

/* Sends a clear to-device event: `messages` is /sendToDevice's
 * {user: {device or "*": content}}.  result: {"sent": true}. */
void pa_crypto_send_to_device (PaCrypto *crypto, const char *type, json_t *messages,
                               PaCryptoCallback cb, gpointer user_data);

/* Sends an Olm-encrypted to-device event to one verified device of
 * `user_id`, named by `device_id` or by `curve25519` (exactly one): the
 * user's device list is refreshed if needed, and a one-time key claimed
 * when there is no Olm session with it or `new_session` asks for a fresh
 * one (session repair).  result: {"sent": true}. */
void pa_crypto_send_olm (PaCrypto *crypto, const char *user_id, const char *device_id,
                         const char *curve25519, gboolean new_session, const char *type,
                         json_t *content, PaCryptoCallback cb, gpointer user_data);

/* -------------------------- key requests (pa-crypto-requests.c, withheld: -outbound.c) */

/* An event we could not decrypt for want of its session: the
 * m.room_key_request content to send to the sender's devices (transfer
 * full), remembered so that the m.forwarded_room_key answering it is
 * accepted.  NULL with no error when that session was already asked for. */
json_t *pa_crypto_key_request (PaCrypto *crypto, json_t *event, GError **error);
/* The same session asked once more, under a new request id: an answer can
 * be lost (a homeserver drops the to-device messages of an appservice it
 * holds for down).  NULL when that session was never asked for. */
json_t *pa_crypto_key_request_again (PaCrypto *crypto, json_t *event, GError **error);

/* Another device asks for a session (an m.room_key_request "request" from
 * `user_id`): the policy, then the m.forwarded_room_key content for it
 * (transfer full).  The session is given only if it is ours, and was
 * shared with that very device, and its user is still a member
 * (`user_is_member`, which the caller knows); it is exported from its
 * first index.  Otherwise NULL, and *withheld_code is the
 * m.room_key.withheld code to answer with ("m.unauthorised",
 * "m.unavailable"), or NULL when the request is not ours to answer. */
json_t *pa_crypto_forwarded_key (PaCrypto *crypto, const char *user_id, json_t *request,
                                 gboolean user_is_member, const char **withheld_code,
                                 GError **error);

/* The m.room_key.withheld content refusing `request` with `code`. */
json_t *pa_crypto_withheld_content (PaCrypto *crypto, json_t *request, const char *code);

/* Marks `user_id` blocked (or not) by the bridge's policy: its devices
 * get no room key, but an m.room_key.withheld "m.blacklisted", once per
 * session. */
void pa_crypto_set_blocked (PaCrypto *crypto, const char *user_id, gboolean blocked);

/* Operations queued or in flight. */
guint pa_crypto_pending (PaCrypto *crypto);

G_END_DECLS

#endif
