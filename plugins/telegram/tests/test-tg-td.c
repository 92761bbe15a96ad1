/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * test-tg-td.c — TDLib's JSON client (tg-td.c) against the real
 * libtdjson.so, offline: td_execute, the authorization states up to
 * authorizationStateWaitPhoneNumber in a temporary database, a bounded
 * close; and the refusal of the test suite's fake TDLib.  The library comes
 * from PA_TDJSON, else the one scripts/setup-deps installs; without one the
 * test is skipped (exit 77).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "test-host-loop.h"
#include "tg-td.h"

static const char *lib_path;
static GThread *main_thread;
static GPtrArray *states; /* authorizationState @types seen, in order */

static void
host_log (PaHost *host, PaLogLevel level, const char *message)
{
  g_printerr ("log %d: %s\n", (int) level, message);
}

static const PaHostApi api = {
  .struct_size = sizeof (PaHostApi),
  .abi_major = PA_PLUGIN_ABI_MAJOR,
  .abi_minor = PA_PLUGIN_ABI_MINOR,
  .log = host_log,
  .timer_add = test_host_timer_add,
  .fd_watch_add = test_host_fd_watch_add,
  .source_remove = test_host_source_remove,
  .invoke = test_host_invoke,
};

static void
on_update (json_t *update, void *user_data)
{
  /* Updates arrive on the main thread only. */
  g_assert_true (g_thread_self () == main_thread);
  if (g_strcmp0 (json_string_value (json_object_get (update, "@type")), "updateAuthorizationState")
      != 0)
    return;
  json_t *st = json_object_get (update, "authorization_state");
  g_ptr_array_add (states, g_strdup (json_string_value (json_object_get (st, "@type"))));
}

static gboolean
seen (const char *state)
{
  for (guint i = 0; i < states->len; i++)
    if (g_str_equal (g_ptr_array_index (states, i), state))
      return TRUE;
  return FALSE;
}

static gboolean
wait_for (gboolean (*pred) (gpointer), gpointer data, int timeout_s)
{
  gint64 deadline = g_get_monotonic_time () + timeout_s * G_USEC_PER_SEC;
  while (!pred (data) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE) || (g_usleep (10000), TRUE);
  return pred (data);
}

static gboolean
state_seen (gpointer data)
{
  return seen (data);
}

typedef struct
{
  json_t *reply;
} Reply;

static void
on_reply (json_t *reply, void *user_data)
{
  Reply *r = user_data;
  g_assert_true (g_thread_self () == main_thread);
  r->reply = json_incref (reply);
}

static gboolean
reply_came (gpointer data)
{
  return ((Reply *) data)->reply != NULL;
}

static void
test_real_offline (void)
{
  if (lib_path == NULL)
    {
      g_test_skip ("no libtdjson.so");
      return;
    }
  states = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GError) err = NULL;
  TgTd *td = tg_td_open (lib_path, NULL, &api, 0, on_update, NULL, &err);
  g_assert_no_error (err);
  g_assert_nonnull (td);

  json_t *q = json_pack ("{s:s, s:s}", "@type", "getOption", "name", "version");
  json_t *v = tg_td_execute (td, q);
  json_decref (q);
  g_assert_cmpstr (json_string_value (json_object_get (v, "@type")), ==, "optionValueString");
  g_assert_cmpstr (json_string_value (json_object_get (v, "value")), ==, "1.8.67");
  json_decref (v);

  g_assert_true (wait_for (state_seen, "authorizationStateWaitTdlibParameters", 30));
  g_autofree char *dir = g_dir_make_tmp ("test-tg-td-XXXXXX", NULL);
  guint8 key[32];
  for (guint i = 0; i < sizeof key; i++)
    key[i] = (guint8) g_random_int ();
  g_autofree char *key64 = g_base64_encode (key, sizeof key);
  Reply r = { 0 };
  tg_td_send (td,
              json_pack ("{s:s, s:b, s:s, s:s, s:b, s:b, s:b, s:b, s:i, s:s, s:s, s:s, s:s, "
                         "s:s}",
                         "@type", "setTdlibParameters", "use_test_dc", 1, "database_directory", dir,
                         "database_encryption_key", key64, "use_file_database", 1,
                         "use_chat_info_database", 1, "use_message_database", 1, "use_secret_chats",
                         0, "api_id", 12345, "api_hash", "0123456789abcdef0123456789abcdef",
                         "system_language_code", "fr", "device_model", "test", "system_version",
                         "Linux", "application_version", "test"),
              on_reply, &r);
  g_assert_true (wait_for (reply_came, &r, 30));
  g_assert_cmpstr (json_string_value (json_object_get (r.reply, "@type")), ==, "ok");
  /* The answer came to its callback, without the client's @extra. */
  g_assert_null (json_object_get (r.reply, "@extra"));
  json_decref (r.reply);
  /* A new database asks for a phone number without the network. */
  g_assert_true (wait_for (state_seen, "authorizationStateWaitPhoneNumber", 60));

  /* A request still waiting when the client closes is answered. */
  Reply pending = { 0 };
  tg_td_send (td, json_pack ("{s:s}", "@type", "getMe"), on_reply, &pending);
  gint64 t0 = g_get_monotonic_time ();
  tg_td_close (td);
  gint64 took_ms = (g_get_monotonic_time () - t0) / 1000;
  g_test_message ("close took %" G_GINT64_FORMAT " ms", took_ms);
  g_assert_cmpint (took_ms, <, 7000);
  g_assert_nonnull (pending.reply);
  int code = 0;
  g_assert_true (tg_td_is_error (pending.reply, &code, NULL));
  json_decref (pending.reply);
  /* The database lives in the directory given, encrypted. */
  g_autofree char *binlog = g_build_filename (dir, "td_test.binlog", NULL);
  g_autofree char *binlog2 = g_build_filename (dir, "td.binlog", NULL);
  g_assert_true (g_file_test (binlog, G_FILE_TEST_EXISTS)
                 || g_file_test (binlog2, G_FILE_TEST_EXISTS));
  g_ptr_array_unref (states);
  const char *rm[] = { "rm", "-rf", dir, NULL };
  g_assert_true (g_spawn_sync (NULL, (char **) rm, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL,
                               NULL, NULL, NULL));
}

/* The installed plugin refuses the test suite's fake library. */
static void
test_fake_refused (void)
{
  g_autofree char *fake = g_build_filename (g_getenv ("PA_BUILD_ROOT"), "tests", "plugins",
                                            "faketd", "libtdjson.so", NULL);
  if (!g_file_test (fake, G_FILE_TEST_EXISTS))
    {
      g_test_skip ("the fake libtdjson.so is not built");
      return;
    }
  g_autoptr (GError) err = NULL;
  TgTd *td = tg_td_open (fake, NULL, &api, 0, on_update, NULL, &err);
  g_assert_null (td);
  g_assert_nonnull (err);
  g_assert_nonnull (strstr (err->message, "stand-in for TDLib"));
}

static void
test_missing_library (void)
{
  g_autoptr (GError) err = NULL;
  TgTd *td = tg_td_open ("/nonexistent/libtdjson.so", NULL, &api, 0, on_update, NULL, &err);
  g_assert_null (td);
  g_assert_nonnull (strstr (err->message, "/nonexistent/libtdjson.so"));
}

static int
flood (const char *text, int code)
{
  json_t *e = json_pack ("{s:s, s:i, s:s}", "@type", "error", "code", code, "message", text);
  int s = tg_td_flood_wait_s (e);
  json_decref (e);
  return s;
}

static void
test_errors (void)
{
  g_assert_cmpint (flood ("Too Many Requests: retry after 17", 429), ==, 17);
  g_assert_cmpint (flood ("FLOOD_WAIT_42", 420), ==, 42);
  g_assert_cmpint (flood ("Too Many Requests", 429), ==, 0);
  g_assert_cmpint (flood ("Chat not found", 400), ==, -1);
  json_t *ok = json_pack ("{s:s}", "@type", "ok");
  g_assert_cmpint (tg_td_flood_wait_s (ok), ==, -1);
  g_assert_false (tg_td_is_error (ok, NULL, NULL));
  json_decref (ok);
  json_t *e = json_pack ("{s:s, s:i, s:s}", "@type", "error", "code", 403, "message", "no");
  int code = 0;
  const char *msg = NULL;
  g_assert_true (tg_td_is_error (e, &code, &msg));
  g_assert_cmpint (code, ==, 403);
  g_assert_cmpstr (msg, ==, "no");
  json_decref (e);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  main_thread = g_thread_self ();
  const char *env = g_getenv ("PA_TDJSON");
  const char *def = g_getenv ("PA_TDJSON_DEFAULT");
  if (env != NULL && *env != '\0')
    lib_path = env;
  else if (def != NULL && g_file_test (def, G_FILE_TEST_EXISTS))
    lib_path = def;
  g_test_add_func ("/tg-td/errors", test_errors);
  g_test_add_func ("/tg-td/missing-library", test_missing_library);
  g_test_add_func ("/tg-td/fake-refused", test_fake_refused);
  g_test_add_func ("/tg-td/real-offline", test_real_offline);
  if (lib_path == NULL)
    {
      g_printerr ("no libtdjson.so (PA_TDJSON, or scripts/setup-deps): skipped\n");
      return 77;
    }
  return g_test_run ();
}
