/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* History import from an export uploaded to the management room. */
#ifndef PA_IMPORT_UPLOAD_H
#define PA_IMPORT_UPLOAD_H

#include "pa-bridge-object.h"

G_BEGIN_DECLS

/* An agent uploaded an export to their management room. */
void pa_import_from_upload (PaBridge *b, const char *owner, const char *room_id, json_t *content);

G_END_DECLS

#endif
