/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Worker mode's entry point: `passerelle-worker …` runs one plugin for
 * one login (or one import job) in this process; `--describe` prints a
 * plugin's hello and exits, so the host learns about plugins without
 * loading their code.  The rest of the worker is below this file:
 * dispatch (host frames → plugin), ops, api (plugin → host), loop, link. */
#define G_LOG_DOMAIN "passerelle-worker"

#include "worker/pa-worker-main.h"
#include "pa-common.h"
#include "wire/pa-wire.h"
#include "worker/pa-plugin-loader.h"
#include "worker/pa-worker-api.h"
#include "worker/pa-worker-dispatch.h"
#include "worker/pa-worker-link.h"
#include "worker/pa-worker-sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------ entry */

static int
run_describe (const char *path, PaSandboxMode mode)
{
  /* Plugin constructors run at load: sandboxed like a login's worker,
   * with no data dir at all. */
  pa_worker_sandbox_close_fds (-1);
  /* Plugin constructors (a Go runtime, a chatty library) and GLib's own
   * messages (G_MESSAGES_DEBUG sends debug and info to stdout) may print:
   * point fd 1 at stderr before anything logs, and write the hello on the
   * saved original. */
  fflush (stdout);
  int real_stdout = fcntl (STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
  if (real_stdout < 0 || dup2 (STDERR_FILENO, STDOUT_FILENO) < 0)
    {
      g_printerr ("cannot redirect stdout: %s\n", g_strerror (errno));
      return 1;
    }
  g_autoptr (GError) sandbox_error = NULL;
  if (!pa_worker_sandbox_apply (mode, path, NULL, NULL, &sandbox_error))
    {
      g_printerr ("%s\n", sandbox_error->message);
      close (real_stdout);
      return PA_WORKER_EXIT_SANDBOX;
    }
  g_autoptr (GError) error = NULL;
  g_autoptr (PaPluginHandle) plugin = pa_plugin_load (path, &error);
  if (plugin == NULL)
    {
      g_printerr ("%s\n", error->message);
      close (real_stdout);
      return 1;
    }
  g_autoptr (json_t) hello = pa_wire_hello (pa_plugin_handle_network (plugin));
  g_autofree char *text = json_dumps (hello, JSON_COMPACT);
  if (text == NULL)
    {
      g_printerr ("cannot serialise the hello of %s\n", path);
      close (real_stdout);
      return 1;
    }
  gsize len = strlen (text), done = 0;
  while (done < len)
    {
      ssize_t n = write (real_stdout, text + done, len - done);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          g_printerr ("cannot write the description: %s\n", g_strerror (errno));
          close (real_stdout);
          return 1;
        }
      done += (gsize) n;
    }
  return close (real_stdout) == 0 ? 0 : 1;
}

static int
run_worker (const char *plugin_path, const char *const *data_dirs, int fd, PaSandboxMode mode,
            const char *const *read_paths)
{
  /* The host may die without closing anything cleanly (SIGKILL, OOM). */
  if (prctl (PR_SET_PDEATHSIG, SIGKILL) != 0)
    g_warning ("prctl(PR_SET_PDEATHSIG): %s", g_strerror (errno));
  signal (SIGPIPE, SIG_IGN);

  struct stat st;
  if (fstat (fd, &st) != 0 || !S_ISSOCK (st.st_mode))
    {
      g_printerr ("--fd %d is not a socket\n", fd);
      return PA_WORKER_EXIT_USAGE;
    }
  /* Children the plugin spawns must not hold the host's socket open. */
  if (fcntl (fd, F_SETFD, FD_CLOEXEC) != 0)
    g_warning ("fcntl(FD_CLOEXEC): %s", g_strerror (errno));
  g_autoptr (GError) error = NULL;

  /* Before any plugin code: nothing of the host's is left open, and the
   * sandbox is on (docs/hardening.md, "Worker sandbox"). */
  guint inherited = pa_worker_sandbox_close_fds (fd);
  if (inherited > 0)
    g_warning ("closed %u descriptors inherited from the host", inherited);
  /* One data dir per login the process hosts (a shared worker has several,
   * all known before the sandbox closes: docs/worker-protocol.md). */
  for (gsize i = 0; data_dirs[i] != NULL; i++)
    {
      g_autofree char *tmp = g_build_filename (data_dirs[i], "tmp", NULL);
      if (g_mkdir_with_parents (tmp, 0700) != 0)
        g_warning ("cannot create %s: %s", tmp, g_strerror (errno));
    }
  if (!pa_worker_sandbox_apply (mode, plugin_path, data_dirs, read_paths, &error))
    {
      g_printerr ("%s\n", error->message);
      return PA_WORKER_EXIT_SANDBOX;
    }

  /* Owned by this thread for the process's life: g_main_context_invoke
   * from a plugin thread then always defers to the main thread. */
  g_main_context_acquire (g_main_context_default ());

  PaPluginHandle *plugin = pa_plugin_load (plugin_path, &error);
  if (plugin == NULL)
    {
      g_printerr ("%s\n", error->message);
      return PA_WORKER_EXIT_LOAD;
    }

  PaHost *h = g_new0 (PaHost, 1);
  h->plugin = plugin;
  h->net = pa_plugin_handle_network (plugin);
  h->ops = h->net->login_ops;
  h->display_name = pa_plugin_handle_display_name (plugin);
  h->data_dir = g_canonicalize_filename (data_dirs[0], NULL);
  h->data_dirs = g_new0 (char *, g_strv_length ((char **) data_dirs) + 1);
  for (gsize i = 0; data_dirs[i] != NULL; i++)
    h->data_dirs[i] = g_canonicalize_filename (data_dirs[i], NULL);
  h->logins = g_hash_table_new (g_str_hash, g_str_equal);
  h->main_thread = g_thread_self ();
  h->data_budget = -1;
  atomic_init (&h->seq, 0);
  g_mutex_init (&h->meta_lock);
  h->meta = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  pa_worker_api_fill (h);

  pa_worker_link_open (h, fd, pa_worker_dispatch_frame);
  pa_worker_link_submit (h, pa_wire_hello (h->net));

  /* Runs until a handler exits the process (shutdown, EOF, error). */
  g_autoptr (GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_main_loop_run (loop);
  return 0;
}

/* See pa-worker-main.h.  Accepts (and ignores) a --worker flag: the host
 * tests' stand-in worker is started with it. */
int
pa_worker_main (int argc, char **argv)
{
  gboolean worker = FALSE;
  g_autofree char *plugin = NULL;
  g_auto (GStrv) data_dirs = NULL;
  g_autofree char *describe = NULL;
  int fd = -1;
  /* Whatever the plugin writes (sessions, credentials, media) is for this
   * user only: files 0600, directories 0700 (docs/hardening.md). */
  umask (077);
  g_autofree char *sandbox = NULL;
  g_auto (GStrv) sandbox_read = NULL;
  const GOptionEntry entries[] = {
    { "worker", 0, 0, G_OPTION_ARG_NONE, &worker, "Run as a plugin worker", NULL },
    { "plugin", 0, 0, G_OPTION_ARG_FILENAME, &plugin, "Plugin to load", "PATH" },
    { "data-dir", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &data_dirs,
      "A login's private directory (repeatable: one per login of a shared worker)", "DIR" },
    { "fd", 0, 0, G_OPTION_ARG_INT, &fd, "Socket connected to the host", "N" },
    { "describe", 0, 0, G_OPTION_ARG_FILENAME, &describe, "Print a plugin's hello and exit",
      "PATH" },
    { "sandbox", 0, 0, G_OPTION_ARG_STRING, &sandbox, "required, best_effort (the default) or off",
      "MODE" },
    { "sandbox-read", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &sandbox_read,
      "Also readable inside the sandbox (repeatable)", "PATH" },
    { NULL, 0, 0, 0, NULL, NULL, NULL },
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("- passerelle plugin worker");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_set_help_enabled (ctx, TRUE);
  g_auto (GStrv) args = g_new0 (char *, (gsize) MAX (argc, 0) + 1);
  for (int i = 0; i < argc; i++)
    args[i] = g_strdup (argv[i]);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse_strv (ctx, &args, &error))
    {
      g_printerr ("passerelle-worker: %s\n", error->message);
      return PA_WORKER_EXIT_USAGE;
    }
  if (args[0] != NULL && args[1] != NULL)
    {
      g_printerr ("passerelle-worker: unexpected argument %s\n", args[1]);
      return PA_WORKER_EXIT_USAGE;
    }
  PaSandboxMode mode = PA_SANDBOX_BEST_EFFORT;
  if (sandbox != NULL && !pa_worker_sandbox_parse_mode (sandbox, &mode))
    {
      g_printerr ("passerelle-worker: --sandbox must be required, best_effort or off\n");
      return PA_WORKER_EXIT_USAGE;
    }
  if (describe != NULL)
    return run_describe (describe, mode);
  if (plugin == NULL || data_dirs == NULL || data_dirs[0] == NULL || fd < 0)
    {
      g_printerr ("passerelle-worker: --plugin, --data-dir and --fd are required\n");
      return PA_WORKER_EXIT_USAGE;
    }
  return run_worker (plugin, (const char *const *) data_dirs, fd, mode,
                     (const char *const *) sandbox_read);
}
