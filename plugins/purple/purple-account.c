/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * purple-account.c — the one PurpleAccount of the worker: created (or found)
 * for a session, its options and password applied, enabled and connected.
 *
 * Why apart: both the login flow and reconnects start the account from a
 * session; this is the only code that turns a session into libpurple
 * settings.
 */
#define G_LOG_DOMAIN "passerelle-purple"

#include "purple-common.h"
#include "purple-account.h"
#include "purple-session.h"

/* Applies a session's password and options to the account. */
static gboolean
pp_apply_options (PaLogin *login, PurpleAccount *account, const PpSession *s, GError **error)
{
  PurplePluginProtocolInfo *info = pp_prpl_info (s->protocol);
  if (info == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "protocol %s is not installed",
                   s->protocol);
      return FALSE;
    }
  for (GList *l = info->protocol_options; l != NULL; l = l->next)
    {
      PurpleAccountOption *opt = l->data;
      const char *setting = purple_account_option_get_setting (opt);
      const char *v = g_hash_table_lookup (s->options, setting);
      if (v == NULL || *v == '\0')
        continue;
      switch (purple_account_option_get_type (opt))
        {
        case PURPLE_PREF_BOOLEAN:
          {
            gboolean b = FALSE;
            if (!pp_parse_bool (v, &b))
              {
                g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                             "%s must be true or false", purple_account_option_get_text (opt));
                return FALSE;
              }
            purple_account_set_bool (account, setting, b);
            break;
          }
        case PURPLE_PREF_INT:
          {
            gint64 n = 0;
            if (!g_ascii_string_to_signed (v, 10, G_MININT, G_MAXINT, &n, NULL))
              {
                g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "%s must be a number",
                             purple_account_option_get_text (opt));
                return FALSE;
              }
            purple_account_set_int (account, setting, (int) n);
            break;
          }
        case PURPLE_PREF_STRING:
        case PURPLE_PREF_STRING_LIST:
          purple_account_set_string (account, setting, v);
          break;
        default:
          break;
        }
    }
  purple_account_set_remember_password (account, FALSE);
  purple_account_set_password (account, s->password != NULL && *s->password ? s->password : NULL);
  (void) login;
  return TRUE;
}

gboolean
pp_start_account (PaLogin *login, const PpSession *s, GError **error)
{
  PurpleAccount *account = purple_accounts_find (s->username, s->protocol);
  /* One account per worker: any other one is a leftover of an earlier login. */
  for (GList *l = g_list_copy (purple_accounts_get_all ()), *it = l; it != NULL; it = it->next)
    {
      if (it->data != account)
        {
          purple_account_set_enabled (it->data, PP_UI_ID, FALSE);
          purple_accounts_delete (it->data);
        }
      if (it->next == NULL)
        g_list_free (l);
    }
  gboolean created = FALSE;
  if (account == NULL)
    {
      account = purple_account_new (s->username, s->protocol);
      created = TRUE;
    }
  if (!pp_apply_options (login, account, s, error))
    {
      if (created)
        purple_account_destroy (account);
      return FALSE;
    }
  if (created)
    purple_accounts_add (account);
  login->account = account;
  login->signed_on = FALSE;
  g_free (login->self_id);
  login->self_id = pp_norm (login, s->username);
  purple_account_set_enabled (account, PP_UI_ID, TRUE);
  purple_account_set_status (account, "available", TRUE, NULL);
  if (purple_account_is_disconnected (account))
    purple_account_connect (account);
  return TRUE;
}
