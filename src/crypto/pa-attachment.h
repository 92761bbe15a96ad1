/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Encrypted attachments (Matrix spec, "Sending encrypted attachments"): in
 * an encrypted room a file is uploaded encrypted with AES-256-CTR under a
 * fresh random key, and the event carries a `file` object (EncryptedFile:
 * url, key as a JWK, iv, sha256 of the ciphertext, v2) instead of `url`.
 * The homeserver only ever stores ciphertext.  No network, no state. */
#ifndef PA_ATTACHMENT_H
#define PA_ATTACHMENT_H

#include <glib.h>
#include <jansson.h>

G_BEGIN_DECLS

/* Encrypts `len` bytes of `data`: the ciphertext to upload (transfer
 * full), and in *file_info (transfer full) the EncryptedFile object
 * without its "url", which the caller adds once the upload is done. */
GBytes *pa_attachment_encrypt (const guint8 *data, gsize len, json_t **file_info,
                               GError **error);

/* Checks `file_info` (an EncryptedFile: A256CTR JWK of 32 bytes, 16-byte
 * iv, sha256) and the ciphertext's hash (before decrypting anything), then
 * decrypts: the cleartext (transfer full), or NULL with PA_ERROR_JSON. */
GBytes *pa_attachment_decrypt (const guint8 *data, gsize len, json_t *file_info,
                               GError **error);

/* The mxc:// URL of an EncryptedFile object, or NULL. */
const char *pa_attachment_url (json_t *file_info);

G_END_DECLS

#endif
