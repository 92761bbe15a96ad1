/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * test-tg-outgoing.c — the Matrix → Telegram operations against a
 * recording TDLib: the requests each op sends, the one answer each op
 * gets (from a reply, from the update that ends a send, or when the login
 * closes), temporary ids answered with the final one, files kept until
 * TDLib is done with them.
 */
#include <glib/gstdio.h>
#include <string.h>

#include "tg-chats.h"
#include "tg-entities.h"
#include "tg-ids.h"
#include "tg-outgoing.h"
#include "tg-test-host.h"
#include "tg-test-td.h"

/* ----------------------------------------------- the parts around it */

typedef struct
{
  json_t *request;
  TgTdReplyFunc fn;
  void *user_data;
} Sent;

static GPtrArray *sent;    /* Sent*, in order */
static json_t *results;    /* [{op_id, code, legacy_id, ts, error, retry_after_ms}] */
static json_t *contacts;   /* [{op_id, id, name, identifier}] */
static GHashTable *kinds;  /* chat id → TgChatKind */
static gboolean read_only; /* tg_chats_can_post answers the opposite */
static json_t *announced;  /* chat ids */

static void
sent_free (gpointer p)
{
  Sent *s = p;
  json_decref (s->request);
  g_free (s);
}

void
tg_td_send (TgTd *td, json_t *request, TgTdReplyFunc on_reply, void *user_data)
{
  (void) td;
  Sent *s = g_new0 (Sent, 1);
  s->request = request;
  s->fn = on_reply;
  s->user_data = user_data;
  g_ptr_array_add (sent, s);
}

json_t *
tg_td_execute (TgTd *td, json_t *request)
{
  (void) td;
  (void) request;
  return NULL;
}

gboolean
tg_td_is_error (json_t *reply, int *code, const char **message)
{
  if (g_strcmp0 (json_string_value (json_object_get (reply, "@type")), "error") != 0)
    return FALSE;
  if (code != NULL)
    *code = (int) json_integer_value (json_object_get (reply, "code"));
  if (message != NULL)
    *message = json_string_value (json_object_get (reply, "message"));
  return TRUE;
}

int
tg_td_flood_wait_s (json_t *reply)
{
  const char *m = json_string_value (json_object_get (reply, "message"));
  const char *p = m != NULL ? strstr (m, "retry after ") : NULL;
  return p != NULL ? (int) g_ascii_strtoll (p + strlen ("retry after "), NULL, 10) : -1;
}

static void
record (guint64 op_id, PaResultCode code, const char *legacy_id, gint64 ts, const char *error,
        int retry_after_ms)
{
  json_t *o = json_pack ("{s:I, s:i, s:I, s:i}", "op_id", (json_int_t) op_id, "code", code, "ts",
                         (json_int_t) ts, "retry_after_ms", retry_after_ms);
  if (legacy_id != NULL)
    json_object_set_new (o, "legacy_id", json_string (legacy_id));
  if (error != NULL)
    json_object_set_new (o, "error", json_string (error));
  json_array_append_new (results, o);
}

void
tg_op_ok (PaLogin *login, guint64 op_id, const char *legacy_id, gint64 ts_ms)
{
  (void) login;
  record (op_id, PA_RESULT_OK, legacy_id, ts_ms, NULL, 0);
}

void
tg_op_fail (PaLogin *login, guint64 op_id, PaResultCode code, const char *error)
{
  (void) login;
  record (op_id, code, NULL, 0, error, 0);
}

void
tg_op_fail_td (PaLogin *login, guint64 op_id, json_t *error_reply)
{
  (void) login;
  int code = 0;
  const char *message = NULL;
  g_assert_true (tg_td_is_error (error_reply, &code, &message));
  int wait = tg_td_flood_wait_s (error_reply);
  if (wait >= 0)
    record (op_id, PA_RESULT_RATE_LIMITED, NULL, 0, message, wait * 1000);
  else
    record (op_id, code == 403 ? PA_RESULT_FORBIDDEN : PA_RESULT_PERMANENT, NULL, 0, message, 0);
}

void
tg_log (PaLogin *login, PaLogLevel level, const char *fmt, ...)
{
  (void) login;
  (void) level;
  (void) fmt;
}

TgChatKind
tg_chats_kind (PaLogin *login, gint64 chat_id)
{
  (void) login;
  return GPOINTER_TO_INT (g_hash_table_lookup (kinds, &chat_id));
}

gboolean
tg_chats_can_post (PaLogin *login, gint64 chat_id)
{
  (void) login;
  (void) chat_id;
  return !read_only;
}

const char *
tg_chats_user_name (PaLogin *login, gint64 user_id)
{
  (void) login;
  return user_id == 77 ? "Bob Bleu" : NULL;
}

gboolean
tg_chats_announce (PaLogin *login, gint64 chat_id, gint32 topic_id)
{
  (void) login;
  (void) topic_id;
  json_array_append_new (announced, json_integer (chat_id));
  return TRUE;
}

json_t *
tg_entities_from_html (const char *html, const char *plain, TgExecFunc exec, void *user_data)
{
  (void) html;
  (void) exec;
  (void) user_data;
  /* What TDLib's parser gives for "<b>…</b>" wrapping the whole text. */
  return json_pack ("{s:s, s:s, s:[{s:s, s:i, s:i, s:{s:s}}]}", "@type", "formattedText", "text",
                    plain, "entities", "@type", "textEntity", "offset", 0, "length",
                    (int) tg_out_utf16_len (plain), "type", "@type", "textEntityTypeBold");
}

/* What tg-test-host.c expects of the incoming tests' TDLib stand-in,
 * which this test replaces with the above. */
void
tg_test_td_reset (void)
{
}

void
tg_test_op_result (PaHost *host, uint64_t op_id, const PaOpResult *r)
{
  (void) host;
  record (op_id, r->code, r->legacy_id, r->legacy_ts_ms, r->error, (int) r->retry_after_ms);
}

static void
api_op_contact (PaHost *host, uint64_t op_id, const PaMember *m)
{
  (void) host;
  json_t *o = json_pack ("{s:I, s:s}", "op_id", (json_int_t) op_id, "id", m->id);
  if (m->name != NULL)
    json_object_set_new (o, "name", json_string (m->name));
  if (m->identifier != NULL)
    json_object_set_new (o, "identifier", json_string (m->identifier));
  json_array_append_new (contacts, o);
}

static PaTimerFunc timer_fn; /* the last timer added */
static void *timer_data;

static uint32_t
api_timer_add (PaHost *host, uint32_t interval_ms, PaTimerFunc fn, void *user_data)
{
  (void) host;
  (void) interval_ms;
  timer_fn = fn;
  timer_data = user_data;
  return 1;
}

static void
api_source_remove (PaHost *host, uint32_t id)
{
  (void) host;
  g_assert_cmpuint (id, ==, 1);
  timer_fn = NULL;
}

/* ------------------------------------------------------------ fixture */

typedef struct
{
  PaLogin *login;
  PaHostApi api;
} Fixture;

static void
setup (Fixture *f, gconstpointer data)
{
  (void) data;
  sent = g_ptr_array_new_with_free_func (sent_free);
  results = json_array ();
  contacts = json_array ();
  announced = json_array ();
  kinds = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  read_only = FALSE;
  f->login = tg_test_login_new ();
  f->api = *f->login->api;
  f->api.op_contact = api_op_contact;
  f->api.timer_add = api_timer_add;
  f->api.source_remove = api_source_remove;
  timer_fn = NULL;
  f->login->api = &f->api;
  f->login->td = (TgTd *) f; /* never dereferenced by the stand-ins */
  tg_out_init (f->login);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  (void) data;
  tg_out_free (f->login);
  tg_test_login_free (f->login);
  g_ptr_array_unref (sent);
  json_decref (results);
  json_decref (contacts);
  json_decref (announced);
  g_hash_table_unref (kinds);
}

static void
set_kind (gint64 chat, TgChatKind kind)
{
  gint64 *k = g_new (gint64, 1);
  *k = chat;
  g_hash_table_replace (kinds, k, GINT_TO_POINTER (kind));
}

/* The last request sent, checked to be of `type`. */
static Sent *
last (const char *type)
{
  g_assert_cmpuint (sent->len, >, 0);
  Sent *s = g_ptr_array_index (sent, sent->len - 1);
  g_assert_cmpstr (json_string_value (json_object_get (s->request, "@type")), ==, type);
  return s;
}

/* Answers `s` with `reply` (stolen). */
static void
answer (Sent *s, json_t *reply)
{
  g_assert_nonnull (s->fn);
  TgTdReplyFunc fn = s->fn;
  s->fn = NULL;
  fn (reply, s->user_data);
  json_decref (reply);
}

static json_t *
result_of (guint64 op_id)
{
  json_t *found = NULL, *r;
  size_t i;
  json_array_foreach (results, i, r)
  {
    if ((guint64) json_integer_value (json_object_get (r, "op_id")) == op_id)
      {
        g_assert_null (found); /* exactly one answer */
        found = r;
      }
  }
  return found;
}

static int
code_of (guint64 op_id)
{
  json_t *r = result_of (op_id);
  g_assert_nonnull (r);
  return (int) json_integer_value (json_object_get (r, "code"));
}

static json_t *
pending_message (gint64 chat, gint64 id)
{
  return json_pack ("{s:s, s:I, s:I, s:i, s:{s:s, s:i}}", "@type", "message", "id", (json_int_t) id,
                    "chat_id", (json_int_t) chat, "date", 1700000000, "sending_state", "@type",
                    "messageSendingStatePending", "sending_id", 0);
}

static void
deliver (PaLogin *login, json_t *update)
{
  g_assert_true (
      tg_out_on_update (login, json_string_value (json_object_get (update, "@type")), update));
  json_decref (update);
}

static json_t *
succeeded (gint64 chat, gint64 old, gint64 id)
{
  return json_pack ("{s:s, s:{s:s, s:I, s:I, s:i, s:{s:s, s:{s:s}}}, s:I}", "@type",
                    "updateMessageSendSucceeded", "message", "@type", "message", "id",
                    (json_int_t) id, "chat_id", (json_int_t) chat, "date", 1700000005, "content",
                    "@type", "messageText", "text", "@type", "formattedText", "old_message_id",
                    (json_int_t) old);
}

static const PaContent text_content = {
  .struct_size = sizeof (PaContent),
  .kind = PA_MSG_TEXT,
  .text = "hello",
};

/* -------------------------------------------------------------- tests */

static void
test_send_final_id (Fixture *f, gconstpointer data)
{
  (void) data;
  PaContent c = text_content;
  c.html = "<b>hello</b>";
  c.reply_to = "41";
  tg_out_send (f->login, 1, "-1001234567890#7", &c, "$ev");
  Sent *s = last ("sendMessage");
  json_t *rq = s->request;
  g_assert_cmpint (json_integer_value (json_object_get (rq, "chat_id")), ==, -1001234567890);
  g_assert_cmpint (
      json_integer_value (json_object_get (json_object_get (rq, "topic_id"), "forum_topic_id")), ==,
      7);
  g_assert_cmpint (
      json_integer_value (json_object_get (json_object_get (rq, "reply_to"), "message_id")), ==,
      41);
  json_t *text = json_object_get (json_object_get (rq, "input_message_content"), "text");
  g_assert_cmpstr (json_string_value (json_object_get (text, "text")), ==, "hello");
  g_assert_cmpuint (json_array_size (json_object_get (text, "entities")), ==, 1);

  /* The temporary id is no answer yet. */
  answer (s, pending_message (-1001234567890, 1048577));
  g_assert_cmpuint (json_array_size (results), ==, 0);
  /* Another chat's outcome with the same temporary id is not ours. */
  deliver (f->login, succeeded (-1009999999999, 1048577, 90));
  g_assert_cmpuint (json_array_size (results), ==, 0);
  deliver (f->login, succeeded (-1001234567890, 1048577, 88));
  g_assert_cmpint (code_of (1), ==, PA_RESULT_OK);
  g_assert_cmpstr (json_string_value (json_object_get (result_of (1), "legacy_id")), ==, "88");
  g_assert_cmpint (json_integer_value (json_object_get (result_of (1), "ts")), ==, 1700000005000LL);
  /* A second outcome for it changes nothing. */
  deliver (f->login, succeeded (-1001234567890, 1048577, 89));
  g_assert_cmpuint (json_array_size (results), ==, 1);
}

static void
test_send_outcome_first (Fixture *f, gconstpointer data)
{
  (void) data;
  tg_out_send (f->login, 2, "55", &text_content, NULL);
  Sent *s = last ("sendMessage");
  g_assert_true (json_is_null (json_object_get (s->request, "topic_id")));
  /* The update overtakes sendMessage's own answer. */
  deliver (f->login, succeeded (55, 1048600, 300));
  g_assert_cmpuint (json_array_size (results), ==, 0);
  answer (s, pending_message (55, 1048600));
  g_assert_cmpstr (json_string_value (json_object_get (result_of (2), "legacy_id")), ==, "300");
}

static void
test_send_flood_wait (Fixture *f, gconstpointer data)
{
  (void) data;
  tg_out_send (f->login, 3, "55", &text_content, NULL);
  answer (last ("sendMessage"), pending_message (55, 1048601));
  deliver (f->login,
           json_pack ("{s:s, s:{s:s, s:i, s:i, s:{s:s, s:f}}, s:i, s:{s:s, s:i, s:s}}", "@type",
                      "updateMessageSendFailed", "message", "@type", "message", "id", 1048602,
                      "chat_id", 55, "sending_state", "@type", "messageSendingStateFailed",
                      "retry_after", 3.0, "old_message_id", 1048601, "error", "@type", "error",
                      "code", 429, "message", "Too Many Requests: retry after 3"));
  g_assert_cmpint (code_of (3), ==, PA_RESULT_RATE_LIMITED);
  g_assert_cmpint (json_integer_value (json_object_get (result_of (3), "retry_after_ms")), ==,
                   3000);
  /* The failed copy leaves TDLib's chat: the host's retry is a new message. */
  Sent *d = last ("deleteMessages");
  g_assert_cmpint (
      json_integer_value (json_array_get (json_object_get (d->request, "message_ids"), 0)), ==,
      1048602);
  g_assert_false (json_is_true (json_object_get (d->request, "revoke")));

  /* The same op sent again (the host's retry) is answered afresh. */
  tg_out_send (f->login, 3, "55", &text_content, NULL);
  answer (last ("sendMessage"), json_pack ("{s:s, s:i, s:s}", "@type", "error", "code", 429,
                                           "message", "Too Many Requests: retry after 5"));
  g_assert_cmpuint (json_array_size (results), ==, 2);
  json_t *second = json_array_get (results, 1);
  g_assert_cmpint (json_integer_value (json_object_get (second, "retry_after_ms")), ==, 5000);

  /* A caption over Telegram's limit is too large, not a failure to retry. */
  tg_out_send (f->login, 15, "55", &text_content, NULL);
  answer (last ("sendMessage"), json_pack ("{s:s, s:i, s:s}", "@type", "error", "code", 400,
                                           "message", "Message caption is too long"));
  g_assert_cmpint (code_of (15), ==, PA_RESULT_TOO_LARGE);
}

static void
test_send_media_file (Fixture *f, gconstpointer data)
{
  (void) data;
  g_autofree char *host_file = g_build_filename (f->login->data_dir, "host-dl-1", NULL);
  g_assert_true (g_file_set_contents (host_file, "JPEGDATA", 8, NULL));
  PaContent c = {
    .struct_size = sizeof (PaContent),
    .kind = PA_MSG_IMAGE,
    .text = "a caption",
    .media_path = host_file,
    .media_name = "../cat.jpg",
    .mimetype = "image/jpeg",
    .width = 640,
    .height = 480,
  };
  tg_out_send (f->login, 4, "55", &c, NULL);
  Sent *s = last ("sendMessage");
  json_t *input = json_object_get (s->request, "input_message_content");
  g_assert_cmpstr (json_string_value (json_object_get (input, "@type")), ==, "inputMessagePhoto");
  json_t *photo = json_object_get (input, "photo");
  g_assert_cmpint (json_integer_value (json_object_get (photo, "width")), ==, 640);
  const char *path = json_string_value (json_object_get (json_object_get (photo, "photo"), "path"));
  g_assert_true (g_str_has_suffix (path, "/_cat.jpg"));
  g_assert_cmpstr (json_string_value (json_object_get (json_object_get (input, "caption"), "text")),
                   ==, "a caption");
  /* The host deletes its file: ours stays for TDLib's upload. */
  g_unlink (host_file);
  g_autofree char *bytes = NULL;
  g_assert_true (g_file_get_contents (path, &bytes, NULL, NULL));
  g_assert_cmpstr (bytes, ==, "JPEGDATA");
  g_autofree char *kept = g_strdup (path);
  answer (s, pending_message (55, 1048603));
  g_assert_true (g_file_test (kept, G_FILE_TEST_EXISTS));
  deliver (f->login, succeeded (55, 1048603, 301));
  g_assert_cmpint (code_of (4), ==, PA_RESULT_OK);
  g_assert_false (g_file_test (kept, G_FILE_TEST_EXISTS));
}

static void
test_send_refused (Fixture *f, gconstpointer data)
{
  (void) data;
  set_kind (-100777, TG_CHAT_CHANNEL);
  read_only = TRUE;
  tg_out_send (f->login, 5, "-100777", &text_content, NULL);
  g_assert_cmpint (code_of (5), ==, PA_RESULT_FORBIDDEN);
  g_assert_nonnull (
      strstr (json_string_value (json_object_get (result_of (5), "error")), "read-only"));
  read_only = FALSE;
  tg_out_send (f->login, 6, "not a chat", &text_content, NULL);
  g_assert_cmpint (code_of (6), ==, PA_RESULT_NOT_FOUND);
  GString *big = g_string_new (NULL);
  for (int i = 0; i < 4097; i++)
    g_string_append (big, "é");
  PaContent c = text_content;
  c.text = big->str;
  tg_out_send (f->login, 7, "55", &c, NULL);
  g_assert_cmpint (code_of (7), ==, PA_RESULT_TOO_LARGE);
  g_string_free (big, TRUE);
  f->login->ready = FALSE;
  tg_out_send (f->login, 8, "55", &text_content, NULL);
  g_assert_cmpint (code_of (8), ==, PA_RESULT_NOT_CONNECTED);
  g_assert_cmpuint (sent->len, ==, 0);
}

static void
test_close_answers_pending (Fixture *f, gconstpointer data)
{
  (void) data;
  tg_out_send (f->login, 9, "55", &text_content, NULL);
  answer (last ("sendMessage"), pending_message (55, 1048604));
  tg_out_send (f->login, 10, "55", &text_content, NULL);
  Sent *waiting = last ("sendMessage");
  tg_out_typing (f->login, 11, "55", TRUE);
  tg_out_free (f->login);
  g_assert_cmpint (code_of (9), ==, PA_RESULT_UNCERTAIN);
  g_assert_cmpint (code_of (10), ==, PA_RESULT_UNCERTAIN);
  g_assert_cmpint (code_of (11), ==, PA_RESULT_TEMPORARY);
  /* The client aborts what waited: nothing more is answered. */
  f->login->closing = TRUE;
  answer (waiting, json_pack ("{s:s, s:i, s:s}", "@type", "error", "code", 500, "message",
                              "Request aborted"));
  answer (last ("sendChatAction"), json_pack ("{s:s}", "@type", "ok"));
  g_assert_cmpuint (json_array_size (results), ==, 3);
  tg_out_init (f->login); /* for teardown */
}

static void
test_client_gone (Fixture *f, gconstpointer data)
{
  (void) data;
  tg_out_send (f->login, 13, "55", &text_content, NULL);
  answer (last ("sendMessage"), pending_message (55, 1048605));
  g_assert_nonnull (timer_fn);
  /* The client is still there: the send waits on. */
  g_assert_true (timer_fn (timer_data));
  g_assert_cmpuint (json_array_size (results), ==, 0);
  /* Disconnected: no outcome will come. */
  TgTd *td = f->login->td;
  f->login->td = NULL;
  g_assert_false (timer_fn (timer_data));
  g_assert_cmpint (code_of (13), ==, PA_RESULT_UNCERTAIN);
  f->login->td = td;

  /* Connected again before the timer looked: that client never took it. */
  tg_out_send (f->login, 14, "55", &text_content, NULL);
  answer (last ("sendMessage"), pending_message (55, 1048606));
  f->login->td = (TgTd *) &td;
  g_assert_false (timer_fn (timer_data));
  g_assert_cmpint (code_of (14), ==, PA_RESULT_UNCERTAIN);
  f->login->td = td;
}

static void
test_aborted (Fixture *f, gconstpointer data)
{
  (void) data;
  tg_out_send (f->login, 12, "55", &text_content, NULL);
  answer (last ("sendMessage"), json_pack ("{s:s, s:i, s:s}", "@type", "error", "code", 500,
                                           "message", "Request aborted"));
  g_assert_cmpint (code_of (12), ==, PA_RESULT_UNCERTAIN);
}

static void
test_edit (Fixture *f, gconstpointer data)
{
  (void) data;
  PaContent c = text_content;
  c.text = "new words";
  tg_out_edit (f->login, 20, "55", "300", &c);
  answer (last ("getMessage"), json_pack ("{s:s, s:i, s:{s:s}}", "@type", "message", "id", 300,
                                          "content", "@type", "messageText"));
  Sent *s = last ("editMessageText");
  g_assert_cmpint (json_integer_value (json_object_get (s->request, "message_id")), ==, 300);
  json_t *input = json_object_get (s->request, "input_message_content");
  g_assert_cmpstr (json_string_value (json_object_get (json_object_get (input, "text"), "text")),
                   ==, "new words");
  answer (s, json_pack ("{s:s}", "@type", "message"));
  g_assert_cmpint (code_of (20), ==, PA_RESULT_OK);

  tg_out_edit (f->login, 21, "55", "301", &c);
  answer (last ("getMessage"),
          json_pack ("{s:s, s:{s:s}}", "@type", "message", "content", "@type", "messagePhoto"));
  s = last ("editMessageCaption");
  g_assert_cmpstr (
      json_string_value (json_object_get (json_object_get (s->request, "caption"), "text")), ==,
      "new words");
  answer (s, json_pack ("{s:s, s:i, s:s}", "@type", "error", "code", 400, "message",
                        "Message can't be edited"));
  g_assert_cmpint (code_of (21), ==, PA_RESULT_PERMANENT);
  g_assert_nonnull (strstr (json_string_value (json_object_get (result_of (21), "error")), "48"));

  tg_out_edit (f->login, 22, "55", "junk", &c);
  g_assert_cmpint (code_of (22), ==, PA_RESULT_NOT_FOUND);

  /* The client closes between the two steps: the edit never left. */
  tg_out_edit (f->login, 23, "55", "300", &c);
  TgTd *td = f->login->td;
  f->login->td = NULL;
  answer (last ("getMessage"),
          json_pack ("{s:s, s:{s:s}}", "@type", "message", "content", "@type", "messageText"));
  g_assert_cmpint (code_of (23), ==, PA_RESULT_NOT_CONNECTED);
  f->login->td = td;
}

static void
test_react_redact_read_typing (Fixture *f, gconstpointer data)
{
  (void) data;
  tg_out_react (f->login, 30, "55", "300", "\xe2\x9d\xa4\xef\xb8\x8f", FALSE); /* ❤️ */
  Sent *s = last ("addMessageReaction");
  g_assert_cmpstr (
      json_string_value (json_object_get (json_object_get (s->request, "reaction_type"), "emoji")),
      ==, "\xe2\x9d\xa4");
  answer (s, json_pack ("{s:s}", "@type", "ok"));
  g_assert_cmpint (code_of (30), ==, PA_RESULT_OK);

  tg_out_react (f->login, 31, "55", "300", "🦜", FALSE);
  answer (last ("addMessageReaction"), json_pack ("{s:s, s:i, s:s}", "@type", "error", "code", 400,
                                                  "message", "REACTION_INVALID"));
  g_assert_cmpint (code_of (31), ==, PA_RESULT_UNSUPPORTED);

  tg_out_react (f->login, 32, "55", "300", "👍", TRUE);
  answer (last ("removeMessageReaction"), json_pack ("{s:s}", "@type", "ok"));
  g_assert_cmpint (code_of (32), ==, PA_RESULT_OK);

  tg_out_redact (f->login, 33, "55", "300");
  s = last ("deleteMessages");
  g_assert_true (json_is_true (json_object_get (s->request, "revoke")));
  answer (s, json_pack ("{s:s, s:i, s:s}", "@type", "error", "code", 403, "message",
                        "Message can't be deleted"));
  g_assert_cmpint (code_of (33), ==, PA_RESULT_FORBIDDEN);

  tg_out_mark_read (f->login, 34, "55", "300");
  s = last ("viewMessages");
  g_assert_true (json_is_true (json_object_get (s->request, "force_read")));
  answer (s, json_pack ("{s:s}", "@type", "ok"));
  g_assert_cmpint (code_of (34), ==, PA_RESULT_OK);

  tg_out_typing (f->login, 35, "55", FALSE);
  s = last ("sendChatAction");
  g_assert_cmpstr (
      json_string_value (json_object_get (json_object_get (s->request, "action"), "@type")), ==,
      "chatActionCancel");
  answer (s, json_pack ("{s:s}", "@type", "ok"));
  g_assert_cmpint (code_of (35), ==, PA_RESULT_OK);
}

static void
test_chat_info_membership (Fixture *f, gconstpointer data)
{
  (void) data;
  set_kind (55, TG_CHAT_PRIVATE);
  set_kind (-42, TG_CHAT_BASIC_GROUP);
  set_kind (-100500, TG_CHAT_SUPERGROUP);
  tg_out_set_chat_info (f->login, 40, "55", PA_CHAT_FIELD_NAME, "x");
  g_assert_cmpint (code_of (40), ==, PA_RESULT_UNSUPPORTED);
  tg_out_set_chat_info (f->login, 41, "-42", PA_CHAT_FIELD_NAME, "Nouveau");
  answer (last ("setChatTitle"), json_pack ("{s:s}", "@type", "ok"));
  g_assert_cmpint (code_of (41), ==, PA_RESULT_OK);
  tg_out_set_chat_info (f->login, 42, "-42", PA_CHAT_FIELD_DISAPPEARING, "3600");
  g_assert_cmpint (code_of (42), ==, PA_RESULT_UNSUPPORTED);
  tg_out_set_chat_info (f->login, 43, "-42", PA_CHAT_FIELD_DISAPPEARING, "604800");
  answer (last ("setChatMessageAutoDeleteTime"), json_pack ("{s:s}", "@type", "ok"));
  g_assert_cmpint (code_of (43), ==, PA_RESULT_OK);

  g_autofree char *pic = g_build_filename (f->login->data_dir, "host-pic", NULL);
  g_assert_true (g_file_set_contents (pic, "PNG", 3, NULL));
  tg_out_set_chat_info (f->login, 44, "-42", PA_CHAT_FIELD_AVATAR, pic);
  Sent *s = last ("setChatPhoto");
  g_autofree char *path = g_strdup (json_string_value (
      json_object_get (json_object_get (json_object_get (s->request, "photo"), "photo"), "path")));
  g_assert_cmpstr (path, !=, pic);
  g_assert_true (g_file_test (path, G_FILE_TEST_EXISTS));
  answer (s, json_pack ("{s:s}", "@type", "ok"));
  g_assert_cmpint (code_of (44), ==, PA_RESULT_OK);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));

  tg_out_set_membership (f->login, 45, "55", "77", TRUE);
  g_assert_cmpint (code_of (45), ==, PA_RESULT_UNSUPPORTED);
  tg_out_set_membership (f->login, 46, "-42", "77", TRUE);
  answer (last ("addChatMember"),
          json_pack ("{s:s, s:[{s:s, s:i}]}", "@type", "failedToAddMembers",
                     "failed_to_add_members", "@type", "failedToAddMember", "user_id", 77));
  g_assert_cmpint (code_of (46), ==, PA_RESULT_FORBIDDEN);
  tg_out_set_membership (f->login, 47, "-100500", "77", FALSE);
  answer (last ("banChatMember"), json_pack ("{s:s}", "@type", "ok"));
  s = last ("setChatMemberStatus");
  g_assert_cmpstr (
      json_string_value (json_object_get (json_object_get (s->request, "status"), "@type")), ==,
      "chatMemberStatusLeft");
  g_assert_null (result_of (47));
  answer (s, json_pack ("{s:s}", "@type", "ok"));
  g_assert_cmpint (code_of (47), ==, PA_RESULT_OK);
}

static void
test_lookups (Fixture *f, gconstpointer data)
{
  (void) data;
  tg_out_create_dm (f->login, 50, "@alice_b");
  Sent *s = last ("searchPublicChat");
  g_assert_cmpstr (json_string_value (json_object_get (s->request, "username")), ==, "alice_b");
  answer (s, json_pack ("{s:s, s:i, s:{s:s, s:i}}", "@type", "chat", "id", 77, "type", "@type",
                        "chatTypePrivate", "user_id", 77));
  g_assert_cmpint (code_of (50), ==, PA_RESULT_OK);
  g_assert_cmpstr (json_string_value (json_object_get (result_of (50), "legacy_id")), ==, "77");
  g_assert_cmpint (json_integer_value (json_array_get (announced, 0)), ==, 77);

  tg_out_create_dm (f->login, 51, "+33 6 12 34 56 78");
  s = last ("searchUserByPhoneNumber");
  g_assert_cmpstr (json_string_value (json_object_get (s->request, "phone_number")), ==,
                   "+33612345678");
  answer (s, json_pack ("{s:s, s:i}", "@type", "user", "id", 78));
  s = last ("createPrivateChat");
  g_assert_cmpint (json_integer_value (json_object_get (s->request, "user_id")), ==, 78);
  answer (s, json_pack ("{s:s, s:i, s:{s:s, s:i}}", "@type", "chat", "id", 78, "type", "@type",
                        "chatTypePrivate", "user_id", 78));
  g_assert_cmpstr (json_string_value (json_object_get (result_of (51), "legacy_id")), ==, "78");

  tg_out_create_dm (f->login, 52, "@somechannel");
  answer (last ("searchPublicChat"),
          json_pack ("{s:s, s:i, s:{s:s, s:i, s:b}}", "@type", "chat", "id", -100300, "type",
                     "@type", "chatTypeSupergroup", "supergroup_id", 300, "is_channel", 1));
  g_assert_cmpint (code_of (52), ==, PA_RESULT_NOT_FOUND);

  tg_out_create_dm (f->login, 53, "@nobody_here");
  answer (last ("searchPublicChat"), json_pack ("{s:s, s:i, s:s}", "@type", "error", "code", 400,
                                                "message", "USERNAME_NOT_OCCUPIED"));
  g_assert_cmpint (code_of (53), ==, PA_RESULT_NOT_FOUND);
  g_assert_nonnull (
      strstr (json_string_value (json_object_get (result_of (53), "error")), "@nobody_here"));

  tg_out_create_dm (f->login, 54, "x!");
  g_assert_cmpint (code_of (54), ==, PA_RESULT_NOT_FOUND);

  tg_out_resolve_identifier (f->login, 55, "+33600000001", PA_RESOLVE_IDENTIFIER);
  answer (last ("searchUserByPhoneNumber"),
          json_pack ("{s:s, s:i, s:s, s:s, s:s, s:{s:[s]}}", "@type", "user", "id", 79,
                     "first_name", "Chloé", "last_name", "Vert", "phone_number", "33600000001",
                     "usernames", "active_usernames", "chloe"));
  json_t *c = json_array_get (contacts, 0);
  g_assert_cmpstr (json_string_value (json_object_get (c, "id")), ==, "79");
  g_assert_cmpstr (json_string_value (json_object_get (c, "name")), ==, "Chloé Vert");
  g_assert_cmpstr (json_string_value (json_object_get (c, "identifier")), ==, "@chloe");
  g_assert_cmpint (code_of (55), ==, PA_RESULT_OK);

  tg_out_resolve_identifier (f->login, 57, "bob", PA_RESOLVE_SEARCH);
  Sent *search = last ("searchContacts");
  g_assert_cmpstr (json_string_value (json_object_get (search->request, "query")), ==, "bob");
  answer (search,
          json_pack ("{s:s, s:i, s:[i]}", "@type", "users", "total_count", 1, "user_ids", 77));
  g_assert_cmpint (code_of (57), ==, PA_RESULT_OK);

  tg_out_resolve_identifier (f->login, 58, "@agency", PA_RESOLVE_IDENTIFIER);
  answer (last ("searchPublicChat"),
          json_pack ("{s:s, s:i, s:s, s:{s:s, s:i}}", "@type", "chat", "id", 80, "title", "Agence",
                     "type", "@type", "chatTypePrivate", "user_id", 80));
  g_assert_cmpint (code_of (58), ==, PA_RESULT_OK);
  json_t *found = json_array_get (contacts, json_array_size (contacts) - 1);
  g_assert_cmpstr (json_string_value (json_object_get (found, "identifier")), ==, "@agency");
  g_assert_cmpstr (json_string_value (json_object_get (found, "name")), ==, "Agence");

  tg_out_list_contacts (f->login, 56);
  answer (last ("getContacts"),
          json_pack ("{s:s, s:i, s:[i]}", "@type", "users", "total_count", 1, "user_ids", 77));
  c = json_array_get (contacts, json_array_size (contacts) - 1);
  g_assert_cmpstr (json_string_value (json_object_get (c, "name")), ==, "Bob Bleu");
  g_assert_cmpint (code_of (56), ==, PA_RESULT_OK);
}

static void
test_pure_helpers (void)
{
  g_autofree char *a = tg_out_safe_name ("../../etc/passwd", NULL);
  g_assert_cmpstr (a, ==, "_.._etc_passwd");
  g_autofree char *b = tg_out_safe_name (NULL, "image/png");
  g_assert_cmpstr (b, ==, "file.png");
  g_autofree char *c = tg_out_safe_name ("rapport été.pdf", NULL);
  g_assert_cmpstr (c, ==, "rapport été.pdf");
  g_assert_cmpuint (tg_out_utf16_len ("a😀é"), ==, 4);
  g_autofree char *e = tg_out_reaction_emoji ("👍\xef\xb8\x8f");
  g_assert_cmpstr (e, ==, "👍");

  static const struct
  {
    PaMsgKind kind;
    const char *mimetype, *type;
  } cases[] = {
    { PA_MSG_IMAGE, "image/png", "inputMessagePhoto" },
    { PA_MSG_IMAGE, "image/gif", "inputMessageAnimation" },
    { PA_MSG_IMAGE, "image/svg+xml", "inputMessageDocument" },
    { PA_MSG_VIDEO, "video/mp4", "inputMessageVideo" },
    { PA_MSG_AUDIO, "audio/mpeg", "inputMessageAudio" },
    { PA_MSG_VOICE, "audio/ogg", "inputMessageVoiceNote" },
    { PA_MSG_VOICE, "audio/mp4", "inputMessageAudio" },
    { PA_MSG_FILE, "application/pdf", "inputMessageDocument" },
    { PA_MSG_STICKER, "image/webp", "inputMessageSticker" },
    { PA_MSG_STICKER, "image/png", "inputMessagePhoto" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      PaContent content = { .struct_size = sizeof (PaContent),
                            .kind = cases[i].kind,
                            .mimetype = cases[i].mimetype,
                            .duration_ms = 2600 };
      json_t *input = tg_out_input_content (
          &content,
          json_pack ("{s:s, s:s, s:[]}", "@type", "formattedText", "text", "", "entities"),
          "/data/f");
      g_assert_cmpstr (json_string_value (json_object_get (input, "@type")), ==, cases[i].type);
      json_decref (input);
    }
  PaContent loc = {
    .struct_size = sizeof (PaContent), .kind = PA_MSG_LOCATION, .latitude = 48.85, .longitude = 2.35
  };
  json_t *input = tg_out_input_content (&loc, json_object (), NULL);
  g_assert_cmpfloat (
      json_real_value (json_object_get (json_object_get (input, "location"), "latitude")), ==,
      48.85);
  json_decref (input);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, fn) g_test_add (path, Fixture, NULL, setup, fn, teardown)
  ADD ("/tg-outgoing/send/final-id", test_send_final_id);
  ADD ("/tg-outgoing/send/outcome-first", test_send_outcome_first);
  ADD ("/tg-outgoing/send/flood-wait", test_send_flood_wait);
  ADD ("/tg-outgoing/send/media-file", test_send_media_file);
  ADD ("/tg-outgoing/send/refused", test_send_refused);
  ADD ("/tg-outgoing/close/answers-pending", test_close_answers_pending);
  ADD ("/tg-outgoing/close/aborted", test_aborted);
  ADD ("/tg-outgoing/close/client-gone", test_client_gone);
  ADD ("/tg-outgoing/edit", test_edit);
  ADD ("/tg-outgoing/react-redact-read-typing", test_react_redact_read_typing);
  ADD ("/tg-outgoing/chat-info-membership", test_chat_info_membership);
  ADD ("/tg-outgoing/lookups", test_lookups);
#undef ADD
  g_test_add_func ("/tg-outgoing/pure-helpers", test_pure_helpers);
  return g_test_run ();
}
