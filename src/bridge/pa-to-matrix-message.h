/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Legacy → Matrix: messages, edits, reactions and deletions. */
#ifndef PA_TO_MATRIX_MESSAGE_H
#define PA_TO_MATRIX_MESSAGE_H

#include "pa-bridge-object.h"
#include "pa-to-matrix-work.h"

G_BEGIN_DECLS

/* An edit, reaction, reaction removal or deletion of a bridged message. */
void pa_to_matrix_relate (PaWork *w);

/* A message (its media uploaded first) in its room (w->room_id). */
void pa_to_matrix_message (PaWork *w);

G_END_DECLS

#endif
