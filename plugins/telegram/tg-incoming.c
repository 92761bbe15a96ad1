/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * tg-incoming.c — TDLib's message updates → events: new messages, edits,
 * deletions, read receipts and typing (reactions: tg-reactions-in.c).
 *
 * Order.  A message whose media is downloading holds the events of its
 * chat that come after it: each chat has a queue, every event of a chat
 * goes through it, and the queue lets an event out only once everything
 * queued before it went out.  Downloads run side by side; only emission
 * waits.  History (tg-history.c) feeds the same queues, so a backfill's
 * BACKFILL_END comes after its last message.
 *
 * Edits: updateMessageEdited says when; the message as it is then is asked
 * with getMessage (TDLib has it at hand), for its content and author.
 *
 * Messages still being sent (sending_state set) are the outgoing part's:
 * it emits them with their transaction id once Telegram took them.
 */
#define G_LOG_DOMAIN "passerelle-telegram"

#include "tg-content-in.h"
#include "tg-ids.h"
#include "tg-reactions-in.h"

typedef enum
{
  TG_ITEM_MESSAGE,
  TG_ITEM_EDIT,
  TG_ITEM_FUNC,
} TgItemKind;

typedef struct
{
  PaLogin *login;
  TgItemKind kind;
  gint64 chat_id;
  gint64 message_id;
  json_t *message; /* MESSAGE: the message; EDIT: NULL */
  TgContentIn *content;
  gboolean waiting; /* its file is downloading, or the edited message asked */
  gint64 ts_ms;     /* EDIT: when it was edited */
  TgInFunc fn;
  gpointer data;
  GDestroyNotify destroy;
} TgItem;

struct TgIn
{
  GHashTable *queues; /* chat id → GQueue of TgItem */
  TgReactionsIn *reactions;
};

static void
item_free (TgItem *it)
{
  if (it->message != NULL)
    json_decref (it->message);
  tg_content_in_free (it->content);
  if (it->destroy != NULL)
    it->destroy (it->data);
  g_free (it);
}

static void
queue_free (GQueue *q)
{
  g_queue_free_full (q, (GDestroyNotify) item_free);
}

static char *tg_in_chat_of_message (PaLogin *login, gint64 chat_id, gint64 message_id);

void
tg_in_init (PaLogin *login)
{
  TgIn *in = g_new0 (TgIn, 1);
  in->queues
      = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, (GDestroyNotify) queue_free);
  in->reactions = tg_reactions_in_new (tg_in_chat_of_message);
  login->in = in;
}

void
tg_in_free (PaLogin *login)
{
  if (login->in == NULL)
    return;
  g_hash_table_unref (login->in->queues);
  tg_reactions_in_free (login->in->reactions);
  g_clear_pointer (&login->in, g_free);
}

/* ------------------------------------------------------------- chat ids */

/* Where a message was seen and who wrote it, remembered for the updates
 * that carry only its id (edits, deletions, reactions): the topic portal
 * it went to, and its sender, whose ghost redacts it. */
static char *
seen_key (gint64 chat_id, gint64 message_id)
{
  return g_strdup_printf ("%" G_GINT64_FORMAT "/m/%" G_GINT64_FORMAT, chat_id, message_id);
}

static void
remember (PaLogin *login, gint64 chat_id, gint64 message_id, gint32 topic, const char *sender)
{
  g_autofree char *k = seen_key (chat_id, message_id);
  g_autofree char *v = g_strdup_printf ("%" G_GINT32_FORMAT " %s", topic, sender);
  login->api->meta_set (login->host, PA_META_MESSAGE, k, v);
}

/* The topic and (newly allocated, or NULL) sender of a message seen. */
static gint32
recall (PaLogin *login, gint64 chat_id, gint64 message_id, char **sender)
{
  g_autofree char *k = seen_key (chat_id, message_id);
  char *v = login->api->meta_get (login->host, PA_META_MESSAGE, k);
  gint64 topic = 0;
  if (sender != NULL)
    *sender = NULL;
  if (v != NULL)
    {
      const char *space = strchr (v, ' ');
      g_autofree char *t = space != NULL ? g_strndup (v, (gsize) (space - v)) : g_strdup (v);
      g_ascii_string_to_signed (t, 10, 0, G_MAXINT32, &topic, NULL);
      if (sender != NULL && space != NULL && space[1] != '\0')
        *sender = g_strdup (space + 1);
      free (v);
    }
  return (gint32) topic;
}

/* The legacy chat id of a message known only by its ids: the chat, or the
 * forum topic the message was seen in. */
static char *
tg_in_chat_of_message (PaLogin *login, gint64 chat_id, gint64 message_id)
{
  return tg_ids_chat (chat_id, recall (login, chat_id, message_id, NULL));
}

/* ---------------------------------------------------------------- queue */

static void run_item (PaLogin *login, TgItem *it);

static void
flush (PaLogin *login, gint64 chat_id)
{
  GQueue *q = g_hash_table_lookup (login->in->queues, &chat_id);
  while (q != NULL && !g_queue_is_empty (q) && !((TgItem *) g_queue_peek_head (q))->waiting)
    {
      TgItem *it = g_queue_pop_head (q);
      run_item (login, it);
      item_free (it);
      /* run_item may have queued more: look the queue up again */
      q = g_hash_table_lookup (login->in->queues, &chat_id);
    }
  if (q != NULL && g_queue_is_empty (q))
    g_hash_table_remove (login->in->queues, &chat_id);
}

static void
enqueue (PaLogin *login, TgItem *it)
{
  GQueue *q = g_hash_table_lookup (login->in->queues, &it->chat_id);
  if (q == NULL)
    {
      q = g_queue_new ();
      gint64 *k = g_new (gint64, 1);
      *k = it->chat_id;
      g_hash_table_insert (login->in->queues, k, q);
    }
  g_queue_push_tail (q, it);
  if (g_queue_peek_head (q) == it)
    flush (login, it->chat_id);
}

static void
on_download (json_t *reply, void *user_data)
{
  TgItem *it = user_data;
  PaLogin *login = it->login;
  if (login->closing)
    return; /* the item goes with its queue */
  g_autofree char *base
      = g_strdup_printf ("%" G_GINT64_FORMAT "-%" G_GINT64_FORMAT, it->chat_id, it->message_id);
  tg_content_in_take (login, it->content, reply, base);
  it->waiting = FALSE;
  flush (login, it->chat_id);
}

/* Starts the download of the item's file, unless the data dir has no
 * room for it. */
static void
download (PaLogin *login, TgItem *it)
{
  TgContentIn *c = it->content;
  gint64 budget = login->api->budget_left (login->host);
  if (budget >= 0 && c->c.media_size > (uint64_t) budget)
    {
      tg_content_in_unavailable (c, "the bridge's storage for this login is full");
      return;
    }
  it->waiting = TRUE;
  json_t *req = json_pack ("{s:s, s:I, s:i, s:i, s:i, s:b}", "@type", "downloadFile", "file_id",
                           (json_int_t) tg_jint (c->file, "id"), "priority", 1, "offset", 0,
                           "limit", 0, "synchronous", 1);
  tg_td_send (login->td, req, on_download, it);
}

static TgItem *
item_new (PaLogin *login, TgItemKind kind, gint64 chat_id)
{
  TgItem *it = g_new0 (TgItem, 1);
  it->login = login;
  it->kind = kind;
  it->chat_id = chat_id;
  return it;
}

void
tg_in_after (PaLogin *login, gint64 chat_id, TgInFunc fn, gpointer data, GDestroyNotify destroy)
{
  TgItem *it = item_new (login, TG_ITEM_FUNC, chat_id);
  it->fn = fn;
  it->data = data;
  it->destroy = destroy;
  enqueue (login, it);
}

/* TRUE when this login already bridged the message (history asked again
 * after a restart): its media are not downloaded a second time. */
static gboolean
already_seen (PaLogin *login, gint64 chat_id, gint64 message_id)
{
  g_autofree char *k = seen_key (chat_id, message_id);
  char *v = login->api->meta_get (login->host, PA_META_MESSAGE, k);
  gboolean found = v != NULL;
  free (v);
  return found;
}

void
tg_in_message (PaLogin *login, json_t *message)
{
  if (json_object_get (message, "sending_state") != NULL
      && !json_is_null (json_object_get (message, "sending_state")))
    return;
  gint64 chat_id = tg_jint (message, "chat_id");
  if (already_seen (login, chat_id, tg_jint (message, "id")))
    return;
  TgItem *it = item_new (login, TG_ITEM_MESSAGE, chat_id);
  it->message = json_incref (message);
  it->message_id = tg_jint (message, "id");
  it->content = tg_content_in_new (login, chat_id, json_object_get (message, "content"),
                                   json_object_get (message, "sender_id"));
  if (it->content->file != NULL)
    download (login, it);
  enqueue (login, it);
}

/* ------------------------------------------------------------- emitting */

/* "Name" of a forward's origin, or NULL. */
static char *
forward_name (PaLogin *login, json_t *forward)
{
  json_t *o = json_object_get (forward, "origin");
  if (tg_jis (o, "messageOriginUser"))
    {
      json_t *s = json_pack ("{s:s, s:I}", "@type", "messageSenderUser", "user_id",
                             (json_int_t) tg_jint (o, "sender_user_id"));
      char *n = tg_chats_sender_name (login, s);
      json_decref (s);
      return n;
    }
  if (tg_jis (o, "messageOriginHiddenUser"))
    return g_strdup (tg_jstr (o, "sender_name"));
  const char *chat_key = tg_jis (o, "messageOriginChat") ? "sender_chat_id" : "chat_id";
  if (tg_jis (o, "messageOriginChat") || tg_jis (o, "messageOriginChannel"))
    {
      const char *title = tg_chats_title (login, tg_jint (o, chat_key));
      const char *sig = tg_jstr (o, "author_signature");
      if (sig != NULL && *sig != '\0')
        return g_strdup_printf ("%s (%s)", title != NULL ? title : "a channel", sig);
      return g_strdup (title != NULL ? title : "a channel");
    }
  return NULL;
}

static void
emit_message (PaLogin *login, TgItem *it)
{
  json_t *m = it->message;
  gint64 chat_id = it->chat_id;
  gint32 topic = tg_chats_message_topic (login, m);
  json_t *sender = json_object_get (m, "sender_id");
  g_autofree char *sender_id = tg_chats_sender_id (sender);
  g_autofree char *msg_id = tg_ids_message_to_pa (login, m);
  if (sender_id == NULL || msg_id == NULL)
    return;
  tg_chats_announce_once (login, chat_id, topic);
  tg_chats_contact_once (login, sender);
  remember (login, chat_id, it->message_id, topic, sender_id);
  g_autofree char *chat = tg_ids_chat (chat_id, topic);

  TgContentIn *c = it->content;
  json_t *reply = json_object_get (m, "reply_to");
  if (c->reply_to == NULL && tg_jis (reply, "messageReplyToMessage")
      && (tg_jint (reply, "chat_id") == chat_id || tg_jint (reply, "chat_id") == 0))
    c->reply_to = tg_ids_message_id_to_pa (login, chat_id, tg_jint (reply, "message_id"));
  json_t *fwd = json_object_get (m, "forward_info");
  if (fwd != NULL && !json_is_null (fwd))
    c->forwarded_from = forward_name (login, fwd);
  if (tg_jint (m, "edit_date") != 0)
    c->c.flags |= PA_CONTENT_EDITED;
  tg_content_in_sync (c);

  PaEvent ev = {
    .struct_size = sizeof (PaEvent),
    .type = PA_EV_MESSAGE,
    .chat_id = chat,
    .sender_id = sender_id,
    .timestamp_ms = tg_jint (m, "date") * 1000,
    .message_id = msg_id,
    .from_me = json_is_true (json_object_get (m, "is_outgoing")),
    .content = &c->c,
  };
  tg_emit (login, &ev);
  /* the host owns the file now, or deleted it */
  g_clear_pointer (&c->media_path, g_free);
  tg_content_in_sync (c);

  if (c->chat_changed)
    tg_chats_reannounce (login, chat_id);
  if (c->members_changed)
    tg_chats_members_stale (login, chat_id);
  json_t *ii = json_object_get (m, "interaction_info");
  if (ii != NULL && !json_is_null (ii))
    tg_reactions_in_sync (login, login->in->reactions, chat_id, it->message_id, ii);
}

static void
emit_edit (PaLogin *login, TgItem *it)
{
  json_t *m = it->message; /* as TDLib has it now, or NULL when it did not say */
  g_autofree char *target = tg_ids_message_id_to_pa (login, it->chat_id, it->message_id);
  g_autofree char *sender = tg_chats_sender_id (json_object_get (m, "sender_id"));
  if (m == NULL || target == NULL || sender == NULL)
    return;
  g_autoptr (TgContentIn) c = tg_content_in_new (login, it->chat_id, json_object_get (m, "content"),
                                                 json_object_get (m, "sender_id"));
  /* an edit changes the text (a caption): the file stays the first one */
  if (c->file != NULL)
    g_clear_pointer (&c->file, json_decref);
  if (c->text == NULL && c->media_name != NULL)
    c->text = g_strdup (c->media_name);
  c->c.flags |= PA_CONTENT_EDITED;
  tg_content_in_sync (c);
  g_autofree char *chat = tg_ids_chat (it->chat_id, tg_chats_message_topic (login, m));
  PaEvent ev = {
    .struct_size = sizeof (PaEvent),
    .type = PA_EV_EDIT,
    .chat_id = chat,
    .sender_id = sender,
    /* the same in every login: the host tells one edit from another by it */
    .timestamp_ms = it->ts_ms,
    .target_id = target,
    .from_me = json_is_true (json_object_get (m, "is_outgoing")),
    .content = &c->c,
  };
  tg_emit (login, &ev);
}

static void
run_item (PaLogin *login, TgItem *it)
{
  if (login->closing)
    return;
  switch (it->kind)
    {
    case TG_ITEM_MESSAGE:
      emit_message (login, it);
      break;
    case TG_ITEM_EDIT:
      emit_edit (login, it);
      break;
    case TG_ITEM_FUNC:
      it->fn (login, it->data);
      break;
    }
}

/* -------------------------------------------------------------- updates */

static void
on_edited_message (json_t *reply, void *user_data)
{
  TgItem *it = user_data;
  PaLogin *login = it->login;
  if (login->closing)
    return; /* the item goes with its queue */
  if (!tg_td_is_error (reply, NULL, NULL))
    it->message = json_incref (reply);
  it->waiting = FALSE;
  flush (login, it->chat_id);
}

/* An edit: the message as it is now is asked of TDLib (it has it at hand),
 * for its content and its sender, whose ghost edits it. */
static void
edit (PaLogin *login, json_t *update, gint64 ts_ms)
{
  gint64 chat_id = tg_jint (update, "chat_id");
  TgItem *it = item_new (login, TG_ITEM_EDIT, chat_id);
  it->message_id = tg_jint (update, "message_id");
  it->ts_ms = ts_ms;
  it->waiting = TRUE;
  json_t *req = json_pack ("{s:s, s:I, s:I}", "@type", "getMessage", "chat_id",
                           (json_int_t) chat_id, "message_id", (json_int_t) it->message_id);
  tg_td_send (login->td, req, on_edited_message, it);
  enqueue (login, it);
}

typedef struct
{
  gint64 chat_id;
  json_t *ids;
} TgDelete;

static void
delete_free (gpointer data)
{
  TgDelete *d = data;
  json_decref (d->ids);
  g_free (d);
}

static void
emit_deletes (PaLogin *login, gpointer data)
{
  TgDelete *d = data;
  size_t i;
  json_t *v;
  json_array_foreach (d->ids, i, v)
  {
    gint64 mid = json_integer_value (v);
    g_autofree char *target = tg_ids_message_id_to_pa (login, d->chat_id, mid);
    if (target == NULL)
      continue;
    g_autofree char *sender = NULL;
    gint32 topic = recall (login, d->chat_id, mid, &sender);
    g_autofree char *chat = tg_ids_chat (d->chat_id, topic);
    PaEvent ev = {
      .struct_size = sizeof (PaEvent),
      .type = PA_EV_DELETE,
      .chat_id = chat,
      .sender_id = sender,
      .timestamp_ms = g_get_real_time () / 1000,
      .target_id = target,
    };
    tg_emit (login, &ev);
  }
}

static void
on_delete (PaLogin *login, json_t *update)
{
  /* messages only dropped from TDLib's cache are still there */
  if (!json_is_true (json_object_get (update, "is_permanent"))
      || json_is_true (json_object_get (update, "from_cache")))
    return;
  TgDelete *d = g_new0 (TgDelete, 1);
  d->chat_id = tg_jint (update, "chat_id");
  d->ids = json_incref (json_object_get (update, "message_ids"));
  tg_in_after (login, d->chat_id, emit_deletes, d, delete_free);
}

/* The other side of a private chat read our messages up to this one. */
static void
on_read_outbox (PaLogin *login, json_t *update)
{
  gint64 chat_id = tg_jint (update, "chat_id");
  gint64 peer = tg_chats_peer (login, chat_id);
  if (peer == 0)
    return;
  g_autofree char *mid
      = tg_ids_message_id_to_pa (login, chat_id, tg_jint (update, "last_read_outbox_message_id"));
  if (mid == NULL)
    return;
  g_autofree char *chat = tg_ids_chat (chat_id, 0);
  g_autofree char *sender = tg_ids_user (peer);
  PaEvent ev = {
    .struct_size = sizeof (PaEvent),
    .type = PA_EV_READ_RECEIPT,
    .chat_id = chat,
    .sender_id = sender,
    .timestamp_ms = g_get_real_time () / 1000,
    .message_id = mid,
  };
  tg_emit (login, &ev);
}

static void
on_action (PaLogin *login, json_t *update)
{
  json_t *sender = json_object_get (update, "sender_id");
  if (!tg_jis (sender, "messageSenderUser") || tg_jint (sender, "user_id") == login->self_id)
    return;
  g_autofree char *sender_id = tg_chats_sender_id (sender);
  gint64 chat_id = tg_jint (update, "chat_id");
  g_autofree char *chat = tg_ids_chat (chat_id, tg_chats_message_topic (login, update));
  gboolean typing = !tg_jis (json_object_get (update, "action"), "chatActionCancel");
  PaEvent ev = {
    .struct_size = sizeof (PaEvent),
    .type = PA_EV_TYPING,
    .chat_id = chat,
    .sender_id = sender_id,
    .timestamp_ms = g_get_real_time () / 1000,
    .typing = typing,
    .typing_timeout_ms = typing ? 6000 : 0,
  };
  tg_emit (login, &ev);
}

typedef struct
{
  gint64 message_id;
  json_t *info;
} TgReact;

static void
react_free (gpointer data)
{
  TgReact *r = data;
  json_decref (r->info);
  g_free (r);
}

static void
emit_reactions (PaLogin *login, gpointer data)
{
  TgReact *r = data;
  gint64 chat_id = tg_jint (r->info, "chat_id");
  tg_reactions_in_sync (login, login->in->reactions, chat_id, r->message_id,
                        json_object_get (r->info, "interaction_info"));
}

gboolean
tg_in_on_update (PaLogin *login, const char *type, json_t *update)
{
  if (strcmp (type, "updateNewMessage") == 0)
    {
      tg_in_message (login, json_object_get (update, "message"));
      return TRUE;
    }
  if (strcmp (type, "updateMessageEdited") == 0)
    {
      edit (login, update, tg_jint (update, "edit_date") * 1000);
      return TRUE;
    }
  if (strcmp (type, "updateMessageContent") == 0)
    {
      /* an edit comes with updateMessageEdited; new votes change a poll
       * without one */
      if (tg_jis (json_object_get (update, "new_content"), "messagePoll"))
        edit (login, update, g_get_real_time () / 1000);
      return TRUE;
    }
  if (strcmp (type, "updateDeleteMessages") == 0)
    {
      on_delete (login, update);
      return TRUE;
    }
  if (strcmp (type, "updateMessageInteractionInfo") == 0)
    {
      TgReact *r = g_new0 (TgReact, 1);
      r->message_id = tg_jint (update, "message_id");
      r->info = json_incref (update);
      tg_in_after (login, tg_jint (update, "chat_id"), emit_reactions, r, react_free);
      return TRUE;
    }
  if (strcmp (type, "updateChatReadOutbox") == 0)
    {
      on_read_outbox (login, update);
      return TRUE;
    }
  if (strcmp (type, "updateChatAction") == 0)
    {
      on_action (login, update);
      return TRUE;
    }
  return FALSE;
}
