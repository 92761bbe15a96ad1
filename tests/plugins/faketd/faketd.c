/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * faketd.c — the test suite's stand-in for TDLib's libtdjson.so: the same
 * four C functions, driven by a test over TCP instead of Telegram's servers.
 *
 * td_send hands every request to the controller (tests/integration/
 * td_fake.py) as a JSON line {"request": …} and appends it to
 * <database_directory>/faketd-requests.jsonl; the controller's lines
 * {"deliver": …} come back out of td_receive.  The listening port appears
 * in <database_directory>/faketd.port once the plugin sent
 * setTdlibParameters.  On its own the fake only opens a client
 * (authorizationStateWaitTdlibParameters) and closes one ("close" →
 * Closing, Closed), so a bridge stops promptly without a controller.
 * td_execute forwards to the real libtdjson named by PA_FAKE_TDJSON_REAL, or
 * by default the one scripts/setup-deps installs (FAKETD_REAL_DEFAULT).
 *
 * It exports pa_fake_tdjson: the installed plugin refuses any library that
 * has it, so a deployment can never be switched to this fake.
 */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <jansson.h>

#define FAKE_EXPORT __attribute__ ((visibility ("default")))

FAKE_EXPORT const int pa_fake_tdjson = 1;

FAKE_EXPORT int td_create_client_id (void);
FAKE_EXPORT void td_send (int client_id, const char *request);
FAKE_EXPORT const char *td_receive (double timeout);
FAKE_EXPORT const char *td_execute (const char *request);

static GMutex lock;
static GCond cond;
static GQueue out = G_QUEUE_INIT; /* strings for td_receive */
static GPtrArray *backlog;        /* request lines not yet sent to a controller */
static int n_clients;
static int started_client; /* the last client that got WaitTdlibParameters */
static char *db_dir;
static int listen_fd = -1;
static int ctl_fd = -1;
static GMutex write_lock; /* one line at a time on ctl_fd */

static void
queue_locked (json_t *obj, int client_id)
{
  json_object_set_new (obj, "@client_id", json_integer (client_id));
  g_queue_push_tail (&out, json_dumps (obj, JSON_COMPACT));
  g_cond_broadcast (&cond);
}

static void
queue_state_locked (const char *state, int client_id)
{
  json_t *u = json_pack ("{s:s, s:{s:s}}", "@type", "updateAuthorizationState",
                         "authorization_state", "@type", state);
  queue_locked (u, client_id);
  json_decref (u);
}

static gboolean
write_all (int fd, const char *buf, size_t len)
{
  while (len > 0)
    {
      /* MSG_NOSIGNAL: a controller gone must not kill the worker (SIGPIPE). */
      ssize_t n = send (fd, buf, len, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return FALSE;
      buf += n;
      len -= (size_t) n;
    }
  return TRUE;
}

/* Sends one line to the controller, or keeps it for the next one. */
static void
to_controller (char *line)
{
  g_mutex_lock (&write_lock);
  if (ctl_fd < 0 || !write_all (ctl_fd, line, strlen (line)))
    g_ptr_array_add (backlog, g_strdup (line));
  g_mutex_unlock (&write_lock);
}

/* Appends a request to the log next to the database; requests sent before
 * the database's folder is known wait for it. */
static void
append_log (const char *line)
{
  static GPtrArray *early;
  g_mutex_lock (&lock);
  if (db_dir == NULL)
    {
      if (early == NULL)
        early = g_ptr_array_new_with_free_func (g_free);
      g_ptr_array_add (early, g_strdup (line));
      g_mutex_unlock (&lock);
      return;
    }
  g_autofree char *path = g_build_filename (db_dir, "faketd-requests.jsonl", NULL);
  FILE *f = fopen (path, "a");
  for (guint i = 0; f != NULL && early != NULL && i < early->len; i++)
    fputs (g_ptr_array_index (early, i), f);
  g_clear_pointer (&early, g_ptr_array_unref);
  if (f != NULL)
    {
      fputs (line, f);
      fclose (f);
    }
  g_mutex_unlock (&lock);
}

static void
read_controller (int fd)
{
  GString *buf = g_string_new (NULL);
  char chunk[65536];
  for (;;)
    {
      ssize_t n = read (fd, chunk, sizeof chunk);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      g_string_append_len (buf, chunk, n);
      char *nl;
      while ((nl = memchr (buf->str, '\n', buf->len)) != NULL)
        {
          *nl = '\0';
          json_t *msg = json_loads (buf->str, 0, NULL);
          g_string_erase (buf, 0, nl - buf->str + 1);
          json_t *obj = json_object_get (msg, "deliver");
          if (json_is_object (obj))
            {
              g_mutex_lock (&lock);
              queue_locked (obj, started_client);
              g_mutex_unlock (&lock);
            }
          else
            fprintf (stderr, "faketd: ignored a line from the controller\n");
          json_decref (msg);
        }
    }
  g_string_free (buf, TRUE);
}

static gpointer
serve (gpointer data)
{
  for (;;)
    {
      int fd = accept (listen_fd, NULL, NULL);
      if (fd < 0)
        {
          if (errno == EINTR)
            continue;
          return NULL;
        }
      g_mutex_lock (&write_lock);
      gboolean ok = TRUE;
      for (guint i = 0; ok && i < backlog->len; i++)
        {
          const char *line = g_ptr_array_index (backlog, i);
          ok = write_all (fd, line, strlen (line));
        }
      if (ok)
        {
          g_ptr_array_set_size (backlog, 0);
          ctl_fd = fd;
        }
      g_mutex_unlock (&write_lock);
      if (ok)
        read_controller (fd);
      g_mutex_lock (&write_lock);
      ctl_fd = -1;
      g_mutex_unlock (&write_lock);
      close (fd);
    }
}

/* Listens on 127.0.0.1 and writes the port next to the database. */
static void
start_listening (const char *dir)
{
  g_mkdir_with_parents (dir, 0700);
  listen_fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  socklen_t len = sizeof sa;
  if (listen_fd < 0 || bind (listen_fd, (struct sockaddr *) &sa, sizeof sa) != 0
      || listen (listen_fd, 4) != 0 || getsockname (listen_fd, (struct sockaddr *) &sa, &len) != 0)
    {
      fprintf (stderr, "faketd: cannot listen: %s\n", g_strerror (errno));
      abort ();
    }
  g_autofree char *path = g_build_filename (dir, "faketd.port", NULL);
  g_autofree char *tmp = g_strconcat (path, ".tmp", NULL);
  g_autofree char *text = g_strdup_printf ("%u\n", ntohs (sa.sin_port));
  if (!g_file_set_contents (tmp, text, -1, NULL) || g_rename (tmp, path) != 0)
    abort ();
  g_thread_unref (g_thread_new ("faketd-serve", serve, NULL));
}

int
td_create_client_id (void)
{
  g_mutex_lock (&lock);
  int id = ++n_clients;
  if (backlog == NULL)
    backlog = g_ptr_array_new_with_free_func (g_free);
  g_mutex_unlock (&lock);
  return id;
}

void
td_send (int client_id, const char *request)
{
  json_t *req = json_loads (request, 0, NULL);
  if (!json_is_object (req))
    {
      fprintf (stderr, "faketd: td_send got something that is not a JSON object\n");
      abort ();
    }
  const char *type = json_string_value (json_object_get (req, "@type"));
  g_mutex_lock (&lock);
  if (client_id != started_client)
    {
      /* A new client: TDLib asks for its parameters first. */
      started_client = client_id;
      queue_state_locked ("authorizationStateWaitTdlibParameters", client_id);
    }
  if (g_strcmp0 (type, "setTdlibParameters") == 0 && listen_fd < 0)
    {
      const char *dir = json_string_value (json_object_get (req, "database_directory"));
      db_dir = g_strdup (dir != NULL ? dir : ".");
      start_listening (db_dir);
    }
  if (g_strcmp0 (type, "close") == 0)
    {
      queue_state_locked ("authorizationStateClosing", client_id);
      queue_state_locked ("authorizationStateClosed", client_id);
    }
  g_mutex_unlock (&lock);
  json_t *msg = json_pack ("{s:O, s:i}", "request", req, "client_id", client_id);
  char *line = json_dumps (msg, JSON_COMPACT);
  json_decref (msg);
  g_autofree char *nl = g_strconcat (line, "\n", NULL);
  free (line);
  char *rline = json_dumps (req, JSON_COMPACT);
  g_autofree char *rnl = g_strconcat (rline, "\n", NULL);
  free (rline);
  append_log (rnl);
  to_controller (nl);
  json_decref (req);
}

const char *
td_receive (double timeout)
{
  /* One receiving thread, as TDLib requires: the last answer stays valid
   * until the next call. */
  static char *last;
  g_clear_pointer (&last, free);
  gint64 deadline = g_get_monotonic_time () + (gint64) (timeout * G_USEC_PER_SEC);
  g_mutex_lock (&lock);
  while (g_queue_is_empty (&out))
    if (!g_cond_wait_until (&cond, &lock, deadline))
      break;
  last = g_queue_pop_head (&out);
  g_mutex_unlock (&lock);
  return last;
}

const char *
td_execute (const char *request)
{
  static __thread char *answer;
  typedef const char *(*Exec) (const char *);
  /* The host passes workers an allow-listed environment only: the build's
   * default (the TDLib scripts/setup-deps installs) serves there. */
  const char *real = g_getenv ("PA_FAKE_TDJSON_REAL");
  if (real == NULL || *real == '\0')
    real = FAKETD_REAL_DEFAULT;
  static void *real_lib;
  static gsize loaded;
  if (g_once_init_enter (&loaded))
    {
      if (real != NULL && *real != '\0')
        real_lib = dlopen (real, RTLD_NOW | RTLD_LOCAL);
      g_once_init_leave (&loaded, 1);
    }
  Exec exec = real_lib != NULL ? (Exec) dlsym (real_lib, "td_execute") : NULL;
  if (exec != NULL)
    return exec (request);
  g_free (answer);
  answer = g_strdup ("{\"@type\":\"error\",\"code\":400,\"message\":\"no real TDLib\"}");
  return answer;
}
