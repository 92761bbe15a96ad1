/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * purple-requests.h — see purple-requests.c.
 */
#ifndef PASSERELLE_PURPLE_REQUESTS_H
#define PASSERELLE_PURPLE_REQUESTS_H

#include "purple-common.h"

extern PurpleRequestUiOps pp_request_ops;

/* The agent answered step `step_id`: FALSE when no pending request has it. */
gboolean pp_requests_submit (PaLogin *login, const char *step_id, const char *const *ids,
                             const char *const *values, size_t n);

/* The agent gave up: cancels the request shown, if any (TRUE then). */
gboolean pp_requests_cancel_shown (PaLogin *login);

/* Closes every pending request (login_free). */
void pp_requests_close_all (PaLogin *login);

#endif /* PASSERELLE_PURPLE_REQUESTS_H */
