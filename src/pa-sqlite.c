/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* SQLite helpers shared by the bridge's store and the crypto store
 * (pa-sqlite.h): binding, stepping with errors that name the statement,
 * and creating database files that only their owner can read. */
#define G_LOG_DOMAIN "passerelle"

#include "pa-sqlite.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pa-common.h"

gboolean
pa_sqlite_vbind (sqlite3 *db, sqlite3_stmt *stmt, const char *types, va_list ap, gsize max_text,
                 const char *what, GError **error)
{
  for (int i = 0; types[i] != '\0'; i++)
    {
      int rc = SQLITE_MISUSE;

      switch (types[i])
        {
        case 't':
          {
            const char *s = va_arg (ap, const char *);

            if (s != NULL && max_text > 0 && strlen (s) > max_text)
              {
                g_set_error (error, PA_ERROR, PA_ERROR_TOO_LARGE, "%svalue too large", what);
                return FALSE;
              }
            rc = s != NULL ? sqlite3_bind_text (stmt, i + 1, s, -1, SQLITE_TRANSIENT)
                           : sqlite3_bind_null (stmt, i + 1);
            break;
          }
        case 'I':
          rc = sqlite3_bind_int64 (stmt, i + 1, va_arg (ap, gint64));
          break;
        case 'i':
          rc = sqlite3_bind_int (stmt, i + 1, va_arg (ap, int));
          break;
        default:
          g_warn_if_reached ();
        }
      if (rc != SQLITE_OK)
        {
          g_set_error (error, PA_ERROR, PA_ERROR_STORE, "%sbinding a value: %s", what,
                       sqlite3_errmsg (db));
          return FALSE;
        }
    }
  return TRUE;
}

int
pa_sqlite_step (sqlite3 *db, sqlite3_stmt *stmt, const char *what, GError **error)
{
  int rc = sqlite3_step (stmt);

  if (rc == SQLITE_ROW || rc == SQLITE_DONE)
    return rc;
  g_set_error (error, PA_ERROR, PA_ERROR_STORE, "%sexecuting statement: %s", what,
               sqlite3_errmsg (db));
  return SQLITE_ERROR;
}

gboolean
pa_sqlite_create_private_file (const char *path, GError **error)
{
  g_autofree char *dir = g_path_get_dirname (path);
  int fd;

  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      int saved = errno;

      g_set_error (error, PA_ERROR, PA_ERROR_STORE, "creating directory %s: %s", dir,
                   g_strerror (saved));
      return FALSE;
    }
  fd = g_open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    {
      int saved = errno;

      g_set_error (error, PA_ERROR, PA_ERROR_STORE, "opening %s: %s", path, g_strerror (saved));
      return FALSE;
    }
  if (fchmod (fd, 0600) != 0)
    g_warning ("could not restrict %s to mode 0600: %s", path, g_strerror (errno));
  close (fd);
  return TRUE;
}
