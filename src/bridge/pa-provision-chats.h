/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The provisioning API's chat endpoints: contacts, resolve_identifier,
 * create_dm, through a login's worker as the `contacts` and `start`
 * commands do. */
#ifndef PA_PROVISION_CHATS_H
#define PA_PROVISION_CHATS_H

#include "pa-provision-reply.h"

G_BEGIN_DECLS

/* GET contacts through login l (logged in, allowed for r->user). */
void pa_provision_contacts (PaAccount *l, PaProvReq *r);
/* GET resolve_identifier/{identifier}. */
void pa_provision_resolve (PaAccount *l, PaProvReq *r, const char *identifier);
/* POST create_dm/{identifier}: the DM opened on the network, then its
 * portal awaited (at most wait_s) to name its room. */
void pa_provision_create_dm (PaAccount *l, PaProvReq *r, const char *identifier, guint wait_s);

G_END_DECLS

#endif
