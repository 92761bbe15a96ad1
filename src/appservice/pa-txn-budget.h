/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The memory budget of a transaction's JSON tree, checked on the raw bytes
 * before jansson builds anything.
 *
 * jansson's tree costs far more than the text for small values (an empty
 * object "{}" takes about 235 bytes, a 0 about 43), so a body of tiny objects
 * grows ~80× when parsed.  pa_txn_budget_cost() gives an upper bound of what
 * the tree of a body will take; when it is above the budget,
 * pa_txn_budget_rewrite() builds a smaller body in which the entries of the
 * top-level arrays that do not fit are replaced: an entry of "events" by a
 * stub keeping its envelope (type, event_id, room_id, sender, state_key,
 * origin_server_ts, redacts) with an empty content and PA_TXN_STRIPPED_KEY
 * set, any other entry (ephemeral, to-device) by null.  The transaction is
 * still accepted, so the homeserver does not retry it forever. */
#ifndef PA_TXN_BUDGET_H
#define PA_TXN_BUDGET_H

#include <glib.h>

G_BEGIN_DECLS

/* Set to true on an event stub that replaced an event too large to parse. */
#define PA_TXN_STRIPPED_KEY "fr.passerelle.stripped"

/* One pass over the bytes, strings skipped: FALSE when nesting goes deeper
 * than max_depth; else *cost is an upper bound of the bytes jansson would
 * allocate for the tree (for valid JSON; invalid JSON is counted anyhow). */
gboolean pa_txn_budget_cost (const char *data, gsize len, guint max_depth, guint64 *cost);

/* The body rewritten to fit `budget` (see above); NULL with *error when the
 * body is not a JSON object as this scan reads it (PA_ERROR_JSON,
 * "M_NOT_JSON: …") or a top-level array has more than max_entries entries
 * (PA_ERROR_TOO_LARGE, "M_TOO_LARGE: …"), found before anything is
 * allocated for them.  Each replaced entry is logged; *n_stripped counts
 * them. */
char *pa_txn_budget_rewrite (const char *data, gsize len, guint64 budget, guint max_entries,
                             gsize *out_len, guint *n_stripped, GError **error);

G_END_DECLS

#endif
