/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Where the worker executable (`passerelle-worker`) is: next to the
 * running passerelle binary (a build tree, a relocated install), else in
 * the libexec directory the bridge was built for. */
#ifndef PA_WORKER_LOCATE_H
#define PA_WORKER_LOCATE_H

#include <glib.h>

G_BEGIN_DECLS

/* `self_exe`: the running passerelle binary (NULL: /proc/self/exe).
 * Transfer full; NULL and `error` naming both places when neither has an
 * executable passerelle-worker. */
char *pa_worker_locate (const char *self_exe, GError **error);

G_END_DECLS

#endif
