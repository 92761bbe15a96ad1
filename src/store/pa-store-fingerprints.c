/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Live fingerprints: what each live message bridged into a portal looked
 * like (minute, class, digest of its normalised content), so that an
 * export of the same chat imported later skips the messages the portal
 * already shows.  An import job claims a live message at most once
 * (live_claims), which makes repeated texts count right and survives a
 * restart of the job.  The digests are made by the bridge
 * (src/bridge/pa-fingerprint.c); the store only compares them.  Rooms and
 * messages are kept as 8-byte hashes of their ids: a portal may hold
 * hundreds of thousands of messages, and a Matrix room id alone is often
 * longer than the rest of the row. */
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
                       "INSERT INTO live_fingerprints (room, minute, digest, msg, class)"
                       " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                       "IIIIt", pa_store_hash64 (room_id), minute, digest,
                       pa_store_hash64 (legacy_id), cls);
}

/* See pa-store.h. */
gboolean
pa_store_fingerprint_add_own (PaStore *store, const char *job_id, const char *room_id,
                              const char *legacy_id, gint64 minute, const char *cls, gint64 digest,
                              GError **error)
{
  g_return_val_if_fail (store != NULL && job_id != NULL && room_id != NULL, FALSE);
  g_return_val_if_fail (legacy_id != NULL && cls != NULL, FALSE);
  return pa_store_run (store, error,
                       "INSERT INTO live_fingerprints (room, minute, digest, msg, class, job)"
                       " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                       "IIIItI", pa_store_hash64 (room_id), minute, digest,
                       pa_store_hash64 (legacy_id), cls, pa_store_hash64 (job_id));
}

/* See pa-store.h. */
gboolean
pa_store_fingerprint_add_later (PaStore *store, const char *room_id, const char *legacy_id,
                                const char *cls, gint64 digest, GError **error)
{
  g_return_val_if_fail (store != NULL && room_id != NULL && legacy_id != NULL, FALSE);
  g_return_val_if_fail (cls != NULL, FALSE);
  return pa_store_run (store, error,
                       "INSERT INTO live_fingerprints (room, minute, digest, msg, class)"
                       " SELECT room, minute, CAST (? AS BIGINT), msg, ? FROM live_fingerprints"
                       " WHERE room = ? AND msg = ? LIMIT 1 ON CONFLICT DO NOTHING",
                       "ItII", digest, cls, pa_store_hash64 (room_id), pa_store_hash64 (legacy_id));
}

/* The first live message of the room in `minute` matching (digest, or any
 * media class when `any_media`) that job_id has not claimed yet, nor sent
 * itself, in *msg. */
static gboolean
unclaimed (PaStore *store, const char *job_id, gint64 room, gint64 minute, gboolean any_media,
           gint64 digest, gint64 *msg, GError **error)
{
  g_autoptr (PaStoreStmt) stmt = NULL;
  if (any_media)
    stmt = pa_store_stmt (store, error,
                          "SELECT msg FROM live_fingerprints f WHERE room = ? AND minute = ?"
                          " AND class IN ('image', 'video', 'audio', 'file', 'media')"
                          " AND (f.job IS NULL OR f.job != ?)"
                          " AND NOT EXISTS (SELECT 1 FROM live_claims c WHERE c.job_id = ?"
                          " AND c.room = f.room AND c.msg = f.msg) LIMIT 1",
                          "IIIt", room, minute, pa_store_hash64 (job_id), job_id);
  else
    stmt = pa_store_stmt (store, error,
                          "SELECT msg FROM live_fingerprints f"
                          " WHERE room = ? AND minute = ? AND digest = ?"
                          " AND (f.job IS NULL OR f.job != ?)"
                          " AND NOT EXISTS (SELECT 1 FROM live_claims c WHERE c.job_id = ?"
                          " AND c.room = f.room AND c.msg = f.msg) LIMIT 1",
                          "IIIIt", room, minute, digest, pa_store_hash64 (job_id), job_id);
  if (stmt == NULL || pa_store_step (store, stmt, error) != PA_DB_ROW)
    return FALSE;
  *msg = pa_db_column_int64 (stmt, 0);
  return TRUE;
}

/* See pa-store.h. */
int
pa_store_fingerprint_claim (PaStore *store, const char *job_id, const char *room_id, gint64 minute,
                            gboolean any_media, gint64 digest, GError **error)
{
  g_return_val_if_fail (store != NULL && job_id != NULL && room_id != NULL, -1);
  GError *local = NULL;
  gint64 room = pa_store_hash64 (room_id), msg = 0;
  if (!unclaimed (store, job_id, room, minute, any_media, digest, &msg, &local))
    {
      if (local == NULL)
        return 0;
      g_propagate_error (error, local);
      return -1;
    }
  if (!pa_store_run (store, error, "INSERT INTO live_claims (job_id, room, msg) VALUES (?, ?, ?)",
                     "tII", job_id, room, msg))
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

/* See pa-store.h. */
gint64
pa_store_fingerprint_claimed_in (PaStore *store, const char *job_id, const char *room_id)
{
  g_return_val_if_fail (store != NULL && job_id != NULL && room_id != NULL, -1);
  g_autoptr (GError) error = NULL;
  g_autoptr (PaStoreStmt) stmt = pa_store_stmt (
      store, &error, "SELECT count(*) FROM live_claims WHERE job_id = ? AND room = ?", "tI", job_id,
      pa_store_hash64 (room_id));
  if (stmt == NULL || pa_store_step (store, stmt, &error) != PA_DB_ROW)
    return -1;
  return pa_db_column_int64 (stmt, 0);
}

/* See pa-store.h. */
gboolean
pa_store_fingerprint_forget_job (PaStore *store, const char *job_id, GError **error)
{
  g_return_val_if_fail (store != NULL && job_id != NULL, FALSE);
  return pa_store_run (store, error, "DELETE FROM live_claims WHERE job_id = ?", "t", job_id);
}
