/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Legacy → Matrix: the lanes of remote events (live, or an import job's). */
#ifndef PA_TO_MATRIX_LANE_H
#define PA_TO_MATRIX_LANE_H

#include "pa-bridge-object.h"

G_BEGIN_DECLS

/* Process the lane's next event soon (idle). */
void pa_lane_schedule (PaLane *lane);

/* Stop the lane's timers (before it is freed). */
void pa_lane_cancel (PaLane *lane);

/* A worker's EVENT frame: stored durably in the remote table (a message
 * deduplicated on login, chat and id), acknowledged to the worker once
 * committed, then taken by the live lane. */
void pa_to_matrix_intake (PaAccount *l, json_t *frame);

G_END_DECLS

#endif
