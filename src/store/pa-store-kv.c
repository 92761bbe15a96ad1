/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Host key/values: small facts of the bridge itself that fit no table
 * (e.g. the creator ghost of a DM portal, an uploaded avatar's signature). */
#define G_LOG_DOMAIN "passerelle-store"

#include "pa-store-private.h"

/* A NULL value deletes the key. */
gboolean
pa_store_kv_set (PaStore *store, const char *key, const char *value, GError **error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (key != NULL, FALSE);

  if (value == NULL)
    return pa_store_run (store, error, "DELETE FROM kv WHERE key = ?", "t", key);
  return pa_store_run (store, error,
                       "INSERT INTO kv (key, value) VALUES (?, ?)"
                       " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                       "tt", key, value);
}

char *
pa_store_kv_get (PaStore *store, const char *key)
{
  g_return_val_if_fail (store != NULL, NULL);
  g_return_val_if_fail (key != NULL, NULL);
  return pa_store_lookup_text (store, "SELECT value FROM kv WHERE key = ?", "t", key);
}
