/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Storage faults, as the people see them: when the store cannot write, the
 * agents with a running login and the admins named in the permissions get
 * one notice in their management room, and one more once it has written
 * again for a quiet period (a store failing on and off is one episode);
 * on recovery the paused queues are woken and the homeserver is pinged so
 * that it sends the transactions it holds at once.  The notices cannot go
 * through the durable outbound queue (it is the store), so they are sent
 * directly, best effort: a notice the homeserver does not take is logged,
 * not retried.  Agents without a management room yet are not told (making
 * one would need the store). */
#define G_LOG_DOMAIN "passerelle-bridge"

#include "pa-store-alarm.h"

#include "pa-bridge-crypto-send.h"
#include "pa-batch.h"
#include "pa-import-job.h"
#include "pa-login.h"
#include "pa-outbound.h"
#include "pa-queue.h"
#include "pa-to-legacy-queue.h"
#include "pa-to-matrix-lane.h"

#define FAULT_TEXT                                                                                 \
  "⚠ Passerelle cannot write to its storage (%s). Nothing is lost: messages are held in both "   \
  "directions and will be delivered, in order, once it can write again."
/* The "recovered" notice waits until the store has written this long, so
 * that a store failing on and off is one episode, told once. */
#define RECOVERED_QUIET_MS 10000

#define RECOVERED_TEXT                                                                             \
  "✅ Passerelle can write to its storage again: the messages it held are delivered, in order."

static void
notice_sent (PaMatrix *mx, const PaMatrixResponse *resp, gpointer user_data)
{
  PaOutboundItem *it = user_data;
  if (!pa_matrix_response_ok (resp))
    g_warning ("storage notice to %s not sent: %u %s", it->queue_key, resp->status,
               resp->error ? resp->error : "");
  pa_outbound_item_free (it);
}

/* Sends `text` into room_id as the bot, now, without the store. */
static void
send_direct (PaBridge *b, const char *room_id, const char *text, const char *txn_seed)
{
  g_autoptr (json_t) content = json_pack ("{s:s, s:s}", "msgtype", "m.notice", "body", text);
  PaOutboundItem *it = g_new0 (PaOutboundItem, 1);
  it->txn_id = pa_queue_txn_id ("store-alarm", txn_seed, room_id, NULL);
  it->queue_key = g_strdup (room_id);
  it->method = g_strdup ("PUT");
  it->path = pa_matrix_path_send (room_id, "m.room.message", it->txn_id);
  it->body = json_dumps (content, JSON_COMPACT);
  PaMatrixRequest req = {
    .method = it->method,
    .path = it->path,
    .raw_body = it->body,
    .max_attempts = 3,
    .timeout_s = 30,
  };
  /* Into an encrypted management room the notice is encrypted. */
  if (!pa_bridge_crypto_send (b, it, notice_sent, it))
    pa_matrix_request (b->mx, &req, notice_sent, it);
}

/* The agents with a login, and the admins named in the permissions. */
static GPtrArray *
recipients (PaBridge *b)
{
  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  GPtrArray *out = g_ptr_array_new ();
  GHashTableIter it;
  gpointer v;
  g_hash_table_iter_init (&it, b->logins);
  while (g_hash_table_iter_next (&it, NULL, &v))
    {
      PaAccount *l = v;
      if (l->owner != NULL && g_hash_table_add (seen, l->owner))
        g_ptr_array_add (out, l->owner);
    }
  GPtrArray *perms = b->config->permissions;
  for (guint i = 0; perms != NULL && i < perms->len; i++)
    {
      PaPermission *p = g_ptr_array_index (perms, i);
      if (p->level == PA_LEVEL_ADMIN && p->key[0] == '@' && g_hash_table_add (seen, p->key))
        g_ptr_array_add (out, p->key);
    }
  return out;
}

static void
tell_everyone (PaBridge *b, const char *text, const char *txn_seed)
{
  g_autoptr (GPtrArray) who = recipients (b);
  for (guint i = 0; i < who->len; i++)
    {
      const char *mxid = g_ptr_array_index (who, i);
      g_autofree char *room = pa_store_management_room (b->store, mxid);
      if (room != NULL)
        send_direct (b, room, text, txn_seed);
      else
        g_message ("storage notice: %s has no management room", mxid);
    }
}

static void
ping_cb (PaMatrix *mx, const PaMatrixResponse *resp, gpointer user_data)
{
  if (!pa_matrix_response_ok (resp))
    g_warning ("appservice ping after the store recovered failed: %u %s", resp->status,
               resp->error ? resp->error : "");
}

/* The homeserver retries our refused transactions with its own backoff: a
 * ping makes it send them now. */
static void
ping_homeserver (PaBridge *b, const char *txn_seed)
{
  g_autofree char *esc = pa_matrix_escape (b->config->as_id);
  g_autofree char *path = g_strdup_printf ("/_matrix/client/v1/appservice/%s/ping", esc);
  g_autofree char *txn = g_strdup_printf ("passerelle-store-%s", txn_seed);
  g_autoptr (json_t) body = json_pack ("{s:s}", "transaction_id", txn);
  PaMatrixRequest req = { .method = "POST", .path = path, .body = body, .max_attempts = 3 };
  pa_matrix_request (b->mx, &req, ping_cb, NULL);
}

/* The store has written for a quiet period: the episode is over. */
static gboolean
recovered_timeout (gpointer data)
{
  PaBridge *b = data;
  b->store_alarm_timer = 0;
  b->store_alarm_told = FALSE;
  g_autofree char *seed = g_strdup_printf ("recovered-%" G_GINT64_FORMAT, b->store_fault_since);
  tell_everyone (b, RECOVERED_TEXT, seed);
  return G_SOURCE_REMOVE;
}

void
pa_store_alarm (PaBridge *b, gboolean faulted, const char *reason)
{
  if (faulted)
    {
      /* Failing again within the quiet period: the same episode. */
      if (b->store_alarm_timer != 0)
        {
          g_source_remove (b->store_alarm_timer);
          b->store_alarm_timer = 0;
        }
      if (b->store_alarm_told)
        return;
      b->store_alarm_told = TRUE;
      b->store_fault_since = pa_now_ms ();
      g_autofree char *seed = g_strdup_printf ("fault-%" G_GINT64_FORMAT, b->store_fault_since);
      g_autofree char *text = g_strdup_printf (FAULT_TEXT, reason);
      tell_everyone (b, text, seed);
      return;
    }
  if (b->store_alarm_told && b->store_alarm_timer == 0)
    b->store_alarm_timer = g_timeout_add (RECOVERED_QUIET_MS, recovered_timeout, b);
  /* The workers' frames of the fault, before anything newer. */
  pa_login_replay_held (b);
  if (pa_batch_faulted (b))
    return; /* failed again at once: the next recovery goes on */
  pa_to_legacy_schedule (b);
  pa_lane_schedule (&b->live);
  GHashTableIter it;
  gpointer v;
  g_hash_table_iter_init (&it, b->imports);
  while (g_hash_table_iter_next (&it, NULL, &v))
    pa_lane_schedule (&((PaImportJob *) v)->lane);
  pa_outbound_kick (b);
  g_autofree char *seed = g_strdup_printf ("%" G_GINT64_FORMAT, b->store_fault_since);
  ping_homeserver (b, seed);
}

void
pa_store_alarm_stop (PaBridge *b)
{
  if (b->store_alarm_timer != 0)
    g_source_remove (b->store_alarm_timer);
  b->store_alarm_timer = 0;
}
