/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * lb-util.h — small helpers every file of the loopback plugin uses: JSON
 * member access, time, private files, logging through the host, and
 * answering operations with typed results.
 */
#ifndef LB_UTIL_H
#define LB_UTIL_H

#include "lb-types.h"

/* The string member `key` of `obj`, or NULL (borrowed). */
const char *lb_js (json_t *obj, const char *key);
/* TRUE when the member `key` of `obj` is true. */
gboolean lb_jb (json_t *obj, const char *key);
/* The integer member `key` of `obj`, or `fallback`. */
gint64 lb_ji (json_t *obj, const char *key, gint64 fallback);
/* Sets obj.key = value unless value is NULL. */
void lb_set_str (json_t *obj, const char *key, const char *value);
/* A newly allocated copy of `v` (hash table keys). */
guint64 *lb_u64_dup (guint64 v);
/* Now, in ms since the epoch. */
gint64 lb_now_ms (void);
/* Frees credentials, wiping the password. */
void lb_creds_free (LbCreds *c);
/* Writes a private (0600) file atomically. */
gboolean lb_write_file (const char *path, const void *data, gsize len, GError **error);
/* A malloc'd copy: the host frees error strings with free(). */
char *lb_c_strdup (const char *s);
/* Logs through the host, printf-style. */
void lb_log (LbLogin *login, PaLogLevel level, const char *fmt, ...) G_GNUC_PRINTF (3, 4);
/* Answers op_id with a failure `code` and a sentence for the agent. */
void lb_fail_op (LbLogin *login, guint64 op_id, PaResultCode code, const char *error);
/* Answers op_id with success: what was created (may be NULL), its timestamp (0:
 * unknown), and the next history cursor (NULL: none). */
void lb_op_ok (LbLogin *login, guint64 op_id, const char *legacy_id, gint64 ts_ms,
               const char *cursor);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LbCreds, lb_creds_free)

#endif
