/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Login processes of the provisioning API.  A process is a login begun as
 * `login` begins one (pa_login_begin), whose steps are driven over HTTP:
 * the login's login_step frames come here (PaAccount.driver), not to the
 * management room, and the management room's answers never reach it
 * (they go to a login whose `step` is set, which these never set).
 *
 * Requests wait for the plugin's next step (a long poll, at most wait_s):
 * start waits for the first step, a user_input answer for the step after
 * it, a display_and_wait for the next one (a rotated QR code counts).  A
 * wait that ends with nothing new answers the "wait" step (display_and_wait
 * of type nothing), which the client calls again.  A process nobody used
 * for idle_s seconds ends: its login half-way is cancelled and stopped. */
#define G_LOG_DOMAIN "passerelle-provision"

#include "pa-provision-login.h"

#include "pa-file-beneath.h"
#include "pa-login-table.h"
#include "pa-login-talk.h"
#include "pa-login.h"
#include "pa-provision-json.h"

#include <errno.h>
#include <unistd.h>

/* A QR code or other login image larger than this is not shown. */
#define IMAGE_MAX_BYTES (1024 * 1024)

struct _PaProvLogins
{
  PaBridge *b;
  guint idle_s;
  guint wait_s;
  gboolean closing;  /* the bridge stops: logins are left as they are */
  GHashTable *by_id; /* process id → Proc* */
};

typedef struct
{
  PaProvLogins *t;
  char *id;
  char *owner;
  char *plugin;
  PaAccount *login; /* NULL once it is gone */
  char *login_id;
  json_t *step;       /* the current step (API shape), NULL before the first */
  json_t *fields;     /* its fields as the plugin gave them (ids, defaults, choices) */
  char *prev_step_id; /* the step answered before it */
  gboolean answered;  /* the current step was submitted: the next is awaited */
  gboolean done;      /* complete */
  GPtrArray *waiters; /* Waiter* */
  guint expiry;
  /* the process ended without completing: what every request learns */
  guint fail_status;
  char *fail_errcode;
  char *fail_error;
} Proc;

typedef struct
{
  Proc *p;
  PaProvReq *r;
  guint timer;
} Waiter;

static const char *
str (json_t *o, const char *key)
{
  return json_string_value (json_object_get (o, key));
}

static void
waiter_drop (Waiter *w)
{
  g_clear_handle_id (&w->timer, g_source_remove);
  g_ptr_array_remove (w->p->waiters, w);
  g_free (w);
}

/* Every waiting request gets the current step (or the wait step). */
static void
answer_waiters (Proc *p)
{
  while (p->waiters->len > 0)
    {
      Waiter *w = g_ptr_array_index (p->waiters, 0);
      PaProvReq *r = w->r;
      waiter_drop (w);
      if (p->fail_errcode != NULL)
        pa_provision_req_error (r, p->fail_status, p->fail_errcode, "%s", p->fail_error);
      else if (p->step != NULL && !p->answered)
        pa_provision_req_json (r, SOUP_STATUS_OK, json_deep_copy (p->step));
      else
        pa_provision_req_json (r, SOUP_STATUS_OK, pa_provision_json_wait_step (p->id));
    }
}

static gboolean
waiter_timeout (gpointer data)
{
  Waiter *w = data;
  PaProvReq *r = w->r;
  Proc *p = w->p;
  w->timer = 0;
  waiter_drop (w);
  if (p->step != NULL && !p->answered)
    pa_provision_req_json (r, SOUP_STATUS_OK, json_deep_copy (p->step));
  else
    pa_provision_req_json (r, SOUP_STATUS_OK, pa_provision_json_wait_step (p->id));
  return G_SOURCE_REMOVE;
}

static void
wait_next (Proc *p, PaProvReq *r)
{
  Waiter *w = g_new0 (Waiter, 1);
  w->p = p;
  w->r = r;
  w->timer = g_timeout_add_seconds (p->t->wait_s, waiter_timeout, w);
  g_ptr_array_add (p->waiters, w);
}

static void
proc_fail (Proc *p, guint status, const char *errcode, const char *error)
{
  if (p->fail_errcode == NULL)
    {
      p->fail_status = status;
      p->fail_errcode = g_strdup (errcode);
      p->fail_error = g_strdup (error);
    }
  answer_waiters (p);
}

/* Lets go of the login: cancelled and stopped when half-way. */
static void
proc_release_login (Proc *p)
{
  PaAccount *l = p->login;
  if (l == NULL)
    return;
  p->login = NULL;
  l->driver = NULL;
  l->driver_step = NULL;
  l->driver_gone = NULL;
  if (l->logged_in || p->t->closing)
    return;
  g_autoptr (json_t) f = json_pack ("{s:s}", "t", "login_cancel");
  pa_worker_send (l->worker, f);
  pa_login_stop_and_free (l);
}

static void
proc_free (gpointer data)
{
  Proc *p = data;
  proc_fail (p, SOUP_STATUS_GONE, "FI.MAU.BRIDGE.LOGIN_CANCELLED", "the login process ended");
  proc_release_login (p);
  g_clear_handle_id (&p->expiry, g_source_remove);
  g_ptr_array_unref (p->waiters);
  json_decref (p->step);
  json_decref (p->fields);
  g_free (p->id);
  g_free (p->owner);
  g_free (p->plugin);
  g_free (p->login_id);
  g_free (p->prev_step_id);
  g_free (p->fail_errcode);
  g_free (p->fail_error);
  g_free (p);
}

static gboolean
proc_expired (gpointer data)
{
  Proc *p = data;
  p->expiry = 0;
  if (p->waiters->len > 0)
    {
      /* A request is waiting on it: it is in use. */
      p->expiry = g_timeout_add_seconds (p->t->idle_s, proc_expired, p);
      return G_SOURCE_REMOVE;
    }
  g_message ("login process %s of %s unused for %u s: ended", p->id, p->owner, p->t->idle_s);
  proc_fail (p, SOUP_STATUS_GONE, "FI.MAU.BRIDGE.LOGIN_TIMED_OUT", "login process timed out");
  g_hash_table_remove (p->t->by_id, p->id);
  return G_SOURCE_REMOVE;
}

static void
proc_touch (Proc *p)
{
  g_clear_handle_id (&p->expiry, g_source_remove);
  p->expiry = g_timeout_add_seconds (p->t->idle_s, proc_expired, p);
}

/* The step's image (a QR code), read now: the plugin may replace the file
 * with the next code.  Only a regular file beneath the login's data dir. */
static char *
image_data_url (Proc *p, const char *path)
{
  PaBridge *b = p->t->b;
  g_autofree char *root = g_build_filename (b->config->data_dir, p->login_id, NULL);
  g_autoptr (GError) e = NULL;
  struct stat st;
  int fd = pa_file_open_beneath (root, path, &st, &e);
  if (fd < 0)
    {
      g_warning ("login %s: image not shown: %s", p->login_id, e->message);
      return NULL;
    }
  if (st.st_size <= 0 || st.st_size > IMAGE_MAX_BYTES)
    {
      g_warning ("login %s: image of %lld bytes not shown", p->login_id, (long long) st.st_size);
      close (fd);
      return NULL;
    }
  g_autofree guchar *data = g_malloc ((gsize) st.st_size);
  gsize got = 0;
  while (got < (gsize) st.st_size)
    {
      ssize_t n = read (fd, data + got, (gsize) st.st_size - got);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      got += (gsize) n;
    }
  close (fd);
  if (got != (gsize) st.st_size)
    return NULL;
  g_autofree char *b64 = g_base64_encode (data, got);
  return g_strconcat ("data:image/png;base64,", b64, NULL);
}

/* PaAccount.driver_step: the plugin's next login step. */
static void
on_step (gpointer driver, json_t *frame)
{
  Proc *p = driver;
  json_t *wire = json_object_get (frame, "step");
  const char *kind = str (wire, "kind");
  if (kind == NULL || p->login == NULL)
    return;
  g_autofree char *image = NULL;
  if (g_str_equal (kind, "display_and_wait") && str (wire, "image_path"))
    image = image_data_url (p, str (wire, "image_path"));
  if (p->step != NULL)
    {
      g_free (p->prev_step_id);
      p->prev_step_id = g_strdup (str (p->step, "step_id"));
    }
  json_decref (p->step);
  p->step = pa_provision_json_step (wire, p->id, image, p->login_id);
  json_decref (p->fields);
  p->fields = json_incref (json_object_get (wire, "fields"));
  p->answered = FALSE;
  g_debug ("login process %s: step %s (%s)", p->id, str (p->step, "step_id"), kind);
  if (g_str_equal (kind, "complete"))
    {
      PaAccount *l = p->login;
      p->done = TRUE;
      pa_login_talk_complete (l, wire);
      /* Logged in: the login is the bridge's like any other now. */
      l->driver = NULL;
      l->driver_step = NULL;
      l->driver_gone = NULL;
      p->login = NULL;
      g_message ("login %s of %s completed over the provisioning API", p->login_id, p->owner);
    }
  answer_waiters (p);
}

/* PaAccount.driver_gone: the login stopped (a logout, its ministry). */
static void
on_gone (gpointer driver)
{
  Proc *p = driver;
  p->login = NULL;
  proc_fail (p, SOUP_STATUS_GONE, "FI.MAU.BRIDGE.LOGIN_CANCELLED", "the login was stopped");
}

PaProvLogins *
pa_provision_logins_new (PaBridge *b, guint idle_s, guint wait_s)
{
  PaProvLogins *t = g_new0 (PaProvLogins, 1);
  t->b = b;
  t->idle_s = idle_s;
  t->wait_s = wait_s;
  t->by_id = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, proc_free);
  return t;
}

void
pa_provision_logins_free (PaProvLogins *t)
{
  if (t == NULL)
    return;
  t->closing = TRUE;
  g_hash_table_destroy (t->by_id);
  g_free (t);
}

/* The process of r's user named id, or NULL (answered 404). */
static Proc *
proc_lookup (PaProvLogins *t, PaProvReq *r, const char *id)
{
  Proc *p = g_hash_table_lookup (t->by_id, id);
  if (p == NULL || !g_str_equal (p->owner, r->user))
    {
      pa_provision_req_error (r, SOUP_STATUS_NOT_FOUND, "M_NOT_FOUND", "Login not found");
      return NULL;
    }
  return p;
}

void
pa_provision_login_start (PaProvLogins *t, PaProvReq *r, const char *plugin, const char *flow_id)
{
  PaBridge *b = t->b;
  PaAccount *old = pa_login_find (b, r->user, plugin);
  if (old != NULL && !old->logged_in && old->driver == NULL)
    {
      pa_provision_req_error (r, SOUP_STATUS_CONFLICT, "FR.PASSERELLE.LOGIN_IN_PROGRESS",
                              "a login to %s is in progress in your management room; finish it "
                              "or send `cancel` there first",
                              plugin);
      return;
    }
  /* A process of ours half-way for this plugin is replaced, as a second
   * `login` replaces the first. */
  if (old != NULL && old->driver != NULL && old->driver_step == on_step)
    {
      Proc *prev = old->driver;
      g_hash_table_remove (t->by_id, prev->id);
    }
  g_autoptr (GError) e = NULL;
  PaAccount *l = pa_login_begin (b, r->user, plugin, flow_id, &e);
  if (l == NULL)
    {
      if (g_error_matches (e, PA_ERROR, PA_ERROR_PERMISSION))
        pa_provision_req_error (r, SOUP_STATUS_FORBIDDEN, "FI.MAU.BRIDGE.TOO_MANY_LOGINS",
                                "%s (one login per plugin: log out first)", e->message);
      else if (g_error_matches (e, PA_ERROR, PA_ERROR_NOT_FOUND))
        pa_provision_req_error (r, SOUP_STATUS_NOT_FOUND, "M_NOT_FOUND", "%s", e->message);
      else
        pa_provision_req_error (r, SOUP_STATUS_INTERNAL_SERVER_ERROR, "M_UNKNOWN", "%s",
                                e->message);
      return;
    }
  Proc *p = g_new0 (Proc, 1);
  p->t = t;
  g_autofree char *rnd = pa_random_token (12);
  p->id = g_strdup_printf ("pl_%s", rnd);
  for (char *c = p->id; *c; c++)
    if (!g_ascii_isalnum (*c) && *c != '_')
      *c = 'x';
  p->owner = g_strdup (r->user);
  p->plugin = g_strdup (plugin);
  p->login = l;
  p->login_id = g_strdup (l->id);
  p->waiters = g_ptr_array_new ();
  l->driver = p;
  l->driver_step = on_step;
  l->driver_gone = on_gone;
  g_hash_table_insert (t->by_id, p->id, p);
  proc_touch (p);
  g_message ("login process %s: %s logs in to %s (login %s)", p->id, p->owner, plugin, l->id);
  wait_next (p, r);
}

/* The values of a user_input answer: every field the step asks, checked
 * (a string each; required ones present; a choice among its choices). */
static json_t *
input_values (PaProvReq *r, json_t *wire_fields)
{
  gsize len = 0;
  const char *data = g_bytes_get_data (r->body, &len);
  json_error_t jerr;
  g_autoptr (json_t) in
      = len > 0 ? json_loadb (data, len, JSON_REJECT_DUPLICATES, &jerr) : json_object ();
  if (in == NULL)
    {
      pa_provision_req_error (r, SOUP_STATUS_BAD_REQUEST, "M_NOT_JSON",
                              "request body is not JSON: %s", jerr.text);
      return NULL;
    }
  const char *key;
  json_t *v;
  if (!json_is_object (in))
    {
      pa_provision_req_error (r, SOUP_STATUS_BAD_REQUEST, "M_BAD_JSON",
                              "the body must be an object of field id → string");
      return NULL;
    }
  json_object_foreach (in, key, v) if (!json_is_string (v))
  {
    pa_provision_req_error (r, SOUP_STATUS_BAD_REQUEST, "M_BAD_JSON",
                            "field %s: the value must be a string", key);
    return NULL;
  }
  g_autoptr (json_t) values = json_object ();
  size_t i;
  json_t *f;
  json_array_foreach (wire_fields, i, f)
  {
    const char *id = str (f, "id") ? str (f, "id") : "";
    const char *value = json_string_value (json_object_get (in, id));
    if (value == NULL || *value == '\0')
      value = str (f, "default");
    if (value == NULL && !json_is_true (json_object_get (f, "optional")))
      {
        pa_provision_req_error (r, SOUP_STATUS_BAD_REQUEST, "M_BAD_JSON", "field %s is required",
                                id);
        return NULL;
      }
    json_t *choices = json_object_get (f, "choices");
    gboolean found = json_array_size (choices) == 0 || value == NULL;
    size_t j;
    json_t *c;
    json_array_foreach (choices, j, c) found |= g_strcmp0 (json_string_value (c), value) == 0;
    if (!found)
      {
        pa_provision_req_error (r, SOUP_STATUS_BAD_REQUEST, "M_BAD_JSON",
                                "field %s: not one of the choices", id);
        return NULL;
      }
    json_object_set_new (values, id, json_string (value != NULL ? value : ""));
  }
  return g_steal_pointer (&values);
}

void
pa_provision_login_step (PaProvLogins *t, PaProvReq *r, const char *process_id, const char *step_id,
                         const char *step_type)
{
  Proc *p = proc_lookup (t, r, process_id);
  if (p == NULL)
    return;
  proc_touch (p);
  if (p->fail_errcode != NULL)
    {
      g_autofree char *errcode = g_strdup (p->fail_errcode);
      g_autofree char *error = g_strdup (p->fail_error);
      guint status = p->fail_status;
      g_hash_table_remove (t->by_id, p->id);
      pa_provision_req_error (r, status, errcode, "%s", error);
      return;
    }
  if (!g_str_equal (step_type, "user_input") && !g_str_equal (step_type, "display_and_wait")
      && !g_str_equal (step_type, "complete"))
    {
      pa_provision_req_error (r, SOUP_STATUS_NOT_FOUND, "M_UNRECOGNIZED", "invalid step type %s",
                              step_type);
      return;
    }
  if (p->done)
    {
      /* A repeated request after the end: the same answer. */
      pa_provision_req_json (r, SOUP_STATUS_OK, json_deep_copy (p->step));
      return;
    }
  gboolean waiting = p->step == NULL || p->answered;
  const char *cur_id = p->step != NULL ? str (p->step, "step_id") : NULL;
  const char *cur_type = p->step != NULL ? str (p->step, "type") : NULL;
  if (g_str_equal (step_id, PA_PROV_WAIT_STEP) && g_str_equal (step_type, "display_and_wait"))
    {
      if (waiting)
        wait_next (p, r);
      else
        pa_provision_req_json (r, SOUP_STATUS_OK, json_deep_copy (p->step));
      return;
    }
  if (!waiting && g_strcmp0 (step_id, p->prev_step_id) == 0 && g_strcmp0 (step_id, cur_id) != 0)
    {
      /* A retry of the step answered before: the step that followed it. */
      pa_provision_req_json (r, SOUP_STATUS_OK, json_deep_copy (p->step));
      return;
    }
  if (g_strcmp0 (step_id, cur_id) != 0)
    {
      pa_provision_req_error (r, SOUP_STATUS_BAD_REQUEST, "M_BAD_STATE", "Step ID does not match");
      return;
    }
  if (g_strcmp0 (step_type, cur_type) != 0)
    {
      pa_provision_req_error (r, SOUP_STATUS_BAD_REQUEST, "M_BAD_STATE",
                              "Step type does not match");
      return;
    }
  if (g_str_equal (step_type, "display_and_wait") || p->answered)
    {
      /* Nothing to send: wait for the plugin's next step (an answer sent
       * already is not sent twice). */
      wait_next (p, r);
      return;
    }
  if (p->login == NULL)
    {
      proc_fail (p, SOUP_STATUS_GONE, "FI.MAU.BRIDGE.LOGIN_CANCELLED", "the login was stopped");
      pa_provision_req_error (r, p->fail_status, p->fail_errcode, "%s", p->fail_error);
      return;
    }
  g_autoptr (json_t) values = input_values (r, p->fields);
  if (values == NULL)
    return;
  g_autoptr (json_t) submit
      = json_pack ("{s:s, s:s, s:O}", "t", "login_submit", "step_id", step_id, "values", values);
  if (!pa_worker_send (p->login->worker, submit))
    {
      pa_provision_req_error (r, SOUP_STATUS_SERVICE_UNAVAILABLE, "M_UNKNOWN",
                              "the %s connection is restarting; try again", p->plugin);
      return;
    }
  p->answered = TRUE;
  wait_next (p, r);
}

void
pa_provision_login_cancel (PaProvLogins *t, PaProvReq *r, const char *process_id)
{
  Proc *p = proc_lookup (t, r, process_id);
  if (p == NULL)
    return;
  g_hash_table_remove (t->by_id, p->id);
  pa_provision_req_json (r, SOUP_STATUS_OK, json_object ());
}
