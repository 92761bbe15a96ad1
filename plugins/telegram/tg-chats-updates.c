/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * tg-chats-updates.c — where the chats part begins: its tables made and
 * freed (and the functions its lower files call back set), and TDLib's
 * updates about chats, users, groups, secret chats, members and forum
 * topics, kept in those tables; a change to a chat already announced
 * announces it again.
 *
 * The part's files, each calling only those listed after it:
 * tg-chats-updates.c, tg-chats-members.c, tg-chats.c, tg-chats-photos.c.
 */
#define G_LOG_DOMAIN "passerelle-telegram"

#include "tg-chats-private.h"
#include "tg-ids.h"

/* ---------------------------------------------------------- the part */

static GHashTable *
obj_table_new (void)
{
  return g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, (GDestroyNotify) json_decref);
}

void
tg_chats_init (PaLogin *login)
{
  TgChats *c = g_new0 (TgChats, 1);
  c->chats = obj_table_new ();
  c->users = obj_table_new ();
  c->basic_groups = obj_table_new ();
  c->supergroups = obj_table_new ();
  c->secrets = obj_table_new ();
  c->full_infos = obj_table_new ();
  c->members = obj_table_new ();
  c->topics = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) json_decref);
  c->announced = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  c->members_asked = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  c->contacts_sent = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  c->names = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_free);
  c->ask_members = tg_chats_ask_members;
  c->ask_topic = tg_chats_ask_topic;
  tg_chats_photos_init (c, tg_chats_photo_arrived);
  login->chats = c;
}

void
tg_chats_free (PaLogin *login)
{
  TgChats *c = login->chats;
  if (c == NULL)
    return;
  g_hash_table_unref (c->chats);
  g_hash_table_unref (c->users);
  g_hash_table_unref (c->basic_groups);
  g_hash_table_unref (c->supergroups);
  g_hash_table_unref (c->secrets);
  g_hash_table_unref (c->full_infos);
  g_hash_table_unref (c->members);
  g_hash_table_unref (c->topics);
  g_hash_table_unref (c->announced);
  g_hash_table_unref (c->members_asked);
  g_hash_table_unref (c->contacts_sent);
  g_hash_table_unref (c->names);
  tg_chats_photos_free (c);
  g_free (c);
  login->chats = NULL;
}

/* ------------------------------------------------------------ updates */

/* A field of a chat changed (title, photo, permissions…). */
static void
chat_field (PaLogin *login, json_t *update, const char *field)
{
  gint64 chat_id = tg_jint (update, "chat_id");
  json_t *chat = tg_chats_chat (login, chat_id);
  if (chat == NULL)
    return;
  json_object_set (chat, field, json_object_get (update, field));
  tg_chats_reannounce (login, chat_id);
}

/* The chat of a basic group, supergroup or secret chat, when known: TDLib
 * derives the chat's id from the group's (-id, -1000000000000 - id,
 * -2000000000000 + id). */
static gint64
chat_of_group (PaLogin *login, const char *type, const char *key, gint64 group_id)
{
  gint64 chat_id;
  if (strcmp (type, "chatTypeBasicGroup") == 0)
    chat_id = -group_id;
  else if (strcmp (type, "chatTypeSupergroup") == 0)
    chat_id = -1000000000000LL - group_id;
  else
    chat_id = -2000000000000LL + group_id;
  json_t *t = json_object_get (tg_chats_chat (login, chat_id), "type");
  return tg_jis (t, type) && tg_jint (t, key) == group_id ? chat_id : 0;
}

gboolean
tg_chats_on_update (PaLogin *login, const char *type, json_t *update)
{
  TgChats *c = login->chats;
  if (strcmp (type, "updateNewChat") == 0)
    {
      json_t *chat = json_object_get (update, "chat");
      /* what the part never reads, and may be large */
      json_object_del (chat, "last_message");
      json_object_del (chat, "draft_message");
      json_object_del (chat, "positions");
      tg_chats_table_set (c->chats, tg_jint (chat, "id"), chat);
      return TRUE;
    }
  if (strcmp (type, "updateChatTitle") == 0)
    {
      chat_field (login, update, "title");
      return TRUE;
    }
  if (strcmp (type, "updateChatPhoto") == 0)
    {
      chat_field (login, update, "photo");
      return TRUE;
    }
  if (strcmp (type, "updateChatPermissions") == 0)
    {
      chat_field (login, update, "permissions");
      return TRUE;
    }
  if (strcmp (type, "updateChatMessageAutoDeleteTime") == 0)
    {
      chat_field (login, update, "message_auto_delete_time");
      return TRUE;
    }
  if (strcmp (type, "updateUser") == 0)
    {
      tg_chats_take_user (login, json_object_get (update, "user"));
      return TRUE;
    }
  if (strcmp (type, "updateBasicGroup") == 0)
    {
      json_t *g = json_object_get (update, "basic_group");
      tg_chats_table_set (c->basic_groups, tg_jint (g, "id"), g);
      gint64 chat_id
          = chat_of_group (login, "chatTypeBasicGroup", "basic_group_id", tg_jint (g, "id"));
      if (chat_id != 0)
        tg_chats_reannounce (login, chat_id);
      return TRUE;
    }
  if (strcmp (type, "updateSupergroup") == 0)
    {
      json_t *g = json_object_get (update, "supergroup");
      tg_chats_table_set (c->supergroups, tg_jint (g, "id"), g);
      gint64 chat_id
          = chat_of_group (login, "chatTypeSupergroup", "supergroup_id", tg_jint (g, "id"));
      if (chat_id != 0)
        tg_chats_reannounce (login, chat_id);
      return TRUE;
    }
  if (strcmp (type, "updateBasicGroupFullInfo") == 0)
    {
      gint64 chat_id = chat_of_group (login, "chatTypeBasicGroup", "basic_group_id",
                                      tg_jint (update, "basic_group_id"));
      if (chat_id != 0)
        tg_chats_take_full_info (login, chat_id, json_object_get (update, "basic_group_full_info"));
      return TRUE;
    }
  if (strcmp (type, "updateSupergroupFullInfo") == 0)
    {
      gint64 chat_id = chat_of_group (login, "chatTypeSupergroup", "supergroup_id",
                                      tg_jint (update, "supergroup_id"));
      if (chat_id != 0)
        tg_chats_take_full_info (login, chat_id, json_object_get (update, "supergroup_full_info"));
      return TRUE;
    }
  if (strcmp (type, "updateSecretChat") == 0)
    {
      json_t *sc = json_object_get (update, "secret_chat");
      tg_chats_table_set (c->secrets, tg_jint (sc, "id"), sc);
      gint64 chat_id
          = chat_of_group (login, "chatTypeSecret", "secret_chat_id", tg_jint (sc, "id"));
      if (chat_id != 0)
        tg_chats_reannounce (login, chat_id);
      return TRUE;
    }
  if (strcmp (type, "updateChatMember") == 0)
    {
      tg_chats_member_changed (login, tg_jint (update, "chat_id"),
                               json_object_get (update, "new_chat_member"));
      return TRUE;
    }
  if (strcmp (type, "updateForumTopicInfo") == 0)
    {
      json_t *info = json_object_get (update, "info");
      tg_chats_take_topic (login, info);
      return TRUE;
    }
  return FALSE;
}
