/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Login answers kept out of the store: what an agent types while a login
 * flow waits for an answer is persisted without its content, the event
 * itself staying in memory until it is handled. */
#ifndef PA_LOGIN_WITHHOLD_H
#define PA_LOGIN_WITHHOLD_H

#include "pa-bridge-object.h"

G_BEGIN_DECLS

/* Content member marking an inbound row whose content was withheld. */
#define PA_CONTENT_WITHHELD "fr.passerelle.withheld"

/* When `ev` (an inbound event about to be persisted) may be a login
 * answer — a message or encrypted event from an agent, in their
 * management room, while one of their logins waits for an answer — keeps
 * it in memory and returns the text to persist instead: the event with
 * its content replaced by {PA_CONTENT_WITHHELD: true} (transfer full).
 * NULL otherwise (persist the event as it is). */
char *pa_login_withhold (PaBridge *b, json_t *ev);

/* The event to handle for a row read from the inbound queue (transfer
 * full): the one kept in memory for a withheld row (and forgotten), the
 * row itself otherwise; NULL for a withheld row whose event is gone (the
 * bridge restarted in between: the login flow it answered is gone too). */
json_t *pa_login_withhold_take (PaBridge *b, json_t *row_event);

G_END_DECLS

#endif
