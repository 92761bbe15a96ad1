/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Unit tests for the Telegram Desktop result.json parser. */
#include "tg-parser.h"

#include <string.h>

typedef struct {
  gint64 id;
  TgMessageType type;
  gint64 ts_ms;
  char *chat;
  char *from, *from_id, *text, *html, *forwarded_from, *media_path, *mime, *action;
  char *poll, *contact;
  gboolean fmt, edited, not_included, has_location;
  gint64 reply_to, edited_ts;
  TgMediaKind media;
  gint width, height, duration;
  double lat, lon;
} Msg;

static void
msg_free (gpointer p)
{
  Msg *m = p;
  g_free (m->chat);
  g_free (m->from);
  g_free (m->from_id);
  g_free (m->text);
  g_free (m->html);
  g_free (m->forwarded_from);
  g_free (m->media_path);
  g_free (m->mime);
  g_free (m->action);
  g_free (m->poll);
  g_free (m->contact);
  g_free (m);
}

static gboolean
collect (const TgMessage *m, gpointer user_data, GError **error)
{
  Msg *c = g_new0 (Msg, 1);

  g_assert_nonnull (m->text);
  g_assert_nonnull (m->html);
  c->id = m->id;
  c->type = m->type;
  c->ts_ms = m->ts_ms;
  c->chat = g_strdup (m->chat->name);
  c->from = g_strdup (m->from);
  c->from_id = g_strdup (m->from_id);
  c->text = g_strdup (m->text);
  c->html = g_strdup (m->html);
  c->fmt = m->has_formatting;
  c->reply_to = m->reply_to_id;
  c->edited = m->edited;
  c->edited_ts = m->edited_ts_ms;
  c->forwarded_from = g_strdup (m->forwarded_from);
  c->media = m->media;
  c->media_path = g_strdup (m->media_path);
  c->not_included = m->media_not_included;
  c->mime = g_strdup (m->mime_type);
  c->width = m->width;
  c->height = m->height;
  c->duration = m->duration_s;
  c->has_location = m->has_location;
  c->lat = m->latitude;
  c->lon = m->longitude;
  if (m->poll_answers != NULL)
    {
      g_autofree char *answers = g_strjoinv ("|", (char **) m->poll_answers);
      c->poll = g_strdup_printf ("%s: %s", m->poll_question, answers);
    }
  if (m->contact_name != NULL || m->contact_phone != NULL)
    c->contact = g_strdup_printf ("%s <%s>", m->contact_name, m->contact_phone);
  c->action = g_strdup (m->action);
  g_ptr_array_add (user_data, c);
  return TRUE;
}

static GPtrArray *
parse_data (const char *data, gsize len, gsize chunk, TgSummary *sum, GError **error)
{
  GPtrArray *msgs = g_ptr_array_new_with_free_func (msg_free);
  g_autoptr (TgParser) p = tg_parser_new ("Europe/Paris", collect, msgs, NULL);

  if (chunk == 0)
    chunk = MAX (len, 1);
  for (gsize off = 0; off < len; off += chunk)
    if (!tg_parser_feed (p, data + off, MIN (chunk, len - off), error))
      return msgs;
  tg_parser_finish (p, sum, error);
  return msgs;
}

static char *
data_path (const char *name)
{
  const char *dir = g_getenv ("PA_TEST_DATA");
  g_assert_nonnull (dir);
  return g_build_filename (dir, "telegram", name, NULL);
}

static GPtrArray *
parse_fixture (const char *name, gsize chunk, TgSummary *sum)
{
  g_autofree char *path = data_path (name);
  g_autofree char *data = NULL;
  gsize len;
  g_autoptr (GError) error = NULL;

  g_assert_true (g_file_get_contents (path, &data, &len, NULL));
  GPtrArray *msgs = parse_data (data, len, chunk, sum, &error);
  g_assert_no_error (error);
  return msgs;
}

static void
check_chatminer (GPtrArray *msgs, const char *chat)
{
  Msg *a, *b;

  g_assert_cmpuint (msgs->len, ==, 2);
  a = msgs->pdata[0];
  b = msgs->pdata[1];
  g_assert_cmpstr (a->chat, ==, chat);
  g_assert_cmpint (a->ts_ms, ==, G_GINT64_CONSTANT (1544006350000));
  g_assert_cmpstr (a->from, ==, "Author 1");
  g_assert_cmpstr (a->text, ==, "Minimal Message");
  g_assert_cmpstr (a->html, ==, "Minimal Message");
  g_assert_false (a->fmt);
  g_assert_cmpint (a->id, ==, 0);
  g_assert_cmpint (b->ts_ms, ==, G_GINT64_CONSTANT (1544006964000));
  g_assert_cmpstr (b->from, ==, "Author 2");
  g_assert_cmpstr (b->text, ==, "Link:https://telegram.org/");
  g_assert_cmpstr (b->html, ==,
                   "<b>Link:</b><a href=\"https://telegram.org/\">https://telegram.org/</a>");
  g_assert_true (b->fmt);
}

static void
test_corpus_single (void)
{
  TgSummary sum = { 0 };
  g_autoptr (GPtrArray) msgs = parse_fixture ("chatminer-test_single_export.json", 0, &sum);

  check_chatminer (msgs, NULL);
  g_assert_cmpuint (sum.n_chats, ==, 1);
  g_assert_cmpuint (sum.n_messages, ==, 2);
  g_assert_cmpuint (sum.n_skipped, ==, 0);
  g_assert_cmpint (sum.first_ts_ms, ==, G_GINT64_CONSTANT (1544006350000));
  g_assert_cmpint (sum.last_ts_ms, ==, G_GINT64_CONSTANT (1544006964000));
  tg_summary_clear (&sum);
}

static void
test_corpus_batch (void)
{
  TgSummary sum = { 0 };
  g_autoptr (GPtrArray) msgs = parse_fixture ("chatminer-test_batch_export.json", 1, &sum);

  check_chatminer (msgs, "Chatname");
  g_assert_cmpuint (sum.n_chats, ==, 1);
  tg_summary_clear (&sum);
}

static Msg *
by_id (GPtrArray *msgs, gint64 id)
{
  for (guint i = 0; i < msgs->len; i++)
    if (((Msg *) msgs->pdata[i])->id == id)
      return msgs->pdata[i];
  g_assert_not_reached ();
  return NULL;
}

static void
test_rich (void)
{
  TgSummary sum = { 0 };
  g_autoptr (GPtrArray) msgs = parse_fixture ("rich-single.json", 0, &sum);
  Msg *m;

  g_assert_cmpuint (msgs->len, ==, 11);
  g_assert_cmpuint (sum.n_skipped, ==, 5);
  g_assert_cmpuint (sum.warnings->len, ==, 5);
  g_assert_nonnull (strstr (sum.warnings->pdata[0], "message 9"));
  g_assert_nonnull (strstr (sum.warnings->pdata[0], "“id” is not an integer"));
  g_assert_cmpuint (sum.n_service, ==, 3);
  g_assert_cmpuint (sum.n_media, ==, 4);
  g_assert_cmpuint (sum.n_media_not_included, ==, 1);

  m = by_id (msgs, 1);
  g_assert_cmpint (m->type, ==, TG_MESSAGE_SERVICE);
  g_assert_cmpstr (m->chat, ==, "Cabinet Durand");
  g_assert_cmpstr (m->action, ==, "create_group");
  g_assert_cmpstr (m->from, ==, "Claire Martin");
  g_assert_cmpstr (m->text, ==, "[create_group] Claire Martin « Cabinet Durand » → Claire Martin, "
                                "Paul");

  m = by_id (msgs, 2);
  /* only `date`: local Paris time, CEST on that day */
  g_assert_cmpint (m->ts_ms, ==, G_GINT64_CONSTANT (1711848600000));
  g_assert_cmpstr (m->text, ==, "Voir <pièce> & ici là\nfin@paulx < ytelegram.orgchutnon");
  g_assert_cmpstr (m->html, ==,
                   "Voir <b>&lt;pièce&gt;</b> &amp; "
                   "<a href=\"https://exemple.fr/?a=1&amp;b=&quot;2&quot;\">ici</a> là"
                   "<i><br/>fin</i>@paul<pre><code>x &lt; y</code></pre>"
                   "<a href=\"https://telegram.org\">telegram.org</a>"
                   "<span data-mx-spoiler>chut</span><s>non</s>");

  m = by_id (msgs, 3);
  g_assert_cmpint (m->reply_to, ==, 2);
  g_assert_true (m->edited);
  g_assert_cmpint (m->edited_ts, ==, G_GINT64_CONSTANT (1711848900000));
  g_assert_cmpint (m->media, ==, TG_MEDIA_PHOTO);
  g_assert_cmpstr (m->media_path, ==, "photos/photo_1@31-03-2024_03-31-00.jpg");
  g_assert_cmpint (m->width, ==, 1280);
  g_assert_cmpint (m->height, ==, 960);
  g_assert_cmpstr (m->text, ==, "légende");

  m = by_id (msgs, 4);
  g_assert_cmpint (m->media, ==, TG_MEDIA_VOICE_MESSAGE);
  g_assert_true (m->not_included);
  g_assert_null (m->media_path);
  g_assert_cmpstr (m->mime, ==, "audio/ogg");
  g_assert_cmpint (m->duration, ==, 7);

  m = by_id (msgs, 5);
  g_assert_null (m->from);
  g_assert_cmpstr (m->from_id, ==, "user13");
  g_assert_cmpstr (m->forwarded_from, ==, "Canal Info");
  g_assert_true (m->has_location);
  g_assert_cmpfloat_with_epsilon (m->lat, 48.8566, 1e-9);
  g_assert_cmpfloat_with_epsilon (m->lon, 2.3522, 1e-9);

  g_assert_cmpstr (by_id (msgs, 6)->poll, ==, "Déjeuner ?: Oui|Non");
  g_assert_cmpstr (by_id (msgs, 7)->contact, ==, "Jean Dupont <+33612345678>");
  g_assert_cmpstr (by_id (msgs, 8)->text, ==, "[pin_message] Paul → #3");
  g_assert_cmpstr (by_id (msgs, 9)->text, ==, "[phone_call] Paul (42 s) (hangup)");

  m = by_id (msgs, 14);
  g_assert_cmpint (m->media, ==, TG_MEDIA_FILE);
  g_assert_cmpstr (m->media_path, ==, "files/acte.pdf");
  g_assert_cmpstr (m->text, ==, "l'acte");
  g_assert_cmpstr (m->html, ==, "l&#39;acte");
  g_assert_cmpint (by_id (msgs, 15)->media, ==, TG_MEDIA_STICKER);
  tg_summary_clear (&sum);
}

static void
test_chunking (void)
{
  TgSummary a = { 0 }, b = { 0 };
  g_autoptr (GPtrArray) whole = parse_fixture ("rich-single.json", 0, &a);
  g_autoptr (GPtrArray) bytes = parse_fixture ("rich-single.json", 1, &b);

  g_assert_cmpuint (whole->len, ==, bytes->len);
  for (guint i = 0; i < whole->len; i++)
    {
      Msg *x = whole->pdata[i], *y = bytes->pdata[i];
      g_assert_cmpint (x->id, ==, y->id);
      g_assert_cmpstr (x->html, ==, y->html);
    }
  tg_summary_clear (&a);
  tg_summary_clear (&b);
}

static void
test_invalid_utf8 (void)
{
  const char data[] = "{\"messages\": [{\"type\": \"message\", \"text\": \"caf\xE9\"}]}";
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) msgs = parse_data (data, sizeof data - 1, 0, NULL, &error);

  g_assert_error (error, TG_PARSER_ERROR, TG_PARSER_ERROR_UTF8);
  g_assert_nonnull (strstr (error->message, "byte offset 46"));
  g_assert_cmpuint (msgs->len, ==, 0);
}

static void
test_bad_json_and_format (void)
{
  g_autoptr (GError) e1 = NULL, e2 = NULL, e3 = NULL, e4 = NULL;
  g_autoptr (GPtrArray) m1 = parse_data ("{\"messages\": [", 14, 0, NULL, &e1);
  g_autoptr (GPtrArray) m2 = parse_data ("[1, 2]", 6, 0, NULL, &e2);
  g_autoptr (GPtrArray) m3 = parse_data ("{\"chats\": {}}", 13, 0, NULL, &e3);
  g_autoptr (GPtrArray) m4 = parse_data ("", 0, 0, NULL, &e4);

  g_assert_error (e1, TG_PARSER_ERROR, TG_PARSER_ERROR_JSON);
  g_assert_nonnull (strstr (e1->message, "byte offset"));
  g_assert_error (e2, TG_PARSER_ERROR, TG_PARSER_ERROR_FORMAT);
  g_assert_error (e3, TG_PARSER_ERROR, TG_PARSER_ERROR_FORMAT);
  g_assert_error (e4, TG_PARSER_ERROR, TG_PARSER_ERROR_JSON);
}

static void
test_size_cap (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TgParser) p = tg_parser_new (NULL, collect, NULL, &error);
  g_autofree char *path = data_path ("rich-single.json");
  TgSummary sum = { 0 };

  tg_parser_set_max_bytes (p, 100);
  g_assert_false (tg_parser_parse_file (p, path, &sum, &error));
  g_assert_error (error, TG_PARSER_ERROR, TG_PARSER_ERROR_TOO_LARGE);
}

static void
test_parse_file_and_timezone (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) msgs = g_ptr_array_new_with_free_func (msg_free);
  g_autoptr (TgParser) p = tg_parser_new ("America/New_York", collect, msgs, &error);
  g_autofree char *path = data_path ("rich-single.json");
  TgSummary sum = { 0 };

  g_assert_true (tg_parser_parse_file (p, path, &sum, &error));
  g_assert_no_error (error);
  /* message 2 has only a local `date`, read in New York (EDT, UTC-4) */
  g_assert_cmpint (by_id (msgs, 2)->ts_ms, ==, G_GINT64_CONSTANT (1711870200000));
  g_assert_cmpuint (sum.n_messages, ==, 11);
  tg_summary_clear (&sum);

  TgParser *bad = tg_parser_new ("Nowhere/Void", collect, NULL, &error);
  g_assert_null (bad);
  g_assert_error (error, TG_PARSER_ERROR, TG_PARSER_ERROR_TIMEZONE);
}

static gboolean
stop_cb (const TgMessage *m, gpointer user_data, GError **error)
{
  g_set_error_literal (error, g_quark_from_static_string ("test-stop"), 7, "stop");
  return FALSE;
}

static void
test_callback_stop (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TgParser) p = tg_parser_new (NULL, stop_cb, NULL, &error);
  g_autofree char *path = data_path ("chatminer-test_single_export.json");

  g_assert_false (tg_parser_parse_file (p, path, NULL, &error));
  g_assert_error (error, g_quark_from_static_string ("test-stop"), 7);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/telegram/corpus/single", test_corpus_single);
  g_test_add_func ("/telegram/corpus/batch", test_corpus_batch);
  g_test_add_func ("/telegram/rich", test_rich);
  g_test_add_func ("/telegram/chunking", test_chunking);
  g_test_add_func ("/telegram/invalid-utf8", test_invalid_utf8);
  g_test_add_func ("/telegram/bad-json-and-format", test_bad_json_and_format);
  g_test_add_func ("/telegram/size-cap", test_size_cap);
  g_test_add_func ("/telegram/parse-file-timezone", test_parse_file_and_timezone);
  g_test_add_func ("/telegram/callback-stop", test_callback_stop);
  return g_test_run ();
}
