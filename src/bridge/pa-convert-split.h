/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Legacy → Matrix, messages too large for one Matrix event: a homeserver
 * refuses an event above 65,536 bytes of JSON, so a converted content
 * above a safe size is split into several events, never dropped.  Pure
 * JSON in, JSON out (tested by the tables in tests/data/convert/). */
#ifndef PA_CONVERT_SPLIT_H
#define PA_CONVERT_SPLIT_H

#include "pa-common.h"

G_BEGIN_DECLS

/* The largest content (compact JSON) sent as one event: half the event
 * limit leaves room for the envelope (sender, room, hashes, signatures)
 * and for Megolm's base64 (4/3) in encrypted rooms. */
#define PA_CONVERT_MAX_CONTENT_BYTES 32768

/* The events carrying `content` (of `event_type`), as an array of
 * {"type", "content"} objects, each content at most `max_bytes` of compact
 * JSON.  A content that fits is alone (a copy).  Otherwise its plain body
 * is cut at line or word ends where it can, each part prefixed "(i/n) ";
 * the first part keeps every field (reply relation, media) but the HTML,
 * which cannot be cut safely; later parts are m.text (m.notice for a
 * notice, m.emote for an emote) with the body and the history-import mark
 * (with "part": i) only.  Transfer full. */
json_t *pa_convert_split_for_matrix (json_t *content, const char *event_type, gsize max_bytes);

G_END_DECLS

#endif
