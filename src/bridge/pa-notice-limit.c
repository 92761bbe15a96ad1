/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* A per-login rate limit on the notices a plugin sends to its agent's
 * management room (the `notice` frame): a token bucket (burst, then one
 * every few seconds); what goes over is counted, not queued, and the count
 * is told in one notice when the bucket allows, so a plugin emitting
 * thousands of notices costs the room a handful of messages
 * (docs/hardening.md, Watchdog and notice limits). */
#define G_LOG_DOMAIN "passerelle-logins"

#include "pa-notice-limit.h"

#include "pa-portal.h"

struct _PaNoticeLimit
{
  PaBridge *bridge;
  char *owner;
  char *network;
  guint burst;
  guint every_s;
  double tokens;
  gint64 refilled_us;
  guint64 suppressed;
  guint flush_source;
};

PaNoticeLimit *
pa_notice_limit_new (PaBridge *b, const char *owner, const char *network, guint burst,
                     guint every_s)
{
  PaNoticeLimit *lim = g_new0 (PaNoticeLimit, 1);
  lim->bridge = b;
  lim->owner = g_strdup (owner);
  lim->network = g_strdup (network);
  lim->burst = MAX (burst, 1u);
  lim->every_s = every_s;
  lim->tokens = lim->burst;
  lim->refilled_us = g_get_monotonic_time ();
  return lim;
}

static void
refill (PaNoticeLimit *lim)
{
  gint64 now = g_get_monotonic_time ();
  double gained = (double) (now - lim->refilled_us) / ((double) lim->every_s * G_USEC_PER_SEC);
  lim->tokens = MIN ((double) lim->burst, lim->tokens + gained);
  lim->refilled_us = now;
}

static gboolean
on_flush (gpointer data)
{
  PaNoticeLimit *lim = data;
  refill (lim);
  if (lim->tokens < 1.0)
    return G_SOURCE_CONTINUE;
  lim->flush_source = 0;
  lim->tokens -= 1.0;
  g_autofree char *msg
      = g_strdup_printf ("… and %" G_GUINT64_FORMAT " more notice%s from %s "
                         "suppressed (too many at once).",
                         lim->suppressed, lim->suppressed == 1 ? "" : "s", lim->network);
  g_message ("%s: %" G_GUINT64_FORMAT " notices of %s suppressed", lim->owner, lim->suppressed,
             lim->network);
  lim->suppressed = 0;
  pa_portal_notify_owner (lim->bridge, lim->owner, msg);
  return G_SOURCE_REMOVE;
}

void
pa_notice_limit_post (PaNoticeLimit *lim, const char *text)
{
  if (lim->every_s == 0)
    {
      pa_portal_notify_owner (lim->bridge, lim->owner, text);
      return;
    }
  refill (lim);
  /* While a count is waiting, later notices join it: order is kept. */
  if (lim->suppressed == 0 && lim->tokens >= 1.0)
    {
      lim->tokens -= 1.0;
      pa_portal_notify_owner (lim->bridge, lim->owner, text);
      return;
    }
  lim->suppressed++;
  if (lim->flush_source == 0)
    lim->flush_source = g_timeout_add_seconds (MAX (lim->every_s, 1u), on_flush, lim);
}

void
pa_notice_limit_free (PaNoticeLimit *lim)
{
  if (lim == NULL)
    return;
  if (lim->flush_source != 0)
    g_source_remove (lim->flush_source);
  g_free (lim->owner);
  g_free (lim->network);
  g_free (lim);
}
