/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The start-up pacer of pa-worker-pace.h: a count of held slots, a line of
 * waiting workers, one idle source that hands freed slots on.  A slot not
 * given back within START_HOLD_S (a worker slow to say hello) stops
 * counting, so one stuck start never holds the line.  Main thread only. */
#define G_LOG_DOMAIN "passerelle-host"

#include "host/pa-worker-pace.h"

#define START_HOLD_S 20

struct _PaPaceSlot
{
  gboolean waiting;
  gboolean counted; /* holds one of the `limit` slots */
  GList *link;      /* in `line` while waiting */
  GSource *expiry;  /* while counted */
  PaPaceReady ready;
  gpointer user_data;
};

static guint limit;
static guint held;
static GQueue line = G_QUEUE_INIT;
static guint pump_id;

static guint
default_limit (void)
{
  return MAX (4u, 2u * g_get_num_processors ());
}

/* See pa-worker-pace.h. */
void
pa_worker_pace_set_limit (guint n)
{
  limit = n;
}

/* See pa-worker-pace.h. */
guint
pa_worker_pace_limit (void)
{
  return limit != 0 ? limit : default_limit ();
}

static void schedule_pump (void);

static void
uncount (PaPaceSlot *s)
{
  if (!s->counted)
    return;
  s->counted = FALSE;
  held--;
  if (s->expiry != NULL)
    {
      g_source_destroy (s->expiry);
      g_clear_pointer (&s->expiry, g_source_unref);
    }
  if (line.length > 0)
    schedule_pump ();
}

static gboolean
on_expired (gpointer data)
{
  PaPaceSlot *s = data;
  g_clear_pointer (&s->expiry, g_source_unref);
  uncount (s);
  return G_SOURCE_REMOVE;
}

static void
count (PaPaceSlot *s)
{
  s->counted = TRUE;
  held++;
  s->expiry = g_timeout_source_new_seconds (START_HOLD_S);
  g_source_set_callback (s->expiry, on_expired, s, NULL);
  g_source_attach (s->expiry, NULL);
}

static gboolean
pump (gpointer data)
{
  pump_id = 0;
  while (line.length > 0 && held < pa_worker_pace_limit ())
    {
      PaPaceSlot *s = g_queue_pop_head (&line);
      s->link = NULL;
      s->waiting = FALSE;
      count (s);
      /* May release (a failed spawn) or free its slot. */
      s->ready (s->user_data);
    }
  return G_SOURCE_REMOVE;
}

static void
schedule_pump (void)
{
  if (pump_id == 0)
    pump_id = g_idle_add (pump, NULL);
}

/* See pa-worker-pace.h. */
gboolean
pa_worker_pace_acquire (PaPaceSlot **slot, PaPaceReady ready, gpointer user_data)
{
  pa_worker_pace_release (slot);
  PaPaceSlot *s = g_new0 (PaPaceSlot, 1);
  s->ready = ready;
  s->user_data = user_data;
  *slot = s;
  if (line.length == 0 && held < pa_worker_pace_limit ())
    {
      count (s);
      return TRUE;
    }
  s->waiting = TRUE;
  g_queue_push_tail (&line, s);
  s->link = line.tail;
  schedule_pump ();
  return FALSE;
}

/* See pa-worker-pace.h. */
gboolean
pa_worker_pace_waiting (PaPaceSlot *slot)
{
  return slot != NULL && slot->waiting;
}

/* See pa-worker-pace.h. */
void
pa_worker_pace_release (PaPaceSlot **slot)
{
  PaPaceSlot *s = *slot;
  if (s == NULL)
    return;
  *slot = NULL;
  if (s->waiting)
    g_queue_delete_link (&line, s->link);
  uncount (s);
  g_free (s);
}
