/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * purple-ids.h — see purple-ids.c.
 */
#ifndef PASSERELLE_PURPLE_IDS_H
#define PASSERELLE_PURPLE_IDS_H

#include "passerelle/plugin.h"

/* The one spelling of an id, without libpurple (pure, any thread): a JID's
 * node and domain case-folded (its resource kept in chat ids, dropped from
 * user ids, like libpurple's XMPP does for contacts); anything else (IRC
 * nicks and channels, other prpls' names) lower-cased like libpurple's
 * purple_normalize_nocase. */
char *pp_normalize_id (PaIdKind kind, const char *id);

#endif /* PASSERELLE_PURPLE_IDS_H */
