/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Matrix → legacy, the operations of a portal: an agent's message (text
 * or media, maybe a reply), edit, reaction or redaction in a portal
 * becomes a worker operation of the portal's login.  Media are downloaded
 * (and decrypted) first into the login's data dir.  The dispatcher
 * (pa-to-legacy-dispatch.c) has checked who speaks and that the login
 * runs; what fails here is told to the agent in the room. */
#define G_LOG_DOMAIN "passerelle-matrix-in"

#include "pa-to-legacy-send.h"

#include <glib/gstdio.h>

#include "pa-convert.h"
#include "pa-login-table.h"
#include "pa-media.h"
#include "pa-queue.h"
#include "pa-plugins.h"
#include "pa-to-legacy-ops.h"
#include "pa-to-matrix-read-only.h"

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

/* ----------------------------------------------------------- portals */

typedef struct
{
  PaBridge *b;
  PaAccount *login;
  char *login_id;
  char *room_id;
  char *event_id;
  char *chat_id;
  json_t *content;
  char *reply_to;
  char *media_path;
  PaEventDoneFunc done;
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
      pa_queue_notice (b, s->room_id, "⚠ Not delivered: you are no longer logged in.");
      finish (b, s->done);
      send_ctx_free (s);
      return;
    }
  g_autoptr (json_t) wc = pa_convert_message_to_wire (s->content, s->media_path, s->reply_to);
  g_autoptr (json_t) args
      = json_pack ("{s:s, s:O, s:s}", "chat_id", s->chat_id, "content", wc, "txn_id", s->event_id);
  g_autoptr (GError) error = NULL;
  if (!pa_to_legacy_op (login, "send", args, "send", s->room_id, s->event_id, s->chat_id, NULL,
                        &error))
    {
      g_autofree char *msg = g_strdup_printf ("⚠ Not delivered: %s", error->message);
      pa_queue_notice_reply (b, s->room_id, s->event_id, msg);
      /* No op holds the downloaded file: it goes now. */
      if (s->media_path != NULL)
        g_unlink (s->media_path);
    }
  finish (b, s->done);
  send_ctx_free (s);
}
static void
send_failed (SendCtx *s, const char *why)
{
  g_autofree char *msg = g_strdup_printf ("⚠ Not delivered: %s", why);
  pa_queue_notice_reply (s->b, s->room_id, s->event_id, msg);
  finish (s->b, s->done);
  send_ctx_free (s);
}
/* What the login's data dir may still grow by (limits.login_data_bytes). */
static gint64
budget_left (PaBridge *b, const char *login_id)
{
  g_autofree char *dir = g_build_filename (b->config->data_dir, login_id, NULL);
  guint64 used = pa_dir_bytes (dir);
  return used >= (guint64) b->config->login_data_bytes
             ? 0
             : b->config->login_data_bytes - (gint64) used;
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
  g_autofree char *file = pa_media_save_for_login (b, s->login_id, data, &error);
  if (file == NULL)
    {
      send_failed (s, error->message);
      return;
    }
  g_free (s->media_path);
  s->media_path = g_steal_pointer (&file);
  send_to_worker (s);
}

void
pa_to_legacy_send (PaBridge *b, PaPortalRow *row, PaAccount *login, json_t *ev,
                   PaEventDoneFunc done)
{
  const char *room_id = str (ev, "room_id");
  const char *event_id = str (ev, "event_id");
  json_t *content = json_object_get (ev, "content");
  const char *type = str (ev, "type");
  json_t *rel = json_object_get (content, "m.relates_to");
  const char *rel_type = str (rel, "rel_type");
  g_autoptr (GError) error = NULL;

  if (g_str_equal (type, "m.reaction"))
    {
      g_autofree char *target
          = pa_store_message_legacy_id (b->store, room_id, str (rel, "event_id"), NULL);
      if (target == NULL)
        {
          pa_queue_notice (b, room_id,
                           "⚠ Reaction not delivered: that message is not known on "
                           "the legacy network.");
          finish (b, done);
          return;
        }
      const char *key = str (rel, "key") ? str (rel, "key") : "";
      g_autoptr (json_t) args = json_pack ("{s:s, s:s, s:s, s:b}", "chat_id", row->chat_id,
                                           "target_id", target, "key", key, "remove", 0);
      g_autofree char *extra = g_strjoin ("\x1f", target, key, NULL);
      if (!pa_to_legacy_op (login, "react", args, "react", room_id, event_id, row->chat_id, extra,
                            &error))
        {
          g_autofree char *msg = g_strdup_printf ("⚠ Reaction not delivered: %s", error->message);
          pa_queue_notice (b, room_id, msg);
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
      if (!pa_to_legacy_op (login, op, args, op, room_id, event_id, row->chat_id, NULL, &error))
        {
          g_autofree char *msg = g_strdup_printf ("⚠ Deletion not delivered: %s", error->message);
          pa_queue_notice (b, room_id, msg);
        }
      finish (b, done);
      return;
    }
  if (rel_type && g_str_equal (rel_type, "m.replace"))
    {
      g_autofree char *target
          = pa_store_message_legacy_id (b->store, room_id, str (rel, "event_id"), NULL);
      json_t *newc = json_object_get (content, "m.new_content");
      if (target == NULL || newc == NULL)
        {
          pa_queue_notice (b, room_id,
                           "⚠ Edit not delivered: that message is not known on "
                           "the legacy network.");
          finish (b, done);
          return;
        }
      g_autoptr (json_t) wc = pa_convert_edit_to_wire (content);
      g_autoptr (json_t) args = json_pack ("{s:s, s:s, s:O}", "chat_id", row->chat_id, "target_id",
                                           target, "content", wc);
      if (!pa_to_legacy_op (login, "edit", args, "edit", room_id, event_id, row->chat_id, target,
                            &error))
        {
          g_autofree char *msg = g_strdup_printf ("⚠ Edit not delivered: %s", error->message);
          pa_queue_notice (b, room_id, msg);
        }
      finish (b, done);
      return;
    }

  /* A chat the login may only read: told, never sent. */
  if (pa_room_state_read_only (b, room_id))
    {
      PaPluginInfo *info = pa_plugin_info (b, login->plugin);
      g_autofree char *msg = g_strdup_printf (
          "⚠ Not delivered: this chat is read-only on %s.",
          info && info->display_name ? info->display_name : login->plugin);
      pa_queue_notice_reply (b, room_id, event_id, msg);
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
      /* The file lands in the login's data dir: never past its budget. */
      gint64 left = budget_left (b, login->id);
      json_int_t declared
          = json_integer_value (json_object_get (json_object_get (content, "info"), "size"));
      if (left <= 0 || (declared > 0 && declared > left))
        {
          g_autofree char *why = g_strdup_printf (
              "too large: your %s connection's storage is full (limit %" G_GINT64_FORMAT
              " MB, limits.login_data_bytes)",
              login->plugin, b->config->login_data_bytes / (1024 * 1024));
          send_failed (s, why);
          return;
        }
      if (!pa_media_download (b, content, MIN (b->config->max_media_bytes, left), 300,
                              media_downloaded, s))
        send_failed (s, "the media URL is invalid");
      return;
    }
  send_to_worker (s);
}
