/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* goecho.so (a Go plugin) through the real worker (pa-worker-test-exe) and
 * the host's PaWorker: the Go binding end to end — the descriptor in the
 * hello, a login flow, a send answered and echoed from a goroutine, the
 * persisted acknowledgement, invoke() onto the main thread, and a panic
 * answered PERMANENT with its stack logged. */
#include "host/pa-worker.h"
#include "pa-common.h"

#include <passerelle/plugin.h>

#include <string.h>

#include <glib/gstdio.h>

#define WAIT_MS 10000

typedef struct
{
  GQueue frames;
  json_t *hello;
  GString *logs;
} Fx;

static void
on_hello (PaWorker *w, json_t *hello, gpointer data)
{
  Fx *fx = data;
  fx->hello = json_incref (hello);
}

static void
on_frame (PaWorker *w, json_t *frame, gpointer data)
{
  Fx *fx = data;
  g_queue_push_tail (&fx->frames, json_incref (frame));
}

static const PaWorkerCallbacks callbacks = { on_hello, on_frame, NULL };

static gboolean
expire (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

static const char *
str (json_t *o, const char *path)
{
  g_auto (GStrv) parts = g_strsplit (path, ".", -1);
  for (gsize i = 0; parts[i] != NULL && o != NULL; i++)
    o = json_object_get (o, parts[i]);
  return json_string_value (o);
}

/* The next frame of type `t` (transfer full); logs are kept in fx->logs. */
static json_t *
next (Fx *fx, const char *t)
{
  gboolean expired = FALSE;
  guint id = g_timeout_add (WAIT_MS, expire, &expired);
  for (;;)
    {
      while (!g_queue_is_empty (&fx->frames))
        {
          json_t *f = g_queue_pop_head (&fx->frames);
          const char *ft = json_string_value (json_object_get (f, "t"));
          if (g_strcmp0 (ft, t) == 0)
            {
              g_source_remove (id);
              return f;
            }
          if (g_strcmp0 (ft, "log") != 0)
            g_error ("expected %s, got %s", t, ft);
          g_string_append_printf (fx->logs, "%s\n", str (f, "message"));
          json_decref (f);
        }
      if (expired)
        g_error ("no %s frame", t);
      g_main_context_iteration (NULL, TRUE);
    }
}

static void
send_json (PaWorker *w, const char *text)
{
  g_autoptr (json_t) f = json_loads (text, 0, NULL);
  g_assert_nonnull (f);
  g_assert_true (pa_worker_send (w, f));
}

static void
test_goecho (void)
{
  const char *root = g_getenv ("PA_BUILD_ROOT");
  g_assert_nonnull (root);
  g_autofree char *exe = g_build_filename (root, "tests", "host", "pa-worker-test-exe", NULL);
  g_autofree char *so = g_build_filename (root, "tests", "plugins", "goecho", "goecho.so", NULL);
  g_autofree char *tmp = g_dir_make_tmp ("pa-goecho-XXXXXX", NULL);
  Fx fx = { G_QUEUE_INIT, NULL, g_string_new (NULL) };
  PaWorker *w = pa_worker_new (exe, so, "ge-1", tmp, &callbacks, &fx);
  g_autoptr (json_t) init
      = json_pack ("{s:s, s:s, s:b, s:{}}", "t", "init", "login_id", "ge-1", "saved", 0, "config");
  pa_worker_set_init (w, init);
  g_assert_true (pa_worker_start (w, NULL));

  /* The descriptor Go built, then the login flow. */
  send_json (w, "{\"t\":\"login_start\",\"flow_id\":\"name\"}");
  g_autoptr (json_t) form = next (&fx, "login_step");
  g_assert_nonnull (fx.hello);
  g_assert_cmpstr (str (fx.hello, "plugin"), ==, "goecho");
  g_autofree char *abi = g_strdup_printf ("%d.%d", PA_PLUGIN_ABI_MAJOR, PA_PLUGIN_ABI_MINOR);
  g_assert_cmpstr (str (fx.hello, "abi"), ==, abi);
  g_assert_cmpstr (str (fx.hello, "version"), ==, GOECHO_VERSION);
  /* PaLoginOps from the login's method set: send, nothing else. */
  json_t *ops = json_object_get (fx.hello, "ops");
  g_assert_cmpuint (json_array_size (ops), ==, 1);
  g_assert_cmpstr (json_string_value (json_array_get (ops, 0)), ==, "send");
  g_assert_true (json_is_true (json_object_get (fx.hello, "login")));
  g_assert_true (json_is_false (json_object_get (fx.hello, "import")));
  g_assert_cmpstr (str (form, "step.kind"), ==, "user_input");
  json_t *fields = json_object_get (json_object_get (form, "step"), "fields");
  g_assert_cmpstr (str (json_array_get (fields, 0), "id"), ==, "name");
  send_json (w, "{\"t\":\"login_submit\",\"step_id\":\"name\",\"values\":{\"name\":\"Jean\"}}");
  g_autoptr (json_t) done = next (&fx, "login_step");
  g_assert_cmpstr (str (done, "step.kind"), ==, "complete");
  g_assert_cmpstr (str (done, "step.remote_id"), ==, "Jean");
  g_autoptr (json_t) state = next (&fx, "login_state");
  g_assert_cmpstr (str (state, "state"), ==, "connected");

  /* A send: answered, echoed from a goroutine, then a notice run through
   * invoke on the main thread. */
  send_json (w, "{\"t\":\"op\",\"op\":\"send\",\"op_id\":1,\"chat_id\":\"bob\","
                "\"content\":{\"kind\":\"text\",\"text\":\"coucou\"}}");
  g_autoptr (json_t) r1 = next (&fx, "result");
  g_assert_cmpstr (str (r1, "code"), ==, "ok");
  g_assert_cmpstr (str (r1, "legacy_id"), ==, "echo-1");
  g_autoptr (json_t) echo = next (&fx, "event");
  g_assert_cmpstr (str (echo, "event.content.text"), ==, "coucou");
  g_assert_cmpstr (str (echo, "event.content.reply_to"), ==, "echo-1");
  g_assert_cmpstr (str (echo, "event.chat.id"), ==, "bob");
  g_autoptr (json_t) invoked = next (&fx, "notice");
  g_assert_cmpstr (str (invoked, "text"), ==, "invoked: coucou");

  /* The host stored it: the plugin hears of it. */
  json_int_t seq = json_integer_value (json_object_get (echo, "seq"));
  g_assert_cmpint (seq, >, 0);
  g_autofree char *persisted
      = g_strdup_printf ("{\"t\":\"persisted\",\"seq\":%" JSON_INTEGER_FORMAT "}", seq);
  send_json (w, persisted);
  g_autoptr (json_t) ack = next (&fx, "notice");
  g_autofree char *ack_text = g_strdup_printf ("persisted %" JSON_INTEGER_FORMAT, seq);
  g_assert_cmpstr (str (ack, "text"), ==, ack_text);

  /* A panic in Go: answered PERMANENT, logged with its stack, and the
   * worker keeps going. */
  send_json (w, "{\"t\":\"op\",\"op\":\"send\",\"op_id\":2,\"chat_id\":\"bob\","
                "\"content\":{\"kind\":\"text\",\"text\":\"panic\"}}");
  g_autoptr (json_t) r2 = next (&fx, "result");
  g_assert_cmpstr (str (r2, "code"), ==, "permanent");
  g_assert_nonnull (strstr (fx.logs->str, "goecho was told to panic"));
  g_assert_nonnull (strstr (fx.logs->str, "goroutine"));
  /* An op the login does not implement: the host answers without Go. */
  send_json (w, "{\"t\":\"op\",\"op\":\"redact\",\"op_id\":3,\"chat_id\":\"bob\","
                "\"target_id\":\"echo-1\"}");
  g_autoptr (json_t) r3 = next (&fx, "result");
  g_assert_cmpstr (str (r3, "code"), ==, "unsupported");
  send_json (w, "{\"t\":\"op\",\"op\":\"send\",\"op_id\":4,\"chat_id\":\"bob\","
                "\"content\":{\"kind\":\"text\",\"text\":\"again\"}}");
  g_autoptr (json_t) r4 = next (&fx, "result");
  g_assert_cmpstr (str (r4, "code"), ==, "ok");

  pa_worker_free (w);
  g_queue_clear_full (&fx.frames, (GDestroyNotify) json_decref);
  json_decref (fx.hello);
  g_string_free (fx.logs, TRUE);
  g_rmdir (tmp);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/plugins/goecho", test_goecho);
  return g_test_run ();
}
