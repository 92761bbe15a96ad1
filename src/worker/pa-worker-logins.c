/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The worker's table of logins (pa-worker-logins.h), below the frame
 * dispatch: the dispatch asks it which login a frame is for, and
 * dispatches the frame there itself.  A shared worker runs
 * network->init once, on the process's PaHost, then one PaHost per login:
 * a copy of what is the same for the whole process (plugin, channel,
 * configuration, main thread, host table) plus what is the login's own
 * (data dir, budget, secret key, metadata cache, emit counter).  Every frame
 * a login's PaHost sends names the login; every host frame naming a login
 * goes to its PaHost.  A login that ended keeps its PaHost, marked closed,
 * until the process exits: a plugin thread may still hold the pointer, and
 * what it sends then is dropped instead of reaching freed memory. */
#define G_LOG_DOMAIN "passerelle-worker"

#include "worker/pa-worker-logins.h"
#include "wire/pa-wire.h"
#include "worker/pa-worker-api.h"
#include "worker/pa-worker-link.h"

/* A new login's PaHost, or NULL (with the reason logged to the host) when
 * the init frame names no data dir of this process. */
static PaHost *
login_host_new (PaHost *proc, const char *login, json_t *frame)
{
  const char *dir = json_string_value (json_object_get (frame, "data_dir"));
  g_autofree char *canonical = dir != NULL ? g_canonicalize_filename (dir, NULL) : NULL;
  if (canonical == NULL || !g_strv_contains ((const char *const *) proc->data_dirs, canonical))
    {
      /* The sandbox was closed over the --data-dir list: any other dir
       * would be unreachable anyway. */
      g_autofree char *msg = g_strdup_printf ("login %s: its data dir is not one this worker was "
                                              "started with",
                                              login);
      pa_worker_link_log (proc, PA_LOG_ERROR, msg);
      return NULL;
    }
  PaHost *h = g_new0 (PaHost, 1);
  h->plugin = proc->plugin;
  h->net = proc->net;
  h->ops = proc->ops;
  h->display_name = proc->display_name;
  h->data_dir = g_steal_pointer (&canonical);
  h->main_thread = proc->main_thread;
  h->ch = proc->ch;
  h->on_frame = proc->on_frame;
  h->data_budget = -1;
  atomic_init (&h->seq, 0);
  g_mutex_init (&h->meta_lock);
  h->meta = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  h->process = proc;
  h->frame_login = g_strdup (login);
  pa_worker_api_fill (h);
  return h;
}

/* See pa-worker-logins.h. */
PaHost *
pa_worker_logins_route (PaHost *proc, json_t *frame)
{
  const char *login = json_string_value (json_object_get (frame, "login"));
  const char *t = json_string_value (json_object_get (frame, "t"));
  g_autoptr (GError) error = NULL;
  if (login == NULL || !pa_wire_id_valid (login, &error))
    {
      pa_worker_link_log (proc, PA_LOG_WARNING, "frame with an invalid login ignored");
      return NULL;
    }
  PaHost *h = g_hash_table_lookup (proc->logins, login);
  if (h == NULL && g_strcmp0 (t, "init") == 0)
    {
      h = login_host_new (proc, login, frame);
      if (h == NULL)
        return NULL;
      g_hash_table_insert (proc->logins, h->frame_login, h);
    }
  if (h == NULL || h->closed)
    {
      g_autofree char *msg
          = g_strdup_printf ("\"%s\" frame for login %s, which this worker does not run, ignored",
                             t != NULL ? t : "?", login);
      pa_worker_link_log (proc, PA_LOG_WARNING, msg);
      return NULL;
    }
  if (g_strcmp0 (t, "shutdown") == 0)
    {
      /* This login only: the process goes on for the others. */
      if (h->login != NULL)
        h->ops->login_free (h->login);
      h->login = NULL;
      g_atomic_int_set (&h->closed, TRUE);
      return NULL;
    }
  return h;
}

/* See pa-worker-logins.h. */
void
pa_worker_logins_close_all (PaHost *proc)
{
  GHashTableIter it;
  gpointer v;
  g_hash_table_iter_init (&it, proc->logins);
  while (g_hash_table_iter_next (&it, NULL, &v))
    {
      PaHost *h = v;
      if (h->login != NULL)
        h->ops->login_free (h->login);
      h->login = NULL;
      g_atomic_int_set (&h->closed, TRUE);
    }
}

/* See pa-worker-logins.h. */
void
pa_worker_logins_free (PaHost *proc)
{
  GHashTableIter it;
  gpointer v;
  g_hash_table_iter_init (&it, proc->logins);
  while (g_hash_table_iter_next (&it, NULL, &v))
    {
      PaHost *h = v;
      g_hash_table_unref (h->meta);
      g_mutex_clear (&h->meta_lock);
      g_free (h->data_dir);
      g_free (h->login_id);
      g_free (h->frame_login);
      g_free (h);
    }
  g_hash_table_unref (proc->logins);
  proc->logins = NULL;
  g_strfreev (proc->data_dirs);
  proc->data_dirs = NULL;
}
