/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Host <-> worker round trips through real processes: the test executable
 * in worker mode hosting the echo plugin (tests/host/echo-plugin.c). */
#include "wire/pa-frame.h"
#include "host/pa-worker.h"
#include "pa-common.h"

#include <passerelle/plugin.h>

#include <errno.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define WAIT_MS 8000

typedef struct
{
  PaWorker *w;
  char *tmp;
  char *data_dir;
  GQueue frames; /* json_t*, owned */
  GQueue hellos; /* json_t*, owned */
  guint n_exited;
  gboolean crashed, will_restart;
  char *reason;
  guint tick;
  gint64 last_tick_us, max_gap_us;
} Fx;

static char *
build_path (const char *file)
{
  const char *root = g_getenv ("PA_BUILD_ROOT");
  g_assert_nonnull (root);
  return g_build_filename (root, "tests", "host", file, NULL);
}

static void
on_hello (PaWorker *w, json_t *hello, gpointer data)
{
  Fx *fx = data;
  g_queue_push_tail (&fx->hellos, json_incref (hello));
}

static void
on_frame (PaWorker *w, json_t *frame, gpointer data)
{
  Fx *fx = data;
  g_queue_push_tail (&fx->frames, json_incref (frame));
}

static void
on_exited (PaWorker *w, gboolean crashed, gboolean will_restart, const char *reason,
           gpointer data)
{
  Fx *fx = data;
  fx->n_exited++;
  fx->crashed = crashed;
  fx->will_restart = will_restart;
  g_free (fx->reason);
  fx->reason = g_strdup (reason);
}

static gboolean
on_tick (gpointer data)
{
  Fx *fx = data;
  gint64 now = g_get_monotonic_time ();
  if (fx->last_tick_us != 0)
    fx->max_gap_us = MAX (fx->max_gap_us, now - fx->last_tick_us);
  fx->last_tick_us = now;
  return G_SOURCE_CONTINUE;
}

static const PaWorkerCallbacks callbacks = { on_hello, on_frame, on_exited };

/* `init` (may be NULL): the init frame; the worker starts at once. */
static Fx *
fx_new (const char *init_json)
{
  Fx *fx = g_new0 (Fx, 1);
  g_autoptr (GError) error = NULL;
  fx->tmp = g_dir_make_tmp ("pa-worker-XXXXXX", &error);
  g_assert_no_error (error);
  /* Not created yet: the worker must create it, 0700. */
  fx->data_dir = g_build_filename (fx->tmp, "login", "data", NULL);
  g_autofree char *exe = build_path ("pa-worker-test-exe");
  g_autofree char *plugin = build_path ("echo-plugin.so");
  fx->w = pa_worker_new (exe, plugin, "login-1", fx->data_dir, &callbacks, fx);
  g_queue_init (&fx->frames);
  g_queue_init (&fx->hellos);
  if (init_json != NULL)
    {
      g_autoptr (json_t) init = json_loads (init_json, 0, NULL);
      g_assert_nonnull (init);
      pa_worker_set_init (fx->w, init);
    }
  fx->tick = g_timeout_add (10, on_tick, fx);
  return fx;
}

static void
rm_rf (const char *path)
{
  if (g_file_test (path, G_FILE_TEST_IS_DIR) && !g_file_test (path, G_FILE_TEST_IS_SYMLINK))
    {
      g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
      const char *name;
      while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);
          rm_rf (child);
        }
      g_rmdir (path);
    }
  else
    g_unlink (path);
}

static void
fx_free (Fx *fx)
{
  pa_worker_free (fx->w);
  g_source_remove (fx->tick);
  g_queue_clear_full (&fx->frames, (GDestroyNotify) json_decref);
  g_queue_clear_full (&fx->hellos, (GDestroyNotify) json_decref);
  rm_rf (fx->tmp);
  g_free (fx->tmp);
  g_free (fx->data_dir);
  g_free (fx->reason);
  g_free (fx);
}

static gboolean
on_deadline (gpointer data)
{
  gboolean *expired = data;
  *expired = TRUE;
  return G_SOURCE_REMOVE;
}

/* Run the loop until pred() or WAIT_MS. */
static gboolean
run_until (Fx *fx, gboolean (*pred) (Fx *fx, gconstpointer arg), gconstpointer arg, guint ms)
{
  gboolean expired = FALSE;
  guint id = g_timeout_add (ms, on_deadline, &expired);
  while (!pred (fx, arg) && !expired)
    g_main_context_iteration (NULL, TRUE);
  if (!expired)
    g_source_remove (id);
  return pred (fx, arg);
}

static gboolean
has_frame (Fx *fx, gconstpointer type)
{
  for (GList *l = fx->frames.head; l != NULL; l = l->next)
    if (g_strcmp0 (json_string_value (json_object_get (l->data, "t")), type) == 0)
      return TRUE;
  return FALSE;
}

/* The first frame of `type` (transfer full), waiting for it if needed. */
static json_t *
take (Fx *fx, const char *type)
{
  if (!run_until (fx, has_frame, type, WAIT_MS))
    g_error ("no \"%s\" frame within %d ms", type, WAIT_MS);
  for (GList *l = fx->frames.head; l != NULL; l = l->next)
    if (g_strcmp0 (json_string_value (json_object_get (l->data, "t")), type) == 0)
      {
        json_t *f = l->data;
        g_queue_delete_link (&fx->frames, l);
        return f;
      }
  g_assert_not_reached ();
}

static gboolean
hellos_at_least (Fx *fx, gconstpointer n)
{
  return fx->hellos.length >= GPOINTER_TO_UINT (n);
}

static gboolean
exited_at_least (Fx *fx, gconstpointer n)
{
  return fx->n_exited >= GPOINTER_TO_UINT (n);
}

static json_t *
wait_hello (Fx *fx, guint n)
{
  g_assert_true (run_until (fx, hellos_at_least, GUINT_TO_POINTER (n), WAIT_MS));
  return g_queue_peek_nth (&fx->hellos, n - 1);
}

static void
wait_exited (Fx *fx, guint n)
{
  g_assert_true (run_until (fx, exited_at_least, GUINT_TO_POINTER (n), WAIT_MS));
}

static void
send_json (Fx *fx, const char *json)
{
  json_error_t jerr;
  g_autoptr (json_t) f = json_loads (json, 0, &jerr);
  if (f == NULL)
    g_error ("bad test JSON %s: %s", json, jerr.text);
  g_assert_true (pa_worker_send (fx->w, f));
}

static const char *
str (json_t *o, const char *key)
{
  return json_string_value (json_object_get (o, key));
}

static json_int_t
num (json_t *o, const char *key)
{
  json_t *v = json_object_get (o, key);
  g_assert_true (json_is_integer (v));
  return json_integer_value (v);
}

static json_t *
take_result (Fx *fx, json_int_t op_id)
{
  json_t *r = take (fx, "result");
  g_assert_cmpint (num (r, "op_id"), ==, op_id);
  return r;
}

static gboolean
strv_has (json_t *arr, const char *s)
{
  gsize i;
  json_t *v;
  json_array_foreach (arr, i, v)
  if (g_strcmp0 (json_string_value (v), s) == 0)
    return TRUE;
  return FALSE;
}

static void
test_roundtrip (void)
{
  Fx *fx = fx_new ("{\"t\":\"init\",\"login_id\":\"login-1\",\"saved\":true,"
                   "\"config\":{\"greeting\":\"salut\",\"level\":7,\"loud\":true},"
                   "\"meta\":[{\"scope\":\"login\",\"id\":\"k\",\"value\":\"v1\"}]}");
  g_autoptr (GError) error = NULL;
  g_assert_true (pa_worker_start (fx->w, &error));
  g_assert_no_error (error);
  g_assert_true (pa_worker_is_running (fx->w));
  g_assert_cmpint (pa_worker_pid (fx->w), >, 0);
  g_assert_cmpstr (pa_worker_login_id (fx->w), ==, "login-1");

  json_t *hello = wait_hello (fx, 1);
  g_assert_cmpstr (str (hello, "t"), ==, "hello");
  g_assert_cmpstr (str (hello, "plugin"), ==, "echo");
  g_assert_cmpstr (str (hello, "display_name"), ==, "Echo");
  g_assert_cmpstr (str (hello, "version"), ==, "0.1");
  g_autofree char *abi = g_strdup_printf ("%d.%d", PA_PLUGIN_ABI_MAJOR, PA_PLUGIN_ABI_MINOR);
  g_assert_cmpstr (str (hello, "abi"), ==, abi);
  g_assert_cmpint (num (hello, "capabilities"), ==, PA_CAP_LOGIN | PA_CAP_IMPORT | PA_CAP_GROUPS);
  g_assert_true (json_is_true (json_object_get (hello, "import")));
  g_assert_true (json_is_true (json_object_get (hello, "login")));
  g_assert_false (json_is_true (json_object_get (hello, "normalize")));
  json_t *config = json_object_get (hello, "config");
  g_assert_cmpuint (json_array_size (config), ==, 4);
  g_assert_cmpstr (str (json_array_get (config, 1), "type"), ==, "int");
  g_assert_cmpstr (str (json_array_get (config, 1), "default"), ==, "3");
  g_assert_true (json_is_true (json_object_get (json_array_get (config, 3), "secret")));
  json_t *flows = json_object_get (hello, "flows");
  g_assert_cmpuint (json_array_size (flows), ==, 2);
  g_assert_cmpstr (str (json_array_get (flows, 0), "id"), ==, "password");
  g_assert_cmpstr (str (json_array_get (flows, 0), "description"), ==, "User name and password");
  g_assert_null (json_object_get (json_array_get (flows, 1), "description"));
  json_t *ops = json_object_get (hello, "ops");
  g_assert_true (strv_has (ops, "send"));
  g_assert_true (strv_has (ops, "fetch_history"));
  g_assert_false (strv_has (ops, "edit"));
  g_assert_false (strv_has (ops, "logout"));

  /* init reached login_new with the saved flag and the meta cache. */
  g_autoptr (json_t) log = take (fx, "log");
  g_assert_cmpstr (str (log, "level"), ==, "info");
  g_assert_cmpstr (str (log, "message"), ==, "echo login_new");
  g_autoptr (json_t) n1 = take (fx, "notice");
  g_assert_cmpstr (str (n1, "text"), ==, "login_new saved=1 meta=v1 greeting=salut level=7 loud=1");
  GStatBuf st;
  g_assert_cmpint (g_stat (fx->data_dir, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0700);

  /* send: an event with every wire field, then the result.  The media file
   * lies in the data dir: the worker refuses events naming files elsewhere. */
  g_autofree char *media = g_build_filename (fx->data_dir, "p.jpg", NULL);
  g_assert_true (g_file_set_contents (media, "jpeg", -1, NULL));
  g_autofree char *send1 = g_strdup_printf (
      "{\"t\":\"op\",\"op_id\":1,\"op\":\"send\",\"chat_id\":\"c1\",\"txn_id\":\"t1\","
      "\"content\":{\"kind\":\"image\",\"text\":\"caption\",\"media_path\":\"%s\","
      "\"media_name\":\"p.jpg\",\"mimetype\":\"image/jpeg\",\"size\":99,\"width\":4,"
      "\"height\":3,\"reply_to\":\"m-0\",\"forwarded_from\":\"Carol\"}}",
      media);
  send_json (fx, send1);
  g_autoptr (json_t) evf = take (fx, "event");
  json_int_t seq = num (evf, "seq");
  g_assert_cmpint (seq, ==, 1);
  json_t *ev = json_object_get (evf, "event");
  g_assert_cmpstr (str (ev, "type"), ==, "message");
  g_assert_cmpstr (str (ev, "chat_id"), ==, "c1");
  g_assert_cmpstr (str (ev, "sender_id"), ==, "alice");
  g_assert_cmpint (num (ev, "ts"), ==, 1700000000123);
  g_assert_cmpint (num (ev, "stream_order"), ==, 42);
  g_assert_cmpstr (str (ev, "message_id"), ==, "m-t1");
  g_assert_cmpstr (str (ev, "txn_id"), ==, "t1");
  g_assert_null (json_object_get (ev, "target_id"));
  g_assert_true (json_is_true (json_object_get (ev, "from_me")));
  json_t *content = json_object_get (ev, "content");
  g_assert_cmpstr (str (content, "kind"), ==, "image");
  g_assert_cmpstr (str (content, "text"), ==, "caption");
  g_assert_cmpstr (str (content, "media_path"), ==, media);
  g_assert_cmpstr (str (content, "media_name"), ==, "p.jpg");
  g_assert_cmpstr (str (content, "mimetype"), ==, "image/jpeg");
  g_assert_cmpint (num (content, "size"), ==, 99);
  g_assert_cmpint (num (content, "width"), ==, 4);
  g_assert_cmpint (num (content, "height"), ==, 3);
  g_assert_cmpstr (str (content, "reply_to"), ==, "m-0");
  g_assert_cmpstr (str (content, "forwarded_from"), ==, "Carol");
  g_assert_null (json_object_get (content, "html"));
  json_t *chat = json_object_get (ev, "chat");
  g_assert_cmpstr (str (chat, "id"), ==, "c1");
  g_assert_cmpstr (str (chat, "kind"), ==, "group");
  g_assert_cmpstr (str (chat, "name"), ==, "Echo room");
  g_assert_cmpstr (str (chat, "topic"), ==, "echoes");
  g_assert_true (json_is_true (json_object_get (chat, "members_complete")));
  g_assert_cmpint (num (chat, "disappearing_s"), ==, 3600);
  json_t *members = json_object_get (chat, "members");
  g_assert_cmpuint (json_array_size (members), ==, 2);
  json_t *alice = json_array_get (members, 0);
  g_assert_cmpstr (str (alice, "id"), ==, "alice");
  g_assert_cmpstr (str (alice, "name"), ==, "Alice");
  g_assert_null (json_object_get (alice, "avatar_path"));
  g_assert_cmpstr (str (alice, "identifier"), ==, "+33600000001");
  g_assert_cmpint (num (alice, "power"), ==, 100);
  g_assert_null (json_object_get (json_array_get (members, 1), "avatar_path"));
  json_t *features = json_object_get (chat, "features");
  g_assert_cmpint (num (features, "capabilities"), ==, PA_CAP_REPLIES | PA_CAP_MEDIA);
  g_assert_cmpint (num (features, "max_media_size"), ==, 1048576);
  g_assert_cmpint (num (features, "max_edit_age_s"), ==, 900);
  g_assert_cmpint (num (features, "max_text_length"), ==, 4096);
  g_assert_cmpstr (str (json_object_get (ev, "contact"), "id"), ==, "alice");
  g_autoptr (json_t) r1 = take_result (fx, 1);
  g_assert_true (json_is_true (json_object_get (r1, "ok")));
  g_assert_cmpstr (str (r1, "legacy_id"), ==, "m-t1");
  g_assert_null (json_object_get (r1, "error"));

  /* persisted reaches event_persisted. */
  g_autofree char *persisted = g_strdup_printf ("{\"t\":\"persisted\",\"seq\":%" JSON_INTEGER_FORMAT
                                                "}", seq);
  send_json (fx, persisted);
  g_autoptr (json_t) n2 = take (fx, "notice");
  g_assert_cmpstr (str (n2, "text"), ==, "persisted 1");

  /* An operation the plugin leaves NULL is answered by the worker. */
  send_json (fx, "{\"t\":\"op\",\"op_id\":2,\"op\":\"edit\",\"chat_id\":\"c1\","
                 "\"target_id\":\"m-t1\",\"content\":{\"kind\":\"text\",\"text\":\"x\"}}");
  g_autoptr (json_t) r2 = take_result (fx, 2);
  g_assert_true (json_is_false (json_object_get (r2, "ok")));
  g_assert_cmpstr (str (r2, "error"), ==, "Echo cannot edit");
  g_assert_cmpstr (str (r2, "code"), ==, "unsupported");
  send_json (fx, "{\"t\":\"op\",\"op_id\":3,\"op\":\"teleport\"}");
  g_autoptr (json_t) r3 = take_result (fx, 3);
  g_assert_cmpstr (str (r3, "error"), ==, "unknown operation \"teleport\"");
  send_json (fx, "{\"t\":\"op\",\"op_id\":4,\"op\":\"send\",\"content\":{\"kind\":\"text\"}}");
  g_autoptr (json_t) r4 = take_result (fx, 4);
  g_assert_true (json_is_false (json_object_get (r4, "ok")));
  g_assert_nonnull (strstr (str (r4, "error"), "missing chat_id"));
  g_assert_cmpstr (str (r4, "code"), ==, "permanent");

  /* meta_set goes to the host; meta_get right after sees it (and a
   * deletion) from the worker's cache. */
  send_json (fx, "{\"t\":\"op\",\"op_id\":5,\"op\":\"set_chat_info\",\"chat_id\":\"c1\","
                 "\"field\":\"topic\",\"value\":\"room name\"}");
  g_autoptr (json_t) ms = take (fx, "meta_set");
  g_assert_cmpstr (str (ms, "scope"), ==, "chat");
  g_assert_cmpstr (str (ms, "id"), ==, "c1");
  g_assert_cmpstr (str (ms, "value"), ==, "room name");
  g_autoptr (json_t) r5 = take_result (fx, 5);
  g_assert_cmpstr (str (r5, "legacy_id"), ==, "room name");
  send_json (fx, "{\"t\":\"op\",\"op_id\":6,\"op\":\"set_chat_info\",\"chat_id\":\"c1\","
                 "\"field\":\"topic\",\"value\":null}");
  g_autoptr (json_t) ms2 = take (fx, "meta_set");
  g_assert_true (json_is_null (json_object_get (ms2, "value")));
  g_autoptr (json_t) r6 = take_result (fx, 6);
  g_assert_null (json_object_get (r6, "legacy_id"));

  /* Contacts, then the result. */
  send_json (fx, "{\"t\":\"op\",\"op_id\":7,\"op\":\"list_contacts\"}");
  g_autoptr (json_t) c1 = take (fx, "contact");
  g_autoptr (json_t) c2 = take (fx, "contact");
  g_assert_cmpint (num (c1, "op_id"), ==, 7);
  g_assert_cmpstr (str (json_object_get (c1, "contact"), "id"), ==, "alice");
  g_assert_cmpstr (str (json_object_get (c2, "contact"), "identifier"), ==, "bob@example.org");
  g_autoptr (json_t) r7 = take_result (fx, 7);
  g_assert_true (json_is_true (json_object_get (r7, "ok")));

  /* The login state machine. */
  send_json (fx, "{\"t\":\"login_start\",\"flow_id\":\"password\"}");
  g_autoptr (json_t) step = take (fx, "login_step");
  json_t *s = json_object_get (step, "step");
  g_assert_cmpstr (str (s, "kind"), ==, "user_input");
  g_assert_cmpstr (str (s, "step_id"), ==, "password");
  g_assert_cmpstr (str (s, "instructions"), ==, "Who are you?");
  json_t *fields = json_object_get (s, "fields");
  g_assert_cmpuint (json_array_size (fields), ==, 3);
  g_assert_cmpstr (str (json_array_get (fields, 0), "default"), ==, "bob");
  g_assert_cmpstr (str (json_array_get (fields, 1), "type"), ==, "choice");
  g_assert_cmpuint (json_array_size (json_object_get (json_array_get (fields, 1), "choices")), ==,
                    2);
  g_assert_cmpstr (str (json_array_get (fields, 2), "type"), ==, "password");
  g_assert_true (json_is_true (json_object_get (json_array_get (fields, 2), "optional")));
  send_json (fx, "{\"t\":\"login_submit\",\"step_id\":\"password\","
                 "\"values\":{\"username\":\"carol\",\"password\":\"pw\"}}");
  g_autoptr (json_t) done = take (fx, "login_step");
  json_t *d = json_object_get (done, "step");
  g_assert_cmpstr (str (d, "kind"), ==, "complete");
  g_assert_cmpstr (str (d, "remote_id"), ==, "carol");
  g_assert_cmpstr (str (d, "remote_name"), ==, "Echo User");
  g_autoptr (json_t) state = take (fx, "login_state");
  g_assert_cmpstr (str (state, "state"), ==, "connected");
  g_assert_cmpstr (str (state, "message"), ==, "welcome");
  send_json (fx, "{\"t\":\"connect\"}");
  g_autoptr (json_t) state2 = take (fx, "login_state");
  g_assert_cmpstr (str (state2, "state"), ==, "connecting");
  g_assert_null (json_object_get (state2, "message"));

  /* emit and op_result from a plugin thread. */
  send_json (fx, "{\"t\":\"op\",\"op_id\":8,\"op\":\"send\",\"chat_id\":\"thread\","
                 "\"txn_id\":\"t8\",\"content\":{\"kind\":\"text\",\"text\":\"hi\"}}");
  g_autoptr (json_t) evt = take (fx, "event");
  g_assert_cmpint (num (evt, "seq"), ==, 2);
  g_assert_cmpstr (str (json_object_get (evt, "event"), "message_id"), ==, "m-thread");
  g_assert_cmpstr (str (json_object_get (evt, "event"), "txn_id"), ==, "t8");
  g_autoptr (json_t) r8 = take_result (fx, 8);
  g_assert_cmpstr (str (r8, "legacy_id"), ==, "m-thread");
  g_assert_cmpstr (str (r8, "code"), ==, "ok");
  g_assert_cmpint (num (r8, "legacy_ts"), ==, 1700000000999);

  /* Typed failures carry their code and retry delay. */
  send_json (fx, "{\"t\":\"op\",\"op_id\":9,\"op\":\"send\",\"chat_id\":\"busy\","
                 "\"content\":{\"kind\":\"text\",\"text\":\"hi\"}}");
  g_autoptr (json_t) r9 = take_result (fx, 9);
  g_assert_false (json_is_true (json_object_get (r9, "ok")));
  g_assert_cmpstr (str (r9, "code"), ==, "rate_limited");
  g_assert_cmpint (num (r9, "retry_after_ms"), ==, 1500);
  send_json (fx, "{\"t\":\"op\",\"op_id\":10,\"op\":\"send\",\"chat_id\":\"gone\","
                 "\"content\":{\"kind\":\"text\",\"text\":\"hi\"}}");
  g_autoptr (json_t) r10 = take_result (fx, 10);
  g_assert_cmpstr (str (r10, "code"), ==, "not_found");

  /* The SDK's event loop: a timer answers; a thread invokes onto the main
   * thread, which then sets a timer ([main] only). */
  send_json (fx, "{\"t\":\"op\",\"op_id\":11,\"op\":\"send\",\"chat_id\":\"later\","
                 "\"content\":{\"kind\":\"text\",\"text\":\"hi\"}}");
  g_autoptr (json_t) r11 = take_result (fx, 11);
  g_assert_cmpstr (str (r11, "legacy_id"), ==, "m-later");
  send_json (fx, "{\"t\":\"op\",\"op_id\":12,\"op\":\"send\",\"chat_id\":\"invoke\","
                 "\"content\":{\"kind\":\"text\",\"text\":\"hi\"}}");
  g_autoptr (json_t) r12 = take_result (fx, 12);
  g_assert_cmpstr (str (r12, "legacy_id"), ==, "m-later");

  /* history: the next cursor has its own member. */
  send_json (fx, "{\"t\":\"op\",\"op_id\":13,\"op\":\"fetch_history\",\"chat_id\":\"c1\","
                 "\"count\":1}");
  g_autoptr (json_t) he = take (fx, "event");
  g_autoptr (json_t) r13 = take_result (fx, 13);
  g_assert_cmpstr (str (r13, "cursor"), ==, "next-page");
  g_assert_null (json_object_get (r13, "legacy_id"));

  /* A media file outside the data dir: the event is refused, with a log. */
  send_json (fx, "{\"t\":\"op\",\"op_id\":14,\"op\":\"send\",\"chat_id\":\"c1\","
                 "\"txn_id\":\"t14\",\"content\":{\"kind\":\"file\","
                 "\"media_path\":\"/etc/passwd\"}}");
  g_autoptr (json_t) refused = take (fx, "log");
  g_assert_cmpstr (str (refused, "level"), ==, "warning");
  g_assert_nonnull (strstr (str (refused, "message"), "not inside the login's data dir"));
  g_autoptr (json_t) r14 = take_result (fx, 14);
  g_assert_false (has_frame (fx, "event"));

  /* Stop: shutdown -> login_free -> exit 0, no restart. */
  pa_worker_stop (fx->w);
  wait_exited (fx, 1);
  g_assert_false (fx->crashed);
  g_assert_false (fx->will_restart);
  g_assert_false (pa_worker_is_running (fx->w));
  g_assert_cmpint (pa_worker_pid (fx->w), ==, 0);
  g_autofree char *marker = g_build_filename (fx->data_dir, "login_free", NULL);
  g_assert_true (g_file_test (marker, G_FILE_TEST_EXISTS));
  g_autoptr (json_t) late = json_pack ("{s:s}", "t", "connect");
  g_assert_false (pa_worker_send (fx->w, late));
  g_assert_cmpuint (fx->hellos.length, ==, 1);
  fx_free (fx);
}

/* network->init refusing (a bad config value): the agent is told why. */
static void
test_network_init_fails (void)
{
  Fx *fx = fx_new ("{\"t\":\"init\",\"login_id\":\"login-1\","
                   "\"config\":{\"greeting\":\"fail\"}}");
  g_assert_true (pa_worker_start (fx->w, NULL));
  g_autoptr (json_t) state = take (fx, "login_state");
  g_assert_cmpstr (str (state, "state"), ==, "unknown_error");
  g_assert_cmpstr (str (state, "message"), ==, "Echo cannot start: no greeting");
  send_json (fx, "{\"t\":\"op\",\"op_id\":1,\"op\":\"send\",\"chat_id\":\"c\","
                 "\"content\":{\"kind\":\"text\",\"text\":\"hi\"}}");
  g_autoptr (json_t) r1 = take_result (fx, 1);
  g_assert_cmpstr (str (r1, "code"), ==, "not_connected");
  fx_free (fx);
}

static void
test_not_logged_in (void)
{
  /* No init at all: operations are refused by the worker. */
  Fx *fx = fx_new (NULL);
  g_assert_true (pa_worker_start (fx->w, NULL));
  wait_hello (fx, 1);
  send_json (fx, "{\"t\":\"op\",\"op_id\":1,\"op\":\"mark_read\",\"chat_id\":\"c\","
                 "\"message_id\":\"m\"}");
  g_autoptr (json_t) r1 = take_result (fx, 1);
  g_assert_true (json_is_false (json_object_get (r1, "ok")));
  g_assert_cmpstr (str (r1, "error"), ==, "not logged in");
  send_json (fx, "{\"t\":\"login_start\",\"flow_id\":\"password\"}");
  g_autoptr (json_t) log = take (fx, "log");
  g_assert_cmpstr (str (log, "level"), ==, "warning");
  g_assert_nonnull (strstr (str (log, "message"), "not logged in"));
  pa_worker_stop (fx->w);
  wait_exited (fx, 1);
  g_assert_false (fx->crashed);
  fx_free (fx);

  /* login_new fails: reported as a login state, then ops are refused. */
  fx = fx_new ("{\"t\":\"init\",\"login_id\":\"login-1\",\"saved\":false,"
               "\"meta\":[{\"scope\":\"login\",\"id\":\"fail\",\"value\":\"yes\"}]}");
  g_assert_true (pa_worker_start (fx->w, NULL));
  g_autoptr (json_t) state = take (fx, "login_state");
  g_assert_cmpstr (str (state, "state"), ==, "unknown_error");
  g_assert_cmpstr (str (state, "message"), ==, "refused");
  send_json (fx, "{\"t\":\"op\",\"op_id\":2,\"op\":\"send\",\"chat_id\":\"c\","
                 "\"content\":{\"kind\":\"text\",\"text\":\"x\"}}");
  g_autoptr (json_t) r2 = take_result (fx, 2);
  g_assert_cmpstr (str (r2, "error"), ==, "not logged in");
  /* The importer needs no login. */
  send_json (fx, "{\"t\":\"import\",\"path\":\"/nowhere/bad.zip\"}");
  g_autoptr (json_t) imp = take (fx, "import_done");
  g_assert_true (json_is_false (json_object_get (imp, "ok")));
  g_assert_cmpstr (str (imp, "error"), ==, "cannot read");
  pa_worker_stop (fx->w);
  wait_exited (fx, 1);
  g_assert_false (fx->crashed);
  fx_free (fx);
}

static void
test_import (void)
{
  Fx *fx = fx_new (NULL);
  g_assert_true (pa_worker_start (fx->w, NULL));
  /* Queued before hello: delivered once the worker is up. */
  send_json (fx, "{\"t\":\"import\",\"path\":\"/exports/chat.zip\","
                 "\"options\":{\"timezone\":\"Europe/Paris\",\"max_entries\":10,"
                 "\"max_total_bytes\":1000000}}");
  g_autoptr (json_t) info = take (fx, "event");
  g_assert_cmpstr (str (json_object_get (info, "event"), "type"), ==, "chat_info");
  g_assert_cmpstr (str (json_object_get (json_object_get (info, "event"), "chat"), "kind"), ==,
                   "dm");
  for (int i = 0; i < 3; i++)
    {
      g_autoptr (json_t) m = take (fx, "event");
      json_t *ev = json_object_get (m, "event");
      g_assert_cmpint (num (m, "seq"), ==, i + 2);
      g_assert_cmpint (num (ev, "ts"), ==, 1000 * i);
      g_assert_cmpstr (str (json_object_get (ev, "content"), "text"), ==, "Europe/Paris");
    }
  g_autoptr (json_t) imp = take (fx, "import_done");
  g_assert_true (json_is_true (json_object_get (imp, "ok")));
  g_assert_null (json_object_get (imp, "error"));
  pa_worker_stop (fx->w);
  wait_exited (fx, 1);
  g_assert_false (fx->crashed);
  fx_free (fx);
}

static void
test_crash_restart (void)
{
  Fx *fx = fx_new ("{\"t\":\"init\",\"login_id\":\"login-1\",\"saved\":false}");
  pa_worker_set_restart (fx->w, TRUE, 2);
  g_assert_true (pa_worker_start (fx->w, NULL));
  wait_hello (fx, 1);
  g_autoptr (json_t) n1 = take (fx, "notice");
  g_assert_cmpstr (str (n1, "text"), ==, "login_new saved=0 meta=(none) greeting=(none) level=0 loud=0");
  GPid pid1 = pa_worker_pid (fx->w);
  g_assert_cmpint (pid1, >, 0);

  g_test_expect_message ("passerelle-host", G_LOG_LEVEL_WARNING, "*killed by signal 9*");
  g_assert_cmpint (kill (pid1, SIGKILL), ==, 0);
  wait_exited (fx, 1);
  g_test_assert_expected_messages ();
  g_assert_true (fx->crashed);
  g_assert_true (fx->will_restart);
  g_assert_nonnull (strstr (fx->reason, "signal 9"));
  g_assert_false (pa_worker_is_running (fx->w));
  g_autoptr (json_t) dropped = json_pack ("{s:s}", "t", "connect");
  g_assert_false (pa_worker_send (fx->w, dropped));

  /* Restarted after the 1 s backoff, with init sent again. */
  wait_hello (fx, 2);
  GPid pid2 = pa_worker_pid (fx->w);
  g_assert_cmpint (pid2, >, 0);
  g_assert_cmpint (pid2, !=, pid1);
  g_assert_cmpuint (pa_worker_restarts (fx->w), ==, 1);
  g_autoptr (json_t) n2 = take (fx, "notice");
  g_assert_cmpstr (str (n2, "text"), ==, "login_new saved=0 meta=(none) greeting=(none) level=0 loud=0");

  pa_worker_stop (fx->w);
  wait_exited (fx, 2);
  g_assert_false (fx->crashed);
  g_assert_false (fx->will_restart);
  /* And it stays down. */
  g_assert_false (run_until (fx, hellos_at_least, GUINT_TO_POINTER (3), 1500));
  g_assert_cmpuint (pa_worker_restarts (fx->w), ==, 1);
  fx_free (fx);
}

static void
test_free_during_restart (void)
{
  Fx *fx = fx_new ("{\"t\":\"init\",\"login_id\":\"login-1\"}");
  pa_worker_set_restart (fx->w, TRUE, 1);
  g_assert_true (pa_worker_start (fx->w, NULL));
  wait_hello (fx, 1);
  g_test_expect_message ("passerelle-host", G_LOG_LEVEL_WARNING, "*killed by signal 9*");
  kill (pa_worker_pid (fx->w), SIGKILL);
  wait_exited (fx, 1);
  g_test_assert_expected_messages ();
  g_assert_true (fx->will_restart);
  /* Freed with the restart timer pending: it must never fire. */
  pa_worker_free (fx->w);
  fx->w = NULL;
  gboolean expired = FALSE;
  g_timeout_add (1500, on_deadline, &expired);
  while (!expired)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (fx->hellos.length, ==, 1);
  g_assert_cmpuint (fx->n_exited, ==, 1);
  fx_free (fx);
}

static void
test_protocol_error (void)
{
  g_setenv ("PA_TEST_FAKE_WORKER", "garbage", TRUE);
  Fx *fx = fx_new (NULL);
  pa_worker_set_restart (fx->w, FALSE, 1);
  g_assert_true (pa_worker_start (fx->w, NULL));
  g_unsetenv ("PA_TEST_FAKE_WORKER");
  g_test_expect_message ("passerelle-host", G_LOG_LEVEL_WARNING, "*protocol error: frame of*");
  g_test_expect_message ("passerelle-host", G_LOG_LEVEL_WARNING, "*protocol error: frame of*");
  wait_exited (fx, 1);
  g_test_assert_expected_messages ();
  g_assert_true (fx->crashed);
  g_assert_false (fx->will_restart);
  g_assert_nonnull (strstr (fx->reason, "protocol error"));
  g_assert_cmpuint (fx->hellos.length, ==, 0);
  fx_free (fx);
}

static gboolean
seq_reached (Fx *fx, gconstpointer n)
{
  return has_frame (fx, "result");
}

static void
test_flood (void)
{
  const int n = 10000;
  Fx *fx = fx_new ("{\"t\":\"init\",\"login_id\":\"login-1\"}");
  g_assert_true (pa_worker_start (fx->w, NULL));
  wait_hello (fx, 1);
  g_autoptr (json_t) n1 = take (fx, "notice");
  g_autoptr (json_t) l1 = take (fx, "log");

  fx->last_tick_us = 0;
  fx->max_gap_us = 0;
  send_json (fx, "{\"t\":\"op\",\"op_id\":1,\"op\":\"fetch_history\",\"chat_id\":\"c\","
                 "\"count\":10000}");
  g_assert_true (run_until (fx, seq_reached, NULL, 30000));
  g_test_message ("longest gap between 10 ms ticks during the flood: %" G_GINT64_FORMAT " us",
                  fx->max_gap_us);
  /* The host's loop kept running while 10,000 events came in. */
  g_assert_cmpint (fx->max_gap_us, <, 500 * 1000);

  int seen = 0;
  json_t *f;
  while ((f = g_queue_pop_head (&fx->frames)) != NULL)
    {
      const char *t = str (f, "t");
      if (g_strcmp0 (t, "event") == 0)
        {
          g_autofree char *id = g_strdup_printf ("h-%d", seen);
          g_assert_cmpint (num (f, "seq"), ==, seen + 1);
          g_assert_cmpstr (str (json_object_get (f, "event"), "message_id"), ==, id);
          seen++;
        }
      else
        g_assert_cmpstr (t, ==, "result");
      json_decref (f);
    }
  g_assert_cmpint (seen, ==, n);
  pa_worker_stop (fx->w);
  wait_exited (fx, 1);
  g_assert_false (fx->crashed);
  fx_free (fx);
}


/* ---- the worker alone, driven by hand over a raw socket */

typedef struct
{
  GSubprocess *proc;
  int fd;
  char *tmp;
} Raw;

static void
raw_start (Raw *raw)
{
  g_autoptr (GError) error = NULL;
  raw->tmp = g_dir_make_tmp ("pa-worker-raw-XXXXXX", &error);
  g_assert_no_error (error);
  int sv[2];
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
  g_autoptr (GSubprocessLauncher) l = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_subprocess_launcher_take_fd (l, sv[1], 3);
  g_autofree char *exe = build_path ("pa-worker-test-exe");
  g_autofree char *plugin = build_path ("echo-plugin.so");
  raw->proc = g_subprocess_launcher_spawn (l, &error, exe, "--worker", "--plugin", plugin,
                                           "--data-dir", raw->tmp, "--fd", "3", NULL);
  g_assert_no_error (error);
  raw->fd = sv[0];
}

/* Blocking write of one frame; FALSE once the worker is gone. */
static gboolean
raw_send (Raw *raw, json_t *msg)
{
  g_autoptr (GByteArray) out = g_byte_array_new ();
  g_assert_true (pa_frame_encode (msg, out, NULL));
  gsize done = 0;
  while (done < out->len)
    {
      ssize_t n = send (raw->fd, out->data + done, out->len - done, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return FALSE;
      done += (gsize) n;
    }
  return TRUE;
}

static int
raw_wait (Raw *raw)
{
  g_autoptr (GError) error = NULL;
  g_assert_true (g_subprocess_wait (raw->proc, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (raw->proc));
  int status = g_subprocess_get_exit_status (raw->proc);
  if (raw->fd >= 0)
    close (raw->fd);
  g_clear_object (&raw->proc);
  rm_rf (raw->tmp);
  g_free (raw->tmp);
  return status;
}

static void
test_worker_backlog (void)
{
  /* The host sends but never reads.  The worker must keep reading and
   * answering (its loop never blocks on the socket) until 64 MiB wait for
   * the host, then exit so that the host restarts it. */
  Raw raw = { 0 };
  raw_start (&raw);
  g_autoptr (json_t) init = json_pack ("{s:s,s:s}", "t", "init", "login_id", "raw");
  g_assert_true (raw_send (&raw, init));
  g_autofree char *text = g_strnfill (1024 * 1024, 'x');
  int sent = 0;
  for (int i = 0; i < 200; i++)
    {
      g_autoptr (json_t) op = json_pack ("{s:s,s:i,s:s,s:s,s:{s:s,s:s}}", "t", "op", "op_id", i,
                                         "op", "send", "chat_id", "c", "content", "kind", "text",
                                         "text", text);
      if (!raw_send (&raw, op))
        break;
      sent++;
    }
  /* Each echo is > 1 MiB (event + nothing read): ~64 of them fill it. */
  g_assert_cmpint (sent, >=, 60);
  g_assert_cmpint (sent, <, 200);
  g_assert_cmpint (raw_wait (&raw), ==, 4);
}

static void
test_worker_exits (void)
{
  /* EOF from the host: exit 0 at once. */
  Raw raw = { 0 };
  raw_start (&raw);
  close (raw.fd);
  raw.fd = -1;
  g_assert_cmpint (raw_wait (&raw), ==, 0);

  /* A corrupt frame from the host: exit nonzero. */
  Raw bad = { 0 };
  raw_start (&bad);
  const guint8 junk[] = { 0, 0, 0, 3, '[', '1', ']' };
  g_assert_cmpint (send (bad.fd, junk, sizeof junk, MSG_NOSIGNAL), ==, (ssize_t) sizeof junk);
  g_assert_cmpint (raw_wait (&bad), ==, 3);

  /* Bad usage. */
  g_autofree char *exe = build_path ("pa-worker-test-exe");
  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocess) p = g_subprocess_new (G_SUBPROCESS_FLAGS_STDERR_SILENCE, &error, exe,
                                                "--worker", "--plugin", "x.so", NULL);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_wait (p, NULL, NULL));
  g_assert_cmpint (g_subprocess_get_exit_status (p), ==, 2);
}

static void
test_describe (void)
{
  g_autofree char *exe = build_path ("pa-worker-test-exe");
  g_autofree char *echo = build_path ("echo-plugin.so");
  g_autoptr (GError) error = NULL;
  g_autoptr (json_t) hello = pa_worker_describe (exe, echo, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (str (hello, "t"), ==, "hello");
  g_assert_cmpstr (str (hello, "plugin"), ==, "echo");
  g_assert_cmpuint (json_array_size (json_object_get (hello, "flows")), ==, 2);
  g_assert_true (strv_has (json_object_get (hello, "ops"), "list_contacts"));

  g_autofree char *bad = build_path ("loader-abimajor.so");
  g_autoptr (json_t) none = pa_worker_describe (exe, bad, &error);
  g_assert_null (none);
  g_assert_error (error, PA_ERROR, PA_ERROR_PLUGIN);
  g_assert_nonnull (strstr (error->message, "ABI 3."));
  g_clear_error (&error);

  /* An SDK 1 plugin is refused with the reason, through describe too. */
  g_autofree char *old = build_path ("loader-sdk1.so");
  g_autoptr (json_t) none1 = pa_worker_describe (exe, old, &error);
  g_assert_null (none1);
  g_assert_nonnull (strstr (error->message, "rebuild it against SDK 2"));
  g_clear_error (&error);

  g_autoptr (json_t) none2 = pa_worker_describe ("/nonexistent/passerelle", echo, &error);
  g_assert_null (none2);
  g_assert_nonnull (error);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/host/worker/roundtrip", test_roundtrip);
  g_test_add_func ("/host/worker/not-logged-in", test_not_logged_in);
  g_test_add_func ("/host/worker/network-init-fails", test_network_init_fails);
  g_test_add_func ("/host/worker/import", test_import);
  g_test_add_func ("/host/worker/crash-restart", test_crash_restart);
  g_test_add_func ("/host/worker/free-during-restart", test_free_during_restart);
  g_test_add_func ("/host/worker/protocol-error", test_protocol_error);
  g_test_add_func ("/host/worker/flood", test_flood);
  g_test_add_func ("/host/worker/describe", test_describe);
  g_test_add_func ("/host/worker/worker-backlog", test_worker_backlog);
  g_test_add_func ("/host/worker/worker-exits", test_worker_exits);
  return g_test_run ();
}
