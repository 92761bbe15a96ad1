/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The event-loop members of PaHostApi (timer_add, fd_watch_add,
 * source_remove, invoke) on GLib's default main context, for the small hosts
 * that drive a plugin without a worker in tests (the importer test host, the
 * loopback driver, the purple unit test): one copy instead of three. */
#ifndef TEST_HOST_LOOP_H
#define TEST_HOST_LOOP_H

#include <passerelle/plugin.h>

uint32_t test_host_timer_add (PaHost *host, uint32_t interval_ms, PaTimerFunc fn, void *user_data);
uint32_t test_host_fd_watch_add (PaHost *host, int fd, uint32_t events, PaFdFunc fn,
                                 void *user_data);
void test_host_source_remove (PaHost *host, uint32_t id);
void test_host_invoke (PaHost *host, PaInvokeFunc fn, void *user_data);

#endif
