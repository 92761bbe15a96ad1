/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* History import, one job: its row (state, options, summary) saved to
 * the store, notices to its agent, the rows of its lane.  The bottom of
 * the import files, which share the job struct (pa-import-job.h). */
#define G_LOG_DOMAIN "passerelle-import"

#include "pa-import-job.h"

#include "pa-import-purge.h"
#include "pa-plugins.h"
#include "pa-portal.h"

#include <glib/gstdio.h>

static const char *
str (json_t *o, const char *key)
{
  return json_string_value (json_object_get (o, key));
}

json_t *
pa_import_job_opt (PaImportJob *j)
{
  return json_object_get (j->row, "options");
}
const char *
pa_import_job_display_suffix (PaImportJob *job)
{
  PaPluginInfo *info = pa_plugin_info (job->b, job->account->plugin);
  return info ? info->display_name : job->account->plugin;
}
void
pa_import_job_save (PaImportJob *j)
{
  g_autoptr (GError) e = NULL;
  if (!pa_store_job_put (j->b->store, j->row, &e))
    g_warning ("import %s: %s", j->id, e->message);
}
void
pa_import_job_set_state (PaImportJob *j, const char *state, const char *error)
{
  json_object_set_new (j->row, "state", json_string (state));
  if (error)
    json_object_set_new (j->row, "error", json_string (error));
  pa_import_job_save (j);
  g_message ("import %s: %s%s%s", j->id, state, error ? ": " : "", error ? error : "");
}
json_t *
pa_import_job_summary (PaImportJob *j)
{
  json_t *s = json_object_get (j->row, "summary");
  if (!json_is_object (s))
    {
      s = json_pack ("{s:i, s:i, s:i, s:[], s:{}, s:[]}", "messages", 0, "media", 0, "notices", 0,
                     "chats", "senders", "importer_notes");
      json_object_set_new (j->row, "summary", s);
    }
  return s;
}
void
pa_import_job_chats_reset (PaImportJob *j)
{
  g_clear_pointer (&j->chats, g_hash_table_destroy);
  g_clear_pointer (&j->anchors, g_hash_table_destroy);
}
json_t *
pa_import_job_chat (PaImportJob *j, const char *chat_id, gboolean create)
{
  json_t *chats = json_object_get (pa_import_job_summary (j), "chats");
  if (j->chats == NULL)
    {
      /* Built from the summary: after a restart the row is all there is. */
      j->chats = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
      size_t i;
      json_t *c;
      json_array_foreach (chats, i, c)
        if (str (c, "id"))
          g_hash_table_insert (j->chats, g_strdup (str (c, "id")), c);
    }
  if (chat_id == NULL)
    return NULL;
  json_t *c = g_hash_table_lookup (j->chats, chat_id);
  if (c != NULL || !create)
    return c;
  c = json_pack ("{s:s, s:i}", "id", chat_id, "messages", 0);
  json_array_append_new (chats, c);
  g_hash_table_insert (j->chats, g_strdup (chat_id), c);
  return c;
}
void
pa_import_job_remove_files (PaImportJob *j)
{
  pa_import_purge_remove_dir (j->b, j->account->id);
  /* An export the agent uploaded (data_dir/uploads/<digest>/<name>). */
  g_autofree char *uploads = g_build_filename (j->b->config->data_dir, "uploads", NULL);
  g_autofree char *dir = g_path_get_dirname (str (j->row, "path"));
  g_autofree char *parent = g_path_get_dirname (dir);
  if (g_strcmp0 (parent, uploads) == 0)
    {
      g_unlink (str (j->row, "path"));
      g_rmdir (dir);
    }
}
void
pa_import_job_notify (PaImportJob *j, const char *text)
{
  pa_portal_notify_owner (j->b, str (j->row, "owner"), text);
}
void
pa_import_job_delete_lane_rows (PaImportJob *j)
{
  pa_import_purge_start (j->b, j->account->id);
  /* Run again, the job starts over: its exported messages must find the
   * live ones they matched this time. */
  g_autoptr (GError) e = NULL;
  if (!pa_store_fingerprint_forget_job (j->b->store, j->account->id, &e))
    g_warning ("import %s: %s", j->id, e->message);
  /* An export the agent uploaded goes too: nothing of a refused or
   * cancelled import is kept (the work directory goes once the lane is
   * purged). */
  pa_import_job_remove_files (j);
}
