/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* One timer for every worker's watchdog: a callback per registered entry
 * each second from a single GSource, instead of one timer source per
 * worker that GLib would walk at every main-loop turn (docs/scale.md). */
#ifndef PA_WORKER_TICKER_H
#define PA_WORKER_TICKER_H

#include <glib.h>

G_BEGIN_DECLS

typedef struct _PaTick PaTick;

typedef void (*PaTickFunc) (gpointer user_data);

/* `fn` is called about once a second on `context` until pa_tick_remove. */
PaTick *pa_tick_add (GMainContext *context, PaTickFunc fn, gpointer user_data);
/* Allowed inside any tick's callback, its own included. */
void pa_tick_remove (PaTick *t);

G_END_DECLS

#endif
