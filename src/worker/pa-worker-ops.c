/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Host "op" frames → PaLoginOps calls: one function per operation reads its
 * arguments from the frame (strings borrowed from it) and calls the plugin.
 * The worker answers, with a typed result, what the plugin never sees: a
 * malformed frame, an unknown operation, a NULL member, no login yet. */
#define G_LOG_DOMAIN "passerelle-worker"

#include "worker/pa-worker-ops.h"
#include "pa-common.h"
#include "wire/pa-wire.h"
#include "worker/pa-worker-link.h"

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
  h->ops->send (h->login, op_id, chat_id, &content, txn_id);
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
  h->ops->edit (h->login, op_id, chat_id, target_id, &content);
  return TRUE;
}

static gboolean
op_redact (PaHost *h, guint64 op_id, json_t *f, GError **error)
{
  const char *chat_id, *target_id;
  if (!STR ("chat_id", chat_id) || !STR ("target_id", target_id))
    return FALSE;
  h->ops->redact (h->login, op_id, chat_id, target_id);
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
  h->ops->react (h->login, op_id, chat_id, target_id, key, remove);
  return TRUE;
}

static gboolean
op_mark_read (PaHost *h, guint64 op_id, json_t *f, GError **error)
{
  const char *chat_id, *message_id;
  if (!STR ("chat_id", chat_id) || !STR ("message_id", message_id))
    return FALSE;
  h->ops->mark_read (h->login, op_id, chat_id, message_id);
  return TRUE;
}

static gboolean
op_typing (PaHost *h, guint64 op_id, json_t *f, GError **error)
{
  const char *chat_id;
  gboolean typing;
  if (!STR ("chat_id", chat_id) || !pa_wire_get_bool (f, "typing", FALSE, &typing, error))
    return FALSE;
  h->ops->typing (h->login, op_id, chat_id, typing);
  return TRUE;
}

static gboolean
op_set_chat_info (PaHost *h, guint64 op_id, json_t *f, GError **error)
{
  const char *chat_id, *field, *value;
  if (!STR ("chat_id", chat_id) || !STR ("field", field) || !OPT_STR ("value", value))
    return FALSE;
  PaChatField which;
  if (!pa_wire_chat_field_from_string (field, &which))
    {
      g_set_error (error, PA_ERROR, PA_ERROR_JSON, "unknown chat field \"%s\"", field);
      return FALSE;
    }
  h->ops->set_chat_info (h->login, op_id, chat_id, which, value);
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
  h->ops->set_membership (h->login, op_id, chat_id, user_id, join);
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
  h->ops->resolve_identifier (h->login, op_id, identifier, m);
  return TRUE;
}

static gboolean
op_list_contacts (PaHost *h, guint64 op_id, json_t *f, GError **error)
{
  h->ops->list_contacts (h->login, op_id);
  return TRUE;
}

static gboolean
op_create_dm (PaHost *h, guint64 op_id, json_t *f, GError **error)
{
  const char *user_id;
  if (!STR ("user_id", user_id))
    return FALSE;
  h->ops->create_dm (h->login, op_id, user_id);
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
  h->ops->create_group (h->login, op_id, name, (const char *const *) ids->pdata, ids->len - 1);
  return TRUE;
}

static gboolean
op_get_chat_info (PaHost *h, guint64 op_id, json_t *f, GError **error)
{
  const char *chat_id;
  if (!STR ("chat_id", chat_id))
    return FALSE;
  h->ops->get_chat_info (h->login, op_id, chat_id);
  return TRUE;
}

static gboolean
op_get_user_info (PaHost *h, guint64 op_id, json_t *f, GError **error)
{
  const char *user_id;
  if (!STR ("user_id", user_id))
    return FALSE;
  h->ops->get_user_info (h->login, op_id, user_id);
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
  h->ops->fetch_history (h->login, op_id, chat_id, cursor, (uint32_t) count, forward);
  return TRUE;
}

static gboolean
op_logout (PaHost *h, guint64 op_id, json_t *f, GError **error)
{
  h->ops->logout (h->login, op_id);
  return TRUE;
}

#undef STR
#undef OPT_STR

#define OP(name)                                                                                   \
  {                                                                                                \
#name, op_##name                                                                               \
  }
static const struct
{
  const char *name;
  OpFn fn;
} operations[] = {
  OP (send),          OP (edit),           OP (redact),
  OP (react),         OP (mark_read),      OP (typing),
  OP (set_chat_info), OP (set_membership), OP (resolve_identifier),
  OP (list_contacts), OP (create_dm),      OP (create_group),
  OP (get_chat_info), OP (get_user_info),  OP (fetch_history),
  OP (logout),
};
#undef OP

/* See pa-worker-ops.h. */
void
pa_worker_ops_handle (PaHost *h, json_t *frame)
{
  g_autoptr (GError) error = NULL;
  guint64 op_id = 0;
  const char *op = NULL;
  if (json_object_get (frame, "op_id") == NULL
      || !pa_wire_get_uint (frame, "op_id", G_MAXINT64, 0, &op_id, &error))
    {
      pa_worker_link_log (h, PA_LOG_WARNING, "op frame without a valid op_id ignored");
      return;
    }
  if (!pa_wire_get_string (frame, "op", TRUE, &op, &error))
    {
      pa_worker_link_fail (h, op_id, PA_RESULT_PERMANENT, "malformed operation: no op name");
      return;
    }
  for (gsize i = 0; i < G_N_ELEMENTS (operations); i++)
    {
      if (strcmp (operations[i].name, op) != 0)
        continue;
      if (!pa_wire_login_op_present (h->ops, op))
        {
          g_autofree char *msg = g_strdup_printf ("%s cannot %s", h->display_name, op);
          pa_worker_link_fail (h, op_id, PA_RESULT_UNSUPPORTED, msg);
          return;
        }
      if (h->login == NULL)
        {
          pa_worker_link_fail (h, op_id, PA_RESULT_NOT_CONNECTED, "not logged in");
          return;
        }
      /* Strings handed to the plugin point into `frame`, which the caller
       * keeps alive until this returns. */
      gint64 t0 = g_get_monotonic_time ();
      if (!operations[i].fn (h, op_id, frame, &error))
        {
          g_autofree char *msg = g_strdup_printf ("malformed %s operation: %s", op, error->message);
          pa_worker_link_fail (h, op_id, PA_RESULT_PERMANENT, msg);
          return;
        }
      pa_worker_link_check_slow (h, op, t0);
      return;
    }
  g_autofree char *msg = g_strdup_printf ("unknown operation \"%s\"", op);
  pa_worker_link_fail (h, op_id, PA_RESULT_UNSUPPORTED, msg);
}
