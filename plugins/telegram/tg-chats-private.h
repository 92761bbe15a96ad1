/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * tg-chats-private.h — the chats part's state and the functions its files
 * share, each file calling only those listed after it:
 * tg-chats-updates.c (the part's life, TDLib's updates), tg-chats-members.c
 * (members, full infos, forum topics, the chat list and the chat/user
 * lookups of the ops), tg-chats.c (objects, queries, announces) and
 * tg-chats-photos.c (avatars).  A lower file reaches an upper one only
 * through the functions TgChats holds.
 */
#ifndef TG_CHATS_PRIVATE_H
#define TG_CHATS_PRIVATE_H

#include "tg-chats.h"
#include "tg-incoming.h"

G_BEGIN_DECLS

/* What an owner ("c<chat>", "u<user>") is told by a lower file. */
typedef void (*TgChatsOwnerFunc) (PaLogin *login, const char *owner);

struct TgChats
{
  GHashTable *chats;         /* chat id → chat */
  GHashTable *users;         /* user id → user */
  GHashTable *basic_groups;  /* basic group id → basicGroup */
  GHashTable *supergroups;   /* supergroup id → supergroup */
  GHashTable *secrets;       /* secret chat id → secretChat */
  GHashTable *full_infos;    /* chat id → basicGroupFullInfo / supergroupFullInfo */
  GHashTable *members;       /* chat id → {"members": [chatMember…], "complete": bool} */
  GHashTable *topics;        /* "<chat>#<topic>" → forumTopicInfo */
  GHashTable *announced;     /* legacy chat ids announced by this process */
  GHashTable *members_asked; /* chat ids whose members were asked */
  GHashTable *contacts_sent; /* legacy sender ids whose CONTACT_INFO went out */
  GHashTable *names;         /* user id → display name */
  GHashTable *avatars;       /* owner ("c<chat>", "u<user>") → avatar path in the data dir */
  GHashTable *downloading;   /* owner → TRUE while its photo downloads */

  /* set by tg-chats-updates.c, where the part begins: what tg-chats.c asks
   * TDLib through tg-chats-members.c, and tg_chats_photo_arrived for
   * tg-chats-photos.c */
  void (*ask_members) (PaLogin *login, gint64 chat_id);
  void (*ask_topic) (PaLogin *login, gint64 chat_id, gint32 topic_id);
  TgChatsOwnerFunc photo_arrived;
  TgChatIdsFunc on_list; /* given to tg_chats_on_ready */
};

/* Members shown in a portal, at most. */
#define TG_MAX_MEMBERS 200

/* Keeps `obj` (a new reference) as `id`'s in table `t`. */
void tg_chats_table_set (GHashTable *t, gint64 id, json_t *obj);
json_t *tg_chats_chat (PaLogin *login, gint64 chat_id);
json_t *tg_chats_user (PaLogin *login, gint64 user_id);
/* The basicGroup or supergroup of a chat (*basic says which), or NULL. */
json_t *tg_chats_group (PaLogin *login, gint64 chat_id, gboolean *basic);
void tg_chats_store_chat (PaLogin *login, json_t *chat);
void tg_chats_store_members (PaLogin *login, gint64 chat_id, json_t *list);
void tg_chats_store_full_info (PaLogin *login, gint64 chat_id, json_t *full);
/* FALSE the first time it is asked for a chat, TRUE after. */
gboolean tg_chats_members_asked (PaLogin *login, gint64 chat_id);
/* A user object (an update's or getUser's) kept; CONTACT_INFO again when
 * it was sent already. */
void tg_chats_take_user (PaLogin *login, json_t *user);
/* A forum topic's info kept; announced again when it was already. */
void tg_chats_take_topic (PaLogin *login, json_t *info);
/* CONTACT_INFO of a known user; FALSE when unknown. */
gboolean tg_chats_emit_contact (PaLogin *login, gint64 user_id);
/* The owner's photo arrived: what showed it is shown again. */
void tg_chats_photo_arrived (PaLogin *login, const char *owner);

/* tg-chats-members.c */
void tg_chats_ask_members (PaLogin *login, gint64 chat_id);
void tg_chats_take_full_info (PaLogin *login, gint64 chat_id, json_t *full);
void tg_chats_member_changed (PaLogin *login, gint64 chat_id, json_t *member);
void tg_chats_ask_topic (PaLogin *login, gint64 chat_id, gint32 topic_id);

/* tg-chats-photos.c */
/* `photo_arrived` runs once a photo is in the data dir. */
void tg_chats_photos_init (TgChats *c, TgChatsOwnerFunc photo_arrived);
void tg_chats_photos_free (TgChats *c);
/* The avatar file of `owner` for the photo `file` (a TDLib file), when in
 * the data dir already (borrowed); else NULL, and the download starts: the
 * owner is announced again once it is there. */
const char *tg_chats_photo_path (PaLogin *login, const char *owner, json_t *file);

G_END_DECLS

#endif
