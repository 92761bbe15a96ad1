/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Login processes of the provisioning API: a login started over HTTP,
 * its steps answered over HTTP, never in the management room. */
#ifndef PA_PROVISION_LOGIN_H
#define PA_PROVISION_LOGIN_H

#include "pa-provision-reply.h"

G_BEGIN_DECLS

typedef struct _PaProvLogins PaProvLogins;

/* The table of processes; one unused for idle_s seconds ends; a request
 * waits at most wait_s for the next step. */
PaProvLogins *pa_provision_logins_new (PaBridge *b, guint idle_s, guint wait_s);
/* Ends every process (their logins half-way are cancelled). */
void pa_provision_logins_free (PaProvLogins *t);

/* POST login/start/{flow}: r->user on `plugin` (already allowed). */
void pa_provision_login_start (PaProvLogins *t, PaProvReq *r, const char *plugin,
                               const char *flow_id);
/* POST login/step/{process}/{step}/{type}. */
void pa_provision_login_step (PaProvLogins *t, PaProvReq *r, const char *process_id,
                              const char *step_id, const char *step_type);
/* POST login/cancel/{process}. */
void pa_provision_login_cancel (PaProvLogins *t, PaProvReq *r, const char *process_id);

G_END_DECLS

#endif
