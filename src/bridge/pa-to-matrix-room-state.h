/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Legacy → Matrix: a live chat's room state (name, topic, avatar, the
 * members' power levels, read-only and secret chats, the
 * disappearing-messages timer). */
#ifndef PA_TO_MATRIX_ROOM_STATE_H
#define PA_TO_MATRIX_ROOM_STATE_H

#include "pa-bridge-object.h"

G_BEGIN_DECLS

/* The state event that marks a secret chat's portal (PaChatInfo.secret):
 * content {"secret": true}. */
#define PA_SECRET_EVENT "fr.passerelle.secret"

/* A portal was just made for a chat that is secret or read-only (as its
 * CHAT_INFO said): recorded, and a notice says so. */
void pa_room_state_created (PaBridge *b, const char *plugin, const char *room_id, gboolean secret,
                            gboolean read_only);

/* Applies what a CHAT_INFO of `login` says of the room `room_id` (the
 * wire chat object, borrowed): only what changed is sent, as the bot,
 * through the room's outbound queue.  Live portals only. */
void pa_to_matrix_room_state (PaBridge *b, PaAccount *login, const char *room_id, json_t *chat);

/* How a timer of `seconds` reads for an agent ("7 days", "off"), transfer full. */
char *pa_room_state_timer_text (guint64 seconds);

G_END_DECLS

#endif
