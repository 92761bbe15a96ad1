/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Plugin discovery and `passerelle -e`'s plugin sections: the skeleton and
 * echo plugins are found, their declared keys become a commented section
 * that loads back, with defaults, through the plugins: checks. */
#include "config/pa-config.h"
#include "host/pa-plugin-catalog.h"
#include "pa-common.h"

#include <glib/gstdio.h>

static char *
build_path (const char *first, ...)
{
  const char *root = g_getenv ("PA_BUILD_ROOT");
  g_assert_nonnull (root);
  return g_build_filename (root, "tests", first, NULL);
}

static void
test_scan_and_example (void)
{
  g_autofree char *exe = build_path ("host/pa-worker-test-exe");
  g_autofree char *tmp = g_dir_make_tmp ("pa-catalog-XXXXXX", NULL);
  /* A directory with two plugins and a file that is not one. */
  g_autofree char *skel = build_path ("plugins/skeleton/skeleton.so");
  g_autofree char *echo = build_path ("host/echo-plugin.so");
  g_autofree char *l1 = g_build_filename (tmp, "skeleton.so", NULL);
  g_autofree char *l2 = g_build_filename (tmp, "echo.so", NULL);
  g_autofree char *junk = g_build_filename (tmp, "junk.so", NULL);
  g_assert_cmpint (symlink (skel, l1), ==, 0);
  g_assert_cmpint (symlink (echo, l2), ==, 0);
  g_assert_true (g_file_set_contents (junk, "not ELF", -1, NULL));

  g_test_expect_message ("passerelle-host", G_LOG_LEVEL_WARNING, "*junk.so not loaded*");
  g_autoptr (GPtrArray) plugins = pa_plugin_catalog_scan (exe, tmp);
  g_test_assert_expected_messages ();
  g_assert_cmpuint (plugins->len, ==, 2);
  const PaPluginInfo *first = plugins->pdata[0];
  const PaPluginInfo *second = plugins->pdata[1];
  g_assert_cmpstr (first->name, ==, "echo");
  g_assert_cmpstr (second->name, ==, "skeleton");
  g_assert_cmpstr (second->display_name, ==, "Skeleton");

  /* The example with the plugin sections loads, and each section checks
   * against its plugin's keys; the secret echo token is written empty. */
  g_autofree char *sections = pa_plugin_catalog_config_example (plugins);
  g_assert_nonnull (strstr (sections, "plugins:\n"));
  g_assert_nonnull (strstr (sections, "    greeting: \"Bonjour\"\n"));
  g_assert_nonnull (strstr (sections, "    token: \"\"\n"));
  g_autofree char *text = g_strconcat (pa_config_example_text (), sections, NULL);
  g_autofree char *path = g_build_filename (tmp, "config.yaml", NULL);
  g_assert_true (g_file_set_contents (path, text, -1, NULL));
  g_autoptr (GError) error = NULL;
  g_autoptr (PaConfig) config = pa_config_load (path, &error);
  g_assert_no_error (error);
  g_autoptr (json_t) values = NULL;
  g_assert_true (pa_config_plugin_section (
      config, "skeleton", json_object_get (second->hello, "config"), &values, &error));
  g_assert_no_error (error);
  g_assert_cmpint (json_integer_value (json_object_get (values, "max_length")), ==, 4096);
  g_assert_cmpstr (json_string_value (json_object_get (values, "greeting")), ==, "Bonjour");

  g_unlink (l1);
  g_unlink (l2);
  g_unlink (junk);
  g_unlink (path);
  g_rmdir (tmp);
}

static void
test_empty (void)
{
  g_autoptr (GPtrArray) none = g_ptr_array_new ();
  g_autofree char *text = pa_plugin_catalog_config_example (none);
  g_assert_cmpstr (text, ==, "");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/host/catalog/scan-and-example", test_scan_and_example);
  g_test_add_func ("/host/catalog/empty", test_empty);
  return g_test_run ();
}
