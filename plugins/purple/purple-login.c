/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * purple-login.c — the login: its flow (a prpl chosen among the installed
 * ones, then that prpl's typed fields), the connection's life (sign-on,
 * disconnects, reconnects with backoff, refused credentials) and the login
 * operations (start, submit, cancel, connect, disconnect, logout).
 *
 * Why apart: the login state machine; what it starts lives in the files it
 * calls (account, session, requests, rooms).
 */
#define G_LOG_DOMAIN "passerelle-purple"

#include <errno.h>
#include <string.h>
#include <glib/gstdio.h>

#include "purple-common.h"
#include "purple-account.h"
#include "purple-emit.h"
#include "purple-login.h"
#include "purple-requests.h"
#include "purple-rooms.h"
#include "purple-session.h"

static char *
pp_field_id (const char *prefix, const char *name)
{
  GString *s = g_string_new (prefix);
  for (const char *p = name; *p; p++)
    g_string_append_c (s, g_ascii_isalnum (*p) ? g_ascii_tolower (*p) : '_');
  return g_string_free (s, FALSE);
}

static void
pp_ask_protocol (PaLogin *login, const char *instructions)
{
  g_autoptr (GPtrArray) ids = g_ptr_array_new ();
  GString *help = g_string_new (instructions);
  for (GList *l = purple_plugins_get_protocols (); l != NULL; l = l->next)
    {
      PurplePlugin *p = l->data;
      const char *id = purple_plugin_get_id (p);
      if (id == NULL)
        continue;
      g_ptr_array_add (ids, (gpointer) id);
      g_string_append_printf (help, "\n• %s: %s", id, purple_plugin_get_name (p));
    }
  g_ptr_array_add (ids, NULL);
  const char *def = NULL;
  for (guint i = 0; ids->pdata[i] != NULL; i++)
    if (strcmp (ids->pdata[i], "prpl-jabber") == 0)
      def = "prpl-jabber";
  const PaField fields[] = {
    { sizeof (PaField), "protocol", "protocol", PA_FIELD_CHOICE, def, false,
      (const char *const *) ids->pdata },
  };
  PaLoginStep step = {
    .struct_size = sizeof (PaLoginStep),
    .kind = PA_STEP_USER_INPUT,
    .step_id = "protocol",
    .instructions = help->str,
    .fields = fields,
    .n_fields = G_N_ELEMENTS (fields),
  };
  login->api->login_step (login->host, &step);
  g_string_free (help, TRUE);
}

/* The second step: the chosen prpl's user name parts and options. */
static void
pp_ask_account (PaLogin *login, const char *instructions)
{
  PurplePlugin *prpl = purple_find_prpl (login->chosen_protocol);
  PurplePluginProtocolInfo *info = pp_prpl_info (login->chosen_protocol);
  if (prpl == NULL || info == NULL)
    {
      pp_ask_protocol (login, "That protocol is not installed. Choose one of:");
      return;
    }
  g_autoptr (GArray) fields = g_array_new (FALSE, TRUE, sizeof (PaField));
  g_autoptr (GPtrArray) strings = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) lists = g_ptr_array_new_with_free_func (g_free);
  const PpSession *prev
      = login->session != NULL && g_strcmp0 (login->session->protocol, login->chosen_protocol) == 0
            ? login->session
            : NULL;
  PaField f = { sizeof (PaField), "username", "user name", PA_FIELD_TEXT, NULL, false, NULL };
  g_array_append_val (fields, f);
  guint n = 0;
  for (GList *l = info->user_splits; l != NULL; l = l->next, n++)
    {
      PurpleAccountUserSplit *split = l->data;
      char *id = g_strdup_printf ("split.%u", n);
      g_ptr_array_add (strings, id);
      const char *def = purple_account_user_split_get_default_value (split);
      PaField sf = { sizeof (PaField),
                     id,
                     purple_account_user_split_get_text (split),
                     PA_FIELD_TEXT,
                     def != NULL && *def != '\0' ? def : NULL,
                     false,
                     NULL };
      /* A split with an empty default (XMPP's resource) may be left out. */
      sf.optional = def != NULL;
      g_array_append_val (fields, sf);
    }
  if (!(info->options & OPT_PROTO_NO_PASSWORD))
    {
      PaField pf = { sizeof (PaField),
                     "password",
                     "password",
                     PA_FIELD_PASSWORD,
                     NULL,
                     (info->options & OPT_PROTO_PASSWORD_OPTIONAL) != 0,
                     NULL };
      g_array_append_val (fields, pf);
    }
  for (GList *l = info->protocol_options; l != NULL; l = l->next)
    {
      PurpleAccountOption *opt = l->data;
      const char *setting = purple_account_option_get_setting (opt);
      char *id = pp_field_id ("opt.", setting);
      g_ptr_array_add (strings, id);
      PaField of = {
        sizeof (PaField), id, purple_account_option_get_text (opt), PA_FIELD_TEXT, NULL, true, NULL
      };
      const char *saved = prev != NULL ? g_hash_table_lookup (prev->options, setting) : NULL;
      char *def = NULL;
      switch (purple_account_option_get_type (opt))
        {
        case PURPLE_PREF_BOOLEAN:
          of.type = PA_FIELD_BOOL;
          def = g_strdup (purple_account_option_get_default_bool (opt) ? "true" : "false");
          break;
        case PURPLE_PREF_INT:
          of.type = PA_FIELD_NUMBER;
          def = g_strdup_printf ("%d", purple_account_option_get_default_int (opt));
          break;
        case PURPLE_PREF_STRING:
          of.type = purple_account_option_get_masked (opt) ? PA_FIELD_PASSWORD : PA_FIELD_TEXT;
          if (purple_account_option_get_default_string (opt) != NULL
              && *purple_account_option_get_default_string (opt) != '\0')
            def = g_strdup (purple_account_option_get_default_string (opt));
          break;
        case PURPLE_PREF_STRING_LIST:
          {
            of.type = PA_FIELD_CHOICE;
            GPtrArray *choices = g_ptr_array_new ();
            for (GList *c = purple_account_option_get_list (opt); c != NULL; c = c->next)
              {
                PurpleKeyValuePair *kv = c->data;
                if (kv->value != NULL)
                  g_ptr_array_add (choices, kv->value);
              }
            g_ptr_array_add (choices, NULL);
            of.choices = (const char *const *) choices->pdata;
            g_ptr_array_add (lists, g_ptr_array_free (choices, FALSE));
            const char *d = purple_account_option_get_default_list_value (opt);
            def = g_strdup (d);
            break;
          }
        default:
          continue;
        }
      if (saved != NULL && of.type != PA_FIELD_PASSWORD)
        {
          g_free (def);
          def = g_strdup (saved);
        }
      if (def != NULL)
        g_ptr_array_add (strings, def);
      of.default_value = def;
      g_array_append_val (fields, of);
    }
  PaField af
      = { sizeof (PaField),
          "autojoin",
          "rooms to join (comma-separated)",
          PA_FIELD_TEXT,
          prev != NULL && prev->autojoin != NULL && *prev->autojoin != '\0' ? prev->autojoin : NULL,
          true,
          NULL };
  g_array_append_val (fields, af);
  g_autofree char *instr = g_strdup_printf (
      "%s%s%s account: send `-` to keep a default.", instructions != NULL ? instructions : "",
      instructions != NULL ? "\n" : "", purple_plugin_get_name (prpl));
  PaLoginStep step = {
    .struct_size = sizeof (PaLoginStep),
    .kind = PA_STEP_USER_INPUT,
    .step_id = "account",
    .instructions = instr,
    .fields = (const PaField *) (void *) fields->data,
    .n_fields = fields->len,
  };
  login->api->login_step (login->host, &step);
}

static void
pp_begin_attempt (PaLogin *login, PpSession *attempt)
{
  g_clear_handle_id (&login->reconnect_id, g_source_remove);
  if (login->account != NULL && !purple_account_is_disconnected (login->account))
    purple_account_disconnect (login->account);
  pp_session_free (login->attempt);
  login->attempt = attempt;
  login->api->login_state (login->host, PA_STATE_CONNECTING, NULL);
  g_autoptr (GError) err = NULL;
  if (!pp_start_account (login, attempt, &err))
    {
      g_clear_pointer (&login->attempt, pp_session_free);
      pp_ask_account (login, err->message);
    }
}

static void
pp_submit_account (PaLogin *login, const char *const *ids, const char *const *values, size_t n)
{
  PurplePluginProtocolInfo *info = pp_prpl_info (login->chosen_protocol);
  if (info == NULL)
    {
      pp_ask_protocol (login, "Choose a protocol first:");
      return;
    }
  g_autoptr (GHashTable) ans = g_hash_table_new (g_str_hash, g_str_equal);
  for (size_t i = 0; ids != NULL && values != NULL && i < n; i++)
    {
      if (ids[i] == NULL || values[i] == NULL)
        continue;
      if (strlen (values[i]) > PP_MAX_FIELD)
        {
          pp_ask_account (login, "Each answer must be at most 1024 bytes.");
          return;
        }
      g_hash_table_insert (ans, (gpointer) ids[i], (gpointer) values[i]);
    }
  const char *user = g_hash_table_lookup (ans, "username");
  if (user == NULL || *user == '\0')
    {
      pp_ask_account (login, "The user name is needed.");
      return;
    }
  g_autoptr (PpSession) s = pp_session_new ();
  s->protocol = g_strdup (login->chosen_protocol);
  GString *full = g_string_new (user);
  guint k = 0;
  for (GList *l = info->user_splits; l != NULL; l = l->next, k++)
    {
      PurpleAccountUserSplit *split = l->data;
      g_autofree char *id = g_strdup_printf ("split.%u", k);
      const char *v = g_hash_table_lookup (ans, id);
      if (v == NULL || *v == '\0')
        v = purple_account_user_split_get_default_value (split);
      if (v == NULL || *v == '\0')
        {
          if (purple_account_user_split_get_default_value (split) == NULL)
            {
              g_string_free (full, TRUE);
              g_autofree char *msg = g_strdup_printf ("The %s is needed.",
                                                      purple_account_user_split_get_text (split));
              pp_ask_account (login, msg);
              return;
            }
          continue;
        }
      g_string_append_c (full, purple_account_user_split_get_separator (split));
      g_string_append (full, v);
    }
  s->username = g_string_free (full, FALSE);
  const char *pw = g_hash_table_lookup (ans, "password");
  s->password = g_strdup (pw != NULL ? pw : "");
  for (GList *l = info->protocol_options; l != NULL; l = l->next)
    {
      const char *setting = purple_account_option_get_setting (l->data);
      g_autofree char *id = pp_field_id ("opt.", setting);
      const char *v = g_hash_table_lookup (ans, id);
      if (v != NULL && *v != '\0')
        g_hash_table_insert (s->options, g_strdup (setting), g_strdup (v));
    }
  const char *aj = g_hash_table_lookup (ans, "autojoin");
  s->autojoin = g_strdup (aj != NULL ? aj : "");
  if (login->session != NULL && g_strcmp0 (login->session->username, s->username) == 0)
    for (guint i = 0; i < login->session->rooms->len; i++)
      g_ptr_array_add (s->rooms, g_strdup (g_ptr_array_index (login->session->rooms, i)));
  pp_begin_attempt (login, g_steal_pointer (&s));
}

static gboolean
pp_on_reconnect (gpointer data)
{
  PaLogin *login = data;
  login->reconnect_id = 0;
  if (!login->want_online || login->session == NULL)
    return G_SOURCE_REMOVE;
  login->api->login_state (login->host, PA_STATE_CONNECTING, NULL);
  g_autoptr (GError) err = NULL;
  if (login->account == NULL || !purple_account_is_disconnected (login->account))
    {
      if (!pp_start_account (login, login->session, &err))
        login->api->login_state (login->host, PA_STATE_UNKNOWN_ERROR, err->message);
    }
  else
    purple_account_connect (login->account);
  return G_SOURCE_REMOVE;
}

static void
pp_schedule_reconnect (PaLogin *login, const char *why)
{
  g_clear_handle_id (&login->reconnect_id, g_source_remove);
  g_autofree char *msg
      = g_strdup_printf ("Disconnected (%s); retrying in %u s", why, login->backoff_s);
  login->api->login_state (login->host, PA_STATE_TRANSIENT_DISCONNECT, msg);
  login->reconnect_id = g_timeout_add_seconds (login->backoff_s, pp_on_reconnect, login);
  login->backoff_s = MIN (login->backoff_s * 2, PP_BACKOFF_MAX_S);
}

static gboolean
pp_auth_error (PurpleConnectionError e)
{
  return e == PURPLE_CONNECTION_ERROR_AUTHENTICATION_FAILED
         || e == PURPLE_CONNECTION_ERROR_AUTHENTICATION_IMPOSSIBLE
         || e == PURPLE_CONNECTION_ERROR_INVALID_USERNAME
         || e == PURPLE_CONNECTION_ERROR_INVALID_SETTINGS;
}

/* Runs after libpurple finished tearing the connection down. */
static gboolean
pp_after_disconnect (gpointer data)
{
  PaLogin *login = data;
  login->disconnect_idle_id = 0;
  const char *why = login->last_error_text != NULL ? login->last_error_text : "connection lost";
  if (login->attempt != NULL)
    {
      g_clear_pointer (&login->attempt, pp_session_free);
      g_autofree char *msg = g_strdup_printf ("Could not log in: %s", why);
      login->api->login_state (login->host,
                               pp_auth_error (login->last_error) ? PA_STATE_BAD_CREDENTIALS
                                                                 : PA_STATE_UNKNOWN_ERROR,
                               msg);
      if (login->account != NULL)
        purple_account_set_enabled (login->account, PP_UI_ID, FALSE);
      pp_ask_account (login, msg);
      return G_SOURCE_REMOVE;
    }
  if (login->session == NULL || !login->want_online)
    return G_SOURCE_REMOVE;
  if (pp_auth_error (login->last_error))
    {
      /* A saved login that no longer works needs the agent: stop retrying. */
      g_autofree char *msg = g_strdup_printf ("The network refused the saved login (%s): log "
                                              "in again.",
                                              why);
      login->want_online = FALSE;
      login->api->login_state (login->host, PA_STATE_BAD_CREDENTIALS, msg);
      return G_SOURCE_REMOVE;
    }
  pp_schedule_reconnect (login, why);
  return G_SOURCE_REMOVE;
}

static void
pp_report_disconnect_reason (PurpleConnection *gc, PurpleConnectionError reason, const char *text)
{
  PaLogin *login = pp_self;
  if (login == NULL || login->quitting || purple_connection_get_account (gc) != login->account)
    return;
  login->signed_on = FALSE;
  login->last_error = reason;
  g_free (login->last_error_text);
  login->last_error_text = g_strdup (text);
  pp_log (login, PA_LOG_INFO, "disconnected: %s", text != NULL ? text : "(no reason)");
  /* libpurple frees the connection after this callback: act later. */
  if (login->disconnect_idle_id == 0)
    login->disconnect_idle_id = g_timeout_add (50, pp_after_disconnect, login);
}

static void
pp_complete_login (PaLogin *login)
{
  PurpleConnection *gc = pp_gc (login);
  g_autoptr (GError) err = NULL;
  if (!pp_save_session (login, login->attempt, &err))
    {
      pp_log (login, PA_LOG_WARNING, "cannot save the session: %s", err->message);
      login->api->notice (login->host, "Logged in, but the login could not be saved: you "
                                       "will have to log in again after a restart.");
    }
  pp_session_free (login->session);
  login->session = g_steal_pointer (&login->attempt);
  login->want_online = TRUE;
  const char *name = gc != NULL ? purple_connection_get_display_name (gc) : NULL;
  PaLoginStep step = {
    .struct_size = sizeof (PaLoginStep),
    .kind = PA_STEP_COMPLETE,
    .step_id = "complete",
    .instructions = "Logged in.",
    .remote_id = login->self_id,
    .remote_name = name != NULL ? name : login->self_id,
  };
  login->api->login_step (login->host, &step);
}

static void
pp_signed_on (PurpleConnection *gc, gpointer data)
{
  PaLogin *login = data;
  if (login->quitting || purple_connection_get_account (gc) != login->account)
    return;
  login->signed_on = TRUE;
  login->backoff_s = PP_BACKOFF_MIN_S;
  g_clear_handle_id (&login->disconnect_idle_id, g_source_remove);
  if (login->attempt != NULL)
    pp_complete_login (login);
  login->api->login_state (login->host, PA_STATE_CONNECTED, NULL);
  GSList *buddies = purple_find_buddies (login->account, NULL);
  for (GSList *l = buddies; l != NULL; l = l->next)
    pp_emit_contact (login, l->data);
  g_slist_free (buddies);
  pp_join_rooms (login);
}

PurpleConnectionUiOps pp_connection_ops = {
  .report_disconnect_reason = pp_report_disconnect_reason,
};

void
pp_login_start (PaLogin *login, const char *flow_id)
{
  g_clear_pointer (&login->chosen_protocol, g_free);
  pp_ask_protocol (login, "Choose the protocol of your account:");
}

void
pp_login_submit (PaLogin *login, const char *step_id, const char *const *ids,
                 const char *const *values, size_t n)
{
  if (g_strcmp0 (step_id, "protocol") == 0)
    {
      const char *proto = NULL;
      for (size_t i = 0; ids != NULL && values != NULL && i < n; i++)
        if (g_strcmp0 (ids[i], "protocol") == 0)
          proto = values[i];
      if (proto == NULL || strlen (proto) > PP_MAX_FIELD || purple_find_prpl (proto) == NULL)
        {
          pp_ask_protocol (login, "That protocol is not installed. Choose one of:");
          return;
        }
      g_free (login->chosen_protocol);
      login->chosen_protocol = g_strdup (proto);
      pp_ask_account (login, NULL);
      return;
    }
  if (g_strcmp0 (step_id, "account") == 0)
    {
      pp_submit_account (login, ids, values, n);
      return;
    }
  if (!pp_requests_submit (login, step_id, ids, values, n))
    pp_log (login, PA_LOG_WARNING, "login_submit for an unknown step");
}

void
pp_login_cancel (PaLogin *login)
{
  if (pp_requests_cancel_shown (login))
    return;
  if (login->attempt == NULL)
    return;
  g_clear_pointer (&login->attempt, pp_session_free);
  if (login->account != NULL)
    purple_account_set_enabled (login->account, PP_UI_ID, FALSE);
  if (login->session != NULL && login->want_online)
    {
      g_autoptr (GError) err = NULL;
      if (!pp_start_account (login, login->session, &err))
        login->api->login_state (login->host, PA_STATE_UNKNOWN_ERROR, err->message);
    }
}

void
pp_connect (PaLogin *login)
{
  if (login->session == NULL)
    {
      login->api->login_state (login->host, PA_STATE_LOGGED_OUT, "Not logged in");
      return;
    }
  login->want_online = TRUE;
  login->backoff_s = PP_BACKOFF_MIN_S;
  if (login->account != NULL && !purple_account_is_disconnected (login->account))
    return;
  login->api->login_state (login->host, PA_STATE_CONNECTING, NULL);
  g_autoptr (GError) err = NULL;
  if (!pp_start_account (login, login->session, &err))
    login->api->login_state (login->host, PA_STATE_UNKNOWN_ERROR, err->message);
}

void
pp_disconnect (PaLogin *login)
{
  login->want_online = FALSE;
  g_clear_handle_id (&login->reconnect_id, g_source_remove);
  if (login->account != NULL)
    purple_account_set_enabled (login->account, PP_UI_ID, FALSE);
}

void
pp_logout (PaLogin *login, uint64_t op_id)
{
  login->want_online = FALSE;
  g_clear_handle_id (&login->reconnect_id, g_source_remove);
  g_clear_pointer (&login->attempt, pp_session_free);
  if (login->account != NULL)
    {
      /* Disabling disconnects (a clean goodbye to the network).  The
       * account is not destroyed: purple_accounts_delete() crashes
       * destroying an IRC account's chats (libpurple 2.14); it is dropped
       * from libpurple's files below and the worker exits after a logout. */
      purple_account_set_enabled (login->account, PP_UI_ID, FALSE);
      purple_accounts_remove (login->account);
      login->account = NULL;
    }
  const char *files[] = { "accounts.xml", "blist.xml" };
  for (gsize i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autofree char *path = g_build_filename (login->user_dir, files[i], NULL);
      if (g_unlink (path) != 0 && errno != ENOENT)
        pp_log (login, PA_LOG_WARNING, "cannot delete %s: %s", path, g_strerror (errno));
    }
  pp_forget_session (login);
  login->api->login_state (login->host, PA_STATE_LOGGED_OUT, NULL);
  pp_op_ok (login, op_id, NULL, 0);
}

void
pp_login_resume (PaLogin *login, bool saved)
{
  if (!saved)
    return;
  g_autoptr (GError) err = NULL;
  login->session = pp_load_session (login->data_dir, &err);
  if (login->session == NULL)
    {
      g_autofree char *msg
          = g_strdup_printf ("The saved login could not be read (%s): log in again.", err->message);
      login->api->login_state (login->host, PA_STATE_BAD_CREDENTIALS, msg);
      return;
    }
  login->want_online = TRUE;
  login->api->login_state (login->host, PA_STATE_CONNECTING, NULL);
  if (!pp_start_account (login, login->session, &err))
    login->api->login_state (login->host, PA_STATE_UNKNOWN_ERROR, err->message);
}

void
pp_login_connect_signals (PaLogin *login)
{
  pp_connect_signal (login, purple_connections_get_handle (), "signed-on",
                     PURPLE_CALLBACK (pp_signed_on));
}
