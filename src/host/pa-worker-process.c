/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Shared worker processes (pa-worker-process.h).  A shared process is an
 * ordinary PaWorker (pa-worker.c: spawn, frames, watchdog, restart with
 * backoff) whose init is the list of its logins' init frames, each naming
 * its login and data dir; every frame between host and worker names the
 * login it concerns (docs/worker-protocol.md, "Shared workers").  A login
 * placed in one stays a PaWorker of its own, given its place here
 * (pa_worker_set_place): pa-worker.c forwards the login's calls through
 * PaWorkerPlaceOps and never names this file, which builds on it.
 *
 * Placement: a login goes into the process of its plugin that is still
 * forming (placed during this turn of the main loop, not started yet) and
 * has room, else into a new one.  A process is started once the turn ends,
 * and its Landlock sandbox is closed over the data dirs of the logins it
 * got: a ruleset cannot be widened afterwards, so a running process never
 * takes a new login; the next login starts the next process.  The bridge
 * restores its saved logins in one turn at start-up, which fills the
 * processes; a later login costs a process until the next start.
 *
 * A crash of the process fails its logins only: each one's `exited` is
 * called, and the process restarts with the same logins (the init frames
 * the bridge sets again from `exited`).  A login that leaves is sent a
 * shutdown naming it; the process ends with its last login. */
#define G_LOG_DOMAIN "passerelle-host"

#include "host/pa-worker-process.h"
#include "pa-common.h"

typedef struct _SharedProcess SharedProcess;
typedef struct _PaWorkerSlot PaWorkerSlot; /* a login's place in a process */

struct _PaWorkerPool
{
  char *self_exe;
  char *sandbox;
  GPtrArray *sandbox_read;
  guint restart_max_delay_s, ping_interval_s, ping_timeout_s;
  GPtrArray *processes; /* SharedProcess* */
  guint serial;
};

struct _SharedProcess
{
  PaWorkerPool *pool;
  char *plugin_path;
  char *name; /* "shared:<plugin file>:<n>", in logs */
  guint capacity;
  GPtrArray *slots; /* PaWorkerSlot*, its logins */
  PaWorker *worker; /* NULL while forming */
  guint spawn_id;   /* the idle that starts it while forming */
  guint free_id;    /* the idle that frees it once ended */
  gboolean up;      /* said hello, not exited since */
};

struct _PaWorkerSlot
{
  SharedProcess *sp; /* NULL once it left */
  PaWorker *w;
  char *login_id;
  char *data_dir;
  json_t *init;
  PaWorkerCallbacks cb;
  gpointer user_data;
  GPtrArray *waiting; /* frames sent before the process ran */
  guint restarts;
  guint exit_id; /* `exited` after leaving */
};

static gboolean slot_send (gpointer data, json_t *frame);

/* ------------------------------------------------------------ helpers */

static PaWorkerSlot *
slot_of (SharedProcess *sp, const char *login)
{
  for (guint i = 0; login != NULL && i < sp->slots->len; i++)
    {
      PaWorkerSlot *s = g_ptr_array_index (sp->slots, i);
      if (g_str_equal (s->login_id, login))
        return s;
    }
  return NULL;
}

/* The process's init: one frame per login, naming it and its dir. */
static void
update_inits (SharedProcess *sp)
{
  if (sp->worker == NULL)
    return;
  g_autoptr (json_t) inits = json_array ();
  g_autoptr (GPtrArray) more = g_ptr_array_new ();
  for (guint i = 0; i < sp->slots->len; i++)
    {
      PaWorkerSlot *s = g_ptr_array_index (sp->slots, i);
      if (i > 0)
        g_ptr_array_add (more, s->data_dir);
      if (s->init == NULL)
        continue;
      json_t *f = json_copy (s->init);
      json_object_set_new (f, "login", json_string (s->login_id));
      json_object_set_new (f, "data_dir", json_string (s->data_dir));
      json_array_append_new (inits, f);
    }
  pa_worker_set_init (sp->worker, inits);
  pa_worker_set_data_dirs (sp->worker, more);
}

static gboolean
free_process (gpointer data)
{
  SharedProcess *sp = data;
  sp->free_id = 0;
  g_ptr_array_remove (sp->pool->processes, sp);
  if (sp->spawn_id != 0)
    g_source_remove (sp->spawn_id);
  pa_worker_free (sp->worker);
  g_ptr_array_unref (sp->slots);
  g_free (sp->plugin_path);
  g_free (sp->name);
  g_free (sp);
  return G_SOURCE_REMOVE;
}

/* ----------------------------------------------------- process events */

static void
on_hello (PaWorker *pw, json_t *hello, gpointer data)
{
  SharedProcess *sp = data;
  sp->up = TRUE;
  g_debug ("%s is up (pid %d, %u logins)", sp->name, (int) pa_worker_pid (pw), sp->slots->len);
  g_autoptr (GPtrArray) slots = g_ptr_array_copy (sp->slots, NULL, NULL);
  for (guint i = 0; i < slots->len; i++)
    {
      PaWorkerSlot *s = g_ptr_array_index (slots, i);
      if (s->sp == sp && s->cb.hello != NULL)
        s->cb.hello (s->w, hello, s->user_data);
    }
}

static void
on_frame (PaWorker *pw, json_t *frame, gpointer data)
{
  SharedProcess *sp = data;
  const char *login = json_string_value (json_object_get (frame, "login"));
  PaWorkerSlot *s = slot_of (sp, login);
  if (s != NULL)
    {
      json_object_del (frame, "login");
      if (s->cb.frame != NULL)
        s->cb.frame (s->w, frame, s->user_data);
      return;
    }
  /* The process's own logs, and late frames of a login that left. */
  const char *t = json_string_value (json_object_get (frame, "t"));
  const char *msg = json_string_value (json_object_get (frame, "message"));
  if (g_strcmp0 (t, "log") == 0 && msg != NULL)
    g_message ("[%s%s%s] %s", sp->name, login ? " " : "", login ? login : "", msg);
  else
    g_debug ("%s: \"%s\" frame for %s dropped", sp->name, t ? t : "?", login ? login : "nobody");
}

static void
on_exited (PaWorker *pw, gboolean crashed, gboolean will_restart, const char *reason, gpointer data)
{
  SharedProcess *sp = data;
  sp->up = FALSE;
  /* Each of its logins is told; the bridge sets their init again. */
  g_autoptr (GPtrArray) slots = g_ptr_array_copy (sp->slots, NULL, NULL);
  for (guint i = 0; i < slots->len; i++)
    {
      PaWorkerSlot *s = g_ptr_array_index (slots, i);
      if (s->sp != sp)
        continue;
      if (will_restart)
        s->restarts++;
      if (s->cb.exited != NULL)
        s->cb.exited (s->w, crashed, will_restart, reason, s->user_data);
    }
  if (!will_restart && sp->free_id == 0)
    {
      /* Ended for good (its last login left, or it cannot restart): its
       * logins, if any, are on their own. */
      for (guint i = 0; i < sp->slots->len; i++)
        ((PaWorkerSlot *) g_ptr_array_index (sp->slots, i))->sp = NULL;
      g_ptr_array_set_size (sp->slots, 0);
      sp->free_id = g_idle_add (free_process, sp);
    }
}

static gboolean
spawn_process (gpointer data)
{
  SharedProcess *sp = data;
  sp->spawn_id = 0;
  PaWorkerPool *pool = sp->pool;
  PaWorkerSlot *first = g_ptr_array_index (sp->slots, 0);
  static const PaWorkerCallbacks cbs = { on_hello, on_frame, on_exited };
  sp->worker = pa_worker_new (pool->self_exe, sp->plugin_path, sp->name, first->data_dir, &cbs, sp);
  pa_worker_set_restart (sp->worker, TRUE, pool->restart_max_delay_s);
  pa_worker_set_watchdog (sp->worker, pool->ping_interval_s, pool->ping_timeout_s);
  pa_worker_set_sandbox (sp->worker, pool->sandbox, pool->sandbox_read);
  update_inits (sp);
  g_autoptr (GError) error = NULL;
  if (!pa_worker_start (sp->worker, &error))
    {
      g_warning ("%s: %s", sp->name, error->message);
      g_autofree char *reason = g_strdup_printf ("cannot start: %s", error->message);
      pa_worker_set_restart (sp->worker, FALSE, 1);
      on_exited (sp->worker, TRUE, FALSE, reason, sp);
      return G_SOURCE_REMOVE;
    }
  g_debug ("%s started with %u logins (pid %d)", sp->name, sp->slots->len,
           (int) pa_worker_pid (sp->worker));
  /* What the bridge sent meanwhile, after the inits (sent first). */
  for (guint i = 0; i < sp->slots->len; i++)
    {
      PaWorkerSlot *s = g_ptr_array_index (sp->slots, i);
      for (guint j = 0; s->waiting != NULL && j < s->waiting->len; j++)
        slot_send (s, g_ptr_array_index (s->waiting, j));
      g_clear_pointer (&s->waiting, g_ptr_array_unref);
    }
  return G_SOURCE_REMOVE;
}

/* --------------------------------------------------------------- pool */

/* See pa-worker-process.h. */
PaWorkerPool *
pa_worker_pool_new (const char *self_exe, const char *sandbox, GPtrArray *sandbox_read,
                    guint restart_max_delay_s, guint ping_interval_s, guint ping_timeout_s)
{
  PaWorkerPool *pool = g_new0 (PaWorkerPool, 1);
  pool->self_exe = g_strdup (self_exe);
  pool->sandbox = g_strdup (sandbox);
  pool->sandbox_read = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; sandbox_read != NULL && i < sandbox_read->len; i++)
    g_ptr_array_add (pool->sandbox_read, g_strdup (g_ptr_array_index (sandbox_read, i)));
  pool->restart_max_delay_s = restart_max_delay_s;
  pool->ping_interval_s = ping_interval_s;
  pool->ping_timeout_s = ping_timeout_s;
  pool->processes = g_ptr_array_new ();
  return pool;
}

/* See pa-worker-process.h. */
void
pa_worker_pool_free (PaWorkerPool *pool)
{
  if (pool == NULL)
    return;
  while (pool->processes->len > 0)
    {
      SharedProcess *sp = g_ptr_array_index (pool->processes, 0);
      for (guint i = 0; i < sp->slots->len; i++)
        ((PaWorkerSlot *) g_ptr_array_index (sp->slots, i))->sp = NULL;
      g_ptr_array_set_size (sp->slots, 0);
      if (sp->free_id != 0)
        g_source_remove (sp->free_id);
      free_process (sp);
    }
  g_ptr_array_unref (pool->processes);
  g_ptr_array_unref (pool->sandbox_read);
  g_free (pool->sandbox);
  g_free (pool->self_exe);
  g_free (pool);
}

/* Login `w` goes into a process of its plugin with room for `capacity`
 * logins: one still forming, else a new one. */
static PaWorkerSlot *
place (PaWorkerPool *pool, PaWorker *w, guint capacity)
{
  PaWorkerLogin login;
  pa_worker_get_login (w, &login);
  const char *plugin_path = login.plugin_path;
  SharedProcess *sp = NULL;
  for (guint i = 0; i < pool->processes->len && sp == NULL; i++)
    {
      SharedProcess *p = g_ptr_array_index (pool->processes, i);
      if (p->spawn_id != 0 && p->slots->len < p->capacity
          && g_str_equal (p->plugin_path, plugin_path))
        sp = p;
    }
  if (sp == NULL)
    {
      sp = g_new0 (SharedProcess, 1);
      sp->pool = pool;
      sp->plugin_path = g_strdup (plugin_path);
      g_autofree char *base = g_path_get_basename (plugin_path);
      sp->name = g_strdup_printf ("shared:%s:%u", base, ++pool->serial);
      sp->capacity = MAX (capacity, 1);
      sp->slots = g_ptr_array_new ();
      sp->spawn_id = g_idle_add (spawn_process, sp);
      g_ptr_array_add (pool->processes, sp);
    }
  PaWorkerSlot *s = g_new0 (PaWorkerSlot, 1);
  s->sp = sp;
  s->w = w;
  s->login_id = g_strdup (pa_worker_login_id (w));
  s->data_dir = g_strdup (login.data_dir);
  s->init = login.init != NULL ? json_deep_copy (login.init) : NULL;
  if (login.cb != NULL)
    s->cb = *login.cb;
  s->user_data = login.user_data;
  g_ptr_array_add (sp->slots, s);
  return s;
}

/* ---------------------------------------------------------------- slot */

/* PaWorkerPlaceOps (pa-worker.h). */
static void
slot_set_init (gpointer data, json_t *init)
{
  PaWorkerSlot *s = data;
  g_clear_pointer (&s->init, json_decref);
  s->init = init != NULL ? json_deep_copy (init) : NULL;
  if (s->sp != NULL)
    update_inits (s->sp);
}

/* PaWorkerPlaceOps (pa-worker.h). */
static gboolean
slot_send (gpointer data, json_t *frame)
{
  PaWorkerSlot *s = data;
  if (s->sp == NULL)
    return FALSE;
  if (s->sp->worker == NULL)
    {
      if (s->waiting == NULL)
        s->waiting = g_ptr_array_new_with_free_func ((GDestroyNotify) json_decref);
      g_ptr_array_add (s->waiting, json_deep_copy (frame));
      return TRUE;
    }
  g_autoptr (json_t) f = json_copy (frame);
  json_object_set_new (f, "login", json_string (s->login_id));
  return pa_worker_send (s->sp->worker, f);
}

/* PaWorkerPlaceOps (pa-worker.h). */
static gboolean
slot_running (gpointer data)
{
  PaWorkerSlot *s = data;
  return s->sp != NULL && (s->sp->worker == NULL || pa_worker_is_running (s->sp->worker));
}

/* PaWorkerPlaceOps (pa-worker.h). */
static GPid
slot_pid (gpointer data)
{
  PaWorkerSlot *s = data;
  return s->sp != NULL && s->sp->worker != NULL ? pa_worker_pid (s->sp->worker) : 0;
}

/* PaWorkerPlaceOps (pa-worker.h). */
static gboolean
slot_hung (gpointer data)
{
  PaWorkerSlot *s = data;
  return s->sp != NULL && s->sp->worker != NULL && pa_worker_hung (s->sp->worker);
}

/* PaWorkerPlaceOps (pa-worker.h). */
static gint64
slot_read_until_us (gpointer data)
{
  PaWorkerSlot *s = data;
  return s->sp != NULL && s->sp->worker != NULL ? pa_worker_read_until_us (s->sp->worker) : 0;
}

/* PaWorkerPlaceOps (pa-worker.h). */
static guint
slot_restarts (gpointer data)
{
  PaWorkerSlot *s = data;
  return s->restarts;
}

static void
detach (PaWorkerSlot *s)
{
  SharedProcess *sp = s->sp;
  if (sp == NULL)
    return;
  s->sp = NULL;
  g_ptr_array_remove (sp->slots, s);
  g_clear_pointer (&s->waiting, g_ptr_array_unref);
  if (sp->worker != NULL)
    {
      g_autoptr (json_t) bye = json_pack ("{s:s, s:s}", "t", "shutdown", "login", s->login_id);
      pa_worker_send (sp->worker, bye);
      update_inits (sp);
    }
  if (sp->slots->len > 0)
    return;
  /* Its last login: the process ends (exited then frees it). */
  if (sp->worker == NULL)
    {
      g_source_remove (sp->spawn_id);
      sp->spawn_id = 0;
      if (sp->free_id == 0)
        sp->free_id = g_idle_add (free_process, sp);
    }
  else
    {
      gboolean running = pa_worker_pid (sp->worker) != 0;
      pa_worker_stop (sp->worker);
      /* Down, waiting to restart: no exit will come to free it. */
      if (!running && sp->free_id == 0)
        sp->free_id = g_idle_add (free_process, sp);
    }
}

static gboolean
report_exit (gpointer data)
{
  PaWorkerSlot *s = data;
  s->exit_id = 0;
  if (s->cb.exited != NULL)
    s->cb.exited (s->w, FALSE, FALSE, "exited", s->user_data);
  return G_SOURCE_REMOVE;
}

/* PaWorkerPlaceOps (pa-worker.h). */
static void
slot_leave (gpointer data)
{
  PaWorkerSlot *s = data;
  if (s->sp == NULL)
    return;
  detach (s);
  if (s->exit_id == 0)
    s->exit_id = g_idle_add (report_exit, s);
}

/* PaWorkerPlaceOps (pa-worker.h). */
static void
slot_free (gpointer data)
{
  PaWorkerSlot *s = data;
  if (s == NULL)
    return;
  detach (s);
  if (s->exit_id != 0)
    g_source_remove (s->exit_id);
  g_clear_pointer (&s->init, json_decref);
  g_free (s->login_id);
  g_free (s->data_dir);
  g_free (s);
}

static const PaWorkerPlaceOps slot_ops = {
  .set_init = slot_set_init,
  .send = slot_send,
  .running = slot_running,
  .pid = slot_pid,
  .hung = slot_hung,
  .read_until_us = slot_read_until_us,
  .restarts = slot_restarts,
  .leave = slot_leave,
  .free = slot_free,
};

/* See pa-worker-process.h. */
gboolean
pa_worker_pool_start (PaWorkerPool *pool, PaWorker *w, guint logins_per_worker, GError **error)
{
  if (pool == NULL || logins_per_worker <= 1)
    return pa_worker_start (w, error);
  pa_worker_set_place (w, &slot_ops, place (pool, w, logins_per_worker));
  return TRUE;
}
