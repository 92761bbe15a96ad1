/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Legacy → Matrix: the message map recorded once a send is accepted. */
#ifndef PA_TO_MATRIX_SENT_H
#define PA_TO_MATRIX_SENT_H

#include "pa-bridge-object.h"

G_BEGIN_DECLS

/* Outbound completion "map": record legacy id ⇄ event id. */
void pa_to_matrix_sent (PaBridge *b, json_t *on_done, const char *event_id,
                        const PaMatrixResponse *resp);

G_END_DECLS

#endif
