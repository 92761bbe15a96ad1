/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Portals: one Matrix room per DM and receiving login, and one per group
 * chat shared by every agent whose login is in it, created the way Tchap's
 * clients expect (reference-notes §6):
 *   - DMs: created by the contact's ghost, the agent invited with
 *     is_direct, access rule `direct`, no name/topic/avatar;
 *   - groups: created by the bot, access rule `restricted`, name/topic;
 *   - history visibility from config (`invited`), m.room.encryption when
 *     configured, and the m.bridge / uk.half-shot.bridge state.
 * Creation is idempotent: each portal gets a deterministic alias in our
 * namespace, so a second attempt after a crash finds the first room
 * (M_ROOM_IN_USE) instead of creating another. */
#define G_LOG_DOMAIN "passerelle-portal"

#include "pa-portal.h"

#include "pa-bridge-crypto-receive.h"
#include "pa-ghost.h"
#include "pa-login-table.h"
#include "pa-plugins.h"
#include "pa-power-edit.h"
#include "pa-queue.h"
#include "pa-room-power.h"
#include "pa-to-matrix-read-only.h"
#include "pa-to-matrix-room-state.h"

typedef struct {
  PaPortalFunc done;
  gpointer user_data;
} Waiter;

static gboolean
add_waiter (PaBridge *b, const char *key, PaPortalFunc done, gpointer user_data)
{
  GPtrArray *w = g_hash_table_lookup (b->portals_in_progress, key);
  gboolean first = (w == NULL);
  if (first)
    {
      w = g_ptr_array_new_with_free_func (g_free);
      g_hash_table_insert (b->portals_in_progress, g_strdup (key), w);
    }
  Waiter *wt = g_new0 (Waiter, 1);
  wt->done = done;
  wt->user_data = user_data;
  g_ptr_array_add (w, wt);
  return first;
}

static void
finish_waiters (PaBridge *b, const char *key, const char *room_id, const char *error)
{
  GPtrArray *w = NULL;
  gpointer orig_key = NULL;
  if (!g_hash_table_steal_extended (b->portals_in_progress, key, &orig_key, (gpointer *)&w))
    return;
  g_free (orig_key);
  for (guint i = 0; i < w->len; i++)
    {
      Waiter *wt = g_ptr_array_index (w, i);
      wt->done (b, room_id, error, wt->user_data);
    }
  g_ptr_array_free (w, TRUE);
}

void
pa_portal_ensure_member (PaBridge *b, const char *room_id, const char *ghost_mxid)
{
  PaRoomCache *r = pa_portal_cache (b, room_id);
  if (g_hash_table_contains (r->joined, ghost_mxid))
    return;
  g_hash_table_add (r->joined, g_strdup (ghost_mxid));
  /* A DM's creator is in it from the start (and the bot is not there to
   * invite anyone). */
  g_autofree char *key = g_strdup_printf ("creator:%s", room_id);
  g_autofree char *creator = pa_store_kv_get (b->store, key);
  g_autofree char *esc = pa_matrix_escape (room_id);
  if (creator)
    {
      if (g_str_equal (creator, ghost_mxid))
        return;
      if (pa_ghost_is_ours (b, ghost_mxid))
        {
          g_warning ("%s cannot join the DM %s", ghost_mxid, room_id);
          return;
        }
      /* The agent (double puppeting: their own message written on the
       * phone), invited when the DM was made: joined, if not yet. */
      g_autofree char *now = g_strdup_printf ("%" G_GINT64_FORMAT, g_get_real_time ());
      g_autofree char *path = g_strdup_printf ("/_matrix/client/v3/join/%s", esc);
      g_autofree char *txn = pa_queue_txn_id (room_id, "join", ghost_mxid, now, NULL);
      pa_queue_request (b, room_id, "POST", path, ghost_mxid, NULL, 0, txn, NULL);
      return;
    }
  /* Invite (as the bot) then join (as the ghost), through the room's queue
   * so they happen before the ghost's first message.  Both are idempotent
   * on the homeserver side; a refused invite (already joined) is dropped. */
  g_autofree char *ipath = g_strdup_printf ("/_matrix/client/v3/rooms/%s/invite", esc);
  g_autoptr (json_t) ibody = json_pack ("{s:s}", "user_id", ghost_mxid);
  /* Membership changes are idempotent on the homeserver, and a ghost may
   * leave and come back: seed their txn ids with the time, not only the
   * names, so a later re-invite is not mistaken for an old one. */
  g_autofree char *now = g_strdup_printf ("%" G_GINT64_FORMAT, g_get_real_time ());
  g_autofree char *itxn = pa_queue_txn_id (room_id, "invite", ghost_mxid, now, NULL);
  pa_queue_request (b, room_id, "POST", ipath, NULL, ibody, 0, itxn, NULL);
  g_autofree char *jpath = g_strdup_printf ("/_matrix/client/v3/join/%s", esc);
  g_autofree char *jtxn = pa_queue_txn_id (room_id, "join", ghost_mxid, now, NULL);
  pa_queue_request (b, room_id, "POST", jpath, ghost_mxid, NULL, 0, jtxn, NULL);
}

void
pa_portal_forget_member (PaBridge *b, const char *room_id, const char *ghost_mxid)
{
  PaRoomCache *r = pa_portal_cache (b, room_id);
  g_hash_table_remove (r->joined, ghost_mxid);
}

char *
pa_portal_alias_localpart (PaBridge *b, const char *plugin, const char *login_id,
                           const char *chat_id)
{
  g_autofree char *joined = g_strjoin ("\x1f", login_id, chat_id, NULL);
  g_autofree char *h = g_compute_checksum_for_string (G_CHECKSUM_SHA256, joined, -1);
  return g_strdup_printf ("%s%s_%.24s", b->config->ghost_prefix, plugin, h);
}

typedef struct {
  PaBridge *b;
  char *key;
  char *plugin;
  char *login_id;    /* PA_STORE_SHARED_LOGIN for a shared group */
  char *first_login; /* the login whose event made a shared group */
  char *owner;
  char *chat_id;
  char *kind;
  char *name;
  char *alias;
  char *creator; /* NULL = bot */
  json_t *create_body;
  gboolean secret;    /* PaChatInfo.secret: always encrypted */
  gboolean read_only; /* PaChatInfo.read_only: only the network's side posts */
} CreateCtx;

static void
create_ctx_free (CreateCtx *c)
{
  g_free (c->key);
  g_free (c->plugin);
  g_free (c->login_id);
  g_free (c->first_login);
  g_free (c->owner);
  g_free (c->chat_id);
  g_free (c->kind);
  g_free (c->name);
  g_free (c->alias);
  g_free (c->creator);
  json_decref (c->create_body);
  g_free (c);
}

static void
portal_created (CreateCtx *c, const char *room_id, const char *error)
{
  PaBridge *b = c->b;
  if (room_id)
    {
      PaPortalRow row = { .plugin = c->plugin, .login_id = c->login_id, .chat_id = c->chat_id,
                          .room_id = (char *) room_id, .kind = c->kind, .name = c->name,
                          .encrypted = b->config->encryption_default || c->secret };
      g_autoptr (GError) e = NULL;
      if (!pa_store_portal_put (b->store, &row, &e))
        g_warning ("store: %s", e->message);
      /* Its first login's owner was invited by createRoom. */
      g_autoptr (GError) le = NULL;
      if (c->first_login
          && !pa_store_portal_login_add (b->store, room_id, c->first_login, NULL, &le))
        g_warning ("store: %s", le->message);
      PaRoomCache *r = pa_portal_cache (b, room_id);
      if (c->creator)
        {
          /* DMs have no bot (Tchap's `direct` rule allows two members):
           * remember who speaks for the bridge there. */
          g_autofree char *k = g_strdup_printf ("creator:%s", room_id);
          if (!pa_store_kv_set (b->store, k, c->creator, &e))
            g_warning ("store: %s", e->message);
          g_hash_table_add (r->joined, g_strdup (c->creator));
        }
      pa_bridge_crypto_portal_created (b, room_id, c->creator, row.encrypted);
      pa_room_state_created (b, c->plugin, room_id, c->secret, c->read_only);
      g_message ("portal %s/%s → %s", c->plugin, c->chat_id, room_id);
    }
  finish_waiters (b, c->key, room_id, error);
  create_ctx_free (c);
}

static void
alias_resolved (PaMatrix *mx, const PaMatrixResponse *resp, gpointer user_data)
{
  CreateCtx *c = user_data;
  const char *room_id = json_string_value (json_object_get (resp->body, "room_id"));
  if (pa_matrix_response_ok (resp) && room_id)
    portal_created (c, room_id, NULL);
  else
    {
      g_autoptr (GError) e = pa_matrix_response_to_error (resp);
      portal_created (c, NULL, e->message);
    }
}

static void
room_created (PaMatrix *mx, const PaMatrixResponse *resp, gpointer user_data)
{
  CreateCtx *c = user_data;
  if (pa_matrix_response_ok (resp))
    {
      portal_created (c, json_string_value (json_object_get (resp->body, "room_id")), NULL);
      return;
    }
  if (resp->errcode && g_str_equal (resp->errcode, "M_ROOM_IN_USE"))
    {
      /* Created by an earlier run that died before recording it. */
      g_autofree char *alias = g_strdup_printf ("#%s:%s", c->alias, c->b->config->hs_domain);
      g_autofree char *esc = pa_matrix_escape (alias);
      g_autofree char *path = g_strdup_printf ("/_matrix/client/v3/directory/room/%s", esc);
      PaMatrixRequest req = { .method = "GET", .path = path, .max_attempts = 0 };
      pa_matrix_request (c->b->mx, &req, alias_resolved, c);
      return;
    }
  g_autoptr (GError) e = pa_matrix_response_to_error (resp);
  portal_created (c, NULL, e->message);
}

static void
create_ready (PaBridge *b, const char *error, gpointer user_data)
{
  CreateCtx *c = user_data;
  if (error)
    {
      portal_created (c, NULL, error);
      return;
    }
  PaMatrixRequest req = { .method = "POST", .path = "/_matrix/client/v3/createRoom",
                          .user_id = c->creator, .body = c->create_body, .max_attempts = 0 };
  pa_matrix_request (c->b->mx, &req, room_created, c);
}

static void
do_create (CreateCtx *c)
{
  pa_room_power_prepare_create (c->b, c->creator, c->create_body, create_ready, c);
}

static void
creator_ready (PaBridge *b, gboolean ok, const char *error, gpointer user_data)
{
  CreateCtx *c = user_data;
  if (!ok)
    {
      portal_created (c, NULL, error);
      return;
    }
  do_create (c);
}

static json_t *
state_event (const char *type, const char *state_key, json_t *content)
{
  return json_pack ("{s:s, s:s, s:o}", "type", type, "state_key", state_key, "content", content);
}

static json_t *
create_body (PaBridge *b, CreateCtx *c, json_t *chat, const char *protocol_name)
{
  PaConfig *cfg = b->config;
  gboolean dm = g_str_equal (c->kind, "dm");
  json_t *initial = json_array ();
  json_array_append_new (initial,
                         state_event ("im.vector.room.access_rules", "",
                                      json_pack ("{s:s}", "rule", dm ? "direct" : "restricted")));
  json_array_append_new (initial, state_event ("m.room.history_visibility", "",
                                               json_pack ("{s:s}", "history_visibility",
                                                          cfg->history_visibility)));
  /* A secret chat's room is encrypted whatever the default says. */
  if (cfg->encryption_default || c->secret)
    json_array_append_new (initial, state_event ("m.room.encryption", "",
                                                 json_pack ("{s:s}", "algorithm",
                                                            "m.megolm.v1.aes-sha2")));
  if (c->secret)
    json_array_append_new (initial, state_event (PA_SECRET_EVENT, "",
                                                 json_pack ("{s:b}", "secret", 1)));
  g_autofree char *bridge_key = g_strdup_printf ("fr.passerelle://%s/%s/%s", c->plugin,
                                                 c->login_id, c->chat_id);
  json_t *bridge = json_pack ("{s:s, s:s, s:{s:s, s:s}, s:{s:s, s:s?}}", "bridgebot", b->bot_mxid,
                              "creator", c->creator ? c->creator : b->bot_mxid, "protocol", "id",
                              c->plugin, "displayname", protocol_name, "channel", "id", c->chat_id,
                              "displayname", c->name);
  json_array_append_new (initial, state_event ("m.bridge", bridge_key, json_deep_copy (bridge)));
  json_array_append_new (initial, state_event ("uk.half-shot.bridge", bridge_key, bridge));

  /* Only a group's agent needs raising; the creator (and a DM's agent,
   * with trusted_private_chat) are added or left out by the room version
   * (pa_room_power_prepare_create). */
  json_t *users = json_object ();
  json_t *levels = json_pack ("{s:o}", "users", users);
  /* A read-only group: the agent is left at 0, under events_default
   * (pa-to-matrix-read-only.c raises the ghosts that post). */
  if (!dm && c->read_only)
    json_object_set_new (levels, "events_default", json_integer (PA_READ_ONLY_POST_LEVEL));
  else if (!dm)
    json_object_set_new (users, c->owner, json_integer (100));

  json_t *body = json_pack ("{s:s, s:s, s:[s], s:b, s:o, s:o, s:s}", "visibility", "private",
                            "preset", dm ? "trusted_private_chat" : "private_chat", "invite",
                            c->owner, "is_direct", dm, "initial_state", initial,
                            "power_level_content_override", levels, "room_alias_name", c->alias);
  if (!dm)
    {
      if (c->name)
        json_object_set_new (body, "name", json_string (c->name));
      const char *topic = json_string_value (json_object_get (chat, "topic"));
      if (topic)
        json_object_set_new (body, "topic", json_string (topic));
    }
  json_object_set_new (body, "creation_content", json_pack ("{s:b}", "m.federate", 1));
  return body;
}

/* The room's power levels: every agent with a login in the shared portal
 * gets 100, as the one agent of a group portal does.  All of them at once,
 * so two agents added together do not undo each other; through the room's
 * line of power-level changes (pa-power-edit.c), so neither does a change
 * of admins or read-only.  A read-only chat's agents stay under
 * events_default. */
static gboolean
raise_agents (PaBridge *b, const char *room_id, const char *voice, json_t *pl, gpointer data)
{
  if (pa_room_state_read_only (b, room_id))
    return FALSE;
  json_t *users = json_object_get (pl, "users");
  gboolean changed = FALSE;
  if (!json_is_object (users))
    {
      users = json_object ();
      json_object_set_new (pl, "users", users);
    }
  g_auto (GStrv) ids = pa_store_portal_logins (b->store, room_id);
  for (guint i = 0; ids && ids[i]; i++)
    {
      PaAccount *l = pa_login_by_id (b, ids[i]);
      if (l && json_integer_value (json_object_get (users, l->owner)) < 100)
        {
          json_object_set_new (users, l->owner, json_integer (100));
          changed = TRUE;
        }
    }
  return changed;
}

/* The login is in the shared portal room_id: recorded, and its owner
 * invited the first time (each agent is in the room as themself and joins
 * it from their client, as they do for a portal of their own) and raised
 * to power 100 like the group's first agent. */
void
pa_portal_add_login (PaBridge *b, const char *room_id, PaAccount *login)
{
  gboolean is_new = FALSE;
  g_autoptr (GError) e = NULL;
  if (!pa_store_portal_login_add (b->store, room_id, login->id, &is_new, &e))
    {
      g_warning ("store: %s", e->message);
      return;
    }
  if (!is_new)
    return;
  g_message ("login %s is in the shared portal %s: %s invited", login->id, room_id, login->owner);
  g_autofree char *esc = pa_matrix_escape (room_id);
  g_autofree char *path = g_strdup_printf ("/_matrix/client/v3/rooms/%s/invite", esc);
  g_autoptr (json_t) body = json_pack ("{s:s}", "user_id", login->owner);
  g_autofree char *now = g_strdup_printf ("%" G_GINT64_FORMAT, g_get_real_time ());
  g_autofree char *txn = pa_queue_txn_id (room_id, "invite-agent", login->owner, now, NULL);
  pa_queue_request (b, room_id, "POST", path, NULL, body, 0, txn, NULL);
  pa_power_edit (b, room_id, raise_agents, NULL, NULL, NULL, NULL);
}

typedef struct {
  char *login_id;
  PaPortalFunc done;
  gpointer user_data;
} SharedWait;

/* A login waited for its shared group's room: it is in it now. */
static void
shared_ready (PaBridge *b, const char *room_id, const char *error, gpointer user_data)
{
  SharedWait *sw = user_data;
  PaAccount *login = pa_login_by_id (b, sw->login_id);
  if (room_id && login)
    pa_portal_add_login (b, room_id, login);
  sw->done (b, room_id, error, sw->user_data);
  g_free (sw->login_id);
  g_free (sw);
}

/* A secret chat where the bridge runs without encryption: never bridged
 * in clear.  The refusal is remembered (the chat's later messages come
 * without their chat info) and told to the agent once. */
static gboolean
secret_refused (PaBridge *b, PaAccount *login, const char *chat_id, json_t *chat)
{
  if (b->config->encryption_allow)
    return FALSE;
  g_autofree char *key
      = g_strdup_printf ("secret-refused\x1f%s\x1f%s\x1f%s", login->plugin, login->id, chat_id);
  g_autofree char *known = pa_store_kv_get (b->store, key);
  if (known != NULL)
    return TRUE;
  if (!json_is_true (json_object_get (chat, "secret")))
    return FALSE;
  g_autoptr (GError) e = NULL;
  if (!pa_store_kv_set (b->store, key, "1", &e))
    g_warning ("store: %s", e->message);
  PaPluginInfo *info = pa_plugin_info (b, login->plugin);
  const char *name = json_string_value (json_object_get (chat, "name"));
  g_autofree char *msg = g_strdup_printf (
      "🔒 A secret chat%s%s%s on %s was not bridged: this bridge runs without encryption, "
      "and a secret chat is never bridged in clear.  Read it on your phone.",
      name ? " (" : "", name ? name : "", name ? ")" : "",
      info ? info->display_name : login->plugin);
  pa_portal_notify_owner (b, login->owner, msg);
  g_message ("secret chat %s/%s of %s refused: encryption is off", login->plugin, chat_id,
             login->id);
  return TRUE;
}

/* The member `id` of a chat's info, or NULL. */
static json_t *
chat_member (json_t *chat, const char *id)
{
  json_t *members = json_object_get (chat, "members");
  for (size_t i = 0; i < json_array_size (members); i++)
    {
      json_t *m = json_array_get (members, i);
      if (g_strcmp0 (json_string_value (json_object_get (m, "id")), id) == 0)
        return m;
    }
  return NULL;
}

void
pa_portal_ensure (PaBridge *b, PaAccount *login, const char *chat_id, json_t *chat,
                  const char *dm_peer, PaPortalFunc done, gpointer user_data)
{
  if (secret_refused (b, login, chat_id, chat))
    {
      done (b, NULL, PA_PORTAL_REFUSED, user_data);
      return;
    }
  const char *kind = json_string_value (json_object_get (chat, "kind"));
  /* A history import's rooms are its own: an exported group is never put
   * into (or made) the live group's shared portal. */
  gboolean group_kind = kind && g_str_equal (kind, "group");
  gboolean group = group_kind && !login->history; /* shared */
  gboolean dm = (kind && !group_kind) || login->history; /* looked up as the login's own */
  /* A login's own room first (a DM; a group room from before shared
   * portals), else the group's shared room.  An event without its chat
   * (most messages) may be for either. */
  g_autoptr (PaPortalRow) row
      = dm ? pa_store_portal_get (b->store, login->plugin, login->id, chat_id)
           : pa_store_portal_find (b->store, login->plugin, login->id, chat_id);
  if (row && row->room_id)
    {
      if (g_str_equal (row->login_id, PA_STORE_SHARED_LOGIN))
        pa_portal_add_login (b, row->room_id, login);
      done (b, row->room_id, NULL, user_data);
      return;
    }
  const char *portal_login = group ? PA_STORE_SHARED_LOGIN : login->id;
  g_autofree char *key
      = g_strdup_printf ("portal\x1f%s\x1f%s\x1f%s", login->plugin, portal_login, chat_id);
  if (group)
    {
      /* Several logins may wait for the same group's room. */
      SharedWait *sw = g_new0 (SharedWait, 1);
      sw->login_id = g_strdup (login->id);
      sw->done = done;
      sw->user_data = user_data;
      done = shared_ready;
      user_data = sw;
    }
  if (!add_waiter (b, key, done, user_data))
    return;

  CreateCtx *c = g_new0 (CreateCtx, 1);
  c->b = b;
  c->key = g_steal_pointer (&key);
  c->plugin = g_strdup (login->plugin);
  c->login_id = g_strdup (portal_login);
  c->first_login = group ? g_strdup (login->id) : NULL;
  c->owner = g_strdup (login->owner);
  c->chat_id = g_strdup (chat_id);
  c->kind = g_strdup (group_kind ? "group" : "dm");
  c->name = g_strdup (json_string_value (json_object_get (chat, "name")));
  c->alias = pa_portal_alias_localpart (b, login->plugin, portal_login, chat_id);
  c->secret = json_is_true (json_object_get (chat, "secret"));
  c->read_only = json_is_true (json_object_get (chat, "read_only"));
  PaPluginInfo *info = pa_plugin_info (b, login->plugin);
  const char *peer = dm_peer ? dm_peer : chat_id;
  if (g_str_equal (c->kind, "dm"))
    c->creator = pa_ghost_mxid (b, login->plugin, peer);
  c->create_body = create_body (b, c, chat, info ? info->display_name : login->plugin);
  if (c->creator)
    {
      /* Named before it makes the room: its join carries the contact's
       * name and picture the chat's members give. */
      json_t *m = chat_member (chat, peer);
      pa_ghost_ensure (b, login->plugin, peer, json_string_value (json_object_get (m, "name")),
                       json_string_value (json_object_get (m, "avatar_path")), creator_ready, c);
    }
  else
    do_create (c);
}

/* ------------------------------------------------------ management room */

typedef struct {
  PaBridge *b;
  char *owner;
  char *key;
  json_t *body;
} MgmtCtx;

static void
mgmt_free (MgmtCtx *m)
{
  g_free (m->owner);
  g_free (m->key);
  json_decref (m->body);
  g_free (m);
}

static void
mgmt_created (PaMatrix *mx, const PaMatrixResponse *resp, gpointer user_data)
{
  MgmtCtx *m = user_data;
  const char *room_id = json_string_value (json_object_get (resp->body, "room_id"));
  if (pa_matrix_response_ok (resp) && room_id)
    {
      g_autoptr (GError) e = NULL;
      if (!pa_store_management_put (m->b->store, m->owner, room_id, &e))
        g_warning ("store: %s", e->message);
      finish_waiters (m->b, m->key, room_id, NULL);
    }
  else
    {
      g_autoptr (GError) e = pa_matrix_response_to_error (resp);
      finish_waiters (m->b, m->key, NULL, e->message);
    }
  mgmt_free (m);
}

static void
mgmt_ready (PaBridge *b, const char *error, gpointer user_data)
{
  MgmtCtx *m = user_data;
  if (error)
    {
      finish_waiters (b, m->key, NULL, error);
      mgmt_free (m);
      return;
    }
  PaMatrixRequest req = { .method = "POST", .path = "/_matrix/client/v3/createRoom",
                          .body = m->body, .max_attempts = 0 };
  pa_matrix_request (b->mx, &req, mgmt_created, m);
}

static void mgmt_create (PaBridge *b, const char *owner, char *key);

void
pa_portal_management_room (PaBridge *b, const char *owner, PaPortalFunc done,
                           gpointer user_data)
{
  g_autofree char *room = pa_store_management_room (b->store, owner);
  if (room)
    {
      done (b, room, NULL, user_data);
      return;
    }
  g_autofree char *key = g_strdup_printf ("mgmt\x1f%s", owner);
  if (!add_waiter (b, key, done, user_data))
    return;
  mgmt_create (b, owner, g_steal_pointer (&key));
}

/* A new management room made by the bot (so it is an admin there and can
 * delete the passwords typed in it), replacing the owner's current one. */
void
pa_portal_management_room_new (PaBridge *b, const char *owner, PaPortalFunc done,
                               gpointer user_data)
{
  g_autofree char *key = g_strdup_printf ("mgmt-new\x1f%s", owner);
  if (!add_waiter (b, key, done, user_data))
    return;
  mgmt_create (b, owner, g_steal_pointer (&key));
}

/* Creates a management room for `owner`; the waiters of `key` (taken)
 * are told. */
static void
mgmt_create (PaBridge *b, const char *owner, char *key)
{
  MgmtCtx *m = g_new0 (MgmtCtx, 1);
  m->b = b;
  m->owner = g_strdup (owner);
  m->key = key;
  /* A DM with the bot: no name or topic (Tchap refuses them in `direct`
   * rooms). */
  m->body = json_pack (
      "{s:s, s:s, s:[s], s:b, s:[{s:s, s:s, s:{s:s}}, {s:s, s:s, s:{s:s}}]}", "visibility",
      "private", "preset", "trusted_private_chat", "invite", owner, "is_direct", 1,
      "initial_state", "type", "im.vector.room.access_rules", "state_key", "", "content", "rule",
      "direct", "type", "m.room.history_visibility", "state_key", "", "content",
      "history_visibility", "invited");
  pa_room_power_prepare_create (b, NULL, m->body, mgmt_ready, m);
}

static void
notify_owner_cb (PaBridge *b, const char *room_id, const char *error, gpointer user_data)
{
  g_autofree char *text = user_data;
  if (room_id)
    pa_queue_notice (b, room_id, text);
  else
    g_warning ("could not reach the management room: %s (message was: %s)", error, text);
}
/* Notice to the owner's management room (created on demand). */
void
pa_portal_notify_owner (PaBridge *b, const char *owner, const char *text)
{
  pa_portal_management_room (b, owner, notify_owner_cb, g_strdup (text));
}
