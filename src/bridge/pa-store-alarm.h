/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* What the bridge does when its store stops, or starts again, accepting
 * writes: tell the agents and the admins, pause or wake the queues. */
#ifndef PA_STORE_ALARM_H
#define PA_STORE_ALARM_H

#include "pa-bridge-object.h"

G_BEGIN_DECLS

/* The store_fault_changed callback of the bridge (pa-batch.c calls it once
 * when a commit fails, once when the held batch is committed). */
void pa_store_alarm (PaBridge *b, gboolean faulted, const char *reason);

/* Cancel the pending "recovered" notice (the bridge stops). */
void pa_store_alarm_stop (PaBridge *b);

G_END_DECLS

#endif
