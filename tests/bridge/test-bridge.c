/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Unit tests of the bridge's pure parts: ghost ids, txn ids, aliases and
 * the permission / ministry checks.  The message paths are covered end to
 * end by tests/integration against a real Synapse. */
#include "bridge/pa-bridge-object.h"
#include "bridge/pa-ghost.h"
#include "bridge/pa-policy.h"
#include "bridge/pa-portal.h"
#include "bridge/pa-queue.h"

#include <glib/gstdio.h>

typedef struct {
  char *dir;
  PaConfig *config;
  PaBridge *bridge;
} Fixture;

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  f->dir = g_dir_make_tmp ("pa-bridge-XXXXXX", &error);
  g_assert_no_error (error);
  g_autofree char *yaml = g_strdup_printf (
      "homeserver: {address: 'http://127.0.0.1:1', domain: hs.test}\n"
      "appservice: {as_token: aaaa, hs_token: bbbb, ghost_prefix: _pa_}\n"
      "database: %s/db.sqlite\n"
      "data_dir: %s/data\n"
      "ministries:\n"
      "  - {name: finances, domains: [hs.test], plugins: [loopback]}\n"
      "  - {name: culture, domains: [culture.test], plugins: []}\n"
      "permissions:\n"
      "  '*': relay\n"
      "  hs.test: user\n"
      "  culture.test: user\n"
      "  '@boss:hs.test': admin\n"
      "  '@mallory:hs.test': block\n",
      f->dir, f->dir);
  f->config = pa_config_load_from_data (yaml, strlen (yaml), "test.yaml", &error);
  g_assert_no_error (error);
  f->bridge = pa_bridge_new (f->config, "/bin/false", &error);
  g_assert_no_error (error);
  PaPluginInfo *info = g_new0 (PaPluginInfo, 1);
  info->name = g_strdup ("loopback");
  info->display_name = g_strdup ("Loopback");
  info->path = g_strdup ("/nonexistent/loopback.so");
  info->hello = json_pack ("{s:s}", "plugin", "loopback");
  g_hash_table_insert (f->bridge->plugins, info->name, info);
}

static void
rm_rf (const char *path)
{
  if (g_file_test (path, G_FILE_TEST_IS_DIR) && !g_file_test (path, G_FILE_TEST_IS_SYMLINK))
    {
      g_autoptr (GDir) d = g_dir_open (path, 0, NULL);
      const char *name;
      while (d != NULL && (name = g_dir_read_name (d)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);
          rm_rf (child);
        }
      g_assert_cmpint (g_rmdir (path), ==, 0);
    }
  else
    g_assert_cmpint (g_unlink (path), ==, 0);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  pa_bridge_free (f->bridge);
  pa_config_free (f->config);
  rm_rf (f->dir);
  g_free (f->dir);
}

static void
test_ghost_ids (Fixture *f, gconstpointer data)
{
  static const char *const ids[] = {
    "bob", "Bob", "+33 6 12 34 56 78", "jean.dupont@finances.gouv.fr", "a_b=c", "émile",
    "user/with/slash", "x:y", "=41",
  };
  for (guint i = 0; i < G_N_ELEMENTS (ids); i++)
    {
      g_autofree char *mxid = pa_ghost_mxid (f->bridge, "loopback", ids[i]);
      g_assert_true (g_str_has_prefix (mxid, "@_pa_loopback_"));
      g_assert_true (g_str_has_suffix (mxid, ":hs.test"));
      /* Only the localpart alphabet of the spec. */
      for (const char *p = mxid + 1; *p != ':'; p++)
        g_assert_true (g_ascii_islower (*p) || g_ascii_isdigit (*p) || strchr ("._=-/", *p));
      g_autofree char *plugin = NULL, *legacy = NULL;
      g_assert_true (pa_ghost_parse (f->bridge, mxid, &plugin, &legacy));
      g_assert_cmpstr (plugin, ==, "loopback");
      g_assert_cmpstr (legacy, ==, ids[i]);
      g_assert_true (pa_ghost_is_ours (f->bridge, mxid));
    }
  g_autofree char *p = NULL, *l = NULL;
  g_assert_false (pa_ghost_parse (f->bridge, "@alice:hs.test", &p, &l));
  g_assert_false (pa_ghost_parse (f->bridge, "@_pa_loopback_bob:other.test", &p, &l));
  g_assert_false (pa_ghost_parse (f->bridge, "@_pa_loopback_:hs.test", &p, &l));
  g_assert_false (pa_ghost_parse (f->bridge, "@_pa_:hs.test", &p, &l));
  g_assert_true (pa_ghost_is_ours (f->bridge, "@passerelle:hs.test"));
  g_assert_false (pa_ghost_is_ours (f->bridge, "@passerelle:other.test"));
  g_assert_false (pa_ghost_is_ours (f->bridge, NULL));
}

static void
test_txn_ids (Fixture *f, gconstpointer data)
{
  g_autofree char *a = pa_queue_txn_id ("!r:hs", "m.room.message", "x", NULL);
  g_autofree char *b = pa_queue_txn_id ("!r:hs", "m.room.message", "x", NULL);
  g_autofree char *c = pa_queue_txn_id ("!r:hs", "m.room.message", "y", NULL);
  /* Parts are separated: ("ab","c") and ("a","bc") differ. */
  g_autofree char *d = pa_queue_txn_id ("ab", "c", NULL);
  g_autofree char *e = pa_queue_txn_id ("a", "bc", NULL);
  g_assert_cmpstr (a, ==, b);
  g_assert_cmpstr (a, !=, c);
  g_assert_cmpstr (d, !=, e);
  g_assert_true (g_str_has_prefix (a, "pa."));
  g_assert_cmpuint (strlen (a), ==, 35);
  g_autofree char *al1 = pa_portal_alias_localpart (f->bridge, "loopback", "l1", "chat");
  g_autofree char *al2 = pa_portal_alias_localpart (f->bridge, "loopback", "l1", "chat");
  g_autofree char *al3 = pa_portal_alias_localpart (f->bridge, "loopback", "l2", "chat");
  g_assert_cmpstr (al1, ==, al2);
  g_assert_cmpstr (al1, !=, al3);
  g_assert_true (g_str_has_prefix (al1, "_pa_loopback_"));
}

static void
test_permissions (Fixture *f, gconstpointer data)
{
  PaBridge *b = f->bridge;
  g_autofree char *why = NULL;
  g_assert_cmpint (pa_policy_level (b, "@boss:hs.test"), ==, PA_LEVEL_ADMIN);
  g_assert_cmpint (pa_policy_level (b, "@agent:hs.test"), ==, PA_LEVEL_USER);
  g_assert_cmpint (pa_policy_level (b, "@mallory:hs.test"), ==, PA_LEVEL_BLOCK);
  g_assert_cmpint (pa_policy_level (b, "@guest:elsewhere.test"), ==, PA_LEVEL_RELAY);

  g_assert_true (pa_policy_plugin_allowed (b, "@agent:hs.test", "loopback", &why));
  g_assert_false (pa_policy_plugin_allowed (b, "@agent:hs.test", "whatsapp", &why));
  g_assert_nonnull (strstr (why, "no plugin named whatsapp"));
  g_clear_pointer (&why, g_free);
  g_assert_false (pa_policy_plugin_allowed (b, "@guest:elsewhere.test", "loopback", &why));
  g_assert_nonnull (strstr (why, "not allowed"));
  g_clear_pointer (&why, g_free);
  g_assert_false (pa_policy_plugin_allowed (b, "@agent:culture.test", "loopback", &why));
  g_assert_nonnull (strstr (why, "your ministry (culture) has not enabled loopback"));
  g_clear_pointer (&why, g_free);

  /* A run-time override wins over the configuration, both ways. */
  g_autoptr (GError) error = NULL;
  g_assert_true (pa_store_ministry_plugin_set (b->store, "finances", "loopback", FALSE, &error));
  g_assert_false (pa_policy_plugin_allowed (b, "@agent:hs.test", "loopback", &why));
  /* Disabled at run time: said so, with the way back. */
  g_assert_nonnull (strstr (why, "is disabled for your ministry (finances) by a bridge admin"));
  g_assert_nonnull (strstr (why, "`ministry enable finances loopback`"));
  g_clear_pointer (&why, g_free);
  g_assert_true (pa_store_ministry_plugin_set (b->store, "culture", "loopback", TRUE, &error));
  g_assert_true (pa_policy_plugin_allowed (b, "@agent:culture.test", "loopback", &why));
}

static void
test_missing_tokens (void)
{
  g_autoptr (GError) error = NULL;
  const char *yaml = "homeserver: {address: 'http://127.0.0.1:1', domain: hs.test}\n"
                     "database: ':memory:'\n";
  g_autoptr (PaConfig) config = pa_config_load_from_data (yaml, strlen (yaml), "t.yaml", &error);
  g_assert_no_error (error);
  PaBridge *b = pa_bridge_new (config, "/bin/false", &error);
  g_assert_null (b);
  g_assert_error (error, PA_ERROR, PA_ERROR_CONFIG);
  g_assert_nonnull (strstr (error->message, "passerelle -g"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/bridge/ghost-ids", Fixture, NULL, fixture_set_up, test_ghost_ids,
              fixture_tear_down);
  g_test_add ("/bridge/txn-ids", Fixture, NULL, fixture_set_up, test_txn_ids, fixture_tear_down);
  g_test_add ("/bridge/permissions", Fixture, NULL, fixture_set_up, test_permissions,
              fixture_tear_down);
  g_test_add_func ("/bridge/missing-tokens", test_missing_tokens);
  return g_test_run ();
}
