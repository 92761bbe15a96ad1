/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Plugin loader: one good plugin and one variant per rule it enforces. */
#include "worker/pa-plugin-loader.h"
#include "pa-common.h"

#include <glib/gstdio.h>

static char *
module_path (const char *name)
{
  const char *root = g_getenv ("PA_BUILD_ROOT");
  g_assert_nonnull (root);
  g_autofree char *file = g_strdup_printf ("%s.so", name);
  return g_build_filename (root, "tests", "host", file, NULL);
}

static void
test_good (void)
{
  g_autofree char *path = module_path ("loader-good");
  g_autoptr (GError) error = NULL;
  g_autoptr (PaPluginHandle) h = pa_plugin_load (path, &error);
  g_assert_no_error (error);
  g_assert_nonnull (h);
  g_assert_cmpstr (pa_plugin_handle_name (h), ==, "loadertest");
  g_assert_cmpstr (pa_plugin_handle_display_name (h), ==, "Loader Test");
  g_assert_cmpstr (pa_plugin_handle_path (h), ==, path);
  const PaNetwork *d = pa_plugin_handle_network (h);
  g_assert_cmpuint (d->n_login_flows, ==, 1);
  g_assert_cmpuint (d->n_config_keys, ==, 2);
  g_assert_true (d->config_keys[1].secret);
  g_assert_cmpstr (d->login_flows[0].id, ==, "password");
  g_assert_cmpstr (d->version, ==, "1.2.3");

  /* Loading again (resident module) gives the same descriptor. */
  g_autoptr (PaPluginHandle) h2 = pa_plugin_load (path, &error);
  g_assert_no_error (error);
  g_assert_true (pa_plugin_handle_network (h2) == d);
}

static void
expect_refused (const char *name, const char *fragment)
{
  g_autofree char *path = module_path (name);
  g_autoptr (GError) error = NULL;
  g_autoptr (PaPluginHandle) h = pa_plugin_load (path, &error);
  g_assert_null (h);
  g_assert_error (error, PA_ERROR, PA_ERROR_PLUGIN);
  g_test_message ("%s: %s", name, error->message);
  g_autofree char *base = g_strdup_printf ("%s.so", name);
  g_assert_nonnull (strstr (error->message, base));
  g_assert_nonnull (strstr (error->message, fragment));
}

static void
test_bad_magic (void)
{
  expect_refused ("loader-badmagic", "bad magic");
}

static void
test_abi_major (void)
{
  g_autofree char *msg = g_strdup_printf ("was built for ABI 3.%d; this passerelle speaks 2.%d",
                                          PA_PLUGIN_ABI_MINOR, PA_PLUGIN_ABI_MINOR);
  expect_refused ("loader-abimajor", msg);
}

/* A plugin built against SDK 1 is told, by name, to be rebuilt. */
static void
test_sdk1 (void)
{
  expect_refused ("loader-sdk1", "was built for plugin SDK 1.1, which this passerelle no longer "
                                 "loads: rebuild it against SDK 2");
}

static void
test_abi_minor_newer (void)
{
  g_autofree char *msg = g_strdup_printf ("was built for ABI 2.%d; this passerelle speaks 2.%d",
                                          PA_PLUGIN_ABI_MINOR + 1, PA_PLUGIN_ABI_MINOR);
  expect_refused ("loader-abiminor", msg);
}

static void
test_small_struct (void)
{
  expect_refused ("loader-smallstruct", "smaller than the ABI 2.0 size");
}

static void
test_no_symbol (void)
{
  expect_refused ("loader-nosymbol", "does not export pa_plugin_get_network");
}

static void
test_bad_name (void)
{
  expect_refused ("loader-badname", "invalid name");
}

static void
test_missing_file (void)
{
  expect_refused ("loader-does-not-exist", "no such file");
}

static void
test_not_a_library (void)
{
  g_autofree char *dir = g_dir_make_tmp ("pa-loader-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "junk.so", NULL);
  g_assert_true (g_file_set_contents (path, "not an ELF file", -1, NULL));
  g_autoptr (GError) error = NULL;
  g_autoptr (PaPluginHandle) h = pa_plugin_load (path, &error);
  g_assert_null (h);
  g_assert_error (error, PA_ERROR, PA_ERROR_PLUGIN);
  g_assert_nonnull (strstr (error->message, "cannot be loaded"));
  g_unlink (path);
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/host/loader/good", test_good);
  g_test_add_func ("/host/loader/bad-magic", test_bad_magic);
  g_test_add_func ("/host/loader/abi-major", test_abi_major);
  g_test_add_func ("/host/loader/abi-minor-newer", test_abi_minor_newer);
  g_test_add_func ("/host/loader/sdk1", test_sdk1);
  g_test_add_func ("/host/loader/small-struct", test_small_struct);
  g_test_add_func ("/host/loader/no-symbol", test_no_symbol);
  g_test_add_func ("/host/loader/bad-name", test_bad_name);
  g_test_add_func ("/host/loader/missing-file", test_missing_file);
  g_test_add_func ("/host/loader/not-a-library", test_not_a_library);
  return g_test_run ();
}
