/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Olm session repair: an Olm message that no session decrypts means the
 * peer's session with us is wedged, so a new session is made with a
 * claimed one-time key and an m.dummy sent over it (the peer then uses
 * that session), at most hourly per device so a peer cannot make us claim
 * keys in a loop.  Calls pa-crypto-ops.c (pa_crypto_send_olm()). */
#define G_LOG_DOMAIN "passerelle-crypto"

#include "pa-crypto-repair.h"

#define REPAIR_INTERVAL_MS ((gint64) 60 * 60 * 1000)
/* Devices remembered; a flood of bad messages must not grow the table. */
#define MAX_REPAIRS 1000

static void
repaired (PaCrypto *crypto, json_t *result, const GError *error, gpointer user_data)
{
  /* (No user_data: a queue cleared at shutdown does not call back.) */
  if (error)
    g_message ("olm session repair failed: %s", error->message);
  else
    g_info ("olm session repaired (m.dummy sent)");
}

void
pa_crypto_repair_olm (PaCrypto *crypto, const char *sender, const char *sender_key)
{
  if (sender == NULL || sender_key == NULL || crypto->mx == NULL)
    return;
  gint64 now = pa_now_ms ();
  gint64 *last = g_hash_table_lookup (crypto->repairs, sender_key);
  if (last != NULL && now - *last < REPAIR_INTERVAL_MS)
    return;
  if (g_hash_table_size (crypto->repairs) >= MAX_REPAIRS)
    g_hash_table_remove_all (crypto->repairs);
  gint64 *when = g_new (gint64, 1);
  *when = now;
  g_hash_table_insert (crypto->repairs, g_strdup (sender_key), when);
  g_autoptr (json_t) empty = json_object ();
  g_info ("repairing the olm session with %s (%s)", sender, sender_key);
  pa_crypto_send_olm (crypto, sender, NULL, sender_key, TRUE, "m.dummy", empty, repaired, NULL);
}
