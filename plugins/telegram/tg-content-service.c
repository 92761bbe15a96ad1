/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * tg-content-service.c — Telegram's service messages as notices flagged
 * PA_CONTENT_SYSTEM, worded with the names the login knows: "Alice added
 * Bob", "Alice changed the group name to “Team”", "Alice pinned a
 * message" (a reply to it)…  A kind this file does not know becomes a
 * notice naming it, so nothing is dropped silently.
 */
#define G_LOG_DOMAIN "passerelle-telegram"

#include "tg-content-service.h"
#include "tg-ids.h"

static char *
user_name (PaLogin *login, gint64 user_id)
{
  const char *n = tg_chats_user_name (login, user_id);
  return n != NULL ? g_strdup (n) : g_strdup_printf ("user %" G_GINT64_FORMAT, user_id);
}

/* "A", "A and B", "A, B and C". */
static char *
user_list (PaLogin *login, json_t *ids)
{
  GString *s = g_string_new (NULL);
  size_t n = json_array_size (ids);
  for (size_t i = 0; i < n; i++)
    {
      g_autofree char *name = user_name (login, json_integer_value (json_array_get (ids, i)));
      if (i > 0)
        g_string_append (s, i + 1 == n ? " and " : ", ");
      g_string_append (s, name);
    }
  return g_string_free (s, FALSE);
}

static gboolean
sender_is (json_t *sender, gint64 user_id)
{
  return tg_jis (sender, "messageSenderUser") && tg_jint (sender, "user_id") == user_id;
}

static char *
duration (gint64 s)
{
  if (s <= 0)
    return g_strdup ("");
  if (s < 60)
    return g_strdup_printf (" (%" G_GINT64_FORMAT " s)", s);
  return g_strdup_printf (" (%" G_GINT64_FORMAT " min %" G_GINT64_FORMAT " s)", s / 60, s % 60);
}

static char *
timer_text (gint64 s)
{
  if (s % 86400 == 0)
    return g_strdup_printf ("%" G_GINT64_FORMAT " day%s", s / 86400, s == 86400 ? "" : "s");
  if (s % 3600 == 0)
    return g_strdup_printf ("%" G_GINT64_FORMAT " h", s / 3600);
  return g_strdup_printf ("%" G_GINT64_FORMAT " s", s);
}

/* The wording of a service message, or NULL when `type` is not one. */
static char *
wording (PaLogin *login, TgContentIn *c, gint64 chat_id, const char *type, json_t *content,
         const char *who, json_t *sender)
{
  if (strcmp (type, "messageChatAddMembers") == 0)
    {
      json_t *ids = json_object_get (content, "member_user_ids");
      c->members_changed = TRUE;
      if (json_array_size (ids) == 1
          && sender_is (sender, json_integer_value (json_array_get (ids, 0))))
        return g_strdup_printf ("%s joined the group", who);
      g_autofree char *list = user_list (login, ids);
      return g_strdup_printf ("%s added %s", who, list);
    }
  if (strcmp (type, "messageChatJoinByLink") == 0)
    {
      c->members_changed = TRUE;
      return g_strdup_printf ("%s joined the group with an invite link", who);
    }
  if (strcmp (type, "messageChatJoinByRequest") == 0)
    {
      c->members_changed = TRUE;
      return g_strdup_printf ("%s joined the group (request approved)", who);
    }
  if (strcmp (type, "messageChatDeleteMember") == 0)
    {
      gint64 uid = tg_jint (content, "user_id");
      c->members_changed = TRUE;
      if (sender_is (sender, uid))
        return g_strdup_printf ("%s left the group", who);
      g_autofree char *name = user_name (login, uid);
      return g_strdup_printf ("%s removed %s", who, name);
    }
  if (strcmp (type, "messageChatChangeTitle") == 0)
    {
      c->chat_changed = TRUE;
      return g_strdup_printf ("%s changed the group name to “%s”", who,
                              tg_jstr (content, "title") != NULL ? tg_jstr (content, "title") : "");
    }
  if (strcmp (type, "messageChatChangePhoto") == 0)
    {
      c->chat_changed = TRUE;
      return g_strdup_printf ("%s changed the group photo", who);
    }
  if (strcmp (type, "messageChatDeletePhoto") == 0)
    {
      c->chat_changed = TRUE;
      return g_strdup_printf ("%s removed the group photo", who);
    }
  if (strcmp (type, "messagePinMessage") == 0)
    {
      c->reply_to = tg_ids_message_id_to_pa (login, chat_id, tg_jint (content, "message_id"));
      return g_strdup_printf ("📌 %s pinned a message", who);
    }
  if (strcmp (type, "messageBasicGroupChatCreate") == 0
      || strcmp (type, "messageSupergroupChatCreate") == 0)
    {
      c->members_changed = TRUE;
      return g_strdup_printf ("%s created the group “%s”", who,
                              tg_jstr (content, "title") != NULL ? tg_jstr (content, "title") : "");
    }
  if (strcmp (type, "messageChatUpgradeTo") == 0)
    return g_strdup ("The group was upgraded to a supergroup: it goes on in a new chat");
  if (strcmp (type, "messageChatUpgradeFrom") == 0)
    return g_strdup_printf ("This supergroup continues the group “%s”",
                            tg_jstr (content, "title") != NULL ? tg_jstr (content, "title") : "");
  if (strcmp (type, "messageChatSetMessageAutoDeleteTime") == 0)
    {
      gint64 s = tg_jint (content, "message_auto_delete_time");
      c->chat_changed = TRUE;
      if (s == 0)
        return g_strdup_printf ("%s turned off disappearing messages", who);
      g_autofree char *t = timer_text (s);
      return g_strdup_printf ("%s set messages to disappear after %s", who, t);
    }
  if (strcmp (type, "messageScreenshotTaken") == 0)
    return g_strdup_printf ("%s took a screenshot", who);
  if (strcmp (type, "messageContactRegistered") == 0)
    return g_strdup_printf ("%s joined Telegram", who);
  if (strcmp (type, "messageForumTopicCreated") == 0)
    return g_strdup_printf ("%s created the topic “%s”", who,
                            tg_jstr (content, "name") != NULL ? tg_jstr (content, "name") : "");
  if (strcmp (type, "messageForumTopicEdited") == 0)
    return g_strdup_printf ("%s renamed the topic “%s”", who,
                            tg_jstr (content, "name") != NULL ? tg_jstr (content, "name") : "");
  if (strcmp (type, "messageForumTopicIsClosedToggled") == 0)
    return g_strdup_printf ("%s %s the topic", who,
                            json_is_true (json_object_get (content, "is_closed")) ? "closed"
                                                                                  : "reopened");
  if (strcmp (type, "messageCall") == 0)
    {
      gboolean video = json_is_true (json_object_get (content, "is_video"));
      json_t *reason = json_object_get (content, "discard_reason");
      if (tg_jis (reason, "callDiscardReasonMissed")
          || tg_jis (reason, "callDiscardReasonDeclined"))
        return g_strdup_printf ("%s Missed %s call", video ? "📹" : "📞", video ? "video" : "voice");
      g_autofree char *d = duration (tg_jint (content, "duration"));
      return g_strdup_printf ("%s %s call%s", video ? "📹" : "📞", video ? "Video" : "Voice", d);
    }
  if (strcmp (type, "messageVideoChatStarted") == 0)
    return g_strdup_printf ("%s started a video chat", who);
  if (strcmp (type, "messageVideoChatEnded") == 0)
    {
      g_autofree char *d = duration (tg_jint (content, "duration"));
      return g_strdup_printf ("The video chat ended%s", d);
    }
  if (strcmp (type, "messageCustomServiceAction") == 0)
    return g_strdup (tg_jstr (content, "text") != NULL ? tg_jstr (content, "text") : "");
  if (g_str_has_prefix (type, "messageExpired"))
    return g_strdup ("A self-destructing media expired");
  return NULL;
}

void
tg_content_service (PaLogin *login, TgContentIn *c, gint64 chat_id, const char *type,
                    json_t *content, json_t *sender)
{
  g_autofree char *who
      = sender != NULL ? tg_chats_sender_name (login, sender) : g_strdup ("Someone");
  char *text = wording (login, c, chat_id, type, content, who, sender);
  c->c.kind = PA_MSG_NOTICE;
  if (text != NULL)
    {
      c->c.flags |= PA_CONTENT_SYSTEM;
      c->text = text;
      return;
    }
  c->text = g_strdup_printf ("A message of a kind the bridge does not show (Telegram: %s); open "
                             "Telegram to see it.",
                             *type != '\0' ? type : "unknown");
}
