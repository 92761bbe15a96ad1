/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * pasdk-testhost.h — the recording host table of the binding's Go tests
 * (pasdk-testhost.c): drive a PaNetwork as a worker would and read back
 * what it handed the host.
 */
#ifndef PASDK_TESTHOST_H
#define PASDK_TESTHOST_H

#include "pasdk-shim.h"

/* The entry point (pasdk-shim.c). */
const PaNetwork *pa_plugin_get_network (void);

void pasdk_test_reset (void);
bool pasdk_test_init (const PaNetwork *net, char **error);
void pasdk_test_shutdown (const PaNetwork *net);
PaLogin *pasdk_test_login_new (const PaNetwork *net, char **error);
void pasdk_test_login_free (const PaNetwork *net, PaLogin *login);
void pasdk_test_send (const PaNetwork *net, PaLogin *login, uint64_t op_id, const char *chat_id,
                      const char *text);
/* The PASDK_OP_* bits of the non-NULL members; UINT32_MAX when members that
 * go together are not all set. */
uint32_t pasdk_test_ops_mask (const PaNetwork *net);
size_t pasdk_test_n_events (void);
const PaEvent *pasdk_test_event (size_t i);
size_t pasdk_test_n_logs (void);
const char *pasdk_test_log (size_t i);
/* The code op_id was answered with, -1 when it was not. */
int pasdk_test_op_code (uint64_t op_id);
/* Runs the queued invoke()s; returns how many ran. */
size_t pasdk_test_run_invokes (void);
/* What login_step, login_state and op_contact received, one line each. */
size_t pasdk_test_n_records (void);
const char *pasdk_test_record (size_t i);
/* net->normalize_id on a user id. */
char *pasdk_test_normalize (const PaNetwork *net, const char *id);

#endif
