/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The durable outbound queue's dispatcher.  Items (HTTP requests to the
 * homeserver) live in the store until the homeserver acknowledged them.
 * Items sharing a queue key (a room) are sent strictly in order, one at a
 * time; different rooms proceed in parallel up to outbound_max_inflight.
 *
 * Failures: network errors and 5xx are retried with backoff for ever (the
 * item stays at the head of its room, so later messages wait behind it
 * rather than overtaking it); 429 waits as told; any other 4xx is final:
 * the item is dropped with a warning so one bad item cannot wedge a room.
 * Each attempt uses the item's deterministic txn id, so the homeserver
 * deduplicates a resend whose first answer was lost. */
#define G_LOG_DOMAIN "passerelle-outbound"

#include "pa-outbound.h"

#include "pa-batch.h"
#include "pa-bridge-crypto-send.h"
#include "metrics/pa-metrics-points.h"

typedef struct {
  PaBridge *bridge;
  PaOutboundItem *item;
} Flight;

void
pa_outbound_flight_free (gpointer data)
{
  Flight *f = data;
  pa_outbound_item_free (f->item);
  g_free (f);
}

static void dispatch (PaBridge *b);

static gboolean
timer_cb (gpointer data)
{
  PaBridge *b = data;
  b->outbound_timer = 0;
  dispatch (b);
  return G_SOURCE_REMOVE;
}

static gboolean
kick_idle (gpointer data)
{
  PaBridge *b = data;
  b->outbound_scheduled = FALSE;
  dispatch (b);
  return G_SOURCE_REMOVE;
}

void
pa_outbound_on_sent (PaBridge *b, const char *what, PaSentFunc func)
{
  g_hash_table_replace (b->sent_handlers, g_strdup (what), func);
}

void
pa_outbound_kick (PaBridge *b)
{
  if (b->outbound_scheduled)
    return;
  b->outbound_scheduled = TRUE;
  g_idle_add (kick_idle, b);
}

gboolean
pa_outbound_room_pending (PaBridge *b, const char *room_id)
{
  return g_hash_table_contains (b->outbound_busy, room_id)
         || pa_store_outbound_has_key (b->store, room_id);
}

static gint64
backoff_ms (gint attempts)
{
  gint64 d = 500;
  for (gint i = 1; i < attempts && d < 60000; i++)
    d *= 2;
  return MIN (d, 60000);
}

static void
sent_cb (PaMatrix *mx, const PaMatrixResponse *resp, gpointer user_data)
{
  Flight *f = user_data;
  PaBridge *b = f->bridge;
  PaOutboundItem *it = f->item;
  g_autoptr (GError) error = NULL;
  pa_batch_begin (b);

  if (pa_matrix_response_ok (resp)
      || (resp->status >= 400 && resp->status < 500 && resp->status != 429))
    {
      const char *event_id = NULL;
      if (pa_matrix_response_ok (resp))
        {
          event_id = json_string_value (json_object_get (resp->body, "event_id"));
          b->n_events_out++;
        }
      else
        {
          g_warning ("%s %s refused by the homeserver (%u %s: %s); dropped", it->method,
                     it->path, resp->status, resp->errcode ? resp->errcode : "",
                     resp->error ? resp->error : "");
          pa_metrics_to_matrix_failure (resp->status, resp->errcode, TRUE);
        }
      if (!pa_store_outbound_done (b->store, it->seq, &error))
        g_warning ("outbound queue: %s", error->message);
      if (it->on_done)
        {
          g_autoptr (json_t) on_done = json_loads (it->on_done, 0, NULL);
          const char *what = json_string_value (json_object_get (on_done, "what"));
          PaSentFunc sent = what ? g_hash_table_lookup (b->sent_handlers, what) : NULL;
          if (sent)
            sent (b, on_done, event_id, resp);
        }
    }
  else
    {
      /* Network failure or 5xx after the client's own retries: keep the
       * item at the head of its room and try again later. */
      gint64 delay = backoff_ms (it->attempts + 1);
      pa_metrics_to_matrix_failure (resp->status, resp->errcode, FALSE);
      g_message ("%s %s failed (%s); retrying in %" G_GINT64_FORMAT " ms", it->method, it->path,
                 resp->error ? resp->error : "error", delay);
      if (!pa_store_outbound_retry (b->store, it->seq, pa_now_ms () + delay, &error))
        g_warning ("outbound queue: %s", error->message);
    }
  g_hash_table_remove (b->outbound_busy, it->queue_key);
  g_hash_table_remove (b->outbound_flights, f); /* frees f and its item */
  /* Senders of legacy events wait for their room to drain (replies). */
  if (b->outbound_settled)
    b->outbound_settled (b);
  dispatch (b);
}

static void
dispatch (PaBridge *b)
{
  guint inflight = g_hash_table_size (b->outbound_busy);
  /* The store cannot write (the answers could not be recorded): the queue
   * waits for the retry (pa-batch.c). */
  if (inflight >= b->outbound_max_inflight || pa_batch_faulted (b))
    return;
  g_autoptr (GError) error = NULL;
  gint64 now = pa_now_ms ();
  g_autoptr (GPtrArray) ready = pa_store_outbound_ready (b->store, b->outbound_busy, now,
                                                         b->outbound_max_inflight - inflight,
                                                         &error);
  if (ready == NULL)
    {
      g_warning ("outbound queue: %s", error ? error->message : "?");
      return;
    }
  for (guint i = 0; i < ready->len; i++)
    {
      PaOutboundItem *it = g_ptr_array_index (ready, i);
      g_ptr_array_index (ready, i) = NULL;
      g_hash_table_add (b->outbound_busy, g_strdup (it->queue_key));
      Flight *f = g_new0 (Flight, 1);
      f->bridge = b;
      f->item = it;
      g_hash_table_add (b->outbound_flights, f);
      PaMatrixRequest req = {
        .method = it->method,
        .path = it->path,
        .user_id = it->user_id,
        .ts = it->ts,
        .raw_body = it->body,
        /* A few quick retries in the client; then the queue's own backoff
         * takes over, so other rooms keep flowing. */
        .max_attempts = 3,
        .timeout_s = 60,
      };
      /* Sends into encrypted rooms are encrypted first. */
      if (!pa_bridge_crypto_send (b, it, sent_cb, f))
        pa_matrix_request (b->mx, &req, sent_cb, f);
    }
  g_ptr_array_set_free_func (ready, (GDestroyNotify) pa_outbound_item_free);

  /* Wake up for the next delayed item. */
  if (g_hash_table_size (b->outbound_busy) < b->outbound_max_inflight)
    {
      gint64 due = pa_store_outbound_next_due (b->store);
      if (due >= 0 && b->outbound_timer == 0 && due > now)
        b->outbound_timer = g_timeout_add ((guint) MIN (due - now + 5, 60000), timer_cb, b);
    }
}
