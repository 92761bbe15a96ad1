/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * test-tg-incoming.c — Telegram → events, as data: each file of
 * tests/data/tdlib/content-in/ and tests/data/tdlib/incoming/ feeds real
 * TDLib objects to the chats, incoming and history parts, answers their
 * requests from its "answers", and lists the events they must emit.
 *
 *   {"answers": {"<request @type>": [<answer>, …]},   given in turn
 *    "steps": [<update> | {"@type": "test.ready"}
 *              | {"@type": "test.file", "path": "<in the data dir>", "text": "…"}
 *              | {"@type": "test.answer", "type": "<request @type>", "answer": {…}}
 *              | {"@type": "test.fetch_history", "op_id", "chat_id", "cursor", "count",
 *                 "forward"}
 *              | {"@type": "test.get_chat_info" / "test.get_user_info", "op_id", "id"}],
 *    "types": ["MESSAGE", …],      only these events are compared (default: all)
 *    "events": [<subset of each event>, …],
 *    "requests": [<subset of each request of these @types>, …],
 *    "request_types": [<the @types "requests" lists, when it is empty>],
 *    "results": [<subset of each op result>, …],
 *    "budget": <bytes budget_left answers>,
 *    "config": {"<key>": <int>},  config_int's answers (history_days…)
 *    "self_id": <the login's user id>}
 *
 * A subset matches when each of its members matches (arrays: same length,
 * element by element); a string "re:<regex>" matches by regex; "@data/"
 * in an answer's strings is the test's data dir.
 */
#include <string.h>

#include "tg-chats.h"
#include "tg-test-td.h"

static gboolean
matches (json_t *want, json_t *got, GString *where)
{
  if (json_is_string (want) && g_str_has_prefix (json_string_value (want), "re:"))
    return json_is_string (got)
           && g_regex_match_simple (json_string_value (want) + 3, json_string_value (got), 0, 0);
  if (json_is_object (want))
    {
      if (!json_is_object (got))
        return FALSE;
      const char *k;
      json_t *v;
      json_object_foreach (want, k, v)
      {
        json_t *g = json_object_get (got, k);
        if (g == NULL && json_is_null (v))
          continue;
        gsize len = where->len;
        g_string_append_printf (where, ".%s", k);
        if (g == NULL || !matches (v, g, where))
          return FALSE;
        g_string_truncate (where, len);
      }
      return TRUE;
    }
  if (json_is_array (want))
    {
      if (!json_is_array (got) || json_array_size (got) != json_array_size (want))
        return FALSE;
      for (size_t i = 0; i < json_array_size (want); i++)
        {
          gsize len = where->len;
          g_string_append_printf (where, "[%zu]", i);
          if (!matches (json_array_get (want, i), json_array_get (got, i), where))
            return FALSE;
          g_string_truncate (where, len);
        }
      return TRUE;
    }
  if (json_is_number (want) && json_is_number (got))
    return json_number_value (want) == json_number_value (got);
  return json_equal (want, got);
}

/* Replaces "@data/…" in every string of `v` by the data dir's path. */
static json_t *
with_data_dir (json_t *v, const char *dir)
{
  if (json_is_string (v) && g_str_has_prefix (json_string_value (v), "@data/"))
    {
      g_autofree char *p = g_build_filename (dir, json_string_value (v) + 6, NULL);
      return json_string (p);
    }
  if (json_is_object (v))
    {
      json_t *o = json_object ();
      const char *k;
      json_t *x;
      json_object_foreach (v, k, x)
      {
        json_object_set_new (o, k, with_data_dir (x, dir));
      }
      return o;
    }
  if (json_is_array (v))
    {
      json_t *a = json_array ();
      size_t i;
      json_t *x;
      json_array_foreach (v, i, x)
      {
        json_array_append_new (a, with_data_dir (x, dir));
      }
      return a;
    }
  return json_incref (v);
}

/* Gives the answers the parts wait for, as long as some can be given. */
static void
answer_all (json_t *answers, const char *dir)
{
  gboolean progress = TRUE;
  while (progress)
    {
      progress = FALSE;
      const char *type;
      json_t *list;
      json_object_foreach (answers, type, list)
      {
        if (json_array_size (list) == 0)
          continue;
        json_t *a = with_data_dir (json_array_get (list, 0), dir);
        if (tg_test_td_answer (type, a))
          {
            json_array_remove (list, 0);
            progress = TRUE;
          }
        json_decref (a);
      }
    }
}

static void
step (PaLogin *login, json_t *s)
{
  const char *type = json_string_value (json_object_get (s, "@type"));
  g_assert_nonnull (type);
  if (strcmp (type, "test.ready") == 0)
    {
      tg_chats_on_ready (login, tg_history_start);
      tg_history_on_ready (login);
    }
  else if (strcmp (type, "test.file") == 0)
    {
      g_autofree char *p = g_build_filename (login->data_dir,
                                             json_string_value (json_object_get (s, "path")), NULL);
      g_autofree char *dir = g_path_get_dirname (p);
      g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
      g_assert_true (
          g_file_set_contents (p, json_string_value (json_object_get (s, "text")), -1, NULL));
    }
  else if (strcmp (type, "test.answer") == 0)
    {
      json_t *a = with_data_dir (json_object_get (s, "answer"), login->data_dir);
      g_assert_true (tg_test_td_answer (json_string_value (json_object_get (s, "type")), a));
      json_decref (a);
    }
  else if (strcmp (type, "test.fetch_history") == 0)
    tg_history_fetch (login, (uint64_t) json_integer_value (json_object_get (s, "op_id")),
                      json_string_value (json_object_get (s, "chat_id")),
                      json_string_value (json_object_get (s, "cursor")),
                      (uint32_t) json_integer_value (json_object_get (s, "count")),
                      json_is_true (json_object_get (s, "forward")));
  else if (strcmp (type, "test.get_chat_info") == 0)
    tg_chats_op_get_chat_info (login, (uint64_t) json_integer_value (json_object_get (s, "op_id")),
                               json_string_value (json_object_get (s, "id")));
  else if (strcmp (type, "test.get_user_info") == 0)
    tg_chats_op_get_user_info (login, (uint64_t) json_integer_value (json_object_get (s, "op_id")),
                               json_string_value (json_object_get (s, "id")));
  else if (!tg_chats_on_update (login, type, s) && !tg_in_on_update (login, type, s))
    g_error ("no part took the update %s", type);
}

/* `got`'s elements of the kinds `want` speaks of, compared in order. */
static void
compare_list (const char *what, json_t *want, json_t *got, const char *key, json_t *kinds)
{
  json_t *picked = json_array ();
  size_t i;
  json_t *g;
  json_array_foreach (got, i, g)
  {
    const char *kind = json_string_value (json_object_get (g, key));
    gboolean keep = kinds == NULL;
    size_t j;
    json_t *k;
    json_array_foreach (kinds, j, k)
    {
      keep |= g_strcmp0 (json_string_value (k), kind) == 0;
    }
    if (keep)
      json_array_append (picked, g);
  }
  g_autofree char *dump = json_dumps (picked, JSON_INDENT (1));
  if (json_array_size (picked) != json_array_size (want))
    g_error ("%s: %zu wanted, %zu got:\n%s", what, json_array_size (want), json_array_size (picked),
             dump);
  json_array_foreach (want, i, g)
  {
    g_autoptr (GString) where = g_string_new (NULL);
    g_string_append_printf (where, "%s[%zu]", what, i);
    if (!matches (g, json_array_get (picked, i), where))
      g_error ("%s differs (at %s):\n%s", what, where->str, dump);
  }
  json_decref (picked);
}

/* The kinds of requests the file speaks of. */
static json_t *
request_kinds (json_t *want)
{
  json_t *kinds = json_array ();
  size_t i;
  json_t *w;
  json_array_foreach (want, i, w)
  {
    json_array_append (kinds, json_object_get (w, "@type"));
  }
  return kinds;
}

static void
run_case (gconstpointer data)
{
  const char *path = data;
  json_error_t err;
  json_t *root = json_load_file (path, 0, &err);
  if (root == NULL)
    g_error ("%s:%d: %s", path, err.line, err.text);
  PaLogin *login = tg_test_login_new ();
  if (json_object_get (root, "self_id") != NULL)
    login->self_id = json_integer_value (json_object_get (root, "self_id"));
  tg_test_set_config (json_object_get (root, "config"));
  if (json_object_get (root, "budget") != NULL)
    tg_test_set_budget (json_integer_value (json_object_get (root, "budget")));
  tg_chats_init (login);
  tg_in_init (login);
  tg_history_init (login);
  json_t *answers = json_deep_copy (json_object_get (root, "answers"));
  size_t i;
  json_t *s;
  json_array_foreach (json_object_get (root, "steps"), i, s)
  {
    step (login, s);
    answer_all (answers, login->data_dir);
  }
  compare_list ("events", json_object_get (root, "events"), tg_test_events (), "type",
                json_object_get (root, "types"));
  if (json_object_get (root, "requests") != NULL)
    {
      json_t *kinds = json_object_get (root, "request_types") != NULL
                          ? json_incref (json_object_get (root, "request_types"))
                          : request_kinds (json_object_get (root, "requests"));
      compare_list ("requests", json_object_get (root, "requests"), tg_test_td_requests (), "@type",
                    kinds);
      json_decref (kinds);
    }
  if (json_object_get (root, "results") != NULL)
    compare_list ("results", json_object_get (root, "results"), tg_test_td_results (), "code",
                  NULL);
  login->closing = TRUE;
  tg_test_td_close ();
  tg_history_free (login);
  tg_in_free (login);
  tg_chats_free (login);
  json_decref (answers);
  json_decref (root);
  tg_test_login_free (login);
}

static int
cmp_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

static void
add_dir (const char *sub)
{
  g_autofree char *dir = g_build_filename (g_getenv ("PA_TEST_DATA"), "tdlib", sub, NULL);
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  g_assert_nonnull (d);
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *n;
  while ((n = g_dir_read_name (d)) != NULL)
    if (g_str_has_suffix (n, ".json"))
      g_ptr_array_add (names, g_strdup (n));
  g_ptr_array_sort (names, cmp_names);
  g_assert_cmpuint (names->len, >, 0);
  for (guint i = 0; i < names->len; i++)
    {
      const char *name = g_ptr_array_index (names, i);
      g_autofree char *test
          = g_strdup_printf ("/tg-incoming/%s/%.*s", sub, (int) (strlen (name) - 5), name);
      g_test_add_data_func_full (test, g_build_filename (dir, name, NULL), run_case, g_free);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  add_dir ("content-in");
  add_dir ("incoming");
  return g_test_run ();
}
