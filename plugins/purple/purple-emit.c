/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * purple-emit.c — legacy → Passerelle events shared by several sources:
 * CONTACT_INFO of a buddy, CHAT_INFO of a conversation (complete member
 * lists, re-sent coalesced when occupants change), and MESSAGE with its
 * stable id.
 *
 * Why apart: conversations, file transfers, sign-on and operations all emit
 * these; libpurple gives no message ids, so the id scheme (a digest of chat,
 * sender, second, text and an occurrence counter) lives in one place.
 */
#define G_LOG_DOMAIN "passerelle-purple"

#include <string.h>

#include "purple-common.h"
#include "purple-emit.h"
#include "purple-markup.h"

void
pp_emit_contact (PaLogin *login, PurpleBuddy *buddy)
{
  if (login->quitting || buddy == NULL || purple_buddy_get_account (buddy) != login->account)
    return;
  g_autofree char *id = pp_norm (login, purple_buddy_get_name (buddy));
  g_autofree char *avatar = NULL;
  PurpleBuddyIcon *icon = purple_buddy_icons_find (login->account, purple_buddy_get_name (buddy));
  if (icon != NULL)
    {
      avatar = purple_buddy_icon_get_full_path (icon);
      purple_buddy_icon_unref (icon);
    }
  const char *alias = purple_buddy_get_alias (buddy);
  PaMember m = {
    .struct_size = sizeof (PaMember),
    .id = id,
    .name = alias != NULL && g_strcmp0 (alias, purple_buddy_get_name (buddy)) != 0 ? alias : NULL,
    .avatar_path = avatar,
    .identifier = id,
  };
  PaEvent ev = {
    .struct_size = sizeof (PaEvent),
    .type = PA_EV_CONTACT_INFO,
    .sender_id = id,
    .timestamp_ms = pp_now_ms (),
    .contact = &m,
  };
  login->api->emit (login->host, &ev);
}

void
pp_fill_member (PaLogin *login, PaMember *m, char *id, const char *name)
{
  memset (m, 0, sizeof *m);
  m->struct_size = sizeof (PaMember);
  m->id = id;
  m->name = name;
  m->identifier = id;
  (void) login;
}

static int32_t
pp_power (PurpleConvChatBuddyFlags f)
{
  if (f & PURPLE_CBFLAGS_FOUNDER)
    return 100;
  if (f & (PURPLE_CBFLAGS_OP | PURPLE_CBFLAGS_HALFOP))
    return 50;
  return 0;
}

static const PaChatFeatures pp_dm_features = {
  .struct_size = sizeof (PaChatFeatures),
  .capabilities = PA_CAP_TYPING | PA_CAP_FORMATTING | PA_CAP_MEDIA,
  .max_media_size = PP_MAX_RECV_FILE,
  .max_text_length = PP_MAX_BODY, /* bytes (see pp_send) */
};

static const PaChatFeatures pp_group_features = {
  .struct_size = sizeof (PaChatFeatures),
  .capabilities = PA_CAP_FORMATTING,
  .max_text_length = PP_MAX_BODY,
};

void
pp_emit_chat_info (PaLogin *login, PurpleConversation *conv)
{
  if (login->quitting)
    return;
  g_autofree char *chat_id = pp_chat_id (login, conv);
  PaChatInfo info = {
    .struct_size = sizeof (PaChatInfo),
    .id = chat_id,
  };
  g_autoptr (GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GArray) members = g_array_new (FALSE, TRUE, sizeof (PaMember));
  if (purple_conversation_get_type (conv) == PURPLE_CONV_TYPE_CHAT)
    {
      PurpleConvChat *chat = PURPLE_CONV_CHAT (conv);
      info.kind = PA_CHAT_GROUP;
      info.name = purple_conversation_get_title (conv);
      info.topic = purple_conv_chat_get_topic (chat);
      info.features = &pp_group_features;
      for (GList *l = purple_conv_chat_get_users (chat); l != NULL; l = l->next)
        {
          PurpleConvChatBuddy *cb = l->data;
          const char *nick = purple_conv_chat_cb_get_name (cb);
          char *id = pp_member_id (login, conv, nick);
          g_ptr_array_add (ids, id);
          PaMember m;
          const char *alias = cb->alias;
          pp_fill_member (login, &m, id, alias != NULL ? alias : nick);
          m.power = pp_power (purple_conv_chat_user_get_flags (chat, nick));
          g_array_append_val (members, m);
        }
      info.members_complete = purple_conv_chat_has_left (chat) ? false : true;
    }
  else
    {
      info.kind = PA_CHAT_DM;
      info.features = &pp_dm_features;
      PurpleBuddy *b = purple_find_buddy (login->account, purple_conversation_get_name (conv));
      PaMember m;
      pp_fill_member (login, &m, chat_id, b != NULL ? purple_buddy_get_alias (b) : NULL);
      if (m.name != NULL && g_strcmp0 (m.name, purple_buddy_get_name (b)) == 0)
        m.name = NULL;
      g_array_append_val (members, m);
      info.members_complete = true;
    }
  info.members = (const PaMember *) (void *) members->data;
  info.n_members = members->len;
  PaEvent ev = {
    .struct_size = sizeof (PaEvent),
    .type = PA_EV_CHAT_INFO,
    .chat_id = chat_id,
    .timestamp_ms = pp_now_ms (),
    .chat = &info,
  };
  login->api->emit (login->host, &ev);
  g_hash_table_add (login->announced, g_strdup (chat_id));
}

static gboolean
pp_flush_dirty (gpointer data)
{
  PaLogin *login = data;
  login->dirty_id = 0;
  GHashTableIter it;
  gpointer k;
  g_hash_table_iter_init (&it, login->dirty);
  while (g_hash_table_iter_next (&it, &k, NULL))
    {
      PurpleConversation *conv
          = purple_find_conversation_with_account (PURPLE_CONV_TYPE_CHAT, k, login->account);
      if (conv != NULL)
        pp_emit_chat_info (login, conv);
    }
  g_hash_table_remove_all (login->dirty);
  return G_SOURCE_REMOVE;
}

void
pp_mark_dirty (PaLogin *login, PurpleConversation *conv)
{
  if (login->quitting || purple_conversation_get_account (conv) != login->account)
    return;
  g_hash_table_add (login->dirty, g_strdup (purple_conversation_get_name (conv)));
  if (login->dirty_id == 0)
    login->dirty_id = g_timeout_add (200, pp_flush_dirty, login);
}

char *
pp_message_id (PaLogin *login, const char *chat_id, const char *sender, gint64 ts_s,
               const char *text)
{
  g_autofree char *key
      = g_strdup_printf ("%s\1%s\1%" G_GINT64_FORMAT "\1%s", chat_id, sender, ts_s, text);
  guint n = GPOINTER_TO_UINT (g_hash_table_lookup (login->counts, key));
  if (g_hash_table_size (login->counts) > PP_RECENT_MAX)
    g_hash_table_remove_all (login->counts);
  g_hash_table_insert (login->counts, g_strdup (key), GUINT_TO_POINTER (n + 1));
  g_autofree char *full = g_strdup_printf ("%s\1%u", key, n);
  g_autofree char *digest = g_compute_checksum_for_string (G_CHECKSUM_SHA256, full, -1);
  return g_strdup_printf ("pp-%.32s", digest);
}

PaMsgKind
pp_kind_for_mime (const char *mime)
{
  if (mime == NULL)
    return PA_MSG_FILE;
  if (g_str_has_prefix (mime, "image/"))
    return PA_MSG_IMAGE;
  if (g_str_has_prefix (mime, "video/"))
    return PA_MSG_VIDEO;
  if (g_str_has_prefix (mime, "audio/"))
    return PA_MSG_AUDIO;
  return PA_MSG_FILE;
}

guint64
pp_emit_message (PaLogin *login, PurpleConversation *conv, const char *chat_id, const char *sender,
                 const char *sender_name, gint64 ts_ms, gint64 ts_s, const PaContent *content,
                 const char *key_text)
{
  g_autofree char *msg_id = pp_message_id (login, chat_id, sender, ts_s, key_text);
  PaMember contact;
  g_autofree char *sid = g_strdup (sender);
  pp_fill_member (login, &contact, sid, sender_name);
  if (conv != NULL && !g_hash_table_contains (login->announced, chat_id))
    pp_emit_chat_info (login, conv);
  PaEvent ev = {
    .struct_size = sizeof (PaEvent),
    .type = PA_EV_MESSAGE,
    .chat_id = chat_id,
    .sender_id = sender,
    .timestamp_ms = ts_ms,
    .message_id = msg_id,
    .content = content,
    .contact = sender_name != NULL ? &contact : NULL,
  };
  return login->api->emit (login->host, &ev);
}
