/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * tg-private.h — what every file of the live Telegram plugin shares: the
 * login's state (struct PaLogin, the SDK's opaque login) and the entry
 * points of its parts.
 *
 * One worker process holds one login, so one TDLib client.  Each part owns
 * a private struct of its own behind a pointer in PaLogin, so parts never
 * reach into each other's state.
 *
 * The files, each calling only those listed after it:
 *   tg-network.c    the PaNetwork / PaLoginOps tables, init, the login's life,
 *                   the update dispatch
 *   tg-login.c      TDLib's authorization states → login steps; logout; the
 *                   database key; the parts' on_ready
 *   tg-outgoing*.c  Matrix → Telegram operations (send, edit, delete, react,
 *                   read, typing, chat info, lookups), temporary message ids
 *   tg-history.c    history on link and fetch_history
 *   tg-incoming.c   message updates → events
 *   tg-reactions-in.c a message's reactions → REACTION_SYNC
 *   tg-content-in.c a TDLib message content → PaContent (files downloaded)
 *   tg-content-service.c  service messages → notices
 *   tg-chats*.c     chats, users, groups, members, secret chats, topics →
 *                   CHAT_INFO / CONTACT_INFO (its own floors in
 *                   tg-chats-private.h)
 *   tg-entities.c   formattedText ⇄ HTML (HTML → entities through TDLib's
 *                   own parseTextEntities)
 *   tg-files.c      TDLib's downloaded files taken into the data dir
 *   tg-ids.c        Telegram ids ⇄ the SDK's legacy ids
 *   tg-common.c     what every part uses: log, op results, emit
 *   tg-td.c         TDLib's JSON client (dlopen, receiving thread)
 *   tg-qr.c         a link → QR code PNG
 *   tg-json.h       reading TDLib's JSON objects
 * A lower file reaches an upper one only through a function the upper one
 * hands it: the network's update dispatch (tg_login_part_init), the chat
 * of a message for reactions (tg_reactions_in_new), the chat list's
 * first chats for history (tg_chats_on_ready).
 */
#ifndef TG_PRIVATE_H
#define TG_PRIVATE_H

#include <glib.h>
#include <jansson.h>

#include "passerelle/plugin.h"
#include "tg-td.h"

G_BEGIN_DECLS

typedef struct TgAuth TgAuth;       /* tg-login.c */
typedef struct TgChats TgChats;     /* tg-chats.c */
typedef struct TgIn TgIn;           /* tg-incoming.c */
typedef struct TgOut TgOut;         /* tg-outgoing.c */
typedef struct TgHistory TgHistory; /* tg-history.c */

/* The login: the plugin's own state behind the SDK's opaque PaLogin. */
struct PaLogin
{
  PaHost *host;
  const PaHostApi *api;
  char *data_dir; /* the login's private dir (borrowed from the host) */
  TgTd *td;
  gboolean ready;   /* authorizationStateReady reached */
  gboolean closing; /* login_free or logout under way */
  gint64 self_id;   /* our own Telegram user id, 0 before ready */
  TgAuth *auth;
  TgChats *chats;
  TgIn *in;
  TgOut *out;
  TgHistory *history;
};

/* Each part: create its state, free it, and look at one update (TRUE when
 * the update was its own; the dispatch stops there).  on_ready runs once
 * per process when the authorization becomes ready. */
/* TDLib's updates go to `on_update` (the network's dispatch). */
void tg_login_part_init (PaLogin *login, TgTdUpdateFunc on_update);
void tg_login_part_free (PaLogin *login);
gboolean tg_login_on_update (PaLogin *login, const char *type, json_t *update);

void tg_chats_init (PaLogin *login);
void tg_chats_free (PaLogin *login);
gboolean tg_chats_on_update (PaLogin *login, const char *type, json_t *update);
/* The main list's first chats (`chat_ids`, borrowed) are known: on_ready
 * gives them to `on_list` (tg_history_start). */
typedef void (*TgChatIdsFunc) (PaLogin *login, json_t *chat_ids);
void tg_chats_on_ready (PaLogin *login, TgChatIdsFunc on_list);
/* PaLoginOps.get_chat_info and get_user_info. */
void tg_chats_op_get_chat_info (PaLogin *login, uint64_t op_id, const char *chat_id);
void tg_chats_op_get_user_info (PaLogin *login, uint64_t op_id, const char *user_id);

void tg_in_init (PaLogin *login);
void tg_in_free (PaLogin *login);
gboolean tg_in_on_update (PaLogin *login, const char *type, json_t *update);

void tg_out_init (PaLogin *login);
void tg_out_free (PaLogin *login);
gboolean tg_out_on_update (PaLogin *login, const char *type, json_t *update);

void tg_history_init (PaLogin *login);
void tg_history_free (PaLogin *login);
void tg_history_on_ready (PaLogin *login);
/* The main list's first chats are known (`chat_ids`, borrowed): backfill
 * them. */
void tg_history_start (PaLogin *login, json_t *chat_ids);
/* PaLoginOps.fetch_history. */
void tg_history_fetch (PaLogin *login, uint64_t op_id, const char *chat_id, const char *cursor,
                       uint32_t count, bool forward);

/* Helpers every part uses (tg-common.c). */
void tg_log (PaLogin *login, PaLogLevel level, const char *fmt, ...) G_GNUC_PRINTF (3, 4);
void tg_op_ok (PaLogin *login, guint64 op_id, const char *legacy_id, gint64 ts_ms);
void tg_op_fail (PaLogin *login, guint64 op_id, PaResultCode code, const char *error);
/* An op answered from a TDLib error reply: FLOOD_WAIT → RATE_LIMITED with
 * its delay, 400 → PERMANENT (NOT_FOUND for "not found" messages), 403 →
 * FORBIDDEN, 5xx and network errors → TEMPORARY; the message goes to the
 * agent. */
void tg_op_fail_td (PaLogin *login, guint64 op_id, json_t *error_reply);
/* emit(), deleting a refused event's media file (ownership passes only on
 * success, FILES in plugin.h).  Returns the sequence number, 0 if refused. */
guint64 tg_emit (PaLogin *login, const PaEvent *event);

G_END_DECLS

#endif
