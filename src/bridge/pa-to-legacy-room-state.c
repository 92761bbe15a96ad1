/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Matrix → legacy, a group portal's room state: an agent renames the
 * room, changes its topic or its picture, and the legacy group follows
 * (set_chat_info).  A picture is downloaded into the login's data dir
 * first, like a message's media.  Direct chats have none of these on
 * either side (Tchap's `direct` rooms), so their state stays Matrix-only.
 * The network's echo comes back as a CHAT_INFO whose values are already
 * applied (pa-to-matrix-room-state.c): nothing loops. */
#define G_LOG_DOMAIN "passerelle-matrix-in"

#include "pa-to-legacy-room-state.h"

#include <glib/gstdio.h>

#include "pa-login-table.h"
#include "pa-media.h"
#include "pa-queue.h"
#include "pa-to-legacy-ops.h"

static const char *
str (json_t *o, const char *key)
{
  return json_string_value (json_object_get (o, key));
}

gboolean
pa_to_legacy_room_state_type (const char *type)
{
  return g_strcmp0 (type, "m.room.name") == 0 || g_strcmp0 (type, "m.room.topic") == 0
         || g_strcmp0 (type, "m.room.avatar") == 0;
}

/* The kv key pa-to-matrix-room-state.c keeps what it applied under. */
static void
remember (PaBridge *b, const char *room_id, const char *what, const char *value)
{
  g_autofree char *key = g_strconcat ("room_state:", room_id, ":", what, NULL);
  g_autoptr (GError) e = NULL;
  if (!pa_store_kv_set (b->store, key, value ? value : "", &e))
    g_warning ("store: %s", e->message);
}

static void
send_op (PaBridge *b, PaAccount *login, const char *room_id, const char *event_id,
         const char *chat_id, const char *field, const char *value, const char *kind)
{
  g_autoptr (json_t) args = json_pack ("{s:s, s:s}", "chat_id", chat_id, "field", field);
  if (value != NULL)
    json_object_set_new (args, "value", json_string (value));
  g_autoptr (GError) e = NULL;
  if (!pa_to_legacy_op (login, "set_chat_info", args, kind, room_id, event_id, chat_id, NULL, &e))
    {
      g_autofree char *msg = g_strdup_printf ("⚠ Not changed on %s: %s", login->plugin, e->message);
      pa_queue_notice_reply (b, room_id, event_id, msg);
      if (value != NULL && g_str_equal (kind, "room_avatar"))
        g_unlink (value);
    }
}

typedef struct
{
  PaBridge *b;
  char *login_id;
  char *room_id;
  char *event_id;
  char *chat_id;
} AvatarCtx;

static void
avatar_ctx_free (AvatarCtx *a)
{
  g_free (a->login_id);
  g_free (a->room_id);
  g_free (a->event_id);
  g_free (a->chat_id);
  g_free (a);
}

static void
avatar_downloaded (PaBridge *b, GBytes *data, const char *why, gpointer user_data)
{
  AvatarCtx *a = user_data;
  PaAccount *login = pa_login_by_id (b, a->login_id);
  g_autoptr (GError) error = NULL;
  if (login == NULL)
    {
      avatar_ctx_free (a);
      return;
    }
  if (data == NULL)
    {
      g_autofree char *msg = g_strdup_printf ("⚠ Picture not changed on %s: %s", login->plugin,
                                              why ? why : "download failed");
      pa_queue_notice_reply (b, a->room_id, a->event_id, msg);
      avatar_ctx_free (a);
      return;
    }
  g_autofree char *file = pa_media_save_for_login (b, a->login_id, data, &error);
  if (file == NULL)
    {
      g_autofree char *msg
          = g_strdup_printf ("⚠ Picture not changed on %s: %s", login->plugin, error->message);
      pa_queue_notice_reply (b, a->room_id, a->event_id, msg);
      avatar_ctx_free (a);
      return;
    }
  send_op (b, login, a->room_id, a->event_id, a->chat_id, "avatar", file, "room_avatar");
  avatar_ctx_free (a);
}

void
pa_to_legacy_room_state (PaBridge *b, PaPortalRow *row, PaAccount *login, json_t *ev,
                         PaEventDoneFunc done)
{
  const char *type = str (ev, "type");
  const char *room_id = str (ev, "room_id");
  const char *event_id = str (ev, "event_id");
  json_t *content = json_object_get (ev, "content");
  if (!g_str_equal (row->kind, "group") || g_strcmp0 (str (ev, "state_key"), "") != 0)
    {
      done (b);
      return;
    }
  if (g_str_equal (type, "m.room.name"))
    {
      const char *name = str (content, "name");
      /* What the network then says back is already applied. */
      g_free (row->name);
      row->name = g_strdup (name);
      g_autoptr (GError) e = NULL;
      if (!pa_store_portal_put (b->store, row, &e))
        g_warning ("store: %s", e->message);
      send_op (b, login, room_id, event_id, row->chat_id, "name", name && *name ? name : NULL,
               "room_state");
    }
  else if (g_str_equal (type, "m.room.topic"))
    {
      const char *topic = str (content, "topic");
      remember (b, room_id, "topic", topic);
      send_op (b, login, room_id, event_id, row->chat_id, "topic", topic && *topic ? topic : NULL,
               "room_state");
    }
  else if (str (content, "url") == NULL)
    send_op (b, login, room_id, event_id, row->chat_id, "avatar", NULL, "room_state");
  else
    {
      AvatarCtx *a = g_new0 (AvatarCtx, 1);
      a->b = b;
      a->login_id = g_strdup (login->id);
      a->room_id = g_strdup (room_id);
      a->event_id = g_strdup (event_id);
      a->chat_id = g_strdup (row->chat_id);
      g_autoptr (json_t) media = json_pack ("{s:s}", "url", str (content, "url"));
      /* Pictures are small: 10 MB is more than any network takes. */
      if (!pa_media_download (b, media, 10 * 1024 * 1024, 120, avatar_downloaded, a))
        {
          pa_queue_notice_reply (b, room_id, event_id,
                                 "⚠ Picture not changed: its URL is invalid.");
          avatar_ctx_free (a);
        }
    }
  done (b);
}
