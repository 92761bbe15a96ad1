/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Unit tests for shared worker processes (src/host/pa-worker-process.c and
 * src/worker/pa-worker-logins.c) with the echo plugin: logins placed by
 * the pool, each with its own metadata, frames routed to their login only,
 * a kill -9 restarting exactly the logins of that process, a login leaving
 * while the others go on. */
#define G_LOG_DOMAIN "passerelle-test"

#include "host/pa-worker-process.h"
#include "pa-common.h"

#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>

#define WAIT_MS 8000
#define N_LOGINS 3

typedef struct
{
  PaWorker *w;
  char *id;
  char *dir;
  GQueue frames; /* json_t*, owned */
  guint hellos, exits;
  gboolean crashed, will_restart;
} Login;

static void
on_hello (PaWorker *w, json_t *hello, gpointer data)
{
  ((Login *) data)->hellos++;
}

static void
on_frame (PaWorker *w, json_t *frame, gpointer data)
{
  g_queue_push_tail (&((Login *) data)->frames, json_incref (frame));
}

static void
on_exited (PaWorker *w, gboolean crashed, gboolean will_restart, const char *reason, gpointer data)
{
  Login *l = data;
  l->exits++;
  l->crashed = crashed;
  l->will_restart = will_restart;
}

static const PaWorkerCallbacks callbacks = { on_hello, on_frame, on_exited };

static char *
build_path (const char *file)
{
  const char *root = g_getenv ("PA_BUILD_ROOT");
  g_assert_nonnull (root);
  return g_build_filename (root, "tests", "host", file, NULL);
}

static void
rm_rf (const char *path)
{
  if (g_file_test (path, G_FILE_TEST_IS_DIR) && !g_file_test (path, G_FILE_TEST_IS_SYMLINK))
    {
      g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
      const char *name;
      while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);
          rm_rf (child);
        }
      g_rmdir (path);
    }
  else
    g_unlink (path);
}

static gboolean
on_deadline (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

static gboolean
run_until (gboolean (*pred) (Login *l, guint n), Login *l, guint n)
{
  gboolean expired = FALSE;
  guint id = g_timeout_add (WAIT_MS, on_deadline, &expired);
  while (!pred (l, n) && !expired)
    g_main_context_iteration (NULL, TRUE);
  if (!expired)
    g_source_remove (id);
  return pred (l, n);
}

static gboolean
hellos (Login *l, guint n)
{
  return l->hellos >= n;
}

static gboolean
exits (Login *l, guint n)
{
  return l->exits >= n;
}

static gboolean
frames (Login *l, guint n)
{
  return l->frames.length >= n;
}

/* The next frame of the login whose type is `t` (transfer full). */
static json_t *
take (Login *l, const char *t)
{
  for (;;)
    {
      g_assert_true (run_until (frames, l, 1));
      json_t *f = g_queue_pop_head (&l->frames);
      if (g_strcmp0 (json_string_value (json_object_get (f, "t")), t) == 0)
        return f;
      json_decref (f);
    }
}

static void
test_shared (void)
{
  g_autofree char *exe = build_path ("pa-worker-test-exe");
  g_autofree char *plugin = build_path ("echo-plugin.so");
  g_autofree char *tmp = g_dir_make_tmp ("pa-shared-XXXXXX", NULL);
  PaWorkerPool *pool = pa_worker_pool_new (exe, "off", NULL, 2, 0, 60);
  Login logins[N_LOGINS] = { 0 };
  for (guint i = 0; i < N_LOGINS; i++)
    {
      Login *l = &logins[i];
      l->id = g_strdup_printf ("login-%u", i);
      l->dir = g_build_filename (tmp, l->id, NULL);
      g_assert_cmpint (g_mkdir_with_parents (l->dir, 0700), ==, 0);
      g_queue_init (&l->frames);
      l->w = pa_worker_new (exe, plugin, l->id, l->dir, &callbacks, l);
      g_autoptr (json_t) init
          = json_pack ("{s:s, s:s, s:b, s:[{s:s, s:s, s:s}]}", "t", "init", "login_id", l->id,
                       "saved", FALSE, "meta", "scope", "login", "id", "k", "value", l->id);
      pa_worker_set_init (l->w, init);
      /* Two per process: logins 0 and 1 together, 2 in the next one. */
      g_assert_true (pa_worker_pool_start (pool, l->w, 2, NULL));
    }
  for (guint i = 0; i < N_LOGINS; i++)
    {
      g_assert_true (run_until (hellos, &logins[i], 1));
      /* Each login_new saw its own metadata, through its own PaHost. */
      g_autoptr (json_t) n = take (&logins[i], "notice");
      g_autofree char *want = g_strdup_printf ("meta=%s ", logins[i].id);
      g_assert_nonnull (strstr (json_string_value (json_object_get (n, "text")), want));
      g_assert_null (json_object_get (n, "login"));
    }
  GPid shared = pa_worker_pid (logins[0].w);
  g_assert_cmpint (shared, >, 0);
  g_assert_cmpint (pa_worker_pid (logins[1].w), ==, shared);
  g_assert_cmpint (pa_worker_pid (logins[2].w), !=, shared);

  /* An operation reaches its own login, and its answer comes back to it. */
  g_autoptr (json_t) op
      = json_pack ("{s:s, s:i, s:s, s:s, s:{s:s, s:s}}", "t", "op", "op_id", 7, "op", "send",
                   "chat_id", "c", "content", "kind", "text", "text", "hi");
  g_assert_true (pa_worker_send (logins[1].w, op));
  g_autoptr (json_t) r = take (&logins[1], "result");
  g_assert_cmpint (json_integer_value (json_object_get (r, "op_id")), ==, 7);
  g_assert_true (json_is_true (json_object_get (r, "ok")));

  /* kill -9 of the shared process: its two logins are told and come back
   * together in one new process; the third is untouched. */
  g_test_expect_message ("passerelle-host", G_LOG_LEVEL_WARNING, "*killed by signal 9*");
  g_assert_cmpint (kill (shared, SIGKILL), ==, 0);
  g_assert_true (run_until (exits, &logins[0], 1));
  g_assert_true (run_until (exits, &logins[1], 1));
  g_test_assert_expected_messages ();
  for (guint i = 0; i < 2; i++)
    {
      g_assert_true (logins[i].crashed);
      g_assert_true (logins[i].will_restart);
      g_assert_cmpuint (pa_worker_restarts (logins[i].w), ==, 1);
    }
  g_assert_cmpuint (logins[2].exits, ==, 0);
  g_assert_true (run_until (hellos, &logins[0], 2));
  g_assert_true (run_until (hellos, &logins[1], 2));
  GPid again = pa_worker_pid (logins[0].w);
  g_assert_cmpint (again, >, 0);
  g_assert_cmpint (again, !=, shared);
  g_assert_cmpint (pa_worker_pid (logins[1].w), ==, again);
  g_autoptr (json_t) back = take (&logins[1], "notice");
  g_assert_nonnull (strstr (json_string_value (json_object_get (back, "text")), "meta=login-1 "));

  /* Login 0 leaves; login 1 goes on in the same process. */
  pa_worker_stop (logins[0].w);
  g_assert_true (run_until (exits, &logins[0], 2));
  g_assert_false (logins[0].crashed);
  g_assert_false (logins[0].will_restart);
  g_autoptr (json_t) op2
      = json_pack ("{s:s, s:i, s:s, s:s, s:{s:s, s:s}}", "t", "op", "op_id", 8, "op", "send",
                   "chat_id", "c", "content", "kind", "text", "text", "still");
  g_assert_true (pa_worker_send (logins[1].w, op2));
  g_autoptr (json_t) r2 = take (&logins[1], "result");
  g_assert_cmpint (json_integer_value (json_object_get (r2, "op_id")), ==, 8);
  g_assert_cmpint (pa_worker_pid (logins[1].w), ==, again);

  /* Its last login leaving ends the process. */
  pa_worker_stop (logins[1].w);
  g_assert_true (run_until (exits, &logins[1], 2));
  g_assert_false (logins[1].crashed);
  for (guint i = 0; i < N_LOGINS; i++)
    {
      pa_worker_free (logins[i].w);
      g_queue_clear_full (&logins[i].frames, (GDestroyNotify) json_decref);
      g_free (logins[i].id);
      g_free (logins[i].dir);
    }
  pa_worker_pool_free (pool);
  rm_rf (tmp);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/host/worker-shared/place-crash-leave", test_shared);
  return g_test_run ();
}
