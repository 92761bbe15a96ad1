/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Unit tests for pa_store_stats (src/store/pa-store-stats.c): the depth and
 * head of each queue, live and import lanes apart, and the import jobs
 * counted by plugin and state. */
#include "pa-common.h"
#include "store/pa-store.h"

#include <glib/gstdio.h>

static void
test_stats (void)
{
  g_autofree char *dir = g_dir_make_tmp ("pa-store-stats-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "s.db", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (PaStore) store = pa_store_open (path, &error);
  PaStoreStats st;
  gboolean dup = FALSE;
  gint64 first;

  g_assert_no_error (error);
  g_assert_true (pa_store_stats (store, &st, &error));
  g_assert_no_error (error);
  g_assert_cmpint (st.inbound.depth, ==, 0);
  g_assert_cmpint (st.inbound.head_seq, ==, -1);
  g_assert_cmpint (st.outbound.head_seq, ==, -1);
  g_assert_cmpuint (json_array_size (st.import_jobs), ==, 0);
  json_decref (st.import_jobs);

  {
    g_autoptr (json_t) events = json_pack ("[{s:s}, {s:s}]", "type", "a", "type", "b");
    g_assert_true (pa_store_txn_accept (store, "t1", events, &dup, &error));
  }
  first = pa_store_remote_add (store, "loopback-x", NULL, "{}", &dup, &error);
  g_assert_cmpint (first, >, 0);
  g_assert_cmpint (pa_store_remote_add (store, "loopback-x", NULL, "{}", &dup, &error), >, 0);
  g_assert_cmpint (pa_store_remote_add (store, "import:j1", NULL, "{}", &dup, &error), >, 0);
  {
    PaOutboundItem it
        = { .txn_id = "x1", .queue_key = "!r", .method = "PUT", .path = "/p", .body = "{}" };
    g_assert_cmpint (pa_store_outbound_add (store, &it, &dup, &error), >, 0);
  }
  for (guint i = 0; i < 3; i++)
    {
      g_autofree char *id = g_strdup_printf ("j%u", i);
      g_autoptr (json_t) job
          = json_pack ("{s:s, s:s, s:s, s:s, s:s}", "id", id, "owner", "@a:b", "plugin", "loopback",
                       "path", "/x", "state", i == 0 ? "sending" : "done");
      g_assert_true (pa_store_job_put (store, job, &error));
      g_assert_no_error (error);
    }

  g_assert_true (pa_store_stats (store, &st, &error));
  g_assert_no_error (error);
  g_assert_cmpint (st.inbound.depth, ==, 2);
  g_assert_cmpint (st.inbound.head_seq, >=, 1);
  g_assert_cmpint (st.remote_live.depth, ==, 2);
  g_assert_cmpint (st.remote_live.head_seq, ==, first);
  g_assert_cmpint (st.remote_import.depth, ==, 1);
  g_assert_cmpint (st.outbound.depth, ==, 1);
  g_assert_cmpuint (json_array_size (st.import_jobs), ==, 2);
  {
    g_autofree char *text = json_dumps (st.import_jobs, JSON_COMPACT | JSON_SORT_KEYS);
    g_assert_cmpstr (text, ==,
                     "[{\"count\":2,\"plugin\":\"loopback\",\"state\":\"done\"},"
                     "{\"count\":1,\"plugin\":\"loopback\",\"state\":\"sending\"}]");
  }
  json_decref (st.import_jobs);
  g_assert_true (pa_store_remote_done (store, first, &error));
  g_assert_true (pa_store_stats (store, &st, &error));
  g_assert_cmpint (st.remote_live.depth, ==, 1);
  g_assert_cmpint (st.remote_live.head_seq, >, first);
  json_decref (st.import_jobs);

  g_clear_pointer (&store, pa_store_close);
  g_autofree char *wal = g_strconcat (path, "-wal", NULL);
  g_autofree char *shm = g_strconcat (path, "-shm", NULL);
  g_unlink (wal);
  g_unlink (shm);
  g_unlink (path);
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/store/stats", test_stats);
  return g_test_run ();
}
