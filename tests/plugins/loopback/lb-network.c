/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * lb-network.c — the loopback plugin's PaNetwork: name, capabilities,
 * configuration keys, its login flow, the PaLoginOps table, and the one
 * exported symbol, pa_plugin_get_network.
 *
 * The plugin (tests/plugins/loopback/, README.md there) talks
 * newline-delimited JSON over TCP to loopnet.py, the scriptable fake network
 * of the integration tests, and uses every part of SDK 2 the way a real
 * network plugin would.  This file only assembles the tables; each part
 * lives in a file of its own (lb-login.c, lb-conn.c, lb-ops.c, lb-emit.c,
 * lb-media.c, lb-import.c, lb-session.c, lb-plugin.c).
 */
#define G_LOG_DOMAIN "passerelle-loopback"

#include "lb-emit.h"
#include "lb-import.h"
#include "lb-login.h"
#include "lb-ops.h"
#include "lb-plugin.h"

static const PaLoginFlow lb_flows[] = {
  { sizeof (PaLoginFlow), "password", "Password",
    "Server address, user name and password; a pairing code when the account asks for one." },
};

/* Configuration: plugins: {loopback: {server: "127.0.0.1:4000", reconnect_max_s: 30}}.
 * loopnet has no token or other secret to configure. */
static const PaConfigKey lb_config_keys[] = {
  { sizeof (PaConfigKey), "server", PA_CONFIG_STRING, LB_DEFAULT_SERVER,
    "loopnet address (host:port) the login form proposes.", false, false },
  { sizeof (PaConfigKey), "reconnect_max_s", PA_CONFIG_INT,
    G_STRINGIFY (LB_DEFAULT_RECONNECT_MAX_S),
    "Longest wait, in seconds (1 to 3600; 0: the default), between two reconnection attempts.",
    false, false },
};

static const PaLoginOps lb_login_ops = {
  .struct_size = sizeof (PaLoginOps),
  .login_free = lb_login_free,
  .login_start = lb_login_start,
  .login_submit = lb_login_submit,
  .login_cancel = lb_login_cancel,
  .connect = lb_connect,
  .disconnect = lb_disconnect,
  .logout = lb_logout,
  .event_persisted = lb_event_persisted,
  .send = lb_send,
  .edit = lb_edit,
  .redact = lb_redact,
  .react = lb_react,
  .mark_read = lb_mark_read,
  .typing = lb_typing,
  .set_chat_info = lb_set_chat_info,
  .set_membership = lb_set_membership,
  .resolve_identifier = lb_resolve_identifier,
  .list_contacts = lb_list_contacts,
  .create_dm = lb_create_dm,
  .create_group = lb_create_group,
  .get_chat_info = lb_get_chat_info,
  .get_user_info = lb_get_user_info,
  .fetch_history = lb_fetch_history,
};

static const PaNetwork lb_network = {
  .magic = PA_PLUGIN_MAGIC,
  .abi_major = PA_PLUGIN_ABI_MAJOR,
  .abi_minor = PA_PLUGIN_ABI_MINOR,
  .struct_size = sizeof (PaNetwork),
  .name = "loopback",
  .display_name = "Loopback",
  .version = LOOPBACK_PLUGIN_VERSION,
  .capabilities = LB_CAPS,
  .config_keys = lb_config_keys,
  .n_config_keys = G_N_ELEMENTS (lb_config_keys),
  .login_flows = lb_flows,
  .n_login_flows = G_N_ELEMENTS (lb_flows),
  .init = lb_init,
  .shutdown = lb_shutdown,
  .login_new = lb_login_new,
  .login_ops = &lb_login_ops,
  .import_file = lb_import_file,
  /* Every login's state is its LbLogin and every host call passes the
   * login's own PaHost: logins may share a process (one each by default). */
  .logins_per_worker = 1,
};

const PaNetwork *pa_plugin_get_network (void);

/* The plugin's one exported symbol: a static table, valid forever. */
__attribute__ ((visibility ("default"))) const PaNetwork *
pa_plugin_get_network (void)
{
  return &lb_network;
}
