/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Logins: an agent's accounts on the legacy networks (owner, plugin,
 * remote identity, state), read back at start to resume the workers. */
#define G_LOG_DOMAIN "passerelle-store"

#include "pa-store-private.h"

/* ------------------------------------------------------------- logins */

void
pa_login_row_free (PaLoginRow *row)
{
  if (row == NULL)
    return;
  g_free (row->id);
  g_free (row->owner);
  g_free (row->plugin);
  g_free (row->remote_id);
  g_free (row->remote_name);
  g_free (row->state);
  g_free (row);
}

/* Upsert by id. */
gboolean
pa_store_login_put (PaStore *store, const PaLoginRow *row, GError **error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (row != NULL, FALSE);
  g_return_val_if_fail (row->id != NULL && row->owner != NULL && row->plugin != NULL, FALSE);

  return pa_store_run (store, error,
                       "INSERT INTO logins (id, owner, plugin, remote_id, remote_name, state)"
                       " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET"
                       " owner = excluded.owner, plugin = excluded.plugin,"
                       " remote_id = excluded.remote_id, remote_name = excluded.remote_name,"
                       " state = excluded.state",
                       "tttttt", row->id, row->owner, row->plugin, row->remote_id, row->remote_name,
                       row->state != NULL ? row->state : "new");
}

#define LOGIN_COLUMNS "SELECT id, owner, plugin, remote_id, remote_name, state FROM logins"

static PaLoginRow *
login_from_row (PaStoreStmt *stmt)
{
  PaLoginRow *row = g_new0 (PaLoginRow, 1);

  row->id = pa_store_column_strdup (stmt, 0);
  row->owner = pa_store_column_strdup (stmt, 1);
  row->plugin = pa_store_column_strdup (stmt, 2);
  row->remote_id = pa_store_column_strdup (stmt, 3);
  row->remote_name = pa_store_column_strdup (stmt, 4);
  row->state = pa_store_column_strdup (stmt, 5);
  return row;
}

PaLoginRow *
pa_store_login_get (PaStore *store, const char *id)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PaStoreStmt) stmt = NULL;

  g_return_val_if_fail (store != NULL, NULL);
  g_return_val_if_fail (id != NULL, NULL);

  stmt = pa_store_stmt (store, &error, LOGIN_COLUMNS " WHERE id = ?", "t", id);
  if (stmt == NULL || pa_store_step (store, stmt, &error) != PA_DB_ROW)
    {
      pa_store_log_lookup_error (error);
      return NULL;
    }
  return login_from_row (stmt);
}

/* Sorted by id.  On a database error the list is empty (and logged). */
GPtrArray *
pa_store_login_list (PaStore *store, const char *owner)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PaStoreStmt) stmt = NULL;
  GPtrArray *result = g_ptr_array_new_with_free_func ((GDestroyNotify) pa_login_row_free);
  PaDbStep rc = PA_DB_ERROR;

  g_return_val_if_fail (store != NULL, result);

  if (owner != NULL)
    stmt = pa_store_stmt (store, &error, LOGIN_COLUMNS " WHERE owner = ? ORDER BY id", "t", owner);
  else
    stmt = pa_store_stmt (store, &error, LOGIN_COLUMNS " ORDER BY id", "");
  if (stmt != NULL)
    while ((rc = pa_store_step (store, stmt, &error)) == PA_DB_ROW)
      g_ptr_array_add (result, login_from_row (stmt));
  if (rc != PA_DB_DONE)
    {
      pa_store_log_lookup_error (error);
      g_ptr_array_set_size (result, 0);
    }
  return result;
}

/* Deleting an unknown login is not an error.  The login's plugin metadata
 * is left alone: the caller decides whether a logout forgets it.  The
 * login leaves the shared portals it was in (nothing sends through it
 * there any more). */
gboolean
pa_store_login_delete (PaStore *store, const char *id, GError **error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (id != NULL, FALSE);
  if (!pa_store_tx_begin (store, error))
    return FALSE;
  if (!pa_store_run (store, error, "DELETE FROM portal_logins WHERE login_id = ?", "t", id)
      || !pa_store_run (store, error, "DELETE FROM logins WHERE id = ?", "t", id))
    {
      pa_store_tx_rollback (store);
      return FALSE;
    }
  return pa_store_tx_commit (store, error);
}
