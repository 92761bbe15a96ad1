/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Figures for the metrics (docs/metrics.md): the depth and head of each
 * durable queue and the import jobs by state, read at scrape time with one
 * aggregate query per queue.  Standard SQL only. */
#define G_LOG_DOMAIN "passerelle-store"

#include "pa-store-private.h"

/* One queue: `sql` returns count(*) and min(seq). */
static gboolean
queue_stat (PaStore *store, const char *sql, PaStoreQueueStat *out, GError **error)
{
  g_autoptr (PaStoreStmt) stmt = pa_store_stmt (store, error, sql, "");

  if (stmt == NULL || pa_store_step (store, stmt, error) != PA_DB_ROW)
    return FALSE;
  out->depth = pa_db_column_int64 (stmt, 0);
  out->head_seq = pa_db_column_type (stmt, 1) == PA_DB_NULL ? -1 : pa_db_column_int64 (stmt, 1);
  return TRUE;
}

/* pa_store_stats: see pa-store.h. */
gboolean
pa_store_stats (PaStore *store, PaStoreStats *out, GError **error)
{
  g_autoptr (PaStoreStmt) jobs = NULL;
  PaDbStep rc;

  g_return_val_if_fail (store != NULL && out != NULL, FALSE);
  memset (out, 0, sizeof *out);
  if (!queue_stat (store, "SELECT count(*), min(seq) FROM inbound", &out->inbound, error)
      || !queue_stat (store, "SELECT count(*), min(seq) FROM remote WHERE lane = 0",
                      &out->remote_live, error)
      || !queue_stat (store, "SELECT count(*), min(seq) FROM remote WHERE lane <> 0",
                      &out->remote_import, error)
      || !queue_stat (store, "SELECT count(*), min(seq) FROM outbound", &out->outbound, error))
    return FALSE;
  jobs = pa_store_stmt (
      store, error, "SELECT plugin, state, count(*) FROM import_jobs GROUP BY plugin, state", "");
  if (jobs == NULL)
    return FALSE;
  out->import_jobs = json_array ();
  while ((rc = pa_store_step (store, jobs, error)) == PA_DB_ROW)
    json_array_append_new (out->import_jobs,
                           json_pack ("{s:s?, s:s?, s:I}", "plugin", pa_db_column_text (jobs, 0),
                                      "state", pa_db_column_text (jobs, 1), "count",
                                      (json_int_t) pa_db_column_int64 (jobs, 2)));
  if (rc != PA_DB_DONE)
    {
      g_clear_pointer (&out->import_jobs, json_decref);
      return FALSE;
    }
  return TRUE;
}
