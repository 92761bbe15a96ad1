/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Shared by every area: the error domain and cleanup functions for foreign
 * types, so g_autoptr works on json_t, sqlite3_stmt and CURL. */
#ifndef PA_COMMON_H
#define PA_COMMON_H

#include <glib.h>
#include <jansson.h>
#include <sqlite3.h>

G_BEGIN_DECLS

#define PA_ERROR (pa_error_quark ())
GQuark pa_error_quark (void);

typedef enum {
  PA_ERROR_FAILED,       /* generic */
  PA_ERROR_CONFIG,       /* bad configuration (message names file, line, key) */
  PA_ERROR_STORE,        /* SQLite failure */
  PA_ERROR_JSON,         /* malformed JSON */
  PA_ERROR_TOO_LARGE,    /* a configured limit was exceeded */
  PA_ERROR_HTTP,         /* homeserver answered with an error (see PaMatrixError) */
  PA_ERROR_NETWORK,      /* could not reach the homeserver */
  PA_ERROR_PLUGIN,       /* plugin refused to load or failed */
  PA_ERROR_PERMISSION,   /* the user may not do this */
  PA_ERROR_NOT_FOUND,
  PA_ERROR_EXPIRED,      /* Tchap ORG_MATRIX_EXPIRED_ACCOUNT */
} PaErrorCode;

static inline void
pa_json_decref (json_t *j)
{
  json_decref (j);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (json_t, pa_json_decref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (sqlite3_stmt, sqlite3_finalize)

/* Constant-time string comparison for secrets (tokens). */
gboolean pa_secure_equal (const char *a, const char *b);

/* A fresh random token of `n_bytes` of entropy, URL-safe base64 (transfer full). */
char *pa_random_token (gsize n_bytes);

/* Current wall-clock time in ms since the epoch. */
gint64 pa_now_ms (void);

/* Bytes of the regular files under `dir` (symlinks not followed), walking
 * at most 32 levels and 200,000 entries: what a login's data dir holds,
 * against its budget (limits.login_data_bytes). */
guint64 pa_dir_bytes (const char *dir);

/* Deletes `path` and, when it is a directory (never followed when it is a
 * symlink), everything under it.  Best effort: what cannot go stays. */
void pa_remove_tree (const char *path);

G_END_DECLS

#endif
