/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * tg-login.h — between tg-network.c and tg-login.c: the login operations
 * of PaLoginOps and the TDLib client's life.
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

G_END_DECLS

#endif
