/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The provisioning API: requests under provisioning.prefix of the
 * appservice port (pa_appservice_set_prefix_handler) are routed
 * (pa-provision-route.c), authenticated, checked against the bridge's
 * permissions exactly as the management room's commands are, and handed
 * to their endpoint: here whoami, flows, logins and logout; login
 * processes in pa-provision-login.c; contacts and chats in
 * pa-provision-chats.c.
 *
 * Auth, as mautrix's bridges: "Authorization: Bearer <shared secret>"
 * acts for the user named by ?user_id=; "Bearer openid:<token>" is a
 * Matrix OpenID token of the user, checked with the homeserver's
 * federation userinfo endpoint (answers kept five minutes). */
#define G_LOG_DOMAIN "passerelle-provision"

#include "pa-provision.h"

#include "pa-ghost.h"
#include "pa-login-table.h"
#include "pa-login.h"
#include "pa-plugins.h"
#include "pa-policy.h"
#include "pa-provision-chats.h"
#include "pa-provision-json.h"
#include "pa-provision-login.h"
#include "pa-provision-route.h"

/* A request waits this long for a login step or a new portal. */
#define WAIT_S 20
#define OPENID_TTL_US (5 * 60 * G_USEC_PER_SEC)
#define OPENID_CACHE_MAX 1024

typedef struct
{
  PaBridge *b;
  char *secret;
  GHashTable *live;   /* PaProvReq* not answered yet */
  GHashTable *openid; /* token → Verified* */
  PaProvLogins *logins;
} PaProvision;

typedef struct
{
  char *user;
  gint64 until_us;
} Verified;

/* A routed request on its way through auth. */
typedef struct
{
  PaProvision *pv;
  PaProvReq *r;
  PaProvRoute route;
  char *params[PA_PROV_MAX_PARAMS];
  char *token;
} Call;

static void
verified_free (gpointer p)
{
  Verified *v = p;
  g_free (v->user);
  g_free (v);
}

static void
call_free (Call *c)
{
  for (guint i = 0; i < PA_PROV_MAX_PARAMS; i++)
    g_free (c->params[i]);
  g_free (c->token);
  g_free (c);
}

/* ---- endpoints ------------------------------------------------------------ */

static json_t *
plugin_json (PaBridge *b, PaPluginInfo *info, const char *user)
{
  g_autofree char *why = NULL;
  gboolean allowed = pa_policy_plugin_allowed (b, user, info->name, &why);
  json_t *o
      = json_pack ("{s:s, s:s, s:b, s:o}", "name", info->name, "display_name",
                   info->display_name ? info->display_name : info->name, "enabled", allowed,
                   "login_flows", pa_provision_json_flows (json_object_get (info->hello, "flows")));
  if (!allowed)
    json_object_set_new (o, "disabled_reason", json_string (why));
  return o;
}

static json_t *
login_json (PaBridge *b, PaLoginRow *row)
{
  PaAccount *l = pa_login_by_id (b, row->id);
  const char *state = l != NULL ? l->state : row->state;
  g_autofree char *event = pa_provision_json_state_event (state);
  const char *name = row->remote_name ? row->remote_name : row->remote_id;
  return json_pack ("{s:s, s:s, s:s, s:s, s:{s:s, s:b}, s:{s:s}}", "id", row->id, "plugin",
                    row->plugin, "remote_id", row->remote_id, "name", name, "state", "state_event",
                    event, "running", l != NULL, "profile", "name", name);
}

static void
do_whoami (PaProvision *pv, PaProvReq *r)
{
  PaBridge *b = pv->b;
  const char *plugin = pa_provision_req_param (r, "plugin");
  PaPluginInfo *chosen = plugin ? pa_plugin_info (b, plugin) : NULL;
  if (plugin != NULL && chosen == NULL)
    {
      pa_provision_req_error (r, SOUP_STATUS_NOT_FOUND, "M_NOT_FOUND",
                              "there is no plugin named %s on this bridge", plugin);
      return;
    }
  json_t *plugins = json_array ();
  g_autoptr (GList) names
      = g_list_sort (g_hash_table_get_keys (b->plugins), (GCompareFunc) g_strcmp0);
  for (GList *n = names; n != NULL; n = n->next)
    json_array_append_new (plugins, plugin_json (b, pa_plugin_info (b, n->data), r->user));
  json_t *logins = json_array ();
  g_autoptr (GPtrArray) rows = pa_store_login_list (b->store, r->user);
  for (guint i = 0; rows != NULL && i < rows->len; i++)
    {
      PaLoginRow *row = g_ptr_array_index (rows, i);
      if (row->remote_id != NULL && (plugin == NULL || g_str_equal (row->plugin, plugin)))
        json_array_append_new (logins, login_json (b, row));
    }
  json_t *o = json_pack (
      "{s:{s:s, s:s, s:s}, s:o, s:s, s:s, s:s, s:o, s:o}", "network", "displayname",
      chosen ? (chosen->display_name ? chosen->display_name : chosen->name) : "Passerelle",
      "network_id", chosen ? chosen->name : "passerelle", "beeper_bridge_type", "passerelle",
      "login_flows",
      chosen ? pa_provision_json_flows (json_object_get (chosen->hello, "flows")) : json_array (),
      "homeserver", b->config->hs_domain, "bridge_bot", b->bot_mxid, "command_prefix",
      b->config->command_prefix, "logins", logins, "plugins", plugins);
  g_autofree char *room = pa_store_management_room (b->store, r->user);
  if (room != NULL)
    json_object_set_new (o, "management_room", json_string (room));
  pa_provision_req_json (r, SOUP_STATUS_OK, o);
}

/* ?plugin= named and allowed for r->user (answered when not). */
static const char *
allowed_plugin (PaProvision *pv, PaProvReq *r, const char *action)
{
  const char *plugin = pa_provision_req_param (r, "plugin");
  g_autofree char *why = NULL;
  if (plugin == NULL)
    {
      pa_provision_req_error (r, SOUP_STATUS_BAD_REQUEST, "M_MISSING_PARAM",
                              "name the plugin: ?plugin=<name> (see whoami)");
      return NULL;
    }
  if (!pa_policy_plugin_allowed (pv->b, r->user, plugin, &why))
    {
      pa_provision_req_error (r, SOUP_STATUS_FORBIDDEN, "M_FORBIDDEN", "%s %s: %s.", action, plugin,
                              why);
      return NULL;
    }
  return plugin;
}

static void
do_flows (PaProvision *pv, PaProvReq *r)
{
  const char *plugin = allowed_plugin (pv, r, "Cannot log in to");
  if (plugin == NULL)
    return;
  PaPluginInfo *info = pa_plugin_info (pv->b, plugin);
  pa_provision_req_json (
      r, SOUP_STATUS_OK,
      json_pack ("{s:o}", "flows",
                 pa_provision_json_flows (json_object_get (info->hello, "flows"))));
}

static void
do_logins (PaProvision *pv, PaProvReq *r)
{
  json_t *ids = json_array ();
  g_autoptr (GPtrArray) rows = pa_store_login_list (pv->b->store, r->user);
  for (guint i = 0; rows != NULL && i < rows->len; i++)
    {
      PaLoginRow *row = g_ptr_array_index (rows, i);
      if (row->remote_id != NULL)
        json_array_append_new (ids, json_string (row->id));
    }
  pa_provision_req_json (r, SOUP_STATUS_OK, json_pack ("{s:o}", "login_ids", ids));
}

static void
do_logout (PaProvision *pv, PaProvReq *r, const char *login_id)
{
  PaBridge *b = pv->b;
  g_autoptr (GPtrArray) mine = g_ptr_array_new ();
  GHashTableIter it;
  gpointer v;
  g_hash_table_iter_init (&it, b->logins);
  while (g_hash_table_iter_next (&it, NULL, &v))
    {
      PaAccount *l = v;
      if (g_str_equal (l->owner, r->user) && l->logged_in
          && (g_str_equal (login_id, "all") || g_str_equal (l->id, login_id)))
        g_ptr_array_add (mine, l);
    }
  if (mine->len == 0 && !g_str_equal (login_id, "all"))
    {
      pa_provision_req_error (r, SOUP_STATUS_NOT_FOUND, "M_NOT_FOUND", "Login not found");
      return;
    }
  for (guint i = 0; i < mine->len; i++)
    {
      PaAccount *l = g_ptr_array_index (mine, i);
      g_message ("%s logs out of %s over the provisioning API", r->user, l->id);
      pa_login_logout (l);
    }
  pa_provision_req_json (r, SOUP_STATUS_OK, json_object ());
}

/* The login a chat endpoint acts through: ?login_id=, else the user's
 * login of ?plugin=, else their only login; logged in and allowed. */
static PaAccount *
chosen_login (PaProvision *pv, PaProvReq *r)
{
  PaBridge *b = pv->b;
  const char *id = pa_provision_req_param (r, "login_id");
  const char *plugin = pa_provision_req_param (r, "plugin");
  PaAccount *l = NULL;
  if (id != NULL)
    {
      l = pa_login_by_id (b, id);
      if (l == NULL || !g_str_equal (l->owner, r->user))
        {
          pa_provision_req_error (r, SOUP_STATUS_NOT_FOUND, "M_NOT_FOUND", "Login not found");
          return NULL;
        }
    }
  else if (plugin != NULL)
    l = pa_login_find (b, r->user, plugin);
  else
    {
      guint n = 0;
      GHashTableIter it;
      gpointer v;
      g_hash_table_iter_init (&it, b->logins);
      while (g_hash_table_iter_next (&it, NULL, &v))
        if (g_str_equal (((PaAccount *) v)->owner, r->user) && ((PaAccount *) v)->logged_in)
          {
            l = v;
            n++;
          }
      if (n > 1)
        {
          pa_provision_req_error (r, SOUP_STATUS_BAD_REQUEST, "M_MISSING_PARAM",
                                  "you have several logins: name one (?login_id=) or the "
                                  "plugin (?plugin=)");
          return NULL;
        }
    }
  if (l == NULL || !l->logged_in)
    {
      pa_provision_req_error (r, SOUP_STATUS_BAD_REQUEST, "FI.MAU.NOT_LOGGED_IN", "Not logged in");
      return NULL;
    }
  g_autofree char *why = NULL;
  if (!pa_policy_plugin_allowed (b, r->user, l->plugin, &why))
    {
      pa_provision_req_error (r, SOUP_STATUS_FORBIDDEN, "M_FORBIDDEN", "Refused: %s.", why);
      return NULL;
    }
  return l;
}

static void
dispatch (Call *c)
{
  PaProvision *pv = c->pv;
  PaProvReq *r = c->r;
  PaBridge *b = pv->b;
  PaLevel level = pa_policy_level (b, r->user);
  if (g_str_equal (r->user, b->bot_mxid) || pa_ghost_is_ours (b, r->user))
    {
      pa_provision_req_error (r, SOUP_STATUS_FORBIDDEN, "M_FORBIDDEN",
                              "%s is the bridge's own user", r->user);
      return;
    }
  if (level < PA_LEVEL_USER)
    {
      pa_provision_req_error (r, SOUP_STATUS_FORBIDDEN, "M_FORBIDDEN",
                              "You are not allowed to log in: it needs the %s level and yours "
                              "is %s.",
                              pa_level_to_string (PA_LEVEL_USER), pa_level_to_string (level));
      return;
    }
  PaAccount *l = NULL;
  const char *plugin = NULL;
  switch (c->route)
    {
    case PA_PROV_WHOAMI:
      do_whoami (pv, r);
      break;
    case PA_PROV_FLOWS:
      do_flows (pv, r);
      break;
    case PA_PROV_LOGIN_START:
      if ((plugin = allowed_plugin (pv, r, "Cannot log in to")) != NULL)
        pa_provision_login_start (pv->logins, r, plugin, c->params[0]);
      break;
    case PA_PROV_LOGIN_STEP:
      pa_provision_login_step (pv->logins, r, c->params[0], c->params[1], c->params[2]);
      break;
    case PA_PROV_LOGIN_CANCEL:
      pa_provision_login_cancel (pv->logins, r, c->params[0]);
      break;
    case PA_PROV_LOGINS:
      do_logins (pv, r);
      break;
    case PA_PROV_LOGOUT:
      do_logout (pv, r, c->params[0]);
      break;
    case PA_PROV_CONTACTS:
      if ((l = chosen_login (pv, r)) != NULL)
        pa_provision_contacts (l, r);
      break;
    case PA_PROV_RESOLVE:
      if ((l = chosen_login (pv, r)) != NULL)
        pa_provision_resolve (l, r, c->params[0]);
      break;
    case PA_PROV_CREATE_DM:
      if ((l = chosen_login (pv, r)) != NULL)
        pa_provision_create_dm (l, r, c->params[0], WAIT_S);
      break;
    case PA_PROV_NONE:
    default:
      pa_provision_req_error (r, SOUP_STATUS_NOT_FOUND, "M_UNRECOGNIZED", "Unrecognized endpoint");
      break;
    }
}

/* ---- auth ----------------------------------------------------------------- */

/* The user an OpenID token was checked for, then the request goes on. */
static void
openid_verified (Call *c, const char *sub)
{
  PaProvReq *r = c->r;
  const char *asked = pa_provision_req_param (r, "user_id");
  if (sub == NULL || (asked != NULL && !g_str_equal (asked, sub)))
    {
      g_message ("provisioning: OpenID token refused (%s)",
                 sub == NULL ? "not valid" : "another user's");
      pa_provision_req_error (r, SOUP_STATUS_UNAUTHORIZED, "M_UNKNOWN_TOKEN", "Invalid auth token");
      return;
    }
  r->user = g_strdup (sub);
  dispatch (c);
}

static void
openid_answered (PaMatrix *mx, const PaMatrixResponse *resp, gpointer data)
{
  Call *c = data;
  if (c->r->live == NULL) /* the API stopped meanwhile */
    {
      pa_provision_req_json (c->r, SOUP_STATUS_GONE, json_object ());
      call_free (c);
      return;
    }
  const char *sub = NULL;
  if (resp->status == 200)
    sub = json_string_value (json_object_get (resp->body, "sub"));
  if (sub != NULL && !pa_provision_is_user_id (sub))
    sub = NULL;
  if (sub != NULL)
    {
      PaProvision *pv = c->pv;
      if (g_hash_table_size (pv->openid) >= OPENID_CACHE_MAX)
        g_hash_table_remove_all (pv->openid);
      Verified *v = g_new0 (Verified, 1);
      v->user = g_strdup (sub);
      v->until_us = g_get_monotonic_time () + OPENID_TTL_US;
      g_hash_table_replace (pv->openid, g_strdup (c->token), v);
    }
  else
    g_debug ("OpenID userinfo answered %u %s", resp->status, resp->errcode ? resp->errcode : "");
  openid_verified (c, sub);
  call_free (c);
}

static void
check_openid (Call *c)
{
  Verified *v = g_hash_table_lookup (c->pv->openid, c->token);
  if (v != NULL && v->until_us > g_get_monotonic_time ())
    {
      openid_verified (c, v->user);
      call_free (c);
      return;
    }
  g_autofree char *esc = g_uri_escape_string (c->token, NULL, FALSE);
  g_autofree char *path
      = g_strdup_printf ("/_matrix/federation/v1/openid/userinfo?access_token=%s", esc);
  PaMatrixRequest req = { .method = "GET", .path = path, .max_attempts = 1, .timeout_s = 10 };
  pa_matrix_request (c->pv->b->mx, &req, openid_answered, c);
}

static void
on_request (SoupServerMessage *msg, const char *rest, GHashTable *query, GBytes *body,
            gpointer data)
{
  PaProvision *pv = data;
  const char *method = soup_server_message_get_method (msg);
  if (g_str_equal (method, "OPTIONS"))
    {
      /* A web page's preflight: no auth, only what it may send. */
      pa_provision_cors (msg);
      soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
      soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_STATIC, "{}", 2);
      return;
    }
  Call *c = g_new0 (Call, 1);
  c->pv = pv;
  c->r = pa_provision_req_new (msg, query, body, pv->live);
  guint status = pa_provision_route (method, rest, &c->route, c->params);
  if (status != 0)
    {
      pa_provision_req_error (c->r, status, status == 400 ? "M_INVALID_PARAM" : "M_UNRECOGNIZED",
                              status == 404   ? "Unrecognized endpoint"
                              : status == 405 ? "Invalid method for endpoint"
                                              : "a path parameter is not valid");
      call_free (c);
      return;
    }
  gboolean openid = FALSE;
  c->token = pa_provision_auth_token (
      soup_message_headers_get_one (soup_server_message_get_request_headers (msg), "Authorization"),
      &openid);
  if (c->token == NULL)
    {
      pa_provision_req_error (c->r, SOUP_STATUS_UNAUTHORIZED, "M_MISSING_TOKEN",
                              "Missing auth token");
      call_free (c);
      return;
    }
  if (openid)
    {
      check_openid (c);
      return;
    }
  const char *user = pa_provision_req_param (c->r, "user_id");
  if (!pa_secure_equal (c->token, pv->secret))
    pa_provision_req_error (c->r, SOUP_STATUS_UNAUTHORIZED, "M_UNKNOWN_TOKEN",
                            "Invalid auth token");
  else if (user == NULL)
    pa_provision_req_error (c->r, SOUP_STATUS_BAD_REQUEST, "M_MISSING_PARAM",
                            "name the user the request acts for: ?user_id=@…");
  else if (!pa_provision_is_user_id (user))
    pa_provision_req_error (c->r, SOUP_STATUS_BAD_REQUEST, "M_INVALID_PARAM",
                            "user_id is not a Matrix user ID");
  else
    {
      c->r->user = g_strdup (user);
      dispatch (c);
    }
  call_free (c);
}

/* ---- lifecycle ------------------------------------------------------------ */

void
pa_provision_start (PaBridge *b)
{
  PaConfig *cfg = b->config;
  if (cfg->provisioning_secret == NULL)
    {
      g_debug ("provisioning API off (no provisioning.shared_secret)");
      return;
    }
  PaProvision *pv = g_new0 (PaProvision, 1);
  pv->b = b;
  pv->secret = g_strdup (cfg->provisioning_secret);
  pv->live = g_hash_table_new (NULL, NULL);
  pv->openid = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, verified_free);
  pv->logins = pa_provision_logins_new (b, cfg->provisioning_login_idle_s, WAIT_S);
  b->provision = pv;
  pa_appservice_set_prefix_handler (b->as, cfg->provisioning_prefix, on_request, pv);
  g_message ("provisioning API served under %s", cfg->provisioning_prefix);
}

void
pa_provision_stop (PaBridge *b)
{
  PaProvision *pv = b->provision;
  if (pv == NULL)
    return;
  b->provision = NULL;
  if (b->as != NULL)
    pa_appservice_set_prefix_handler (b->as, NULL, NULL, NULL);
  pa_provision_logins_free (pv->logins);
  pa_provision_req_forget_all (pv->live);
  g_hash_table_unref (pv->live);
  g_hash_table_unref (pv->openid);
  explicit_bzero (pv->secret, strlen (pv->secret));
  g_free (pv->secret);
  g_free (pv);
}
