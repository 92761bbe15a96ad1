/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* PaCrypto against a "fake client device": a second Olm account driven
 * directly with libolm in this file, playing the Matrix user's client.
 * The async tests add a SoupServer on 127.0.0.1 playing the homeserver's
 * keys endpoints, in the same main loop. */
#define G_LOG_DOMAIN "passerelle-test-crypto"

#include "../pa-test-db.h"
#include "crypto/pa-canonical-json.h"
#include "crypto/pa-crypto.h"
#include "crypto/pa-crypto-store.h"
#include "crypto/pa-olm.h"
#include "pa-common.h"

#include <string.h>
#include <sys/stat.h>
#include <glib/gstdio.h>
#include <libsoup/soup.h>
#include <olm/olm.h>
#include <olm/inbound_group_session.h>
#include <olm/outbound_group_session.h>

#define BOT "@bot:example.org"
#define BOT_DEV "BOTDEVICE"
#define ALICE "@alice:example.org"
#define ALICE_DEV "ALICEPHONE"
#define ROOM "!room:example.org"
#define ROOM2 "!other-room:example.org"
#define ROOM3 "!third-room:example.org"
#define CAROL "@carol:example.org"
#define CAROL_DEV "CAROLTABLET"

static const guint8 pickle_key[32] = "0123456789abcdef0123456789abcdef";

/* ------------------------------------------------------------------ */
/* Fake client device: plain libolm                                    */

typedef struct {
  OlmAccount *acc;
  char *user_id, *device_id, *curve, *ed;
  OlmSession *session;            /* with the bot, once made */
  OlmInboundGroupSession *inbound; /* the bot's room key, once received */
  OlmOutboundGroupSession *outbound;
} Fake;

static void
rnd (void *buf, gsize len)
{
  g_assert_true (len < 4096);
  for (gsize i = 0; i < len; i++)
    ((guint8 *) buf)[i] = (guint8) g_random_int ();
}

static Fake *
fake_new (const char *user_id, const char *device_id)
{
  Fake *f = g_new0 (Fake, 1);
  gsize rl;
  g_autofree void *r = NULL;
  char keys[256];
  size_t n;
  g_autoptr (json_t) j = NULL;

  f->acc = olm_account (g_malloc (olm_account_size ()));
  rl = olm_create_account_random_length (f->acc);
  r = g_malloc (rl);
  rnd (r, rl);
  g_assert_cmpuint (olm_create_account (f->acc, r, rl), !=, olm_error ());
  n = olm_account_identity_keys (f->acc, keys, sizeof keys);
  g_assert_cmpuint (n, !=, olm_error ());
  j = json_loadb (keys, n, 0, NULL);
  f->curve = g_strdup (json_string_value (json_object_get (j, "curve25519")));
  f->ed = g_strdup (json_string_value (json_object_get (j, "ed25519")));
  f->user_id = g_strdup (user_id);
  f->device_id = g_strdup (device_id);
  return f;
}

static void
fake_free (Fake *f)
{
  olm_clear_account (f->acc);
  g_free (f->acc);
  if (f->session != NULL)
    {
      olm_clear_session (f->session);
      g_free (f->session);
    }
  if (f->inbound != NULL)
    {
      olm_clear_inbound_group_session (f->inbound);
      g_free (f->inbound);
    }
  if (f->outbound != NULL)
    {
      olm_clear_outbound_group_session (f->outbound);
      g_free (f->outbound);
    }
  g_free (f->user_id);
  g_free (f->device_id);
  g_free (f->curve);
  g_free (f->ed);
  g_free (f);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Fake, fake_free)

static void
fake_sign (Fake *f, json_t *obj)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *text = pa_canonical_json_for_signing (obj, &error);
  char sig[128];
  size_t n;
  g_autofree char *key_id = g_strconcat ("ed25519:", f->device_id, NULL);

  g_assert_no_error (error);
  n = olm_account_sign (f->acc, text, strlen (text), sig, sizeof sig);
  g_assert_cmpuint (n, !=, olm_error ());
  json_object_set_new (obj, "signatures",
                       json_pack ("{s:{s:s%}}", f->user_id, key_id, sig, n));
}

static json_t *
fake_device_keys (Fake *f)
{
  g_autofree char *ck = g_strconcat ("curve25519:", f->device_id, NULL);
  g_autofree char *ek = g_strconcat ("ed25519:", f->device_id, NULL);
  json_t *k = json_pack ("{s:s, s:s, s:[s, s], s:{s:s, s:s}}", "user_id", f->user_id,
                         "device_id", f->device_id, "algorithms", PA_CRYPTO_OLM_ALGORITHM,
                         PA_CRYPTO_MEGOLM_ALGORITHM, "keys", ck, f->curve, ek, f->ed);

  fake_sign (f, k);
  return k;
}

/* {"signed_curve25519:<id>": {"key", "signatures"}} for one fresh OTK. */
static json_t *
fake_claim (Fake *f)
{
  gsize rl = olm_account_generate_one_time_keys_random_length (f->acc, 1);
  g_autofree void *r = g_malloc (MAX (rl, 1));
  char buf[256];
  size_t n;
  g_autoptr (json_t) keys = NULL;
  const char *id;
  json_t *v, *out = NULL;

  rnd (r, rl);
  g_assert_cmpuint (olm_account_generate_one_time_keys (f->acc, 1, r, rl), !=, olm_error ());
  n = olm_account_one_time_keys (f->acc, buf, sizeof buf);
  g_assert_cmpuint (n, !=, olm_error ());
  olm_account_mark_keys_as_published (f->acc);
  keys = json_loadb (buf, n, 0, NULL);
  json_object_foreach (json_object_get (keys, "curve25519"), id, v)
    {
      g_autofree char *name = g_strconcat ("signed_curve25519:", id, NULL);
      json_t *k = json_pack ("{s:O}", "key", v);

      fake_sign (f, k);
      out = json_pack ("{s:o}", name, k);
    }
  g_assert_nonnull (out);
  return out;
}

/* Decrypts an Olm to-device content from the bot; returns the payload. */
static json_t *
fake_olm_decrypt (Fake *f, json_t *content)
{
  json_t *mine = json_object_get (json_object_get (content, "ciphertext"), f->curve);
  const char *body = json_string_value (json_object_get (mine, "body"));
  const char *sender_key = json_string_value (json_object_get (content, "sender_key"));
  int type = (int) json_integer_value (json_object_get (mine, "type"));
  g_autofree char *copy = NULL;
  g_autofree char *plain = NULL;
  size_t max, n;

  g_assert_nonnull (body);
  g_assert_cmpstr (json_string_value (json_object_get (content, "algorithm")), ==,
                   PA_CRYPTO_OLM_ALGORITHM);
  if (f->session == NULL)
    {
      g_assert_cmpint (type, ==, 0);
      f->session = olm_session (g_malloc (olm_session_size ()));
      copy = g_strdup (body);
      g_assert_cmpuint (olm_create_inbound_session_from (f->session, f->acc, sender_key,
                                                         strlen (sender_key), copy,
                                                         strlen (copy)),
                        !=, olm_error ());
      g_assert_cmpuint (olm_remove_one_time_keys (f->acc, f->session), !=, olm_error ());
      g_clear_pointer (&copy, g_free);
    }
  copy = g_strdup (body);
  max = olm_decrypt_max_plaintext_length (f->session, type, copy, strlen (copy));
  g_assert_cmpuint (max, !=, olm_error ());
  g_free (copy);
  copy = g_strdup (body);
  plain = g_malloc (max + 1);
  n = olm_decrypt (f->session, type, copy, strlen (copy), plain, max);
  g_assert_cmpuint (n, !=, olm_error ());
  return json_loadb (plain, n, 0, NULL);
}

/* Olm-encrypts `type`/`content` from the fake to the bot (an outbound
 * session from `otk` if none yet); returns the to-device event. */
static json_t *
fake_olm_encrypt (Fake *f, PaCrypto *crypto, const char *otk, const char *type, json_t *content)
{
  g_autoptr (json_t) payload = NULL;
  g_autofree char *text = NULL, *random = NULL, *msg = NULL;
  gsize rl, ml;
  size_t n;
  int mtype;

  if (f->session == NULL)
    {
      g_assert_nonnull (otk);
      f->session = olm_session (g_malloc (olm_session_size ()));
      rl = olm_create_outbound_session_random_length (f->session);
      random = g_malloc (rl);
      rnd (random, rl);
      g_assert_cmpuint (olm_create_outbound_session (f->session, f->acc,
                                                     pa_crypto_get_curve25519 (crypto),
                                                     strlen (pa_crypto_get_curve25519 (crypto)),
                                                     otk, strlen (otk), random, rl),
                        !=, olm_error ());
      g_clear_pointer (&random, g_free);
    }
  payload = json_pack ("{s:s, s:O, s:s, s:s, s:{s:s}, s:s, s:{s:s}}", "type", type, "content",
                       content, "sender", f->user_id, "sender_device", f->device_id, "keys",
                       "ed25519", f->ed, "recipient", BOT, "recipient_keys", "ed25519",
                       pa_crypto_get_ed25519 (crypto));
  text = json_dumps (payload, JSON_COMPACT);
  rl = olm_encrypt_random_length (f->session);
  random = g_malloc (MAX (rl, 1));
  rnd (random, rl);
  ml = olm_encrypt_message_length (f->session, strlen (text));
  msg = g_malloc (ml + 1);
  mtype = (int) olm_encrypt_message_type (f->session);
  n = olm_encrypt (f->session, text, strlen (text), random, rl, msg, ml);
  g_assert_cmpuint (n, !=, olm_error ());
  msg[n] = '\0';
  return json_pack ("{s:s, s:s, s:{s:s, s:s, s:{s:{s:i, s:s}}}}", "type", "m.room.encrypted",
                    "sender", f->user_id, "content", "algorithm", PA_CRYPTO_OLM_ALGORITHM,
                    "sender_key", f->curve, "ciphertext", pa_crypto_get_curve25519 (crypto),
                    "type", mtype, "body", msg);
}

/* Takes the room key the bot sent this fake (from a /sendToDevice body). */
static void
fake_take_room_key (Fake *f, json_t *messages)
{
  json_t *content = json_object_get (json_object_get (messages, f->user_id), f->device_id);
  g_autoptr (json_t) payload = NULL;
  json_t *rk;
  const char *key;

  g_assert_nonnull (content);
  payload = fake_olm_decrypt (f, content);
  g_assert_cmpstr (json_string_value (json_object_get (payload, "type")), ==, "m.room_key");
  g_assert_cmpstr (json_string_value (json_object_get (payload, "recipient")), ==, f->user_id);
  g_assert_cmpstr (json_string_value (json_object_get (payload, "sender")), ==, BOT);
  g_assert_cmpstr (json_string_value (
                       json_object_get (json_object_get (payload, "recipient_keys"), "ed25519")),
                   ==, f->ed);
  rk = json_object_get (payload, "content");
  g_assert_cmpstr (json_string_value (json_object_get (rk, "room_id")), ==, ROOM);
  key = json_string_value (json_object_get (rk, "session_key"));
  g_assert_nonnull (key);
  if (f->inbound != NULL)
    {
      olm_clear_inbound_group_session (f->inbound);
      g_free (f->inbound);
    }
  f->inbound = olm_inbound_group_session (g_malloc (olm_inbound_group_session_size ()));
  g_assert_cmpuint (olm_init_inbound_group_session (f->inbound, (const guint8 *) key,
                                                    strlen (key)),
                    !=, olm_error ());
}

/* Decrypts a megolm content from the bot; returns the payload. */
static json_t *
fake_group_decrypt (Fake *f, json_t *content, guint32 *index)
{
  const char *ct = json_string_value (json_object_get (content, "ciphertext"));
  g_autofree char *copy = g_strdup (ct);
  g_autofree guint8 *plain = NULL;
  size_t max, n;
  uint32_t idx = 0;

  g_assert_nonnull (f->inbound);
  max = olm_group_decrypt_max_plaintext_length (f->inbound, (guint8 *) copy, strlen (copy));
  g_assert_cmpuint (max, !=, olm_error ());
  g_free (copy);
  copy = g_strdup (ct);
  plain = g_malloc (max);
  n = olm_group_decrypt (f->inbound, (guint8 *) copy, strlen (copy), plain, max, &idx);
  g_assert_cmpuint (n, !=, olm_error ());
  if (index != NULL)
    *index = idx;
  return json_loadb ((const char *) plain, n, 0, NULL);
}

/* The fake's own megolm session: the m.room_key content to send the bot. */
static json_t *
fake_start_group (Fake *f)
{
  gsize rl;
  g_autofree void *r = NULL;
  char id[128], key[512];
  size_t idn, keyn;

  f->outbound = olm_outbound_group_session (g_malloc (olm_outbound_group_session_size ()));
  rl = olm_init_outbound_group_session_random_length (f->outbound);
  r = g_malloc (rl);
  rnd (r, rl);
  g_assert_cmpuint (olm_init_outbound_group_session (f->outbound, r, rl), !=, olm_error ());
  idn = olm_outbound_group_session_id (f->outbound, (guint8 *) id, sizeof id);
  keyn = olm_outbound_group_session_key (f->outbound, (guint8 *) key, sizeof key);
  g_assert_cmpuint (idn, !=, olm_error ());
  g_assert_cmpuint (keyn, !=, olm_error ());
  return json_pack ("{s:s, s:s, s:s%, s:s%}", "algorithm", PA_CRYPTO_MEGOLM_ALGORITHM,
                    "room_id", ROOM, "session_id", id, idn, "session_key", key, keyn);
}

/* A room event from the fake, megolm-encrypted for ROOM. */
static json_t *
fake_group_event (Fake *f, const char *event_id, const char *room_id, const char *body)
{
  g_autoptr (json_t) payload = json_pack ("{s:s, s:{s:s, s:s}, s:s}", "type", "m.room.message",
                                          "content", "msgtype", "m.text", "body", body,
                                          "room_id", room_id);
  g_autofree char *text = json_dumps (payload, JSON_COMPACT);
  gsize ml = olm_group_encrypt_message_length (f->outbound, strlen (text));
  g_autofree char *msg = g_malloc (ml + 1);
  char id[128];
  size_t n, idn;

  n = olm_group_encrypt (f->outbound, (guint8 *) text, strlen (text), (guint8 *) msg, ml);
  g_assert_cmpuint (n, !=, olm_error ());
  msg[n] = '\0';
  idn = olm_outbound_group_session_id (f->outbound, (guint8 *) id, sizeof id);
  return json_pack ("{s:s, s:s, s:s, s:s, s:I, s:{s:s, s:s, s:s, s:s%, s:s}}", "type",
                    "m.room.encrypted", "event_id", event_id, "room_id", ROOM, "sender",
                    f->user_id, "origin_server_ts", (json_int_t) 1700000000000, "content",
                    "algorithm", PA_CRYPTO_MEGOLM_ALGORITHM, "sender_key", f->curve,
                    "ciphertext", msg, "session_id", id, idn, "device_id", f->device_id);
}

/* ------------------------------------------------------------------ */
/* Fixture: a temp dir and a PaCrypto without homeserver               */

typedef struct {
  char *dir;
  char *db;
  PaCrypto *crypto;
} Fixture;

/* The PostgreSQL database of this run, NULL when the run is SQLite's. */
static const char *pg_uri;

static void
fixture_setup (Fixture *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  fx->dir = g_dir_make_tmp ("pa-crypto-XXXXXX", &error);
  g_assert_no_error (error);
  if (pg_uri != NULL)
    {
      pa_test_db_pg_reset (pg_uri);
      fx->db = g_strdup (pg_uri);
    }
  else
    fx->db = g_build_filename (fx->dir, "sub", "crypto.db", NULL);
  fx->crypto = pa_crypto_new (NULL, BOT, BOT_DEV, fx->db, pickle_key, sizeof pickle_key, &error);
  g_assert_no_error (error);
  g_assert_nonnull (fx->crypto);
}

static void
rm_rf (const char *path)
{
  g_autoptr (GDir) d = g_dir_open (path, 0, NULL);
  const char *name;

  if (d == NULL)
    {
      g_unlink (path);
      return;
    }
  while ((name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      rm_rf (child);
    }
  g_rmdir (path);
}

static void
fixture_teardown (Fixture *fx, gconstpointer data)
{
  pa_crypto_free (fx->crypto);
  rm_rf (fx->dir);
  g_free (fx->db);
  g_free (fx->dir);
}

static void
reopen (Fixture *fx)
{
  g_autoptr (GError) error = NULL;

  pa_crypto_free (fx->crypto);
  fx->crypto = pa_crypto_new (NULL, BOT, BOT_DEV, fx->db, pickle_key, sizeof pickle_key, &error);
  g_assert_no_error (error);
}

/* Alice's device known to the bot, with an Olm session bot → Alice. */
static Fake *
alice_known (Fixture *fx, gboolean with_session)
{
  g_autoptr (GError) error = NULL;
  Fake *f = fake_new (ALICE, ALICE_DEV);
  g_autoptr (json_t) devices = json_pack ("{s:o}", ALICE_DEV, fake_device_keys (f));

  g_assert_true (pa_crypto_add_device_keys (fx->crypto, ALICE, devices, &error));
  g_assert_no_error (error);
  if (with_session)
    {
      g_autoptr (json_t) claimed = fake_claim (f);

      g_assert_true (pa_crypto_create_olm_session (fx->crypto, ALICE, ALICE_DEV, claimed,
                                                   &error));
      g_assert_no_error (error);
    }
  return f;
}

/* ------------------------------------------------------------------ */
/* Key requests                                                        */

/* An m.forwarded_room_key content for the fake's own session. */
static json_t *
fake_forward (Fake *f, json_t *rk)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PaOlmInboundGroup) g = pa_olm_inbound_group_new (
      json_string_value (json_object_get (rk, "session_key")), &error);
  g_autofree char *exported = pa_olm_inbound_group_export (g, 0, &error);

  g_assert_no_error (error);
  return json_pack ("{s:s, s:s, s:s, s:O, s:s, s:s, s:[]}", "algorithm",
                    PA_CRYPTO_MEGOLM_ALGORITHM, "room_id", ROOM, "sender_key", f->curve,
                    "session_id", json_object_get (rk, "session_id"), "session_key", exported,
                    "sender_claimed_ed25519_key", f->ed, "forwarding_curve25519_key_chain");
}

static void
test_key_request_and_forward (Fixture *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (json_t) body = pa_crypto_keys_upload_body (fx->crypto, 0, &error);
  g_autoptr (Fake) a = fake_new (ALICE, ALICE_DEV);
  g_autoptr (Fake) m = fake_new ("@mallory:example.org", "MAL");
  g_autoptr (json_t) rk = fake_start_group (a); /* never sent to the bot */
  g_autoptr (json_t) ev = fake_group_event (a, "$lost", ROOM, "lost words");
  g_autoptr (json_t) req = NULL, again = NULL, fwd = NULL, clear = NULL;
  const char *otk[2] = { NULL, NULL }, *name;
  guint n = 0;
  json_t *k;

  g_assert_true (pa_crypto_keys_uploaded (fx->crypto, &error));
  json_object_foreach (json_object_get (body, "one_time_keys"), name, k)
    if (n < 2)
      otk[n++] = json_string_value (json_object_get (k, "key"));
  g_assert_null (pa_crypto_decrypt (fx->crypto, ev, &error));
  g_assert_error (error, PA_ERROR, PA_ERROR_NOT_FOUND);
  g_clear_error (&error);

  req = pa_crypto_key_request (fx->crypto, ev, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_string_value (json_object_get (req, "action")), ==, "request");
  g_assert_cmpstr (json_string_value (json_object_get (req, "requesting_device_id")), ==,
                   BOT_DEV);
  g_assert_nonnull (json_string_value (json_object_get (req, "request_id")));
  g_assert_true (json_equal (json_object_get (json_object_get (req, "body"), "session_id"),
                             json_object_get (rk, "session_id")));
  /* Asked once, not per event. */
  again = pa_crypto_key_request (fx->crypto, ev, &error);
  g_assert_null (again);
  g_assert_no_error (error);
  /* Asked once more on purpose (an answer may be lost): the same session
   * under a new request id, and the answer is still accepted below. */
  {
    g_autoptr (json_t) more = pa_crypto_key_request_again (fx->crypto, ev, &error);
    g_assert_no_error (error);
    g_assert_nonnull (more);
    g_assert_true (json_equal (json_object_get (more, "body"), json_object_get (req, "body")));
    g_assert_cmpstr (json_string_value (json_object_get (more, "request_id")), !=,
                     json_string_value (json_object_get (req, "request_id")));
  }

  fwd = fake_forward (a, rk);
  /* Someone we did not ask forwards the key: refused. */
  {
    g_autoptr (json_t) evm = fake_olm_encrypt (m, fx->crypto, otk[1], "m.forwarded_room_key",
                                               fwd);
    g_autoptr (json_t) list = json_pack ("[O]", evm);
    g_autoptr (json_t) out = pa_crypto_handle_to_device (fx->crypto, list, &error);
    g_assert_cmpuint (json_array_size (out), ==, 0);
    g_assert_null (pa_crypto_decrypt (fx->crypto, ev, &error));
    g_clear_error (&error);
  }
  /* Alice answers: the event decrypts. */
  {
    g_autoptr (json_t) eva = fake_olm_encrypt (a, fx->crypto, otk[0], "m.forwarded_room_key",
                                               fwd);
    g_autoptr (json_t) list = json_pack ("[O]", eva);
    g_autoptr (json_t) out = pa_crypto_handle_to_device (fx->crypto, list, &error);
    g_assert_cmpuint (json_array_size (out), ==, 1);
  }
  clear = pa_crypto_decrypt (fx->crypto, ev, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_string_value (json_object_get (json_object_get (clear, "content"),
                                                       "body")),
                   ==, "lost words");
}

static void
test_answer_key_request (Fixture *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (Fake) a = alice_known (fx, TRUE);
  const char *users[] = { ALICE, NULL };
  g_autoptr (json_t) content = json_pack ("{s:s, s:s}", "msgtype", "m.text", "body", "minutes");
  g_autoptr (json_t) enc = pa_crypto_group_encrypt (fx->crypto, ROOM, "m.room.message", content,
                                                    &error);
  g_autoptr (json_t) payload = pa_crypto_room_key_payload (fx->crypto, ROOM, users, NULL, &error);
  g_autofree char *sid = NULL;
  g_autoptr (json_t) req = NULL, fwd = NULL, withheld = NULL;
  const char *code = "unset";

  g_assert_true (pa_crypto_room_key_sent (fx->crypto, ROOM, payload, &error));
  sid = pa_crypto_outbound_session_id (fx->crypto, ROOM);
  req = json_pack ("{s:s, s:{s:s, s:s, s:s, s:s}, s:s, s:s}", "action", "request", "body",
                   "algorithm", PA_CRYPTO_MEGOLM_ALGORITHM, "room_id", ROOM, "sender_key",
                   pa_crypto_get_curve25519 (fx->crypto), "session_id", sid, "request_id", "r1",
                   "requesting_device_id", ALICE_DEV);

  /* The device the session went to, still a member: gets it from index 0,
   * so it reads the message sent before the share too. */
  fwd = pa_crypto_forwarded_key (fx->crypto, ALICE, req, TRUE, &code, &error);
  g_assert_no_error (error);
  g_assert_null (code);
  g_assert_cmpstr (json_string_value (json_object_get (fwd, "sender_claimed_ed25519_key")), ==,
                   pa_crypto_get_ed25519 (fx->crypto));
  {
    g_autoptr (PaOlmInboundGroup) g = pa_olm_inbound_group_import (
        json_string_value (json_object_get (fwd, "session_key")), &error);
    gsize len = 0;
    guint32 index = 99;
    g_autofree char *plain = pa_olm_inbound_group_decrypt (
        g, json_string_value (json_object_get (enc, "ciphertext")), &len, &index, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (index, ==, 0);
    g_assert_nonnull (strstr (plain, "minutes"));
  }
  /* No longer a member: withheld. */
  g_assert_null (pa_crypto_forwarded_key (fx->crypto, ALICE, req, FALSE, &code, &error));
  g_assert_cmpstr (code, ==, "m.unauthorised");
  /* A device the session never went to (a newcomer's): withheld. */
  json_object_set_new (req, "requesting_device_id", json_string ("NEWDEVICE"));
  g_assert_null (pa_crypto_forwarded_key (fx->crypto, ALICE, req, TRUE, &code, &error));
  g_assert_cmpstr (code, ==, "m.unauthorised");
  withheld = pa_crypto_withheld_content (fx->crypto, req, code);
  g_assert_cmpstr (json_string_value (json_object_get (withheld, "code")), ==, "m.unauthorised");
  g_assert_cmpstr (json_string_value (json_object_get (withheld, "session_id")), ==, sid);
  g_assert_cmpstr (json_string_value (json_object_get (withheld, "from_device")), ==, BOT_DEV);
  json_object_set_new (req, "requesting_device_id", json_string (ALICE_DEV));
  /* After a rotation the old session is still given to its recipients. */
  g_assert_true (pa_crypto_room_changed (fx->crypto, ROOM, &error));
  {
    g_autoptr (json_t) old = pa_crypto_forwarded_key (fx->crypto, ALICE, req, TRUE, &code,
                                                      &error);
    g_assert_no_error (error);
    g_assert_nonnull (old);
  }
  /* Not our session: not ours to answer, no withheld either. */
  json_object_set_new (json_object_get (req, "body"), "sender_key", json_string (a->curve));
  g_assert_null (pa_crypto_forwarded_key (fx->crypto, ALICE, req, TRUE, &code, &error));
  g_assert_no_error (error);
  g_assert_null (code);
  /* A cancellation is not a request. */
  json_object_set_new (req, "action", json_string ("request_cancellation"));
  g_assert_null (pa_crypto_forwarded_key (fx->crypto, ALICE, req, TRUE, &code, &error));
  g_assert_error (error, PA_ERROR, PA_ERROR_JSON);
}

/* ------------------------------------------------------------------ */
/* Canonical JSON                                                      */

static void
test_canonical_json (void)
{
  /* The spec's examples (appendices, "Canonical JSON"). */
  static const char *const cases[][2] = {
    { "{}", "{}" },
    { "{\"one\": 1, \"two\": \"Two\"}", "{\"one\":1,\"two\":\"Two\"}" },
    { "{\"b\": \"2\", \"a\": \"1\"}", "{\"a\":\"1\",\"b\":\"2\"}" },
    { "{\"b\":\"2\",\"a\":\"1\"}", "{\"a\":\"1\",\"b\":\"2\"}" },
    { "{\"auth\": {\"success\": true, \"mxid\": \"@john.doe:example.com\", \"profile\": "
      "{\"display_name\": \"John Doe\", \"three_pids\": [{\"medium\": \"email\", \"address\": "
      "\"john.doe@example.org\"}, {\"medium\": \"msisdn\", \"address\": \"123456789\"}]}}}",
      "{\"auth\":{\"mxid\":\"@john.doe:example.com\",\"profile\":{\"display_name\":\"John "
      "Doe\",\"three_pids\":[{\"address\":\"john.doe@example.org\",\"medium\":\"email\"},"
      "{\"address\":\"123456789\",\"medium\":\"msisdn\"}]},\"success\":true}}" },
    { "{\"a\": \"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\"}",
      "{\"a\":\"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\"}" },
    { "{\"\xe6\x9c\xac\": 2, \"\xe6\x97\xa5\": 1}",
      "{\"\xe6\x97\xa5\":1,\"\xe6\x9c\xac\":2}" },
    { "{\"a\": \"\\u65E5\"}", "{\"a\":\"\xe6\x97\xa5\"}" },
    { "{\"a\": null}", "{\"a\":null}" },
    { "{\"a\": -0, \"b\": 1e10}", "{\"a\":0,\"b\":10000000000}" },
    /* escapes as Python's json (the spec's reference) writes them */
    { "{\"a\": \"\\u001f\\n\\\"\\\\/\"}", "{\"a\":\"\\u001f\\n\\\"\\\\/\"}" },
    { "[1, [2, {\"z\": false, \"y\": []}]]", "[1,[2,{\"y\":[],\"z\":false}]]" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (json_t) v = json_loads (cases[i][0], JSON_DECODE_ANY, NULL);
      g_autofree char *out = NULL;

      g_assert_nonnull (v);
      out = pa_canonical_json (v, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (out, ==, cases[i][1]);
    }

  /* What canonical JSON cannot express is refused, not approximated. */
  static const char *const bad[] = { "{\"a\": 1.5}", "{\"a\": 9007199254740992}",
                                     "[-9007199254740992]" };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (json_t) v = json_loads (bad[i], JSON_DECODE_ANY, NULL);
      g_autofree char *out = pa_canonical_json (v, &error);

      g_assert_null (out);
      g_assert_error (error, PA_ERROR, PA_ERROR_JSON);
    }

  /* signatures and unsigned are not signed */
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (json_t) v = json_pack ("{s:i, s:{}, s:{}}", "x", 1, "signatures", "unsigned");
    g_autofree char *out = pa_canonical_json_for_signing (v, &error);

    g_assert_cmpstr (out, ==, "{\"x\":1}");
    g_assert_nonnull (json_object_get (v, "signatures")); /* the input is untouched */
  }

  /* Deep nesting fails cleanly. */
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (json_t) v = json_array ();
    json_t *cur = v;
    g_autofree char *out = NULL;

    for (int i = 0; i < 200; i++)
      {
        json_t *n = json_array ();

        json_array_append_new (cur, n);
        cur = n;
      }
    out = pa_canonical_json (v, &error);
    g_assert_null (out);
    g_assert_error (error, PA_ERROR, PA_ERROR_JSON);
  }
}

/* ------------------------------------------------------------------ */
/* Store and account                                                   */

static void
test_store_file (Fixture *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  GStatBuf st;
  g_autofree char *other_db = g_build_filename (fx->dir, "other.db", NULL);
  PaCrypto *other;
  static const guint8 wrong_key[32] = "this-is-not-the-right-pickle-key";
  g_autofree char *curve = g_strdup (pa_crypto_get_curve25519 (fx->crypto));

  g_assert_cmpint (g_stat (fx->db, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);

  /* The identity survives a reopen. */
  reopen (fx);
  g_assert_cmpstr (pa_crypto_get_curve25519 (fx->crypto), ==, curve);

  /* Another device id on the same file is refused. */
  other = pa_crypto_new (NULL, BOT, "OTHERDEV", fx->db, pickle_key, sizeof pickle_key, &error);
  g_assert_null (other);
  g_assert_error (error, PA_ERROR, PA_ERROR_CONFIG);
  g_clear_error (&error);

  /* A wrong pickle key cannot read the account. */
  pa_crypto_free (g_steal_pointer (&fx->crypto));
  other = pa_crypto_new (NULL, BOT, BOT_DEV, fx->db, wrong_key, sizeof wrong_key, &error);
  g_assert_null (other);
  g_assert_nonnull (error);
  g_clear_error (&error);
  reopen (fx);

  /* Two stores, two identities. */
  other = pa_crypto_new (NULL, BOT, BOT_DEV, other_db, pickle_key, sizeof pickle_key, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (pa_crypto_get_curve25519 (other), !=, curve);
  pa_crypto_free (other);

  /* The schema version is recorded. */
  {
    g_autoptr (PaCryptoStore) s = pa_crypto_store_open (other_db, &error);

    g_assert_no_error (error);
    /* (2: identities, 3: the cross-signing table; later migrations only add) */
    g_assert_cmpint (pa_crypto_store_schema_version (s), >=, 2);
    /* replay table semantics */
    g_assert_true (pa_crypto_store_check_index (s, "S", 3, "$a", 1, &error));
    g_assert_true (pa_crypto_store_check_index (s, "S", 3, "$a", 1, &error));
    g_assert_false (pa_crypto_store_check_index (s, "S", 3, "$b", 1, &error));
    g_assert_error (error, PA_ERROR, PA_ERROR_PERMISSION);
  }
}

static void
test_device_keys (Fixture *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (json_t) dk = pa_crypto_device_keys (fx->crypto, &error);
  g_autofree char *ck = g_strconcat ("curve25519:", BOT_DEV, NULL);

  g_assert_no_error (error);
  g_assert_cmpstr (json_string_value (json_object_get (dk, "user_id")), ==, BOT);
  g_assert_cmpstr (json_string_value (json_object_get (json_object_get (dk, "keys"), ck)), ==,
                   pa_crypto_get_curve25519 (fx->crypto));
  g_assert_true (pa_crypto_verify_json (dk, BOT, BOT_DEV, pa_crypto_get_ed25519 (fx->crypto),
                                        &error));
  g_assert_no_error (error);
  /* unsigned data may change without breaking the signature */
  json_object_set_new (dk, "unsigned", json_pack ("{s:s}", "device_display_name", "x"));
  g_assert_true (pa_crypto_verify_json (dk, BOT, BOT_DEV, pa_crypto_get_ed25519 (fx->crypto),
                                        &error));
  /* anything else does */
  json_object_set_new (dk, "device_id", json_string ("EVIL"));
  g_assert_false (pa_crypto_verify_json (dk, BOT, BOT_DEV, pa_crypto_get_ed25519 (fx->crypto),
                                         &error));
  g_assert_error (error, PA_ERROR, PA_ERROR_PERMISSION);
  g_clear_error (&error);
  /* no signature at all */
  g_assert_false (pa_crypto_verify_json (dk, ALICE, BOT_DEV, pa_crypto_get_ed25519 (fx->crypto),
                                         &error));
  g_assert_error (error, PA_ERROR, PA_ERROR_PERMISSION);
}

static void
test_upload_body (Fixture *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (json_t) body = pa_crypto_keys_upload_body (fx->crypto, 0, &error);
  json_t *otks, *fb, *k;
  const char *name;

  g_assert_no_error (error);
  g_assert_nonnull (json_object_get (body, "device_keys"));
  otks = json_object_get (body, "one_time_keys");
  g_assert_cmpuint (json_object_size (otks), ==, PA_CRYPTO_OTK_TARGET);
  json_object_foreach (otks, name, k)
    {
      g_assert_true (g_str_has_prefix (name, "signed_curve25519:"));
      g_assert_true (pa_crypto_verify_json (k, BOT, BOT_DEV, pa_crypto_get_ed25519 (fx->crypto),
                                            &error));
      g_assert_no_error (error);
    }
  fb = json_object_get (body, "fallback_keys");
  g_assert_cmpuint (json_object_size (fb), ==, 1);
  json_object_foreach (fb, name, k)
    g_assert_true (json_is_true (json_object_get (k, "fallback")));

  /* Not yet marked published: asking again returns the same keys, no more. */
  {
    g_autoptr (json_t) again = pa_crypto_keys_upload_body (fx->crypto, 0, &error);

    g_assert_cmpuint (json_object_size (json_object_get (again, "one_time_keys")), ==,
                      PA_CRYPTO_OTK_TARGET);
  }
  g_assert_true (pa_crypto_keys_uploaded (fx->crypto, &error));
  /* Published, server has 45 left: 5 new ones, no device keys, no fallback. */
  reopen (fx);
  {
    g_autoptr (json_t) top = pa_crypto_keys_upload_body (fx->crypto, 45, &error);

    g_assert_no_error (error);
    g_assert_null (json_object_get (top, "device_keys"));
    g_assert_null (json_object_get (top, "fallback_keys"));
    g_assert_cmpuint (json_object_size (json_object_get (top, "one_time_keys")), ==, 5);
  }
}

static void
test_device_list (Fixture *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (Fake) a = fake_new (ALICE, ALICE_DEV);
  g_autoptr (Fake) b = fake_new (ALICE, "LAPTOP");
  g_autoptr (Fake) forged = fake_new (ALICE, ALICE_DEV);
  g_autoptr (json_t) devices = json_pack ("{s:o, s:o}", ALICE_DEV, fake_device_keys (a), "LAPTOP",
                                          fake_device_keys (b));
  g_autoptr (PaCryptoStore) s = NULL;
  g_autoptr (GPtrArray) list = NULL;
  json_t *bad;

  /* A third device with a broken signature is ignored. */
  {
    g_autoptr (Fake) t = fake_new (ALICE, "TABLET");

    bad = fake_device_keys (t);
    json_object_set_new (bad, "algorithms", json_pack ("[s]", "m.none"));
    json_object_set_new (devices, "TABLET", bad);
  }
  g_assert_true (pa_crypto_add_device_keys (fx->crypto, ALICE, devices, &error));
  g_assert_no_error (error);

  /* Later: the phone's keys are replaced (must be ignored), laptop gone. */
  json_decref (devices);
  devices = json_pack ("{s:o}", ALICE_DEV, fake_device_keys (forged));
  g_assert_true (pa_crypto_add_device_keys (fx->crypto, ALICE, devices, &error));

  pa_crypto_free (g_steal_pointer (&fx->crypto));
  s = pa_crypto_store_open (fx->db, &error);
  g_assert_no_error (error);
  list = pa_crypto_store_list_devices (s, ALICE, &error);
  g_assert_cmpuint (list->len, ==, 2);
  {
    PaCryptoDevice *phone = g_ptr_array_index (list, 0), *laptop = g_ptr_array_index (list, 1);

    g_assert_cmpstr (phone->device_id, ==, ALICE_DEV);
    g_assert_cmpstr (phone->ed25519, ==, a->ed);
    g_assert_false (phone->deleted);
    g_assert_true (phone->verified);
    g_assert_cmpstr (laptop->device_id, ==, "LAPTOP");
    g_assert_true (laptop->deleted);
  }
  {
    gboolean tracked, dirty;

    g_assert_true (pa_crypto_store_user_state (s, ALICE, &tracked, &dirty, &error));
    g_assert_true (tracked);
    g_assert_false (dirty);
  }
  g_clear_pointer (&s, pa_crypto_store_free);
  reopen (fx);
  {
    const char *users[] = { ALICE, NULL };
    g_autoptr (PaCryptoStore) s2 = NULL;
    gboolean tracked, dirty;

    g_assert_true (pa_crypto_devices_changed (fx->crypto, users, &error));
    pa_crypto_free (g_steal_pointer (&fx->crypto));
    s2 = pa_crypto_store_open (fx->db, &error);
    g_assert_true (pa_crypto_store_user_state (s2, ALICE, &tracked, &dirty, &error));
    g_assert_true (dirty);
  }
  reopen (fx);
}

/* ------------------------------------------------------------------ */
/* Olm                                                                 */

static void
test_olm_outbound (Fixture *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (Fake) a = alice_known (fx, FALSE);
  g_autoptr (json_t) claimed = fake_claim (a);
  g_autoptr (json_t) content = json_pack ("{s:s}", "hello", "world");
  g_autoptr (json_t) enc = NULL, payload = NULL, reply = NULL, events = NULL, out = NULL;
  json_t *k;
  const char *name;

  /* A claimed key with a bad signature is refused. */
  {
    g_autoptr (json_t) tampered = json_deep_copy (claimed);

    json_object_foreach (tampered, name, k)
      json_object_set_new (k, "key", json_string ("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
    g_assert_false (pa_crypto_create_olm_session (fx->crypto, ALICE, ALICE_DEV, tampered,
                                                  &error));
    g_assert_error (error, PA_ERROR, PA_ERROR_PERMISSION);
    g_clear_error (&error);
  }
  /* Unknown device */
  g_assert_false (pa_crypto_create_olm_session (fx->crypto, ALICE, "NOPE", claimed, &error));
  g_assert_error (error, PA_ERROR, PA_ERROR_NOT_FOUND);
  g_clear_error (&error);
  enc = pa_crypto_olm_encrypt (fx->crypto, ALICE, ALICE_DEV, "m.test", content, &error);
  g_assert_null (enc);
  g_assert_error (error, PA_ERROR, PA_ERROR_NOT_FOUND);
  g_clear_error (&error);

  g_assert_true (pa_crypto_create_olm_session (fx->crypto, ALICE, ALICE_DEV, claimed, &error));
  g_assert_no_error (error);
  enc = pa_crypto_olm_encrypt (fx->crypto, ALICE, ALICE_DEV, "m.test", content, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_string_value (json_object_get (enc, "sender_key")), ==,
                   pa_crypto_get_curve25519 (fx->crypto));
  payload = fake_olm_decrypt (a, enc);
  g_assert_cmpstr (json_string_value (json_object_get (payload, "type")), ==, "m.test");
  g_assert_cmpstr (json_string_value (json_object_get (payload, "sender")), ==, BOT);
  g_assert_cmpstr (json_string_value (json_object_get (payload, "sender_device")), ==, BOT_DEV);
  g_assert_cmpstr (json_string_value (json_object_get (json_object_get (payload, "keys"),
                                                       "ed25519")),
                   ==, pa_crypto_get_ed25519 (fx->crypto));
  g_assert_true (json_equal (json_object_get (payload, "content"), content));

  /* Alice answers on the same session (a normal message) and the bot reads it. */
  reply = fake_olm_encrypt (a, fx->crypto, NULL, "m.dummy", content);
  g_assert_cmpint (json_integer_value (json_object_get (json_object_get (
                       json_object_get (json_object_get (reply, "content"), "ciphertext"),
                       pa_crypto_get_curve25519 (fx->crypto)), "type")),
                   ==, 1);
  events = json_pack ("[O]", reply);
  out = pa_crypto_handle_to_device (fx->crypto, events, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (json_array_size (out), ==, 1);
  g_assert_cmpstr (json_string_value (json_object_get (json_array_get (out, 0), "type")), ==,
                   "m.dummy");
  g_assert_cmpstr (json_string_value (json_object_get (json_array_get (out, 0), "sender_key")), ==,
                   a->curve);

  /* After a reopen the session continues: the next message still decrypts. */
  reopen (fx);
  {
    g_autoptr (json_t) enc2 = pa_crypto_olm_encrypt (fx->crypto, ALICE, ALICE_DEV, "m.test2",
                                                     content, &error);
    g_autoptr (json_t) p2 = NULL;

    g_assert_no_error (error);
    p2 = fake_olm_decrypt (a, enc2);
    g_assert_cmpstr (json_string_value (json_object_get (p2, "type")), ==, "m.test2");
  }
}

static void
test_olm_inbound (Fixture *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (json_t) body = pa_crypto_keys_upload_body (fx->crypto, 0, &error);
  g_autoptr (Fake) a = fake_new (ALICE, ALICE_DEV);
  g_autoptr (json_t) rk = fake_start_group (a);
  g_autoptr (json_t) ev = NULL, events = NULL, out = NULL, room_ev = NULL, clear = NULL;
  const char *otk = NULL, *name;
  json_t *k;

  g_assert_true (pa_crypto_keys_uploaded (fx->crypto, &error));
  json_object_foreach (json_object_get (body, "one_time_keys"), name, k)
    {
      otk = json_string_value (json_object_get (k, "key"));
      break;
    }
  ev = fake_olm_encrypt (a, fx->crypto, otk, "m.room_key", rk);
  events = json_pack ("[O, {s:s, s:s, s:{}}, {s:i}]", ev, "type", "m.room_key_request",
                      "sender", ALICE, "content", "junk", 1);
  out = pa_crypto_handle_to_device (fx->crypto, events, &error);
  g_assert_no_error (error);
  /* The room key, and the (clear) key request for the caller's policy;
   * the junk event is skipped. */
  g_assert_cmpuint (json_array_size (out), ==, 2);
  g_assert_cmpstr (json_string_value (json_object_get (json_array_get (out, 0), "type")), ==,
                   "m.room_key");
  g_assert_cmpstr (json_string_value (json_object_get (json_array_get (out, 1), "type")), ==,
                   "m.room_key_request");

  /* The room key lets the bot read Alice's room messages. */
  room_ev = fake_group_event (a, "$e1", ROOM, "secret words");
  clear = pa_crypto_decrypt (fx->crypto, room_ev, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_string_value (json_object_get (clear, "type")), ==, "m.room.message");
  g_assert_cmpstr (json_string_value (json_object_get (json_object_get (clear, "content"),
                                                       "body")),
                   ==, "secret words");
  g_assert_cmpstr (json_string_value (json_object_get (clear, "event_id")), ==, "$e1");
  /* Alice's device is not known (no /keys/query yet): not verified. */
  g_assert_false (json_is_true (json_object_get (json_object_get (clear, "pa_encryption"),
                                                 "verified")));

  /* The one-time key was used up: a second session from it must fail. */
  {
    g_autoptr (Fake) b = fake_new (ALICE, "SECOND");
    g_autoptr (json_t) ev2 = fake_olm_encrypt (b, fx->crypto, otk, "m.dummy", rk);
    g_autoptr (json_t) p = pa_crypto_olm_decrypt (fx->crypto, ev2, &error);

    g_assert_null (p);
    g_assert_nonnull (error);
    g_clear_error (&error);
  }

  /* A pre-key message naming someone else as recipient is refused. */
  {
    g_autoptr (Fake) c = fake_new ("@carol:example.org", "C");
    const char *otk2 = NULL;
    g_autoptr (json_t) ev3 = NULL;
    g_autoptr (json_t) p = NULL;

    json_object_foreach (json_object_get (body, "one_time_keys"), name, k)
      otk2 = json_string_value (json_object_get (k, "key")); /* the last one */
    ev3 = fake_olm_encrypt (c, fx->crypto, otk2, "m.dummy", rk);
    json_object_set_new (ev3, "sender", json_string (ALICE)); /* lie about the sender */
    p = pa_crypto_olm_decrypt (fx->crypto, ev3, &error);
    g_assert_null (p);
    g_assert_error (error, PA_ERROR, PA_ERROR_PERMISSION);
  }
}

/* ------------------------------------------------------------------ */
/* Megolm                                                              */

static void
test_megolm_share_and_decrypt (Fixture *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (Fake) a = alice_known (fx, TRUE);
  const char *users[] = { ALICE, BOT, NULL };
  g_autoptr (json_t) content = json_pack ("{s:s, s:s, s:{s:{s:s}}}", "msgtype", "m.text", "body",
                                          "hi Alice", "m.relates_to", "m.in_reply_to",
                                          "event_id", "$parent");
  g_autoptr (json_t) need = NULL, payload = NULL, enc = NULL, clear = NULL, again = NULL;
  guint32 index = 99;

  enc = pa_crypto_group_encrypt (fx->crypto, ROOM, "m.room.message", content, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_string_value (json_object_get (enc, "algorithm")), ==,
                   PA_CRYPTO_MEGOLM_ALGORITHM);
  g_assert_cmpstr (json_string_value (json_object_get (enc, "device_id")), ==, BOT_DEV);
  g_assert_nonnull (json_object_get (enc, "m.relates_to"));

  /* The key of the session (at its current index 1) goes to Alice. */
  payload = pa_crypto_room_key_payload (fx->crypto, ROOM, users, &need, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (json_object_size (need), ==, 0);
  g_assert_cmpuint (json_object_size (json_object_get (payload, "messages")), ==, 1);
  fake_take_room_key (a, json_object_get (payload, "messages"));
  g_assert_true (pa_crypto_room_key_sent (fx->crypto, ROOM, payload, &error));
  /* Already shared: nothing more to send. */
  {
    g_autoptr (json_t) p2 = pa_crypto_room_key_payload (fx->crypto, ROOM, users, NULL, &error);

    g_assert_cmpuint (json_object_size (json_object_get (p2, "messages")), ==, 0);
  }

  /* Encrypted after the share: Alice reads it. */
  json_decref (enc);
  enc = pa_crypto_group_encrypt (fx->crypto, ROOM, "m.room.message", content, &error);
  clear = fake_group_decrypt (a, enc, &index);
  g_assert_cmpuint (index, ==, 1);
  g_assert_cmpstr (json_string_value (json_object_get (clear, "room_id")), ==, ROOM);
  g_assert_cmpstr (json_string_value (json_object_get (clear, "type")), ==, "m.room.message");
  g_assert_true (json_equal (json_object_get (clear, "content"), content));

  /* The bot reads its own message (as a ghost's echo would arrive). */
  {
    g_autoptr (json_t) ev = json_pack ("{s:s, s:s, s:s, s:s, s:O}", "type", "m.room.encrypted",
                                       "event_id", "$mine", "room_id", ROOM, "sender",
                                       "@ghost:example.org", "content", enc);
    g_autoptr (json_t) mine = pa_crypto_decrypt (fx->crypto, ev, &error);

    g_assert_no_error (error);
    g_assert_cmpstr (json_string_value (json_object_get (json_object_get (mine, "content"),
                                                         "body")),
                     ==, "hi Alice");
    g_assert_true (json_is_true (json_object_get (json_object_get (mine, "pa_encryption"),
                                                  "verified")));
    /* The same ciphertext in another room: bound to ROOM, refused. */
    json_object_set_new (ev, "room_id", json_string ("!other:example.org"));
    json_object_set_new (ev, "event_id", json_string ("$moved"));
    again = pa_crypto_decrypt (fx->crypto, ev, &error);
    g_assert_null (again);
    g_assert_error (error, PA_ERROR, PA_ERROR_NOT_FOUND); /* no session for that room */
  }
}

static void
test_megolm_rotation (Fixture *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (json_t) content = json_pack ("{s:s}", "body", "x");
  g_autofree char *first = NULL, *second = NULL, *third = NULL;

  for (int i = 0; i < PA_CRYPTO_ROTATION_MESSAGES; i++)
    {
      g_autoptr (json_t) enc = pa_crypto_group_encrypt (fx->crypto, ROOM, "m.room.message",
                                                        content, &error);

      g_assert_no_error (error);
      if (first == NULL)
        first = g_strdup (json_string_value (json_object_get (enc, "session_id")));
      g_assert_cmpstr (json_string_value (json_object_get (enc, "session_id")), ==, first);
    }
  reopen (fx); /* the count is persistent */
  {
    g_autoptr (json_t) enc = pa_crypto_group_encrypt (fx->crypto, ROOM, "m.room.message",
                                                      content, &error);

    second = g_strdup (json_string_value (json_object_get (enc, "session_id")));
    g_assert_cmpstr (second, !=, first);
  }
  /* Told membership changed: rotate at the next message. */
  g_assert_true (pa_crypto_room_changed (fx->crypto, ROOM, &error));
  g_assert_null (pa_crypto_outbound_session_id (fx->crypto, ROOM));
  {
    g_autoptr (json_t) enc = pa_crypto_group_encrypt (fx->crypto, ROOM, "m.room.message",
                                                      content, &error);

    third = g_strdup (json_string_value (json_object_get (enc, "session_id")));
    g_assert_cmpstr (third, !=, second);
  }
}

static void
test_megolm_replay (Fixture *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (Fake) a = alice_known (fx, FALSE);
  g_autoptr (json_t) rk = fake_start_group (a);
  g_autoptr (json_t) body = pa_crypto_keys_upload_body (fx->crypto, 0, &error);
  g_autoptr (json_t) ev = NULL, events = NULL, out = NULL, room_ev = NULL, c1 = NULL, c2 = NULL,
                     c3 = NULL;
  const char *otk = NULL, *name;
  json_t *k;

  json_object_foreach (json_object_get (body, "one_time_keys"), name, k)
    otk = json_string_value (json_object_get (k, "key"));
  ev = fake_olm_encrypt (a, fx->crypto, otk, "m.room_key", rk);
  events = json_pack ("[O]", ev);
  out = pa_crypto_handle_to_device (fx->crypto, events, &error);
  g_assert_cmpuint (json_array_size (out), ==, 1);

  room_ev = fake_group_event (a, "$one", ROOM, "once");
  c1 = pa_crypto_decrypt (fx->crypto, room_ev, &error);
  g_assert_no_error (error);
  /* Alice's device was queried: the session is verified. */
  g_assert_true (json_is_true (json_object_get (json_object_get (c1, "pa_encryption"),
                                                "verified")));
  /* The same event again (a re-delivery) is fine... */
  c2 = pa_crypto_decrypt (fx->crypto, room_ev, &error);
  g_assert_no_error (error);
  /* ...the same index under another event id is a replay. */
  json_object_set_new (room_ev, "event_id", json_string ("$two"));
  c3 = pa_crypto_decrypt (fx->crypto, room_ev, &error);
  g_assert_null (c3);
  g_assert_error (error, PA_ERROR, PA_ERROR_PERMISSION);
  g_clear_error (&error);

  /* Someone else claiming Alice's session key is refused. */
  {
    g_autoptr (json_t) ev2 = fake_group_event (a, "$three", ROOM, "x");
    g_autoptr (json_t) c = NULL;

    json_object_set_new (ev2, "sender", json_string ("@mallory:example.org"));
    c = pa_crypto_decrypt (fx->crypto, ev2, &error);
    g_assert_null (c);
    g_assert_error (error, PA_ERROR, PA_ERROR_PERMISSION);
  }
}

static void
test_garbage (Fixture *fx, gconstpointer data)
{
  g_autoptr (Fake) a = alice_known (fx, FALSE);
  g_autoptr (json_t) rk = fake_start_group (a);
  g_autoptr (json_t) good = fake_group_event (a, "$g", ROOM, "x");
  static const char *const ciphertexts[] = { "!!!not base64!!!", "AAAA", "QUJDRA",
                                             "=====" };

  for (guint i = 0; i < G_N_ELEMENTS (ciphertexts); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (json_t) ev = json_deep_copy (good);
      g_autoptr (json_t) c = NULL;

      json_object_set_new (json_object_get (ev, "content"), "ciphertext",
                           json_string (ciphertexts[i]));
      c = pa_crypto_decrypt (fx->crypto, ev, &error);
      g_assert_null (c);
      g_assert_nonnull (error); /* unknown session: not even tried */
    }

  /* Now with the session known, garbage ciphertext fails in libolm. */
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (json_t) body = pa_crypto_keys_upload_body (fx->crypto, 0, &error);
    const char *otk = NULL, *name;
    json_t *k;
    g_autoptr (json_t) ev = NULL, events = NULL, out = NULL;

    json_object_foreach (json_object_get (body, "one_time_keys"), name, k)
      otk = json_string_value (json_object_get (k, "key"));
    ev = fake_olm_encrypt (a, fx->crypto, otk, "m.room_key", rk);
    events = json_pack ("[O]", ev);
    out = pa_crypto_handle_to_device (fx->crypto, events, &error);
    g_assert_cmpuint (json_array_size (out), ==, 1);
  }
  for (guint i = 0; i < G_N_ELEMENTS (ciphertexts); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (json_t) ev = json_deep_copy (good);
      g_autoptr (json_t) c = NULL;

      json_object_set_new (json_object_get (ev, "content"), "ciphertext",
                           json_string (ciphertexts[i]));
      c = pa_crypto_decrypt (fx->crypto, ev, &error);
      g_assert_null (c);
      g_assert_error (error, PA_ERROR, PA_ERROR_FAILED);
    }
  /* Malformed events */
  {
    static const char *const events[] = {
      "{}", "[]", "{\"type\":\"m.room.encrypted\"}",
      "{\"type\":\"m.room.encrypted\",\"room_id\":1,\"sender\":\"@a:b\",\"event_id\":\"$x\","
      "\"content\":{}}",
      "{\"type\":\"m.room.encrypted\",\"room_id\":\"!r:b\",\"sender\":\"@a:b\","
      "\"event_id\":\"$x\",\"content\":{\"algorithm\":\"m.megolm.v1.aes-sha2\","
      "\"sender_key\":\"k\",\"session_id\":\"s\",\"ciphertext\":\"AAAA\"}}",
      "{\"type\":\"m.room.encrypted\",\"room_id\":\"!r:b\",\"sender\":\"@a:b\","
      "\"event_id\":\"$x\",\"content\":{\"algorithm\":\"m.unknown\","
      "\"sender_key\":\"k\",\"session_id\":\"s\",\"ciphertext\":\"AAAA\"}}",
    };

    for (guint i = 0; i < G_N_ELEMENTS (events); i++)
      {
        g_autoptr (GError) error = NULL;
        g_autoptr (json_t) ev = json_loads (events[i], 0, NULL);
        g_autoptr (json_t) c = pa_crypto_decrypt (fx->crypto, ev, &error);

        g_assert_null (c);
        g_assert_nonnull (error);
      }
  }
  /* Olm: garbage bodies, unknown sender, wrong type. */
  {
    static const char *const bodies[] = { "!!!", "AAAA", "AwogAAAA" };

    for (guint i = 0; i < G_N_ELEMENTS (bodies); i++)
      for (int type = 0; type < 3; type++)
        {
          g_autoptr (GError) error = NULL;
          g_autoptr (json_t) ev = json_pack (
              "{s:s, s:s, s:{s:s, s:s, s:{s:{s:i, s:s}}}}", "type", "m.room.encrypted", "sender",
              ALICE, "content", "algorithm", PA_CRYPTO_OLM_ALGORITHM, "sender_key",
              type == 1 ? a->curve : "unknownkey", "ciphertext",
              pa_crypto_get_curve25519 (fx->crypto), "type", type, "body", bodies[i]);
          g_autoptr (json_t) p = pa_crypto_olm_decrypt (fx->crypto, ev, &error);
          g_autoptr (json_t) arr = json_pack ("[O]", ev);
          g_autoptr (json_t) out = NULL;

          g_assert_null (p);
          g_assert_nonnull (error);
          g_clear_error (&error);
          out = pa_crypto_handle_to_device (fx->crypto, arr, &error);
          g_assert_no_error (error);
          g_assert_cmpuint (json_array_size (out), ==, 0);
        }
  }
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (json_t) notarray = json_object ();

    g_assert_null (pa_crypto_handle_to_device (fx->crypto, notarray, &error));
    g_assert_error (error, PA_ERROR, PA_ERROR_JSON);
  }
}

static void
test_pickles_survive (Fixture *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (Fake) a = alice_known (fx, TRUE);
  const char *users[] = { ALICE, NULL };
  g_autoptr (json_t) content = json_pack ("{s:s}", "body", "before");
  g_autoptr (json_t) payload = NULL, enc = NULL, clear = NULL;
  g_autoptr (json_t) rk = fake_start_group (a);
  g_autoptr (json_t) body = pa_crypto_keys_upload_body (fx->crypto, 0, &error);
  g_autoptr (json_t) alice_msg = NULL, dec = NULL;

  /* Bot → Alice: shared, then one message before the restart... */
  payload = pa_crypto_room_key_payload (fx->crypto, ROOM, users, NULL, &error);
  g_assert_no_error (error);
  fake_take_room_key (a, json_object_get (payload, "messages"));
  g_assert_true (pa_crypto_room_key_sent (fx->crypto, ROOM, payload, &error));
  enc = pa_crypto_group_encrypt (fx->crypto, ROOM, "m.room.message", content, &error);

  /* ...and Alice's message encrypted before the restart (her key is
   * delivered on the existing Olm session; she answers the bot's). */
  {
    g_autoptr (json_t) ev = fake_olm_encrypt (a, fx->crypto, NULL, "m.room_key", rk);
    g_autoptr (json_t) arr = json_pack ("[O]", ev);
    g_autoptr (json_t) out = pa_crypto_handle_to_device (fx->crypto, arr, &error);

    g_assert_cmpuint (json_array_size (out), ==, 1);
  }
  alice_msg = fake_group_event (a, "$before", ROOM, "sent before restart");

  reopen (fx);

  /* Alice still reads the next message on the same session. */
  {
    g_autoptr (json_t) c2 = json_pack ("{s:s}", "body", "after");
    g_autoptr (json_t) enc2 = pa_crypto_group_encrypt (fx->crypto, ROOM, "m.room.message", c2,
                                                       &error);
    g_autoptr (json_t) p1 = fake_group_decrypt (a, enc, NULL);
    g_autoptr (json_t) p2 = fake_group_decrypt (a, enc2, NULL);

    g_assert_cmpstr (json_string_value (json_object_get (enc2, "session_id")), ==,
                     json_string_value (json_object_get (enc, "session_id")));
    g_assert_cmpstr (json_string_value (json_object_get (json_object_get (p2, "content"),
                                                         "body")),
                     ==, "after");
    g_assert_nonnull (p1);
  }
  /* The bot decrypts Alice's message encrypted before it restarted. */
  dec = pa_crypto_decrypt (fx->crypto, alice_msg, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_string_value (json_object_get (json_object_get (dec, "content"),
                                                       "body")),
                   ==, "sent before restart");
}

/* ------------------------------------------------------------------ */
/* Async, against a fake homeserver                                    */

typedef struct {
  Fake *alice;
  guint uploads, queries, claims, sends;
  guint server_otks;
  json_t *last_to_device; /* the last /sendToDevice body */
  gboolean fail_claim;
  Fake *carol;            /* a device that never has a one-time key */
  guint withheld;
  json_t *last_withheld;
} Hs;

static void
reply_json (SoupServerMessage *msg, guint status, json_t *body)
{
  g_autofree char *text = json_dumps (body, JSON_COMPACT);

  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_COPY, text,
                                    strlen (text));
  json_decref (body);
}

static void
hs_cb (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
       gpointer user_data)
{
  Hs *hs = user_data;
  g_autoptr (GBytes) raw = soup_message_body_flatten (soup_server_message_get_request_body (msg));
  g_autoptr (json_t) body = json_loadb (g_bytes_get_data (raw, NULL), g_bytes_get_size (raw), 0,
                                        NULL);

  /* Every request is made as the bot's device. */
  g_assert_nonnull (query);
  g_assert_cmpstr (g_hash_table_lookup (query, "device_id"), ==, BOT_DEV);
  g_assert_cmpstr (g_hash_table_lookup (query, "user_id"), ==, BOT);
  if (strcmp (path, "/_matrix/client/v3/keys/upload") == 0)
    {
      hs->uploads++;
      hs->server_otks += json_object_size (json_object_get (body, "one_time_keys"));
      reply_json (msg, 200, json_pack ("{s:{s:i}}", "one_time_key_counts", "signed_curve25519",
                                       hs->server_otks));
    }
  else if (strcmp (path, "/_matrix/client/v3/keys/query") == 0)
    {
      json_t *wanted = json_object_get (body, "device_keys");
      json_t *answer = json_object ();
      const char *user;
      json_t *v;

      hs->queries++;
      /* Alice has her phone; anyone else (the bot itself) no device. */
      json_object_foreach (wanted, user, v)
        json_object_set_new (answer, user,
                             strcmp (user, ALICE) == 0
                                 ? json_pack ("{s:o}", ALICE_DEV, fake_device_keys (hs->alice))
                             : strcmp (user, CAROL) == 0 && hs->carol != NULL
                                 ? json_pack ("{s:o}", CAROL_DEV, fake_device_keys (hs->carol))
                                 : json_object ());
      reply_json (msg, 200, json_pack ("{s:o, s:{}}", "device_keys", answer, "failures"));
    }
  else if (strcmp (path, "/_matrix/client/v3/keys/claim") == 0)
    {
      json_t *wanted = json_object_get (body, "one_time_keys");

      hs->claims++;
      /* Carol's device has none left. */
      if (json_object_get (wanted, CAROL) != NULL && json_object_get (wanted, ALICE) == NULL)
        {
          reply_json (msg, 200, json_pack ("{s:{}}", "one_time_keys"));
          return;
        }
      g_assert_cmpstr (json_string_value (json_object_get (json_object_get (wanted, ALICE),
                                                           ALICE_DEV)),
                       ==, "signed_curve25519");
      if (hs->fail_claim)
        reply_json (msg, 200, json_pack ("{s:{}}", "one_time_keys"));
      else
        reply_json (msg, 200, json_pack ("{s:{s:{s:o}}}", "one_time_keys", ALICE, ALICE_DEV,
                                         fake_claim (hs->alice)));
    }
  else if (g_str_has_prefix (path, "/_matrix/client/v3/sendToDevice/m.room.encrypted/"))
    {
      hs->sends++;
      if (hs->last_to_device != NULL)
        json_decref (hs->last_to_device);
      hs->last_to_device = json_incref (json_object_get (body, "messages"));
      reply_json (msg, 200, json_object ());
    }
  else if (g_str_has_prefix (path, "/_matrix/client/v3/sendToDevice/m.room_key.withheld/"))
    {
      hs->withheld++;
      if (hs->last_withheld != NULL)
        json_decref (hs->last_withheld);
      hs->last_withheld = json_incref (json_object_get (body, "messages"));
      reply_json (msg, 200, json_object ());
    }
  else
    reply_json (msg, 404, json_pack ("{s:s}", "errcode", "M_UNRECOGNIZED"));
}

typedef struct {
  gboolean done;
  json_t *result;
  GError *error;
} Done;

static void
done_cb (PaCrypto *crypto, json_t *result, const GError *error, gpointer user_data)
{
  Done *d = user_data;

  g_assert_false (d->done);
  g_assert_true ((result == NULL) != (error == NULL));
  d->done = TRUE;
  d->result = result != NULL ? json_incref (result) : NULL;
  d->error = error != NULL ? g_error_copy (error) : NULL;
}

static void
done_clear (Done *d)
{
  if (d->result != NULL)
    json_decref (d->result);
  g_clear_error (&d->error);
  d->done = FALSE;
  d->result = NULL;
}

static gboolean
timeout_cb (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

static void
wait_done (Done *d)
{
  gboolean timed_out = FALSE;
  guint id = g_timeout_add (8000, timeout_cb, &timed_out);

  while (!d->done && !timed_out)
    g_main_context_iteration (NULL, TRUE);
  if (!timed_out)
    g_source_remove (id);
  g_assert_true (d->done);
}

static void
test_async (Fixture *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (Fake) alice = fake_new (ALICE, ALICE_DEV);
  Hs hs = { .alice = alice };
  g_autoptr (SoupServer) server = soup_server_new (NULL, NULL);
  g_autofree char *base = NULL;
  g_autoptr (PaMatrix) mx = NULL;
  GSList *uris;
  const char *users[] = { ALICE, BOT, NULL };
  g_autoptr (json_t) content = json_pack ("{s:s, s:s}", "msgtype", "m.text", "body", "hello");
  Done d = { 0 };

  soup_server_add_handler (server, NULL, hs_cb, &hs, NULL);
  g_assert_true (soup_server_listen_local (server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error));
  uris = soup_server_get_uris (server);
  base = g_strdup_printf ("http://127.0.0.1:%d", g_uri_get_port (uris->data));
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  mx = pa_matrix_new (base, "as-token");

  pa_crypto_free (fx->crypto);
  fx->crypto = pa_crypto_new (mx, BOT, BOT_DEV, fx->db, pickle_key, sizeof pickle_key, &error);
  g_assert_no_error (error);

  /* Upload: an empty probe, then 50 keys. */
  pa_crypto_upload_keys (fx->crypto, done_cb, &d);
  g_assert_false (d.done); /* never called back from inside the call */
  wait_done (&d);
  g_assert_no_error (d.error);
  g_assert_cmpuint (hs.uploads, ==, 2);
  g_assert_cmpuint (hs.server_otks, ==, PA_CRYPTO_OTK_TARGET);
  g_assert_cmpint (json_integer_value (json_object_get (d.result, "signed_curve25519")), ==,
                   PA_CRYPTO_OTK_TARGET);
  done_clear (&d);
  /* Again: the server is full, nothing new is sent. */
  pa_crypto_upload_keys (fx->crypto, done_cb, &d);
  wait_done (&d);
  g_assert_cmpuint (hs.server_otks, ==, PA_CRYPTO_OTK_TARGET);
  done_clear (&d);

  /* Encrypt: query Alice, claim a key, share, then encrypt. */
  pa_crypto_encrypt (fx->crypto, ROOM, users, "m.room.message", content, done_cb, &d);
  wait_done (&d);
  g_assert_no_error (d.error);
  g_assert_cmpuint (hs.queries, ==, 1);
  g_assert_cmpuint (hs.claims, ==, 1);
  g_assert_cmpuint (hs.sends, ==, 1);
  fake_take_room_key (alice, hs.last_to_device);
  {
    g_autoptr (json_t) clear = fake_group_decrypt (alice, d.result, NULL);

    g_assert_cmpstr (json_string_value (json_object_get (json_object_get (clear, "content"),
                                                         "body")),
                     ==, "hello");
  }
  done_clear (&d);

  /* A second message: nothing to query, claim or share. */
  pa_crypto_encrypt (fx->crypto, ROOM, users, "m.room.message", content, done_cb, &d);
  wait_done (&d);
  g_assert_no_error (d.error);
  g_assert_cmpuint (hs.queries + hs.claims + hs.sends, ==, 3);
  {
    g_autoptr (json_t) clear = fake_group_decrypt (alice, d.result, NULL);

    g_assert_nonnull (clear);
  }
  done_clear (&d);
  /* Alice's device list changed: the next message checks her devices
   * again (a query), then shares nothing new. */
  {
    const char *changed[] = { ALICE, NULL };

    g_assert_true (pa_crypto_devices_changed (fx->crypto, changed, &error));
    pa_crypto_encrypt (fx->crypto, ROOM, users, "m.room.message", content, done_cb, &d);
    wait_done (&d);
    g_assert_no_error (d.error);
    g_assert_cmpuint (hs.queries, ==, 2);
    g_assert_cmpuint (hs.claims + hs.sends, ==, 2);
    done_clear (&d);
  }

  /* Membership changed: a new session is shared over the existing Olm
   * session (no new claim), and Alice's changed device list re-queried. */
  g_assert_true (pa_crypto_room_changed (fx->crypto, ROOM, &error));
  {
    const char *changed[] = { ALICE, NULL };

    g_assert_true (pa_crypto_devices_changed (fx->crypto, changed, &error));
  }
  pa_crypto_share_room_key (fx->crypto, ROOM, users, done_cb, &d);
  wait_done (&d);
  g_assert_no_error (d.error);
  g_assert_cmpint (json_integer_value (json_object_get (d.result, "shared")), ==, 1);
  g_assert_cmpuint (hs.queries, ==, 3);
  g_assert_cmpuint (hs.claims, ==, 1);
  g_assert_cmpuint (hs.sends, ==, 2);
  fake_take_room_key (alice, hs.last_to_device);
  done_clear (&d);

  /* Track only */
  {
    const char *changed[] = { ALICE, NULL };

    g_assert_true (pa_crypto_devices_changed (fx->crypto, changed, &error));
    pa_crypto_track_users (fx->crypto, changed, done_cb, &d);
    wait_done (&d);
    g_assert_no_error (d.error);
    g_assert_cmpint (json_integer_value (json_object_get (d.result, "queried")), ==, 1);
    done_clear (&d);
  }

  /* Olm session repair: a message from Alice's device that no session
   * decrypts makes the bot claim a fresh key and send an m.dummy over a
   * new session (a pre-key message); a second one within the hour does
   * not. */
  {
    guint claims = hs.claims, sends = hs.sends;
    g_autoptr (json_t) wedged = json_pack (
        "[{s:s, s:s, s:{s:s, s:s, s:{s:{s:i, s:s}}}}]", "type", "m.room.encrypted", "sender",
        ALICE, "content", "algorithm", PA_CRYPTO_OLM_ALGORITHM, "sender_key", alice->curve,
        "ciphertext", pa_crypto_get_curve25519 (fx->crypto), "type", 1, "body",
        "AwogAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    g_autoptr (json_t) out = pa_crypto_handle_to_device (fx->crypto, wedged, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (json_array_size (out), ==, 0);
    while (pa_crypto_pending (fx->crypto) > 0)
      g_main_context_iteration (NULL, TRUE);
    g_assert_cmpuint (hs.claims, ==, claims + 1);
    g_assert_cmpuint (hs.sends, ==, sends + 1);
    json_t *sent = json_object_get (json_object_get (hs.last_to_device, ALICE), ALICE_DEV);
    g_assert_nonnull (sent);
    g_assert_nonnull (json_object_get (json_object_get (sent, "ciphertext"), alice->curve));
    g_assert_cmpint (json_integer_value (json_object_get (
                         json_object_get (json_object_get (sent, "ciphertext"), alice->curve),
                         "type")),
                     ==, 0);
    g_autoptr (json_t) again = pa_crypto_handle_to_device (fx->crypto, wedged, &error);
    g_assert_cmpuint (pa_crypto_pending (fx->crypto), ==, 0);
    g_assert_cmpuint (hs.claims, ==, claims + 1);
  }

  /* A member's device without one-time keys: the key is withheld
   * (m.no_olm), once for the session; later messages neither claim for it
   * nor tell it again. */
  {
    g_autoptr (Fake) carol = fake_new (CAROL, CAROL_DEV);
    const char *both[] = { ALICE, CAROL, NULL };
    guint claims;

    hs.carol = carol;
    pa_crypto_encrypt (fx->crypto, ROOM2, both, "m.room.message", content, done_cb, &d);
    wait_done (&d);
    g_assert_no_error (d.error);
    done_clear (&d);
    g_assert_cmpuint (hs.withheld, ==, 1);
    json_t *w = json_object_get (json_object_get (hs.last_withheld, CAROL), CAROL_DEV);
    g_assert_cmpstr (json_string_value (json_object_get (w, "code")), ==, "m.no_olm");
    g_assert_cmpstr (json_string_value (json_object_get (w, "room_id")), ==, ROOM2);
    claims = hs.claims;
    pa_crypto_encrypt (fx->crypto, ROOM2, both, "m.room.message", content, done_cb, &d);
    wait_done (&d);
    g_assert_no_error (d.error);
    done_clear (&d);
    g_assert_cmpuint (hs.withheld, ==, 1);
    g_assert_cmpuint (hs.claims, ==, claims);
    hs.carol = NULL;
  }

  /* A user the bridge's permissions block gets m.blacklisted, not the key;
   * unblocked, the same session is shared with them. */
  {
    const char *only[] = { ALICE, NULL };
    guint sends = hs.sends, withheld = hs.withheld;

    pa_crypto_set_blocked (fx->crypto, ALICE, TRUE);
    pa_crypto_encrypt (fx->crypto, ROOM3, only, "m.room.message", content, done_cb, &d);
    wait_done (&d);
    g_assert_no_error (d.error);
    done_clear (&d);
    g_assert_cmpuint (hs.sends, ==, sends);
    g_assert_cmpuint (hs.withheld, ==, withheld + 1);
    json_t *w = json_object_get (json_object_get (hs.last_withheld, ALICE), ALICE_DEV);
    g_assert_cmpstr (json_string_value (json_object_get (w, "code")), ==, "m.blacklisted");
    pa_crypto_set_blocked (fx->crypto, ALICE, FALSE);
    pa_crypto_encrypt (fx->crypto, ROOM3, only, "m.room.message", content, done_cb, &d);
    wait_done (&d);
    g_assert_no_error (d.error);
    g_assert_cmpuint (hs.sends, ==, sends + 1);
    g_assert_nonnull (json_object_get (json_object_get (hs.last_to_device, ALICE), ALICE_DEV));
    done_clear (&d);
  }

  /* Operations queued, one in flight (a query), then freed: no callback,
   * no crash, and the request's late answer is dropped. */
  {
    const char *changed[] = { ALICE, NULL };

    g_assert_true (pa_crypto_devices_changed (fx->crypto, changed, &error));
  }
  pa_crypto_encrypt (fx->crypto, ROOM, users, "m.room.message", content, done_cb, &d);
  pa_crypto_upload_keys (fx->crypto, done_cb, &d);
  g_assert_cmpuint (pa_crypto_pending (fx->crypto), ==, 2);
  g_main_context_iteration (NULL, FALSE);
  pa_crypto_free (g_steal_pointer (&fx->crypto));
  {
    guint queries = hs.queries;
    gint64 end = g_get_monotonic_time () + 500 * 1000;

    while (g_get_monotonic_time () < end && hs.queries == queries)
      g_main_context_iteration (NULL, FALSE);
    for (int i = 0; i < 100; i++)
      g_main_context_iteration (NULL, FALSE);
  }
  g_assert_false (d.done);
  reopen (fx);

  if (hs.last_to_device != NULL)
    json_decref (hs.last_to_device);
  if (hs.last_withheld != NULL)
    json_decref (hs.last_withheld);
  pa_crypto_free (g_steal_pointer (&fx->crypto));
  g_clear_pointer (&mx, pa_matrix_free);
  reopen (fx);
}

static void
test_async_no_server (Fixture *fx, gconstpointer data)
{
  const char *users[] = { ALICE, NULL };
  g_autoptr (json_t) content = json_object ();
  g_autoptr (GPtrArray) many = g_ptr_array_new_with_free_func (g_free);
  Done d = { 0 };

  /* No homeserver client: a clean error through the callback. */
  pa_crypto_encrypt (fx->crypto, ROOM, users, "m.room.message", content, done_cb, &d);
  wait_done (&d);
  g_assert_error (d.error, PA_ERROR, PA_ERROR_NETWORK);
  done_clear (&d);

  /* Too many users: refused with a clear error. */
  for (int i = 0; i <= PA_CRYPTO_MAX_USERS; i++)
    g_ptr_array_add (many, g_strdup_printf ("@u%d:example.org", i));
  g_ptr_array_add (many, NULL);
  pa_crypto_track_users (fx->crypto, (const char *const *) many->pdata, done_cb, &d);
  wait_done (&d);
  g_assert_error (d.error, PA_ERROR, PA_ERROR_TOO_LARGE);
  done_clear (&d);
}

int
main (int argc, char **argv)
{
  pg_uri = pa_test_db_pg_uri (&argc, argv);
  g_test_init (&argc, &argv, NULL);
#define ADD(path, fn) \
  g_test_add ("/crypto/" path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  if (pg_uri == NULL)
    {
      /* the file, its mode and a second file: SQLite's */
      g_test_add_func ("/crypto/canonical-json", test_canonical_json);
      ADD ("store-file", test_store_file);
    }
  ADD ("device-keys", test_device_keys);
  ADD ("upload-body", test_upload_body);
  ADD ("device-list", test_device_list);
  ADD ("olm-outbound", test_olm_outbound);
  ADD ("olm-inbound", test_olm_inbound);
  ADD ("megolm-share-decrypt", test_megolm_share_and_decrypt);
  ADD ("megolm-rotation", test_megolm_rotation);
  ADD ("megolm-replay", test_megolm_replay);
  ADD ("garbage", test_garbage);
  ADD ("key-request-forward", test_key_request_and_forward);
  ADD ("answer-key-request", test_answer_key_request);
  ADD ("pickles-survive", test_pickles_survive);
  ADD ("async", test_async);
  ADD ("async-no-server", test_async_no_server);
#undef ADD
  return g_test_run ();
}
