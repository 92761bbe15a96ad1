/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* SQLite helpers shared by the bridge's store and the crypto store. */
#ifndef PA_SQLITE_H
#define PA_SQLITE_H

#include <glib.h>
#include <sqlite3.h>
#include <stdarg.h>

G_BEGIN_DECLS

/* Binds parameters 1…n of `stmt` from `types`: 't' text (NULL binds
 * NULL), 'I' gint64, 'i' int (also gboolean).  A text longer than
 * `max_text` bytes (0: no limit) fails with PA_ERROR_TOO_LARGE; a refused
 * bind with PA_ERROR_STORE, "<what>binding a value: <sqlite message>". */
gboolean pa_sqlite_vbind (sqlite3 *db, sqlite3_stmt *stmt, const char *types, va_list ap,
                          gsize max_text, const char *what, GError **error);

/* One step: SQLITE_ROW or SQLITE_DONE, or SQLITE_ERROR with `error` set
 * (PA_ERROR_STORE, "<what>executing statement: <sqlite message>"). */
int pa_sqlite_step (sqlite3 *db, sqlite3_stmt *stmt, const char *what, GError **error);

/* Creates the parent directory (0700) and the database file with mode
 * 0600 (tightened if it existed), so a database holding tokens or keys is
 * never readable by others; SQLite gives its -wal/-shm files that mode. */
gboolean pa_sqlite_create_private_file (const char *path, GError **error);

G_END_DECLS

#endif
