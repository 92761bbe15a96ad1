/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Host side of a worker: spawn it on a socketpair, exchange frames without
 * ever blocking the host's main loop, and supervise (restart with backoff).
 * The protocol is docs/worker-protocol.md. */
#define G_LOG_DOMAIN "passerelle-host"

#include "host/pa-worker.h"
#include "host/pa-worker-watchdog.h"
#include "host/pa-worker-env.h"
#include "host/pa-fd-budget.h"
#include "host/pa-worker-locate.h"
#include "host/pa-worker-pace.h"
#include "wire/pa-frame-channel.h"
#include "pa-common.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gunixinputstream.h>
#include <glib-unix.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

/* The fd number the worker finds its socket on. */
#define WORKER_FD 3
/* The worker's exit status when workers.sandbox is required and cannot be
 * applied (PA_WORKER_EXIT_SANDBOX of src/worker). */
#define WORKER_EXIT_SANDBOX 5
/* Host -> worker backlog beyond which pa_worker_send refuses frames. */
#define OUT_MAX (64u * 1024u * 1024u)
#define STOP_KILL_DELAY_S 5
#define HEALTHY_RUN_US (60 * G_USEC_PER_SEC)
#define DEFAULT_MAX_DELAY_S 60
#define DESCRIBE_MAX_OUT (1024 * 1024)
#define DESCRIBE_MAX_ERR (64 * 1024)
#define DESCRIBE_TIMEOUT_MS 10000

struct _PaWorker
{
  char *self_exe; /* the worker executable */
  char *plugin_path;
  char *login_id;
  char *data_dir;
  char *sandbox;          /* --sandbox MODE, NULL: the worker's default */
  GPtrArray *sandbox_read; /* --sandbox-read PATH… (char *) */
  PaWorkerCallbacks cb;
  gpointer user_data;
  json_t *init;
  gboolean restart;
  guint max_delay_s;
  GMainContext *context;

  /* One run of the process. */
  GSubprocess *proc;
  GPid pid;
  GCancellable *wait_cancel;
  PaFrameChannel *ch;
  gboolean got_hello;
  char *protocol_error;
  gint64 started_us;
  GSource *kill_source;
  char *hung_reason; /* killed by the watchdog: why */

  /* Supervision across runs. */
  gboolean stopping;
  guint next_delay_s;
  guint restarts;
  GSource *restart_source;
  PaWatchdog *watchdog;
  gboolean hung; /* the last run was ended by the watchdog */

  /* Several logins in one process (pa-worker.h, pa_worker_set_place). */
  GPtrArray *more_dirs;  /* a shared process: the --data-dir of its other logins */
  const PaWorkerPlaceOps *place_ops; /* a login placed in another process */
  gpointer place;
  PaPaceSlot *pace;  /* a start slot (pa-worker-pace.h), from spawn to hello */
  GPtrArray *early;  /* frames sent while waiting for a slot (json_t) */
};

/* The worker executable: the one given, else passerelle-worker found
 * beside this binary or installed (pa-worker-locate.h).  When it is
 * missing, the spawn fails with a message naming the places tried. */
static char *
resolve_self (const char *self_exe)
{
  if (self_exe != NULL)
    return g_strdup (self_exe);
  g_autoptr (GError) error = NULL;
  char *exe = pa_worker_locate (NULL, &error);
  if (exe == NULL)
    g_warning ("%s", error->message);
  return exe != NULL ? exe : g_strdup ("passerelle-worker");
}

/* The worker gets argv and a socket, never a secret: its environment is
 * an allow-list (pa-worker-env.c), not the host's. */
static void
set_environment (GSubprocessLauncher *launcher, const char *data_dir)
{
  g_auto (GStrv) host = g_get_environ ();
  g_auto (GStrv) env = pa_worker_env_build ((const char *const *) host, data_dir);
  g_subprocess_launcher_set_environ (launcher, env);
}

static GSource *
add_timeout (PaWorker *w, guint ms, GSourceFunc fn)
{
  GSource *s = g_timeout_source_new (ms);
  g_source_set_callback (s, fn, w, NULL);
  g_source_attach (s, w->context);
  return s;
}

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

/* Closes the socket; the channel itself is freed only outside its own
 * callbacks (at the next spawn, the reaped exit or pa_worker_free). */
static void
close_io (PaWorker *w)
{
  if (w->ch != NULL)
    pa_frame_channel_close (w->ch);
}

/* The worker broke the protocol: it cannot be trusted to resynchronise, so
 * it is killed; the exit handler reports it as a crash with this reason. */
static void
protocol_violation (PaWorker *w, const char *reason)
{
  if (w->protocol_error != NULL)
    return;
  g_warning ("worker %s (pid %d): protocol error: %s", w->login_id, (int) w->pid, reason);
  w->protocol_error = g_strdup_printf ("protocol error: %s", reason);
  close_io (w);
  if (w->proc != NULL)
    g_subprocess_force_exit (w->proc);
}

static void
deliver (PaWorker *w, json_t *frame)
{
  const char *t = json_string_value (json_object_get (frame, "t"));
  if (t == NULL)
    {
      protocol_violation (w, "frame without a type");
      return;
    }
  if (!w->got_hello)
    {
      if (strcmp (t, "hello") != 0)
        {
          g_autofree char *msg = g_strdup_printf ("first frame is \"%s\", not hello", t);
          protocol_violation (w, msg);
          return;
        }
      w->got_hello = TRUE;
      pa_worker_pace_release (&w->pace);
      /* init must be the first frame the worker reads, ahead of anything
       * queued while it was starting. */
      if (w->init != NULL && !w->stopping)
        {
          g_autoptr (GError) error = NULL;
          /* A shared process: one init per login, in order. */
          gsize n = json_is_array (w->init) ? json_array_size (w->init) : 1;
          for (gsize i = n; i-- > 0 && error == NULL;)
            if (!pa_frame_channel_send_first (
                    w->ch, json_is_array (w->init) ? json_array_get (w->init, i) : w->init, &error))
              g_warning ("worker %s: cannot send init: %s", w->login_id, error->message);
        }
      pa_frame_channel_hold (w->ch, FALSE);
      pa_watchdog_start (w->watchdog);
      if (w->cb.hello != NULL)
        w->cb.hello (w, frame, w->user_data);
      return;
    }
  if (strcmp (t, "hello") == 0)
    {
      protocol_violation (w, "second hello");
      return;
    }
  if (pa_watchdog_frame (w->watchdog, frame))
    return;
  if (w->cb.frame != NULL)
    w->cb.frame (w, frame, w->user_data);
}

static void
on_frame (PaFrameChannel *ch, json_t *frame, gpointer data)
{
  deliver (data, frame);
}

static void
on_closed (PaFrameChannel *ch, gboolean protocol, const char *reason, gpointer data)
{
  PaWorker *w = data;
  if (protocol)
    protocol_violation (w, reason);
  /* Otherwise EOF or an I/O error: the process is exiting and its wait
   * reports it; the channel is closed and can go now. */
}

static gboolean spawn_worker (PaWorker *w, GError **error);

static void
schedule_restart (PaWorker *w, gint64 ran_us);

static gboolean spawn_paced (PaWorker *w, GError **error);

static gboolean
on_restart (gpointer data)
{
  PaWorker *w = data;
  g_clear_pointer (&w->restart_source, g_source_unref);
  w->restarts++;
  g_autoptr (GError) error = NULL;
  if (!spawn_paced (w, &error))
    {
      g_warning ("worker %s: restart failed: %s", w->login_id, error->message);
      g_autofree char *reason = g_strdup_printf ("cannot start: %s", error->message);
      gboolean again = w->restart && !w->stopping;
      if (again)
        schedule_restart (w, 0);
      if (w->cb.exited != NULL)
        w->cb.exited (w, TRUE, again, reason, w->user_data);
    }
  return G_SOURCE_REMOVE;
}

static void
schedule_restart (PaWorker *w, gint64 ran_us)
{
  /* 1 s doubling up to max_delay_s; a run that stayed up long enough
   * proves the trouble is over. */
  if (ran_us >= HEALTHY_RUN_US)
    w->next_delay_s = 1;
  guint delay = MAX (w->next_delay_s, 1);
  w->next_delay_s = MIN (delay * 2, MAX (w->max_delay_s, 1));
  clear_source (&w->restart_source);
  w->restart_source = add_timeout (w, delay * 1000, on_restart);
}

static void
on_wait_done (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr (GError) error = NULL;
  gboolean waited = g_subprocess_wait_finish (G_SUBPROCESS (source), res, &error);
  /* Cancelled only by pa_worker_free: the worker no longer exists. */
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;

  PaWorker *w = data;
  if (G_SUBPROCESS (source) != w->proc)
    return;
  gboolean crashed = TRUE;
  g_autofree char *reason = NULL;
  if (!waited)
    reason = g_strdup_printf ("lost track of the process: %s", error->message);
  else if (w->hung_reason != NULL)
    reason = g_strdup (w->hung_reason);
  else if (w->protocol_error != NULL)
    reason = g_strdup (w->protocol_error);
  else if (g_subprocess_get_if_signaled (w->proc))
    {
      int sig = g_subprocess_get_term_sig (w->proc);
      reason = g_strdup_printf ("killed by signal %d (%s)", sig, g_strsignal (sig));
    }
  else if (g_subprocess_get_exit_status (w->proc) == WORKER_EXIT_SANDBOX)
    reason = g_strdup ("refused to run unsandboxed (workers.sandbox: required, and this kernel "
                       "cannot sandbox it)");
  else if (g_subprocess_get_exit_status (w->proc) != 0)
    reason = g_strdup_printf ("exited with status %d", g_subprocess_get_exit_status (w->proc));
  else
    {
      crashed = FALSE;
      reason = g_strdup ("exited");
    }

  gint64 ran_us = g_get_monotonic_time () - w->started_us;
  if (crashed)
    g_warning ("worker %s (pid %d) %s", w->login_id, (int) w->pid, reason);
  else
    g_debug ("worker %s (pid %d) %s", w->login_id, (int) w->pid, reason);

  g_clear_pointer (&w->ch, pa_frame_channel_free);
  clear_source (&w->kill_source);
  g_clear_object (&w->wait_cancel);
  g_clear_object (&w->proc);
  g_clear_pointer (&w->protocol_error, g_free);
  g_clear_pointer (&w->hung_reason, g_free);
  pa_watchdog_stop (w->watchdog);
  pa_worker_pace_release (&w->pace);
  w->pid = 0;

  gboolean will_restart = w->restart && !w->stopping;
  if (will_restart)
    schedule_restart (w, ran_us);
  /* Last: the callback may call pa_worker_stop (which cancels the restart
   * just scheduled) but must not free the worker. */
  if (w->cb.exited != NULL)
    w->cb.exited (w, crashed, will_restart, reason, w->user_data);
}

static gboolean
spawn_worker (PaWorker *w, GError **error)
{
  int sv[2];
  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    {
      pa_fd_budget_spawn_error (errno, "socketpair", error);
      return FALSE;
    }
  /* Keep the child's end off fds 0-3: mapping fd 3 onto itself would keep
   * its close-on-exec flag in some GLib versions. */
  int child = sv[1];
  if (child <= WORKER_FD)
    {
      child = fcntl (sv[1], F_DUPFD_CLOEXEC, WORKER_FD + 1);
      int e = errno;
      close (sv[1]);
      if (child < 0)
        {
          close (sv[0]);
          pa_fd_budget_spawn_error (e, "fcntl", error);
          return FALSE;
        }
    }

  g_autoptr (GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_subprocess_launcher_set_stdin_file_path (launcher, "/dev/null");
  set_environment (launcher, w->data_dir);
  g_subprocess_launcher_take_fd (launcher, child, WORKER_FD);
  g_autofree char *fd_arg = g_strdup_printf ("%d", WORKER_FD);
  g_autoptr (GPtrArray) args = g_ptr_array_new ();
  const char *fixed[] = { w->self_exe,  "--plugin", w->plugin_path, "--data-dir",
                          w->data_dir, "--fd",     fd_arg };
  for (gsize i = 0; i < G_N_ELEMENTS (fixed); i++)
    g_ptr_array_add (args, (gpointer) fixed[i]);
  if (w->sandbox != NULL)
    {
      g_ptr_array_add (args, "--sandbox");
      g_ptr_array_add (args, w->sandbox);
    }
  for (guint i = 0; w->more_dirs != NULL && i < w->more_dirs->len; i++)
    {
      g_ptr_array_add (args, "--data-dir");
      g_ptr_array_add (args, g_ptr_array_index (w->more_dirs, i));
    }
  for (guint i = 0; i < w->sandbox_read->len; i++)
    {
      g_ptr_array_add (args, "--sandbox-read");
      g_ptr_array_add (args, g_ptr_array_index (w->sandbox_read, i));
    }
  g_ptr_array_add (args, NULL);
  const char *const *argv = (const char *const *) args->pdata;

  /* wait_async reports on the thread-default context: make it ours. */
  g_main_context_push_thread_default (w->context);
  g_autoptr (GError) spawn_error = NULL;
  errno = 0;
  GSubprocess *proc = g_subprocess_launcher_spawnv (launcher, argv, &spawn_error);
  int spawn_errno = errno;
  /* Closes our copy of the child's end, so the worker's exit gives EOF. */
  g_clear_object (&launcher);
  if (proc == NULL)
    {
      g_main_context_pop_thread_default (w->context);
      close (sv[0]);
      if (spawn_errno == EMFILE || spawn_errno == ENFILE)
        pa_fd_budget_spawn_error (spawn_errno, spawn_error->message, error);
      else
        g_propagate_error (error, g_steal_pointer (&spawn_error));
      return FALSE;
    }
  w->proc = proc;
  const char *ident = g_subprocess_get_identifier (proc);
  w->pid = ident != NULL ? (GPid) g_ascii_strtoll (ident, NULL, 10) : 0;
  w->wait_cancel = g_cancellable_new ();
  g_subprocess_wait_async (proc, w->wait_cancel, on_wait_done, w);
  g_main_context_pop_thread_default (w->context);

  static const PaFrameChannelCallbacks channel_cb = { on_frame, on_closed };
  g_clear_pointer (&w->ch, pa_frame_channel_free);
  w->ch = pa_frame_channel_new (sv[0], w->context, &channel_cb, w);
  /* Nothing is written before the worker's hello: init goes first. */
  pa_frame_channel_hold (w->ch, TRUE);
  for (guint i = 0; i < w->early->len; i++)
    pa_frame_channel_send (w->ch, g_ptr_array_index (w->early, i), NULL);
  g_ptr_array_set_size (w->early, 0);
  w->got_hello = FALSE;
  w->hung = FALSE;
  w->started_us = g_get_monotonic_time ();
  g_debug ("worker %s started: pid %d, plugin %s", w->login_id, (int) w->pid, w->plugin_path);
  return TRUE;
}

/* A start slot came free for a worker waiting in line. */
static void
on_paced (gpointer data)
{
  PaWorker *w = data;
  g_autoptr (GError) error = NULL;
  if (spawn_worker (w, &error))
    return;
  pa_worker_pace_release (&w->pace);
  g_ptr_array_set_size (w->early, 0);
  g_warning ("worker %s: start failed: %s", w->login_id, error->message);
  g_autofree char *reason = g_strdup_printf ("cannot start: %s", error->message);
  gboolean again = w->restart && !w->stopping;
  if (again)
    schedule_restart (w, 0);
  if (w->cb.exited != NULL)
    w->cb.exited (w, TRUE, again, reason, w->user_data);
}

/* Spawns now when a start slot is free, else once one frees (on_paced). */
static gboolean
spawn_paced (PaWorker *w, GError **error)
{
  if (!pa_worker_pace_acquire (&w->pace, on_paced, w))
    return TRUE;
  if (spawn_worker (w, error))
    return TRUE;
  pa_worker_pace_release (&w->pace);
  return FALSE;
}

static void
watchdog_send (json_t *frame, gpointer data)
{
  pa_worker_send (data, frame);
}

/* The worker stopped answering pings: killed (SIGKILL also ends a stopped
 * process), then reported and restarted like a crash. */
static void
watchdog_hung (guint silent_s, gpointer data)
{
  PaWorker *w = data;
  if (w->proc == NULL || w->hung_reason != NULL)
    return;
  g_warning ("worker %s (pid %d) has not answered for %u s: killing it", w->login_id,
             (int) w->pid, silent_s);
  w->hung = TRUE;
  w->hung_reason = g_strdup_printf ("stopped answering for %u s", silent_s);
  if (!w->stopping)
    g_subprocess_force_exit (w->proc);
}

/* See pa-worker.h.  Restart is on by default (max delay 60 s). */
PaWorker *
pa_worker_new (const char *self_exe, const char *plugin_path, const char *login_id,
               const char *data_dir, const PaWorkerCallbacks *callbacks, gpointer user_data)
{
  g_return_val_if_fail (plugin_path != NULL, NULL);
  g_return_val_if_fail (data_dir != NULL, NULL);

  PaWorker *w = g_new0 (PaWorker, 1);
  w->self_exe = resolve_self (self_exe);
  w->plugin_path = g_strdup (plugin_path);
  w->login_id = g_strdup (login_id != NULL ? login_id : "");
  w->data_dir = g_strdup (data_dir);
  w->sandbox_read = g_ptr_array_new_with_free_func (g_free);
  w->early = g_ptr_array_new_with_free_func ((GDestroyNotify) json_decref);
  if (callbacks != NULL)
    w->cb = *callbacks;
  w->user_data = user_data;
  w->restart = TRUE;
  w->max_delay_s = DEFAULT_MAX_DELAY_S;
  w->next_delay_s = 1;
  w->context = g_main_context_ref_thread_default ();
  w->watchdog = pa_watchdog_new (w->context, watchdog_send, watchdog_hung, w);
  return w;
}

/* See pa-worker.h. */
void
pa_worker_set_watchdog (PaWorker *w, guint interval_s, guint timeout_s)
{
  g_return_if_fail (w != NULL);
  pa_watchdog_configure (w->watchdog, interval_s, timeout_s);
}

/* See pa-worker.h. */
gboolean
pa_worker_hung (PaWorker *w)
{
  g_return_val_if_fail (w != NULL, FALSE);
  if (w->place_ops != NULL)
    return w->place_ops->hung (w->place);
  return w->hung;
}

/* See pa-worker.h. */
gint64
pa_worker_read_until_us (PaWorker *w)
{
  g_return_val_if_fail (w != NULL, 0);
  if (w->place_ops != NULL)
    return w->place_ops->read_until_us (w->place);
  return pa_watchdog_read_until (w->watchdog);
}

/* See pa-worker.h.  Takes effect at the next (re)start. */
void
pa_worker_set_init (PaWorker *w, json_t *init)
{
  g_return_if_fail (w != NULL);
  g_clear_pointer (&w->init, json_decref);
  if (init != NULL)
    w->init = json_deep_copy (init);
  if (w->place_ops != NULL)
    w->place_ops->set_init (w->place, w->init);
}

/* See pa-worker.h. */
void
pa_worker_set_place (PaWorker *w, const PaWorkerPlaceOps *ops, gpointer place)
{
  g_return_if_fail (w != NULL && w->proc == NULL && w->place_ops == NULL && ops != NULL);
  w->place_ops = ops;
  w->place = place;
}

/* See pa-worker.h. */
void
pa_worker_get_login (PaWorker *w, PaWorkerLogin *out)
{
  g_return_if_fail (w != NULL && out != NULL);
  out->plugin_path = w->plugin_path;
  out->data_dir = w->data_dir;
  out->init = w->init;
  out->cb = &w->cb;
  out->user_data = w->user_data;
}

/* See pa-worker.h. */
void
pa_worker_set_data_dirs (PaWorker *w, GPtrArray *more)
{
  g_return_if_fail (w != NULL);
  g_clear_pointer (&w->more_dirs, g_ptr_array_unref);
  w->more_dirs = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; more != NULL && i < more->len; i++)
    g_ptr_array_add (w->more_dirs, g_strdup (g_ptr_array_index (more, i)));
}

/* See pa-worker.h.  Takes effect at the next (re)start. */
void
pa_worker_set_sandbox (PaWorker *w, const char *mode, GPtrArray *read_paths)
{
  g_return_if_fail (w != NULL);
  g_free (w->sandbox);
  w->sandbox = g_strdup (mode);
  g_ptr_array_set_size (w->sandbox_read, 0);
  for (guint i = 0; read_paths != NULL && i < read_paths->len; i++)
    pa_worker_add_sandbox_read (w, g_ptr_array_index (read_paths, i));
}

/* See pa-worker.h.  Takes effect at the next (re)start. */
void
pa_worker_add_sandbox_read (PaWorker *w, const char *path)
{
  g_return_if_fail (w != NULL && path != NULL);
  g_ptr_array_add (w->sandbox_read, g_strdup (path));
}

/* See pa-worker.h. */
void
pa_worker_set_restart (PaWorker *w, gboolean restart, guint max_delay_s)
{
  g_return_if_fail (w != NULL);
  w->restart = restart;
  w->max_delay_s = MAX (max_delay_s, 1);
  if (w->next_delay_s > w->max_delay_s)
    w->next_delay_s = w->max_delay_s;
  if (!restart)
    clear_source (&w->restart_source);
}

/* See pa-worker.h.  Also undoes an earlier pa_worker_stop. */
gboolean
pa_worker_start (PaWorker *w, GError **error)
{
  g_return_val_if_fail (w != NULL, FALSE);
  g_return_val_if_fail (w->proc == NULL, FALSE);
  if (w->place_ops != NULL)
    return TRUE; /* placed in another process, which runs it */
  clear_source (&w->restart_source);
  w->stopping = FALSE;
  w->next_delay_s = 1;
  return spawn_paced (w, error);
}

/* See pa-worker.h. */
gboolean
pa_worker_send (PaWorker *w, json_t *frame)
{
  g_return_val_if_fail (w != NULL, FALSE);
  g_return_val_if_fail (frame != NULL, FALSE);
  if (w->place_ops != NULL)
    return w->place_ops->send (w->place, frame);
  if (w->proc == NULL && pa_worker_pace_waiting (w->pace))
    {
      /* Waiting for a start slot: sent once it runs, after init. */
      g_ptr_array_add (w->early, json_deep_copy (frame));
      return TRUE;
    }
  if (w->proc == NULL || !pa_frame_channel_is_open (w->ch) || w->protocol_error != NULL)
    return FALSE;
  if (pa_frame_channel_pending (w->ch) > OUT_MAX)
    {
      g_warning ("worker %s is not reading: frame dropped", w->login_id);
      return FALSE;
    }
  g_autoptr (GError) error = NULL;
  if (!pa_frame_channel_send (w->ch, frame, &error))
    {
      g_warning ("worker %s: frame dropped: %s", w->login_id, error->message);
      return FALSE;
    }
  return TRUE;
}

/* See pa-worker.h: the process exists and has not broken the protocol. */
gboolean
pa_worker_is_running (PaWorker *w)
{
  g_return_val_if_fail (w != NULL, FALSE);
  if (w->place_ops != NULL)
    return w->place_ops->running (w->place);
  if (w->proc == NULL && pa_worker_pace_waiting (w->pace))
    return TRUE; /* started, waiting for a start slot */
  return w->proc != NULL && w->protocol_error == NULL;
}

/* See pa-worker.h: 0 when no process is running. */
GPid
pa_worker_pid (PaWorker *w)
{
  g_return_val_if_fail (w != NULL, 0);
  if (w->place_ops != NULL)
    return w->place_ops->pid (w->place);
  return w->proc != NULL ? w->pid : 0;
}

/* See pa-worker.h. */
const char *
pa_worker_login_id (PaWorker *w)
{
  g_return_val_if_fail (w != NULL, NULL);
  return w->login_id;
}

/* See pa-worker.h: how many times the supervisor restarted the process. */
guint
pa_worker_restarts (PaWorker *w)
{
  g_return_val_if_fail (w != NULL, 0);
  if (w->place_ops != NULL)
    return w->place_ops->restarts (w->place);
  return w->restarts;
}

static gboolean
on_stop_timeout (gpointer data)
{
  PaWorker *w = data;
  g_clear_pointer (&w->kill_source, g_source_unref);
  if (w->proc != NULL)
    {
      g_warning ("worker %s did not stop in %d s: killing it", w->login_id, STOP_KILL_DELAY_S);
      g_subprocess_force_exit (w->proc);
    }
  return G_SOURCE_REMOVE;
}

/* See pa-worker.h.  `exited` is still called (will_restart FALSE) when the
 * process ends. */
void
pa_worker_stop (PaWorker *w)
{
  g_return_if_fail (w != NULL);
  if (w->place_ops != NULL)
    {
      /* Leaves its shared process (which ends when empty); `exited` is
       * still called. */
      w->place_ops->leave (w->place);
      return;
    }
  w->stopping = TRUE;
  clear_source (&w->restart_source);
  if (w->proc == NULL)
    {
      /* Never spawned: it leaves the line for a start slot. */
      pa_worker_pace_release (&w->pace);
      g_ptr_array_set_size (w->early, 0);
    }
  if (w->proc == NULL || w->kill_source != NULL)
    return;
  if (pa_frame_channel_is_open (w->ch))
    {
      /* Before hello nothing was sent yet: drop what was queued, the worker
       * gets only the shutdown (and no init). */
      if (!w->got_hello)
        pa_frame_channel_discard (w->ch);
      g_autoptr (json_t) bye = json_pack ("{s:s}", "t", "shutdown");
      pa_worker_send (w, bye);
    }
  else
    g_subprocess_force_exit (w->proc);
  w->kill_source = add_timeout (w, STOP_KILL_DELAY_S * 1000, on_stop_timeout);
}

/* See pa-worker.h.  A process still running is killed; no callback is
 * called from here on. */
void
pa_worker_free (PaWorker *w)
{
  if (w == NULL)
    return;
  if (w->place_ops != NULL && w->place != NULL)
    w->place_ops->free (g_steal_pointer (&w->place));
  g_clear_pointer (&w->more_dirs, g_ptr_array_unref);
  if (w->wait_cancel != NULL)
    g_cancellable_cancel (w->wait_cancel);
  g_clear_object (&w->wait_cancel);
  clear_source (&w->restart_source);
  clear_source (&w->kill_source);
  pa_worker_pace_release (&w->pace);
  g_clear_pointer (&w->early, g_ptr_array_unref);
  g_clear_pointer (&w->watchdog, pa_watchdog_free);
  g_clear_pointer (&w->ch, pa_frame_channel_free);
  if (w->proc != NULL)
    g_subprocess_force_exit (w->proc);
  g_clear_object (&w->proc);
  g_clear_pointer (&w->init, json_decref);
  g_clear_pointer (&w->protocol_error, g_free);
  g_clear_pointer (&w->hung_reason, g_free);
  g_main_context_unref (w->context);
  g_free (w->self_exe);
  g_free (w->plugin_path);
  g_free (w->login_id);
  g_free (w->data_dir);
  g_free (w->sandbox);
  g_ptr_array_unref (w->sandbox_read);
  g_free (w);
}

/* ------------------------------------------------------------- describe */

typedef struct
{
  GByteArray *out;
  GByteArray *err;
  gboolean out_eof, err_eof, exited, timed_out, too_big;
} Describe;

static gboolean
describe_read (int fd, GByteArray *buf, gsize max, gboolean *eof, gboolean *too_big)
{
  guint8 chunk[16384];
  for (;;)
    {
      ssize_t n = read (fd, chunk, sizeof chunk);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return G_SOURCE_CONTINUE;
      if (n <= 0)
        {
          *eof = TRUE;
          return G_SOURCE_REMOVE;
        }
      gsize room = buf->len < max ? max - buf->len : 0;
      if ((gsize) n > room && too_big != NULL)
        *too_big = TRUE;
      g_byte_array_append (buf, chunk, (guint) MIN ((gsize) n, room));
    }
}

static gboolean
on_describe_out (gint fd, GIOCondition cond, gpointer data)
{
  Describe *d = data;
  return describe_read (fd, d->out, DESCRIBE_MAX_OUT, &d->out_eof, &d->too_big);
}

static gboolean
on_describe_err (gint fd, GIOCondition cond, gpointer data)
{
  Describe *d = data;
  /* stderr is only for the error message: keep the start, drop the rest. */
  return describe_read (fd, d->err, DESCRIBE_MAX_ERR, &d->err_eof, NULL);
}

static gboolean
on_describe_timeout (gpointer data)
{
  Describe *d = data;
  d->timed_out = TRUE;
  return G_SOURCE_REMOVE;
}

static void
on_describe_exit (GObject *source, GAsyncResult *res, gpointer data)
{
  Describe *d = data;
  g_subprocess_wait_finish (G_SUBPROCESS (source), res, NULL);
  d->exited = TRUE;
}

static GSource *
describe_watch (GMainContext *ctx, GInputStream *stream, GUnixFDSourceFunc fn, Describe *d)
{
  int fd = g_unix_input_stream_get_fd (G_UNIX_INPUT_STREAM (stream));
  g_unix_set_fd_nonblocking (fd, TRUE, NULL);
  GSource *s = g_unix_fd_source_new (fd, G_IO_IN | G_IO_HUP | G_IO_ERR);
  g_source_set_callback (s, G_SOURCE_FUNC (fn), d, NULL);
  g_source_attach (s, ctx);
  return s;
}

/* See pa-worker.h.  Output is capped at 1 MiB and the run at 10 s. */
json_t *
pa_worker_describe (const char *self_exe, const char *plugin_path, GError **error)
{
  g_return_val_if_fail (plugin_path != NULL, NULL);

  g_autofree char *exe = resolve_self (self_exe);
  g_autofree char *base = g_path_get_basename (plugin_path);
  g_autoptr (GSubprocessLauncher) launcher
      = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_subprocess_launcher_set_stdin_file_path (launcher, "/dev/null");
  set_environment (launcher, NULL);
  const char *argv[] = { exe, "--describe", plugin_path, NULL };

  /* A private context: describe is synchronous and must not dispatch the
   * caller's sources while it waits. */
  g_autoptr (GMainContext) ctx = g_main_context_new ();
  g_main_context_push_thread_default (ctx);
  g_autoptr (GSubprocess) proc = g_subprocess_launcher_spawnv (launcher, argv, error);
  if (proc == NULL)
    {
      g_main_context_pop_thread_default (ctx);
      return NULL;
    }
  Describe d = { .out = g_byte_array_new (), .err = g_byte_array_new () };
  g_autoptr (GByteArray) out = d.out;
  g_autoptr (GByteArray) err = d.err;
  GSource *so = describe_watch (ctx, g_subprocess_get_stdout_pipe (proc), on_describe_out, &d);
  GSource *se = describe_watch (ctx, g_subprocess_get_stderr_pipe (proc), on_describe_err, &d);
  GSource *st = g_timeout_source_new (DESCRIBE_TIMEOUT_MS);
  g_source_set_callback (st, on_describe_timeout, &d, NULL);
  g_source_attach (st, ctx);
  g_subprocess_wait_async (proc, NULL, on_describe_exit, &d);

  while (!(d.out_eof && d.err_eof && d.exited) && !d.timed_out && !d.too_big)
    g_main_context_iteration (ctx, TRUE);
  if (!d.exited)
    g_subprocess_force_exit (proc);
  /* `d` is on this stack: the wait callback must have run before return. */
  while (!d.exited)
    g_main_context_iteration (ctx, TRUE);

  for (GSource **s = (GSource *[]){ so, se, st, NULL }; *s != NULL; s++)
    {
      g_source_destroy (*s);
      g_source_unref (*s);
    }
  g_main_context_pop_thread_default (ctx);

  if (d.timed_out)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_PLUGIN, "describing plugin %s timed out after %d s",
                   base, DESCRIBE_TIMEOUT_MS / 1000);
      return NULL;
    }
  if (d.too_big)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_TOO_LARGE,
                   "plugin %s: description larger than %d bytes", base, DESCRIBE_MAX_OUT);
      return NULL;
    }
  if (!g_subprocess_get_if_exited (proc) || g_subprocess_get_exit_status (proc) != 0)
    {
      g_autofree char *msg = g_strndup ((const char *) err->data, err->len);
      g_strstrip (msg);
      if (*msg == '\0' || !g_utf8_validate (msg, -1, NULL))
        {
          g_free (msg);
          msg = g_strdup_printf ("%s --describe failed", exe);
        }
      g_set_error (error, PA_ERROR, PA_ERROR_PLUGIN, "%s", msg);
      return NULL;
    }
  json_error_t jerr;
  json_t *hello = json_loadb ((const char *) out->data, out->len, 0, &jerr);
  if (hello == NULL || !json_is_object (hello)
      || g_strcmp0 (json_string_value (json_object_get (hello, "t")), "hello") != 0)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_PLUGIN, "plugin %s: malformed description%s%s",
                   base, hello == NULL ? ": " : "", hello == NULL ? jerr.text : "");
      json_decref (hello);
      return NULL;
    }
  return hello;
}
