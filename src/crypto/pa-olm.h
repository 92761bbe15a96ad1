/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The only file that talks to libolm.  libolm is deprecated and has known
 * timing side channels (CVE-2024-45191/2/3), so everything it does for us
 * sits behind these few functions: swapping in vodozemac means rewriting
 * pa-olm.c, nothing else.
 *
 * Every function copies its inputs before handing them to libolm (which
 * base64-decodes in place), supplies random bytes from getrandom(), checks
 * olm_error() and turns libolm's last_error into a GError (PA_ERROR_FAILED).
 * Keys, signatures, ids and ciphertexts are unpadded base64 strings. */
#ifndef PA_OLM_H
#define PA_OLM_H

#include <glib.h>
#include <jansson.h>

G_BEGIN_DECLS

typedef struct _PaOlmAccount PaOlmAccount;
typedef struct _PaOlmSession PaOlmSession;
typedef struct _PaOlmOutboundGroup PaOlmOutboundGroup;
typedef struct _PaOlmInboundGroup PaOlmInboundGroup;

/* Olm message types on the wire. */
#define PA_OLM_MESSAGE_PREKEY 0
#define PA_OLM_MESSAGE_NORMAL 1

/* Fills `buf` with cryptographically secure random bytes. */
gboolean pa_olm_random (void *buf, gsize len, GError **error);

/* Verifies an ed25519 `signature` of `message` by `key`. */
gboolean pa_olm_ed25519_verify (const char *key, const char *message, gsize message_len,
                                const char *signature, GError **error);

/* Accounts */
PaOlmAccount *pa_olm_account_new (GError **error);
PaOlmAccount *pa_olm_account_unpickle (const char *pickle, const guint8 *key, gsize key_len,
                                       GError **error);
char *pa_olm_account_pickle (PaOlmAccount *acc, const guint8 *key, gsize key_len,
                             GError **error);
void pa_olm_account_free (PaOlmAccount *acc);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PaOlmAccount, pa_olm_account_free)
/* Both out strings are transfer full. */
gboolean pa_olm_account_identity_keys (PaOlmAccount *acc, char **curve25519, char **ed25519,
                                       GError **error);
char *pa_olm_account_sign (PaOlmAccount *acc, const char *message, gsize len, GError **error);
gsize pa_olm_account_max_one_time_keys (PaOlmAccount *acc);
gboolean pa_olm_account_generate_one_time_keys (PaOlmAccount *acc, gsize n, GError **error);
/* {"curve25519": {key_id: key}} of keys not yet marked published. */
json_t *pa_olm_account_one_time_keys (PaOlmAccount *acc, GError **error);
gboolean pa_olm_account_generate_fallback_key (PaOlmAccount *acc, GError **error);
/* {"curve25519": {key_id: key}}, empty when the fallback key was published. */
json_t *pa_olm_account_unpublished_fallback_key (PaOlmAccount *acc, GError **error);
void pa_olm_account_mark_published (PaOlmAccount *acc);
/* Drops the one-time key `session` was created from (after a successful
 * inbound decrypt). */
gboolean pa_olm_account_remove_one_time_keys (PaOlmAccount *acc, PaOlmSession *session,
                                              GError **error);

/* Olm sessions */
PaOlmSession *pa_olm_session_new_outbound (PaOlmAccount *acc, const char *their_curve25519,
                                           const char *their_one_time_key, GError **error);
PaOlmSession *pa_olm_session_new_inbound (PaOlmAccount *acc, const char *their_curve25519,
                                          const char *prekey_body, GError **error);
/* Whether a pre-key message belongs to this session (never sets an error
 * for "no": only for a malformed message). */
gboolean pa_olm_session_matches_inbound (PaOlmSession *s, const char *their_curve25519,
                                         const char *prekey_body, gboolean *matches,
                                         GError **error);
PaOlmSession *pa_olm_session_unpickle (const char *pickle, const guint8 *key, gsize key_len,
                                       GError **error);
char *pa_olm_session_pickle (PaOlmSession *s, const guint8 *key, gsize key_len, GError **error);
char *pa_olm_session_id (PaOlmSession *s, GError **error);
/* Encrypts `plaintext`: the body (transfer full) and its type. */
char *pa_olm_session_encrypt (PaOlmSession *s, const char *plaintext, gsize len, int *type,
                              GError **error);
/* Decrypts; the result is NUL-terminated, *len excludes the NUL. */
char *pa_olm_session_decrypt (PaOlmSession *s, int type, const char *body, gsize *len,
                              GError **error);
void pa_olm_session_free (PaOlmSession *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PaOlmSession, pa_olm_session_free)

/* Megolm, sending side */
PaOlmOutboundGroup *pa_olm_outbound_group_new (GError **error);
PaOlmOutboundGroup *pa_olm_outbound_group_unpickle (const char *pickle, const guint8 *key,
                                                    gsize key_len, GError **error);
char *pa_olm_outbound_group_pickle (PaOlmOutboundGroup *g, const guint8 *key, gsize key_len,
                                    GError **error);
char *pa_olm_outbound_group_id (PaOlmOutboundGroup *g, GError **error);
/* The session key at the current index, for m.room_key. */
char *pa_olm_outbound_group_key (PaOlmOutboundGroup *g, GError **error);
char *pa_olm_outbound_group_encrypt (PaOlmOutboundGroup *g, const char *plaintext, gsize len,
                                     GError **error);
void pa_olm_outbound_group_free (PaOlmOutboundGroup *g);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PaOlmOutboundGroup, pa_olm_outbound_group_free)

/* Megolm, receiving side */
PaOlmInboundGroup *pa_olm_inbound_group_new (const char *session_key, GError **error);
PaOlmInboundGroup *pa_olm_inbound_group_import (const char *exported_key, GError **error);
PaOlmInboundGroup *pa_olm_inbound_group_unpickle (const char *pickle, const guint8 *key,
                                                  gsize key_len, GError **error);
char *pa_olm_inbound_group_pickle (PaOlmInboundGroup *g, const guint8 *key, gsize key_len,
                                   GError **error);
char *pa_olm_inbound_group_id (PaOlmInboundGroup *g, GError **error);
guint32 pa_olm_inbound_group_first_known_index (PaOlmInboundGroup *g);
/* The session exported from `index` (m.forwarded_room_key's session_key). */
char *pa_olm_inbound_group_export (PaOlmInboundGroup *g, guint32 index, GError **error);
/* Decrypts; *index receives the message index (for replay checks). */
char *pa_olm_inbound_group_decrypt (PaOlmInboundGroup *g, const char *body, gsize *len,
                                    guint32 *index, GError **error);
void pa_olm_inbound_group_free (PaOlmInboundGroup *g);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PaOlmInboundGroup, pa_olm_inbound_group_free)

G_END_DECLS

#endif
