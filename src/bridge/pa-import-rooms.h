/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* History import: the room of each chat of a job. */
#ifndef PA_IMPORT_ROOMS_H
#define PA_IMPORT_ROOMS_H

#include "pa-import-job.h"

G_BEGIN_DECLS

/* Find or make the room of chat_id for the job's lane (PaLaneImport). */
void pa_import_rooms_ensure (PaImportJob *j, const char *chat_id, json_t *chat, PaPortalFunc done,
                             gpointer user_data);

G_END_DECLS

#endif
