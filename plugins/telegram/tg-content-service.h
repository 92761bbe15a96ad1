/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * tg-content-service.h — Telegram's service messages (members added,
 * title changed, message pinned…) worded as notices.
 */
#ifndef TG_CONTENT_SERVICE_H
#define TG_CONTENT_SERVICE_H

#include "tg-content-in.h"

G_BEGIN_DECLS

/* Fills `c` for a content of `type` that is not an ordinary message: a
 * notice flagged PA_CONTENT_SYSTEM (or, for a kind the plugin does not
 * know, a notice saying so). */
void tg_content_service (PaLogin *login, TgContentIn *c, gint64 chat_id, const char *type,
                         json_t *content, json_t *sender);

G_END_DECLS

#endif
