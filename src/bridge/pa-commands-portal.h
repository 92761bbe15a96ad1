/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Commands that act on the portal they are sent in (after the command
 * prefix): the disappearing-messages timer, older history. */
#ifndef PA_COMMANDS_PORTAL_H
#define PA_COMMANDS_PORTAL_H

#include "pa-bridge-object.h"

G_BEGIN_DECLS

/* `disappearing <off|30s|8h|1d|7d|90d>` in a portal. */
void pa_commands_portal_disappearing (PaBridge *b, const char *room, const char *sender,
                                      char **argv);
/* `history [count]` in a portal: the network is asked for older messages. */
void pa_commands_portal_history (PaBridge *b, const char *room, const char *sender, char **argv);

/* A duration as an agent writes it ("off", "90", "30s", "8h", "7d", "1w")
 * in seconds; FALSE when it is not one.  Exposed for its unit test. */
gboolean pa_commands_parse_duration (const char *text, guint64 *out_seconds);

G_END_DECLS

#endif
