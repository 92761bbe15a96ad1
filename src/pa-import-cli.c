/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* `passerelle import whatsapp|telegram FILE --user @agent:hs …`
 *
 * The command queues an import job in the bridge's store and follows it;
 * the running bridge does the work (its worker parses, its queues send).
 * The job's id is derived from the agent, the plugin, the file's content,
 * the target room and the chat, so running the same command again — after
 * a Ctrl-C, a kill -9 of anything, or once finished — attaches to the same
 * job instead of importing twice.  A dry run needs neither the bridge nor
 * its configuration: the command runs the plugin's importer itself, in a
 * worker, on a temporary folder it deletes. */
#define G_LOG_DOMAIN "passerelle-import"

#include "pa-import-cli.h"

#include "bridge/pa-fingerprint.h"
#include "bridge/pa-import.h"
#include "config/pa-config.h"
#include "host/pa-worker.h"
#include "pa-build-config.h"
#include "pa-common.h"
#include "store/pa-store.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <sys/stat.h>
#include <stdio.h>
#include <unistd.h>

static char *
file_digest (const char *path, gint64 *out_size, GError **error)
{
  g_autoptr (GFile) f = g_file_new_for_path (path);
  g_autoptr (GFileInputStream) in = g_file_read (f, NULL, error);
  if (in == NULL)
    return NULL;
  g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  g_autofree guint8 *buf = g_malloc (1 << 20);
  gint64 total = 0;
  for (;;)
    {
      gssize n = g_input_stream_read (G_INPUT_STREAM (in), buf, 1 << 20, NULL, error);
      if (n < 0)
        return NULL;
      if (n == 0)
        break;
      g_checksum_update (sum, buf, (gsize) n);
      total += n;
    }
  *out_size = total;
  return g_strdup (g_checksum_get_string (sum));
}

static gboolean
plugin_enabled (PaConfig *c, PaStore *store, const char *user, const char *plugin, char **why)
{
  if (pa_config_level_for (c, user) < PA_LEVEL_USER)
    {
      *why = g_strdup_printf ("%s may not use this bridge (permission level %s)", user,
                              pa_level_to_string (pa_config_level_for (c, user)));
      return FALSE;
    }
  const PaMinistry *m = pa_config_ministry_for (c, user);
  if (m == NULL)
    {
      *why = g_strdup_printf ("%s belongs to no ministry configured on this bridge", user);
      return FALSE;
    }
  gboolean enabled = FALSE;
  if (!pa_store_ministry_plugin_get (store, m->name, plugin, &enabled))
    for (guint i = 0; i < m->plugins->len; i++)
      if (g_str_equal (g_ptr_array_index (m->plugins, i), plugin))
        enabled = TRUE;
  if (!enabled)
    {
      *why = g_strdup_printf ("the ministry %s has not enabled %s", m->name, plugin);
      return FALSE;
    }
  return TRUE;
}

static const char *
jstr (json_t *o, const char *k)
{
  return json_string_value (json_object_get (o, k));
}

static void
print_summary (json_t *job)
{
  json_t *s = json_object_get (job, "summary");
  printf ("%" JSON_INTEGER_FORMAT " messages, %" JSON_INTEGER_FORMAT " with media, %"
          JSON_INTEGER_FORMAT " notices\n",
          json_integer_value (json_object_get (s, "messages")),
          json_integer_value (json_object_get (s, "media")),
          json_integer_value (json_object_get (s, "notices")));
  json_int_t first = json_integer_value (json_object_get (s, "first_ts"));
  if (first > 0)
    {
      g_autoptr (GDateTime) d1 = g_date_time_new_from_unix_utc (first / 1000);
      g_autoptr (GDateTime) d2 = g_date_time_new_from_unix_utc (
          json_integer_value (json_object_get (s, "last_ts")) / 1000);
      g_autofree char *s1 = g_date_time_format_iso8601 (d1);
      g_autofree char *s2 = g_date_time_format_iso8601 (d2);
      printf ("from %s to %s\n", s1, s2);
    }
  size_t i;
  json_t *v;
  json_array_foreach (json_object_get (s, "chats"), i, v)
    {
      printf ("chat: %s (%s) — %" JSON_INTEGER_FORMAT " messages",
              jstr (v, "name") ? jstr (v, "name") : "?", jstr (v, "kind") ? jstr (v, "kind") : "?",
              json_integer_value (json_object_get (v, "messages")));
      /* A dry run: the room a real import would top up. */
      if (jstr (v, "already_in") && json_object_get (s, "sent") == NULL)
        printf (" (already imported into %s)", jstr (v, "already_in"));
      printf ("\n");
    }
  const char *id;
  guint n = 0;
  json_object_foreach (json_object_get (s, "senders"), id, v)
    printf ("sender %u: %s — %" JSON_INTEGER_FORMAT " messages\n", ++n, jstr (v, "name"),
            json_integer_value (json_object_get (v, "count")));
  json_array_foreach (json_object_get (s, "importer_notes"), i, v)
    printf ("note: %s\n", json_string_value (v));
  json_int_t live = json_integer_value (json_object_get (s, "already_live"));
  gboolean former = FALSE;
  json_array_foreach (json_object_get (s, "chats"), i, v)
    if (jstr (v, "already_in"))
      former = TRUE;
  if (former)
    return; /* said with the rooms (print_rooms) */
  if (live > 0)
    printf ("%" JSON_INTEGER_FORMAT " message%s already bridged live %s not imported again\n",
            live, live == 1 ? "" : "s", live == 1 ? "was" : "were");
}

/* Every room the import went to; for a chat imported before, what was
 * added to its room and what was already there. */
static void
print_rooms (json_t *job)
{
  json_t *s = json_object_get (job, "summary");
  size_t i;
  json_t *v;
  guint n = 0;
  json_array_foreach (json_object_get (s, "chats"), i, v)
    {
      const char *name = jstr (v, "name") ? jstr (v, "name") : "?";
      if (jstr (v, "already_in"))
        {
          json_int_t there = json_integer_value (json_object_get (v, "already_there"));
          json_int_t added = MAX (0, json_integer_value (json_object_get (v, "messages")) - there);
          printf ("%s: already imported into %s: %" JSON_INTEGER_FORMAT " new message%s added, %"
                  JSON_INTEGER_FORMAT " already there\n",
                  name, jstr (v, "already_in"), added, added == 1 ? "" : "s", there);
          n++;
        }
      else if (jstr (v, "room_id"))
        {
          printf ("room: %s — %s\n", jstr (v, "room_id"), name);
          n++;
        }
    }
  if (n == 0 && jstr (job, "room_id"))
    printf ("room: %s\n", jstr (job, "room_id"));
}

/* ------------------------------------------------- dry run, in place */

/* limits.max_import_bytes and max_import_entries when there is no
 * configuration (their defaults, src/config/pa-config-keys.c). */
#define DRY_MAX_BYTES (G_GINT64_CONSTANT (4) << 30)
#define DRY_MAX_ENTRIES 100000
#define DRY_MAX_MESSAGES 1000000

typedef struct
{
  GMainLoop *loop;
  const char *path, *chat, *tz, *work;
  gint64 max_bytes, max_entries, max_messages;
  json_t *summary;
  GHashTable *chats;   /* chat id → entry of summary.chats (borrowed) */
  GHashTable *anchors; /* chat id → anchor of its first message (pa-fingerprint.h) */
  gboolean done, ok;
  char *error;
} DryRun;

static json_t *
dry_chat (DryRun *d, const char *id)
{
  json_t *c = g_hash_table_lookup (d->chats, id);
  if (c == NULL)
    {
      c = json_pack ("{s:s, s:i}", "id", id, "messages", 0);
      json_array_append_new (json_object_get (d->summary, "chats"), c);
      g_hash_table_insert (d->chats, g_strdup (id), c);
    }
  return c;
}

static void
dry_add (json_t *o, const char *key)
{
  json_object_set_new (o, key, json_integer (json_integer_value (json_object_get (o, key)) + 1));
}

static void
dry_count (DryRun *d, json_t *ev)
{
  const char *type = jstr (ev, "type");
  const char *chat_id = jstr (ev, "chat_id");
  json_t *c = json_object_get (ev, "content");
  /* A file the importer extracted is not needed: only counted. */
  const char *media = jstr (c, "media_path");
  if (media && g_str_has_prefix (media, d->work))
    g_unlink (media);
  if (g_strcmp0 (type, "chat_info") == 0)
    {
      json_t *chat = json_object_get (ev, "chat");
      const char *id = jstr (chat, "id") ? jstr (chat, "id") : chat_id;
      if (id == NULL)
        return;
      json_t *entry = dry_chat (d, id);
      if (jstr (chat, "name"))
        json_object_set_new (entry, "name", json_string (jstr (chat, "name")));
      if (jstr (chat, "kind"))
        json_object_set_new (entry, "kind", json_string (jstr (chat, "kind")));
      return;
    }
  if (g_strcmp0 (type, "message") != 0)
    return;
  dry_add (d->summary, "messages");
  if (chat_id)
    {
      dry_add (dry_chat (d, chat_id), "messages");
      char *anchor = g_hash_table_contains (d->anchors, chat_id) ? NULL
                                                                 : pa_fingerprint_anchor (ev);
      if (anchor != NULL)
        g_hash_table_insert (d->anchors, g_strdup (chat_id), anchor);
    }
  if (media)
    dry_add (d->summary, "media");
  if (g_strcmp0 (jstr (c, "kind"), "notice") == 0)
    dry_add (d->summary, "notices");
  json_int_t ts = json_integer_value (json_object_get (ev, "ts"));
  if (ts > 0)
    {
      json_t *first = json_object_get (d->summary, "first_ts");
      if (first == NULL || ts < json_integer_value (first))
        json_object_set_new (d->summary, "first_ts", json_integer (ts));
      if (ts > json_integer_value (json_object_get (d->summary, "last_ts")))
        json_object_set_new (d->summary, "last_ts", json_integer (ts));
    }
  const char *sender = jstr (ev, "sender_id");
  json_t *senders = json_object_get (d->summary, "senders");
  if (sender == NULL || (json_object_get (senders, sender) == NULL
                         && json_object_size (senders) >= 10000))
    return;
  json_t *one = json_object_get (senders, sender);
  if (one == NULL)
    {
      const char *name = jstr (json_object_get (ev, "contact"), "name");
      one = json_pack ("{s:s, s:i}", "name", name ? name : sender, "count", 0);
      json_object_set_new (senders, sender, one);
    }
  dry_add (one, "count");
}

static void
dry_hello (PaWorker *w, json_t *hello, gpointer user_data)
{
  DryRun *d = user_data;
  g_autofree char *media = g_build_filename (d->work, "media", NULL);
  g_mkdir_with_parents (media, 0700);
  g_autoptr (json_t) frame = json_pack (
      "{s:s, s:s, s:{s:s, s:s?, s:s, s:I, s:I}}", "t", "import", "path", d->path, "options",
      "timezone", d->tz, "chat", d->chat, "work_dir", media, "max_total_bytes",
      (json_int_t)d->max_bytes, "max_entries", (json_int_t)d->max_entries);
  pa_worker_send (w, frame);
}

static void
dry_frame (PaWorker *w, json_t *frame, gpointer user_data)
{
  DryRun *d = user_data;
  const char *t = jstr (frame, "t");
  if (d->done)
    return;
  if (g_strcmp0 (t, "event") == 0 && json_is_object (json_object_get (frame, "event")))
    {
      dry_count (d, json_object_get (frame, "event"));
      if (json_integer_value (json_object_get (d->summary, "messages")) > d->max_messages)
        {
          /* As the bridge would: the export is refused whole. */
          d->done = TRUE;
          d->error = g_strdup_printf ("the export holds more than %" G_GINT64_FORMAT
                                      " messages, the limit of this bridge "
                                      "(limits.max_import_messages)",
                                      d->max_messages);
          json_object_set_new (d->summary, "messages", json_integer (0));
          g_main_loop_quit (d->loop);
        }
    }
  else if (g_strcmp0 (t, "notice") == 0 && jstr (frame, "text"))
    json_array_append_new (json_object_get (d->summary, "importer_notes"),
                           json_string (jstr (frame, "text")));
  else if (g_strcmp0 (t, "import_done") == 0)
    {
      d->done = TRUE;
      d->ok = json_is_true (json_object_get (frame, "ok"));
      d->error = g_strdup (jstr (frame, "error"));
      g_main_loop_quit (d->loop);
    }
}

static void
dry_exited (PaWorker *w, gboolean crashed, gboolean will_restart, const char *reason,
            gpointer user_data)
{
  DryRun *d = user_data;
  if (d->done)
    return;
  d->done = TRUE;
  d->error = g_strdup_printf ("the importer stopped before the end (%s)",
                              reason ? reason : "exited");
  g_main_loop_quit (d->loop);
}

/* The importer of `plugin` run here on `path`, its summary printed:
 * nothing queued, no bridge needed, nothing left on disk. */
/* With the bridge's store and the agent: the room each chat was imported
 * into before, which a real import would top up. */
static void
dry_identify (DryRun *d, PaStore *store, const char *user, const char *plugin)
{
  size_t i;
  json_t *c;
  json_array_foreach (json_object_get (d->summary, "chats"), i, c)
    {
      const char *id = jstr (c, "id");
      g_autofree char *identity
          = id ? pa_fingerprint_chat_identity (id, g_hash_table_lookup (d->anchors, id)) : NULL;
      g_autofree char *room = pa_store_import_chat_room (store, user, plugin, identity);
      if (room != NULL)
        json_object_set_new (c, "already_in", json_string (room));
    }
}

static int
dry_run_here (PaConfig *config, PaStore *store, const char *user, const char *plugin_dir,
              const char *plugin, const char *path, const char *chat, const char *tz)
{
  g_autofree char *so_name = g_strconcat (plugin, ".so", NULL);
  g_autofree char *so = g_build_filename (plugin_dir, so_name, NULL);
  if (!g_file_test (so, G_FILE_TEST_IS_REGULAR))
    {
      fprintf (stderr, "passerelle import: no %s plugin in %s (--plugin-dir)\n", plugin,
               plugin_dir);
      return 1;
    }
  g_autoptr (GError) error = NULL;
  g_autofree char *work = g_dir_make_tmp ("passerelle-dry-run-XXXXXX", &error);
  if (work == NULL)
    {
      fprintf (stderr, "passerelle import: %s\n", error->message);
      return 1;
    }
  g_autoptr (GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  DryRun d = { .loop = loop,
               .path = path,
               .chat = chat,
               .tz = tz ? tz : "Europe/Paris",
               .work = work,
               .max_bytes = config ? config->max_import_bytes : DRY_MAX_BYTES,
               .max_entries = config ? config->max_import_entries : DRY_MAX_ENTRIES,
               .max_messages = config ? config->max_import_messages : DRY_MAX_MESSAGES,
               .chats = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL),
               .anchors = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free) };
  d.summary = json_pack ("{s:i, s:i, s:i, s:[], s:{}, s:[]}", "messages", 0, "media", 0,
                         "notices", 0, "chats", "senders", "importer_notes");
  PaWorkerCallbacks cbs = { .hello = dry_hello, .frame = dry_frame, .exited = dry_exited };
  PaWorker *w = pa_worker_new (NULL, so, "import:dry-run", work, &cbs, &d);
  pa_worker_set_restart (w, FALSE, 0);
  g_autofree char *lower = g_ascii_strdown (path, -1);
  g_autofree char *export_dir = g_path_get_dirname (path);
  pa_worker_set_sandbox (w, config ? config->worker_sandbox : "best_effort",
                         config ? config->worker_sandbox_read : NULL);
  pa_worker_add_sandbox_read (w, g_str_has_suffix (lower, ".zip") ? path : export_dir);
  int rc = 0;
  if (!pa_worker_start (w, &error))
    {
      fprintf (stderr, "passerelle import: %s\n", error->message);
      rc = 1;
    }
  else
    {
      g_main_loop_run (loop);
      pa_worker_stop (w);
    }
  pa_worker_free (w);
  pa_remove_tree (work);
  if (rc == 0 && !d.ok
      && (d.error == NULL || json_integer_value (json_object_get (d.summary, "messages")) == 0))
    {
      fprintf (stderr, "Import would fail: %s\n", d.error ? d.error : "the importer failed");
      rc = 1;
    }
  else if (rc == 0)
    {
      if (!d.ok)
        {
          g_autofree char *note = g_strdup_printf ("the importer stopped early: %s", d.error);
          json_array_append_new (json_object_get (d.summary, "importer_notes"),
                                 json_string (note));
        }
      if (store != NULL && user != NULL)
        dry_identify (&d, store, user, plugin);
      g_autoptr (json_t) job = json_pack ("{s:O}", "summary", d.summary);
      printf ("Dry run (nothing was imported):\n");
      print_summary (job);
    }
  g_free (d.error);
  g_hash_table_destroy (d.chats);
  g_hash_table_destroy (d.anchors);
  json_decref (d.summary);
  return rc;
}

/* Whether a bridge takes import jobs from this store now: it refreshes
 * PA_IMPORT_ALIVE_KEY every PA_IMPORT_ALIVE_PERIOD_MS (pa-import.c). */
static gboolean
bridge_running (PaStore *store)
{
  g_autofree char *v = pa_store_kv_get (store, PA_IMPORT_ALIVE_KEY);
  gint64 at = v ? g_ascii_strtoll (v, NULL, 10) : 0;
  return at > 0 && pa_now_ms () - at < 5 * PA_IMPORT_ALIVE_PERIOD_MS;
}

static void
progress (json_t *job, gint64 t0_ms, json_int_t sent0, gboolean tty)
{
  json_t *s = json_object_get (job, "summary");
  /* Messages the live portal already shows are not sent: out of the total. */
  json_int_t total = json_integer_value (json_object_get (job, "total"))
                     - json_integer_value (json_object_get (s, "already_live"));
  json_int_t sent = json_integer_value (json_object_get (s, "sent"));
  double secs = (double) (g_get_monotonic_time () / 1000 - t0_ms) / 1000.0;
  double rate = secs > 0.5 ? (double) (sent - sent0) / secs : 0.0;
  double eta = rate > 0 ? (double) (total - sent) / rate : 0;
  int width = 30;
  int filled = total > 0 ? (int) ((double) width * (double) sent / (double) total) : 0;
  char bar[64];
  for (int i = 0; i < width; i++)
    bar[i] = i < filled ? '#' : '.';
  bar[width] = '\0';
  printf ("%s[%s] %" JSON_INTEGER_FORMAT "/%" JSON_INTEGER_FORMAT " messages  %.0f msg/s  ETA "
          "%d:%02d%s",
          tty ? "\r" : "", bar, sent, total, rate, (int) eta / 60, (int) eta % 60,
          tty ? "  " : "\n");
  fflush (stdout);
}

int
pa_import_cli (int argc, char **argv)
{
  g_autofree char *config_path = NULL, *user = NULL, *me = NULL, *room = NULL, *chat = NULL;
  g_autofree char *tz = NULL, *plugin_dir = NULL;
  gboolean dry_run = FALSE, no_wait = FALSE;
  GOptionEntry entries[] = {
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path, "Bridge configuration", "FILE" },
    { "user", 'u', 0, G_OPTION_ARG_STRING, &user, "The agent who owns the history (MXID)",
      "@agent:hs" },
    { "me", 0, 0, G_OPTION_ARG_STRING, &me, "Which sender of the export is the agent", "NAME" },
    { "room", 0, 0, G_OPTION_ARG_STRING, &room, "Import into this room (if it is empty)", "ID" },
    { "chat", 0, 0, G_OPTION_ARG_STRING, &chat, "Pick one chat of a multi-chat export",
      "NAME|ID" },
    { "timezone", 0, 0, G_OPTION_ARG_STRING, &tz, "Zone of the export's times", "Europe/Paris" },
    { "dry-run", 'n', 0, G_OPTION_ARG_NONE, &dry_run,
      "Parse here and show the summary, import nothing (no bridge or config needed)", NULL },
    { "plugin-dir", 0, 0, G_OPTION_ARG_FILENAME, &plugin_dir,
      "Where the plugins are, for a dry run (default: the config's plugin_dir)", "DIR" },
    { "no-wait", 0, 0, G_OPTION_ARG_NONE, &no_wait, "Queue the job and return", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("whatsapp|telegram FILE - import history");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_set_description (
      ctx, "The running bridge (passerelle -c CONFIG) does the import; this command queues it\n"
           "and shows its progress. Running it again resumes or reports the same job; a chat\n"
           "imported before, from any file, goes back into its room, topped up. Exit status 3:\n"
           "queued, but no bridge is running.");
  g_autoptr (GError) error = NULL;
  /* argv[1] is "import" */
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      fprintf (stderr, "passerelle import: %s\n", error->message);
      return 2;
    }
  if (argc != 4 || (!dry_run && (config_path == NULL || user == NULL)))
    {
      fprintf (stderr, "usage: passerelle import whatsapp|telegram FILE -c CONFIG --user @agent:hs "
                       "[--me NAME] [--room ID] [--chat NAME|ID] [--timezone TZ]\n"
                       "       passerelle import whatsapp|telegram FILE --dry-run [-c CONFIG] "
                       "[--plugin-dir DIR] [--chat NAME|ID] [--timezone TZ]\n");
      return 2;
    }
  const char *plugin = argv[2];
  g_autofree char *path = g_canonicalize_filename (argv[3], NULL);
  if (tz && g_time_zone_new_identifier (tz) == NULL)
    {
      fprintf (stderr, "passerelle import: unknown time zone %s\n", tz);
      return 2;
    }
  if (dry_run && config_path == NULL)
    return dry_run_here (NULL, NULL, NULL, plugin_dir ? plugin_dir : PA_PLUGIN_DIR, plugin, path,
                         chat, tz);
  g_autoptr (PaConfig) config = pa_config_load (config_path, &error);
  if (config == NULL)
    {
      fprintf (stderr, "passerelle import: %s\n", error->message);
      return 1;
    }
  if (dry_run && user == NULL)
    return dry_run_here (config, NULL, NULL, plugin_dir ? plugin_dir : config->plugin_dir, plugin,
                         path, chat, tz);
  g_autoptr (PaStore) store = pa_store_open (config->database, &error);
  if (store == NULL)
    {
      fprintf (stderr, "passerelle import: %s\n", error->message);
      return 1;
    }
  g_autofree char *why = NULL;
  if (!plugin_enabled (config, store, user, plugin, &why))
    {
      fprintf (stderr, "passerelle import: refused: %s\n", why);
      return 1;
    }
  gint64 size = 0;
  g_autofree char *digest = file_digest (path, &size, &error);
  if (digest == NULL)
    {
      fprintf (stderr, "passerelle import: %s\n", error->message);
      return 1;
    }
  if (size > config->max_import_bytes)
    {
      fprintf (stderr, "passerelle import: %s is %" G_GINT64_FORMAT " bytes, more than "
                       "limits.max_import_bytes (%" G_GINT64_FORMAT ")\n",
               path, size, config->max_import_bytes);
      return 1;
    }
  /* A dry run only parses, here: the agent may use the plugin, the file
   * is within the limits; nothing is queued. */
  if (dry_run)
    return dry_run_here (config, store, user, plugin_dir ? plugin_dir : config->plugin_dir, plugin,
                         path, chat, tz);
  /* Same agent, plugin, content, room and chat: same job (the empty field
   * kept the ids of jobs queued before dry runs were made here). */
  g_autofree char *id_src = g_strjoin ("\x1f", user, plugin, digest, room ? room : "",
                                       chat ? chat : "", "", NULL);
  g_autofree char *id_full = g_compute_checksum_for_string (G_CHECKSUM_SHA256, id_src, -1);
  g_autofree char *id = g_strndup (id_full, 16);

  g_autoptr (json_t) job = pa_store_job_get (store, id);
  if (job && g_strcmp0 (jstr (job, "state"), "done") == 0)
    {
      printf ("Already imported into %s: nothing to do.\n",
              jstr (job, "room_id") ? jstr (job, "room_id") : "its room");
      return 0;
    }
  if (job == NULL || g_strcmp0 (jstr (job, "state"), "failed") == 0)
    {
      g_clear_pointer (&job, json_decref);
      job = json_pack ("{s:s, s:s, s:s, s:s, s:{s:s?, s:s?, s:s?, s:s, s:b}, s:s}", "id", id,
                       "owner", user, "plugin", plugin, "path", path, "options", "me", me, "room",
                       room, "chat", chat, "timezone", tz ? tz : "Europe/Paris", "dry_run",
                       FALSE, "state", "queued");
      if (!pa_store_job_put (store, job, &error))
        {
          fprintf (stderr, "passerelle import: %s\n", error->message);
          return 1;
        }
      printf ("Import job %s queued.\n", id);
    }
  else
    printf ("Resuming import job %s (%s).\n", id, jstr (job, "state"));
  if (!bridge_running (store))
    {
      /* Said at once: waiting would be waiting for nothing. */
      fprintf (stderr, "No bridge is running on this database: the job waits, and starts when "
                       "the bridge does (passerelle -c %s).\n", config_path);
      return 3;
    }
  if (no_wait)
    return 0;

  gboolean tty = isatty (STDOUT_FILENO);
  gint64 t0 = g_get_monotonic_time () / 1000, last_print = 0;
  json_int_t sent0 = -1;
  gboolean warned = FALSE;
  for (;;)
    {
      g_usleep (300 * 1000);
      g_autoptr (json_t) now = pa_store_job_get (store, id);
      if (now == NULL)
        {
          fprintf (stderr, "\npasserelle import: the job disappeared from the store\n");
          return 1;
        }
      const char *state = jstr (now, "state");
      gint64 t = g_get_monotonic_time () / 1000;
      if (!g_str_equal (state, "done") && !g_str_equal (state, "failed") && !warned
          && !bridge_running (store))
        {
          fprintf (stderr, "\nThe bridge stopped: the job waits, and goes on when the bridge runs "
                           "again (passerelle -c %s).\n", config_path);
          warned = TRUE;
        }
      if (g_str_equal (state, "sending"))
        {
          if (sent0 < 0)
            {
              sent0 = json_integer_value (json_object_get (json_object_get (now, "summary"),
                                                           "sent"));
              t0 = t;
            }
          if (tty || t - last_print > 5000)
            {
              progress (now, t0, sent0, tty);
              last_print = t;
            }
        }
      if (g_str_equal (state, "awaiting_me"))
        {
          printf ("\nThe bridge asks the agent in Tchap which sender is them.\n");
          return 0;
        }
      if (g_str_equal (state, "failed"))
        {
          fprintf (stderr, "\nImport failed: %s\n", jstr (now, "error") ? jstr (now, "error")
                                                                       : "unknown error");
          return 1;
        }
      if (g_str_equal (state, "done"))
        {
          if (sent0 >= 0)
            progress (now, t0, sent0, tty);
          printf ("\nImported:\n");
          print_summary (now);
          print_rooms (now);
          return 0;
        }
    }
}
