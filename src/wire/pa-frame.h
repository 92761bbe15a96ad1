/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Length-prefixed JSON frames over a stream socket: 4-byte big-endian
 * length, then the JSON text.  The reader is incremental and never trusts
 * the length beyond PA_FRAME_MAX. */
#ifndef PA_FRAME_H
#define PA_FRAME_H

#include <glib.h>
#include <jansson.h>

G_BEGIN_DECLS

#define PA_FRAME_MAX (16u * 1024u * 1024u)

typedef struct _PaFrameReader PaFrameReader;

PaFrameReader *pa_frame_reader_new (void);
void pa_frame_reader_free (PaFrameReader *r);
/* Feed bytes read from the socket. */
void pa_frame_reader_feed (PaFrameReader *r, const guint8 *data, gsize len);
/* Next complete frame as a JSON object (transfer full), or NULL when more
 * bytes are needed (error unset) or the stream is corrupt (error set: an
 * oversized length, invalid JSON, or a non-object). */
json_t *pa_frame_reader_next (PaFrameReader *r, GError **error);

/* Append the frame for `msg` to `out` (a GByteArray being written out). */
gboolean pa_frame_encode (json_t *msg, GByteArray *out, GError **error);

/* Write as much of `out` (from offset *pos) as the non-blocking stream
 * socket `fd` accepts right now, advancing *pos; `out` is emptied (and *pos
 * reset) once all is written, and compacted when mostly spent.  Uses
 * MSG_NOSIGNAL, so a closed peer yields an error, never SIGPIPE.  Returns
 * FALSE with `error` set on a write error; TRUE otherwise, in which case
 * bytes may remain (*pos < out->len): wait for the socket to be writable. */
gboolean pa_frame_flush (int fd, GByteArray *out, gsize *pos, GError **error);

G_END_DECLS

#endif
