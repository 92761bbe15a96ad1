/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * tg-common.c — the helpers every part of the live plugin uses: the log,
 * an op's result (TDLib's error replies mapped to result codes), emit.
 *
 * Why apart: the bottom of the parts' call graph; every part calls these
 * and they call no part.
 */
#define G_LOG_DOMAIN "passerelle-telegram"

#include <stdarg.h>
#include <string.h>

#include "imp-plugin.h"
#include "tg-private.h"

void
tg_log (PaLogin *login, PaLogLevel level, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  login->api->log (login->host, level, msg);
}

void
tg_op_ok (PaLogin *login, guint64 op_id, const char *legacy_id, gint64 ts_ms)
{
  PaOpResult r = {
    .struct_size = sizeof (PaOpResult),
    .code = PA_RESULT_OK,
    .legacy_id = legacy_id,
    .legacy_ts_ms = ts_ms,
  };
  login->api->op_result (login->host, op_id, &r);
}

void
tg_op_fail (PaLogin *login, guint64 op_id, PaResultCode code, const char *error)
{
  PaOpResult r = {
    .struct_size = sizeof (PaOpResult),
    .code = code,
    .error = error,
  };
  login->api->op_result (login->host, op_id, &r);
}

void
tg_op_fail_td (PaLogin *login, guint64 op_id, json_t *error_reply)
{
  int code = 0;
  const char *message = NULL;
  if (!tg_td_is_error (error_reply, &code, &message))
    {
      tg_op_fail (login, op_id, PA_RESULT_PERMANENT, "Telegram gave an unexpected answer");
      return;
    }
  g_autofree char *text = g_strdup_printf ("Telegram: %s", message);
  PaOpResult r = {
    .struct_size = sizeof (PaOpResult),
    .code = PA_RESULT_PERMANENT,
    .error = text,
  };
  int wait_s = tg_td_flood_wait_s (error_reply);
  g_autofree char *lower = g_ascii_strdown (message, -1);
  if (wait_s >= 0)
    {
      r.code = PA_RESULT_RATE_LIMITED;
      r.retry_after_ms = (guint32) MIN ((gint64) wait_s * 1000, (gint64) G_MAXUINT32);
    }
  else if (code == 403)
    r.code = PA_RESULT_FORBIDDEN;
  else if (code == 404 || (code == 400 && strstr (lower, "not found") != NULL))
    r.code = PA_RESULT_NOT_FOUND;
  else if (code >= 500 || code < 0)
    r.code = PA_RESULT_TEMPORARY;
  login->api->op_result (login->host, op_id, &r);
}

guint64
tg_emit (PaLogin *login, const PaEvent *event)
{
  return imp_emit (login->host, login->api, event);
}
