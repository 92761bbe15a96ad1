/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * purple-buddies.h — see purple-buddies.c.
 */
#ifndef PASSERELLE_PURPLE_BUDDIES_H
#define PASSERELLE_PURPLE_BUDDIES_H

#include "purple-common.h"

/* Emits PRESENCE for `buddy` (state and status message) when it changed
 * since last told. */
void pp_emit_presence (PaLogin *login, PurpleBuddy *buddy);

/* Connects the buddy-list and typing signals to `login`. */
void pp_buddies_connect_signals (PaLogin *login);

#endif /* PASSERELLE_PURPLE_BUDDIES_H */
