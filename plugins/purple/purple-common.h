/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * purple-common.h — see purple-common.c.
 */
#ifndef PASSERELLE_PURPLE_COMMON_H
#define PASSERELLE_PURPLE_COMMON_H

#include "purple-private.h"

/* A malloc'd copy, for strings the host frees with free(). */
char *pp_c_strdup (const char *s);

/* Logs through the host. */
void pp_log (PaLogin *login, PaLogLevel level, const char *fmt, ...) G_GNUC_PRINTF (3, 4);

/* The wall clock, ms since the epoch. */
gint64 pp_now_ms (void);

/* Answers op `op_id` with a failure `code` and a sentence for the agent. */
void pp_op_fail (PaLogin *login, guint64 op_id, PaResultCode code, const char *error);

/* `legacy_id` (or NULL) is what the operation created, `ts_ms` its time on
 * the network (0: unknown). */
void pp_op_ok (PaLogin *login, guint64 op_id, const char *legacy_id, gint64 ts_ms);

/* The result code of a prpl's negative errno (serv_send_im & co.). */
PaResultCode pp_result_for_errno (int e);

/* The result code of a GError raised in this plugin (G_IO_ERROR codes). */
PaResultCode pp_result_for_error (const GError *error);

/* A g_malloc'd copy of `v` (op ids as hash table values). */
guint64 *pp_u64_dup (guint64 v);

/* Zeroes, then frees, a secret. */
void pp_wipe_free (char *s);

/* Writes `len` bytes to `path` with mode 0600, atomically. */
gboolean pp_write_private (const char *path, const void *data, gsize len, GError **error);

/* true/yes/1 or false/no/0 (any case) into *out; FALSE for anything else. */
gboolean pp_parse_bool (const char *v, gboolean *out);

/* libpurple's title / primary / secondary texts as one plain text, repeats
 * dropped. */
char *pp_join_text (const char *title, const char *primary, const char *secondary);

/* The installed prpl `protocol`'s info, or NULL. */
PurplePluginProtocolInfo *pp_prpl_info (const char *protocol);

/* The account's connection while connected, else NULL. */
PurpleConnection *pp_gc (PaLogin *login);

/* Whether the account is XMPP's. */
gboolean pp_is_jabber (PaLogin *login);

/* A legacy id for `name` as the account's prpl writes it. */
char *pp_norm (PaLogin *login, const char *name);

/* `name` normalized by the account's prpl, or NULL when the prpl says it is
 * not a valid name (or it is empty or overlong). */
char *pp_valid_norm (PaLogin *login, const char *name);

/* The member id of `nick` in a chat: XMPP occupants are room@service/nick
 * (what a private message from the room uses); elsewhere nicks are global. */
char *pp_member_id (PaLogin *login, PurpleConversation *conv, const char *nick);

/* The chat id of a conversation: its name, normalized. */
char *pp_chat_id (PaLogin *login, PurpleConversation *conv);

/* The group chat `chat_id` we are in, or NULL. */
PurpleConversation *pp_find_chat (PaLogin *login, const char *chat_id);

/* The owner of every libpurple signal handler of the login (disconnected
 * all at once by login_free). */
void *pp_signal_handle (void);

/* Connects `cb` to `instance`'s signal `name`, with the login as data. */
void pp_connect_signal (PaLogin *login, void *instance, const char *name, PurpleCallback cb);

#endif /* PASSERELLE_PURPLE_COMMON_H */
