/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The worker's side of the socket to the host (pa-worker-link.h).  Frames
 * from plugin threads are marshalled to the main thread as ready-made JSON;
 * a backlog the host does not read ends the process rather than growing
 * without bound, and during a synchronous import (when the main loop does
 * not run) the worker waits for the socket itself. */
#define G_LOG_DOMAIN "passerelle-worker"

#include "worker/pa-worker-link.h"
#include "pa-common.h"
#include "wire/pa-wire.h"

#include <stdio.h>
#include <unistd.h>

/* Output backlog beyond which the host is considered stuck. */
#define OUT_MAX (64u * 1024u * 1024u)
#define IMPORT_HIGH_WATER (8u * 1024u * 1024u)
#define IMPORT_LOW_WATER (1u * 1024u * 1024u)
/* A plugin callback holding the main thread longer than this is logged. */
#define SLOW_CALLBACK_US (200 * 1000)

G_GNUC_NORETURN static void
host_gone (void)
{
  fflush (stdout);
  fflush (stderr);
  _exit (0);
}

static void
on_frame (PaFrameChannel *ch, json_t *frame, gpointer data)
{
  PaHost *h = data;
  h->on_frame (h, frame);
}

static void
on_closed (PaFrameChannel *ch, gboolean protocol, const char *reason, gpointer data)
{
  if (!protocol)
    {
      g_debug ("host socket closed: %s", reason);
      host_gone ();
    }
  g_warning ("protocol error from the host: %s", reason);
  fflush (stderr);
  _exit (PA_WORKER_EXIT_PROTOCOL);
}

/* See pa-worker-link.h. */
void
pa_worker_link_open (PaHost *h, int fd, PaWorkerFrameFunc on_frame_fn)
{
  static const PaFrameChannelCallbacks callbacks = { on_frame, on_closed };
  h->on_frame = on_frame_fn;
  h->ch = pa_frame_channel_new (fd, NULL, &callbacks, h);
}

/* See pa-worker-link.h. */
json_t *
pa_worker_frame_new (const char *t)
{
  json_t *f = json_object ();
  json_object_set_new (f, "t", json_string (t));
  return f;
}

/* Main thread only.  Takes `frame`. */
static void
queue_frame (PaHost *h, json_t *frame)
{
  g_autoptr (json_t) f = frame;
  g_autoptr (GError) error = NULL;
  if (!pa_frame_channel_send (h->ch, f, &error))
    {
      const char *t = json_string_value (json_object_get (f, "t"));
      g_warning ("dropping %s frame: %s", t != NULL ? t : "?", error->message);
      return;
    }
  if (pa_frame_channel_pending (h->ch) > OUT_MAX)
    {
      g_warning ("more than %u bytes waiting for the host: exiting so it restarts this worker",
                 OUT_MAX);
      _exit (PA_WORKER_EXIT_BACKLOG);
    }
  if (h->in_import && pa_frame_channel_pending (h->ch) > IMPORT_HIGH_WATER)
    pa_frame_channel_drain (h->ch, IMPORT_LOW_WATER, -1);
}

typedef struct
{
  PaHost *host;
  json_t *frame;
} Pending;

static gboolean
queue_pending (gpointer data)
{
  Pending *p = data;
  queue_frame (p->host, p->frame);
  g_free (p);
  return G_SOURCE_REMOVE;
}

/* See pa-worker-link.h. */
void
pa_worker_link_submit (PaHost *h, json_t *frame)
{
  if (frame == NULL)
    return;
  if (h->process != NULL)
    {
      /* A login of a shared worker: its frames name it, and go out through
       * the process's PaHost (which outlives every login's). */
      if (g_atomic_int_get (&h->closed))
        {
          json_decref (frame);
          return;
        }
      json_object_set_new (frame, "login", json_string (h->frame_login));
      h = h->process;
    }
  if (g_thread_self () == h->main_thread)
    {
      queue_frame (h, frame);
      return;
    }
  Pending *p = g_new (Pending, 1);
  p->host = h;
  p->frame = frame;
  /* The main thread holds the default context for the whole life of the
   * process (see pa-worker-main.c), so this always queues on it and never
   * runs queue_frame on the calling thread. */
  g_main_context_invoke_full (NULL, G_PRIORITY_DEFAULT, queue_pending, p, NULL);
}

/* See pa-worker-link.h. */
void
pa_worker_link_log (PaHost *h, PaLogLevel level, const char *message)
{
  json_t *f = pa_worker_frame_new ("log");
  json_object_set_new (f, "level", json_string (pa_wire_log_level_to_string (level)));
  json_object_set_new (f, "message", pa_wire_string (message != NULL ? message : ""));
  pa_worker_link_submit (h, f);
}

/* See pa-worker-link.h. */
void
pa_worker_link_login_state (PaHost *h, PaLoginState state, const char *message)
{
  const char *s = pa_wire_login_state_to_string (state);
  json_t *f = pa_worker_frame_new ("login_state");
  json_object_set_new (f, "state", json_string (s != NULL ? s : "unknown_error"));
  if (message != NULL)
    json_object_set_new (f, "message", pa_wire_string (message));
  pa_worker_link_submit (h, f);
}

/* See pa-worker-link.h. */
void
pa_worker_link_fail (PaHost *h, guint64 op_id, PaResultCode code, const char *error)
{
  PaOpResult r = { .struct_size = sizeof r, .code = code, .error = error };
  g_autoptr (GError) local = NULL;
  json_t *f = pa_wire_result_to_json (op_id, &r, &local);
  if (f == NULL)
    g_warning ("cannot answer op %" G_GUINT64_FORMAT ": %s", op_id, local->message);
  pa_worker_link_submit (h, f);
}

/* See pa-worker-link.h. */
void
pa_worker_link_drain (PaHost *h, gint64 timeout_ms)
{
  pa_frame_channel_drain (h->ch, 0, timeout_ms);
}

/* See pa-worker-link.h. */
void
pa_worker_link_stop_reading (PaHost *h)
{
  pa_frame_channel_stop_reading (h->ch);
}

/* See pa-worker-link.h. */
void
pa_worker_link_check_slow (PaHost *h, const char *what, gint64 t0)
{
  gint64 took = g_get_monotonic_time () - t0;
  if (took < SLOW_CALLBACK_US)
    return;
  g_autofree char *msg = g_strdup_printf ("%s: %s held the main thread %" G_GINT64_FORMAT
                                          " ms (callbacks must not block)",
                                          h->net->name, what, took / 1000);
  pa_worker_link_log (h, PA_LOG_WARNING, msg);
}
