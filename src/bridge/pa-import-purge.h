/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* History import, cleanup off the critical path: the queued rows of a
 * cancelled, failed, refused or dry-run import are deleted a chunk per
 * main-loop tick, then its work directory, then the freed database pages go
 * back to the file system in small incremental-vacuum steps, so live
 * traffic (appservice transactions, pings) is never held up. */
#ifndef PA_IMPORT_PURGE_H
#define PA_IMPORT_PURGE_H

#include "pa-bridge-object.h"

G_BEGIN_DECLS

/* Rows deleted per tick, and the tick's period. */
#define PA_IMPORT_PURGE_CHUNK 1000
#define PA_IMPORT_PURGE_PERIOD_MS 5
/* Pages returned per tick once the rows are gone. */
#define PA_IMPORT_VACUUM_PAGES 256

/* Schedules the removal of the import lane `login_id` ("import:<job>") and
 * of its data directory. */
void pa_import_purge_start (PaBridge *b, const char *login_id);
/* Deletes the data directory of import lane `login_id` at once (a job
 * ended: what it extracted is not left in clear). */
void pa_import_purge_remove_dir (PaBridge *b, const char *login_id);
/* At start-up: lanes left by a job that is no longer active (the bridge
 * stopped during a cleanup) are removed too. */
void pa_import_purge_resume (PaBridge *b);
/* Stops the ticks (at shutdown: what is left is resumed at the next start). */
void pa_import_purge_stop (PaBridge *b);

G_END_DECLS

#endif
