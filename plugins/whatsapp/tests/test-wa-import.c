/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* whatsapp.so end to end: loads the built plugin, imports corpus files and
 * archives built here with libzip (media, missing media, iOS, zip-slip,
 * symlinks, zip bombs, too many entries, truncation, corruption, wrong file
 * types) and checks the emitted event stream. */
#define G_LOG_DOMAIN "passerelle-whatsapp-test"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <jansson.h>

#include "imp-test-host.h"

static const PaNetwork *desc;

/* ------------------------------------------------------------ helpers */

static const char *
jstr (json_t *o, const char *path)
{
  /* "content.text" style lookups */
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

static gint64
local_ms (const char *tz, int y, int mo, int d, int h, int mi)
{
  g_autoptr (GTimeZone) zone = g_time_zone_new_identifier (tz);
  g_autoptr (GDateTime) dt = g_date_time_new (zone, y, mo, d, h, mi, 0);
  return g_date_time_to_unix (dt) * 1000;
}

static char *
name_id (const char *chat_id, const char *name)
{
  g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  g_checksum_update (sum, (const guchar *) chat_id, -1);
  g_checksum_update (sum, (const guchar *) "\x1f", 1);
  g_checksum_update (sum, (const guchar *) name, -1);
  return g_strdup_printf ("name-%.16s", g_checksum_get_string (sum));
}

/* The message whose text or media name contains `needle`. */
static json_t *
find_msg (json_t *msgs, const char *needle)
{
  size_t i;
  json_t *m;
  json_array_foreach (msgs, i, m)
  {
    const char *t = jstr (m, "content.text");
    const char *n = jstr (m, "content.media_name");
    if ((t != NULL && strstr (t, needle) != NULL) || (n != NULL && strstr (n, needle) != NULL))
      return m;
  }
  g_error ("no message with “%s”", needle);
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

typedef struct {
  char *dir;  /* temp dir with inputs */
  char *work; /* work_dir */
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

/* The checks every successful import must pass. */
static void
check_stream (ImpRun *run)
{
  if (!run->ok)
    imp_run_dump (run);
  g_assert_true (run->ok);
  g_assert_cmpuint (json_array_size (run->events), >=, 2);
  json_t *first = json_array_get (run->events, 0);
  g_assert_cmpstr (jstr (first, "type"), ==, "chat_info");
  g_autoptr (json_t) infos = imp_run_events (run, "chat_info");
  g_assert_cmpuint (json_array_size (infos), ==, 1);
  g_assert_true (json_is_true (json_object_get (json_object_get (first, "chat"),
                                                "members_complete")));
  g_autoptr (GHashTable) ids = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GHashTable) members = g_hash_table_new (g_str_hash, g_str_equal);
  json_t *mem = json_object_get (json_object_get (first, "chat"), "members");
  size_t i;
  json_t *m;
  json_array_foreach (mem, i, m)
    g_hash_table_add (members, (gpointer) jstr (m, "id"));
  const char *kind = jstr (first, "chat.kind");
  g_assert_cmpstr (kind, ==, json_array_size (mem) == 2 ? "dm" : "group");
  json_int_t last_order = 0;
  g_autoptr (json_t) msgs = imp_run_events (run, "message");
  json_array_foreach (msgs, i, m)
  {
    const char *id = jstr (m, "message_id");
    g_assert_true (g_str_has_prefix (id, "wa-"));
    g_assert_false (g_hash_table_contains (ids, id));
    g_hash_table_add (ids, (gpointer) id);
    g_assert_cmpint (jint (m, "stream_order"), >, last_order);
    last_order = jint (m, "stream_order");
    g_assert_cmpstr (jstr (m, "chat_id"), ==, jstr (first, "chat_id"));
    const char *sender = jstr (m, "sender_id");
    json_int_t flags = jint (m, "content.flags");
    if (sender == NULL)
      g_assert_true (flags & PA_CONTENT_SYSTEM);
    else
      g_assert_true (g_hash_table_contains (members, sender));
  }
  g_assert_true (imp_run_has_notice (run, "Dates were read as"));
  g_assert_true (imp_run_has_notice (run, "WhatsApp import of"));
}

/* ------------------------------------------------------------ corpus */

static void
test_corpus (Fixture *f, gconstpointer data)
{
  g_autofree char *dir = imp_test_data ("whatsapp");
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  g_assert_nonnull (d);
  const char *name;
  guint n_files = 0;
  while ((name = g_dir_read_name (d)) != NULL)
    {
      if (!g_str_has_suffix (name, ".txt"))
        continue;
      g_autofree char *path = g_build_filename (dir, name, NULL);
      ImpRunOptions o = { .work_dir = f->work };
      g_autoptr (ImpRun) run = imp_test_run (desc, path, &o);
      g_test_message ("%s: %zu events", name, json_array_size (run->events));
      check_stream (run);
      n_files++;
      if (strcmp (name, "invalid-utf8.txt") == 0)
        g_assert_true (imp_run_has_notice (run, "invalid UTF-8"));
      if (g_str_has_prefix (name, "ambiguous-none"))
        g_assert_true (imp_run_has_notice (run, "ASSUMED"));
    }
  g_assert_cmpuint (n_files, >=, 10);
}

static void
test_fr_android (Fixture *f, gconstpointer data)
{
  g_autofree char *path = imp_test_data ("whatsapp/fr-android.txt");
  ImpRunOptions o = { .work_dir = f->work };
  g_autoptr (ImpRun) run = imp_test_run (desc, path, &o);
  check_stream (run);
  json_t *info = json_array_get (run->events, 0);
  g_assert_cmpstr (jstr (info, "chat.name"), ==, "fr-android");
  const char *chat_id = jstr (info, "chat_id");
  g_autofree char *durand = name_id (chat_id, "Maître Durand");
  g_autoptr (json_t) msgs = imp_run_events (run, "message");

  json_t *sys = json_array_get (msgs, 0);
  g_assert_cmpstr (jstr (sys, "content.kind"), ==, "notice");
  g_assert_cmpint (jint (sys, "content.flags"), ==, PA_CONTENT_SYSTEM);
  g_assert_null (jstr (sys, "sender_id"));
  g_assert_null (json_object_get (sys, "contact"));

  json_t *hello = find_msg (msgs, "Bonjour à tous");
  g_assert_cmpstr (jstr (hello, "content.kind"), ==, "text");
  g_assert_cmpstr (jstr (hello, "content.text"), ==,
                   "Bonjour à tous\nVoici l'ordre du jour :\n- point 1");
  g_assert_cmpstr (jstr (hello, "sender_id"), ==, durand);
  g_assert_cmpstr (jstr (hello, "contact.name"), ==, "Maître Durand");
  g_assert_cmpstr (jstr (hello, "message_id"), ==, "wa-4");
  g_assert_cmpint (jint (hello, "ts"), ==, local_ms ("Europe/Paris", 2019, 9, 26, 22, 41));

  json_t *omitted = find_msg (msgs, "Médias omis");
  g_assert_cmpstr (jstr (omitted, "content.kind"), ==, "notice");
  g_assert_cmpint (jint (omitted, "content.flags"), ==, PA_CONTENT_NOT_INCLUDED);
  g_assert_cmpstr (jstr (omitted, "sender_id"), ==, "33612345678");
  g_assert_cmpstr (jstr (omitted, "contact.name"), ==, "+33 6 12 34 56 78");

  json_t *ptt = find_msg (msgs, "PTT-20190927-WA0001.opus");
  g_assert_cmpstr (jstr (ptt, "content.kind"), ==, "notice");
  g_assert_cmpint (jint (ptt, "content.flags"), ==, PA_CONTENT_NOT_INCLUDED);
  g_assert_cmpstr (jstr (ptt, "content.text"), ==, "file not included: PTT-20190927-WA0001.opus");

  json_t *del = find_msg (msgs, "Ce message a été supprimé");
  g_assert_cmpint (jint (del, "content.flags"), ==, PA_CONTENT_DELETED);
  g_assert_cmpstr (jstr (del, "sender_id"), ==, durand);

  json_t *edited = find_msg (msgs, "Rendez-vous");
  g_assert_cmpstr (jstr (edited, "content.kind"), ==, "text");
  g_assert_cmpint (jint (edited, "content.flags"), ==, PA_CONTENT_EDITED);
  g_assert_cmpstr (jstr (edited, "content.text"), ==, "Rendez-vous à 10h");

  json_t *call = find_msg (msgs, "Appel vocal manqué");
  g_assert_cmpstr (jstr (call, "content.kind"), ==, "notice");
  g_assert_cmpint (jint (call, "content.flags"), ==, PA_CONTENT_SYSTEM);
  g_assert_cmpstr (jstr (call, "sender_id"), ==, durand);

  g_assert_true (imp_run_has_notice (run, "lines before the first message"));
  g_assert_true (imp_run_has_notice (run, "(lines 1"));
  g_assert_true (imp_run_has_notice (run, "not in the export (first: PTT-20190927-WA0001.opus)"));
}

static void
test_timezone (Fixture *f, gconstpointer data)
{
  g_autofree char *path = imp_test_data ("whatsapp/fr-android.txt");
  ImpRunOptions o = { .work_dir = f->work, .tz = "UTC" };
  g_autoptr (ImpRun) run = imp_test_run (desc, path, &o);
  check_stream (run);
  g_autoptr (json_t) msgs = imp_run_events (run, "message");
  g_assert_cmpint (jint (find_msg (msgs, "Bonjour à tous"), "ts"), ==,
                   local_ms ("UTC", 2019, 9, 26, 22, 41));

  ImpRunOptions bad = { .work_dir = f->work, .tz = "Mars/Olympus_Mons" };
  g_autoptr (ImpRun) r2 = imp_test_run (desc, path, &bad);
  g_assert_false (r2->ok);
  g_assert_nonnull (strstr (r2->error, "Mars/Olympus_Mons"));
  g_assert_cmpuint (json_array_size (r2->events), ==, 0);
}

/* ------------------------------------------------------------ archives */

static const char android_txt[] =
  "13/03/2024, 10:00 - Les messages sont chiffrés de bout en bout.\n"
  "13/03/2024, 10:00 - Alice: Hello\n"
  "13/03/2024, 10:01 - Bob: IMG-20240313-WA0001.jpg (file attached)\n"
  "Nice photo\n"
  "13/03/2024, 10:02 - Alice: PTT-20240313-WA0002.opus (file attached)\n"
  "13/03/2024, 10:03 - Bob: VID-20240313-WA0003.mp4 (file attached)\n"
  "13/03/2024, 10:04 - Alice: DOC-20240313-WA0004.pdf (file attached)\n"
  "13/03/2024, 10:05 - Bob: IMG-20240313-WA0005.png (file attached)\n"
  "13/03/2024, 10:06 - Bob: STK-20240313-WA0006.webp (file attached)\n"
  "13/03/2024, 10:07 - Alice: IMG-20240313-WA0007.gif (file attached)\n"
  "13/03/2024, 10:08 - Alice: IMG-20240313-WA0008.png (file attached)\n"
  "13/03/2024, 10:09 - Bob: IMG-20240313-WA0001.jpg (file attached)\n"
  "13/03/2024, 10:10 - Bob: Bye <This message was edited>\n";

static const guint8 fake_media[] = "not really media, but bytes to compare";

static char *
write_android_zip (const char *dir)
{
  g_autofree char *zip = g_build_filename (dir, "WhatsApp Chat with Alice.zip", NULL);
  ImpZipEntry entries[] = {
    { "IMG-20240313-WA0001.jpg", imp_test_jpeg, imp_test_jpeg_len },
    { "PTT-20240313-WA0002.opus", fake_media, sizeof fake_media },
    { "VID-20240313-WA0003.mp4", fake_media, sizeof fake_media, TRUE },
    { "DOC-20240313-WA0004.pdf", fake_media, sizeof fake_media },
    { "STK-20240313-WA0006.webp", fake_media, sizeof fake_media },
    { "IMG-20240313-WA0007.gif", imp_test_gif, imp_test_gif_len },
    { "IMG-20240313-WA0008.png", imp_test_png, imp_test_png_len },
    { "WhatsApp Chat with Alice.txt", android_txt, sizeof android_txt - 1 },
  };
  imp_test_write_zip (zip, entries, G_N_ELEMENTS (entries));
  return g_steal_pointer (&zip);
}

static void
test_android_zip (Fixture *f, gconstpointer data)
{
  g_autofree char *zip = write_android_zip (f->dir);
  ImpRunOptions o = { .work_dir = f->work };
  g_autoptr (ImpRun) run = imp_test_run (desc, zip, &o);
  check_stream (run);
  json_t *info = json_array_get (run->events, 0);
  g_assert_cmpstr (jstr (info, "chat.name"), ==, "Alice");
  g_assert_cmpstr (jstr (info, "chat.kind"), ==, "dm");
  g_autoptr (json_t) msgs = imp_run_events (run, "message");
  g_assert_cmpuint (json_array_size (msgs), ==, 12);

  json_t *jpg = find_msg (msgs, "WA0001.jpg");
  g_assert_cmpstr (jstr (jpg, "content.kind"), ==, "image");
  g_assert_cmpstr (jstr (jpg, "content.text"), ==, "Nice photo");
  g_assert_cmpstr (jstr (jpg, "content.mimetype"), ==, "image/jpeg");
  g_assert_cmpstr (jstr (jpg, "content.media_name"), ==, "IMG-20240313-WA0001.jpg");
  g_assert_cmpint (jint (jpg, "content.width"), ==, 7);
  g_assert_cmpint (jint (jpg, "content.height"), ==, 6);
  g_assert_cmpint (jint (jpg, "content.size"), ==, (json_int_t) imp_test_jpeg_len);
  g_assert_true (g_str_has_prefix (jstr (jpg, "content.media_path"), f->work));
  assert_file_bytes (jstr (jpg, "content.media_file"), imp_test_jpeg, imp_test_jpeg_len);
  g_assert_cmpstr (jstr (jpg, "message_id"), ==, "wa-3");

  json_t *ptt = find_msg (msgs, "WA0002.opus");
  g_assert_cmpstr (jstr (ptt, "content.kind"), ==, "voice");
  g_assert_cmpstr (jstr (ptt, "content.mimetype"), ==, "audio/ogg");
  assert_file_bytes (jstr (ptt, "content.media_file"), fake_media, sizeof fake_media);
  g_assert_null (jstr (ptt, "content.text"));

  json_t *vid = find_msg (msgs, "WA0003.mp4");
  g_assert_cmpstr (jstr (vid, "content.kind"), ==, "video");
  g_assert_cmpstr (jstr (vid, "content.mimetype"), ==, "video/mp4");
  assert_file_bytes (jstr (vid, "content.media_file"), fake_media, sizeof fake_media);

  json_t *pdf = find_msg (msgs, "WA0004.pdf");
  g_assert_cmpstr (jstr (pdf, "content.kind"), ==, "file");
  g_assert_cmpstr (jstr (pdf, "content.mimetype"), ==, "application/pdf");

  json_t *missing = find_msg (msgs, "WA0005.png");
  g_assert_cmpstr (jstr (missing, "content.kind"), ==, "notice");
  g_assert_cmpint (jint (missing, "content.flags"), ==, PA_CONTENT_NOT_INCLUDED);
  g_assert_cmpstr (jstr (missing, "content.text"), ==,
                   "file not included: IMG-20240313-WA0005.png");
  g_assert_cmpstr (jstr (missing, "sender_id"), ==, jstr (jpg, "sender_id"));

  json_t *webp = find_msg (msgs, "WA0006.webp");
  g_assert_cmpstr (jstr (webp, "content.kind"), ==, "sticker");
  g_assert_cmpstr (jstr (webp, "content.mimetype"), ==, "image/webp");

  json_t *gif = find_msg (msgs, "WA0007.gif");
  g_assert_cmpstr (jstr (gif, "content.kind"), ==, "image");
  g_assert_cmpint (jint (gif, "content.width"), ==, 5);
  g_assert_cmpint (jint (gif, "content.height"), ==, 4);

  json_t *png = find_msg (msgs, "WA0008.png");
  g_assert_cmpstr (jstr (png, "content.kind"), ==, "image");
  g_assert_cmpint (jint (png, "content.width"), ==, 3);
  g_assert_cmpint (jint (png, "content.height"), ==, 2);
  assert_file_bytes (jstr (png, "content.media_file"), imp_test_png, imp_test_png_len);

  /* the same file referenced twice is extracted once, but each message gets
   * a file of its own: emit passes it to the host (FILES in plugin.h) */
  json_t *again = json_array_get (msgs, 10);
  g_assert_cmpstr (jstr (again, "content.media_name"), ==, "IMG-20240313-WA0001.jpg");
  g_assert_cmpstr (jstr (again, "content.media_path"), !=, jstr (jpg, "content.media_path"));
  assert_file_bytes (jstr (again, "content.media_file"), imp_test_jpeg, imp_test_jpeg_len);
  /* what is left in the work dir is only what the host took: the
   * extracted copies went with the import */
  g_autofree char *extracted = g_build_filename (f->work, ".imp-extracted", NULL);
  g_assert_false (g_file_test (extracted, G_FILE_TEST_EXISTS));

  json_t *bye = json_array_get (msgs, 11);
  g_assert_cmpstr (jstr (bye, "content.text"), ==, "Bye");
  g_assert_cmpint (jint (bye, "content.flags"), ==, PA_CONTENT_EDITED);
  g_assert_cmpint (jint (bye, "ts"), ==, local_ms ("Europe/Paris", 2024, 3, 13, 10, 10));

  g_assert_true (imp_run_has_notice (run, "1 attached files are not in the export"));
  g_assert_true (imp_run_has_notice (run, "a date in the file settles it"));

  /* a second import of the same archive gives the same ids */
  g_autofree char *work2 = g_build_filename (f->dir, "work2", NULL);
  ImpRunOptions o2 = { .work_dir = work2 };
  g_autoptr (ImpRun) run2 = imp_test_run (desc, zip, &o2);
  check_stream (run2);
  g_autoptr (json_t) msgs2 = imp_run_events (run2, "message");
  g_assert_cmpuint (json_array_size (msgs2), ==, json_array_size (msgs));
  for (size_t i = 0; i < json_array_size (msgs); i++)
    {
      json_t *a = json_array_get (msgs, i), *b = json_array_get (msgs2, i);
      g_assert_cmpstr (jstr (a, "message_id"), ==, jstr (b, "message_id"));
      g_assert_cmpstr (jstr (a, "sender_id"), ==, jstr (b, "sender_id"));
      g_assert_cmpstr (jstr (a, "chat_id"), ==, jstr (b, "chat_id"));
    }
}

static void
test_no_work_dir (Fixture *f, gconstpointer data)
{
  g_autofree char *zip = write_android_zip (f->dir);
  g_autoptr (ImpRun) run = imp_test_run (desc, zip, NULL);
  check_stream (run);
  g_autoptr (json_t) msgs = imp_run_events (run, "message");
  json_t *jpg = find_msg (msgs, "WA0001.jpg");
  g_assert_cmpstr (jstr (jpg, "content.kind"), ==, "notice");
  g_assert_cmpint (jint (jpg, "content.flags"), ==, PA_CONTENT_NOT_INCLUDED);
  g_assert_nonnull (strstr (jstr (jpg, "content.text"), "no work directory"));
}

/* A media message the host refuses stays the plugin's file: the plugin
 * deletes it, and the work dir ends up empty (FILES in plugin.h). */
static void
test_refused_media (Fixture *f, gconstpointer data)
{
  g_autofree char *zip = write_android_zip (f->dir);
  ImpRunOptions o = { .work_dir = f->work, .refuse_media = TRUE };
  g_autoptr (ImpRun) run = imp_test_run (desc, zip, &o);
  g_assert_true (run->ok);
  g_autoptr (json_t) msgs = imp_run_events (run, "message");
  g_assert_cmpuint (json_array_size (msgs), ==, 4); /* the text lines only */
  g_assert_true (imp_run_has_notice (run, "8 events were refused by the host"));
  g_autoptr (GDir) d = g_dir_open (f->work, 0, NULL);
  g_assert_nonnull (d);
  g_assert_null (g_dir_read_name (d));
}

static const char ios_txt[] =
  "\xe2\x80\x8e[31/03/2024 02:30:00] Cabinet: \xe2\x80\x8eLes messages sont chiffrés.\n"
  "[31/03/2024 03:15:10] Claire Martin: Bonjour\n"
  "\xe2\x80\x8e[31/03/2024 03:16:00] Claire Martin: \xe2\x80\x8e<pièce jointe : "
  "00000012-PHOTO-2024-03-31-03-16-00.jpg>\n"
  "[31/03/2024 03:17:00] Paul: Merci\n"
  "[31/03/2024 03:18:00] +33 6 12 34 56 78: Moi aussi\n"
  "\xe2\x80\x8e[31/03/2024 03:19:00] Paul: \xe2\x80\x8e<pièce jointe : "
  "00000013-AUDIO-2024-03-31-03-19-00.opus>\n";

static void
test_ios_zip (Fixture *f, gconstpointer data)
{
  g_autofree char *zip = g_build_filename (f->dir, "WhatsApp Chat - Cabinet Durand.zip", NULL);
  ImpZipEntry entries[] = {
    { "_chat.txt", ios_txt, sizeof ios_txt - 1 },
    { "00000012-PHOTO-2024-03-31-03-16-00.jpg", imp_test_jpeg, imp_test_jpeg_len },
    { "00000013-AUDIO-2024-03-31-03-19-00.opus", fake_media, sizeof fake_media },
  };
  imp_test_write_zip (zip, entries, G_N_ELEMENTS (entries));
  ImpRunOptions o = { .work_dir = f->work };
  g_autoptr (ImpRun) run = imp_test_run (desc, zip, &o);
  check_stream (run);
  json_t *info = json_array_get (run->events, 0);
  g_assert_cmpstr (jstr (info, "chat.name"), ==, "Cabinet Durand");
  g_assert_cmpstr (jstr (info, "chat.kind"), ==, "group");
  json_t *members = json_object_get (json_object_get (info, "chat"), "members");
  g_autoptr (GString) names = g_string_new (NULL);
  size_t i;
  json_t *m;
  json_array_foreach (members, i, m)
    g_string_append_printf (names, "%s=%s;", jstr (m, "name"), jstr (m, "id"));
  g_autofree char *claire = name_id (jstr (info, "chat_id"), "Claire Martin");
  g_autofree char *paul = name_id (jstr (info, "chat_id"), "Paul");
  g_autofree char *expect = g_strdup_printf ("Claire Martin=%s;Paul=%s;+33 6 12 34 56 78="
                                             "33612345678;", claire, paul);
  g_assert_cmpstr (names->str, ==, expect);
  g_assert_cmpstr (jstr (json_array_get (members, 2), "identifier"), ==, "+33612345678");

  g_autoptr (json_t) msgs = imp_run_events (run, "message");
  g_assert_cmpuint (json_array_size (msgs), ==, 6);
  g_assert_cmpint (jint (json_array_get (msgs, 0), "content.flags"), ==, PA_CONTENT_SYSTEM);
  json_t *photo = find_msg (msgs, "PHOTO");
  g_assert_cmpstr (jstr (photo, "content.kind"), ==, "image");
  g_assert_cmpint (jint (photo, "content.width"), ==, 7);
  g_assert_cmpstr (jstr (photo, "sender_id"), ==, claire);
  json_t *audio = find_msg (msgs, "AUDIO");
  g_assert_cmpstr (jstr (audio, "content.kind"), ==, "voice");
  assert_file_bytes (jstr (audio, "content.media_file"), fake_media, sizeof fake_media);
}

static void
test_zip_slip (Fixture *f, gconstpointer data)
{
  static const char txt[] = "13/03/2024, 10:00 - Alice: ../evil (file attached)\n"
                            "13/03/2024, 10:01 - Bob: x (file attached)\n"
                            "13/03/2024, 10:02 - Bob: link.jpg (file attached)\n"
                            "13/03/2024, 10:03 - Alice: ..\\evil2 (file attached)\n"
                            "13/03/2024, 10:04 - Alice: ok.jpg (file attached)\n";
  g_autofree char *zip = g_build_filename (f->dir, "WhatsApp Chat with Slip.zip", NULL);
  ImpZipEntry entries[] = {
    { "../evil", fake_media, sizeof fake_media },
    { "/etc/x", fake_media, sizeof fake_media },
    { "..\\evil2", fake_media, sizeof fake_media },
    { "link.jpg", "/etc/passwd", 11, FALSE, S_IFLNK | 0777 },
    { "ok.jpg", imp_test_jpeg, imp_test_jpeg_len, FALSE, S_IFREG | 0644 },
    { "chat.txt", txt, sizeof txt - 1 },
  };
  imp_test_write_zip (zip, entries, G_N_ELEMENTS (entries));
  ImpRunOptions o = { .work_dir = f->work };
  g_autoptr (ImpRun) run = imp_test_run (desc, zip, &o);
  check_stream (run);
  g_autoptr (json_t) msgs = imp_run_events (run, "message");
  g_assert_cmpuint (json_array_size (msgs), ==, 5);
  for (guint i = 0; i < 4; i++)
    {
      json_t *m = json_array_get (msgs, i);
      g_assert_cmpstr (jstr (m, "content.kind"), ==, "notice");
      g_assert_cmpint (jint (m, "content.flags"), ==, PA_CONTENT_NOT_INCLUDED);
      g_assert_true (g_str_has_prefix (jstr (m, "content.text"), "file not included: "));
    }
  g_assert_cmpstr (jstr (json_array_get (msgs, 4), "content.kind"), ==, "image");
  g_assert_true (imp_run_has_notice (run, "4 archive entries were refused"));
  g_assert_true (imp_run_has_notice (run, "“../evil”"));
  /* nothing landed outside the work dir, and only ok.jpg inside it */
  g_autofree char *evil = g_build_filename (f->dir, "evil", NULL);
  g_assert_false (g_file_test (evil, G_FILE_TEST_EXISTS));
  g_assert_cmpuint (imp_test_dir_bytes (f->work), ==, imp_test_jpeg_len);
}

static void
test_zip_bomb (Fixture *f, gconstpointer data)
{
  static const char txt[] = "13/03/2024, 10:00 - Alice: Look\n"
                            "13/03/2024, 10:01 - Alice: IMG-bomb.jpg (file attached)\n"
                            "13/03/2024, 10:02 - Bob: ok.png (file attached)\n"
                            "13/03/2024, 10:03 - Bob: after\n";
  const gsize bomb_len = (gsize) 200 * 1024 * 1024;
  const guint64 cap = (guint64) 10 * 1024 * 1024;
  g_autofree guint8 *zeros = g_malloc0 (bomb_len);
  g_autofree char *zip = g_build_filename (f->dir, "WhatsApp Chat with Bomb.zip", NULL);
  ImpZipEntry entries[] = {
    { "WhatsApp Chat with Bomb.txt", txt, sizeof txt - 1 },
    { "IMG-bomb.jpg", zeros, bomb_len },
    { "ok.png", imp_test_png, imp_test_png_len },
  };
  imp_test_write_zip (zip, entries, G_N_ELEMENTS (entries));
  g_clear_pointer (&zeros, g_free);

  /* honest sizes: refused before reading */
  ImpRunOptions o = { .work_dir = f->work, .max_total_bytes = cap };
  g_autoptr (ImpRun) run = imp_test_run (desc, zip, &o);
  check_stream (run);
  g_autoptr (json_t) msgs = imp_run_events (run, "message");
  g_assert_cmpuint (json_array_size (msgs), ==, 4);
  json_t *bomb = json_array_get (msgs, 1);
  g_assert_cmpint (jint (bomb, "content.flags"), ==, PA_CONTENT_NOT_INCLUDED);
  g_assert_nonnull (strstr (jstr (bomb, "content.text"), "size limit"));
  g_assert_cmpstr (jstr (json_array_get (msgs, 2), "content.kind"), ==, "image");
  g_assert_true (imp_run_has_notice (run, "1 attached files were not imported"));
  g_assert_cmpuint (imp_test_dir_bytes (f->work), <=, cap);

  /* honest sizes but an absurd ratio, under a budget that would allow it:
   * the declared sizes alone refuse the whole import */
  g_autofree char *work3 = g_build_filename (f->dir, "work3", NULL);
  ImpRunOptions o3 = { .work_dir = work3, .max_total_bytes = (guint64) 1 << 30 };
  g_autoptr (ImpRun) run3 = imp_test_run (desc, zip, &o3);
  g_assert_false (run3->ok);
  g_assert_nonnull (strstr (run3->error, "more than 1000 times"));
  g_assert_cmpuint (imp_test_dir_bytes (work3), ==, 0);

  /* lying sizes (the headers say 1,000 bytes): the bytes actually
   * inflated are held to the header, and the import is refused whole */
  g_autofree char *bytes = NULL;
  gsize len = 0;
  g_assert_true (g_file_get_contents (zip, &bytes, &len, NULL));
  imp_test_patch_declared_size ((guint8 *) bytes, len, "IMG-bomb.jpg", 1000);
  g_autofree char *liar = g_build_filename (f->dir, "WhatsApp Chat with Liar.zip", NULL);
  g_assert_true (g_file_set_contents (liar, bytes, (gssize) len, NULL));
  g_autofree char *work2 = g_build_filename (f->dir, "work2", NULL);
  ImpRunOptions o2 = { .work_dir = work2, .max_total_bytes = (guint64) 1 << 30 };
  g_autoptr (ImpRun) run2 = imp_test_run (desc, liar, &o2);
  g_assert_false (run2->ok);
  g_test_message ("lying bomb: %s", run2->error);
  g_assert_nonnull (strstr (run2->error, "holds more than the 1000 bytes its header declares"));
  /* nothing extracted is left: the partial file was removed */
  g_assert_cmpuint (imp_test_dir_bytes (work2), ==, 0);
}

static void
test_text_over_cap (Fixture *f, gconstpointer data)
{
  /* A chat text larger than the cap: the start is imported, then a notice. */
  GString *txt = g_string_new ("13/03/2024, 10:00 - Alice: first\n"
                               "13/03/2024, 10:01 - Bob: second\n"
                               "13/03/2024, 10:02 - Alice: long one\n");
  for (guint i = 0; i < 20000; i++)
    g_string_append (txt, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                          "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n");
  g_string_append (txt, "13/03/2024, 10:03 - Bob: never seen\n");
  g_autofree char *zip = g_build_filename (f->dir, "WhatsApp Chat with Big.zip", NULL);
  ImpZipEntry entries[] = { { "WhatsApp Chat with Big.txt", txt->str, txt->len } };
  imp_test_write_zip (zip, entries, 1);
  ImpRunOptions o = { .work_dir = f->work, .max_total_bytes = 1024 * 1024 };
  g_autoptr (ImpRun) run = imp_test_run (desc, zip, &o);
  g_string_free (txt, TRUE);
  check_stream (run);
  g_autoptr (json_t) msgs = imp_run_events (run, "message");
  g_assert_cmpuint (json_array_size (msgs), ==, 3);
  g_assert_true (imp_run_has_notice (run, "The import stopped early"));
  g_assert_true (imp_run_has_notice (run, "import size limit of 1048576 bytes"));
}

static void
test_too_many_entries (Fixture *f, gconstpointer data)
{
  static const char txt[] = "13/03/2024, 10:00 - Alice: hi\n13/03/2024, 10:01 - Bob: yo\n";
  ImpZipEntry entries[21];
  char names[20][32];
  for (guint i = 0; i < 20; i++)
    {
      g_snprintf (names[i], sizeof names[i], "f%02u.bin", i);
      entries[i] = (ImpZipEntry) { names[i], fake_media, sizeof fake_media };
    }
  entries[20] = (ImpZipEntry) { "_chat.txt", txt, sizeof txt - 1 };
  g_autofree char *zip = g_build_filename (f->dir, "many.zip", NULL);
  imp_test_write_zip (zip, entries, 21);
  ImpRunOptions o = { .work_dir = f->work, .max_entries = 10 };
  g_autoptr (ImpRun) run = imp_test_run (desc, zip, &o);
  g_assert_false (run->ok);
  g_assert_nonnull (strstr (run->error, "21 entries, more than the limit of 10"));
  g_assert_cmpuint (json_array_size (run->events), ==, 0);

  ImpRunOptions o2 = { .work_dir = f->work, .max_entries = 21 };
  g_autoptr (ImpRun) run2 = imp_test_run (desc, zip, &o2);
  check_stream (run2);
  g_assert_cmpstr (jstr (json_array_get (run2->events, 0), "chat.name"), ==, "many");
}

static void
test_truncated_zip (Fixture *f, gconstpointer data)
{
  g_autofree char *zip = write_android_zip (f->dir);
  g_autofree char *bytes = NULL;
  gsize len = 0;
  g_assert_true (g_file_get_contents (zip, &bytes, &len, NULL));
  g_autofree char *cut = g_build_filename (f->dir, "cut.zip", NULL);
  g_assert_true (g_file_set_contents (cut, bytes, (gssize) (len * 6 / 10), NULL));
  ImpRunOptions o = { .work_dir = f->work };
  g_autoptr (ImpRun) run = imp_test_run (desc, cut, &o);
  g_assert_false (run->ok);
  g_assert_nonnull (strstr (run->error, "truncated or corrupt"));
  g_assert_cmpuint (json_array_size (run->events), ==, 0);
}

static void
test_corrupt_entry (Fixture *f, gconstpointer data)
{
  /* Deflated text damaged in its middle: what inflates before the damage is
   * imported, then a notice says where reading stopped. */
  /* A fixed seed: where the damage falls decides what inflates from it
   * (damage that inflates past the declared size is a refused bomb). */
  g_autoptr (GRand) rand = g_rand_new_with_seed (20240313);
  GString *txt = g_string_new (NULL);
  for (guint i = 0; i < 4000; i++)
    g_string_append_printf (txt, "13/03/2024, 10:%02u - %s: message %u %08x\n", i % 60,
                            i % 2 ? "Alice" : "Bob", i, g_rand_int (rand));
  g_autofree char *zip = g_build_filename (f->dir, "WhatsApp Chat with Damage.zip", NULL);
  ImpZipEntry entries[] = { { "WhatsApp Chat with Damage.txt", txt->str, txt->len } };
  imp_test_write_zip (zip, entries, 1);
  g_string_free (txt, TRUE);
  g_autofree char *bytes = NULL;
  gsize len = 0;
  g_assert_true (g_file_get_contents (zip, &bytes, &len, NULL));
  /* the compressed data starts after the 30-byte local header and the name */
  gsize data_start = 30 + strlen ("WhatsApp Chat with Damage.txt");
  gsize data_len = len - data_start - 200;
  for (gsize i = data_start + data_len / 2; i < data_start + data_len / 2 + 64; i++)
    bytes[i] = (char) (bytes[i] ^ 0x5a);
  g_assert_true (g_file_set_contents (zip, bytes, (gssize) len, NULL));
  ImpRunOptions o = { .work_dir = f->work };
  g_autoptr (ImpRun) run = imp_test_run (desc, zip, &o);
  check_stream (run);
  g_autoptr (json_t) msgs = imp_run_events (run, "message");
  g_assert_cmpuint (json_array_size (msgs), >, 10);
  g_assert_cmpuint (json_array_size (msgs), <=, 4000);
  g_assert_true (g_str_has_prefix (jstr (json_array_get (msgs, 0), "content.text"), "message 0 "));
  g_assert_true (imp_run_has_notice (run, "The import stopped early"));
  g_assert_true (imp_run_has_notice (run, "is damaged after"));
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
    { "photo.txt", imp_test_png, imp_test_png_len,
      "this is not a WhatsApp export: the file is a PNG image" },
    { "empty.txt", "", 0, "this is not a WhatsApp export: the file is empty" },
    { "result.json", "{\"messages\": []}", 16, "this is not a WhatsApp export: the file is JSON" },
    { "notes.txt", "just some notes\nnothing else\n", 29,
      "this is not a WhatsApp export: the file has no line that starts with a WhatsApp date" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *path = g_build_filename (f->dir, cases[i].name, NULL);
      g_assert_true (g_file_set_contents (path, cases[i].data, (gssize) cases[i].len, NULL));
      ImpRunOptions o = { .work_dir = f->work };
      g_autoptr (ImpRun) run = imp_test_run (desc, path, &o);
      g_assert_false (run->ok);
      g_assert_true (g_str_has_prefix (run->error, cases[i].error));
      g_assert_cmpuint (json_array_size (run->events), ==, 0);
    }

  /* random bytes, a zip without a chat, a missing file */
  g_autofree char *rnd = g_build_filename (f->dir, "random.zip", NULL);
  guint8 noise[4096];
  for (gsize i = 0; i < sizeof noise; i++)
    noise[i] = (guint8) g_random_int_range (0, 256);
  noise[0] = 0; /* never valid text */
  g_assert_true (g_file_set_contents (rnd, (const char *) noise, sizeof noise, NULL));
  g_autoptr (ImpRun) r1 = imp_test_run (desc, rnd, NULL);
  g_assert_false (r1->ok);
  g_assert_true (g_str_has_prefix (r1->error, "this is not a WhatsApp export"));

  g_autofree char *nochat = g_build_filename (f->dir, "nochat.zip", NULL);
  ImpZipEntry entries[] = { { "photo.jpg", imp_test_jpeg, imp_test_jpeg_len } };
  imp_test_write_zip (nochat, entries, 1);
  g_autoptr (ImpRun) r2 = imp_test_run (desc, nochat, NULL);
  g_assert_false (r2->ok);
  g_assert_cmpstr (r2->error, ==, "this is not a WhatsApp export: the archive has no _chat.txt "
                                  "nor a .txt file at its root");

  g_autofree char *absent = g_build_filename (f->dir, "absent.txt", NULL);
  g_autoptr (ImpRun) r3 = imp_test_run (desc, absent, NULL);
  g_assert_false (r3->ok);
  g_assert_nonnull (strstr (r3->error, "absent.txt"));
}

static void
test_disk_media (Fixture *f, gconstpointer data)
{
  /* An unzipped export: media beside the .txt, a symlink leading out refused. */
  static const char txt[] = "13/03/2024, 10:00 - Alice: IMG-1.jpg (file attached)\n"
                            "13/03/2024, 10:01 - Bob: IMG-2.jpg (file attached)\n"
                            "13/03/2024, 10:02 - Bob: ../secret.jpg (file attached)\n";
  g_autofree char *export = g_build_filename (f->dir, "export", NULL);
  g_assert_cmpint (g_mkdir (export, 0700), ==, 0);
  g_autofree char *chat = g_build_filename (export, "WhatsApp Chat with Bob.txt", NULL);
  g_assert_true (g_file_set_contents (chat, txt, sizeof txt - 1, NULL));
  g_autofree char *img = g_build_filename (export, "IMG-1.jpg", NULL);
  g_assert_true (g_file_set_contents (img, (const char *) imp_test_jpeg,
                                      (gssize) imp_test_jpeg_len, NULL));
  g_autofree char *secret = g_build_filename (f->dir, "secret.jpg", NULL);
  g_assert_true (g_file_set_contents (secret, "secret", 6, NULL));
  g_autofree char *link = g_build_filename (export, "IMG-2.jpg", NULL);
  g_assert_cmpint (symlink (secret, link), ==, 0);
  ImpRunOptions o = { .work_dir = f->work };
  g_autoptr (ImpRun) run = imp_test_run (desc, chat, &o);
  check_stream (run);
  g_assert_cmpstr (jstr (json_array_get (run->events, 0), "chat.name"), ==, "Bob");
  g_autoptr (json_t) msgs = imp_run_events (run, "message");
  json_t *m1 = json_array_get (msgs, 0);
  g_assert_cmpstr (jstr (m1, "content.kind"), ==, "image");
  assert_file_bytes (jstr (m1, "content.media_file"), imp_test_jpeg, imp_test_jpeg_len);
  for (guint i = 1; i < 3; i++)
    {
      json_t *m = json_array_get (msgs, i);
      g_assert_cmpint (jint (m, "content.flags"), ==, PA_CONTENT_NOT_INCLUDED);
      g_assert_nonnull (strstr (jstr (m, "content.text"), "refused"));
    }
  g_assert_cmpuint (imp_test_dir_bytes (f->work), ==, imp_test_jpeg_len);
}

/* Issue 15: a Japanese iOS export whose attached photo is named by "<添付: …>"
 * and whose omitted image is "画像は省略されました"; a Russian Android export
 * written in UTF-16 with its "(файл добавлен)" photo beside it, month-first
 * dates that only the chronology settles. */
static const char ja_ios_txt[] =
  "[2024/03/05 14:00:00] 太郎: こんにちは\n"
  "\xe2\x80\x8e[2024/03/05 14:01:00] 太郎: \xe2\x80\x8e<添付: 00000012-PHOTO-2024-03-05.jpg>\n"
  "\xe2\x80\x8e[2024/03/05 14:02:00] 花子: \xe2\x80\x8e画像は省略されました\n";

static void
test_localized (Fixture *f, gconstpointer data)
{
  g_autofree char *zip = g_build_filename (f->dir, "WhatsApp Chat - 家族.zip", NULL);
  ImpZipEntry entries[] = {
    { "_chat.txt", ja_ios_txt, sizeof ja_ios_txt - 1 },
    { "00000012-PHOTO-2024-03-05.jpg", imp_test_jpeg, imp_test_jpeg_len },
  };
  imp_test_write_zip (zip, entries, G_N_ELEMENTS (entries));
  ImpRunOptions o = { .work_dir = f->work };
  g_autoptr (ImpRun) run = imp_test_run (desc, zip, &o);
  check_stream (run);
  g_autoptr (json_t) msgs = imp_run_events (run, "message");
  g_assert_cmpuint (json_array_size (msgs), ==, 3);
  json_t *photo = find_msg (msgs, "PHOTO");
  g_assert_cmpstr (jstr (photo, "content.kind"), ==, "image");
  g_assert_cmpint (jint (photo, "ts"), ==, local_ms ("Europe/Paris", 2024, 3, 5, 14, 1));
  assert_file_bytes (jstr (photo, "content.media_file"), imp_test_jpeg, imp_test_jpeg_len);
  json_t *omitted = json_array_get (msgs, 2);
  g_assert_cmpint (jint (omitted, "content.flags"), ==, PA_CONTENT_NOT_INCLUDED);
  g_assert_cmpstr (jstr (omitted, "sender_id"), !=, jstr (photo, "sender_id"));

  /* UTF-16 LE with a BOM, bare .txt with the photo beside it */
  static const char ru[] = "3/5/24, 9:00 PM - Иван: Привет\n"
                           "3/6/24, 8:15 AM - Иван: IMG-20240306-WA0001.jpg (файл добавлен)\n"
                           "3/7/24, 1:30 PM - Ольга: <Без медиафайлов>\n";
  gsize n16 = 0;
  g_autofree char *u16 = g_convert (ru, -1, "UTF-16LE", "UTF-8", NULL, &n16, NULL);
  g_assert_nonnull (u16);
  g_autofree char *dir = g_build_filename (f->dir, "ru", NULL);
  g_assert_cmpint (g_mkdir (dir, 0700), ==, 0);
  g_autofree char *txt = g_build_filename (dir, "WhatsApp Chat with Иван.txt", NULL);
  g_autoptr (GString) bytes = g_string_new_len ("\xff\xfe", 2);
  g_string_append_len (bytes, u16, (gssize) n16);
  g_assert_true (g_file_set_contents (txt, bytes->str, (gssize) bytes->len, NULL));
  g_autofree char *img = g_build_filename (dir, "IMG-20240306-WA0001.jpg", NULL);
  g_assert_true (g_file_set_contents (img, (const char *) imp_test_jpeg,
                                      (gssize) imp_test_jpeg_len, NULL));
  g_autofree char *work2 = g_build_filename (f->dir, "work2", NULL);
  ImpRunOptions o2 = { .work_dir = work2 };
  g_autoptr (ImpRun) run2 = imp_test_run (desc, txt, &o2);
  check_stream (run2);
  g_autoptr (json_t) msgs2 = imp_run_events (run2, "message");
  g_assert_cmpuint (json_array_size (msgs2), ==, 3);
  g_assert_cmpint (jint (json_array_get (msgs2, 0), "ts"), ==,
                   local_ms ("Europe/Paris", 2024, 3, 5, 21, 0));
  json_t *img2 = find_msg (msgs2, "WA0001");
  g_assert_cmpstr (jstr (img2, "content.kind"), ==, "image");
  g_assert_cmpint (jint (img2, "ts"), ==, local_ms ("Europe/Paris", 2024, 3, 6, 8, 15));
  assert_file_bytes (jstr (img2, "content.media_file"), imp_test_jpeg, imp_test_jpeg_len);
  g_assert_cmpint (jint (json_array_get (msgs2, 2), "content.flags"), ==,
                   PA_CONTENT_NOT_INCLUDED);
  g_assert_true (imp_run_has_notice (run2, "month/day/year"));
  g_assert_true (imp_run_has_notice (run2, "keeps the messages in sequence"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  desc = imp_test_load ("whatsapp");
  g_assert_cmpstr (desc->display_name, ==, "WhatsApp");
#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("/whatsapp/import/corpus", test_corpus);
  ADD ("/whatsapp/import/fr-android", test_fr_android);
  ADD ("/whatsapp/import/timezone", test_timezone);
  ADD ("/whatsapp/import/android-zip", test_android_zip);
  ADD ("/whatsapp/import/no-work-dir", test_no_work_dir);
  ADD ("/whatsapp/import/refused-media", test_refused_media);
  ADD ("/whatsapp/import/ios-zip", test_ios_zip);
  ADD ("/whatsapp/import/zip-slip", test_zip_slip);
  ADD ("/whatsapp/import/zip-bomb", test_zip_bomb);
  ADD ("/whatsapp/import/text-over-cap", test_text_over_cap);
  ADD ("/whatsapp/import/too-many-entries", test_too_many_entries);
  ADD ("/whatsapp/import/truncated-zip", test_truncated_zip);
  ADD ("/whatsapp/import/corrupt-entry", test_corrupt_entry);
  ADD ("/whatsapp/import/wrong-types", test_wrong_types);
  ADD ("/whatsapp/import/disk-media", test_disk_media);
  ADD ("/whatsapp/import/localized", test_localized);
#undef ADD
  return g_test_run ();
}
