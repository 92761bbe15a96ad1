/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * lb-session.h — the saved session (DATA_DIR/session.json): written once a
 * login succeeds, read by login_new(saved), deleted on logout.
 */
#ifndef LB_SESSION_H
#define LB_SESSION_H

#include "lb-types.h"

/* Deletes session.json and stops wanting to be online. */
void lb_forget_session (LbLogin *login);
/* Writes `creds` as session.json (0600); with a host of SDK 2.1 the
 * password goes to the encrypted secret "password" instead. */
gboolean lb_save_session (LbLogin *login, const LbCreds *creds, GError **error);
/* Reads session.json (at most LB_MAX_SESSION_FILE bytes) and the password
 * secret; NULL and `error` when missing or corrupt. */
LbCreds *lb_load_session (LbLogin *login, GError **error);

#endif
