/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* History import: the importer worker of a job. */
#ifndef PA_IMPORT_PARSE_H
#define PA_IMPORT_PARSE_H

#include "pa-import-job.h"

G_BEGIN_DECLS

/* Run the plugin's importer on the job's file (state "parsing"). */
void pa_import_parse_start (PaImportJob *j);

G_END_DECLS

#endif
