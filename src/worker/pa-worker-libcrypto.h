/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* libcrypto, loaded the first time a plugin stores or loads a secret.
 * Linked into every worker it cost each one about 400 KB of private memory
 * (its relocations) whether or not the plugin ever used a secret; loaded on
 * demand, only the workers that need it pay (docs/scale.md). */
#ifndef PA_WORKER_LIBCRYPTO_H
#define PA_WORKER_LIBCRYPTO_H

#include <glib.h>
#include <openssl/evp.h>

G_BEGIN_DECLS

/* The few functions the secrets use (pa-worker-secrets.c). */
typedef struct
{
  EVP_CIPHER_CTX *(*cipher_ctx_new) (void);
  void (*cipher_ctx_free) (EVP_CIPHER_CTX *ctx);
  int (*cipher_ctx_ctrl) (EVP_CIPHER_CTX *ctx, int type, int arg, void *ptr);
  int (*cipher_init_ex) (EVP_CIPHER_CTX *ctx, const EVP_CIPHER *cipher, ENGINE *engine,
                         const unsigned char *key, const unsigned char *iv, int enc);
  int (*cipher_update) (EVP_CIPHER_CTX *ctx, unsigned char *out, int *outl, const unsigned char *in,
                        int inl);
  int (*cipher_final_ex) (EVP_CIPHER_CTX *ctx, unsigned char *out, int *outl);
  const EVP_CIPHER *(*aes_256_gcm) (void);
  int (*rand_bytes) (unsigned char *buf, int num);
} PaLibcrypto;

/* The table, loaded at the first call; NULL (logged once) when libcrypto
 * cannot be loaded. */
const PaLibcrypto *pa_libcrypto (void);

G_END_DECLS

#endif
