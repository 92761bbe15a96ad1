/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Putting requests on the durable outbound queue: deterministic txn ids
 * (a replay after a crash is deduplicated by the homeserver), event sends
 * into a room as a ghost or the bot, and notices.  The queue's dispatcher
 * (pa-outbound.c) sends them. */
#define G_LOG_DOMAIN "passerelle-bridge"

#include "pa-queue.h"

#include "pa-outbound.h"

#include <stdarg.h>

char *
pa_queue_txn_id (const char *first, ...)
{
  g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  va_list ap;
  va_start (ap, first);
  for (const char *s = first; s != NULL; s = va_arg (ap, const char *))
    {
      g_checksum_update (sum, (const guchar *)s, (gssize)strlen (s));
      g_checksum_update (sum, (const guchar *)"\x1f", 1);
    }
  va_end (ap);
  /* 32 hex digits are plenty to never collide and keep URLs short. */
  return g_strdup_printf ("pa.%.32s", g_checksum_get_string (sum));
}
void
pa_queue_request (PaBridge *b, const char *queue_key, const char *method, const char *path,
                  const char *user_id, json_t *body, gint64 ts, const char *txn_id, json_t *on_done)
{
  g_autofree char *body_s = body ? json_dumps (body, JSON_COMPACT) : g_strdup ("{}");
  g_autofree char *done_s = on_done ? json_dumps (on_done, JSON_COMPACT) : NULL;
  PaOutboundItem item = {
    .txn_id = (char *)txn_id,
    .queue_key = (char *)queue_key,
    .method = (char *)method,
    .path = (char *)path,
    .user_id = (char *)user_id,
    .ts = ts,
    .body = body_s,
    .on_done = done_s,
  };
  gboolean dup = FALSE;
  g_autoptr (GError) error = NULL;
  if (pa_store_outbound_add (b->store, &item, &dup, &error) < 0 && error)
    g_warning ("could not queue %s %s: %s", method, path, error->message);
  else if (dup)
    g_debug ("already queued or sent: %s", txn_id);
  pa_outbound_kick (b);
}
void
pa_queue_send (PaBridge *b, const char *room_id, const char *user_id, const char *event_type,
               json_t *content, gint64 ts, const char *txn_seed, json_t *on_done)
{
  g_autofree char *txn = NULL;
  if (txn_seed)
    txn = pa_queue_txn_id (room_id, event_type, txn_seed, NULL);
  else
    {
      g_autofree char *rnd = pa_random_token (16);
      txn = pa_queue_txn_id (room_id, event_type, rnd, NULL);
    }
  g_autofree char *path = pa_matrix_path_send (room_id, event_type, txn);
  pa_queue_request (b, room_id, "PUT", path, user_id, content, ts, txn, on_done);
}
void
pa_queue_notice (PaBridge *b, const char *room_id, const char *text)
{
  pa_queue_notice_reply (b, room_id, NULL, text);
}

static void
notice_send (PaBridge *b, const char *room_id, const char *event_id, const char *text,
             const char *txn_seed)
{
  g_autoptr (json_t) content = json_pack ("{s:s, s:s}", "msgtype", "m.notice", "body", text);
  if (event_id != NULL)
    json_object_set_new (content, "m.relates_to",
                         json_pack ("{s:{s:s}}", "m.in_reply_to", "event_id", event_id));
  /* In DM portals the bot is absent: the contact's ghost speaks. */
  g_autofree char *key = g_strdup_printf ("creator:%s", room_id);
  g_autofree char *sender = pa_store_kv_get (b->store, key);
  pa_queue_send (b, room_id, sender, "m.room.message", content, 0, txn_seed, NULL);
}

void
pa_queue_notice_reply (PaBridge *b, const char *room_id, const char *event_id, const char *text)
{
  notice_send (b, room_id, event_id, text, NULL);
}

void
pa_queue_notice_reply_once (PaBridge *b, const char *room_id, const char *event_id,
                            const char *what, const char *text)
{
  g_autofree char *seed = g_strdup_printf ("%s\x1f%s", what, event_id);
  notice_send (b, room_id, event_id, text, seed);
}
