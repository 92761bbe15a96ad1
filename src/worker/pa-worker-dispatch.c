/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Host frames → plugin calls (pa-worker-dispatch.h).  The network is set
 * up lazily by the first frame that needs it (init for a login, import for
 * an import job), with the configuration that frame carries: the worker's
 * argv and environment never hold it. */
#define G_LOG_DOMAIN "passerelle-worker"

#include "worker/pa-worker-dispatch.h"
#include "pa-common.h"
#include "wire/pa-wire.h"
#include "worker/pa-worker-api.h"
#include "worker/pa-worker-link.h"
#include "worker/pa-worker-logins.h"
#include "worker/pa-worker-ops.h"
#include "worker/pa-worker-secrets.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>

#define SUBMIT_MAX 256
#define SHUTDOWN_FLUSH_MS 5000

static gboolean
ensure_data_dir (PaHost *h, GError **error)
{
  if (g_mkdir_with_parents (h->data_dir, 0700) != 0)
    {
      int e = errno;
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (e), "cannot create %s: %s",
                   h->data_dir, g_strerror (e));
      return FALSE;
    }
  /* It may predate us with looser permissions: it holds sessions. */
  if (chmod (h->data_dir, 0700) != 0)
    {
      int e = errno;
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (e), "cannot chmod %s: %s",
                   h->data_dir, g_strerror (e));
      return FALSE;
    }
  return TRUE;
}

/* Keep the configuration and budget of `frame`, then network->init.  FALSE
 * with `error` when the frame is malformed or the network refuses. */
static gboolean
network_init (PaHost *h, json_t *frame, GError **error)
{
  if (h->network_ready)
    return TRUE;
  if (h->network_failed)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_PLUGIN, "%s failed to start", h->display_name);
      return FALSE;
    }
  json_t *config = json_object_get (frame, "config");
  if (config != NULL && !json_is_object (config))
    {
      g_set_error_literal (error, PA_ERROR, PA_ERROR_JSON, "config must be an object");
      return FALSE;
    }
  json_t *budget = json_object_get (frame, "data_budget");
  if (budget != NULL && !json_is_integer (budget))
    {
      g_set_error_literal (error, PA_ERROR, PA_ERROR_JSON, "data_budget must be an integer");
      return FALSE;
    }
  h->config = config != NULL ? json_deep_copy (config) : json_object ();
  h->data_budget
      = budget != NULL && json_integer_value (budget) >= 0 ? json_integer_value (budget) : -1;
  if (h->net->init != NULL)
    {
      char *err = NULL;
      gint64 t0 = g_get_monotonic_time ();
      gboolean ok = h->net->init (h, &h->api, &err);
      pa_worker_link_check_slow (h, "init", t0);
      if (!ok)
        {
          h->network_failed = TRUE;
          g_set_error (error, PA_ERROR, PA_ERROR_PLUGIN, "%s cannot start: %s", h->display_name,
                       err != NULL ? err : "init failed");
          free (err);
          return FALSE;
        }
    }
  h->network_ready = TRUE;
  return TRUE;
}

static void
handle_init (PaHost *h, json_t *frame)
{
  if (h->init_done)
    {
      pa_worker_link_log (h, PA_LOG_WARNING, "second init frame ignored");
      return;
    }
  h->init_done = TRUE;

  g_autoptr (GError) error = NULL;
  const char *login_id = NULL;
  gboolean saved = FALSE;
  if (!pa_wire_get_string (frame, "login_id", FALSE, &login_id, &error)
      || !pa_wire_get_bool (frame, "saved", FALSE, &saved, &error))
    {
      g_autofree char *msg = g_strdup_printf ("invalid init frame: %s", error->message);
      pa_worker_link_login_state (h, PA_STATE_UNKNOWN_ERROR, msg);
      return;
    }
  h->login_id = g_strdup (login_id);
  pa_worker_api_meta_preload (h, json_object_get (frame, "meta"));
  if (!pa_worker_secrets_init (h, frame, &error))
    {
      g_autofree char *msg = g_strdup_printf ("invalid init frame: %s", error->message);
      pa_worker_link_login_state (h, PA_STATE_UNKNOWN_ERROR, msg);
      return;
    }

  /* A login of a shared worker: the network is the process's, set up by
   * its first login's init; the budget is the login's own. */
  PaHost *proc = h->process != NULL ? h->process : h;
  if (!ensure_data_dir (h, &error) || !network_init (proc, frame, &error))
    {
      pa_worker_link_login_state (h, PA_STATE_UNKNOWN_ERROR, error->message);
      return;
    }
  if (proc != h)
    {
      json_t *budget = json_object_get (frame, "data_budget");
      h->config = proc->config;
      h->data_budget = json_is_integer (budget) && json_integer_value (budget) >= 0
                           ? json_integer_value (budget)
                           : -1;
    }
  if (h->net->login_new == NULL)
    {
      g_autofree char *msg = g_strdup_printf ("%s cannot log in", h->display_name);
      pa_worker_link_login_state (h, PA_STATE_UNKNOWN_ERROR, msg);
      return;
    }
  char *err = NULL;
  gint64 t0 = g_get_monotonic_time ();
  h->login = h->net->login_new (h, saved, &err);
  pa_worker_link_check_slow (h, "login_new", t0);
  if (h->login == NULL)
    pa_worker_link_login_state (h, PA_STATE_UNKNOWN_ERROR, err != NULL ? err : "login failed");
  free (err);
}

/* For frames without an op_id there is nobody to answer: a log frame tells
 * the host why nothing happened. */
static gboolean
check_member (PaHost *h, gboolean present, const char *what)
{
  if (!present)
    {
      g_autofree char *msg = g_strdup_printf ("%s cannot %s", h->display_name, what);
      pa_worker_link_log (h, PA_LOG_WARNING, msg);
      return FALSE;
    }
  if (h->login == NULL)
    {
      g_autofree char *msg = g_strdup_printf ("%s: not logged in", what);
      pa_worker_link_log (h, PA_LOG_WARNING, msg);
      return FALSE;
    }
  return TRUE;
}

static void
handle_login_start (PaHost *h, json_t *frame)
{
  g_autoptr (GError) error = NULL;
  const char *flow_id = NULL;
  if (!check_member (h, h->ops != NULL && h->ops->login_start != NULL, "login_start"))
    return;
  if (!pa_wire_get_string (frame, "flow_id", FALSE, &flow_id, &error))
    {
      pa_worker_link_log (h, PA_LOG_WARNING, error->message);
      return;
    }
  gint64 t0 = g_get_monotonic_time ();
  h->ops->login_start (h->login, flow_id);
  pa_worker_link_check_slow (h, "login_start", t0);
}

static void
handle_login_submit (PaHost *h, json_t *frame)
{
  g_autoptr (GError) error = NULL;
  const char *step_id = NULL;
  if (!check_member (h, h->ops != NULL && h->ops->login_submit != NULL, "login_submit"))
    return;
  json_t *values = json_object_get (frame, "values");
  if (!pa_wire_get_string (frame, "step_id", FALSE, &step_id, &error))
    {
      pa_worker_link_log (h, PA_LOG_WARNING, error->message);
      return;
    }
  if (values != NULL && !json_is_object (values))
    {
      pa_worker_link_log (h, PA_LOG_WARNING, "login_submit: values must be an object");
      return;
    }
  if (json_object_size (values) > SUBMIT_MAX)
    {
      pa_worker_link_log (h, PA_LOG_WARNING, "login_submit: too many values");
      return;
    }
  g_autoptr (GPtrArray) ids = g_ptr_array_new ();
  g_autoptr (GPtrArray) vals = g_ptr_array_new_with_free_func (g_free);
  const char *key;
  json_t *v;
  json_object_foreach (values, key, v)
  {
    /* Field values are strings on the ABI; booleans and numbers are
     * accepted in their documented string spelling. */
    char *s;
    if (json_is_string (v))
      s = g_strdup (json_string_value (v));
    else if (json_is_boolean (v))
      s = g_strdup (json_is_true (v) ? "true" : "false");
    else if (json_is_integer (v))
      s = g_strdup_printf ("%" JSON_INTEGER_FORMAT, json_integer_value (v));
    else
      {
        g_autofree char *msg = g_strdup_printf ("login_submit: value of %s must be a string", key);
        pa_worker_link_log (h, PA_LOG_WARNING, msg);
        return;
      }
    g_ptr_array_add (ids, (gpointer) key);
    g_ptr_array_add (vals, s);
  }
  gint64 t0 = g_get_monotonic_time ();
  h->ops->login_submit (h->login, step_id, (const char *const *) ids->pdata,
                        (const char *const *) vals->pdata, ids->len);
  pa_worker_link_check_slow (h, "login_submit", t0);
}

static void
handle_simple (PaHost *h, const char *t, void (*fn) (PaLogin *))
{
  if (!check_member (h, fn != NULL, t))
    return;
  gint64 t0 = g_get_monotonic_time ();
  fn (h->login);
  pa_worker_link_check_slow (h, t, t0);
}

static void
handle_persisted (PaHost *h, json_t *frame)
{
  g_autoptr (GError) error = NULL;
  guint64 seq = 0;
  if (!pa_wire_get_uint (frame, "seq", G_MAXINT64, 0, &seq, &error) || seq == 0)
    {
      pa_worker_link_log (h, PA_LOG_WARNING, "persisted: missing or bad seq");
      return;
    }
  /* event_persisted is optional: then the plugin does not care. */
  if (h->ops != NULL && h->ops->event_persisted != NULL && h->login != NULL)
    h->ops->event_persisted (h->login, seq);
}

static void
send_import_done (PaHost *h, gboolean ok, const char *error)
{
  json_t *f = pa_worker_frame_new ("import_done");
  json_object_set_new (f, "ok", json_boolean (ok));
  if (!ok)
    json_object_set_new (f, "error", pa_wire_string (error != NULL ? error : "import failed"));
  pa_worker_link_submit (h, f);
}

static char *
canonical_dir (const char *path)
{
  if (path == NULL)
    return NULL;
  g_autofree char *abs = g_canonicalize_filename (path, NULL);
  return realpath (abs, NULL);
}

static void
handle_import (PaHost *h, json_t *frame)
{
  if (h->import_started)
    {
      pa_worker_link_log (h, PA_LOG_WARNING, "second import frame ignored");
      return;
    }
  h->import_started = TRUE;
  if (h->net->import_file == NULL)
    {
      g_autofree char *msg = g_strdup_printf ("%s cannot import", h->display_name);
      send_import_done (h, FALSE, msg);
      return;
    }

  g_autoptr (GError) error = NULL;
  const char *path = NULL;
  PaImportOptions opts = { .struct_size = sizeof opts };
  json_t *o = json_object_get (frame, "options");
  guint64 max_total = 0, max_entries = 0;
  if (o != NULL && !json_is_object (o))
    g_set_error_literal (&error, PA_ERROR, PA_ERROR_JSON, "options must be an object");
  else if (!pa_wire_get_string (frame, "path", TRUE, &path, &error)
           || (o != NULL
               && (!pa_wire_get_string (o, "timezone", FALSE, &opts.timezone, &error)
                   || !pa_wire_get_string (o, "chat", FALSE, &opts.chat, &error)
                   || !pa_wire_get_string (o, "work_dir", FALSE, &opts.work_dir, &error)
                   || !pa_wire_get_uint (o, "max_total_bytes", G_MAXINT64, 0, &max_total, &error)
                   || !pa_wire_get_uint (o, "max_entries", G_MAXINT64, 0, &max_entries, &error))))
    {
      /* error set by the getter */
    }
  if (error != NULL)
    {
      g_autofree char *msg = g_strdup_printf ("malformed import frame: %s", error->message);
      send_import_done (h, FALSE, msg);
      return;
    }
  opts.max_total_bytes = max_total;
  opts.max_entries = max_entries;
  if (!ensure_data_dir (h, &error))
    {
      g_warning ("%s", error->message);
      g_clear_error (&error);
    }
  if (opts.work_dir != NULL)
    g_mkdir_with_parents (opts.work_dir, 0700);
  h->import_work_dir = canonical_dir (opts.work_dir);
  g_autofree char *file_dir = g_path_get_dirname (path);
  h->import_file_dir = canonical_dir (file_dir);
  if (!network_init (h, frame, &error))
    {
      send_import_done (h, FALSE, error->message);
      return;
    }

  char *err = NULL;
  h->in_import = TRUE;
  gboolean ok = h->net->import_file (h, path, &opts, &err);
  h->in_import = FALSE;
  send_import_done (h, ok, err);
  free (err);
}

static void
host_free (PaHost *h)
{
  if (h->logins != NULL)
    pa_worker_logins_free (h);
  pa_frame_channel_free (h->ch);
  g_hash_table_unref (h->meta);
  g_mutex_clear (&h->meta_lock);
  pa_plugin_handle_free (h->plugin);
  g_clear_pointer (&h->config, json_decref);
  g_free (h->data_dir);
  g_free (h->login_id);
  g_free (h->import_work_dir);
  g_free (h->import_file_dir);
  g_free (h);
}

G_GNUC_NORETURN static void
handle_shutdown (PaHost *h)
{
  if (h->login != NULL)
    h->ops->login_free (h->login);
  h->login = NULL;
  if (h->logins != NULL)
    pa_worker_logins_close_all (h);
  if (h->network_ready && h->net->shutdown != NULL)
    h->net->shutdown (h);
  /* Stop reading, then let frames that plugin threads posted before
   * login_free returned reach the out buffer, and send them. */
  pa_worker_link_stop_reading (h);
  for (int i = 0; i < 100000 && g_main_context_pending (NULL); i++)
    g_main_context_iteration (NULL, FALSE);
  pa_worker_link_drain (h, SHUTDOWN_FLUSH_MS);
  host_free (h);
  fflush (stdout);
  fflush (stderr);
  exit (0);
}

/* See pa-worker-dispatch.h. */
void
pa_worker_dispatch_frame (PaHost *h, json_t *frame)
{
  if (h->process == NULL && json_object_get (frame, "login") != NULL)
    {
      /* A shared worker: the frame goes to the login it names. */
      h = pa_worker_logins_route (h, frame);
      if (h == NULL)
        return;
    }
  const char *t = json_string_value (json_object_get (frame, "t"));
  if (t == NULL)
    pa_worker_link_log (h, PA_LOG_WARNING, "frame without a type ignored");
  else if (strcmp (t, "init") == 0)
    handle_init (h, frame);
  else if (strcmp (t, "op") == 0)
    pa_worker_ops_handle (h, frame);
  else if (strcmp (t, "persisted") == 0)
    handle_persisted (h, frame);
  else if (strcmp (t, "login_start") == 0)
    handle_login_start (h, frame);
  else if (strcmp (t, "login_submit") == 0)
    handle_login_submit (h, frame);
  else if (strcmp (t, "login_cancel") == 0)
    handle_simple (h, t, h->ops != NULL ? h->ops->login_cancel : NULL);
  else if (strcmp (t, "connect") == 0)
    handle_simple (h, t, h->ops != NULL ? h->ops->connect : NULL);
  else if (strcmp (t, "disconnect") == 0)
    handle_simple (h, t, h->ops != NULL ? h->ops->disconnect : NULL);
  else if (strcmp (t, "import") == 0)
    handle_import (h, frame);
  else if (strcmp (t, "shutdown") == 0)
    handle_shutdown (h);
  else if (strcmp (t, "ping") == 0)
    {
      /* The host's watchdog: answered from the main loop, so a worker
       * whose loop is stuck does not answer. */
      json_t *pong = pa_worker_frame_new ("pong");
      json_object_set (pong, "seq", json_object_get (frame, "seq"));
      pa_worker_link_submit (h, pong);
    }
  else
    {
      /* A newer host may know frames this worker does not. */
      g_autofree char *msg = g_strdup_printf ("unknown frame type \"%s\" ignored", t);
      pa_worker_link_log (h, PA_LOG_WARNING, msg);
    }
}
