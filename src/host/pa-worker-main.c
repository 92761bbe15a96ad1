/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Worker mode: one plugin, one login (or one import job) per process.
 *
 * The worker loads the plugin, implements PaHostApi by turning each call
 * into a frame for the host (docs/worker-protocol.md), and turns each host
 * frame into a call of the plugin's descriptor.  Plugin callbacks run on
 * the main thread; PaHostApi calls may come from any thread and are
 * marshalled to the main thread as ready-made frames. */
#define G_LOG_DOMAIN "passerelle-host"

#include "host/pa-frame.h"
#include "host/pa-plugin-loader.h"
#include "host/pa-wire.h"
#include "host/pa-worker.h"
#include "pa-common.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

/* Output backlog beyond which the host is considered stuck: the worker
 * exits and the host restarts it, rather than growing without bound. */
#define OUT_MAX (64u * 1024u * 1024u)
/* During a (synchronous) import the main loop does not run, so the worker
 * waits for the socket itself between these marks. */
#define IMPORT_HIGH_WATER (8u * 1024u * 1024u)
#define IMPORT_LOW_WATER (1u * 1024u * 1024u)
#define READ_CHUNK 65536
#define READS_PER_DISPATCH 16
#define SUBMIT_MAX 256
#define SHUTDOWN_FLUSH_MS 5000

/* Exit codes; the host reports anything but 0 as a crash. */
#define EXIT_USAGE 2
#define EXIT_PROTOCOL 3
#define EXIT_BACKLOG 4

struct PaHost
{
  PaPluginHandle *plugin;
  const PaPluginDescriptor *desc;
  const char *display_name;
  char *data_dir;
  char *login_id;
  GThread *main_thread;
  PaHostApi api;

  int fd;
  PaFrameReader *reader;
  GByteArray *out;
  gsize out_pos;
  guint in_watch;
  guint out_watch;

  atomic_uint_fast64_t seq;

  /* Metadata cache: meta_get answers from here, so it is shared with
   * plugin threads. */
  GMutex meta_lock;
  GHashTable *meta; /* "<scope>:<id>" -> value */

  PaLogin *login;
  gboolean init_done;
  gboolean in_import;
  gboolean import_started;
};

/* ---------------------------------------------------------------- output */

static gsize
out_pending (PaHost *h)
{
  return h->out->len - h->out_pos;
}

/* The host closed its end: there is nobody left to work for. */
G_GNUC_NORETURN static void
host_gone (void)
{
  fflush (stdout);
  fflush (stderr);
  _exit (0);
}

static gboolean on_writable (gint fd, GIOCondition cond, gpointer data);

static void
flush_now (PaHost *h)
{
  g_autoptr (GError) error = NULL;
  if (!pa_frame_flush (h->fd, h->out, &h->out_pos, &error))
    {
      g_debug ("host socket closed: %s", error->message);
      host_gone ();
    }
  if (out_pending (h) > 0 && h->out_watch == 0)
    h->out_watch = g_unix_fd_add (h->fd, G_IO_OUT, on_writable, h);
  else if (out_pending (h) == 0 && h->out_watch != 0)
    {
      g_source_remove (h->out_watch);
      h->out_watch = 0;
    }
}

static gboolean
on_writable (gint fd, GIOCondition cond, gpointer data)
{
  PaHost *h = data;
  g_autoptr (GError) error = NULL;
  if (!pa_frame_flush (h->fd, h->out, &h->out_pos, &error))
    host_gone ();
  if (out_pending (h) > 0)
    return G_SOURCE_CONTINUE;
  h->out_watch = 0;
  return G_SOURCE_REMOVE;
}

/* Block (this process only) until at most `target` bytes are pending or
 * `timeout_ms` (-1: none) has passed. */
static void
drain_blocking (PaHost *h, gsize target, gint64 timeout_ms)
{
  gint64 deadline = timeout_ms < 0 ? -1 : g_get_monotonic_time () / 1000 + timeout_ms;
  while (out_pending (h) > target)
    {
      int wait = -1;
      if (deadline >= 0)
        {
          gint64 left = deadline - g_get_monotonic_time () / 1000;
          if (left <= 0)
            return;
          wait = (int) MIN (left, G_MAXINT);
        }
      struct pollfd p = { .fd = h->fd, .events = POLLOUT };
      int r = poll (&p, 1, wait);
      if (r < 0 && errno != EINTR)
        return;
      g_autoptr (GError) error = NULL;
      if (!pa_frame_flush (h->fd, h->out, &h->out_pos, &error))
        host_gone ();
    }
}

/* Main thread only.  Takes `frame`. */
static void
queue_frame (PaHost *h, json_t *frame)
{
  g_autoptr (json_t) f = frame;
  g_autoptr (GError) error = NULL;
  if (!pa_frame_encode (f, h->out, &error))
    {
      const char *t = json_string_value (json_object_get (f, "t"));
      g_warning ("dropping %s frame: %s", t != NULL ? t : "?", error->message);
      return;
    }
  if (out_pending (h) > OUT_MAX)
    {
      g_warning ("more than %u bytes waiting for the host: exiting so it restarts this worker",
                  OUT_MAX);
      _exit (EXIT_BACKLOG);
    }
  flush_now (h);
  if (h->in_import && out_pending (h) > IMPORT_HIGH_WATER)
    drain_blocking (h, IMPORT_LOW_WATER, -1);
}

typedef struct
{
  PaHost *host;
  json_t *frame;
} Pending;

static gboolean
queue_pending (gpointer data)
{
  Pending *p = data;
  queue_frame (p->host, p->frame);
  g_free (p);
  return G_SOURCE_REMOVE;
}

/* Any thread.  Takes `frame`.  The frame is complete JSON already (the
 * arguments are copied), so only a pointer crosses threads. */
static void
submit (PaHost *h, json_t *frame)
{
  if (frame == NULL)
    return;
  if (g_thread_self () == h->main_thread)
    {
      queue_frame (h, frame);
      return;
    }
  Pending *p = g_new (Pending, 1);
  p->host = h;
  p->frame = frame;
  /* The main thread holds the default context for the whole life of the
   * process (see run_worker), so this always queues an idle on it and
   * never runs queue_frame on the calling thread. */
  g_main_context_invoke_full (NULL, G_PRIORITY_DEFAULT, queue_pending, p, NULL);
}

static json_t *
frame_new (const char *t)
{
  json_t *f = json_object ();
  json_object_set_new (f, "t", json_string (t));
  return f;
}

static void
send_log (PaHost *h, PaLogLevel level, const char *message)
{
  json_t *f = frame_new ("log");
  json_object_set_new (f, "level", json_string (pa_wire_log_level_to_string (level)));
  json_object_set_new (f, "message", pa_wire_string (message != NULL ? message : ""));
  submit (h, f);
}

static void
send_result (PaHost *h, guint64 op_id, gboolean ok, const char *legacy_id, const char *error)
{
  json_t *f = frame_new ("result");
  json_object_set_new (f, "op_id", json_integer ((json_int_t) MIN (op_id, G_MAXINT64)));
  json_object_set_new (f, "ok", json_boolean (ok));
  if (legacy_id != NULL)
    json_object_set_new (f, "legacy_id", pa_wire_string (legacy_id));
  if (error != NULL)
    json_object_set_new (f, "error", pa_wire_string (error));
  submit (h, f);
}

static void
send_login_state (PaHost *h, PaLoginState state, const char *message)
{
  const char *s = pa_wire_login_state_to_string (state);
  json_t *f = frame_new ("login_state");
  json_object_set_new (f, "state", json_string (s != NULL ? s : "unknown_error"));
  if (message != NULL)
    json_object_set_new (f, "message", pa_wire_string (message));
  submit (h, f);
}

/* ------------------------------------------------------------- host api */

static void
api_log (PaHost *host, PaLogLevel level, const char *message)
{
  g_return_if_fail (host != NULL);
  if (pa_wire_log_level_to_string (level) == NULL)
    level = PA_LOG_INFO;
  send_log (host, level, message);
}

static uint64_t
api_emit (PaHost *host, const PaEvent *event)
{
  g_return_val_if_fail (host != NULL, 0);
  g_return_val_if_fail (event != NULL, 0);
  g_autoptr (GError) error = NULL;
  json_t *ev = pa_wire_event_to_json (event, &error);
  if (ev == NULL)
    {
      /* 0 is never a valid sequence number: the plugin can tell. */
      g_warning ("%s: event refused: %s", host->desc->name, error->message);
      return 0;
    }
  uint64_t seq = atomic_fetch_add (&host->seq, 1) + 1;
  json_t *f = frame_new ("event");
  json_object_set_new (f, "seq", json_integer ((json_int_t) seq));
  json_object_set_new (f, "event", ev);
  submit (host, f);
  return seq;
}

static const char *
api_data_dir (PaHost *host)
{
  g_return_val_if_fail (host != NULL, NULL);
  return host->data_dir;
}

static void
api_login_step (PaHost *host, const PaLoginStep *step)
{
  g_return_if_fail (host != NULL);
  g_return_if_fail (step != NULL);
  g_autoptr (GError) error = NULL;
  json_t *s = pa_wire_login_step_to_json (step, &error);
  if (s == NULL)
    {
      g_warning ("%s: login step refused: %s", host->desc->name, error->message);
      return;
    }
  json_t *f = frame_new ("login_step");
  json_object_set_new (f, "step", s);
  submit (host, f);
}

static void
api_login_state (PaHost *host, PaLoginState state, const char *message)
{
  g_return_if_fail (host != NULL);
  send_login_state (host, state, message);
}

static void
api_op_result (PaHost *host, uint64_t op_id, bool ok, const char *legacy_id, const char *error)
{
  g_return_if_fail (host != NULL);
  send_result (host, op_id, ok, legacy_id, error);
}

static void
api_notice (PaHost *host, const char *text)
{
  g_return_if_fail (host != NULL);
  json_t *f = frame_new ("notice");
  json_object_set_new (f, "text", pa_wire_string (text != NULL ? text : ""));
  submit (host, f);
}

static char *
meta_key (PaMetaScope scope, const char *id)
{
  return g_strdup_printf ("%d:%s", (int) scope, id);
}

static void
meta_cache_set (PaHost *h, PaMetaScope scope, const char *id, const char *value)
{
  g_mutex_lock (&h->meta_lock);
  if (value != NULL)
    g_hash_table_replace (h->meta, meta_key (scope, id), g_strdup (value));
  else
    {
      g_autofree char *key = meta_key (scope, id);
      g_hash_table_remove (h->meta, key);
    }
  g_mutex_unlock (&h->meta_lock);
}

static void
api_meta_set (PaHost *host, PaMetaScope scope, const char *id, const char *value)
{
  g_return_if_fail (host != NULL);
  g_return_if_fail (id != NULL);
  const char *s = pa_wire_meta_scope_to_string (scope);
  if (s == NULL)
    {
      g_warning ("%s: meta_set with unknown scope %d", host->desc->name, (int) scope);
      return;
    }
  /* The cache is updated before returning, so a meta_get that follows on
   * any thread sees the value even before the host stored it. */
  meta_cache_set (host, scope, id, value);
  json_t *f = frame_new ("meta_set");
  json_object_set_new (f, "scope", json_string (s));
  json_object_set_new (f, "id", pa_wire_string (id));
  json_object_set_new (f, "value", pa_wire_string (value));
  submit (host, f);
}

static char *
api_meta_get (PaHost *host, PaMetaScope scope, const char *id)
{
  g_return_val_if_fail (host != NULL, NULL);
  g_return_val_if_fail (id != NULL, NULL);
  g_autofree char *key = meta_key (scope, id);
  g_mutex_lock (&host->meta_lock);
  const char *v = g_hash_table_lookup (host->meta, key);
  /* The ABI says the caller frees with free(): allocate with malloc. */
  char *copy = v != NULL ? strdup (v) : NULL;
  g_mutex_unlock (&host->meta_lock);
  return copy;
}

static void
api_op_contact (PaHost *host, uint64_t op_id, const PaMember *contact)
{
  g_return_if_fail (host != NULL);
  g_return_if_fail (contact != NULL);
  g_autoptr (GError) error = NULL;
  json_t *c = pa_wire_member_to_json (contact, &error);
  if (c == NULL)
    {
      g_warning ("%s: contact refused: %s", host->desc->name, error->message);
      return;
    }
  json_t *f = frame_new ("contact");
  json_object_set_new (f, "op_id", json_integer ((json_int_t) MIN (op_id, G_MAXINT64)));
  json_object_set_new (f, "contact", c);
  submit (host, f);
}

/* ------------------------------------------------------ host -> worker */

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

static void
handle_init (PaHost *h, json_t *frame)
{
  if (h->init_done)
    {
      send_log (h, PA_LOG_WARNING, "second init frame ignored");
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
      send_login_state (h, PA_STATE_UNKNOWN_ERROR, msg);
      return;
    }
  h->login_id = g_strdup (login_id);

  json_t *meta = json_object_get (frame, "meta");
  if (json_is_array (meta))
    {
      gsize i;
      json_t *m;
      json_array_foreach (meta, i, m)
      {
        const char *scope = json_string_value (json_object_get (m, "scope"));
        const char *id = json_string_value (json_object_get (m, "id"));
        const char *value = json_string_value (json_object_get (m, "value"));
        PaMetaScope sc;
        if (id == NULL || value == NULL || !pa_wire_meta_scope_from_string (scope, &sc))
          {
            g_warning ("init: skipping malformed meta entry %" G_GSIZE_FORMAT, i);
            continue;
          }
        meta_cache_set (h, sc, id, value);
      }
    }

  if (!ensure_data_dir (h, &error))
    {
      send_login_state (h, PA_STATE_UNKNOWN_ERROR, error->message);
      return;
    }
  if (h->desc->login_new == NULL)
    {
      g_autofree char *msg = g_strdup_printf ("%s cannot log in", h->display_name);
      send_login_state (h, PA_STATE_UNKNOWN_ERROR, msg);
      return;
    }
  char *err = NULL;
  h->login = h->desc->login_new (h, &h->api, saved, &err);
  if (h->login == NULL)
    {
      send_login_state (h, PA_STATE_UNKNOWN_ERROR, err != NULL ? err : "login failed");
      free (err);
    }
}

/* For frames without an op_id there is nobody to answer: a log frame tells
 * the host why nothing happened. */
static gboolean
check_member (PaHost *h, gboolean present, const char *what)
{
  if (!present)
    {
      g_autofree char *msg = g_strdup_printf ("%s cannot %s", h->display_name, what);
      send_log (h, PA_LOG_WARNING, msg);
      return FALSE;
    }
  if (h->login == NULL)
    {
      g_autofree char *msg = g_strdup_printf ("%s: not logged in", what);
      send_log (h, PA_LOG_WARNING, msg);
      return FALSE;
    }
  return TRUE;
}

static void
handle_login_start (PaHost *h, json_t *frame)
{
  g_autoptr (GError) error = NULL;
  const char *flow_id = NULL;
  if (!check_member (h, h->desc->login_start != NULL, "login_start"))
    return;
  if (!pa_wire_get_string (frame, "flow_id", FALSE, &flow_id, &error))
    {
      send_log (h, PA_LOG_WARNING, error->message);
      return;
    }
  h->desc->login_start (h->login, flow_id);
}

static void
handle_login_submit (PaHost *h, json_t *frame)
{
  g_autoptr (GError) error = NULL;
  const char *step_id = NULL;
  if (!check_member (h, h->desc->login_submit != NULL, "login_submit"))
    return;
  json_t *values = json_object_get (frame, "values");
  if (!pa_wire_get_string (frame, "step_id", FALSE, &step_id, &error))
    {
      send_log (h, PA_LOG_WARNING, error->message);
      return;
    }
  if (values != NULL && !json_is_object (values))
    {
      send_log (h, PA_LOG_WARNING, "login_submit: values must be an object");
      return;
    }
  if (json_object_size (values) > SUBMIT_MAX)
    {
      send_log (h, PA_LOG_WARNING, "login_submit: too many values");
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
        send_log (h, PA_LOG_WARNING, msg);
        return;
      }
    g_ptr_array_add (ids, (gpointer) key);
    g_ptr_array_add (vals, s);
  }
  h->desc->login_submit (h->login, step_id, (const char *const *) ids->pdata,
                         (const char *const *) vals->pdata, ids->len);
}

static void
handle_simple (PaHost *h, const char *t, void (*fn) (PaLogin *))
{
  if (check_member (h, fn != NULL, t))
    fn (h->login);
}

static void
handle_persisted (PaHost *h, json_t *frame)
{
  g_autoptr (GError) error = NULL;
  guint64 seq = 0;
  if (!pa_wire_get_uint (frame, "seq", G_MAXINT64, 0, &seq, &error) || seq == 0)
    {
      send_log (h, PA_LOG_WARNING, "persisted: missing or bad seq");
      return;
    }
  /* event_persisted is optional: then the plugin does not care. */
  if (h->desc->event_persisted != NULL && h->login != NULL)
    h->desc->event_persisted (h->login, seq);
}

/* ------------------------------------------------------------ operations */

typedef gboolean (*OpFn) (PaHost *h, guint64 op_id, json_t *f, GError **error);

#define STR(key, var) pa_wire_get_string (f, key, TRUE, &var, error)
#define OPT_STR(key, var) pa_wire_get_string (f, key, FALSE, &var, error)

static gboolean
get_content (json_t *f, PaContent *content, GError **error)
{
  json_t *c = json_object_get (f, "content");
  if (c == NULL)
    {
      g_set_error_literal (error, PA_ERROR, PA_ERROR_JSON, "missing content");
      return FALSE;
    }
  return pa_wire_content_from_json (c, content, error);
}

static gboolean
op_send (PaHost *h, guint64 op_id, json_t *f, GError **error)
{
  const char *chat_id, *txn_id;
  PaContent content;
  if (!STR ("chat_id", chat_id) || !OPT_STR ("txn_id", txn_id) || !get_content (f, &content, error))
    return FALSE;
  h->desc->send (h->login, op_id, chat_id, &content, txn_id);
  return TRUE;
}

static gboolean
op_edit (PaHost *h, guint64 op_id, json_t *f, GError **error)
{
  const char *chat_id, *target_id;
  PaContent content;
  if (!STR ("chat_id", chat_id) || !STR ("target_id", target_id)
      || !get_content (f, &content, error))
    return FALSE;
  h->desc->edit (h->login, op_id, chat_id, target_id, &content);
  return TRUE;
}

static gboolean
op_redact (PaHost *h, guint64 op_id, json_t *f, GError **error)
{
  const char *chat_id, *target_id;
  if (!STR ("chat_id", chat_id) || !STR ("target_id", target_id))
    return FALSE;
  h->desc->redact (h->login, op_id, chat_id, target_id);
  return TRUE;
}

static gboolean
op_react (PaHost *h, guint64 op_id, json_t *f, GError **error)
{
  const char *chat_id, *target_id, *key;
  gboolean remove;
  if (!STR ("chat_id", chat_id) || !STR ("target_id", target_id) || !STR ("key", key)
      || !pa_wire_get_bool (f, "remove", FALSE, &remove, error))
    return FALSE;
  h->desc->react (h->login, op_id, chat_id, target_id, key, remove);
  return TRUE;
}

static gboolean
op_mark_read (PaHost *h, guint64 op_id, json_t *f, GError **error)
{
  const char *chat_id, *message_id;
  if (!STR ("chat_id", chat_id) || !STR ("message_id", message_id))
    return FALSE;
  h->desc->mark_read (h->login, op_id, chat_id, message_id);
  return TRUE;
}

static gboolean
op_typing (PaHost *h, guint64 op_id, json_t *f, GError **error)
{
  const char *chat_id;
  gboolean typing;
  if (!STR ("chat_id", chat_id) || !pa_wire_get_bool (f, "typing", FALSE, &typing, error))
    return FALSE;
  h->desc->typing (h->login, op_id, chat_id, typing);
  return TRUE;
}

static gboolean
op_set_chat_info (PaHost *h, guint64 op_id, json_t *f, GError **error)
{
  const char *chat_id, *field, *value;
  if (!STR ("chat_id", chat_id) || !STR ("field", field) || !OPT_STR ("value", value))
    return FALSE;
  h->desc->set_chat_info (h->login, op_id, chat_id, field, value);
  return TRUE;
}

static gboolean
op_set_membership (PaHost *h, guint64 op_id, json_t *f, GError **error)
{
  const char *chat_id, *user_id;
  gboolean join;
  if (!STR ("chat_id", chat_id) || !STR ("user_id", user_id)
      || !pa_wire_get_bool (f, "join", FALSE, &join, error))
    return FALSE;
  h->desc->set_membership (h->login, op_id, chat_id, user_id, join);
  return TRUE;
}

static gboolean
op_resolve_identifier (PaHost *h, guint64 op_id, json_t *f, GError **error)
{
  const char *identifier, *mode;
  if (!STR ("identifier", identifier) || !OPT_STR ("mode", mode))
    return FALSE;
  PaResolveMode m = PA_RESOLVE_IDENTIFIER;
  if (mode != NULL && strcmp (mode, "search") == 0)
    m = PA_RESOLVE_SEARCH;
  else if (mode != NULL && strcmp (mode, "identifier") != 0)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_JSON, "unknown mode \"%s\"", mode);
      return FALSE;
    }
  h->desc->resolve_identifier (h->login, op_id, identifier, m);
  return TRUE;
}

static gboolean
op_list_contacts (PaHost *h, guint64 op_id, json_t *f, GError **error)
{
  h->desc->list_contacts (h->login, op_id);
  return TRUE;
}

static gboolean
op_create_dm (PaHost *h, guint64 op_id, json_t *f, GError **error)
{
  const char *user_id;
  if (!STR ("user_id", user_id))
    return FALSE;
  h->desc->create_dm (h->login, op_id, user_id);
  return TRUE;
}

static gboolean
op_create_group (PaHost *h, guint64 op_id, json_t *f, GError **error)
{
  const char *name;
  if (!OPT_STR ("name", name))
    return FALSE;
  json_t *arr = json_object_get (f, "user_ids");
  if (!json_is_array (arr) || json_array_size (arr) > PA_WIRE_MAX_ITEMS)
    {
      g_set_error_literal (error, PA_ERROR, PA_ERROR_JSON, "user_ids must be an array");
      return FALSE;
    }
  g_autoptr (GPtrArray) ids = g_ptr_array_new ();
  gsize i;
  json_t *v;
  json_array_foreach (arr, i, v)
  {
    if (!json_is_string (v))
      {
        g_set_error_literal (error, PA_ERROR, PA_ERROR_JSON, "user_ids must hold strings");
        return FALSE;
      }
    g_ptr_array_add (ids, (gpointer) json_string_value (v));
  }
  g_ptr_array_add (ids, NULL); /* not counted: a courtesy terminator */
  h->desc->create_group (h->login, op_id, name, (const char *const *) ids->pdata, ids->len - 1);
  return TRUE;
}

static gboolean
op_get_chat_info (PaHost *h, guint64 op_id, json_t *f, GError **error)
{
  const char *chat_id;
  if (!STR ("chat_id", chat_id))
    return FALSE;
  h->desc->get_chat_info (h->login, op_id, chat_id);
  return TRUE;
}

static gboolean
op_get_user_info (PaHost *h, guint64 op_id, json_t *f, GError **error)
{
  const char *user_id;
  if (!STR ("user_id", user_id))
    return FALSE;
  h->desc->get_user_info (h->login, op_id, user_id);
  return TRUE;
}

static gboolean
op_fetch_history (PaHost *h, guint64 op_id, json_t *f, GError **error)
{
  const char *chat_id, *cursor;
  guint64 count;
  gboolean forward;
  if (!STR ("chat_id", chat_id) || !OPT_STR ("cursor", cursor)
      || !pa_wire_get_uint (f, "count", G_MAXUINT32, 50, &count, error)
      || !pa_wire_get_bool (f, "forward", FALSE, &forward, error))
    return FALSE;
  h->desc->fetch_history (h->login, op_id, chat_id, cursor, (uint32_t) count, forward);
  return TRUE;
}

static gboolean
op_logout (PaHost *h, guint64 op_id, json_t *f, GError **error)
{
  h->desc->logout (h->login, op_id);
  return TRUE;
}

#undef STR
#undef OPT_STR

#define OP(name) { #name, offsetof (PaPluginDescriptor, name), op_##name }
static const struct
{
  const char *name;
  gsize member;
  OpFn fn;
} operations[] = {
  OP (send),          OP (edit),          OP (redact),
  OP (react),         OP (mark_read),     OP (typing),
  OP (set_chat_info), OP (set_membership), OP (resolve_identifier),
  OP (list_contacts), OP (create_dm),     OP (create_group),
  OP (get_chat_info), OP (get_user_info), OP (fetch_history),
  OP (logout),
};
#undef OP

static gboolean
member_present (const PaPluginDescriptor *d, gsize offset)
{
  void (*fn) (void);
  memcpy (&fn, (const char *) d + offset, sizeof fn);
  return fn != NULL;
}

static void
handle_op (PaHost *h, json_t *frame)
{
  g_autoptr (GError) error = NULL;
  guint64 op_id = 0;
  const char *op = NULL;
  if (json_object_get (frame, "op_id") == NULL
      || !pa_wire_get_uint (frame, "op_id", G_MAXINT64, 0, &op_id, &error))
    {
      send_log (h, PA_LOG_WARNING, "op frame without a valid op_id ignored");
      return;
    }
  if (!pa_wire_get_string (frame, "op", TRUE, &op, &error))
    {
      send_result (h, op_id, FALSE, NULL, "malformed operation: no op name");
      return;
    }
  for (gsize i = 0; i < G_N_ELEMENTS (operations); i++)
    {
      if (strcmp (operations[i].name, op) != 0)
        continue;
      if (!member_present (h->desc, operations[i].member))
        {
          g_autofree char *msg = g_strdup_printf ("%s cannot %s", h->display_name, op);
          send_result (h, op_id, FALSE, NULL, msg);
          return;
        }
      if (h->login == NULL)
        {
          send_result (h, op_id, FALSE, NULL, "not logged in");
          return;
        }
      /* Strings handed to the plugin point into `frame`, which the caller
       * keeps alive until this returns. */
      if (!operations[i].fn (h, op_id, frame, &error))
        {
          g_autofree char *msg = g_strdup_printf ("malformed %s operation: %s", op,
                                                  error->message);
          send_result (h, op_id, FALSE, NULL, msg);
        }
      return;
    }
  g_autofree char *msg = g_strdup_printf ("unknown operation \"%s\"", op);
  send_result (h, op_id, FALSE, NULL, msg);
}

static void
send_import_done (PaHost *h, gboolean ok, const char *error)
{
  json_t *f = frame_new ("import_done");
  json_object_set_new (f, "ok", json_boolean (ok));
  if (!ok)
    json_object_set_new (f, "error", pa_wire_string (error != NULL ? error : "import failed"));
  submit (h, f);
}

static void
handle_import (PaHost *h, json_t *frame)
{
  if (h->import_started)
    {
      send_log (h, PA_LOG_WARNING, "second import frame ignored");
      return;
    }
  h->import_started = TRUE;
  if (h->desc->import_file == NULL)
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
                   || !pa_wire_get_uint (o, "max_total_bytes", G_MAXINT64, 0, &max_total,
                                         &error)
                   || !pa_wire_get_uint (o, "max_entries", G_MAXINT64, 0, &max_entries,
                                         &error))))
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
    g_warning ("%s", error->message);

  char *err = NULL;
  h->in_import = TRUE;
  gboolean ok = h->desc->import_file (h, &h->api, path, &opts, &err);
  h->in_import = FALSE;
  send_import_done (h, ok, err);
  free (err);
}

static void
host_free (PaHost *h)
{
  if (h->in_watch != 0)
    g_source_remove (h->in_watch);
  if (h->out_watch != 0)
    g_source_remove (h->out_watch);
  pa_frame_reader_free (h->reader);
  g_byte_array_unref (h->out);
  g_hash_table_unref (h->meta);
  g_mutex_clear (&h->meta_lock);
  pa_plugin_handle_free (h->plugin);
  g_free (h->data_dir);
  g_free (h->login_id);
  g_free (h);
}

G_GNUC_NORETURN static void
handle_shutdown (PaHost *h)
{
  if (h->login != NULL && h->desc->login_free != NULL)
    h->desc->login_free (h->login);
  h->login = NULL;
  /* Stop reading, then let frames that plugin threads posted before
   * login_free returned reach the out buffer, and send them. */
  g_source_remove (h->in_watch);
  h->in_watch = 0;
  for (int i = 0; i < 100000 && g_main_context_pending (NULL); i++)
    g_main_context_iteration (NULL, FALSE);
  drain_blocking (h, 0, SHUTDOWN_FLUSH_MS);
  int fd = h->fd;
  host_free (h);
  close (fd);
  fflush (stdout);
  fflush (stderr);
  exit (0);
}

static void
handle_frame (PaHost *h, json_t *frame)
{
  const char *t = json_string_value (json_object_get (frame, "t"));
  if (t == NULL)
    send_log (h, PA_LOG_WARNING, "frame without a type ignored");
  else if (strcmp (t, "init") == 0)
    handle_init (h, frame);
  else if (strcmp (t, "op") == 0)
    handle_op (h, frame);
  else if (strcmp (t, "persisted") == 0)
    handle_persisted (h, frame);
  else if (strcmp (t, "login_start") == 0)
    handle_login_start (h, frame);
  else if (strcmp (t, "login_submit") == 0)
    handle_login_submit (h, frame);
  else if (strcmp (t, "login_cancel") == 0)
    handle_simple (h, t, h->desc->login_cancel);
  else if (strcmp (t, "connect") == 0)
    handle_simple (h, t, h->desc->connect);
  else if (strcmp (t, "disconnect") == 0)
    handle_simple (h, t, h->desc->disconnect);
  else if (strcmp (t, "import") == 0)
    handle_import (h, frame);
  else if (strcmp (t, "shutdown") == 0)
    handle_shutdown (h);
  else
    {
      /* A newer host may know frames this worker does not. */
      g_autofree char *msg = g_strdup_printf ("unknown frame type \"%s\" ignored", t);
      send_log (h, PA_LOG_WARNING, msg);
    }
}

static gboolean
on_readable (gint fd, GIOCondition cond, gpointer data)
{
  PaHost *h = data;
  guint8 buf[READ_CHUNK];

  /* Bounded work per wake-up, so a chatty host cannot starve plugin
   * timers and other sources on this loop. */
  for (int i = 0; i < READS_PER_DISPATCH; i++)
    {
      ssize_t n = read (fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return G_SOURCE_CONTINUE;
      if (n <= 0)
        host_gone ();
      pa_frame_reader_feed (h->reader, buf, (gsize) n);
      for (;;)
        {
          g_autoptr (GError) error = NULL;
          g_autoptr (json_t) frame = pa_frame_reader_next (h->reader, &error);
          if (error != NULL)
            {
              g_warning ("protocol error from the host: %s", error->message);
              fflush (stderr);
              _exit (EXIT_PROTOCOL);
            }
          if (frame == NULL)
            break;
          handle_frame (h, frame);
        }
    }
  return G_SOURCE_CONTINUE;
}

/* ------------------------------------------------------------ entry */

static int
run_describe (const char *path)
{
  /* Plugin constructors (a Go runtime, a chatty library) may print on
   * stdout: point fd 1 at stderr while the plugin loads, and write the
   * hello on the saved original. */
  fflush (stdout);
  int real_stdout = fcntl (STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
  if (real_stdout < 0 || dup2 (STDERR_FILENO, STDOUT_FILENO) < 0)
    {
      g_printerr ("cannot redirect stdout: %s\n", g_strerror (errno));
      return 1;
    }
  g_autoptr (GError) error = NULL;
  g_autoptr (PaPluginHandle) plugin = pa_plugin_load (path, &error);
  if (plugin == NULL)
    {
      g_printerr ("%s\n", error->message);
      close (real_stdout);
      return 1;
    }
  g_autoptr (json_t) hello = pa_wire_hello (pa_plugin_handle_descriptor (plugin));
  g_autofree char *text = json_dumps (hello, JSON_COMPACT);
  if (text == NULL)
    {
      g_printerr ("cannot serialise the hello of %s\n", path);
      close (real_stdout);
      return 1;
    }
  gsize len = strlen (text), done = 0;
  while (done < len)
    {
      ssize_t n = write (real_stdout, text + done, len - done);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          g_printerr ("cannot write the description: %s\n", g_strerror (errno));
          close (real_stdout);
          return 1;
        }
      done += (gsize) n;
    }
  return close (real_stdout) == 0 ? 0 : 1;
}

static int
run_worker (const char *plugin_path, const char *data_dir, int fd)
{
  /* The host may die without closing anything cleanly (SIGKILL, OOM). */
  if (prctl (PR_SET_PDEATHSIG, SIGKILL) != 0)
    g_warning ("prctl(PR_SET_PDEATHSIG): %s", g_strerror (errno));
  signal (SIGPIPE, SIG_IGN);

  struct stat st;
  if (fstat (fd, &st) != 0 || !S_ISSOCK (st.st_mode))
    {
      g_printerr ("--fd %d is not a socket\n", fd);
      return EXIT_USAGE;
    }
  /* Children the plugin spawns must not hold the host's socket open. */
  if (fcntl (fd, F_SETFD, FD_CLOEXEC) != 0)
    g_warning ("fcntl(FD_CLOEXEC): %s", g_strerror (errno));
  g_autoptr (GError) error = NULL;
  if (!g_unix_set_fd_nonblocking (fd, TRUE, &error))
    {
      g_printerr ("--fd %d: %s\n", fd, error->message);
      return EXIT_USAGE;
    }

  /* Owned by this thread for the process's life: g_main_context_invoke
   * from a plugin thread then always defers to the main thread. */
  g_main_context_acquire (g_main_context_default ());

  PaPluginHandle *plugin = pa_plugin_load (plugin_path, &error);
  if (plugin == NULL)
    {
      g_printerr ("%s\n", error->message);
      return 1;
    }

  PaHost *h = g_new0 (PaHost, 1);
  h->plugin = plugin;
  h->desc = pa_plugin_handle_descriptor (plugin);
  h->display_name = pa_plugin_handle_display_name (plugin);
  h->data_dir = g_canonicalize_filename (data_dir, NULL);
  h->main_thread = g_thread_self ();
  h->fd = fd;
  h->reader = pa_frame_reader_new ();
  h->out = g_byte_array_new ();
  atomic_init (&h->seq, 0);
  g_mutex_init (&h->meta_lock);
  h->meta = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  h->api = (PaHostApi){
    .struct_size = sizeof (PaHostApi),
    .abi_major = PA_PLUGIN_ABI_MAJOR,
    .abi_minor = PA_PLUGIN_ABI_MINOR,
    .log = api_log,
    .emit = api_emit,
    .data_dir = api_data_dir,
    .login_step = api_login_step,
    .login_state = api_login_state,
    .op_result = api_op_result,
    .notice = api_notice,
    .meta_set = api_meta_set,
    .meta_get = api_meta_get,
    .op_contact = api_op_contact,
  };

  queue_frame (h, pa_wire_hello (h->desc));
  h->in_watch = g_unix_fd_add (fd, G_IO_IN | G_IO_HUP | G_IO_ERR, on_readable, h);

  /* Runs until a handler exits the process (shutdown, EOF, error). */
  g_autoptr (GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_main_loop_run (loop);
  return 0;
}

/* See pa-worker.h.  Accepts (and ignores) the --worker flag main.c matched
 * on, so main can pass its argv through unchanged. */
int
pa_worker_main (int argc, char **argv)
{
  gboolean worker = FALSE;
  g_autofree char *plugin = NULL;
  g_autofree char *data_dir = NULL;
  g_autofree char *describe = NULL;
  int fd = -1;
  const GOptionEntry entries[] = {
    { "worker", 0, 0, G_OPTION_ARG_NONE, &worker, "Run as a plugin worker", NULL },
    { "plugin", 0, 0, G_OPTION_ARG_FILENAME, &plugin, "Plugin to load", "PATH" },
    { "data-dir", 0, 0, G_OPTION_ARG_FILENAME, &data_dir, "The login's private directory",
      "DIR" },
    { "fd", 0, 0, G_OPTION_ARG_INT, &fd, "Socket connected to the host", "N" },
    { "describe", 0, 0, G_OPTION_ARG_FILENAME, &describe, "Print a plugin's hello and exit",
      "PATH" },
    { NULL, 0, 0, 0, NULL, NULL, NULL },
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("- passerelle plugin worker");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_set_help_enabled (ctx, TRUE);
  g_auto (GStrv) args = g_new0 (char *, (gsize) MAX (argc, 0) + 1);
  for (int i = 0; i < argc; i++)
    args[i] = g_strdup (argv[i]);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse_strv (ctx, &args, &error))
    {
      g_printerr ("passerelle --worker: %s\n", error->message);
      return EXIT_USAGE;
    }
  if (args[0] != NULL && args[1] != NULL)
    {
      g_printerr ("passerelle --worker: unexpected argument %s\n", args[1]);
      return EXIT_USAGE;
    }
  if (describe != NULL)
    return run_describe (describe);
  if (plugin == NULL || data_dir == NULL || fd < 0)
    {
      g_printerr ("passerelle --worker: --plugin, --data-dir and --fd are required\n");
      return EXIT_USAGE;
    }
  return run_worker (plugin, data_dir, fd);
}
