/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The provisioning API's JSON shapes, as the mautrix bridges give them
 * (docs/provisioning.md): login steps, flows, login states, contacts. */
#ifndef PA_PROVISION_JSON_H
#define PA_PROVISION_JSON_H

#include <glib.h>
#include <jansson.h>

G_BEGIN_DECLS

/* The step id of the step that says "nothing new yet, ask again". */
#define PA_PROV_WAIT_STEP "fr.passerelle.wait"

/* A login step (the worker's wire object) for process_id.  image_url: the
 * step's image as a data: URL, or NULL.  login_id: the bridge's login id
 * (said by a complete step). */
json_t *pa_provision_json_step (json_t *wire, const char *process_id, const char *image_url,
                                const char *login_id);

/* The step of a process whose next step has not come yet. */
json_t *pa_provision_json_wait_step (const char *process_id);

/* A plugin's flows (its hello's "flows") as mautrix's LoginFlow list. */
json_t *pa_provision_json_flows (json_t *hello_flows);

/* The bridge state event of a login state ("connected" → "CONNECTED"). */
char *pa_provision_json_state_event (const char *state);

/* A contact (the worker's member object) as a ResolvedIdentifier; ghost:
 * its Matrix user, dm_room: the DM portal or NULL. */
json_t *pa_provision_json_contact (json_t *member, const char *ghost, const char *dm_room);

G_END_DECLS

#endif
