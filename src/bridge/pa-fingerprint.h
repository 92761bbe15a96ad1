/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Live fingerprints: the live messages of a portal, remembered compactly,
 * so that an export of the same chat imported later skips them. */
#ifndef PA_FINGERPRINT_H
#define PA_FINGERPRINT_H

#include "pa-bridge-object.h"

G_BEGIN_DECLS

/* `text` with every run of white space made one space, trimmed, in NFC,
 * without the invisible direction and zero-width marks exports add; case
 * is kept.  Invalid UTF-8 gives "" (transfer full). */
char *pa_fingerprint_normalise (const char *text);

/* The normalised form of a wire message content, the text that is
 * digested: "text␟<text>", "<image|video|audio|file>␟<caption>" (with
 * "␟<file name>" for a file when with_name and it has one), "deleted" for
 * a deleted-message placeholder, "media" for media an export did not
 * include.  NULL when the content is not matched (system lines, locations,
 * empty text).  *out_class (may be NULL) is set to the class: "text",
 * "image", "video", "audio", "file", "deleted", "media" or NULL.
 * (transfer full) */
char *pa_fingerprint_key (json_t *content, gboolean with_name, const char **out_class);

/* The first 8 bytes of the SHA-256 of `key`, as a signed integer. */
gint64 pa_fingerprint_digest (const char *key);

/* The UTC minute (since the epoch) of a time in milliseconds. */
gint64 pa_fingerprint_minute (gint64 ts_ms);

/* A live message legacy_id, sent at ts_ms, was bridged into room_id with
 * this content: remember it. */
void pa_fingerprint_record (PaBridge *b, const char *room_id, const char *legacy_id, gint64 ts_ms,
                            json_t *content);

/* A message of import job job_id (its lane's login id) was sent into
 * room_id: remember it too, as that job's (the job never skips its own
 * messages), for the next import of the same chat. */
void pa_fingerprint_record_import (PaBridge *b, const char *job_id, const char *room_id,
                                   const char *legacy_id, gint64 ts_ms, json_t *content);

/* A live message already remembered was edited to `content`, or deleted
 * (content NULL): remember that form too, beside the original. */
void pa_fingerprint_record_change (PaBridge *b, const char *room_id, const char *legacy_id,
                                   json_t *content);

/* An exported message of import job job_id (its lane's login id), sent at
 * ts_ms, whose chat is the live portal room_id: TRUE when a live message of
 * that portal not yet matched by this job has the same minute and content
 * (it is then matched, durably, in the caller's transaction). */
gboolean pa_fingerprint_already_live (PaBridge *b, const char *job_id, const char *room_id,
                                      gint64 ts_ms, json_t *content);

/* Import identity (issue 15).  The anchor of a chat: its first message
 * event (a wire "message" event) as every export of that chat tells it —
 * sender id, UTC minute, text of a text message, only "media" for the
 * rest, system lines skipped (NULL).  (transfer full) */
char *pa_fingerprint_anchor (json_t *ev);

/* The identity of an exported chat for its agent and plugin, from what
 * the export carries: "id:<chat id>" when the chat id is the network's own
 * (a Telegram export's); for an id the importer made from the chat's name
 * ("chat-…", from a WhatsApp file name), "name:<chat id>:<digest of its
 * anchor>" — the .txt and the zip of a chat agree, and a later export of
 * it; two chats of the same name do not.  NULL for a name-made id with no
 * anchor (no message).  (transfer full) */
char *pa_fingerprint_chat_identity (const char *chat_id, const char *anchor);

G_END_DECLS

#endif
