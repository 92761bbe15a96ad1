/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* hostile.c — a test plugin that behaves as a compromised one would, for
 * tests/integration/test_hardening_sandbox.py.  Once logged in it tries to
 * read the host's config and store, another login's data dir and the
 * host's /proc/<pid>/environ, to signal the host, to write outside its data
 * dir; it reports what succeeded (and its environment and open
 * descriptors) in a message from the contact "spy".  Then, writing frames
 * straight onto the worker's socket as code in the worker process can,
 * it emits messages whose media_path is the host's config, a symlink to
 * it, a hard link to it and a ".." path into the other login's dir.  Paths
 * come from its settings (plugins.hostile in config.yaml).  Never
 * installed: meson builds it for the tests only. */
#include <passerelle/plugin.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <jansson.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The worker's socket to the host (WORKER_FD of src/host/pa-worker.c). */
#define CHANNEL_FD 3

extern char **environ;

static const PaHostApi *api;

struct PaLogin
{
  PaHost *host;
  uint32_t timer;
  json_t *report;
};

static const PaConfigKey config_keys[] = {
  { sizeof (PaConfigKey), "host_config", PA_CONFIG_STRING, "", "The host's config.yaml", false,
    false },
  { sizeof (PaConfigKey), "host_store", PA_CONFIG_STRING, "", "The host's SQLite store", false,
    false },
  { sizeof (PaConfigKey), "other_dir", PA_CONFIG_STRING, "", "Another login's data dir", false,
    false },
};

static const PaLoginFlow flows[] = {
  { sizeof (PaLoginFlow), "none", "None", "Nothing to ask" },
};

static bool
h_init (PaHost *host, const PaHostApi *host_api, char **error)
{
  api = host_api;
  return true;
}

/* "ok" or the errno's name for one attempt. */
static json_t *
outcome (int rc)
{
  return json_string (rc >= 0 ? "ok" : g_strerror (errno));
}

static json_t *
try_read (const char *path)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return outcome (-1);
  char buf[64];
  ssize_t n = read (fd, buf, sizeof buf);
  int e = errno;
  close (fd);
  errno = e;
  return outcome (n >= 0 ? 0 : -1);
}

static json_t *
try_list (const char *path)
{
  DIR *d = opendir (path);
  if (d == NULL)
    return outcome (-1);
  closedir (d);
  return outcome (0);
}

static json_t *
env_names (void)
{
  json_t *a = json_array ();
  for (char **e = environ; *e != NULL; e++)
    {
      const char *eq = strchr (*e, '=');
      json_array_append_new (a, json_stringn (*e, eq ? (size_t) (eq - *e) : strlen (*e)));
    }
  return a;
}

/* Every open descriptor and what it is, but the listing's own. */
static json_t *
open_fds (void)
{
  json_t *o = json_object ();
  DIR *d = opendir ("/proc/self/fd");
  if (d == NULL)
    return o;
  int self = dirfd (d);
  struct dirent *e;
  while ((e = readdir (d)) != NULL)
    {
      if (e->d_name[0] == '.' || g_ascii_strtoll (e->d_name, NULL, 10) == self)
        continue;
      char *link = g_strdup_printf ("/proc/self/fd/%s", e->d_name);
      char *target = g_file_read_link (link, NULL);
      json_object_set_new (o, e->d_name, json_string (target ? target : "?"));
      g_free (target);
      g_free (link);
    }
  closedir (d);
  return o;
}

static void
emit_text (PaLogin *l, const char *id, const char *text)
{
  PaMember spy = { .struct_size = sizeof spy, .id = "spy", .name = "Spy" };
  PaChatInfo chat = { .struct_size = sizeof chat, .id = "spy", .kind = PA_CHAT_DM };
  PaContent content = { .struct_size = sizeof content, .kind = PA_MSG_TEXT, .text = text };
  PaEvent ev = { .struct_size = sizeof ev,
                 .type = PA_EV_MESSAGE,
                 .chat_id = "spy",
                 .sender_id = "spy",
                 .message_id = id,
                 .content = &content,
                 .chat = &chat,
                 .contact = &spy };
  api->emit (l->host, &ev);
}

/* An event frame written straight onto the socket, past the worker's own
 * checks of emitted paths. */
static void
raw_media (const char *id, const char *text, const char *path)
{
  static int seq = 1000000;
  json_t *f = json_pack (
      "{s:s, s:i, s:{s:s, s:s, s:s, s:s, s:I, s:{s:s, s:s, s:s, s:s, s:s}, s:{s:s, s:s}, "
      "s:{s:s, s:s}}}",
      "t", "event", "seq", ++seq, "event", "type", "message", "chat_id", "spy", "sender_id", "spy",
      "message_id", id, "ts", (json_int_t) (g_get_real_time () / 1000), "content", "kind", "file",
      "text", text, "media_path", path, "media_name", "stolen.txt", "mimetype", "text/plain",
      "chat", "id", "spy", "kind", "dm", "contact", "id", "spy", "name", "Spy");
  char *body = json_dumps (f, JSON_COMPACT);
  json_decref (f);
  guint32 len = GUINT32_TO_BE ((guint32) strlen (body));
  GByteArray *out = g_byte_array_new ();
  g_byte_array_append (out, (const guint8 *) &len, 4);
  g_byte_array_append (out, (const guint8 *) body, (guint) strlen (body));
  gsize done = 0;
  while (done < out->len)
    {
      ssize_t n = write (CHANNEL_FD, out->data + done, out->len - done);
      if (n < 0 && (errno == EINTR || errno == EAGAIN))
        {
          g_usleep (1000);
          continue;
        }
      if (n <= 0)
        break;
      done += (gsize) n;
    }
  g_byte_array_unref (out);
  free (body);
}

static bool
tricks (void *data)
{
  PaLogin *l = data;
  l->timer = 0;
  const char *config = api->config_string (l->host, "host_config");
  const char *other = api->config_string (l->host, "other_dir");
  const char *dir = api->data_dir (l->host);
  char *base = g_path_get_basename (other);
  char *dotdot = g_build_filename (dir, "..", base, "secret.txt", NULL);
  char *sym = g_build_filename (dir, "media", "sym-config", NULL);
  char *hard = g_build_filename (dir, "media", "hard-config", NULL);
  raw_media ("trick-config", "TRICK config", config);
  raw_media ("trick-symlink", "TRICK symlink", sym);
  raw_media ("trick-hardlink", "TRICK hardlink", hard);
  raw_media ("trick-dotdot", "TRICK dotdot", dotdot);
  g_free (base);
  g_free (dotdot);
  g_free (sym);
  g_free (hard);
  return false;
}

static bool
probe (void *data)
{
  PaLogin *l = data;
  const char *config = api->config_string (l->host, "host_config");
  const char *store = api->config_string (l->host, "host_store");
  const char *other = api->config_string (l->host, "other_dir");
  const char *dir = api->data_dir (l->host);
  json_t *r = json_object ();
  json_object_set_new (r, "read_config", try_read (config));
  json_object_set_new (r, "read_store", try_read (store));
  json_object_set_new (r, "list_other_dir", try_list (other));
  char *secret = g_build_filename (other, "secret.txt", NULL);
  json_object_set_new (r, "read_other_secret", try_read (secret));
  char *environ_path = g_strdup_printf ("/proc/%d/environ", (int) getppid ());
  json_object_set_new (r, "read_host_environ", try_read (environ_path));
  json_object_set_new (r, "signal_host", outcome (kill (getppid (), 0)));
  char *outside = g_strdup_printf ("/tmp/hostile-%d", (int) getpid ());
  int fd = open (outside, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  json_object_set_new (r, "write_tmp", outcome (fd));
  if (fd >= 0)
    {
      close (fd);
      unlink (outside);
    }
  /* The links the media tricks name. */
  char *media = g_build_filename (dir, "media", NULL);
  g_mkdir_with_parents (media, 0700);
  char *sym = g_build_filename (media, "sym-config", NULL);
  char *hard = g_build_filename (media, "hard-config", NULL);
  json_object_set_new (r, "make_symlink", outcome (symlink (config, sym)));
  json_object_set_new (r, "make_hardlink", outcome (link (config, hard)));
  json_object_set_new (r, "env", env_names ());
  json_object_set_new (r, "home", json_string (g_getenv ("HOME") ? g_getenv ("HOME") : ""));
  json_object_set_new (r, "data_dir", json_string (dir));
  json_object_set_new (r, "fds", open_fds ());
  char *text = json_dumps (r, JSON_COMPACT);
  char *msg = g_strconcat ("REPORT ", text, NULL);
  emit_text (l, "report", msg);
  free (text);
  g_free (msg);
  g_free (media);
  g_free (sym);
  g_free (hard);
  g_free (outside);
  g_free (environ_path);
  g_free (secret);
  json_decref (r);
  /* Later, once the worker's socket is idle: the raw frames. */
  l->timer = api->timer_add (l->host, 500, tricks, l);
  return false;
}

static void
go_online (PaLogin *l)
{
  api->login_state (l->host, PA_STATE_CONNECTED, NULL);
  if (l->timer == 0)
    l->timer = api->timer_add (l->host, 200, probe, l);
}

static PaLogin *
h_login_new (PaHost *host, bool saved, char **error)
{
  PaLogin *l = g_new0 (PaLogin, 1);
  l->host = host;
  return l;
}

static void
h_login_free (PaLogin *l)
{
  api->source_remove (l->host, l->timer);
  g_free (l);
}

static void
h_login_start (PaLogin *l, const char *flow_id)
{
  PaLoginStep step = { .struct_size = sizeof step,
                       .kind = PA_STEP_USER_INPUT,
                       .step_id = "none",
                       .instructions = "Nothing to ask." };
  api->login_step (l->host, &step);
}

static void
h_login_submit (PaLogin *l, const char *step_id, const char *const *ids, const char *const *values,
                size_t n)
{
  api->meta_set (l->host, PA_META_LOGIN, "name", "spy");
  PaLoginStep done = { .struct_size = sizeof done,
                       .kind = PA_STEP_COMPLETE,
                       .step_id = step_id,
                       .remote_id = "spy-account",
                       .remote_name = "Spy account" };
  api->login_step (l->host, &done);
  go_online (l);
}

static void
h_connect (PaLogin *l)
{
  go_online (l);
}

static void
h_logout (PaLogin *l, uint64_t op_id)
{
  PaOpResult r = { .struct_size = sizeof r, .code = PA_RESULT_OK };
  api->op_result (l->host, op_id, &r);
  api->login_state (l->host, PA_STATE_LOGGED_OUT, NULL);
}

static void
h_send (PaLogin *l, uint64_t op_id, const char *chat_id, const PaContent *content,
        const char *txn_id)
{
  PaOpResult r = { .struct_size = sizeof r, .code = PA_RESULT_UNSUPPORTED, .error = "no" };
  api->op_result (l->host, op_id, &r);
}

static const PaLoginOps login_ops = {
  .struct_size = sizeof (PaLoginOps),
  .login_free = h_login_free,
  .login_start = h_login_start,
  .login_submit = h_login_submit,
  .connect = h_connect,
  .logout = h_logout,
  .send = h_send,
};

static const PaNetwork network = {
  .magic = PA_PLUGIN_MAGIC,
  .abi_major = PA_PLUGIN_ABI_MAJOR,
  .abi_minor = PA_PLUGIN_ABI_MINOR,
  .struct_size = sizeof (PaNetwork),
  .name = "hostile",
  .display_name = "Hostile",
  .version = "0.1.0",
  .capabilities = PA_CAP_LOGIN,
  .config_keys = config_keys,
  .n_config_keys = sizeof config_keys / sizeof config_keys[0],
  .login_flows = flows,
  .n_login_flows = 1,
  .init = h_init,
  .login_new = h_login_new,
  .login_ops = &login_ops,
};

__attribute__ ((visibility ("default"))) const PaNetwork *pa_plugin_get_network (void);

const PaNetwork *
pa_plugin_get_network (void)
{
  return &network;
}
