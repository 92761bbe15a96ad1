/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The message map: (plugin, login, chat, legacy id) <-> (room, event id),
 * for replies, edits, redactions and import progress.  The first mapping of
 * an id wins. */
#define G_LOG_DOMAIN "passerelle-store"

#include "pa-store-private.h"

/* ----------------------------------------------------------- messages */

/* A legacy id (or event id) already mapped keeps its first mapping: the
 * second put is a successful no-op. */
gboolean
pa_store_message_put (PaStore *store, const char *plugin, const char *login_id, const char *chat_id,
                      const char *legacy_id, const char *room_id, const char *event_id,
                      const char *sender, gint64 ts, GError **error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (plugin != NULL && login_id != NULL && chat_id != NULL, FALSE);
  g_return_val_if_fail (legacy_id != NULL && room_id != NULL && event_id != NULL, FALSE);

  return pa_store_run (store, error,
                       "INSERT INTO messages (plugin, login_id, chat_id, legacy_id, room_id,"
                       " event_id, sender, ts) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                       " ON CONFLICT DO NOTHING",
                       "tttttttI", plugin, login_id, chat_id, legacy_id, room_id, event_id, sender,
                       ts);
}

char *
pa_store_message_event_id (PaStore *store, const char *plugin, const char *login_id,
                           const char *chat_id, const char *legacy_id)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PaStoreStmt) stmt = NULL;

  g_return_val_if_fail (store != NULL, NULL);
  g_return_val_if_fail (plugin != NULL && login_id != NULL, NULL);
  g_return_val_if_fail (chat_id != NULL && legacy_id != NULL, NULL);

  stmt = pa_store_stmt (store, &error,
                        "SELECT event_id FROM messages"
                        " WHERE plugin = ? AND login_id = ? AND chat_id = ? AND legacy_id = ?",
                        "tttt", plugin, login_id, chat_id, legacy_id);
  if (stmt == NULL || pa_store_step (store, stmt, &error) != PA_DB_ROW)
    {
      pa_store_log_lookup_error (error);
      return NULL;
    }
  return pa_store_column_strdup (stmt, 0);
}

char *
pa_store_message_legacy_id (PaStore *store, const char *room_id, const char *event_id,
                            char **out_chat_id)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PaStoreStmt) stmt = NULL;

  if (out_chat_id != NULL)
    *out_chat_id = NULL;
  g_return_val_if_fail (store != NULL, NULL);
  g_return_val_if_fail (room_id != NULL && event_id != NULL, NULL);

  stmt = pa_store_stmt (
      store, &error, "SELECT legacy_id, chat_id FROM messages WHERE room_id = ? AND event_id = ?",
      "tt", room_id, event_id);
  if (stmt == NULL || pa_store_step (store, stmt, &error) != PA_DB_ROW)
    {
      pa_store_log_lookup_error (error);
      return NULL;
    }
  if (out_chat_id != NULL)
    *out_chat_id = pa_store_column_strdup (stmt, 1);
  return pa_store_column_strdup (stmt, 0);
}

/* See pa-store.h.  substr() rather than LIKE: legacy ids may hold % and _. */
json_t *
pa_store_message_list_prefix (PaStore *store, const char *plugin, const char *login_id,
                              const char *chat_id, const char *prefix)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PaStoreStmt) stmt = NULL;
  json_t *result = json_array ();
  PaDbStep rc = PA_DB_ERROR;

  g_return_val_if_fail (store != NULL && plugin != NULL && login_id != NULL, result);
  g_return_val_if_fail (chat_id != NULL && prefix != NULL, result);

  stmt = pa_store_stmt (store, &error,
                        "SELECT legacy_id, event_id FROM messages"
                        " WHERE plugin = ? AND login_id = ? AND chat_id = ?"
                        " AND substr(legacy_id, 1, ?) = ? ORDER BY legacy_id",
                        "tttIt", plugin, login_id, chat_id, (gint64) strlen (prefix), prefix);
  if (stmt != NULL)
    while ((rc = pa_store_step (store, stmt, &error)) == PA_DB_ROW)
      json_array_append_new (result,
                             json_pack ("{s:s, s:s}", "legacy_id",
                                        pa_db_column_text (stmt, 0), "event_id",
                                        pa_db_column_text (stmt, 1)));
  if (rc != PA_DB_DONE)
    {
      pa_store_log_lookup_error (error);
      json_array_clear (result);
    }
  return result;
}

/* See pa-store.h. */
gboolean
pa_store_message_forget (PaStore *store, const char *plugin, const char *login_id,
                         const char *chat_id, const char *legacy_id, GError **error)
{
  g_return_val_if_fail (store != NULL && plugin != NULL && login_id != NULL, FALSE);
  g_return_val_if_fail (chat_id != NULL && legacy_id != NULL, FALSE);
  return pa_store_run (store, error,
                       "DELETE FROM messages"
                       " WHERE plugin = ? AND login_id = ? AND chat_id = ? AND legacy_id = ?",
                       "tttt", plugin, login_id, chat_id, legacy_id);
}

gint64
pa_store_message_count_in_room (PaStore *store, const char *room_id)
{
  g_return_val_if_fail (store != NULL, -1);
  g_return_val_if_fail (room_id != NULL, -1);
  return pa_store_count (store, "SELECT count(*) FROM messages WHERE room_id = ?", room_id);
}
gint64
pa_store_message_count_login (PaStore *store, const char *plugin, const char *login_id)
{
  g_autoptr (GError) error = NULL;
  /* (plugin, login_id) is a prefix of the message map's unique index. */
  g_autoptr (PaStoreStmt) stmt = pa_store_stmt (
      store, &error, "SELECT count(*) FROM messages WHERE plugin = ? AND login_id = ?", "tt",
      plugin, login_id);
  if (stmt == NULL || pa_store_step (store, stmt, &error) != PA_DB_ROW)
    return -1;
  return pa_db_column_int64 (stmt, 0);
}
