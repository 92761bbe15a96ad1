/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Legacy → Matrix: a chat's members and room state. */
#ifndef PA_TO_MATRIX_CHAT_H
#define PA_TO_MATRIX_CHAT_H

#include "pa-bridge-object.h"
#include "pa-to-matrix-work.h"

G_BEGIN_DECLS

/* A CHAT_INFO event in its room (w->room_id): members, then its room state. */
void pa_to_matrix_chat_info (PaWork *w);

G_END_DECLS

#endif
