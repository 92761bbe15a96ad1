/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Matrix → legacy: events from the homeserver's transactions.
 *
 * Order of checks for each event: drop our own ghosts' and bot's echoes;
 * the sender's permission level (blocked users are ignored silently);
 * management-room commands and login answers; then portal events become
 * worker operations for the portal's login, checked against the
 * ministry's enabled plugins.  Every refusal or failure is told to the
 * agent in the room, never dropped silently. */
#define G_LOG_DOMAIN "passerelle-matrix-in"

#include "pa-bridge-private.h"
#include "pa-convert.h"

#include <gio/gio.h>

static const char *
str (json_t *o, const char *key)
{
  return json_string_value (json_object_get (o, key));
}

static void
finish (PaBridge *b, void (*done) (PaBridge *b))
{
  if (done)
    done (b);
}

/* ------------------------------------------------------------ outgoing */

void
pa_matrix_event_sent (PaBridge *b, json_t *on_done, const char *event_id,
                      const PaMatrixResponse *resp)
{
  const char *what = str (on_done, "what");
  if (what && g_str_equal (what, "map") && event_id)
    {
      g_autoptr (GError) e = NULL;
      if (!pa_store_message_put (b->store, str (on_done, "plugin"), str (on_done, "login"),
                                 str (on_done, "chat"), str (on_done, "legacy"),
                                 str (on_done, "room"), event_id, NULL,
                                 json_integer_value (json_object_get (on_done, "ts")), &e))
        g_warning ("message map: %s", e->message);
    }
  else if (what && g_str_equal (what, "import_status") && event_id)
    {
      /* The import's status notice: later progress edits it. */
      g_autoptr (GError) e = NULL;
      if (!pa_store_kv_set (b->store, str (on_done, "key"), event_id, &e))
        g_warning ("store: %s", e->message);
    }
  else if (what && g_str_equal (what, "redact_password") && resp && !pa_matrix_response_ok (resp))
    /* In a room the agent created, the bot may lack the power to redact. */
    pa_bridge_notice (b, str (on_done, "room"),
                      "⚠ I could not delete your password message (I am not a moderator of "
                      "this room): please delete it yourself.");
  else if (what && g_str_equal (what, "map") && resp && !pa_matrix_response_ok (resp))
    g_warning ("legacy message %s could not be sent to %s: %s", str (on_done, "legacy"),
               str (on_done, "room"), resp->error ? resp->error : "?");
}

/* ----------------------------------------------------------- portals */

typedef struct {
  PaBridge *b;
  PaAccount *login;
  char *login_id;
  char *room_id;
  char *event_id;
  char *chat_id;
  json_t *content;
  char *reply_to;
  char *media_path;
  void (*done) (PaBridge *b);
} SendCtx;

static void
send_ctx_free (SendCtx *s)
{
  g_free (s->login_id);
  g_free (s->room_id);
  g_free (s->event_id);
  g_free (s->chat_id);
  json_decref (s->content);
  g_free (s->reply_to);
  g_free (s->media_path);
  g_free (s);
}

static void
send_to_worker (SendCtx *s)
{
  PaBridge *b = s->b;
  PaAccount *login = pa_login_by_id (b, s->login_id);
  if (login == NULL)
    {
      pa_bridge_notice (b, s->room_id, "⚠ Not delivered: you are no longer logged in.");
      finish (b, s->done);
      send_ctx_free (s);
      return;
    }
  g_autoptr (json_t) wc = pa_convert_message_to_wire (s->content, s->media_path, s->reply_to);
  g_autoptr (json_t) args = json_pack ("{s:s, s:O, s:s}", "chat_id", s->chat_id, "content", wc,
                                       "txn_id", s->event_id);
  g_autoptr (GError) error = NULL;
  if (!pa_login_send_op (login, "send", args, "send", s->room_id, s->event_id, s->chat_id, NULL,
                         &error))
    {
      g_autofree char *msg = g_strdup_printf ("⚠ Not delivered: %s", error->message);
      pa_bridge_notice (b, s->room_id, msg);
    }
  finish (b, s->done);
  send_ctx_free (s);
}

static void
send_failed (SendCtx *s, const char *why)
{
  g_autofree char *msg = g_strdup_printf ("⚠ Not delivered: %s", why);
  pa_bridge_notice (s->b, s->room_id, msg);
  finish (s->b, s->done);
  send_ctx_free (s);
}

/* The media arrived (decrypted when it came from an encrypted room): keep
 * it in the login's data dir for the worker. */
static void
media_downloaded (PaBridge *b, GBytes *data, const char *why, gpointer user_data)
{
  SendCtx *s = user_data;
  g_autoptr (GError) error = NULL;
  if (data == NULL)
    {
      send_failed (s, why);
      return;
    }
  gsize len = 0;
  const char *bytes = g_bytes_get_data (data, &len);
  /* A file name of our own: the event's names are for the legacy side. */
  g_autofree char *name = g_uuid_string_random ();
  g_autofree char *dir = g_build_filename (b->config->data_dir, s->login_id, "outgoing", NULL);
  g_autofree char *file = g_build_filename (dir, name, NULL);
  if (g_mkdir_with_parents (dir, 0700) != 0
      || !g_file_set_contents_full (file, bytes ? bytes : "", (gssize) len,
                                    G_FILE_SET_CONTENTS_CONSISTENT, 0600, &error))
    {
      send_failed (s, error ? error->message : "cannot write the media file");
      return;
    }
  g_free (s->media_path);
  s->media_path = g_steal_pointer (&file);
  send_to_worker (s);
}

/* An event for a login that is (re)connecting waits for it, a bounded
 * time, instead of failing: after a restart Synapse replays the
 * transactions it queued at once, before the workers are connected. */
#define PA_WAIT_FOR_LOGIN_MS 30000

typedef struct {
  PaBridge *b;
  json_t *ev;
  void (*done) (PaBridge *b);
} Deferred;

static GHashTable *waiting_since; /* event_id → gint64* first seen (ms) */

static gboolean
deferred_run (gpointer data)
{
  Deferred *d = data;
  pa_matrix_event_handle (d->b, d->ev, d->done);
  json_decref (d->ev);
  g_free (d);
  return G_SOURCE_REMOVE;
}

/* TRUE when the event was deferred (the caller returns without done). */
static gboolean
wait_for_login (PaBridge *b, PaAccount *login, json_t *ev, void (*done) (PaBridge *b))
{
  const char *event_id = str (ev, "event_id");
  if (login == NULL || event_id == NULL || done == NULL
      || (g_strcmp0 (login->state, "connected") == 0 && pa_worker_is_running (login->worker)))
    {
      if (waiting_since && event_id)
        g_hash_table_remove (waiting_since, event_id);
      return FALSE;
    }
  if (g_strcmp0 (login->state, "bad_credentials") == 0
      || g_strcmp0 (login->state, "logged_out") == 0)
    return FALSE;
  if (waiting_since == NULL)
    waiting_since = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  gint64 *since = g_hash_table_lookup (waiting_since, event_id);
  if (since == NULL)
    {
      since = g_new (gint64, 1);
      *since = pa_now_ms ();
      g_hash_table_insert (waiting_since, g_strdup (event_id), since);
    }
  if (pa_now_ms () - *since > PA_WAIT_FOR_LOGIN_MS)
    {
      g_hash_table_remove (waiting_since, event_id);
      return FALSE;
    }
  Deferred *d = g_new0 (Deferred, 1);
  d->b = b;
  d->ev = json_incref (ev);
  d->done = done;
  g_timeout_add (200, deferred_run, d);
  return TRUE;
}

static gboolean
portal_allowed (PaBridge *b, PaPortalRow *row, PaAccount **out_login, const char *sender,
                const char *room_id)
{
  g_autofree char *why = NULL;
  PaAccount *login = pa_login_by_id (b, row->login_id);
  if (login == NULL)
    {
      pa_bridge_notice (b, room_id, "⚠ Not delivered: this conversation's login is not running "
                                    "(log in again with `login` in your Passerelle room).");
      return FALSE;
    }
  if (!g_str_equal (login->owner, sender))
    {
      /* Relay mode is not offered: only the login's owner speaks through it. */
      g_autofree char *msg = g_strdup_printf ("⚠ Not delivered: only %s can send through this "
                                              "portal.", login->owner);
      pa_bridge_notice (b, room_id, msg);
      return FALSE;
    }
  if (!pa_bridge_plugin_allowed (b, sender, row->plugin, &why))
    {
      g_autofree char *msg = g_strdup_printf ("⚠ Not delivered: %s.", why);
      pa_bridge_notice (b, room_id, msg);
      return FALSE;
    }
  *out_login = login;
  return TRUE;
}

static void
portal_message (PaBridge *b, PaPortalRow *row, json_t *ev, void (*done) (PaBridge *b))
{
  const char *room_id = str (ev, "room_id");
  const char *sender = str (ev, "sender");
  const char *event_id = str (ev, "event_id");
  json_t *content = json_object_get (ev, "content");
  const char *type = str (ev, "type");
  PaAccount *login = NULL;

  const char *body = str (content, "body");
  const char *prefix = b->config->command_prefix;
  if (g_str_equal (type, "m.room.message") && body && prefix && *prefix
      && g_str_has_prefix (body, prefix) && (body[strlen (prefix)] == ' '
                                             || body[strlen (prefix)] == '\0'))
    {
      pa_commands_handle (b, room_id, sender, event_id, body + strlen (prefix), FALSE);
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
  if (!portal_allowed (b, row, &login, sender, room_id))
    {
      finish (b, done);
      return;
    }
  if (wait_for_login (b, login, ev, done))
    return;
  json_t *rel = json_object_get (content, "m.relates_to");
  const char *rel_type = str (rel, "rel_type");
  g_autoptr (GError) error = NULL;

  if (g_str_equal (type, "m.reaction"))
    {
      g_autofree char *target = pa_store_message_legacy_id (b->store, room_id,
                                                            str (rel, "event_id"), NULL);
      if (target == NULL)
        {
          pa_bridge_notice (b, room_id, "⚠ Reaction not delivered: that message is not known on "
                                        "the legacy network.");
          finish (b, done);
          return;
        }
      const char *key = str (rel, "key") ? str (rel, "key") : "";
      g_autoptr (json_t) args = json_pack ("{s:s, s:s, s:s, s:b}", "chat_id", row->chat_id,
                                           "target_id", target, "key", key, "remove", 0);
      g_autofree char *extra = g_strjoin ("\x1f", target, key, NULL);
      if (!pa_login_send_op (login, "react", args, "react", room_id, event_id, row->chat_id,
                             extra, &error))
        {
          g_autofree char *msg = g_strdup_printf ("⚠ Reaction not delivered: %s", error->message);
          pa_bridge_notice (b, room_id, msg);
        }
      finish (b, done);
      return;
    }
  if (g_str_equal (type, "m.room.redaction"))
    {
      const char *redacts = str (ev, "redacts") ? str (ev, "redacts") : str (content, "redacts");
      g_autofree char *target = pa_store_message_legacy_id (b->store, room_id, redacts, NULL);
      if (target == NULL)
        {
          finish (b, done);
          return;
        }
      g_autoptr (json_t) args = NULL;
      const char *op = "redact";
      if (g_str_has_prefix (target, "reaction\x1f"))
        {
          /* "reaction<US>target<US>sender<US>key" */
          g_auto (GStrv) parts = g_strsplit (target, "\x1f", 4);
          op = "react";
          args = json_pack ("{s:s, s:s, s:s, s:b}", "chat_id", row->chat_id, "target_id",
                            parts[1] ? parts[1] : "", "key",
                            (parts[1] && parts[2] && parts[3]) ? parts[3] : "", "remove", 1);
        }
      else
        args = json_pack ("{s:s, s:s}", "chat_id", row->chat_id, "target_id", target);
      if (!pa_login_send_op (login, op, args, op, room_id, event_id, row->chat_id, NULL, &error))
        {
          g_autofree char *msg = g_strdup_printf ("⚠ Deletion not delivered: %s", error->message);
          pa_bridge_notice (b, room_id, msg);
        }
      finish (b, done);
      return;
    }
  if (rel_type && g_str_equal (rel_type, "m.replace"))
    {
      g_autofree char *target = pa_store_message_legacy_id (b->store, room_id,
                                                            str (rel, "event_id"), NULL);
      json_t *newc = json_object_get (content, "m.new_content");
      if (target == NULL || newc == NULL)
        {
          pa_bridge_notice (b, room_id, "⚠ Edit not delivered: that message is not known on "
                                        "the legacy network.");
          finish (b, done);
          return;
        }
      g_autoptr (json_t) wc = pa_convert_edit_to_wire (content);
      g_autoptr (json_t) args = json_pack ("{s:s, s:s, s:O}", "chat_id", row->chat_id,
                                           "target_id", target, "content", wc);
      if (!pa_login_send_op (login, "edit", args, "edit", room_id, event_id, row->chat_id, target,
                             &error))
        {
          g_autofree char *msg = g_strdup_printf ("⚠ Edit not delivered: %s", error->message);
          pa_bridge_notice (b, room_id, msg);
        }
      finish (b, done);
      return;
    }

  /* A message (text or media), maybe a reply. */
  SendCtx *s = g_new0 (SendCtx, 1);
  s->b = b;
  s->login_id = g_strdup (login->id);
  s->room_id = g_strdup (room_id);
  s->event_id = g_strdup (event_id);
  s->chat_id = g_strdup (row->chat_id);
  s->content = json_incref (content);
  s->done = done;
  const char *reply_event = str (json_object_get (rel, "m.in_reply_to"), "event_id");
  if (reply_event)
    s->reply_to = pa_store_message_legacy_id (b->store, room_id, reply_event, NULL);
  if (pa_media_has (content))
    {
      if (!pa_media_download (b, content, b->config->max_media_bytes, 300, media_downloaded, s))
        send_failed (s, "the media URL is invalid");
      return;
    }
  send_to_worker (s);
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
      if (pa_bridge_level (b, sender) < PA_LEVEL_USER)
        {
          g_message ("invite from %s refused: permission level too low", sender);
          g_autofree char *er = pa_matrix_escape (room_id);
          g_autofree char *path = g_strdup_printf ("/_matrix/client/v3/rooms/%s/leave", er);
          PaMatrixRequest req = { .method = "POST", .path = path, .max_attempts = 3 };
          pa_matrix_request (b->mx, &req, NULL, NULL);
          return;
        }
      /* An agent opens a DM with the bot: that becomes their management
       * room (unless they already have one, which stays). */
      /* Joined through the room's queue, so the welcome below follows it. */
      g_autofree char *er = pa_matrix_escape (room_id);
      g_autofree char *path = g_strdup_printf ("/_matrix/client/v3/join/%s", er);
      g_autofree char *txn = pa_bridge_txn_id (room_id, "bot-join", str (ev, "event_id"), NULL);
      pa_bridge_queue_request (b, room_id, "POST", path, NULL, NULL, 0, txn, NULL);
      /* The DM an agent opens with the bot becomes their management room,
       * replacing any earlier one (e.g. one the bot opened to tell them
       * something): the agent's own choice wins. */
      g_autoptr (GError) e = NULL;
      if (!pa_store_management_put (b->store, sender, room_id, &e))
        g_warning ("store: %s", e->message);
      pa_bridge_notice (b, room_id,
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

/* ----------------------------------------------------------- ephemeral */

static GHashTable *typing_state; /* room_id → "1" when the owner was typing */

static void
ephemeral_event (PaBridge *b, json_t *ev)
{
  const char *type = str (ev, "type");
  const char *room_id = str (ev, "room_id");
  if (type == NULL || room_id == NULL)
    return;
  g_autoptr (PaPortalRow) row = pa_store_portal_by_room (b->store, room_id);
  if (row == NULL)
    return;
  PaAccount *login = pa_login_by_id (b, row->login_id);
  if (login == NULL || !login->logged_in)
    return;
  json_t *content = json_object_get (ev, "content");
  if (g_str_equal (type, "m.typing"))
    {
      gboolean typing = FALSE;
      size_t i;
      json_t *u;
      json_array_foreach (json_object_get (content, "user_ids"), i, u)
        if (g_strcmp0 (json_string_value (u), login->owner) == 0)
          typing = TRUE;
      if (typing_state == NULL)
        typing_state = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
      gboolean was = g_hash_table_contains (typing_state, room_id);
      if (was == typing)
        return;
      if (typing)
        g_hash_table_add (typing_state, g_strdup (room_id));
      else
        g_hash_table_remove (typing_state, room_id);
      g_autoptr (json_t) args = json_pack ("{s:s, s:b}", "chat_id", row->chat_id, "typing",
                                           typing);
      pa_login_send_op (login, "typing", args, "typing", NULL, NULL, row->chat_id, NULL, NULL);
    }
  else if (g_str_equal (type, "m.receipt"))
    {
      const char *event_id;
      json_t *receipts;
      json_object_foreach (content, event_id, receipts)
        {
          json_t *read = json_object_get (receipts, "m.read");
          if (json_object_get (read, login->owner) == NULL)
            continue;
          g_autofree char *legacy = pa_store_message_legacy_id (b->store, room_id, event_id, NULL);
          if (legacy == NULL || g_str_has_prefix (legacy, "reaction\x1f"))
            continue;
          g_autoptr (json_t) args = json_pack ("{s:s, s:s}", "chat_id", row->chat_id,
                                               "message_id", legacy);
          pa_login_send_op (login, "mark_read", args, "mark_read", NULL, NULL, row->chat_id,
                            NULL, NULL);
        }
    }
}

/* ---------------------------------------------------------------- main */

void
pa_matrix_event_handle (PaBridge *b, json_t *ev, void (*done) (PaBridge *b))
{
  const char *type = str (ev, "type");
  const char *sender = str (ev, "sender");
  const char *room_id = str (ev, "room_id");
  if (done == NULL)
    {
      /* Ephemeral (typing, receipts): no sender at top level. */
      ephemeral_event (b, ev);
      return;
    }
  if (type == NULL || room_id == NULL)
    {
      finish (b, done);
      return;
    }
  /* Encrypted events come back here as cleartext. */
  if (pa_bridge_crypto_event (b, ev, done))
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
  PaLevel level = pa_bridge_level (b, sender);
  if (level == PA_LEVEL_BLOCK)
    {
      finish (b, done);
      return;
    }
  gboolean is_message = g_str_equal (type, "m.room.message") || g_str_equal (type, "m.sticker");
  gboolean relevant = is_message || g_str_equal (type, "m.reaction")
                      || g_str_equal (type, "m.room.redaction");
  if (!relevant)
    {
      if (g_str_equal (type, "m.room.encrypted"))
        {
          g_autoptr (PaPortalRow) row = pa_store_portal_by_room (b->store, room_id);
          g_autofree char *owner = pa_store_management_owner (b->store, room_id);
          if (row || owner)
            pa_bridge_notice (b, room_id,
                              "⚠ This message is encrypted and encryption is off on this "
                              "bridge: it was not bridged.");
        }
      finish (b, done);
      return;
    }
  json_t *content = json_object_get (ev, "content");
  g_autofree char *owner = pa_store_management_owner (b->store, room_id);
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
          && !pa_login_handle_answer (b, sender, room_id, str (ev, "event_id"), body))
        pa_commands_handle (b, room_id, sender, str (ev, "event_id"), body, TRUE);
      finish (b, done);
      return;
    }
  g_autoptr (PaPortalRow) row = pa_store_portal_by_room (b->store, room_id);
  if (row == NULL)
    {
      /* Not ours: a room the bot was invited to before it was recorded, or
       * an unrelated room.  Commands still work with the prefix. */
      const char *body = str (content, "body");
      const char *prefix = b->config->command_prefix;
      if (is_message && body && prefix && g_str_has_prefix (body, prefix))
        pa_commands_handle (b, room_id, sender, str (ev, "event_id"), body + strlen (prefix),
                            FALSE);
      finish (b, done);
      return;
    }
  portal_message (b, row, ev, done);
}
