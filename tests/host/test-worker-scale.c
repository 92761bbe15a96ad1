/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Unit tests of the host's scale mechanisms (docs/scale.md): the start-up
 * pacer's line, the login capacity the descriptor limit allows, and the
 * shared watchdog tick removing entries while it walks them. */
#include "host/pa-fd-budget.h"
#include "host/pa-worker-pace.h"
#include "host/pa-worker-ticker.h"
#include "pa-common.h"

typedef struct
{
  int ready;
} Starter;

static void
on_ready (gpointer data)
{
  ((Starter *) data)->ready++;
}

static void
spin (void)
{
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

static void
test_pace_line (void)
{
  pa_worker_pace_set_limit (2);
  g_assert_cmpuint (pa_worker_pace_limit (), ==, 2);
  Starter a = { 0 }, b = { 0 }, c = { 0 }, d = { 0 };
  PaPaceSlot *sa = NULL, *sb = NULL, *sc = NULL, *sd = NULL;
  g_assert_true (pa_worker_pace_acquire (&sa, on_ready, &a));
  g_assert_true (pa_worker_pace_acquire (&sb, on_ready, &b));
  g_assert_false (pa_worker_pace_acquire (&sc, on_ready, &c));
  g_assert_false (pa_worker_pace_acquire (&sd, on_ready, &d));
  g_assert_true (pa_worker_pace_waiting (sc));
  g_assert_false (pa_worker_pace_waiting (sa));
  spin ();
  g_assert_cmpint (c.ready, ==, 0);

  /* One start over: the first in line gets its slot from the main loop. */
  pa_worker_pace_release (&sa);
  g_assert_null (sa);
  g_assert_cmpint (c.ready, ==, 0);
  spin ();
  g_assert_cmpint (c.ready, ==, 1);
  g_assert_false (pa_worker_pace_waiting (sc));
  g_assert_true (pa_worker_pace_waiting (sd));

  /* Leaving the line: nothing is called for it later. */
  pa_worker_pace_release (&sd);
  pa_worker_pace_release (&sb);
  pa_worker_pace_release (&sc);
  spin ();
  g_assert_cmpint (d.ready, ==, 0);
  g_assert_cmpint (a.ready + b.ready, ==, 0);

  /* With every slot free, a start goes at once again. */
  g_assert_true (pa_worker_pace_acquire (&sa, on_ready, &a));
  pa_worker_pace_release (&sa);
  pa_worker_pace_set_limit (0);
  g_assert_cmpuint (pa_worker_pace_limit (), >=, 4);
}

static void
test_capacity (void)
{
  /* 40 kept, plus one in eight of the limit (at most 1,024), 2 per login. */
  g_assert_cmpuint (pa_fd_budget_capacity_for (1024), ==, 428);
  g_assert_cmpuint (pa_fd_budget_capacity_for (64), ==, 8);
  g_assert_cmpuint (pa_fd_budget_capacity_for (45), ==, 0);
  g_assert_cmpuint (pa_fd_budget_capacity_for (524288), ==, 261612);

  g_assert_cmpuint (pa_fd_budget_init (3), ==, 3);
  g_autoptr (GError) error = NULL;
  g_assert_true (pa_fd_budget_admit (2, &error));
  g_assert_no_error (error);
  g_assert_false (pa_fd_budget_admit (3, &error));
  g_assert_error (error, PA_ERROR, PA_ERROR_TOO_LARGE);
  g_assert_nonnull (strstr (error->message, "capacity of 3 logins"));
}

typedef struct
{
  PaTick *self;
  PaTick **other; /* removed from inside this tick */
  int calls;
  GMainLoop *loop;
} Ticked;

static void
on_tick (gpointer data)
{
  Ticked *t = data;
  t->calls++;
  if (t->other != NULL && *t->other != NULL)
    g_clear_pointer (t->other, pa_tick_remove);
  if (t->loop != NULL)
    {
      g_clear_pointer (&t->self, pa_tick_remove);
      g_main_loop_quit (t->loop);
    }
}

static void
test_tick_removal (void)
{
  g_autoptr (GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  Ticked first = { 0 }, second = { 0 };
  first.self = pa_tick_add (NULL, on_tick, &first);
  second.self = pa_tick_add (NULL, on_tick, &second);
  /* The first removes the second, which comes next in the same walk, and
   * then itself. */
  first.other = &second.self;
  first.loop = loop;
  g_main_loop_run (loop);
  g_assert_cmpint (first.calls, ==, 1);
  g_assert_cmpint (second.calls, ==, 0);
  g_assert_null (second.self);
  g_assert_null (first.self);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL);
  g_test_add_func ("/host/scale/pace-line", test_pace_line);
  g_test_add_func ("/host/scale/capacity", test_capacity);
  g_test_add_func ("/host/scale/tick-removal", test_tick_removal);
  return g_test_run ();
}
