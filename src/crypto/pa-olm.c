/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* libolm behind one small interface (see pa-olm.h for why).  libolm wants
 * caller-provided memory for every object and output, random bytes handed
 * in, and it base64-decodes several inputs in place: every input is copied
 * into a scratch buffer first, and every scratch buffer that held secrets
 * is wiped before it is freed. */
#define G_LOG_DOMAIN "passerelle-crypto"

#include "pa-olm.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <olm/olm.h>
#include <olm/inbound_group_session.h>
#include <olm/outbound_group_session.h>

#include "pa-common.h"

/* Nothing libolm parses for us (ciphertexts, pickles, keys) may exceed
 * this; the largest legitimate input, an account pickle holding 100
 * one-time keys, is a few KiB. */
#define OLM_MAX_INPUT (1024 * 1024)

struct _PaOlmAccount {
  OlmAccount *olm;
  gsize size;
};
struct _PaOlmSession {
  OlmSession *olm;
  gsize size;
};
struct _PaOlmOutboundGroup {
  OlmOutboundGroupSession *olm;
  gsize size;
};
struct _PaOlmInboundGroup {
  OlmInboundGroupSession *olm;
  gsize size;
};

/* ------------------------------------------------------------ helpers */

static void
wipe_free (void *p, gsize len)
{
  if (p == NULL)
    return;
  explicit_bzero (p, len);
  g_free (p);
}

/* A scratch copy of `s` for libolm to decode in place (NUL-terminated so
 * a text result can reuse it; the NUL is not passed to libolm). */
static guint8 *
scratch_copy (const char *s, gsize *len, GError **error)
{
  gsize n = strlen (s);

  if (n == 0 || n > OLM_MAX_INPUT)
    {
      g_set_error (error, PA_ERROR, n == 0 ? PA_ERROR_FAILED : PA_ERROR_TOO_LARGE,
                   n == 0 ? "empty olm input" : "olm input of %" G_GSIZE_FORMAT " bytes is too "
                   "large", n);
      return NULL;
    }
  *len = n;
  return (guint8 *) g_strndup (s, n);
}

static gboolean
olm_failed (size_t rc, const char *what, const char *last_error, GError **error)
{
  if (rc != olm_error ())
    return FALSE;
  g_set_error (error, PA_ERROR, PA_ERROR_FAILED, "%s: %s", what, last_error);
  return TRUE;
}

gboolean
pa_olm_random (void *buf, gsize len, GError **error)
{
  guint8 *p = buf;

  while (len > 0)
    {
      ssize_t n = getrandom (p, len, 0);

      if (n < 0)
        {
          int saved = errno;

          if (saved == EINTR)
            continue;
          g_set_error (error, PA_ERROR, PA_ERROR_FAILED, "getrandom: %s", g_strerror (saved));
          return FALSE;
        }
      p += n;
      len -= (gsize) n;
    }
  return TRUE;
}

/* `len` random bytes in a new buffer (wipe_free it), or NULL with error. */
static guint8 *
random_buffer (gsize len, GError **error)
{
  guint8 *buf = g_malloc (MAX (len, 1));

  if (!pa_olm_random (buf, len, error))
    {
      wipe_free (buf, MAX (len, 1));
      return NULL;
    }
  return buf;
}

/* Olm's output, which is not NUL-terminated, as a C string. */
static char *
olm_text (const guint8 *buf, gsize len)
{
  return g_strndup ((const char *) buf, len);
}

gboolean
pa_olm_ed25519_verify (const char *key, const char *message, gsize message_len,
                       const char *signature, GError **error)
{
  gsize ulen = olm_utility_size ();
  g_autofree void *umem = g_malloc (ulen);
  OlmUtility *u = olm_utility (umem);
  g_autofree guint8 *sig = NULL;
  gsize sig_len = 0;
  size_t rc;
  gboolean ok;

  g_return_val_if_fail (key != NULL && message != NULL && signature != NULL, FALSE);
  sig = scratch_copy (signature, &sig_len, error);
  if (sig == NULL)
    return FALSE;
  rc = olm_ed25519_verify (u, key, strlen (key), message, message_len, sig, sig_len);
  ok = !olm_failed (rc, "verifying ed25519 signature", olm_utility_last_error (u), error);
  olm_clear_utility (u);
  return ok;
}

/* ------------------------------------------------------------ account */

static PaOlmAccount *
account_alloc (void)
{
  PaOlmAccount *acc = g_new0 (PaOlmAccount, 1);

  acc->size = olm_account_size ();
  acc->olm = olm_account (g_malloc (acc->size));
  return acc;
}

void
pa_olm_account_free (PaOlmAccount *acc)
{
  if (acc == NULL)
    return;
  olm_clear_account (acc->olm);
  wipe_free (acc->olm, acc->size);
  g_free (acc);
}

PaOlmAccount *
pa_olm_account_new (GError **error)
{
  g_autoptr (PaOlmAccount) acc = account_alloc ();
  gsize rlen = olm_create_account_random_length (acc->olm);
  guint8 *random = random_buffer (rlen, error);
  size_t rc;

  if (random == NULL)
    return NULL;
  rc = olm_create_account (acc->olm, random, rlen);
  wipe_free (random, MAX (rlen, 1));
  if (olm_failed (rc, "creating olm account", olm_account_last_error (acc->olm), error))
    return NULL;
  return g_steal_pointer (&acc);
}

PaOlmAccount *
pa_olm_account_unpickle (const char *pickle, const guint8 *key, gsize key_len, GError **error)
{
  g_autoptr (PaOlmAccount) acc = account_alloc ();
  gsize len = 0;
  guint8 *buf = scratch_copy (pickle, &len, error);
  size_t rc;

  if (buf == NULL)
    return NULL;
  rc = olm_unpickle_account (acc->olm, key, key_len, buf, len);
  wipe_free (buf, len + 1);
  if (olm_failed (rc, "unpickling olm account", olm_account_last_error (acc->olm), error))
    return NULL;
  return g_steal_pointer (&acc);
}

char *
pa_olm_account_pickle (PaOlmAccount *acc, const guint8 *key, gsize key_len, GError **error)
{
  gsize len = olm_pickle_account_length (acc->olm);
  g_autofree guint8 *buf = g_malloc (len);
  size_t rc = olm_pickle_account (acc->olm, key, key_len, buf, len);

  if (olm_failed (rc, "pickling olm account", olm_account_last_error (acc->olm), error))
    return NULL;
  return olm_text (buf, rc);
}

gboolean
pa_olm_account_identity_keys (PaOlmAccount *acc, char **curve25519, char **ed25519,
                              GError **error)
{
  gsize len = olm_account_identity_keys_length (acc->olm);
  g_autofree guint8 *buf = g_malloc (len);
  size_t rc = olm_account_identity_keys (acc->olm, buf, len);
  g_autoptr (json_t) keys = NULL;
  const char *c, *e;

  if (olm_failed (rc, "reading identity keys", olm_account_last_error (acc->olm), error))
    return FALSE;
  keys = json_loadb ((const char *) buf, rc, 0, NULL);
  c = json_string_value (json_object_get (keys, "curve25519"));
  e = json_string_value (json_object_get (keys, "ed25519"));
  if (c == NULL || e == NULL)
    {
      g_set_error_literal (error, PA_ERROR, PA_ERROR_FAILED,
                           "olm returned malformed identity keys");
      return FALSE;
    }
  *curve25519 = g_strdup (c);
  *ed25519 = g_strdup (e);
  return TRUE;
}

char *
pa_olm_account_sign (PaOlmAccount *acc, const char *message, gsize message_len, GError **error)
{
  gsize len = olm_account_signature_length (acc->olm);
  g_autofree guint8 *buf = g_malloc (len);
  size_t rc = olm_account_sign (acc->olm, message, message_len, buf, len);

  if (olm_failed (rc, "signing", olm_account_last_error (acc->olm), error))
    return NULL;
  return olm_text (buf, rc);
}

gsize
pa_olm_account_max_one_time_keys (PaOlmAccount *acc)
{
  return olm_account_max_number_of_one_time_keys (acc->olm);
}

gboolean
pa_olm_account_generate_one_time_keys (PaOlmAccount *acc, gsize n, GError **error)
{
  gsize rlen = olm_account_generate_one_time_keys_random_length (acc->olm, n);
  guint8 *random = random_buffer (rlen, error);
  size_t rc;

  if (random == NULL)
    return FALSE;
  rc = olm_account_generate_one_time_keys (acc->olm, n, random, rlen);
  wipe_free (random, MAX (rlen, 1));
  return !olm_failed (rc, "generating one-time keys", olm_account_last_error (acc->olm), error);
}

static json_t *
account_keys_json (PaOlmAccount *acc, gboolean fallback, GError **error)
{
  gsize len = fallback ? olm_account_unpublished_fallback_key_length (acc->olm)
                       : olm_account_one_time_keys_length (acc->olm);
  g_autofree guint8 *buf = g_malloc (MAX (len, 1));
  size_t rc = fallback ? olm_account_unpublished_fallback_key (acc->olm, buf, len)
                       : olm_account_one_time_keys (acc->olm, buf, len);
  json_t *keys;

  if (olm_failed (rc, "reading one-time keys", olm_account_last_error (acc->olm), error))
    return NULL;
  keys = json_loadb ((const char *) buf, rc, 0, NULL);
  if (!json_is_object (keys) || !json_is_object (json_object_get (keys, "curve25519")))
    {
      json_decref (keys);
      g_set_error_literal (error, PA_ERROR, PA_ERROR_FAILED, "olm returned malformed key list");
      return NULL;
    }
  return keys;
}

json_t *
pa_olm_account_one_time_keys (PaOlmAccount *acc, GError **error)
{
  return account_keys_json (acc, FALSE, error);
}

gboolean
pa_olm_account_generate_fallback_key (PaOlmAccount *acc, GError **error)
{
  gsize rlen = olm_account_generate_fallback_key_random_length (acc->olm);
  guint8 *random = random_buffer (rlen, error);
  size_t rc;

  if (random == NULL)
    return FALSE;
  rc = olm_account_generate_fallback_key (acc->olm, random, rlen);
  wipe_free (random, MAX (rlen, 1));
  return !olm_failed (rc, "generating fallback key", olm_account_last_error (acc->olm), error);
}

json_t *
pa_olm_account_unpublished_fallback_key (PaOlmAccount *acc, GError **error)
{
  return account_keys_json (acc, TRUE, error);
}

void
pa_olm_account_mark_published (PaOlmAccount *acc)
{
  olm_account_mark_keys_as_published (acc->olm);
}

gboolean
pa_olm_account_remove_one_time_keys (PaOlmAccount *acc, PaOlmSession *session, GError **error)
{
  size_t rc = olm_remove_one_time_keys (acc->olm, session->olm);

  return !olm_failed (rc, "removing one-time key", olm_account_last_error (acc->olm), error);
}

/* ------------------------------------------------------------ session */

static PaOlmSession *
session_alloc (void)
{
  PaOlmSession *s = g_new0 (PaOlmSession, 1);

  s->size = olm_session_size ();
  s->olm = olm_session (g_malloc (s->size));
  return s;
}

void
pa_olm_session_free (PaOlmSession *s)
{
  if (s == NULL)
    return;
  olm_clear_session (s->olm);
  wipe_free (s->olm, s->size);
  g_free (s);
}

PaOlmSession *
pa_olm_session_new_outbound (PaOlmAccount *acc, const char *their_curve25519,
                             const char *their_one_time_key, GError **error)
{
  g_autoptr (PaOlmSession) s = session_alloc ();
  gsize rlen = olm_create_outbound_session_random_length (s->olm);
  guint8 *random;
  size_t rc;

  g_return_val_if_fail (their_curve25519 != NULL && their_one_time_key != NULL, NULL);
  random = random_buffer (rlen, error);
  if (random == NULL)
    return NULL;
  rc = olm_create_outbound_session (s->olm, acc->olm, their_curve25519, strlen (their_curve25519),
                                    their_one_time_key, strlen (their_one_time_key), random,
                                    rlen);
  wipe_free (random, MAX (rlen, 1));
  if (olm_failed (rc, "creating outbound olm session", olm_session_last_error (s->olm), error))
    return NULL;
  return g_steal_pointer (&s);
}

PaOlmSession *
pa_olm_session_new_inbound (PaOlmAccount *acc, const char *their_curve25519,
                            const char *prekey_body, GError **error)
{
  g_autoptr (PaOlmSession) s = session_alloc ();
  gsize len = 0;
  g_autofree guint8 *buf = NULL;
  size_t rc;

  g_return_val_if_fail (their_curve25519 != NULL && prekey_body != NULL, NULL);
  buf = scratch_copy (prekey_body, &len, error);
  if (buf == NULL)
    return NULL;
  rc = olm_create_inbound_session_from (s->olm, acc->olm, their_curve25519,
                                        strlen (their_curve25519), buf, len);
  if (olm_failed (rc, "creating inbound olm session", olm_session_last_error (s->olm), error))
    return NULL;
  return g_steal_pointer (&s);
}

gboolean
pa_olm_session_matches_inbound (PaOlmSession *s, const char *their_curve25519,
                                const char *prekey_body, gboolean *matches, GError **error)
{
  gsize len = 0;
  g_autofree guint8 *buf = scratch_copy (prekey_body, &len, error);
  size_t rc;

  *matches = FALSE;
  if (buf == NULL)
    return FALSE;
  rc = olm_matches_inbound_session_from (s->olm, their_curve25519, strlen (their_curve25519),
                                         buf, len);
  if (olm_failed (rc, "matching olm pre-key message", olm_session_last_error (s->olm), error))
    return FALSE;
  *matches = rc == 1;
  return TRUE;
}

PaOlmSession *
pa_olm_session_unpickle (const char *pickle, const guint8 *key, gsize key_len, GError **error)
{
  g_autoptr (PaOlmSession) s = session_alloc ();
  gsize len = 0;
  guint8 *buf = scratch_copy (pickle, &len, error);
  size_t rc;

  if (buf == NULL)
    return NULL;
  rc = olm_unpickle_session (s->olm, key, key_len, buf, len);
  wipe_free (buf, len + 1);
  if (olm_failed (rc, "unpickling olm session", olm_session_last_error (s->olm), error))
    return NULL;
  return g_steal_pointer (&s);
}

char *
pa_olm_session_pickle (PaOlmSession *s, const guint8 *key, gsize key_len, GError **error)
{
  gsize len = olm_pickle_session_length (s->olm);
  g_autofree guint8 *buf = g_malloc (len);
  size_t rc = olm_pickle_session (s->olm, key, key_len, buf, len);

  if (olm_failed (rc, "pickling olm session", olm_session_last_error (s->olm), error))
    return NULL;
  return olm_text (buf, rc);
}

char *
pa_olm_session_id (PaOlmSession *s, GError **error)
{
  gsize len = olm_session_id_length (s->olm);
  g_autofree guint8 *buf = g_malloc (len);
  size_t rc = olm_session_id (s->olm, buf, len);

  if (olm_failed (rc, "reading olm session id", olm_session_last_error (s->olm), error))
    return NULL;
  return olm_text (buf, rc);
}

char *
pa_olm_session_encrypt (PaOlmSession *s, const char *plaintext, gsize len, int *type,
                        GError **error)
{
  gsize rlen = olm_encrypt_random_length (s->olm);
  gsize mlen = olm_encrypt_message_length (s->olm, len);
  g_autofree guint8 *msg = NULL;
  guint8 *random;
  size_t rc;

  if (len > OLM_MAX_INPUT)
    {
      g_set_error_literal (error, PA_ERROR, PA_ERROR_TOO_LARGE, "olm plaintext too large");
      return NULL;
    }
  *type = (int) olm_encrypt_message_type (s->olm);
  random = random_buffer (rlen, error);
  if (random == NULL)
    return NULL;
  msg = g_malloc (mlen);
  rc = olm_encrypt (s->olm, plaintext, len, random, rlen, msg, mlen);
  wipe_free (random, MAX (rlen, 1));
  if (olm_failed (rc, "olm encrypt", olm_session_last_error (s->olm), error))
    return NULL;
  return olm_text (msg, rc);
}

char *
pa_olm_session_decrypt (PaOlmSession *s, int type, const char *body, gsize *out_len,
                        GError **error)
{
  gsize len = 0;
  g_autofree guint8 *buf = scratch_copy (body, &len, error);
  gsize max;
  guint8 *plain;
  size_t rc;

  if (buf == NULL)
    return NULL;
  if (type != PA_OLM_MESSAGE_PREKEY && type != PA_OLM_MESSAGE_NORMAL)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_FAILED, "unknown olm message type %d", type);
      return NULL;
    }
  /* Sizing decodes in place too: size from one copy, decrypt another. */
  max = olm_decrypt_max_plaintext_length (s->olm, (size_t) type, buf, len);
  if (olm_failed (max, "olm decrypt", olm_session_last_error (s->olm), error))
    return NULL;
  memcpy (buf, body, len);
  plain = g_malloc (max + 1);
  rc = olm_decrypt (s->olm, (size_t) type, buf, len, plain, max);
  if (olm_failed (rc, "olm decrypt", olm_session_last_error (s->olm), error))
    {
      wipe_free (plain, max + 1);
      return NULL;
    }
  plain[rc] = '\0';
  *out_len = rc;
  return (char *) plain;
}

/* ------------------------------------------------------ megolm: outbound */

static PaOlmOutboundGroup *
outbound_alloc (void)
{
  PaOlmOutboundGroup *g = g_new0 (PaOlmOutboundGroup, 1);

  g->size = olm_outbound_group_session_size ();
  g->olm = olm_outbound_group_session (g_malloc (g->size));
  return g;
}

void
pa_olm_outbound_group_free (PaOlmOutboundGroup *g)
{
  if (g == NULL)
    return;
  olm_clear_outbound_group_session (g->olm);
  wipe_free (g->olm, g->size);
  g_free (g);
}

PaOlmOutboundGroup *
pa_olm_outbound_group_new (GError **error)
{
  g_autoptr (PaOlmOutboundGroup) g = outbound_alloc ();
  gsize rlen = olm_init_outbound_group_session_random_length (g->olm);
  guint8 *random = random_buffer (rlen, error);
  size_t rc;

  if (random == NULL)
    return NULL;
  rc = olm_init_outbound_group_session (g->olm, random, rlen);
  wipe_free (random, MAX (rlen, 1));
  if (olm_failed (rc, "creating megolm session", olm_outbound_group_session_last_error (g->olm),
                  error))
    return NULL;
  return g_steal_pointer (&g);
}

PaOlmOutboundGroup *
pa_olm_outbound_group_unpickle (const char *pickle, const guint8 *key, gsize key_len,
                                GError **error)
{
  g_autoptr (PaOlmOutboundGroup) g = outbound_alloc ();
  gsize len = 0;
  guint8 *buf = scratch_copy (pickle, &len, error);
  size_t rc;

  if (buf == NULL)
    return NULL;
  rc = olm_unpickle_outbound_group_session (g->olm, key, key_len, buf, len);
  wipe_free (buf, len + 1);
  if (olm_failed (rc, "unpickling megolm session",
                  olm_outbound_group_session_last_error (g->olm), error))
    return NULL;
  return g_steal_pointer (&g);
}

char *
pa_olm_outbound_group_pickle (PaOlmOutboundGroup *g, const guint8 *key, gsize key_len,
                              GError **error)
{
  gsize len = olm_pickle_outbound_group_session_length (g->olm);
  g_autofree guint8 *buf = g_malloc (len);
  size_t rc = olm_pickle_outbound_group_session (g->olm, key, key_len, buf, len);

  if (olm_failed (rc, "pickling megolm session", olm_outbound_group_session_last_error (g->olm),
                  error))
    return NULL;
  return olm_text (buf, rc);
}

char *
pa_olm_outbound_group_id (PaOlmOutboundGroup *g, GError **error)
{
  gsize len = olm_outbound_group_session_id_length (g->olm);
  g_autofree guint8 *buf = g_malloc (len);
  size_t rc = olm_outbound_group_session_id (g->olm, buf, len);

  if (olm_failed (rc, "reading megolm session id",
                  olm_outbound_group_session_last_error (g->olm), error))
    return NULL;
  return olm_text (buf, rc);
}

char *
pa_olm_outbound_group_key (PaOlmOutboundGroup *g, GError **error)
{
  gsize len = olm_outbound_group_session_key_length (g->olm);
  guint8 *buf = g_malloc (len);
  size_t rc = olm_outbound_group_session_key (g->olm, buf, len);
  char *key = NULL;

  if (!olm_failed (rc, "reading megolm session key",
                   olm_outbound_group_session_last_error (g->olm), error))
    key = olm_text (buf, rc);
  wipe_free (buf, len);
  return key;
}

char *
pa_olm_outbound_group_encrypt (PaOlmOutboundGroup *g, const char *plaintext, gsize len,
                               GError **error)
{
  gsize mlen;
  g_autofree guint8 *msg = NULL;
  size_t rc;

  if (len > OLM_MAX_INPUT)
    {
      g_set_error_literal (error, PA_ERROR, PA_ERROR_TOO_LARGE, "megolm plaintext too large");
      return NULL;
    }
  mlen = olm_group_encrypt_message_length (g->olm, len);
  msg = g_malloc (mlen);
  rc = olm_group_encrypt (g->olm, (const guint8 *) plaintext, len, msg, mlen);
  if (olm_failed (rc, "megolm encrypt", olm_outbound_group_session_last_error (g->olm), error))
    return NULL;
  return olm_text (msg, rc);
}

/* ------------------------------------------------------ megolm: inbound */

static PaOlmInboundGroup *
inbound_alloc (void)
{
  PaOlmInboundGroup *g = g_new0 (PaOlmInboundGroup, 1);

  g->size = olm_inbound_group_session_size ();
  g->olm = olm_inbound_group_session (g_malloc (g->size));
  return g;
}

void
pa_olm_inbound_group_free (PaOlmInboundGroup *g)
{
  if (g == NULL)
    return;
  olm_clear_inbound_group_session (g->olm);
  wipe_free (g->olm, g->size);
  g_free (g);
}

static PaOlmInboundGroup *
inbound_from_key (const char *session_key, gboolean import, GError **error)
{
  g_autoptr (PaOlmInboundGroup) g = inbound_alloc ();
  gsize len = 0;
  guint8 *buf = scratch_copy (session_key, &len, error);
  size_t rc;

  if (buf == NULL)
    return NULL;
  rc = import ? olm_import_inbound_group_session (g->olm, buf, len)
              : olm_init_inbound_group_session (g->olm, buf, len);
  wipe_free (buf, len + 1);
  if (olm_failed (rc, "creating inbound megolm session",
                  olm_inbound_group_session_last_error (g->olm), error))
    return NULL;
  return g_steal_pointer (&g);
}

PaOlmInboundGroup *
pa_olm_inbound_group_new (const char *session_key, GError **error)
{
  return inbound_from_key (session_key, FALSE, error);
}

PaOlmInboundGroup *
pa_olm_inbound_group_import (const char *exported_key, GError **error)
{
  return inbound_from_key (exported_key, TRUE, error);
}

PaOlmInboundGroup *
pa_olm_inbound_group_unpickle (const char *pickle, const guint8 *key, gsize key_len,
                               GError **error)
{
  g_autoptr (PaOlmInboundGroup) g = inbound_alloc ();
  gsize len = 0;
  guint8 *buf = scratch_copy (pickle, &len, error);
  size_t rc;

  if (buf == NULL)
    return NULL;
  rc = olm_unpickle_inbound_group_session (g->olm, key, key_len, buf, len);
  wipe_free (buf, len + 1);
  if (olm_failed (rc, "unpickling inbound megolm session",
                  olm_inbound_group_session_last_error (g->olm), error))
    return NULL;
  return g_steal_pointer (&g);
}

char *
pa_olm_inbound_group_pickle (PaOlmInboundGroup *g, const guint8 *key, gsize key_len,
                             GError **error)
{
  gsize len = olm_pickle_inbound_group_session_length (g->olm);
  g_autofree guint8 *buf = g_malloc (len);
  size_t rc = olm_pickle_inbound_group_session (g->olm, key, key_len, buf, len);

  if (olm_failed (rc, "pickling inbound megolm session",
                  olm_inbound_group_session_last_error (g->olm), error))
    return NULL;
  return olm_text (buf, rc);
}

char *
pa_olm_inbound_group_id (PaOlmInboundGroup *g, GError **error)
{
  gsize len = olm_inbound_group_session_id_length (g->olm);
  g_autofree guint8 *buf = g_malloc (len);
  size_t rc = olm_inbound_group_session_id (g->olm, buf, len);

  if (olm_failed (rc, "reading inbound megolm session id",
                  olm_inbound_group_session_last_error (g->olm), error))
    return NULL;
  return olm_text (buf, rc);
}

char *
pa_olm_inbound_group_export (PaOlmInboundGroup *g, guint32 index, GError **error)
{
  gsize len = olm_export_inbound_group_session_length (g->olm);
  guint8 *buf = g_malloc (len);
  size_t rc = olm_export_inbound_group_session (g->olm, buf, len, index);
  char *key = NULL;

  if (!olm_failed (rc, "exporting megolm session",
                   olm_inbound_group_session_last_error (g->olm), error))
    key = olm_text (buf, rc);
  wipe_free (buf, len);
  return key;
}

guint32
pa_olm_inbound_group_first_known_index (PaOlmInboundGroup *g)
{
  return olm_inbound_group_session_first_known_index (g->olm);
}

char *
pa_olm_inbound_group_decrypt (PaOlmInboundGroup *g, const char *body, gsize *out_len,
                              guint32 *index, GError **error)
{
  gsize len = 0;
  g_autofree guint8 *buf = scratch_copy (body, &len, error);
  gsize max;
  guint8 *plain;
  size_t rc;
  uint32_t idx = 0;

  if (buf == NULL)
    return NULL;
  max = olm_group_decrypt_max_plaintext_length (g->olm, buf, len);
  if (olm_failed (max, "megolm decrypt", olm_inbound_group_session_last_error (g->olm), error))
    return NULL;
  memcpy (buf, body, len);
  plain = g_malloc (max + 1);
  rc = olm_group_decrypt (g->olm, buf, len, plain, max, &idx);
  if (olm_failed (rc, "megolm decrypt", olm_inbound_group_session_last_error (g->olm), error))
    {
      wipe_free (plain, max + 1);
      return NULL;
    }
  plain[rc] = '\0';
  *out_len = rc;
  *index = idx;
  return (char *) plain;
}
