/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * tg-network.c — the plugin's face to the host: the PaNetwork table (the
 * export importer and the live login in one telegram.so), its
 * configuration keys, the login's creation and end, TDLib's update
 * dispatch to the parts.
 *
 * Why apart: the top of the call graph; it only wires the other files
 * together.
 */
#define G_LOG_DOMAIN "passerelle-telegram"

#include <stdlib.h>
#include <string.h>

#include "imp-plugin.h"
#include "tg-import.h"
#include "tg-login.h"
#include "tg-outgoing.h"
#include "tg-private.h"

#define TG_CAPS                                                                                    \
  (PA_CAP_LOGIN | PA_CAP_IMPORT | PA_CAP_GROUPS | PA_CAP_MEDIA | PA_CAP_REPLIES                    \
   | PA_CAP_FORMATTING | PA_CAP_HISTORY | PA_CAP_EDITS | PA_CAP_DELETES | PA_CAP_REACTIONS         \
   | PA_CAP_TYPING | PA_CAP_READ_RECEIPTS | PA_CAP_DISAPPEARING)

static PaHost *tg_host;         /* from init to shutdown */
static const PaHostApi *tg_api; /* idem */

/* ------------------------------------------------------------ dispatch */

/* TDLib's update callback: the login, then the other parts, in turn. */
static void
tg_network_dispatch (json_t *update, void *user_data)
{
  PaLogin *login = user_data;
  const char *type = json_string_value (json_object_get (update, "@type"));
  if (type == NULL || login->closing)
    return;
  if (tg_login_on_update (login, type, update))
    return;
  if (tg_chats_on_update (login, type, update))
    return;
  if (tg_in_on_update (login, type, update))
    return;
  tg_out_on_update (login, type, update);
}

/* ------------------------------------------------------------- network */

static bool
tg_init (PaHost *host, const PaHostApi *api, char **error)
{
  if (!imp_plugin_init (host, api, error))
    return false;
  tg_host = host;
  tg_api = api;
  return true;
}

static void
tg_shutdown (PaHost *host)
{
  imp_plugin_shutdown (host);
  tg_host = NULL;
  tg_api = NULL;
}

/* What a live login needs from config.yaml, checked before anything
 * starts: a clear sentence instead of a login that never ends. */
static gboolean
tg_check_config (const PaHostApi *api, PaHost *host, GError **error)
{
  const char *how = "an administrator gets them at https://my.telegram.org (API development "
                    "tools) and writes them in the plugins.telegram section of config.yaml";
  const char *path = api->config_string (host, "tdjson_path");
  if (path == NULL || *path == '\0')
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
                   "Telegram is not set up on this bridge: plugins.telegram.tdjson_path (the "
                   "path of TDLib's libtdjson.so) is missing from config.yaml");
      return FALSE;
    }
  gint64 api_id = api->config_int (host, "api_id");
  const char *api_hash = api->config_string (host, "api_hash");
  if (api_id <= 0 || api_id > G_MAXINT32)
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
                   "Telegram is not set up on this bridge: plugins.telegram.api_id is missing "
                   "or not a valid id; %s",
                   how);
      return FALSE;
    }
  if (api_hash == NULL || strlen (api_hash) != 32 || strspn (api_hash, "0123456789abcdef") != 32)
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
                   "Telegram is not set up on this bridge: plugins.telegram.api_hash is missing "
                   "or not 32 hexadecimal digits; %s",
                   how);
      return FALSE;
    }
  return TRUE;
}

static void
tg_login_free (PaLogin *login)
{
  if (login == NULL)
    return;
  login->closing = TRUE;
  g_clear_pointer (&login->td, tg_td_close);
  tg_history_free (login);
  tg_out_free (login);
  tg_in_free (login);
  tg_chats_free (login);
  tg_login_part_free (login);
  g_free (login->data_dir);
  g_free (login);
}

static PaLogin *
tg_login_new (PaHost *host, bool saved, char **error)
{
  const PaHostApi *api = tg_api;
  g_autoptr (GError) err = NULL;
  /* `host` is the login's own, not init's when logins share a process. */
  if (api == NULL || tg_host == NULL)
    {
      *error = g_strdup ("the Telegram network was not initialised");
      return NULL;
    }
  if (!tg_check_config (api, host, &err))
    {
      *error = strdup (err->message);
      return NULL;
    }
  PaLogin *login = g_new0 (PaLogin, 1);
  login->host = host;
  login->api = api;
  login->data_dir = g_strdup (api->data_dir (host));
  tg_login_part_init (login, tg_network_dispatch);
  tg_chats_init (login);
  tg_in_init (login);
  tg_out_init (login);
  tg_history_init (login);
  if (!tg_login_boot (login, saved, &err))
    {
      *error = strdup (err->message);
      tg_login_free (login);
      return NULL;
    }
  return login;
}

static const PaConfigKey tg_config_keys[] = {
  { sizeof (PaConfigKey), "tdjson_path", PA_CONFIG_PATH, NULL,
    "TDLib's libtdjson.so (1.8.67 or newer); needed to log in, not to import exports", false,
    false },
  { sizeof (PaConfigKey), "api_id", PA_CONFIG_INT, NULL,
    "the bridge's Telegram application id, from https://my.telegram.org (API development tools)",
    false, false },
  { sizeof (PaConfigKey), "api_hash", PA_CONFIG_STRING, NULL,
    "the application's api_hash from the same page (32 hexadecimal digits)", true, false },
  { sizeof (PaConfigKey), "tdlib_verbosity", PA_CONFIG_INT, "1",
    "TDLib's own log level in the bridge's log (0 fatal errors … 5 everything; 1 errors)", false,
    false },
  { sizeof (PaConfigKey), "history_chats", PA_CONFIG_INT, "20",
    "how many of the most recent chats get their history bridged after a login", false, false },
  { sizeof (PaConfigKey), "history_messages", PA_CONFIG_INT, "50",
    "how many messages of each such chat are bridged back", false, false },
  { sizeof (PaConfigKey), "history_days", PA_CONFIG_INT, "30",
    "how far back in days that history goes", false, false },
  { sizeof (PaConfigKey), "max_media_bytes", PA_CONFIG_INT, "52428800",
    "the largest media file downloaded from Telegram (bigger ones are announced, not fetched)",
    false, false },
#ifdef TG_ALLOW_FAKE_TDJSON
  { sizeof (PaConfigKey), "test_qr_timeout_ms", PA_CONFIG_INT, "0",
    "the test build only: a QR login nobody scans ends after this many ms (0: 5 minutes)", false,
    false },
#endif
};

static const PaLoginFlow tg_flows[] = {
  { sizeof (PaLoginFlow), "qr", "QR code",
    "Scan a QR code with Telegram on a phone already logged in (Settings → Devices → Link "
    "Desktop Device)." },
  { sizeof (PaLoginFlow), "phone", "Phone number",
    "Give the account's phone number, then the code Telegram sends, then the two-step "
    "verification password if there is one." },
};

static const PaLoginOps tg_login_ops = {
  .struct_size = sizeof (PaLoginOps),
  .login_free = tg_login_free,
  .login_start = tg_login_start,
  .login_submit = tg_login_submit,
  .login_cancel = tg_login_cancel,
  .connect = tg_login_connect,
  .disconnect = tg_login_disconnect,
  .logout = tg_login_logout,
  .send = tg_out_send,
  .edit = tg_out_edit,
  .redact = tg_out_redact,
  .react = tg_out_react,
  .mark_read = tg_out_mark_read,
  .typing = tg_out_typing,
  .set_chat_info = tg_out_set_chat_info,
  .set_membership = tg_out_set_membership,
  .resolve_identifier = tg_out_resolve_identifier,
  .list_contacts = tg_out_list_contacts,
  .create_dm = tg_out_create_dm,
  /* create_group: not offered (Telegram groups are created in an app) */
  .get_chat_info = tg_chats_op_get_chat_info,
  .get_user_info = tg_chats_op_get_user_info,
  .fetch_history = tg_history_fetch,
};

static const PaNetwork tg_network = {
  .magic = PA_PLUGIN_MAGIC,
  .abi_major = PA_PLUGIN_ABI_MAJOR,
  .abi_minor = PA_PLUGIN_ABI_MINOR,
  .struct_size = sizeof (PaNetwork),
  .name = "telegram",
  .display_name = "Telegram",
  .version = TELEGRAM_PLUGIN_VERSION,
  .capabilities = TG_CAPS,
  .config_keys = tg_config_keys,
  .n_config_keys = G_N_ELEMENTS (tg_config_keys),
  .login_flows = tg_flows,
  .n_login_flows = G_N_ELEMENTS (tg_flows),
  .init = tg_init,
  .shutdown = tg_shutdown,
  .login_new = tg_login_new,
  .login_ops = &tg_login_ops,
  .import_file = tg_import_file,
  /* A TDLib client, its updates routed by client id (tg-td.c), and the
   * login's own PaHost per login: logins may share a worker process. */
  .logins_per_worker = 1,
};

const PaNetwork *pa_plugin_get_network (void);

/* The plugin's one exported symbol: a static table, valid forever. */
__attribute__ ((visibility ("default"))) const PaNetwork *
pa_plugin_get_network (void)
{
  return &tg_network;
}
