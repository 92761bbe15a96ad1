/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Unit tests for pa_txn_parse(). */
#define G_LOG_DOMAIN "passerelle-appservice"

#include "pa-common.h"
#include "appservice/pa-appservice.h"
#include "appservice/pa-txn-budget.h"

#include <string.h>

/* A budget no test body reaches. */
#define BIG (G_GUINT64_CONSTANT (1) << 40)
/* What every event of a transaction carries besides its type. */
#define IDS "\"room_id\":\"!r:x\",\"sender\":\"@u:x\",\"content\":{},"
#define EID "\"event_id\":\"$e\","

static PaTxn *
parse (const char *s, guint max, GError **error)
{
  return pa_txn_parse (s, strlen (s), max, BIG, error);
}

static void
test_basic (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PaTxn) txn = parse ("{\"events\":[{" IDS "\"type\":\"m.room.message\",\"event_id\":\"$1\"},"
                                 "{\"room_id\":\"!r:x\",\"sender\":\"@u:x\",\"state_key\":\"@u:x\","
                                 "\"content\":{\"membership\":\"join\"},"
                                 "\"type\":\"m.room.member\",\"event_id\":\"$2\"}]}",
                                 100, &error);

  g_assert_no_error (error);
  g_assert_nonnull (txn);
  g_assert_cmpuint (json_array_size (txn->events), ==, 2);
  g_assert_cmpstr (json_string_value (json_object_get (json_array_get (txn->events, 0),
                                                       "event_id")), ==, "$1");
  g_assert_cmpstr (json_string_value (json_object_get (json_array_get (txn->events, 1),
                                                       "event_id")), ==, "$2");
  g_assert_true (json_is_array (txn->ephemeral));
  g_assert_cmpuint (json_array_size (txn->ephemeral), ==, 0);
  g_assert_true (json_is_array (txn->to_device));
  g_assert_cmpuint (json_array_size (txn->to_device), ==, 0);
  g_assert_null (txn->device_lists);
  g_assert_null (txn->otk_counts);
}

static void
test_merge_dedupe (void)
{
  g_autoptr (GError) error = NULL;
  const char *body
    = "{\"events\":[],"
      "\"ephemeral\":[{\"type\":\"m.typing\",\"room_id\":\"!a\",\"content\":{\"user_ids\":[]}},"
      "{\"type\":\"m.receipt\",\"room_id\":\"!a\",\"content\":{}}],"
      "\"de.sorunome.msc2409.ephemeral\":[{\"room_id\":\"!a\",\"type\":\"m.typing\","
      "\"content\":{\"user_ids\":[]}},{\"type\":\"m.presence\",\"sender\":\"@u:x\"}],"
      "\"de.sorunome.msc2409.to_device\":[{\"type\":\"m.room_key\",\"sender\":\"@u:x\"}],"
      "\"to_device\":[{\"type\":\"m.room_key\",\"sender\":\"@u:x\"},{\"type\":\"m.dummy\"}],"
      "\"org.matrix.msc3202.device_lists\":{\"changed\":[\"@u:x\"],\"left\":[]},"
      "\"org.matrix.msc3202.device_one_time_keys_count\":{\"@u:x\":{\"DEV\":{\"x\":1}}}}";
  g_autoptr (PaTxn) txn = parse (body, 100, &error);

  g_assert_no_error (error);
  g_assert_nonnull (txn);
  g_assert_cmpuint (json_array_size (txn->events), ==, 0);
  /* typing (once, key order differs), receipt, presence */
  g_assert_cmpuint (json_array_size (txn->ephemeral), ==, 3);
  g_assert_cmpstr (json_string_value (json_object_get (json_array_get (txn->ephemeral, 0),
                                                       "type")), ==, "m.typing");
  g_assert_cmpstr (json_string_value (json_object_get (json_array_get (txn->ephemeral, 2),
                                                       "type")), ==, "m.presence");
  g_assert_cmpuint (json_array_size (txn->to_device), ==, 2);
  g_assert_true (json_is_object (txn->device_lists));
  g_assert_true (json_is_array (json_object_get (txn->device_lists, "changed")));
  g_assert_true (json_is_object (txn->otk_counts));
}

/* Events the bridge cannot handle are kept aside with a reason; the rest
 * of the transaction is taken. */
static void
test_malformed_event_rejected (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PaTxn) txn = NULL;

  g_test_expect_message (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "*events[1]*type is a number*");
  g_test_expect_message (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "*events[2]*not an object*");
  g_test_expect_message (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "*events[3]*type is missing*");
  g_test_expect_message (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "*events[4]*$bad*sender*NUL*");
  txn = parse ("{\"events\":[{" IDS EID "\"type\":\"a\"},{" IDS EID "\"type\":5},\"str\","
               "{" IDS EID "\"no\":\"type\"},"
               "{\"type\":\"m.room.message\",\"event_id\":\"$bad\",\"room_id\":\"!r:x\","
               "\"sender\":\"@u:x\\u0000evil\",\"content\":{}},"
               "{" IDS EID "\"type\":\"b\"}]}",
               100, &error);
  g_test_assert_expected_messages ();
  g_assert_no_error (error);
  g_assert_nonnull (txn);
  g_assert_cmpuint (json_array_size (txn->events), ==, 2);
  g_assert_cmpstr (json_string_value (json_object_get (json_array_get (txn->events, 0),
                                                       "type")), ==, "a");
  g_assert_cmpstr (json_string_value (json_object_get (json_array_get (txn->events, 1),
                                                       "type")), ==, "b");
  g_assert_cmpuint (json_array_size (txn->rejected), ==, 4);
  {
    json_t *r = json_array_get (txn->rejected, 3);

    /* the usable ids are kept for the answer; the unusable sender is not */
    g_assert_cmpstr (json_string_value (json_object_get (r, "event_id")), ==, "$bad");
    g_assert_cmpstr (json_string_value (json_object_get (r, "room_id")), ==, "!r:x");
    g_assert_null (json_object_get (r, "sender"));
    g_assert_nonnull (strstr (json_string_value (json_object_get (r, "raw")), "\\u0000evil"));
    g_assert_cmpstr (json_string_value (json_object_get (r, "reason")), ==,
                     "sender contains a NUL character");
  }
}

/* A NUL in a text is valid JSON: decoded, replaced by U+FFFD, bridged. */
static void
test_nul_in_text (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PaTxn) txn = parse ("{\"events\":[{\"type\":\"m.room.message\",\"event_id\":\"$1\","
                                 "\"room_id\":\"!r:x\",\"sender\":\"@u:x\","
                                 "\"content\":{\"msgtype\":\"m.text\",\"body\":\"a\\u0000b\"}}]}",
                                 100, &error);
  json_t *body;

  g_assert_no_error (error);
  g_assert_cmpuint (json_array_size (txn->events), ==, 1);
  g_assert_cmpuint (json_array_size (txn->rejected), ==, 0);
  body = json_object_get (json_object_get (json_array_get (txn->events, 0), "content"), "body");
  g_assert_cmpstr (json_string_value (body), ==, "a\xEF\xBF\xBD" "b");
  g_assert_cmpuint (json_string_length (body), ==, 5);
}

static void
test_optional_wrong_type (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PaTxn) txn = NULL;

  g_test_expect_message (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "*\"ephemeral\" is not an array*");
  g_test_expect_message (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "*device_lists*not an object*");
  txn = parse ("{\"events\":[],\"ephemeral\":{},\"org.matrix.msc3202.device_lists\":[]}", 10,
               &error);
  g_test_assert_expected_messages ();
  g_assert_no_error (error);
  g_assert_nonnull (txn);
  g_assert_cmpuint (json_array_size (txn->ephemeral), ==, 0);
  g_assert_null (txn->device_lists);
}

static void
assert_json_error (const char *body, gsize len, const char *prefix)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PaTxn) txn = pa_txn_parse (body, len, 100, BIG, &error);

  g_assert_null (txn);
  g_assert_error (error, PA_ERROR, PA_ERROR_JSON);
  g_assert_true (g_str_has_prefix (error->message, prefix));
}

static void
test_bad_bodies (void)
{
  assert_json_error ("", 0, "M_NOT_JSON:");
  assert_json_error ("{", 1, "M_NOT_JSON:");
  assert_json_error ("{\"events\":[]} trailing", 22, "M_NOT_JSON:");
  assert_json_error ("{\"events\":[\"\xff\"]}", 15, "M_NOT_JSON:");
  /* an embedded NUL ends nothing: it is simply not JSON */
  assert_json_error ("{\"events\":[]}\0", 14, "M_NOT_JSON:");
  assert_json_error ("[]", 2, "M_BAD_JSON:");
  assert_json_error ("\"events\"", 8, "M_BAD_JSON:");
  assert_json_error ("{}", 2, "M_BAD_JSON:");
  assert_json_error ("{\"events\":{}}", 13, "M_BAD_JSON:");
  assert_json_error ("{\"events\":null}", 15, "M_BAD_JSON:");
}

/* One event that spoils the body for jansson (a byte that is not UTF-8, a
 * NUL in a key, a lone surrogate) is kept aside; the others, and the rest
 * of the transaction, are taken. */
static void
test_salvage (void)
{
  g_autoptr (GError) error = NULL;
  const char *body
      = "{\"events\":[{" IDS EID "\"type\":\"a\"},"
        "{\"type\":\"m.room.message\",\"event_id\":\"$utf8\",\"room_id\":\"!r:x\","
        "\"sender\":\"@u:x\",\"content\":{\"body\":\"\xff\xfe\"}},"
        "{" IDS "\"event_id\":\"$key\",\"type\":\"b\",\"x\":{\"k\\u0000\":1}},"
        "{" IDS "\"event_id\":\"$sur\",\"type\":\"c\",\"t\":\"\\ud800\"},"
        "{" IDS EID "\"type\":\"d\"}],"
        "\"ephemeral\":[{\"type\":\"m.typing\",\"x\":\"\xff\"},{\"type\":\"m.receipt\"}],"
        "\"org.matrix.msc3202.device_lists\":{\"changed\":[]}}";
  g_autoptr (PaTxn) txn = NULL;
  json_t *r;

  g_test_expect_message (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "*ephemeral[0]*dropped*");
  g_test_expect_message (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "*part by part*");
  g_test_expect_message (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "*$utf8*kept aside*");
  g_test_expect_message (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "*$key*kept aside*");
  g_test_expect_message (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "*$sur*kept aside*");
  txn = parse (body, 100, &error);
  g_test_assert_expected_messages ();
  g_assert_no_error (error);
  g_assert_nonnull (txn);
  g_assert_cmpuint (json_array_size (txn->events), ==, 2);
  g_assert_cmpstr (json_string_value (json_object_get (json_array_get (txn->events, 1), "type")),
                   ==, "d");
  g_assert_cmpuint (json_array_size (txn->rejected), ==, 3);
  r = json_array_get (txn->rejected, 0);
  g_assert_cmpstr (json_string_value (json_object_get (r, "event_id")), ==, "$utf8");
  g_assert_cmpstr (json_string_value (json_object_get (r, "room_id")), ==, "!r:x");
  g_assert_cmpstr (json_string_value (json_object_get (r, "sender")), ==, "@u:x");
  g_assert_true (g_str_has_prefix (json_string_value (json_object_get (r, "reason")),
                                   "the event is not valid JSON ("));
  g_assert_true (g_utf8_validate (json_string_value (json_object_get (r, "raw")), -1, NULL));
  g_assert_nonnull (strstr (json_string_value (json_object_get (r, "raw")),
                            "\"body\":\"\xEF\xBF\xBD\xEF\xBF\xBD\""));
  g_assert_cmpuint (json_array_size (txn->ephemeral), ==, 1);
  g_assert_true (json_is_object (txn->device_lists));
}

/* Only a body whose top level cannot be split is refused. */
static void
test_salvage_refused (void)
{
  assert_json_error ("{\"events\":[\"\xff\"]", 16, "M_NOT_JSON:");
  assert_json_error ("{\"events\":[\"\xff\"]} x", 19, "M_NOT_JSON:");
  assert_json_error ("{\"events\":[\"\xff]}", 16, "M_NOT_JSON:");
  assert_json_error ("{\"events\" [\"\xff\"]}", 17, "M_NOT_JSON:");
  assert_json_error ("[\"\xff\"]", 5, "M_NOT_JSON:");
  /* splits, but "events" is not an array */
  g_test_expect_message (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "*\"events\" does not decode*");
  g_test_expect_message (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "*part by part*");
  assert_json_error ("{\"events\":\"\xff\"}", 14, "M_BAD_JSON:");
  g_test_assert_expected_messages ();
}

/* A transaction whose one event nests `k` arrays: total depth k + 3. */
static char *
nested_txn (int k)
{
  GString *s = g_string_new ("{\"events\":[{" IDS EID "\"type\":\"x\",\"c\":");

  for (int i = 0; i < k; i++)
    g_string_append_c (s, '[');
  for (int i = 0; i < k; i++)
    g_string_append_c (s, ']');
  g_string_append (s, "}]}");
  return g_string_free (s, FALSE);
}

static void
test_depth_bomb (void)
{
  gsize n = 100000;
  g_autofree char *deep = g_malloc (2 * n);
  g_autofree char *ok_body = nested_txn (61);
  g_autofree char *deep_body = nested_txn (62);
  g_autoptr (GError) error = NULL;
  g_autoptr (PaTxn) txn = NULL;
  g_autoptr (PaTxn) txn2 = NULL;

  memset (deep, '[', n);
  assert_json_error (deep, n, "M_NOT_JSON:");
  memset (deep + n, ']', n);
  assert_json_error (deep, 2 * n, "M_NOT_JSON:");
  memset (deep, '{', n);
  assert_json_error (deep, n, "M_NOT_JSON:");

  /* depth 64 is accepted, 65 is not */
  txn = pa_txn_parse (ok_body, strlen (ok_body), 10, BIG, &error);
  g_assert_no_error (error);
  g_assert_nonnull (txn);
  assert_json_error (deep_body, strlen (deep_body), "M_NOT_JSON:");

  /* brackets inside strings, escaped quotes included, do not count */
  txn2 = parse ("{\"events\":[{" IDS EID "\"type\":\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
                "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\\"[[[[\"}]}",
                10, &error);
  g_assert_no_error (error);
  g_assert_nonnull (txn2);
  g_assert_cmpuint (json_array_size (txn2->events), ==, 1);
}

static void
test_too_many (void)
{
  GString *s = g_string_new ("{\"events\":[");
  g_autofree char *body = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (PaTxn) ok = NULL;
  g_autoptr (PaTxn) txn = NULL;

  for (int i = 0; i < 11; i++)
    g_string_append_printf (s, "%s{" IDS EID "\"type\":\"t%d\"}", i ? "," : "", i);
  g_string_append (s, "]}");
  body = g_string_free (s, FALSE);

  ok = pa_txn_parse (body, strlen (body), 11, BIG, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (json_array_size (ok->events), ==, 11);

  txn = pa_txn_parse (body, strlen (body), 10, BIG, &error);
  g_assert_null (txn);
  g_assert_error (error, PA_ERROR, PA_ERROR_TOO_LARGE);
  g_assert_true (g_str_has_prefix (error->message, "M_TOO_LARGE:"));
  g_clear_error (&error);

  txn = parse ("{\"events\":[],\"ephemeral\":[{},{},{}]}", 2, &error);
  g_assert_null (txn);
  g_assert_error (error, PA_ERROR, PA_ERROR_TOO_LARGE);
}

/* A body whose tree would exceed the budget: the events that do not fit are
 * stubs (envelope kept, content emptied, marked), the others are intact,
 * other arrays' entries that do not fit are dropped, and it is accepted. */
static void
test_budget_stubs (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GString) body = g_string_new ("{\"events\":[");
  g_autoptr (PaTxn) txn = NULL;
  json_t *small, *stub;

  g_string_append (body, "{\"type\":\"m.room.message\",\"event_id\":\"$small\","
                         "\"room_id\":\"!r:h\",\"sender\":\"@a:h\","
                         "\"content\":{\"msgtype\":\"m.text\",\"body\":\"hi\"}},");
  g_string_append (body, "{\"type\":\"m.room.message\",\"event_id\":\"$big\","
                         "\"room_id\":\"!r:h\",\"sender\":\"@a:h\",\"content\":{\"x\":[");
  for (guint i = 0; i < 20000; i++)
    g_string_append (body, i ? ",{}" : "{}");
  g_string_append (body, "]},\"unsigned\":{\"age\":1}}],\"ephemeral\":[{\"type\":\"m.typing\","
                         "\"content\":{\"user_ids\":[");
  for (guint i = 0; i < 20000; i++)
    g_string_append (body, i ? ",[]" : "[]");
  g_string_append (body, "]}}],\"org.matrix.msc3202.device_one_time_keys_count\":{}}");

  g_test_expect_message ("passerelle-appservice", G_LOG_LEVEL_WARNING, "*ephemeral[0]*dropped");
  g_test_expect_message ("passerelle-appservice", G_LOG_LEVEL_WARNING, "*over its budget*");
  g_test_expect_message ("passerelle-appservice", G_LOG_LEVEL_WARNING, "*$big*without its content");
  g_test_expect_message ("passerelle-appservice", G_LOG_LEVEL_WARNING, "*ephemeral[0]*skipped");
  txn = pa_txn_parse (body->str, body->len, 100, 100 * 1024, &error);
  g_test_assert_expected_messages ();
  g_assert_no_error (error);
  g_assert_cmpuint (json_array_size (txn->events), ==, 2);
  small = json_array_get (txn->events, 0);
  g_assert_cmpstr (json_string_value (json_object_get (json_object_get (small, "content"), "body")),
                   ==, "hi");
  g_assert_null (json_object_get (small, PA_TXN_STRIPPED_KEY));
  stub = json_array_get (txn->events, 1);
  g_assert_true (json_is_true (json_object_get (stub, PA_TXN_STRIPPED_KEY)));
  g_assert_cmpstr (json_string_value (json_object_get (stub, "event_id")), ==, "$big");
  g_assert_cmpstr (json_string_value (json_object_get (stub, "room_id")), ==, "!r:h");
  g_assert_cmpstr (json_string_value (json_object_get (stub, "sender")), ==, "@a:h");
  g_assert_cmpstr (json_string_value (json_object_get (stub, "type")), ==, "m.room.message");
  g_assert_cmpuint (json_object_size (json_object_get (stub, "content")), ==, 0);
  g_assert_null (json_object_get (stub, "unsigned"));
  g_assert_cmpuint (json_array_size (txn->ephemeral), ==, 0);
  g_assert_nonnull (txn->otk_counts);
}

/* Over the budget, too many entries are refused before any is recorded,
 * and a body that is not an object or is cut is refused as before. */
static void
test_budget_refusals (void)
{
  g_autoptr (GString) many = g_string_new ("{\"events\":[");
  const char *bad[] = { "[{},{},{},{},{},{},{},{},{},{}]", "{\"events\":[{},{},{},{},{},{}",
                        "{\"events\":[{},{},{},{},{},{}] x", "{\"events\" [{},{},{},{}]}" };

  for (guint i = 0; i < 50000; i++)
    g_string_append (many, i ? ",{}" : "{}");
  g_string_append (many, "]}");
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (PaTxn) txn = pa_txn_parse (many->str, many->len, 1000, 1024 * 1024, &error);

    g_assert_null (txn);
    g_assert_error (error, PA_ERROR, PA_ERROR_TOO_LARGE);
    g_assert_true (g_str_has_prefix (error->message, "M_TOO_LARGE:"));
  }
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (PaTxn) txn = pa_txn_parse (bad[i], strlen (bad[i]), 100, 64, &error);

      g_assert_null (txn);
      g_assert_error (error, PA_ERROR, PA_ERROR_JSON);
    }
}

/* The estimate is an upper bound of what jansson allocates. */
static void
test_budget_estimate (void)
{
  const char *samples[] = { "{}", "[]", "0", "\"a\"", "{\"a\":0}", "[0]", "{\"@u:h\":50}" };
  /* measured with jansson 2.14 and glibc, bytes per entry */
  const guint measured[] = { 235, 139, 43, 91, 347, 171, 363 };

  for (guint k = 0; k < G_N_ELEMENTS (samples); k++)
    {
      g_autoptr (GString) s = g_string_new ("[");
      guint64 cost = 0;

      for (guint i = 0; i < 1000; i++)
        g_string_append_printf (s, "%s%s", i ? "," : "", samples[k]);
      g_string_append_c (s, ']');
      g_assert_true (pa_txn_budget_cost (s->str, s->len, 64, &cost));
      g_assert_cmpuint (cost, >=, 1000 * (guint64) measured[k]);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/txn/basic", test_basic);
  g_test_add_func ("/txn/merge-dedupe", test_merge_dedupe);
  g_test_add_func ("/txn/malformed-event-rejected", test_malformed_event_rejected);
  g_test_add_func ("/txn/nul-in-text", test_nul_in_text);
  g_test_add_func ("/txn/salvage", test_salvage);
  g_test_add_func ("/txn/salvage-refused", test_salvage_refused);
  g_test_add_func ("/txn/optional-wrong-type", test_optional_wrong_type);
  g_test_add_func ("/txn/bad-bodies", test_bad_bodies);
  g_test_add_func ("/txn/depth-bomb", test_depth_bomb);
  g_test_add_func ("/txn/too-many", test_too_many);
  g_test_add_func ("/txn/budget-stubs", test_budget_stubs);
  g_test_add_func ("/txn/budget-refusals", test_budget_refusals);
  g_test_add_func ("/txn/budget-estimate", test_budget_estimate);
  return g_test_run ();
}
