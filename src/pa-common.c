/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The few helpers every area needs (pa-common.h): the error domain, a
 * constant-time string comparison for secrets, random URL-safe tokens
 * from getrandom() and the wall clock in milliseconds. */
#include "pa-common.h"

#include <glib/gstdio.h>
#include <sys/random.h>
#include <sys/stat.h>

G_DEFINE_QUARK (pa-error-quark, pa_error)

gboolean
pa_secure_equal (const char *a, const char *b)
{
  if (a == NULL || b == NULL)
    return FALSE;
  gsize la = strlen (a), lb = strlen (b);
  /* Compare over the longer length so timing does not reveal a prefix. */
  gsize n = MAX (la, lb);
  guint8 diff = (guint8) (la != lb);
  for (gsize i = 0; i < n; i++)
    {
      guint8 ca = i < la ? (guint8) a[i] : 0;
      guint8 cb = i < lb ? (guint8) b[i] : 0;
      diff |= (guint8) (ca ^ cb);
    }
  return diff == 0;
}

char *
pa_random_token (gsize n_bytes)
{
  g_autofree guint8 *buf = g_malloc (n_bytes);
  gsize got = 0;
  while (got < n_bytes)
    {
      ssize_t r = getrandom (buf + got, n_bytes - got, 0);
      if (r < 0)
        g_error ("getrandom failed: %s", g_strerror (errno));
      got += (gsize) r;
    }
  char *b64 = g_base64_encode (buf, n_bytes);
  for (char *p = b64; *p; p++)
    {
      if (*p == '+')
        *p = '-';
      else if (*p == '/')
        *p = '_';
    }
  char *eq = strchr (b64, '=');
  if (eq)
    *eq = '\0';
  return b64;
}

gint64
pa_now_ms (void)
{
  return g_get_real_time () / 1000;
}

static guint64
dir_bytes (const char *dir, int depth, guint *entries)
{
  if (depth > 32)
    return 0;
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  guint64 total = 0;
  const char *name;
  while (d != NULL && (name = g_dir_read_name (d)) != NULL && *entries < 200000)
    {
      (*entries)++;
      g_autofree char *path = g_build_filename (dir, name, NULL);
      GStatBuf st;
      if (g_lstat (path, &st) != 0)
        continue;
      if (S_ISDIR (st.st_mode))
        total += dir_bytes (path, depth + 1, entries);
      else if (S_ISREG (st.st_mode))
        total += (guint64) st.st_size;
    }
  return total;
}

/* See pa-common.h. */
guint64
pa_dir_bytes (const char *dir)
{
  guint entries = 0;
  return dir_bytes (dir, 0, &entries);
}

/* See pa-common.h. */
void
pa_remove_tree (const char *path)
{
  GStatBuf st;
  if (g_lstat (path, &st) != 0)
    return;
  if (S_ISDIR (st.st_mode))
    {
      g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
      const char *name;
      while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);
          pa_remove_tree (child);
        }
      g_rmdir (path);
    }
  else
    g_unlink (path);
}
