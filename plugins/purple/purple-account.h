/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * purple-account.h — see purple-account.c.
 */
#ifndef PASSERELLE_PURPLE_ACCOUNT_H
#define PASSERELLE_PURPLE_ACCOUNT_H

#include "purple-common.h"

/* Creates (or finds) the one account for a session and connects it. */
gboolean pp_start_account (PaLogin *login, const PpSession *s, GError **error);

#endif /* PASSERELLE_PURPLE_ACCOUNT_H */
