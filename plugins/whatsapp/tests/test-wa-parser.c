/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Unit tests for the WhatsApp .txt export parser: every corpus file with its
 * exact expected messages, locale fixtures, chunking, limits and repair. */
#include "wa-parser.h"

#include <string.h>

typedef struct {
  WaKind kind;
  gint64 ts_ms;
  char *sender;
  char *text;
  char *attachment;
  gboolean edited;
  gboolean truncated;
  guint line_no;
} Msg;

typedef struct {
  GPtrArray *msgs;
  WaSummary sum;
} Result;

static void
msg_free (gpointer p)
{
  Msg *m = p;
  g_free (m->sender);
  g_free (m->text);
  g_free (m->attachment);
  g_free (m);
}

static void
result_free (Result *r)
{
  g_ptr_array_unref (r->msgs);
  wa_summary_clear (&r->sum);
  g_free (r);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Result, result_free)

static gboolean
collect (const WaMessage *m, gpointer user_data, GError **error)
{
  GPtrArray *msgs = user_data;
  Msg *c = g_new0 (Msg, 1);

  g_assert_true (g_utf8_validate (m->text, -1, NULL));
  if (m->sender != NULL)
    g_assert_true (g_utf8_validate (m->sender, -1, NULL));
  c->kind = m->kind;
  c->ts_ms = m->ts_ms;
  c->sender = g_strdup (m->sender);
  c->text = g_strdup (m->text);
  c->attachment = g_strdup (m->attachment);
  c->edited = m->edited;
  c->truncated = m->truncated;
  c->line_no = m->line_no;
  g_ptr_array_add (msgs, c);
  return TRUE;
}

/* Parses `data` fed in chunks of `chunk` bytes (0: all at once). */
static Result *
parse_buffer (const char *data, gsize len, gsize chunk)
{
  g_autoptr (GError) error = NULL;
  Result *r = g_new0 (Result, 1);
  r->msgs = g_ptr_array_new_with_free_func (msg_free);
  g_autoptr (WaParser) p = wa_parser_new ("Europe/Paris", collect, r->msgs, &error);

  g_assert_no_error (error);
  if (chunk == 0)
    chunk = MAX (len, 1);
  for (gsize off = 0; off < len; off += chunk)
    {
      g_assert_true (wa_parser_feed (p, data + off, MIN (chunk, len - off), &error));
      g_assert_no_error (error);
    }
  g_assert_true (wa_parser_finish (p, &r->sum, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (r->sum.n_messages, ==, r->msgs->len);
  return r;
}

static Result *
parse_file (const char *name, gsize chunk)
{
  const char *dir = g_getenv ("PA_TEST_DATA");
  g_autofree char *path = NULL;
  g_autofree char *data = NULL;
  gsize len = 0;
  g_autoptr (GError) error = NULL;

  g_assert_nonnull (dir);
  path = g_build_filename (dir, "whatsapp", name, NULL);
  g_assert_true (g_file_get_contents (path, &data, &len, &error));
  g_assert_no_error (error);
  return parse_buffer (data, len, chunk);
}

/* Expected message: UTC time as ISO 8601 text so failures read well. */
typedef struct {
  guint line;
  WaKind kind;
  const char *utc;
  const char *sender;
  const char *text;
  const char *attachment;
  gboolean edited;
} Expect;

static gint64
iso_ms (const char *iso)
{
  g_autoptr (GDateTime) dt = g_date_time_new_from_iso8601 (iso, NULL);
  g_assert_nonnull (dt);
  return g_date_time_to_unix (dt) * 1000;
}

static void
check_messages (Result *r, const Expect *exp, gsize n)
{
  g_assert_cmpuint (r->msgs->len, ==, n);
  for (gsize i = 0; i < n; i++)
    {
      Msg *m = g_ptr_array_index (r->msgs, i);
      g_test_message ("message %zu (line %u)", i, m->line_no);
      g_assert_cmpuint (m->line_no, ==, exp[i].line);
      g_assert_cmpstr (wa_kind_to_string (m->kind), ==, wa_kind_to_string (exp[i].kind));
      g_assert_cmpint (m->ts_ms, ==, iso_ms (exp[i].utc));
      g_assert_cmpstr (m->sender, ==, exp[i].sender);
      g_assert_cmpstr (m->text, ==, exp[i].text);
      g_assert_cmpstr (m->attachment, ==, exp[i].attachment);
      g_assert_cmpint (m->edited, ==, exp[i].edited);
    }
  if (n > 0)
    {
      g_assert_cmpint (r->sum.first_ts_ms, ==, iso_ms (exp[0].utc));
      g_assert_cmpint (r->sum.last_ts_ms, ==, iso_ms (exp[n - 1].utc));
    }
}

static guint64
sender_count (Result *r, const char *name)
{
  for (guint i = 0; i < r->sum.senders->len; i++)
    {
      WaSenderCount *sc = g_ptr_array_index (r->sum.senders, i);
      if (g_strcmp0 (sc->name, name) == 0)
        return sc->count;
    }
  return 0;
}

#define T WA_KIND_TEXT
#define S WA_KIND_SYSTEM
#define MO WA_KIND_MEDIA_OMITTED
#define AT WA_KIND_ATTACHMENT
#define DE WA_KIND_DELETED
#define CA WA_KIND_CALL

static void
test_corpus_de_android (void)
{
  static const Expect exp[] = {
    { 1, S, "2023-10-03T17:22:00Z", NULL,
      "Nachrichten und Anrufe sind Ende-zu-Ende-verschlüsselt. Niemand außerhalb dieses Chats "
      "kann sie lesen oder anhören, nicht einmal WhatsApp.", NULL, FALSE },
    { 2, S, "2023-10-03T17:23:00Z", NULL, "Oma Helga hat Jonas hinzugefügt", NULL, FALSE },
    { 3, T, "2023-10-03T17:30:00Z", "Jonas", "Wer bringt den Kartoffelsalat mit?", NULL, FALSE },
    { 4, T, "2023-10-03T17:31:00Z", "Oma Helga", "Ich!\nUnd den Kuchen:\nApfel oder Marmor?",
      NULL, FALSE },
    { 7, MO, "2023-10-03T17:40:00Z", "Jonas", "<Medien ausgeschlossen>", NULL, FALSE },
    { 8, AT, "2023-10-03T17:41:00Z", "Jonas", "", "DOC-20231003-WA0003.pdf", FALSE },
    { 9, DE, "2023-10-04T06:12:00Z", "Oma Helga", "Diese Nachricht wurde gelöscht.", NULL,
      FALSE },
    { 10, S, "2023-10-04T06:15:00Z", NULL, "Jonas hat die Gruppe verlassen", NULL, FALSE },
  };
  g_autoptr (Result) r = parse_file ("chatcarve-de-de-android.txt", 0);

  check_messages (r, exp, G_N_ELEMENTS (exp));
  /* 03.10.23 never exceeds 12 in either slot: 03.10 then 04.10 are a day
   * apart read day first, a month apart read month first */
  g_assert_cmpint (r->sum.date_order, ==, WA_DATE_ORDER_DAY_FIRST);
  g_assert_cmpint (r->sum.order_source, ==, WA_ORDER_SOURCE_CHRONOLOGY);
  g_assert_cmpuint (r->sum.senders->len, ==, 2);
  g_assert_cmpuint (sender_count (r, "Jonas"), ==, 3);
  g_assert_cmpuint (sender_count (r, "Oma Helga"), ==, 2);
  g_assert_cmpuint (r->sum.n_system, ==, 3);
  g_assert_cmpuint (r->sum.n_media_omitted, ==, 1);
  g_assert_cmpuint (r->sum.n_attachments, ==, 1);
  g_assert_cmpuint (r->sum.n_deleted, ==, 1);
  g_assert_cmpuint (r->sum.n_lines, ==, 10);
  g_assert_cmpuint (r->sum.n_unparsed_lines, ==, 0);
}

static void
test_corpus_en_gb_ios (void)
{
  static const Expect exp[] = {
    { 1, S, "2024-02-14T08:15:03Z", NULL,
      "Messages and calls are end-to-end encrypted. No one outside of this chat, not even "
      "WhatsApp, can read or listen to them.", NULL, FALSE },
    { 2, T, "2024-02-14T08:15:44Z", "Priya", "Morning! Scores - 3:2 last night", NULL, FALSE },
    { 3, T, "2024-02-14T08:16:10Z", "Sam", "unbelievable game", NULL, FALSE },
    { 4, AT, "2024-02-14T08:18:22Z", "Priya", "", "00000007-PHOTO-2024-02-14-09-18-22.jpg",
      FALSE },
    { 5, MO, "2024-02-14T08:19:00Z", "Sam", "image omitted", NULL, FALSE },
    { 6, CA, "2024-02-15T17:45:51Z", "Sam", "Missed voice call", NULL, FALSE },
    { 7, T, "2024-02-15T17:47:12Z", "Priya", "sorry, was driving", NULL, FALSE },
  };
  g_autoptr (Result) r = parse_file ("chatcarve-en-gb-ios.txt", 0);

  check_messages (r, exp, G_N_ELEMENTS (exp));
  g_assert_cmpint (r->sum.date_order, ==, WA_DATE_ORDER_DAY_FIRST);
  g_assert_cmpint (r->sum.order_source, ==, WA_ORDER_SOURCE_EVIDENCE);
  g_assert_cmpuint (r->sum.n_calls, ==, 1);
}

static void
test_corpus_en_us_android (void)
{
  static const Expect exp[] = {
    { 1, S, "2023-12-31T19:03:00Z", NULL,
      "Messages and calls are end-to-end encrypted. No one outside of this chat, not even "
      "WhatsApp, can read or listen to them.", NULL, FALSE },
    { 2, S, "2023-12-31T19:03:00Z", NULL, "Grandma Rosa created group \"Family recipes\"", NULL,
      FALSE },
    { 3, S, "2023-12-31T19:04:00Z", NULL, "Grandma Rosa added Aunt May", NULL, FALSE },
    { 4, T, "2023-12-31T19:15:00Z", "Aunt May", "Who wants the tamale recipe?", NULL, FALSE },
    { 5, T, "2023-12-31T19:16:00Z", "Grandma Rosa",
      "Me!\nIt needs:\ncorn husks\ntwo pounds of masa", NULL, FALSE },
    { 9, AT, "2023-12-31T19:20:00Z", "Aunt May", "", "IMG-20231231-WA0012.jpg", FALSE },
    { 10, MO, "2023-12-31T20:00:00Z", "Aunt May", "<Media omitted>", NULL, FALSE },
    { 11, DE, "2023-12-31T20:05:00Z", "Grandma Rosa", "This message was deleted", NULL, FALSE },
    { 12, T, "2024-01-01T09:30:00Z", "Aunt May", "Happy new year everyone", NULL, FALSE },
    { 13, CA, "2024-01-01T09:31:00Z", "Grandma Rosa", "Missed voice call", NULL, FALSE },
  };
  g_autoptr (Result) r = parse_file ("chatcarve-en-us-android.txt", 0);

  check_messages (r, exp, G_N_ELEMENTS (exp));
  g_assert_cmpint (r->sum.date_order, ==, WA_DATE_ORDER_MONTH_FIRST);
  g_assert_cmpint (r->sum.order_source, ==, WA_ORDER_SOURCE_EVIDENCE);
}

static void
test_corpus_es_mx_android (void)
{
  static const Expect exp[] = {
    { 1, S, "2023-12-31T22:40:00Z", NULL,
      "Los mensajes y las llamadas están cifrados de extremo a extremo. Nadie fuera de este "
      "chat, ni siquiera WhatsApp, puede leerlos ni escucharlos.", NULL, FALSE },
    { 2, S, "2023-12-31T22:41:00Z", NULL, "Abuela Carmen creó el grupo \"Posada 2023\"", NULL,
      FALSE },
    { 3, T, "2023-12-31T22:45:00Z", "Tía Lupita", "¡Feliz año nuevo a todos!", NULL, FALSE },
    { 4, MO, "2023-12-31T22:46:00Z", "Abuela Carmen", "<Multimedia omitido>", NULL, FALSE },
    { 5, AT, "2023-12-31T22:50:00Z", "Tía Lupita", "", "IMG-20231231-WA0044.jpg", FALSE },
    /* 12:05 a. m. is five past midnight */
    { 6, DE, "2023-12-31T23:05:00Z", "Abuela Carmen", "Se eliminó este mensaje.", NULL, FALSE },
    { 7, CA, "2024-01-01T09:00:00Z", "Tía Lupita", "Llamada perdida", NULL, FALSE },
  };
  g_autoptr (Result) r = parse_file ("chatcarve-es-mx-android.txt", 0);

  check_messages (r, exp, G_N_ELEMENTS (exp));
  g_assert_cmpint (r->sum.date_order, ==, WA_DATE_ORDER_DAY_FIRST);
}

/* The three chat-miner files hold the same chat in three header shapes;
 * the last line of each has no final newline. */
static const Expect chatminer_exp[] = {
  { 1, T, "2019-01-01T10:25:00Z", "John Doe", "Lorem ipsum dolor sit amet.", NULL, FALSE },
  { 2, T, "2019-01-20T10:23:00Z", "John Doe", ".", NULL, FALSE },
  { 3, T, "2019-01-30T19:49:00Z", "Jahn Doe",
    "Lorem ipsum dolor sit amet,\nconsectetur adipiscing elit. Duis libero.", NULL, FALSE },
  { 5, T, "2020-06-10T13:55:00Z", "John-John Doe", "Lorem ipsum : dolor sit amet.", NULL, FALSE },
  { 6, S, "2020-06-19T22:08:00Z", NULL, "+12 345 578 created group \"Groupname\"", NULL, FALSE },
  { 7, S, "2020-06-30T07:10:00Z", NULL, "You were added", NULL, FALSE },
  { 8, T, "2021-12-10T09:10:00Z", "John Doe \xF0\x9F\xA4\x93", "Lorem ipsum \xF0\x9F\xA4\x93",
    NULL, FALSE },
  { 9, T, "2021-12-20T11:10:00Z", "\xF0\x9F\xA4\x93", "Lorem ipsum \xF0\x9F\xA4\x93", NULL,
    FALSE },
  { 10, T, "2021-12-30T21:01:00Z", "John Doe",
    "Lorem ipsum dolor sit amet,\nconsectetur adipiscing elit. Duis libero.", NULL, FALSE },
};

static void
test_corpus_chatminer (gconstpointer data)
{
  const char *name = data;
  g_autoptr (Result) r = parse_file (name, 0);

  check_messages (r, chatminer_exp, G_N_ELEMENTS (chatminer_exp));
  g_assert_cmpuint (r->sum.senders->len, ==, 5);
  g_assert_cmpuint (sender_count (r, "John Doe"), ==, 3);
  g_assert_cmpuint (r->sum.n_lines, ==, 11);
  g_assert_cmpint (r->sum.date_order, ==,
                   strstr (name, "ddmm") ? WA_DATE_ORDER_DAY_FIRST : WA_DATE_ORDER_MONTH_FIRST);
}

static void
test_fr_android (void)
{
  static const Expect exp[] = {
    { 2, S, "2019-09-26T20:39:00Z", NULL,
      "Les messages et les appels sont chiffrés de bout en bout. Aucun tiers, pas même "
      "WhatsApp, ne peut les lire ou les écouter.", NULL, FALSE },
    { 3, S, "2019-09-26T20:40:00Z", NULL, "Maître Durand a créé le groupe \"Cabinet\"", NULL,
      FALSE },
    { 4, T, "2019-09-26T20:41:00Z", "Maître Durand",
      "Bonjour à tous\nVoici l'ordre du jour :\n- point 1", NULL, FALSE },
    { 7, MO, "2019-09-27T06:05:00Z", "+33 6 12 34 56 78", "<Médias omis>", NULL, FALSE },
    { 8, AT, "2019-09-27T06:06:00Z", "+33 6 12 34 56 78", "", "PTT-20190927-WA0001.opus", FALSE },
    { 9, DE, "2019-09-27T06:07:00Z", "Maître Durand", "Ce message a été supprimé", NULL, FALSE },
    { 10, DE, "2019-09-27T06:08:00Z", "Maître Durand", "Vous avez supprimé ce message", NULL,
      FALSE },
    { 11, T, "2019-09-27T06:09:00Z", "Maître Durand", "Rendez-vous à 10h", NULL, TRUE },
    { 12, CA, "2019-09-27T06:10:00Z", "Maître Durand", "Appel vocal manqué", NULL, FALSE },
  };
  g_autoptr (Result) r = parse_file ("fr-android.txt", 0);
  g_autofree char *id = NULL;

  check_messages (r, exp, G_N_ELEMENTS (exp));
  /* the stray first line is reported, not dropped silently */
  g_assert_cmpuint (r->sum.n_unparsed_lines, ==, 1);
  g_assert_cmpuint (r->sum.unparsed_line_nos->len, ==, 1);
  g_assert_cmpuint (g_array_index (r->sum.unparsed_line_nos, guint, 0), ==, 1);
  g_assert_cmpuint (r->sum.n_edited, ==, 1);
  g_assert_cmpuint (sender_count (r, "+33 6 12 34 56 78"), ==, 2);
  id = wa_normalize_phone (((Msg *) g_ptr_array_index (r->msgs, 3))->sender);
  g_assert_cmpstr (id, ==, "33612345678");
}

static void
test_fr_ios_dst (void)
{
  static const Expect exp[] = {
    /* 02:30 on 31 March 2024 does not exist in Paris: offset before the gap */
    { 1, S, "2024-03-31T01:30:00Z", NULL,
      "Les messages et les appels sont chiffrés de bout en bout.", NULL, FALSE },
    { 2, T, "2024-03-31T01:15:10Z", "Claire Martin", "Bonjour", NULL, FALSE },
    { 3, AT, "2024-03-31T01:16:00Z", "Claire Martin", "",
      "00000012-PHOTO-2024-03-31-03-16-00.jpg", FALSE },
    /* 02:30 on 27 October 2024 happens twice: first occurrence (CEST) */
    { 4, MO, "2024-10-27T00:30:00Z", "Claire Martin", "image absente", NULL, FALSE },
    { 5, T, "2024-10-27T02:30:00Z", "Paul", "Changement d'heure", NULL, TRUE },
  };
  g_autoptr (Result) r = parse_file ("fr-ios.txt", 0);

  check_messages (r, exp, G_N_ELEMENTS (exp));
  g_assert_cmpint (r->sum.date_order, ==, WA_DATE_ORDER_DAY_FIRST);
  g_assert_cmpint (r->sum.order_source, ==, WA_ORDER_SOURCE_EVIDENCE);
}

static void
test_it_pt_nl (void)
{
  static const Expect it[] = {
    { 1, T, "2022-03-12T17:01:00Z", "Giulia", "Ciao!", NULL, FALSE },
    { 2, MO, "2022-03-12T17:02:00Z", "Giulia", "<Media omessi>", NULL, FALSE },
    { 3, AT, "2022-03-12T17:03:00Z", "Marco", "Che bella foto", "IMG-20220312-WA0003.jpg",
      FALSE },
    { 5, DE, "2022-03-12T17:04:00Z", "Marco", "Questo messaggio è stato eliminato", NULL, FALSE },
    { 6, T, "2022-03-12T17:05:00Z", "Giulia", "A dopo", NULL, TRUE },
  };
  static const Expect pt[] = {
    { 1, T, "2023-01-05T20:10:00Z", "Ana", "Oi", NULL, FALSE },
    { 2, MO, "2023-01-05T20:11:00Z", "Ana", "<Mídia oculta>", NULL, FALSE },
    { 3, AT, "2023-01-05T20:12:00Z", "João", "", "DOC-20230105-WA0001.pdf", FALSE },
    { 4, DE, "2023-01-05T20:13:00Z", "João", "Mensagem apagada", NULL, FALSE },
    { 5, T, "2023-01-05T20:14:00Z", "Ana", "Tudo bem?", NULL, TRUE },
  };
  static const Expect nl[] = {
    { 1, T, "2021-02-03T08:00:00Z", "Sanne", "Goedemorgen", NULL, FALSE },
    { 2, MO, "2021-02-03T08:01:00Z", "Sanne", "<Media weggelaten>", NULL, FALSE },
    { 3, AT, "2021-02-03T08:02:00Z", "Pieter", "", "VID-20210203-WA0007.mp4", FALSE },
    { 4, DE, "2021-02-03T08:03:00Z", "Pieter", "Dit bericht is verwijderd", NULL, FALSE },
    { 5, T, "2021-02-03T08:04:00Z", "Sanne", "Tot straks", NULL, TRUE },
  };
  g_autoptr (Result) ri = parse_file ("it-android.txt", 0);
  g_autoptr (Result) rp = parse_file ("pt-br-android.txt", 0);
  g_autoptr (Result) rn = parse_file ("nl-android.txt", 0);

  check_messages (ri, it, G_N_ELEMENTS (it));
  check_messages (rp, pt, G_N_ELEMENTS (pt));
  check_messages (rn, nl, G_N_ELEMENTS (nl));
  /* all three are ambiguous by digits; localized markers decide */
  g_assert_cmpint (rp->sum.order_source, ==, WA_ORDER_SOURCE_LOCALE);
  g_assert_cmpint (rn->sum.date_order, ==, WA_DATE_ORDER_DAY_FIRST);
}

static void
test_es_12h_nbsp (void)
{
  static const Expect exp[] = {
    { 1, T, "2023-07-14T11:05:00Z", "Lucía", "Hola", NULL, FALSE },
    { 2, MO, "2023-07-13T22:30:00Z", "Lucía", "<Multimedia omitido>", NULL, FALSE },
    { 3, DE, "2023-07-15T10:00:00Z", "Tomás", "Se eliminó este mensaje.", NULL, FALSE },
  };
  g_autoptr (Result) r = parse_file ("es-ar-android-12h.txt", 0);

  check_messages (r, exp, G_N_ELEMENTS (exp));
}

static void
test_ambiguous_order (void)
{
  g_autoptr (Result) fr = parse_file ("ambiguous-fr.txt", 0);
  g_autoptr (Result) en = parse_file ("ambiguous-en.txt", 0);
  g_autoptr (Result) none = parse_file ("ambiguous-none.txt", 0);

  g_assert_cmpint (fr->sum.date_order, ==, WA_DATE_ORDER_DAY_FIRST);
  g_assert_cmpint (fr->sum.order_source, ==, WA_ORDER_SOURCE_LOCALE);
  g_assert_cmpint (((Msg *) fr->msgs->pdata[0])->ts_ms, ==, iso_ms ("2023-02-01T09:00:00Z"));
  g_assert_cmpint (en->sum.date_order, ==, WA_DATE_ORDER_MONTH_FIRST);
  g_assert_cmpint (en->sum.order_source, ==, WA_ORDER_SOURCE_LOCALE);
  g_assert_cmpint (((Msg *) en->msgs->pdata[1])->ts_ms, ==, iso_ms ("2023-03-04T22:00:00Z"));
  g_assert_cmpint (none->sum.date_order, ==, WA_DATE_ORDER_DAY_FIRST);
  g_assert_cmpint (none->sum.order_source, ==, WA_ORDER_SOURCE_DEFAULT);
  g_assert_cmpint (((Msg *) none->msgs->pdata[1])->ts_ms, ==, iso_ms ("2023-04-03T09:00:00Z"));
}

/* More ambiguous messages than the queue holds: the order is decided at the
 * cap and every message still comes out, in order. */
static void
test_pending_cap (void)
{
  GString *s = g_string_new (NULL);
  guint n = WA_PARSER_MAX_PENDING + 50;

  for (guint i = 0; i < n; i++)
    g_string_append_printf (s, "0%u/0%u/2023, 10:%02u - Bob: m%u\n", 1 + i % 9, 1 + (i / 9) % 9,
                            i % 60, i);
  g_string_append (s, "25/12/2023, 10:00 - Bob: last\n");
  g_autoptr (Result) r = parse_buffer (s->str, s->len, 4096);
  g_assert_cmpuint (r->msgs->len, ==, n + 1);
  /* decided on the full queue: day first keeps more lines in order */
  g_assert_cmpint (r->sum.order_source, ==, WA_ORDER_SOURCE_CHRONOLOGY);
  g_assert_cmpint (r->sum.date_order, ==, WA_DATE_ORDER_DAY_FIRST);
  for (guint i = 0; i < n; i++)
    g_assert_cmpuint (((Msg *) r->msgs->pdata[i])->line_no, ==, i + 1);
  g_string_free (s, TRUE);
}

static void
test_invalid_utf8 (void)
{
  g_autoptr (Result) r = parse_file ("invalid-utf8.txt", 0);
  Msg *m0, *m1;

  g_assert_cmpuint (r->msgs->len, ==, 2);
  m0 = r->msgs->pdata[0];
  m1 = r->msgs->pdata[1];
  g_assert_cmpstr (m0->text, ==, "caf\xEF\xBF\xBD ok\n\xEF\xBF\xBD\xEF\xBF\xBD continuation "
                                 "\xEF\xBF\xBD");
  g_assert_cmpstr (m1->sender, ==, "Al\xC3\xA9 \xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  g_assert_cmpstr (m1->text, ==, "fin");
  g_assert_cmpuint (r->sum.n_invalid_utf8, ==, 7);
}

static void
test_seconds_and_year_first (void)
{
  const char *data = "[2023-12-31, 22:15:03] Ana: iso\n"
                     "[2024-01-01 00:00:59] Ana: next\n";
  g_autoptr (Result) r = parse_buffer (data, strlen (data), 0);

  g_assert_cmpuint (r->msgs->len, ==, 2);
  g_assert_cmpint (r->sum.date_order, ==, WA_DATE_ORDER_YEAR_FIRST);
  g_assert_cmpint (((Msg *) r->msgs->pdata[0])->ts_ms, ==, iso_ms ("2023-12-31T21:15:03Z"));
  g_assert_cmpint (((Msg *) r->msgs->pdata[1])->ts_ms, ==, iso_ms ("2023-12-31T23:00:59Z"));
}

static void
test_invisible_chars (void)
{
  /* U+FEFF BOM, U+202A..E embeddings around a name, U+00A0 inside it */
  const char *data = "\xEF\xBB\xBF" "31/12/2023, 22:15 - \xE2\x80\xAA+33\xC2\xA0" "6 12 34 56 78"
                     "\xE2\x80\xAC: salut\n";
  g_autoptr (Result) r = parse_buffer (data, strlen (data), 0);

  g_assert_cmpuint (r->msgs->len, ==, 1);
  g_assert_cmpstr (((Msg *) r->msgs->pdata[0])->sender, ==, "+33 6 12 34 56 78");
  g_assert_cmpuint (r->sum.n_unparsed_lines, ==, 0);
}

static char *
serialize (Result *r)
{
  GString *s = g_string_new (NULL);

  for (guint i = 0; i < r->msgs->len; i++)
    {
      Msg *m = r->msgs->pdata[i];
      g_string_append_printf (s, "%u|%d|%" G_GINT64_FORMAT "|%s|%s|%s|%d|%d\n", m->line_no,
                              m->kind, m->ts_ms, m->sender ? m->sender : "-", m->text,
                              m->attachment ? m->attachment : "-", m->edited, m->truncated);
    }
  g_string_append_printf (s, "n=%" G_GUINT64_FORMAT " bad=%" G_GUINT64_FORMAT
                          " unparsed=%" G_GUINT64_FORMAT " order=%d/%d\n",
                          r->sum.n_messages, r->sum.n_invalid_utf8, r->sum.n_unparsed_lines,
                          r->sum.date_order, r->sum.order_source);
  return g_string_free (s, FALSE);
}

/* Feeding one byte at a time (cutting every UTF-8 sequence and CRLF) gives
 * exactly what a single feed gives, for every fixture. */
static void
test_chunking (void)
{
  const char *dir = g_getenv ("PA_TEST_DATA");
  g_autofree char *wdir = g_build_filename (dir, "whatsapp", NULL);
  g_autoptr (GDir) d = g_dir_open (wdir, 0, NULL);
  const char *name;
  guint n_files = 0;

  g_assert_nonnull (d);
  while ((name = g_dir_read_name (d)) != NULL)
    {
      g_autoptr (Result) whole = parse_file (name, 0);
      g_autoptr (Result) bytes = parse_file (name, 1);
      g_autoptr (Result) sevens = parse_file (name, 7);
      g_autofree char *a = serialize (whole);
      g_autofree char *b = serialize (bytes);
      g_autofree char *c = serialize (sevens);
      g_assert_cmpstr (a, ==, b);
      g_assert_cmpstr (a, ==, c);
      n_files++;
    }
  g_assert_cmpuint (n_files, >=, 15);
}

static void
test_crlf (void)
{
  const char *data = "31/12/2023, 22:15 - Bob: a\r\nb\r\n31/12/2023, 22:16 - Bob: c\r\n";
  g_autoptr (Result) r = parse_buffer (data, strlen (data), 0);

  g_assert_cmpuint (r->msgs->len, ==, 2);
  g_assert_cmpstr (((Msg *) r->msgs->pdata[0])->text, ==, "a\nb");
  g_assert_cmpstr (((Msg *) r->msgs->pdata[1])->text, ==, "c");
}

static void
test_limits (void)
{
  /* one message far above the cap, in a single line and in many lines */
  gsize big = 3 * WA_PARSER_MAX_MESSAGE_BYTES;
  GString *s = g_string_new ("31/12/2023, 22:15 - Bob: ");
  for (gsize i = 0; i < big; i++)
    g_string_append_c (s, i % 3 == 0 ? '\xC3' : (i % 3 == 1 ? '\xA9' : 'x'));
  g_string_append (s, "\n31/12/2023, 22:16 - Bob: after\n");
  for (guint i = 0; i < 40000; i++)
    g_string_append (s, "continuation line of a long message\n");
  g_string_append (s, "31/12/2023, 22:17 - Bob: end");

  g_autoptr (Result) r = parse_buffer (s->str, s->len, 65536);
  g_assert_cmpuint (r->msgs->len, ==, 3);
  Msg *m0 = r->msgs->pdata[0], *m1 = r->msgs->pdata[1], *m2 = r->msgs->pdata[2];
  g_assert_true (m0->truncated);
  g_assert_cmpuint (strlen (m0->text), <=, WA_PARSER_MAX_MESSAGE_BYTES);
  g_assert_true (m1->truncated);
  g_assert_cmpuint (strlen (m1->text), <=, WA_PARSER_MAX_MESSAGE_BYTES);
  g_assert_false (m2->truncated);
  g_assert_cmpstr (m2->text, ==, "end");
  g_assert_cmpuint (r->sum.n_truncated, ==, 2);
  g_string_free (s, TRUE);
}

static void
test_unparsed_lines (void)
{
  GString *s = g_string_new (NULL);

  for (guint i = 0; i < 150; i++)
    g_string_append (s, "garbage\n\n");
  g_string_append (s, "31/12/2023, 22:15 - Bob: hi\n");
  g_autoptr (Result) r = parse_buffer (s->str, s->len, 0);
  g_assert_cmpuint (r->msgs->len, ==, 1);
  g_assert_cmpuint (r->sum.n_unparsed_lines, ==, 150);
  g_assert_cmpuint (r->sum.unparsed_line_nos->len, ==, WA_PARSER_MAX_UNPARSED_LINE_NOS);
  g_assert_cmpuint (g_array_index (r->sum.unparsed_line_nos, guint, 1), ==, 3);
  g_string_free (s, TRUE);
}

static void
test_empty_and_garbage (void)
{
  g_autoptr (Result) empty = parse_buffer ("", 0, 0);
  g_assert_cmpuint (empty->msgs->len, ==, 0);
  g_assert_cmpint (empty->sum.first_ts_ms, ==, 0);

  const char *bad = "99/99/2023, 22:15 - Bob: no\n12/31/23, 25:00 - Bob: no\n[1/2/3 4:5] x\n";
  g_autoptr (Result) r = parse_buffer (bad, strlen (bad), 0);
  g_assert_cmpuint (r->msgs->len, ==, 0);
  g_assert_cmpuint (r->sum.n_unparsed_lines, ==, 3);
}

static gboolean
abort_cb (const WaMessage *m, gpointer user_data, GError **error)
{
  guint *n = user_data;
  if (++*n == 2)
    return FALSE;
  return TRUE;
}

static void
test_callback_abort (void)
{
  const char *data = "31/12/2023, 22:15 - A: 1\n31/12/2023, 22:16 - A: 2\n"
                     "31/12/2023, 22:17 - A: 3\n31/12/2023, 22:18 - A: 4\n";
  g_autoptr (GError) error = NULL;
  guint n = 0;
  g_autoptr (WaParser) p = wa_parser_new (NULL, abort_cb, &n, &error);

  g_assert_no_error (error);
  g_assert_false (wa_parser_feed (p, data, strlen (data), &error));
  g_assert_error (error, WA_PARSER_ERROR, WA_PARSER_ERROR_ABORTED);
  g_clear_error (&error);
  g_assert_false (wa_parser_finish (p, NULL, &error));
  g_assert_error (error, WA_PARSER_ERROR, WA_PARSER_ERROR_ABORTED);
  g_assert_cmpuint (n, ==, 2);
}

static void
test_bad_timezone (void)
{
  g_autoptr (GError) error = NULL;
  WaParser *p = wa_parser_new ("Mars/Olympus_Mons", collect, NULL, &error);

  g_assert_null (p);
  g_assert_error (error, WA_PARSER_ERROR, WA_PARSER_ERROR_TIMEZONE);
}

static void
test_other_timezone (void)
{
  const char *data = "12/31/23, 8:03 PM - Bob: hi\n";
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) msgs = g_ptr_array_new_with_free_func (msg_free);
  g_autoptr (WaParser) p = wa_parser_new ("America/New_York", collect, msgs, &error);

  g_assert_no_error (error);
  g_assert_true (wa_parser_feed (p, data, strlen (data), &error));
  g_assert_true (wa_parser_finish (p, NULL, &error));
  g_assert_cmpuint (msgs->len, ==, 1);
  g_assert_cmpint (((Msg *) msgs->pdata[0])->ts_ms, ==, iso_ms ("2024-01-01T01:03:00Z"));
}

static void
test_normalize_phone (void)
{
  static const struct {
    const char *in, *out;
  } cases[] = {
    { "+33 6 12 34 56 78", "33612345678" },
    { "+1 (555) 010-9999", "15550109999" },
    { "0033 6 12 34 56 78", "33612345678" },
    { "+33\xC2\xA0" "6\xE2\x80\xAF" "12 34 56 78", "33612345678" },
    { "\xE2\x80\xAA+32 470 12 34 56\xE2\x80\xAC", "32470123456" },
    { "06 12 34 56 78", NULL },
    { "Maître Durand", NULL },
    { "+33 6 12 34 56 78 (bureau)", NULL },
    { "+12", NULL },
    { "+1234567890123456", NULL },
    { "", NULL },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *got = wa_normalize_phone (cases[i].in);
      g_assert_cmpstr (got, ==, cases[i].out);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/whatsapp/corpus/de-android", test_corpus_de_android);
  g_test_add_func ("/whatsapp/corpus/en-gb-ios", test_corpus_en_gb_ios);
  g_test_add_func ("/whatsapp/corpus/en-us-android", test_corpus_en_us_android);
  g_test_add_func ("/whatsapp/corpus/es-mx-android", test_corpus_es_mx_android);
  g_test_add_data_func ("/whatsapp/corpus/chatminer-ddmmyy", "chatminer-test_ddmmyy_24hrs.txt",
                        test_corpus_chatminer);
  g_test_add_data_func ("/whatsapp/corpus/chatminer-mmddyyyy-12h",
                        "chatminer-test_mmddyyyy_12hrs.txt", test_corpus_chatminer);
  g_test_add_data_func ("/whatsapp/corpus/chatminer-bracket",
                        "chatminer-test_bracket_mmddyy_24hrs.txt", test_corpus_chatminer);
  g_test_add_func ("/whatsapp/fr-android", test_fr_android);
  g_test_add_func ("/whatsapp/fr-ios-dst", test_fr_ios_dst);
  g_test_add_func ("/whatsapp/it-pt-nl", test_it_pt_nl);
  g_test_add_func ("/whatsapp/es-12h-nbsp", test_es_12h_nbsp);
  g_test_add_func ("/whatsapp/ambiguous-order", test_ambiguous_order);
  g_test_add_func ("/whatsapp/pending-cap", test_pending_cap);
  g_test_add_func ("/whatsapp/invalid-utf8", test_invalid_utf8);
  g_test_add_func ("/whatsapp/seconds-year-first", test_seconds_and_year_first);
  g_test_add_func ("/whatsapp/invisible-chars", test_invisible_chars);
  g_test_add_func ("/whatsapp/chunking", test_chunking);
  g_test_add_func ("/whatsapp/crlf", test_crlf);
  g_test_add_func ("/whatsapp/limits", test_limits);
  g_test_add_func ("/whatsapp/unparsed-lines", test_unparsed_lines);
  g_test_add_func ("/whatsapp/empty-and-garbage", test_empty_and_garbage);
  g_test_add_func ("/whatsapp/callback-abort", test_callback_abort);
  g_test_add_func ("/whatsapp/bad-timezone", test_bad_timezone);
  g_test_add_func ("/whatsapp/other-timezone", test_other_timezone);
  g_test_add_func ("/whatsapp/normalize-phone", test_normalize_phone);
  return g_test_run ();
}
