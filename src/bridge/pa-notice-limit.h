/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* A per-login rate limit on the notices a plugin sends to its agent. */
#ifndef PA_NOTICE_LIMIT_H
#define PA_NOTICE_LIMIT_H

#include "pa-bridge-object.h"

G_BEGIN_DECLS

typedef struct _PaNoticeLimit PaNoticeLimit;

/* A token bucket of `burst` notices refilled one every `every_s` seconds
 * (0: no limit) for the notices of `network` to `owner`. */
PaNoticeLimit *pa_notice_limit_new (PaBridge *b, const char *owner, const char *network,
                                    guint burst, guint every_s);
/* Tells `text` to the owner now, or counts it as suppressed: the count is
 * told in one notice ("… and N more notices from <network> suppressed") as
 * soon as the bucket allows. */
void pa_notice_limit_post (PaNoticeLimit *lim, const char *text);
void pa_notice_limit_free (PaNoticeLimit *lim);

G_END_DECLS

#endif
