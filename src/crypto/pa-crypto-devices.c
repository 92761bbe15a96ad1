/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Device lists of the users the bridge shares keys with: /keys/query
 * answers are checked (self-signature, ids, an ed25519 key that never
 * changes under a device id) before they are cached, and users whose list
 * changed are marked dirty for the next query.  Every change bumps the
 * device epoch, which tells pa-crypto-ops.c that a room's last share may
 * no longer cover everyone.  Calls only pa-crypto-account.c (to verify). */
#define G_LOG_DOMAIN "passerelle-crypto"

#include "pa-crypto-devices.h"

#include "pa-crypto-account.h"

/* One device from /keys/query, or NULL (logged) when it must be ignored. */
static PaCryptoDevice *
device_from_keys (PaCrypto *crypto, const char *user_id, const char *device_id, json_t *keys)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *ck = g_strconcat ("curve25519:", device_id, NULL);
  g_autofree char *ek = g_strconcat ("ed25519:", device_id, NULL);
  json_t *k = json_object_get (keys, "keys");
  const char *curve = pa_crypto_jstr (k, ck), *ed = pa_crypto_jstr (k, ek);
  PaCryptoDevice *d;

  if (g_strcmp0 (pa_crypto_jstr (keys, "user_id"), user_id) != 0
      || g_strcmp0 (pa_crypto_jstr (keys, "device_id"), device_id) != 0 || curve == NULL
      || ed == NULL)
    {
      g_message ("ignoring malformed device keys of %s %s", user_id, device_id);
      return NULL;
    }
  if (!pa_crypto_verify_json (keys, user_id, device_id, ed, &error))
    {
      g_message ("ignoring device %s of %s: %s", device_id, user_id, error->message);
      return NULL;
    }
  d = g_new0 (PaCryptoDevice, 1);
  d->user_id = g_strdup (user_id);
  d->device_id = g_strdup (device_id);
  d->ed25519 = g_strdup (ed);
  d->curve25519 = g_strdup (curve);
  d->verified = TRUE;
  return d;
}

static gboolean
add_device_keys_tx (PaCrypto *crypto, const char *user_id, json_t *devices, GError **error)
{
  g_autoptr (GPtrArray) cached = pa_crypto_store_list_devices (crypto->store, user_id, error);
  const char *device_id;
  json_t *keys;

  if (cached == NULL || !pa_crypto_store_track_user (crypto->store, user_id, error))
    return FALSE;
  json_object_foreach (devices, device_id, keys)
  {
    g_autoptr (PaCryptoDevice) d = device_from_keys (crypto, user_id, device_id, keys);
    g_autoptr (PaCryptoDevice) old = NULL;
    GError *local = NULL;

    if (d == NULL)
      continue;
    old = pa_crypto_store_get_device (crypto->store, user_id, device_id, &local);
    if (local != NULL)
      {
        g_propagate_error (error, local);
        return FALSE;
      }
    /* A device id never changes keys; a new key under an old id is an
     * attack or a server bug, and the spec says to ignore it. */
    if (old != NULL && g_strcmp0 (old->ed25519, d->ed25519) != 0)
      {
        g_message ("device %s of %s changed its ed25519 key; ignoring the new keys", device_id,
                   user_id);
        continue;
      }
    if (!pa_crypto_store_save_device (crypto->store, d, error))
      return FALSE;
  }
  for (guint i = 0; i < cached->len; i++)
    {
      PaCryptoDevice *d = g_ptr_array_index (cached, i);

      if (json_object_get (devices, d->device_id) == NULL && !d->deleted)
        {
          d->deleted = TRUE;
          if (!pa_crypto_store_save_device (crypto->store, d, error))
            return FALSE;
        }
    }
  return pa_crypto_store_set_user_dirty (crypto->store, user_id, FALSE, error);
}

gboolean
pa_crypto_add_device_keys (PaCrypto *crypto, const char *user_id, json_t *devices, GError **error)
{
  g_return_val_if_fail (crypto != NULL && user_id != NULL, FALSE);
  pa_crypto_store_bump_device_epoch (crypto->store);
  if (!json_is_object (devices))
    return pa_crypto_bad_input (error, "device list");
  if (json_object_size (devices) > PA_CRYPTO_MAX_DEVICES_PER_USER)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_TOO_LARGE, "%s has more than %d devices", user_id,
                   PA_CRYPTO_MAX_DEVICES_PER_USER);
      return FALSE;
    }
  if (!pa_crypto_store_begin (crypto->store, error))
    return FALSE;
  return pa_crypto_tx_end (crypto, add_device_keys_tx (crypto, user_id, devices, error), error);
}

gboolean
pa_crypto_devices_changed (PaCrypto *crypto, const char *const *user_ids, GError **error)
{
  g_return_val_if_fail (crypto != NULL, FALSE);
  pa_crypto_store_bump_device_epoch (crypto->store);
  for (guint i = 0; user_ids != NULL && user_ids[i] != NULL; i++)
    if (!pa_crypto_store_set_user_dirty (crypto->store, user_ids[i], TRUE, error))
      return FALSE;
  return TRUE;
}

PaCryptoDevice *
pa_crypto_usable_device (PaCrypto *crypto, const char *user_id, const char *device_id,
                         GError **error)
{
  GError *local = NULL;
  PaCryptoDevice *d = pa_crypto_store_get_device (crypto->store, user_id, device_id, &local);

  if (local != NULL)
    {
      g_propagate_error (error, local);
      return NULL;
    }
  if (d == NULL || d->deleted || !d->verified)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_NOT_FOUND, "no usable device %s of %s", device_id,
                   user_id);
      pa_crypto_device_free (d);
      return NULL;
    }
  return d;
}

char *
pa_crypto_device_ed25519 (PaCrypto *crypto, const char *user_id, const char *device_id)
{
  g_autoptr (PaCryptoDevice) d = pa_crypto_usable_device (crypto, user_id, device_id, NULL);

  return d != NULL ? g_strdup (d->ed25519) : NULL;
}
