/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * purple-ops.c — Matrix → legacy operations on chats: send (text, HTML,
 * emotes; media through purple-xfer.c), typing, set_membership (join,
 * leave, invite), set_chat_info (a room's topic), create_dm and
 * get_chat_info, each answered once with a typed result.
 *
 * Why apart: the operations' checks and result codes in one place.
 */
#define G_LOG_DOMAIN "passerelle-purple"

#include <string.h>

#include "purple-common.h"
#include "purple-emit.h"
#include "purple-markup.h"
#include "purple-ops.h"
#include "purple-rooms.h"
#include "purple-xfer.h"

static gboolean
pp_check_online (PaLogin *login, guint64 op_id)
{
  if (pp_gc (login) != NULL && login->signed_on)
    return TRUE;
  pp_op_fail (login, op_id, PA_RESULT_NOT_CONNECTED, "Not connected to the network");
  return FALSE;
}

void
pp_send (PaLogin *login, uint64_t op_id, const char *chat_id, const PaContent *content,
         const char *txn_id)
{
  /* Too long is too long online or not: say so before anything else (the
   * markup conversion would otherwise cut the text silently). */
  if ((content->text != NULL && strlen (content->text) > PP_MAX_BODY)
      || (content->html != NULL && strlen (content->html) > PP_MAX_BODY))
    {
      g_autofree char *msg
          = g_strdup_printf ("Messages are limited to %zu KiB here", PP_MAX_BODY / 1024);
      pp_op_fail (login, op_id, PA_RESULT_TOO_LARGE, msg);
      return;
    }
  if (!pp_check_online (login, op_id))
    return;
  /* A room we are not in (yet) must not be written to as a contact. */
  if (pp_find_chat (login, chat_id) == NULL
      && (purple_find_conversation_with_account (PURPLE_CONV_TYPE_CHAT, chat_id, login->account)
              != NULL
          || pp_room_rejoined (login, chat_id)))
    {
      if (pp_room_rejoined (login, chat_id))
        pp_op_fail (login, op_id, PA_RESULT_TEMPORARY, "The room is being joined again");
      else
        pp_op_fail (login, op_id, PA_RESULT_NOT_FOUND, "Not in this room");
      return;
    }
  g_autofree char *valid
      = pp_find_chat (login, chat_id) == NULL ? pp_valid_norm (login, chat_id) : g_strdup (chat_id);
  if (valid == NULL)
    {
      pp_op_fail (login, op_id, PA_RESULT_NOT_FOUND, "No such contact on this network");
      return;
    }
  if (content->media_path != NULL)
    {
      pp_send_file (login, op_id, chat_id, content);
      return;
    }
  g_autofree char *body = pp_markup_to_purple (content->text, content->html);
  if (content->kind == PA_MSG_EMOTE)
    {
      char *me = g_strconcat ("/me ", body, NULL);
      g_free (body);
      body = me;
    }
  if (*body == '\0')
    {
      pp_op_fail (login, op_id, PA_RESULT_PERMANENT, "Empty messages cannot be sent");
      return;
    }
  PurpleConnection *gc = pp_gc (login);
  PurpleConversation *chat = pp_find_chat (login, chat_id);
  int ret;
  if (chat != NULL)
    ret = serv_chat_send (gc, purple_conv_chat_get_id (PURPLE_CONV_CHAT (chat)), body, 0);
  else
    {
      if (purple_find_conversation_with_account (PURPLE_CONV_TYPE_IM, chat_id, login->account)
          == NULL)
        purple_conversation_new (PURPLE_CONV_TYPE_IM, login->account, chat_id);
      ret = serv_send_im (gc, chat_id, body, 0);
    }
  if (ret < 0)
    {
      g_autofree char *msg
          = g_strdup_printf ("The network did not accept the message (%s)", g_strerror (-ret));
      pp_op_fail (login, op_id, pp_result_for_errno (-ret), msg);
      return;
    }
  gint64 now = pp_now_ms ();
  g_autofree char *id = pp_message_id (login, chat_id, login->self_id, now, body);
  pp_op_ok (login, op_id, id, now);
}

void
pp_typing_op (PaLogin *login, uint64_t op_id, const char *chat_id, bool typing)
{
  PurpleConnection *gc = pp_gc (login);
  if (gc != NULL && pp_find_chat (login, chat_id) == NULL)
    serv_send_typing (gc, chat_id, typing ? PURPLE_TYPING : PURPLE_NOT_TYPING);
  /* Typing is best effort: nothing to tell the agent when it is not sent. */
  pp_op_ok (login, op_id, NULL, 0);
}

void
pp_set_membership (PaLogin *login, uint64_t op_id, const char *chat_id, const char *user_id,
                   bool join)
{
  if (!pp_check_online (login, op_id))
    return;
  gboolean self = g_strcmp0 (user_id, login->self_id) == 0;
  PurpleConversation *conv = pp_find_chat (login, chat_id);
  if (self && join)
    {
      if (conv != NULL)
        {
          pp_op_ok (login, op_id, chat_id, 0);
          return;
        }
      g_autoptr (GError) err = NULL;
      g_autofree char *norm = pp_norm (login, chat_id);
      if (!pp_join_chat (login, chat_id, &err))
        {
          pp_op_fail (login, op_id, pp_result_for_error (err), err->message);
          return;
        }
      g_hash_table_replace (login->join_ops, g_strdup (norm), pp_u64_dup (op_id));
      return;
    }
  if (conv == NULL)
    {
      pp_op_fail (login, op_id, PA_RESULT_NOT_FOUND, "Not in this room");
      return;
    }
  int id = purple_conv_chat_get_id (PURPLE_CONV_CHAT (conv));
  if (self)
    {
      pp_remember_room (login, chat_id, FALSE);
      serv_chat_leave (pp_gc (login), id);
      pp_op_ok (login, op_id, NULL, 0);
      return;
    }
  if (join)
    {
      /* XMPP occupants are room/nick; invite their real address. */
      serv_chat_invite (pp_gc (login), id, NULL, user_id);
      pp_op_ok (login, op_id, NULL, 0);
      return;
    }
  pp_op_fail (login, op_id, PA_RESULT_UNSUPPORTED, "Removing someone from a room is not supported");
}

void
pp_set_chat_info (PaLogin *login, uint64_t op_id, const char *chat_id, PaChatField field,
                  const char *value)
{
  /* libpurple 2.x can set a room's topic (XMPP, IRC), nothing else. */
  if (field != PA_CHAT_FIELD_TOPIC)
    {
      pp_op_fail (login, op_id, PA_RESULT_UNSUPPORTED,
                  "Only a room's topic can be changed on this network");
      return;
    }
  if (value != NULL && strlen (value) > PP_MAX_BODY)
    {
      pp_op_fail (login, op_id, PA_RESULT_TOO_LARGE, "This topic is too long");
      return;
    }
  if (!pp_check_online (login, op_id))
    return;
  PurpleConversation *conv = pp_find_chat (login, chat_id);
  if (conv == NULL)
    {
      gboolean dm
          = purple_find_conversation_with_account (PURPLE_CONV_TYPE_IM, chat_id, login->account)
            != NULL;
      pp_op_fail (login, op_id, dm ? PA_RESULT_UNSUPPORTED : PA_RESULT_NOT_FOUND,
                  dm ? "A direct chat has no topic" : "Not in this room");
      return;
    }
  PurpleConnection *gc = pp_gc (login);
  PurplePluginProtocolInfo *info = PURPLE_PLUGIN_PROTOCOL_INFO (purple_connection_get_prpl (gc));
  if (info->set_chat_topic == NULL)
    {
      pp_op_fail (login, op_id, PA_RESULT_UNSUPPORTED,
                  "Room topics cannot be changed on this network");
      return;
    }
  /* The server's refusal (not a moderator) comes back as an error line in
   * the room, told as a notice; the new topic as a CHAT_INFO. */
  info->set_chat_topic (gc, purple_conv_chat_get_id (PURPLE_CONV_CHAT (conv)),
                        value != NULL ? value : "");
  pp_op_ok (login, op_id, NULL, 0);
}

void
pp_create_dm (PaLogin *login, uint64_t op_id, const char *user_id)
{
  if (login->account == NULL)
    {
      pp_op_fail (login, op_id, PA_RESULT_NOT_CONNECTED, "Not logged in");
      return;
    }
  g_autofree char *id = pp_valid_norm (login, user_id);
  if (id == NULL)
    {
      pp_op_fail (login, op_id, PA_RESULT_NOT_FOUND, "That is not a valid contact on this network");
      return;
    }
  PurpleConversation *conv
      = purple_find_conversation_with_account (PURPLE_CONV_TYPE_IM, id, login->account);
  if (conv == NULL && pp_gc (login) == NULL)
    {
      /* libpurple opens conversations on a connection only. */
      pp_op_fail (login, op_id, PA_RESULT_NOT_CONNECTED, "Not connected to the network");
      return;
    }
  if (conv == NULL)
    conv = purple_conversation_new (PURPLE_CONV_TYPE_IM, login->account, id);
  pp_emit_chat_info (login, conv);
  pp_op_ok (login, op_id, id, 0);
}

void
pp_get_chat_info (PaLogin *login, uint64_t op_id, const char *chat_id)
{
  if (login->account == NULL)
    {
      pp_op_fail (login, op_id, PA_RESULT_NOT_CONNECTED, "Not logged in");
      return;
    }
  PurpleConversation *conv = pp_find_chat (login, chat_id);
  if (conv == NULL)
    conv = purple_find_conversation_with_account (PURPLE_CONV_TYPE_IM, chat_id, login->account);
  if (conv == NULL)
    {
      /* Not a chat we are in: a DM with anyone the prpl can name. */
      g_autofree char *norm = pp_valid_norm (login, chat_id);
      if (norm == NULL)
        {
          pp_op_fail (login, op_id, PA_RESULT_NOT_FOUND, "No such chat on this network");
          return;
        }
      if (pp_gc (login) == NULL)
        {
          pp_op_fail (login, op_id, PA_RESULT_NOT_CONNECTED, "Not connected to the network");
          return;
        }
      conv = purple_conversation_new (PURPLE_CONV_TYPE_IM, login->account, chat_id);
    }
  pp_emit_chat_info (login, conv);
  pp_op_ok (login, op_id, chat_id, 0);
}
