/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The watchdog of one worker: pings over the frame channel and notices a
 * worker that stopped answering (stopped, spinning, deadlocked). */
#ifndef PA_WORKER_WATCHDOG_H
#define PA_WORKER_WATCHDOG_H

#include <glib.h>
#include <jansson.h>

G_BEGIN_DECLS

typedef struct _PaWatchdog PaWatchdog;

/* Sends a frame (borrowed) to the worker. */
typedef void (*PaWatchdogSend) (json_t *frame, gpointer user_data);
/* The worker did not answer a ping for `silent_s` seconds. */
typedef void (*PaWatchdogHung) (guint silent_s, gpointer user_data);

PaWatchdog *pa_watchdog_new (GMainContext *context, PaWatchdogSend send, PaWatchdogHung hung,
                             gpointer user_data);
/* A ping every interval_s (0: no watchdog); hung after timeout_s without
 * an answer to a ping. */
void pa_watchdog_configure (PaWatchdog *wd, guint interval_s, guint timeout_s);
/* A run of the worker begins (its hello arrived) / ends. */
void pa_watchdog_start (PaWatchdog *wd);
void pa_watchdog_stop (PaWatchdog *wd);
/* A frame from the worker: TRUE if it was a pong (consumed). */
gboolean pa_watchdog_frame (PaWatchdog *wd, json_t *frame);
/* Monotonic time (µs) up to which the worker is known to have read every
 * frame sent to it: when the ping it last answered was sent. */
gint64 pa_watchdog_read_until (PaWatchdog *wd);
void pa_watchdog_free (PaWatchdog *wd);

G_END_DECLS

#endif
