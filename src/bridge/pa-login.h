/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Login lifecycle: a worker per login, started, resumed, stopped; its
 * frames routed to the files that handle them. */
#ifndef PA_LOGIN_H
#define PA_LOGIN_H

#include "pa-bridge-object.h"

G_BEGIN_DECLS

/* Start a new login of owner on plugin (a new worker, state "new"). */
PaAccount *pa_login_start_new (PaBridge *b, const char *owner, const char *plugin, GError **error);

/* Begin a login of owner on plugin with the flow `flow_id` (NULL: the
 * plugin's first): a session the network ended is forgotten and a login
 * half-way through is replaced; the new worker is asked to start the
 * flow.  Errors: PA_ERROR_PERMISSION "already logged in to P as ID",
 * PA_ERROR_NOT_FOUND (no such flow, or none), PA_ERROR_FAILED. */
PaAccount *pa_login_begin (PaBridge *b, const char *owner, const char *plugin,
                           const char *flow_id, GError **error);

/* Resume the saved logins at start-up (their worker resumes the session). */
void pa_login_resume_all (PaBridge *b);
/* Hand the worker frames held during a storage fault to their logins, in
 * order (the store writes again). */
void pa_login_replay_held (PaBridge *b);

/* Log out of the network, forget the login and stop it. */
void pa_login_logout (PaAccount *l);

/* Stop or start the logins affected by a ministry toggle. */
void pa_logins_apply_ministry (PaBridge *b, const PaMinistry *m, const char *plugin,
                               gboolean enabled);

G_END_DECLS

#endif
