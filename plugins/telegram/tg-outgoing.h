/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * tg-outgoing.h — the Matrix → Telegram operations (PaLoginOps members)
 * and what their files share.
 *
 *   tg-outgoing.c         the part's state, requests and their answers,
 *                         send (temporary → final ids, flood waits)
 *   tg-outgoing-content.c a PaContent → inputMessage*, the files to upload
 *   tg-outgoing-ops.c     edit, redact, react, mark_read, typing,
 *                         set_chat_info, set_membership
 *   tg-outgoing-lookup.c  resolve_identifier, list_contacts, create_dm
 *
 * Every operation is answered exactly once: by its request's reply, by
 * the update that ends a send, or by tg_out_free (UNCERTAIN) when the
 * login closes first.
 */
#ifndef TG_OUTGOING_H
#define TG_OUTGOING_H

#include "tg-private.h"

G_BEGIN_DECLS

/* ---- PaLoginOps members (tg-network.c's table) */
void tg_out_send (PaLogin *login, uint64_t op_id, const char *chat_id, const PaContent *content,
                  const char *txn_id);
void tg_out_edit (PaLogin *login, uint64_t op_id, const char *chat_id, const char *target_id,
                  const PaContent *content);
void tg_out_redact (PaLogin *login, uint64_t op_id, const char *chat_id, const char *target_id);
void tg_out_react (PaLogin *login, uint64_t op_id, const char *chat_id, const char *target_id,
                   const char *key, bool remove);
void tg_out_mark_read (PaLogin *login, uint64_t op_id, const char *chat_id, const char *message_id);
void tg_out_typing (PaLogin *login, uint64_t op_id, const char *chat_id, bool typing);
void tg_out_set_chat_info (PaLogin *login, uint64_t op_id, const char *chat_id, PaChatField field,
                           const char *value);
void tg_out_set_membership (PaLogin *login, uint64_t op_id, const char *chat_id,
                            const char *user_id, bool join);
void tg_out_resolve_identifier (PaLogin *login, uint64_t op_id, const char *identifier,
                                PaResolveMode mode);
void tg_out_list_contacts (PaLogin *login, uint64_t op_id);
void tg_out_create_dm (PaLogin *login, uint64_t op_id, const char *user_id);

/* ---- shared by the tg-outgoing*.c files */

/* The part's state (login->out). */
struct TgOut
{
  GHashTable *ops;   /* TgReq* in flight (a reference each) */
  GHashTable *sends; /* "<chat>/<temporary id>" → TgReq* (borrowed from ops) */
  GHashTable *early; /* "<chat>/<temporary id>" → the update that ended it */
  char *dir;         /* <data dir>/tg-out: our copies of files */
  guint next_file;
  guint watch; /* the timer looking for a closed client while sends wait */
};

/* One operation on its way: answered once (tg_req_ok / tg_req_fail /
 * tg_req_fail_td), then inert.  Each request sent for it holds a
 * reference, and so does the part's list of operations in flight, so a
 * reply arriving after the login closed finds it answered and does
 * nothing else. */
typedef struct
{
  int ref;
  gboolean answered;
  PaLogin *login;
  guint64 op_id;
  gboolean message_like; /* a lost answer is UNCERTAIN, not TEMPORARY */
  gint64 chat_id;
  gint32 topic_id;
  gint64 message_id;
  char *file;      /* our copy of a file for TDLib, deleted when answered */
  char *text;      /* what the op needs at its next step */
  json_t *payload; /* likewise (a formattedText, a reaction type…) */
  int step;
  TgTd *td; /* a waiting send: the client that took it */
} TgReq;

/* A new operation, in the part's list until answered. */
TgReq *tg_req_new (PaLogin *login, guint64 op_id, gboolean message_like);
void tg_req_unref (TgReq *r);
/* Sends `request` (stolen) for `r`; `fn` gets the reply, then must drop
 * the reference the send took (tg_req_unref).  With no client (closed
 * between two steps) `r` is answered NOT_CONNECTED instead; a caller that
 * still holds its own reference drops it as usual. */
void tg_req_send (TgReq *r, json_t *request, TgTdReplyFunc fn);
/* At the top of a reply callback: FALSE (and the reference dropped) when
 * `r` was answered meanwhile (the login closed). */
gboolean tg_req_live (TgReq *r);
/* The answers.  Each deletes the op's file copy and takes `r` off the
 * list; only the first one answers. */
void tg_req_ok (TgReq *r, const char *legacy_id, gint64 ts_ms);
void tg_req_fail (TgReq *r, PaResultCode code, const char *error);
/* From a TDLib error reply (tg_op_fail_td), except a request a closing
 * client aborted ("Request aborted"): UNCERTAIN for a message-like op, as
 * TDLib may have taken it. */
void tg_req_fail_td (TgReq *r, json_t *error);
/* The reply is an error: answered from it, TRUE. */
gboolean tg_req_failed (TgReq *r, json_t *reply);

/* NOT_CONNECTED answered (and FALSE) when the login cannot talk to
 * TDLib now. */
gboolean tg_out_check_ready (PaLogin *login, guint64 op_id);
/* Parses a chat id, or answers NOT_FOUND and returns FALSE. */
gboolean tg_out_parse_chat (PaLogin *login, guint64 op_id, const char *chat_id, gint64 *chat,
                            gint32 *topic);
/* Finds a message's TDLib id, or answers NOT_FOUND and returns FALSE. */
gboolean tg_out_message (PaLogin *login, guint64 op_id, gint64 chat, const char *id,
                         gint64 *message_id);
/* A hard link (or copy) of `path` in the part's own folder, named
 * `name` (sanitised), for TDLib to read after the host deleted its
 * file; NULL when it cannot be made.  Deleted with tg_out_drop_file. */
char *tg_out_keep_file (PaLogin *login, const char *path, const char *name, const char *mimetype);
void tg_out_drop_file (const char *copy);
/* Deletes what is inside the folder `path` (not the folder). */
void tg_out_remove_tree (const char *path);
/* A formattedText from the SDK's HTML (through TDLib's own parser) or
 * plain text; NULL html → plain. */
json_t *tg_out_formatted (PaLogin *login, const char *html, const char *text);
/* {"@type":"messageTopicForum",…} or JSON null when topic is 0. */
json_t *tg_out_topic (gint32 topic);

/* Pure helpers (unit-tested). */
/* A file name safe to create: no separators or control characters, not
 * starting with a dot, at most 120 bytes; `mimetype` picks an extension
 * when `name` is empty. */
char *tg_out_safe_name (const char *name, const char *mimetype);
/* The emoji without its variation selectors (U+FE0F), as Telegram names
 * its reactions. */
char *tg_out_reaction_emoji (const char *key);
/* A kind that carries a file. */
gboolean tg_out_is_media_kind (PaMsgKind kind);
/* Length in UTF-16 code units, as Telegram counts. */
gsize tg_out_utf16_len (const char *s);
/* The inputMessage* object for `content` with its caption or text
 * (stolen) and the file at `file` (media kinds). */
json_t *tg_out_input_content (const PaContent *content, json_t *text, const char *file);

G_END_DECLS

#endif
