/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* History import jobs: their options, state and summary as JSON, so a job
 * survives a restart and `passerelle import` can resume or report it. */
#define G_LOG_DOMAIN "passerelle-store"

#include "pa-store-private.h"

/* ------------------------------------------------------- import jobs */

gboolean
pa_store_job_put (PaStore *store, json_t *job, GError **error)
{
  g_return_val_if_fail (store != NULL && json_is_object (job), FALSE);
#define JS(k) json_string_value (json_object_get (job, k))
  g_autofree char *options = json_dumps (json_object_get (job, "options"), JSON_COMPACT);
  g_autofree char *summary = json_object_get (job, "summary")
                                 ? json_dumps (json_object_get (job, "summary"), JSON_COMPACT)
                                 : NULL;
  gint64 now = g_get_real_time () / 1000;
  if (JS ("id") == NULL || JS ("owner") == NULL || JS ("plugin") == NULL || JS ("path") == NULL
      || JS ("state") == NULL)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_FAILED, "import job without id/owner/plugin/state");
      return FALSE;
    }
  return pa_store_run (store, error,
                       "INSERT INTO import_jobs (id, owner, plugin, path, options, state, room_id,"
                       " total, summary, error, created_at, updated_at)"
                       " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                       " ON CONFLICT (id) DO UPDATE SET state = excluded.state,"
                       " room_id = excluded.room_id, total = excluded.total,"
                       " summary = excluded.summary, error = excluded.error,"
                       " options = excluded.options, updated_at = excluded.updated_at",
                       "ttttttt"
                       "I"
                       "tt"
                       "II",
                       JS ("id"), JS ("owner"), JS ("plugin"), JS ("path"),
                       options ? options : "{}", JS ("state"), JS ("room_id"),
                       (gint64) json_integer_value (json_object_get (job, "total")), summary,
                       JS ("error"), now, now);
#undef JS
}

static json_t *
job_from_row (PaStoreStmt *stmt)
{
  json_t *job = json_object ();
  static const char *const cols[]
      = { "id",      "owner", "plugin",  "path",  "options",    "state",
          "room_id", "total", "summary", "error", "created_at", "updated_at" };
  for (int i = 0; i < (int) G_N_ELEMENTS (cols); i++)
    {
      PaDbType type = pa_db_column_type (stmt, i);
      if (type == PA_DB_NULL)
        continue;
      if (type == PA_DB_INTEGER)
        json_object_set_new (job, cols[i], json_integer (pa_db_column_int64 (stmt, i)));
      else if (g_str_equal (cols[i], "options") || g_str_equal (cols[i], "summary"))
        {
          json_t *v = json_loads (pa_db_column_text (stmt, i), 0, NULL);
          json_object_set_new (job, cols[i], v ? v : json_object ());
        }
      else
        json_object_set_new (job, cols[i],
                             json_string (pa_db_column_text (stmt, i)));
    }
  return job;
}

#define JOB_COLUMNS                                                                                \
  "SELECT id, owner, plugin, path, options, state, room_id, total, summary, error,"                \
  " created_at, updated_at FROM import_jobs"

json_t *
pa_store_job_get (PaStore *store, const char *id)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PaStoreStmt) stmt
      = pa_store_stmt (store, &error, JOB_COLUMNS " WHERE id = ?", "t", id);
  if (stmt == NULL || pa_store_step (store, stmt, &error) != PA_DB_ROW)
    return NULL;
  return job_from_row (stmt);
}

json_t *
pa_store_job_list_active (PaStore *store)
{
  g_autoptr (GError) error = NULL;
  json_t *result = json_array ();
  g_autoptr (PaStoreStmt) stmt = pa_store_stmt (store, &error,
                                                JOB_COLUMNS " WHERE state NOT IN ('done', 'failed')"
                                                            " ORDER BY created_at, id",
                                                "");
  PaDbStep rc = PA_DB_ERROR;
  if (stmt != NULL)
    while ((rc = pa_store_step (store, stmt, &error)) == PA_DB_ROW)
      json_array_append_new (result, job_from_row (stmt));
  return result;
}

/* ---------------------------------------------------- import identity */

char *
pa_store_import_chat_room (PaStore *store, const char *owner, const char *plugin,
                           const char *identity)
{
  g_return_val_if_fail (store != NULL && owner != NULL && plugin != NULL, NULL);
  if (identity == NULL)
    return NULL;
  return pa_store_lookup_text (store,
                               "SELECT room_id FROM import_chats"
                               " WHERE owner = ? AND plugin = ? AND identity = ?",
                               "ttt", owner, plugin, identity);
}

gboolean
pa_store_import_chat_put (PaStore *store, const char *owner, const char *plugin,
                          const char *identity, const char *room_id, const char *name,
                          GError **error)
{
  g_return_val_if_fail (store != NULL && owner != NULL && plugin != NULL, FALSE);
  g_return_val_if_fail (identity != NULL && room_id != NULL, FALSE);
  return pa_store_run (store, error,
                       "INSERT INTO import_chats (owner, plugin, identity, room_id, name, at)"
                       " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                       "tttttI", owner, plugin, identity, room_id, name,
                       g_get_real_time () / 1000);
}
