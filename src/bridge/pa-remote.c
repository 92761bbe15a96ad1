/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Legacy → Matrix: remote events stored by the workers' frames are taken
 * one at a time, oldest first, resolved to a ghost and a portal, converted
 * and queued on the durable outbound queue.  An event leaves the remote
 * table only once its Matrix side is queued, so a crash in between replays
 * it; the deterministic txn ids and the message map make the replay a
 * no-op on the homeserver. */
#define G_LOG_DOMAIN "passerelle-remote"

#include "pa-bridge-private.h"
#include "pa-convert.h"

#include <gio/gio.h>

typedef struct {
  PaBridge *b;
  PaLane *lane;
  gint64 seq;
  PaAccount *login;
  json_t *ev;         /* the wire event (owned) */
  const char *type;
  char *chat_id;
  char *ghost;        /* sender's MXID */
  char *room_id;
  char *mxc;          /* uploaded media */
  json_t *media_file; /* its EncryptedFile, in an encrypted room */
} Work;

static void
work_free (Work *w)
{
  json_decref (w->ev);
  g_free (w->chat_id);
  g_free (w->ghost);
  g_free (w->room_id);
  g_free (w->mxc);
  json_decref (w->media_file);
  g_free (w);
}

/* The event is fully handled (or given up): drop it from the table and
 * move on. */
static void
work_done (Work *w)
{
  PaBridge *b = w->b;
  PaLane *lane = w->lane;
  g_autoptr (GError) error = NULL;
  pa_bridge_batch (b);
  if (!pa_store_remote_done (b->store, w->seq, &error))
    g_warning ("remote queue: %s", error->message);
  b->n_remote++;
  work_free (w);
  lane->busy = FALSE;
  pa_lane_schedule (lane);
}

static gboolean
retry_timeout (gpointer data)
{
  PaLane *lane = data;
  lane->retry_source = 0;
  pa_lane_schedule (lane);
  return G_SOURCE_REMOVE;
}

/* Leave the event at the head of its lane and try again later (the
 * homeserver is unreachable, or a reply target is still being sent). */
static void
work_defer (Work *w, guint delay_ms)
{
  PaLane *lane = w->lane;
  work_free (w);
  lane->busy = FALSE;
  if (lane->retry_source == 0)
    lane->retry_source = g_timeout_add (delay_ms, retry_timeout, lane);
}

static const char *
str (json_t *o, const char *key)
{
  return json_string_value (json_object_get (o, key));
}

static char *
map_key (Work *w, const char *legacy_id)
{
  return pa_store_message_event_id (w->b->store, w->login->plugin, w->login->id, w->chat_id,
                                    legacy_id);
}

static json_t *
on_done_map (Work *w, const char *legacy_id)
{
  return json_pack ("{s:s, s:s, s:s, s:s, s:s, s:s, s:I}", "what", "map", "plugin",
                    w->login->plugin, "login", w->login->id, "chat", w->chat_id, "legacy",
                    legacy_id, "room", w->room_id, "ts",
                    (json_int_t) json_integer_value (json_object_get (w->ev, "ts")));
}

/* Resolve a legacy target to an event id; when unknown but the room still
 * has queued items, the target may be one of them: defer. */
static gboolean
target_or_defer (Work *w, const char *legacy, char **out_event)
{
  *out_event = legacy ? map_key (w, legacy) : NULL;
  if (legacy && *out_event == NULL && pa_outbound_room_pending (w->b, w->room_id))
    {
      work_defer (w, 50);
      return FALSE;
    }
  return TRUE;
}

static void
send_message (Work *w)
{
  PaBridge *b = w->b;
  json_t *c = json_object_get (w->ev, "content");
  const char *mid = str (w->ev, "message_id");
  g_autofree char *reply_event = NULL;
  if (!target_or_defer (w, str (c, "reply_to"), &reply_event))
    return;
  const char *etype = NULL;
  PaConvertToMatrix ctx = {
    .mxc = w->mxc,
    .file = w->media_file,
    .reply_event = reply_event,
    .import_source = w->lane->job ? pa_import_source (w->lane->job) : NULL,
    .message_id = mid,
  };
  g_autoptr (json_t) content = pa_convert_message_to_matrix (c, &ctx, &etype);
  g_autoptr (json_t) done = on_done_map (w, mid);
  g_autofree char *seed = g_strjoin ("\x1f", w->login->id, w->chat_id, mid, NULL);
  pa_bridge_queue_send (b, w->room_id, w->ghost, etype, content,
                        json_integer_value (json_object_get (w->ev, "ts")), seed, done);
  work_done (w);
}

static void
media_uploaded (PaBridge *b, const char *mxc, json_t *file, const char *error,
                gpointer user_data)
{
  Work *w = user_data;
  if (mxc == NULL)
    {
      g_warning ("media upload failed: %s", error);
      pa_convert_media_lost (json_object_get (w->ev, "content"), error);
    }
  else
    {
      w->mxc = g_strdup (mxc);
      w->media_file = file ? json_incref (file) : NULL;
    }
  send_message (w);
}

static void
relate (Work *w)
{
  PaBridge *b = w->b;
  const char *type = w->type;
  const char *target = str (w->ev, "target_id");
  g_autofree char *target_event = NULL;
  if (!target_or_defer (w, target, &target_event))
    return;
  if (target_event == NULL)
    {
      g_debug ("%s of unknown message %s: ignored", type, target ? target : "?");
      work_done (w);
      return;
    }
  gint64 ts = json_integer_value (json_object_get (w->ev, "ts"));
  const char *sender = str (w->ev, "sender_id");
  if (g_str_equal (type, "edit"))
    {
      g_autoptr (json_t) content
          = pa_convert_edit_to_matrix (json_object_get (w->ev, "content"), target_event);
      g_autofree char *seed = g_strdup_printf ("edit\x1f%s\x1f%s\x1f%" G_GINT64_FORMAT,
                                               w->login->id, target, ts);
      pa_bridge_queue_send (b, w->room_id, w->ghost, "m.room.message", content, ts, seed, NULL);
    }
  else if (g_str_equal (type, "reaction"))
    {
      const char *key = str (w->ev, "reaction_key");
      g_autoptr (json_t) content = json_pack ("{s:{s:s, s:s, s:s}}", "m.relates_to", "rel_type",
                                              "m.annotation", "event_id", target_event, "key",
                                              key ? key : "");
      g_autofree char *legacy = g_strdup_printf ("reaction\x1f%s\x1f%s\x1f%s", target,
                                                 sender ? sender : "", key ? key : "");
      g_autofree char *known = map_key (w, legacy);
      if (known == NULL) /* else: the echo of the agent's own reaction */
        {
          g_autoptr (json_t) done = on_done_map (w, legacy);
          g_autofree char *seed = g_strjoin ("\x1f", w->login->id, w->chat_id, legacy, NULL);
          pa_bridge_queue_send (b, w->room_id, w->ghost, "m.reaction", content, ts, seed, done);
        }
    }
  else /* delete, reaction_remove: redact */
    {
      g_autofree char *redact_event = NULL;
      if (g_str_equal (type, "reaction_remove"))
        {
          const char *key = str (w->ev, "reaction_key");
          g_autofree char *legacy = g_strdup_printf ("reaction\x1f%s\x1f%s\x1f%s", target,
                                                     sender ? sender : "", key ? key : "");
          redact_event = map_key (w, legacy);
        }
      else
        redact_event = g_strdup (target_event);
      if (redact_event)
        {
          g_autofree char *txn = pa_bridge_txn_id (w->room_id, "redact", redact_event, NULL);
          g_autofree char *er = pa_matrix_escape (w->room_id);
          g_autofree char *ee = pa_matrix_escape (redact_event);
          g_autofree char *path = g_strdup_printf ("/_matrix/client/v3/rooms/%s/redact/%s/%s",
                                                   er, ee, txn);
          g_autoptr (json_t) body = json_pack ("{s:s}", "reason", "deleted on the legacy network");
          pa_bridge_queue_request (b, w->room_id, "PUT", path, w->ghost, body, ts, txn, NULL);
        }
    }
  work_done (w);
}

/* Best-effort ephemeral updates: straight requests, not queued. */
static void
ephemeral (Work *w)
{
  PaBridge *b = w->b;
  g_autofree char *er = pa_matrix_escape (w->room_id);
  g_autofree char *eg = pa_matrix_escape (w->ghost);
  if (g_str_equal (w->type, "typing"))
    {
      g_autofree char *path = g_strdup_printf ("/_matrix/client/v3/rooms/%s/typing/%s", er, eg);
      gboolean typing = json_is_true (json_object_get (w->ev, "typing"));
      json_int_t timeout = json_integer_value (json_object_get (w->ev, "typing_timeout_ms"));
      g_autoptr (json_t) body = json_pack ("{s:b, s:I}", "typing", typing, "timeout",
                                           timeout > 0 ? timeout : (json_int_t) 30000);
      PaMatrixRequest req = { .method = "PUT", .path = path, .user_id = w->ghost, .body = body,
                              .max_attempts = 2 };
      pa_matrix_request (b->mx, &req, NULL, NULL);
    }
  else if (g_str_equal (w->type, "read_receipt"))
    {
      g_autofree char *event = map_key (w, str (w->ev, "message_id"));
      if (event)
        {
          g_autofree char *ee = pa_matrix_escape (event);
          g_autofree char *path = g_strdup_printf ("/_matrix/client/v3/rooms/%s/receipt/m.read/%s",
                                                   er, ee);
          g_autoptr (json_t) body = json_object ();
          PaMatrixRequest req = { .method = "POST", .path = path, .user_id = w->ghost,
                                  .body = body, .max_attempts = 2 };
          pa_matrix_request (b->mx, &req, NULL, NULL);
        }
    }
  work_done (w);
}

static void
with_room (PaBridge *b, const char *room_id, const char *error, gpointer user_data)
{
  Work *w = user_data;
  if (room_id == NULL)
    {
      g_warning ("no room for %s/%s: %s", w->login->plugin, w->chat_id, error);
      /* A homeserver problem: keep the event and try again. */
      work_defer (w, 5000);
      return;
    }
  w->room_id = g_strdup (room_id);
  if (w->ghost)
    pa_portal_ensure_member (b, room_id, w->ghost);

  if (g_str_equal (w->type, "chat_info"))
    {
      json_t *chat = json_object_get (w->ev, "chat");
      json_t *members = json_object_get (chat, "members");
      size_t i;
      json_t *m;
      g_autofree char *me = w->login->remote_id ? g_strdup (w->login->remote_id) : NULL;
      PaRoomCache *rc = pa_portal_cache (b, room_id);
      json_array_foreach (members, i, m)
        {
          const char *id = str (m, "id");
          if (id == NULL || (me && g_str_equal (id, me)))
            continue;
          g_autofree char *gm = pa_ghost_mxid (b, w->login->plugin, id);
          g_autofree char *mname = NULL;
          if (w->lane->job && str (m, "name"))
            mname = g_strdup_printf ("%s (%s)", str (m, "name"),
                                     pa_import_display_suffix (w->lane->job));
          else
            mname = g_strdup (str (m, "name"));
          /* History imports join ghosts when they first speak. */
          if (w->lane->job)
            continue;
          pa_ghost_ensure (b, w->login->plugin, id, mname, str (m, "avatar_path"), NULL, NULL);
          pa_portal_ensure_member (b, room_id, gm);
        }
      /* members_complete: ghosts no longer listed leave. */
      if (w->lane->job == NULL && json_is_true (json_object_get (chat, "members_complete")))
        {
          GHashTableIter it;
          gpointer key;
          g_autoptr (GPtrArray) leavers = g_ptr_array_new_with_free_func (g_free);
          g_hash_table_iter_init (&it, rc->joined);
          while (g_hash_table_iter_next (&it, &key, NULL))
            {
              g_autofree char *p = NULL, *l = NULL;
              gboolean listed = FALSE;
              if (!pa_ghost_parse (b, key, &p, &l))
                continue;
              json_array_foreach (members, i, m)
                if (g_strcmp0 (str (m, "id"), l) == 0)
                  listed = TRUE;
              if (!listed && (me == NULL || !g_str_equal (l, me)))
                g_ptr_array_add (leavers, g_strdup (key));
            }
          for (guint k = 0; k < leavers->len; k++)
            {
              const char *gm = g_ptr_array_index (leavers, k);
              g_autofree char *er = pa_matrix_escape (room_id);
              g_autofree char *path = g_strdup_printf ("/_matrix/client/v3/rooms/%s/leave", er);
              g_autofree char *when = g_strdup_printf (
                  "%" JSON_INTEGER_FORMAT, json_integer_value (json_object_get (w->ev, "ts")));
              g_autofree char *txn = pa_bridge_txn_id (room_id, "leave", gm, when, NULL);
              pa_bridge_queue_request (b, room_id, "POST", path, gm, NULL, 0, txn, NULL);
              pa_portal_forget_member (b, room_id, gm);
            }
        }
      /* Group name and topic changes. */
      g_autoptr (PaPortalRow) row = pa_store_portal_by_room (b->store, room_id);
      const char *name = str (chat, "name");
      /* (History rooms keep the name the import gave them.) */
      if (w->lane->job == NULL && row && g_str_equal (row->kind, "group") && name
          && g_strcmp0 (name, row->name) != 0)
        {
          g_autofree char *path = pa_matrix_path_state (room_id, "m.room.name", "");
          g_autoptr (json_t) body = json_pack ("{s:s}", "name", name);
          g_autofree char *txn = pa_bridge_txn_id (room_id, "name", name, NULL);
          pa_bridge_queue_request (b, room_id, "PUT", path, NULL, body, 0, txn, NULL);
          g_free (row->name);
          row->name = g_strdup (name);
          g_autoptr (GError) e = NULL;
          if (!pa_store_portal_put (b->store, row, &e))
            g_warning ("store: %s", e->message);
        }
      work_done (w);
      return;
    }
  if (g_str_equal (w->type, "chat_delete"))
    {
      pa_bridge_notice (b, room_id, "This conversation was deleted on the legacy network.");
      work_done (w);
      return;
    }
  if (g_str_equal (w->type, "message") || g_str_equal (w->type, "message_upsert"))
    {
      json_t *c = json_object_get (w->ev, "content");
      const char *media = str (c, "media_path");
      if (media)
        {
          const char *name = str (c, "media_name");
          g_autofree char *base = g_path_get_basename (media);
          pa_media_upload (b, room_id, media, name ? name : base, str (c, "mimetype"),
                           media_uploaded, w);
          return;
        }
      send_message (w);
      return;
    }
  if (g_str_equal (w->type, "typing") || g_str_equal (w->type, "read_receipt"))
    {
      ephemeral (w);
      return;
    }
  relate (w);
}

static void
with_ghost (PaBridge *b, gboolean ok, const char *error, gpointer user_data)
{
  Work *w = user_data;
  if (!ok)
    {
      g_warning ("ghost %s: %s", w->ghost, error);
      work_defer (w, 5000);
      return;
    }
  json_t *chat = json_object_get (w->ev, "chat");
  const char *sender = str (w->ev, "sender_id");
  /* For a DM the peer is the other side, even for our own messages. */
  const char *peer = json_is_true (json_object_get (w->ev, "from_me")) ? w->chat_id : sender;
  if (w->lane->job)
    pa_import_room_ensure (w->lane->job, w->chat_id, chat, with_room, w);
  else
    pa_portal_ensure (b, w->login, w->chat_id, chat, peer ? peer : w->chat_id, with_room, w);
}

static void
process (Work *w)
{
  PaBridge *b = w->b;
  const char *type = w->type;
  json_t *ev = w->ev;

  if (g_str_equal (type, "contact_info"))
    {
      json_t *ct = json_object_get (ev, "contact");
      if (str (ct, "id"))
        pa_ghost_ensure (b, w->login->plugin, str (ct, "id"), str (ct, "name"),
                         str (ct, "avatar_path"), NULL, NULL);
      work_done (w);
      return;
    }
  if (g_str_equal (type, "presence"))
    {
      /* Off by default: Tchap runs with presence off. */
      if (b->config->presence && w->lane->job == NULL)
        pa_presence_update (b, w->login, ev);
      work_done (w);
      return;
    }
  if (g_str_equal (type, "backfill_end") || g_str_equal (type, "chat_resync")
      || g_str_equal (type, "marked_unread") || g_str_equal (type, "delivery_receipt")
      || g_str_equal (type, "reaction_sync"))
    {
      /* No Matrix action. */
      work_done (w);
      return;
    }
  if (w->chat_id == NULL)
    {
      g_warning ("%s event without chat_id from %s: dropped", type, w->login->id);
      work_done (w);
      return;
    }
  const char *mid = str (ev, "message_id");
  gboolean is_msg = g_str_equal (type, "message") || g_str_equal (type, "message_upsert");
  if (is_msg && mid)
    {
      g_autofree char *known = map_key (w, mid);
      if (known)
        {
          g_debug ("message %s already bridged as %s", mid, known);
          work_done (w);
          return;
        }
      /* Our own echo: the agent's Matrix event is already there. */
      const char *txn = str (ev, "txn_id");
      if (txn && txn[0] == '$')
        {
          g_autoptr (PaPortalRow) row = pa_store_portal_get (b->store, w->login->plugin,
                                                             w->login->id, w->chat_id);
          if (row && row->room_id)
            {
              g_autoptr (GError) e = NULL;
              if (!pa_store_message_put (b->store, w->login->plugin, w->login->id, w->chat_id, mid,
                                         row->room_id, txn, w->login->owner,
                                         json_integer_value (json_object_get (ev, "ts")), &e))
                g_debug ("echo map: %s", e->message);
            }
          work_done (w);
          return;
        }
    }
  /* Who speaks: the sender's ghost; for our own messages sent from another
   * device, the ghost of our own legacy account. */
  const char *sender = str (ev, "sender_id");
  gboolean from_me = json_is_true (json_object_get (ev, "from_me"));
  if (from_me && w->login->remote_id)
    sender = w->login->remote_id;
  if (sender == NULL)
    {
      /* Chat-level event (chat_info, chat_delete): the bot acts. */
      with_ghost (b, TRUE, NULL, w);
      return;
    }
  json_t *ct = json_object_get (ev, "contact");
  if (w->lane->job && b->config->double_puppet && pa_import_me (w->lane->job)
      && g_strcmp0 (str (ct, "name"), pa_import_me (w->lane->job)) == 0)
    {
      /* Double puppeting: the agent's own messages are sent as the agent
       * (the appservice may act as any user of its homeserver). */
      w->ghost = g_strdup (w->login->owner);
      with_ghost (b, TRUE, NULL, w);
      return;
    }
  w->ghost = pa_ghost_mxid (b, w->login->plugin, sender);
  g_autofree char *name = NULL;
  if (w->lane->job && str (ct, "name"))
    name = g_strdup_printf ("%s (%s)", str (ct, "name"), pa_import_display_suffix (w->lane->job));
  else
    name = g_strdup (str (ct, "name"));
  pa_ghost_ensure (b, w->login->plugin, sender, name, str (ct, "avatar_path"), with_ghost, w);
}

static void
lane_process (PaLane *lane)
{
  PaBridge *b = lane->bridge;
  if (lane->busy)
    return;
  pa_bridge_batch (b);
  g_autoptr (GError) error = NULL;
  g_autoptr (json_t) rows = NULL;
  PaAccount *import_account = lane->job ? pa_import_account (lane->job) : NULL;
  if (import_account)
    rows = pa_store_remote_peek_import (b->store, import_account->id, 1, &error);
  else
    rows = pa_store_remote_peek (b->store, 1, &error);
  if (rows == NULL)
    {
      g_warning ("remote queue: %s", error ? error->message : "?");
      return;
    }
  if (json_array_size (rows) == 0)
    return;
  json_t *row = json_array_get (rows, 0);
  Work *w = g_new0 (Work, 1);
  w->b = b;
  w->lane = lane;
  w->seq = json_integer_value (json_object_get (row, "seq"));
  const char *login_id = str (row, "login_id");
  w->ev = json_loads (str (row, "event") ? str (row, "event") : "", 0, NULL);
  w->login = import_account ? import_account : (login_id ? pa_login_by_id (b, login_id) : NULL);
  lane->busy = TRUE;
  if (w->ev == NULL || w->login == NULL)
    {
      g_warning ("remote event %" G_GINT64_FORMAT " for unknown login %s: dropped", w->seq,
                 login_id ? login_id : "?");
      work_done (w);
      return;
    }
  w->type = str (w->ev, "type");
  if (w->type == NULL)
    {
      work_done (w);
      return;
    }
  w->chat_id = g_strdup (str (w->ev, "chat_id"));
  process (w);
}

static gboolean
lane_idle (gpointer data)
{
  PaLane *lane = data;
  lane->scheduled = FALSE;
  lane_process (lane);
  return G_SOURCE_REMOVE;
}

void
pa_lane_schedule (PaLane *lane)
{
  if (lane->scheduled || lane->busy)
    return;
  lane->scheduled = TRUE;
  g_idle_add (lane_idle, lane);
}

void
pa_lane_cancel (PaLane *lane)
{
  if (lane->retry_source)
    g_source_remove (lane->retry_source);
  lane->retry_source = 0;
  if (lane->scheduled)
    g_idle_remove_by_data (lane);
  lane->scheduled = FALSE;
}
