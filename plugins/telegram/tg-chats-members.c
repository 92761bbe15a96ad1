/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * tg-chats-members.c — what the chats part asks TDLib: a group's members
 * and description (basic groups: getBasicGroupFullInfo; supergroups:
 * getSupergroupFullInfo then getSupergroupMembers, the recent members or a
 * channel's administrators, at most TG_MAX_MEMBERS), forum topics, the
 * main chat list at start, and the chat / user lookups of get_chat_info
 * and get_user_info.
 */
#define G_LOG_DOMAIN "passerelle-telegram"

#include "tg-chats-private.h"
#include "tg-ids.h"

/* One request's context: the login and the ids it concerns. */
typedef struct
{
  PaLogin *login;
  gint64 chat_id;
  gint64 other; /* supergroup id, topic id, user id */
  guint64 op_id;
} TgAsk;

static TgAsk *
ask_new (PaLogin *login, gint64 chat_id, gint64 other, guint64 op_id)
{
  TgAsk *a = g_new0 (TgAsk, 1);
  a->login = login;
  a->chat_id = chat_id;
  a->other = other;
  a->op_id = op_id;
  return a;
}

static json_t *
request (const char *type)
{
  return json_pack ("{s:s}", "@type", type);
}

static gboolean
gone (PaLogin *login, json_t *reply)
{
  return login->closing || tg_td_is_error (reply, NULL, NULL);
}

/* ------------------------------------------------------------- members */

static void
store_list (PaLogin *login, gint64 chat_id, json_t *members, gboolean complete)
{
  json_t *list = json_pack ("{s:O, s:b}", "members", members, "complete", complete);
  tg_chats_store_members (login, chat_id, list);
  json_decref (list);
}

void
tg_chats_take_full_info (PaLogin *login, gint64 chat_id, json_t *full)
{
  tg_chats_store_full_info (login, chat_id, full);
  json_t *members = json_object_get (full, "members");
  if (json_is_array (members))
    store_list (login, chat_id, members, TRUE);
  tg_chats_reannounce (login, chat_id);
}

static void
on_basic_full_info (json_t *reply, void *user_data)
{
  g_autofree TgAsk *a = user_data;
  if (!gone (a->login, reply))
    tg_chats_take_full_info (a->login, a->chat_id, reply);
}

static void
on_supergroup_members (json_t *reply, void *user_data)
{
  g_autofree TgAsk *a = user_data;
  if (gone (a->login, reply))
    return;
  json_t *members = json_object_get (reply, "members");
  gboolean basic = FALSE;
  json_t *sg = tg_chats_group (a->login, a->chat_id, &basic);
  gboolean channel = json_is_true (json_object_get (sg, "is_channel"));
  gboolean complete
      = !channel && json_array_size (members) >= (size_t) tg_jint (reply, "total_count");
  store_list (a->login, a->chat_id, members, complete);
  tg_chats_reannounce (a->login, a->chat_id);
}

static void
on_supergroup_full_info (json_t *reply, void *user_data)
{
  TgAsk *a = user_data;
  if (gone (a->login, reply))
    {
      g_free (a);
      return;
    }
  tg_chats_store_full_info (a->login, a->chat_id, reply);
  gboolean basic = FALSE;
  json_t *sg = tg_chats_group (a->login, a->chat_id, &basic);
  gboolean channel = json_is_true (json_object_get (sg, "is_channel"));
  json_t *req = request ("getSupergroupMembers");
  json_object_set_new (req, "supergroup_id", json_integer (a->other));
  json_object_set_new (req, "filter",
                       request (channel ? "supergroupMembersFilterAdministrators"
                                        : "supergroupMembersFilterRecent"));
  json_object_set_new (req, "offset", json_integer (0));
  json_object_set_new (req, "limit", json_integer (TG_MAX_MEMBERS));
  tg_td_send (a->login->td, req, on_supergroup_members, a);
}

void
tg_chats_ask_members (PaLogin *login, gint64 chat_id)
{
  if (tg_chats_members_asked (login, chat_id))
    return;
  json_t *type = json_object_get (tg_chats_chat (login, chat_id), "type");
  if (tg_jis (type, "chatTypeBasicGroup"))
    {
      json_t *req = request ("getBasicGroupFullInfo");
      json_object_set_new (req, "basic_group_id", json_integer (tg_jint (type, "basic_group_id")));
      tg_td_send (login->td, req, on_basic_full_info, ask_new (login, chat_id, 0, 0));
    }
  else if (tg_jis (type, "chatTypeSupergroup"))
    {
      gint64 sg = tg_jint (type, "supergroup_id");
      json_t *req = request ("getSupergroupFullInfo");
      json_object_set_new (req, "supergroup_id", json_integer (sg));
      tg_td_send (login->td, req, on_supergroup_full_info, ask_new (login, chat_id, sg, 0));
    }
}

void
tg_chats_member_changed (PaLogin *login, gint64 chat_id, json_t *member)
{
  gint64 key = chat_id;
  json_t *stored = g_hash_table_lookup (login->chats->members, &key);
  if (stored == NULL || member == NULL)
    return;
  json_t *members = json_object_get (stored, "members");
  json_t *who = json_object_get (member, "member_id");
  json_t *fresh = json_array ();
  size_t i;
  json_t *m;
  json_array_foreach (members, i, m)
  {
    if (!json_equal (json_object_get (m, "member_id"), who))
      json_array_append (fresh, m);
  }
  json_array_append (fresh, member);
  store_list (login, chat_id, fresh, json_is_true (json_object_get (stored, "complete")));
  json_decref (fresh);
  tg_chats_reannounce (login, chat_id);
}

void
tg_chats_members_stale (PaLogin *login, gint64 chat_id)
{
  g_hash_table_remove (login->chats->members_asked, &chat_id);
  g_autofree char *id = tg_ids_chat (chat_id, 0);
  if (g_hash_table_contains (login->chats->announced, id))
    tg_chats_ask_members (login, chat_id);
}

/* -------------------------------------------------------------- topics */

static void
on_forum_topic (json_t *reply, void *user_data)
{
  g_autofree TgAsk *a = user_data;
  if (!gone (a->login, reply))
    tg_chats_take_topic (a->login, json_object_get (reply, "info"));
}

void
tg_chats_ask_topic (PaLogin *login, gint64 chat_id, gint32 topic_id)
{
  json_t *req = request ("getForumTopic");
  json_object_set_new (req, "chat_id", json_integer (chat_id));
  json_object_set_new (req, "forum_topic_id", json_integer (topic_id));
  tg_td_send (login->td, req, on_forum_topic, ask_new (login, chat_id, topic_id, 0));
}

/* ------------------------------------------------------ the chat list */

static gint64
history_chats (PaLogin *login)
{
  gint64 n = login->api->config_int (login->host, "history_chats");
  return CLAMP (n, 0, 1000);
}

static void
on_chats (json_t *reply, void *user_data)
{
  PaLogin *login = user_data;
  if (gone (login, reply))
    {
      if (!login->closing)
        tg_log (login, PA_LOG_INFO, "no chat list to announce (%s)",
                tg_jstr (reply, "message") != NULL ? tg_jstr (reply, "message") : "?");
      return;
    }
  json_t *ids = json_object_get (reply, "chat_ids");
  size_t i;
  json_t *v;
  json_array_foreach (ids, i, v)
  {
    gint64 chat_id = json_integer_value (v);
    if (!tg_chats_announce_once (login, chat_id, 0))
      tg_log (login, PA_LOG_DEBUG, "chat %" G_GINT64_FORMAT " of the list is unknown", chat_id);
  }
  login->chats->on_list (login, ids);
}

static json_t *
main_list_request (const char *type, gint64 limit)
{
  json_t *req = request (type);
  json_object_set_new (req, "chat_list", request ("chatListMain"));
  json_object_set_new (req, "limit", json_integer (limit));
  return req;
}

/* loadChats answers 404 once every chat is loaded: either way, the list
 * is then read with getChats. */
static void
on_load_chats (json_t *reply, void *user_data)
{
  PaLogin *login = user_data;
  (void) reply;
  if (login->closing)
    return;
  tg_td_send (login->td, main_list_request ("getChats", history_chats (login)), on_chats, login);
}

void
tg_chats_on_ready (PaLogin *login, TgChatIdsFunc on_list)
{
  login->chats->on_list = on_list;
  gint64 n = history_chats (login);
  if (n == 0)
    return;
  tg_td_send (login->td, main_list_request ("loadChats", n), on_load_chats, login);
}

/* ------------------------------------------------- get_chat_info / user */

static void
on_get_chat (json_t *reply, void *user_data)
{
  g_autofree TgAsk *a = user_data;
  if (a->login->closing)
    return;
  if (tg_td_is_error (reply, NULL, NULL))
    {
      tg_op_fail_td (a->login, a->op_id, reply);
      return;
    }
  tg_chats_store_chat (a->login, reply);
  tg_chats_announce (a->login, a->chat_id, (gint32) a->other);
  tg_op_ok (a->login, a->op_id, NULL, 0);
}

void
tg_chats_op_get_chat_info (PaLogin *login, uint64_t op_id, const char *chat_id)
{
  gint64 chat = 0;
  gint32 topic = 0;
  if (!tg_ids_parse_chat (chat_id, &chat, &topic))
    {
      tg_op_fail (login, op_id, PA_RESULT_NOT_FOUND, "not a Telegram chat id");
      return;
    }
  if (tg_chats_announce (login, chat, topic))
    {
      tg_op_ok (login, op_id, NULL, 0);
      return;
    }
  json_t *req = request ("getChat");
  json_object_set_new (req, "chat_id", json_integer (chat));
  tg_td_send (login->td, req, on_get_chat, ask_new (login, chat, topic, op_id));
}

static void
on_get_user (json_t *reply, void *user_data)
{
  g_autofree TgAsk *a = user_data;
  if (a->login->closing)
    return;
  if (tg_td_is_error (reply, NULL, NULL))
    {
      tg_op_fail_td (a->login, a->op_id, reply);
      return;
    }
  tg_chats_take_user (a->login, reply);
  tg_chats_emit_contact (a->login, a->other);
  tg_op_ok (a->login, a->op_id, NULL, 0);
}

void
tg_chats_op_get_user_info (PaLogin *login, uint64_t op_id, const char *user_id)
{
  gint64 uid = 0;
  if (!tg_ids_parse_user (user_id, &uid))
    {
      tg_op_fail (login, op_id, PA_RESULT_NOT_FOUND, "not a Telegram user id");
      return;
    }
  if (tg_chats_emit_contact (login, uid))
    {
      tg_op_ok (login, op_id, NULL, 0);
      return;
    }
  json_t *req = request ("getUser");
  json_object_set_new (req, "user_id", json_integer (uid));
  tg_td_send (login->td, req, on_get_user, ask_new (login, 0, uid, op_id));
}
