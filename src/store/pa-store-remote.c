/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Remote (legacy) events from workers: stored before the worker is told
 * they are persisted, deduplicated by key across reconnects, and read in
 * two lanes: live logins, and each history import job on its own. */
#define G_LOG_DOMAIN "passerelle-store"

#include "pa-store-private.h"

/* ------------------------------------------------------------- remote */

/* Returns the new seq, 0 for a duplicate (*out_duplicate set), -1 on
 * error.  A key stays known after pa_store_remote_done() for a week. */
gint64
pa_store_remote_add (PaStore *store, const char *login_id, const char *dedup_key,
                     const char *event_json, gboolean *out_duplicate, GError **error)
{
  gint64 seq = -1;

  g_return_val_if_fail (store != NULL, -1);
  g_return_val_if_fail (login_id != NULL, -1);
  g_return_val_if_fail (event_json != NULL, -1);

  if (out_duplicate != NULL)
    *out_duplicate = FALSE;
  /* peek hands these back as JSON strings, which must be UTF-8 */
  if (!g_utf8_validate (login_id, -1, NULL) || !g_utf8_validate (event_json, -1, NULL))
    {
      g_set_error_literal (error, PA_ERROR, PA_ERROR_JSON,
                           "remote event or login id is not valid UTF-8");
      return -1;
    }
  /* One statement: a key already bridged or already queued is a duplicate. */
  g_autoptr (PaStoreStmt) insert
      = pa_store_stmt (store, error,
                       "INSERT INTO remote (login_id, dedup_key, event, lane)"
                       " SELECT ?, ?, ?, CASE WHEN substr (?, 1, 7) = 'import:' THEN 1 ELSE 0 END"
                       " WHERE NOT EXISTS (SELECT 1 FROM remote_seen WHERE dedup_key = ?)"
                       " ON CONFLICT (dedup_key) DO NOTHING RETURNING seq",
                       "ttttt", login_id, dedup_key, event_json, login_id, dedup_key);
  PaDbStep rc = insert != NULL ? pa_store_step (store, insert, error) : PA_DB_ERROR;

  if (rc == PA_DB_ERROR)
    return -1;
  if (rc == PA_DB_DONE)
    {
      if (out_duplicate != NULL)
        *out_duplicate = TRUE;
      return 0;
    }
  seq = pa_db_column_int64 (insert, 0);
  return seq;
}

/* Rows of a remote peek statement as [{seq, login_id, event}]. */
static json_t *
remote_rows (PaStore *store, PaStoreStmt *stmt, GError **error)
{
  g_autoptr (json_t) result = json_array ();
  PaDbStep rc;

  while ((rc = pa_store_step (store, stmt, error)) == PA_DB_ROW)
    {
      gint64 seq = pa_db_column_int64 (stmt, 0);
      json_t *entry = json_pack ("{s:I, s:s, s:s}", "seq", (json_int_t) seq, "login_id",
                                 pa_db_column_text (stmt, 1), "event",
                                 pa_db_column_text (stmt, 2));

      /* only reachable with rows written by something else than remote_add */
      if (entry == NULL)
        {
          g_set_error (error, PA_ERROR, PA_ERROR_JSON,
                       "remote event %" G_GINT64_FORMAT " is not valid UTF-8", seq);
          return NULL;
        }
      json_array_append_new (result, entry);
    }
  if (rc != PA_DB_DONE)
    return NULL;
  return g_steal_pointer (&result);
}

json_t *
pa_store_remote_peek (PaStore *store, guint limit, GError **error)
{
  g_return_val_if_fail (store != NULL, NULL);

  g_autoptr (PaStoreStmt) stmt = pa_store_stmt (
      store, error, "SELECT seq, login_id, event FROM remote WHERE lane = 0 ORDER BY seq LIMIT ?",
      "I", (gint64) limit);
  return stmt ? remote_rows (store, stmt, error) : NULL;
}

/* Deletes the event and remembers its dedup key. */
gboolean
pa_store_remote_done (PaStore *store, gint64 seq, GError **error)
{
  g_return_val_if_fail (store != NULL, FALSE);

  if (!pa_store_tx_begin (store, error))
    return FALSE;
  if (!pa_store_run (store, error,
                     "INSERT INTO remote_seen (dedup_key, at)"
                     " SELECT dedup_key, CAST (? AS BIGINT) FROM remote"
                     " WHERE seq = ? AND dedup_key IS NOT NULL ON CONFLICT DO NOTHING",
                     "II", pa_now_ms (), seq)
      || !pa_store_run (store, error, "DELETE FROM remote WHERE seq = ?", "I", seq))
    {
      pa_store_tx_rollback (store);
      return FALSE;
    }
  return pa_store_tx_commit (store, error);
}

gint64
pa_store_remote_count (PaStore *store)
{
  g_return_val_if_fail (store != NULL, -1);
  return pa_store_count (store, "SELECT count(*) FROM remote", NULL);
}
/* ------------------------------------------------------- import lanes */

json_t *
pa_store_remote_peek_import (PaStore *store, const char *login_id, guint limit, GError **error)
{
  g_return_val_if_fail (store != NULL && login_id != NULL, NULL);

  g_autoptr (PaStoreStmt) stmt = pa_store_stmt (
      store, error,
      "SELECT seq, login_id, event FROM remote WHERE lane = 1 AND login_id = ? ORDER BY seq"
      " LIMIT ?",
      "tI", login_id, (gint64) limit);
  return stmt ? remote_rows (store, stmt, error) : NULL;
}

gint64
pa_store_remote_count_login (PaStore *store, const char *login_id)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PaStoreStmt) stmt = pa_store_stmt (
      store, &error, "SELECT count(*) FROM remote WHERE login_id = ?", "t", login_id);
  if (stmt == NULL || pa_store_step (store, stmt, &error) != PA_DB_ROW)
    return -1;
  return pa_db_column_int64 (stmt, 0);
}
