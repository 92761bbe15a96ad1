/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * purple-markup.h — libpurple HTML ↔ Passerelle content (PaContent.text/html).
 *
 * libpurple carries message bodies as loose HTML (whatever a prpl or a
 * remote client produced); Passerelle's content is plain text plus an
 * optional small HTML subset (b, i, u, s, code, pre, a href, br,
 * blockquote).  These functions never trust their input: unknown tags are
 * dropped (their text kept), attributes other than a safe href are dropped,
 * and all text is re-escaped.
 */
#ifndef PASSERELLE_PURPLE_MARKUP_H
#define PASSERELLE_PURPLE_MARKUP_H

#include <glib.h>

/* Longest body accepted either way, in bytes; longer input is truncated at a
 * UTF-8 character boundary before conversion. */
#define PP_MAX_BODY ((gsize) 256 * 1024)

/* Converts a libpurple HTML body into plain text (*text, never NULL on return)
 * and, when it carries formatting beyond line breaks, the allowed HTML subset
 * (*html, else NULL).  Both are newly allocated. */
void pp_markup_from_purple (const char *purple_html, char **text, char **html);

/* Converts outgoing content into a libpurple HTML body: `html` (re-sanitized)
 * when given, else `text` escaped with newlines as <br>.  Returns a newly
 * allocated string (empty when both are NULL). */
char *pp_markup_to_purple (const char *text, const char *html);

#endif /* PASSERELLE_PURPLE_MARKUP_H */
