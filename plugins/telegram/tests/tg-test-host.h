/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * tg-test-host.h — a host table for the live Telegram parts' unit tests:
 * metadata in memory, emitted events recorded as JSON, a data dir of the
 * test's own.
 */
#ifndef TG_TEST_HOST_H
#define TG_TEST_HOST_H

#include "tg-private.h"

G_BEGIN_DECLS

/* json_t under a name of the tests' own, so g_autoptr works whatever the
 * plugin's headers define. */
typedef json_t TgJson;
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TgJson, json_decref)

/* A login whose api records everything; free with tg_test_login_free. */
PaLogin *tg_test_login_new (void);
void tg_test_login_free (PaLogin *login);
/* The events emitted so far, each as a JSON object (type, chat_id,
 * sender_id, message_id, target_id, from_me, timestamp_ms, content {…},
 * chat {…}, contact {…}, reaction_keys […]); borrowed. */
json_t *tg_test_events (void);
void tg_test_events_clear (void);
/* What budget_left answers (-1: unlimited, the default). */
void tg_test_set_budget (int64_t bytes);
/* config_int's answers, {"key": n} (borrowed; NULL: the defaults). */
void tg_test_set_config (json_t *values);

G_END_DECLS

#endif
