/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Unit tests for the plugins: section of config.yaml (pa-config-plugins.c):
 * its shape at load time, the check of a plugin's section against the
 * schema of its hello frame, unknown plugins, the example block, and that
 * secret values stay out of messages and logs.  Most behaviour is a table:
 * YAML in, message or typed JSON out. */
#define G_LOG_DOMAIN "passerelle-config-test"

#include "config/pa-config.h"
#include "pa-common.h"

#include <string.h>

#define MINIMAL "homeserver:\n  address: http://127.0.0.1:8008\n  domain: localhost\n"
#define NAME "/etc/pa/config.yaml"
#define SECRET "s3cr3t-hash-XYZ"

/* A schema as a worker's hello frame carries it. */
static const char telegram_schema[]
    = "[{\"key\": \"api_id\", \"type\": \"int\", \"default\": null, \"description\": \"The API "
      "ID from my.telegram.org.\", \"secret\": false, \"required\": true},"
      " {\"key\": \"api_hash\", \"type\": \"string\", \"default\": null, \"description\": \"The "
      "API hash that goes with it.\", \"secret\": true, \"required\": true},"
      " {\"key\": \"proxy\", \"type\": \"bool\", \"default\": \"false\", \"description\": \"Go "
      "through the system proxy.\", \"secret\": false, \"required\": false},"
      " {\"key\": \"session_dir\", \"type\": \"path\", \"default\": \"sessions\", "
      "\"description\": \"Where sessions are kept.\", \"secret\": false, \"required\": false},"
      " {\"key\": \"nickname\", \"type\": \"string\", \"default\": null, \"description\": "
      "\"Shown to contacts.\", \"secret\": false, \"required\": false},"
      " {\"key\": \"pin\", \"type\": \"int\", \"default\": null, \"description\": \"Two-step "
      "PIN.\", \"secret\": true, \"required\": false}]";

static json_t *
schema_new (const char *text)
{
  json_error_t jerr;
  json_t *j = json_loads (text, 0, &jerr);
  g_assert_nonnull (j);
  return j;
}

static PaConfig *
load_ok (const char *text)
{
  g_autoptr (GError) error = NULL;
  PaConfig *c = pa_config_load_from_data (text, strlen (text), NAME, &error);
  g_assert_no_error (error);
  g_assert_nonnull (c);
  return c;
}

static void
assert_json (json_t *got, const char *expected)
{
  g_autoptr (json_t) want = schema_new (expected);
  if (!json_equal (got, want))
    {
      g_autofree char *text = json_dumps (got, JSON_SORT_KEYS);
      g_test_message ("got %s", text);
    }
  g_assert_true (json_equal (got, want));
}

/* ---------------------------------------------------------------------- */
/* Shape at load time                                                       */

static void
test_load_shape (void)
{
  g_autoptr (PaConfig) c = load_ok (MINIMAL "plugins:\n"
                                            "  telegram:\n"
                                            "    api_id: 123\n"
                                            "    api_hash: \"x y\"\n"
                                            "    proxy: ~\n"
                                            "  whatsapp:\n");
  g_assert_cmpuint (c->plugins_line, ==, 4);
  g_assert_cmpuint (c->plugin_sections->len, ==, 2);
  const PaPluginSection *t = g_ptr_array_index (c->plugin_sections, 0);
  g_assert_cmpstr (t->name, ==, "telegram");
  g_assert_cmpuint (t->line, ==, 5);
  g_assert_cmpuint (t->settings->len, ==, 3);
  const PaPluginSetting *s0 = g_ptr_array_index (t->settings, 0);
  const PaPluginSetting *s1 = g_ptr_array_index (t->settings, 1);
  const PaPluginSetting *s2 = g_ptr_array_index (t->settings, 2);
  g_assert_cmpstr (s0->key, ==, "api_id");
  g_assert_cmpstr (s0->value, ==, "123");
  g_assert_true (s0->plain);
  g_assert_cmpuint (s0->line, ==, 6);
  g_assert_cmpstr (s1->value, ==, "x y");
  g_assert_false (s1->plain);
  g_assert_null (s2->value);
  const PaPluginSection *w = g_ptr_array_index (c->plugin_sections, 1);
  g_assert_cmpstr (w->name, ==, "whatsapp");
  g_assert_cmpuint (w->settings->len, ==, 0);

  g_autoptr (PaConfig) none = load_ok (MINIMAL);
  g_assert_nonnull (none->plugin_sections);
  g_assert_cmpuint (none->plugin_sections->len, ==, 0);
  g_assert_cmpuint (none->plugins_line, ==, 0);
  g_autoptr (PaConfig) null = load_ok (MINIMAL "plugins:\n");
  g_assert_cmpuint (null->plugin_sections->len, ==, 0);
}

static void
test_load_errors (void)
{
  static const struct
  {
    const char *yaml;
    const char *message;
  } cases[] = {
    { MINIMAL "plugins:\n  telegram:\n    api_id:\n      nested: 1\n",
      "c.yaml:7: plugins.telegram.api_id: must be a single value, not a mapping" },
    { MINIMAL "plugins:\n  telegram:\n    api_id: [1, 2]\n",
      "c.yaml:6: plugins.telegram.api_id: must be a single value, not a list" },
    { MINIMAL "plugins:\n  telegram:\n    dcs:\n      - a\n",
      "c.yaml:7: plugins.telegram.dcs: must be a single value, not a list" },
    { MINIMAL "plugins:\n  - telegram\n", "c.yaml:5: plugins: must be a mapping, not a list" },
    { MINIMAL "plugins: telegram\n", "c.yaml:4: plugins: must be a mapping, not a scalar" },
    { MINIMAL "plugins:\n  Tele_gram: {}\n",
      "c.yaml:5: plugins.Tele_gram: \"Tele_gram\" is not a plugin name ([a-z0-9]+)" },
    { MINIMAL "plugins:\n  telegram: 5\n",
      "c.yaml:5: plugins.telegram: must be a mapping of settings, not a scalar" },
    { MINIMAL "plugins:\n  telegram:\n    a: 1\n    a: 2\n", "c.yaml:7: a: duplicate key" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_test_message ("case %u: %s", i, cases[i].yaml);
      g_autoptr (GError) error = NULL;
      g_autoptr (PaConfig) c
          = pa_config_load_from_data (cases[i].yaml, strlen (cases[i].yaml), "c.yaml", &error);
      g_assert_null (c);
      g_assert_error (error, PA_ERROR, PA_ERROR_CONFIG);
      g_assert_cmpstr (error->message, ==, cases[i].message);
    }
}

/* ---------------------------------------------------------------------- */
/* Against the schema                                                       */

static void
test_section (void)
{
  static const struct
  {
    const char *plugins; /* appended to MINIMAL: line 4 is the first */
    const char *message; /* NULL: success */
    const char *json;    /* expected *out on success */
  } cases[] = {
    /* good section, defaults filled in */
    { "plugins:\n  telegram:\n    api_id: 123\n    api_hash: " SECRET "\n", NULL,
      "{\"api_id\": 123, \"api_hash\": \"" SECRET "\", \"proxy\": false,"
      " \"session_dir\": \"/etc/pa/sessions\"}" },
    /* every type given; yes is a boolean; quoted digits are a string */
    { "plugins:\n  telegram:\n    api_id: -7\n    api_hash: h\n    proxy: yes\n"
      "    session_dir: /var/lib/tg\n    nickname: \"007\"\n    pin: 1234\n",
      NULL,
      "{\"api_id\": -7, \"api_hash\": \"h\", \"proxy\": true, \"session_dir\": \"/var/lib/tg\","
      " \"nickname\": \"007\", \"pin\": 1234}" },
    /* null values count as absent */
    { "plugins:\n  telegram:\n    api_id: 1\n    api_hash: h\n    proxy: ~\n    nickname:\n", NULL,
      "{\"api_id\": 1, \"api_hash\": \"h\", \"proxy\": false,"
      " \"session_dir\": \"/etc/pa/sessions\"}" },
    /* relative paths are relative to the config file */
    { "plugins:\n  telegram:\n    api_id: 1\n    api_hash: h\n    session_dir: ../tg\n", NULL,
      "{\"api_id\": 1, \"api_hash\": \"h\", \"proxy\": false, \"session_dir\": \"/etc/tg\"}" },
    /* unknown key */
    { "plugins:\n  telegram:\n    api_id: 1\n    api_hash: h\n    colour: red\n",
      NAME ":8: plugins.telegram.colour: unknown key (known keys: api_id, api_hash, proxy, "
           "session_dir, nickname, pin)",
      NULL },
    /* wrong types */
    { "plugins:\n  telegram:\n    api_id: 12ab\n    api_hash: h\n",
      NAME ":6: plugins.telegram.api_id: must be an integer (got \"12ab\")", NULL },
    { "plugins:\n  telegram:\n    api_id: \"123\"\n    api_hash: h\n",
      NAME ":6: plugins.telegram.api_id: must be an integer (got \"123\")", NULL },
    { "plugins:\n  telegram:\n    api_id: 1.5\n    api_hash: h\n",
      NAME ":6: plugins.telegram.api_id: must be an integer (got \"1.5\")", NULL },
    { "plugins:\n  telegram:\n    api_id: 1\n    api_hash: h\n    proxy: maybe\n",
      NAME ":8: plugins.telegram.proxy: must be true or false (or yes/no, on/off) (got \"maybe\")",
      NULL },
    { "plugins:\n  telegram:\n    api_id: 1\n    api_hash: h\n    proxy: \"true\"\n",
      NAME ":8: plugins.telegram.proxy: must be true or false (or yes/no, on/off) (got \"true\")",
      NULL },
    { "plugins:\n  telegram:\n    api_id: 1\n    api_hash: h\n    session_dir: \"\"\n",
      NAME ":8: plugins.telegram.session_dir: must not be empty (got \"\")", NULL },
    /* a secret of the wrong type: the value is not repeated */
    { "plugins:\n  telegram:\n    api_id: 1\n    api_hash: h\n    pin: " SECRET "\n",
      NAME ":8: plugins.telegram.pin: must be an integer", NULL },
    /* missing required keys: the section's line, or plugins:, or 1 */
    { "plugins:\n  telegram:\n    api_hash: h\n",
      NAME ":5: plugins.telegram.api_id: required by plugin telegram (no default)", NULL },
    { "plugins:\n  telegram:\n    api_id: 1\n    api_hash: \"\"\n",
      NAME ":5: plugins.telegram.api_hash: required by plugin telegram (no default)", NULL },
    { "plugins:\n  telegram:\n    api_id: 1\n    api_hash:\n",
      NAME ":5: plugins.telegram.api_hash: required by plugin telegram (no default)", NULL },
    { "plugins:\n  whatsapp: {}\n",
      NAME ":4: plugins.telegram.api_id: required by plugin telegram (no default)", NULL },
    { "", NAME ":1: plugins.telegram.api_id: required by plugin telegram (no default)", NULL },
  };
  g_autoptr (json_t) schema = schema_new (telegram_schema);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_test_message ("case %u: %s", i, cases[i].plugins);
      g_autofree char *text = g_strconcat (MINIMAL, cases[i].plugins, NULL);
      g_autoptr (PaConfig) c = load_ok (text);
      g_autoptr (GError) error = NULL;
      g_autoptr (json_t) out = NULL;
      gboolean ok = pa_config_plugin_section (c, "telegram", schema, &out, &error);
      if (cases[i].message == NULL)
        {
          g_assert_no_error (error);
          g_assert_true (ok);
          assert_json (out, cases[i].json);
        }
      else
        {
          g_assert_false (ok);
          g_assert_null (out);
          g_assert_error (error, PA_ERROR, PA_ERROR_CONFIG);
          g_assert_cmpstr (error->message, ==, cases[i].message);
        }
    }
}

static void
test_section_without_schema (void)
{
  g_autoptr (PaConfig) c = load_ok (MINIMAL "plugins:\n  signal:\n    x: 1\n");
  g_autoptr (GError) error = NULL;
  g_autoptr (json_t) out = NULL;
  g_assert_false (pa_config_plugin_section (c, "signal", NULL, &out, &error));
  g_assert_error (error, PA_ERROR, PA_ERROR_CONFIG);
  g_assert_cmpstr (error->message, ==,
                   NAME ":6: plugins.signal.x: unknown key (the plugin has no settings)");
  g_clear_error (&error);
  g_autoptr (json_t) empty = json_array ();
  g_assert_true (pa_config_plugin_section (c, "other", empty, &out, &error));
  g_assert_no_error (error);
  assert_json (out, "{}");
}

static void
test_defaults (void)
{
  /* Defaults as text (the documented form) or as JSON of the key's type. */
  g_autoptr (json_t) schema
      = schema_new ("[{\"key\": \"port\", \"type\": \"int\", \"default\": \"8080\"},"
                    " {\"key\": \"retries\", \"type\": \"int\", \"default\": 3},"
                    " {\"key\": \"debug\", \"type\": \"bool\", \"default\": \"no\"},"
                    " {\"key\": \"fast\", \"type\": \"bool\", \"default\": true},"
                    " {\"key\": \"name\", \"type\": \"string\", \"default\": \"\"},"
                    " {\"key\": \"token\", \"type\": \"string\", \"default\": \"t0\","
                    "  \"secret\": true, \"required\": true},"
                    " {\"key\": \"unset\", \"type\": \"string\", \"default\": null}]");
  g_autoptr (PaConfig) c = load_ok (MINIMAL "plugins:\n  demo:\n    token: \"\"\n");
  g_autoptr (GError) error = NULL;
  g_autoptr (json_t) out = NULL;
  g_assert_true (pa_config_plugin_section (c, "demo", schema, &out, &error));
  g_assert_no_error (error);
  assert_json (out, "{\"port\": 8080, \"retries\": 3, \"debug\": false, \"fast\": true,"
                    " \"name\": \"\", \"token\": \"t0\"}");
}

static void
test_schema_errors (void)
{
  static const struct
  {
    const char *schema;
    const char *message;
  } cases[] = {
    { "{}", "plugin demo: invalid config schema: not a list" },
    { "[{\"type\": \"int\"}]",
      "plugin demo: invalid config schema: entry 0: \"key\" must match [A-Za-z0-9_-]+" },
    { "[{\"key\": \"a b\", \"type\": \"int\"}]",
      "plugin demo: invalid config schema: entry 0: \"key\" must match [A-Za-z0-9_-]+" },
    { "[{\"key\": \"a\", \"type\": \"float\"}]",
      "plugin demo: invalid config schema: key \"a\": \"type\" must be int, string, bool or "
      "path" },
    { "[{\"key\": \"a\", \"type\": \"int\"}, {\"key\": \"a\", \"type\": \"int\"}]",
      "plugin demo: invalid config schema: key \"a\" declared twice" },
    { "[{\"key\": \"a\", \"type\": \"int\", \"secret\": \"yes\"}]",
      "plugin demo: invalid config schema: key \"a\": \"description\" must be a string, "
      "\"secret\" and \"required\" booleans" },
    { "[{\"key\": \"a\", \"type\": \"int\", \"default\": \"ten\"}]",
      "plugin demo: invalid config schema: key \"a\": the default does not fit type int" },
    { "[{\"key\": \"a\", \"type\": \"bool\", \"default\": 1}]",
      "plugin demo: invalid config schema: key \"a\": the default does not fit type bool" },
  };
  g_autoptr (PaConfig) c = load_ok (MINIMAL);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_test_message ("case %u: %s", i, cases[i].schema);
      g_autoptr (json_t) schema = schema_new (cases[i].schema);
      g_autoptr (GError) error = NULL;
      g_autoptr (json_t) out = NULL;
      g_assert_false (pa_config_plugin_section (c, "demo", schema, &out, &error));
      g_assert_error (error, PA_ERROR, PA_ERROR_PLUGIN);
      g_assert_cmpstr (error->message, ==, cases[i].message);
      g_autofree char *example = pa_config_plugin_example ("demo", schema);
      /* The default is only typed when used; the example still refuses a
       * schema it cannot read. */
      if (i < 6)
        g_assert_null (example);
    }
}

/* ---------------------------------------------------------------------- */
/* Installed plugins                                                        */

static void
test_plugin_names (void)
{
  static const char *const installed[] = { "telegram", "signal", NULL };
  static const char *const all[] = { "telegram", "signal", "whatsapp", NULL };
  static const char *const none[] = { NULL };
  static const struct
  {
    const char *plugins;
    const char *const *installed;
    const char *message;
  } cases[] = {
    { "", installed, NULL },
    { "", NULL, NULL },
    { "plugins:\n  telegram: {}\n", installed, NULL },
    { "plugins:\n  telegram: {}\n  whatsapp:\n    x: 1\n", all, NULL },
    { "plugins:\n  telegram: {}\n  whatsapp:\n    x: 1\n", installed,
      NAME ":6: plugins.whatsapp: plugin \"whatsapp\" is not installed (installed: telegram, "
           "signal)" },
    { "plugins:\n  telegram: {}\n", none,
      NAME ":5: plugins.telegram: plugin \"telegram\" is not installed (installed: none)" },
    { "plugins:\n  telegram: {}\n", NULL,
      NAME ":5: plugins.telegram: plugin \"telegram\" is not installed (installed: none)" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_test_message ("case %u: %s", i, cases[i].plugins);
      g_autofree char *text = g_strconcat (MINIMAL, cases[i].plugins, NULL);
      g_autoptr (PaConfig) c = load_ok (text);
      g_autoptr (GError) error = NULL;
      gboolean ok = pa_config_check_plugin_names (c, cases[i].installed, &error);
      if (cases[i].message == NULL)
        {
          g_assert_no_error (error);
          g_assert_true (ok);
        }
      else
        {
          g_assert_false (ok);
          g_assert_error (error, PA_ERROR, PA_ERROR_CONFIG);
          g_assert_cmpstr (error->message, ==, cases[i].message);
        }
    }
}

/* ---------------------------------------------------------------------- */
/* Example block                                                            */

static void
test_example (void)
{
  g_autoptr (json_t) schema = schema_new (telegram_schema);
  g_autofree char *block = pa_config_plugin_example ("telegram", schema);
  g_assert_cmpstr (block, ==,
                   "  # Settings of the telegram plugin.\n"
                   "  telegram:\n"
                   "    # The API ID from my.telegram.org.\n"
                   "    # (int, required)\n"
                   "    api_id:\n"
                   "    # The API hash that goes with it.\n"
                   "    # (string, required, secret: keep this file private (mode 0600))\n"
                   "    api_hash: \"\"\n"
                   "    # Go through the system proxy.\n"
                   "    # (bool)\n"
                   "    proxy: false\n"
                   "    # Where sessions are kept.\n"
                   "    # (path)\n"
                   "    session_dir: \"sessions\"\n"
                   "    # Shown to contacts.\n"
                   "    # (string)\n"
                   "    nickname:\n"
                   "    # Two-step PIN.\n"
                   "    # (int, secret: keep this file private (mode 0600))\n"
                   "    pin: \"\"\n");

  /* Written under plugins:, it loads; the operator then only has to fill
   * in the required keys. */
  g_autofree char *text = g_strconcat (MINIMAL "plugins:\n", block, NULL);
  g_autoptr (PaConfig) c = load_ok (text);
  g_autoptr (GError) error = NULL;
  g_autoptr (json_t) out = NULL;
  g_assert_false (pa_config_plugin_section (c, "telegram", schema, &out, &error));
  g_assert_cmpstr (error->message, ==,
                   NAME ":6: plugins.telegram.api_id: required by plugin telegram (no default)");

  g_clear_error (&error);

  /* A schema whose keys all have defaults round-trips to the defaults. */
  g_autoptr (json_t) easy = schema_new (
      "[{\"key\": \"port\", \"type\": \"int\", \"default\": \"8080\", \"description\": \"A "
      "rather long description that has to be wrapped over more than one line, because it "
      "goes on and on.\\nAnd a second paragraph.\"},"
      " {\"key\": \"name\", \"type\": \"string\", \"default\": \"say \\\"hi\\\"\\n\"},"
      " {\"key\": \"on\", \"type\": \"bool\", \"default\": \"yes\"}]");
  g_autofree char *eblock = pa_config_plugin_example ("demo", easy);
  g_assert_cmpstr (eblock, ==,
                   "  # Settings of the demo plugin.\n"
                   "  demo:\n"
                   "    # A rather long description that has to be wrapped over more than one\n"
                   "    # line, because it goes on and on.\n"
                   "    # And a second paragraph.\n"
                   "    # (int)\n"
                   "    port: 8080\n"
                   "    # (string)\n"
                   "    name: \"say \\\"hi\\\"\\x0a\"\n"
                   "    # (bool)\n"
                   "    on: yes\n");
  g_autofree char *etext = g_strconcat (MINIMAL "plugins:\n", eblock, NULL);
  g_autoptr (PaConfig) ec = load_ok (etext);
  g_autoptr (json_t) eout = NULL;
  g_assert_true (pa_config_plugin_section (ec, "demo", easy, &eout, &error));
  g_assert_no_error (error);
  assert_json (eout, "{\"port\": 8080, \"name\": \"say \\\"hi\\\"\\n\", \"on\": true}");

  /* No keys: a commented placeholder; a bad name or schema: NULL. */
  g_autoptr (json_t) empty = json_array ();
  g_autofree char *none = pa_config_plugin_example ("signal", empty);
  g_assert_cmpstr (none, ==,
                   "  # Settings of the signal plugin.\n  # (it has none)\n"
                   "  #signal: {}\n");
  g_autofree char *bad = pa_config_plugin_example ("Bad name", empty);
  g_assert_null (bad);
}

/* config/example.yaml (what `passerelle -e` writes, compiled in from that
 * file) documents plugins: in comments; uncommented, the block loads; and
 * the example with a plugin block appended (what `-e` writes once plugins
 * are installed) is the file plus that block. */
static void
test_example_file (void)
{
  const char *root = g_getenv ("PA_SOURCE_ROOT");
  if (root == NULL)
    {
      g_test_skip ("PA_SOURCE_ROOT not set (run through meson test)");
      return;
    }
  g_autofree char *path = g_build_filename (root, "config", "example.yaml", NULL);
  g_autofree char *text = NULL;
  gsize len = 0;
  g_assert_true (g_file_get_contents (path, &text, &len, NULL));
  g_assert_cmpuint (len, ==, strlen (pa_config_example_text ()));
  g_assert_cmpstr (text, ==, pa_config_example_text ());

  const char *block = strstr (text, "\n#plugins:\n");
  g_assert_nonnull (block);
  g_autoptr (GString) uncommented = g_string_new_len (text, block - text + 1);
  g_auto (GStrv) lines = g_strsplit (block + 1, "\n", -1);
  for (guint i = 0; lines[i] && lines[i][0] == '#'; i++)
    g_string_append_printf (uncommented, "%s\n", lines[i] + 1);
  g_autoptr (GError) error = NULL;
  g_autoptr (PaConfig) c
      = pa_config_load_from_data (uncommented->str, uncommented->len, NAME, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (c->plugin_sections->len, ==, 1);
  g_autoptr (json_t) schema = schema_new (telegram_schema);
  g_autoptr (json_t) out = NULL;
  g_assert_true (pa_config_plugin_section (c, "telegram", schema, &out, &error));
  g_assert_no_error (error);
  g_assert_cmpint (json_integer_value (json_object_get (out, "api_id")), ==, 12345);

  g_autofree char *pblock = pa_config_plugin_example ("telegram", schema);
  g_autofree char *with = g_strconcat (pa_config_example_text (), "plugins:\n", pblock, NULL);
  g_assert_true (g_str_has_prefix (with, text));
  g_autoptr (PaConfig) wc = pa_config_load_from_data (with, strlen (with), NAME, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (wc->plugin_sections->len, ==, 1);
}

/* ---------------------------------------------------------------------- */
/* Secrets stay out of logs                                                 */

static GString *captured;

static GLogWriterOutput
capture_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer data)
{
  for (gsize i = 0; i < n_fields; i++)
    if (g_str_equal (fields[i].key, "MESSAGE"))
      {
        const char *msg = fields[i].value;
        gsize len = fields[i].length < 0 ? strlen (msg) : (gsize) fields[i].length;
        g_string_append_len (captured, msg, (gssize) len);
        g_string_append_c (captured, '\n');
      }
  if (level & (G_LOG_LEVEL_DEBUG | G_LOG_LEVEL_INFO))
    return G_LOG_WRITER_HANDLED;
  return g_log_writer_default (level, fields, n_fields, data);
}

static void
test_secret_not_logged (void)
{
  g_autoptr (json_t) schema = schema_new (telegram_schema);
  g_string_truncate (captured, 0);
  g_autoptr (PaConfig) c
      = load_ok (MINIMAL "plugins:\n  telegram:\n    api_id: 4242\n    api_hash: " SECRET "\n");
  g_autoptr (GError) error = NULL;
  g_autoptr (json_t) out = NULL;
  g_assert_true (pa_config_plugin_section (c, "telegram", schema, &out, &error));
  g_assert_cmpstr (json_string_value (json_object_get (out, "api_hash")), ==, SECRET);

  /* A secret of the wrong type: neither the message nor the log shows it. */
  g_autoptr (PaConfig) c2 = load_ok (MINIMAL "plugins:\n  telegram:\n    api_id: 1\n"
                                             "    api_hash: h\n    pin: " SECRET "\n");
  g_autoptr (json_t) out2 = NULL;
  g_assert_false (pa_config_plugin_section (c2, "telegram", schema, &out2, &error));
  g_assert_null (strstr (error->message, SECRET));

  /* The log was captured (the plain value is there), and the secret is not. */
  g_test_message ("log: %s", captured->str);
  g_assert_nonnull (strstr (captured->str, "plugins.telegram.api_id = 4242"));
  g_assert_nonnull (strstr (captured->str, "plugins.telegram.api_hash = (secret)"));
  g_assert_null (strstr (captured->str, SECRET));

  g_assert_true (pa_config_plugin_key_secret (schema, "api_hash"));
  g_assert_true (pa_config_plugin_key_secret (schema, "pin"));
  g_assert_false (pa_config_plugin_key_secret (schema, "api_id"));
  g_assert_false (pa_config_plugin_key_secret (schema, "nope"));
  g_assert_false (pa_config_plugin_key_secret (NULL, "api_hash"));
  g_autofree char *shown = pa_config_plugin_value_for_log (schema, "api_hash", SECRET);
  g_assert_cmpstr (shown, ==, "(secret)");
  g_autofree char *plain = pa_config_plugin_value_for_log (schema, "api_id", "4242");
  g_assert_cmpstr (plain, ==, "4242");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  captured = g_string_new (NULL);
  g_log_set_writer_func (capture_writer, NULL, NULL);
  g_log_set_debug_enabled (TRUE);
  g_test_add_func ("/config/plugins/load-shape", test_load_shape);
  g_test_add_func ("/config/plugins/load-errors", test_load_errors);
  g_test_add_func ("/config/plugins/section", test_section);
  g_test_add_func ("/config/plugins/section-without-schema", test_section_without_schema);
  g_test_add_func ("/config/plugins/defaults", test_defaults);
  g_test_add_func ("/config/plugins/schema-errors", test_schema_errors);
  g_test_add_func ("/config/plugins/names", test_plugin_names);
  g_test_add_func ("/config/plugins/example", test_example);
  g_test_add_func ("/config/plugins/example-file", test_example_file);
  g_test_add_func ("/config/plugins/secret-not-logged", test_secret_not_logged);
  int rc = g_test_run ();
  g_string_free (captured, TRUE);
  return rc;
}
