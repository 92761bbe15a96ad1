/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The descriptor budget of pa-fd-budget.h: the limit raised at start-up,
 * the capacity it allows, and the checks before a worker is started. */
#define G_LOG_DOMAIN "passerelle-host"

#include "host/pa-fd-budget.h"
#include "pa-common.h"

#include <errno.h>
#include <gio/gio.h>
#include <sys/resource.h>
#include <unistd.h>

/* Kept for everything that is not a login: stdio, the listener and the
 * homeserver's connections to it, the homeserver client's pool, the
 * database and its journal, the poll and timer descriptors, an import's
 * files; and a part proportional to the limit for bursts of connections. */
#define RESERVE_BASE 40u
#define RESERVE_SHARE 8u /* one descriptor in 8 */
#define RESERVE_SHARE_MAX 1024u

static guint capacity = G_MAXUINT;
static guint64 nofile;

static guint64
read_nr_open (void)
{
  g_autofree char *text = NULL;
  if (!g_file_get_contents ("/proc/sys/fs/nr_open", &text, NULL, NULL))
    return 0;
  return g_ascii_strtoull (text, NULL, 10);
}

/* See pa-fd-budget.h. */
guint64
pa_fd_budget_raise (void)
{
  struct rlimit rl;
  if (getrlimit (RLIMIT_NOFILE, &rl) != 0)
    return 0;
  rlim_t soft = rl.rlim_cur, hard = rl.rlim_max;
  /* As root the hard limit itself may go up, to the kernel's ceiling
   * (fs.nr_open); best effort, an unprivileged process keeps its own. */
  guint64 nr_open = geteuid () == 0 ? read_nr_open () : 0;
  if (nr_open > 0 && rl.rlim_max != RLIM_INFINITY && rl.rlim_max < nr_open)
    {
      struct rlimit up = { .rlim_cur = nr_open, .rlim_max = nr_open };
      if (setrlimit (RLIMIT_NOFILE, &up) == 0)
        rl = up;
    }
  if (rl.rlim_cur < rl.rlim_max)
    {
      struct rlimit up = { .rlim_cur = rl.rlim_max, .rlim_max = rl.rlim_max };
      if (setrlimit (RLIMIT_NOFILE, &up) == 0)
        rl = up;
    }
  if (rl.rlim_cur != soft)
    g_message ("descriptor limit raised from %llu to %llu (hard limit %llu, was %llu)",
               (unsigned long long) soft, (unsigned long long) rl.rlim_cur,
               (unsigned long long) rl.rlim_max, (unsigned long long) hard);
  else
    g_message ("descriptor limit: %llu (hard limit %llu)", (unsigned long long) rl.rlim_cur,
               (unsigned long long) rl.rlim_max);
  nofile = rl.rlim_cur;
  return nofile;
}

static guint
reserve_for (guint64 limit)
{
  return RESERVE_BASE + (guint) MIN (limit / RESERVE_SHARE, RESERVE_SHARE_MAX);
}

/* See pa-fd-budget.h. */
guint
pa_fd_budget_capacity_for (guint64 limit)
{
  guint reserve = reserve_for (limit);
  if (limit <= reserve)
    return 0;
  return (guint) MIN ((limit - reserve) / PA_FD_PER_LOGIN, (guint64) G_MAXUINT / 2);
}

/* Descriptors needed for `logins`: the inverse of capacity_for. */
static guint64
limit_for (guint logins)
{
  guint64 need = (guint64) logins * PA_FD_PER_LOGIN + RESERVE_BASE;
  /* The share is one in RESERVE_SHARE of the whole limit, capped. */
  guint64 with_share = need * RESERVE_SHARE / (RESERVE_SHARE - 1) + 1;
  return MIN (with_share, need + RESERVE_SHARE_MAX);
}

/* See pa-fd-budget.h. */
guint
pa_fd_budget_init (guint max_logins)
{
  if (nofile == 0)
    {
      struct rlimit rl;
      nofile = getrlimit (RLIMIT_NOFILE, &rl) == 0 ? rl.rlim_cur : 1024;
    }
  guint fits = pa_fd_budget_capacity_for (nofile);
  if (max_logins == 0)
    capacity = fits;
  else if (max_logins > fits)
    {
      g_warning ("workers.max_logins is %u but the descriptor limit (%llu) allows %u logins "
                 "(%u descriptors each, %u kept for connections and the database): raise it to "
                 "at least %llu (LimitNOFILE= in the systemd unit, ulimit -n otherwise); until "
                 "then logins beyond %u are refused",
                 max_logins, (unsigned long long) nofile, fits, PA_FD_PER_LOGIN,
                 reserve_for (nofile), (unsigned long long) limit_for (max_logins), fits);
      capacity = fits;
    }
  else
    capacity = max_logins;
  g_message ("login capacity: %u (descriptor limit %llu, %u per login, %u kept%s)", capacity,
             (unsigned long long) nofile, PA_FD_PER_LOGIN, reserve_for (nofile),
             max_logins != 0 && capacity == max_logins ? "; workers.max_logins" : "");
  return capacity;
}

/* See pa-fd-budget.h. */
gboolean
pa_fd_budget_admit (guint running, GError **error)
{
  if (running < capacity)
    return TRUE;
  g_warning ("login refused: the bridge is at its capacity of %u logins (workers.max_logins "
             "and the descriptor limit %llu)",
             capacity, (unsigned long long) nofile);
  g_set_error (error, PA_ERROR, PA_ERROR_TOO_LARGE,
               "the bridge is at its capacity of %u logins; try again later, or ask its "
               "administrator to raise it",
               capacity);
  return FALSE;
}

/* See pa-fd-budget.h. */
void
pa_fd_budget_spawn_error (int errno_value, const char *what, GError **error)
{
  if (errno_value == EMFILE || errno_value == ENFILE)
    {
      g_warning ("%s: out of file descriptors (%s; limit %llu): raise LimitNOFILE= or lower "
                 "workers.max_logins",
                 what, g_strerror (errno_value), (unsigned long long) nofile);
      g_set_error (error, PA_ERROR, PA_ERROR_TOO_LARGE,
                   "the bridge has run out of file descriptors; try again later, or ask its "
                   "administrator to raise its limit");
      return;
    }
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno_value), "%s: %s", what,
               g_strerror (errno_value));
}
