/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * purple-emit.h — see purple-emit.c.
 */
#ifndef PASSERELLE_PURPLE_EMIT_H
#define PASSERELLE_PURPLE_EMIT_H

#include "purple-common.h"

/* Emits CONTACT_INFO for a buddy of the account. */
void pp_emit_contact (PaLogin *login, PurpleBuddy *buddy);

/* Fills `m` for member `id` (borrowed) with display name `name`. */
void pp_fill_member (PaLogin *login, PaMember *m, char *id, const char *name);

/* Emits CHAT_INFO for a conversation (a complete member list for chats). */
void pp_emit_chat_info (PaLogin *login, PurpleConversation *conv);

/* Members change in bursts (a join lists everyone): coalesce them. */
void pp_mark_dirty (PaLogin *login, PurpleConversation *conv);

/* A stable id for a message: see the top of purple-emit.c. */
char *pp_message_id (PaLogin *login, const char *chat_id, const char *sender, gint64 ts_s,
                     const char *text);

/* The message kind of a MIME type (image, video, audio, else file). */
PaMsgKind pp_kind_for_mime (const char *mime);

/* Returns emit()'s answer: 0 when the host refused the event. */
guint64 pp_emit_message (PaLogin *login, PurpleConversation *conv, const char *chat_id,
                         const char *sender, const char *sender_name, gint64 ts_ms, gint64 ts_s,
                         const PaContent *content, const char *key_text);

#endif /* PASSERELLE_PURPLE_EMIT_H */
