/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * purple-xfer.c — file transfers both ways: received files are saved
 * under files/ in the data dir and bridged once libpurple has closed them;
 * media from Matrix is offered under the name the agent gave it and its op
 * answered when the transfer ends.
 *
 * Why apart: transfers outlive the callbacks that start them (signals,
 * idles, a pending op per file).
 */
#define G_LOG_DOMAIN "passerelle-purple"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <gio/gio.h>
#include <glib/gstdio.h>

#include "purple-common.h"
#include "purple-emit.h"
#include "purple-xfer.h"

/* libpurple offers a file under its local name, and the host's download
 * has a name of its own: the file is linked under the name the agent gave
 * it, alone in a directory (files/out-XXXXXX) removed when the transfer
 * ends.  Falls back to the download itself. */
static char *
pp_send_path (PaLogin *login, const PaContent *content)
{
  const char *shown = content->media_name != NULL ? content->media_name : content->text;
  g_autofree char *base = shown != NULL ? g_path_get_basename (shown) : NULL;
  if (base == NULL || *base == '\0' || strcmp (base, ".") == 0 || strcmp (base, "..") == 0
      || strchr (base, '/') != NULL)
    return g_strdup (content->media_path);
  g_autofree char *files = g_build_filename (login->data_dir, "files", NULL);
  g_autofree char *dir = g_build_filename (files, "out-XXXXXX", NULL);
  if (g_mkdir_with_parents (files, 0700) != 0 || g_mkdtemp (dir) == NULL)
    return g_strdup (content->media_path);
  char *path = g_build_filename (dir, base, NULL);
  if (link (content->media_path, path) == 0)
    return path;
  pp_log (login, PA_LOG_WARNING, "cannot link %s: %s", path, g_strerror (errno));
  g_rmdir (dir);
  g_free (path);
  return g_strdup (content->media_path);
}

/* Removes what pp_send_path made for `path`. */
static void
pp_send_path_done (PaLogin *login, const char *path)
{
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *parent = g_path_get_dirname (dir);
  g_autofree char *name = g_path_get_basename (dir);
  g_autofree char *files = g_build_filename (login->data_dir, "files", NULL);
  if (g_str_equal (parent, files) && g_str_has_prefix (name, "out-"))
    {
      g_unlink (path);
      g_rmdir (dir);
    }
}

static gboolean
pp_file_recv_accept (gpointer data)
{
  PurpleXfer *xfer = data;
  if (!purple_xfer_is_canceled (xfer) && purple_xfer_get_local_filename (xfer) != NULL)
    {
      /* (libpurple frees the old name before copying the new one) */
      g_autofree char *path = g_strdup (purple_xfer_get_local_filename (xfer));
      purple_xfer_request_accepted (xfer, path);
    }
  purple_xfer_unref (xfer);
  return G_SOURCE_REMOVE;
}

static void
pp_file_recv_request (PurpleXfer *xfer, gpointer data)
{
  PaLogin *login = data;
  if (purple_xfer_get_account (xfer) != login->account)
    return;
  gint64 budget = login->api->budget_left (login->host);
  goffset size = purple_xfer_get_size (xfer);
  if (budget >= 0 && size > budget)
    {
      g_autofree char *msg = g_strdup_printf (
          "%s offers the file %s (%" G_GOFFSET_FORMAT " bytes): more than this login's data "
          "budget has left.",
          purple_xfer_get_remote_user (xfer), purple_xfer_get_filename (xfer), size);
      login->api->notice (login->host, msg);
    }
  if ((gsize) size > PP_MAX_RECV_FILE || (budget >= 0 && size > budget))
    return; /* libpurple asks the agent (request_action) */
  g_autofree char *dir = g_build_filename (login->data_dir, "files", NULL);
  g_mkdir_with_parents (dir, 0700);
  const char *remote = purple_xfer_get_filename (xfer);
  g_autofree char *base = g_path_get_basename (remote != NULL ? remote : "file");
  if (strcmp (base, ".") == 0 || strcmp (base, "..") == 0 || strcmp (base, "/") == 0)
    g_free (g_steal_pointer (&base)), base = g_strdup ("file");
  g_autofree char *name = g_strdup_printf ("%" G_GINT64_FORMAT "-%s", g_get_real_time (), base);
  g_autofree char *path = g_build_filename (dir, name, NULL);
  /* With a local file name set here libpurple asks nothing, and accepts
   * nothing either: that is ours to do, once the signal is over. */
  purple_xfer_set_local_filename (xfer, path);
  purple_xfer_ref (xfer);
  g_idle_add (pp_file_recv_accept, xfer);
}

/* The received file is bridged from an idle: "file-recv-complete" comes
 * before libpurple flushes and closes it (purple_xfer_end). */
static gboolean
pp_file_recv_emit (gpointer data)
{
  PurpleXfer *xfer = data;
  PaLogin *login = pp_self;
  const char *path = purple_xfer_get_local_filename (xfer);
  if (login == NULL || login->quitting || path == NULL)
    {
      purple_xfer_unref (xfer);
      return G_SOURCE_REMOVE;
    }
  g_autofree char *chat_id = pp_norm (login, purple_xfer_get_remote_user (xfer));
  g_autofree char *ctype = g_content_type_guess (purple_xfer_get_filename (xfer), NULL, 0, NULL);
  g_autofree char *mime = g_content_type_get_mime_type (ctype);
  PaContent content = {
    .struct_size = sizeof (PaContent),
    .kind = pp_kind_for_mime (mime),
    .media_path = path,
    .media_name = purple_xfer_get_filename (xfer),
    .mimetype = mime,
    .media_size = purple_xfer_get_size (xfer),
  };
  PurpleConversation *conv
      = purple_find_conversation_with_account (PURPLE_CONV_TYPE_IM, chat_id, login->account);
  if (conv == NULL)
    conv = purple_conversation_new (PURPLE_CONV_TYPE_IM, login->account, chat_id);
  gint64 now = pp_now_ms ();
  /* Once emitted, the file is the host's (it deletes it after the upload);
   * a refused event leaves it ours to remove. */
  if (pp_emit_message (login, conv, chat_id, chat_id, NULL, now, now / 1000, &content, path) == 0)
    g_unlink (path);
  purple_xfer_unref (xfer);
  return G_SOURCE_REMOVE;
}

static void
pp_file_recv_complete (PurpleXfer *xfer, gpointer data)
{
  PaLogin *login = data;
  if (purple_xfer_get_account (xfer) != login->account || login->quitting
      || purple_xfer_get_local_filename (xfer) == NULL)
    return;
  purple_xfer_ref (xfer);
  g_idle_add (pp_file_recv_emit, xfer);
}

static void
pp_file_send_done (PurpleXfer *xfer, gboolean ok)
{
  PaLogin *login = pp_self;
  if (login == NULL || purple_xfer_get_local_filename (xfer) == NULL)
    return;
  const char *path = purple_xfer_get_local_filename (xfer);
  guint64 *op = g_hash_table_lookup (login->send_ops, path);
  if (op == NULL)
    return;
  if (ok)
    {
      gint64 now = pp_now_ms ();
      g_autofree char *id = pp_message_id (login, purple_xfer_get_remote_user (xfer),
                                           login->self_id, now / 1000, path);
      pp_op_ok (login, *op, id, now);
    }
  else if (purple_xfer_get_status (xfer) == PURPLE_XFER_STATUS_CANCEL_REMOTE)
    pp_op_fail (login, *op, PA_RESULT_PERMANENT, "The contact declined or cancelled the file");
  else
    pp_op_fail (login, *op, PA_RESULT_PERMANENT, "The file transfer was cancelled or failed");
  pp_send_path_done (login, path);
  g_hash_table_remove (login->send_ops, path);
}

static void
pp_file_send_complete (PurpleXfer *xfer, gpointer data)
{
  pp_file_send_done (xfer, TRUE);
}

static void
pp_file_send_cancel (PurpleXfer *xfer, gpointer data)
{
  pp_file_send_done (xfer, FALSE);
}

void
pp_send_file (PaLogin *login, guint64 op_id, const char *chat_id, const PaContent *content)
{
  PurpleConnection *gc = pp_gc (login);
  PurplePluginProtocolInfo *info = PURPLE_PLUGIN_PROTOCOL_INFO (purple_connection_get_prpl (gc));
  if (pp_find_chat (login, chat_id) != NULL || info->send_file == NULL)
    {
      pp_op_fail (login, op_id, PA_RESULT_UNSUPPORTED,
                  "Files cannot be sent in this chat on this network");
      return;
    }
  /* A file goes to a connected client (XMPP: to one of its resources):
   * to an offline contact the prpl only shows an error and never ends the
   * transfer, so the operation would stay unanswered. */
  PurpleBuddy *buddy = purple_find_buddy (login->account, chat_id);
  if (buddy == NULL && pp_is_jabber (login) && strchr (chat_id, '/') == NULL)
    {
      g_autofree char *msg = g_strdup_printf (
          "%s is not in your contacts: files can only be sent to a contact who is online", chat_id);
      pp_op_fail (login, op_id, PA_RESULT_NOT_FOUND, msg);
      return;
    }
  if (buddy != NULL && !PURPLE_BUDDY_IS_ONLINE (buddy))
    {
      g_autofree char *msg = g_strdup_printf (
          "%s is offline: files can only be sent to a contact who is online", chat_id);
      pp_op_fail (login, op_id, PA_RESULT_PERMANENT, msg);
      return;
    }
  if (info->can_receive_file != NULL && !info->can_receive_file (gc, chat_id))
    {
      pp_op_fail (login, op_id, PA_RESULT_UNSUPPORTED,
                  "This contact cannot receive files on this network");
      return;
    }
  g_autofree char *path = pp_send_path (login, content);
  if (g_hash_table_contains (login->send_ops, path))
    {
      pp_op_fail (login, op_id, PA_RESULT_PERMANENT, "This file is already being sent");
      return;
    }
  g_hash_table_insert (login->send_ops, g_strdup (path), pp_u64_dup (op_id));
  serv_send_file (gc, chat_id, path);
}

void
pp_xfer_connect_signals (PaLogin *login)
{
  void *xfers = purple_xfers_get_handle ();
  pp_connect_signal (login, xfers, "file-recv-request", PURPLE_CALLBACK (pp_file_recv_request));
  pp_connect_signal (login, xfers, "file-recv-complete", PURPLE_CALLBACK (pp_file_recv_complete));
  pp_connect_signal (login, xfers, "file-send-complete", PURPLE_CALLBACK (pp_file_send_complete));
  pp_connect_signal (login, xfers, "file-send-cancel", PURPLE_CALLBACK (pp_file_send_cancel));
}
