/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Portals: which Matrix room bridges which (plugin, login, chat), in both
 * directions.  A shared group portal is the row of (plugin, '', chat), and
 * portal_logins says which logins are in it; a login's own row (a DM, or a
 * group room from before shared portals) comes first when both exist. */
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
portal_from_row (PaStoreStmt *stmt)
{
  PaPortalRow *row = g_new0 (PaPortalRow, 1);

  row->plugin = pa_store_column_strdup (stmt, 0);
  row->login_id = pa_store_column_strdup (stmt, 1);
  row->chat_id = pa_store_column_strdup (stmt, 2);
  row->room_id = pa_store_column_strdup (stmt, 3);
  row->kind = pa_store_column_strdup (stmt, 4);
  row->name = pa_store_column_strdup (stmt, 5);
  row->encrypted = (int) pa_db_column_int64 (stmt, 6) != 0;
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
  if (stmt == NULL || pa_store_step (store, stmt, &error) != PA_DB_ROW)
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
  if (stmt == NULL || pa_store_step (store, stmt, &error) != PA_DB_ROW)
    {
      pa_store_log_lookup_error (error);
      return NULL;
    }
  return portal_from_row (stmt);
}

/* The login's own portal of the chat, else the chat's shared portal, or
 * NULL (transfer full). */
PaPortalRow *
pa_store_portal_find (PaStore *store, const char *plugin, const char *login_id, const char *chat_id)
{
  PaPortalRow *row = pa_store_portal_get (store, plugin, login_id, chat_id);

  if (row == NULL && login_id != NULL && login_id[0] != '\0')
    row = pa_store_portal_get (store, plugin, PA_STORE_SHARED_LOGIN, chat_id);
  return row;
}

/* Deleting a room no portal has is not an error. */
gboolean
pa_store_portal_delete (PaStore *store, const char *room_id, GError **error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (room_id != NULL, FALSE);
  if (!pa_store_tx_begin (store, error))
    return FALSE;
  if (!pa_store_run (store, error, "DELETE FROM portal_logins WHERE room_id = ?", "t", room_id)
      || !pa_store_run (store, error, "DELETE FROM portals WHERE room_id = ?", "t", room_id)
      /* its live fingerprints (pa-store-fingerprints.c), keyed by a hash */
      || !pa_store_run (store, error, "DELETE FROM live_fingerprints WHERE room = ?", "I",
                        pa_store_hash64 (room_id))
      || !pa_store_run (store, error, "DELETE FROM live_claims WHERE room = ?", "I",
                        pa_store_hash64 (room_id)))
    {
      pa_store_tx_rollback (store);
      return FALSE;
    }
  return pa_store_tx_commit (store, error);
}

/* ------------------------------------------------------- portal logins */

/* Records that login_id is in the shared portal room_id.  *out_new (may be
 * NULL) tells whether it was not recorded yet. */
gboolean
pa_store_portal_login_add (PaStore *store, const char *room_id, const char *login_id,
                           gboolean *out_new, GError **error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (room_id != NULL && login_id != NULL, FALSE);

  if (out_new != NULL)
    *out_new = FALSE;
  if (!pa_store_run (store, error,
                     "INSERT INTO portal_logins (room_id, login_id, since) VALUES (?, ?, ?)"
                     " ON CONFLICT DO NOTHING",
                     "ttI", room_id, login_id, pa_now_ms ()))
    return FALSE;
  if (out_new != NULL)
    *out_new = pa_db_changes (store->db) > 0;
  return TRUE;
}

/* Forgetting a login that is not there is not an error. */
gboolean
pa_store_portal_login_remove (PaStore *store, const char *room_id, const char *login_id,
                              GError **error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (room_id != NULL && login_id != NULL, FALSE);
  return pa_store_run (store, error, "DELETE FROM portal_logins WHERE room_id = ? AND login_id = ?",
                       "tt", room_id, login_id);
}

/* The logins of the shared portal room_id, first in first (transfer full,
 * NULL-terminated; empty when none). */
char **
pa_store_portal_logins (PaStore *store, const char *room_id)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PaStoreStmt) stmt = NULL;
  g_autoptr (GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);

  g_return_val_if_fail (store != NULL, NULL);
  g_return_val_if_fail (room_id != NULL, NULL);

  stmt = pa_store_stmt (store, &error,
                        "SELECT login_id FROM portal_logins WHERE room_id = ?"
                        " ORDER BY since, login_id",
                        "t", room_id);
  if (stmt != NULL)
    while (pa_store_step (store, stmt, &error) == PA_DB_ROW)
      g_ptr_array_add (ids, pa_store_column_strdup (stmt, 0));
  pa_store_log_lookup_error (error);
  g_ptr_array_add (ids, NULL);
  return (char **) g_ptr_array_free (g_steal_pointer (&ids), FALSE);
}

/* ----------------------------------------------------- shared messages */

/* A login delivers legacy message legacy_id of a shared group chat: records
 * it, and returns 1 when this login is the first to have delivered it (it
 * bridges the message; a replay by the same login still gets 1), 0 when
 * another login was first (a copy: not bridged again), -1 on error. */
int
pa_store_shared_claim (PaStore *store, const char *plugin, const char *chat_id,
                       const char *legacy_id, const char *login_id, GError **error)
{
  g_autoptr (PaStoreStmt) stmt = NULL;
  g_autofree char *first = NULL;

  g_return_val_if_fail (store != NULL, -1);
  g_return_val_if_fail (plugin != NULL && chat_id != NULL, -1);
  g_return_val_if_fail (legacy_id != NULL && login_id != NULL, -1);

  if (!pa_store_run (store, error,
                     "INSERT INTO shared_messages (plugin, chat_id, legacy_id, login_id, at)"
                     " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                     "ttttI", plugin, chat_id, legacy_id, login_id, pa_now_ms ()))
    return -1;
  /* Insertion order: SQLite's rowid, the identity column seq that the
   * PostgreSQL schema gives the table in its place. */
  stmt = pa_store_stmt (store, error,
                        pa_db_backend (store->db) == PA_DB_SQLITE
                            ? "SELECT login_id FROM shared_messages"
                              " WHERE plugin = ? AND chat_id = ? AND legacy_id = ? ORDER BY rowid"
                              " LIMIT 1"
                            : "SELECT login_id FROM shared_messages"
                              " WHERE plugin = ? AND chat_id = ? AND legacy_id = ? ORDER BY seq"
                              " LIMIT 1",
                        "ttt", plugin, chat_id, legacy_id);
  if (stmt == NULL || pa_store_step (store, stmt, error) != PA_DB_ROW)
    return -1;
  first = pa_store_column_strdup (stmt, 0);
  return g_strcmp0 (first, login_id) == 0 ? 1 : 0;
}

gint64
pa_store_portal_count (PaStore *store)
{
  g_return_val_if_fail (store != NULL, -1);
  return pa_store_count (store, "SELECT count(*) FROM portals", NULL);
}
