/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * lb-ops.h — Matrix → loopnet operations (the PaLoginOps members that send
 * requests), their queue, and their answers turned into typed op results.
 */
#ifndef LB_OPS_H
#define LB_OPS_H

#include "lb-types.h"

/* Frees a request (the inflight table's value destructor). */
void lb_request_free (LbRequest *r);
/* Turns loopnet's answer `msg` to request `r` into events and an op result. */
void lb_answer (LbLogin *login, LbRequest *r, json_t *msg);
/* PaLoginOps members: each queues one loopnet request (see README.md). */
void lb_send (PaLogin *pl, uint64_t op_id, const char *chat_id, const PaContent *content,
              const char *txn_id);
void lb_edit (PaLogin *pl, uint64_t op_id, const char *chat_id, const char *target_id,
              const PaContent *content);
void lb_redact (PaLogin *pl, uint64_t op_id, const char *chat_id, const char *target_id);
void lb_react (PaLogin *pl, uint64_t op_id, const char *chat_id, const char *target_id,
               const char *key, bool remove);
void lb_mark_read (PaLogin *pl, uint64_t op_id, const char *chat_id, const char *message_id);
void lb_typing (PaLogin *pl, uint64_t op_id, const char *chat_id, bool typing);
void lb_set_chat_info (PaLogin *pl, uint64_t op_id, const char *chat_id, PaChatField field,
                       const char *value);
void lb_set_membership (PaLogin *pl, uint64_t op_id, const char *chat_id, const char *user_id,
                        bool join);
void lb_resolve_identifier (PaLogin *pl, uint64_t op_id, const char *identifier,
                            PaResolveMode mode);
void lb_list_contacts (PaLogin *pl, uint64_t op_id);
void lb_create_dm (PaLogin *pl, uint64_t op_id, const char *user_id);
void lb_create_group (PaLogin *pl, uint64_t op_id, const char *name, const char *const *user_ids,
                      size_t n);
void lb_get_chat_info (PaLogin *pl, uint64_t op_id, const char *chat_id);
void lb_get_user_info (PaLogin *pl, uint64_t op_id, const char *user_id);
void lb_fetch_history (PaLogin *pl, uint64_t op_id, const char *chat_id, const char *cursor,
                       uint32_t count, bool forward);
void lb_logout (PaLogin *pl, uint64_t op_id);

#endif
