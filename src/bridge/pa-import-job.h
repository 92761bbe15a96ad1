/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* History import, one job: the struct the import files share, its row
 * and notices. */
#ifndef PA_IMPORT_JOB_H
#define PA_IMPORT_JOB_H

#include "pa-bridge-object.h"

G_BEGIN_DECLS

/* A history import job (a row of import_jobs while the bridge runs it). */
struct _PaImportJob
{
  PaBridge *b;
  char *id;
  json_t *row;        /* the store row (owned; written back on changes) */
  PaAccount *account; /* virtual login "import:<id>" for the lane */
  PaLane lane;
  PaWorker *worker; /* while parsing */
  gboolean parse_done;
  GHashTable *senders; /* sender id → json object {name, count} (in summary) */
  gint64 started_ms;
  gint64 last_status_ms;
  gint64 remaining_at_start;
  guint unflushed;  /* events stored since the last commit (while parsing) */
  gboolean refused; /* over a limit while parsing: frames that follow are dropped */
  GHashTable *chats;   /* chat id → its entry in the summary's "chats" (borrowed), or NULL */
  GHashTable *anchors; /* chat id → anchor of its first message (while parsing), or NULL */
};

/* The job's options (owned by its row). */
json_t *pa_import_job_opt (PaImportJob *j);

/* The network's display name, appended to the ghosts' and rooms' names. */
const char *pa_import_job_display_suffix (PaImportJob *job);

/* Write the job's row back to the store. */
void pa_import_job_save (PaImportJob *j);

/* Set (and save) the job's state, with an error or NULL. */
void pa_import_job_set_state (PaImportJob *j, const char *state, const char *error);

/* The job's summary (senders, counts, notes), created on first use. */
json_t *pa_import_job_summary (PaImportJob *j);

/* The entry of chat_id in the summary's "chats" (id, name, kind, messages,
 * identity, already_in, room_id), made when `create`, else NULL. */
json_t *pa_import_job_chat (PaImportJob *j, const char *chat_id, gboolean create);
/* Forget the chats index (the summary is about to be replaced). */
void pa_import_job_chats_reset (PaImportJob *j);
/* Delete the job's work directory and, when the agent uploaded the export
 * to their management room, that copy: what the job extracted or received
 * does not stay on disk once it ends. */
void pa_import_job_remove_files (PaImportJob *j);
/* Notice to the job's agent in their management room. */
void pa_import_job_notify (PaImportJob *j, const char *text);

/* Drop the job's lane rows from the remote table, and its work directory,
 * in bounded steps after this returns (pa-import-purge.c). */
void pa_import_job_delete_lane_rows (PaImportJob *j);

G_END_DECLS

#endif
