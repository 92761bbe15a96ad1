/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * tg-test-td.c — tg-td.h's client and tg-network.c's helpers for the live
 * parts' unit tests (see tg-test-td.h).
 */
#include <stdio.h>

#include "tg-test-td.h"

typedef struct
{
  json_t *request;
  TgTdReplyFunc on_reply;
  void *user_data;
  gboolean answered;
} Sent;

static GPtrArray *sent;
static json_t *requests;
static json_t *results;

static void
sent_free (gpointer p)
{
  Sent *s = p;
  json_decref (s->request);
  g_free (s);
}

void
tg_test_td_reset (void)
{
  g_clear_pointer (&sent, g_ptr_array_unref);
  g_clear_pointer (&requests, json_decref);
  g_clear_pointer (&results, json_decref);
  sent = g_ptr_array_new_with_free_func (sent_free);
  requests = json_array ();
  results = json_array ();
}

void
tg_td_send (TgTd *td, json_t *request, TgTdReplyFunc on_reply, void *user_data)
{
  (void) td;
  Sent *s = g_new0 (Sent, 1);
  s->request = request;
  s->on_reply = on_reply;
  s->user_data = user_data;
  g_ptr_array_add (sent, s);
  json_array_append (requests, request);
}

gboolean
tg_td_is_error (json_t *reply, int *code, const char **message)
{
  const char *t = json_string_value (json_object_get (reply, "@type"));
  if (g_strcmp0 (t, "error") != 0)
    return FALSE;
  if (code != NULL)
    *code = (int) json_integer_value (json_object_get (reply, "code"));
  if (message != NULL)
    *message = json_string_value (json_object_get (reply, "message"));
  return TRUE;
}

json_t *
tg_test_td_requests (void)
{
  return requests;
}

gboolean
tg_test_td_answer (const char *type, json_t *reply)
{
  for (guint i = 0; i < sent->len; i++)
    {
      Sent *s = g_ptr_array_index (sent, i);
      if (s->answered
          || g_strcmp0 (json_string_value (json_object_get (s->request, "@type")), type) != 0)
        continue;
      s->answered = TRUE;
      if (s->on_reply != NULL)
        s->on_reply (reply, s->user_data);
      return TRUE;
    }
  return FALSE;
}

void
tg_test_td_close (void)
{
  json_t *aborted
      = json_pack ("{s:s, s:i, s:s}", "@type", "error", "code", 500, "message", "Request aborted");
  for (guint i = 0; i < sent->len; i++)
    {
      Sent *s = g_ptr_array_index (sent, i);
      if (s->answered)
        continue;
      s->answered = TRUE;
      if (s->on_reply != NULL)
        s->on_reply (aborted, s->user_data);
    }
  json_decref (aborted);
}

json_t *
tg_test_td_results (void)
{
  return results;
}

void
tg_log (PaLogin *login, PaLogLevel level, const char *fmt, ...)
{
  (void) login;
  (void) level;
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *s = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_test_message ("log: %s", s);
}

static void
result (guint64 op_id, PaResultCode code, const char *cursor)
{
  json_t *o = json_pack ("{s:I, s:i}", "op_id", (json_int_t) op_id, "code", (int) code);
  if (cursor != NULL)
    json_object_set_new (o, "cursor", json_string (cursor));
  json_array_append_new (results, o);
}

void
tg_op_ok (PaLogin *login, guint64 op_id, const char *legacy_id, gint64 ts_ms)
{
  (void) login;
  (void) legacy_id;
  (void) ts_ms;
  result (op_id, PA_RESULT_OK, NULL);
}

void
tg_op_fail (PaLogin *login, guint64 op_id, PaResultCode code, const char *error)
{
  (void) login;
  (void) error;
  result (op_id, code, NULL);
}

void
tg_op_fail_td (PaLogin *login, guint64 op_id, json_t *error_reply)
{
  (void) login;
  (void) error_reply;
  result (op_id, PA_RESULT_PERMANENT, NULL);
}

guint64
tg_emit (PaLogin *login, const PaEvent *event)
{
  return login->api->emit (login->host, event);
}

/* The op_result of the host table (fetch_history answers with a cursor). */
void
tg_test_op_result (PaHost *host, uint64_t op_id, const PaOpResult *r)
{
  (void) host;
  result (op_id, r->code, r->cursor);
}
