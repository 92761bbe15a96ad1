/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* A frame channel: one non-blocking stream socket carrying the frames of
 * pa-frame.h, read and written from a GLib main context.  Both ends of the
 * worker boundary use it (the host's PaWorker, the worker's link), so the
 * read loop, the bounded reads per wake-up and the output backlog are one
 * piece of code.
 *
 * Callbacks run on the context given to pa_frame_channel_new.  They may call
 * pa_frame_channel_send and pa_frame_channel_close, but not _free. */
#ifndef PA_FRAME_CHANNEL_H
#define PA_FRAME_CHANNEL_H

#include <glib.h>
#include <jansson.h>

G_BEGIN_DECLS

typedef struct _PaFrameChannel PaFrameChannel;

typedef struct
{
  /* One complete frame (borrowed). */
  void (*frame) (PaFrameChannel *ch, json_t *frame, gpointer user_data);
  /* The channel closed by itself: the peer closed or a read or write failed
   * (`protocol` FALSE), or the peer sent a corrupt stream (`protocol` TRUE;
   * `reason` says what).  Called once; the socket is closed by then. */
  void (*closed) (PaFrameChannel *ch, gboolean protocol, const char *reason, gpointer user_data);
} PaFrameChannelCallbacks;

/* Takes `fd` (set non-blocking here) and starts reading on `context`
 * (NULL: the default context). */
PaFrameChannel *pa_frame_channel_new (int fd, GMainContext *context,
                                      const PaFrameChannelCallbacks *callbacks, gpointer user_data);
/* Queue a frame; it is written with the others queued during the same
 * main-loop dispatch as soon as that dispatch returns (or at close).  FALSE
 * (frame dropped, `error` set) when it cannot be encoded or the channel is
 * closed. */
gboolean pa_frame_channel_send (PaFrameChannel *ch, json_t *frame, GError **error);
/* Put a frame ahead of everything queued (the host's init frame). */
gboolean pa_frame_channel_send_first (PaFrameChannel *ch, json_t *frame, GError **error);
/* While held, frames queue but nothing is written (the host holds until the
 * worker's hello).  Releasing writes the backlog. */
void pa_frame_channel_hold (PaFrameChannel *ch, gboolean hold);
/* Drop every queued byte not yet written (only whole frames are queued
 * while held). */
void pa_frame_channel_discard (PaFrameChannel *ch);
/* Bytes queued and not yet written. */
gsize pa_frame_channel_pending (PaFrameChannel *ch);
/* Block this thread until at most `target` bytes are pending or
 * `timeout_ms` (-1: none) passed.  For a worker whose main loop is not
 * running (a synchronous import, a shutdown). */
void pa_frame_channel_drain (PaFrameChannel *ch, gsize target, gint64 timeout_ms);
/* Stop reading (frames still in the socket are not delivered). */
void pa_frame_channel_stop_reading (PaFrameChannel *ch);
/* Close the socket and stop every source; no callback follows. */
void pa_frame_channel_close (PaFrameChannel *ch);
gboolean pa_frame_channel_is_open (PaFrameChannel *ch);
/* Close (if open) and free. */
void pa_frame_channel_free (PaFrameChannel *ch);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PaFrameChannel, pa_frame_channel_free)

G_END_DECLS

#endif
