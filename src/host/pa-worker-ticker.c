/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The shared one-second tick of pa-worker-ticker.h.  The walk over the
 * entries happens once a second whatever the traffic; a main-loop turn
 * sees one timeout source however many workers are watched.  The source
 * exists only while something is registered. */
#define G_LOG_DOMAIN "passerelle-host"

#include "host/pa-worker-ticker.h"

typedef struct
{
  GMainContext *context;
  GQueue entries; /* PaTick */
  GList *next;    /* the walk's next link, moved on when it is removed */
  gboolean walking;
  GSource *timer;
} Ticker;

struct _PaTick
{
  Ticker *ticker;
  GList *link;
  PaTickFunc fn;
  gpointer user_data;
};

static GHashTable *tickers; /* GMainContext * -> Ticker *, host thread only */

static void
ticker_stop_if_empty (Ticker *tk)
{
  if (tk->walking || tk->entries.length > 0)
    return;
  g_hash_table_remove (tickers, tk->context);
  if (tk->timer != NULL)
    {
      g_source_destroy (tk->timer);
      g_source_unref (tk->timer);
    }
  g_main_context_unref (tk->context);
  g_free (tk);
}

static gboolean
on_second (gpointer data)
{
  Ticker *tk = data;
  tk->walking = TRUE;
  for (GList *l = tk->entries.head; l != NULL; l = tk->next)
    {
      tk->next = l->next;
      PaTick *t = l->data;
      t->fn (t->user_data);
    }
  tk->next = NULL;
  tk->walking = FALSE;
  if (tk->entries.length == 0)
    {
      /* Destroyed by the return value, not by ticker_stop_if_empty. */
      g_clear_pointer (&tk->timer, g_source_unref);
      ticker_stop_if_empty (tk);
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

/* See pa-worker-ticker.h. */
PaTick *
pa_tick_add (GMainContext *context, PaTickFunc fn, gpointer user_data)
{
  if (context == NULL)
    context = g_main_context_default ();
  if (tickers == NULL)
    tickers = g_hash_table_new (g_direct_hash, g_direct_equal);
  Ticker *tk = g_hash_table_lookup (tickers, context);
  if (tk == NULL)
    {
      tk = g_new0 (Ticker, 1);
      tk->context = g_main_context_ref (context);
      g_hash_table_insert (tickers, context, tk);
    }
  if (tk->timer == NULL)
    {
      tk->timer = g_timeout_source_new_seconds (1);
      g_source_set_static_name (tk->timer, "[passerelle] worker watchdogs");
      g_source_set_callback (tk->timer, on_second, tk, NULL);
      g_source_attach (tk->timer, context);
    }
  PaTick *t = g_new0 (PaTick, 1);
  t->ticker = tk;
  t->fn = fn;
  t->user_data = user_data;
  g_queue_push_tail (&tk->entries, t);
  t->link = tk->entries.tail;
  return t;
}

/* See pa-worker-ticker.h. */
void
pa_tick_remove (PaTick *t)
{
  if (t == NULL)
    return;
  Ticker *tk = t->ticker;
  if (tk->next == t->link)
    tk->next = t->link->next;
  g_queue_delete_link (&tk->entries, t->link);
  g_free (t);
  ticker_stop_if_empty (tk);
}
