/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * purple-requests.c — libpurple's request UI ops → login steps: input,
 * choice, action and fields become a USER_INPUT step, an image field (a QR
 * code) a DISPLAY_AND_WAIT step with a PNG in the data dir; the agent's
 * answer calls the prpl back.  One question is shown at a time.
 *
 * Why apart: a queue of pending questions and their callbacks, closed by
 * the prpl or by the agent.
 */
#define G_LOG_DOMAIN "passerelle-purple"

#include <string.h>
#include <glib/gstdio.h>

#include "purple-common.h"
#include "purple-requests.h"

static void pp_show_next_request (PaLogin *login);

typedef struct
{
  guint id;
  PurpleRequestType type;
  char *step_id;
  char *title;
  GCallback ok_cb;
  GCallback cancel_cb;
  void *user_data;
  PurpleRequestFields *fields; /* FIELDS: ours to destroy */
  gboolean masked;             /* INPUT */
  GPtrArray *labels;           /* CHOICE / ACTION labels */
  GArray *values;              /* CHOICE values (int) */
  GPtrArray *callbacks;        /* ACTION callbacks */
  char *image_path;
  gboolean shown;
} PpRequest;

static void
pp_request_free (PpRequest *r)
{
  if (r->fields != NULL)
    purple_request_fields_destroy (r->fields);
  if (r->image_path != NULL)
    g_unlink (r->image_path);
  g_free (r->image_path);
  g_free (r->step_id);
  g_free (r->title);
  if (r->labels != NULL)
    g_ptr_array_unref (r->labels);
  if (r->values != NULL)
    g_array_unref (r->values);
  if (r->callbacks != NULL)
    g_ptr_array_unref (r->callbacks);
  g_free (r);
}

static PpRequest *
pp_request_new (PaLogin *login, PurpleRequestType type, const char *title, const char *primary,
                const char *secondary)
{
  PpRequest *r = g_new0 (PpRequest, 1);
  r->id = ++login->next_request;
  r->type = type;
  r->step_id = g_strdup_printf ("request-%u", r->id);
  r->title = pp_join_text (title, primary, secondary);
  return r;
}

static void *
pp_request_queue (PaLogin *login, PpRequest *r)
{
  if (g_queue_get_length (&login->requests) >= PP_MAX_REQUESTS)
    {
      /* A flood of questions: further ones are left unanswered (libpurple
       * takes a NULL handle as "no UI"). */
      pp_log (login, PA_LOG_WARNING, "too many pending requests; ignoring \"%s\"", r->title);
      pp_request_free (r);
      return NULL;
    }
  g_queue_push_tail (&login->requests, r);
  if (g_queue_get_length (&login->requests) == 1)
    pp_show_next_request (login);
  return r;
}

static void
pp_show_fields_step (PaLogin *login, PpRequest *r)
{
  g_autoptr (GArray) fields = g_array_new (FALSE, TRUE, sizeof (PaField));
  g_autoptr (GPtrArray) keep = g_ptr_array_new_with_free_func (g_free);
  GString *instr = g_string_new (r->title);
  for (GList *g = purple_request_fields_get_groups (r->fields); g != NULL; g = g->next)
    for (GList *l = purple_request_field_group_get_fields (g->data); l != NULL; l = l->next)
      {
        PurpleRequestField *f = l->data;
        if (!purple_request_field_is_visible (f))
          continue;
        PaField pf = { sizeof (PaField),
                       purple_request_field_get_id (f),
                       purple_request_field_get_label (f),
                       PA_FIELD_TEXT,
                       NULL,
                       !purple_request_field_is_required (f),
                       NULL };
        if (pf.label == NULL)
          pf.label = pf.id;
        switch (purple_request_field_get_type (f))
          {
          case PURPLE_REQUEST_FIELD_STRING:
            pf.type = purple_request_field_string_is_masked (f) ? PA_FIELD_PASSWORD : PA_FIELD_TEXT;
            pf.default_value = purple_request_field_string_get_default_value (f);
            break;
          case PURPLE_REQUEST_FIELD_INTEGER:
            {
              char *d = g_strdup_printf ("%d", purple_request_field_int_get_default_value (f));
              g_ptr_array_add (keep, d);
              pf.type = PA_FIELD_NUMBER;
              pf.default_value = d;
              break;
            }
          case PURPLE_REQUEST_FIELD_BOOLEAN:
            pf.type = PA_FIELD_BOOL;
            pf.default_value = purple_request_field_bool_get_default_value (f) ? "true" : "false";
            break;
          case PURPLE_REQUEST_FIELD_CHOICE:
          case PURPLE_REQUEST_FIELD_LIST:
            {
              GList *items = purple_request_field_get_type (f) == PURPLE_REQUEST_FIELD_CHOICE
                                 ? purple_request_field_choice_get_labels (f)
                                 : purple_request_field_list_get_items (f);
              GPtrArray *c = g_ptr_array_new ();
              for (GList *i = items; i != NULL; i = i->next)
                g_ptr_array_add (c, i->data);
              g_ptr_array_add (c, NULL);
              pf.type = PA_FIELD_CHOICE;
              pf.choices = (const char *const *) c->pdata;
              if (purple_request_field_get_type (f) == PURPLE_REQUEST_FIELD_CHOICE)
                {
                  int def = purple_request_field_choice_get_default_value (f);
                  pf.default_value = def >= 0 ? g_list_nth_data (items, (guint) def) : NULL;
                }
              g_ptr_array_add (keep, g_ptr_array_free (c, FALSE));
              break;
            }
          case PURPLE_REQUEST_FIELD_LABEL:
            g_string_append_printf (instr, "\n%s", pf.label);
            continue;
          default:
            continue;
          }
        if (pf.id == NULL)
          continue;
        g_array_append_val (fields, pf);
      }
  PaLoginStep step = {
    .struct_size = sizeof (PaLoginStep),
    .kind = PA_STEP_USER_INPUT,
    .step_id = r->step_id,
    .instructions = instr->str,
    .fields = (const PaField *) (void *) fields->data,
    .n_fields = fields->len,
  };
  login->api->login_step (login->host, &step);
  g_string_free (instr, TRUE);
}

static void
pp_show_next_request (PaLogin *login)
{
  PpRequest *r = g_queue_peek_head (&login->requests);
  if (r == NULL || r->shown)
    return;
  r->shown = TRUE;
  if (r->image_path != NULL)
    {
      PaLoginStep step = {
        .struct_size = sizeof (PaLoginStep),
        .kind = PA_STEP_DISPLAY_AND_WAIT,
        .step_id = r->step_id,
        .instructions = r->title,
        .image_path = r->image_path,
      };
      login->api->login_step (login->host, &step);
      return;
    }
  if (r->type == PURPLE_REQUEST_FIELDS)
    {
      pp_show_fields_step (login, r);
      return;
    }
  PaField f = { sizeof (PaField), "answer", "answer", PA_FIELD_TEXT, NULL, false, NULL };
  if (r->type == PURPLE_REQUEST_INPUT)
    f.type = r->masked ? PA_FIELD_PASSWORD : PA_FIELD_TEXT;
  else
    {
      f.type = PA_FIELD_CHOICE;
      g_ptr_array_add (r->labels, NULL);
      f.choices = (const char *const *) r->labels->pdata;
      g_ptr_array_remove_index (r->labels, r->labels->len - 1);
    }
  PaLoginStep step = {
    .struct_size = sizeof (PaLoginStep),
    .kind = PA_STEP_USER_INPUT,
    .step_id = r->step_id,
    .instructions = r->title,
    .fields = &f,
    .n_fields = 1,
  };
  if (r->labels != NULL)
    g_ptr_array_add (r->labels, NULL);
  login->api->login_step (login->host, &step);
  if (r->labels != NULL)
    g_ptr_array_remove_index (r->labels, r->labels->len - 1);
}

static void *
pp_request_input (const char *title, const char *primary, const char *secondary,
                  const char *default_value, gboolean multiline, gboolean masked, gchar *hint,
                  const char *ok_text, GCallback ok_cb, const char *cancel_text,
                  GCallback cancel_cb, PurpleAccount *account, const char *who,
                  PurpleConversation *conv, void *user_data)
{
  PaLogin *login = pp_self;
  if (login == NULL)
    return NULL;
  PpRequest *r = pp_request_new (login, PURPLE_REQUEST_INPUT, title, primary, secondary);
  r->ok_cb = ok_cb;
  r->cancel_cb = cancel_cb;
  r->user_data = user_data;
  r->masked = masked;
  return pp_request_queue (login, r);
}

static void *
pp_request_choice (const char *title, const char *primary, const char *secondary, int default_value,
                   const char *ok_text, GCallback ok_cb, const char *cancel_text,
                   GCallback cancel_cb, PurpleAccount *account, const char *who,
                   PurpleConversation *conv, void *user_data, va_list choices)
{
  PaLogin *login = pp_self;
  if (login == NULL)
    return NULL;
  PpRequest *r = pp_request_new (login, PURPLE_REQUEST_CHOICE, title, primary, secondary);
  r->ok_cb = ok_cb;
  r->cancel_cb = cancel_cb;
  r->user_data = user_data;
  r->labels = g_ptr_array_new_with_free_func (g_free);
  r->values = g_array_new (FALSE, FALSE, sizeof (int));
  const char *label;
  while ((label = va_arg (choices, const char *)) != NULL && r->labels->len < 64)
    {
      int v = va_arg (choices, int);
      g_ptr_array_add (r->labels, purple_markup_strip_html (label));
      g_array_append_val (r->values, v);
    }
  return pp_request_queue (login, r);
}

static void *
pp_request_action (const char *title, const char *primary, const char *secondary,
                   int default_action, PurpleAccount *account, const char *who,
                   PurpleConversation *conv, void *user_data, size_t action_count, va_list actions)
{
  PaLogin *login = pp_self;
  if (login == NULL)
    return NULL;
  PpRequest *r = pp_request_new (login, PURPLE_REQUEST_ACTION, title, primary, secondary);
  r->user_data = user_data;
  r->labels = g_ptr_array_new_with_free_func (g_free);
  r->callbacks = g_ptr_array_new ();
  for (size_t i = 0; i < action_count && i < 64; i++)
    {
      const char *label = va_arg (actions, const char *);
      GCallback cb = va_arg (actions, GCallback);
      /* Labels carry GTK mnemonics ("_Accept"). */
      g_autofree char *plain = purple_markup_strip_html (label != NULL ? label : "?");
      GString *s = g_string_new (NULL);
      for (const char *p = plain; *p; p++)
        if (*p != '_')
          g_string_append_c (s, *p);
      g_ptr_array_add (r->labels, g_string_free (s, FALSE));
      g_ptr_array_add (r->callbacks, (gpointer) cb);
    }
  return pp_request_queue (login, r);
}

static void *
pp_request_action_with_icon (const char *title, const char *primary, const char *secondary,
                             int default_action, PurpleAccount *account, const char *who,
                             PurpleConversation *conv, gconstpointer icon_data, gsize icon_size,
                             void *user_data, size_t action_count, va_list actions)
{
  return pp_request_action (title, primary, secondary, default_action, account, who, conv,
                            user_data, action_count, actions);
}

static void *
pp_request_fields (const char *title, const char *primary, const char *secondary,
                   PurpleRequestFields *fields, const char *ok_text, GCallback ok_cb,
                   const char *cancel_text, GCallback cancel_cb, PurpleAccount *account,
                   const char *who, PurpleConversation *conv, void *user_data)
{
  PaLogin *login = pp_self;
  if (login == NULL)
    return NULL;
  PpRequest *r = pp_request_new (login, PURPLE_REQUEST_FIELDS, title, primary, secondary);
  r->ok_cb = ok_cb;
  r->cancel_cb = cancel_cb;
  r->user_data = user_data;
  r->fields = fields;
  /* An image (a QR code to scan) is shown to the agent as a picture. */
  for (GList *g = purple_request_fields_get_groups (fields); g != NULL && r->image_path == NULL;
       g = g->next)
    for (GList *l = purple_request_field_group_get_fields (g->data); l != NULL; l = l->next)
      {
        PurpleRequestField *f = l->data;
        if (purple_request_field_get_type (f) != PURPLE_REQUEST_FIELD_IMAGE)
          continue;
        gsize size = purple_request_field_image_get_size (f);
        const char *buf = purple_request_field_image_get_buffer (f);
        if (buf == NULL || size == 0 || size > PP_MAX_RECV_FILE)
          continue;
        g_autofree char *name = g_strdup_printf ("request-%u.png", r->id);
        char *path = g_build_filename (login->data_dir, name, NULL);
        g_autoptr (GError) err = NULL;
        if (!pp_write_private (path, buf, size, &err))
          {
            pp_log (login, PA_LOG_WARNING, "cannot write the request image: %s", err->message);
            g_free (path);
            continue;
          }
        r->image_path = path;
        break;
      }
  return pp_request_queue (login, r);
}

typedef struct
{
  GCallback cb;
  void *user_data;
  void *handle;
  PurpleRequestType type;
} PpCancel;

static gboolean
pp_cancel_idle (gpointer data)
{
  PpCancel *c = data;
  if (c->cb != NULL)
    ((PurpleRequestFileCb) c->cb) (c->user_data, NULL);
  purple_request_close (c->type, c->handle);
  g_free (c);
  return G_SOURCE_REMOVE;
}

static void *
pp_request_file (const char *title, const char *filename, gboolean savedialog, GCallback ok_cb,
                 GCallback cancel_cb, PurpleAccount *account, const char *who,
                 PurpleConversation *conv, void *user_data)
{
  PaLogin *login = pp_self;
  if (login == NULL)
    return NULL;
  g_autofree char *msg
      = g_strdup_printf ("%s: choosing a file is not possible through Passerelle; cancelled.",
                         title != NULL ? title : "File request");
  login->api->notice (login->host, msg);
  PpCancel *c = g_new0 (PpCancel, 1);
  c->cb = cancel_cb;
  c->user_data = user_data;
  c->handle = c;
  c->type = PURPLE_REQUEST_FILE;
  g_idle_add (pp_cancel_idle, c);
  return c;
}

static void
pp_close_request (PurpleRequestType type, void *ui_handle)
{
  PaLogin *login = pp_self;
  if (login == NULL || ui_handle == NULL)
    return;
  GList *link = g_queue_find (&login->requests, ui_handle);
  if (link == NULL)
    return;
  gboolean was_head = link == login->requests.head;
  g_queue_delete_link (&login->requests, link);
  pp_request_free (ui_handle);
  if (was_head)
    pp_show_next_request (login);
}

PurpleRequestUiOps pp_request_ops = {
  .request_input = pp_request_input,
  .request_choice = pp_request_choice,
  .request_action = pp_request_action,
  .request_fields = pp_request_fields,
  .request_file = pp_request_file,
  .close_request = pp_close_request,
  .request_action_with_icon = pp_request_action_with_icon,
};

static gboolean
pp_set_field (PurpleRequestField *f, const char *v)
{
  switch (purple_request_field_get_type (f))
    {
    case PURPLE_REQUEST_FIELD_STRING:
      purple_request_field_string_set_value (f, v);
      return TRUE;
    case PURPLE_REQUEST_FIELD_INTEGER:
      {
        gint64 n = 0;
        if (!g_ascii_string_to_signed (v, 10, G_MININT, G_MAXINT, &n, NULL))
          return FALSE;
        purple_request_field_int_set_value (f, (int) n);
        return TRUE;
      }
    case PURPLE_REQUEST_FIELD_BOOLEAN:
      {
        gboolean b = FALSE;
        if (!pp_parse_bool (v, &b))
          return FALSE;
        purple_request_field_bool_set_value (f, b);
        return TRUE;
      }
    case PURPLE_REQUEST_FIELD_CHOICE:
      {
        int i = 0;
        for (GList *l = purple_request_field_choice_get_labels (f); l != NULL; l = l->next, i++)
          if (g_strcmp0 (l->data, v) == 0)
            {
              purple_request_field_choice_set_value (f, i);
              return TRUE;
            }
        return FALSE;
      }
    case PURPLE_REQUEST_FIELD_LIST:
      for (GList *l = purple_request_field_list_get_items (f); l != NULL; l = l->next)
        if (g_strcmp0 (l->data, v) == 0)
          {
            purple_request_field_list_clear_selected (f);
            purple_request_field_list_add_selected (f, v);
            return TRUE;
          }
      return FALSE;
    default:
      return TRUE;
    }
}

/* The agent answered request `r` (values NULL: cancelled). */
static void
pp_answer_request (PaLogin *login, PpRequest *r, const char *const *ids, const char *const *values,
                   size_t n)
{
  PurpleRequestType type = r->type;
  const char *answer = NULL;
  for (size_t i = 0; ids != NULL && values != NULL && i < n; i++)
    if (g_strcmp0 (ids[i], "answer") == 0)
      answer = values[i];
  switch (type)
    {
    case PURPLE_REQUEST_INPUT:
      if (values == NULL)
        {
          if (r->cancel_cb != NULL)
            ((PurpleRequestInputCb) r->cancel_cb) (r->user_data, NULL);
        }
      else if (r->ok_cb != NULL)
        ((PurpleRequestInputCb) r->ok_cb) (r->user_data, answer != NULL ? answer : "");
      break;
    case PURPLE_REQUEST_CHOICE:
      {
        int v = -1;
        for (guint i = 0; answer != NULL && i < r->labels->len; i++)
          if (g_strcmp0 (g_ptr_array_index (r->labels, i), answer) == 0)
            v = g_array_index (r->values, int, i);
        if (values == NULL || v < 0)
          {
            if (r->cancel_cb != NULL)
              ((PurpleRequestChoiceCb) r->cancel_cb) (r->user_data, -1);
          }
        else if (r->ok_cb != NULL)
          ((PurpleRequestChoiceCb) r->ok_cb) (r->user_data, v);
        break;
      }
    case PURPLE_REQUEST_ACTION:
      {
        int chosen = -1;
        for (guint i = 0; answer != NULL && i < r->labels->len; i++)
          if (g_strcmp0 (g_ptr_array_index (r->labels, i), answer) == 0)
            chosen = (int) i;
        /* Cancelling picks the last action, conventionally "Cancel"/"Deny". */
        if (chosen < 0 && r->callbacks->len > 0)
          chosen = (int) r->callbacks->len - 1;
        GCallback cb = chosen >= 0 ? (GCallback) g_ptr_array_index (r->callbacks, chosen) : NULL;
        if (cb != NULL)
          ((PurpleRequestActionCb) cb) (r->user_data, chosen);
        break;
      }
    case PURPLE_REQUEST_FIELDS:
      {
        gboolean ok = values != NULL;
        for (size_t i = 0; ok && i < n; i++)
          {
            PurpleRequestField *f = purple_request_fields_get_field (r->fields, ids[i]);
            if (f != NULL && values[i] != NULL && strlen (values[i]) <= PP_MAX_FIELD
                && !pp_set_field (f, values[i]))
              {
                g_autofree char *msg = g_strdup_printf ("“%s” is not a valid %s.", values[i],
                                                        purple_request_field_get_label (f));
                login->api->notice (login->host, msg);
                r->shown = FALSE;
                pp_show_next_request (login);
                return;
              }
          }
        GCallback cb = ok ? r->ok_cb : r->cancel_cb;
        if (cb != NULL)
          ((PurpleRequestFieldsCb) cb) (r->user_data, r->fields);
        break;
      }
    default:
      break;
    }
  /* The callback may have closed the request itself; closing an unknown
   * handle is a no-op in libpurple. */
  purple_request_close (type, r);
}

static PpRequest *
pp_find_request (PaLogin *login, const char *step_id)
{
  for (GList *l = login->requests.head; l != NULL; l = l->next)
    {
      PpRequest *r = l->data;
      if (g_strcmp0 (r->step_id, step_id) == 0)
        return r;
    }
  return NULL;
}

gboolean
pp_requests_submit (PaLogin *login, const char *step_id, const char *const *ids,
                    const char *const *values, size_t n)
{
  PpRequest *r = pp_find_request (login, step_id);
  if (r == NULL)
    return FALSE;
  pp_answer_request (login, r, ids, values, n);
  return TRUE;
}

gboolean
pp_requests_cancel_shown (PaLogin *login)
{
  PpRequest *r = g_queue_peek_head (&login->requests);
  if (r == NULL || !r->shown)
    return FALSE;
  pp_answer_request (login, r, NULL, NULL, 0);
  return TRUE;
}

void
pp_requests_close_all (PaLogin *login)
{
  /* Pending requests are closed (and freed) by libpurple's own teardown;
   * close what is left first so no callback outlives the login. */
  while (!g_queue_is_empty (&login->requests))
    {
      PpRequest *r = g_queue_peek_head (&login->requests);
      purple_request_close (r->type, r);
      if (g_queue_peek_head (&login->requests) == r)
        pp_request_free (g_queue_pop_head (&login->requests));
    }
}
