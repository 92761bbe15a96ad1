/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Ghost users (remote contacts on Matrix): registration state and the
 * profile last set, so the bridge only calls the homeserver on changes. */
#define G_LOG_DOMAIN "passerelle-store"

#include "pa-store-private.h"

/* ------------------------------------------------------------- ghosts */

/* TRUE if the ghost is known; each out parameter may be NULL. */
gboolean
pa_store_ghost_get (PaStore *store, const char *mxid, gboolean *out_registered,
                    char **out_displayname, char **out_avatar_url)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PaStoreStmt) stmt = NULL;

  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (mxid != NULL, FALSE);

  stmt = pa_store_stmt (store, &error,
                        "SELECT registered, displayname, avatar_url FROM ghosts WHERE mxid = ?",
                        "t", mxid);
  if (stmt == NULL || pa_store_step (store, stmt, &error) != PA_DB_ROW)
    {
      pa_store_log_lookup_error (error);
      return FALSE;
    }
  if (out_registered != NULL)
    *out_registered = (int) pa_db_column_int64 (stmt, 0) != 0;
  if (out_displayname != NULL)
    *out_displayname = pa_store_column_strdup (stmt, 1);
  if (out_avatar_url != NULL)
    *out_avatar_url = pa_store_column_strdup (stmt, 2);
  return TRUE;
}

/* Upsert by mxid. */
gboolean
pa_store_ghost_put (PaStore *store, const char *mxid, const char *plugin, const char *legacy_id,
                    gboolean registered, const char *displayname, const char *avatar_url,
                    GError **error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (mxid != NULL && plugin != NULL && legacy_id != NULL, FALSE);

  return pa_store_run (store, error,
                       "INSERT INTO ghosts (mxid, plugin, legacy_id, registered, displayname,"
                       " avatar_url) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (mxid) DO UPDATE SET"
                       " plugin = excluded.plugin, legacy_id = excluded.legacy_id,"
                       " registered = excluded.registered, displayname = excluded.displayname,"
                       " avatar_url = excluded.avatar_url",
                       "tttitt", mxid, plugin, legacy_id, registered ? 1 : 0, displayname,
                       avatar_url);
}

gint64
pa_store_ghost_count (PaStore *store)
{
  g_return_val_if_fail (store != NULL, -1);
  return pa_store_count (store, "SELECT count(*) FROM ghosts", NULL);
}
