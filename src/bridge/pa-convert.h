/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The pure conversions between a plugin's wire `content` object
 * (docs/worker-protocol.md) and a Matrix event content, both ways.  No
 * I/O and no bridge object: json_t in, json_t out, so every content kind
 * is tested from the tables in tests/data/convert/. */
#ifndef PA_CONVERT_H
#define PA_CONVERT_H

#include "pa-common.h"

G_BEGIN_DECLS

/* ---- legacy → Matrix */

/* What a legacy message meets on its way, besides its content. */
typedef struct
{
  const char *mxc;           /* its uploaded media, or NULL */
  json_t *file;              /* that media's EncryptedFile (borrowed), or NULL */
  const char *reply_event;   /* the Matrix event it replies to, or NULL */
  const char *import_source; /* a history import's source (marks the event), or NULL */
  const char *message_id;    /* its legacy id (in the import mark), or NULL */
} PaConvertToMatrix;

/* Matrix content of a wire content object; `mxc` is the uploaded media,
 * `file` its EncryptedFile when it was encrypted (then no clear `url`).
 * *event_type is m.room.message or m.sticker. */
json_t *pa_convert_content_to_matrix (json_t *wire, const char *mxc, json_t *file,
                                      const char **event_type);
/* The whole content of a legacy message: the content above, its reply
 * relation, the "(edited)" mark and a history import's mark. */
json_t *pa_convert_message_to_matrix (json_t *wire, const PaConvertToMatrix *ctx,
                                      const char **event_type);
/* An m.replace of `target_event` with the new content `wire`. */
json_t *pa_convert_edit_to_matrix (json_t *wire, const char *target_event);
/* The same, from the new content already converted to Matrix. */
json_t *pa_convert_edit_of_content (json_t *new_content, const char *target_event);
/* The media of `wire` could not be uploaded: it becomes text saying so. */
void pa_convert_media_lost (json_t *wire, const char *error);

/* ---- Matrix → legacy */

/* Wire content of a Matrix message content; its media was downloaded to
 * `media_path` (NULL: none). */
json_t *pa_convert_content_to_wire (json_t *content, const char *media_path);
/* Drops the reply fallback ("> <@x> quoted\n\n", <mx-reply>) of `wire`. */
void pa_convert_strip_reply_fallback (json_t *wire);
/* The `send` op's content: a reply to the legacy message `reply_to` (NULL:
 * none known) loses its fallback. */
json_t *pa_convert_message_to_wire (json_t *content, const char *media_path, const char *reply_to);
/* The `edit` op's content: the m.new_content of an m.replace, or NULL. */
json_t *pa_convert_edit_to_wire (json_t *content);

G_END_DECLS

#endif
