/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * lb-login.h — a login's life: created and freed, the password login flow
 * with its pairing step, connect and disconnect, and the dispatch of what
 * loopnet sends.
 */
#ifndef LB_LOGIN_H
#define LB_LOGIN_H

#include "lb-types.h"

/* network->login_new: reconnects from session.json when `saved`. */
PaLogin *lb_login_new (PaHost *host, bool saved, char **error);
/* PaLoginOps.login_free. */
void lb_login_free (PaLogin *pl);
/* The "password" flow: asks for the server, user name and password. */
void lb_login_start (PaLogin *pl, const char *flow_id);
/* Tries the submitted credentials (a new connection). */
void lb_login_submit (PaLogin *pl, const char *step_id, const char *const *ids,
                      const char *const *values, size_t n);
/* Drops a login attempt; a saved session goes back online. */
void lb_login_cancel (PaLogin *pl);
/* Goes online with the saved session. */
void lb_connect (PaLogin *pl);
/* Goes offline and stops retrying until lb_connect. */
void lb_disconnect (PaLogin *pl);

#endif
