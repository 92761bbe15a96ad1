/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* History import cleanup in bounded steps (see pa-import-purge.h): a
 * timer deletes PA_IMPORT_PURGE_CHUNK rows of one lane per tick, removes
 * the lane's work directory when the lane is empty, then runs incremental
 * vacuum steps until the free pages are given back. */
#define G_LOG_DOMAIN "passerelle-import"

#include "pa-import-purge.h"

#include "pa-batch.h"

#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

void
pa_import_purge_remove_dir (PaBridge *b, const char *login_id)
{
  /* Ids are "import:<job id>": a plain name under the data dir. */
  if (strchr (login_id, '/') == NULL && g_str_has_prefix (login_id, "import:"))
    {
      g_autofree char *dir = g_build_filename (b->config->data_dir, login_id, NULL);
      pa_remove_tree (dir);
    }
}

static void
purge_lane_done (PaBridge *b, const char *login_id)
{
  pa_import_purge_remove_dir (b, login_id);
  g_message ("import lane %s removed", login_id);
}

static gboolean
purge_tick (gpointer data)
{
  PaBridge *b = data;
  GHashTableIter it;
  gpointer key;
  g_hash_table_iter_init (&it, b->import_purges);
  if (g_hash_table_iter_next (&it, &key, NULL))
    {
      g_autoptr (GError) error = NULL;
      gint64 n = pa_store_remote_purge_lane (b->store, key, PA_IMPORT_PURGE_CHUNK, &error);
      if (n < 0)
        {
          g_warning ("import lane %s: %s (retried)", (const char *) key, error->message);
          return G_SOURCE_CONTINUE;
        }
      if (n == 0)
        {
          purge_lane_done (b, key);
          g_hash_table_iter_remove (&it);
          b->import_vacuum = TRUE;
        }
      return G_SOURCE_CONTINUE;
    }
  if (b->import_vacuum)
    {
      /* Outside the batch's transaction, so the last step can checkpoint. */
      pa_batch_flush (b);
      if (pa_store_vacuum_step (b->store, PA_IMPORT_VACUUM_PAGES) > 0)
        return G_SOURCE_CONTINUE;
    }
  b->import_vacuum = FALSE;
  b->import_purge_timer = 0;
  return G_SOURCE_REMOVE;
}

void
pa_import_purge_start (PaBridge *b, const char *login_id)
{
  if (b->import_purges == NULL)
    b->import_purges = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_hash_table_add (b->import_purges, g_strdup (login_id));
  if (b->import_purge_timer == 0)
    b->import_purge_timer = g_timeout_add (PA_IMPORT_PURGE_PERIOD_MS, purge_tick, b);
}

void
pa_import_purge_resume (PaBridge *b)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (json_t) lanes = pa_store_remote_import_lanes (b->store, &error);
  if (lanes == NULL)
    {
      g_warning ("import lanes: %s", error->message);
      return;
    }
  g_autoptr (json_t) active = pa_store_job_list_active (b->store);
  size_t i, j;
  json_t *lane, *row;
  json_array_foreach (lanes, i, lane)
  {
    const char *id = json_string_value (lane);
    gboolean live = FALSE;
    json_array_foreach (active, j, row)
    {
      g_autofree char *job_lane
          = g_strdup_printf ("import:%s", json_string_value (json_object_get (row, "id")));
      if (g_strcmp0 (job_lane, id) == 0)
        live = TRUE;
    }
    if (!live && id != NULL)
      pa_import_purge_start (b, id);
  }
}

void
pa_import_purge_stop (PaBridge *b)
{
  if (b->import_purge_timer)
    g_source_remove (b->import_purge_timer);
  b->import_purge_timer = 0;
  g_clear_pointer (&b->import_purges, g_hash_table_destroy);
}
