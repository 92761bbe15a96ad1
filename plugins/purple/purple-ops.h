/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * purple-ops.h — see purple-ops.c.
 */
#ifndef PASSERELLE_PURPLE_OPS_H
#define PASSERELLE_PURPLE_OPS_H

#include "purple-common.h"

/* The PaLoginOps members of the same names (see passerelle/plugin.h);
 * pp_typing_op is `typing`. */
void pp_send (PaLogin *login, uint64_t op_id, const char *chat_id, const PaContent *content,
              const char *txn_id);

void pp_typing_op (PaLogin *login, uint64_t op_id, const char *chat_id, bool typing);

void pp_set_membership (PaLogin *login, uint64_t op_id, const char *chat_id, const char *user_id,
                        bool join);

/* Only PA_CHAT_FIELD_TOPIC, in a room whose prpl has set_chat_topic. */
void pp_set_chat_info (PaLogin *login, uint64_t op_id, const char *chat_id, PaChatField field,
                       const char *value);

void pp_create_dm (PaLogin *login, uint64_t op_id, const char *user_id);

void pp_get_chat_info (PaLogin *login, uint64_t op_id, const char *chat_id);

#endif /* PASSERELLE_PURPLE_OPS_H */
