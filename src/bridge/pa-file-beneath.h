/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Opening a file a worker named, safely: the file must lie beneath a
 * directory the host trusts, be reached without following any link, be a
 * regular file and have no other hard link, so that a plugin cannot point
 * the host at its config, its store or another login's files through a
 * symlink, a ".." or a hard link it made.  The caller reads from the
 * descriptor, never from the path again. */
#ifndef PA_FILE_BENEATH_H
#define PA_FILE_BENEATH_H

#include <glib.h>
#include <sys/stat.h>

G_BEGIN_DECLS

/* Whether `path` names something below `root` (as given or with its links
 * resolved), lexically, without "." or ".." components. */
gboolean pa_file_beneath (const char *root, const char *path);

/* Open `path` (absolute, beneath the directory `root`) read-only: openat2
 * with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS, or a
 * walk with O_NOFOLLOW on kernels without it.  `root` itself is opened
 * following links (it is the host's).  Returns the descriptor and fills
 * `st`, or -1 with `error` (a link, not a regular file, another hard link,
 * outside `root`). */
int pa_file_open_beneath (const char *root, const char *path, struct stat *st, GError **error);

/* Remove the file `path` names beneath `root`, reaching its folder the same
 * way (no link followed): a worker that swaps a folder for a link after
 * handing a file over cannot make the host delete one elsewhere. */
gboolean pa_file_unlink_beneath (const char *root, const char *path, GError **error);

G_END_DECLS

#endif
