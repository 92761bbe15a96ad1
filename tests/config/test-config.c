/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Unit tests for src/config: loading, defaults, errors, example file,
 * registration and token write-back, permissions and ministries. */
#define G_LOG_DOMAIN "passerelle-config-test"

#include "config/pa-config.h"
#include "pa-build-config.h"
#include "pa-common.h"

#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#define MINIMAL "homeserver:\n  address: http://127.0.0.1:8008\n  domain: localhost\n"

/* A temporary directory removed (with its files) at the end of a test. */
typedef struct
{
  char *path;
} TmpDir;

static void
tmp_dir_setup (TmpDir *t, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  t->path = g_dir_make_tmp ("pa-config-XXXXXX", &error);
  g_assert_no_error (error);
}

static void
rm_rf (const char *path)
{
  GDir *dir = g_dir_open (path, 0, NULL);
  if (dir != NULL)
    {
      const char *name;
      while ((name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);
          rm_rf (child);
        }
      g_dir_close (dir);
      g_rmdir (path);
    }
  else
    g_unlink (path);
}

static void
tmp_dir_teardown (TmpDir *t, gconstpointer data)
{
  rm_rf (t->path);
  g_free (t->path);
}

static char *
write_file (TmpDir *t, const char *name, const char *contents)
{
  g_autoptr (GError) error = NULL;
  char *path = g_build_filename (t->path, name, NULL);
  g_file_set_contents (path, contents, -1, &error);
  g_assert_no_error (error);
  return path;
}

static char *
read_file (const char *path)
{
  g_autoptr (GError) error = NULL;
  char *contents = NULL;
  g_file_get_contents (path, &contents, NULL, &error);
  g_assert_no_error (error);
  return contents;
}

static guint
file_mode (const char *path)
{
  GStatBuf st;
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  return st.st_mode & 0777;
}

static PaConfig *
load_ok (const char *text)
{
  g_autoptr (GError) error = NULL;
  PaConfig *c = pa_config_load_from_data (text, strlen (text), "/etc/pa/config.yaml", &error);
  g_assert_no_error (error);
  g_assert_nonnull (c);
  return c;
}

static void
assert_load_error (const char *text, const char *expected)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PaConfig) c = pa_config_load_from_data (text, strlen (text), "c.yaml", &error);
  g_assert_null (c);
  g_assert_error (error, PA_ERROR, PA_ERROR_CONFIG);
  g_assert_cmpstr (error->message, ==, expected);
}

static const char *
str_at (GPtrArray *a, guint i)
{
  g_assert_cmpuint (i, <, a->len);
  return g_ptr_array_index (a, i);
}

/* ---------------------------------------------------------------------- */

static void
check_example_values (const PaConfig *c, const char *dir)
{
  g_autofree char *db = g_build_filename (dir, "passerelle.db", NULL);
  g_autofree char *data = g_build_filename (dir, "data", NULL);
  g_assert_cmpstr (c->hs_address, ==, "http://127.0.0.1:8008");
  g_assert_cmpstr (c->hs_domain, ==, "localhost");
  g_assert_cmpstr (c->as_id, ==, "passerelle");
  g_assert_cmpstr (c->as_address, ==, "http://127.0.0.1:29340");
  g_assert_cmpstr (c->as_bind, ==, "127.0.0.1");
  g_assert_cmpuint (c->as_port, ==, 29340);
  g_assert_null (c->as_token);
  g_assert_null (c->hs_token);
  g_assert_cmpstr (c->bot_localpart, ==, "passerelle");
  g_assert_cmpstr (c->bot_displayname, ==, "Passerelle");
  g_assert_cmpstr (c->bot_avatar, ==, "");
  g_assert_cmpstr (c->ghost_prefix, ==, "_pa_");
  g_assert_cmpstr (c->database, ==, db);
  g_assert_cmpstr (c->data_dir, ==, data);
  g_assert_cmpstr (c->plugin_dir, ==, PA_PLUGIN_DIR);
  g_assert_true (c->encryption_default);
  g_assert_cmpstr (c->history_visibility, ==, "invited");
  g_assert_cmpstr (c->command_prefix, ==, "!pa");
  g_assert_false (c->presence);
  g_assert_cmpint (c->max_body_bytes, ==, 33554432);
  g_assert_cmpint (c->max_media_bytes, ==, 104857600);
  g_assert_cmpuint (c->max_events_per_txn, ==, 1000);
  g_assert_cmpint (c->max_import_messages, ==, 1000000);
  g_assert_cmpint (c->max_import_entries, ==, 100000);
  g_assert_cmpuint (c->worker_restart_max_delay_s, ==, 60);
  g_assert_false (c->metrics_enabled);
  g_assert_cmpstr (c->metrics_bind, ==, "127.0.0.1");
  g_assert_cmpuint (c->metrics_port, ==, 9108);

  g_assert_cmpuint (c->ministries->len, ==, 2);
  const PaMinistry *m = g_ptr_array_index (c->ministries, 1);
  g_assert_cmpstr (m->name, ==, "finances");
  g_assert_cmpuint (m->domains->len, ==, 1);
  g_assert_cmpstr (str_at (m->domains, 0), ==, "agent.finances.tchap.gouv.fr");
  g_assert_cmpuint (m->plugins->len, ==, 2);
  g_assert_cmpstr (str_at (m->plugins, 0), ==, "whatsapp");
  g_assert_cmpstr (str_at (m->plugins, 1), ==, "telegram");

  g_assert_cmpuint (c->permissions->len, ==, 4);
  const PaPermission *p = g_ptr_array_index (c->permissions, 0);
  g_assert_cmpstr (p->key, ==, "*");
  g_assert_cmpint (p->level, ==, PA_LEVEL_RELAY);
  p = g_ptr_array_index (c->permissions, 3);
  g_assert_cmpstr (p->key, ==, "@admin:localhost");
  g_assert_cmpint (p->level, ==, PA_LEVEL_ADMIN);
}

static void
test_example_round_trip (TmpDir *t, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = g_build_filename (t->path, "config.yaml", NULL);
  g_assert_true (pa_config_write_example (path, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (file_mode (path), ==, 0600);

  g_autofree char *text = read_file (path);
  g_assert_cmpstr (text, ==, pa_config_example_text ());

  g_autoptr (PaConfig) c = pa_config_load (path, &error);
  g_assert_no_error (error);
  check_example_values (c, t->path);
  g_assert_cmpstr (c->path, ==, path);
}

static void
test_example_file_identical (void)
{
  const char *root = g_getenv ("PA_SOURCE_ROOT");
  if (root == NULL)
    {
      g_test_skip ("PA_SOURCE_ROOT not set (run through meson test)");
      return;
    }
  g_autofree char *path = g_build_filename (root, "config", "example.yaml", NULL);
  g_autofree char *text = read_file (path);
  /* The text is compiled in from this very file (gen-example.py), so a
   * difference means the build is stale or the generator is wrong. */
  g_assert_cmpstr (text, ==, pa_config_example_text ());
  /* And it loads as is. */
  g_autoptr (GError) error = NULL;
  g_autoptr (PaConfig) c = pa_config_load (path, &error);
  g_assert_no_error (error);
  g_autofree char *dir = g_path_get_dirname (c->path);
  check_example_values (c, dir);
}

static void
test_defaults (void)
{
  g_autoptr (PaConfig) c = load_ok (MINIMAL);
  g_assert_cmpstr (c->hs_address, ==, "http://127.0.0.1:8008");
  g_assert_cmpstr (c->hs_domain, ==, "localhost");
  g_assert_cmpstr (c->as_id, ==, "passerelle");
  g_assert_cmpstr (c->as_address, ==, "http://127.0.0.1:29340");
  g_assert_cmpstr (c->as_bind, ==, "127.0.0.1");
  g_assert_cmpuint (c->as_port, ==, 29340);
  g_assert_null (c->as_token);
  g_assert_null (c->hs_token);
  g_assert_cmpstr (c->bot_localpart, ==, "passerelle");
  g_assert_cmpstr (c->bot_displayname, ==, "Passerelle");
  g_assert_cmpstr (c->bot_avatar, ==, "");
  g_assert_cmpstr (c->ghost_prefix, ==, "_pa_");
  g_assert_cmpstr (c->database, ==, "/etc/pa/passerelle.db");
  g_assert_cmpstr (c->data_dir, ==, "/etc/pa/data");
  g_assert_cmpstr (c->plugin_dir, ==, PA_PLUGIN_DIR);
  g_assert_true (c->encryption_default);
  g_assert_cmpstr (c->history_visibility, ==, "invited");
  g_assert_cmpstr (c->command_prefix, ==, "!pa");
  g_assert_cmpint (c->max_body_bytes, ==, 32 * 1024 * 1024);
  g_assert_cmpint (c->max_media_bytes, ==, 100 * 1024 * 1024);
  g_assert_cmpuint (c->max_events_per_txn, ==, 1000);
  g_assert_cmpuint (c->worker_restart_max_delay_s, ==, 60);
  g_assert_cmpuint (c->ministries->len, ==, 0);
  /* No permissions section: the homeserver's own users are "user". */
  g_assert_cmpuint (c->permissions->len, ==, 1);
  g_assert_cmpint (pa_config_level_for (c, "@bob:localhost"), ==, PA_LEVEL_USER);
  g_assert_cmpint (pa_config_level_for (c, "@bob:elsewhere.org"), ==, PA_LEVEL_BLOCK);
  g_assert_null (c->path);
}

/* Null sections and values keep defaults; explicit values replace them. */
static void
test_null_sections (void)
{
  g_autoptr (PaConfig) c = load_ok (MINIMAL "appservice:\nbridge: ~\n"
                                    "limits:\n  max_body_bytes:\n  max_events_per_txn: 7\n"
                                    "  max_import_messages: 500\n  max_import_entries: 20\n"
                                    "workers: {restart_max_delay_s: 5}\n"
                                    "permissions: {}\n");
  g_assert_cmpstr (c->as_id, ==, "passerelle");
  g_assert_cmpint (c->max_body_bytes, ==, 32 * 1024 * 1024);
  g_assert_cmpuint (c->max_events_per_txn, ==, 7);
  g_assert_cmpint (c->max_import_messages, ==, 500);
  g_assert_cmpint (c->max_import_entries, ==, 20);
  g_assert_cmpuint (c->worker_restart_max_delay_s, ==, 5);
  /* An explicit empty permissions section blocks everyone. */
  g_assert_cmpuint (c->permissions->len, ==, 0);
  g_assert_cmpint (pa_config_level_for (c, "@bob:localhost"), ==, PA_LEVEL_BLOCK);
}

/* provisioning: off by default and with `disable`, on with a secret. */
static void
test_provisioning (void)
{
  g_autoptr (PaConfig) off = load_ok (MINIMAL);
  g_assert_null (off->provisioning_secret);
  g_assert_cmpstr (off->provisioning_prefix, ==, "/_matrix/provision");
  g_assert_cmpuint (off->provisioning_login_idle_s, ==, 600);
  g_autoptr (PaConfig) disabled = load_ok (MINIMAL "provisioning:\n  shared_secret: disable\n");
  g_assert_null (disabled->provisioning_secret);
  g_autoptr (PaConfig) on = load_ok (MINIMAL "provisioning:\n"
                                             "  shared_secret: 0123456789abcdef\n"
                                             "  prefix: /bridge/provision\n"
                                             "  login_idle_s: 60\n");
  g_assert_cmpstr (on->provisioning_secret, ==, "0123456789abcdef");
  g_assert_cmpstr (on->provisioning_prefix, ==, "/bridge/provision");
  g_assert_cmpuint (on->provisioning_login_idle_s, ==, 60);
}

static void
test_values (void)
{
  g_autoptr (PaConfig) c = load_ok (
    "homeserver:\n"
    "  address: https://matrix.example.org/\n"
    "  domain: example.org\n"
    "appservice:\n"
    "  id: pa2\n"
    "  address: http://bridge:1234\n"
    "  bind: 0.0.0.0\n"
    "  port: 1234\n"
    "  as_token: AAA\n"
    "  hs_token: 'BBB'\n"
    "  bot: {localpart: bridgebot, displayname: \"Bot \\u00e9\", avatar: mxc://a/b}\n"
    "  ghost_prefix: g.\n"
    "database: /var/lib/pa/pa.db\n"
    "bridge:\n"
    "  encryption_default: no\n"
    "  history_visibility: joined\n"
    "  command_prefix: '!br'\n"
    "  presence: yes\n"
    "limits: {max_body_bytes: 2048, max_media_bytes: 4096, max_events_per_txn: 10}\n");
  g_assert_cmpstr (c->hs_address, ==, "https://matrix.example.org");
  g_assert_cmpstr (c->as_id, ==, "pa2");
  g_assert_cmpstr (c->as_address, ==, "http://bridge:1234");
  g_assert_cmpstr (c->as_bind, ==, "0.0.0.0");
  g_assert_cmpuint (c->as_port, ==, 1234);
  g_assert_cmpstr (c->as_token, ==, "AAA");
  g_assert_cmpstr (c->hs_token, ==, "BBB");
  g_assert_cmpstr (c->bot_localpart, ==, "bridgebot");
  g_assert_cmpstr (c->bot_displayname, ==, "Bot \xc3\xa9");
  g_assert_cmpstr (c->bot_avatar, ==, "mxc://a/b");
  g_assert_cmpstr (c->ghost_prefix, ==, "g.");
  g_assert_cmpstr (c->database, ==, "/var/lib/pa/pa.db");
  g_assert_false (c->encryption_default);
  g_assert_cmpstr (c->history_visibility, ==, "joined");
  g_assert_cmpstr (c->command_prefix, ==, "!br");
  g_assert_true (c->presence);
  g_assert_cmpint (c->max_body_bytes, ==, 2048);
  g_assert_cmpint (c->max_media_bytes, ==, 4096);
  g_assert_cmpuint (c->max_events_per_txn, ==, 10);
}

static void
test_unknown_key_warns (void)
{
  g_test_expect_message ("passerelle-config", G_LOG_LEVEL_WARNING,
                         "c.yaml:4: homeserver.colour: unknown key, ignored");
  g_test_expect_message ("passerelle-config", G_LOG_LEVEL_WARNING,
                         "c.yaml:6: appservice.bot.size: unknown key, ignored");
  g_test_expect_message ("passerelle-config", G_LOG_LEVEL_WARNING,
                         "c.yaml:7: future: unknown key, ignored");
  const char *text = MINIMAL "  colour: blue\nappservice:\n  bot: {size: 3}\nfuture: {a: 1}\n";
  g_autoptr (GError) error = NULL;
  g_autoptr (PaConfig) c = pa_config_load_from_data (text, strlen (text), "c.yaml", &error);
  g_assert_no_error (error);
  g_assert_nonnull (c);
  g_test_assert_expected_messages ();
}

static void
test_errors (void)
{
  static const struct
  {
    const char *yaml;
    const char *message;
  } cases[] = {
    { "homeserver:\n  domain: localhost\n", "c.yaml:2: homeserver.address: required" },
    { "homeserver:\n  address: http://h\n", "c.yaml:2: homeserver.domain: required" },
    { "", "c.yaml:1: homeserver.address: required" },
    { "- a\n- b\n", "c.yaml:1: (top level): must be a mapping, not a list" },
    { "homeserver: yes\n", "c.yaml:1: homeserver: must be a mapping, not a scalar" },
    { "homeserver:\n  address: ftp://h\n  domain: localhost\n",
      "c.yaml:2: homeserver.address: must be an http(s) URL (got \"ftp://h\")" },
    { "homeserver:\n  address: [http://h]\n  domain: localhost\n",
      "c.yaml:2: homeserver.address: must be a string, not a list" },
    { "homeserver:\n  address: http://h\n  domain: bad_domain!\n",
      "c.yaml:3: homeserver.domain: \"bad_domain!\" is not a valid server name" },
    { MINIMAL "appservice:\n  address: not a url\n",
      "c.yaml:5: appservice.address: must be an http(s) URL (got \"not a url\")" },
    { MINIMAL "appservice:\n  port: 70000\n",
      "c.yaml:5: appservice.port: must be between 1 and 65535 (got 70000)" },
    { MINIMAL "appservice:\n  port: \"29340\"\n", "c.yaml:5: appservice.port: must be an integer" },
    { MINIMAL "appservice:\n  port: 12ab\n", "c.yaml:5: appservice.port: must be an integer" },
    { MINIMAL "appservice:\n  as_token: same\n  hs_token: same\n",
      "c.yaml:6: appservice.hs_token: must differ from as_token" },
    { MINIMAL "appservice:\n  ghost_prefix: 'Ab '\n",
      "c.yaml:5: appservice.ghost_prefix: must be a Matrix localpart prefix (a-z, 0-9 and "
      "._=-/+)" },
    { MINIMAL "appservice:\n  bot:\n    avatar: http://x/y.png\n",
      "c.yaml:6: appservice.bot.avatar: must be an mxc:// URI or empty" },
    { MINIMAL "bridge:\n  encryption_default: \"true\"\n",
      "c.yaml:5: bridge.encryption_default: must be true or false" },
    { MINIMAL "bridge:\n  history_visibility: everyone\n",
      "c.yaml:5: bridge.history_visibility: must be one of invited, joined, shared, "
      "world_readable" },
    { MINIMAL "limits:\n  max_body_bytes: -1\n",
      "c.yaml:5: limits.max_body_bytes: must not be negative (got -1)" },
    { MINIMAL "limits:\n  max_events_per_txn: -5\n",
      "c.yaml:5: limits.max_events_per_txn: must not be negative (got -5)" },
    { MINIMAL "workers:\n  restart_max_delay_s: 0\n",
      "c.yaml:5: workers.restart_max_delay_s: must be between 1 and 86400 (got 0)" },
    { MINIMAL "database: ''\n", "c.yaml:4: database: must not be empty" },
    { MINIMAL "ministries:\n  - name: a\n    domains: [a.fr]\n  - name: a\n    domains: [b.fr]\n",
      "c.yaml:7: ministries[1].name: duplicate ministry name \"a\"" },
    { MINIMAL "ministries:\n  - name: a\n    domains: [a.fr]\n  - name: b\n    domains: [A.fr]\n",
      "c.yaml:8: ministries[1].domains: domain \"A.fr\" already belongs to ministry \"a\"" },
    { MINIMAL "ministries:\n  - name: a\n    domains: [a.fr]\n    plugins: [whatsapp, Tele-gram]\n",
      "c.yaml:7: ministries[0].plugins[1]: \"Tele-gram\" is not a plugin name ([a-z0-9]+)" },
    { MINIMAL "ministries:\n  - name: a\n    domains: [a.fr]\n    plugins: [x, x]\n",
      "c.yaml:7: ministries[0].plugins[1]: \"x\" is listed twice" },
    { MINIMAL "ministries:\n  - name: a\n", "c.yaml:5: ministries[0].domains: at least one "
      "domain is required" },
    { MINIMAL "ministries:\n  - domains: [a.fr]\n", "c.yaml:5: ministries[0].name: required" },
    { MINIMAL "ministries:\n  - name: Économie\n    domains: [a.fr]\n",
      "c.yaml:5: ministries[0].name: must match [a-z0-9_-]+" },
    { MINIMAL "ministries: {name: a}\n", "c.yaml:4: ministries: must be a list, not a mapping" },
    { MINIMAL "permissions:\n  \"*\": relay\n  \"bob\": user\n  not a domain: user\n",
      "c.yaml:7: permissions.not a domain: key must be \"*\", a domain or an @localpart:domain "
      "user ID" },
    { MINIMAL "permissions:\n  \"@:localhost\": admin\n",
      "c.yaml:5: permissions.@:localhost: key must be \"*\", a domain or an @localpart:domain "
      "user ID" },
    { MINIMAL "permissions:\n  localhost: superuser\n",
      "c.yaml:5: permissions.localhost: level must be one of block, relay, user, admin" },
    { MINIMAL "permissions: [localhost]\n",
      "c.yaml:4: permissions: must be a mapping, not a list" },
    { MINIMAL "  address: http://other\n", "c.yaml:4: address: duplicate key" },
    { MINIMAL "bridge: {a: [}\n", "c.yaml:4: YAML syntax error: did not find expected node "
      "content while parsing a flow node" },
    { MINIMAL "---\na: 1\n", "c.yaml:4: only one YAML document is allowed" },
    { MINIMAL "bridge: &b {}\n", "c.yaml:4: anchors and aliases are not allowed" },
    { MINIMAL "{a: 1}: 2\n", "c.yaml:4: mapping keys must be plain strings" },
    { MINIMAL "bridge:\n  command_prefix: \"a\\0b\"\n",
      "c.yaml:5: strings must not contain NUL characters" },
    { MINIMAL "bridge: \"\xff\"\n", "c.yaml:4: not valid UTF-8 text" },
    { MINIMAL "provisioning:\n  shared_secret: short\n",
      "c.yaml:5: provisioning.shared_secret: must be `disable` or at least 16 printable "
      "characters without spaces" },
    { MINIMAL "provisioning:\n  prefix: /_matrix/app/v1/x\n",
      "c.yaml:5: provisioning.prefix: must be a path such as /_matrix/provision (no trailing "
      "slash, not under /_matrix/app)" },
    { MINIMAL "provisioning:\n  prefix: /_matrix/provision/\n",
      "c.yaml:5: provisioning.prefix: must be a path such as /_matrix/provision (no trailing "
      "slash, not under /_matrix/app)" },
    { MINIMAL "provisioning:\n  login_idle_s: 1\n",
      "c.yaml:5: provisioning.login_idle_s: must be between 5 and 86400 (got 1)" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_test_message ("case %u: %s", i, cases[i].yaml);
      assert_load_error (cases[i].yaml, cases[i].message);
    }
}

static void
test_errors_from_file (TmpDir *t, gconstpointer data)
{
  g_autofree char *path = write_file (t, "bad.yaml", MINIMAL "appservice:\n  port: 0\n");
  g_autoptr (GError) error = NULL;
  g_autoptr (PaConfig) c = pa_config_load (path, &error);
  g_assert_null (c);
  g_assert_error (error, PA_ERROR, PA_ERROR_CONFIG);
  g_autofree char *expected = g_strdup_printf ("%s:5: appservice.port: must be between 1 and "
                                               "65535 (got 0)", path);
  g_assert_cmpstr (error->message, ==, expected);

  g_clear_error (&error);
  g_autofree char *missing = g_build_filename (t->path, "missing.yaml", NULL);
  g_assert_null (pa_config_load (missing, &error));
  g_assert_error (error, PA_ERROR, PA_ERROR_CONFIG);
  g_assert_true (g_str_has_prefix (error->message, missing));
}

static void
test_limits (TmpDir *t, gconstpointer data)
{
  /* Billion laughs: aliases are refused before anything is expanded. */
  assert_load_error (MINIMAL "a: &a [\"lol\", \"lol\", \"lol\", \"lol\"]\n"
                             "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                             "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n",
                     "c.yaml:4: anchors and aliases are not allowed");
  assert_load_error (MINIMAL "a: *x\n", "c.yaml:4: anchors and aliases are not allowed");

  /* Nesting: 32 levels are fine, 33 are not. */
  g_autoptr (GString) deep = g_string_new (MINIMAL "x: ");
  for (int i = 0; i < 31; i++)
    g_string_append_c (deep, '[');
  for (int i = 0; i < 31; i++)
    g_string_append_c (deep, ']');
  g_string_append_c (deep, '\n');
  g_test_expect_message ("passerelle-config", G_LOG_LEVEL_WARNING, "*x: unknown key*");
  g_autoptr (PaConfig) ok = load_ok (deep->str);
  g_test_assert_expected_messages ();
  g_string_insert_c (deep, strlen (MINIMAL "x: "), '[');
  g_string_insert_c (deep, deep->len - 1, ']');
  assert_load_error (deep->str, "c.yaml:4: nested deeper than 32 levels");

  /* Node count. */
  g_autoptr (GString) many = g_string_new (MINIMAL "x: [");
  for (int i = 0; i < 10001; i++)
    g_string_append (many, "1,");
  g_string_append (many, "1]\n");
  assert_load_error (many->str, "c.yaml:4: too many YAML nodes (at most 10000)");

  /* File size, from memory and from a file. */
  gsize big_len = 1024 * 1024 + 1;
  g_autofree char *big = g_malloc (big_len + 1);
  memset (big, '#', big_len);
  big[big_len] = '\0';
  assert_load_error (big, "c.yaml:1: file too large (1048577 bytes, at most 1048576)");
  g_autofree char *path = write_file (t, "big.yaml", big);
  g_autoptr (GError) error = NULL;
  g_assert_null (pa_config_load (path, &error));
  g_assert_error (error, PA_ERROR, PA_ERROR_CONFIG);
  g_assert_nonnull (strstr (error->message, "file too large"));
}

static void
test_relative_paths (TmpDir *t, gconstpointer data)
{
  g_autofree char *sub = g_build_filename (t->path, "etc", NULL);
  g_assert_cmpint (g_mkdir (sub, 0700), ==, 0);
  g_autofree char *path = write_file (t, "etc/config.yaml",
                                      MINIMAL "database: db/pa.db\ndata_dir: ../var/data\n"
                                              "plugin_dir: ./plugins\n");
  g_autoptr (GError) error = NULL;
  g_autoptr (PaConfig) c = pa_config_load (path, &error);
  g_assert_no_error (error);
  g_autofree char *db = g_build_filename (t->path, "etc", "db", "pa.db", NULL);
  g_autofree char *dd = g_build_filename (t->path, "var", "data", NULL);
  g_autofree char *pd = g_build_filename (t->path, "etc", "plugins", NULL);
  g_assert_cmpstr (c->database, ==, db);
  g_assert_cmpstr (c->data_dir, ==, dd);
  g_assert_cmpstr (c->plugin_dir, ==, pd);
  g_assert_cmpstr (c->path, ==, path);

  /* A relative config path is made absolute against the working directory. */
  g_autofree char *cwd = g_get_current_dir ();
  g_assert_cmpint (g_chdir (t->path), ==, 0);
  g_autoptr (PaConfig) r = pa_config_load ("etc/config.yaml", &error);
  g_assert_cmpint (g_chdir (cwd), ==, 0);
  g_assert_no_error (error);
  g_assert_cmpstr (r->database, ==, db);
  g_assert_cmpstr (r->path, ==, path);

  /* "sqlite:PATH" is that path, resolved the same; a PostgreSQL URI is kept */
  g_autofree char *lite = write_file (t, "etc/lite.yaml", MINIMAL "database: sqlite:db/pa.db\n");
  g_autoptr (PaConfig) l = pa_config_load (lite, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (l->database, ==, db);
  g_autofree char *pg = write_file (
      t, "etc/pg.yaml", MINIMAL "database: postgresql://pa:secret@db.example:5432/pa\n");
  g_autoptr (PaConfig) p = pa_config_load (pg, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (p->database, ==, "postgresql://pa:secret@db.example:5432/pa");
}

/* Runs pa_config_write_registration on `before` and checks the config file
 * becomes `expected`, where AS and HS stand for the generated tokens. */
static void
check_write_back (TmpDir *t, const char *before, const char *expected_template)
{
  g_autofree char *path = write_file (t, "config.yaml", before);
  g_autofree char *reg = g_build_filename (t->path, "registration.yaml", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (PaConfig) c = pa_config_load (path, &error);
  g_assert_no_error (error);
  g_assert_true (pa_config_write_registration (c, reg, &error));
  g_assert_no_error (error);
  g_assert_nonnull (c->as_token);
  g_assert_nonnull (c->hs_token);
  g_assert_cmpstr (c->as_token, !=, c->hs_token);
  g_assert_cmpuint (strlen (c->as_token), ==, 43); /* 32 bytes, unpadded base64 */

  /* The placeholders with their quotes: a token may itself hold "HS". */
  g_autoptr (GString) expected = g_string_new (expected_template);
  g_autofree char *as_quoted = g_strdup_printf ("\"%s\"", c->as_token);
  g_autofree char *hs_quoted = g_strdup_printf ("\"%s\"", c->hs_token);
  g_string_replace (expected, "\"HS\"", hs_quoted, 1);
  g_string_replace (expected, "\"AS\"", as_quoted, 1);
  g_autofree char *after = read_file (path);
  g_assert_cmpstr (after, ==, expected->str);
  g_assert_cmpuint (file_mode (path), ==, 0600);
  g_assert_cmpuint (file_mode (reg), ==, 0600);

  /* The stored tokens load back, and a second run changes nothing. */
  g_autoptr (PaConfig) again = pa_config_load (path, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (again->as_token, ==, c->as_token);
  g_assert_cmpstr (again->hs_token, ==, c->hs_token);
  g_assert_true (pa_config_write_registration (again, reg, &error));
  g_assert_no_error (error);
  g_autofree char *after2 = read_file (path);
  g_assert_cmpstr (after2, ==, after);
  g_autofree char *reg_text = read_file (reg);
  g_autofree char *as_line = g_strdup_printf ("\nas_token: \"%s\"\n", c->as_token);
  g_autofree char *hs_line = g_strdup_printf ("\nhs_token: \"%s\"\n", c->hs_token);
  g_assert_nonnull (strstr (reg_text, as_line));
  g_assert_nonnull (strstr (reg_text, hs_line));
}

static void
test_tokens_inserted (TmpDir *t, gconstpointer data)
{
  /* 4-space indentation, comments everywhere, UTF-8 before the insertion point. */
  check_write_back (t,
                    "# Configuration générale — ministère\n"
                    "homeserver:\n"
                    "    address: http://127.0.0.1:8008   # café\n"
                    "    domain: localhost\n"
                    "appservice:   # the bridge itself\n"
                    "    # identifiant\n"
                    "    id: passerelle\n"
                    "    port: 29340\n"
                    "\n"
                    "bridge: {encryption_default: true}  # end\n",
                    "# Configuration générale — ministère\n"
                    "homeserver:\n"
                    "    address: http://127.0.0.1:8008   # café\n"
                    "    domain: localhost\n"
                    "appservice:   # the bridge itself\n"
                    "    as_token: \"AS\"\n"
                    "    hs_token: \"HS\"\n"
                    "    # identifiant\n"
                    "    id: passerelle\n"
                    "    port: 29340\n"
                    "\n"
                    "bridge: {encryption_default: true}  # end\n");
}

static void
test_tokens_rewritten (TmpDir *t, gconstpointer data)
{
  check_write_back (t,
                    "# réglages ✓\n" MINIMAL "appservice:\n"
                            "  id: x\n"
                            "  as_token:\n"
                            "  hs_token: \"\"   # filled by -g\n"
                            "  bot: {displayname: é}\n"
                            "# trailing comment\n",
                    "# réglages ✓\n" MINIMAL "appservice:\n"
                            "  id: x\n"
                            "  as_token: \"AS\"\n"
                            "  hs_token: \"HS\"   # filled by -g\n"
                            "  bot: {displayname: é}\n"
                            "# trailing comment\n");
}

static void
test_tokens_one_missing (TmpDir *t, gconstpointer data)
{
  /* as_token present: kept as is, hs_token inserted. */
  g_autofree char *path = write_file (t, "config.yaml",
                                      MINIMAL "appservice:\n  as_token: keep-me\n  id: x\n");
  g_autofree char *reg = g_build_filename (t->path, "reg.yaml", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (PaConfig) c = pa_config_load (path, &error);
  g_assert_no_error (error);
  g_assert_true (pa_config_write_registration (c, reg, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (c->as_token, ==, "keep-me");
  g_autofree char *expected = g_strdup_printf (MINIMAL "appservice:\n  hs_token: \"%s\"\n"
                                                       "  as_token: keep-me\n  id: x\n",
                                               c->hs_token);
  g_autofree char *after = read_file (path);
  g_assert_cmpstr (after, ==, expected);
}

static void
test_tokens_other_layouts (TmpDir *t, gconstpointer data)
{
  /* No appservice section, no final newline. */
  check_write_back (t, MINIMAL "database: x.db",
                    MINIMAL "database: x.db\nappservice:\n  as_token: \"AS\"\n"
                            "  hs_token: \"HS\"\n");
  /* Flow mapping. */
  check_write_back (t, MINIMAL "appservice: {id: x, port: 1234}  # flow\n",
                    MINIMAL "appservice: {as_token: \"AS\", hs_token: \"HS\", id: x, "
                            "port: 1234}  # flow\n");
  check_write_back (t, MINIMAL "appservice: {}\n",
                    MINIMAL "appservice: {as_token: \"AS\", hs_token: \"HS\"}\n");
  /* Null section. */
  check_write_back (t, MINIMAL "appservice: ~ # later\nbridge: {}\n",
                    MINIMAL "appservice:  # later\n  as_token: \"AS\"\n  hs_token: \"HS\"\n"
                            "bridge: {}\n");
  /* Last line, no newline. */
  check_write_back (t, MINIMAL "appservice:",
                    MINIMAL "appservice:\n  as_token: \"AS\"\n  hs_token: \"HS\"\n");
  /* CRLF line ends are kept. */
  check_write_back (t,
                    "homeserver:\r\n  address: http://h\r\n  domain: localhost\r\n"
                    "appservice:\r\n  id: x\r\n",
                    "homeserver:\r\n  address: http://h\r\n  domain: localhost\r\n"
                    "appservice:\r\n  as_token: \"AS\"\r\n  hs_token: \"HS\"\r\n  id: x\r\n");
}

static void
test_tokens_need_file (void)
{
  g_autoptr (PaConfig) c = load_ok (MINIMAL);
  g_autoptr (GError) error = NULL;
  g_assert_false (pa_config_write_registration (c, "/nonexistent/reg.yaml", &error));
  g_assert_error (error, PA_ERROR, PA_ERROR_CONFIG);
  g_assert_null (c->as_token);
}

/* A small libyaml document reader for checking the registration. */
static yaml_node_t *
map_get (yaml_document_t *doc, yaml_node_t *map, const char *key)
{
  g_assert_cmpint (map->type, ==, YAML_MAPPING_NODE);
  for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++)
    {
      yaml_node_t *k = yaml_document_get_node (doc, p->key);
      if (k->type == YAML_SCALAR_NODE && g_str_equal ((char *) k->data.scalar.value, key))
        return yaml_document_get_node (doc, p->value);
    }
  return NULL;
}

static const char *
scalar (yaml_node_t *n)
{
  g_assert_nonnull (n);
  g_assert_cmpint (n->type, ==, YAML_SCALAR_NODE);
  return (const char *) n->data.scalar.value;
}

static yaml_node_t *
seq_at (yaml_document_t *doc, yaml_node_t *seq, guint i)
{
  g_assert_nonnull (seq);
  g_assert_cmpint (seq->type, ==, YAML_SEQUENCE_NODE);
  g_assert_cmpint (seq->data.sequence.items.top - seq->data.sequence.items.start, >, (int) i);
  return yaml_document_get_node (doc, seq->data.sequence.items.start[i]);
}

static void
test_registration (TmpDir *t, gconstpointer data)
{
  g_autofree char *path = write_file (t, "config.yaml",
                                      "homeserver:\n"
                                      "  address: http://127.0.0.1:8008\n"
                                      "  domain: agent.finances.tchap.gouv.fr\n"
                                      "appservice:\n"
                                      "  id: pa-finances\n"
                                      "  address: http://10.0.0.2:29340\n"
                                      "  as_token: tokA\n"
                                      "  hs_token: tokH\n"
                                      "  ghost_prefix: pa.g_\n"
                                      "  bot: {localpart: passerelle}\n"
                                      "ministries:\n"
                                      "  - name: finances\n"
                                      "    domains: [agent.finances.tchap.gouv.fr]\n"
                                      "    plugins: [whatsapp, telegram]\n");
  g_autofree char *before = read_file (path);
  g_autofree char *reg = g_build_filename (t->path, "registration.yaml", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (PaConfig) c = pa_config_load (path, &error);
  g_assert_no_error (error);
  g_assert_true (pa_config_write_registration (c, reg, &error));
  g_assert_no_error (error);
  /* Tokens were present: the config file is untouched. */
  g_autofree char *after = read_file (path);
  g_assert_cmpstr (after, ==, before);

  g_autofree char *text = read_file (reg);
  g_assert_nonnull (strstr (text, "# plugin telegram: @pa.g_telegram_<id>:"
                                  "agent.finances.tchap.gouv.fr\n"));
  g_assert_nonnull (strstr (text, "# plugin whatsapp: "));

  yaml_parser_t parser;
  yaml_document_t doc;
  g_assert_true (yaml_parser_initialize (&parser));
  yaml_parser_set_input_string (&parser, (const unsigned char *) text, strlen (text));
  g_assert_true (yaml_parser_load (&parser, &doc));
  yaml_node_t *root = yaml_document_get_root_node (&doc);
  g_assert_nonnull (root);
  g_assert_cmpstr (scalar (map_get (&doc, root, "id")), ==, "pa-finances");
  g_assert_cmpstr (scalar (map_get (&doc, root, "url")), ==, "http://10.0.0.2:29340");
  g_assert_cmpstr (scalar (map_get (&doc, root, "as_token")), ==, "tokA");
  g_assert_cmpstr (scalar (map_get (&doc, root, "hs_token")), ==, "tokH");
  g_assert_cmpstr (scalar (map_get (&doc, root, "sender_localpart")), ==, "passerelle");
  g_assert_cmpstr (scalar (map_get (&doc, root, "rate_limited")), ==, "false");
  g_assert_cmpstr (scalar (map_get (&doc, root, "receive_ephemeral")), ==, "true");
  g_assert_cmpstr (scalar (map_get (&doc, root, "de.sorunome.msc2409.push_ephemeral")), ==,
                   "true");
  g_assert_cmpstr (scalar (map_get (&doc, root, "io.element.msc4190")), ==, "true");
  yaml_node_t *ns = map_get (&doc, root, "namespaces");
  yaml_node_t *users = map_get (&doc, ns, "users");
  g_assert_cmpint (users->data.sequence.items.top - users->data.sequence.items.start, ==, 2);
  yaml_node_t *bot = seq_at (&doc, users, 0);
  yaml_node_t *ghosts = seq_at (&doc, users, 1);
  g_assert_cmpstr (scalar (map_get (&doc, bot, "exclusive")), ==, "true");
  g_assert_cmpstr (scalar (map_get (&doc, bot, "regex")), ==,
                   "^@passerelle:agent\\.finances\\.tchap\\.gouv\\.fr$");
  g_assert_cmpstr (scalar (map_get (&doc, ghosts, "exclusive")), ==, "true");
  const char *ghost_re = scalar (map_get (&doc, ghosts, "regex"));
  g_assert_cmpstr (ghost_re, ==, "^@pa\\.g_.*:agent\\.finances\\.tchap\\.gouv\\.fr$");
  yaml_node_t *alias = seq_at (&doc, map_get (&doc, ns, "aliases"), 0);
  g_assert_cmpstr (scalar (map_get (&doc, alias, "exclusive")), ==, "true");
  g_assert_cmpstr (scalar (map_get (&doc, alias, "regex")), ==,
                   "^#pa\\.g_.*:agent\\.finances\\.tchap\\.gouv\\.fr$");
  yaml_node_t *rooms = map_get (&doc, ns, "rooms");
  g_assert_cmpint (rooms->type, ==, YAML_SEQUENCE_NODE);
  g_assert_true (rooms->data.sequence.items.top == rooms->data.sequence.items.start);

  /* The escaped dots really are literal. */
  g_autoptr (GRegex) re = g_regex_new (ghost_re, 0, 0, &error);
  g_assert_no_error (error);
  g_assert_true (g_regex_match (re, "@pa.g_whatsapp_33612:agent.finances.tchap.gouv.fr", 0,
                                NULL));
  g_assert_false (g_regex_match (re, "@paXg_whatsapp_33612:agent.finances.tchap.gouv.fr", 0,
                                 NULL));
  g_assert_false (g_regex_match (re, "@pa.g_x:agentXfinances.tchap.gouv.fr", 0, NULL));
  g_assert_false (g_regex_match (re, "@pa.g_x:agent.finances.tchap.gouv.fr.evil", 0, NULL));

  yaml_document_delete (&doc);
  yaml_parser_delete (&parser);
}

static void
test_permissions (void)
{
  g_autoptr (PaConfig) c = load_ok (MINIMAL "permissions:\n"
                                            "  \"@boss:agent.finances.gouv.fr\": admin\n"
                                            "  \"*\": relay\n"
                                            "  agent.finances.gouv.fr: user\n"
                                            "  \"@troll:agent.finances.gouv.fr\": block\n"
                                            "  \"@guest:other.org\": user\n"
                                            "  \"[::1]:8448\": admin\n"
                                            "  blocked.org: block\n");
  g_assert_cmpint (pa_config_level_for (c, "@boss:agent.finances.gouv.fr"), ==, PA_LEVEL_ADMIN);
  g_assert_cmpint (pa_config_level_for (c, "@alice:agent.finances.gouv.fr"), ==, PA_LEVEL_USER);
  g_assert_cmpint (pa_config_level_for (c, "@alice:AGENT.finances.gouv.fr"), ==, PA_LEVEL_USER);
  g_assert_cmpint (pa_config_level_for (c, "@troll:agent.finances.gouv.fr"), ==, PA_LEVEL_BLOCK);
  g_assert_cmpint (pa_config_level_for (c, "@guest:other.org"), ==, PA_LEVEL_USER);
  g_assert_cmpint (pa_config_level_for (c, "@other:other.org"), ==, PA_LEVEL_RELAY);
  g_assert_cmpint (pa_config_level_for (c, "@x:blocked.org"), ==, PA_LEVEL_BLOCK);
  g_assert_cmpint (pa_config_level_for (c, "@x:[::1]:8448"), ==, PA_LEVEL_ADMIN);
  /* Not a user ID: nothing, not even "*". */
  g_assert_cmpint (pa_config_level_for (c, "agent.finances.gouv.fr"), ==, PA_LEVEL_BLOCK);
  g_assert_cmpint (pa_config_level_for (c, "@nocolon"), ==, PA_LEVEL_BLOCK);
  g_assert_cmpint (pa_config_level_for (c, NULL), ==, PA_LEVEL_BLOCK);
  /* A domain key does not match a longer domain ending with it. */
  g_assert_cmpint (pa_config_level_for (c, "@a:x.agent.finances.gouv.fr"), ==, PA_LEVEL_RELAY);

  g_autoptr (PaConfig) none = load_ok (MINIMAL "permissions:\n  localhost: admin\n");
  g_assert_cmpint (pa_config_level_for (none, "@a:elsewhere.org"), ==, PA_LEVEL_BLOCK);
  g_assert_cmpint (pa_config_level_for (none, "@a:localhost"), ==, PA_LEVEL_ADMIN);

  g_assert_cmpstr (pa_level_to_string (PA_LEVEL_BLOCK), ==, "block");
  g_assert_cmpstr (pa_level_to_string (PA_LEVEL_RELAY), ==, "relay");
  g_assert_cmpstr (pa_level_to_string (PA_LEVEL_USER), ==, "user");
  g_assert_cmpstr (pa_level_to_string (PA_LEVEL_ADMIN), ==, "admin");
}

static void
test_ministries (void)
{
  g_autoptr (PaConfig) c = load_ok (MINIMAL "ministries:\n"
                                            "  - name: finances\n"
                                            "    domains: [agent.finances.tchap.gouv.fr, "
                                            "finances.example]\n"
                                            "    plugins: [whatsapp, telegram]\n"
                                            "  - name: interieur\n"
                                            "    domains:\n"
                                            "      - agent.interieur.tchap.gouv.fr\n");
  const PaMinistry *f = pa_config_ministry_for (c, "@jean.dupont-finances.gouv.fr:"
                                                   "agent.finances.tchap.gouv.fr");
  g_assert_nonnull (f);
  g_assert_cmpstr (f->name, ==, "finances");
  g_assert_true (pa_config_ministry_for (c, "@a:finances.example") == f);
  g_assert_true (pa_config_ministry_by_name (c, "finances") == f);
  const PaMinistry *i = pa_config_ministry_for (c, "@a:agent.interieur.tchap.gouv.fr");
  g_assert_nonnull (i);
  g_assert_cmpstr (i->name, ==, "interieur");
  g_assert_cmpuint (i->plugins->len, ==, 0);
  g_assert_true (pa_config_ministry_by_name (c, "interieur") == i);
  g_assert_null (pa_config_ministry_for (c, "@a:agent.culture.tchap.gouv.fr"));
  g_assert_null (pa_config_ministry_for (c, "@a:tchap.gouv.fr"));
  g_assert_null (pa_config_ministry_for (c, "agent.finances.tchap.gouv.fr"));
  g_assert_null (pa_config_ministry_for (c, NULL));
  g_assert_null (pa_config_ministry_by_name (c, "culture"));
  g_assert_null (pa_config_ministry_by_name (c, NULL));
}

/* metrics: off by default; an IP literal to bind; a port. */
static void
test_metrics_section (void)
{
  g_autoptr (PaConfig) d = load_ok (MINIMAL);
  g_assert_false (d->metrics_enabled);
  g_assert_cmpstr (d->metrics_bind, ==, "127.0.0.1");
  g_assert_cmpuint (d->metrics_port, ==, 9108);
  g_autoptr (PaConfig) c
      = load_ok (MINIMAL "metrics:\n  enabled: true\n  bind: \"::1\"\n  port: 9200\n");
  g_assert_true (c->metrics_enabled);
  g_assert_cmpstr (c->metrics_bind, ==, "::1");
  g_assert_cmpuint (c->metrics_port, ==, 9200);
  assert_load_error (MINIMAL "metrics:\n  bind: localhost\n",
                     "c.yaml:5: metrics.bind: must be an IP address to listen on (127.0.0.1, "
                     "::1, 0.0.0.0)");
  assert_load_error (MINIMAL "metrics:\n  port: 0\n",
                     "c.yaml:5: metrics.port: must be between 1 and 65535 (got 0)");
  assert_load_error (MINIMAL "metrics:\n  enabled: maybe\n",
                     "c.yaml:5: metrics.enabled: must be true or false");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/config/defaults", test_defaults);
  g_test_add_func ("/config/provisioning", test_provisioning);
  g_test_add_func ("/config/null-sections", test_null_sections);
  g_test_add_func ("/config/values", test_values);
  g_test_add_func ("/config/unknown-key-warns", test_unknown_key_warns);
  g_test_add_func ("/config/errors", test_errors);
  g_test_add_func ("/config/metrics", test_metrics_section);
  g_test_add_func ("/config/example-file-identical", test_example_file_identical);
  g_test_add_func ("/config/tokens-need-file", test_tokens_need_file);
  g_test_add_func ("/config/permissions", test_permissions);
  g_test_add_func ("/config/ministries", test_ministries);
  g_test_add ("/config/example-round-trip", TmpDir, NULL, tmp_dir_setup, test_example_round_trip,
              tmp_dir_teardown);
  g_test_add ("/config/errors-from-file", TmpDir, NULL, tmp_dir_setup, test_errors_from_file,
              tmp_dir_teardown);
  g_test_add ("/config/limits", TmpDir, NULL, tmp_dir_setup, test_limits, tmp_dir_teardown);
  g_test_add ("/config/relative-paths", TmpDir, NULL, tmp_dir_setup, test_relative_paths,
              tmp_dir_teardown);
  g_test_add ("/config/tokens-inserted", TmpDir, NULL, tmp_dir_setup, test_tokens_inserted,
              tmp_dir_teardown);
  g_test_add ("/config/tokens-rewritten", TmpDir, NULL, tmp_dir_setup, test_tokens_rewritten,
              tmp_dir_teardown);
  g_test_add ("/config/tokens-one-missing", TmpDir, NULL, tmp_dir_setup, test_tokens_one_missing,
              tmp_dir_teardown);
  g_test_add ("/config/tokens-other-layouts", TmpDir, NULL, tmp_dir_setup,
              test_tokens_other_layouts, tmp_dir_teardown);
  g_test_add ("/config/registration", TmpDir, NULL, tmp_dir_setup, test_registration,
              tmp_dir_teardown);
  return g_test_run ();
}
