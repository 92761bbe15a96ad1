/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Media between the bridge and the homeserver, both ways (encrypted in
 * encrypted rooms). */
#ifndef PA_MEDIA_H
#define PA_MEDIA_H

#include "pa-bridge-object.h"

G_BEGIN_DECLS

/* Upload done: `mxc`, and `file` (borrowed) when the upload was encrypted
 * (an EncryptedFile with its url, to put in the event instead of `url`);
 * or `error`. */
typedef void (*PaUploadFunc) (PaBridge *b, const char *mxc, json_t *file, const char *error,
                              gpointer user_data);
/* Download done: the cleartext (borrowed), or `error` for the agent. */
typedef void (*PaDownloadFunc) (PaBridge *b, GBytes *data, const char *error, gpointer user_data);

/* Uploads a file a worker named: `path` must be a regular file beneath the
 * directory `root`, reached without a link and with no other hard link,
 * and not the host's config or store (pa-file-beneath.h); a refused file
 * is logged and `done` gets an error.  For `room_id` an encrypted room
 * (NULL: a clear upload, e.g. an avatar) it is encrypted first. */
void pa_media_upload (PaBridge *b, const char *room_id, const char *root, const char *path,
                      const char *name, const char *mimetype, PaUploadFunc done,
                      gpointer user_data);

/* mxc://server/id as an authenticated-media download path (transfer full), or NULL. */
char *pa_media_download_path (const char *mxc);

/* Downloads the media of a Matrix message content (`url`, or `file`
 * decrypted after its hash is checked); FALSE (nothing started) when the
 * content has no usable mxc URL. */
gboolean pa_media_download (PaBridge *b, json_t *content, gint64 max_bytes, guint timeout_s,
                            PaDownloadFunc done, gpointer user_data);

/* Keeps downloaded media for a worker: a new file of the host's own name in
 * the login's data dir (<data_dir>/<login>/outgoing/), mode 0600.  Its
 * path (transfer full), or NULL with *error. */
char *pa_media_save_for_login (PaBridge *b, const char *login_id, GBytes *data, GError **error);

/* Whether a message content carries media (`url` or `file`). */
gboolean pa_media_has (json_t *content);

G_END_DECLS

#endif
