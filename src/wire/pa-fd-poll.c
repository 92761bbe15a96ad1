/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The shared poll source of pa-fd-poll.h.  GLib walks every attached
 * source at every turn of a main loop (prepare, the poll array, check); a
 * frame channel per worker with its own fd source made each turn cost a
 * little more per login, and an outgoing message takes a dozen turns.
 * Here one source per context owns an epoll descriptor holding every
 * socket: GLib sees one fd, and a turn touches only the sockets that are
 * ready. */
#define G_LOG_DOMAIN "passerelle-wire"

#include "wire/pa-fd-poll.h"

#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>

/* Ready sockets taken per dispatch; level-triggered, so the rest come at
 * the next turn (the kernel rotates its ready list). */
#define EVENTS_PER_DISPATCH 256

typedef struct
{
  GSource source;
  int epfd;
  gpointer tag;
  GMainContext *context;
  guint n_watches;
  gboolean dispatching;
  GPtrArray *dead; /* watches freed during a dispatch: freed after it */
} PaFdPoll;

struct _PaFdWatch
{
  PaFdPoll *poll;
  int fd;
  GIOCondition events;
  gboolean in_set;
  gboolean dead;
  PaFdWatchFunc fn;
  gpointer user_data;
};

/* One poll per context: contexts are few (the host's, the worker's). */
G_LOCK_DEFINE_STATIC (polls);
static GHashTable *polls;

static guint32
to_epoll (GIOCondition c)
{
  return ((c & G_IO_IN) ? EPOLLIN : 0) | ((c & G_IO_OUT) ? EPOLLOUT : 0)
         | ((c & G_IO_PRI) ? EPOLLPRI : 0);
}

static GIOCondition
from_epoll (guint32 e)
{
  return ((e & EPOLLIN) ? G_IO_IN : 0) | ((e & EPOLLOUT) ? G_IO_OUT : 0)
         | ((e & EPOLLPRI) ? G_IO_PRI : 0) | ((e & EPOLLHUP) ? G_IO_HUP : 0)
         | ((e & EPOLLERR) ? G_IO_ERR : 0);
}

static void
poll_teardown (PaFdPoll *p)
{
  G_LOCK (polls);
  g_hash_table_remove (polls, p->context);
  G_UNLOCK (polls);
  g_source_destroy (&p->source);
  g_source_unref (&p->source);
}

static gboolean
poll_check (GSource *s)
{
  PaFdPoll *p = (PaFdPoll *) s;
  return (g_source_query_unix_fd (s, p->tag) & (G_IO_IN | G_IO_ERR | G_IO_HUP)) != 0;
}

static gboolean
poll_dispatch (GSource *s, GSourceFunc callback, gpointer user_data)
{
  PaFdPoll *p = (PaFdPoll *) s;
  struct epoll_event ev[EVENTS_PER_DISPATCH];
  int n;
  do
    n = epoll_wait (p->epfd, ev, EVENTS_PER_DISPATCH, 0);
  while (n < 0 && errno == EINTR);
  p->dispatching = TRUE;
  for (int i = 0; i < n; i++)
    {
      PaFdWatch *w = ev[i].data.ptr;
      if (w->dead)
        continue;
      GIOCondition cond = from_epoll (ev[i].events) & (w->events | G_IO_HUP | G_IO_ERR);
      if (cond != 0)
        w->fn (w->fd, cond, w->user_data);
    }
  p->dispatching = FALSE;
  g_ptr_array_set_size (p->dead, 0);
  if (p->n_watches == 0)
    poll_teardown (p);
  return G_SOURCE_CONTINUE;
}

static void
poll_finalize (GSource *s)
{
  PaFdPoll *p = (PaFdPoll *) s;
  if (p->epfd >= 0)
    close (p->epfd);
  g_ptr_array_unref (p->dead);
  g_main_context_unref (p->context);
}

static GSourceFuncs poll_funcs = { NULL, poll_check, poll_dispatch, poll_finalize, NULL, NULL };

static PaFdPoll *
poll_for (GMainContext *context)
{
  G_LOCK (polls);
  if (polls == NULL)
    polls = g_hash_table_new (g_direct_hash, g_direct_equal);
  PaFdPoll *p = g_hash_table_lookup (polls, context);
  if (p == NULL)
    {
      int epfd = epoll_create1 (EPOLL_CLOEXEC);
      if (epfd < 0)
        {
          G_UNLOCK (polls);
          return NULL;
        }
      p = (PaFdPoll *) g_source_new (&poll_funcs, sizeof (PaFdPoll));
      g_source_set_static_name (&p->source, "[passerelle] worker sockets");
      p->epfd = epfd;
      p->context = g_main_context_ref (context);
      p->dead = g_ptr_array_new_with_free_func (g_free);
      p->tag = g_source_add_unix_fd (&p->source, epfd, G_IO_IN);
      g_source_attach (&p->source, context);
      g_hash_table_insert (polls, context, p);
    }
  G_UNLOCK (polls);
  return p;
}

static void
apply (PaFdWatch *w)
{
  if (w->events == 0)
    {
      if (w->in_set)
        epoll_ctl (w->poll->epfd, EPOLL_CTL_DEL, w->fd, NULL);
      w->in_set = FALSE;
      return;
    }
  struct epoll_event ev = { .events = to_epoll (w->events), .data.ptr = w };
  if (epoll_ctl (w->poll->epfd, w->in_set ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, w->fd, &ev) != 0)
    g_warning ("epoll_ctl on fd %d: %s", w->fd, g_strerror (errno));
  else
    w->in_set = TRUE;
}

/* See pa-fd-poll.h.  NULL only when no epoll descriptor can be made (the
 * descriptor limit): the caller cannot read this socket then. */
PaFdWatch *
pa_fd_watch_new (GMainContext *context, int fd, GIOCondition events, PaFdWatchFunc fn,
                 gpointer user_data)
{
  g_return_val_if_fail (fd >= 0 && fn != NULL, NULL);
  PaFdPoll *p = poll_for (context != NULL ? context : g_main_context_default ());
  if (p == NULL)
    {
      g_warning ("epoll_create1: %s", g_strerror (errno));
      return NULL;
    }
  PaFdWatch *w = g_new0 (PaFdWatch, 1);
  w->poll = p;
  w->fd = fd;
  w->fn = fn;
  w->user_data = user_data;
  w->events = events;
  p->n_watches++;
  apply (w);
  return w;
}

/* See pa-fd-poll.h. */
void
pa_fd_watch_set_events (PaFdWatch *w, GIOCondition events)
{
  g_return_if_fail (w != NULL && !w->dead);
  if (w->events == events && (events == 0 || w->in_set))
    return;
  w->events = events;
  apply (w);
}

/* See pa-fd-poll.h. */
void
pa_fd_watch_free (PaFdWatch *w)
{
  if (w == NULL)
    return;
  g_return_if_fail (!w->dead);
  PaFdPoll *p = w->poll;
  w->events = 0;
  apply (w);
  w->dead = TRUE;
  p->n_watches--;
  if (p->dispatching)
    {
      /* Its event may still be in this dispatch's array. */
      g_ptr_array_add (p->dead, w);
      return;
    }
  g_free (w);
  if (p->n_watches == 0)
    poll_teardown (p);
}
