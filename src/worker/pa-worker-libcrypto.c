/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The on-demand libcrypto of pa-worker-libcrypto.h, through GModule: the
 * library the worker was built against (its major version's soname). */
#define G_LOG_DOMAIN "passerelle-worker"

#include "worker/pa-worker-libcrypto.h"

#include <gmodule.h>
#include <openssl/opensslv.h>

#if defined(OPENSSL_VERSION_MAJOR) && OPENSSL_VERSION_MAJOR >= 3
#define LIBCRYPTO_SONAME "libcrypto.so." G_STRINGIFY (OPENSSL_VERSION_MAJOR)
#else
#define LIBCRYPTO_SONAME "libcrypto.so.1.1"
#endif

static gboolean
load (PaLibcrypto *t)
{
  GModule *m = g_module_open (LIBCRYPTO_SONAME, G_MODULE_BIND_LAZY | G_MODULE_BIND_LOCAL);
  if (m == NULL)
    {
      g_warning ("cannot load %s: %s", LIBCRYPTO_SONAME, g_module_error ());
      return FALSE;
    }
  const struct
  {
    const char *name;
    gpointer *slot;
  } syms[] = {
    { "EVP_CIPHER_CTX_new", (gpointer *) &t->cipher_ctx_new },
    { "EVP_CIPHER_CTX_free", (gpointer *) &t->cipher_ctx_free },
    { "EVP_CIPHER_CTX_ctrl", (gpointer *) &t->cipher_ctx_ctrl },
    { "EVP_CipherInit_ex", (gpointer *) &t->cipher_init_ex },
    { "EVP_CipherUpdate", (gpointer *) &t->cipher_update },
    { "EVP_CipherFinal_ex", (gpointer *) &t->cipher_final_ex },
    { "EVP_aes_256_gcm", (gpointer *) &t->aes_256_gcm },
    { "RAND_bytes", (gpointer *) &t->rand_bytes },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (syms); i++)
    if (!g_module_symbol (m, syms[i].name, syms[i].slot) || *syms[i].slot == NULL)
      {
        g_warning ("%s has no %s", LIBCRYPTO_SONAME, syms[i].name);
        g_module_close (m);
        return FALSE;
      }
  /* Kept for the process's life. */
  g_module_make_resident (m);
  return TRUE;
}

/* See pa-worker-libcrypto.h.  Secrets are used from any thread. */
const PaLibcrypto *
pa_libcrypto (void)
{
  static PaLibcrypto table;
  static gsize state; /* 0 not tried, 1 loaded, 2 failed */
  if (g_once_init_enter (&state))
    g_once_init_leave (&state, load (&table) ? 1 : 2);
  return state == 1 ? &table : NULL;
}
