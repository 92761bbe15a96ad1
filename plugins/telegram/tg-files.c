/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * tg-files.c — TDLib's downloaded files taken into the login's data dir,
 * for the parts that download (message media, chat and user photos).
 *
 * Why apart: both tg-content-in.c and tg-chats-photos.c take files; this
 * file calls neither.
 */
#define G_LOG_DOMAIN "passerelle-telegram"

#include <errno.h>
#include <glib/gstdio.h>

#include "tg-files.h"
#include "tg-json.h"

static gboolean
copy_file (const char *src, const char *dest, GError **error)
{
  g_autofree char *data = NULL;
  gsize len = 0;
  if (!g_file_get_contents (src, &data, &len, error))
    return FALSE;
  return g_file_set_contents_full (dest, data, (gssize) len, G_FILE_SET_CONTENTS_CONSISTENT, 0600,
                                   error);
}

gboolean
tg_files_take (PaLogin *login, json_t *file, const char *dest, GError **error)
{
  const char *src = tg_jstr (json_object_get (file, "local"), "path");
  if (src == NULL || *src == '\0')
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT, "TDLib gave no local file");
      return FALSE;
    }
  g_autofree char *dir = g_path_get_dirname (dest);
  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno), "cannot create %s", dir);
      return FALSE;
    }
  (void) login;
  /* moved, not linked: the host refuses a file with other links, and
   * TDLib fetches a file again when its copy is gone */
  if (g_rename (src, dest) == 0)
    return TRUE;
  return copy_file (src, dest, error);
}
