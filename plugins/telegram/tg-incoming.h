/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * tg-incoming.h — what the Telegram → Matrix parts share among themselves
 * (tg-chats.c, tg-incoming.c, tg-content-in.c, tg-history.c): the sender
 * and topic of a message, chats announced once, and the per-chat queue
 * that keeps a chat's events in order while media download.
 */
#ifndef TG_INCOMING_H
#define TG_INCOMING_H

#include "tg-chats.h"
#include "tg-json.h"

G_BEGIN_DECLS

/* ---- tg-chats.c */

/* CHAT_INFO for the chat (or topic portal) unless this process already
 * announced it; FALSE when the chat is unknown. */
gboolean tg_chats_announce_once (PaLogin *login, gint64 chat_id, gint32 topic_id);
/* The legacy sender id of a MessageSender: a user's id, or for a chat
 * writing as itself (a channel post, an anonymous admin) the chat's id.
 * NULL when the object is not a sender. */
char *tg_chats_sender_id (json_t *sender);
/* CONTACT_INFO for a MessageSender unless this process already sent it. */
void tg_chats_contact_once (PaLogin *login, json_t *sender);
/* A MessageSender's display name ("user 42" when unknown); newly
 * allocated. */
char *tg_chats_sender_name (PaLogin *login, json_t *sender);
/* A chat's title, or NULL when unknown (borrowed). */
const char *tg_chats_title (PaLogin *login, gint64 chat_id);
/* The forum topic a message belongs to, 0 for the chat itself (no forum,
 * or the General topic). */
gint32 tg_chats_message_topic (PaLogin *login, json_t *message);
/* The other user of a private or secret chat, 0 otherwise. */
gint64 tg_chats_peer (PaLogin *login, gint64 chat_id);
/* Announces again the chat and its topic portals, those already
 * announced (a title or photo changed). */
void tg_chats_reannounce (PaLogin *login, gint64 chat_id);
/* Members joined or left (a service message says so): ask them again. */
void tg_chats_members_stale (PaLogin *login, gint64 chat_id);

/* ---- tg-incoming.c */

/* A message (an update's or history's) → MESSAGE, in the chat's order,
 * after its media downloaded.  `message` is borrowed. */
void tg_in_message (PaLogin *login, json_t *message);
/* Runs `fn` once every event queued so far for `chat_id` went out (at
 * once when none waits).  `destroy` frees `data` afterwards. */
typedef void (*TgInFunc) (PaLogin *login, gpointer data);
void tg_in_after (PaLogin *login, gint64 chat_id, TgInFunc fn, gpointer data,
                  GDestroyNotify destroy);

G_END_DECLS

#endif
