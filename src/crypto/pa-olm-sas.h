/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* libolm's SAS object (interactive key verification) behind a small
 * interface, with the same rules as pa-olm.h: inputs are copied before
 * libolm sees them, random bytes come from getrandom(), errors become
 * GErrors (PA_ERROR_FAILED), keys and MACs are unpadded base64. */
#ifndef PA_OLM_SAS_H
#define PA_OLM_SAS_H

#include <glib.h>

G_BEGIN_DECLS

typedef struct _PaOlmSas PaOlmSas;

/* A new SAS object with a fresh ephemeral Curve25519 key pair. */
PaOlmSas *pa_olm_sas_new (GError **error);
void pa_olm_sas_free (PaOlmSas *sas);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PaOlmSas, pa_olm_sas_free)

/* Our ephemeral public key (transfer full). */
char *pa_olm_sas_pubkey (PaOlmSas *sas, GError **error);

/* The other side's ephemeral public key; fails on a malformed key. */
gboolean pa_olm_sas_set_their_key (PaOlmSas *sas, const char *their_key, GError **error);

/* `len` bytes of HKDF output of the shared secret with `info` (needs
 * their key). */
gboolean pa_olm_sas_generate_bytes (PaOlmSas *sas, const char *info, guint8 *out, gsize len,
                                    GError **error);

/* The hkdf-hmac-sha256.v2 MAC of `input` with `info` (transfer full):
 * libolm's MAC with standard base64 output. */
char *pa_olm_sas_mac (PaOlmSas *sas, const char *input, const char *info, GError **error);

G_END_DECLS

#endif
