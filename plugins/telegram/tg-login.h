/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * tg-login.h — between tg-network.c and tg-login.c: the login operations
 * of PaLoginOps, the TDLib client's life, and what the network file keeps
 * for the login (configuration, the database key, the update dispatch).
 */
#ifndef TG_LOGIN_H
#define TG_LOGIN_H

#include "tg-private.h"

G_BEGIN_DECLS

/* tg-login.c: PaLoginOps members. */
void tg_login_start (PaLogin *login, const char *flow_id);
void tg_login_submit (PaLogin *login, const char *step_id, const char *const *ids,
                      const char *const *values, size_t n);
void tg_login_cancel (PaLogin *login);
void tg_login_connect (PaLogin *login);
void tg_login_disconnect (PaLogin *login);
void tg_login_logout (PaLogin *login, uint64_t op_id);
/* Opens the TDLib client; with `saved` the session in the data dir comes
 * back without asking the agent anything. */
gboolean tg_login_boot (PaLogin *login, gboolean saved, GError **error);

/* tg-network.c */
/* TDLib's update callback: the login, then the other parts, in turn. */
void tg_network_dispatch (json_t *update, void *user_data);
/* The authorization became ready: the parts' on_ready, once per session. */
void tg_network_ready (PaLogin *login);
/* The session ended (logged out, revoked): on_ready may run again. */
void tg_network_session_ended (PaLogin *login);
/* The database encryption key in base64 (made once, kept with
 * secret_store), or NULL with `error` set. */
char *tg_network_db_key (PaLogin *login, GError **error);

G_END_DECLS

#endif
