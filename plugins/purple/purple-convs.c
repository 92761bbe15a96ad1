/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * purple-convs.c — libpurple's conversation UI ops → events: incoming
 * messages (formatting, emotes, delayed history with its original time,
 * our own echoes dropped) and member changes of group chats.
 *
 * Why apart: this is the message path from the network; the rules that
 * keep a line from being bridged twice are here.
 */
#define G_LOG_DOMAIN "passerelle-purple"

#include <string.h>

#include "purple-common.h"
#include "purple-convs.h"
#include "purple-emit.h"
#include "purple-markup.h"

static void
pp_write_conv (PurpleConversation *conv, const char *who, const char *alias, const char *message,
               PurpleMessageFlags flags, time_t mtime)
{
  PaLogin *login = pp_self;
  if (login == NULL || login->quitting || purple_conversation_get_account (conv) != login->account
      || message == NULL)
    return;
  gboolean is_chat = purple_conversation_get_type (conv) == PURPLE_CONV_TYPE_CHAT;
  g_autofree char *chat_id = pp_chat_id (login, conv);
  if (flags & PURPLE_MESSAGE_ERROR)
    {
      g_autofree char *text = purple_markup_strip_html (message);
      g_autofree char *msg = g_strdup_printf ("%s: %s", chat_id, text);
      login->api->notice (login->host, msg);
      return;
    }
  /* Our own messages (echoes of sends, MUC reflections) are never bridged
   * back; system lines (joins, topic) are carried by CHAT_INFO. */
  if (flags
          & (PURPLE_MESSAGE_SEND | PURPLE_MESSAGE_SYSTEM | PURPLE_MESSAGE_NOTIFY
             | PURPLE_MESSAGE_INVISIBLE)
      || who == NULL || *who == '\0')
    return;
  g_autofree char *sender = is_chat ? pp_member_id (login, conv, who) : g_strdup (chat_id);
  if (login->self_id != NULL && g_strcmp0 (sender, login->self_id) == 0)
    return;
  g_autofree char *body = g_strndup (message, PP_MAX_BODY);
  gboolean emote = purple_message_meify (body, -1);
  g_autofree char *text = NULL, *html = NULL;
  pp_markup_from_purple (body, &text, &html);
  gint64 now_ms = pp_now_ms ();
  gint64 ts_s = mtime > 0 ? (gint64) mtime : now_ms / 1000;
  /* prpls flag history as DELAYED in chats only; an IM from offline storage
   * just carries its old stamp (XMPP <delay>), where a live one carries the
   * second it arrived.  Either way the original time is kept. */
  if (ts_s < now_ms / 1000)
    flags |= PURPLE_MESSAGE_DELAYED;
  gint64 ts_ms = (flags & PURPLE_MESSAGE_DELAYED) ? ts_s * 1000 : now_ms;

  /* MUC history after a (re)join repeats what we bridged live, stamped by
   * the server a moment later: drop a delayed copy of a recent live line. */
  g_autofree char *rkey = g_strdup_printf ("%s\1%s\1%s", chat_id, sender, text);
  gpointer seen = g_hash_table_lookup (login->recent, rkey);
  if ((flags & PURPLE_MESSAGE_DELAYED) && seen != NULL
      && ABS ((gint64) GPOINTER_TO_SIZE (seen) - ts_s) <= PP_DELAYED_MATCH_S)
    return;
  if (!(flags & PURPLE_MESSAGE_DELAYED))
    {
      if (g_hash_table_size (login->recent) > PP_RECENT_MAX)
        g_hash_table_remove_all (login->recent);
      g_hash_table_insert (login->recent, g_strdup (rkey), GSIZE_TO_POINTER ((gsize) ts_s));
    }
  const char *name = alias != NULL && g_strcmp0 (alias, who) != 0 ? alias : (is_chat ? who : NULL);
  PaContent content = {
    .struct_size = sizeof (PaContent),
    .kind = emote ? PA_MSG_EMOTE : PA_MSG_TEXT,
    .text = text,
    .html = html,
  };
  pp_emit_message (login, conv, chat_id, sender, name, ts_ms, ts_s, &content, text);
}

static void
pp_chat_add_users (PurpleConversation *conv, GList *cbuddies, gboolean new_arrivals)
{
  if (pp_self != NULL)
    pp_mark_dirty (pp_self, conv);
}

static void
pp_chat_rename_user (PurpleConversation *conv, const char *old_name, const char *new_name,
                     const char *new_alias)
{
  if (pp_self != NULL)
    pp_mark_dirty (pp_self, conv);
}

static void
pp_chat_remove_users (PurpleConversation *conv, GList *users)
{
  if (pp_self != NULL)
    pp_mark_dirty (pp_self, conv);
}

static void
pp_chat_update_user (PurpleConversation *conv, const char *user)
{
  if (pp_self != NULL)
    pp_mark_dirty (pp_self, conv);
}

static void
pp_destroy_conversation (PurpleConversation *conv)
{
  PaLogin *login = pp_self;
  if (login == NULL)
    return;
  g_hash_table_remove (login->dirty, purple_conversation_get_name (conv));
}

PurpleConversationUiOps pp_conv_ops = {
  .destroy_conversation = pp_destroy_conversation,
  .write_conv = pp_write_conv,
  .chat_add_users = pp_chat_add_users,
  .chat_rename_user = pp_chat_rename_user,
  .chat_remove_users = pp_chat_remove_users,
  .chat_update_user = pp_chat_update_user,
};
