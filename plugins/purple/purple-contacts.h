/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * purple-contacts.h — see purple-contacts.c.
 */
#ifndef PASSERELLE_PURPLE_CONTACTS_H
#define PASSERELLE_PURPLE_CONTACTS_H

#include "purple-common.h"

extern PurpleAccountUiOps pp_account_ops;

/* The PaLoginOps members of the same names (see passerelle/plugin.h). */
void pp_resolve_identifier (PaLogin *login, uint64_t op_id, const char *identifier,
                            PaResolveMode mode);

void pp_list_contacts (PaLogin *login, uint64_t op_id);

void pp_get_user_info (PaLogin *login, uint64_t op_id, const char *user_id);

/* Drops the authorizations not yet answered (login_free). */
void pp_contacts_close_all (PaLogin *login);

#endif /* PASSERELLE_PURPLE_CONTACTS_H */
