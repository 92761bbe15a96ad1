/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The host's check of the files a worker names (pa-to-matrix-files.c), as
 * a table: a path inside the login's data dir is kept (and owned), one in
 * an import's export folder is kept but not owned, anything else — another
 * login's dir, the host's own files, a symlink out — is removed. */
#include "pa-to-matrix-files.h"

#include <glib/gstdio.h>
#include <unistd.h>

static char *
touch (const char *dir, const char *name)
{
  g_autofree char *d = g_strdup (dir);
  g_mkdir_with_parents (d, 0700);
  char *path = g_build_filename (dir, name, NULL);
  g_assert_true (g_file_set_contents (path, "x", 1, NULL));
  return path;
}

static void
rm_rf (const char *path)
{
  if (g_file_test (path, G_FILE_TEST_IS_DIR) && !g_file_test (path, G_FILE_TEST_IS_SYMLINK))
    {
      g_autoptr (GDir) d = g_dir_open (path, 0, NULL);
      const char *n;
      while (d != NULL && (n = g_dir_read_name (d)) != NULL)
        {
          g_autofree char *c = g_build_filename (path, n, NULL);
          rm_rf (c);
        }
      g_rmdir (path);
    }
  else
    g_unlink (path);
}

static void
test_confine (void)
{
  g_autofree char *tmp = g_dir_make_tmp ("pa-files-XXXXXX", NULL);
  g_autofree char *data = g_build_filename (tmp, "data", NULL);
  g_autofree char *mine = g_build_filename (data, "L1", NULL);
  g_autofree char *other = g_build_filename (data, "L2", NULL);
  g_autofree char *export_dir = g_build_filename (tmp, "export", NULL);
  g_autofree char *in_mine = touch (mine, "photo.jpg");
  g_autofree char *in_other = touch (other, "session.db");
  g_autofree char *in_export = touch (export_dir, "photo.jpg");
  g_autofree char *secret = touch (tmp, "config.yaml");
  g_autofree char *link = g_build_filename (mine, "link.jpg", NULL);
  g_assert_cmpint (symlink (secret, link), ==, 0);

  PaConfig config = { 0 };
  config.data_dir = data;
  PaBridge b = { 0 };
  b.config = &config;
  PaAccount login = { 0 };
  login.id = (char *) "L1";

  static const struct
  {
    int which; /* 0 mine, 1 other login, 2 export folder, 3 host file, 4 symlink out */
    gboolean export_job, kept, owned;
  } cases[] = {
    { 0, FALSE, TRUE, TRUE },  { 1, FALSE, FALSE, FALSE }, { 2, FALSE, FALSE, FALSE },
    { 2, TRUE, TRUE, FALSE },  { 3, FALSE, FALSE, FALSE }, { 4, FALSE, FALSE, FALSE },
    { 4, TRUE, FALSE, FALSE },
  };
  const char *paths[] = { in_mine, in_other, in_export, secret, link };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const char *path = paths[cases[i].which];
      g_autoptr (json_t) ev = json_pack (
          "{s:s, s:{s:s, s:s, s:s}, s:{s:s, s:s}, s:{s:s, s:[{s:s, s:s}]}}", "type", "message",
          "content", "kind", "image", "text", "caption", "media_path", path, "contact", "id", "bob",
          "avatar_path", path, "chat", "id", "c", "members", "id", "bob", "avatar_path", path);
      for (int k = 0; k < 3 && !cases[i].kept; k++)
        g_test_expect_message ("passerelle-bridge", G_LOG_LEVEL_WARNING, "*outside its data dir*");
      guint removed
          = pa_to_matrix_files_confine (&b, &login, cases[i].export_job ? export_dir : NULL, ev);
      g_test_assert_expected_messages ();
      g_assert_cmpuint (removed, ==, cases[i].kept ? 0 : 3);
      json_t *content = json_object_get (ev, "content");
      g_assert_cmpint (json_object_get (content, "media_path") != NULL, ==, cases[i].kept);
      if (!cases[i].kept)
        {
          /* The message still goes, saying what was lost. */
          g_assert_cmpstr (json_string_value (json_object_get (content, "kind")), ==, "text");
          g_assert_nonnull (strstr (json_string_value (json_object_get (content, "text")),
                                    "caption[media not bridged"));
        }
      g_autofree char *owned = pa_to_matrix_files_owned (&b, &login, ev);
      g_assert_cmpint (owned != NULL, ==, cases[i].owned);
    }
  rm_rf (tmp);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/bridge/files/confine", test_confine);
  return g_test_run ();
}
