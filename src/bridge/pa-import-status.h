/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* History import: the progress notice in the management room. */
#ifndef PA_IMPORT_STATUS_H
#define PA_IMPORT_STATUS_H

#include "pa-import-job.h"

G_BEGIN_DECLS

/* Post or edit the job's progress notice. */
void pa_import_status_update (PaImportJob *j);

/* " N messages already bridged live were not imported again." when the
 * job skipped some (its summary's already_live), else "" (transfer full). */
char *pa_import_status_already_live (PaImportJob *j);

/* Outbound completion "import_status": the notice's event id, for edits. */
void pa_import_status_sent (PaBridge *b, json_t *on_done, const char *event_id,
                            const PaMatrixResponse *resp);

G_END_DECLS

#endif
