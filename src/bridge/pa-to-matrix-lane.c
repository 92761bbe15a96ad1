/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Legacy → Matrix: remote events stored by the workers' frames are taken
 * one at a time, oldest first, resolved to a ghost and a portal, converted
 * and queued on the durable outbound queue.  In a shared group portal an
 * event that several logins deliver is bridged once: the first login to
 * claim it wins, the copies of the others are dropped here.  An event leaves the remote
 * table only once its Matrix side is queued, so a crash in between replays
 * it; the deterministic txn ids and the message map make the replay a
 * no-op on the homeserver. */
#define G_LOG_DOMAIN "passerelle-remote"

#include "pa-to-matrix-lane.h"

#include "pa-batch.h"
#include "pa-fingerprint.h"
#include "pa-ghost.h"
#include "pa-login-table.h"
#include "pa-portal.h"
#include "pa-queue.h"
#include "pa-to-matrix-chat.h"
#include "pa-to-matrix-ephemeral.h"
#include "pa-to-matrix-message.h"
#include "pa-to-matrix-presence.h"
#include "pa-to-matrix-files.h"
#include "pa-to-matrix-read-only.h"
#include "pa-to-matrix-work.h"

#include <gio/gio.h>

static void
work_free (PaWork *w)
{
  json_decref (w->ev);
  g_free (w->chat_id);
  g_free (w->map_login);
  g_free (w->ghost);
  g_free (w->room_id);
  g_free (w->mxc);
  json_decref (w->media_file);
  g_free (w->replaces);
  g_free (w);
}

/* The event is fully handled (or given up): drop it from the table and
 * move on. */
static void
work_done (PaWork *w)
{
  PaBridge *b = w->b;
  PaLane *lane = w->lane;
  g_autoptr (GError) error = NULL;
  pa_batch_begin (b);
  if (!pa_store_remote_done (b->store, w->seq, &error))
    g_warning ("remote queue: %s", error->message);
  /* Uploaded, or given up: the media file the worker handed over goes
   * with the event (plugin.h, FILES). */
  g_autofree char *owned
      = w->login != NULL && w->ev != NULL ? pa_to_matrix_files_owned (b, w->login, w->ev) : NULL;
  if (owned != NULL)
    pa_batch_defer_unlink (b, owned);
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
work_defer (PaWork *w, guint delay_ms)
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

/* What identifies the event on the legacy side across logins, for the
 * dedup of a shared portal; NULL for events that are harmless twice. */
static char *
claim_id (PaWork *w)
{
  json_t *ev = w->ev;
  const char *type = w->type;
  const char *target = str (ev, "target_id");
  g_autofree char *ts
      = g_strdup_printf ("%" JSON_INTEGER_FORMAT, json_integer_value (json_object_get (ev, "ts")));
  if (g_str_equal (type, "message") || g_str_equal (type, "message_upsert"))
    return g_strdup (str (ev, "message_id"));
  if (target == NULL)
    return NULL;
  if (g_str_equal (type, "edit"))
    return g_strjoin ("\x1f", type, target, ts, NULL);
  if (g_str_equal (type, "delete"))
    return g_strjoin ("\x1f", type, target, NULL);
  if (g_str_equal (type, "reaction") || g_str_equal (type, "reaction_remove"))
    return g_strjoin ("\x1f", type, target, str (ev, "sender_id") ? str (ev, "sender_id") : "",
                      str (ev, "reaction_key") ? str (ev, "reaction_key") : "", ts, NULL);
  return NULL;
}

/* Whether `l` has a send to chat_id in flight (its result not yet in). */
static gboolean
send_in_flight (PaAccount *l, const char *chat_id)
{
  GHashTableIter it;
  gpointer v;
  g_hash_table_iter_init (&it, l->pending);
  while (g_hash_table_iter_next (&it, NULL, &v))
    {
      PaPendingOp *op = v;
      /* (one waiting to be retried is not on the network yet) */
      if (g_strcmp0 (op->kind, "send") == 0 && g_strcmp0 (op->chat_id, chat_id) == 0
          && op->retry_source == 0)
        return TRUE;
    }
  return FALSE;
}

/* A message of a shared group written by another logged-in agent, whose
 * send through their own login has not answered yet: it may be that very
 * message, which the sender's login claims once answered.  Wait for it
 * rather than bridging it a second time. */
static gboolean
wait_for_senders_login (PaWork *w)
{
  if (w->lane->job || !g_str_equal (w->type, "message"))
    return FALSE;
  PaAccount *author = pa_login_by_remote (w->b, w->login->plugin, str (w->ev, "sender_id"));
  return author && author != w->login && send_in_flight (author, w->chat_id);
}

/* In a shared portal: FALSE when another login delivered this event
 * first (a copy, not bridged again). */
static gboolean
shared_first (PaWork *w, const char *room_id)
{
  PaBridge *b = w->b;
  if (w->lane->job)
    return TRUE;
  g_autoptr (PaPortalRow) row = pa_store_portal_by_room (b->store, room_id);
  if (row == NULL || !g_str_equal (row->login_id, PA_STORE_SHARED_LOGIN))
    return TRUE;
  g_free (w->map_login);
  w->map_login = g_strdup (PA_STORE_SHARED_LOGIN);
  g_autofree char *claim = claim_id (w);
  if (claim == NULL)
    return TRUE;
  g_autoptr (GError) e = NULL;
  int first = pa_store_shared_claim (b->store, w->login->plugin, w->chat_id, claim, w->login->id,
                                     &e);
  if (first < 0)
    g_warning ("shared portal dedup: %s", e ? e->message : "?"); /* bridged rather than lost */
  return first != 0;
}

static void in_room (PaBridge *b, gpointer user_data);

static void
with_room (PaBridge *b, const char *room_id, const char *error, gpointer user_data)
{
  PaWork *w = user_data;
  if (room_id == NULL && g_strcmp0 (error, PA_PORTAL_REFUSED) == 0)
    {
      /* A secret chat without encryption: never bridged (the agent was
       * told once). */
      g_debug ("%s of %s/%s dropped: %s", w->type, w->login->plugin, w->chat_id, error);
      work_done (w);
      return;
    }
  if (room_id == NULL)
    {
      g_warning ("no room for %s/%s: %s", w->login->plugin, w->chat_id, error);
      /* A homeserver problem: keep the event and try again. */
      work_defer (w, 5000);
      return;
    }
  if (g_strcmp0 (w->map_login, PA_STORE_SHARED_LOGIN) == 0 && wait_for_senders_login (w))
    {
      work_defer (w, 100);
      return;
    }
  if (!shared_first (w, room_id))
    {
      g_debug ("%s %s in %s: already bridged from another login", w->type,
               str (w->ev, "message_id") ? str (w->ev, "message_id") : "", room_id);
      work_done (w);
      return;
    }
  w->room_id = g_strdup (room_id);
  if (w->ghost)
    pa_portal_ensure_member (b, room_id, w->ghost);
  /* In a read-only chat a ghost posts from events_default: raised before
   * its first message is queued. */
  g_autofree char *gp = NULL, *gl = NULL;
  if (w->ghost && pa_room_state_read_only (b, room_id)
      && !g_hash_table_contains (pa_portal_cache (b, room_id)->posters, w->ghost)
      && pa_ghost_parse (b, w->ghost, &gp, &gl))
    {
      pa_read_only_sync (b, room_id, in_room, w);
      return;
    }
  in_room (b, w);
}

static void
in_room (PaBridge *b, gpointer user_data)
{
  PaWork *w = user_data;
  const char *room_id = w->room_id;
  if (g_str_equal (w->type, "chat_info"))
    {
      pa_to_matrix_chat_info (w);
      return;
    }
  if (g_str_equal (w->type, "chat_delete"))
    {
      if (g_strcmp0 (w->map_login, PA_STORE_SHARED_LOGIN) == 0)
        {
          /* A shared group: gone for this login only (it left or was
           * removed); the others still send and receive there. */
          g_autoptr (GError) e = NULL;
          if (!pa_store_portal_login_remove (b->store, room_id, w->login->id, &e))
            g_warning ("store: %s", e->message);
          g_auto (GStrv) left = pa_store_portal_logins (b->store, room_id);
          if (left && left[0])
            {
              g_autofree char *msg
                  = g_strdup_printf ("%s's login is no longer in this group.", w->login->owner);
              pa_queue_notice (b, room_id, msg);
              work_done (w);
              return;
            }
        }
      pa_queue_notice (b, room_id, "This conversation was deleted on the legacy network.");
      work_done (w);
      return;
    }
  if (g_str_equal (w->type, "message") || g_str_equal (w->type, "message_upsert"))
    {
      pa_to_matrix_message (w);
      return;
    }
  if (g_str_equal (w->type, "typing") || g_str_equal (w->type, "read_receipt"))
    {
      pa_to_matrix_ephemeral (w);
      return;
    }
  pa_to_matrix_relate (w);
}

/* Whether the work's chat is (or will be) a DM portal of its login. */
static gboolean
dm_of_login (PaWork *w)
{
  if (w->map_login && g_str_equal (w->map_login, PA_STORE_SHARED_LOGIN))
    return FALSE;
  g_autoptr (PaPortalRow) row
      = pa_store_portal_find (w->b->store, w->login->plugin, w->login->id, w->chat_id);
  if (row != NULL)
    return g_strcmp0 (row->kind, "dm") == 0;
  const char *kind = str (json_object_get (w->ev, "chat"), "kind");
  return kind == NULL || g_str_equal (kind, "dm");
}

/* A DM's contact: the one member its chat info names besides the login
 * (a Telegram secret chat has an id of its own), else the chat's id. */
static const char *
dm_contact (PaWork *w)
{
  json_t *members = json_object_get (json_object_get (w->ev, "chat"), "members");
  const char *found = NULL;
  for (size_t i = 0; i < json_array_size (members); i++)
    {
      const char *id = str (json_array_get (members, i), "id");
      if (id == NULL || g_strcmp0 (id, w->login->remote_id) == 0)
        continue;
      if (found != NULL)
        return w->chat_id;
      found = id;
    }
  return found != NULL ? found : w->chat_id;
}

/* The ghost that speaks for the agent's own messages in a DM: the DM's
 * creator once the room is made, else the contact's. */
static char *
dm_voice (PaWork *w)
{
  g_autoptr (PaPortalRow) row
      = pa_store_portal_find (w->b->store, w->login->plugin, w->login->id, w->chat_id);
  if (row != NULL && row->room_id != NULL)
    {
      g_autofree char *key = g_strdup_printf ("creator:%s", row->room_id);
      char *creator = pa_store_kv_get (w->b->store, key);
      if (creator != NULL)
        return creator;
    }
  return pa_ghost_mxid (w->b, w->login->plugin, dm_contact (w));
}

/* A message of the agent's, shown by the contact's ghost: its text says
 * whose it is. */
static void
mark_from_phone (json_t *ev)
{
  json_t *c = json_object_get (ev, "content");
  if (!json_is_object (c))
    return;
  const char *text = str (c, "text");
  g_autofree char *t = text && *text ? g_strdup_printf ("📱 You, from your phone: %s", text)
                                     : g_strdup ("📱 Sent by you from your phone");
  json_object_set_new (c, "text", json_string (t));
  const char *html = str (c, "html");
  if (html && *html)
    {
      g_autofree char *h = g_strdup_printf ("📱 <i>You, from your phone:</i> %s", html);
      json_object_set_new (c, "html", json_string (h));
    }
}

static void
with_ghost (PaBridge *b, gboolean ok, const char *error, gpointer user_data)
{
  PaWork *w = user_data;
  if (!ok)
    {
      g_warning ("ghost %s: %s", w->ghost, error);
      work_defer (w, 5000);
      return;
    }
  json_t *chat = json_object_get (w->ev, "chat");
  const char *sender = str (w->ev, "sender_id");
  /* For a DM the peer is the other side, even for our own messages. */
  const char *peer = json_is_true (json_object_get (w->ev, "from_me")) ? NULL : sender;
  if (w->lane->job)
    w->lane->import->room_ensure (w->lane->job, w->chat_id, chat, with_room, w);
  else
    pa_portal_ensure (b, w->login, w->chat_id, chat, peer ? peer : dm_contact (w), with_room, w);
}

static void
process (PaWork *w)
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
      || g_str_equal (type, "marked_unread") || g_str_equal (type, "delivery_receipt"))
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
      g_autofree char *known = pa_work_event_of (w, mid);
      if (known && g_str_equal (type, "message_upsert") && w->lane->job == NULL)
        {
          /* "Replace a message if known" (plugin.h): an undecryptable
           * message's placeholder, media that arrived late. */
          w->replaces = g_steal_pointer (&known);
        }
      else if (known)
        {
          g_debug ("message %s already bridged as %s", mid, known);
          work_done (w);
          return;
        }
      /* An exported message the live portal named by the agent already
       * shows (bridged live): not imported again, counted. */
      const char *live = w->lane->job ? w->lane->import->live_room (w->lane->job, w->chat_id)
                                      : NULL;
      if (live
          && pa_fingerprint_already_live (b, w->login->id, live,
                                          json_integer_value (json_object_get (ev, "ts")),
                                          json_object_get (ev, "content")))
        {
          g_debug ("import message %s: already bridged live in %s", mid, live);
          work_done (w);
          return;
        }
      /* Our own echo: the agent's Matrix event is already there. */
      const char *txn = str (ev, "txn_id");
      if (txn && txn[0] == '$')
        {
          g_autoptr (PaPortalRow) row
              = pa_store_portal_find (b->store, w->login->plugin, w->login->id, w->chat_id);
          if (row && row->room_id)
            {
              g_autoptr (GError) e = NULL;
              /* In a shared portal, the copies other logins get of it are
               * the agent's message too: claimed, so they are dropped. */
              if (g_str_equal (row->login_id, PA_STORE_SHARED_LOGIN)
                  && pa_store_shared_claim (b->store, w->login->plugin, w->chat_id, mid,
                                            w->login->id, &e)
                         < 0)
                g_warning ("shared portal dedup: %s", e->message);
              g_clear_error (&e);
              if (!pa_store_message_put (b->store, w->login->plugin, row->login_id, w->chat_id,
                                         mid, row->room_id, txn, w->login->owner,
                                         json_integer_value (json_object_get (ev, "ts")), &e))
                g_debug ("echo map: %s", e->message);
              pa_fingerprint_record (b, row->room_id, mid,
                                     json_integer_value (json_object_get (ev, "ts")),
                                     json_object_get (ev, "content"));
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
  if (from_me && w->lane->job == NULL && sender != NULL && dm_of_login (w))
    {
      /* The agent's own message from their phone in a DM: a direct room
       * holds the agent and the contact only (Tchap's `direct` rule), so
       * it is not the ghost of their own account that says it. */
      if (b->config->double_puppet)
        w->ghost = g_strdup (w->login->owner);
      else
        {
          /* Said by the contact's ghost, marked as the agent's. */
          w->ghost = dm_voice (w);
          mark_from_phone (ev);
        }
      with_ghost (b, TRUE, NULL, w);
      return;
    }
  if (sender == NULL)
    {
      /* Chat-level event (chat_info, chat_delete): the bot acts. */
      with_ghost (b, TRUE, NULL, w);
      return;
    }
  json_t *ct = json_object_get (ev, "contact");
  /* Only in a shared group portal (or the one this group event will
   * create): a room of one login's own (a DM, a group room from before
   * shared portals) does not get another agent joined to it. */
  const char *kind = str (json_object_get (ev, "chat"), "kind");
  gboolean shared = w->map_login ? g_str_equal (w->map_login, PA_STORE_SHARED_LOGIN)
                                 : g_strcmp0 (kind, "group") == 0;
  PaAccount *agent = NULL;
  if (w->lane->job == NULL && b->config->double_puppet && shared
      && (agent = pa_login_by_remote (b, w->login->plugin, sender)) != NULL)
    {
      /* Is this our user: the legacy account of a logged-in agent is shown
       * as the agent's own Matrix user in a group, not as a ghost. */
      w->ghost = g_strdup (agent->owner);
      with_ghost (b, TRUE, NULL, w);
      return;
    }
  if (w->lane->job && b->config->double_puppet && w->lane->import->me (w->lane->job)
      && g_strcmp0 (str (ct, "name"), w->lane->import->me (w->lane->job)) == 0)
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
    name = g_strdup_printf ("%s (%s)", str (ct, "name"),
                            w->lane->import->display_suffix (w->lane->job));
  else
    name = g_strdup (str (ct, "name"));
  pa_ghost_ensure (b, w->login->plugin, sender, name, str (ct, "avatar_path"), with_ghost, w);
}

static void
lane_process (PaLane *lane)
{
  PaBridge *b = lane->bridge;
  /* The store cannot write: the lane waits for the retry (pa-batch.c). */
  if (lane->busy || pa_batch_faulted (b))
    return;
  pa_batch_begin (b);
  g_autoptr (GError) error = NULL;
  g_autoptr (json_t) rows = NULL;
  PaAccount *import_account = lane->job ? lane->import->account (lane->job) : NULL;
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
  PaWork *w = g_new0 (PaWork, 1);
  w->finish = work_done;
  w->retry = work_defer;
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
  if (lane->job == NULL && w->chat_id)
    {
      g_autoptr (PaPortalRow) portal
          = pa_store_portal_find (b->store, w->login->plugin, w->login->id, w->chat_id);
      if (portal)
        w->map_login = g_strdup (portal->login_id);
    }
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

/* An EVENT frame's write to the remote table (a message deduplicated on
 * login, chat and id); *dup when already there. */
static gboolean
intake_store (PaBridge *b, const char *login_id, json_t *ev, gboolean *dup, GError **error)
{
  const char *type = str (ev, "type");
  const char *mid = str (ev, "message_id");
  g_autofree char *key = NULL;
  if (type && mid && (g_str_equal (type, "message") || g_str_equal (type, "message_upsert")))
    key = g_strjoin ("\x1f", login_id, str (ev, "chat_id") ? str (ev, "chat_id") : "", mid, type,
                     NULL);
  g_autofree char *text = json_dumps (ev, JSON_COMPACT);
  *dup = FALSE;
  return pa_store_remote_add (b->store, login_id, key, text, dup, error) >= 0;
}

typedef struct
{
  char *login_id;
  json_t *ev;
} Intake;

static void
intake_free (gpointer p)
{
  Intake *in = p;
  g_free (in->login_id);
  json_decref (in->ev);
  g_free (in);
}

/* The redo of an intake whose batch could not be committed. */
static gboolean
intake_redo (PaBridge *b, gpointer data, GError **error)
{
  Intake *in = data;
  gboolean dup = FALSE;
  return intake_store (b, in->login_id, in->ev, &dup, error);
}

/* A worker's EVENT frame: stored durably in the remote table, acknowledged
 * to the worker once committed, then taken by the live lane.  If the
 * store cannot write, the event is held in memory (unacknowledged, in
 * order) and stored by the retry (pa-batch.c). */
void
pa_to_matrix_intake (PaAccount *l, json_t *frame)
{
  PaBridge *b = l->bridge;
  json_t *ev = json_object_get (frame, "event");
  json_int_t seq = json_integer_value (json_object_get (frame, "seq"));
  if (!json_is_object (ev))
    return;
  pa_to_matrix_files_confine (b, l, NULL, ev);
  Intake *in = g_new0 (Intake, 1);
  in->login_id = g_strdup (l->id);
  in->ev = json_incref (ev);
  pa_batch_redo (b, intake_redo, in, intake_free);
  /* Once committed (or already known), the plugin may ack its network. */
  pa_batch_defer_ack (b, l->id, seq);
  if (pa_batch_faulted (b))
    return; /* held: written by the retry, before anything newer */
  gboolean dup = FALSE;
  g_autoptr (GError) e = NULL;
  if (!intake_store (b, l->id, ev, &dup, &e))
    {
      g_warning ("could not store a remote event: %s", e != NULL ? e->message : "?");
      pa_batch_fail (b, e);
      return;
    }
  if (dup)
    {
      /* A redelivery: the copy of its file the worker handed is not needed. */
      g_autofree char *owned = pa_to_matrix_files_owned (b, l, ev);
      if (owned != NULL)
        pa_batch_defer_unlink (b, owned);
    }
  pa_lane_schedule (&b->live);
}
