/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The worker's sandbox (pa-worker-sandbox.h): Landlock rules built from a
 * fixed, documented list of system paths plus the plugin's folder and the
 * login's data dir, applied by the worker to itself before the plugin is
 * loaded.  Raw syscalls: the C library has no wrappers, and the headers of
 * older distributions lack the newer rights, which are defined here and
 * masked off at run time when the kernel's ABI does not know them (the
 * best-effort pattern of the kernel's Landlock documentation). */
#define G_LOG_DOMAIN "passerelle-worker"

#include "worker/pa-worker-sandbox.h"
#include "pa-common.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Rights newer than some distributions' <linux/landlock.h>. */
#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER (1ULL << 13)
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15)
#endif
#define SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0)
#define SCOPE_SIGNAL (1ULL << 1)

/* struct landlock_ruleset_attr as of ABI 6 (the kernel accepts the larger
 * struct from an older ABI as long as the members it does not know are 0). */
typedef struct
{
  guint64 handled_access_fs;
  guint64 handled_access_net;
  guint64 scoped;
} RulesetAttr;

#define FS_RO                                                                                      \
  (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)
/* The data dir: everything but running files from it and device nodes. */
#define FS_RW                                                                                      \
  (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR | LANDLOCK_ACCESS_FS_WRITE_FILE      \
   | LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_DIR  \
   | LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO     \
   | LANDLOCK_ACCESS_FS_MAKE_SYM | LANDLOCK_ACCESS_FS_REFER | LANDLOCK_ACCESS_FS_TRUNCATE)
#define FS_DEV_RW                                                                                  \
  (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_TRUNCATE)
/* The rights a rule on a file (not a directory) may carry. */
#define FS_FILE                                                                                    \
  (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_READ_FILE       \
   | LANDLOCK_ACCESS_FS_TRUNCATE | LANDLOCK_ACCESS_FS_IOCTL_DEV)

/* What a plugin may read besides its own folder: the libraries and data of
 * the system, and the few files of /etc that name resolution, TLS, time
 * zones and user lookups read.  Not /etc as a whole (a host installed
 * from a package keeps its config in /etc/passerelle), not /tmp, /home,
 * /var or /run (but systemd-resolved's resolv.conf).  A missing path is
 * skipped.  Of /proc, only the worker's own directory (/proc/self,
 * resolved to /proc/<pid> when the rule is made: C runtimes read their
 * maps, fds and limits there) and a few system-wide files are readable:
 * not /proc as a whole, since Landlock does not stop a sandboxed process
 * from reading /proc/<pid>/environ of another process of the same user
 * (only ptrace-attach-class accesses such as /proc/<pid>/mem).  A process
 * the plugin spawns has no /proc/self of its own. */
static const struct
{
  const char *path;
  guint64 access;
} system_paths[] = {
  { "/usr", FS_RO },
  { "/lib", FS_RO },
  { "/lib64", FS_RO },
  { "/lib32", FS_RO },
  { "/bin", FS_RO },
  { "/sbin", FS_RO },
  { "/etc/ld.so.cache", FS_RO },
  { "/etc/ld.so.conf", FS_RO },
  { "/etc/ld.so.conf.d", FS_RO },
  { "/etc/resolv.conf", FS_RO },
  { "/etc/hosts", FS_RO },
  { "/etc/host.conf", FS_RO },
  { "/etc/nsswitch.conf", FS_RO },
  { "/etc/gai.conf", FS_RO },
  { "/etc/services", FS_RO },
  { "/etc/protocols", FS_RO },
  { "/etc/passwd", FS_RO },
  { "/etc/group", FS_RO },
  { "/etc/localtime", FS_RO },
  { "/etc/timezone", FS_RO },
  { "/etc/mime.types", FS_RO },
  { "/etc/ssl", FS_RO },
  { "/etc/ca-certificates", FS_RO },
  { "/etc/pki", FS_RO },
  { "/etc/crypto-policies", FS_RO },
  { "/etc/gnutls", FS_RO },
  { "/run/systemd/resolve", FS_RO },
  { "/proc/self", LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR },
  { "/proc/meminfo", LANDLOCK_ACCESS_FS_READ_FILE },
  { "/proc/cpuinfo", LANDLOCK_ACCESS_FS_READ_FILE },
  { "/proc/stat", LANDLOCK_ACCESS_FS_READ_FILE },
  { "/proc/filesystems", LANDLOCK_ACCESS_FS_READ_FILE },
  { "/proc/sys/kernel/random", LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR },
  { "/proc/sys/vm/overcommit_memory", LANDLOCK_ACCESS_FS_READ_FILE },
  { "/sys/devices/system/cpu", LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR },
  { "/dev/null", FS_DEV_RW },
  { "/dev/zero", LANDLOCK_ACCESS_FS_READ_FILE },
  { "/dev/random", LANDLOCK_ACCESS_FS_READ_FILE },
  { "/dev/urandom", LANDLOCK_ACCESS_FS_READ_FILE },
};

gboolean
pa_worker_sandbox_parse_mode (const char *text, PaSandboxMode *out)
{
  if (g_strcmp0 (text, "off") == 0)
    *out = PA_SANDBOX_OFF;
  else if (g_strcmp0 (text, "best_effort") == 0)
    *out = PA_SANDBOX_BEST_EFFORT;
  else if (g_strcmp0 (text, "required") == 0)
    *out = PA_SANDBOX_REQUIRED;
  else
    return FALSE;
  return TRUE;
}

guint
pa_worker_sandbox_close_fds (int keep_fd)
{
  /* /proc/self/fd names what is open (for the log); without /proc,
   * close_range(2) closes blindly. */
  DIR *d = opendir ("/proc/self/fd");
  if (d == NULL)
    {
      if (keep_fd > 3)
        syscall (SYS_close_range, 3u, (unsigned) keep_fd - 1, 0u);
      syscall (SYS_close_range, (unsigned) MAX (keep_fd + 1, 3), ~0u, 0u);
      return 0;
    }
  int dfd = dirfd (d);
  g_autoptr (GArray) fds = g_array_new (FALSE, FALSE, sizeof (int));
  struct dirent *e;
  while ((e = readdir (d)) != NULL)
    {
      gint64 n;
      if (!g_ascii_string_to_signed (e->d_name, 10, 0, G_MAXINT, &n, NULL))
        continue;
      int fd = (int) n;
      if (fd > 2 && fd != keep_fd && fd != dfd)
        g_array_append_val (fds, fd);
    }
  closedir (d);
  for (guint i = 0; i < fds->len; i++)
    close (g_array_index (fds, int, i));
  return fds->len;
}

static int
ll_create (const RulesetAttr *attr, gsize size, guint32 flags)
{
  return (int) syscall (SYS_landlock_create_ruleset, attr, size, flags);
}

/* Add one path with `access` (masked to what the ABI handles, and to
 * file rights on a file).  A missing path is skipped quietly. */
static void
add_path (int ruleset, const char *path, guint64 access, guint64 handled)
{
  int fd = open (path, O_PATH | O_CLOEXEC);
  if (fd < 0)
    {
      if (errno != ENOENT && errno != ENOTDIR)
        g_warning ("sandbox: cannot open %s: %s", path, g_strerror (errno));
      return;
    }
  struct stat st;
  if (fstat (fd, &st) == 0 && !S_ISDIR (st.st_mode))
    access &= FS_FILE;
  struct landlock_path_beneath_attr rule = { .allowed_access = access & handled, .parent_fd = fd };
  if (rule.allowed_access != 0
      && syscall (SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &rule, 0) != 0)
    g_warning ("sandbox: cannot allow %s: %s", path, g_strerror (errno));
  close (fd);
}

/* The handled rights and scopes of Landlock ABI `abi`. */
static void
abi_attr (int abi, RulesetAttr *attr)
{
  attr->handled_access_fs
      = FS_RO | FS_RW | FS_FILE | LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_BLOCK;
  attr->handled_access_net = 0; /* the network stays open: plugins need it */
  attr->scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL;
  if (abi < 2)
    attr->handled_access_fs &= ~LANDLOCK_ACCESS_FS_REFER;
  if (abi < 3)
    attr->handled_access_fs &= ~LANDLOCK_ACCESS_FS_TRUNCATE;
  if (abi < 5)
    attr->handled_access_fs &= ~LANDLOCK_ACCESS_FS_IOCTL_DEV;
  if (abi < 6)
    attr->scoped = 0;
}

static gboolean
unavailable (PaSandboxMode mode, const char *why, GError **error)
{
  if (mode == PA_SANDBOX_REQUIRED)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_FAILED,
                   "workers.sandbox is \"required\" but the sandbox cannot be applied: %s", why);
      return FALSE;
    }
  g_warning ("WORKER NOT SANDBOXED: %s; this plugin can read every file the host can "
             "(set workers.sandbox: required to refuse running like this)",
             why);
  return TRUE;
}

gboolean
pa_worker_sandbox_apply (PaSandboxMode mode, const char *plugin_path, const char *const *data_dirs,
                         const char *const *read_paths, GError **error)
{
  if (mode == PA_SANDBOX_OFF)
    return TRUE;
  /* Needed by an unprivileged landlock_restrict_self, and keeps set-uid
   * programs a plugin might run from gaining anything. */
  if (prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
    {
      g_autofree char *why = g_strdup_printf ("prctl(PR_SET_NO_NEW_PRIVS): %s", g_strerror (errno));
      return unavailable (mode, why, error);
    }
  int abi = ll_create (NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
  if (abi < 1)
    {
      g_autofree char *why
          = g_strdup_printf ("this kernel has no Landlock (%s)",
                             errno == EOPNOTSUPP ? "disabled at boot" : g_strerror (errno));
      return unavailable (mode, why, error);
    }
  RulesetAttr attr;
  abi_attr (abi, &attr);
  int ruleset = ll_create (&attr, sizeof attr, 0);
  if (ruleset < 0)
    {
      g_autofree char *why = g_strdup_printf ("landlock_create_ruleset: %s", g_strerror (errno));
      return unavailable (mode, why, error);
    }
  guint64 handled = attr.handled_access_fs;
  for (gsize i = 0; i < G_N_ELEMENTS (system_paths); i++)
    add_path (ruleset, system_paths[i].path, system_paths[i].access, handled);
  /* The plugin's folder, where it really is (the plugin dir may hold a
   * link to it): the .so and whatever it ships next to it. */
  g_autofree char *real_plugin = realpath (plugin_path, NULL);
  g_autofree char *plugin_dir = g_path_get_dirname (real_plugin ? real_plugin : plugin_path);
  add_path (ruleset, plugin_dir, FS_RO, handled);
  for (gsize i = 0; read_paths != NULL && read_paths[i] != NULL; i++)
    add_path (ruleset, read_paths[i], LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR,
              handled);
  for (gsize i = 0; data_dirs != NULL && data_dirs[i] != NULL; i++)
    add_path (ruleset, data_dirs[i], FS_RW, handled);
  int rc = (int) syscall (SYS_landlock_restrict_self, ruleset, 0u);
  int e = errno;
  close (ruleset);
  if (rc != 0)
    {
      g_autofree char *why = g_strdup_printf ("landlock_restrict_self: %s", g_strerror (e));
      return unavailable (mode, why, error);
    }
  g_debug ("sandboxed with Landlock ABI %d%s", abi,
           attr.scoped != 0 ? " (signals and abstract sockets scoped)" : "");
  return TRUE;
}
