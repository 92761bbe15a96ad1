/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* telegram.so end to end: loads the built plugin, imports the corpus,
 * result.json files on disk (with media, symlinks leading out), zips built
 * here with libzip (media, one folder down, zip-slip, bombs, too many
 * entries, truncation) and wrong file types, and checks the event stream. */
#define G_LOG_DOMAIN "passerelle-telegram-test"

#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <jansson.h>

#include "imp-test-host.h"

static const PaNetwork *desc;

static const char *
jstr (json_t *o, const char *path)
{
  g_auto (GStrv) parts = g_strsplit (path, ".", -1);
  for (guint i = 0; parts[i] != NULL && o != NULL; i++)
    o = json_object_get (o, parts[i]);
  return json_is_string (o) ? json_string_value (o) : NULL;
}

static json_int_t
jint (json_t *o, const char *path)
{
  g_auto (GStrv) parts = g_strsplit (path, ".", -1);
  for (guint i = 0; parts[i] != NULL && o != NULL; i++)
    o = json_object_get (o, parts[i]);
  g_assert_true (json_is_integer (o));
  return json_integer_value (o);
}

static json_t *
msg_by_id (json_t *msgs, const char *id)
{
  size_t i;
  json_t *m;
  json_array_foreach (msgs, i, m)
    if (g_strcmp0 (jstr (m, "message_id"), id) == 0)
      return m;
  g_error ("no message %s", id);
  return NULL;
}

static void
assert_file_bytes (const char *path, const void *data, gsize len)
{
  g_autofree char *got = NULL;
  gsize got_len = 0;
  g_assert_true (g_file_get_contents (path, &got, &got_len, NULL));
  g_assert_cmpmem (got, got_len, data, len);
}

static void
write_file (const char *dir, const char *rel, const void *data, gsize len)
{
  g_autofree char *path = g_build_filename (dir, rel, NULL);
  g_autofree char *parent = g_path_get_dirname (path);
  g_assert_cmpint (g_mkdir_with_parents (parent, 0700), ==, 0);
  g_assert_true (g_file_set_contents (path, data, (gssize) len, NULL));
}

typedef struct {
  char *dir;
  char *work;
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  f->dir = imp_test_tmpdir ();
  f->work = g_build_filename (f->dir, "work", NULL);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  imp_test_rmrf (f->dir);
  g_free (f->dir);
  g_free (f->work);
}

/* What every successful import must satisfy: each chat announced once,
 * before its messages, with every sender among its members; message ids
 * unique per chat; stream order increasing. */
static void
check_stream (ImpRun *run)
{
  if (!run->ok)
    imp_run_dump (run);
  g_assert_true (run->ok);
  g_autoptr (GHashTable) members = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (GHashTable) ids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (GHashTable) chats = g_hash_table_new (g_str_hash, g_str_equal);
  json_int_t last_order = 0;
  size_t i;
  json_t *ev;
  json_array_foreach (run->events, i, ev)
  {
    const char *chat = jstr (ev, "chat_id");
    if (g_strcmp0 (jstr (ev, "type"), "chat_info") == 0)
      {
        g_assert_false (g_hash_table_contains (chats, chat));
        g_hash_table_add (chats, (gpointer) chat);
        g_assert_true (json_is_true (json_object_get (json_object_get (ev, "chat"),
                                                      "members_complete")));
        size_t j;
        json_t *m;
        json_array_foreach (json_object_get (json_object_get (ev, "chat"), "members"), j, m)
          g_hash_table_add (members, g_strdup_printf ("%s\n%s", chat, jstr (m, "id")));
        continue;
      }
    g_assert_cmpstr (jstr (ev, "type"), ==, "message");
    g_autofree char *key = g_strdup_printf ("%s\n%s", chat, jstr (ev, "message_id"));
    g_assert_false (g_hash_table_contains (ids, key));
    g_hash_table_add (ids, g_steal_pointer (&key));
    g_assert_cmpint (jint (ev, "stream_order"), >, last_order);
    last_order = jint (ev, "stream_order");
    const char *sender = jstr (ev, "sender_id");
    if (sender == NULL)
      g_assert_true (jint (ev, "content.flags") & PA_CONTENT_SYSTEM);
    else
      {
        g_autofree char *mk = g_strdup_printf ("%s\n%s", chat, sender);
        g_assert_true (g_hash_table_contains (members, mk));
      }
  }
  g_assert_true (imp_run_has_notice (run, "Telegram import:"));
}

/* ------------------------------------------------------------ corpus */

static void
test_corpus (Fixture *f, gconstpointer data)
{
  g_autofree char *dir = imp_test_data ("telegram");
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;
  guint n = 0;
  while ((name = g_dir_read_name (d)) != NULL)
    {
      if (!g_str_has_suffix (name, ".json"))
        continue;
      g_autofree char *path = g_build_filename (dir, name, NULL);
      ImpRunOptions o = { .work_dir = f->work };
      g_autoptr (ImpRun) run = imp_test_run (desc, path, &o);
      check_stream (run);
      g_autoptr (json_t) msgs = imp_run_events (run, "message");
      g_assert_cmpuint (json_array_size (msgs), >=, 2);
      n++;
    }
  g_assert_cmpuint (n, >=, 3);
}

static void
test_rich (Fixture *f, gconstpointer data)
{
  g_autofree char *path = imp_test_data ("telegram/rich-single.json");
  ImpRunOptions o = { .work_dir = f->work };
  g_autoptr (ImpRun) run = imp_test_run (desc, path, &o);
  check_stream (run);
  json_t *info = json_array_get (run->events, 0);
  g_assert_cmpstr (jstr (info, "type"), ==, "chat_info");
  g_assert_cmpstr (jstr (info, "chat_id"), ==, "4242");
  g_assert_cmpstr (jstr (info, "chat.name"), ==, "Cabinet Durand");
  g_assert_cmpstr (jstr (info, "chat.kind"), ==, "group");
  json_t *members = json_object_get (json_object_get (info, "chat"), "members");
  g_assert_cmpuint (json_array_size (members), ==, 3);
  g_assert_cmpstr (jstr (json_array_get (members, 0), "id"), ==, "user11");
  g_assert_cmpstr (jstr (json_array_get (members, 0), "name"), ==, "Claire Martin");
  g_assert_cmpstr (jstr (json_array_get (members, 1), "id"), ==, "user12");
  g_assert_cmpstr (jstr (json_array_get (members, 2), "id"), ==, "user13");

  g_autoptr (json_t) msgs = imp_run_events (run, "message");
  json_t *svc = msg_by_id (msgs, "1");
  g_assert_cmpstr (jstr (svc, "content.kind"), ==, "notice");
  g_assert_cmpint (jint (svc, "content.flags"), ==, PA_CONTENT_SYSTEM);
  g_assert_null (jstr (svc, "sender_id"));
  g_assert_cmpint (jint (svc, "ts"), ==, G_GINT64_CONSTANT (1711846800000));

  json_t *fmt = msg_by_id (msgs, "2");
  g_assert_cmpstr (jstr (fmt, "content.kind"), ==, "text");
  g_assert_nonnull (strstr (jstr (fmt, "content.html"), "<b>&lt;pièce&gt;</b>"));
  g_assert_null (strstr (jstr (fmt, "content.html"), "javascript:"));
  g_assert_true (g_str_has_prefix (jstr (fmt, "content.text"), "Voir <pièce> & ici"));
  g_assert_cmpstr (jstr (fmt, "sender_id"), ==, "user11");
  g_assert_cmpstr (jstr (fmt, "contact.name"), ==, "Claire Martin");

  json_t *photo = msg_by_id (msgs, "3");
  g_assert_cmpstr (jstr (photo, "content.kind"), ==, "notice");
  g_assert_cmpint (jint (photo, "content.flags"), ==,
                   PA_CONTENT_NOT_INCLUDED | PA_CONTENT_EDITED);
  g_assert_cmpstr (jstr (photo, "content.text"), ==,
                   "file not included: photos/photo_1@31-03-2024_03-31-00.jpg\nlégende");
  g_assert_cmpstr (jstr (photo, "content.reply_to"), ==, "2");

  json_t *voice = msg_by_id (msgs, "4");
  g_assert_cmpint (jint (voice, "content.flags"), ==, PA_CONTENT_NOT_INCLUDED);
  g_assert_cmpstr (jstr (voice, "content.text"), ==, "file not included: voice message");

  json_t *loc = msg_by_id (msgs, "5");
  g_assert_cmpstr (jstr (loc, "content.kind"), ==, "location");
  g_assert_cmpfloat_with_epsilon (
      json_real_value (json_object_get (json_object_get (loc, "content"), "latitude")), 48.8566,
      1e-9);
  g_assert_cmpstr (jstr (loc, "content.forwarded_from"), ==, "Canal Info");
  g_assert_cmpstr (jstr (loc, "sender_id"), ==, "user13");

  g_assert_cmpstr (jstr (msg_by_id (msgs, "6"), "content.text"), ==,
                   "Poll: Déjeuner ?\n- Oui\n- Non");
  g_assert_cmpstr (jstr (msg_by_id (msgs, "7"), "content.text"), ==,
                   "Contact: Jean Dupont (+33612345678)");
  g_assert_cmpint (jint (msg_by_id (msgs, "9"), "content.flags"), ==, PA_CONTENT_SYSTEM);

  json_t *pdf = msg_by_id (msgs, "14");
  g_assert_cmpint (jint (pdf, "content.flags"), ==, PA_CONTENT_NOT_INCLUDED);
  g_assert_cmpstr (jstr (pdf, "content.text"), ==, "file not included: files/acte.pdf\nl'acte");

  g_assert_true (imp_run_has_notice (run, "entries of the export were skipped"));
  g_assert_true (imp_run_has_notice (run, "attached files are not in the export"));
}

static void
test_rich_with_media (Fixture *f, gconstpointer data)
{
  /* The same export unpacked with its media: files are copied to work_dir. */
  g_autofree char *src = imp_test_data ("telegram/rich-single.json");
  g_autofree char *json = NULL;
  gsize len = 0;
  g_assert_true (g_file_get_contents (src, &json, &len, NULL));
  g_autofree char *export = g_build_filename (f->dir, "ChatExport", NULL);
  write_file (export, "result.json", json, len);
  write_file (export, "photos/photo_1@31-03-2024_03-31-00.jpg", imp_test_jpeg, imp_test_jpeg_len);
  write_file (export, "files/acte.pdf", "%PDF-1.4 fake", 13);
  write_file (export, "stickers/s.webp", "RIFF", 4);
  ImpRunOptions o = { .work_dir = f->work };
  /* a folder path finds result.json inside */
  g_autoptr (ImpRun) run = imp_test_run (desc, export, &o);
  check_stream (run);
  g_autoptr (json_t) msgs = imp_run_events (run, "message");

  json_t *photo = msg_by_id (msgs, "3");
  g_assert_cmpstr (jstr (photo, "content.kind"), ==, "image");
  g_assert_cmpint (jint (photo, "content.flags"), ==, PA_CONTENT_EDITED);
  g_assert_cmpint (jint (photo, "content.width"), ==, 1280); /* from the JSON */
  g_assert_cmpint (jint (photo, "content.height"), ==, 960);
  g_assert_cmpstr (jstr (photo, "content.text"), ==, "légende");
  g_assert_cmpstr (jstr (photo, "content.mimetype"), ==, "image/jpeg");
  g_assert_cmpstr (jstr (photo, "content.media_name"), ==, "photo_1@31-03-2024_03-31-00.jpg");
  g_assert_true (g_str_has_prefix (jstr (photo, "content.media_path"), f->work));
  assert_file_bytes (jstr (photo, "content.media_file"), imp_test_jpeg, imp_test_jpeg_len);

  json_t *pdf = msg_by_id (msgs, "14");
  g_assert_cmpstr (jstr (pdf, "content.kind"), ==, "file");
  g_assert_cmpstr (jstr (pdf, "content.mimetype"), ==, "application/pdf");
  g_assert_cmpstr (jstr (pdf, "content.text"), ==, "l'acte");
  assert_file_bytes (jstr (pdf, "content.media_file"), "%PDF-1.4 fake", 13);

  json_t *sticker = msg_by_id (msgs, "15");
  g_assert_cmpstr (jstr (sticker, "content.kind"), ==, "sticker");
  g_assert_cmpint (jint (sticker, "content.width"), ==, 512);
  g_assert_null (jstr (sticker, "content.text"));
}

/* ------------------------------------------------------------ zips */

static const char zip_json[] =
  "{\"name\": \"Bob\", \"type\": \"personal_chat\", \"id\": 777, \"messages\": [\n"
  " {\"id\": 1, \"type\": \"message\", \"date_unixtime\": \"1700000000\", \"from\": \"Bob\","
  "  \"from_id\": \"user1\", \"text\": \"hi\"},\n"
  " {\"id\": 2, \"type\": \"message\", \"date_unixtime\": \"1700000060\", \"from\": \"Me\","
  "  \"from_id\": \"user2\", \"photo\": \"photos/p1.jpg\", \"text\": \"look\"},\n"
  " {\"id\": 3, \"type\": \"message\", \"date_unixtime\": \"1700000120\", \"from\": \"Bob\","
  "  \"from_id\": \"user1\", \"file\": \"voice_messages/audio_1.ogg\","
  "  \"media_type\": \"voice_message\", \"mime_type\": \"audio/ogg\", \"duration_seconds\": 3,"
  "  \"text\": \"\", \"reply_to_message_id\": 2},\n"
  " {\"id\": 4, \"type\": \"message\", \"date_unixtime\": \"1700000180\", \"from\": \"Me\","
  "  \"from_id\": \"user2\", \"file\": \"video_files/v.mp4\", \"media_type\": \"video_file\","
  "  \"mime_type\": \"video/mp4\", \"duration_seconds\": 2, \"width\": 640, \"height\": 480,"
  "  \"text\": \"\"},\n"
  " {\"id\": 5, \"type\": \"message\", \"date_unixtime\": \"1700000240\", \"from\": \"Me\","
  "  \"from_id\": \"user2\", \"file\": \"files/missing.pdf\", \"text\": \"\"},\n"
  " {\"id\": 6, \"type\": \"message\", \"date_unixtime\": \"1700000300\", \"from\": \"Me\","
  "  \"from_id\": \"user2\", \"file\": \"../../etc/passwd\", \"text\": \"\"},\n"
  " {\"id\": 7, \"type\": \"message\", \"date_unixtime\": \"1700000360\", \"from\": \"Me\","
  "  \"from_id\": \"user2\", \"photo\": \"photos/p2.png\", \"text\": \"\"},\n"
  " {\"id\": 8, \"type\": \"message\", \"date_unixtime\": \"1700000420\", \"from\": \"Bob\","
  "  \"from_id\": \"user1\", \"file\": \"files/bomb.bin\", \"text\": \"\"},\n"
  " {\"id\": 9, \"type\": \"message\", \"date_unixtime\": \"1700000480\", \"from\": \"Bob\","
  "  \"from_id\": \"user1\", \"text\": \"bye\", \"edited_unixtime\": \"1700000500\","
  "  \"edited\": \"2023-11-14T23:28:20\"}\n"
  "]}\n";

static const guint8 voice[] = "OggS fake voice";

static void
test_zip (Fixture *f, gconstpointer data)
{
  const gsize bomb_len = (gsize) 50 * 1024 * 1024;
  const guint64 cap = 1024 * 1024;
  g_autofree guint8 *zeros = g_malloc0 (bomb_len);
  g_autofree char *zip = g_build_filename (f->dir, "export.zip", NULL);
  ImpZipEntry entries[] = {
    { "ChatExport_2024-01-01/result.json", zip_json, sizeof zip_json - 1 },
    { "ChatExport_2024-01-01/photos/p1.jpg", imp_test_jpeg, imp_test_jpeg_len },
    { "ChatExport_2024-01-01/photos/p2.png", imp_test_png, imp_test_png_len },
    { "ChatExport_2024-01-01/voice_messages/audio_1.ogg", voice, sizeof voice },
    { "ChatExport_2024-01-01/video_files/v.mp4", voice, sizeof voice, TRUE },
    { "ChatExport_2024-01-01/files/bomb.bin", zeros, bomb_len },
    { "../../etc/passwd", "root", 4 },
  };
  imp_test_write_zip (zip, entries, G_N_ELEMENTS (entries));
  g_clear_pointer (&zeros, g_free);
  ImpRunOptions o = { .work_dir = f->work, .max_total_bytes = cap };
  g_autoptr (ImpRun) run = imp_test_run (desc, zip, &o);
  check_stream (run);
  json_t *info = json_array_get (run->events, 0);
  g_assert_cmpstr (jstr (info, "chat_id"), ==, "777");
  g_assert_cmpstr (jstr (info, "chat.kind"), ==, "dm");
  g_assert_cmpstr (jstr (info, "chat.name"), ==, "Bob");
  g_autoptr (json_t) msgs = imp_run_events (run, "message");
  g_assert_cmpuint (json_array_size (msgs), ==, 9);
  for (guint i = 0; i < 9; i++)
    {
      g_autofree char *id = g_strdup_printf ("%u", i + 1);
      g_assert_cmpstr (jstr (json_array_get (msgs, i), "message_id"), ==, id);
      g_assert_cmpint (jint (json_array_get (msgs, i), "ts"), ==,
                       (G_GINT64_CONSTANT (1700000000) + 60 * i) * 1000);
    }

  json_t *p1 = msg_by_id (msgs, "2");
  g_assert_cmpstr (jstr (p1, "content.kind"), ==, "image");
  g_assert_cmpint (jint (p1, "content.width"), ==, 7); /* read from the file */
  g_assert_cmpint (jint (p1, "content.height"), ==, 6);
  g_assert_cmpstr (jstr (p1, "content.text"), ==, "look");
  assert_file_bytes (jstr (p1, "content.media_file"), imp_test_jpeg, imp_test_jpeg_len);

  json_t *v = msg_by_id (msgs, "3");
  g_assert_cmpstr (jstr (v, "content.kind"), ==, "voice");
  g_assert_cmpint (jint (v, "content.duration_ms"), ==, 3000);
  g_assert_cmpstr (jstr (v, "content.mimetype"), ==, "audio/ogg");
  g_assert_cmpstr (jstr (v, "content.reply_to"), ==, "2");
  assert_file_bytes (jstr (v, "content.media_file"), voice, sizeof voice);

  json_t *vid = msg_by_id (msgs, "4");
  g_assert_cmpstr (jstr (vid, "content.kind"), ==, "video");
  g_assert_cmpint (jint (vid, "content.width"), ==, 640);
  g_assert_cmpint (jint (vid, "content.duration_ms"), ==, 2000);

  json_t *missing = msg_by_id (msgs, "5");
  g_assert_cmpint (jint (missing, "content.flags"), ==, PA_CONTENT_NOT_INCLUDED);
  g_assert_cmpstr (jstr (missing, "content.text"), ==, "file not included: files/missing.pdf");

  json_t *slip = msg_by_id (msgs, "6");
  g_assert_cmpint (jint (slip, "content.flags"), ==, PA_CONTENT_NOT_INCLUDED);
  g_assert_nonnull (strstr (jstr (slip, "content.text"), "refused unsafe name"));

  json_t *p2 = msg_by_id (msgs, "7");
  g_assert_cmpint (jint (p2, "content.width"), ==, 3);
  g_assert_cmpint (jint (p2, "content.height"), ==, 2);

  json_t *bomb = msg_by_id (msgs, "8");
  g_assert_cmpint (jint (bomb, "content.flags"), ==, PA_CONTENT_NOT_INCLUDED);
  g_assert_nonnull (strstr (jstr (bomb, "content.text"), "size limit"));

  json_t *bye = msg_by_id (msgs, "9");
  g_assert_cmpint (jint (bye, "content.flags"), ==, PA_CONTENT_EDITED);

  g_assert_true (imp_run_has_notice (run, "1 archive entries were refused"));
  g_assert_cmpuint (imp_test_dir_bytes (f->work), <=, cap);
  g_autofree char *escaped = g_build_filename (f->dir, "etc", NULL);
  g_assert_false (g_file_test (escaped, G_FILE_TEST_EXISTS));
}

static void
test_zip_limits (Fixture *f, gconstpointer data)
{
  ImpZipEntry entries[] = {
    { "result.json", zip_json, sizeof zip_json - 1 },
    { "a", "a", 1 },
    { "b", "b", 1 },
  };
  g_autofree char *zip = g_build_filename (f->dir, "small.zip", NULL);
  imp_test_write_zip (zip, entries, G_N_ELEMENTS (entries));

  ImpRunOptions few = { .work_dir = f->work, .max_entries = 2 };
  g_autoptr (ImpRun) r1 = imp_test_run (desc, zip, &few);
  g_assert_false (r1->ok);
  g_assert_nonnull (strstr (r1->error, "3 entries, more than the limit of 2"));

  /* result.json itself over the cap: JSON is all or nothing */
  ImpRunOptions tiny = { .work_dir = f->work, .max_total_bytes = 100 };
  g_autoptr (ImpRun) r2 = imp_test_run (desc, zip, &tiny);
  g_assert_false (r2->ok);
  g_assert_nonnull (strstr (r2->error, "import size limit of 100 bytes"));
  g_assert_cmpuint (json_array_size (r2->events), ==, 0);

  /* truncated archive */
  g_autofree char *bytes = NULL;
  gsize len = 0;
  g_assert_true (g_file_get_contents (zip, &bytes, &len, NULL));
  g_autofree char *cut = g_build_filename (f->dir, "cut.zip", NULL);
  g_assert_true (g_file_set_contents (cut, bytes, (gssize) (len / 2), NULL));
  g_autoptr (ImpRun) r3 = imp_test_run (desc, cut, NULL);
  g_assert_false (r3->ok);
  g_assert_nonnull (strstr (r3->error, "truncated or corrupt"));

  /* an archive without result.json */
  g_autofree char *other = g_build_filename (f->dir, "other.zip", NULL);
  ImpZipEntry wa[] = { { "_chat.txt", "[01/01/2024, 10:00:00] A: b\n", 28 } };
  imp_test_write_zip (other, wa, 1);
  g_autoptr (ImpRun) r4 = imp_test_run (desc, other, NULL);
  g_assert_false (r4->ok);
  g_assert_cmpstr (r4->error, ==, "this is not a Telegram export: the archive has no result.json");
}

static const char multi_json[] =
  "{\"about\": \"x\", \"chats\": {\"list\": [\n"
  " {\"name\": \"Alice\", \"type\": \"personal_chat\", \"id\": 10, \"messages\": [\n"
  "  {\"id\": 1, \"type\": \"message\", \"date_unixtime\": \"1700000000\", \"from\": \"Alice\","
  "   \"from_id\": \"user10\", \"text\": \"a1\"},\n"
  "  {\"id\": 2, \"type\": \"message\", \"date_unixtime\": \"1700000001\", \"from\": \"Me\","
  "   \"from_id\": \"user1\", \"text\": \"a2\"}]},\n"
  " {\"name\": \"Team\", \"type\": \"private_supergroup\", \"id\": 20, \"messages\": [\n"
  "  {\"id\": 1, \"type\": \"message\", \"date_unixtime\": \"1600000000\", \"from\": \"Carol\","
  "   \"from_id\": \"user30\", \"text\": \"t1\"}]},\n"
  " {\"name\": \"Empty\", \"type\": \"private_group\", \"id\": 30, \"messages\": []}\n"
  "]}, \"left_chats\": {\"list\": [\n"
  " {\"name\": \"Old\", \"type\": \"private_group\", \"id\": 40, \"messages\": [\n"
  "  {\"id\": 5, \"type\": \"message\", \"date_unixtime\": \"1500000000\", \"text\": \"anon\"}]}\n"
  "]}}\n";

static void
test_multi_chat (Fixture *f, gconstpointer data)
{
  g_autofree char *path = g_build_filename (f->dir, "result.json", NULL);
  g_assert_true (g_file_set_contents (path, multi_json, -1, NULL));
  g_autoptr (ImpRun) run = imp_test_run (desc, path, NULL);
  check_stream (run);
  g_autoptr (json_t) infos = imp_run_events (run, "chat_info");
  g_assert_cmpuint (json_array_size (infos), ==, 3);
  /* chats in export order, each announced right before its messages */
  static const char *const expect[] = { "chat_info 10", "message 10", "message 10",
                                        "chat_info 20", "message 20", "chat_info 40",
                                        "message 40" };
  g_assert_cmpuint (json_array_size (run->events), ==, G_N_ELEMENTS (expect));
  for (gsize i = 0; i < G_N_ELEMENTS (expect); i++)
    {
      json_t *ev = json_array_get (run->events, i);
      g_autofree char *got = g_strdup_printf ("%s %s", jstr (ev, "type"), jstr (ev, "chat_id"));
      g_assert_cmpstr (got, ==, expect[i]);
    }
  g_assert_cmpstr (jstr (json_array_get (infos, 0), "chat.kind"), ==, "dm");
  g_assert_cmpstr (jstr (json_array_get (infos, 1), "chat.kind"), ==, "group");
  /* a message without sender fields gets a stable anonymous id */
  json_t *anon = json_array_get (run->events, 6);
  g_assert_true (g_str_has_prefix (jstr (anon, "sender_id"), "name-"));

  ImpRunOptions pick = { .chat = "Team" };
  g_autoptr (ImpRun) r2 = imp_test_run (desc, path, &pick);
  check_stream (r2);
  g_assert_cmpuint (json_array_size (r2->events), ==, 2);
  g_assert_cmpstr (jstr (json_array_get (r2->events, 1), "content.text"), ==, "t1");

  ImpRunOptions by_id = { .chat = "10" };
  g_autoptr (ImpRun) r3 = imp_test_run (desc, path, &by_id);
  check_stream (r3);
  g_assert_cmpuint (json_array_size (r3->events), ==, 3);

  ImpRunOptions none = { .chat = "Nobody" };
  g_autoptr (ImpRun) r4 = imp_test_run (desc, path, &none);
  g_assert_false (r4->ok);
  g_assert_nonnull (strstr (r4->error, "“Nobody”"));
  g_assert_cmpuint (json_array_size (r4->events), ==, 0);
}

static void
test_disk_symlink (Fixture *f, gconstpointer data)
{
  static const char json[] =
    "{\"name\": \"S\", \"type\": \"private_group\", \"id\": 5, \"messages\": [\n"
    " {\"id\": 1, \"type\": \"message\", \"date_unixtime\": \"1700000000\", \"from\": \"A\","
    "  \"from_id\": \"user1\", \"photo\": \"photos/link.jpg\", \"text\": \"\"},\n"
    " {\"id\": 2, \"type\": \"message\", \"date_unixtime\": \"1700000001\", \"from\": \"A\","
    "  \"from_id\": \"user1\", \"file\": \"/etc/passwd\", \"text\": \"\"},\n"
    " {\"id\": 3, \"type\": \"message\", \"date_unixtime\": \"1700000002\", \"from\": \"A\","
    "  \"from_id\": \"user1\", \"photo\": \"photos/inner.jpg\", \"text\": \"\"}]}\n";
  g_autofree char *export = g_build_filename (f->dir, "export", NULL);
  write_file (export, "result.json", json, sizeof json - 1);
  write_file (f->dir, "secret.jpg", "secret", 6);
  write_file (export, "photos/real.jpg", imp_test_jpeg, imp_test_jpeg_len);
  g_autofree char *secret = g_build_filename (f->dir, "secret.jpg", NULL);
  g_autofree char *link = g_build_filename (export, "photos", "link.jpg", NULL);
  g_assert_cmpint (symlink (secret, link), ==, 0);
  /* a symlink that stays inside the export is fine */
  g_autofree char *inner = g_build_filename (export, "photos", "inner.jpg", NULL);
  g_assert_cmpint (symlink ("real.jpg", inner), ==, 0);
  g_autofree char *path = g_build_filename (export, "result.json", NULL);
  ImpRunOptions o = { .work_dir = f->work };
  g_autoptr (ImpRun) run = imp_test_run (desc, path, &o);
  check_stream (run);
  g_autoptr (json_t) msgs = imp_run_events (run, "message");
  for (guint i = 0; i < 2; i++)
    {
      json_t *m = json_array_get (msgs, i);
      g_assert_cmpint (jint (m, "content.flags"), ==, PA_CONTENT_NOT_INCLUDED);
      g_assert_nonnull (strstr (jstr (m, "content.text"), "refused"));
    }
  json_t *ok = json_array_get (msgs, 2);
  g_assert_cmpstr (jstr (ok, "content.kind"), ==, "image");
  assert_file_bytes (jstr (ok, "content.media_file"), imp_test_jpeg, imp_test_jpeg_len);
  g_assert_cmpuint (imp_test_dir_bytes (f->work), ==, imp_test_jpeg_len);
}

static void
test_wrong_types (Fixture *f, gconstpointer data)
{
  struct {
    const char *name;
    const void *data;
    gsize len;
    const char *error;
  } cases[] = {
    { "result.json", imp_test_png, imp_test_png_len,
      "this is not a Telegram export: the file is a PNG image" },
    { "chat.txt", "01/01/2024, 10:00 - A: b\n", 25,
      "this is not a Telegram export: the file is not a JSON object" },
    { "other.json", "{\"foo\": 1}", 10, "this is not a Telegram export: not a Telegram Desktop" },
    { "cut.json", "{\"messages\": [{\"id\": 1,", 23,
      "this is not a Telegram export: Telegram export is not valid JSON" },
    { "bad.json", "{\"messages\": [], \"x\": \"\xff\"}", 26, "this is not a Telegram export" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *path = g_build_filename (f->dir, cases[i].name, NULL);
      g_assert_true (g_file_set_contents (path, cases[i].data, (gssize) cases[i].len, NULL));
      g_autoptr (ImpRun) run = imp_test_run (desc, path, NULL);
      g_assert_false (run->ok);
      if (!g_str_has_prefix (run->error, cases[i].error))
        g_error ("%s: %s", cases[i].name, run->error);
      g_assert_cmpuint (json_array_size (run->events), ==, 0);
    }
  g_autofree char *rnd = g_build_filename (f->dir, "random.bin", NULL);
  guint8 noise[2048];
  for (gsize i = 0; i < sizeof noise; i++)
    noise[i] = (guint8) g_random_int_range (0, 256);
  g_assert_true (g_file_set_contents (rnd, (const char *) noise, sizeof noise, NULL));
  g_autoptr (ImpRun) r = imp_test_run (desc, rnd, NULL);
  g_assert_false (r->ok);
  g_assert_true (g_str_has_prefix (r->error, "this is not a Telegram export")
                 || strstr (r->error, "truncated or corrupt") != NULL);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  desc = imp_test_load ("telegram");
  g_assert_cmpstr (desc->display_name, ==, "Telegram");
  /* The same telegram.so also logs in (TDLib): QR code or phone number. */
  g_assert_true (desc->capabilities & PA_CAP_LOGIN);
  g_assert_cmpuint (desc->n_login_flows, ==, 2);
  g_assert_cmpstr (desc->login_flows[0].id, ==, "qr");
  g_assert_cmpstr (desc->login_flows[1].id, ==, "phone");
#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("/telegram/import/corpus", test_corpus);
  ADD ("/telegram/import/rich", test_rich);
  ADD ("/telegram/import/rich-with-media", test_rich_with_media);
  ADD ("/telegram/import/zip", test_zip);
  ADD ("/telegram/import/zip-limits", test_zip_limits);
  ADD ("/telegram/import/multi-chat", test_multi_chat);
  ADD ("/telegram/import/disk-symlink", test_disk_symlink);
  ADD ("/telegram/import/wrong-types", test_wrong_types);
#undef ADD
  return g_test_run ();
}
