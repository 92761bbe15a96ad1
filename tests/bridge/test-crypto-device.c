/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The bot's encryption device at start-up (pa-bridge-crypto-device.c)
 * against a fake homeserver that does or does not have MSC4190 device
 * management: which way the device is made, how the crypto requests
 * authenticate, that the way is kept across restarts, and that a restart
 * uploads no cross-signing keys again.  The real Synapse is covered by
 * tests/integration/test_crypto_js.py. */
#include "bridge/pa-bridge-crypto-device.h"
#include "bridge/pa-bridge-crypto-ghosts.h"
#include "bridge/pa-bridge-object.h"

#include <string.h>
#include <glib/gstdio.h>
#include <libsoup/soup.h>

#define BOT "@passerelle:hs.test"
#define AS_TOKEN "aaaa"
#define DEVICE_TOKEN "device-token"

typedef struct
{
  gboolean msc4190;    /* PUT /devices creates devices */
  gboolean token_dead; /* the device token no longer works */
  GHashTable *devices; /* ids created (set) */
  guint puts, logins, whoamis, key_uploads, xs_uploads, sig_uploads;
  guint as_token_keys;     /* key requests with the as_token ... */
  guint device_token_keys; /* ... and with the device's token */
  char *device_seen;       /* ?device_id= of the key requests */
  json_t *xs;              /* cross-signing keys uploaded */
  json_t *device_sigs;     /* signatures of the device uploaded */
} Hs;

static void
reply (SoupServerMessage *msg, guint status, json_t *body)
{
  g_autofree char *text = json_dumps (body, JSON_COMPACT);

  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_COPY, text, strlen (text));
  json_decref (body);
}

static void
hs_cb (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
       gpointer user_data)
{
  Hs *hs = user_data;
  g_autoptr (GBytes) raw = soup_message_body_flatten (soup_server_message_get_request_body (msg));
  g_autoptr (json_t) body
      = json_loadb (g_bytes_get_data (raw, NULL), g_bytes_get_size (raw), 0, NULL);
  const char *auth = soup_message_headers_get_one (soup_server_message_get_request_headers (msg),
                                                   "Authorization");
  const char *user = query != NULL ? g_hash_table_lookup (query, "user_id") : NULL;
  const char *device = query != NULL ? g_hash_table_lookup (query, "device_id") : NULL;

  if (g_str_has_prefix (path, "/_matrix/client/v3/keys/"))
    {
      if (g_strcmp0 (auth, "Bearer " AS_TOKEN) == 0)
        {
          /* Masquerading: the user and an existing device are named. */
          g_assert_cmpstr (user, ==, BOT);
          g_assert_true (g_hash_table_contains (hs->devices, device));
          hs->as_token_keys++;
        }
      else
        {
          g_assert_cmpstr (auth, ==, "Bearer " DEVICE_TOKEN);
          hs->device_token_keys++;
        }
      g_free (hs->device_seen);
      hs->device_seen = g_strdup (device);
    }
  if (g_str_has_prefix (path, "/_matrix/client/v3/devices/")
      && strcmp (soup_server_message_get_method (msg), "PUT") == 0)
    {
      const char *id = path + strlen ("/_matrix/client/v3/devices/");

      hs->puts++;
      g_assert_cmpstr (auth, ==, "Bearer " AS_TOKEN);
      g_assert_cmpstr (user, ==, BOT);
      if (!hs->msc4190)
        {
          reply (msg, 404,
                 json_pack ("{s:s, s:s}", "errcode", "M_UNRECOGNIZED", "error",
                            "Unrecognized request"));
          return;
        }
      reply (msg, g_hash_table_contains (hs->devices, id) ? 200 : 201, json_object ());
      g_hash_table_add (hs->devices, g_strdup (id));
    }
  else if (strcmp (path, "/_matrix/client/v3/login") == 0)
    {
      const char *id = json_string_value (json_object_get (body, "device_id"));

      hs->logins++;
      g_assert_cmpstr (json_string_value (json_object_get (body, "type")), ==,
                       "m.login.application_service");
      if (id == NULL)
        id = "LOGINDEVICE";
      g_hash_table_add (hs->devices, g_strdup (id));
      reply (msg, 200,
             json_pack ("{s:s, s:s, s:s}", "user_id", BOT, "device_id", id, "access_token",
                        DEVICE_TOKEN));
    }
  else if (strcmp (path, "/_matrix/client/v3/account/whoami") == 0)
    {
      hs->whoamis++;
      if (g_strcmp0 (auth, "Bearer " DEVICE_TOKEN) == 0 && !hs->token_dead)
        reply (msg, 200, json_pack ("{s:s, s:s}", "user_id", BOT, "device_id", "LOGINDEVICE"));
      else
        reply (msg, 401, json_pack ("{s:s}", "errcode", "M_UNKNOWN_TOKEN"));
    }
  else if (strcmp (path, "/_matrix/client/v3/keys/upload") == 0)
    {
      hs->key_uploads++;
      reply (msg, 200,
             json_pack ("{s:{s:i}}", "one_time_key_counts", "signed_curve25519",
                        (int) json_object_size (json_object_get (body, "one_time_keys"))));
    }
  else if (strcmp (path, "/_matrix/client/v3/keys/query") == 0)
    {
      json_t *a = json_pack ("{s:{}, s:{}, s:{}, s:{}}", "master_keys", "self_signing_keys",
                             "user_signing_keys", "device_keys");

      if (hs->xs != NULL)
        {
          json_object_set (json_object_get (a, "master_keys"), BOT,
                           json_object_get (hs->xs, "master_key"));
          json_object_set (json_object_get (a, "self_signing_keys"), BOT,
                           json_object_get (hs->xs, "self_signing_key"));
          json_object_set (json_object_get (a, "user_signing_keys"), BOT,
                           json_object_get (hs->xs, "user_signing_key"));
        }
      if (hs->device_sigs != NULL)
        json_object_set (json_object_get (a, "device_keys"), BOT, hs->device_sigs);
      reply (msg, 200, a);
    }
  else if (strcmp (path, "/_matrix/client/v3/keys/device_signing/upload") == 0)
    {
      hs->xs_uploads++;
      if (hs->xs != NULL)
        json_decref (hs->xs);
      hs->xs = json_incref (body);
      reply (msg, 200, json_object ());
    }
  else if (strcmp (path, "/_matrix/client/v3/keys/signatures/upload") == 0)
    {
      hs->sig_uploads++;
      if (hs->device_sigs != NULL)
        json_decref (hs->device_sigs);
      hs->device_sigs = json_incref (json_object_get (body, BOT));
      reply (msg, 200, json_pack ("{s:{}}", "failures"));
    }
  else
    reply (msg, 404, json_pack ("{s:s}", "errcode", "M_UNRECOGNIZED"));
}

typedef struct
{
  char *dir;
  SoupServer *server;
  char *base;
  Hs hs;
  PaConfig *config;
  PaBridge *bridge;
} Fixture;

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  GSList *uris;

  f->dir = g_dir_make_tmp ("pa-crypto-device-XXXXXX", &error);
  g_assert_no_error (error);
  f->hs.devices = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  f->server = soup_server_new (NULL, NULL);
  soup_server_add_handler (f->server, NULL, hs_cb, &f->hs, NULL);
  g_assert_true (soup_server_listen_local (f->server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error));
  uris = soup_server_get_uris (f->server);
  f->base = g_strdup_printf ("http://127.0.0.1:%d", g_uri_get_port (uris->data));
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
}

/* A bridge with encryption on, over the fake homeserver, started. */
static void
start (Fixture *f)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *yaml = g_strdup_printf (
      "homeserver: {address: '%s', domain: hs.test}\n"
      "appservice: {as_token: " AS_TOKEN ", hs_token: bbbb, ghost_prefix: _pa_}\n"
      "database: %s/db.sqlite\n"
      "data_dir: %s/data\n"
      "encryption: {allow: true}\n"
      "ministries:\n"
      "  - {name: finances, domains: [hs.test], plugins: []}\n",
      f->base, f->dir, f->dir);
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  f->config = pa_config_load_from_data (yaml, strlen (yaml), "test.yaml", &error);
  g_assert_no_error (error);
  f->bridge = pa_bridge_new (f->config, "/bin/false", &error);
  g_assert_no_error (error);
  g_assert_true (pa_bridge_crypto_start (f->bridge, &error));
  pa_bridge_crypto_ghosts_start (f->bridge);
  g_assert_no_error (error);
  /* The key upload, then the cross-signing: its /keys/query is the last
   * request when nothing needs uploading. */
  while (g_get_monotonic_time () < deadline
         && (pa_crypto_pending (f->bridge->crypto->crypto) > 0 || f->hs.key_uploads == 0))
    g_main_context_iteration (NULL, FALSE);
  g_assert_cmpuint (pa_crypto_pending (f->bridge->crypto->crypto), ==, 0);
}

static void
stop (Fixture *f)
{
  g_clear_pointer (&f->bridge, pa_bridge_free);
  g_clear_pointer (&f->config, pa_config_free);
}

static char *
kv (Fixture *f, const char *key)
{
  return pa_store_kv_get (f->bridge->store, key);
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
      g_rmdir (path);
    }
  else
    g_unlink (path);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  stop (f);
  g_object_unref (f->server);
  g_hash_table_destroy (f->hs.devices);
  g_free (f->hs.device_seen);
  if (f->hs.xs != NULL)
    json_decref (f->hs.xs);
  if (f->hs.device_sigs != NULL)
    json_decref (f->hs.device_sigs);
  rm_rf (f->dir);
  g_free (f->dir);
  g_free (f->base);
}

/* MSC4190: the device is created with PUT and used with the as_token; a
 * restart PUTs the same id again and uploads no cross-signing keys. */
static void
test_msc4190 (Fixture *f, gconstpointer data)
{
  g_autofree char *device = NULL, *mode = NULL, *token = NULL;

  f->hs.msc4190 = TRUE;
  start (f);
  device = kv (f, "crypto:device_id");
  mode = kv (f, "crypto:device_mode");
  token = kv (f, "crypto:access_token");
  g_assert_nonnull (device);
  g_assert_cmpuint (strlen (device), ==, 10);
  g_assert_cmpstr (mode, ==, "msc4190");
  g_assert_null (token);
  g_assert_cmpstr (f->bridge->crypto->device_id, ==, device);
  g_assert_true (g_hash_table_contains (f->hs.devices, device));
  g_assert_cmpuint (f->hs.puts, ==, 1);
  g_assert_cmpuint (f->hs.logins, ==, 0);
  g_assert_cmpuint (f->hs.device_token_keys, ==, 0);
  g_assert_cmpuint (f->hs.as_token_keys, >=, 3);
  g_assert_cmpstr (f->hs.device_seen, ==, device);
  g_assert_cmpuint (f->hs.xs_uploads, ==, 1);
  g_assert_cmpuint (f->hs.sig_uploads, ==, 1);

  stop (f);
  start (f);
  g_autofree char *again = kv (f, "crypto:device_id");
  g_assert_cmpstr (again, ==, device);
  g_assert_cmpuint (f->hs.puts, ==, 2);
  g_assert_cmpuint (f->hs.logins, ==, 0);
  g_assert_cmpuint (f->hs.xs_uploads, ==, 1);
  g_assert_cmpuint (f->hs.sig_uploads, ==, 1);
}

/* Without MSC4190 the bot logs in and uses the device's own token; a
 * restart keeps that token and tries nothing else. */
static void
test_login_fallback (Fixture *f, gconstpointer data)
{
  g_autofree char *mode = NULL, *token = NULL;

  f->hs.msc4190 = FALSE;
  start (f);
  mode = kv (f, "crypto:device_mode");
  token = kv (f, "crypto:access_token");
  g_assert_cmpstr (mode, ==, "login");
  g_assert_cmpstr (token, ==, DEVICE_TOKEN);
  g_assert_cmpstr (f->bridge->crypto->device_id, ==, "LOGINDEVICE");
  g_assert_cmpuint (f->hs.puts, ==, 1);
  g_assert_cmpuint (f->hs.logins, ==, 1);
  g_assert_cmpuint (f->hs.as_token_keys, ==, 0);
  g_assert_cmpuint (f->hs.device_token_keys, >=, 3);
  g_assert_cmpuint (f->hs.xs_uploads, ==, 1);
  g_assert_cmpuint (f->hs.sig_uploads, ==, 1);

  stop (f);
  start (f);
  g_assert_cmpuint (f->hs.whoamis, ==, 1); /* the first start had no token to try */
  /* A logged-in device kept from an earlier run says nothing of MSC4190:
   * whether ghosts get devices is asked with one PUT of the bot's own. */
  g_assert_cmpuint (f->hs.puts, ==, 2);
  g_assert_false (pa_bridge_crypto_ghost_devices (f->bridge->crypto));
  g_assert_cmpuint (f->hs.logins, ==, 1);
  g_assert_cmpuint (f->hs.xs_uploads, ==, 1);
  g_assert_cmpuint (f->hs.sig_uploads, ==, 1);

  /* The homeserver got MSC4190 and the token died: the same device moves
   * over to device management (no new login, no new device). */
  stop (f);
  f->hs.msc4190 = TRUE;
  f->hs.token_dead = TRUE;
  start (f);
  g_autofree char *moved = kv (f, "crypto:device_mode");
  g_assert_cmpstr (moved, ==, "msc4190");
  g_assert_cmpstr (f->bridge->crypto->device_id, ==, "LOGINDEVICE");
  g_assert_cmpuint (f->hs.puts, ==, 3);
  g_assert_cmpuint (f->hs.logins, ==, 1);
  g_assert_true (pa_bridge_crypto_ghost_devices (f->bridge->crypto));
  g_assert_cmpuint (f->hs.as_token_keys, >=, 2);
  g_assert_cmpuint (f->hs.xs_uploads, ==, 1);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/crypto-device/msc4190", Fixture, NULL, fixture_set_up, test_msc4190,
              fixture_tear_down);
  g_test_add ("/crypto-device/login-fallback", Fixture, NULL, fixture_set_up, test_login_fallback,
              fixture_tear_down);
  return g_test_run ();
}
