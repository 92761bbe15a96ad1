/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * bench-wa-parse.c — throughput and peak memory of the streaming WhatsApp
 * export parser (plugins/whatsapp/wa-parser.h) on one file, for issue 4.
 *
 *   bench-wa-parse FILE [CHUNK_BYTES] [TIME_ZONE]
 *
 * Reads FILE with read(2) into one buffer of CHUNK_BYTES (default 65536) and
 * feeds each chunk to the parser, counting the messages the callback gets.
 * The clock covers the reads, the parse and wa_parser_finish(): the same
 * work as the npm comparison (read the file, parse it).  Prints one line of
 * key=value pairs:
 *
 *   messages=N text=N system=N media_omitted=N attachments=N deleted=N calls=N
 *   edited=N bytes=N seconds=S mb_per_s=R cpu_s=S vm_hwm_kb=K maxrss_kb=K
 *
 * (MB = 10^6 bytes).  vm_hwm_kb is VmHWM from /proc/self/status, the peak
 * resident set of this program; maxrss_kb is getrusage's ru_maxrss, which
 * Linux also raises to the RSS of the parent that forked us (before exec), so
 * it is only meaningful when run from a small shell.
 * Exits 1 if the file cannot be read or the parser fails, 2 on bad usage.
 */
#define G_LOG_DOMAIN "passerelle-bench"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <glib.h>

#include "wa-parser.h"

#define BENCH_MIN_CHUNK 1
#define BENCH_MAX_CHUNK (16 * 1024 * 1024)
#define BENCH_DEFAULT_CHUNK (64 * 1024)

typedef struct {
  guint64 messages;
  guint64 text_bytes; /* consumed so the callback's work cannot be elided */
} BenchCount;

static gboolean
on_message (const WaMessage *msg, gpointer user_data, GError **error)
{
  BenchCount *count = user_data;
  (void) error;
  count->messages++;
  count->text_bytes += strlen (msg->text);
  return TRUE;
}

/* A field of /proc/self/status in kB, or -1 if it cannot be read. */
static gint64
status_kb (const char *field)
{
  g_autofree char *contents = NULL;
  if (!g_file_get_contents ("/proc/self/status", &contents, NULL, NULL))
    return -1;
  gsize flen = strlen (field);
  for (char *line = contents; line != NULL && *line != '\0';)
    {
      char *nl = strchr (line, '\n');
      if (strncmp (line, field, flen) == 0 && line[flen] == ':')
        return g_ascii_strtoll (line + flen + 1, NULL, 10);
      line = nl ? nl + 1 : NULL;
    }
  return -1;
}

static double
cpu_seconds (const struct rusage *ru)
{
  return (double) ru->ru_utime.tv_sec + (double) ru->ru_utime.tv_usec / 1e6
         + (double) ru->ru_stime.tv_sec + (double) ru->ru_stime.tv_usec / 1e6;
}

static gboolean
parse_chunk_size (const char *s, gsize *out)
{
  guint64 v = 0;
  if (!g_ascii_string_to_unsigned (s, 10, BENCH_MIN_CHUNK, BENCH_MAX_CHUNK, &v, NULL))
    return FALSE;
  *out = (gsize) v;
  return TRUE;
}

int
main (int argc, char **argv)
{
  gsize chunk = BENCH_DEFAULT_CHUNK;
  if (argc < 2 || argc > 4 || (argc >= 3 && !parse_chunk_size (argv[2], &chunk)))
    {
      fprintf (stderr, "usage: bench-wa-parse FILE [CHUNK_BYTES (1..%d)] [TIME_ZONE]\n",
               BENCH_MAX_CHUNK);
      return 2;
    }
  const char *tz = argc == 4 ? argv[3] : "Europe/Paris";

  int fd = open (argv[1], O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    {
      fprintf (stderr, "bench-wa-parse: %s: %s\n", argv[1], g_strerror (errno));
      return 1;
    }
  g_autofree char *buf = g_malloc (chunk);
  BenchCount count = { 0 };
  g_autoptr (GError) error = NULL;
  struct rusage ru0, ru1;
  getrusage (RUSAGE_SELF, &ru0);
  gint64 t0 = g_get_monotonic_time ();

  g_autoptr (WaParser) parser = wa_parser_new (tz, on_message, &count, &error);
  if (parser == NULL)
    {
      fprintf (stderr, "bench-wa-parse: %s\n", error->message);
      close (fd);
      return 1;
    }
  for (;;)
    {
      ssize_t n = read (fd, buf, chunk);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          fprintf (stderr, "bench-wa-parse: read %s: %s\n", argv[1], g_strerror (errno));
          close (fd);
          return 1;
        }
      if (n == 0)
        break;
      if (!wa_parser_feed (parser, buf, (gsize) n, &error))
        {
          fprintf (stderr, "bench-wa-parse: %s\n", error->message);
          close (fd);
          return 1;
        }
    }
  close (fd);
  WaSummary sum = { 0 };
  if (!wa_parser_finish (parser, &sum, &error))
    {
      fprintf (stderr, "bench-wa-parse: %s\n", error->message);
      return 1;
    }

  gint64 t1 = g_get_monotonic_time ();
  getrusage (RUSAGE_SELF, &ru1);
  double secs = (double) (t1 - t0) / 1e6;
  double mb_per_s = secs > 0 ? (double) sum.n_bytes / 1e6 / secs : 0.0;
  if (count.messages != sum.n_messages)
    {
      /* The callback and the summary count the same thing: a mismatch is a
       * parser bug, and the figures would be meaningless. */
      fprintf (stderr, "bench-wa-parse: callback saw %" G_GUINT64_FORMAT " messages, summary "
                       "says %" G_GUINT64_FORMAT "\n", count.messages, sum.n_messages);
      wa_summary_clear (&sum);
      return 1;
    }
  printf ("messages=%" G_GUINT64_FORMAT " text=%" G_GUINT64_FORMAT " system=%" G_GUINT64_FORMAT
          " media_omitted=%" G_GUINT64_FORMAT " attachments=%" G_GUINT64_FORMAT
          " deleted=%" G_GUINT64_FORMAT " calls=%" G_GUINT64_FORMAT " edited=%" G_GUINT64_FORMAT
          " unparsed_lines=%" G_GUINT64_FORMAT " date_order=%s text_bytes=%" G_GUINT64_FORMAT
          " bytes=%" G_GUINT64_FORMAT " seconds=%.3f mb_per_s=%.1f cpu_s=%.3f"
          " vm_hwm_kb=%" G_GINT64_FORMAT " maxrss_kb=%ld\n",
          count.messages, sum.n_text, sum.n_system, sum.n_media_omitted, sum.n_attachments,
          sum.n_deleted, sum.n_calls, sum.n_edited, sum.n_unparsed_lines,
          wa_date_order_to_string (sum.date_order), count.text_bytes, sum.n_bytes, secs,
          mb_per_s, cpu_seconds (&ru1) - cpu_seconds (&ru0),
          status_kb ("VmHWM"), ru1.ru_maxrss);
  wa_summary_clear (&sum);
  return 0;
}
