/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * tg-content-in.h — a TDLib messageContent → PaContent (docs/telegram-
 * messages.md has the table).  The conversion itself does no I/O; a media
 * content names the file to download, which tg-incoming.c fetches and
 * hands back with tg_content_in_take.
 */
#ifndef TG_CONTENT_IN_H
#define TG_CONTENT_IN_H

#include "tg-incoming.h"

G_BEGIN_DECLS

typedef struct
{
  PaContent c; /* its strings point into the members below */
  char *text, *html, *media_name, *mimetype, *media_path, *reply_to, *forwarded_from;
  json_t *file;             /* the TDLib file to download first, or NULL */
  gboolean chat_changed;    /* a title or photo change: the chat is announced again */
  gboolean members_changed; /* someone joined or left */
} TgContentIn;

/* `content` of a message of `chat_id` whose sender is `sender` (a
 * MessageSender, for the wording of service messages; may be NULL).
 * Media over the max_media_bytes config become a notice naming the file
 * and its size. */
TgContentIn *tg_content_in_new (PaLogin *login, gint64 chat_id, json_t *content, json_t *sender);
void tg_content_in_free (TgContentIn *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TgContentIn, tg_content_in_free)

/* Points the PaContent's strings at the members again (after changing
 * one of them). */
void tg_content_in_sync (TgContentIn *c);

/* The download of c->file ended with `file` (TDLib's answer, a file with
 * its local path, or an error): the file is taken into the data dir as
 * DATA_DIR/media/<base>-<its name> and becomes the content's media, to be
 * handed to the host with the event; when it cannot be, the content
 * becomes a notice saying so. */
void tg_content_in_take (PaLogin *login, TgContentIn *c, json_t *file, const char *base);
/* The file is not downloaded (`why`: "over the bridge's size limit", …):
 * the content becomes a notice naming it and its size. */
void tg_content_in_unavailable (TgContentIn *c, const char *why);

G_END_DECLS

#endif
