/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Recovery of a transaction body that does not decode as a whole, because
 * of something inside one event (invalid UTF-8, a NUL in a key, a lone
 * surrogate): the body is split at its top level and each part decoded on
 * its own. */
#ifndef PA_TXN_SALVAGE_H
#define PA_TXN_SALVAGE_H

#include <glib.h>
#include <jansson.h>

G_BEGIN_DECLS

/* A transaction object rebuilt from the parts of `data` that decode, or
 * NULL when its top level is not an object of well-formed members (then it
 * is not JSON, and is refused).  The events of "events" that do not decode
 * are appended to `unreadable` as {"reason", "raw" (their bytes made
 * UTF-8, NULs replaced), and the "event_id", "room_id", "sender", "type"
 * that could be read}; undecodable members or elements elsewhere are
 * dropped with a warning.  The caller has bounded the nesting depth. */
json_t *pa_txn_salvage (const char *data, gsize len, json_t *unreadable);

G_END_DECLS

#endif
