/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The SDK's event loop on GLib's default context for test hosts
 * (test-host-loop.h), as the worker runs it (src/worker/pa-worker-loop.c,
 * which also refuses [main] calls from other threads). */
#include "test-host-loop.h"

#include <glib-unix.h>
#include <glib.h>

typedef struct
{
  PaTimerFunc timer;
  PaFdFunc fd_func;
  PaInvokeFunc invoke;
  void *user_data;
} LoopCall;

static gboolean
on_timer (gpointer data)
{
  LoopCall *c = data;
  return c->timer (c->user_data) ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

static gboolean
on_fd (gint fd, GIOCondition cond, gpointer data)
{
  LoopCall *c = data;
  uint32_t ev = ((cond & G_IO_IN) ? PA_IO_IN : 0) | ((cond & G_IO_OUT) ? PA_IO_OUT : 0)
                | ((cond & (G_IO_ERR | G_IO_HUP | G_IO_NVAL)) ? PA_IO_ERR : 0);
  return c->fd_func (fd, ev, c->user_data) ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

static gboolean
on_invoke (gpointer data)
{
  LoopCall *c = data;
  c->invoke (c->user_data);
  return G_SOURCE_REMOVE;
}

uint32_t
test_host_timer_add (PaHost *host, uint32_t interval_ms, PaTimerFunc fn, void *user_data)
{
  LoopCall *c = g_new0 (LoopCall, 1);
  c->timer = fn;
  c->user_data = user_data;
  return g_timeout_add_full (G_PRIORITY_DEFAULT, interval_ms, on_timer, c, g_free);
}

uint32_t
test_host_fd_watch_add (PaHost *host, int fd, uint32_t events, PaFdFunc fn, void *user_data)
{
  LoopCall *c = g_new0 (LoopCall, 1);
  c->fd_func = fn;
  c->user_data = user_data;
  GIOCondition cond = G_IO_ERR | G_IO_HUP | G_IO_NVAL;
  if (events & PA_IO_IN)
    cond |= G_IO_IN;
  if (events & PA_IO_OUT)
    cond |= G_IO_OUT;
  return g_unix_fd_add_full (G_PRIORITY_DEFAULT, fd, cond, on_fd, c, g_free);
}

void
test_host_source_remove (PaHost *host, uint32_t id)
{
  GSource *src = id != 0 ? g_main_context_find_source_by_id (NULL, id) : NULL;
  if (src != NULL)
    g_source_destroy (src);
}

/* [any thread]: an idle source attached to the default context runs on the
 * main thread, in attachment order. */
void
test_host_invoke (PaHost *host, PaInvokeFunc fn, void *user_data)
{
  LoopCall *c = g_new0 (LoopCall, 1);
  c->invoke = fn;
  c->user_data = user_data;
  g_idle_add_full (G_PRIORITY_DEFAULT, on_invoke, c, g_free);
}
