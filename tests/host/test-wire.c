/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* ABI struct <-> wire JSON converters. */
#include "wire/pa-wire.h"
#include "pa-common.h"

static void
test_content_roundtrip (void)
{
  PaContent c = {
    .struct_size = sizeof c,
    .kind = PA_MSG_LOCATION,
    .text = "here",
    .html = "<b>here</b>",
    .media_path = "/data/x.jpg",
    .media_name = "x.jpg",
    .mimetype = "image/jpeg",
    .media_size = 12345,
    .width = 640,
    .height = 480,
    .duration_ms = 7,
    .latitude = 48.85,
    .longitude = 2.35,
    .reply_to = "m-1",
    .forwarded_from = "Carol",
    .flags = PA_CONTENT_EDITED | PA_CONTENT_NOT_INCLUDED,
  };
  g_autoptr (GError) error = NULL;
  g_autoptr (json_t) j = pa_wire_content_to_json (&c, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_string_value (json_object_get (j, "kind")), ==, "location");
  g_assert_cmpint (json_integer_value (json_object_get (j, "size")), ==, 12345);

  PaContent back;
  g_assert_true (pa_wire_content_from_json (j, &back, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (back.struct_size, ==, sizeof back);
  g_assert_cmpint (back.kind, ==, PA_MSG_LOCATION);
  g_assert_cmpstr (back.text, ==, c.text);
  g_assert_cmpstr (back.html, ==, c.html);
  g_assert_cmpstr (back.media_path, ==, c.media_path);
  g_assert_cmpstr (back.media_name, ==, c.media_name);
  g_assert_cmpstr (back.mimetype, ==, c.mimetype);
  g_assert_cmpuint (back.media_size, ==, c.media_size);
  g_assert_cmpuint (back.width, ==, 640);
  g_assert_cmpuint (back.height, ==, 480);
  g_assert_cmpuint (back.duration_ms, ==, 7);
  g_assert_cmpfloat (back.latitude, ==, 48.85);
  g_assert_cmpfloat (back.longitude, ==, 2.35);
  g_assert_cmpstr (back.reply_to, ==, "m-1");
  g_assert_cmpstr (back.forwarded_from, ==, "Carol");
  g_assert_cmpuint (back.flags, ==, PA_CONTENT_EDITED | PA_CONTENT_NOT_INCLUDED);

  /* Absent strings are omitted, and coordinates belong to locations only. */
  PaContent t = { .struct_size = sizeof t, .kind = PA_MSG_TEXT, .text = "hi" };
  g_autoptr (json_t) jt = pa_wire_content_to_json (&t, &error);
  g_assert_null (json_object_get (jt, "html"));
  g_assert_null (json_object_get (jt, "reply_to"));
  g_assert_null (json_object_get (jt, "latitude"));
}

static void
test_content_from_json_errors (void)
{
  const char *bad[] = {
    "{}",
    "{\"kind\":\"hologram\"}",
    "{\"kind\":\"text\",\"text\":5}",
    "{\"kind\":\"text\",\"width\":-1}",
    "{\"kind\":\"text\",\"width\":4294967296}",
    "{\"kind\":\"text\",\"latitude\":\"north\"}",
    "[]",
  };
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (json_t) j = json_loads (bad[i], 0, NULL);
      g_assert_nonnull (j);
      g_autoptr (GError) error = NULL;
      PaContent c;
      g_assert_false (pa_wire_content_from_json (j, &c, &error));
      g_assert_error (error, PA_ERROR, PA_ERROR_JSON);
    }
}

static void
test_event_refusals (void)
{
  g_autoptr (GError) error = NULL;
  PaEvent small = { .struct_size = 8, .type = PA_EV_MESSAGE };
  g_assert_null (pa_wire_event_to_json (&small, &error));
  g_assert_error (error, PA_ERROR, PA_ERROR_PLUGIN);
  g_clear_error (&error);

  PaEvent unknown = { .struct_size = sizeof unknown, .type = (PaEventType) 99 };
  g_assert_null (pa_wire_event_to_json (&unknown, &error));
  g_assert_error (error, PA_ERROR, PA_ERROR_PLUGIN);
  g_clear_error (&error);

  /* A bad nested struct refuses the whole event. */
  PaContent c = { .struct_size = 4, .kind = PA_MSG_TEXT };
  PaEvent nested = { .struct_size = sizeof nested, .type = PA_EV_MESSAGE, .content = &c };
  g_assert_null (pa_wire_event_to_json (&nested, &error));
  g_assert_error (error, PA_ERROR, PA_ERROR_PLUGIN);
  g_clear_error (&error);

  /* A bigger struct (a newer minor) is fine. */
  struct
  {
    PaEvent ev;
    guint64 future;
  } big = { .ev = { .struct_size = sizeof big, .type = PA_EV_TYPING, .chat_id = "c",
                    .typing = true, .typing_timeout_ms = 5000 } };
  g_autoptr (json_t) j = pa_wire_event_to_json (&big.ev, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_string_value (json_object_get (j, "type")), ==, "typing");
  g_assert_true (json_is_true (json_object_get (j, "typing")));
  g_assert_cmpint (json_integer_value (json_object_get (j, "typing_timeout_ms")), ==, 5000);
}

static void
test_invalid_utf8_repaired (void)
{
  PaMember m = { .struct_size = sizeof m, .id = "x\xff" "y", .name = "ok", .power = 50 };
  g_autoptr (GError) error = NULL;
  g_autoptr (json_t) j = pa_wire_member_to_json (&m, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_string_value (json_object_get (j, "id")), ==, "x\xef\xbf\xbdy");
  g_assert_cmpint (json_integer_value (json_object_get (j, "power")), ==, 50);
}

static void
test_enum_tables (void)
{
  PaEventType t;
  for (int i = PA_EV_MESSAGE; i <= PA_EV_BACKFILL_END; i++)
    {
      const char *s = pa_wire_event_type_to_string ((PaEventType) i);
      g_assert_nonnull (s);
      g_assert_true (pa_wire_event_type_from_string (s, &t));
      g_assert_cmpint (t, ==, i);
    }
  g_assert_null (pa_wire_event_type_to_string ((PaEventType) 0));
  g_assert_null (pa_wire_event_type_to_string ((PaEventType) -1));
  g_assert_false (pa_wire_event_type_from_string ("nope", &t));
  g_assert_cmpstr (pa_wire_login_state_to_string (PA_STATE_TRANSIENT_DISCONNECT), ==,
                   "transient_disconnect");
  g_assert_cmpstr (pa_wire_field_type_to_string (PA_FIELD_CODE), ==, "code");
  g_assert_cmpstr (pa_wire_step_kind_to_string (PA_STEP_DISPLAY_AND_WAIT), ==,
                   "display_and_wait");
  PaMetaScope sc;
  g_assert_true (pa_wire_meta_scope_from_string ("message", &sc));
  g_assert_cmpint (sc, ==, PA_META_MESSAGE);
}

static void
test_login_step (void)
{
  static const char *const choices[] = { "a", "b", NULL };
  PaField fields[] = {
    { sizeof (PaField), "server", "Server", PA_FIELD_CHOICE, "a", true, choices },
  };
  PaLoginStep s = { .struct_size = sizeof s, .kind = PA_STEP_USER_INPUT, .step_id = "s1",
                    .fields = fields, .n_fields = 1 };
  g_autoptr (GError) error = NULL;
  g_autoptr (json_t) j = pa_wire_login_step_to_json (&s, &error);
  g_assert_no_error (error);
  g_autofree char *text = json_dumps (j, JSON_COMPACT | JSON_SORT_KEYS);
  g_assert_cmpstr (text, ==,
                   "{\"expires_s\":0,\"fields\":[{\"choices\":[\"a\",\"b\"],\"default\":\"a\",\"id\":\"server\","
                   "\"label\":\"Server\",\"optional\":true,\"type\":\"choice\"}],"
                   "\"kind\":\"user_input\",\"step_id\":\"s1\"}");
}

/* SDK 2: typed results, the whole frame. */
static void
test_result (void)
{
  PaOpResult r = { .struct_size = sizeof r, .code = PA_RESULT_RATE_LIMITED,
                   .retry_after_ms = 3000, .error = "slow down" };
  g_autoptr (GError) error = NULL;
  g_autoptr (json_t) j = pa_wire_result_to_json (7, &r, &error);
  g_assert_no_error (error);
  g_autofree char *text = json_dumps (j, JSON_COMPACT | JSON_SORT_KEYS);
  g_assert_cmpstr (text, ==,
                   "{\"code\":\"rate_limited\",\"error\":\"slow down\",\"legacy_ts\":0,"
                   "\"ok\":false,\"op_id\":7,\"retry_after_ms\":3000,\"t\":\"result\"}");
  PaOpResult bad = { .struct_size = sizeof bad, .code = (PaResultCode) 99 };
  g_autoptr (json_t) none = pa_wire_result_to_json (7, &bad, &error);
  g_assert_null (none);
  g_assert_error (error, PA_ERROR, PA_ERROR_PLUGIN);
  PaResultCode c;
  g_assert_true (pa_wire_result_code_from_string ("not_connected", &c));
  g_assert_cmpint (c, ==, PA_RESULT_NOT_CONNECTED);
}

/* SDK 2: presence is an enum with a status text; reaction sync a list. */
static void
test_presence_and_reactions (void)
{
  PaEvent p = { .struct_size = sizeof p, .type = PA_EV_PRESENCE, .sender_id = "bob",
                .presence = PA_PRESENCE_UNAVAILABLE, .status_text = "at lunch" };
  g_autoptr (GError) error = NULL;
  g_autoptr (json_t) pj = pa_wire_event_to_json (&p, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_string_value (json_object_get (pj, "presence")), ==, "unavailable");
  g_assert_cmpstr (json_string_value (json_object_get (pj, "status_text")), ==, "at lunch");

  const char *const keys[] = { "👍", "❤️" };
  PaEvent r = { .struct_size = sizeof r, .type = PA_EV_REACTION_SYNC, .chat_id = "c",
                .sender_id = "bob", .target_id = "m1", .reaction_keys = keys,
                .n_reaction_keys = 2 };
  g_autoptr (json_t) rj = pa_wire_event_to_json (&r, &error);
  g_assert_no_error (error);
  json_t *arr = json_object_get (rj, "reaction_keys");
  g_assert_cmpuint (json_array_size (arr), ==, 2);
  g_assert_cmpstr (json_string_value (json_array_get (arr, 1)), ==, "❤️");

  PaEvent bad = p;
  bad.presence = (PaPresence) 42;
  g_autoptr (json_t) none = pa_wire_event_to_json (&bad, &error);
  g_assert_null (none);
  g_assert_error (error, PA_ERROR, PA_ERROR_PLUGIN);
}

/* The IDENTIFIERS rule of plugin.h, as a table. */
static void
test_ids (void)
{
  static const struct
  {
    const char *id;
    gboolean valid;
  } cases[] = {
    { "bob@example.org", TRUE },
    { "+33612345678", TRUE },
    { "Élodie/Ü", TRUE },
    { "", FALSE },
    { "tab\there", FALSE },
    { "del\x7f", FALSE },
    { "\xff\xfe", FALSE },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_assert_cmpint (pa_wire_id_valid (cases[i].id, &error), ==, cases[i].valid);
    }
  g_autofree char *long_id = g_strnfill (PA_ID_MAX_BYTES + 1, 'a');
  g_assert_false (pa_wire_id_valid (long_id, NULL));
  long_id[PA_ID_MAX_BYTES] = '\0';
  g_assert_true (pa_wire_id_valid (long_id, NULL));

  /* An event with a bad id is refused as a whole. */
  PaEvent e = { .struct_size = sizeof e, .type = PA_EV_TYPING, .chat_id = "c\n1" };
  g_autoptr (GError) error = NULL;
  g_autoptr (json_t) none = pa_wire_event_to_json (&e, &error);
  g_assert_null (none);
  g_assert_nonnull (strstr (error->message, "control character"));
}

/* PaChatInfo: `secret` (2.2) crosses only from a struct that has it; a
 * 2.1 plugin's chat (its struct ends after read_only) is not secret, and
 * one smaller than 2.0 is refused. */
static void
test_chat_sizes (void)
{
  PaChatInfo c = { .struct_size = sizeof c, .id = "s1", .kind = PA_CHAT_DM,
                   .read_only = true, .secret = true };
  g_autoptr (GError) error = NULL;
  g_autoptr (json_t) j = pa_wire_chat_to_json (&c, &error);
  g_assert_no_error (error);
  g_assert_true (json_is_true (json_object_get (j, "secret")));
  g_assert_true (json_is_true (json_object_get (j, "read_only")));

  c.struct_size = offsetof (PaChatInfo, read_only) + sizeof c.read_only;
  g_autoptr (json_t) old = pa_wire_chat_to_json (&c, &error);
  g_assert_no_error (error);
  g_assert_null (json_object_get (old, "secret"));
  g_assert_true (json_is_true (json_object_get (old, "read_only")));

  c.struct_size = offsetof (PaChatInfo, read_only);
  g_autoptr (json_t) none = pa_wire_chat_to_json (&c, &error);
  g_assert_null (none);
  g_assert_nonnull (strstr (error->message, "ABI 2.0 size"));
}

/* Config keys: the schema the host validates config.yaml against. */
static void
test_config_key (void)
{
  PaConfigKey k = { sizeof k, "api_hash", PA_CONFIG_STRING, NULL, "The hash", true, true };
  g_autoptr (GError) error = NULL;
  g_autoptr (json_t) j = pa_wire_config_key_to_json (&k, &error);
  g_assert_no_error (error);
  g_autofree char *text = json_dumps (j, JSON_COMPACT | JSON_SORT_KEYS);
  g_assert_cmpstr (text, ==,
                   "{\"default\":null,\"description\":\"The hash\",\"key\":\"api_hash\","
                   "\"required\":true,\"secret\":true,\"type\":\"string\"}");
  PaConfigKey bad = { sizeof bad, "Bad Key", PA_CONFIG_INT, "1", NULL, false, false };
  g_autoptr (json_t) none = pa_wire_config_key_to_json (&bad, &error);
  g_assert_null (none);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/host/wire/content-roundtrip", test_content_roundtrip);
  g_test_add_func ("/host/wire/content-from-json-errors", test_content_from_json_errors);
  g_test_add_func ("/host/wire/event-refusals", test_event_refusals);
  g_test_add_func ("/host/wire/invalid-utf8", test_invalid_utf8_repaired);
  g_test_add_func ("/host/wire/enum-tables", test_enum_tables);
  g_test_add_func ("/host/wire/login-step", test_login_step);
  g_test_add_func ("/host/wire/result", test_result);
  g_test_add_func ("/host/wire/presence-and-reactions", test_presence_and_reactions);
  g_test_add_func ("/host/wire/ids", test_ids);
  g_test_add_func ("/host/wire/config-key", test_config_key);
  g_test_add_func ("/host/wire/chat-sizes", test_chat_sizes);
  return g_test_run ();
}
