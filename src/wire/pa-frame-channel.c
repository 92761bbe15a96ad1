/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The frame channel of pa-frame-channel.h: the read and write loop shared
 * by both ends of the worker boundary.  Reads are bounded per wake-up so a
 * flooding peer cannot starve the rest of the loop; writes never block
 * except in pa_frame_channel_drain, which a caller asks for. */
#define G_LOG_DOMAIN "passerelle-wire"

#include "wire/pa-frame-channel.h"
#include "wire/pa-fd-poll.h"
#include "wire/pa-frame.h"
#include "pa-common.h"

#include <errno.h>
#include <glib-unix.h>
#include <poll.h>
#include <unistd.h>

#define READ_CHUNK 65536
#define READS_PER_DISPATCH 16
/* A wake-up also stops reading once its frames have taken this long, so
 * the rest of the loop (the homeserver's requests) waits at most about
 * this plus one chunk's frames, however fast the peer writes. */
#define DISPATCH_BUDGET_US 20000
/* Queued output beyond this is written at once, not at the end of the
 * dispatch (a plugin emitting thousands of events in one callback). */
#define FLUSH_NOW_BYTES 65536

struct _PaFrameChannel
{
  int fd;
  GMainContext *context;
  PaFrameChannelCallbacks cb;
  gpointer user_data;
  PaFrameReader *reader;
  GByteArray *out;
  gsize out_pos;
  gboolean held;
  /* The socket in its context's shared poll (pa-fd-poll.h): readable while
   * `reading`, writable while `writing` (output is pending). */
  PaFdWatch *watch;
  gboolean reading;
  gboolean writing;
  GSource *soon_source; /* writes what the current dispatch queued */
};

static void
clear_source (GSource **s)
{
  if (*s != NULL)
    {
      g_source_destroy (*s);
      g_source_unref (*s);
      *s = NULL;
    }
}

/* See pa-frame-channel.h.  What was queued and not yet written gets one
 * last non-blocking write, as it would have had when it was queued. */
void
pa_frame_channel_close (PaFrameChannel *ch)
{
  g_return_if_fail (ch != NULL);
  g_clear_pointer (&ch->watch, pa_fd_watch_free);
  ch->reading = ch->writing = FALSE;
  clear_source (&ch->soon_source);
  if (ch->fd >= 0 && !ch->held && ch->out_pos < ch->out->len)
    {
      g_autoptr (GError) ignored = NULL;
      pa_frame_flush (ch->fd, ch->out, &ch->out_pos, &ignored);
    }
  if (ch->fd >= 0)
    {
      close (ch->fd);
      ch->fd = -1;
    }
  g_byte_array_set_size (ch->out, 0);
  ch->out_pos = 0;
}

static void
fail (PaFrameChannel *ch, gboolean protocol, const char *reason)
{
  if (ch->fd < 0)
    return;
  pa_frame_channel_close (ch);
  if (ch->cb.closed != NULL)
    ch->cb.closed (ch, protocol, reason, ch->user_data);
}

static void
update_watch (PaFrameChannel *ch)
{
  if (ch->watch != NULL)
    pa_fd_watch_set_events (ch->watch, (ch->reading ? G_IO_IN : 0) | (ch->writing ? G_IO_OUT : 0));
}

static void
flush (PaFrameChannel *ch)
{
  if (ch->fd < 0 || ch->held)
    return;
  g_autoptr (GError) error = NULL;
  if (!pa_frame_flush (ch->fd, ch->out, &ch->out_pos, &error))
    {
      fail (ch, FALSE, error->message);
      return;
    }
  gboolean pending = ch->out_pos < ch->out->len;
  if (pending != ch->writing)
    {
      ch->writing = pending;
      update_watch (ch);
    }
}

static gboolean
flush_soon_cb (gpointer data)
{
  PaFrameChannel *ch = data;

  g_clear_pointer (&ch->soon_source, g_source_unref);
  flush (ch);
  return G_SOURCE_REMOVE;
}

/* Reads what one wake-up may read.  FALSE once the channel closed or
 * stopped reading. */
static gboolean
on_readable (PaFrameChannel *ch, int fd)
{
  guint8 buf[READ_CHUNK];
  gint64 start = g_get_monotonic_time ();

  for (int i = 0; i < READS_PER_DISPATCH; i++)
    {
      if (i > 0 && g_get_monotonic_time () - start > DISPATCH_BUDGET_US)
        break;
      ssize_t n = read (fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return TRUE;
      if (n <= 0)
        {
          fail (ch, FALSE, n == 0 ? "end of stream" : g_strerror (errno));
          return FALSE;
        }
      pa_frame_reader_feed (ch->reader, buf, (gsize) n);
      while (ch->fd >= 0 && ch->reading)
        {
          g_autoptr (GError) error = NULL;
          g_autoptr (json_t) frame = pa_frame_reader_next (ch->reader, &error);
          if (error != NULL)
            {
              fail (ch, TRUE, error->message);
              return FALSE;
            }
          if (frame == NULL)
            break;
          if (ch->cb.frame != NULL)
            ch->cb.frame (ch, frame, ch->user_data);
        }
      /* A callback closed the channel or stopped reading. */
      if (ch->fd < 0 || !ch->reading)
        return FALSE;
    }
  return TRUE;
}

/* The shared poll's callback: reads first, then writes, as the two fd
 * sources this replaces were dispatched.  HUP and ERR go to whichever is
 * armed, so the read or the write sees the error. */
static void
on_io (int fd, GIOCondition cond, gpointer data)
{
  PaFrameChannel *ch = data;
  if (ch->reading && (cond & (G_IO_IN | G_IO_HUP | G_IO_ERR)) != 0)
    on_readable (ch, fd);
  if (ch->fd >= 0 && ch->writing && (cond & (G_IO_OUT | G_IO_HUP | G_IO_ERR)) != 0)
    flush (ch);
}

/* See pa-frame-channel.h. */
PaFrameChannel *
pa_frame_channel_new (int fd, GMainContext *context, const PaFrameChannelCallbacks *callbacks,
                      gpointer user_data)
{
  g_return_val_if_fail (fd >= 0, NULL);
  PaFrameChannel *ch = g_new0 (PaFrameChannel, 1);
  ch->fd = fd;
  ch->context = context != NULL ? g_main_context_ref (context)
                                : g_main_context_ref (g_main_context_default ());
  if (callbacks != NULL)
    ch->cb = *callbacks;
  ch->user_data = user_data;
  ch->reader = pa_frame_reader_new ();
  ch->out = g_byte_array_new ();
  g_autoptr (GError) error = NULL;
  if (!g_unix_set_fd_nonblocking (fd, TRUE, &error))
    g_warning ("frame channel: %s", error->message);
  ch->reading = TRUE;
  ch->watch = pa_fd_watch_new (ch->context, fd, G_IO_IN, on_io, ch);
  if (ch->watch == NULL)
    {
      /* Unreadable: closed at once, so the peer sees EOF and stops. */
      close (fd);
      ch->fd = -1;
      ch->reading = FALSE;
    }
  return ch;
}

/* See pa-frame-channel.h. */
gboolean
pa_frame_channel_send (PaFrameChannel *ch, json_t *frame, GError **error)
{
  g_return_val_if_fail (ch != NULL && frame != NULL, FALSE);
  if (ch->fd < 0)
    {
      g_set_error_literal (error, G_FILE_ERROR, G_FILE_ERROR_BADF, "channel closed");
      return FALSE;
    }
  if (!pa_frame_encode (frame, ch->out, error))
    return FALSE;
  /* Frames queued while the loop handles one wake-up (a hundred ops of one
   * homeserver transaction, the results of a batch of ops) leave in one
   * write as soon as that dispatch returns, not one write (and one wake-up
   * of the peer) each. */
  if (ch->out->len - ch->out_pos >= FLUSH_NOW_BYTES)
    flush (ch); /* a long burst streams out as it grows */
  else if (ch->soon_source == NULL && !ch->writing && !ch->held)
    {
      ch->soon_source = g_idle_source_new ();
      g_source_set_priority (ch->soon_source, G_PRIORITY_HIGH);
      g_source_set_callback (ch->soon_source, flush_soon_cb, ch, NULL);
      g_source_set_static_name (ch->soon_source, "[passerelle] frame flush");
      g_source_attach (ch->soon_source, ch->context);
    }
  return TRUE;
}

/* See pa-frame-channel.h. */
gboolean
pa_frame_channel_send_first (PaFrameChannel *ch, json_t *frame, GError **error)
{
  g_return_val_if_fail (ch != NULL && frame != NULL, FALSE);
  if (ch->fd < 0)
    {
      g_set_error_literal (error, G_FILE_ERROR, G_FILE_ERROR_BADF, "channel closed");
      return FALSE;
    }
  g_autoptr (GByteArray) tmp = g_byte_array_new ();
  if (!pa_frame_encode (frame, tmp, error))
    return FALSE;
  /* Ahead of what is queued but never inside a frame already partly
   * written. */
  g_byte_array_remove_range (ch->out, 0, (guint) ch->out_pos);
  ch->out_pos = 0;
  g_byte_array_prepend (ch->out, tmp->data, tmp->len);
  flush (ch);
  return TRUE;
}

/* See pa-frame-channel.h. */
void
pa_frame_channel_hold (PaFrameChannel *ch, gboolean hold)
{
  g_return_if_fail (ch != NULL);
  ch->held = hold;
  flush (ch);
}

/* See pa-frame-channel.h.  A frame partly written stays whole: only what
 * follows it is dropped. */
void
pa_frame_channel_discard (PaFrameChannel *ch)
{
  g_return_if_fail (ch != NULL);
  if (ch->out_pos == 0)
    g_byte_array_set_size (ch->out, 0);
}

/* See pa-frame-channel.h. */
gsize
pa_frame_channel_pending (PaFrameChannel *ch)
{
  g_return_val_if_fail (ch != NULL, 0);
  return ch->out->len - ch->out_pos;
}

/* See pa-frame-channel.h. */
void
pa_frame_channel_drain (PaFrameChannel *ch, gsize target, gint64 timeout_ms)
{
  g_return_if_fail (ch != NULL);
  gint64 deadline = timeout_ms < 0 ? -1 : g_get_monotonic_time () / 1000 + timeout_ms;
  while (ch->fd >= 0 && !ch->held && pa_frame_channel_pending (ch) > target)
    {
      int wait = -1;
      if (deadline >= 0)
        {
          gint64 left = deadline - g_get_monotonic_time () / 1000;
          if (left <= 0)
            return;
          wait = (int) MIN (left, G_MAXINT);
        }
      struct pollfd p = { .fd = ch->fd, .events = POLLOUT };
      int r = poll (&p, 1, wait);
      if (r < 0 && errno != EINTR)
        return;
      flush (ch);
    }
}

/* See pa-frame-channel.h. */
void
pa_frame_channel_stop_reading (PaFrameChannel *ch)
{
  g_return_if_fail (ch != NULL);
  ch->reading = FALSE;
  update_watch (ch);
}

/* See pa-frame-channel.h. */
gboolean
pa_frame_channel_is_open (PaFrameChannel *ch)
{
  return ch != NULL && ch->fd >= 0;
}

/* See pa-frame-channel.h. */
void
pa_frame_channel_free (PaFrameChannel *ch)
{
  if (ch == NULL)
    return;
  pa_frame_channel_close (ch);
  pa_frame_reader_free (ch->reader);
  g_byte_array_unref (ch->out);
  g_main_context_unref (ch->context);
  g_free (ch);
}
