/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* libolm's OlmSAS for key verification (see pa-olm-sas.h).  Kept beside
 * pa-olm.c, the other file that talks to libolm, so that replacing
 * libolm stays a matter of the pa-olm*.c files. */
#define G_LOG_DOMAIN "passerelle-crypto"

#include "pa-olm-sas.h"

#include <string.h>
#include <olm/olm.h>
#include <olm/sas.h>

#include "pa-common.h"
#include "pa-olm.h"

/* A key or MAC is 43 characters; a MAC's input (a key, a list of key
 * ids) and info string are a few hundred at most. */
#define SAS_MAX_INPUT 4096

struct _PaOlmSas
{
  OlmSAS *olm;
  gsize size;
};

static gboolean
sas_failed (PaOlmSas *sas, size_t rc, const char *what, GError **error)
{
  if (rc != olm_error ())
    return FALSE;
  g_set_error (error, PA_ERROR, PA_ERROR_FAILED, "%s: %s", what, olm_sas_last_error (sas->olm));
  return TRUE;
}

static gboolean
input_ok (const char *s, const char *what, GError **error)
{
  gsize n = strlen (s);

  if (n > 0 && n <= SAS_MAX_INPUT)
    return TRUE;
  g_set_error (error, PA_ERROR, n == 0 ? PA_ERROR_FAILED : PA_ERROR_TOO_LARGE, "%s: %s SAS input",
               what, n == 0 ? "empty" : "too large");
  return FALSE;
}

void
pa_olm_sas_free (PaOlmSas *sas)
{
  if (sas == NULL)
    return;
  olm_clear_sas (sas->olm);
  explicit_bzero (sas->olm, sas->size);
  g_free (sas->olm);
  g_free (sas);
}

PaOlmSas *
pa_olm_sas_new (GError **error)
{
  g_autoptr (PaOlmSas) sas = g_new0 (PaOlmSas, 1);
  gsize rlen;
  guint8 *random;
  size_t rc;

  sas->size = olm_sas_size ();
  sas->olm = olm_sas (g_malloc (sas->size));
  rlen = olm_create_sas_random_length (sas->olm);
  random = g_malloc (MAX (rlen, 1));
  if (!pa_olm_random (random, rlen, error))
    {
      g_free (random);
      return NULL;
    }
  rc = olm_create_sas (sas->olm, random, rlen);
  explicit_bzero (random, rlen);
  g_free (random);
  if (sas_failed (sas, rc, "creating SAS", error))
    return NULL;
  return g_steal_pointer (&sas);
}

char *
pa_olm_sas_pubkey (PaOlmSas *sas, GError **error)
{
  gsize len = olm_sas_pubkey_length (sas->olm);
  g_autofree char *buf = g_malloc0 (len + 1);

  if (sas_failed (sas, olm_sas_get_pubkey (sas->olm, buf, len), "SAS public key", error))
    return NULL;
  return g_steal_pointer (&buf);
}

gboolean
pa_olm_sas_set_their_key (PaOlmSas *sas, const char *their_key, GError **error)
{
  g_autofree char *copy = NULL;

  if (!input_ok (their_key, "their SAS key", error))
    return FALSE;
  /* libolm decodes the key in place. */
  copy = g_strdup (their_key);
  return !sas_failed (sas, olm_sas_set_their_key (sas->olm, copy, strlen (copy)),
                      "setting their SAS key", error);
}

gboolean
pa_olm_sas_generate_bytes (PaOlmSas *sas, const char *info, guint8 *out, gsize len, GError **error)
{
  if (!input_ok (info, "SAS info", error))
    return FALSE;
  return !sas_failed (sas, olm_sas_generate_bytes (sas->olm, info, strlen (info), out, len),
                      "generating SAS bytes", error);
}

char *
pa_olm_sas_mac (PaOlmSas *sas, const char *input, const char *info, GError **error)
{
  gsize len = olm_sas_mac_length (sas->olm);
  g_autofree char *buf = NULL;

  if (!input_ok (input, "MAC input", error) || !input_ok (info, "MAC info", error))
    return NULL;
  buf = g_malloc0 (len + 1);
  if (sas_failed (sas,
                  olm_sas_calculate_mac_fixed_base64 (sas->olm, input, strlen (input), info,
                                                      strlen (info), buf, len),
                  "calculating SAS MAC", error))
    return NULL;
  return g_steal_pointer (&buf);
}
