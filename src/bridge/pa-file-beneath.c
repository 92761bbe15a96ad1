/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Files a worker names, opened beneath a trusted directory without
 * following links (pa-file-beneath.h).  No I/O beyond open and fstat, no
 * PaBridge: the bottom floor. */
#define G_LOG_DOMAIN "passerelle-bridge"

#include "pa-file-beneath.h"

#include "pa-common.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The part of `path` below `root` (pointing into `path`), or NULL. */
static const char *
relative (const char *root, const char *path)
{
  gsize n = strlen (root);
  while (n > 1 && root[n - 1] == '/')
    n--;
  if (strncmp (path, root, n) != 0 || path[n] != '/')
    return NULL;
  return path + n + 1;
}

static gboolean
clean_relative (const char *rel)
{
  if (rel == NULL || *rel == '\0')
    return FALSE;
  g_auto (GStrv) parts = g_strsplit (rel, "/", -1);
  for (gsize i = 0; parts[i] != NULL; i++)
    if (parts[i][0] == '\0' || g_str_equal (parts[i], ".") || g_str_equal (parts[i], ".."))
      return FALSE;
  return TRUE;
}

/* `path` below `root` lexically (root as given, or resolved), or NULL. */
static const char *
below (const char *root, const char *real_root, const char *path)
{
  if (root == NULL || path == NULL || !g_path_is_absolute (path))
    return NULL;
  const char *rel = relative (root, path);
  if (rel == NULL && real_root != NULL)
    rel = relative (real_root, path);
  return clean_relative (rel) ? rel : NULL;
}

gboolean
pa_file_beneath (const char *root, const char *path)
{
  if (root == NULL)
    return FALSE;
  g_autofree char *real_root = realpath (root, NULL);
  return below (root, real_root, path) != NULL;
}

/* Kernels before 5.6: one component at a time, none of them a link; the
 * last opened with `last_flags`. */
static int
open_walk (int dir, const char *rel, int last_flags)
{
  g_auto (GStrv) parts = g_strsplit (rel, "/", -1);
  int cur = dup (dir);
  for (gsize i = 0; cur >= 0 && parts[i] != NULL; i++)
    {
      gboolean last = parts[i + 1] == NULL;
      int flags = last ? last_flags | O_NOFOLLOW : O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
      int next = openat (cur, parts[i], flags);
      int e = errno;
      close (cur);
      errno = e;
      cur = next;
    }
  return cur;
}

/* `rel` opened beneath `dir` with `flags`, no link followed. */
static int
open_rel (int dir, const char *rel, int flags)
{
  struct open_how how
      = { .flags = (guint64) (flags | O_NOFOLLOW),
          .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS };
  int fd = (int) syscall (SYS_openat2, dir, rel, &how, sizeof how);
  if (fd < 0 && (errno == ENOSYS || errno == E2BIG))
    fd = open_walk (dir, rel, flags);
  return fd;
}

int
pa_file_open_beneath (const char *root, const char *path, struct stat *st, GError **error)
{
  g_autofree char *real_root = root != NULL ? realpath (root, NULL) : NULL;
  const char *rel = below (root, real_root, path);
  if (rel == NULL || real_root == NULL)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_PERMISSION, "%s is outside %s", path ? path : "(null)",
                   root ? root : "(null)");
      return -1;
    }
  int dir = open (real_root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0)
    {
      int e = errno;
      g_set_error (error, PA_ERROR, PA_ERROR_FAILED, "%s: %s", root, g_strerror (e));
      return -1;
    }
  int fd = open_rel (dir, rel, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
  int e = errno;
  close (dir);
  if (fd < 0)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_PERMISSION, "%s: %s", path,
                   e == ELOOP || e == EXDEV ? "reached through a link" : g_strerror (e));
      return -1;
    }
  const char *why = NULL;
  if (fstat (fd, st) != 0)
    why = g_strerror (errno);
  else if (!S_ISREG (st->st_mode))
    why = "not a regular file";
  else if (st->st_nlink != 1)
    why = "the file has other hard links";
  if (why != NULL)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_PERMISSION, "%s: %s", path, why);
      close (fd);
      return -1;
    }
  return fd;
}

gboolean
pa_file_unlink_beneath (const char *root, const char *path, GError **error)
{
  g_autofree char *real_root = root != NULL ? realpath (root, NULL) : NULL;
  const char *rel = below (root, real_root, path);
  if (rel == NULL || real_root == NULL)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_PERMISSION, "%s is outside %s", path ? path : "(null)",
                   root ? root : "(null)");
      return FALSE;
    }
  g_autofree char *parent = g_path_get_dirname (rel);
  g_autofree char *base = g_path_get_basename (rel);
  int dir = open (real_root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0 && !g_str_equal (parent, "."))
    {
      int sub = open_rel (dir, parent, O_PATH | O_DIRECTORY | O_CLOEXEC);
      int e = errno;
      close (dir);
      errno = e;
      dir = sub;
    }
  if (dir < 0 || unlinkat (dir, base, 0) != 0)
    {
      int e = errno;
      if (dir >= 0)
        close (dir);
      g_set_error (error, PA_ERROR, PA_ERROR_FAILED, "%s: %s", path,
                   e == ELOOP || e == EXDEV ? "reached through a link" : g_strerror (e));
      return FALSE;
    }
  close (dir);
  return TRUE;
}
