/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Host side of a worker process: spawn, frame I/O, supervision.
 *
 * A worker is the passerelle-worker executable run as
 *     passerelle-worker --plugin PATH --data-dir DIR --fd N
 * (argv only; no homeserver secret ever reaches it).  It loads the plugin,
 * implements PaHostApi and talks to the host over a socketpair with
 * length-prefixed frames (pa-frame.h): a 4-byte big-endian length, then
 * that many bytes of UTF-8 JSON, one object per frame, at most
 * PA_FRAME_MAX bytes.  The protocol is documented in docs/worker-protocol.md.
 *
 * Supervision: when the worker exits or crashes (or sends a malformed
 * frame, which kills it), `exited` is called; if restart is enabled the
 * worker is started again after a backoff (1 s doubling up to
 * max_delay_s, reset after 60 s of healthy running), and the init frame is
 * sent again.  Frames queued while it was down are dropped: the bridge
 * fails the operations it had in flight. */
#ifndef PA_WORKER_H
#define PA_WORKER_H

#include <gio/gio.h>
#include <jansson.h>

G_BEGIN_DECLS

typedef struct _PaWorker PaWorker;

typedef struct {
  /* First frame of every (re)start: {"t":"hello", plugin, display_name,
   * version, capabilities, flows:[…], ops:[…]} (borrowed). */
  void (*hello) (PaWorker *w, json_t *hello, gpointer user_data);
  /* Every later worker → host frame (borrowed). */
  void (*frame) (PaWorker *w, json_t *frame, gpointer user_data);
  /* The process ended.  crashed: killed by a signal or nonzero exit or
   * protocol violation.  will_restart: a restart is scheduled. */
  void (*exited) (PaWorker *w, gboolean crashed, gboolean will_restart, const char *reason,
                  gpointer user_data);
} PaWorkerCallbacks;

/* `self_exe`: the worker executable (NULL: passerelle-worker beside the
 * running binary or installed, pa-worker-locate.h).
 * `init` (borrowed, copied): the init frame body sent after hello. */
PaWorker *pa_worker_new (const char *self_exe, const char *plugin_path, const char *login_id,
                         const char *data_dir, const PaWorkerCallbacks *callbacks,
                         gpointer user_data);
void pa_worker_set_init (PaWorker *w, json_t *init);
/* A login placed in another process (the pool of shared processes places
 * one there, instead of pa_worker_start): the rest of this API is
 * unchanged for it and goes through `ops` on `place`.  Frames it sends and
 * receives are its own (the process adds and strips the "login" member),
 * `exited` reports its process's end, pid is its process's, hung and
 * read_until_us its process's watchdog, restarts counts the restarts it
 * went through, stop leaves its process (`exited` follows), free leaves
 * without callbacks and frees `place`. */
typedef struct {
  void (*set_init) (gpointer place, json_t *init);
  gboolean (*send) (gpointer place, json_t *frame);
  gboolean (*running) (gpointer place);
  GPid (*pid) (gpointer place);
  gboolean (*hung) (gpointer place);
  gint64 (*read_until_us) (gpointer place);
  guint (*restarts) (gpointer place);
  void (*leave) (gpointer place);
  void (*free) (gpointer place);
} PaWorkerPlaceOps;
/* `ops` must outlive w; w owns `place` from now on. */
void pa_worker_set_place (PaWorker *w, const PaWorkerPlaceOps *ops, gpointer place);
/* What a login brings to the process it is placed in (borrowed from w). */
typedef struct {
  const char *plugin_path;
  const char *data_dir;
  json_t *init;
  const PaWorkerCallbacks *cb;
  gpointer user_data;
} PaWorkerLogin;
void pa_worker_get_login (PaWorker *w, PaWorkerLogin *out);
/* A shared process: the data dirs of its logins besides the one given to
 * pa_worker_new (each becomes one more --data-dir at the next start). */
void pa_worker_set_data_dirs (PaWorker *w, GPtrArray *more);
void pa_worker_set_restart (PaWorker *w, gboolean restart, guint max_delay_s);
/* Watchdog (off by default): a ping every interval_s over the socket; a
 * worker that leaves one unanswered for timeout_s is killed, and `exited`
 * reports it as crashed ("stopped answering for N s"), restarting it. */
void pa_worker_set_watchdog (PaWorker *w, guint interval_s, guint timeout_s);
/* Whether the last run was ended by the watchdog (until the next start). */
gboolean pa_worker_hung (PaWorker *w);
/* Monotonic time (µs) up to which the worker had read every frame sent to
 * it (the sending time of the last ping it answered). */
gint64 pa_worker_read_until_us (PaWorker *w);
/* The worker's sandbox (docs/hardening.md, "Worker sandbox"): `mode` is
 * "required", "best_effort" or "off" (NULL: the worker's default,
 * best_effort); `read_paths` (char *, borrowed, may be NULL) are also
 * readable inside it.  add_sandbox_read adds one more, e.g. an import's
 * export folder. */
void pa_worker_set_sandbox (PaWorker *w, const char *mode, GPtrArray *read_paths);
void pa_worker_add_sandbox_read (PaWorker *w, const char *path);
gboolean pa_worker_start (PaWorker *w, GError **error);
/* Queue a host → worker frame (borrowed, serialised now).  FALSE if the
 * worker is not running (the frame is dropped). */
gboolean pa_worker_send (PaWorker *w, json_t *frame);
gboolean pa_worker_is_running (PaWorker *w);
GPid pa_worker_pid (PaWorker *w);
const char *pa_worker_login_id (PaWorker *w);
guint pa_worker_restarts (PaWorker *w);
/* Stop for good: sends {"t":"shutdown"}, SIGKILL after 5 s. No restart. */
void pa_worker_stop (PaWorker *w);
void pa_worker_free (PaWorker *w);

/* Run `passerelle-worker --describe PATH` and return its hello object
 * (transfer full), so the host learns a plugin's name, flows and
 * capabilities without loading plugin code into its own process. */
json_t *pa_worker_describe (const char *self_exe, const char *plugin_path, GError **error);

/* Notes on the functions above (appended; the declarations are unchanged):
 *
 * - Callbacks run on the thread-default main context current at
 *   pa_worker_new().  They may call pa_worker_send() and pa_worker_stop(),
 *   but must NOT call pa_worker_free(): stop first, free later.
 * - A new worker restarts by default (max delay 60 s); pa_worker_set_restart
 *   changes that.  `exited` is called after every run, including runs ended
 *   by pa_worker_stop (will_restart FALSE).  pa_worker_free cancels a
 *   pending restart and kills a still-running process without calling back.
 * - pa_worker_send between pa_worker_start and hello queues the frame: it is
 *   written after the init frame.  pa_worker_is_running is TRUE from start
 *   until the exit is reaped (or a protocol error is detected).
 * - Starts are paced (pa-worker-pace.h): pa_worker_start may only queue the
 *   worker for a start slot; frames sent meanwhile wait for it, and a spawn
 *   that fails then is reported through `exited` like a failed restart.
 * - The worker's environment is an allow-list of the host's (pa-worker-env.h)
 *   with HOME and TMPDIR in its data dir; stdin is /dev/null, stdout and
 *   stderr are the host's; no other descriptor but the socket.
 * - pa_worker_describe fails with PA_ERROR_PLUGIN carrying the worker's
 *   stderr (e.g. the loader's "built for ABI 2.0" message) when the plugin is
 *   refused. */

G_END_DECLS

#endif
