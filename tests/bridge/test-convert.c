/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Table tests of src/bridge/pa-convert.c: every file of tests/data/convert/
 * is one case (the NNN-name.txt habit of curl's tests/data).  A file has
 * three sections, each opened by a line starting with "--- ":
 *
 *   --- direction: to-matrix | to-matrix-edit | to-matrix-split | to-legacy | to-legacy-edit
 *   --- input
 *   { JSON }
 *   --- expect
 *   { JSON }
 *
 * Lines before the first section are comments.  Inputs by direction:
 *   to-matrix:      {"content": wire, "mxc", "file", "reply_event",
 *                    "import_source", "message_id", "media_error"}
 *                   → {"type": event type, "content": Matrix content}
 *   to-matrix-edit: {"content": wire, "target_event"} → Matrix content
 *   to-matrix-split: {"content": Matrix content, "type", "max_bytes"}
 *                   → [{"type", "content"}…] (pa-convert-split.c)
 *   to-legacy:      {"content": Matrix content, "media_path", "reply_to"}
 *                   → wire content
 *   to-legacy-edit: {"content": Matrix content of an m.replace} → wire
 *                   content of its m.new_content, or null */
#include "bridge/pa-convert-split.h"
#include "bridge/pa-convert.h"

#include <string.h>

typedef struct
{
  char *direction;
  json_t *input;
  json_t *expect;
} Case;

static void
case_free (gpointer p)
{
  Case *c = p;
  g_free (c->direction);
  json_decref (c->input);
  json_decref (c->expect);
  g_free (c);
}

static json_t *
parse_section (const char *path, const char *name, GString *text)
{
  json_error_t err;
  json_t *v = json_loads (text->str, JSON_DECODE_ANY, &err);
  if (v == NULL)
    g_error ("%s: section %s: line %d: %s", path, name, err.line, err.text);
  return v;
}

static Case *
case_load (const char *path)
{
  g_autofree char *data = NULL;
  g_autoptr (GError) error = NULL;
  if (!g_file_get_contents (path, &data, NULL, &error))
    g_error ("%s", error->message);
  Case *c = g_new0 (Case, 1);
  g_auto (GStrv) lines = g_strsplit (data, "\n", -1);
  g_autoptr (GString) section = g_string_new (NULL);
  const char *current = NULL;
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
          const char *head = line + 4;
          if (g_str_has_prefix (head, "direction:"))
            {
              c->direction = g_strstrip (g_strdup (head + strlen ("direction:")));
              current = NULL;
            }
          else if (g_str_equal (head, "input") || g_str_equal (head, "expect"))
            current = g_str_equal (head, "input") ? "input" : "expect";
          else
            g_error ("%s: unknown section %s", path, line);
          continue;
        }
      if (current)
        g_string_append_printf (section, "%s\n", line);
    }
  if (c->direction == NULL || c->input == NULL || c->expect == NULL)
    g_error ("%s: direction, input and expect are all required", path);
  return c;
}

static const char *
str (json_t *o, const char *key)
{
  return json_string_value (json_object_get (o, key));
}

static json_t *
run (Case *c)
{
  json_t *in = c->input;
  json_t *content = json_object_get (in, "content");
  if (g_str_equal (c->direction, "to-matrix"))
    {
      g_autoptr (json_t) wire = json_deep_copy (content);
      if (str (in, "media_error"))
        pa_convert_media_lost (wire, str (in, "media_error"));
      PaConvertToMatrix ctx = {
        .mxc = str (in, "mxc"),
        .file = json_object_get (in, "file"),
        .reply_event = str (in, "reply_event"),
        .import_source = str (in, "import_source"),
        .message_id = str (in, "message_id"),
      };
      const char *type = NULL;
      json_t *m = pa_convert_message_to_matrix (wire, &ctx, &type);
      return json_pack ("{s:s, s:o}", "type", type, "content", m);
    }
  if (g_str_equal (c->direction, "to-matrix-edit"))
    return pa_convert_edit_to_matrix (content, str (in, "target_event"));
  if (g_str_equal (c->direction, "to-matrix-split"))
    return pa_convert_split_for_matrix (content, str (in, "type"),
                                        (gsize)json_integer_value (json_object_get (in, "max_bytes")));
  if (g_str_equal (c->direction, "to-legacy"))
    return pa_convert_message_to_wire (content, str (in, "media_path"), str (in, "reply_to"));
  if (g_str_equal (c->direction, "to-legacy-edit"))
    {
      json_t *w = pa_convert_edit_to_wire (content);
      return w ? w : json_null ();
    }
  g_error ("unknown direction %s", c->direction);
  return NULL;
}

static void
test_case (gconstpointer data)
{
  Case *c = (Case *)data;
  g_autoptr (json_t) got = run (c);
  if (!json_equal (got, c->expect))
    {
      g_autofree char *g = json_dumps (got, JSON_INDENT (2) | JSON_SORT_KEYS | JSON_ENCODE_ANY);
      g_autofree char *e
          = json_dumps (c->expect, JSON_INDENT (2) | JSON_SORT_KEYS | JSON_ENCODE_ANY);
      g_test_message ("expected:\n%s\ngot:\n%s", e, g);
      g_test_fail ();
    }
}

static gint
compare_names (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(const char *const *)a, *(const char *const *)b);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  const char *data = g_getenv ("PA_TEST_DATA");
  g_assert_nonnull (data);
  g_autofree char *dir = g_build_filename (data, "convert", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (GDir) d = g_dir_open (dir, 0, &error);
  if (d == NULL)
    g_error ("%s", error->message);
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *name;
  while ((name = g_dir_read_name (d)) != NULL)
    if (g_str_has_suffix (name, ".txt"))
      g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, compare_names);
  g_autoptr (GPtrArray) cases = g_ptr_array_new_with_free_func (case_free);
  for (guint i = 0; i < names->len; i++)
    {
      const char *n = g_ptr_array_index (names, i);
      g_autofree char *path = g_build_filename (dir, n, NULL);
      Case *c = case_load (path);
      g_ptr_array_add (cases, c);
      g_autofree char *base = g_strndup (n, strlen (n) - strlen (".txt"));
      g_autofree char *test = g_strdup_printf ("/convert/%s", base);
      g_test_add_data_func (test, c, test_case);
    }
  g_assert_cmpuint (cases->len, >, 0);
  return g_test_run ();
}
