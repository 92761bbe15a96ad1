/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* History import jobs: parsing by the plugin importer, sending through the
 * job's own lane, the agent's questions. */
#ifndef PA_IMPORT_H
#define PA_IMPORT_H

#include "pa-bridge-object.h"

G_BEGIN_DECLS

/* The store's kv key the running bridge refreshes (its time in ms) every
 * PA_IMPORT_ALIVE_PERIOD_MS while it takes import jobs, "0" once stopped:
 * `passerelle import` tells from it whether a bridge will take its job. */
#define PA_IMPORT_ALIVE_KEY "import.bridge_alive"
#define PA_IMPORT_ALIVE_PERIOD_MS 2000
/* Pick up new import jobs from the store now. */
void pa_import_poll (PaBridge *b);

/* Start polling the store for import jobs (and resume those running). */
void pa_import_start (PaBridge *b);

/* Stop the jobs and the polling. */
void pa_import_stop_all (PaBridge *b);

/* The agent answered an import question; FALSE if none was pending. */
gboolean pa_import_handle_answer (PaBridge *b, const char *owner, const char *room_id,
                                  const char *text);

G_END_DECLS

#endif
