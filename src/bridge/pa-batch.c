/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Group commit: writes made while handling a burst of I/O share one
 * SQLite transaction, and the workers' "persisted" acks wait for it. */
#define G_LOG_DOMAIN "passerelle-bridge"

#include "pa-batch.h"

#include "pa-file-beneath.h"
#include "pa-login-table.h"

#include <errno.h>
#include <glib/gstdio.h>

/* Writes made while handling a burst of I/O (worker frames, inbound
 * events, homeserver answers) share one SQLite transaction, committed when
 * the loop has nothing more urgent to do.  Durability points flush first:
 * the 200 to a homeserver transaction, and the "persisted" acks to
 * workers, which are held until their rows are committed. */
static gboolean
batch_commit_idle (gpointer data)
{
  PaBridge *b = data;
  b->batch_source = 0;
  pa_batch_flush (b);
  return G_SOURCE_REMOVE;
}
void
pa_batch_begin (PaBridge *b)
{
  if (b->batch_open)
    return;
  g_autoptr (GError) error = NULL;
  if (!pa_store_begin (b->store, &error))
    {
      g_warning ("store: %s", error->message);
      return;
    }
  b->batch_open = TRUE;
  b->batch_source = g_idle_add_full (G_PRIORITY_DEFAULT_IDLE - 10, batch_commit_idle, b, NULL);
}
void
pa_batch_flush (PaBridge *b)
{
  if (b->batch_source)
    {
      g_source_remove (b->batch_source);
      b->batch_source = 0;
    }
  if (b->batch_open)
    {
      g_autoptr (GError) error = NULL;
      b->batch_open = FALSE;
      if (!pa_store_commit (b->store, &error))
        {
          /* Nothing of the batch is stored: the acks are not sent, so the
           * networks redeliver; inbound events stay queued. */
          g_critical ("store commit failed, batch lost: %s", error->message);
          g_ptr_array_set_size (b->pending_acks, 0);
          g_ptr_array_set_size (b->pending_unlinks, 0);
          return;
        }
    }
  for (guint i = 0; i < b->pending_acks->len; i += 2)
    {
      PaAccount *l = pa_login_by_id (b, g_ptr_array_index (b->pending_acks, i));
      const char *seq = g_ptr_array_index (b->pending_acks, i + 1);
      if (l == NULL)
        continue;
      g_autoptr (json_t) ack = json_pack ("{s:s, s:I}", "t", "persisted", "seq",
                                          (json_int_t)g_ascii_strtoll (seq, NULL, 10));
      pa_worker_send (l->worker, ack);
    }
  g_ptr_array_set_size (b->pending_acks, 0);
  for (guint i = 0; i < b->pending_unlinks->len; i++)
    {
      const char *path = g_ptr_array_index (b->pending_unlinks, i);
      g_autoptr (GError) e = NULL;
      if (!pa_file_unlink_beneath (b->config->data_dir, path, &e))
        g_debug ("media file: %s", e->message);
    }
  g_ptr_array_set_size (b->pending_unlinks, 0);
}

void
pa_batch_defer_unlink (PaBridge *b, const char *path)
{
  g_ptr_array_add (b->pending_unlinks, g_strdup (path));
  if (!b->batch_open)
    pa_batch_flush (b);
}

void
pa_batch_defer_ack (PaBridge *b, const char *login_id, gint64 seq)
{
  g_ptr_array_add (b->pending_acks, g_strdup (login_id));
  g_ptr_array_add (b->pending_acks, g_strdup_printf ("%" G_GINT64_FORMAT, seq));
  if (!b->batch_open)
    pa_batch_flush (b);
}
