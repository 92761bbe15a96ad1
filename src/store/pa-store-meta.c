/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Opaque plugin metadata per login and scope: the plugin's own state,
 * handed back to its worker in the init frame. */
#define G_LOG_DOMAIN "passerelle-store"

#include "pa-store-private.h"

/* A NULL value deletes the entry. */
gboolean
pa_store_meta_set (PaStore *store, const char *login_id, int scope, const char *id,
                   const char *value, GError **error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (login_id != NULL && id != NULL, FALSE);

  if (value == NULL)
    return pa_store_run (store, error,
                         "DELETE FROM meta WHERE login_id = ? AND scope = ? AND id = ?", "tit",
                         login_id, scope, id);
  return pa_store_run (store, error,
                       "INSERT INTO meta (login_id, scope, id, value) VALUES (?, ?, ?, ?)"
                       " ON CONFLICT (login_id, scope, id) DO UPDATE SET value = excluded.value",
                       "titt", login_id, scope, id, value);
}

char *
pa_store_meta_get (PaStore *store, const char *login_id, int scope, const char *id)
{
  g_return_val_if_fail (store != NULL, NULL);
  g_return_val_if_fail (login_id != NULL && id != NULL, NULL);
  return pa_store_lookup_text (store,
                               "SELECT value FROM meta WHERE login_id = ? AND scope = ? AND id = ?",
                               "tit", login_id, scope, id);
}
json_t *
pa_store_meta_list (PaStore *store, const char *login_id)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PaStoreStmt) stmt = NULL;
  json_t *result = json_array ();
  PaDbStep rc = PA_DB_ERROR;

  g_return_val_if_fail (store != NULL && login_id != NULL, result);

  stmt = pa_store_stmt (store, &error,
                        "SELECT scope, id, value FROM meta WHERE login_id = ? ORDER BY scope, id",
                        "t", login_id);
  if (stmt != NULL)
    while ((rc = pa_store_step (store, stmt, &error)) == PA_DB_ROW)
      json_array_append_new (result,
                             json_pack ("{s:i, s:s, s:s}", "scope", (int) pa_db_column_int64 (stmt, 0),
                                        "id", pa_db_column_text (stmt, 1), "value",
                                        pa_db_column_text (stmt, 2)));
  if (rc != PA_DB_DONE)
    {
      pa_store_log_lookup_error (error);
      json_array_clear (result);
    }
  return result;
}
