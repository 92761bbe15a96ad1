/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * tg-ids.h — Telegram's ids ⇄ the SDK's legacy ids.
 *
 *   user     "<user id>" in decimal: the same in every login.
 *   chat     "<chat id>" in decimal (TDLib's chat id: a private chat's is
 *            the user's id, a supergroup's or channel's -100…, a basic
 *            group's negative, a secret chat's its own), or
 *            "<chat id>#<forum topic id>" for one topic of a forum (one
 *            portal per topic).  Group ids are the same in every login, so
 *            a group shared by several agents is one portal.
 *   message  "<message id>" in decimal for supergroups, channels, private
 *            and secret chats (a supergroup's ids are the same in every
 *            login).  A basic group's message ids differ between accounts:
 *            there the id is derived from what every member sees alike
 *            ("b<date>.<sender>.<hash of the content>"), and the login keeps
 *            the map to its own TDLib ids in the host's metadata.
 */
#ifndef TG_IDS_H
#define TG_IDS_H

#include "tg-private.h"

G_BEGIN_DECLS

char *tg_ids_user (gint64 user_id);
gboolean tg_ids_parse_user (const char *id, gint64 *user_id);

/* topic_id 0: the chat itself. */
char *tg_ids_chat (gint64 chat_id, gint32 topic_id);
gboolean tg_ids_parse_chat (const char *id, gint64 *chat_id, gint32 *topic_id);

/* The legacy id of a TDLib `message` object (its final id: never call it
 * on a message still being sent).  For a basic group the map is stored. */
char *tg_ids_message_to_pa (PaLogin *login, json_t *message);
/* The legacy id of TDLib message `message_id` of `chat_id` when the object
 * is not at hand (edits, deletes, reactions); NULL for a basic group's
 * message this login never mapped. */
char *tg_ids_message_id_to_pa (PaLogin *login, gint64 chat_id, gint64 message_id);
/* The TDLib message id of legacy message `id` in `chat_id`; FALSE when
 * unknown (a basic group's message this login never saw). */
gboolean tg_ids_message_from_pa (PaLogin *login, gint64 chat_id, const char *id,
                                 gint64 *message_id);

G_END_DECLS

#endif
