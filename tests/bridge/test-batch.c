/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The group commit's hold-and-retry (pa-batch.c), as a table: a batch whose
 * write fails is rolled back and held, the writes after it wait in memory,
 * the retry redoes them all in order with backoff until the store takes
 * them, and the acks and the "fault"/"recovered" calls happen once each.
 * A real store in a temporary folder; the failures are injected. */
#include "bridge/pa-batch.h"

#include <glib/gstdio.h>
#include <string.h>

typedef struct
{
  PaBridge *b;
  guint fails_left; /* retry attempts still to fail */
  guint redo_calls;
  guint faults, recoveries;
} Ctx;

static Ctx ctx;

static void
on_fault_changed (PaBridge *b, gboolean faulted, const char *reason)
{
  if (faulted)
    ctx.faults++;
  else
    ctx.recoveries++;
}

static gboolean
write_row (PaBridge *b, guint i, GError **error)
{
  g_autofree char *key = g_strdup_printf ("k%u", i);
  g_autofree char *text = g_strdup_printf ("%u", i);
  gboolean dup = FALSE;
  return pa_store_remote_add (b->store, "L", key, text, &dup, error) >= 0;
}

static gboolean
redo_row (PaBridge *b, gpointer data, GError **error)
{
  guint i = GPOINTER_TO_UINT (data);
  ctx.redo_calls++;
  if (ctx.fails_left > 0)
    {
      ctx.fails_left--;
      g_set_error_literal (error, PA_ERROR, PA_ERROR_STORE, "database or disk is full");
      return FALSE;
    }
  return write_row (b, i, error);
}

/* The rows of the remote table, in order, as "0,1,2". */
static char *
rows (PaBridge *b)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (json_t) r = pa_store_remote_peek (b->store, 100, &error);
  g_assert_no_error (error);
  GString *s = g_string_new (NULL);
  size_t i;
  json_t *row;
  json_array_foreach (r, i, row)
  {
    g_string_append_printf (s, "%s%s", i ? "," : "",
                            json_string_value (json_object_get (row, "event")));
  }
  return g_string_free (s, FALSE);
}

static gboolean
timeout_cb (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

static void
test_hold_and_retry (void)
{
  static const struct
  {
    guint n;            /* writes in the burst, each with its ack */
    int fail_at;        /* the write that fails (-1: none) */
    guint retry_fails;  /* retry attempts that fail before the store writes again */
    const char *during; /* the rows while the store cannot write */
  } cases[] = {
    { 3, -1, 0, NULL }, /* nothing fails: committed, acked, nothing redone */
    { 3, 0, 0, "" },    /* the first write fails: all three held, redone once */
    { 4, 2, 1, "" },    /* a later write fails: the earlier ones are rolled back too */
    { 2, 1, 2, "" },    /* the store stays full for two more tries */
  };
  for (gsize c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *dir = g_dir_make_tmp ("pa-batch-XXXXXX", &error);
      g_autofree char *db = g_build_filename (dir, "db.sqlite", NULL);
      PaBridge b = { 0 };
      b.store = pa_store_open (db, &error);
      g_assert_no_error (error);
      b.logins = g_hash_table_new (g_str_hash, g_str_equal);
      b.pending_acks = g_ptr_array_new_with_free_func (g_free);
      b.pending_unlinks = g_ptr_array_new_with_free_func (g_free);
      b.store_fault_changed = on_fault_changed;
      memset (&ctx, 0, sizeof ctx);
      ctx.b = &b;
      ctx.fails_left = cases[c].retry_fails;

      pa_batch_begin (&b);
      for (guint i = 0; i < cases[c].n; i++)
        {
          pa_batch_redo (&b, redo_row, GUINT_TO_POINTER (i), NULL);
          pa_batch_defer_ack (&b, "L", i);
          if (pa_batch_faulted (&b))
            continue; /* held: written by the retry */
          if ((int) i == cases[c].fail_at)
            {
              g_autoptr (GError) e
                  = g_error_new_literal (PA_ERROR, PA_ERROR_STORE, "database or disk is full");
              g_assert_true (write_row (&b, i, &error));
              g_test_expect_message ("passerelle-bridge", G_LOG_LEVEL_WARNING,
                                     "store cannot write*");
              pa_batch_fail (&b, e);
              g_test_assert_expected_messages ();
            }
          else
            g_assert_true (write_row (&b, i, &error));
        }
      gboolean committed = pa_batch_flush (&b);
      g_assert_cmpint (committed, ==, cases[c].fail_at < 0);
      if (cases[c].during != NULL)
        {
          g_autofree char *during = rows (&b);
          g_assert_cmpstr (during, ==, cases[c].during);
          /* Nothing is acknowledged while held. */
          g_assert_cmpuint (b.pending_acks->len, ==, cases[c].n);
          g_assert_cmpuint (ctx.faults, ==, 1);
          g_assert_cmpuint (ctx.recoveries, ==, 0);
          gboolean timed_out = FALSE;
          guint t = g_timeout_add_seconds (20, timeout_cb, &timed_out);
          while (ctx.recoveries == 0 && !timed_out)
            g_main_context_iteration (NULL, TRUE);
          g_assert_false (timed_out);
          g_source_remove (t);
          /* Each failed attempt stopped at the first redo; the last redid all. */
          g_assert_cmpuint (ctx.redo_calls, ==, cases[c].retry_fails + cases[c].n);
        }
      else
        g_assert_cmpuint (ctx.redo_calls, ==, 0);
      g_autofree char *want = NULL;
      GString *w = g_string_new (NULL);
      for (guint i = 0; i < cases[c].n; i++)
        g_string_append_printf (w, "%s%u", i ? "," : "", i);
      want = g_string_free (w, FALSE);
      g_autofree char *after = rows (&b);
      g_assert_cmpstr (after, ==, want);
      g_assert_cmpuint (b.pending_acks->len, ==, 0);
      g_assert_false (pa_batch_faulted (&b));
      g_assert_cmpuint (ctx.faults, ==, cases[c].fail_at >= 0 ? 1 : 0);
      g_assert_cmpuint (ctx.recoveries, ==, cases[c].fail_at >= 0 ? 1 : 0);

      pa_batch_clear (&b);
      pa_store_close (b.store);
      g_hash_table_destroy (b.logins);
      g_ptr_array_unref (b.pending_acks);
      g_ptr_array_unref (b.pending_unlinks);
      g_autofree char *wal = g_strconcat (db, "-wal", NULL);
      g_autofree char *shm = g_strconcat (db, "-shm", NULL);
      g_unlink (db);
      g_unlink (wal);
      g_unlink (shm);
      g_rmdir (dir);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/batch/hold-and-retry", test_hold_and_retry);
  return g_test_run ();
}
