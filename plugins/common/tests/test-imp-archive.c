/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Unit tests of the importers' archive code (imp-archive.c) against
 * generated hostile zips: a header that lies about an entry's size (it
 * says 1,000 bytes, the entry inflates to megabytes of zeros), an honest
 * entry with an absurd compression ratio, a nested zip, too many entries,
 * path traversal names, and the job's byte budget counted on the bytes
 * actually inflated. */
#include "imp-archive.h"
#include "imp-test-host.h"

#include <glib/gstdio.h>
#include <string.h>

#define MIB ((gsize) 1024 * 1024)

typedef struct
{
  char *dir;
  char *work;
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  f->dir = imp_test_tmpdir ();
  f->work = g_build_filename (f->dir, "work", NULL);
  g_assert_cmpint (g_mkdir (f->work, 0700), ==, 0);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  imp_test_rmrf (f->dir);
  g_free (f->dir);
  g_free (f->work);
}

/* A zip at dir/name holding one entry `entry` of `len` zero bytes. */
static char *
zeros_zip (Fixture *f, const char *name, const char *entry, gsize len)
{
  g_autofree guint8 *zeros = g_malloc0 (len);
  char *zip = g_build_filename (f->dir, name, NULL);
  ImpZipEntry e[] = { { entry, zeros, len } };
  imp_test_write_zip (zip, e, 1);
  return zip;
}

/* Extracts `entry` of the zip at `path` into the work dir with `budget`. */
static char *
extract (Fixture *f, const char *path, const char *entry, ImpBudget *budget, guint64 *written,
         GError **error)
{
  g_autoptr (ImpArchive) ar = imp_archive_open (path, 100, error);
  g_assert_nonnull (ar);
  const ImpEntry *e = imp_archive_lookup (ar, entry);
  g_assert_nonnull (e);
  g_autoptr (ImpStream) s = imp_stream_open_entry (ar, e, budget, error);
  if (s == NULL)
    return NULL;
  g_autofree char *out = imp_output_name (1, entry);
  return imp_stream_extract (s, f->work, out, written, error);
}

/* The headers say 1,000 bytes; the entry really inflates to 8 MiB of
 * zeros (a ratio under the limit, so only the size check can stop it). */
static void
test_lying_size (Fixture *f, gconstpointer data)
{
  g_autofree char *honest = zeros_zip (f, "honest.zip", "big.bin", 8 * MIB);
  g_autofree char *bytes = NULL;
  gsize len = 0;
  g_assert_true (g_file_get_contents (honest, &bytes, &len, NULL));
  imp_test_patch_declared_size ((guint8 *) bytes, len, "big.bin", 1000);
  g_autofree char *liar = g_build_filename (f->dir, "liar.zip", NULL);
  g_assert_true (g_file_set_contents (liar, bytes, (gssize) len, NULL));

  ImpBudget budget = { .max_bytes = (guint64) 1 << 30 };
  g_autoptr (GError) error = NULL;
  guint64 written = 0;
  g_autofree char *out = extract (f, liar, "big.bin", &budget, &written, &error);
  g_assert_null (out);
  g_assert_error (error, IMP_ERROR, IMP_ERROR_BOMB);
  g_assert_nonnull (strstr (error->message, "1000 bytes its header declares"));
  /* at most one read past the declared size was inflated, nothing kept */
  g_assert_cmpuint (budget.used, <=, 1000 + 65536);
  g_assert_cmpuint (imp_test_dir_bytes (f->work), ==, 0);
}

/* Honest headers, 64 MiB of zeros in about 64 KiB: refused unread. */
static void
test_ratio (Fixture *f, gconstpointer data)
{
  g_autofree char *zip = zeros_zip (f, "ratio.zip", "zeros.bin", 64 * MIB);
  ImpBudget budget = { .max_bytes = (guint64) 1 << 30 };
  g_autoptr (GError) error = NULL;
  guint64 written = 0;
  g_autofree char *out = extract (f, zip, "zeros.bin", &budget, &written, &error);
  g_assert_null (out);
  g_assert_error (error, IMP_ERROR, IMP_ERROR_BOMB);
  g_assert_nonnull (strstr (error->message, "more than 1000 times"));
  g_assert_cmpuint (budget.used, ==, 0);
  g_assert_cmpuint (imp_test_dir_bytes (f->work), ==, 0);

  /* the same data under the grace size passes: small runs of zeros are
   * common in real files */
  g_autofree char *small = zeros_zip (f, "small.zip", "zeros.bin", MIB);
  g_autoptr (GError) error2 = NULL;
  g_autofree char *out2 = extract (f, small, "zeros.bin", &budget, &written, &error2);
  g_assert_no_error (error2);
  g_assert_cmpuint (written, ==, MIB);
}

/* A zip inside a zip is a file like any other: extracted as it is (its
 * compressed bytes), never opened, so its own bomb never inflates. */
static void
test_nested (Fixture *f, gconstpointer data)
{
  g_autofree char *inner = zeros_zip (f, "inner.zip", "zeros.bin", 64 * MIB);
  g_autofree char *inner_bytes = NULL;
  gsize inner_len = 0;
  g_assert_true (g_file_get_contents (inner, &inner_bytes, &inner_len, NULL));
  g_autofree char *outer = g_build_filename (f->dir, "outer.zip", NULL);
  ImpZipEntry e[] = { { "nested.zip", inner_bytes, inner_len, TRUE } };
  imp_test_write_zip (outer, e, 1);

  ImpBudget budget = { .max_bytes = 10 * MIB };
  g_autoptr (GError) error = NULL;
  guint64 written = 0;
  g_autofree char *out = extract (f, outer, "nested.zip", &budget, &written, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (written, ==, inner_len);
  g_assert_cmpuint (imp_test_dir_bytes (f->work), ==, inner_len);
}

static void
test_too_many_entries (Fixture *f, gconstpointer data)
{
  g_autofree char *zip = g_build_filename (f->dir, "many.zip", NULL);
  ImpZipEntry e[12];
  char names[12][16];
  for (guint i = 0; i < G_N_ELEMENTS (e); i++)
    {
      g_snprintf (names[i], sizeof names[i], "f%u.txt", i);
      e[i] = (ImpZipEntry){ names[i], "x", 1 };
    }
  imp_test_write_zip (zip, e, G_N_ELEMENTS (e));
  g_autoptr (GError) error = NULL;
  g_autoptr (ImpArchive) ar = imp_archive_open (zip, 11, &error);
  g_assert_null (ar);
  g_assert_error (error, IMP_ERROR, IMP_ERROR_LIMIT);
  g_assert_nonnull (strstr (error->message, "more than the limit of 11"));
  g_autoptr (GError) error2 = NULL;
  g_autoptr (ImpArchive) ar2 = imp_archive_open (zip, 12, &error2);
  g_assert_no_error (error2);
}

static void
test_traversal (Fixture *f, gconstpointer data)
{
  g_autofree char *zip = g_build_filename (f->dir, "slip.zip", NULL);
  ImpZipEntry e[] = {
    { "../evil", "x", 1 },  { "/etc/evil", "x", 1 }, { "a/../../evil", "x", 1 },
    { "..\\evil", "x", 1 }, { "C:\\evil", "x", 1 },  { "ok/./fine.txt", "y", 1 },
  };
  imp_test_write_zip (zip, e, G_N_ELEMENTS (e));
  g_autoptr (GError) error = NULL;
  g_autoptr (ImpArchive) ar = imp_archive_open (zip, 100, &error);
  g_assert_no_error (error);
  guint n = 0;
  const ImpEntry *entries = imp_archive_entries (ar, &n);
  g_assert_cmpuint (n, ==, 1);
  g_assert_cmpstr (entries[0].name, ==, "ok/fine.txt");
  g_assert_cmpuint (imp_archive_n_refused (ar), ==, 5);
}

/* The job's budget is charged with what is inflated, entry after entry. */
static void
test_budget (Fixture *f, gconstpointer data)
{
  gsize len = 600 * 1024;
  g_autofree guint8 *noise = g_malloc (len);
  for (gsize i = 0; i < len; i++)
    noise[i] = (guint8) g_random_int ();
  g_autofree char *zip = g_build_filename (f->dir, "budget.zip", NULL);
  ImpZipEntry e[] = { { "a.bin", noise, len }, { "b.bin", noise, len } };
  imp_test_write_zip (zip, e, G_N_ELEMENTS (e));
  ImpBudget budget = { .max_bytes = MIB };
  guint64 written = 0;
  g_autoptr (GError) error = NULL;
  g_autofree char *a = extract (f, zip, "a.bin", &budget, &written, &error);
  g_assert_no_error (error);
  g_autofree char *b = extract (f, zip, "b.bin", &budget, &written, &error);
  g_assert_null (b);
  g_assert_error (error, IMP_ERROR, IMP_ERROR_LIMIT);
  g_assert_cmpuint (budget.used, ==, MIB);
  g_assert_cmpuint (imp_test_dir_bytes (f->work), ==, len);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("/imp-archive/lying-size", test_lying_size);
  ADD ("/imp-archive/ratio", test_ratio);
  ADD ("/imp-archive/nested", test_nested);
  ADD ("/imp-archive/too-many-entries", test_too_many_entries);
  ADD ("/imp-archive/traversal", test_traversal);
  ADD ("/imp-archive/budget", test_budget);
  return g_test_run ();
}
