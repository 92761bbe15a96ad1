/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* How the host opens a file a worker named (pa-file-beneath.c): a regular
 * file below the root opens; a symlink (as the file or as a folder on the
 * way), a "..", a path outside, a hard link, a FIFO and a directory are
 * refused, whichever spelling of the root the path uses; removal follows
 * the same rules. */
#include "pa-file-beneath.h"

#include <glib/gstdio.h>
#include <sys/stat.h>
#include <unistd.h>

static char *
touch (const char *dir, const char *name)
{
  g_mkdir_with_parents (dir, 0700);
  char *path = g_build_filename (dir, name, NULL);
  g_assert_true (g_file_set_contents (path, "x", 1, NULL));
  return path;
}

static gboolean
opens (const char *root, const char *path)
{
  struct stat st;
  g_autoptr (GError) error = NULL;
  int fd = pa_file_open_beneath (root, path, &st, &error);
  if (fd < 0)
    {
      g_assert_nonnull (error);
      g_test_message ("%s: %s", path, error->message);
      return FALSE;
    }
  g_assert_true (S_ISREG (st.st_mode));
  close (fd);
  return TRUE;
}

static void
test_open_beneath (void)
{
  g_autofree char *tmp = g_dir_make_tmp ("pa-beneath-XXXXXX", NULL);
  g_autofree char *data = g_build_filename (tmp, "data", NULL);
  g_autofree char *mine = g_build_filename (data, "L1", NULL);
  g_autofree char *media = g_build_filename (mine, "media", NULL);
  g_autofree char *other = g_build_filename (data, "L2", NULL);
  g_autofree char *photo = touch (media, "photo.jpg");
  g_autofree char *secret = touch (tmp, "config.yaml");
  g_autofree char *session = touch (other, "session.db");

  g_assert_true (opens (data, photo));
  g_assert_true (pa_file_beneath (mine, photo));
  /* Through a link to the root itself: the path may use either spelling. */
  g_autofree char *alias = g_build_filename (tmp, "alias", NULL);
  g_assert_cmpint (symlink (data, alias), ==, 0);
  g_autofree char *via_alias = g_build_filename (alias, "L1", "media", "photo.jpg", NULL);
  g_assert_true (opens (alias, via_alias));
  g_assert_true (opens (alias, photo));

  /* A symlink as the file, or as a folder on the way. */
  g_autofree char *sym = g_build_filename (media, "link.jpg", NULL);
  g_assert_cmpint (symlink (secret, sym), ==, 0);
  g_assert_false (opens (data, sym));
  g_autofree char *inner = g_build_filename (media, "inner.jpg", NULL);
  g_assert_cmpint (symlink (photo, inner), ==, 0);
  g_assert_false (opens (data, inner));
  g_autofree char *dirlink = g_build_filename (mine, "d", NULL);
  g_assert_cmpint (symlink (other, dirlink), ==, 0);
  g_autofree char *via_dirlink = g_build_filename (dirlink, "session.db", NULL);
  g_assert_false (opens (data, via_dirlink));

  /* "..", outside, and the lexical check alone. */
  g_autofree char *dotdot = g_build_filename (mine, "..", "L2", "session.db", NULL);
  g_assert_false (opens (data, dotdot));
  g_assert_false (pa_file_beneath (mine, dotdot));
  g_assert_false (opens (data, secret));
  g_assert_false (pa_file_beneath (mine, session));
  g_assert_false (opens (data, "relative/photo.jpg"));

  /* A hard link (to the host's config, say) and what is not a file. */
  g_autofree char *hard = g_build_filename (media, "hard.jpg", NULL);
  g_assert_cmpint (link (secret, hard), ==, 0);
  g_assert_false (opens (data, hard));
  g_autofree char *fifo = g_build_filename (media, "fifo", NULL);
  g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);
  g_assert_false (opens (data, fifo));
  g_assert_false (opens (data, media));

  /* Removal: beneath the root only, never through a folder swapped for a
   * link (here `d` → the other login's dir). */
  g_autoptr (GError) error = NULL;
  g_assert_false (pa_file_unlink_beneath (data, via_dirlink, &error));
  g_assert_true (g_file_test (session, G_FILE_TEST_EXISTS));
  g_clear_error (&error);
  g_assert_false (pa_file_unlink_beneath (data, dotdot, &error));
  g_clear_error (&error);
  g_assert_false (pa_file_unlink_beneath (data, secret, &error));
  g_assert_true (g_file_test (secret, G_FILE_TEST_EXISTS));
  g_clear_error (&error);
  g_assert_true (pa_file_unlink_beneath (data, sym, &error));
  g_assert_true (g_file_test (secret, G_FILE_TEST_EXISTS)); /* the link went, not its target */
  g_assert_true (pa_file_unlink_beneath (alias, photo, &error));
  g_assert_false (g_file_test (photo, G_FILE_TEST_EXISTS));

  for (const char *const *p = (const char *const[]){ fifo, hard, dirlink, inner, sym, photo,
                                                     session, secret, alias, NULL };
       *p != NULL; p++)
    g_unlink (*p);
  for (const char *const *p = (const char *const[]){ media, mine, other, data, tmp, NULL };
       *p != NULL; p++)
    g_rmdir (*p);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/bridge/file-beneath/open", test_open_beneath);
  return g_test_run ();
}
