/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * tg-chats.c — what the login knows of its chats and users, from TDLib's
 * updates, and the CHAT_INFO / CONTACT_INFO events made of it.
 *
 * TDLib tells every client about every chat and user it holds (updateNewChat,
 * updateUser…) before using their ids, so the part keeps those objects as
 * they come and answers the other parts' questions from memory.  A chat
 * becomes a portal only when it matters: one of the main list's first
 * chats at start, a chat a message arrives in, or an agent's request.
 * Announced chats are announced again when their title, photo, rights,
 * members or topics change.  Members (basic groups from their full info,
 * supergroups from getSupergroupMembers, bounded) are asked once per
 * process; avatars are downloaded once and copied into the data dir
 * (tg-chats-photos.c).
 */
#define G_LOG_DOMAIN "passerelle-telegram"

#include "tg-chats-private.h"
#include "tg-ids.h"

void
tg_chats_table_set (GHashTable *t, gint64 id, json_t *obj)
{
  gint64 *k = g_new (gint64, 1);
  *k = id;
  g_hash_table_replace (t, k, json_incref (obj));
}

static json_t *
obj_table_get (GHashTable *t, gint64 id)
{
  return g_hash_table_lookup (t, &id);
}

/* ------------------------------------------------------------ queries */

json_t *
tg_chats_chat (PaLogin *login, gint64 chat_id)
{
  return obj_table_get (login->chats->chats, chat_id);
}

json_t *
tg_chats_user (PaLogin *login, gint64 user_id)
{
  return obj_table_get (login->chats->users, user_id);
}

/* The supergroup object behind a chat, or NULL. */
static json_t *
chat_supergroup (PaLogin *login, json_t *chat)
{
  json_t *type = json_object_get (chat, "type");
  if (!tg_jis (type, "chatTypeSupergroup"))
    return NULL;
  return obj_table_get (login->chats->supergroups, tg_jint (type, "supergroup_id"));
}

TgChatKind
tg_chats_kind (PaLogin *login, gint64 chat_id)
{
  json_t *chat = tg_chats_chat (login, chat_id);
  json_t *type = json_object_get (chat, "type");
  if (tg_jis (type, "chatTypePrivate"))
    return TG_CHAT_PRIVATE;
  if (tg_jis (type, "chatTypeSecret"))
    return TG_CHAT_SECRET;
  if (tg_jis (type, "chatTypeBasicGroup"))
    return TG_CHAT_BASIC_GROUP;
  if (tg_jis (type, "chatTypeSupergroup"))
    return json_is_true (json_object_get (type, "is_channel")) ? TG_CHAT_CHANNEL
                                                               : TG_CHAT_SUPERGROUP;
  return TG_CHAT_UNKNOWN;
}

/* The login's own status in a group or channel (a ChatMemberStatus), or
 * NULL for private chats and unknown groups. */
static json_t *
own_status (PaLogin *login, json_t *chat)
{
  json_t *type = json_object_get (chat, "type");
  if (tg_jis (type, "chatTypeBasicGroup"))
    {
      json_t *g = obj_table_get (login->chats->basic_groups, tg_jint (type, "basic_group_id"));
      return json_object_get (g, "status");
    }
  json_t *sg = chat_supergroup (login, chat);
  return json_object_get (sg, "status");
}

gboolean
tg_chats_can_post (PaLogin *login, gint64 chat_id)
{
  json_t *chat = tg_chats_chat (login, chat_id);
  if (chat == NULL)
    return FALSE;
  TgChatKind kind = tg_chats_kind (login, chat_id);
  if (kind == TG_CHAT_PRIVATE)
    return TRUE;
  if (kind == TG_CHAT_SECRET)
    {
      json_t *type = json_object_get (chat, "type");
      json_t *sc = obj_table_get (login->chats->secrets, tg_jint (type, "secret_chat_id"));
      return sc == NULL || tg_jis (json_object_get (sc, "state"), "secretChatStateReady");
    }
  json_t *status = own_status (login, chat);
  if (tg_jis (status, "chatMemberStatusCreator"))
    return TRUE;
  if (tg_jis (status, "chatMemberStatusAdministrator"))
    return kind != TG_CHAT_CHANNEL
           || json_is_true (
               json_object_get (json_object_get (status, "rights"), "can_post_messages"));
  if (kind == TG_CHAT_CHANNEL || status == NULL || tg_jis (status, "chatMemberStatusLeft")
      || tg_jis (status, "chatMemberStatusBanned"))
    return FALSE;
  json_t *perms = tg_jis (status, "chatMemberStatusRestricted")
                      ? json_object_get (status, "permissions")
                      : json_object_get (chat, "permissions");
  return perms == NULL || json_is_true (json_object_get (perms, "can_send_basic_messages"));
}

const char *
tg_chats_user_name (PaLogin *login, gint64 user_id)
{
  return g_hash_table_lookup (login->chats->names, &user_id);
}

const char *
tg_chats_title (PaLogin *login, gint64 chat_id)
{
  return tg_jstr (tg_chats_chat (login, chat_id), "title");
}

gint64
tg_chats_peer (PaLogin *login, gint64 chat_id)
{
  json_t *type = json_object_get (tg_chats_chat (login, chat_id), "type");
  if (tg_jis (type, "chatTypePrivate") || tg_jis (type, "chatTypeSecret"))
    return tg_jint (type, "user_id");
  return 0;
}

char *
tg_chats_sender_id (json_t *sender)
{
  if (tg_jis (sender, "messageSenderUser"))
    return tg_ids_user (tg_jint (sender, "user_id"));
  if (tg_jis (sender, "messageSenderChat"))
    return tg_ids_chat (tg_jint (sender, "chat_id"), 0);
  return NULL;
}

char *
tg_chats_sender_name (PaLogin *login, json_t *sender)
{
  if (tg_jis (sender, "messageSenderChat"))
    {
      const char *t = tg_chats_title (login, tg_jint (sender, "chat_id"));
      return g_strdup (t != NULL ? t : "a chat");
    }
  gint64 uid = tg_jint (sender, "user_id");
  const char *n = tg_chats_user_name (login, uid);
  return n != NULL ? g_strdup (n) : g_strdup_printf ("user %" G_GINT64_FORMAT, uid);
}

static char *
topic_key (gint64 chat_id, gint32 topic_id)
{
  return tg_ids_chat (chat_id, topic_id);
}

gint32
tg_chats_message_topic (PaLogin *login, json_t *message)
{
  json_t *topic = json_object_get (message, "topic_id");
  if (!tg_jis (topic, "messageTopicForum"))
    return 0;
  gint32 id = (gint32) tg_jint (topic, "forum_topic_id");
  /* the General topic (id 1 on Telegram's side) is the chat itself */
  if (id <= 1)
    return 0;
  g_autofree char *k = topic_key (tg_jint (message, "chat_id"), id);
  json_t *info = g_hash_table_lookup (login->chats->topics, k);
  if (json_is_true (json_object_get (info, "is_general")))
    return 0;
  return id;
}

/* ----------------------------------------------------------- contacts */

/* What a human types to reach the user: "+<phone>" when known, else
 * "@<username>". */
static char *
user_identifier (json_t *user)
{
  const char *phone = tg_jstr (user, "phone_number");
  if (phone != NULL && *phone != '\0')
    return g_strdup_printf ("+%s", phone);
  json_t *active = json_object_get (json_object_get (user, "usernames"), "active_usernames");
  const char *u = json_string_value (json_array_get (active, 0));
  if (u != NULL && *u != '\0')
    return g_strdup_printf ("@%s", u);
  return NULL;
}

static void
emit_contact_user (PaLogin *login, gint64 user_id)
{
  json_t *user = tg_chats_user (login, user_id);
  if (user == NULL)
    return;
  g_autofree char *id = tg_ids_user (user_id);
  g_autofree char *ident = user_identifier (user);
  g_autofree char *owner = g_strdup_printf ("u%" G_GINT64_FORMAT, user_id);
  const char *avatar = tg_chats_photo_path (
      login, owner, json_object_get (json_object_get (user, "profile_photo"), "small"));
  PaMember m = {
    .struct_size = sizeof (PaMember),
    .id = id,
    .name = tg_chats_user_name (login, user_id),
    .avatar_path = avatar,
    .identifier = ident,
  };
  PaEvent ev = {
    .struct_size = sizeof (PaEvent),
    .type = PA_EV_CONTACT_INFO,
    .sender_id = id,
    .timestamp_ms = g_get_real_time () / 1000,
    .contact = &m,
  };
  tg_emit (login, &ev);
  g_hash_table_add (login->chats->contacts_sent, g_strdup (id));
}

/* A chat writing as itself (channel posts, anonymous admins) is a sender
 * too: its contact is the chat's title and photo. */
static void
emit_contact_chat (PaLogin *login, gint64 chat_id)
{
  json_t *chat = tg_chats_chat (login, chat_id);
  if (chat == NULL)
    return;
  g_autofree char *id = tg_ids_chat (chat_id, 0);
  g_autofree char *owner = g_strdup_printf ("c%" G_GINT64_FORMAT, chat_id);
  const char *avatar = tg_chats_photo_path (
      login, owner, json_object_get (json_object_get (chat, "photo"), "small"));
  PaMember m = {
    .struct_size = sizeof (PaMember),
    .id = id,
    .name = tg_jstr (chat, "title"),
    .avatar_path = avatar,
  };
  PaEvent ev = {
    .struct_size = sizeof (PaEvent),
    .type = PA_EV_CONTACT_INFO,
    .sender_id = id,
    .timestamp_ms = g_get_real_time () / 1000,
    .contact = &m,
  };
  tg_emit (login, &ev);
  g_hash_table_add (login->chats->contacts_sent, g_strdup (id));
}

void
tg_chats_contact_once (PaLogin *login, json_t *sender)
{
  g_autofree char *id = tg_chats_sender_id (sender);
  if (id == NULL || g_hash_table_contains (login->chats->contacts_sent, id))
    return;
  if (tg_jis (sender, "messageSenderUser"))
    emit_contact_user (login, tg_jint (sender, "user_id"));
  else
    emit_contact_chat (login, tg_jint (sender, "chat_id"));
}

gboolean
tg_chats_emit_contact (PaLogin *login, gint64 user_id)
{
  if (tg_chats_user (login, user_id) == NULL)
    return FALSE;
  emit_contact_user (login, user_id);
  return TRUE;
}

/* ----------------------------------------------------------- announce */

static int32_t
member_power (json_t *status)
{
  if (tg_jis (status, "chatMemberStatusCreator"))
    return 100;
  if (tg_jis (status, "chatMemberStatusAdministrator"))
    return 50;
  return 0;
}

static gboolean
member_present (json_t *member)
{
  json_t *status = json_object_get (member, "status");
  if (tg_jis (status, "chatMemberStatusLeft") || tg_jis (status, "chatMemberStatusBanned"))
    return FALSE;
  if (tg_jis (status, "chatMemberStatusRestricted")
      && !json_is_true (json_object_get (status, "is_member")))
    return FALSE;
  if (tg_jis (status, "chatMemberStatusCreator")
      && !json_is_true (json_object_get (status, "is_member")))
    return FALSE;
  return TRUE;
}

/* A members list → PaMembers.  Power levels: the creator 100,
 * administrators 50, everyone else 0. */
static void
fill_members (PaLogin *login, json_t *list, GArray *members, GPtrArray *strings)
{
  size_t i;
  json_t *m;
  json_array_foreach (json_object_get (list, "members"), i, m)
  {
    json_t *who = json_object_get (m, "member_id");
    if (!tg_jis (who, "messageSenderUser") || !member_present (m))
      continue;
    gint64 uid = tg_jint (who, "user_id");
    char *id = tg_ids_user (uid);
    g_ptr_array_add (strings, id);
    PaMember pm = {
      .struct_size = sizeof (PaMember),
      .id = id,
      .name = tg_chats_user_name (login, uid),
      .power = member_power (json_object_get (m, "status")),
    };
    g_array_append_val (members, pm);
  }
}

gboolean
tg_chats_announce (PaLogin *login, gint64 chat_id, gint32 topic_id)
{
  json_t *chat = tg_chats_chat (login, chat_id);
  if (chat == NULL || login->closing)
    return FALSE;
  TgChatKind kind = tg_chats_kind (login, chat_id);
  g_autofree char *id = tg_ids_chat (chat_id, topic_id);
  PaChatInfo info = {
    .struct_size = sizeof (PaChatInfo),
    .id = id,
    .disappearing_s = (uint32_t) tg_jint (chat, "message_auto_delete_time"),
  };
  g_autoptr (GPtrArray) strings = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GArray) members = g_array_new (FALSE, TRUE, sizeof (PaMember));

  if (kind == TG_CHAT_PRIVATE || kind == TG_CHAT_SECRET)
    {
      info.kind = PA_CHAT_DM;
      gint64 peer = tg_chats_peer (login, chat_id);
      char *pid = tg_ids_user (peer);
      g_ptr_array_add (strings, pid);
      PaMember m = {
        .struct_size = sizeof (PaMember),
        .id = pid,
        .name = tg_chats_user_name (login, peer),
      };
      g_array_append_val (members, m);
      info.members_complete = TRUE;
      info.read_only = !tg_chats_can_post (login, chat_id);
      info.secret = kind == TG_CHAT_SECRET;
    }
  else
    {
      info.kind = PA_CHAT_GROUP;
      const char *title = tg_jstr (chat, "title");
      if (topic_id != 0)
        {
          g_autofree char *k = topic_key (chat_id, topic_id);
          json_t *topic = g_hash_table_lookup (login->chats->topics, k);
          const char *tname = tg_jstr (topic, "name");
          char *name = g_strdup_printf ("%s / %s", title != NULL ? title : "",
                                        tname != NULL ? tname : "…");
          g_ptr_array_add (strings, name);
          info.name = name;
          if (topic == NULL)
            login->chats->ask_topic (login, chat_id, topic_id);
        }
      else
        info.name = title;
      json_t *full = obj_table_get (login->chats->full_infos, chat_id);
      const char *desc = tg_jstr (full, "description");
      info.topic = desc != NULL && *desc != '\0' ? desc : NULL;
      g_autofree char *owner = g_strdup_printf ("c%" G_GINT64_FORMAT, chat_id);
      info.avatar_path = tg_chats_photo_path (
          login, owner, json_object_get (json_object_get (chat, "photo"), "small"));
      info.read_only = !tg_chats_can_post (login, chat_id);
      json_t *list = obj_table_get (login->chats->members, chat_id);
      if (list != NULL)
        {
          fill_members (login, list, members, strings);
          info.members_complete = json_is_true (json_object_get (list, "complete"));
        }
      login->chats->ask_members (login, chat_id);
    }
  if (members->len > 0)
    {
      info.members = (const PaMember *) (void *) members->data;
      info.n_members = members->len;
    }
  PaEvent ev = {
    .struct_size = sizeof (PaEvent),
    .type = PA_EV_CHAT_INFO,
    .chat_id = id,
    .timestamp_ms = g_get_real_time () / 1000,
    .chat = &info,
  };
  tg_emit (login, &ev);
  g_hash_table_add (login->chats->announced, g_strdup (id));
  return TRUE;
}

gboolean
tg_chats_announce_once (PaLogin *login, gint64 chat_id, gint32 topic_id)
{
  g_autofree char *id = tg_ids_chat (chat_id, topic_id);
  if (g_hash_table_contains (login->chats->announced, id))
    return TRUE;
  return tg_chats_announce (login, chat_id, topic_id);
}

void
tg_chats_reannounce (PaLogin *login, gint64 chat_id)
{
  g_autofree char *id = tg_ids_chat (chat_id, 0);
  g_autofree char *prefix = g_strdup_printf ("%s#", id);
  if (g_hash_table_contains (login->chats->announced, id))
    tg_chats_announce (login, chat_id, 0);
  /* the topic portals of a forum show the same title, photo and members */
  g_autoptr (GPtrArray) topics = g_ptr_array_new_with_free_func (g_free);
  GHashTableIter it;
  gpointer k;
  g_hash_table_iter_init (&it, login->chats->announced);
  while (g_hash_table_iter_next (&it, &k, NULL))
    if (g_str_has_prefix (k, prefix))
      g_ptr_array_add (topics, g_strdup (k));
  for (guint i = 0; i < topics->len; i++)
    {
      gint64 c = 0;
      gint32 t = 0;
      if (tg_ids_parse_chat (g_ptr_array_index (topics, i), &c, &t))
        tg_chats_announce (login, c, t);
    }
}

json_t *
tg_chats_group (PaLogin *login, gint64 chat_id, gboolean *basic)
{
  json_t *type = json_object_get (tg_chats_chat (login, chat_id), "type");
  *basic = tg_jis (type, "chatTypeBasicGroup");
  if (*basic)
    return obj_table_get (login->chats->basic_groups, tg_jint (type, "basic_group_id"));
  if (tg_jis (type, "chatTypeSupergroup"))
    return obj_table_get (login->chats->supergroups, tg_jint (type, "supergroup_id"));
  return NULL;
}

void
tg_chats_photo_arrived (PaLogin *login, const char *owner)
{
  gint64 id = 0;
  if (!g_ascii_string_to_signed (owner + 1, 10, G_MININT64, G_MAXINT64, &id, NULL))
    return;
  if (owner[0] == 'c')
    {
      tg_chats_reannounce (login, id);
      g_autofree char *sid = tg_ids_chat (id, 0);
      if (g_hash_table_remove (login->chats->contacts_sent, sid))
        {
          json_t *sender
              = json_pack ("{s:s, s:I}", "@type", "messageSenderChat", "chat_id", (json_int_t) id);
          tg_chats_contact_once (login, sender);
          json_decref (sender);
        }
    }
  else
    {
      g_autofree char *uid = tg_ids_user (id);
      if (g_hash_table_contains (login->chats->contacts_sent, uid))
        tg_chats_emit_contact (login, id);
    }
}

/* ------------------------------------------------------------ storing */

static char *
user_display_name (json_t *user)
{
  if (tg_jis (json_object_get (user, "type"), "userTypeDeleted"))
    return g_strdup ("Deleted Account");
  const char *first = tg_jstr (user, "first_name");
  const char *last = tg_jstr (user, "last_name");
  g_autofree char *n
      = g_strdup_printf ("%s %s", first != NULL ? first : "", last != NULL ? last : "");
  g_strstrip (n);
  return *n != '\0' ? g_steal_pointer (&n) : NULL;
}

static void
store_user (PaLogin *login, json_t *user)
{
  gint64 uid = tg_jint (user, "id");
  tg_chats_table_set (login->chats->users, uid, user);
  char *name = user_display_name (user);
  gint64 *k = g_new (gint64, 1);
  *k = uid;
  if (name != NULL)
    g_hash_table_replace (login->chats->names, k, name);
  else
    {
      g_hash_table_remove (login->chats->names, k);
      g_free (k);
    }
}

void
tg_chats_take_user (PaLogin *login, json_t *user)
{
  store_user (login, user);
  g_autofree char *id = tg_ids_user (tg_jint (user, "id"));
  if (g_hash_table_contains (login->chats->contacts_sent, id))
    tg_chats_emit_contact (login, tg_jint (user, "id"));
}

void
tg_chats_take_topic (PaLogin *login, json_t *info)
{
  gint64 chat_id = tg_jint (info, "chat_id");
  gint32 topic_id = (gint32) tg_jint (info, "forum_topic_id");
  g_autofree char *k = tg_ids_chat (chat_id, topic_id);
  g_hash_table_replace (login->chats->topics, g_strdup (k), json_incref (info));
  if (g_hash_table_contains (login->chats->announced, k))
    tg_chats_announce (login, chat_id, topic_id);
}

void
tg_chats_store_chat (PaLogin *login, json_t *chat)
{
  tg_chats_table_set (login->chats->chats, tg_jint (chat, "id"), chat);
}

void
tg_chats_store_members (PaLogin *login, gint64 chat_id, json_t *list)
{
  tg_chats_table_set (login->chats->members, chat_id, list);
}

void
tg_chats_store_full_info (PaLogin *login, gint64 chat_id, json_t *full)
{
  tg_chats_table_set (login->chats->full_infos, chat_id, full);
}

gboolean
tg_chats_members_asked (PaLogin *login, gint64 chat_id)
{
  if (g_hash_table_contains (login->chats->members_asked, &chat_id))
    return TRUE;
  gint64 *k = g_new (gint64, 1);
  *k = chat_id;
  g_hash_table_add (login->chats->members_asked, k);
  return FALSE;
}
