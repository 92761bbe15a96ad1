/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * tg-chats.h — what the login knows of its chats and users, for the other
 * parts: a chat's kind and rights, a user's name.
 */
#ifndef TG_CHATS_H
#define TG_CHATS_H

#include "tg-private.h"

G_BEGIN_DECLS

typedef enum
{
  TG_CHAT_UNKNOWN = 0,
  TG_CHAT_PRIVATE,
  TG_CHAT_SECRET,
  TG_CHAT_BASIC_GROUP,
  TG_CHAT_SUPERGROUP,
  TG_CHAT_CHANNEL, /* a broadcast supergroup */
} TgChatKind;

TgChatKind tg_chats_kind (PaLogin *login, gint64 chat_id);
/* TRUE when the login may post in the chat (FALSE in a channel it does not
 * administer, or a group that restricts it). */
gboolean tg_chats_can_post (PaLogin *login, gint64 chat_id);
/* The user's display name, or NULL when unknown (borrowed). */
const char *tg_chats_user_name (PaLogin *login, gint64 user_id);
/* Emits CHAT_INFO for the chat now (a create_dm / get_chat_info answer);
 * FALSE when the chat is unknown. */
gboolean tg_chats_announce (PaLogin *login, gint64 chat_id, gint32 topic_id);

G_END_DECLS

#endif
