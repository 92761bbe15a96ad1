/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Portals: which Matrix room bridges which (plugin, login, chat), in both
 * directions. */
#define G_LOG_DOMAIN "passerelle-store"

#include "pa-store-private.h"

/* ------------------------------------------------------------ portals */

void
pa_portal_row_free (PaPortalRow *row)
{
  if (row == NULL)
    return;
  g_free (row->plugin);
  g_free (row->login_id);
  g_free (row->chat_id);
  g_free (row->room_id);
  g_free (row->kind);
  g_free (row->name);
  g_free (row);
}

/* Fails (PA_ERROR_STORE) if row->room_id already belongs to another portal. */
gboolean
pa_store_portal_put (PaStore *store, const PaPortalRow *row, GError **error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (row != NULL, FALSE);
  g_return_val_if_fail (row->plugin != NULL && row->login_id != NULL && row->chat_id != NULL,
                        FALSE);

  return pa_store_run (store, error,
                       "INSERT INTO portals (plugin, login_id, chat_id, room_id, kind, name,"
                       " encrypted) VALUES (?, ?, ?, ?, ?, ?, ?)"
                       " ON CONFLICT (plugin, login_id, chat_id) DO UPDATE SET"
                       " room_id = excluded.room_id, kind = excluded.kind, name = excluded.name,"
                       " encrypted = excluded.encrypted",
                       "tttttti", row->plugin, row->login_id, row->chat_id, row->room_id, row->kind,
                       row->name, row->encrypted ? 1 : 0);
}

static PaPortalRow *
portal_from_row (sqlite3_stmt *stmt)
{
  PaPortalRow *row = g_new0 (PaPortalRow, 1);

  row->plugin = pa_store_column_strdup (stmt, 0);
  row->login_id = pa_store_column_strdup (stmt, 1);
  row->chat_id = pa_store_column_strdup (stmt, 2);
  row->room_id = pa_store_column_strdup (stmt, 3);
  row->kind = pa_store_column_strdup (stmt, 4);
  row->name = pa_store_column_strdup (stmt, 5);
  row->encrypted = sqlite3_column_int (stmt, 6) != 0;
  return row;
}

#define PORTAL_COLUMNS "SELECT plugin, login_id, chat_id, room_id, kind, name, encrypted"

/* The portal, or NULL (transfer full). */
PaPortalRow *
pa_store_portal_get (PaStore *store, const char *plugin, const char *login_id, const char *chat_id)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PaStoreStmt) stmt = NULL;

  g_return_val_if_fail (store != NULL, NULL);
  g_return_val_if_fail (plugin != NULL && login_id != NULL && chat_id != NULL, NULL);

  stmt = pa_store_stmt (store, &error,
                        PORTAL_COLUMNS " FROM portals"
                                       " WHERE plugin = ? AND login_id = ? AND chat_id = ?",
                        "ttt", plugin, login_id, chat_id);
  if (stmt == NULL || pa_store_step (store, stmt, &error) != SQLITE_ROW)
    {
      pa_store_log_lookup_error (error);
      return NULL;
    }
  return portal_from_row (stmt);
}

/* The portal bridged to room_id, or NULL (transfer full). */
PaPortalRow *
pa_store_portal_by_room (PaStore *store, const char *room_id)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PaStoreStmt) stmt = NULL;

  g_return_val_if_fail (store != NULL, NULL);
  g_return_val_if_fail (room_id != NULL, NULL);

  stmt = pa_store_stmt (store, &error, PORTAL_COLUMNS " FROM portals WHERE room_id = ?", "t",
                        room_id);
  if (stmt == NULL || pa_store_step (store, stmt, &error) != SQLITE_ROW)
    {
      pa_store_log_lookup_error (error);
      return NULL;
    }
  return portal_from_row (stmt);
}

/* Deleting a room no portal has is not an error. */
gboolean
pa_store_portal_delete (PaStore *store, const char *room_id, GError **error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (room_id != NULL, FALSE);
  return pa_store_run (store, error, "DELETE FROM portals WHERE room_id = ?", "t", room_id);
}

gint64
pa_store_portal_count (PaStore *store)
{
  g_return_val_if_fail (store != NULL, -1);
  return pa_store_count (store, "SELECT count(*) FROM portals", NULL);
}
