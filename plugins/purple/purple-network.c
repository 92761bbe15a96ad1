/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * purple-network.c — the plugin's face to the host: the PaNetwork and
 * PaLoginOps tables, init/shutdown, and the login's creation and end.
 *
 * Why apart: the top of the call graph; it only wires the other files
 * together.
 */
#define G_LOG_DOMAIN "passerelle-purple"

#include <errno.h>
#include <string.h>
#include <glib/gstdio.h>

#include "purple-common.h"
#include "purple-buddies.h"
#include "purple-contacts.h"
#include "purple-core.h"
#include "purple-ids.h"
#include "purple-login.h"
#include "purple-plugin.h"
#include "purple-ops.h"
#include "purple-requests.h"
#include "purple-rooms.h"
#include "purple-session.h"
#include "purple-xfer.h"

#define PP_CAPS                                                                                    \
  (PA_CAP_LOGIN | PA_CAP_GROUPS | PA_CAP_MEDIA | PA_CAP_TYPING | PA_CAP_PRESENCE                   \
   | PA_CAP_FORMATTING)

static PaHost *pp_host;         /* from init to shutdown */
static const PaHostApi *pp_api; /* idem */

static void
pp_login_destroy (PaLogin *login)
{
  pp_session_free (login->session);
  pp_session_free (login->attempt);
  g_free (login->chosen_protocol);
  g_free (login->self_id);
  g_free (login->last_error_text);
  g_hash_table_destroy (login->announced);
  g_hash_table_destroy (login->counts);
  g_hash_table_destroy (login->recent);
  g_hash_table_destroy (login->dirty);
  g_hash_table_destroy (login->join_ops);
  g_hash_table_destroy (login->send_ops);
  g_hash_table_destroy (login->typing);
  g_hash_table_destroy (login->invited);
  g_hash_table_destroy (login->presence);
  g_free (login->user_dir);
  g_free (login->data_dir);
  g_free (login);
}

/* Starts libpurple, once per process: its user directory in the data dir. */
static bool
pp_init (PaHost *host, const PaHostApi *api, char **error)
{
  if (api == NULL || api->abi_major != PA_PLUGIN_ABI_MAJOR
      || !PA_HAS_MEMBER (api, PaHostApi, invoke))
    {
      *error = pp_c_strdup ("the host API table is too old for the purple plugin");
      return false;
    }
  const char *dir = api->data_dir (host);
  if (dir == NULL)
    {
      *error = pp_c_strdup ("the host gave no data directory");
      return false;
    }
  g_autofree char *user_dir = g_build_filename (dir, "purple", NULL);
  g_autoptr (GError) err = NULL;
  if (g_mkdir_with_parents (user_dir, 0700) != 0 || g_chmod (user_dir, 0700) != 0)
    g_set_error (&err, G_IO_ERROR, g_io_error_from_errno (errno), "cannot create %s: %s", user_dir,
                 g_strerror (errno));
  if (err != NULL || !pp_core_init (host, api, user_dir, &err))
    {
      *error = pp_c_strdup (err->message);
      return false;
    }
  pp_host = host;
  pp_api = api;
  return true;
}

/* libpurple is not quit: purple_core_quit() crashes destroying IRC chat
 * conversations (2.14), and the process exits right after.  What must
 * survive is on disk already. */
static void
pp_shutdown (PaHost *host)
{
  pp_host = NULL;
  pp_api = NULL;
}

static PaLogin *
pp_login_new (PaHost *host, bool saved, char **error)
{
  const PaHostApi *api = pp_api;
  if (api == NULL || host != pp_host)
    {
      *error = pp_c_strdup ("the purple network was not initialized");
      return NULL;
    }
  if (pp_self != NULL)
    {
      *error = pp_c_strdup ("libpurple is already running in this process (one login per "
                            "worker)");
      return NULL;
    }
  const char *dir = api->data_dir (host);
  PaLogin *login = g_new0 (PaLogin, 1);
  login->host = host;
  login->api = api;
  login->data_dir = g_strdup (dir);
  login->user_dir = g_build_filename (dir, "purple", NULL);
  login->backoff_s = PP_BACKOFF_MIN_S;
  login->announced = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  login->counts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  login->recent = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  login->dirty = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  login->join_ops = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  login->send_ops = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  login->typing = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  login->invited = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  login->presence = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_queue_init (&login->requests);
  pp_login_connect_signals (login);
  pp_rooms_connect_signals (login);
  pp_buddies_connect_signals (login);
  pp_xfer_connect_signals (login);
  pp_self = login;
  pp_login_resume (login, saved);
  return login;
}

static void
pp_login_free (PaLogin *login)
{
  if (login == NULL)
    return;
  login->quitting = TRUE;
  g_clear_handle_id (&login->reconnect_id, g_source_remove);
  g_clear_handle_id (&login->disconnect_idle_id, g_source_remove);
  g_clear_handle_id (&login->dirty_id, g_source_remove);
  if (login->account != NULL && !purple_account_is_disconnected (login->account))
    purple_account_disconnect (login->account);
  pp_requests_close_all (login);
  pp_contacts_close_all (login);
  purple_signals_disconnect_by_handle (pp_signal_handle ());
  /* No purple_core_quit(): destroying IRC chat conversations there crashes
   * libpurple 2.14, and the process exits right after login_free.  What must
   * survive is already on disk (the session file is written synchronously;
   * libpurple's own files are rebuilt from it). */
  pp_self = NULL;
  pp_login_destroy (login);
}

static const PaLoginFlow pp_flows[] = {
  { sizeof (PaLoginFlow), "account", "Account",
    "Any protocol of the installed libpurple: choose it, then give its account details." },
};

static const PaLoginOps pp_login_ops = {
  .struct_size = sizeof (PaLoginOps),
  .login_free = pp_login_free,
  .login_start = pp_login_start,
  .login_submit = pp_login_submit,
  .login_cancel = pp_login_cancel,
  .connect = pp_connect,
  .disconnect = pp_disconnect,
  .logout = pp_logout,
  .send = pp_send,
  .typing = pp_typing_op,
  .set_membership = pp_set_membership,
  .set_chat_info = pp_set_chat_info,
  .resolve_identifier = pp_resolve_identifier,
  .list_contacts = pp_list_contacts,
  .create_dm = pp_create_dm,
  .get_chat_info = pp_get_chat_info,
  .get_user_info = pp_get_user_info,
};

static const PaNetwork pp_network = {
  .magic = PA_PLUGIN_MAGIC,
  .abi_major = PA_PLUGIN_ABI_MAJOR,
  .abi_minor = PA_PLUGIN_ABI_MINOR,
  .struct_size = sizeof (PaNetwork),
  .name = "purple",
  .display_name = "libpurple",
  .version = PURPLE_PLUGIN_VERSION,
  .capabilities = PP_CAPS,
  .login_flows = pp_flows,
  .n_login_flows = G_N_ELEMENTS (pp_flows),
  .init = pp_init,
  .shutdown = pp_shutdown,
  .login_new = pp_login_new,
  .login_ops = &pp_login_ops,
  .normalize_id = pp_normalize_id,
};

/* The plugin's one exported symbol: a static table, valid forever. */
__attribute__ ((visibility ("default"))) const PaNetwork *
pa_plugin_get_network (void)
{
  return &pp_network;
}
