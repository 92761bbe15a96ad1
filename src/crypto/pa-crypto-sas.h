/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* One interactive key verification by Short Authentication String
 * (spec: "Key verification framework", "SAS verification"), in a room:
 * method m.sas.v1, key agreement curve25519-hkdf-sha256, hash sha256, MAC
 * hkdf-hmac-sha256.v2, SAS emoji and decimal.
 *
 * A pure state machine: no network, no clock, no store.  The caller feeds
 * it the contents of the m.key.verification.* events the other side sent
 * and sends what it returns.  The transaction id is the event id of the
 * request; every content returned carries the m.reference to it.
 *
 * Either side may start (m.key.verification.start after ready).  When both
 * do, the start of the smaller (user id, device id) stands (the spec's
 * tie-break).  Any event out of turn, or malformed, ends the verification
 * with an m.key.verification.cancel. */
#ifndef PA_CRYPTO_SAS_H
#define PA_CRYPTO_SAS_H

#include <glib.h>
#include <jansson.h>

G_BEGIN_DECLS

#define PA_SAS_METHOD "m.sas.v1"
#define PA_SAS_EMOJI_COUNT 7
#define PA_SAS_DECIMAL_COUNT 3
/* Size of the spec's emoji table. */
#define PA_SAS_EMOJI_TABLE_SIZE 64

typedef struct _PaSas PaSas;

typedef enum
{
  PA_SAS_REQUESTED, /* the request is known, nothing sent yet */
  PA_SAS_READY,     /* ready exchanged, no start yet */
  PA_SAS_STARTED,   /* a start is known, keys not yet exchanged */
  PA_SAS_KEYS,      /* keys exchanged: the SAS can be shown */
  PA_SAS_CONFIRMED, /* our MAC sent, waiting for theirs or their done */
  PA_SAS_DONE,      /* both MACs checked, both done sent */
  PA_SAS_CANCELLED,
} PaSasState;

/* A verification between our device and theirs, for the request event
 * `transaction_id`.  `our_keys` (borrowed, copied) is the object of the
 * keys we certify, "ed25519:<id>" → key: our device key and, when we have
 * one, our master cross-signing key; it must hold "ed25519:<our_device>"
 * = `our_ed25519`.  `their_device` may be NULL until the request or ready
 * names it (from_device). */
PaSas *pa_sas_new (const char *our_user, const char *our_device, const char *our_ed25519,
                   json_t *our_keys, const char *their_user, const char *their_device,
                   const char *transaction_id, GError **error);
void pa_sas_free (PaSas *sas);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PaSas, pa_sas_free)

/* A key of theirs whose MAC we check ("ed25519:<device>" for their device
 * key, "ed25519:<master pub>" for their master key).  Their device key
 * must be known before their MAC is checked. */
void pa_sas_set_their_key (PaSas *sas, const char *key_id, const char *key);

/* Feeds the content of an event of type `type` (the request itself is
 * "m.key.verification.request") from the other side.  Returns the events
 * to send (transfer full), an array of {"type", "content"}, possibly
 * empty. */
json_t *pa_sas_receive (PaSas *sas, const char *type, json_t *content);

/* The content of our request (a room message's content: the caller sends
 * it and creates the PaSas with its event id).  For a verification we
 * start, and for tests. */
json_t *pa_sas_request_content (const char *our_user, const char *our_device,
                                const char *their_user);

/* We send the start (after ready): the events to send, as above. */
json_t *pa_sas_start (PaSas *sas);

/* The user (or the caller on its behalf) confirms the SAS matches: our MAC,
 * and, when their MAC had already come and checks, done.  Only in
 * PA_SAS_KEYS; anything else gives an empty array. */
json_t *pa_sas_confirm (PaSas *sas);

/* Ends the verification with `code` (e.g. "m.timeout", "m.user"): the
 * cancel to send, or an empty array when already over. */
json_t *pa_sas_cancel (PaSas *sas, const char *code, const char *reason);

PaSasState pa_sas_state (PaSas *sas);
/* Whether their MAC over their keys checked (the verification proved
 * what it proves), whatever done events remain. */
gboolean pa_sas_verified (PaSas *sas);
/* The code of the cancel that ended it (sent or received), or NULL. */
const char *pa_sas_cancel_code (PaSas *sas);
/* In PA_SAS_KEYS and later: the 7 emoji indexes (0–63) and the 3 numbers
 * (1000–9191).  FALSE before the keys are exchanged. */
gboolean pa_sas_emoji (PaSas *sas, guint indexes[PA_SAS_EMOJI_COUNT]);
gboolean pa_sas_decimal (PaSas *sas, guint numbers[PA_SAS_DECIMAL_COUNT]);
/* The spec's emoji table: the emoji and its English name. */
const char *pa_sas_emoji_symbol (guint index);
const char *pa_sas_emoji_name (guint index);

G_END_DECLS

#endif
