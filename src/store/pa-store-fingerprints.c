/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Live fingerprints: what each live message bridged into a portal looked
 * like (minute, class, digest of its normalised content), so that an
 * export of the same chat imported later skips the messages the portal
 * already shows.  An import job claims a live message at most once
 * (live_claims), which makes repeated texts count right and survives a
 * restart of the job.  The digests are made by the bridge
 * (src/bridge/pa-fingerprint.c); the store only compares them. */
#define G_LOG_DOMAIN "passerelle-store"

#include "pa-store-private.h"

/* See pa-store.h. */
gboolean
pa_store_fingerprint_add (PaStore *store, const char *room_id, const char *legacy_id, gint64 minute,
                          const char *cls, gint64 digest, GError **error)
{
  g_return_val_if_fail (store != NULL && room_id != NULL && legacy_id != NULL, FALSE);
  g_return_val_if_fail (cls != NULL, FALSE);
  return pa_store_run (store, error,
                       "INSERT INTO live_fingerprints (room_id, legacy_id, minute, class, digest)"
                       " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                       "ttItI", room_id, legacy_id, minute, cls, digest);
}

/* See pa-store.h. */
gboolean
pa_store_fingerprint_add_later (PaStore *store, const char *room_id, const char *legacy_id,
                                const char *cls, gint64 digest, GError **error)
{
  g_return_val_if_fail (store != NULL && room_id != NULL && legacy_id != NULL, FALSE);
  g_return_val_if_fail (cls != NULL, FALSE);
  return pa_store_run (store, error,
                       "INSERT INTO live_fingerprints (room_id, legacy_id, minute, class, digest)"
                       " SELECT room_id, legacy_id, minute, ?, ? FROM live_fingerprints"
                       " WHERE room_id = ? AND legacy_id = ? LIMIT 1 ON CONFLICT DO NOTHING",
                       "tItt", cls, digest, room_id, legacy_id);
}

/* The first live message of room_id in `minute` matching (digest, or any
 * media class when `any_media`) that job_id has not claimed yet. */
static char *
unclaimed (PaStore *store, const char *job_id, const char *room_id, gint64 minute,
           gboolean any_media, gint64 digest, GError **error)
{
  g_autoptr (PaStoreStmt) stmt = NULL;
  if (any_media)
    stmt = pa_store_stmt (store, error,
                          "SELECT legacy_id FROM live_fingerprints f"
                          " WHERE room_id = ? AND minute = ?"
                          " AND class IN ('image', 'video', 'audio', 'file', 'media')"
                          " AND NOT EXISTS (SELECT 1 FROM live_claims c WHERE c.job_id = ?"
                          " AND c.room_id = f.room_id AND c.legacy_id = f.legacy_id)"
                          " ORDER BY rowid LIMIT 1",
                          "tIt", room_id, minute, job_id);
  else
    stmt = pa_store_stmt (store, error,
                          "SELECT legacy_id FROM live_fingerprints f"
                          " WHERE room_id = ? AND minute = ? AND digest = ?"
                          " AND NOT EXISTS (SELECT 1 FROM live_claims c WHERE c.job_id = ?"
                          " AND c.room_id = f.room_id AND c.legacy_id = f.legacy_id)"
                          " ORDER BY rowid LIMIT 1",
                          "tIIt", room_id, minute, digest, job_id);
  if (stmt == NULL || pa_store_step (store, stmt, error) != SQLITE_ROW)
    return NULL;
  return pa_store_column_strdup (stmt, 0);
}

/* See pa-store.h. */
int
pa_store_fingerprint_claim (PaStore *store, const char *job_id, const char *room_id, gint64 minute,
                            gboolean any_media, gint64 digest, GError **error)
{
  g_return_val_if_fail (store != NULL && job_id != NULL && room_id != NULL, -1);
  GError *local = NULL;
  g_autofree char *legacy = unclaimed (store, job_id, room_id, minute, any_media, digest, &local);
  if (local != NULL)
    {
      g_propagate_error (error, local);
      return -1;
    }
  if (legacy == NULL)
    return 0;
  if (!pa_store_run (store, error,
                     "INSERT INTO live_claims (job_id, room_id, legacy_id) VALUES (?, ?, ?)", "ttt",
                     job_id, room_id, legacy))
    return -1;
  return 1;
}

/* See pa-store.h. */
gint64
pa_store_fingerprint_claimed (PaStore *store, const char *job_id)
{
  g_return_val_if_fail (store != NULL && job_id != NULL, -1);
  return pa_store_count (store, "SELECT count(*) FROM live_claims WHERE job_id = ?", job_id);
}
