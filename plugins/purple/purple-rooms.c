/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * purple-rooms.c — group chats: joining rooms (autojoin at sign-on, set_membership
 * from Matrix), remembering them across restarts, and the chat signals
 * (joined, join failed, topic, invitation).
 *
 * Why apart: a room's life spans the saved session, the pending join ops and
 * libpurple's chat signals.
 */
#define G_LOG_DOMAIN "passerelle-purple"

#include <string.h>

#include "purple-common.h"
#include "purple-emit.h"
#include "purple-rooms.h"
#include "purple-session.h"

gboolean
pp_join_chat (PaLogin *login, const char *name, GError **error)
{
  PurpleConnection *gc = pp_gc (login);
  PurplePluginProtocolInfo *info
      = gc != NULL ? PURPLE_PLUGIN_PROTOCOL_INFO (purple_connection_get_prpl (gc)) : NULL;
  if (info == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED, "not connected");
      return FALSE;
    }
  if (info->chat_info_defaults == NULL || info->join_chat == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                           "this network has no group chats");
      return FALSE;
    }
  GHashTable *comps = info->chat_info_defaults (gc, name);
  if (comps == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "%s is not a room name", name);
      return FALSE;
    }
  serv_join_chat (gc, comps);
  g_hash_table_destroy (comps);
  return TRUE;
}

void
pp_join_rooms (PaLogin *login)
{
  if (login->session == NULL)
    return;
  g_autoptr (GHashTable) done = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_auto (GStrv) aj = g_strsplit (login->session->autojoin != NULL ? login->session->autojoin : "",
                                  ",", PP_MAX_ROOMS);
  g_autoptr (GPtrArray) all = g_ptr_array_new ();
  for (guint i = 0; aj[i] != NULL; i++)
    g_ptr_array_add (all, g_strstrip (aj[i]));
  for (guint i = 0; i < login->session->rooms->len; i++)
    g_ptr_array_add (all, g_ptr_array_index (login->session->rooms, i));
  for (guint i = 0; i < all->len; i++)
    {
      const char *room = g_ptr_array_index (all, i);
      if (*room == '\0' || g_hash_table_contains (done, room))
        continue;
      g_hash_table_add (done, g_strdup (room));
      g_autoptr (GError) err = NULL;
      if (!pp_join_chat (login, room, &err))
        {
          g_autofree char *msg = g_strdup_printf ("Could not join %s: %s", room, err->message);
          login->api->notice (login->host, msg);
        }
    }
}

gboolean
pp_room_rejoined (PaLogin *login, const char *chat_id)
{
  if (login->session == NULL || chat_id == NULL)
    return FALSE;
  for (guint i = 0; i < login->session->rooms->len; i++)
    if (g_strcmp0 (g_ptr_array_index (login->session->rooms, i), chat_id) == 0)
      return TRUE;
  g_auto (GStrv) aj = g_strsplit (login->session->autojoin != NULL ? login->session->autojoin : "",
                                  ",", PP_MAX_ROOMS);
  for (guint i = 0; aj[i] != NULL; i++)
    {
      const char *room = g_strstrip (aj[i]);
      if (*room == '\0')
        continue;
      g_autofree char *norm = pp_norm (login, room);
      if (g_strcmp0 (norm, chat_id) == 0)
        return TRUE;
    }
  return FALSE;
}

void
pp_remember_room (PaLogin *login, const char *chat_id, gboolean keep)
{
  if (login->session == NULL)
    return;
  GPtrArray *rooms = login->session->rooms;
  for (guint i = 0; i < rooms->len; i++)
    if (g_strcmp0 (g_ptr_array_index (rooms, i), chat_id) == 0)
      {
        if (keep)
          return;
        g_ptr_array_remove_index (rooms, i);
        break;
      }
  if (keep)
    {
      if (rooms->len >= PP_MAX_ROOMS)
        return;
      g_ptr_array_add (rooms, g_strdup (chat_id));
    }
  g_autoptr (GError) err = NULL;
  if (!pp_save_session (login, login->session, &err))
    pp_log (login, PA_LOG_WARNING, "cannot save the session: %s", err->message);
}

static void
pp_chat_joined (PurpleConversation *conv, gpointer data)
{
  PaLogin *login = data;
  if (login->quitting || purple_conversation_get_account (conv) != login->account)
    return;
  g_autofree char *chat_id = pp_chat_id (login, conv);
  guint64 *op = g_hash_table_lookup (login->join_ops, chat_id);
  if (op != NULL)
    {
      pp_remember_room (login, chat_id, TRUE);
      pp_op_ok (login, *op, chat_id, 0);
      g_hash_table_remove (login->join_ops, chat_id);
    }
  /* An accepted invitation: the room is joined again after a restart. */
  if (g_hash_table_remove (login->invited, chat_id))
    pp_remember_room (login, chat_id, TRUE);
  pp_mark_dirty (login, conv);
}

static void
pp_chat_join_failed (PurpleConnection *gc, GHashTable *components, gpointer data)
{
  PaLogin *login = data;
  if (login->quitting || purple_connection_get_account (gc) != login->account)
    return;
  PurplePluginProtocolInfo *info = PURPLE_PLUGIN_PROTOCOL_INFO (purple_connection_get_prpl (gc));
  g_autofree char *name = info->get_chat_name != NULL ? info->get_chat_name (components) : NULL;
  g_autofree char *chat_id = name != NULL ? pp_norm (login, name) : NULL;
  g_autofree char *msg
      = g_strdup_printf ("Could not join the room %s.", chat_id != NULL ? chat_id : "(unknown)");
  guint64 *op = chat_id != NULL ? g_hash_table_lookup (login->join_ops, chat_id) : NULL;
  if (op != NULL)
    {
      pp_op_fail (login, *op, PA_RESULT_PERMANENT, msg);
      g_hash_table_remove (login->join_ops, chat_id);
    }
  else
    login->api->notice (login->host, msg);
}

static void
pp_chat_topic_changed (PurpleConversation *conv, const char *who, const char *topic, gpointer data)
{
  pp_mark_dirty (data, conv);
}

static int
pp_chat_invited (PurpleAccount *account, const char *inviter, const char *chat, const char *message,
                 GHashTable *components, gpointer data)
{
  PaLogin *login = data;
  if (account != login->account)
    return 0;
  g_autofree char *msg
      = g_strdup_printf ("%s invites you to the room %s%s%s", inviter, chat,
                         message != NULL ? ": " : ".", message != NULL ? message : "");
  login->api->notice (login->host, msg);
  if (g_hash_table_size (login->invited) < PP_MAX_ROOMS)
    g_hash_table_add (login->invited, pp_norm (login, chat));
  return 0; /* libpurple then asks through request_action: accept or not */
}

void
pp_rooms_connect_signals (PaLogin *login)
{
  void *conv = purple_conversations_get_handle ();
  pp_connect_signal (login, conv, "chat-joined", PURPLE_CALLBACK (pp_chat_joined));
  pp_connect_signal (login, conv, "chat-join-failed", PURPLE_CALLBACK (pp_chat_join_failed));
  pp_connect_signal (login, conv, "chat-topic-changed", PURPLE_CALLBACK (pp_chat_topic_changed));
  pp_connect_signal (login, conv, "chat-invited", PURPLE_CALLBACK (pp_chat_invited));
}
