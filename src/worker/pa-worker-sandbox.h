/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The worker's sandbox: what a worker process applies to itself right
 * after it starts and before any plugin code is loaded, so that a plugin
 * (or a memory bug in a library parsing what strangers send) can reach
 * only its own data dir, the plugin and the system files it needs, never
 * the host's config, store, other logins' data or the host's process.
 * Landlock (raw syscalls, best effort across ABI versions) and
 * PR_SET_NO_NEW_PRIVS; docs/hardening.md, "Worker sandbox". */
#ifndef PA_WORKER_SANDBOX_H
#define PA_WORKER_SANDBOX_H

#include <glib.h>

G_BEGIN_DECLS

typedef enum
{
  PA_SANDBOX_OFF,         /* nothing applied */
  PA_SANDBOX_BEST_EFFORT, /* applied where the kernel can; a loud warning otherwise */
  PA_SANDBOX_REQUIRED,    /* the worker refuses to run without Landlock */
} PaSandboxMode;

/* "off", "best_effort" or "required" (workers.sandbox in config.yaml). */
gboolean pa_worker_sandbox_parse_mode (const char *text, PaSandboxMode *out);

/* Close every descriptor but 0, 1, 2 and `keep_fd` (the channel to the
 * host; -1 for none): the host's open files never reach plugin code.
 * Returns how many were closed. */
guint pa_worker_sandbox_close_fds (int keep_fd);

/* Apply the sandbox: read and execute on the plugin's folder, the system
 * folders of the fixed list (pa-worker-sandbox.c) and `read_paths`; read
 * and write on the `data_dirs` (NULL-terminated: one per login the process
 * hosts; NULL for --describe); nothing else.  FALSE (with `error`) only
 * when `mode` is REQUIRED and the kernel cannot. */
gboolean pa_worker_sandbox_apply (PaSandboxMode mode, const char *plugin_path,
                                  const char *const *data_dirs, const char *const *read_paths,
                                  GError **error);

G_END_DECLS

#endif
