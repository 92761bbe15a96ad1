/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The check of one homeserver event before the bridge takes it: fields the
 * bridge relies on must have the right JSON type, identifiers must be
 * usable (no NUL, not absurdly long), the event must not be absurdly
 * large.  A NUL inside a text (a body, a reason) is replaced, not fatal. */
#ifndef PA_EVENT_CHECK_H
#define PA_EVENT_CHECK_H

#include <glib.h>
#include <jansson.h>

G_BEGIN_DECLS

/* Top-level key that only the bridge's own quarantine markers carry (an
 * incoming event carrying it is rejected, so a marker cannot be forged). */
#define PA_EVENT_QUARANTINE_KEY "fr.passerelle.quarantine"

/* Total bytes of the strings and keys of one event beyond which it is
 * absurd: four times Matrix's 64 KiB limit on a whole event. */
#define PA_EVENT_MAX_BYTES (256 * 1024)
/* Identifiers (event, room and user ids, types, state keys): Matrix's own
 * limit. */
#define PA_EVENT_MAX_ID_BYTES 255

typedef enum
{
  PA_EVENT_OK,       /* taken as it is */
  PA_EVENT_REPAIRED, /* taken, NULs in texts replaced by U+FFFD */
  PA_EVENT_REJECTED, /* to be kept aside; *reason says why */
} PaEventVerdict;

/* Checks `ev` (any JSON value: a non-object is rejected) and repairs it in
 * place.  On PA_EVENT_REJECTED *reason (transfer full) is a short English
 * sentence fragment ("content.body is a number, not a string"). */
PaEventVerdict pa_event_check (json_t *ev, char **reason);

/* `v` when it is a string usable as an identifier (UTF-8 by jansson, no
 * NUL, at most PA_EVENT_MAX_ID_BYTES), else NULL. */
const char *pa_event_id_string (json_t *v);

G_END_DECLS

#endif
