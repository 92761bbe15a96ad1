/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Matrix canonical JSON (spec: appendices, "Canonical JSON"): object keys
 * sorted by Unicode code point, no insignificant whitespace, UTF-8 output
 * with only the escapes JSON requires, integers only, in
 * [-(2^53)+1, 2^53-1].  Signatures are computed over this text, so two
 * implementations must agree to the byte. */
#ifndef PA_CANONICAL_JSON_H
#define PA_CANONICAL_JSON_H

#include <glib.h>
#include <jansson.h>

G_BEGIN_DECLS

/* Nesting deeper than this is refused (the spec does not bound it; events
 * are bounded by size, and a signed object is never deep). */
#define PA_CANONICAL_JSON_MAX_DEPTH 64

/* The canonical encoding of `value` (transfer full), or NULL with
 * PA_ERROR_JSON for a value canonical JSON cannot express (a fraction, an
 * integer out of range, too deep). */
char *pa_canonical_json (json_t *value, GError **error);

/* The text that is signed for `object`: its canonical JSON without the
 * top-level "signatures" and "unsigned" members. */
char *pa_canonical_json_for_signing (json_t *object, GError **error);

/* Adds `sig` to `object` as signatures.<user_id>."ed25519:<key_name>". */
void pa_canonical_json_add_signature (json_t *object, const char *user_id, const char *key_name,
                                      const char *sig);

G_END_DECLS

#endif
