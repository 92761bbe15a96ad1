/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Several identities in one crypto store: the bot's device (the primary)
 * and ghosts' devices, each with its own Olm account, Olm sessions and
 * outbound Megolm sessions, sharing inbound sessions and the device cache;
 * and the migration of a store written before identities existed. */
#include "crypto/pa-crypto-store.h"
#include "crypto/pa-crypto.h"
#include "pa-common.h"

#include <glib/gstdio.h>
#include <sqlite3.h>
#include <string.h>

#define BOT "@bot:example.org"
#define BOT_DEV "BOTDEVICE"
#define GHOST "@_pa_bob:example.org"
#define GHOST_DEV "PAGHOSTDEV"
#define ROOM "!room:example.org"

static const guint8 pickle_key[32] = "0123456789abcdef0123456789abcdef";

typedef struct
{
  char *dir;
  char *db;
} Fixture;

static void
setup (Fixture *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  fx->dir = g_dir_make_tmp ("pa-identities-XXXXXX", &error);
  g_assert_no_error (error);
  fx->db = g_build_filename (fx->dir, "crypto.db", NULL);
}

static void
teardown (Fixture *fx, gconstpointer data)
{
  g_autoptr (GDir) d = g_dir_open (fx->dir, 0, NULL);
  const char *name;
  while (d && (name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *p = g_build_filename (fx->dir, name, NULL);
      g_unlink (p);
    }
  g_rmdir (fx->dir);
  g_free (fx->dir);
  g_free (fx->db);
}

static PaCrypto *
open_primary (Fixture *fx)
{
  g_autoptr (GError) error = NULL;
  PaCrypto *c = pa_crypto_new (NULL, BOT, BOT_DEV, fx->db, pickle_key, sizeof pickle_key, &error);
  g_assert_no_error (error);
  return c;
}

static guint
count_otks (json_t *body)
{
  return (guint) json_object_size (json_object_get (body, "one_time_keys"));
}

static void
test_identities (Fixture *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  PaCrypto *bot = open_primary (fx);
  PaCrypto *ghost = pa_crypto_new_identity (bot, NULL, GHOST, GHOST_DEV, &error);
  g_assert_no_error (error);
  g_autofree char *ghost_curve = g_strdup (pa_crypto_get_curve25519 (ghost));

  /* Its own account and device. */
  g_assert_cmpstr (ghost_curve, !=, pa_crypto_get_curve25519 (bot));
  g_assert_cmpstr (pa_crypto_get_device_id (ghost), ==, GHOST_DEV);
  g_assert_cmpstr (pa_crypto_get_user_id (ghost), ==, GHOST);
  g_assert_cmpint (pa_crypto_count_identities (bot), ==, 2);
  gboolean published = TRUE;
  g_autofree char *dev = pa_crypto_identity_device (bot, GHOST, &published, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (dev, ==, GHOST_DEV);
  g_assert_false (published);
  g_assert_null (pa_crypto_identity_device (bot, "@_pa_nobody:example.org", NULL, &error));
  g_assert_no_error (error);

  /* The primary cannot be opened as a ghost. */
  g_assert_null (pa_crypto_new_identity (bot, NULL, BOT, "X", &error));
  g_assert_error (error, PA_ERROR, PA_ERROR_CONFIG);
  g_clear_error (&error);

  /* Fewer one-time keys for a ghost. */
  pa_crypto_set_otk_target (ghost, 10);
  g_autoptr (json_t) body = pa_crypto_keys_upload_body (ghost, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (count_otks (body), ==, 10);
  g_autoptr (json_t) bot_body = pa_crypto_keys_upload_body (bot, 0, &error);
  g_assert_cmpuint (count_otks (bot_body), ==, PA_CRYPTO_OTK_TARGET);

  /* One outbound session per identity and room; a membership change
   * rotates them all. */
  g_autoptr (json_t) content = json_pack ("{s:s, s:s}", "msgtype", "m.text", "body", "hi");
  g_autoptr (json_t) e1 = pa_crypto_group_encrypt (bot, ROOM, "m.room.message", content, &error);
  g_assert_no_error (error);
  g_autoptr (json_t) e2 = pa_crypto_group_encrypt (ghost, ROOM, "m.room.message", content, &error);
  g_assert_no_error (error);
  g_autofree char *s1 = pa_crypto_outbound_session_id (bot, ROOM);
  g_autofree char *s2 = pa_crypto_outbound_session_id (ghost, ROOM);
  g_assert_nonnull (s1);
  g_assert_nonnull (s2);
  g_assert_cmpstr (s1, !=, s2);
  g_assert_cmpstr (json_string_value (json_object_get (e2, "sender_key")), ==, ghost_curve);
  g_assert_cmpstr (json_string_value (json_object_get (e2, "device_id")), ==, GHOST_DEV);

  /* Inbound sessions are shared: the bot decrypts what the ghost sent. */
  g_autoptr (json_t) ev
      = json_pack ("{s:s, s:s, s:s, s:I, s:O}", "type", "m.room.encrypted", "event_id", "$e2",
                   "sender", GHOST, "origin_server_ts", (json_int_t) 1, "content", e2);
  json_object_set_new (ev, "room_id", json_string (ROOM));
  g_autoptr (json_t) clear = pa_crypto_decrypt (bot, ev, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_string_value (json_object_get (json_object_get (clear, "content"), "body")),
                   ==, "hi");

  g_assert_true (pa_crypto_room_changed (bot, ROOM, &error));
  g_autofree char *gone1 = pa_crypto_outbound_session_id (bot, ROOM);
  g_autofree char *gone2 = pa_crypto_outbound_session_id (ghost, ROOM);
  g_assert_null (gone1);
  g_assert_null (gone2);

  /* Published survives a reopen; the saved device wins over a new id. */
  g_assert_true (pa_crypto_set_published (ghost, &error));
  pa_crypto_free (ghost);
  pa_crypto_free (bot);
  bot = open_primary (fx);
  ghost = pa_crypto_new_identity (bot, NULL, GHOST, "ANOTHERID", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (pa_crypto_get_device_id (ghost), ==, GHOST_DEV);
  g_assert_cmpstr (pa_crypto_get_curve25519 (ghost), ==, ghost_curve);
  g_assert_true (pa_crypto_is_published (ghost));
  pa_crypto_free (ghost);
  pa_crypto_free (bot);
}

/* A store of schema version 1 (one account, no owners) becomes the
 * primary identity's, its sessions kept. */
static void
test_migration (Fixture *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  sqlite3 *db = NULL;
  g_assert_cmpint (sqlite3_open (fx->db, &db), ==, SQLITE_OK);
  const char *v1
      = "CREATE TABLE account (id INTEGER PRIMARY KEY CHECK (id = 1), user_id TEXT NOT NULL,"
        " device_id TEXT NOT NULL, pickle TEXT NOT NULL,"
        " keys_uploaded INTEGER NOT NULL DEFAULT 0);"
        "CREATE TABLE olm_sessions (session_id TEXT PRIMARY KEY NOT NULL,"
        " sender_key TEXT NOT NULL, pickle TEXT NOT NULL, created_at INTEGER NOT NULL,"
        " last_used INTEGER NOT NULL);"
        "CREATE INDEX olm_sessions_by_key ON olm_sessions (sender_key, last_used);"
        "CREATE TABLE megolm_outbound (room_id TEXT PRIMARY KEY NOT NULL,"
        " session_id TEXT NOT NULL, pickle TEXT NOT NULL, created_at INTEGER NOT NULL,"
        " message_count INTEGER NOT NULL DEFAULT 0);"
        "CREATE TABLE megolm_outbound_shared (room_id TEXT NOT NULL, session_id TEXT NOT NULL,"
        " user_id TEXT NOT NULL, device_id TEXT NOT NULL,"
        " PRIMARY KEY (room_id, session_id, user_id, device_id)) WITHOUT ROWID;"
        "CREATE TABLE megolm_inbound (room_id TEXT NOT NULL, sender_key TEXT NOT NULL,"
        " session_id TEXT NOT NULL, sender_ed25519 TEXT, pickle TEXT NOT NULL,"
        " first_known_index INTEGER NOT NULL, created_at INTEGER NOT NULL,"
        " PRIMARY KEY (room_id, sender_key, session_id)) WITHOUT ROWID;"
        "CREATE TABLE devices (user_id TEXT NOT NULL, device_id TEXT NOT NULL,"
        " ed25519 TEXT NOT NULL, curve25519 TEXT NOT NULL, verified INTEGER NOT NULL DEFAULT 0,"
        " deleted INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (user_id, device_id)) WITHOUT ROWID;"
        "CREATE INDEX devices_by_curve ON devices (curve25519);"
        "CREATE TABLE tracked_users (user_id TEXT PRIMARY KEY NOT NULL,"
        " dirty INTEGER NOT NULL DEFAULT 1) WITHOUT ROWID;"
        "CREATE TABLE seen_indexes (session_id TEXT NOT NULL, msg_index INTEGER NOT NULL,"
        " event_id TEXT NOT NULL, ts INTEGER NOT NULL,"
        " PRIMARY KEY (session_id, msg_index)) WITHOUT ROWID;"
        "INSERT INTO account VALUES (1, '" BOT "', '" BOT_DEV "', 'PICKLE', 1);"
        "INSERT INTO olm_sessions VALUES ('S1', 'PEERKEY', 'OLMPICKLE', 1, 1);"
        "INSERT INTO megolm_outbound VALUES ('" ROOM "', 'M1', 'MPICKLE', 5, 3);"
        "PRAGMA user_version = 1;";
  g_assert_cmpint (sqlite3_exec (db, v1, NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);

  g_autoptr (PaCryptoStore) store = pa_crypto_store_open (fx->db, &error);
  g_assert_no_error (error);
  g_assert_cmpint (pa_crypto_store_schema_version (store), >=, 2);
  g_autofree char *user = NULL, *device = NULL;
  gboolean uploaded = FALSE, published = FALSE;
  g_autofree char *pickle
      = pa_crypto_store_load_identity (store, NULL, &user, &device, &uploaded, &published, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (pickle, ==, "PICKLE");
  g_assert_cmpstr (user, ==, BOT);
  g_assert_cmpstr (device, ==, BOT_DEV);
  g_assert_true (uploaded);
  g_assert_true (published);
  g_autoptr (GPtrArray) olm = pa_crypto_store_olm_sessions (store, BOT, "PEERKEY", 5, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (olm->len, ==, 1);
  g_autoptr (GPtrArray) none = pa_crypto_store_olm_sessions (store, GHOST, "PEERKEY", 5, &error);
  g_assert_cmpuint (none->len, ==, 0);
  g_autoptr (PaCryptoOutbound) o = pa_crypto_store_get_outbound (store, BOT, ROOM, &error);
  g_assert_no_error (error);
  g_assert_nonnull (o);
  g_assert_cmpstr (o->session_id, ==, "M1");
  g_assert_cmpuint (o->message_count, ==, 3);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/identities/several", Fixture, NULL, setup, test_identities, teardown);
  g_test_add ("/identities/migration", Fixture, NULL, setup, test_migration, teardown);
  return g_test_run ();
}
