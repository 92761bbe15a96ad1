/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The provisioning API (docs/provisioning.md): the mautrix bridges'
 * /_matrix/provision/v3 on the appservice port, so that admin tools and
 * web pages drive logins without the management room. */
#ifndef PA_PROVISION_H
#define PA_PROVISION_H

#include "pa-bridge-object.h"

G_BEGIN_DECLS

/* Serves the API on the appservice listener when config.yaml gives it a
 * shared secret (b->provision stays NULL otherwise). */
void pa_provision_start (PaBridge *b);

/* Stops serving it; processes half-way end. */
void pa_provision_stop (PaBridge *b);

G_END_DECLS

#endif
