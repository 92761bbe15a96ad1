/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Table tests of src/bridge/pa-fingerprint.c, the live fingerprints an
 * import compares its messages with.  The cases are data, in
 * tests/data/fingerprint/:
 *
 *   keys.json     [{name, content: wire content, class, key, key_without_name?,
 *                   digest?}]: the normalised form of a content (key NULL:
 *                   not matched), with its file name and without;
 *   minutes.json  [{name, ts, minute}]: the UTC minute of a time;
 *   matches.json  [{name, live: [{id, ts, content, room?}],
 *                   changes: [{id, content | null (deleted)}],
 *                   export: [{ts, content, skip, job?}]}]: live messages
 *                   recorded in a portal (room "!portal:x" unless said),
 *                   then edited or deleted, then an export's messages
 *                   offered in order (job "import:j1" unless said): which
 *                   are skipped as already bridged live; "imported":
 *                   [{id, ts, content, job}] are messages earlier import
 *                   jobs sent into the room (pa_fingerprint_record_import);
 *   identity.json [{name, a: {chat_id, events}, b: {…}, same,
 *                   identity_a?}]: two exported chats (their message
 *                   events in order): whether their identities are equal
 *                   (pa_fingerprint_anchor of the first message that has
 *                   one, pa_fingerprint_chat_identity). */
#include "bridge/pa-fingerprint.h"

static json_t *
load (const char *file)
{
  const char *data = g_getenv ("PA_TEST_DATA");
  g_assert_nonnull (data);
  g_autofree char *path = g_build_filename (data, "fingerprint", file, NULL);
  json_error_t err;
  json_t *v = json_load_file (path, 0, &err);
  if (v == NULL)
    g_error ("%s: line %d: %s", path, err.line, err.text);
  g_assert_true (json_is_array (v));
  g_assert_cmpuint (json_array_size (v), >, 0);
  return v;
}

static const char *
str (json_t *o, const char *key)
{
  return json_string_value (json_object_get (o, key));
}

static void
test_key (gconstpointer data)
{
  json_t *c = (json_t *) data;
  json_t *content = json_object_get (c, "content");
  const char *cls = "unset";
  g_autofree char *key = pa_fingerprint_key (content, TRUE, &cls);
  g_assert_cmpstr (key, ==, str (c, "key"));
  g_assert_cmpstr (cls, ==, str (c, "class"));
  g_autofree char *plain = pa_fingerprint_key (content, FALSE, NULL);
  const char *want_plain
      = json_object_get (c, "key_without_name") ? str (c, "key_without_name") : str (c, "key");
  g_assert_cmpstr (plain, ==, want_plain);
  if (json_object_get (c, "digest"))
    g_assert_cmpint (pa_fingerprint_digest (key), ==,
                     json_integer_value (json_object_get (c, "digest")));
}

static void
test_minute (gconstpointer data)
{
  json_t *c = (json_t *) data;
  g_assert_cmpint (pa_fingerprint_minute (json_integer_value (json_object_get (c, "ts"))), ==,
                   json_integer_value (json_object_get (c, "minute")));
}

static void
test_match (gconstpointer data)
{
  json_t *c = (json_t *) data;
  g_autoptr (GError) error = NULL;
  PaBridge b = { 0 };
  b.store = pa_store_open (":memory:", &error);
  g_assert_no_error (error);
  size_t i;
  json_t *m;
  json_array_foreach (json_object_get (c, "live"), i, m)
  {
    pa_fingerprint_record (&b, str (m, "room") ? str (m, "room") : "!portal:x", str (m, "id"),
                           json_integer_value (json_object_get (m, "ts")),
                           json_object_get (m, "content"));
  }
  json_array_foreach (json_object_get (c, "imported"), i, m)
  {
    pa_fingerprint_record_import (&b, str (m, "job"), "!portal:x", str (m, "id"),
                                  json_integer_value (json_object_get (m, "ts")),
                                  json_object_get (m, "content"));
  }
  json_array_foreach (json_object_get (c, "changes"), i, m)
  {
    json_t *content = json_object_get (m, "content");
    pa_fingerprint_record_change (&b, "!portal:x", str (m, "id"),
                                  json_is_object (content) ? content : NULL);
  }
  json_array_foreach (json_object_get (c, "export"), i, m)
  {
    const char *job = str (m, "job") ? str (m, "job") : "import:j1";
    gboolean skip = pa_fingerprint_already_live (&b, job, "!portal:x",
                                                 json_integer_value (json_object_get (m, "ts")),
                                                 json_object_get (m, "content"));
    if (skip != json_is_true (json_object_get (m, "skip")))
      g_error ("export message %zu: %s", i, skip ? "skipped" : "imported");
  }
  pa_store_close (b.store);
}

/* The identity of one side of an identity case. */
static char *
identity_of (json_t *side)
{
  size_t i;
  json_t *ev;
  g_autofree char *anchor = NULL;
  json_array_foreach (json_object_get (side, "events"), i, ev)
  {
    if (anchor == NULL)
      anchor = pa_fingerprint_anchor (ev);
  }
  return pa_fingerprint_chat_identity (str (side, "chat_id"), anchor);
}

static void
test_identity (gconstpointer data)
{
  json_t *c = (json_t *) data;
  g_autofree char *a = identity_of (json_object_get (c, "a"));
  g_autofree char *b = identity_of (json_object_get (c, "b"));
  if (json_object_get (c, "identity_a"))
    g_assert_cmpstr (a, ==, str (c, "identity_a"));
  if (json_is_true (json_object_get (c, "same")))
    g_assert_cmpstr (a, ==, b);
  else
    g_assert_cmpstr (a, !=, b);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_autoptr (json_t) keys = load ("keys.json");
  g_autoptr (json_t) minutes = load ("minutes.json");
  g_autoptr (json_t) matches = load ("matches.json");
  g_autoptr (json_t) identity = load ("identity.json");
  const struct
  {
    json_t *cases;
    const char *prefix;
    GTestDataFunc func;
  } tables[] = {
    { keys, "/fingerprint/key/", test_key },
    { minutes, "/fingerprint/minute/", test_minute },
    { matches, "/fingerprint/match/", test_match },
    { identity, "/fingerprint/identity/", test_identity },
  };
  for (gsize t = 0; t < G_N_ELEMENTS (tables); t++)
    {
      size_t i;
      json_t *c;
      json_array_foreach (tables[t].cases, i, c)
      {
        g_autofree char *path
            = g_strdup_printf ("%s%02zu %s", tables[t].prefix, i + 1, str (c, "name"));
        g_test_add_data_func (path, c, tables[t].func);
      }
    }
  return g_test_run ();
}
