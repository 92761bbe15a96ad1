/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The quarantine: events of accepted homeserver transactions that the
 * bridge could not handle (wrong field types, a NUL in an identifier, an
 * absurd size), kept with the reason for an admin to look at, so that
 * refusing one never makes the homeserver retry a whole transaction. */
#define G_LOG_DOMAIN "passerelle-store"

#include "pa-store-private.h"

/* pa_store_quarantine_add: see pa-store.h.  Oversized texts are cut to
 * the store's cap on a single value. */
gboolean
pa_store_quarantine_add (PaStore *store, const char *txn_id, const char *event_id,
                         const char *room_id, const char *sender, const char *reason,
                         const char *event, GError **error)
{
  g_autofree char *cut = NULL;

  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (txn_id != NULL && reason != NULL && event != NULL, FALSE);

  if (strlen (event) > STORE_MAX_VALUE_BYTES)
    event = cut = g_utf8_make_valid (event, STORE_MAX_VALUE_BYTES);
  return pa_store_run (store, error,
                       "INSERT INTO quarantine (txn_id, event_id, room_id, sender, reason, event,"
                       " at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       "ttttttI", txn_id, event_id, room_id, sender, reason, event, pa_now_ms ());
}

gint64
pa_store_quarantine_count (PaStore *store)
{
  g_return_val_if_fail (store != NULL, -1);
  return pa_store_count (store, "SELECT count(*) FROM quarantine", NULL);
}
