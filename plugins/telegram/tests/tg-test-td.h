/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * tg-test-td.h — the TDLib client and the network's helpers as the live
 * parts' unit tests see them: requests recorded, answered by the test;
 * op results recorded.
 */
#ifndef TG_TEST_TD_H
#define TG_TEST_TD_H

#include "tg-test-host.h"

G_BEGIN_DECLS

void tg_test_td_reset (void);
/* Every request sent so far (borrowed). */
json_t *tg_test_td_requests (void);
/* Answers the oldest unanswered request of @type `type` with `reply`
 * (borrowed); FALSE when there is none. */
gboolean tg_test_td_answer (const char *type, json_t *reply);
/* What tg_td_close does: every request still waiting is answered "Request
 * aborted" (call it with login->closing set). */
void tg_test_td_close (void);
/* Op results so far: [{"op_id", "code", "cursor"}] (borrowed). */
json_t *tg_test_td_results (void);
/* The host table's op_result. */
void tg_test_op_result (PaHost *host, uint64_t op_id, const PaOpResult *r);

G_END_DECLS

#endif
