/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * tg-outgoing-ops.c — Matrix → Telegram operations on messages and chats
 * other than send: edit, redact, react, mark_read, typing, set_chat_info,
 * set_membership.  Each sends one TDLib request (an edit two: the message
 * first, to know whether its text or its caption changes) and answers
 * from the reply.
 */
#define G_LOG_DOMAIN "passerelle-telegram"

#include <string.h>

#include "tg-chats.h"
#include "tg-ids.h"
#include "tg-outgoing.h"

/* The reply of a request whose success is all there is to say. */
static void
on_done (json_t *reply, void *user_data)
{
  TgReq *r = user_data;
  if (!tg_req_live (r))
    return;
  if (!tg_req_failed (r, reply))
    tg_req_ok (r, NULL, 0);
  tg_req_unref (r);
}

/* A request for op_id, answered from its reply by on_done. */
static void
send_simple (PaLogin *login, guint64 op_id, gboolean message_like, json_t *request)
{
  TgReq *r = tg_req_new (login, op_id, message_like);
  tg_req_send (r, request, on_done);
}

static gboolean
error_mentions (json_t *reply, const char *word)
{
  const char *message = NULL;
  if (!tg_td_is_error (reply, NULL, &message) || message == NULL)
    return FALSE;
  g_autofree char *low = g_ascii_strdown (message, -1);
  return strstr (low, word) != NULL;
}

/* --------------------------------------------------------------- edit */

static void
on_edited (json_t *reply, void *user_data)
{
  TgReq *r = user_data;
  if (!tg_req_live (r))
    return;
  int code = 0;
  if (tg_td_is_error (reply, &code, NULL) && code == 400
      && (error_mentions (reply, "can't be edited") || error_mentions (reply, "edit_time_expired")))
    tg_req_fail (r, PA_RESULT_PERMANENT,
                 "Telegram refuses this edit: only your own messages can be edited, for 48 "
                 "hours after they were sent.");
  else if (!tg_req_failed (r, reply))
    tg_req_ok (r, NULL, 0);
  tg_req_unref (r);
}

/* The message to edit: its kind says whether the text or the caption
 * changes. */
static void
on_edit_target (json_t *reply, void *user_data)
{
  TgReq *r = user_data;
  if (!tg_req_live (r))
    return;
  if (tg_req_failed (r, reply))
    {
      tg_req_unref (r);
      return;
    }
  const char *kind
      = json_string_value (json_object_get (json_object_get (reply, "content"), "@type"));
  json_t *request;
  if (g_strcmp0 (kind, "messageText") == 0)
    request
        = json_pack ("{s:s, s:I, s:I, s:n, s:{s:s, s:O, s:n, s:b}}", "@type", "editMessageText",
                     "chat_id", (json_int_t) r->chat_id, "message_id", (json_int_t) r->message_id,
                     "reply_markup", "input_message_content", "@type", "inputMessageText", "text",
                     r->payload, "link_preview_options", "clear_draft", 0);
  else
    request = json_pack ("{s:s, s:I, s:I, s:n, s:O, s:b}", "@type", "editMessageCaption", "chat_id",
                         (json_int_t) r->chat_id, "message_id", (json_int_t) r->message_id,
                         "reply_markup", "caption", r->payload, "show_caption_above_media", 0);
  tg_req_send (r, request, on_edited);
  tg_req_unref (r);
}

void
tg_out_edit (PaLogin *login, uint64_t op_id, const char *chat_id, const char *target_id,
             const PaContent *content)
{
  gint64 chat = 0, message = 0;
  gint32 topic = 0;
  if (!tg_out_check_ready (login, op_id)
      || !tg_out_parse_chat (login, op_id, chat_id, &chat, &topic)
      || !tg_out_message (login, op_id, chat, target_id, &message))
    return;
  if (tg_out_utf16_len (content->text) > 4096)
    {
      tg_op_fail (login, op_id, PA_RESULT_TOO_LARGE,
                  "Telegram messages hold at most 4096 characters.");
      return;
    }
  TgReq *r = tg_req_new (login, op_id, TRUE);
  r->chat_id = chat;
  r->message_id = message;
  r->payload = tg_out_formatted (login, content->html, content->text);
  tg_req_send (r,
               json_pack ("{s:s, s:I, s:I}", "@type", "getMessage", "chat_id", (json_int_t) chat,
                          "message_id", (json_int_t) message),
               on_edit_target);
}

/* ------------------------------------------------- redact, react, read */

void
tg_out_redact (PaLogin *login, uint64_t op_id, const char *chat_id, const char *target_id)
{
  gint64 chat = 0, message = 0;
  gint32 topic = 0;
  if (!tg_out_check_ready (login, op_id)
      || !tg_out_parse_chat (login, op_id, chat_id, &chat, &topic)
      || !tg_out_message (login, op_id, chat, target_id, &message))
    return;
  send_simple (login, op_id, TRUE,
               json_pack ("{s:s, s:I, s:[I], s:b}", "@type", "deleteMessages", "chat_id",
                          (json_int_t) chat, "message_ids", (json_int_t) message, "revoke", 1));
}

static void
on_reacted (json_t *reply, void *user_data)
{
  TgReq *r = user_data;
  if (!tg_req_live (r))
    return;
  int code = 0;
  if (tg_td_is_error (reply, &code, NULL) && code == 400 && error_mentions (reply, "reaction"))
    {
      g_autofree char *msg
          = g_strdup_printf ("Telegram does not take the reaction %s in this chat (only the "
                             "chat's allowed emoji).",
                             r->text);
      tg_req_fail (r, PA_RESULT_UNSUPPORTED, msg);
    }
  else if (!tg_req_failed (r, reply))
    tg_req_ok (r, NULL, 0);
  tg_req_unref (r);
}

char *
tg_out_reaction_emoji (const char *key)
{
  GString *s = g_string_new (NULL);
  for (const char *p = key; p != NULL && *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);
      if (c != 0xfe0f)
        g_string_append_unichar (s, c);
    }
  return g_string_free (s, FALSE);
}

void
tg_out_react (PaLogin *login, uint64_t op_id, const char *chat_id, const char *target_id,
              const char *key, bool remove)
{
  gint64 chat = 0, message = 0;
  gint32 topic = 0;
  if (!tg_out_check_ready (login, op_id)
      || !tg_out_parse_chat (login, op_id, chat_id, &chat, &topic)
      || !tg_out_message (login, op_id, chat, target_id, &message))
    return;
  /* Matrix clients add U+FE0F to emoji Telegram names without it (❤️ / ❤). */
  g_autofree char *emoji = tg_out_reaction_emoji (key);
  if (*emoji == '\0' || !g_utf8_validate (emoji, -1, NULL))
    {
      tg_op_fail (login, op_id, PA_RESULT_UNSUPPORTED, "Telegram reactions are emoji.");
      return;
    }
  json_t *type = json_pack ("{s:s, s:s}", "@type", "reactionTypeEmoji", "emoji", emoji);
  json_t *request;
  if (remove)
    request
        = json_pack ("{s:s, s:I, s:I, s:o}", "@type", "removeMessageReaction", "chat_id",
                     (json_int_t) chat, "message_id", (json_int_t) message, "reaction_type", type);
  else
    request = json_pack ("{s:s, s:I, s:I, s:o, s:b, s:b}", "@type", "addMessageReaction", "chat_id",
                         (json_int_t) chat, "message_id", (json_int_t) message, "reaction_type",
                         type, "is_big", 0, "update_recent_reactions", 1);
  TgReq *r = tg_req_new (login, op_id, TRUE);
  r->text = g_strdup (key);
  tg_req_send (r, request, on_reacted);
}

void
tg_out_mark_read (PaLogin *login, uint64_t op_id, const char *chat_id, const char *message_id)
{
  gint64 chat = 0, message = 0;
  gint32 topic = 0;
  if (!tg_out_check_ready (login, op_id)
      || !tg_out_parse_chat (login, op_id, chat_id, &chat, &topic)
      || !tg_out_message (login, op_id, chat, message_id, &message))
    return;
  /* force_read: the chat is never "opened" here, the agent reads in Matrix. */
  send_simple (login, op_id, FALSE,
               json_pack ("{s:s, s:I, s:[I], s:n, s:b}", "@type", "viewMessages", "chat_id",
                          (json_int_t) chat, "message_ids", (json_int_t) message, "source",
                          "force_read", 1));
}

void
tg_out_typing (PaLogin *login, uint64_t op_id, const char *chat_id, bool typing)
{
  gint64 chat = 0;
  gint32 topic = 0;
  if (!tg_out_check_ready (login, op_id)
      || !tg_out_parse_chat (login, op_id, chat_id, &chat, &topic))
    return;
  send_simple (login, op_id, FALSE,
               json_pack ("{s:s, s:I, s:o, s:s, s:{s:s}}", "@type", "sendChatAction", "chat_id",
                          (json_int_t) chat, "topic_id", tg_out_topic (topic),
                          "business_connection_id", "", "action", "@type",
                          typing ? "chatActionTyping" : "chatActionCancel"));
}

/* --------------------------------------------------------- chat info */

static gboolean
is_private (TgChatKind kind)
{
  return kind == TG_CHAT_PRIVATE || kind == TG_CHAT_SECRET;
}

void
tg_out_set_chat_info (PaLogin *login, uint64_t op_id, const char *chat_id, PaChatField field,
                      const char *value)
{
  gint64 chat = 0;
  gint32 topic = 0;
  if (!tg_out_check_ready (login, op_id)
      || !tg_out_parse_chat (login, op_id, chat_id, &chat, &topic))
    return;
  TgChatKind kind = tg_chats_kind (login, chat);
  if (field == PA_CHAT_FIELD_DISAPPEARING)
    {
      guint64 s = value != NULL ? g_ascii_strtoull (value, NULL, 10) : 0;
      /* Outside secret chats Telegram's timers are whole days, up to a year. */
      if (kind != TG_CHAT_SECRET && (s % 86400 != 0 || s > 365 * 86400))
        {
          tg_op_fail (login, op_id, PA_RESULT_UNSUPPORTED,
                      "Telegram's message timers are whole days (1 day, 1 week, 1 month…), up "
                      "to a year.");
          return;
        }
      send_simple (login, op_id, FALSE,
                   json_pack ("{s:s, s:I, s:i}", "@type", "setChatMessageAutoDeleteTime", "chat_id",
                              (json_int_t) chat, "message_auto_delete_time", (int) s));
      return;
    }
  if (is_private (kind))
    {
      tg_op_fail (login, op_id, PA_RESULT_UNSUPPORTED,
                  "A private Telegram chat has no name, description or picture of its own.");
      return;
    }
  if (topic != 0)
    {
      tg_op_fail (login, op_id, PA_RESULT_UNSUPPORTED,
                  "A forum topic's details are changed in a Telegram app.");
      return;
    }
  switch (field)
    {
    case PA_CHAT_FIELD_NAME:
      if (value == NULL || *value == '\0')
        {
          tg_op_fail (login, op_id, PA_RESULT_UNSUPPORTED, "A Telegram group needs a name.");
          return;
        }
      send_simple (login, op_id, FALSE,
                   json_pack ("{s:s, s:I, s:s}", "@type", "setChatTitle", "chat_id",
                              (json_int_t) chat, "title", value));
      return;
    case PA_CHAT_FIELD_TOPIC:
      send_simple (login, op_id, FALSE,
                   json_pack ("{s:s, s:I, s:s}", "@type", "setChatDescription", "chat_id",
                              (json_int_t) chat, "description", value ? value : ""));
      return;
    case PA_CHAT_FIELD_AVATAR:
      {
        /* The host deletes its picture once answered; TDLib uploads before
         * it answers, from our own link to it. */
        g_autofree char *file = NULL;
        json_t *photo = json_null ();
        if (value != NULL)
          {
            file = tg_out_keep_file (login, value, "picture.jpg", NULL);
            if (file == NULL)
              {
                json_decref (photo);
                tg_op_fail (login, op_id, PA_RESULT_TEMPORARY,
                            "The picture could not be prepared for Telegram.");
                return;
              }
            json_decref (photo);
            photo = json_pack ("{s:s, s:{s:s, s:s}}", "@type", "inputChatPhotoStatic", "photo",
                               "@type", "inputFileLocal", "path", file);
          }
        TgReq *r = tg_req_new (login, op_id, FALSE);
        r->file = g_steal_pointer (&file);
        tg_req_send (r,
                     json_pack ("{s:s, s:I, s:o}", "@type", "setChatPhoto", "chat_id",
                                (json_int_t) chat, "photo", photo),
                     on_done);
        return;
      }
    default:
      tg_op_fail (login, op_id, PA_RESULT_UNSUPPORTED, "Telegram has no such chat detail.");
      return;
    }
}

/* -------------------------------------------------------- membership */

static void
on_added (json_t *reply, void *user_data)
{
  TgReq *r = user_data;
  if (!tg_req_live (r))
    return;
  if (!tg_req_failed (r, reply))
    {
      if (json_array_size (json_object_get (reply, "failed_to_add_members")) > 0)
        tg_req_fail (r, PA_RESULT_FORBIDDEN,
                     "Telegram did not add them: their privacy settings only let their contacts "
                     "add them to groups. Send them the group's invite link instead.");
      else
        tg_req_ok (r, NULL, 0);
    }
  tg_req_unref (r);
}

/* After a supergroup's ban: lift it, so the removal is a kick (they may
 * come back by invitation), as a Matrix kick is. */
static void
on_banned (json_t *reply, void *user_data)
{
  TgReq *r = user_data;
  if (!tg_req_live (r))
    return;
  if (!tg_req_failed (r, reply))
    tg_req_send (r,
                 json_pack ("{s:s, s:I, s:{s:s, s:I}, s:{s:s}}", "@type", "setChatMemberStatus",
                            "chat_id", (json_int_t) r->chat_id, "member_id", "@type",
                            "messageSenderUser", "user_id", (json_int_t) r->message_id, "status",
                            "@type", "chatMemberStatusLeft"),
                 on_done);
  tg_req_unref (r);
}

static void
on_joined (json_t *reply, void *user_data)
{
  TgReq *r = user_data;
  if (!tg_req_live (r))
    return;
  if (!tg_req_failed (r, reply))
    {
      const char *type = json_string_value (json_object_get (reply, "@type"));
      g_autofree char *id = tg_ids_chat (r->chat_id, 0);
      if (g_strcmp0 (type, "chatJoinResultSuccess") == 0 || g_strcmp0 (type, "ok") == 0)
        {
          tg_chats_announce (r->login, r->chat_id, 0);
          tg_req_ok (r, id, 0);
        }
      else if (g_strcmp0 (type, "chatJoinResultRequestSent") == 0)
        tg_req_fail (r, PA_RESULT_FORBIDDEN,
                     "This Telegram group approves new members: your request was sent to its "
                     "admins.");
      else
        tg_req_fail (r, PA_RESULT_FORBIDDEN, "Telegram did not let you join this chat.");
    }
  tg_req_unref (r);
}

/* A public chat named by its @username: join it once found. */
static void
on_join_found (json_t *reply, void *user_data)
{
  TgReq *r = user_data;
  if (!tg_req_live (r))
    return;
  if (tg_td_is_error (reply, NULL, NULL))
    {
      g_autofree char *msg = g_strdup_printf ("Telegram knows no public chat @%s.", r->text);
      tg_req_fail (r, PA_RESULT_NOT_FOUND, msg);
    }
  else
    {
      r->chat_id = json_integer_value (json_object_get (reply, "id"));
      tg_req_send (
          r, json_pack ("{s:s, s:I}", "@type", "joinChat", "chat_id", (json_int_t) r->chat_id),
          on_joined);
    }
  tg_req_unref (r);
}

void
tg_out_set_membership (PaLogin *login, uint64_t op_id, const char *chat_id, const char *user_id,
                       bool join)
{
  gint64 chat = 0, user = 0;
  gint32 topic = 0;
  if (!tg_out_check_ready (login, op_id))
    return;
  if (!tg_ids_parse_user (user_id, &user))
    {
      tg_op_fail (login, op_id, PA_RESULT_NOT_FOUND, "This is not a Telegram user.");
      return;
    }
  gboolean self = user == login->self_id;
  if (self && join && chat_id != NULL && chat_id[0] == '@')
    {
      TgReq *r = tg_req_new (login, op_id, FALSE);
      r->text = g_strdup (chat_id + 1);
      tg_req_send (r, json_pack ("{s:s, s:s}", "@type", "searchPublicChat", "username", r->text),
                   on_join_found);
      return;
    }
  if (!tg_out_parse_chat (login, op_id, chat_id, &chat, &topic))
    return;
  TgChatKind kind = tg_chats_kind (login, chat);
  if (is_private (kind))
    {
      tg_op_fail (login, op_id, PA_RESULT_UNSUPPORTED,
                  "A private Telegram chat has no members to add or remove.");
      return;
    }
  if (self)
    {
      TgReq *r = tg_req_new (login, op_id, FALSE);
      r->chat_id = chat;
      if (join)
        tg_req_send (r, json_pack ("{s:s, s:I}", "@type", "joinChat", "chat_id", (json_int_t) chat),
                     on_joined);
      else
        tg_req_send (r,
                     json_pack ("{s:s, s:I}", "@type", "leaveChat", "chat_id", (json_int_t) chat),
                     on_done);
      return;
    }
  TgReq *r = tg_req_new (login, op_id, FALSE);
  r->chat_id = chat;
  r->message_id = user; /* the member, for on_banned */
  if (join)
    tg_req_send (r,
                 json_pack ("{s:s, s:I, s:I, s:i}", "@type", "addChatMember", "chat_id",
                            (json_int_t) chat, "user_id", (json_int_t) user, "forward_limit", 0),
                 on_added);
  else
    tg_req_send (r,
                 json_pack ("{s:s, s:I, s:{s:s, s:I}, s:i, s:b}", "@type", "banChatMember",
                            "chat_id", (json_int_t) chat, "member_id", "@type", "messageSenderUser",
                            "user_id", (json_int_t) user, "banned_until_date", 0, "revoke_messages",
                            0),
                 kind == TG_CHAT_BASIC_GROUP ? on_done : on_banned);
}
