/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Matrix → legacy, the operations sent to a login's worker and their
 * completion: each op gets an id and a pending entry (owned by the login)
 * saying where to report; the worker's result records the message map of
 * a sent message or reaction, or tells the agent what failed; contact
 * answers are collected; a worker that stops fails what was pending.
 *
 * Typed results (plugin.h, PaResultCode): a message-like op answered
 * `temporary`, `rate_limited` or `not_connected` is sent again, the same
 * frame (same op id, same txn id), after a delay, at most RETRY_MAX times
 * and never later than RETRY_BOUND_MS after the first answer; what still
 * fails is told to the agent as a notice replying to the Matrix event, with
 * a sentence per code (docs/architecture.md, "Failed messages"). */
#define G_LOG_DOMAIN "passerelle-logins"

#include "pa-to-legacy-ops.h"

#include <glib/gstdio.h>

#include "pa-fingerprint.h"
#include "pa-plugins.h"
#include "pa-portal.h"
#include "pa-queue.h"
#include "pa-to-matrix-room-state.h"
#include "metrics/pa-metrics-points.h"

static const char *
str (json_t *o, const char *key)
{
  return json_string_value (json_object_get (o, key));
}

#define RETRY_MAX 3
#define RETRY_BOUND_MS 60000

static void
pending_free (gpointer p)
{
  PaPendingOp *op = p;
  if (op->retry_source != 0)
    g_source_remove (op->retry_source);
  if (op->reply != NULL) /* the login stopped before the answer */
    op->reply (FALSE, NULL, op->contacts, op->reply_data);
  /* The op is over: the media file the host downloaded for it (always the
   * host's own file, in the login's data dir) is not needed any more
   * (plugin.h, FILES). */
  const char *media
      = json_string_value (json_object_get (json_object_get (op->frame, "content"), "media_path"));
  if (media != NULL)
    g_unlink (media);
  /* A room picture the host downloaded for set_chat_info, likewise. */
  if (g_strcmp0 (op->kind, "room_avatar") == 0)
    {
      const char *picture = json_string_value (json_object_get (op->frame, "value"));
      if (picture != NULL)
        g_unlink (picture);
    }
  json_decref (op->frame);
  g_free (op->kind);
  g_free (op->room_id);
  g_free (op->event_id);
  g_free (op->chat_id);
  g_free (op->extra);
  json_decref (op->contacts);
  g_free (op);
}
void
pa_to_legacy_ops_fail (PaAccount *l, const char *why)
{
  GHashTableIter it;
  gpointer v;
  g_hash_table_iter_init (&it, l->pending);
  while (g_hash_table_iter_next (&it, NULL, &v))
    {
      PaPendingOp *op = v;
      if (op->room_id
          && (g_str_equal (op->kind, "send") || g_str_equal (op->kind, "edit")
              || g_str_equal (op->kind, "redact") || g_str_equal (op->kind, "react")))
        {
          g_autofree char *msg = g_strdup_printf ("⚠ Not delivered: %s", why);
          pa_queue_notice_reply (l->bridge, op->room_id, op->event_id, msg);
          pa_metrics_to_legacy_failure (l->plugin, "worker_lost");
        }
    }
  g_hash_table_remove_all (l->pending);
}
/* Whether `kind` changes what the legacy side shows: worth retrying and
 * worth telling the agent about when it finally fails. */
static gboolean
message_like (const char *kind)
{
  static const char *const kinds[] = { "send", "edit", "redact", "react" };
  for (gsize i = 0; i < G_N_ELEMENTS (kinds); i++)
    if (g_strcmp0 (kind, kinds[i]) == 0)
      return TRUE;
  return FALSE;
}

#define HELD_MAX_MS (2 * 60 * 1000)

/* A pending op named by its login and id, for a timer that may outlive it. */
typedef struct
{
  PaAccount *login;
  guint64 op_id;
} OpRef;

static gboolean
on_held_timeout (gpointer data)
{
  OpRef *h = data;
  PaPendingOp *op = g_hash_table_lookup (h->login->pending, &h->op_id);
  if (op == NULL)
    return G_SOURCE_REMOVE;
  op->retry_source = 0;
  g_autofree char *msg = g_strdup_printf ("⚠ Not delivered: the %s connection did not come back "
                                          "within %d minutes.",
                                          h->login->plugin, HELD_MAX_MS / 60000);
  pa_queue_notice_reply (h->login->bridge, op->room_id, op->event_id, msg);
  pa_metrics_to_legacy_failure (h->login->plugin, "not_connected");
  g_hash_table_remove (h->login->pending, &h->op_id);
  return G_SOURCE_REMOVE;
}

void
pa_to_legacy_ops_hold_unread (PaAccount *l, gint64 read_until_us, const char *why)
{
  g_autoptr (GHashTable) keep = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  GHashTableIter it;
  gpointer k, v;
  g_hash_table_iter_init (&it, l->pending);
  while (g_hash_table_iter_next (&it, &k, &v))
    {
      PaPendingOp *op = v;
      if (!message_like (op->kind) || op->frame == NULL || op->room_id == NULL)
        continue;
      if (op->sent_us <= read_until_us && op->retry_source == 0 && !op->held)
        continue; /* read by the worker, maybe sent: failed below as uncertain */
      if (op->retry_source != 0)
        g_source_remove (op->retry_source);
      op->held = TRUE;
      OpRef *h = g_new (OpRef, 1);
      h->login = l;
      h->op_id = op->op_id;
      op->retry_source
          = g_timeout_add_full (G_PRIORITY_DEFAULT, HELD_MAX_MS, on_held_timeout, h, g_free);
      g_hash_table_iter_steal (&it);
      g_hash_table_insert (keep, k, op);
    }
  pa_to_legacy_ops_fail (l, why);
  g_hash_table_iter_init (&it, keep);
  while (g_hash_table_iter_next (&it, &k, &v))
    {
      g_hash_table_iter_steal (&it);
      g_hash_table_insert (l->pending, k, v);
    }
  g_debug ("login %s: %u operation(s) held for the restart", l->id,
           g_hash_table_size (l->pending));
}

void
pa_to_legacy_ops_release (PaAccount *l)
{
  GHashTableIter it;
  gpointer v;
  g_hash_table_iter_init (&it, l->pending);
  while (g_hash_table_iter_next (&it, NULL, &v))
    {
      PaPendingOp *op = v;
      if (!op->held)
        continue;
      op->held = FALSE;
      if (op->retry_source != 0)
        g_source_remove (op->retry_source);
      op->retry_source = 0;
      op->sent_us = g_get_monotonic_time ();
      if (!pa_worker_send (l->worker, op->frame))
        g_debug ("held op %" G_GUINT64_FORMAT ": worker not running", op->op_id);
    }
}

static gboolean
on_retry (gpointer data)
{
  OpRef *r = data;
  PaPendingOp *op = g_hash_table_lookup (r->login->pending, &r->op_id);
  if (op == NULL)
    return G_SOURCE_REMOVE;
  op->retry_source = 0;
  op->attempts++;
  op->sent_us = g_get_monotonic_time ();
  if (!pa_worker_send (r->login->worker, op->frame))
    {
      /* The worker is gone: its exit fails every pending op, this one too. */
      g_debug ("retry of op %" G_GUINT64_FORMAT ": worker not running", r->op_id);
    }
  return G_SOURCE_REMOVE;
}

/* The delay before the next try of `op` answered `code`, or -1 for none. */
static gint64
retry_delay_ms (const PaPendingOp *op, const char *code, json_t *frame)
{
  if (!message_like (op->kind) || op->frame == NULL || op->attempts > RETRY_MAX)
    return -1;
  gint64 delay;
  guint shift = MIN (op->attempts - 1, 10u);
  if (g_strcmp0 (code, "rate_limited") == 0)
    {
      json_int_t after = json_integer_value (json_object_get (frame, "retry_after_ms"));
      delay = after > 0 ? after : (gint64) 2000 << shift;
    }
  else if (g_strcmp0 (code, "temporary") == 0)
    delay = (gint64) 1000 << shift;
  else if (g_strcmp0 (code, "not_connected") == 0)
    delay = (gint64) 5000 << shift;
  else
    return -1;
  /* The whole wait stays bounded: a network that asks for more is told to
   * the agent now rather than an hour later. */
  return op->waited_ms + delay > RETRY_BOUND_MS ? -1 : delay;
}

/* A message the network rate-limited waits, never in silence: the agent
 * reads that it is pending (once per message), then that it went out
 * (pace_sent).  Other retries (a passing failure) stay quiet unless they
 * finally fail. */
static void
tell_paced (PaAccount *l, PaPendingOp *op, const char *code, gint64 delay_ms)
{
  if (op->paced || g_strcmp0 (code, "rate_limited") != 0 || !g_str_equal (op->kind, "send")
      || op->room_id == NULL || op->event_id == NULL)
    return;
  op->paced = TRUE;
  PaPluginInfo *info = pa_plugin_info (l->bridge, l->plugin);
  g_autofree char *msg = g_strdup_printf (
      "⏳ Pending: %s asks to slow down; this message goes out in %" G_GINT64_FORMAT " s.",
      info != NULL ? info->display_name : l->plugin, (delay_ms + 999) / 1000);
  pa_queue_notice_reply_once (l->bridge, op->room_id, op->event_id, "paced", msg);
}

static void
tell_paced_sent (PaAccount *l, PaPendingOp *op)
{
  if (!op->paced)
    return;
  PaPluginInfo *info = pa_plugin_info (l->bridge, l->plugin);
  const char *net = info != NULL ? info->display_name : l->plugin;
  g_autofree char *msg = g_strdup_printf ("✓ Sent to %s.", net);
  pa_queue_notice_reply_once (l->bridge, op->room_id, op->event_id, "paced-sent", msg);
}

static gboolean
retry_later (PaAccount *l, PaPendingOp *op, const char *code, json_t *frame)
{
  gint64 delay = retry_delay_ms (op, code, frame);
  if (delay < 0)
    return FALSE;
  op->waited_ms += delay;
  tell_paced (l, op, code, delay);
  OpRef *r = g_new (OpRef, 1);
  r->login = l;
  r->op_id = op->op_id;
  op->retry_source = g_timeout_add_full (G_PRIORITY_DEFAULT, (guint) delay, on_retry, r, g_free);
  g_debug ("op %" G_GUINT64_FORMAT " (%s) answered %s: try %u in %" G_GINT64_FORMAT " ms",
           op->op_id, op->kind, code, op->attempts + 1, delay);
  return TRUE;
}

/* What the agent reads about an op that finally failed (transfer full). */
/* The login the message map keys the chat's messages with for l: its
 * own, or PA_STORE_SHARED_LOGIN when the chat is a shared group portal. */
static char *
map_login (PaAccount *l, const char *chat_id)
{
  g_autoptr (PaPortalRow) row
      = chat_id ? pa_store_portal_find (l->bridge->store, l->plugin, l->id, chat_id) : NULL;
  return g_strdup (row ? row->login_id : l->id);
}

static char *
failure_text (PaAccount *l, const PaPendingOp *op, const char *code, const char *error)
{
  const char *why = error != NULL ? error : "the network refused it";
  if (g_strcmp0 (code, "uncertain") == 0)
    return g_strdup_printf ("⚠ Maybe not delivered: the %s connection dropped before the network "
                            "answered (%s). Check before sending it again.",
                            l->plugin, why);
  if (g_strcmp0 (code, "too_large") == 0)
    return g_strdup_printf ("⚠ Not delivered: too large for %s (%s).", l->plugin, why);
  if (g_strcmp0 (code, "unsupported") == 0)
    return g_strdup_printf ("⚠ Not delivered: %s cannot do this (%s).", l->plugin, why);
  if (op->attempts > 1)
    return g_strdup_printf ("⚠ Not delivered after %u tries: %s", op->attempts, why);
  return g_strdup_printf ("⚠ Not delivered: %s", why);
}

void
pa_to_legacy_op_result (PaAccount *l, json_t *frame)
{
  PaBridge *b = l->bridge;
  guint64 op_id = (guint64)json_integer_value (json_object_get (frame, "op_id"));
  PaPendingOp *op = g_hash_table_lookup (l->pending, &op_id);
  if (op == NULL)
    return;
  gboolean ok = json_is_true (json_object_get (frame, "ok"));
  const char *legacy_id = str (frame, "legacy_id");
  const char *error = str (frame, "error");
  const char *code = str (frame, "code");
  g_autoptr (GError) e = NULL;
  if (!ok && retry_later (l, op, code, frame))
    return;
  /* Metrics: a message the network took; an operation that finally failed. */
  if (ok && g_str_equal (op->kind, "send"))
    pa_metrics_message_bridged (l->plugin, "to_legacy");
  else if (!ok && message_like (op->kind))
    pa_metrics_to_legacy_failure (l->plugin, code);
  if (op->reply != NULL)
    {
      void (*reply) (gboolean, json_t *, json_t *, gpointer) = op->reply;
      op->reply = NULL;
      reply (ok, frame, op->contacts, op->reply_data);
      g_hash_table_remove (l->pending, &op_id);
      return;
    }
  if (!ok && g_str_equal (op->kind, "disappearing") && op->room_id && op->extra)
    {
      /* Not changed: what was applied before stays the known value. */
      g_auto (GStrv) vb = g_strsplit (op->extra, "\x1f", 2);
      g_autofree char *key = g_strconcat ("room_state:", op->room_id, ":timer", NULL);
      if (vb[1] && *vb[1] && !pa_store_kv_set (b->store, key, vb[1], &e))
        g_clear_error (&e);
    }
  /* The agent's edit or deletion of a message of theirs: the portal shows
   * it, an export made since shows it too (pa-fingerprint.c). */
  if (ok && op->room_id && (g_str_equal (op->kind, "edit") || g_str_equal (op->kind, "redact")))
    pa_fingerprint_record_change (b, op->room_id, str (op->frame, "target_id"),
                                  g_str_equal (op->kind, "edit")
                                      ? json_object_get (op->frame, "content")
                                      : NULL);
  if (!ok)
    {
      if (op->room_id && !g_str_equal (op->kind, "typing") && !g_str_equal (op->kind, "mark_read"))
        {
          g_autofree char *msg = failure_text (l, op, code, error);
          pa_queue_notice_reply (b, op->room_id, op->event_id, msg);
        }
      else if (g_str_equal (op->kind, "command") || g_str_equal (op->kind, "join")
               || g_str_equal (op->kind, "leave") || g_str_equal (op->kind, "start") || g_str_equal (op->kind, "contacts"))
        {
          g_autofree char *msg = g_strdup_printf ("Failed: %s", error ? error : "unknown error");
          pa_portal_notify_owner (b, l->owner, msg);
        }
    }
  else if (g_str_equal (op->kind, "send") && legacy_id && op->event_id)
    {
      tell_paced_sent (l, op);
      g_autofree char *key = map_login (l, op->chat_id);
      /* In a shared portal the other logins get the message too: claimed
       * by the sender's login, so their copies are not bridged again. */
      if (g_str_equal (key, PA_STORE_SHARED_LOGIN)
          && pa_store_shared_claim (b->store, l->plugin, op->chat_id, legacy_id, l->id, &e) < 0)
        g_warning ("shared portal dedup: %s", e->message);
      g_clear_error (&e);
      if (!pa_store_message_put (b->store, l->plugin, key, op->chat_id, legacy_id, op->room_id,
                                 op->event_id, l->owner, pa_now_ms (), &e))
        g_debug ("message map: %s", e->message);
      /* The agent's message is in the portal too: an export of the chat
       * imported later does not bring it again. */
      json_int_t legacy_ts = json_integer_value (json_object_get (frame, "legacy_ts"));
      pa_fingerprint_record (b, op->room_id, legacy_id, legacy_ts > 0 ? legacy_ts : pa_now_ms (),
                             json_object_get (op->frame, "content"));
    }
  else if (g_str_equal (op->kind, "react") && op->event_id && op->extra)
    {
      /* Remember the reaction (extra = "target<US>key") so that its
       * redaction can be bridged and the network's echo recognised. */
      g_auto (GStrv) tk = g_strsplit (op->extra, "\x1f", 2);
      g_autofree char *legacy
          = g_strdup_printf ("reaction\x1f%s\x1f%s\x1f%s", tk[0], l->remote_id ? l->remote_id : "",
                             tk[1] ? tk[1] : "");
      g_autofree char *key = map_login (l, op->chat_id);
      if (!pa_store_message_put (b->store, l->plugin, key, op->chat_id, legacy, op->room_id,
                                 op->event_id, l->owner, pa_now_ms (), &e))
        g_debug ("message map: %s", e->message);
    }
  else if (g_str_equal (op->kind, "contacts"))
    {
      GString *s = g_string_new ("Contacts:\n");
      size_t i;
      json_t *c;
      json_array_foreach (op->contacts, i, c)
          g_string_append_printf (s, "- %s (`%s`)\n", str (c, "name") ? str (c, "name") : "?",
                                  str (c, "id") ? str (c, "id") : "?");
      if (json_array_size (op->contacts) == 0)
        g_string_append (s, "(none)");
      pa_portal_notify_owner (b, l->owner, s->str);
      g_string_free (s, TRUE);
    }
  else if (g_str_equal (op->kind, "join"))
    {
      g_autofree char *msg = g_strdup_printf ("Joined %s: you will be invited to its room.",
                                              op->chat_id ? op->chat_id : "the room");
      pa_portal_notify_owner (b, l->owner, msg);
    }
  else if (g_str_equal (op->kind, "leave"))
    {
      g_autofree char *msg
          = g_strdup_printf ("Left %s.", op->chat_id ? op->chat_id : "the conversation");
      pa_portal_notify_owner (b, l->owner, msg);
    }
  else if (g_str_equal (op->kind, "start") && legacy_id)
    {
      g_autofree char *msg = g_strdup_printf ("Conversation %s opened: you will be invited to "
                                              "its room.",
                                              legacy_id);
      pa_portal_notify_owner (b, l->owner, msg);
    }
  else if (g_str_equal (op->kind, "disappearing") && op->room_id && op->extra)
    {
      g_auto (GStrv) vb = g_strsplit (op->extra, "\x1f", 2);
      g_autofree char *text = pa_room_state_timer_text (g_ascii_strtoull (vb[0], NULL, 10));
      g_autofree char *msg = g_strdup_printf (
          "⏱ Disappearing messages set to %s on %s. Tchap keeps this room's messages: they do "
          "not disappear here.",
          text, l->plugin);
      pa_queue_notice (b, op->room_id, msg);
    }
  else if (g_str_equal (op->kind, "history") && op->room_id && op->extra)
    {
      g_autofree char *msg = g_strdup_printf ("Asked %s for up to %s older messages: they appear "
                                              "in this room as they arrive.",
                                              l->plugin, op->extra);
      pa_queue_notice (b, op->room_id, msg);
    }
  else if (g_str_equal (op->kind, "logout"))
    {
      pa_portal_notify_owner (b, l->owner, "Logged out.");
    }
  g_hash_table_remove (l->pending, &op_id);
}
gboolean
pa_to_legacy_op (PaAccount *l, const char *op, json_t *args, const char *kind, const char *room_id,
                 const char *event_id, const char *chat_id, const char *extra, GError **error)
{
  if (!pa_worker_is_running (l->worker))
    {
      g_set_error (error, PA_ERROR, PA_ERROR_FAILED,
                   "the %s connection is restarting; try again in a moment", l->plugin);
      return FALSE;
    }
  PaBridge *b = l->bridge;
  guint64 op_id = b->next_op_id++;
  g_autoptr (json_t) frame = args != NULL ? json_deep_copy (args) : json_object ();
  json_object_set_new (frame, "t", json_string ("op"));
  json_object_set_new (frame, "op", json_string (op));
  json_object_set_new (frame, "op_id", json_integer ((json_int_t)op_id));
  if (!pa_worker_send (l->worker, frame))
    {
      g_set_error (error, PA_ERROR, PA_ERROR_FAILED, "the %s connection is not running", l->plugin);
      return FALSE;
    }
  PaPendingOp *p = g_new0 (PaPendingOp, 1);
  p->op_id = op_id;
  p->frame = json_incref (frame);
  p->attempts = 1;
  p->sent_us = g_get_monotonic_time ();
  p->kind = g_strdup (kind);
  p->room_id = g_strdup (room_id);
  p->event_id = g_strdup (event_id);
  p->chat_id = g_strdup (chat_id);
  p->extra = g_strdup (extra);
  guint64 *key = g_new (guint64, 1);
  *key = op_id;
  g_hash_table_insert (l->pending, key, p);
  return TRUE;
}

gboolean
pa_to_legacy_op_call (PaAccount *l, const char *op, json_t *args,
                      void (*reply) (gboolean ok, json_t *frame, json_t *contacts, gpointer data),
                      gpointer data, GError **error)
{
  guint64 op_id = l->bridge->next_op_id;
  if (!pa_to_legacy_op (l, op, args, op, NULL, NULL, NULL, NULL, error))
    return FALSE;
  PaPendingOp *p = g_hash_table_lookup (l->pending, &op_id);
  p->reply = reply;
  p->reply_data = data;
  return TRUE;
}

GHashTable *
pa_to_legacy_ops_new (void)
{
  return g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, pending_free);
}

void
pa_to_legacy_op_contact (PaAccount *l, json_t *frame)
{
  guint64 op_id = (guint64)json_integer_value (json_object_get (frame, "op_id"));
  PaPendingOp *op = g_hash_table_lookup (l->pending, &op_id);
  if (op && json_is_object (json_object_get (frame, "contact")))
    {
      if (op->contacts == NULL)
        op->contacts = json_array ();
      json_array_append (op->contacts, json_object_get (frame, "contact"));
    }
}
