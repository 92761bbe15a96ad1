/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * tg-td.h — TDLib's JSON client, loaded with dlopen from the configured
 * path: one client per login, td_receive on a thread of its own, every
 * answer and update handed to the main loop through the host's invoke().
 *
 * Requests carry an "@extra" the client fills itself, so each answer reaches
 * the callback given with its request, on the main thread.  Updates (objects
 * without an @extra of ours) go to the update callback, in TDLib's order.
 */
#ifndef TG_TD_H
#define TG_TD_H

#include <glib.h>
#include <jansson.h>

#include "passerelle/plugin.h"

G_BEGIN_DECLS

typedef struct TgTd TgTd;

/* An update, on the main thread.  `update` is borrowed for the call. */
typedef void (*TgTdUpdateFunc) (json_t *update, void *user_data);
/* The answer to one request, on the main thread: the result object, or an
 * object of @type "error" (code, message).  Borrowed for the call.  When the
 * client closes, requests still waiting get {"@type":"error","code":500,
 * "message":"Request aborted"} (what TDLib itself answers). */
typedef void (*TgTdReplyFunc) (json_t *reply, void *user_data);

/* Loads the library at `lib_path` (or fails with a sentence naming the
 * path and dlerror), creates a client and starts the receiving thread.
 * `log_verbosity` is TDLib's own (0–5; 1 = errors).  The update callback
 * runs on the main thread. */
TgTd *tg_td_open (const char *lib_path, PaHost *host, const PaHostApi *api, int log_verbosity,
                  TgTdUpdateFunc on_update, void *user_data, GError **error);

/* Sends `request` (stolen) to TDLib.  `on_reply` (may be NULL) gets the
 * answer on the main thread.  [main] */
void tg_td_send (TgTd *td, json_t *request, TgTdReplyFunc on_reply, void *user_data);

/* td_execute: a synchronous request TDLib answers offline
 * (getTextEntities, parseTextEntities, getOption "version"…).  `request`
 * is borrowed; returns a new reference, or NULL.  [any thread] */
json_t *tg_td_execute (TgTd *td, json_t *request);

/* Sends "close", waits (bounded) for authorizationStateClosed, stops the
 * thread, answers the waiting requests as aborted, frees.  [main] */
void tg_td_close (TgTd *td);

/* An error reply's code and message ({"@type":"error"}); FALSE when
 * `reply` is not an error. */
gboolean tg_td_is_error (json_t *reply, int *code, const char **message);

/* Seconds a FLOOD_WAIT / 429 error asks to wait ("Too Many Requests: retry
 * after 17", "FLOOD_WAIT_17"), or -1 when the error is not a flood wait. */
int tg_td_flood_wait_s (json_t *reply);

G_END_DECLS

#endif
