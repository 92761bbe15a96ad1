/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Legacy → Matrix: the files a worker names in its events (media, avatars).
 * A worker is not trusted: a path must lie inside the login's own data dir
 * (or, for an import, the export's folder) before the host reads it; the
 * media files a worker hands over are deleted once their event is done. */
#ifndef PA_TO_MATRIX_FILES_H
#define PA_TO_MATRIX_FILES_H

#include "pa-bridge-object.h"

G_BEGIN_DECLS

/* Check every path of the wire event `ev` of `login` (import: `export_dir`
 * is the export file's folder, else NULL).  A path outside is removed from
 * the event (a media message keeps its text and says the file was lost),
 * with a warning: the event is still bridged.  Returns how many were
 * removed. */
guint pa_to_matrix_files_confine (PaBridge *b, PaAccount *login, const char *export_dir,
                                  json_t *ev);

/* The media file of `ev` the host owns and must delete (inside the login's
 * data dir), or NULL.  (transfer full) */
char *pa_to_matrix_files_owned (PaBridge *b, PaAccount *login, json_t *ev);

G_END_DECLS

#endif
