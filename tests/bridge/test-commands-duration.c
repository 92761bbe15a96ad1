/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The durations an agent types after `disappearing` (pa-commands-portal.c),
 * as a table: tests/data/durations/cases.tsv. */
#include <glib.h>

#include "pa-commands-portal.h"

static void
test_table (void)
{
  g_autofree char *path
      = g_build_filename (g_getenv ("PA_TEST_DATA"), "durations", "cases.tsv", NULL);
  g_autofree char *text = NULL;
  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  guint n = 0;
  for (guint i = 0; lines[i] != NULL; i++)
    {
      if (lines[i][0] == '#' || strchr (lines[i], '\t') == NULL)
        continue;
      g_auto (GStrv) f = g_strsplit (lines[i], "\t", 2);
      guint64 got = 0;
      gboolean ok = pa_commands_parse_duration (f[0], &got);
      if (g_str_equal (f[1], "refused"))
        {
          if (ok)
            g_error ("\"%s\" accepted as %" G_GUINT64_FORMAT " s", f[0], got);
        }
      else if (!ok || got != g_ascii_strtoull (f[1], NULL, 10))
        g_error ("\"%s\": expected %s s, got %s %" G_GUINT64_FORMAT, f[0], f[1],
                 ok ? "" : "refused", got);
      n++;
    }
  g_assert_cmpuint (n, >=, 20);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/commands/duration/table", test_table);
  return g_test_run ();
}
