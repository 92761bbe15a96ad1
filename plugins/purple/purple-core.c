/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * purple-core.c — libpurple's process-wide start: its user directory, the
 * event loop on the worker's GMainContext, the UI op tables, GStreamer kept
 * out, libpurple's symbols made global for the prpl modules.
 *
 * Why apart: libpurple is process-global and starts once; network init
 * calls this, the logins never do.
 */
#define G_LOG_DOMAIN "passerelle-purple"

#include <dlfcn.h>
#include <signal.h>

#include "purple-common.h"
#include "purple-contacts.h"
#include "purple-convs.h"
#include "purple-core.h"
#include "purple-login.h"
#include "purple-notify.h"
#include "purple-requests.h"

static gboolean pp_core_started; /* libpurple cannot be initialized twice */

typedef struct
{
  PurpleInputFunction func;
  gpointer data;
  guint id;
} PpInput;

static gboolean
pp_io_cb (GIOChannel *ch, GIOCondition cond, gpointer data)
{
  PpInput *in = data;
  int cnd = 0;
  if (cond & (G_IO_IN | G_IO_HUP | G_IO_ERR | G_IO_NVAL))
    cnd |= PURPLE_INPUT_READ;
  if (cond & (G_IO_OUT | G_IO_HUP | G_IO_ERR | G_IO_NVAL))
    cnd |= PURPLE_INPUT_WRITE;
  in->func (in->data, g_io_channel_unix_get_fd (ch), (PurpleInputCondition) cnd);
  return TRUE;
}

static guint
pp_input_add (gint fd, PurpleInputCondition cond, PurpleInputFunction func, gpointer data)
{
  PpInput *in = g_new0 (PpInput, 1);
  in->func = func;
  in->data = data;
  GIOCondition c = 0;
  if (cond & PURPLE_INPUT_READ)
    c |= G_IO_IN | G_IO_HUP | G_IO_ERR;
  if (cond & PURPLE_INPUT_WRITE)
    c |= G_IO_OUT | G_IO_HUP | G_IO_ERR | G_IO_NVAL;
  GIOChannel *ch = g_io_channel_unix_new (fd);
  in->id = g_io_add_watch_full (ch, G_PRIORITY_DEFAULT, c, pp_io_cb, in, g_free);
  g_io_channel_unref (ch);
  return in->id;
}

static PurpleEventLoopUiOps pp_loop_ops = {
  .timeout_add = g_timeout_add,
  .timeout_remove = g_source_remove,
  .input_add = pp_input_add,
  .input_remove = g_source_remove,
  .input_get_error = NULL,
  .timeout_add_seconds = g_timeout_add_seconds,
};

static void
pp_ui_init (void)
{
  purple_conversations_set_ui_ops (&pp_conv_ops);
  purple_connections_set_ui_ops (&pp_connection_ops);
  purple_accounts_set_ui_ops (&pp_account_ops);
  purple_request_set_ui_ops (&pp_request_ops);
  purple_notify_set_ui_ops (&pp_notify_ops);
}

static PurpleCoreUiOps pp_core_ops = {
  .ui_init = pp_ui_init,
};

gboolean
pp_core_init (PaHost *host, const PaHostApi *api, const char *user_dir, GError **error)
{
  if (pp_core_started)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_EXISTS,
                           "libpurple is already running in this process (one login per worker)");
      return FALSE;
    }
  pp_core_started = TRUE;
  /* libpurple starts GStreamer for voice and video, which Passerelle does not
   * bridge; its plugin registry alone maps ~60 MB (Vulkan, LLVM).  Give it no
   * plugins and a registry of its own. */
  g_autofree char *gst_registry = g_build_filename (user_dir, "gst-registry.bin", NULL);
  g_setenv ("GST_PLUGIN_SYSTEM_PATH_1_0", "", FALSE);
  g_setenv ("GST_PLUGIN_PATH_1_0", "", FALSE);
  g_setenv ("GST_REGISTRY_1_0", gst_registry, FALSE);
  /* The worker loads us RTLD_LOCAL, but prpl modules (libjabber, libirc…)
   * expect libpurple's symbols in the global scope: promote it.  The handle
   * is never closed. */
  Dl_info dli;
  if (dladdr ((void *) purple_core_init, &dli) == 0 || dli.dli_fname == NULL
      || dlopen (dli.dli_fname, RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD) == NULL)
    {
      g_autofree char *msg = g_strdup_printf ("cannot make libpurple global: %s", dlerror ());
      api->log (host, PA_LOG_WARNING, msg);
    }
  /* libpurple's DNS resolver forks helpers; nobody waits for them. */
  signal (SIGCHLD, SIG_IGN);
  purple_util_set_user_dir (user_dir);
  purple_debug_set_enabled (g_getenv ("PA_PURPLE_DEBUG") != NULL);
  purple_core_set_ui_ops (&pp_core_ops);
  purple_eventloop_set_ui_ops (&pp_loop_ops);
  if (!purple_core_init (PP_UI_ID))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, "libpurple failed to start");
      return FALSE;
    }
  purple_set_blist (purple_blist_new ());
  purple_blist_load ();
  purple_prefs_load ();
  /* Logs and sounds are a desktop client's business. */
  purple_prefs_set_bool ("/purple/logging/log_ims", FALSE);
  purple_prefs_set_bool ("/purple/logging/log_chats", FALSE);
  purple_prefs_set_bool ("/purple/logging/log_system", FALSE);
  purple_savedstatus_activate (purple_savedstatus_new (NULL, PURPLE_STATUS_AVAILABLE));
  return TRUE;
}
