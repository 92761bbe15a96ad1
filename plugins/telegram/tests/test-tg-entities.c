/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Unit tests of tg-entities.c against the real TDLib: the test loads
 * libtdjson itself (env PA_TDJSON, else .deps/tdlib/libtdjson.so of the
 * source tree; exit 77, skipped, without it) and runs each case of
 * tests/data/tdlib/entities/cases.json through its td_execute:
 *   {"name", "html", "plain"?}          HTML in → parseTextEntities
 *     "text", "entities"                what TDLib must make of it
 *   or {"name", "formatted"}            a formattedText given as is
 *   "html_out"                          tg_entities_to_html of the result
 *                                       (null: not worth HTML). */
#include "tg-entities.h"

#include <gmodule.h>
#include <string.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC (json_t, json_decref)

typedef const char *(*TdExecute) (const char *request);

static TdExecute td_execute;
static json_t *cases;

static json_t *
real_exec (json_t *request, void *user_data)
{
  g_autofree char *s = json_dumps (request, JSON_COMPACT);
  const char *answer = td_execute (s);
  return answer ? json_loads (answer, 0, NULL) : NULL;
}

static json_t *
refusing_exec (json_t *request, void *user_data)
{
  (*(int *) user_data)++;
  return json_pack ("{s:s, s:i, s:s}", "@type", "error", "code", 400, "message",
                    "Can't parse entities");
}

static void
assert_json (json_t *got, json_t *want, const char *what)
{
  if (json_equal (got, want))
    return;
  g_autofree char *g = json_dumps (got, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
  g_autofree char *w = json_dumps (want, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
  g_error ("%s: got %s, want %s", what, g, w);
}

/* TDLib's entities without their "@type": "textEntity" (the cases leave it
 * out). */
static json_t *
bare_entities (json_t *entities)
{
  json_t *out = json_array ();
  size_t i;
  json_t *e;
  json_array_foreach (entities, i, e)
  {
    json_t *c = json_deep_copy (e);
    json_object_del (c, "@type");
    json_array_append_new (out, c);
  }
  return out;
}

static void
run_case (gconstpointer data)
{
  json_t *c = (json_t *) data;
  g_autoptr (json_t) ft = NULL;
  json_t *html = json_object_get (c, "html");
  if (json_is_string (html))
    {
      ft = tg_entities_from_html (json_string_value (html),
                                  json_string_value (json_object_get (c, "plain")), real_exec,
                                  NULL);
      g_assert_nonnull (ft);
      g_autoptr (json_t) text = json_incref (json_object_get (ft, "text"));
      assert_json (text, json_object_get (c, "text"), "text");
      g_autoptr (json_t) ents = bare_entities (json_object_get (ft, "entities"));
      assert_json (ents, json_object_get (c, "entities"), "entities");
    }
  else
    ft = json_incref (json_object_get (c, "formatted"));
  g_autofree char *out = tg_entities_to_html (ft);
  g_autoptr (json_t) got = out ? json_string (out) : json_null ();
  assert_json (got, json_object_get (c, "html_out"), "html_out");
}

/* TDLib refuses the HTML: the plain body goes, unformatted. */
static void
test_refused_falls_back_to_plain (void)
{
  int calls = 0;
  g_autoptr (json_t) ft = tg_entities_from_html ("<b>bold</b>", "**bold**", refusing_exec, &calls);
  g_assert_cmpint (calls, ==, 1);
  g_assert_cmpstr (json_string_value (json_object_get (ft, "text")), ==, "**bold**");
  g_assert_cmpuint (json_array_size (json_object_get (ft, "entities")), ==, 0);
  /* Without a plain body, the HTML's own text. */
  g_autoptr (json_t) ft2
      = tg_entities_from_html ("<p>a &amp; <i>b</i></p>", NULL, refusing_exec, &calls);
  g_assert_cmpstr (json_string_value (json_object_get (ft2, "text")), ==, "a & b");
}

int
main (int argc, char **argv)
{
  const char *lib = g_getenv ("PA_TDJSON");
  g_autofree char *dflt = g_build_filename (TG_SOURCE_ROOT, ".deps", "tdlib", "libtdjson.so", NULL);
  if (lib == NULL || *lib == '\0')
    lib = dflt;
  if (!g_file_test (lib, G_FILE_TEST_EXISTS))
    {
      g_printerr ("no TDLib at %s (set PA_TDJSON): skipped\n", lib);
      return 77;
    }
  GModule *m = g_module_open (lib, G_MODULE_BIND_LOCAL);
  if (m == NULL || !g_module_symbol (m, "td_execute", (gpointer *) &td_execute))
    {
      g_printerr ("%s: %s\n", lib, g_module_error ());
      return 1;
    }
  /* Quiet: TDLib would log every request.  (Its setLogVerbosityLevel
   * request leaks a few bytes under LeakSanitizer; the old entry point
   * does not.) */
  void (*set_verbosity) (int) = NULL;
  if (g_module_symbol (m, "td_set_log_verbosity_level", (gpointer *) &set_verbosity))
    set_verbosity (0);

  g_test_init (&argc, &argv, NULL);
  const char *data = g_getenv ("PA_TEST_DATA");
  g_autofree char *path
      = g_build_filename (data ? data : "tests/data", "tdlib", "entities", "cases.json", NULL);
  json_error_t err;
  cases = json_load_file (path, 0, &err);
  if (!json_is_array (cases))
    g_error ("%s:%d: %s", path, err.line, err.text);
  size_t i;
  json_t *c;
  json_array_foreach (cases, i, c)
  {
    g_autofree char *name = g_strdup_printf ("/telegram/entities/%s",
                                             json_string_value (json_object_get (c, "name")));
    g_test_add_data_func (name, c, run_case);
  }
  g_test_add_func ("/telegram/entities/refused-falls-back-to-plain",
                   test_refused_falls_back_to_plain);
  int rc = g_test_run ();
  json_decref (cases);
  return rc;
}
