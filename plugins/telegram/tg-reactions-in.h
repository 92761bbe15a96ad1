/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * tg-reactions-in.h — a message's reactions (its interaction_info) →
 * REACTION_SYNC, one per sender whose set changed.
 */
#ifndef TG_REACTIONS_IN_H
#define TG_REACTIONS_IN_H

#include "tg-incoming.h"

G_BEGIN_DECLS

typedef struct TgReactionsIn TgReactionsIn;

/* The legacy chat id of a message known only by its ids: the chat, or the
 * forum topic the message was seen in (the incoming part knows). */
typedef char *(*TgChatOfMessageFunc) (PaLogin *login, gint64 chat_id, gint64 message_id);

TgReactionsIn *tg_reactions_in_new (TgChatOfMessageFunc chat_of);
void tg_reactions_in_free (TgReactionsIn *r);
/* The reactions of message `message_id` of `chat_id` are now those of
 * `interaction_info` (a messageInteractionInfo, borrowed). */
void tg_reactions_in_sync (PaLogin *login, TgReactionsIn *r, gint64 chat_id, gint64 message_id,
                           json_t *interaction_info);

G_END_DECLS

#endif
