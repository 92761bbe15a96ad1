/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Timers, fd watches and invoke for plugins that do not link GLib (a Go
 * runtime, TDLib's JSON client): thin trampolines onto GLib sources of the
 * default main context, which the worker's main thread runs.  The [main]
 * members refuse (critical, 0) a call from another thread: GLib would
 * accept it, but the plugin would then race its own callbacks. */
#define G_LOG_DOMAIN "passerelle-worker"

#include "worker/pa-worker-loop.h"

#include <glib-unix.h>

typedef struct
{
  PaTimerFunc timer;
  PaFdFunc fd;
  PaInvokeFunc invoke;
  void *user_data;
} Trampoline;

static Trampoline *
trampoline_new (void *user_data)
{
  Trampoline *t = g_new0 (Trampoline, 1);
  t->user_data = user_data;
  return t;
}

static gboolean
on_main_thread (PaHost *host, const char *what)
{
  if (g_thread_self () == host->main_thread)
    return TRUE;
  g_critical ("%s: %s called from a thread other than the main thread (use invoke)",
              host->net->name, what);
  return FALSE;
}

static gboolean
run_timer (gpointer data)
{
  Trampoline *t = data;
  return t->timer (t->user_data) ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

/* See pa-worker-loop.h. */
uint32_t
pa_worker_loop_timer_add (PaHost *host, uint32_t interval_ms, PaTimerFunc fn, void *user_data)
{
  g_return_val_if_fail (host != NULL && fn != NULL, 0);
  if (!on_main_thread (host, "timer_add"))
    return 0;
  Trampoline *t = trampoline_new (user_data);
  t->timer = fn;
  return g_timeout_add_full (G_PRIORITY_DEFAULT, interval_ms, run_timer, t, g_free);
}

static gboolean
run_fd (gint fd, GIOCondition cond, gpointer data)
{
  Trampoline *t = data;
  uint32_t events = 0;
  if (cond & G_IO_IN)
    events |= PA_IO_IN;
  if (cond & G_IO_OUT)
    events |= PA_IO_OUT;
  if (cond & (G_IO_ERR | G_IO_HUP | G_IO_NVAL))
    events |= PA_IO_ERR;
  return t->fd (fd, events, t->user_data) ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

/* See pa-worker-loop.h. */
uint32_t
pa_worker_loop_fd_watch_add (PaHost *host, int fd, uint32_t events, PaFdFunc fn, void *user_data)
{
  g_return_val_if_fail (host != NULL && fn != NULL && fd >= 0, 0);
  if (!on_main_thread (host, "fd_watch_add"))
    return 0;
  GIOCondition cond = G_IO_ERR | G_IO_HUP;
  if (events & PA_IO_IN)
    cond |= G_IO_IN;
  if (events & PA_IO_OUT)
    cond |= G_IO_OUT;
  Trampoline *t = trampoline_new (user_data);
  t->fd = fn;
  return g_unix_fd_add_full (G_PRIORITY_DEFAULT, fd, cond, run_fd, t, g_free);
}

/* See pa-worker-loop.h.  Removing an id that already ended is a no-op, not
 * GLib's critical: a plugin cannot always know a timer fired its last. */
void
pa_worker_loop_source_remove (PaHost *host, uint32_t id)
{
  g_return_if_fail (host != NULL);
  if (id == 0 || !on_main_thread (host, "source_remove"))
    return;
  GSource *s = g_main_context_find_source_by_id (NULL, id);
  if (s != NULL)
    g_source_destroy (s);
}

static gboolean
run_invoke (gpointer data)
{
  Trampoline *t = data;
  t->invoke (t->user_data);
  return G_SOURCE_REMOVE;
}

/* See pa-worker-loop.h.  An idle of default priority on the default
 * context: sources of one priority run in the order they were added, so
 * the calls of one thread run in order; from the main thread it is queued
 * too, never run inside the caller. */
void
pa_worker_loop_invoke (PaHost *host, PaInvokeFunc fn, void *user_data)
{
  g_return_if_fail (host != NULL && fn != NULL);
  Trampoline *t = trampoline_new (user_data);
  t->invoke = fn;
  g_idle_add_full (G_PRIORITY_DEFAULT, run_invoke, t, g_free);
}
