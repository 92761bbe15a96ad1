/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* One GSource per main context for every frame channel's socket: an epoll
 * descriptor that GLib polls as a single fd, so a main-loop turn costs the
 * same with ten worker connections or ten thousand (docs/scale.md).
 *
 * A watch is level-triggered, like GLib's own fd sources: a socket left
 * with unread data is reported again at the next turn.  Interest in
 * writability is armed only while something waits to be written.  Every
 * function runs on the thread that owns the context. */
#ifndef PA_FD_POLL_H
#define PA_FD_POLL_H

#include <glib.h>

G_BEGIN_DECLS

typedef struct _PaFdWatch PaFdWatch;

/* `cond`: what happened, within the watch's events plus G_IO_HUP and
 * G_IO_ERR (always reported, as poll does). */
typedef void (*PaFdWatchFunc) (int fd, GIOCondition cond, gpointer user_data);

/* Watch `fd` for `events` (G_IO_IN, G_IO_OUT; 0: registered later) on
 * `context` (NULL: the default one). */
PaFdWatch *pa_fd_watch_new (GMainContext *context, int fd, GIOCondition events, PaFdWatchFunc fn,
                            gpointer user_data);
/* Change what is watched; 0 takes the fd out of the set (no more HUP). */
void pa_fd_watch_set_events (PaFdWatch *w, GIOCondition events);
/* Stop watching (before the fd is closed).  Allowed in its own callback. */
void pa_fd_watch_free (PaFdWatch *w);

G_END_DECLS

#endif
