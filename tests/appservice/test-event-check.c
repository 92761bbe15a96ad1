/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Table tests of src/appservice/pa-event-check.c: every file of
 * tests/data/event-check/ is one case (NNN-name.txt), with two sections,
 * each opened by a line starting with "--- ":
 *
 *   --- input
 *   the event as the homeserver sends it (any JSON; "\u0000" allowed)
 *   --- expect
 *   {"verdict": "ok" | "repaired" | "rejected",
 *    "reason": the exact reason of a rejection,
 *    "event": the event after the check (for "ok" and "repaired")}
 *
 * Lines before the first section are comments. */
#include "pa-common.h"
#include "appservice/pa-event-check.h"

#include <string.h>

typedef struct
{
  char *name;
  json_t *input;
  json_t *expect;
} Case;

static void
case_free (gpointer p)
{
  Case *c = p;

  g_free (c->name);
  json_decref (c->input);
  json_decref (c->expect);
  g_free (c);
}

static json_t *
parse_section (const char *path, const char *name, GString *text)
{
  json_error_t err;
  json_t *v = json_loads (text->str, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);

  if (v == NULL)
    g_error ("%s: section %s: line %d: %s", path, name, err.line, err.text);
  return v;
}

static Case *
case_load (const char *path)
{
  g_autofree char *data = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GString) section = g_string_new (NULL);
  const char *current = NULL;
  g_auto (GStrv) lines = NULL;
  Case *c = g_new0 (Case, 1);

  if (!g_file_get_contents (path, &data, NULL, &error))
    g_error ("%s", error->message);
  lines = g_strsplit (data, "\n", -1);
  for (guint i = 0;; i++)
    {
      const char *line = lines[i];

      if (line == NULL || g_str_has_prefix (line, "--- "))
        {
          if (g_strcmp0 (current, "input") == 0)
            c->input = parse_section (path, current, section);
          else if (g_strcmp0 (current, "expect") == 0)
            c->expect = parse_section (path, current, section);
          g_string_truncate (section, 0);
          if (line == NULL)
            break;
          if (g_str_equal (line + 4, "input"))
            current = "input";
          else if (g_str_equal (line + 4, "expect"))
            current = "expect";
          else
            g_error ("%s: unknown section %s", path, line);
          continue;
        }
      if (current != NULL)
        g_string_append_printf (section, "%s\n", line);
    }
  if (c->input == NULL || c->expect == NULL)
    g_error ("%s: input and expect are both required", path);
  return c;
}

static void
test_case (gconstpointer data)
{
  const Case *c = data;
  g_autoptr (json_t) ev = json_deep_copy (c->input);
  g_autofree char *reason = NULL;
  PaEventVerdict v = pa_event_check (ev, &reason);
  static const char *const names[] = { "ok", "repaired", "rejected" };
  const char *want = json_string_value (json_object_get (c->expect, "verdict"));
  json_t *want_event = json_object_get (c->expect, "event");

  g_assert_nonnull (want);
  g_assert_cmpstr (names[v], ==, want);
  if (v == PA_EVENT_REJECTED)
    g_assert_cmpstr (reason, ==, json_string_value (json_object_get (c->expect, "reason")));
  else
    g_assert_null (reason);
  if (want_event != NULL && !json_equal (ev, want_event))
    {
      g_autofree char *got = json_dumps (ev, JSON_INDENT (2) | JSON_SORT_KEYS | JSON_ENCODE_ANY);

      g_test_message ("event after the check:\n%s", got);
      g_test_fail ();
    }
}

static gint
compare_names (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(const char *const *) a, *(const char *const *) b);
}

/* Sizes are easier built than written in a file. */
static void
test_absurd_size (void)
{
  g_autofree char *big = g_strnfill (PA_EVENT_MAX_BYTES + 1, 'a');
  g_autoptr (json_t) ev = json_pack ("{s:s, s:s, s:s, s:s, s:{s:s, s:s}}", "type", "m.room.message",
                                     "event_id", "$e", "room_id", "!r:x", "sender", "@u:x",
                                     "content", "msgtype", "m.text", "body", big);
  g_autofree char *reason = NULL;
  g_autofree char *long_id = g_strnfill (PA_EVENT_MAX_ID_BYTES, 'x');
  g_autoptr (json_t) ok = NULL;
  g_autofree char *reason2 = NULL;

  g_assert_cmpint (pa_event_check (ev, &reason), ==, PA_EVENT_REJECTED);
  g_assert_cmpstr (reason, ==, "the event is too large (more than 256 KiB or 20000 values)");
  /* an identifier of exactly the limit is fine, one byte more is not */
  long_id[0] = '$';
  ok = json_pack ("{s:s, s:s, s:s, s:s, s:{}}", "type", "m.room.message", "event_id", long_id,
                  "room_id", "!r:x", "sender", "@u:x", "content");
  g_assert_cmpint (pa_event_check (ok, &reason2), ==, PA_EVENT_OK);
  {
    g_autofree char *longer = g_strconcat (long_id, "x", NULL);

    json_object_set_new (ok, "event_id", json_string (longer));
    g_assert_cmpint (pa_event_check (ok, &reason2), ==, PA_EVENT_REJECTED);
    g_assert_cmpstr (reason2, ==, "event_id is longer than 255 bytes");
  }
}

int
main (int argc, char **argv)
{
  const char *data;
  g_autofree char *dir = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GDir) d = NULL;
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) cases = g_ptr_array_new_with_free_func (case_free);
  const char *name;

  g_test_init (&argc, &argv, NULL);
  data = g_getenv ("PA_TEST_DATA");
  g_assert_nonnull (data);
  dir = g_build_filename (data, "event-check", NULL);
  d = g_dir_open (dir, 0, &error);
  if (d == NULL)
    g_error ("%s", error->message);
  while ((name = g_dir_read_name (d)) != NULL)
    if (g_str_has_suffix (name, ".txt"))
      g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, compare_names);
  for (guint i = 0; i < names->len; i++)
    {
      const char *n = g_ptr_array_index (names, i);
      g_autofree char *path = g_build_filename (dir, n, NULL);
      Case *c = case_load (path);
      g_autofree char *test = NULL;

      c->name = g_strndup (n, strlen (n) - strlen (".txt"));
      test = g_strdup_printf ("/event-check/%s", c->name);
      g_ptr_array_add (cases, c);
      g_test_add_data_func (test, c, test_case);
    }
  g_assert_cmpuint (cases->len, >, 0);
  g_test_add_func ("/event-check/absurd-size", test_absurd_size);
  return g_test_run ();
}
