/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The top floor of PaCrypto: its lifetime (the object, its tables, the
 * account and the operation queue) and accessors.  The rest of
 * pa-crypto.h is implemented by the files below, one purpose each
 * (docs/encryption.md, "Code layout"); none of them calls upwards, so
 * this file is the only one that sees them all at once. */
#define G_LOG_DOMAIN "passerelle-crypto"

#include "pa-crypto-private.h"

#include <string.h>

#include "pa-crypto-account.h"
#include "pa-crypto-cross-signing.h"
#include "pa-crypto-ops.h"

static PaCrypto *
crypto_alloc (PaMatrix *client, const char *user_id, const char *device_id,
              const guint8 *pickle_key, gsize pickle_key_len)
{
  PaCrypto *crypto = g_new0 (PaCrypto, 1);

  crypto->mx = client;
  crypto->user_id = g_strdup (user_id);
  crypto->device_id = g_strdup (device_id);
  crypto->pickle_key = g_memdup2 (pickle_key, pickle_key_len);
  crypto->pickle_key_len = pickle_key_len;
  crypto->otk_target = PA_CRYPTO_OTK_TARGET;
  pa_crypto_ops_init (crypto);
  crypto->requests = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  crypto->repairs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  crypto->withheld = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  crypto->shared_ok = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  crypto->blocked = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  return crypto;
}

PaCrypto *
pa_crypto_new (PaMatrix *bot_client, const char *user_id, const char *device_id,
               const char *db_path, const guint8 *pickle_key, gsize pickle_key_len, GError **error)
{
  g_autoptr (PaCrypto) crypto = NULL;

  g_return_val_if_fail (user_id != NULL && device_id != NULL && db_path != NULL, NULL);
  g_return_val_if_fail (pickle_key != NULL && pickle_key_len > 0, NULL);
  crypto = crypto_alloc (bot_client, user_id, device_id, pickle_key, pickle_key_len);
  if (!pa_crypto_account_open (crypto, db_path, error))
    return NULL;
  return g_steal_pointer (&crypto);
}

PaCrypto *
pa_crypto_new_identity (PaCrypto *primary, PaMatrix *client, const char *user_id,
                        const char *new_device_id, GError **error)
{
  g_autoptr (PaCrypto) crypto = NULL;

  g_return_val_if_fail (primary != NULL && primary->primary == NULL, NULL);
  g_return_val_if_fail (user_id != NULL && new_device_id != NULL, NULL);
  if (g_strcmp0 (user_id, primary->user_id) == 0)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_CONFIG, "%s is the primary identity", user_id);
      return NULL;
    }
  crypto
      = crypto_alloc (client, user_id, new_device_id, primary->pickle_key, primary->pickle_key_len);
  crypto->primary = primary;
  crypto->store = primary->store;
  if (!pa_crypto_account_load (crypto, error))
    return NULL;
  return g_steal_pointer (&crypto);
}

char *
pa_crypto_identity_device (PaCrypto *primary, const char *user_id, gboolean *published,
                           GError **error)
{
  char *device_id = NULL;
  g_autofree char *pickle = NULL;

  g_return_val_if_fail (primary != NULL && user_id != NULL, NULL);
  pickle = pa_crypto_store_load_identity (primary->store, user_id, NULL, &device_id, NULL,
                                          published, error);
  if (pickle != NULL)
    explicit_bzero (pickle, strlen (pickle));
  return device_id;
}

gboolean
pa_crypto_set_published (PaCrypto *crypto, GError **error)
{
  if (crypto->published)
    return TRUE;
  if (!pa_crypto_store_set_published (crypto->store, crypto->user_id, error))
    return FALSE;
  crypto->published = TRUE;
  return TRUE;
}

gboolean
pa_crypto_is_published (PaCrypto *crypto)
{
  return crypto->published;
}

void
pa_crypto_set_otk_target (PaCrypto *crypto, guint target)
{
  crypto->otk_target = CLAMP (target, 1, PA_CRYPTO_OTK_TARGET);
}

gint64
pa_crypto_count_identities (PaCrypto *crypto)
{
  g_autoptr (GError) error = NULL;
  gint64 n = pa_crypto_store_count_identities (crypto->store, &error);

  if (n < 0)
    g_warning ("%s", error->message);
  return n;
}

void
pa_crypto_free (PaCrypto *crypto)
{
  if (crypto == NULL)
    return;
  pa_crypto_ops_dispose (crypto);
  pa_crypto_cross_signing_dispose (crypto);
  pa_olm_account_free (crypto->account);
  if (crypto->primary == NULL)
    pa_crypto_store_free (crypto->store);
  if (crypto->pickle_key != NULL)
    explicit_bzero (crypto->pickle_key, crypto->pickle_key_len);
  g_free (crypto->pickle_key);
  g_free (crypto->user_id);
  g_free (crypto->device_id);
  g_free (crypto->curve25519);
  g_free (crypto->ed25519);
  g_clear_pointer (&crypto->requests, g_hash_table_destroy);
  g_clear_pointer (&crypto->repairs, g_hash_table_destroy);
  g_clear_pointer (&crypto->withheld, g_hash_table_destroy);
  g_clear_pointer (&crypto->shared_ok, g_hash_table_destroy);
  g_clear_pointer (&crypto->blocked, g_hash_table_destroy);
  g_free (crypto);
}

const char *
pa_crypto_get_user_id (PaCrypto *crypto)
{
  return crypto->user_id;
}

const char *
pa_crypto_get_device_id (PaCrypto *crypto)
{
  return crypto->device_id;
}

const char *
pa_crypto_get_curve25519 (PaCrypto *crypto)
{
  return crypto->curve25519;
}

const char *
pa_crypto_get_ed25519 (PaCrypto *crypto)
{
  return crypto->ed25519;
}
