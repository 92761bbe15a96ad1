/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * purple-rooms.h — see purple-rooms.c.
 */
#ifndef PASSERELLE_PURPLE_ROOMS_H
#define PASSERELLE_PURPLE_ROOMS_H

#include "purple-common.h"

/* Asks the prpl to join room `name`; the chat-joined signal tells when. */
gboolean pp_join_chat (PaLogin *login, const char *name, GError **error);

/* Joins the session's autojoin rooms and the rooms joined from Matrix. */
void pp_join_rooms (PaLogin *login);

/* Whether `chat_id` is a room joined at every sign-on (autojoin, or joined
 * from Matrix). */
gboolean pp_room_rejoined (PaLogin *login, const char *chat_id);

/* Adds (keep) or removes room `chat_id` from the saved session. */
void pp_remember_room (PaLogin *login, const char *chat_id, gboolean keep);

/* Connects the chat signals to `login`. */
void pp_rooms_connect_signals (PaLogin *login);

#endif /* PASSERELLE_PURPLE_ROOMS_H */
