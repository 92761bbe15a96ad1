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

TgReactionsIn *tg_reactions_in_new (void);
void tg_reactions_in_free (TgReactionsIn *r);
/* The reactions of message `message_id` of `chat_id` are now those of
 * `interaction_info` (a messageInteractionInfo, borrowed). */
void tg_reactions_in_sync (PaLogin *login, TgReactionsIn *r, gint64 chat_id, gint64 message_id,
                           json_t *interaction_info);

G_END_DECLS

#endif
