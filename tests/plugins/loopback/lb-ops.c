/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * lb-ops.c — operations → loopnet.  Each PaLoginOps operation becomes a
 * request queued in op order (a media file is read asynchronously into its
 * request, and the requests behind it wait), sent with a number, and its
 * answer becomes events and one typed op_result.  loopnet's errors are
 * sentences; lb_code_for_error maps them to PaResultCode (README.md has the
 * table).
 */
#define G_LOG_DOMAIN "passerelle-loopback"

#include "lb-ops.h"

#include <string.h>
#include <sys/stat.h>

#include <glib/gstdio.h>

#include "lb-conn.h"
#include "lb-emit.h"
#include "lb-media.h"
#include "lb-session.h"
#include "lb-util.h"

typedef struct
{
  LbLogin *login;
  LbRequest *req;
} LbLoad;

void
lb_request_free (LbRequest *r)
{
  if (r == NULL)
    return;
  g_free (r->chat_id);
  if (r->req != NULL)
    json_decref (r->req);
  g_free (r);
}

static LbRequest *
lb_request_new (LbAnswer answer, guint64 op_id, json_t *req)
{
  LbRequest *r = g_new0 (LbRequest, 1);
  r->answer = answer;
  r->op_id = op_id;
  r->req = req;
  r->ready = TRUE;
  return r;
}

/* The result code for one of loopnet's error sentences (its answers carry no
 * code, only text).  Unknown text is a permanent failure. */
static PaResultCode
lb_code_for_error (const char *error)
{
  static const struct
  {
    const char *prefix;
    PaResultCode code;
  } map[] = {
    { "not logged in", PA_RESULT_NOT_CONNECTED },
    { "no such chat", PA_RESULT_NOT_FOUND },
    { "no such message", PA_RESULT_NOT_FOUND },
    { "no such user", PA_RESULT_NOT_FOUND },
    { "unknown users", PA_RESULT_NOT_FOUND },
    { "not a member of", PA_RESULT_FORBIDDEN },
    { "cannot edit someone else's message", PA_RESULT_FORBIDDEN },
    { "members of a DM cannot change", PA_RESULT_UNSUPPORTED },
    { "unknown chat field", PA_RESULT_UNSUPPORTED },
    { "unknown op", PA_RESULT_UNSUPPORTED },
    { "rate limited", PA_RESULT_RATE_LIMITED },
    { "too large", PA_RESULT_TOO_LARGE },
    { "try again", PA_RESULT_TEMPORARY },
    /* malformed requests ("empty message", "edit without text", "reaction
     * without key", "resolve without identifier"): permanent, by default */
  };
  for (gsize i = 0; error != NULL && i < G_N_ELEMENTS (map); i++)
    if (g_str_has_prefix (error, map[i].prefix))
      return map[i].code;
  return PA_RESULT_PERMANENT;
}

void
lb_answer (LbLogin *login, LbRequest *r, json_t *msg)
{
  const PaHostApi *api = login->api;
  if (!lb_jb (msg, "ok"))
    {
      const char *err = lb_js (msg, "error");
      lb_fail_op (login, r->op_id, lb_code_for_error (err),
                  err != NULL ? err : "The loopback network refused the operation");
      return;
    }
  guint64 seq = 0;
  g_autofree char *why = NULL;
  switch (r->answer)
    {
    case LB_ANS_ID:
      /* loopnet answers a send with its id only: the timestamp is 0 (unknown)
       * unless the answer has a "ts" */
      lb_op_ok (login, r->op_id, lb_js (msg, "id"), lb_ji (msg, "ts", 0), NULL);
      break;
    case LB_ANS_CHAT:
      {
        json_t *chat = json_object_get (msg, "chat");
        if (lb_emit_chat (login->host, api, chat, &seq, &why) != LB_EMIT_OK)
          lb_fail_op (login, r->op_id, PA_RESULT_PERMANENT,
                      "The loopback network sent a malformed chat");
        else
          lb_op_ok (login, r->op_id, lb_js (chat, "id"), 0, NULL);
        break;
      }
    case LB_ANS_USER:
      {
        json_t *contact = json_object_get (msg, "contact");
        if (lb_emit_contact (login->host, api, contact, &seq, &why) != LB_EMIT_OK)
          lb_fail_op (login, r->op_id, PA_RESULT_PERMANENT,
                      "The loopback network sent a malformed contact");
        else
          lb_op_ok (login, r->op_id, lb_js (contact, "id"), 0, NULL);
        break;
      }
    case LB_ANS_CONTACTS:
      {
        json_t *list = json_object_get (msg, "contacts");
        gsize n = json_is_array (list) ? MIN (json_array_size (list), LB_MAX_LIST) : 0;
        for (gsize i = 0; i < n; i++)
          {
            PaMember m;
            if (lb_member_from_json (json_array_get (list, i), &m))
              api->op_contact (login->host, r->op_id, &m);
          }
        lb_op_ok (login, r->op_id, NULL, 0, NULL);
        break;
      }
    case LB_ANS_HISTORY:
      {
        json_t *list = json_object_get (msg, "messages");
        gsize n = json_is_array (list) ? MIN (json_array_size (list), LB_MAX_HISTORY) : 0;
        for (gsize i = 0; i < n; i++)
          {
            g_clear_pointer (&why, g_free);
            if (lb_emit_message (login->host, api, login->self_id, login->data_dir,
                                 json_array_get (list, i), r->chat_id, 0, &seq, &why)
                != LB_EMIT_OK)
              lb_log (login, PA_LOG_WARNING, "skipping a history message: %s", why);
          }
        PaEvent end = {
          .struct_size = sizeof (PaEvent),
          .type = PA_EV_BACKFILL_END,
          .chat_id = r->chat_id,
          .timestamp_ms = lb_now_ms (),
        };
        api->emit (login->host, &end);
        lb_op_ok (login, r->op_id, NULL, 0, lb_js (msg, "next"));
        break;
      }
    case LB_ANS_LOGOUT:
      lb_op_ok (login, r->op_id, NULL, 0, NULL);
      lb_forget_session (login);
      lb_drop_connection (login, "logged out");
      api->login_state (login->host, PA_STATE_LOGGED_OUT, "Logged out of the loopback network");
      break;
    default:
      g_assert_not_reached ();
    }
}

static void
lb_flush (LbLogin *login)
{
  LbRequest *r;
  while ((r = g_queue_peek_head (&login->queue)) != NULL && r->ready)
    {
      g_queue_pop_head (&login->queue);
      if (login->phase != LB_PHASE_ONLINE)
        {
          lb_fail_op (login, r->op_id, PA_RESULT_NOT_CONNECTED,
                      "Not connected to the loopback network");
          lb_request_free (r);
          continue;
        }
      guint64 n = ++login->next_req;
      json_object_set_new (r->req, "req", json_integer ((json_int_t) n));
      lb_conn_send (login->conn, r->req);
      g_clear_pointer (&r->req, json_decref);
      r->slot = NULL;
      g_hash_table_insert (login->inflight, lb_u64_dup (n), r);
    }
}

/* Queues a request; it is sent when every earlier one has been. */
static void
lb_submit (LbLogin *login, LbRequest *r)
{
  if (login->phase != LB_PHASE_ONLINE)
    {
      lb_fail_op (login, r->op_id, PA_RESULT_NOT_CONNECTED,
                  "Not connected to the loopback network");
      lb_request_free (r);
      return;
    }
  g_queue_push_tail (&login->queue, r);
  lb_flush (login);
}

static void
lb_on_file_loaded (GObject *src, GAsyncResult *res, gpointer data)
{
  LbLoad *ld = data;
  g_autoptr (GError) err = NULL;
  g_autofree char *contents = NULL;
  gsize len = 0;
  gboolean ok = g_file_load_contents_finish (G_FILE (src), res, &contents, &len, NULL, &err);
  if (!ok && g_error_matches (err, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_free (ld); /* the login is gone, and its queue with it */
      return;
    }
  LbLogin *login = ld->login;
  LbRequest *r = ld->req;
  g_free (ld);
  if (!ok || len > r->max_size)
    {
      g_autofree char *msg
          = g_strdup_printf ("Cannot read the file: %s", ok ? "it is too large" : err->message);
      g_queue_remove (&login->queue, r);
      lb_fail_op (login, r->op_id, ok ? PA_RESULT_TOO_LARGE : PA_RESULT_PERMANENT, msg);
      lb_request_free (r);
      lb_flush (login);
      return;
    }
  g_autofree char *b64 = g_base64_encode ((const guchar *) contents, len);
  json_object_set_new (r->slot, "data_b64", json_string (b64));
  r->ready = TRUE;
  lb_flush (login);
}

/* Queues a request whose `slot` gets the base64 of the file at `path`, read
 * asynchronously; requests behind it wait, so operations keep their order. */
static void
lb_submit_with_file (LbLogin *login, LbRequest *r, const char *path, json_t *slot, guint64 max_size)
{
  GStatBuf st;
  if (path == NULL || g_stat (path, &st) != 0 || !S_ISREG (st.st_mode))
    {
      lb_fail_op (login, r->op_id, PA_RESULT_PERMANENT, "The file to send cannot be read");
      lb_request_free (r);
      return;
    }
  if ((guint64) st.st_size > max_size)
    {
      g_autofree char *msg = g_strdup_printf ("The file is too large for the loopback network "
                                              "(at most %" G_GUINT64_FORMAT " MiB)",
                                              max_size / (1024 * 1024));
      lb_fail_op (login, r->op_id, PA_RESULT_TOO_LARGE, msg);
      lb_request_free (r);
      return;
    }
  if (login->phase != LB_PHASE_ONLINE)
    {
      lb_fail_op (login, r->op_id, PA_RESULT_NOT_CONNECTED,
                  "Not connected to the loopback network");
      lb_request_free (r);
      return;
    }
  r->ready = FALSE;
  r->slot = slot;
  r->max_size = max_size;
  g_queue_push_tail (&login->queue, r);
  LbLoad *ld = g_new0 (LbLoad, 1);
  ld->login = login;
  ld->req = r;
  g_autoptr (GFile) file = g_file_new_for_path (path);
  g_file_load_contents_async (file, login->cancel, lb_on_file_loaded, ld);
}

static json_t *
lb_req (const char *op, const char *chat_id)
{
  json_t *req = json_object ();
  json_object_set_new (req, "op", json_string (op));
  lb_set_str (req, "chat", chat_id);
  return req;
}

static gboolean
lb_check (LbLogin *login, guint64 op_id, gboolean ok, const char *what)
{
  if (!ok)
    {
      g_autofree char *msg = g_strdup_printf ("Missing %s", what);
      lb_fail_op (login, op_id, PA_RESULT_PERMANENT, msg);
    }
  return ok;
}

static gboolean
lb_content_ok (const PaContent *content)
{
  return content != NULL && content->struct_size >= sizeof (PaContent);
}

void
lb_send (PaLogin *pl, uint64_t op_id, const char *chat_id, const PaContent *content,
         const char *txn_id)
{
  LbLogin *login = pl;
  if (!lb_check (login, op_id, chat_id != NULL && lb_content_ok (content), "chat or content"))
    return;
  json_t *req = lb_req ("send", chat_id);
  LbRequest *r = lb_request_new (LB_ANS_ID, op_id, req);
  lb_set_str (req, "text", content->text);
  lb_set_str (req, "html", content->html);
  lb_set_str (req, "reply_to", content->reply_to);
  lb_set_str (req, "forwarded_from", content->forwarded_from);
  lb_set_str (req, "txn", txn_id);
  json_object_set_new (req, "emote", json_boolean (content->kind == PA_MSG_EMOTE));
  if (content->kind == PA_MSG_NOTICE)
    json_object_set_new (req, "notice", json_true ());
  if (content->kind == PA_MSG_LOCATION)
    json_object_set_new (
        req, "location",
        json_pack ("{s:f, s:f}", "latitude", content->latitude, "longitude", content->longitude));
  if (lb_is_media_kind (content->kind))
    {
      if (content->media_path == NULL)
        {
          lb_fail_op (login, op_id, PA_RESULT_PERMANENT, "A media message without a file");
          lb_request_free (r);
          return;
        }
      json_t *media = json_object ();
      g_autofree char *base = g_path_get_basename (content->media_path);
      lb_set_str (media, "name", content->media_name != NULL ? content->media_name : base);
      lb_set_str (media, "mimetype",
                  content->mimetype != NULL ? content->mimetype : "application/octet-stream");
      lb_set_str (media, "kind", lb_media_kind_name (content->kind));
      if (content->width > 0)
        json_object_set_new (media, "width", json_integer (content->width));
      if (content->height > 0)
        json_object_set_new (media, "height", json_integer (content->height));
      if (content->duration_ms > 0)
        json_object_set_new (media, "duration_ms", json_integer (content->duration_ms));
      json_object_set_new (req, "media", media);
      lb_submit_with_file (login, r, content->media_path, media, LB_MAX_MEDIA);
      return;
    }
  if (content->text == NULL && content->kind != PA_MSG_LOCATION)
    {
      lb_fail_op (login, op_id, PA_RESULT_PERMANENT, "An empty message");
      lb_request_free (r);
      return;
    }
  lb_submit (login, r);
}

void
lb_edit (PaLogin *pl, uint64_t op_id, const char *chat_id, const char *target_id,
         const PaContent *content)
{
  LbLogin *login = pl;
  if (!lb_check (login, op_id,
                 chat_id != NULL && target_id != NULL && lb_content_ok (content)
                     && content->text != NULL,
                 "chat, target or text"))
    return;
  json_t *req = lb_req ("edit", chat_id);
  lb_set_str (req, "target", target_id);
  lb_set_str (req, "text", content->text);
  lb_set_str (req, "html", content->html);
  lb_submit (login, lb_request_new (LB_ANS_ID, op_id, req));
}

void
lb_redact (PaLogin *pl, uint64_t op_id, const char *chat_id, const char *target_id)
{
  LbLogin *login = pl;
  if (!lb_check (login, op_id, chat_id != NULL && target_id != NULL, "chat or target"))
    return;
  json_t *req = lb_req ("redact", chat_id);
  lb_set_str (req, "target", target_id);
  lb_submit (login, lb_request_new (LB_ANS_ID, op_id, req));
}

void
lb_react (PaLogin *pl, uint64_t op_id, const char *chat_id, const char *target_id, const char *key,
          bool remove)
{
  LbLogin *login = pl;
  if (!lb_check (login, op_id, chat_id != NULL && target_id != NULL && key != NULL,
                 "chat, target or key"))
    return;
  json_t *req = lb_req ("react", chat_id);
  lb_set_str (req, "target", target_id);
  lb_set_str (req, "key", key);
  json_object_set_new (req, "remove", json_boolean (remove));
  lb_submit (login, lb_request_new (LB_ANS_ID, op_id, req));
}

void
lb_mark_read (PaLogin *pl, uint64_t op_id, const char *chat_id, const char *message_id)
{
  LbLogin *login = pl;
  if (!lb_check (login, op_id, chat_id != NULL && message_id != NULL, "chat or message"))
    return;
  json_t *req = lb_req ("read", chat_id);
  lb_set_str (req, "id", message_id);
  lb_submit (login, lb_request_new (LB_ANS_ID, op_id, req));
}

void
lb_typing (PaLogin *pl, uint64_t op_id, const char *chat_id, bool typing)
{
  LbLogin *login = pl;
  if (!lb_check (login, op_id, chat_id != NULL, "chat"))
    return;
  json_t *req = lb_req ("typing", chat_id);
  json_object_set_new (req, "typing", json_boolean (typing));
  lb_submit (login, lb_request_new (LB_ANS_ID, op_id, req));
}

void
lb_set_chat_info (PaLogin *pl, uint64_t op_id, const char *chat_id, PaChatField field,
                  const char *value)
{
  LbLogin *login = pl;
  if (!lb_check (login, op_id, chat_id != NULL, "chat"))
    return;
  const char *name = field == PA_CHAT_FIELD_NAME     ? "name"
                     : field == PA_CHAT_FIELD_TOPIC  ? "topic"
                     : field == PA_CHAT_FIELD_AVATAR ? "avatar"
                                                     : NULL;
  if (name == NULL)
    {
      /* disappearing messages, or a field appended after SDK 2.0 */
      g_autofree char *msg
          = g_strdup_printf ("Loopback chats have no setting number %d", (int) field);
      lb_fail_op (login, op_id, PA_RESULT_UNSUPPORTED,
                  field == PA_CHAT_FIELD_DISAPPEARING
                      ? "Loopback chats have no disappearing messages"
                      : msg);
      return;
    }
  json_t *req = lb_req ("set_chat", chat_id);
  lb_set_str (req, "field", name);
  LbRequest *r = lb_request_new (LB_ANS_ID, op_id, req);
  if (field == PA_CHAT_FIELD_AVATAR && value != NULL)
    {
      json_t *avatar = json_object ();
      json_object_set_new (req, "avatar", avatar);
      lb_submit_with_file (login, r, value, avatar, LB_MAX_AVATAR);
      return;
    }
  lb_set_str (req, "value", value);
  lb_submit (login, r);
}

void
lb_set_membership (PaLogin *pl, uint64_t op_id, const char *chat_id, const char *user_id, bool join)
{
  LbLogin *login = pl;
  if (!lb_check (login, op_id, chat_id != NULL && user_id != NULL, "chat or user"))
    return;
  json_t *req = lb_req ("membership", chat_id);
  lb_set_str (req, "user", user_id);
  json_object_set_new (req, "join", json_boolean (join));
  lb_submit (login, lb_request_new (LB_ANS_ID, op_id, req));
}

void
lb_resolve_identifier (PaLogin *pl, uint64_t op_id, const char *identifier, PaResolveMode mode)
{
  LbLogin *login = pl;
  if (!lb_check (login, op_id, identifier != NULL, "identifier"))
    return;
  json_t *req = lb_req ("resolve", NULL);
  lb_set_str (req, "identifier", identifier);
  lb_set_str (req, "mode", mode == PA_RESOLVE_SEARCH ? "search" : "identifier");
  lb_submit (login, lb_request_new (LB_ANS_CONTACTS, op_id, req));
}

void
lb_list_contacts (PaLogin *pl, uint64_t op_id)
{
  lb_submit (pl, lb_request_new (LB_ANS_CONTACTS, op_id, lb_req ("contacts", NULL)));
}

void
lb_create_dm (PaLogin *pl, uint64_t op_id, const char *user_id)
{
  LbLogin *login = pl;
  if (!lb_check (login, op_id, user_id != NULL, "user"))
    return;
  json_t *req = lb_req ("create_dm", NULL);
  lb_set_str (req, "user", user_id);
  lb_submit (login, lb_request_new (LB_ANS_CHAT, op_id, req));
}

void
lb_create_group (PaLogin *pl, uint64_t op_id, const char *name, const char *const *user_ids,
                 size_t n)
{
  LbLogin *login = pl;
  if (!lb_check (login, op_id, n == 0 || user_ids != NULL, "users"))
    return;
  json_t *req = lb_req ("create_group", NULL);
  lb_set_str (req, "name", name);
  json_t *users = json_array ();
  for (size_t i = 0; i < n && i < LB_MAX_LIST; i++)
    if (user_ids[i] != NULL)
      json_array_append_new (users, json_string (user_ids[i]));
  json_object_set_new (req, "users", users);
  lb_submit (login, lb_request_new (LB_ANS_CHAT, op_id, req));
}

void
lb_get_chat_info (PaLogin *pl, uint64_t op_id, const char *chat_id)
{
  LbLogin *login = pl;
  if (!lb_check (login, op_id, chat_id != NULL, "chat"))
    return;
  lb_submit (login, lb_request_new (LB_ANS_CHAT, op_id, lb_req ("chat_info", chat_id)));
}

void
lb_get_user_info (PaLogin *pl, uint64_t op_id, const char *user_id)
{
  LbLogin *login = pl;
  if (!lb_check (login, op_id, user_id != NULL, "user"))
    return;
  json_t *req = lb_req ("user_info", NULL);
  lb_set_str (req, "user", user_id);
  lb_submit (login, lb_request_new (LB_ANS_USER, op_id, req));
}

void
lb_fetch_history (PaLogin *pl, uint64_t op_id, const char *chat_id, const char *cursor,
                  uint32_t count, bool forward)
{
  LbLogin *login = pl;
  if (!lb_check (login, op_id, chat_id != NULL, "chat"))
    return;
  json_t *req = lb_req ("history", chat_id);
  lb_set_str (req, "cursor", cursor);
  json_object_set_new (req, "count", json_integer (CLAMP (count, 1, LB_MAX_HISTORY)));
  json_object_set_new (req, "forward", json_boolean (forward));
  LbRequest *r = lb_request_new (LB_ANS_HISTORY, op_id, req);
  r->chat_id = g_strdup (chat_id);
  lb_submit (login, r);
}

void
lb_logout (PaLogin *pl, uint64_t op_id)
{
  LbLogin *login = pl;
  if (login->phase == LB_PHASE_ONLINE)
    {
      lb_submit (login, lb_request_new (LB_ANS_LOGOUT, op_id, lb_req ("logout", NULL)));
      return;
    }
  lb_forget_session (login);
  lb_drop_connection (login, "logged out");
  login->api->login_state (login->host, PA_STATE_LOGGED_OUT, "Logged out");
  lb_fail_op (login, op_id, PA_RESULT_PERMANENT,
              "Not connected: the session was forgotten here, but the loopback "
              "network could not be told");
}
