/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* `passerelle import whatsapp|telegram FILE --user @agent:hs …`
 *
 * The command queues an import job in the bridge's store and follows it;
 * the running bridge does the work (its worker parses, its queues send).
 * The job's id is derived from the agent, the plugin, the file's content,
 * the target room and the chat, so running the same command again — after
 * a Ctrl-C, a kill -9 of anything, or once finished — attaches to the same
 * job instead of importing twice. */
#define G_LOG_DOMAIN "passerelle-import"

#include "pa-import-cli.h"

#include "config/pa-config.h"
#include "pa-common.h"
#include "store/pa-store.h"

#include <gio/gio.h>
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
    printf ("chat: %s (%s)\n", jstr (v, "name") ? jstr (v, "name") : "?",
            jstr (v, "kind") ? jstr (v, "kind") : "?");
  const char *id;
  guint n = 0;
  json_object_foreach (json_object_get (s, "senders"), id, v)
    printf ("sender %u: %s — %" JSON_INTEGER_FORMAT " messages\n", ++n, jstr (v, "name"),
            json_integer_value (json_object_get (v, "count")));
  json_array_foreach (json_object_get (s, "importer_notes"), i, v)
    printf ("note: %s\n", json_string_value (v));
  json_int_t live = json_integer_value (json_object_get (s, "already_live"));
  if (live > 0)
    printf ("%" JSON_INTEGER_FORMAT " message%s already bridged live %s not imported again\n",
            live, live == 1 ? "" : "s", live == 1 ? "was" : "were");
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
  g_autofree char *tz = NULL;
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
    { "dry-run", 'n', 0, G_OPTION_ARG_NONE, &dry_run, "Show the summary, import nothing", NULL },
    { "no-wait", 0, 0, G_OPTION_ARG_NONE, &no_wait, "Queue the job and return", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("whatsapp|telegram FILE - import history");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_set_description (
      ctx, "The running bridge (passerelle -c CONFIG) does the import; this command queues it\n"
           "and shows its progress. Running it again resumes or reports the same job.");
  g_autoptr (GError) error = NULL;
  /* argv[1] is "import" */
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      fprintf (stderr, "passerelle import: %s\n", error->message);
      return 2;
    }
  if (argc != 4 || config_path == NULL || user == NULL)
    {
      fprintf (stderr, "usage: passerelle import whatsapp|telegram FILE -c CONFIG --user @agent:hs "
                       "[--me NAME] [--room ID] [--chat NAME|ID] [--timezone TZ] [--dry-run]\n");
      return 2;
    }
  const char *plugin = argv[2];
  g_autofree char *path = g_canonicalize_filename (argv[3], NULL);
  if (tz && g_time_zone_new_identifier (tz) == NULL)
    {
      fprintf (stderr, "passerelle import: unknown time zone %s\n", tz);
      return 2;
    }
  g_autoptr (PaConfig) config = pa_config_load (config_path, &error);
  if (config == NULL)
    {
      fprintf (stderr, "passerelle import: %s\n", error->message);
      return 1;
    }
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
  /* Same agent, plugin, content, room and chat: same job.  A dry run is a
   * job of its own, so that it never marks the real import as done. */
  g_autofree char *id_src = g_strjoin ("\x1f", user, plugin, digest, room ? room : "",
                                       chat ? chat : "", dry_run ? "dry-run" : "", NULL);
  g_autofree char *id_full = g_compute_checksum_for_string (G_CHECKSUM_SHA256, id_src, -1);
  g_autofree char *id = g_strndup (id_full, 16);

  g_autoptr (json_t) job = pa_store_job_get (store, id);
  if (job && g_strcmp0 (jstr (job, "state"), "done") == 0 && !dry_run)
    {
      printf ("Already imported into %s: nothing to do.\n",
              jstr (job, "room_id") ? jstr (job, "room_id") : "its room");
      return 0;
    }
  if (job == NULL || g_strcmp0 (jstr (job, "state"), "failed") == 0 || dry_run)
    {
      g_clear_pointer (&job, json_decref);
      job = json_pack ("{s:s, s:s, s:s, s:s, s:{s:s?, s:s?, s:s?, s:s, s:b}, s:s}", "id", id,
                       "owner", user, "plugin", plugin, "path", path, "options", "me", me, "room",
                       room, "chat", chat, "timezone", tz ? tz : "Europe/Paris", "dry_run",
                       dry_run, "state", "queued");
      if (!pa_store_job_put (store, job, &error))
        {
          fprintf (stderr, "passerelle import: %s\n", error->message);
          return 1;
        }
      printf ("Import job %s queued.\n", id);
    }
  else
    printf ("Resuming import job %s (%s).\n", id, jstr (job, "state"));
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
      if (g_str_equal (state, "queued") && !warned && t - t0 > 10000)
        {
          fprintf (stderr, "Still queued: is the bridge running (passerelle -c %s)? The job waits "
                           "for it.\n", config_path);
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
          printf ("\n%s\n", dry_run ? "Dry run (nothing was imported):" : "Imported:");
          print_summary (now);
          if (!dry_run && jstr (now, "room_id"))
            printf ("room: %s\n", jstr (now, "room_id"));
          return 0;
        }
    }
}
