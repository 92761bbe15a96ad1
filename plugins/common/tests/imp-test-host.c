/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The importer tests' plugin host (see imp-test-host.h).  Its PaHostApi is
 * the whole SDK 2 table, so a plugin calling any member finds it: the calls
 * an importer must not make (login steps, op results) fail the test; the
 * event loop members run on GLib's default main context, like the worker's. */
#define G_LOG_DOMAIN "passerelle-importer-test"

#include "imp-test-host.h"
#include "test-host-loop.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <glib-unix.h>
#include <glib/gstdio.h>
#include <gmodule.h>
#include <zip.h>

struct PaHost {
  ImpRun *run;
  GHashTable *announced; /* chat ids with a CHAT_INFO */
  const char *work_dir;  /* where emitted media must lie, or NULL */
  gboolean refuse_media;
};

static const char *const kind_names[] = {
  "text", "notice", "emote", "image", "video", "audio", "voice", "file", "sticker", "location",
};
static const char *const type_names[] = {
  NULL,         "message",      "message_upsert", "edit",          "delete",
  "reaction",   "reaction_remove", "reaction_sync", "read_receipt", "delivery_receipt",
  "marked_unread", "typing",    "presence",       "chat_info",     "chat_resync",
  "chat_delete", "contact_info", "backfill_end",
};

static void
set_str (json_t *o, const char *k, const char *v)
{
  if (v != NULL)
    {
      g_assert_true (g_utf8_validate (v, -1, NULL));
      json_object_set_new (o, k, json_string (v));
    }
}

static json_t *
member_json (const PaMember *m)
{
  json_t *o = json_object ();
  g_assert_cmpuint (m->struct_size, >=, sizeof (PaMember));
  g_assert_nonnull (m->id);
  set_str (o, "id", m->id);
  set_str (o, "name", m->name);
  set_str (o, "identifier", m->identifier);
  return o;
}

static gboolean
content_has_media (const PaContent *c)
{
  return c->kind == PA_MSG_IMAGE || c->kind == PA_MSG_VIDEO || c->kind == PA_MSG_AUDIO
         || c->kind == PA_MSG_VOICE || c->kind == PA_MSG_FILE || c->kind == PA_MSG_STICKER;
}

static json_t *
content_json (PaHost *host, const PaContent *c)
{
  json_t *o = json_object ();
  g_assert_cmpuint (c->struct_size, >=, sizeof (PaContent));
  g_assert_cmpuint (c->kind, <, G_N_ELEMENTS (kind_names));
  set_str (o, "kind", kind_names[c->kind]);
  set_str (o, "text", c->text);
  set_str (o, "html", c->html);
  set_str (o, "media_path", c->media_path);
  set_str (o, "media_name", c->media_name);
  set_str (o, "mimetype", c->mimetype);
  json_object_set_new (o, "size", json_integer ((json_int_t) c->media_size));
  json_object_set_new (o, "width", json_integer (c->width));
  json_object_set_new (o, "height", json_integer (c->height));
  json_object_set_new (o, "duration_ms", json_integer (c->duration_ms));
  if (c->kind == PA_MSG_LOCATION)
    {
      json_object_set_new (o, "latitude", json_real (c->latitude));
      json_object_set_new (o, "longitude", json_real (c->longitude));
    }
  set_str (o, "reply_to", c->reply_to);
  set_str (o, "forwarded_from", c->forwarded_from);
  json_object_set_new (o, "flags", json_integer (c->flags));
  /* Media kinds carry a real file of the announced size, inside the work
   * dir (FILES in plugin.h); others none. */
  if (content_has_media (c))
    {
      GStatBuf st;
      g_assert_nonnull (c->media_path);
      g_assert_nonnull (host->work_dir);
      g_autofree char *prefix = g_strconcat (host->work_dir, "/", NULL);
      g_assert_true (g_str_has_prefix (c->media_path, prefix));
      g_assert_cmpint (g_lstat (c->media_path, &st), ==, 0);
      g_assert_true (S_ISREG (st.st_mode));
      g_assert_cmpuint ((guint64) st.st_size, ==, c->media_size);
      g_assert_nonnull (c->mimetype);
    }
  else
    g_assert_null (c->media_path);
  return o;
}

static json_t *
chat_json (const PaChatInfo *c)
{
  json_t *o = json_object ();
  g_assert_cmpuint (c->struct_size, >=, sizeof (PaChatInfo));
  set_str (o, "id", c->id);
  set_str (o, "kind", c->kind == PA_CHAT_DM ? "dm" : "group");
  set_str (o, "name", c->name);
  if (c->members != NULL)
    {
      json_t *a = json_array ();
      for (size_t i = 0; i < c->n_members; i++)
        json_array_append_new (a, member_json (&c->members[i]));
      json_object_set_new (o, "members", a);
    }
  json_object_set_new (o, "members_complete", json_boolean (c->members_complete));
  return o;
}

static void
api_log (PaHost *host, PaLogLevel level, const char *message)
{
  g_test_message ("plugin log %d: %s", (int) level, message);
}

static uint64_t
api_emit (PaHost *host, const PaEvent *e)
{
  g_assert_cmpuint (e->struct_size, >=, sizeof (PaEvent));
  g_assert_cmpuint (e->type, <, G_N_ELEMENTS (type_names));
  json_t *ev = json_object ();
  set_str (ev, "type", type_names[e->type]);
  set_str (ev, "chat_id", e->chat_id);
  set_str (ev, "sender_id", e->sender_id);
  json_object_set_new (ev, "ts", json_integer (e->timestamp_ms));
  json_object_set_new (ev, "stream_order", json_integer ((json_int_t) e->stream_order));
  set_str (ev, "message_id", e->message_id);
  json_t *content = e->content != NULL ? content_json (host, e->content) : NULL;
  if (content != NULL)
    json_object_set_new (ev, "content", content);
  if (host->refuse_media && e->content != NULL && e->content->media_path != NULL)
    {
      json_decref (ev);
      return 0; /* refused: the file stays the plugin's */
    }
  if (e->chat != NULL)
    json_object_set_new (ev, "chat", chat_json (e->chat));
  if (e->contact != NULL)
    json_object_set_new (ev, "contact", member_json (e->contact));

  g_assert_nonnull (e->chat_id);
  if (e->type == PA_EV_CHAT_INFO)
    {
      g_assert_nonnull (e->chat);
      g_assert_cmpstr (e->chat->id, ==, e->chat_id);
      g_hash_table_add (host->announced, g_strdup (e->chat_id));
    }
  else if (e->type == PA_EV_MESSAGE)
    {
      /* the contract: CHAT_INFO first, then the chat's messages */
      g_assert_true (g_hash_table_contains (host->announced, e->chat_id));
      g_assert_nonnull (e->message_id);
      g_assert_nonnull (e->content);
      if (e->contact != NULL)
        g_assert_cmpstr (e->contact->id, ==, e->sender_id);
    }
  if (e->content != NULL && e->content->media_path != NULL)
    {
      /* The host takes the file: it is moved away, as an upload-then-delete
       * would, and kept for the test under another name. */
      g_autofree char *taken = g_strconcat (e->content->media_path, ".taken", NULL);
      g_assert_false (g_file_test (taken, G_FILE_TEST_EXISTS));
      g_assert_cmpint (g_rename (e->content->media_path, taken), ==, 0);
      set_str (content, "media_file", taken);
    }
  json_array_append_new (host->run->events, ev);
  return json_array_size (host->run->events);
}

static void
api_notice (PaHost *host, const char *text)
{
  g_assert_true (g_utf8_validate (text, -1, NULL));
  json_array_append_new (host->run->notices, json_string (text));
}

static const char *
api_data_dir (PaHost *host)
{
  return "/nonexistent";
}

static void
api_login_step (PaHost *host, const PaLoginStep *s)
{
  g_assert_not_reached ();
}

static void
api_login_state (PaHost *host, PaLoginState state, const char *message)
{
  g_assert_not_reached ();
}

static void
api_op_result (PaHost *host, uint64_t op_id, const PaOpResult *result)
{
  g_error ("an importer answered op %" G_GUINT64_FORMAT " (code %d): it has no operations",
           (guint64) op_id, result != NULL ? (int) result->code : -1);
}

static void
api_meta_set (PaHost *host, PaMetaScope scope, const char *id, const char *value)
{
}

static char *
api_meta_get (PaHost *host, PaMetaScope scope, const char *id)
{
  return NULL;
}

static void
api_op_contact (PaHost *host, uint64_t op_id, const PaMember *contact)
{
  g_assert_not_reached ();
}

static int64_t
api_budget_left (PaHost *host)
{
  return -1;
}

/* The importers declare no configuration keys: every key is unknown. */
static const char *
api_config_string (PaHost *host, const char *key)
{
  g_test_message ("plugin asked for undeclared config key %s", key);
  return NULL;
}

static int64_t
api_config_int (PaHost *host, const char *key)
{
  g_test_message ("plugin asked for undeclared config key %s", key);
  return 0;
}

static bool
api_config_bool (PaHost *host, const char *key)
{
  g_test_message ("plugin asked for undeclared config key %s", key);
  return false;
}

static const PaHostApi host_api = {
  .struct_size = sizeof (PaHostApi),
  .abi_major = PA_PLUGIN_ABI_MAJOR,
  .abi_minor = PA_PLUGIN_ABI_MINOR,
  .log = api_log,
  .emit = api_emit,
  .data_dir = api_data_dir,
  .login_step = api_login_step,
  .login_state = api_login_state,
  .op_result = api_op_result,
  .notice = api_notice,
  .meta_set = api_meta_set,
  .meta_get = api_meta_get,
  .op_contact = api_op_contact,
  .budget_left = api_budget_left,
  .config_string = api_config_string,
  .config_int = api_config_int,
  .config_bool = api_config_bool,
  .timer_add = test_host_timer_add,
  .fd_watch_add = test_host_fd_watch_add,
  .source_remove = test_host_source_remove,
  .invoke = test_host_invoke,
};

const PaNetwork *
imp_test_load (const char *name)
{
  const char *root = g_getenv ("PA_BUILD_ROOT");
  g_assert_nonnull (root);
  g_autofree char *so = g_strdup_printf ("%s.so", name);
  g_autofree char *path = g_build_filename (root, "plugins", name, so, NULL);
  GModule *module = g_module_open (path, G_MODULE_BIND_LOCAL);
  if (module == NULL)
    g_error ("cannot load %s: %s", path, g_module_error ());
  g_module_make_resident (module);
  gpointer sym = NULL;
  g_assert_true (g_module_symbol (module, PA_PLUGIN_ENTRY_SYMBOL, &sym));
  /* An SDK 2 plugin no longer exports the SDK 1 entry point. */
  gpointer old = NULL;
  g_assert_false (g_module_symbol (module, PA_PLUGIN_ENTRY_SYMBOL_V1, &old));
  const PaNetwork *n = ((PaPluginEntry) sym) ();
  g_assert_nonnull (n);
  g_assert_cmpuint (n->magic, ==, PA_PLUGIN_MAGIC);
  g_assert_cmpuint (n->abi_major, ==, PA_PLUGIN_ABI_MAJOR);
  g_assert_cmpuint (n->abi_minor, <=, PA_PLUGIN_ABI_MINOR);
  g_assert_cmpuint (n->struct_size, ==, sizeof (PaNetwork));
  g_assert_cmpstr (n->name, ==, name);
  g_assert_nonnull (n->version);
  g_assert_nonnull (n->import_file);
  g_assert_true (n->capabilities & PA_CAP_IMPORT);
  /* A network that also logs in (WhatsApp) declares it and has what that
   * takes; an import-only one has no login, no operations. */
  if (n->capabilities & PA_CAP_LOGIN)
    {
      g_assert_nonnull (n->login_new);
      g_assert_nonnull (n->login_ops);
    }
  else
    {
      g_assert_null (n->login_new);
      g_assert_null (n->login_ops);
      g_assert_cmpuint (n->n_login_flows, ==, 0);
    }
  return n;
}

ImpRun *
imp_test_run (const PaNetwork *net, const char *path, const ImpRunOptions *o)
{
  ImpRun *run = g_new0 (ImpRun, 1);
  run->events = json_array ();
  run->notices = json_array ();
  struct PaHost host = {
    .run = run,
    .announced = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL),
    .work_dir = o != NULL ? o->work_dir : NULL,
    .refuse_media = o != NULL && o->refuse_media,
  };
  PaImportOptions opts = {
    .struct_size = sizeof (PaImportOptions),
    .timezone = o != NULL ? o->tz : NULL,
    .chat = o != NULL ? o->chat : NULL,
    .work_dir = o != NULL ? o->work_dir : NULL,
    .max_total_bytes = o != NULL ? o->max_total_bytes : 0,
    .max_entries = o != NULL ? o->max_entries : 0,
  };
  /* One worker per import job: init, import_file, shutdown. */
  char *error = NULL;
  if (net->init != NULL)
    {
      gboolean inited = net->init (&host, &host_api, &error);
      if (!inited)
        g_error ("init failed: %s", error != NULL ? error : "(no error)");
      g_assert_null (error);
    }
  run->ok = net->import_file (&host, path, &opts, &error);
  if (!run->ok)
    {
      g_assert_nonnull (error);
      g_assert_true (g_utf8_validate (error, -1, NULL));
    }
  run->error = error != NULL ? g_strdup (error) : NULL;
  free (error);
  if (net->shutdown != NULL)
    net->shutdown (&host);
  /* What the plugin queued on the main context runs before the "worker" exits. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_hash_table_destroy (host.announced);
  return run;
}

void
imp_run_free (ImpRun *run)
{
  if (run == NULL)
    return;
  json_decref (run->events);
  json_decref (run->notices);
  g_free (run->error);
  g_free (run);
}

json_t *
imp_run_events (ImpRun *run, const char *type)
{
  json_t *out = json_array ();
  size_t i;
  json_t *ev;
  json_array_foreach (run->events, i, ev)
    if (g_strcmp0 (json_string_value (json_object_get (ev, "type")), type) == 0)
      json_array_append (out, ev);
  return out;
}

gboolean
imp_run_has_notice (ImpRun *run, const char *needle)
{
  size_t i;
  json_t *n;
  json_array_foreach (run->notices, i, n)
    if (strstr (json_string_value (n), needle) != NULL)
      return TRUE;
  return FALSE;
}

void
imp_run_dump (ImpRun *run)
{
  char *ev = json_dumps (run->events, JSON_INDENT (1));
  char *no = json_dumps (run->notices, JSON_INDENT (1));
  fprintf (stderr, "ok=%d error=%s\nevents=%s\nnotices=%s\n", run->ok,
           run->error != NULL ? run->error : "(none)", ev, no);
  free (ev);
  free (no);
}

void
imp_test_write_zip (const char *path, const ImpZipEntry *entries, gsize n)
{
  int err = 0;
  zip_t *za = zip_open (path, ZIP_CREATE | ZIP_TRUNCATE, &err);
  g_assert_nonnull (za);
  for (gsize i = 0; i < n; i++)
    {
      zip_source_t *src = zip_source_buffer (za, entries[i].data, entries[i].len, 0);
      g_assert_nonnull (src);
      zip_int64_t idx = zip_file_add (za, entries[i].name, src, ZIP_FL_ENC_UTF_8);
      if (idx < 0)
        g_error ("zip_file_add %s: %s", entries[i].name, zip_strerror (za));
      if (entries[i].store)
        g_assert_cmpint (zip_set_file_compression (za, (zip_uint64_t) idx, ZIP_CM_STORE, 0), ==,
                         0);
      if (entries[i].unix_mode != 0)
        g_assert_cmpint (zip_file_set_external_attributes (za, (zip_uint64_t) idx, 0,
                                                           ZIP_OPSYS_UNIX,
                                                           entries[i].unix_mode << 16),
                         ==, 0);
    }
  if (zip_close (za) != 0)
    g_error ("zip_close %s: %s", path, zip_strerror (za));
}

/* Rewrites the declared uncompressed size of `name` in both the local and
 * the central header: a zip bomb that lies about its size. */
void
imp_test_patch_declared_size (guint8 *buf, gsize len, const char *name, guint32 size)
{
  gsize nlen = strlen (name);
  guint patched = 0;
  for (gsize i = 0; i + 46 + nlen <= len; i++)
    {
      if (buf[i] != 'P' || buf[i + 1] != 'K')
        continue;
      if (buf[i + 2] == 3 && buf[i + 3] == 4 && buf[i + 26] == (nlen & 0xff)
          && memcmp (buf + i + 30, name, nlen) == 0)
        {
          memcpy (buf + i + 22, &size, 4); /* little-endian hosts only: x86/arm */
          patched++;
        }
      else if (buf[i + 2] == 1 && buf[i + 3] == 2 && buf[i + 28] == (nlen & 0xff)
               && memcmp (buf + i + 46, name, nlen) == 0)
        {
          memcpy (buf + i + 24, &size, 4);
          patched++;
        }
    }
  g_assert_cmpuint (patched, ==, 2);
}

char *
imp_test_tmpdir (void)
{
  g_autoptr (GError) error = NULL;
  char *dir = g_dir_make_tmp ("pa-import-XXXXXX", &error);
  g_assert_no_error (error);
  return dir;
}

void
imp_test_rmrf (const char *path)
{
  GStatBuf st;
  if (g_lstat (path, &st) != 0)
    return;
  if (S_ISDIR (st.st_mode))
    {
      GDir *d = g_dir_open (path, 0, NULL);
      const char *name;
      while (d != NULL && (name = g_dir_read_name (d)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);
          imp_test_rmrf (child);
        }
      if (d != NULL)
        g_dir_close (d);
      g_rmdir (path);
    }
  else
    g_unlink (path);
}

static guint64
dir_bytes (const char *dir, GHashTable *inodes)
{
  guint64 total = 0;
  GDir *d = g_dir_open (dir, 0, NULL);
  const char *name;
  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *child = g_build_filename (dir, name, NULL);
      GStatBuf st;
      if (g_lstat (child, &st) != 0)
        continue;
      if (S_ISDIR (st.st_mode))
        total += dir_bytes (child, inodes);
      else if (S_ISREG (st.st_mode)
               && g_hash_table_add (inodes, g_strdup_printf ("%ju:%ju", (uintmax_t) st.st_dev,
                                                             (uintmax_t) st.st_ino)))
        total += (guint64) st.st_size;
    }
  if (d != NULL)
    g_dir_close (d);
  return total;
}

guint64
imp_test_dir_bytes (const char *dir)
{
  g_autoptr (GHashTable) inodes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  return dir_bytes (dir, inodes);
}

char *
imp_test_data (const char *rel)
{
  const char *root = g_getenv ("PA_TEST_DATA");
  g_assert_nonnull (root);
  return g_build_filename (root, rel, NULL);
}

/* Generated with Python's zlib/struct: real files, not just headers (the
 * JPEG is a header with a start-of-frame and no scan). */
const guint8 imp_test_png[] = {
  0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d,
  0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x02,
  0x08, 0x02, 0x00, 0x00, 0x00, 0x12, 0x16, 0xf1, 0x4d, 0x00, 0x00, 0x00,
  0x10, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0x00,
  0x41, 0x0c, 0x70, 0x16, 0x00, 0x41, 0xd2, 0x05, 0xfb, 0x87, 0xf0, 0xb9,
  0x48, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60,
  0x82,
};
const gsize imp_test_png_len = sizeof (imp_test_png);
const guint8 imp_test_gif[] = {
  0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x05, 0x00, 0x04, 0x00, 0x80, 0x00,
  0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0x2c, 0x00, 0x00, 0x00, 0x00,
  0x05, 0x00, 0x04, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
};
const gsize imp_test_gif_len = sizeof (imp_test_gif);
const guint8 imp_test_jpeg[] = {
  0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01,
  0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0xff, 0xc0, 0x00, 0x0b,
  0x08, 0x00, 0x06, 0x00, 0x07, 0x01, 0x01, 0x11, 0x00, 0xff, 0xd9,
};
const gsize imp_test_jpeg_len = sizeof (imp_test_jpeg);
