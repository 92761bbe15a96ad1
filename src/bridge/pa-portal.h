/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Portals (one room per DM and login, one shared room per group chat),
 * their members, and the agents' management rooms. */
#ifndef PA_PORTAL_H
#define PA_PORTAL_H

#include "pa-bridge-object.h"
#include "pa-room-cache.h"

G_BEGIN_DECLS

/* Queue invite+join of the ghost into room unless known joined. */
void pa_portal_ensure_member (PaBridge *b, const char *room_id, const char *ghost_mxid);

/* The ghost left the room: invite and join it again when needed. */
void pa_portal_forget_member (PaBridge *b, const char *room_id, const char *ghost_mxid);

/* The deterministic alias localpart of a portal (transfer full). */
char *pa_portal_alias_localpart (PaBridge *b, const char *plugin, const char *login_id,
                                 const char *chat_id);

/* The `error` pa_portal_ensure gives for a chat that must not be bridged
 * (a secret chat where encryption is off): drop its events, do not retry. */
#define PA_PORTAL_REFUSED "refused: a secret chat is not bridged without encryption"

/* Find or create the room of a chat for a login: a DM's own room, or the
 * group's shared room (the login recorded in it, its owner invited).
 * `chat` is the wire chat object (may be NULL: an existing room of the
 * chat, else a DM with `dm_peer`, is assumed). */
void pa_portal_ensure (PaBridge *b, PaAccount *login, const char *chat_id, json_t *chat,
                       const char *dm_peer, PaPortalFunc done, gpointer user_data);

/* The login is in the shared portal room_id: recorded, and its owner
 * invited the first time. */
void pa_portal_add_login (PaBridge *b, const char *room_id, PaAccount *login);

/* Create (or find) the owner's management room. */
void pa_portal_management_room (PaBridge *b, const char *owner, PaPortalFunc done,
                                gpointer user_data);

/* Create a new management room owned by the bot (it can redact there),
 * which replaces the owner's current one. */
void pa_portal_management_room_new (PaBridge *b, const char *owner, PaPortalFunc done,
                                    gpointer user_data);

/* Notice to the owner's management room (created on demand). */
void pa_portal_notify_owner (PaBridge *b, const char *owner, const char *text);

G_END_DECLS

#endif
