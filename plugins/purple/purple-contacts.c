/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * purple-contacts.c — contacts: subscription requests (accepted, the contact
 * added back) through libpurple's account UI ops, and the contact lookups
 * (resolve_identifier, list_contacts, get_user_info).
 *
 * Why apart: what the agent learns about people, as opposed to chats.
 */
#define G_LOG_DOMAIN "passerelle-purple"

#include <string.h>

#include "purple-common.h"
#include "purple-contacts.h"
#include "purple-emit.h"

typedef struct
{
  PurpleAccountRequestAuthorizationCb cb;
  void *user_data;
  guint idle_id;
} PpAuth;

/* Buddies whose subscription we accept are added back with their nick, so
 * the contact has a name on both sides. */
static void
pp_add_buddy (PaLogin *login, const char *who, const char *alias)
{
  if (purple_find_buddy (login->account, who) != NULL)
    return;
  PurpleBuddy *b = purple_buddy_new (login->account, who, alias);
  purple_blist_add_buddy (b, NULL, NULL, NULL);
  purple_account_add_buddy (login->account, b);
}

static gboolean
pp_auth_idle (gpointer data)
{
  PpAuth *a = data;
  PaLogin *login = pp_self;
  a->idle_id = 0;
  if (login != NULL)
    login->auths = g_list_remove (login->auths, a);
  PurpleAccountRequestAuthorizationCb cb = a->cb;
  void *ud = a->user_data;
  g_free (a);
  cb (ud);
  return G_SOURCE_REMOVE;
}

static void *
pp_request_authorize (PurpleAccount *account, const char *remote_user, const char *id,
                      const char *alias, const char *message, gboolean on_list,
                      PurpleAccountRequestAuthorizationCb authorize_cb,
                      PurpleAccountRequestAuthorizationCb deny_cb, void *user_data)
{
  PaLogin *login = pp_self;
  if (login == NULL || account != login->account)
    return NULL;
  g_autofree char *msg
      = g_strdup_printf ("%s%s%s%s added you as a contact; accepted.", alias != NULL ? alias : "",
                         alias != NULL ? " (" : "", remote_user, alias != NULL ? ")" : "");
  login->api->notice (login->host, msg);
  if (!on_list)
    pp_add_buddy (login, remote_user, alias);
  /* The callback frees the request: it must not run inside this UI op. */
  PpAuth *a = g_new0 (PpAuth, 1);
  a->cb = authorize_cb;
  a->user_data = user_data;
  a->idle_id = g_idle_add (pp_auth_idle, a);
  login->auths = g_list_prepend (login->auths, a);
  return a;
}

static void
pp_close_account_request (void *ui_handle)
{
  PaLogin *login = pp_self;
  if (login == NULL || g_list_find (login->auths, ui_handle) == NULL)
    return;
  PpAuth *a = ui_handle;
  login->auths = g_list_remove (login->auths, a);
  g_clear_handle_id (&a->idle_id, g_source_remove);
  g_free (a);
}

static void
pp_request_add (PurpleAccount *account, const char *remote_user, const char *id, const char *alias,
                const char *message)
{
  PaLogin *login = pp_self;
  if (login != NULL && account == login->account)
    pp_add_buddy (login, remote_user, alias);
}

PurpleAccountUiOps pp_account_ops = {
  .request_add = pp_request_add,
  .request_authorize = pp_request_authorize,
  .close_account_request = pp_close_account_request,
};

static void
pp_answer_contact (PaLogin *login, guint64 op_id, const char *name)
{
  PurpleBuddy *b = purple_find_buddy (login->account, name);
  g_autofree char *id = pp_norm (login, name);
  const char *alias = b != NULL ? purple_buddy_get_alias (b) : NULL;
  PaMember m;
  pp_fill_member (login, &m, id, alias != NULL && g_strcmp0 (alias, name) != 0 ? alias : NULL);
  login->api->op_contact (login->host, op_id, &m);
}

void
pp_resolve_identifier (PaLogin *login, uint64_t op_id, const char *identifier, PaResolveMode mode)
{
  if (login->account == NULL)
    {
      pp_op_fail (login, op_id, PA_RESULT_NOT_CONNECTED, "Not logged in");
      return;
    }
  if (identifier == NULL || *identifier == '\0' || strlen (identifier) > PP_MAX_FIELD)
    {
      pp_op_fail (login, op_id, PA_RESULT_NOT_FOUND, "An empty or overlong identifier");
      return;
    }
  if (mode == PA_RESOLVE_SEARCH)
    {
      g_autofree char *needle = g_utf8_casefold (identifier, -1);
      GSList *buddies = purple_find_buddies (login->account, NULL);
      for (GSList *l = buddies; l != NULL; l = l->next)
        {
          const char *name = purple_buddy_get_name (l->data);
          const char *alias = purple_buddy_get_alias (l->data);
          g_autofree char *n1 = g_utf8_casefold (name, -1);
          g_autofree char *n2 = g_utf8_casefold (alias != NULL ? alias : "", -1);
          if (strstr (n1, needle) != NULL || strstr (n2, needle) != NULL)
            pp_answer_contact (login, op_id, name);
        }
      g_slist_free (buddies);
      pp_op_ok (login, op_id, NULL, 0);
      return;
    }
  const char *norm = purple_normalize (login->account, identifier);
  if (norm == NULL || *norm == '\0')
    {
      pp_op_fail (login, op_id, PA_RESULT_NOT_FOUND,
                  "That is not a valid identifier on this network");
      return;
    }
  g_autofree char *n = g_strdup (norm);
  pp_answer_contact (login, op_id, n);
  pp_op_ok (login, op_id, n, 0);
}

void
pp_list_contacts (PaLogin *login, uint64_t op_id)
{
  if (login->account == NULL)
    {
      pp_op_fail (login, op_id, PA_RESULT_NOT_CONNECTED, "Not logged in");
      return;
    }
  GSList *buddies = purple_find_buddies (login->account, NULL);
  for (GSList *l = buddies; l != NULL; l = l->next)
    pp_answer_contact (login, op_id, purple_buddy_get_name (l->data));
  g_slist_free (buddies);
  pp_op_ok (login, op_id, NULL, 0);
}

void
pp_get_user_info (PaLogin *login, uint64_t op_id, const char *user_id)
{
  PurpleBuddy *b = login->account != NULL ? purple_find_buddy (login->account, user_id) : NULL;
  if (b != NULL)
    pp_emit_contact (login, b);
  else if (login->account != NULL)
    {
      PaMember m;
      g_autofree char *id = g_strdup (user_id);
      pp_fill_member (login, &m, id, NULL);
      PaEvent ev = {
        .struct_size = sizeof (PaEvent),
        .type = PA_EV_CONTACT_INFO,
        .sender_id = id,
        .timestamp_ms = pp_now_ms (),
        .contact = &m,
      };
      login->api->emit (login->host, &ev);
    }
  pp_op_ok (login, op_id, NULL, 0);
}

void
pp_contacts_close_all (PaLogin *login)
{
  while (login->auths != NULL)
    pp_close_account_request (login->auths->data);
}
