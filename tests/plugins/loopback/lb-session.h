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
/* Writes `creds` as session.json (0600). */
gboolean lb_save_session (LbLogin *login, const LbCreds *creds, GError **error);
/* Reads session.json (at most LB_MAX_SESSION_FILE bytes); NULL and `error` when
 * it is missing or corrupt. */
LbCreds *lb_load_session (const char *data_dir, GError **error);

#endif
