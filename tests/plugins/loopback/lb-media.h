/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * lb-media.h — media files: received ones written under DATA_DIR/media (one
 * new file per emission, within the data dir's budget), and the kind names
 * of the wire.
 */
#ifndef LB_MEDIA_H
#define LB_MEDIA_H

#include "lb-types.h"

/* The message kind for a wire kind name, else from the MIME type. */
PaMsgKind lb_media_kind (const char *kind, const char *mimetype);
/* The wire kind name of a media message kind ("file" for others). */
const char *lb_media_kind_name (PaMsgKind kind);
/* TRUE for the kinds that carry a file. */
gboolean lb_is_media_kind (PaMsgKind kind);
/* Decodes a message's media into a new file of data_dir/media and returns its
 * path (transfer full), or fails: G_IO_ERROR_NO_SPACE over the budget
 * (*size still set), G_IO_ERROR_INVALID_DATA without data. */
char *lb_store_media (PaHost *host, const PaHostApi *api, const char *data_dir, const char *chat,
                      const char *id, json_t *media, gsize *size, GError **error);

#endif
