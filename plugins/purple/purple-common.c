/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * purple-common.c — the helpers every part of the plugin shares: logging,
 * answering operations with a typed result, private files, and the ids of
 * the account's names (normalized by its prpl), chats and chat members.
 *
 * Why apart: every other file needs them and they need none of those, so
 * this is the bottom of the plugin's call graph.
 */
#define G_LOG_DOMAIN "passerelle-purple"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "purple-private.h"
#include "purple-common.h"

PaLogin *pp_self;

static int pp_signal_owner; /* its address owns our libpurple signal handlers */

void *
pp_signal_handle (void)
{
  return &pp_signal_owner;
}

void
pp_connect_signal (PaLogin *login, void *instance, const char *name, PurpleCallback cb)
{
  /* An unknown signal name yields 0: that is a programming error here. */
  if (purple_signal_connect (instance, name, pp_signal_handle (), cb, login) == 0)
    pp_log (login, PA_LOG_ERROR, "libpurple has no signal %s", name);
}

char *
pp_c_strdup (const char *s)
{
  size_t n = strlen (s) + 1;
  char *p = malloc (n);
  if (p != NULL)
    memcpy (p, s, n);
  return p;
}

void
pp_log (PaLogin *login, PaLogLevel level, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  login->api->log (login->host, level, msg);
}

gint64
pp_now_ms (void)
{
  return g_get_real_time () / 1000;
}

void
pp_op_fail (PaLogin *login, guint64 op_id, PaResultCode code, const char *error)
{
  PaOpResult r = {
    .struct_size = sizeof (PaOpResult),
    .code = code,
    .error = error,
  };
  login->api->op_result (login->host, op_id, &r);
}

void
pp_op_ok (PaLogin *login, guint64 op_id, const char *legacy_id, gint64 ts_ms)
{
  PaOpResult r = {
    .struct_size = sizeof (PaOpResult),
    .code = PA_RESULT_OK,
    .legacy_id = legacy_id,
    .legacy_ts_ms = ts_ms,
  };
  login->api->op_result (login->host, op_id, &r);
}

PaResultCode
pp_result_for_errno (int e)
{
  switch (e)
    {
    case ENOTCONN:
      return PA_RESULT_NOT_CONNECTED;
    case E2BIG:
    case EMSGSIZE:
    case EFBIG:
      return PA_RESULT_TOO_LARGE;
    case ENOTSUP:
#if EOPNOTSUPP != ENOTSUP
    case EOPNOTSUPP:
#endif
    case ENOSYS:
      return PA_RESULT_UNSUPPORTED;
    case ENOENT:
    case ENXIO:
      return PA_RESULT_NOT_FOUND;
    case EPERM:
    case EACCES:
      return PA_RESULT_FORBIDDEN;
    case EAGAIN:
    case EINTR:
    case ETIMEDOUT:
    case ENETDOWN:
    case ENETUNREACH:
    case EHOSTUNREACH:
    case ECONNRESET:
    case ECONNREFUSED:
    case ENOBUFS:
      return PA_RESULT_TEMPORARY;
    default:
      return PA_RESULT_PERMANENT;
    }
}

PaResultCode
pp_result_for_error (const GError *error)
{
  if (error == NULL || error->domain != G_IO_ERROR)
    return PA_RESULT_PERMANENT;
  switch (error->code)
    {
    case G_IO_ERROR_NOT_CONNECTED:
      return PA_RESULT_NOT_CONNECTED;
    case G_IO_ERROR_NOT_SUPPORTED:
      return PA_RESULT_UNSUPPORTED;
    case G_IO_ERROR_NOT_FOUND:
    case G_IO_ERROR_INVALID_ARGUMENT:
      return PA_RESULT_NOT_FOUND;
    case G_IO_ERROR_MESSAGE_TOO_LARGE:
      return PA_RESULT_TOO_LARGE;
    default:
      return PA_RESULT_PERMANENT;
    }
}

guint64 *
pp_u64_dup (guint64 v)
{
  guint64 *p = g_new (guint64, 1);
  *p = v;
  return p;
}

void
pp_wipe_free (char *s)
{
  if (s == NULL)
    return;
  explicit_bzero (s, strlen (s));
  g_free (s);
}

gboolean
pp_write_private (const char *path, const void *data, gsize len, GError **error)
{
  g_autofree char *tmp = g_strdup_printf ("%s.tmp", path);
  int fd = g_open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    {
      int e = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e), "%s: %s", tmp, g_strerror (e));
      return FALSE;
    }
  const char *p = data;
  gsize left = len;
  while (left > 0)
    {
      ssize_t n = write (fd, p, left);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          int e = errno;
          close (fd);
          g_unlink (tmp);
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e), "%s: %s", tmp, g_strerror (e));
          return FALSE;
        }
      p += n;
      left -= (gsize) n;
    }
  if (fsync (fd) != 0 || close (fd) != 0 || g_rename (tmp, path) != 0)
    {
      int e = errno;
      g_unlink (tmp);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e), "%s: %s", path, g_strerror (e));
      return FALSE;
    }
  return TRUE;
}

gboolean
pp_parse_bool (const char *v, gboolean *out)
{
  if (g_ascii_strcasecmp (v, "true") == 0 || g_ascii_strcasecmp (v, "yes") == 0
      || strcmp (v, "1") == 0)
    *out = TRUE;
  else if (g_ascii_strcasecmp (v, "false") == 0 || g_ascii_strcasecmp (v, "no") == 0
           || strcmp (v, "0") == 0)
    *out = FALSE;
  else
    return FALSE;
  return TRUE;
}

char *
pp_join_text (const char *title, const char *primary, const char *secondary)
{
  GString *s = g_string_new (NULL);
  const char *parts[] = { title, primary, secondary };
  for (gsize i = 0; i < G_N_ELEMENTS (parts); i++)
    {
      if (parts[i] == NULL || *parts[i] == '\0')
        continue;
      g_autofree char *plain = purple_markup_strip_html (parts[i]);
      if (s->len > 0 && strstr (s->str, plain) != NULL)
        continue;
      if (s->len > 0)
        g_string_append (s, "\n");
      g_string_append (s, plain);
    }
  return g_string_free (s, FALSE);
}

PurplePluginProtocolInfo *
pp_prpl_info (const char *protocol)
{
  PurplePlugin *prpl = protocol != NULL ? purple_find_prpl (protocol) : NULL;
  return prpl != NULL ? PURPLE_PLUGIN_PROTOCOL_INFO (prpl) : NULL;
}

PurpleConnection *
pp_gc (PaLogin *login)
{
  if (login->account == NULL || !purple_account_is_connected (login->account))
    return NULL;
  return purple_account_get_connection (login->account);
}

gboolean
pp_is_jabber (PaLogin *login)
{
  return login->account != NULL
         && g_strcmp0 (purple_account_get_protocol_id (login->account), "prpl-jabber") == 0;
}

char *
pp_norm (PaLogin *login, const char *name)
{
  const char *n = purple_normalize (login->account, name);
  return g_strdup (n != NULL ? n : name);
}

char *
pp_valid_norm (PaLogin *login, const char *name)
{
  if (name == NULL || *name == '\0' || strlen (name) > PP_MAX_FIELD)
    return NULL;
  const char *n = purple_normalize (login->account, name);
  return n != NULL && *n != '\0' ? g_strdup (n) : NULL;
}

char *
pp_member_id (PaLogin *login, PurpleConversation *conv, const char *nick)
{
  PurpleConvChat *chat = PURPLE_CONV_CHAT (conv);
  const char *me = purple_conv_chat_get_nick (chat);
  if (me != NULL && nick != NULL && purple_utf8_strcasecmp (me, nick) == 0
      && login->self_id != NULL)
    return g_strdup (login->self_id);
  if (pp_is_jabber (login))
    {
      g_autofree char *room = pp_norm (login, purple_conversation_get_name (conv));
      return g_strdup_printf ("%s/%s", room, nick);
    }
  return pp_norm (login, nick);
}

char *
pp_chat_id (PaLogin *login, PurpleConversation *conv)
{
  return pp_norm (login, purple_conversation_get_name (conv));
}

PurpleConversation *
pp_find_chat (PaLogin *login, const char *chat_id)
{
  PurpleConversation *conv
      = purple_find_conversation_with_account (PURPLE_CONV_TYPE_CHAT, chat_id, login->account);
  if (conv != NULL && purple_conv_chat_has_left (PURPLE_CONV_CHAT (conv)))
    return NULL;
  return conv;
}
