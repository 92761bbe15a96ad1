/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The skeleton plugin through the real worker (passerelle --worker, here
 * pa-worker-test-exe) and the host's PaWorker: what a plugin author sees
 * their plugin do, frame by frame. */
#include "host/pa-worker.h"
#include "pa-common.h"

#include <passerelle/plugin.h>

#include <glib/gstdio.h>

#define WAIT_MS 10000

typedef struct
{
  GQueue frames;
  json_t *hello;
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

/* The next frame of type `t` (transfer full), skipping logs. */
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
          json_decref (f);
        }
      if (expired)
        g_error ("no %s frame", t);
      g_main_context_iteration (NULL, TRUE);
    }
}

static const char *
str (json_t *o, const char *path)
{
  g_auto (GStrv) parts = g_strsplit (path, ".", -1);
  for (gsize i = 0; parts[i] != NULL && o != NULL; i++)
    o = json_object_get (o, parts[i]);
  return json_string_value (o);
}

static void
send_json (PaWorker *w, const char *text)
{
  g_autoptr (json_t) f = json_loads (text, 0, NULL);
  g_assert_nonnull (f);
  g_assert_true (pa_worker_send (w, f));
}

static void
test_skeleton (void)
{
  const char *root = g_getenv ("PA_BUILD_ROOT");
  g_assert_nonnull (root);
  g_autofree char *exe = g_build_filename (root, "tests", "host", "pa-worker-test-exe", NULL);
  g_autofree char *so
      = g_build_filename (root, "tests", "plugins", "skeleton", "skeleton.so", NULL);
  g_autofree char *tmp = g_dir_make_tmp ("pa-skeleton-XXXXXX", NULL);
  Fx fx = { G_QUEUE_INIT, NULL };
  PaWorker *w = pa_worker_new (exe, so, "sk-1", tmp, &callbacks, &fx);
  g_autoptr (json_t) init
      = json_pack ("{s:s, s:s, s:b, s:{s:s, s:i}}", "t", "init", "login_id", "sk-1", "saved", 0,
                   "config", "greeting", "Salut", "max_length", 10);
  pa_worker_set_init (w, init);
  g_assert_true (pa_worker_start (w, NULL));

  /* The login flow: a form, then complete, then online and greeted. */
  send_json (w, "{\"t\":\"login_start\",\"flow_id\":\"name\"}");
  g_autoptr (json_t) form = next (&fx, "login_step");
  g_assert_cmpstr (str (form, "step.kind"), ==, "user_input");
  g_assert_nonnull (fx.hello);
  g_assert_cmpstr (str (fx.hello, "plugin"), ==, "skeleton");
  g_autofree char *abi = g_strdup_printf ("%d.%d", PA_PLUGIN_ABI_MAJOR, PA_PLUGIN_ABI_MINOR);
  g_assert_cmpstr (str (fx.hello, "abi"), ==, abi);
  send_json (w, "{\"t\":\"login_submit\",\"step_id\":\"name\",\"values\":{\"name\":\"Jean\"}}");
  g_autoptr (json_t) meta = next (&fx, "meta_set");
  g_assert_cmpstr (str (meta, "value"), ==, "Jean");
  g_autoptr (json_t) done = next (&fx, "login_step");
  g_assert_cmpstr (str (done, "step.kind"), ==, "complete");
  g_assert_cmpstr (str (done, "step.remote_id"), ==, "Jean");
  g_autoptr (json_t) state = next (&fx, "login_state");
  g_assert_cmpstr (str (state, "state"), ==, "connected");
  g_autoptr (json_t) greeting = next (&fx, "event");
  g_assert_cmpstr (str (greeting, "event.content.text"), ==, "Salut");
  g_assert_cmpstr (str (greeting, "event.chat.kind"), ==, "dm");

  /* A message: answered with its id, then echoed as a reply to it. */
  send_json (w, "{\"t\":\"op\",\"op\":\"send\",\"op_id\":1,\"chat_id\":\"echo\","
                "\"content\":{\"kind\":\"text\",\"text\":\"coucou\"}}");
  g_autoptr (json_t) r1 = next (&fx, "result");
  g_assert_cmpstr (str (r1, "code"), ==, "ok");
  g_autoptr (json_t) echo = next (&fx, "event");
  g_assert_cmpstr (str (echo, "event.content.text"), ==, "coucou");
  g_assert_cmpstr (str (echo, "event.content.reply_to"), ==, str (r1, "legacy_id"));

  /* The typed refusals, each from the rule the plugin states. */
  send_json (w, "{\"t\":\"op\",\"op\":\"send\",\"op_id\":2,\"chat_id\":\"echo\","
                "\"content\":{\"kind\":\"text\",\"text\":\"far too long for it\"}}");
  g_autoptr (json_t) r2 = next (&fx, "result");
  g_assert_cmpstr (str (r2, "code"), ==, "too_large");
  send_json (w, "{\"t\":\"op\",\"op\":\"send\",\"op_id\":3,\"chat_id\":\"nobody\","
                "\"content\":{\"kind\":\"text\",\"text\":\"hi\"}}");
  g_autoptr (json_t) r3 = next (&fx, "result");
  g_assert_cmpstr (str (r3, "code"), ==, "not_found");
  send_json (w, "{\"t\":\"op\",\"op\":\"redact\",\"op_id\":4,\"chat_id\":\"echo\","
                "\"target_id\":\"sk-1\"}");
  g_autoptr (json_t) r4 = next (&fx, "result");
  g_assert_cmpstr (str (r4, "code"), ==, "unsupported");

  send_json (w, "{\"t\":\"op\",\"op\":\"logout\",\"op_id\":5}");
  g_autoptr (json_t) unset = next (&fx, "meta_set");
  g_assert_true (json_is_null (json_object_get (unset, "value")));
  g_autoptr (json_t) r5 = next (&fx, "result");
  g_assert_cmpstr (str (r5, "code"), ==, "ok");
  g_autoptr (json_t) out = next (&fx, "login_state");
  g_assert_cmpstr (str (out, "state"), ==, "logged_out");

  pa_worker_free (w);
  g_queue_clear_full (&fx.frames, (GDestroyNotify) json_decref);
  json_decref (fx.hello);
  g_rmdir (tmp);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/plugins/skeleton", test_skeleton);
  return g_test_run ();
}
