/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * purple-login.h — see purple-login.c.
 */
#ifndef PASSERELLE_PURPLE_LOGIN_H
#define PASSERELLE_PURPLE_LOGIN_H

#include "purple-common.h"

extern PurpleConnectionUiOps pp_connection_ops;

/* The PaLoginOps members of the same names (see passerelle/plugin.h). */
void pp_login_start (PaLogin *login, const char *flow_id);

void pp_login_submit (PaLogin *login, const char *step_id, const char *const *ids,
                      const char *const *values, size_t n);

void pp_login_cancel (PaLogin *login);

void pp_connect (PaLogin *login);

void pp_disconnect (PaLogin *login);

void pp_logout (PaLogin *login, uint64_t op_id);

/* A new login: with `saved`, reads the saved session and connects. */
void pp_login_resume (PaLogin *login, bool saved);

/* Connects the connection signals to `login`. */
void pp_login_connect_signals (PaLogin *login);

#endif /* PASSERELLE_PURPLE_LOGIN_H */
