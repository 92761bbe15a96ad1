/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The table of running logins: lookup, state saving, end. */
#ifndef PA_LOGIN_TABLE_H
#define PA_LOGIN_TABLE_H

#include "pa-bridge-object.h"

G_BEGIN_DECLS

/* The running login of that id, or NULL. */
PaAccount *pa_login_by_id (PaBridge *b, const char *id);

/* The running login of owner on plugin, or NULL. */
PaAccount *pa_login_find (PaBridge *b, const char *owner, const char *plugin);

/* The running login of plugin whose legacy account is remote_id, or NULL
 * ("is this our user": the legacy account of a logged-in agent). */
PaAccount *pa_login_by_remote (PaBridge *b, const char *plugin, const char *remote_id);

/* Write the login's row (ids, names, state) to the store. */
void pa_login_save (PaAccount *l);

/* Set and save the login's state when it changed. */
void pa_login_set_state (PaAccount *l, const char *state);

/* Remove the login from the table, stop its worker, free it on the next
 * turn (the worker may be inside one of our callbacks). */
void pa_login_stop_and_free (PaAccount *l);

/* Free a login (its worker stopped and freed). */
void pa_login_free (PaAccount *l);

G_END_DECLS

#endif
