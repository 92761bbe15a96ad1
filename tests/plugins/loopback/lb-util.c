/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * lb-util.c — helpers shared by every file of the loopback plugin: JSON
 * member access, time, private file writes, logging through the host, and
 * the two ways an operation is answered (ok with ids, or a result code).
 */
#define G_LOG_DOMAIN "passerelle-loopback"

#include "lb-util.h"

#include <stdlib.h>
#include <string.h>

#include <glib/gstdio.h>

const char *
lb_js (json_t *obj, const char *key)
{
  json_t *v = json_object_get (obj, key);
  return json_is_string (v) ? json_string_value (v) : NULL;
}

gboolean
lb_jb (json_t *obj, const char *key)
{
  return json_is_true (json_object_get (obj, key));
}

gint64
lb_ji (json_t *obj, const char *key, gint64 fallback)
{
  json_t *v = json_object_get (obj, key);
  return json_is_integer (v) ? (gint64) json_integer_value (v) : fallback;
}

void
lb_set_str (json_t *obj, const char *key, const char *value)
{
  if (value != NULL)
    json_object_set_new (obj, key, json_string (value));
}

guint64 *
lb_u64_dup (guint64 v)
{
  guint64 *p = g_new (guint64, 1);
  *p = v;
  return p;
}

gint64
lb_now_ms (void)
{
  return g_get_real_time () / 1000;
}

void
lb_creds_free (LbCreds *c)
{
  if (c == NULL)
    return;
  g_free (c->server);
  g_free (c->user);
  if (c->password != NULL)
    explicit_bzero (c->password, strlen (c->password));
  g_free (c->password);
  g_free (c);
}

/* Writes a private file atomically: sessions hold a password. */
gboolean
lb_write_file (const char *path, const void *data, gsize len, GError **error)
{
  return g_file_set_contents_full (path, data, (gssize) len, G_FILE_SET_CONTENTS_CONSISTENT, 0600,
                                   error);
}

char *
lb_c_strdup (const char *s)
{
  /* The host frees error strings with free(). */
  return strdup (s);
}

void
lb_log (LbLogin *login, PaLogLevel level, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  login->api->log (login->host, level, msg);
}

void
lb_fail_op (LbLogin *login, guint64 op_id, PaResultCode code, const char *error)
{
  PaOpResult r = {
    .struct_size = sizeof (PaOpResult),
    .code = code,
    .error = error,
  };
  login->api->op_result (login->host, op_id, &r);
}

void
lb_op_ok (LbLogin *login, guint64 op_id, const char *legacy_id, gint64 ts_ms, const char *cursor)
{
  PaOpResult r = {
    .struct_size = sizeof (PaOpResult),
    .code = PA_RESULT_OK,
    .legacy_id = legacy_id,
    .legacy_ts_ms = ts_ms,
    .cursor = cursor,
  };
  login->api->op_result (login->host, op_id, &r);
}
