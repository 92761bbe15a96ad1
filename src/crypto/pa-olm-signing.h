/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Ed25519 signing keys made from a seed (libolm's olm_pk_signing): the
 * cross-signing keys (master, self-signing, user-signing) of a Matrix
 * identity.  Kept apart from pa-olm.c, which holds the Olm account and
 * sessions, but under the same rule: only pa-olm*.c files touch libolm.
 * Keys and signatures are unpadded base64. */
#ifndef PA_OLM_SIGNING_H
#define PA_OLM_SIGNING_H

#include <glib.h>

G_BEGIN_DECLS

/* The seed's size: a signing key is wholly determined by its 32 bytes. */
#define PA_OLM_SIGNING_SEED_LEN 32

typedef struct _PaOlmSigning PaOlmSigning;

/* A signing key from `seed` (PA_OLM_SIGNING_SEED_LEN bytes, copied). */
PaOlmSigning *pa_olm_signing_new (const guint8 *seed, gsize seed_len, GError **error);
void pa_olm_signing_free (PaOlmSigning *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PaOlmSigning, pa_olm_signing_free)

/* The ed25519 public key (borrowed, lives as long as `s`). */
const char *pa_olm_signing_public_key (PaOlmSigning *s);

/* Signs `message`: the signature (transfer full). */
char *pa_olm_signing_sign (PaOlmSigning *s, const char *message, gsize len, GError **error);

G_END_DECLS

#endif
