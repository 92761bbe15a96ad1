/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Matrix → legacy: events from the homeserver's transactions.
 *
 * Order of checks for each event: drop our own ghosts' and bot's echoes;
 * the sender's permission level (blocked users are ignored silently);
 * management-room commands and login answers; then portal events become
 * worker operations for the portal's login, checked against the
 * ministry's enabled plugins.  Every refusal or failure is told to the
 * agent in the room, never dropped silently.
 *
 * In a shared group portal an agent writes through their own login in it;
 * an agent without one is told so, or, at permission level `relay`, is
 * relayed through a login of the portal as "Name: text". */
#define G_LOG_DOMAIN "passerelle-matrix-in"

#include "pa-to-legacy-dispatch.h"

#include "pa-bridge-crypto-receive.h"
#include "pa-bridge-verify.h"
#include "pa-commands.h"
#include "pa-convert.h"
#include "pa-ghost.h"
#include "pa-import-upload.h"
#include "pa-import.h"
#include "pa-login-table.h"
#include "pa-login-talk.h"
#include "pa-media.h"
#include "pa-plugins.h"
#include "pa-policy.h"
#include "pa-portal.h"
#include "pa-queue.h"
#include "pa-to-legacy-ephemeral.h"
#include "pa-to-legacy-quarantine.h"
#include "pa-to-legacy-room-state.h"
#include "pa-to-legacy-send.h"

#include <gio/gio.h>

static const char *
str (json_t *o, const char *key)
{
  return json_string_value (json_object_get (o, key));
}

static void
finish (PaBridge *b, PaEventDoneFunc done)
{
  if (done)
    done (b);
}

/* An event for a login that is (re)connecting waits for it, a bounded
 * time, instead of failing: after a restart Synapse replays the
 * transactions it queued at once, before the workers are connected. */
#define PA_WAIT_FOR_LOGIN_MS 30000

typedef struct
{
  PaBridge *b;
  json_t *ev;
  PaEventDoneFunc done;
} Deferred;

static gboolean
deferred_run (gpointer data)
{
  Deferred *d = data;
  pa_to_legacy_dispatch (d->b, d->ev, d->done);
  json_decref (d->ev);
  g_free (d);
  return G_SOURCE_REMOVE;
}

/* TRUE when the event was deferred (the caller returns without done). */
static gboolean
wait_for_login (PaBridge *b, PaAccount *login, json_t *ev, PaEventDoneFunc done)
{
  const char *event_id = str (ev, "event_id");
  if (login == NULL || event_id == NULL || done == NULL
      || (g_strcmp0 (login->state, "connected") == 0 && pa_worker_is_running (login->worker)))
    {
      if (event_id)
        g_hash_table_remove (b->login_waits, event_id);
      return FALSE;
    }
  if (g_strcmp0 (login->state, "bad_credentials") == 0
      || g_strcmp0 (login->state, "logged_out") == 0)
    return FALSE;
  gint64 *since = g_hash_table_lookup (b->login_waits, event_id);
  if (since == NULL)
    {
      since = g_new (gint64, 1);
      *since = pa_now_ms ();
      g_hash_table_insert (b->login_waits, g_strdup (event_id), since);
    }
  if (pa_now_ms () - *since > PA_WAIT_FOR_LOGIN_MS)
    {
      g_hash_table_remove (b->login_waits, event_id);
      return FALSE;
    }
  Deferred *d = g_new0 (Deferred, 1);
  d->b = b;
  d->ev = json_incref (ev);
  d->done = done;
  g_timeout_add (200, deferred_run, d);
  return TRUE;
}

/* In a shared portal: the sender's own login in it, or NULL. */
static PaAccount *
shared_login_of (PaBridge *b, const char *room_id, const char *sender)
{
  g_auto (GStrv) ids = pa_store_portal_logins (b->store, room_id);
  for (guint i = 0; ids && ids[i]; i++)
    {
      PaAccount *l = pa_login_by_id (b, ids[i]);
      if (l && g_str_equal (l->owner, sender))
        return l;
    }
  return NULL;
}

/* In a shared portal: the login to relay through, a connected one first,
 * or NULL. */
static PaAccount *
shared_relay_login (PaBridge *b, const char *room_id)
{
  g_auto (GStrv) ids = pa_store_portal_logins (b->store, room_id);
  PaAccount *any = NULL;
  for (guint i = 0; ids && ids[i]; i++)
    {
      PaAccount *l = pa_login_by_id (b, ids[i]);
      if (l == NULL)
        continue;
      if (g_strcmp0 (l->state, "connected") == 0)
        return l;
      if (any == NULL)
        any = l;
    }
  return any;
}

/* Which login sends for `sender`: the portal's own login (its owner only),
 * or in a shared portal the sender's login there; *out_relay when a
 * relay-level user is relayed through another's login.  FALSE (told in
 * the room) when nobody can. */
static gboolean
portal_allowed (PaBridge *b, PaPortalRow *row, json_t *ev, PaAccount **out_login,
                gboolean *out_relay)
{
  const char *sender = str (ev, "sender");
  const char *room_id = str (ev, "room_id");
  const char *event_id = str (ev, "event_id");
  g_autofree char *why = NULL;
  PaAccount *login = NULL;
  *out_relay = FALSE;
  /* The plugin disabled for the sender's ministry comes first: their login
   * was stopped for that reason, and "log in again" would be false. */
  if (pa_policy_level (b, sender) >= PA_LEVEL_USER
      && !pa_policy_plugin_allowed (b, sender, row->plugin, &why))
    {
      g_autofree char *msg = g_strdup_printf ("⚠ Not delivered: %s.", why);
      pa_queue_notice_reply (b, room_id, event_id, msg);
      return FALSE;
    }
  if (g_str_equal (row->login_id, PA_STORE_SHARED_LOGIN))
    {
      login = shared_login_of (b, room_id, sender);
      if (login == NULL && pa_policy_level (b, sender) == PA_LEVEL_RELAY
          && g_strcmp0 (str (ev, "type"), "m.room.message") == 0
          && (login = shared_relay_login (b, room_id)) != NULL)
        {
          /* Relayed: the relaying login's owner must have the plugin. */
          if (!pa_policy_plugin_allowed (b, login->owner, row->plugin, &why))
            {
              /* `why` speaks to the relaying login's owner, not to the
               * sender: say whose it is. */
              g_autofree char *msg = g_strdup_printf (
                  "⚠ Not delivered: it would be relayed through the %s login of %s, who "
                  "cannot use it (%s).",
                  row->plugin, login->owner, why);
              pa_queue_notice_reply (b, room_id, event_id, msg);
              return FALSE;
            }
          *out_relay = TRUE;
          *out_login = login;
          return TRUE;
        }
      if (login == NULL)
        {
          PaPluginInfo *info = pa_plugin_info (b, row->plugin);
          const char *network = info && info->display_name ? info->display_name : row->plugin;
          /* Logging in again does not help someone whose account is not in
           * the group: say which case it is. */
          g_autofree char *msg
              = pa_login_find (b, sender, row->plugin) != NULL
                    ? g_strdup_printf ("⚠ Not delivered: your %s account is not in this group "
                                       "(a member of the group on %s can add it).",
                                       network, network)
                    : g_strdup_printf ("⚠ Not delivered: you have no %s login in this group; "
                                       "log in with `login %s`.",
                                       network, row->plugin);
          pa_queue_notice_reply (b, room_id, event_id, msg);
          return FALSE;
        }
    }
  else
    login = pa_login_by_id (b, row->login_id);
  if (login == NULL)
    {
      g_autofree char *msg = g_strdup_printf (
          "⚠ Not delivered: this conversation's %s login is not running (log in again with "
          "`login %s` in your Passerelle room).",
          row->plugin, row->plugin);
      pa_queue_notice_reply (b, room_id, event_id, msg);
      return FALSE;
    }
  if (!g_str_equal (login->owner, sender))
    {
      /* Relay happens in shared group portals only: a per-login room (a DM)
       * speaks for its owner alone. */
      g_autofree char *msg = g_strdup_printf ("⚠ Not delivered: only %s can send through this "
                                              "portal.",
                                              login->owner);
      pa_queue_notice (b, room_id, msg);
      return FALSE;
    }
  if (!pa_policy_plugin_allowed (b, sender, row->plugin, &why))
    {
      g_autofree char *msg = g_strdup_printf ("⚠ Not delivered: %s.", why);
      pa_queue_notice (b, room_id, msg);
      return FALSE;
    }
  *out_login = login;
  return TRUE;
}

/* The command in `body` after the command prefix and a space (or the
 * prefix alone), or NULL when body does not start with the prefix. */
static const char *
after_prefix (PaBridge *b, const char *body)
{
  const char *prefix = b->config->command_prefix;
  gsize n = prefix != NULL ? strlen (prefix) : 0;

  if (body == NULL || n == 0 || strncmp (body, prefix, n) != 0
      || (body[n] != ' ' && body[n] != '\0'))
    return NULL;
  return body + n;
}

/* ------------------------------------------------------------- relay */

typedef struct
{
  PaBridge *b;
  PaPortalRow *row;
  char *login_id;
  json_t *ev;
  PaEventDoneFunc done;
} RelayCtx;

/* "Name: text": the relayed message says who wrote it. */
static void
relay_prefix (json_t *content, const char *name)
{
  const char *msgtype = str (content, "msgtype");
  /* A media's body is its file name: left as it is. */
  if (msgtype && !g_str_equal (msgtype, "m.text") && !g_str_equal (msgtype, "m.notice")
      && !g_str_equal (msgtype, "m.emote"))
    return;
  const char *body = str (content, "body");
  const char *formatted = str (content, "formatted_body");
  g_autofree char *nb = g_strdup_printf ("%s: %s", name, body ? body : "");
  json_object_set_new (content, "body", json_string (nb));
  if (formatted)
    {
      g_autofree char *esc = g_markup_escape_text (name, -1);
      g_autofree char *nf = g_strdup_printf ("%s: %s", esc, formatted);
      json_object_set_new (content, "formatted_body", json_string (nf));
    }
}

static void
relay_named (PaMatrix *mx, const PaMatrixResponse *resp, gpointer user_data)
{
  RelayCtx *r = user_data;
  PaBridge *b = r->b;
  const char *sender = str (r->ev, "sender");
  const char *name = pa_matrix_response_ok (resp)
                         ? json_string_value (json_object_get (resp->body, "displayname"))
                         : NULL;
  g_autoptr (json_t) ev = json_deep_copy (r->ev);
  relay_prefix (json_object_get (ev, "content"), name && *name ? name : sender);
  PaAccount *login = pa_login_by_id (b, r->login_id);
  if (login == NULL)
    {
      pa_queue_notice_reply (b, str (ev, "room_id"), str (ev, "event_id"),
                             "⚠ Not delivered: no login of this group is running to relay it.");
      finish (b, r->done);
    }
  else
    pa_to_legacy_send (b, r->row, login, ev, r->done);
  pa_portal_row_free (r->row);
  g_free (r->login_id);
  json_decref (r->ev);
  g_free (r);
}

/* Relayed through `login`: the sender's display name first. */
static void
relay_message (PaBridge *b, PaPortalRow *row, PaAccount *login, json_t *ev, PaEventDoneFunc done)
{
  RelayCtx *r = g_new0 (RelayCtx, 1);
  r->b = b;
  r->row = g_new0 (PaPortalRow, 1);
  r->row->plugin = g_strdup (row->plugin);
  r->row->login_id = g_strdup (row->login_id);
  r->row->chat_id = g_strdup (row->chat_id);
  r->row->room_id = g_strdup (row->room_id);
  r->row->kind = g_strdup (row->kind);
  r->row->name = g_strdup (row->name);
  r->row->encrypted = row->encrypted;
  r->login_id = g_strdup (login->id);
  r->ev = json_incref (ev);
  r->done = done;
  g_autofree char *esc = pa_matrix_escape (str (ev, "sender"));
  g_autofree char *path = g_strdup_printf ("/_matrix/client/v3/profile/%s/displayname", esc);
  PaMatrixRequest req = { .method = "GET", .path = path, .max_attempts = 3 };
  pa_matrix_request (b->mx, &req, relay_named, r);
}

static void
portal_message (PaBridge *b, PaPortalRow *row, json_t *ev, PaEventDoneFunc done)
{
  const char *room_id = str (ev, "room_id");
  const char *sender = str (ev, "sender");
  const char *event_id = str (ev, "event_id");
  json_t *content = json_object_get (ev, "content");
  const char *type = str (ev, "type");
  PaAccount *login = NULL;
  gboolean relay = FALSE;

  const char *command = after_prefix (b, str (content, "body"));
  if (g_str_equal (type, "m.room.message") && command != NULL)
    {
      /* In a portal only what starts with the prefix is a command (and is
       * not bridged); everything else is the conversation. */
      pa_commands_handle (b, room_id, sender, event_id, command, FALSE);
      finish (b, done);
      return;
    }
  if (g_str_has_prefix (row->login_id, "import:"))
    {
      /* A history room: nothing to bridge back (and with double puppeting
       * the agent's imported messages come back here as theirs). */
      finish (b, done);
      return;
    }
  if (!portal_allowed (b, row, ev, &login, &relay))
    {
      finish (b, done);
      return;
    }
  if (wait_for_login (b, login, ev, done))
    return;
  if (relay)
    relay_message (b, row, login, ev, done);
  else if (pa_to_legacy_room_state_type (type))
    pa_to_legacy_room_state (b, row, login, ev, done);
  else
    pa_to_legacy_send (b, row, login, ev, done);
}

/* ------------------------------------------------------------ members */

static void
member_event (PaBridge *b, json_t *ev)
{
  const char *state_key = str (ev, "state_key");
  const char *sender = str (ev, "sender");
  const char *room_id = str (ev, "room_id");
  json_t *content = json_object_get (ev, "content");
  const char *membership = str (content, "membership");
  if (state_key == NULL || membership == NULL)
    return;
  if (g_str_equal (state_key, b->bot_mxid) && g_str_equal (membership, "invite"))
    {
      if (pa_policy_level (b, sender) < PA_LEVEL_USER)
        {
          g_message ("invite from %s refused: permission level too low", sender);
          g_autofree char *er = pa_matrix_escape (room_id);
          g_autofree char *path = g_strdup_printf ("/_matrix/client/v3/rooms/%s/leave", er);
          PaMatrixRequest req = { .method = "POST", .path = path, .max_attempts = 3 };
          pa_matrix_request (b->mx, &req, NULL, NULL);
          return;
        }
      /* Joined through the room's queue, so the welcome below follows it. */
      g_autofree char *er = pa_matrix_escape (room_id);
      g_autofree char *path = g_strdup_printf ("/_matrix/client/v3/join/%s", er);
      g_autofree char *txn = pa_queue_txn_id (room_id, "bot-join", str (ev, "event_id"), NULL);
      pa_queue_request (b, room_id, "POST", path, NULL, NULL, 0, txn, NULL);
      /* Into a portal (an agent wanting `!pa` commands there, or another
       * participant): the bot is there for prefixed commands only; the
       * portal stays a portal and keeps bridging.  No greeting. */
      g_autoptr (PaPortalRow) row = pa_store_portal_by_room (b->store, room_id);
      if (row != NULL)
        {
          g_message ("invited by %s into portal %s: joined for prefixed commands only", sender,
                     room_id);
          return;
        }
      /* A room that is not a DM, from an agent who has a management room
       * already: a room of theirs where they want `!pa` commands, not a new
       * management room. */
      g_autofree char *current = pa_store_management_room (b->store, sender);
      if (current != NULL && !g_str_equal (current, room_id)
          && !json_is_true (json_object_get (content, "is_direct")))
        {
          g_message ("invited by %s into %s (not a direct chat; their management room is %s): "
                     "joined for prefixed commands only",
                     sender, room_id, current);
          return;
        }
      /* The DM an agent opens with the bot becomes their management room,
       * replacing any earlier one (e.g. one the bot opened to tell them
       * something): the agent's own choice wins. */
      g_autoptr (GError) e = NULL;
      if (!pa_store_management_put (b->store, sender, room_id, &e))
        g_warning ("store: %s", e->message);
      pa_queue_notice (b, room_id,
                       "Hello! I am Passerelle, the bridge to your legacy messengers. Send "
                       "`help` to see what I can do.");
      return;
    }
  if (g_str_equal (membership, "leave") || g_str_equal (membership, "ban"))
    {
      if (pa_ghost_is_ours (b, state_key))
        pa_portal_forget_member (b, room_id, state_key);
    }
}

/* ---------------------------------------------------------------- main */

void
pa_to_legacy_dispatch (PaBridge *b, json_t *ev, PaEventDoneFunc done)
{
  const char *type = str (ev, "type");
  const char *sender = str (ev, "sender");
  const char *room_id = str (ev, "room_id");
  if (done == NULL)
    {
      /* Ephemeral (typing, receipts): no sender at top level. */
      pa_to_legacy_ephemeral (b, ev);
      return;
    }
  if (pa_quarantine_is_marker (ev))
    {
      /* An event that could not be handled: its answer, in its turn. */
      pa_quarantine_tell (b, ev);
      finish (b, done);
      return;
    }
  if (type == NULL || room_id == NULL)
    {
      finish (b, done);
      return;
    }
  /* Encrypted events come back here as cleartext. */
  if (pa_bridge_crypto_event (b, ev, pa_to_legacy_dispatch, done))
    return;
  if (g_str_equal (type, "m.room.member"))
    {
      /* Memberships of our ghosts matter too (leaves). */
      member_event (b, ev);
      finish (b, done);
      return;
    }
  if (sender == NULL || pa_ghost_is_ours (b, sender))
    {
      /* Echo of what we sent ourselves. */
      finish (b, done);
      return;
    }
  if (json_is_true (json_object_get (json_object_get (ev, "content"), PA_CONTENT_DOUBLE_PUPPET)))
    {
      /* Sent by us as the agent (a legacy message shown as theirs). */
      finish (b, done);
      return;
    }
  PaLevel level = pa_policy_level (b, sender);
  if (level == PA_LEVEL_BLOCK)
    {
      finish (b, done);
      return;
    }
  /* Key verification of the bot (its request is a message, not a command). */
  if (pa_bridge_verify_event (b, ev))
    {
      finish (b, done);
      return;
    }
  gboolean is_message = g_str_equal (type, "m.room.message") || g_str_equal (type, "m.sticker");
  gboolean relevant = is_message || g_str_equal (type, "m.reaction")
                      || g_str_equal (type, "m.room.redaction")
                      || pa_to_legacy_room_state_type (type);
  if (!relevant)
    {
      if (g_str_equal (type, "m.room.encrypted"))
        {
          g_autoptr (PaPortalRow) row = pa_store_portal_by_room (b->store, room_id);
          g_autofree char *owner = pa_store_management_owner (b->store, room_id);
          if (row || owner)
            pa_queue_notice (b, room_id,
                             "⚠ This message is encrypted and encryption is off on this "
                             "bridge: it was not bridged.");
        }
      finish (b, done);
      return;
    }
  json_t *content = json_object_get (ev, "content");
  /* A portal is never a management room, whatever an old record says. */
  g_autoptr (PaPortalRow) row = pa_store_portal_by_room (b->store, room_id);
  g_autofree char *owner = row == NULL ? pa_store_management_owner (b->store, room_id) : NULL;
  if (owner != NULL)
    {
      if (!is_message || !g_str_equal (owner, sender))
        {
          finish (b, done);
          return;
        }
      const char *body = str (content, "body");
      const char *msgtype = str (content, "msgtype");
      if (g_strcmp0 (msgtype, "m.file") == 0 && pa_media_has (content))
        {
          /* An export to import. */
          pa_import_from_upload (b, sender, room_id, content);
          finish (b, done);
          return;
        }
      if (body == NULL)
        {
          finish (b, done);
          return;
        }
      if (!pa_import_handle_answer (b, sender, room_id, body)
          && !pa_login_talk_answer (b, sender, room_id, str (ev, "event_id"), body))
        pa_commands_handle (b, room_id, sender, str (ev, "event_id"), body, TRUE);
      finish (b, done);
      return;
    }
  if (row == NULL)
    {
      /* Not ours: a room the bot was invited to before it was recorded, or
       * an unrelated room.  Commands still work with the prefix. */
      const char *command = after_prefix (b, str (content, "body"));
      if (is_message && command != NULL)
        pa_commands_handle (b, room_id, sender, str (ev, "event_id"), command, FALSE);
      finish (b, done);
      return;
    }
  portal_message (b, row, ev, done);
}
