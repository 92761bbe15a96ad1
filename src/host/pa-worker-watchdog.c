/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The watchdog of one worker process.  Every interval the host sends
 * {"t":"ping","seq":n}; the worker answers {"t":"pong","seq":n} from its
 * main loop.  One ping is outstanding at a time; when it stays unanswered
 * for the timeout, the worker is declared hung and its owner (pa-worker.c)
 * kills it, which goes through the ordinary restart path.  Because frames
 * are read in order, an answered ping also tells up to when the worker had
 * read everything sent to it (docs/worker-protocol.md, Watchdog). */
#define G_LOG_DOMAIN "passerelle-host"

#include "host/pa-worker-watchdog.h"
#include "host/pa-worker-ticker.h"
#include "pa-common.h"

struct _PaWatchdog
{
  GMainContext *context;
  PaWatchdogSend send;
  PaWatchdogHung hung;
  gpointer user_data;
  guint interval_s;
  guint timeout_s;
  PaTick *timer; /* the shared one-second tick (pa-worker-ticker.h) */
  guint64 seq;
  gboolean outstanding;
  gint64 ping_sent_us;
  gint64 read_until_us;
};

PaWatchdog *
pa_watchdog_new (GMainContext *context, PaWatchdogSend send, PaWatchdogHung hung,
                 gpointer user_data)
{
  PaWatchdog *wd = g_new0 (PaWatchdog, 1);
  wd->context = context;
  wd->send = send;
  wd->hung = hung;
  wd->user_data = user_data;
  return wd;
}

void
pa_watchdog_configure (PaWatchdog *wd, guint interval_s, guint timeout_s)
{
  wd->interval_s = interval_s;
  wd->timeout_s = MAX (timeout_s, 1u);
}

void
pa_watchdog_stop (PaWatchdog *wd)
{
  g_clear_pointer (&wd->timer, pa_tick_remove);
  wd->outstanding = FALSE;
}

static void
on_tick (gpointer data)
{
  PaWatchdog *wd = data;
  gint64 now = g_get_monotonic_time ();
  if (wd->outstanding)
    {
      gint64 silent_us = now - wd->ping_sent_us;
      if (silent_us >= (gint64) wd->timeout_s * G_USEC_PER_SEC)
        {
          /* Reported once per run: the owner kills the worker. */
          pa_watchdog_stop (wd);
          wd->hung ((guint) (silent_us / G_USEC_PER_SEC), wd->user_data);
        }
      return;
    }
  if (now - wd->ping_sent_us < (gint64) wd->interval_s * G_USEC_PER_SEC)
    return;
  g_autoptr (json_t) ping = json_pack ("{s:s, s:I}", "t", "ping", "seq", (json_int_t) ++wd->seq);
  wd->outstanding = TRUE;
  wd->ping_sent_us = now;
  wd->send (ping, wd->user_data);
}

void
pa_watchdog_start (PaWatchdog *wd)
{
  pa_watchdog_stop (wd);
  wd->ping_sent_us = g_get_monotonic_time ();
  wd->read_until_us = wd->ping_sent_us;
  if (wd->interval_s == 0)
    return;
  /* Checked every second, so a timeout shorter than the interval works. */
  wd->timer = pa_tick_add (wd->context, on_tick, wd);
}

gboolean
pa_watchdog_frame (PaWatchdog *wd, json_t *frame)
{
  if (g_strcmp0 (json_string_value (json_object_get (frame, "t")), "pong") != 0)
    return FALSE;
  json_int_t seq = json_integer_value (json_object_get (frame, "seq"));
  if (wd->outstanding && seq == (json_int_t) wd->seq)
    {
      wd->outstanding = FALSE;
      wd->read_until_us = wd->ping_sent_us;
    }
  return TRUE;
}

gint64
pa_watchdog_read_until (PaWatchdog *wd)
{
  return wd->read_until_us;
}

void
pa_watchdog_free (PaWatchdog *wd)
{
  if (wd == NULL)
    return;
  pa_watchdog_stop (wd);
  g_free (wd);
}
