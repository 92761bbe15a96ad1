/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * tg-entities.h — Telegram's formattedText ⇄ the SDK's HTML subset.
 *
 * Telegram → Matrix: the entities (offsets in UTF-16 code units) become
 * b, i, u, s, code, pre, a href, blockquote and spoiler spans, everything
 * else escaped.  Matrix → Telegram: the HTML is reduced to what TDLib's own
 * HTML parser takes, then parsed by TDLib (parseTextEntities through
 * td_execute): no hand-written parser of Telegram's rules.
 */
#ifndef TG_ENTITIES_H
#define TG_ENTITIES_H

#include <glib.h>
#include <jansson.h>

G_BEGIN_DECLS

/* td_execute, or a stand-in of the same contract (borrowed request, new
 * reference or NULL). */
typedef json_t *(*TgExecFunc) (json_t *request, void *user_data);

/* A formattedText object → HTML, or NULL when it carries no formatting
 * worth HTML (plain text, only mentions of bare URLs). */
char *tg_entities_to_html (json_t *formatted_text);

/* HTML (and its plain-text body, used when the HTML cannot be parsed) → a
 * new formattedText object. */
json_t *tg_entities_from_html (const char *html, const char *plain, TgExecFunc exec,
                               void *user_data);

G_END_DECLS

#endif
