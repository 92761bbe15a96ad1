/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* libolm's olm_pk_signing behind three calls (see pa-olm-signing.h).  The
 * object keeps the private key in libolm's memory, which is wiped when it
 * is freed; the seed itself is never kept. */
#define G_LOG_DOMAIN "passerelle-crypto"

#include "pa-olm-signing.h"

#include <string.h>
#include <olm/olm.h>
#include <olm/pk.h>

#include "pa-common.h"

/* A message to sign is canonical JSON of a key object: small. */
#define SIGNING_MAX_INPUT (64 * 1024)

struct _PaOlmSigning
{
  OlmPkSigning *olm;
  gsize size;
  char *public_key;
};

void
pa_olm_signing_free (PaOlmSigning *s)
{
  if (s == NULL)
    return;
  if (s->olm != NULL)
    {
      olm_clear_pk_signing (s->olm);
      explicit_bzero (s->olm, s->size);
      g_free (s->olm);
    }
  g_free (s->public_key);
  g_free (s);
}

PaOlmSigning *
pa_olm_signing_new (const guint8 *seed, gsize seed_len, GError **error)
{
  g_autoptr (PaOlmSigning) s = g_new0 (PaOlmSigning, 1);
  gsize pub_len = olm_pk_signing_public_key_length ();
  g_autofree char *pub = g_malloc0 (pub_len + 1);
  guint8 copy[PA_OLM_SIGNING_SEED_LEN];
  size_t rc;

  g_return_val_if_fail (seed != NULL, NULL);
  if (seed_len != PA_OLM_SIGNING_SEED_LEN || seed_len != olm_pk_signing_seed_length ())
    {
      g_set_error (error, PA_ERROR, PA_ERROR_FAILED,
                   "signing seed of %" G_GSIZE_FORMAT " bytes, not %d", seed_len,
                   PA_OLM_SIGNING_SEED_LEN);
      return NULL;
    }
  s->size = olm_pk_signing_size ();
  s->olm = olm_pk_signing (g_malloc (s->size));
  memcpy (copy, seed, sizeof copy);
  rc = olm_pk_signing_key_from_seed (s->olm, pub, pub_len, copy, sizeof copy);
  explicit_bzero (copy, sizeof copy);
  if (rc == olm_error ())
    {
      g_set_error (error, PA_ERROR, PA_ERROR_FAILED, "making a signing key: %s",
                   olm_pk_signing_last_error (s->olm));
      return NULL;
    }
  s->public_key = g_steal_pointer (&pub);
  return g_steal_pointer (&s);
}

const char *
pa_olm_signing_public_key (PaOlmSigning *s)
{
  return s->public_key;
}

char *
pa_olm_signing_sign (PaOlmSigning *s, const char *message, gsize len, GError **error)
{
  gsize sig_len = olm_pk_signature_length ();
  g_autofree char *sig = g_malloc0 (sig_len + 1);
  size_t rc;

  g_return_val_if_fail (s != NULL && message != NULL, NULL);
  if (len > SIGNING_MAX_INPUT)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_TOO_LARGE,
                   "message of %" G_GSIZE_FORMAT " bytes to sign is too large", len);
      return NULL;
    }
  rc = olm_pk_sign (s->olm, (const guint8 *) message, len, (guint8 *) sig, sig_len);
  if (rc == olm_error ())
    {
      g_set_error (error, PA_ERROR, PA_ERROR_FAILED, "signing: %s",
                   olm_pk_signing_last_error (s->olm));
      return NULL;
    }
  return g_steal_pointer (&sig);
}
