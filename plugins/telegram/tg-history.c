/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * tg-history.c — history: the backfill of the main list's first chats
 * once the login is ready, and fetch_history.
 *
 * On ready, for each of the first history_chats chats of the main list,
 * one after the other: getChatHistory back from the newest message until
 * history_messages messages or history_days days (TDLib answers in pages
 * of its own size, newest first, often a single message for the first
 * page), then the messages oldest first through the incoming queues (so
 * media download and order hold) with their original timestamps, then
 * BACKFILL_END for the chat and each forum topic seen.
 *
 * fetch_history: the cursor is a TDLib message id of this login (opaque to
 * the host); backwards it pages with from_message_id, forwards with a
 * negative offset.  A topic portal reads getForumTopicHistory.
 */
#define G_LOG_DOMAIN "passerelle-telegram"

#include "tg-ids.h"
#include "tg-incoming.h"

/* Pages asked for one chat at most, whatever TDLib answers. */
#define TG_HISTORY_MAX_PAGES 20
/* TDLib's own limit of one page. */
#define TG_HISTORY_PAGE 100

struct TgHistory
{
  gint64 since_s;   /* messages older than this are not backfilled on ready */
  json_t *pending;  /* chat ids still to backfill on ready */
  gboolean running; /* a backfill job is under way */
};

typedef struct
{
  PaLogin *login;
  gint64 chat_id;
  gint32 topic_id;
  gint64 from_id; /* the next page starts here (0: the newest) */
  gint64 cursor;  /* fetch_history's cursor, 0 for none */
  gint64 wanted;
  gint64 since_s; /* 0: no age limit */
  gboolean forward;
  guint64 op_id; /* 0 for the backfill on ready */
  int pages;
  json_t *got; /* messages, newest first */
} TgJob;

void
tg_history_init (PaLogin *login)
{
  TgHistory *h = g_new0 (TgHistory, 1);
  h->pending = json_array ();
  login->history = h;
}

void
tg_history_free (PaLogin *login)
{
  if (login->history == NULL)
    return;
  json_decref (login->history->pending);
  g_clear_pointer (&login->history, g_free);
}

void
tg_history_on_ready (PaLogin *login)
{
  gint64 days = login->api->config_int (login->host, "history_days");
  login->history->since_s = days > 0 ? g_get_real_time () / G_USEC_PER_SEC - days * 86400 : 0;
}

static void
job_free (TgJob *j)
{
  json_decref (j->got);
  g_free (j);
}

static void next_backfill (PaLogin *login);
static void job_page (TgJob *j);

/* ----------------------------------------------------------- the end */

typedef struct
{
  GPtrArray *chats; /* legacy chat ids that got history */
  guint64 op_id;
  char *cursor;
} TgEnd;

static void
end_free (gpointer data)
{
  TgEnd *e = data;
  g_ptr_array_unref (e->chats);
  g_free (e->cursor);
  g_free (e);
}

/* After the job's last message went out: BACKFILL_END, then the op's
 * answer with the next cursor. */
static void
emit_end (PaLogin *login, gpointer data)
{
  TgEnd *e = data;
  for (guint i = 0; i < e->chats->len; i++)
    {
      PaEvent ev = {
        .struct_size = sizeof (PaEvent),
        .type = PA_EV_BACKFILL_END,
        .chat_id = g_ptr_array_index (e->chats, i),
        .timestamp_ms = g_get_real_time () / 1000,
      };
      tg_emit (login, &ev);
    }
  if (e->op_id != 0)
    {
      PaOpResult r = {
        .struct_size = sizeof (PaOpResult),
        .code = PA_RESULT_OK,
        .cursor = e->cursor,
      };
      login->api->op_result (login->host, e->op_id, &r);
    }
}

static void
add_chat (GPtrArray *chats, char *id)
{
  for (guint i = 0; i < chats->len; i++)
    if (strcmp (g_ptr_array_index (chats, i), id) == 0)
      {
        g_free (id);
        return;
      }
  g_ptr_array_add (chats, id);
}

/* The job has its messages: out they go, oldest first. */
static void
job_done (TgJob *j)
{
  PaLogin *login = j->login;
  TgEnd *e = g_new0 (TgEnd, 1);
  e->chats = g_ptr_array_new_with_free_func (g_free);
  e->op_id = j->op_id;
  size_t n = json_array_size (j->got);
  for (size_t i = n; i > 0; i--)
    {
      json_t *m = json_array_get (j->got, i - 1);
      tg_in_message (login, m);
      add_chat (e->chats, tg_ids_chat (j->chat_id, tg_chats_message_topic (login, m)));
    }
  if (j->op_id != 0 || e->chats->len == 0)
    add_chat (e->chats, tg_ids_chat (j->chat_id, j->topic_id));
  /* the next page: before the oldest (backwards) or after the newest */
  if (n > 0)
    {
      json_t *edge = json_array_get (j->got, j->forward ? 0 : n - 1);
      e->cursor = g_strdup_printf ("%" G_GINT64_FORMAT, tg_jint (edge, "id"));
    }
  tg_in_after (login, j->chat_id, emit_end, e, end_free);
  if (j->op_id == 0)
    {
      login->history->running = FALSE;
      next_backfill (login);
    }
  job_free (j);
}

/* ------------------------------------------------------------- paging */

static void
on_page (json_t *reply, void *user_data)
{
  TgJob *j = user_data;
  PaLogin *login = j->login;
  if (login->closing)
    {
      job_free (j);
      return;
    }
  if (tg_td_is_error (reply, NULL, NULL))
    {
      tg_log (login, PA_LOG_INFO, "history of chat %" G_GINT64_FORMAT " stops: %s", j->chat_id,
              tg_jstr (reply, "message"));
      if (j->op_id != 0 && json_array_size (j->got) == 0)
        {
          tg_op_fail_td (login, j->op_id, reply);
          job_free (j);
          return;
        }
      job_done (j);
      return;
    }
  json_t *messages = json_object_get (reply, "messages");
  gboolean older = FALSE;
  size_t i;
  json_t *m;
  json_array_foreach (messages, i, m)
  {
    gint64 id = tg_jint (m, "id");
    if (j->since_s != 0 && tg_jint (m, "date") < j->since_s)
      {
        older = TRUE;
        break;
      }
    if (j->cursor != 0 && (j->forward ? id <= j->cursor : id >= j->cursor))
      continue;
    if (j->from_id != 0 && id == j->from_id)
      continue;
    if ((gint64) json_array_size (j->got) >= j->wanted)
      break;
    json_array_append (j->got, m);
  }
  j->pages++;
  gint64 have = (gint64) json_array_size (j->got);
  json_t *last = json_array_get (messages, json_array_size (messages) - 1);
  if (j->forward || older || json_array_size (messages) == 0 || have >= j->wanted
      || j->pages >= TG_HISTORY_MAX_PAGES || tg_jint (last, "id") == j->from_id)
    {
      job_done (j);
      return;
    }
  j->from_id = tg_jint (last, "id");
  job_page (j);
}

static void
job_page (TgJob *j)
{
  json_t *req;
  gint64 left = j->wanted - (gint64) json_array_size (j->got);
  gint64 limit = CLAMP (left + 1, 1, TG_HISTORY_PAGE);
  gint64 offset = 0;
  if (j->forward)
    {
      offset = -CLAMP (left, 1, TG_HISTORY_PAGE - 1);
      limit = -offset + 1;
    }
  if (j->topic_id != 0)
    {
      req = json_pack ("{s:s, s:I, s:i}", "@type", "getForumTopicHistory", "chat_id",
                       (json_int_t) j->chat_id, "forum_topic_id", (int) j->topic_id);
    }
  else
    {
      req = json_pack ("{s:s, s:I, s:b}", "@type", "getChatHistory", "chat_id",
                       (json_int_t) j->chat_id, "only_local", 0);
    }
  json_object_set_new (req, "from_message_id", json_integer (j->from_id));
  json_object_set_new (req, "offset", json_integer (offset));
  json_object_set_new (req, "limit", json_integer (limit));
  tg_td_send (j->login->td, req, on_page, j);
}

static TgJob *
job_new (PaLogin *login, gint64 chat_id, gint32 topic_id)
{
  TgJob *j = g_new0 (TgJob, 1);
  j->login = login;
  j->chat_id = chat_id;
  j->topic_id = topic_id;
  j->got = json_array ();
  return j;
}

/* ----------------------------------------------------- backfill on ready */

static void
next_backfill (PaLogin *login)
{
  TgHistory *h = login->history;
  if (h->running || json_array_size (h->pending) == 0 || login->closing)
    return;
  gint64 chat_id = json_integer_value (json_array_get (h->pending, 0));
  json_array_remove (h->pending, 0);
  gint64 wanted = login->api->config_int (login->host, "history_messages");
  if (wanted <= 0)
    return;
  TgJob *j = job_new (login, chat_id, 0);
  j->wanted = MIN (wanted, 10000);
  j->since_s = h->since_s;
  h->running = TRUE;
  job_page (j);
}

void
tg_history_start (PaLogin *login, json_t *chat_ids)
{
  gint64 max = login->api->config_int (login->host, "history_chats");
  size_t i;
  json_t *v;
  json_array_foreach (chat_ids, i, v)
  {
    if ((gint64) i >= max)
      break;
    json_array_append (login->history->pending, v);
  }
  next_backfill (login);
}

/* -------------------------------------------------------- fetch_history */

void
tg_history_fetch (PaLogin *login, uint64_t op_id, const char *chat_id, const char *cursor,
                  uint32_t count, bool forward)
{
  gint64 chat = 0, from = 0;
  gint32 topic = 0;
  if (!tg_ids_parse_chat (chat_id, &chat, &topic))
    {
      tg_op_fail (login, op_id, PA_RESULT_NOT_FOUND, "not a Telegram chat id");
      return;
    }
  if (cursor != NULL && !g_ascii_string_to_signed (cursor, 10, 1, G_MAXINT64, &from, NULL))
    {
      tg_op_fail (login, op_id, PA_RESULT_PERMANENT, "not a history cursor of this login");
      return;
    }
  if (forward && from == 0)
    {
      /* nothing is newer than the newest */
      TgEnd *e = g_new0 (TgEnd, 1);
      e->chats = g_ptr_array_new_with_free_func (g_free);
      g_ptr_array_add (e->chats, g_strdup (chat_id));
      e->op_id = op_id;
      tg_in_after (login, chat, emit_end, e, end_free);
      return;
    }
  TgJob *j = job_new (login, chat, topic);
  j->op_id = op_id;
  j->wanted = CLAMP (count, 1, 1000);
  j->forward = forward;
  j->cursor = from;
  j->from_id = from;
  job_page (j);
}
