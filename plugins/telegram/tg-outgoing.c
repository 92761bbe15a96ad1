/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * tg-outgoing.c — Matrix → Telegram: the part's state, the operations in
 * flight and their one answer each, and send.
 *
 * A send is answered late.  TDLib answers sendMessage at once with a
 * message under a temporary id (sending_state pending), uploads and sends
 * it, then tells how it went: updateMessageSendSucceeded carries the
 * message under its final id (the one edits, reactions and deletions name
 * later), updateMessageSendFailed the error.  So the op waits under (chat,
 * temporary id) for one of those; a flood wait there is answered
 * RATE_LIMITED with Telegram's delay, and the host sends again.
 *
 * What a send carries (the inputMessage* object, the file TDLib uploads
 * from) is tg-outgoing-content.c's.
 */
#define G_LOG_DOMAIN "passerelle-telegram"

#include <glib/gstdio.h>
#include <string.h>

#include "tg-chats.h"
#include "tg-entities.h"
#include "tg-ids.h"
#include "tg-outgoing.h"

/* Telegram's limit on a text message, in UTF-16 code units. */
#define TG_TEXT_MAX 4096
/* Telegram's limit on an upload (2000 MiB). */
#define TG_UPLOAD_MAX ((guint64) 2000 * 1024 * 1024)
/* Send outcomes kept when they arrive before sendMessage's own answer. */
#define TG_EARLY_MAX 256

/* How often a waiting send checks that TDLib's client is still there. */
#define TG_WATCH_MS 1000

/* ------------------------------------------------------------ requests */

TgReq *
tg_req_new (PaLogin *login, guint64 op_id, gboolean message_like)
{
  TgReq *r = g_new0 (TgReq, 1);
  r->ref = 1; /* the list's */
  r->login = login;
  r->op_id = op_id;
  r->message_like = message_like;
  g_hash_table_add (login->out->ops, r);
  return r;
}

void
tg_req_unref (TgReq *r)
{
  if (r == NULL || --r->ref > 0)
    return;
  g_free (r->file);
  g_free (r->text);
  if (r->payload != NULL)
    json_decref (r->payload);
  g_free (r);
}

void
tg_req_send (TgReq *r, json_t *request, TgTdReplyFunc fn)
{
  if (r->login->td == NULL)
    {
      /* The client closed between two steps of the op: this one never left. */
      json_decref (request);
      tg_req_fail (r, PA_RESULT_NOT_CONNECTED, "Telegram is not connected.");
      return;
    }
  r->ref++;
  tg_td_send (r->login->td, request, fn, r);
}

gboolean
tg_req_live (TgReq *r)
{
  if (!r->answered)
    return TRUE;
  tg_req_unref (r);
  return FALSE;
}

/* Marks `r` answered and drops what it holds; FALSE when it already was.
 * The list's reference is dropped by the caller, after the answer. */
static gboolean
req_finish (TgReq *r)
{
  if (r->answered)
    return FALSE;
  r->answered = TRUE;
  if (r->file != NULL)
    {
      tg_out_drop_file (r->file);
      g_clear_pointer (&r->file, g_free);
    }
  TgOut *out = r->login->out;
  if (out != NULL && r->text != NULL && g_hash_table_lookup (out->sends, r->text) == r)
    g_hash_table_remove (out->sends, r->text);
  return TRUE;
}

static void
req_leave (TgReq *r)
{
  TgOut *out = r->login->out;
  if (out != NULL)
    g_hash_table_remove (out->ops, r); /* may free r */
}

void
tg_req_ok (TgReq *r, const char *legacy_id, gint64 ts_ms)
{
  if (!req_finish (r))
    return;
  tg_op_ok (r->login, r->op_id, legacy_id, ts_ms);
  req_leave (r);
}

void
tg_req_fail (TgReq *r, PaResultCode code, const char *error)
{
  if (!req_finish (r))
    return;
  tg_op_fail (r->login, r->op_id, code, error);
  req_leave (r);
}

void
tg_req_fail_td (TgReq *r, json_t *error)
{
  int code = 0;
  const char *message = NULL;
  if (tg_td_is_error (error, &code, &message) && code == 500
      && g_strcmp0 (message, "Request aborted") == 0)
    {
      /* The client closed under the request: it may have left. */
      tg_req_fail (r, r->message_like ? PA_RESULT_UNCERTAIN : PA_RESULT_TEMPORARY,
                   "The Telegram connection closed before Telegram answered.");
      return;
    }
  if (!req_finish (r))
    return;
  tg_op_fail_td (r->login, r->op_id, error);
  req_leave (r);
}

gboolean
tg_req_failed (TgReq *r, json_t *reply)
{
  if (!tg_td_is_error (reply, NULL, NULL))
    return FALSE;
  tg_req_fail_td (r, reply);
  return TRUE;
}

/* ------------------------------------------------------------- checks */

gboolean
tg_out_check_ready (PaLogin *login, guint64 op_id)
{
  if (login->td != NULL && login->ready && !login->closing && login->out != NULL)
    return TRUE;
  tg_op_fail (login, op_id, PA_RESULT_NOT_CONNECTED, "Telegram is not connected.");
  return FALSE;
}

gboolean
tg_out_parse_chat (PaLogin *login, guint64 op_id, const char *chat_id, gint64 *chat, gint32 *topic)
{
  if (tg_ids_parse_chat (chat_id, chat, topic))
    return TRUE;
  tg_op_fail (login, op_id, PA_RESULT_NOT_FOUND, "This is not a Telegram chat.");
  return FALSE;
}

gboolean
tg_out_message (PaLogin *login, guint64 op_id, gint64 chat, const char *id, gint64 *message_id)
{
  if (tg_ids_message_from_pa (login, chat, id, message_id))
    return TRUE;
  tg_op_fail (login, op_id, PA_RESULT_NOT_FOUND,
              "This Telegram account does not know that message.");
  return FALSE;
}

json_t *
tg_out_topic (gint32 topic)
{
  if (topic == 0)
    return json_null ();
  return json_pack ("{s:s, s:i}", "@type", "messageTopicForum", "forum_topic_id", (int) topic);
}

static json_t *
exec_td (json_t *request, void *user_data)
{
  PaLogin *login = user_data;
  return login->td != NULL ? tg_td_execute (login->td, request) : NULL;
}

json_t *
tg_out_formatted (PaLogin *login, const char *html, const char *text)
{
  if (html != NULL && *html != '\0')
    {
      json_t *ft = tg_entities_from_html (html, text, exec_td, login);
      if (ft != NULL)
        return ft;
    }
  return json_pack ("{s:s, s:s, s:[]}", "@type", "formattedText", "text", text ? text : "",
                    "entities");
}

/* ------------------------------------------------------- the part */

/* The sends waiting for their outcome when the client that took them is
 * gone (disconnect, logout, the session ended elsewhere; maybe already
 * replaced by a new one): no outcome will come from it, so they are
 * answered UNCERTAIN (TDLib keeps unsent messages and may send them when it
 * starts again). */
static bool
on_watch (void *user_data)
{
  PaLogin *login = user_data;
  TgOut *out = login->out;
  if (out == NULL)
    return false;
  GList *waiting = g_hash_table_get_values (out->sends);
  for (GList *l = waiting; l != NULL; l = l->next)
    {
      TgReq *r = l->data;
      if (login->td != NULL && login->td == r->td)
        continue;
      r->ref++;
      tg_req_fail (r, PA_RESULT_UNCERTAIN,
                   "The Telegram connection closed before Telegram said whether the message "
                   "went out.");
      tg_req_unref (r);
    }
  g_list_free (waiting);
  if (g_hash_table_size (out->sends) > 0)
    return true;
  out->watch = 0;
  return false;
}

static void
watch_sends (PaLogin *login)
{
  TgOut *out = login->out;
  if (out->watch == 0 && login->api->timer_add != NULL)
    out->watch = login->api->timer_add (login->host, TG_WATCH_MS, on_watch, login);
}

void
tg_out_init (PaLogin *login)
{
  TgOut *out = g_new0 (TgOut, 1);
  out->ops = g_hash_table_new_full (NULL, NULL, (GDestroyNotify) tg_req_unref, NULL);
  out->sends = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  out->early
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) json_decref);
  if (login->data_dir != NULL)
    {
      out->dir = g_build_filename (login->data_dir, "tg-out", NULL);
      /* Copies left by a process that ended abruptly. */
      tg_out_remove_tree (out->dir);
    }
  login->out = out;
}

void
tg_out_free (PaLogin *login)
{
  TgOut *out = login->out;
  if (out == NULL)
    return;
  /* What is still waiting may have reached Telegram (a send TDLib holds is
   * sent when it starts again): the agent is told so. */
  GList *left = g_hash_table_get_keys (out->ops);
  for (GList *l = left; l != NULL; l = l->next)
    {
      TgReq *r = l->data;
      r->ref++;
      tg_req_fail (r, r->message_like ? PA_RESULT_UNCERTAIN : PA_RESULT_TEMPORARY,
                   "The Telegram connection closed before Telegram answered.");
      tg_req_unref (r);
    }
  g_list_free (left);
  login->out = NULL;
  if (out->watch != 0)
    login->api->source_remove (login->host, out->watch);
  g_hash_table_unref (out->ops);
  g_hash_table_unref (out->sends);
  g_hash_table_unref (out->early);
  if (out->dir != NULL)
    {
      tg_out_remove_tree (out->dir);
      g_rmdir (out->dir);
    }
  g_free (out->dir);
  g_free (out);
}

/* --------------------------------------------------------------- send */

static char *
send_key (gint64 chat, gint64 message_id)
{
  return g_strdup_printf ("%" G_GINT64_FORMAT "/%" G_GINT64_FORMAT, chat, message_id);
}

/* The end of a send: its final message, or the error that stopped it. */
static void
send_ended (TgReq *r, const char *type, json_t *update)
{
  PaLogin *login = r->login;
  json_t *message = json_object_get (update, "message");
  if (g_strcmp0 (type, "updateMessageSendSucceeded") == 0)
    {
      g_autofree char *id = tg_ids_message_to_pa (login, message);
      gint64 date = json_integer_value (json_object_get (message, "date"));
      tg_req_ok (r, id, date * 1000);
      return;
    }
  /* The failed message stays in TDLib's copy of the chat, marked failed:
   * the host's retry sends a new one, so this one goes. */
  json_t *id = json_object_get (message, "id");
  if (json_is_integer (id) && login->td != NULL)
    tg_td_send (login->td,
                json_pack ("{s:s, s:I, s:[O], s:b}", "@type", "deleteMessages", "chat_id",
                           (json_int_t) r->chat_id, "message_ids", id, "revoke", 0),
                NULL, NULL);
  json_t *error = json_object_get (update, "error");
  double after = json_real_value (
      json_object_get (json_object_get (message, "sending_state"), "retry_after"));
  if (tg_td_flood_wait_s (error) < 0 && after > 0)
    {
      /* A delay given only in the sending state: a flood wait all the same. */
      g_autofree char *why = g_strdup_printf ("Too Many Requests: retry after %d", (int) after + 1);
      json_t *flood = json_pack ("{s:s, s:i, s:s}", "@type", "error", "code", 429, "message", why);
      tg_req_fail_td (r, flood);
      json_decref (flood);
      return;
    }
  tg_req_fail_td (r, error);
}

static void
on_sent (json_t *reply, void *user_data)
{
  TgReq *r = user_data;
  if (!tg_req_live (r))
    return;
  int code = 0;
  const char *message = NULL;
  if (tg_td_is_error (reply, &code, &message) && code == 400 && message != NULL
      && strstr (message, "too long") != NULL)
    {
      /* A caption over Telegram's limit (1024 characters, 2048 with Premium). */
      g_autofree char *msg = g_strdup_printf ("Telegram: %s.", message);
      tg_req_fail (r, PA_RESULT_TOO_LARGE, msg);
      tg_req_unref (r);
      return;
    }
  if (tg_req_failed (r, reply))
    {
      tg_req_unref (r);
      return;
    }
  PaLogin *login = r->login;
  json_t *state = json_object_get (reply, "sending_state");
  const char *state_type = json_string_value (json_object_get (state, "@type"));
  gint64 id = json_integer_value (json_object_get (reply, "id"));
  if (state_type == NULL)
    {
      /* Already sent (nothing to upload, nothing pending). */
      g_autofree char *legacy = tg_ids_message_to_pa (login, reply);
      tg_req_ok (r, legacy, json_integer_value (json_object_get (reply, "date")) * 1000);
    }
  else if (g_strcmp0 (state_type, "messageSendingStateFailed") == 0)
    {
      json_t *update
          = json_pack ("{s:O, s:O}", "message", reply, "error", json_object_get (state, "error"));
      send_ended (r, "updateMessageSendFailed", update);
      json_decref (update);
    }
  else
    {
      TgOut *out = login->out;
      r->text = send_key (r->chat_id, id);
      g_hash_table_insert (out->sends, g_strdup (r->text), r);
      r->td = login->td;
      watch_sends (login);
      tg_log (login, PA_LOG_DEBUG, "op %" G_GUINT64_FORMAT ": message %s being sent", r->op_id,
              r->text);
      json_t *early = g_hash_table_lookup (out->early, r->text);
      if (early != NULL)
        {
          json_incref (early);
          g_hash_table_remove (out->early, r->text);
          send_ended (r, json_string_value (json_object_get (early, "@type")), early);
          json_decref (early);
        }
    }
  tg_req_unref (r);
}

void
tg_out_send (PaLogin *login, uint64_t op_id, const char *chat_id, const PaContent *content,
             const char *txn_id)
{
  (void) txn_id; /* Telegram has no idempotency key for sendMessage */
  gint64 chat = 0;
  gint32 topic = 0;
  if (!tg_out_check_ready (login, op_id)
      || !tg_out_parse_chat (login, op_id, chat_id, &chat, &topic))
    return;
  TgChatKind kind = tg_chats_kind (login, chat);
  if (kind != TG_CHAT_UNKNOWN && !tg_chats_can_post (login, chat))
    {
      tg_op_fail (login, op_id, PA_RESULT_FORBIDDEN,
                  kind == TG_CHAT_CHANNEL
                      ? "This channel is read-only for you: only its admins post in it."
                      : "You may not write in this Telegram chat (its admins restrict it).");
      return;
    }
  gboolean media = tg_out_is_media_kind (content->kind);
  if (media && content->media_path == NULL)
    {
      tg_op_fail (login, op_id, PA_RESULT_PERMANENT, "The file of this message is missing.");
      return;
    }
  if (media && content->media_size > TG_UPLOAD_MAX)
    {
      tg_op_fail (login, op_id, PA_RESULT_TOO_LARGE, "Telegram takes files up to 2000 MB.");
      return;
    }
  const char *text = content->text, *html = content->html;
  g_autofree char *me_text = NULL, *me_html = NULL;
  if (content->kind == PA_MSG_EMOTE)
    {
      /* Telegram has no emotes: the "/me" line other clients show. */
      text = me_text = g_strconcat ("/me ", text ? text : "", NULL);
      if (html != NULL)
        html = me_html = g_strconcat ("/me ", html, NULL);
    }
  if (!media && content->kind != PA_MSG_LOCATION)
    {
      gsize len = tg_out_utf16_len (text);
      if (len > TG_TEXT_MAX)
        {
          g_autofree char *msg = g_strdup_printf (
              "Telegram messages hold at most %d characters; this one has %zu.", TG_TEXT_MAX, len);
          tg_op_fail (login, op_id, PA_RESULT_TOO_LARGE, msg);
          return;
        }
      if (len == 0)
        {
          tg_op_fail (login, op_id, PA_RESULT_PERMANENT, "Telegram cannot send an empty message.");
          return;
        }
    }
  g_autofree char *file = NULL;
  if (media)
    {
      file = tg_out_keep_file (login, content->media_path, content->media_name, content->mimetype);
      if (file == NULL)
        {
          tg_op_fail (login, op_id, PA_RESULT_TEMPORARY,
                      "The file could not be prepared for Telegram.");
          return;
        }
    }
  json_t *reply_to = json_null ();
  gint64 target = 0;
  if (content->reply_to != NULL)
    {
      if (tg_ids_message_from_pa (login, chat, content->reply_to, &target))
        {
          json_decref (reply_to);
          reply_to = json_pack ("{s:s, s:I, s:n, s:i, s:s}", "@type", "inputMessageReplyToMessage",
                                "message_id", (json_int_t) target, "quote", "checklist_task_id", 0,
                                "poll_option_id", "");
        }
      else
        tg_log (login, PA_LOG_INFO,
                "op %" G_GUINT64_FORMAT ": reply target %s unknown, sent "
                "without it",
                op_id, content->reply_to);
    }
  json_t *input = tg_out_input_content (content, tg_out_formatted (login, html, text), file);
  json_t *request
      = json_pack ("{s:s, s:I, s:o, s:o, s:n, s:n, s:o}", "@type", "sendMessage", "chat_id",
                   (json_int_t) chat, "topic_id", tg_out_topic (topic), "reply_to", reply_to,
                   "options", "reply_markup", "input_message_content", input);
  TgReq *r = tg_req_new (login, op_id, TRUE);
  r->chat_id = chat;
  r->topic_id = topic;
  r->file = g_steal_pointer (&file);
  tg_req_send (r, request, on_sent);
}

/* ------------------------------------------------------------ updates */

gboolean
tg_out_on_update (PaLogin *login, const char *type, json_t *update)
{
  TgOut *out = login->out;
  if (g_strcmp0 (type, "updateMessageSendAcknowledged") == 0)
    return TRUE;
  if (g_strcmp0 (type, "updateMessageSendSucceeded") != 0
      && g_strcmp0 (type, "updateMessageSendFailed") != 0)
    return FALSE;
  if (out == NULL)
    return TRUE;
  gint64 chat
      = json_integer_value (json_object_get (json_object_get (update, "message"), "chat_id"));
  gint64 old = json_integer_value (json_object_get (update, "old_message_id"));
  g_autofree char *key = send_key (chat, old);
  TgReq *r = g_hash_table_lookup (out->sends, key);
  if (r != NULL)
    {
      r->ref++;
      send_ended (r, type, update);
      tg_req_unref (r);
      return TRUE;
    }
  /* Not (yet) ours: sendMessage's answer may still be on its way, or it
   * is a send of an earlier process TDLib finished. */
  if (g_hash_table_size (out->early) >= TG_EARLY_MAX)
    g_hash_table_remove_all (out->early);
  g_hash_table_replace (out->early, g_steal_pointer (&key), json_incref (update));
  return TRUE;
}
