/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The class of a homeserver endpoint, for the request latency metric: a
 * short fixed name per kind of request, never anything of the URL itself
 * (rooms, users and tokens stay out of the metrics). */
#ifndef PA_MATRIX_ENDPOINT_H
#define PA_MATRIX_ENDPOINT_H

#include <glib.h>

G_BEGIN_DECLS

/* "send", "state", "redact", "media", "register", "profile", "membership",
 * "room", "keys", "ephemeral", "presence", "appservice" or "other" for a
 * request URL (absolute or a path; its query is ignored).  Static. */
const char *pa_matrix_endpoint_class (const char *url);

G_END_DECLS

#endif
