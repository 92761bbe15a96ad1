/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* SAS verification (pa-crypto-sas.c): two PaSas run whole verifications
 * against each other, with either side starting and with both starting;
 * tampered events end them with the spec's cancel codes. */
#include <string.h>

#include "crypto/pa-crypto-sas.h"
#include "pa-common.h"

#define TXN "$request:hs"
#define A_USER "@alice:hs"
#define A_DEV "ADEVICE"
#define A_KEY "AliceDeviceEd25519KeyAAAAAAAAAAAAAAAAAAAAAA"
#define A_MASTER "AliceMasterEd25519KeyAAAAAAAAAAAAAAAAAAAAAA"
#define B_USER "@bob:hs"
#define B_DEV "BDEVICE"
#define B_KEY "BobDeviceEd25519KeyBBBBBBBBBBBBBBBBBBBBBBBB"

typedef struct
{
  PaSas *a;
  PaSas *b;
} Pair;

static void
pair_init (Pair *p)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (json_t) a_keys
      = json_pack ("{s:s, s:s}", "ed25519:" A_DEV, A_KEY, "ed25519:" A_MASTER, A_MASTER);
  g_autoptr (json_t) b_keys = json_pack ("{s:s}", "ed25519:" B_DEV, B_KEY);

  p->a = pa_sas_new (A_USER, A_DEV, A_KEY, a_keys, B_USER, NULL, TXN, &error);
  g_assert_no_error (error);
  p->b = pa_sas_new (B_USER, B_DEV, B_KEY, b_keys, A_USER, NULL, TXN, &error);
  g_assert_no_error (error);
  /* What each knows of the other's keys (Bob knows Alice's master key). */
  pa_sas_set_their_key (p->a, "ed25519:" B_DEV, B_KEY);
  pa_sas_set_their_key (p->b, "ed25519:" A_DEV, A_KEY);
  pa_sas_set_their_key (p->b, "ed25519:" A_MASTER, A_MASTER);
}

static void
pair_clear (Pair *p)
{
  pa_sas_free (p->a);
  pa_sas_free (p->b);
}

/* Feeds every event of `events` (consumed) to `to`: what it answers. */
static json_t *
deliver (json_t *events, PaSas *to)
{
  json_t *answers = json_array ();
  size_t i;
  json_t *ev;

  json_array_foreach (events, i, ev)
  {
    json_t *out = pa_sas_receive (to, json_string_value (json_object_get (ev, "type")),
                                  json_object_get (ev, "content"));
    json_array_extend (answers, out);
    json_decref (out);
  }
  json_decref (events);
  return answers;
}

static void
assert_types (json_t *events, const char *first, const char *second)
{
  g_assert_cmpuint (json_array_size (events), ==, second ? 2 : (first ? 1 : 0));
  if (first)
    g_assert_cmpstr (json_string_value (json_object_get (json_array_get (events, 0), "type")), ==,
                     first);
  if (second)
    g_assert_cmpstr (json_string_value (json_object_get (json_array_get (events, 1), "type")), ==,
                     second);
}

static const char *
code_of (json_t *events)
{
  json_t *last = json_array_get (events, json_array_size (events) - 1);

  g_assert_cmpstr (json_string_value (json_object_get (last, "type")), ==,
                   "m.key.verification.cancel");
  return json_string_value (json_object_get (json_object_get (last, "content"), "code"));
}

/* Bob requests; Alice answers ready; `starter` starts; up to the keys. */
static void
run_to_keys (Pair *p, PaSas *starter)
{
  PaSas *other = starter == p->a ? p->b : p->a;
  g_autoptr (json_t) req = pa_sas_request_content (B_USER, B_DEV, A_USER);
  json_t *out = pa_sas_receive (p->a, "m.key.verification.request", req);
  guint ea[PA_SAS_EMOJI_COUNT], eb[PA_SAS_EMOJI_COUNT];
  guint da[PA_SAS_DECIMAL_COUNT], db[PA_SAS_DECIMAL_COUNT];

  assert_types (out, "m.key.verification.ready", NULL);
  g_assert_cmpstr (
      json_string_value (json_object_get (
          json_object_get (json_object_get (json_array_get (out, 0), "content"), "m.relates_to"),
          "event_id")),
      ==, TXN);
  out = deliver (out, p->b);
  assert_types (out, NULL, NULL);
  json_decref (out);
  g_assert_cmpint (pa_sas_state (p->a), ==, PA_SAS_READY);
  g_assert_cmpint (pa_sas_state (p->b), ==, PA_SAS_READY);
  g_assert_false (pa_sas_emoji (p->a, ea));

  out = deliver (pa_sas_start (starter), other);
  assert_types (out, "m.key.verification.accept", NULL);
  out = deliver (out, starter);
  assert_types (out, "m.key.verification.key", NULL);
  out = deliver (out, other);
  assert_types (out, "m.key.verification.key", NULL);
  out = deliver (out, starter);
  assert_types (out, NULL, NULL);
  json_decref (out);
  g_assert_cmpint (pa_sas_state (p->a), ==, PA_SAS_KEYS);
  g_assert_cmpint (pa_sas_state (p->b), ==, PA_SAS_KEYS);

  /* Both show the same emoji and numbers. */
  g_assert_true (pa_sas_emoji (p->a, ea));
  g_assert_true (pa_sas_emoji (p->b, eb));
  g_assert_cmpmem (ea, sizeof ea, eb, sizeof eb);
  g_assert_true (pa_sas_decimal (p->a, da));
  g_assert_true (pa_sas_decimal (p->b, db));
  g_assert_cmpmem (da, sizeof da, db, sizeof db);
  for (guint i = 0; i < PA_SAS_DECIMAL_COUNT; i++)
    g_assert_cmpuint (da[i], >=, 1000);
  for (guint i = 0; i < PA_SAS_DECIMAL_COUNT; i++)
    g_assert_cmpuint (da[i], <=, 9191);
}

/* Both confirm: Alice first, Bob's MAC and done cross hers. */
static void
run_macs (Pair *p)
{
  json_t *a_mac = pa_sas_confirm (p->a);
  json_t *out;
  json_t *b_sent;

  assert_types (a_mac, "m.key.verification.mac", NULL);
  /* Alice certifies her device key and her master key. */
  g_assert_nonnull (json_object_get (
      json_object_get (json_object_get (json_array_get (a_mac, 0), "content"), "mac"),
      "ed25519:" A_MASTER));
  out = deliver (a_mac, p->b);
  assert_types (out, NULL, NULL);
  json_decref (out);
  b_sent = pa_sas_confirm (p->b);
  assert_types (b_sent, "m.key.verification.mac", "m.key.verification.done");
  g_assert_true (pa_sas_verified (p->b));
  out = deliver (b_sent, p->a);
  assert_types (out, "m.key.verification.done", NULL);
  g_assert_true (pa_sas_verified (p->a));
  g_assert_cmpint (pa_sas_state (p->a), ==, PA_SAS_DONE);
  out = deliver (out, p->b);
  assert_types (out, NULL, NULL);
  json_decref (out);
  g_assert_cmpint (pa_sas_state (p->b), ==, PA_SAS_DONE);
  g_assert_null (pa_sas_cancel_code (p->a));
}

static void
test_they_start (void)
{
  Pair p;

  pair_init (&p);
  run_to_keys (&p, p.b);
  run_macs (&p);
  pair_clear (&p);
}

static void
test_we_start (void)
{
  Pair p;

  pair_init (&p);
  run_to_keys (&p, p.a);
  run_macs (&p);
  pair_clear (&p);
}

static void
test_both_start (void)
{
  Pair p;
  g_autoptr (json_t) req = pa_sas_request_content (B_USER, B_DEV, A_USER);
  json_t *out;
  json_t *a_start;
  json_t *b_start;

  pair_init (&p);
  json_decref (deliver (pa_sas_receive (p.a, "m.key.verification.request", req), p.b));
  a_start = pa_sas_start (p.a);
  b_start = pa_sas_start (p.b);
  /* Alice's start stands (@alice < @bob): she ignores Bob's, Bob accepts hers. */
  out = deliver (b_start, p.a);
  assert_types (out, NULL, NULL);
  json_decref (out);
  out = deliver (a_start, p.b);
  assert_types (out, "m.key.verification.accept", NULL);
  out = deliver (out, p.a);
  assert_types (out, "m.key.verification.key", NULL);
  out = deliver (deliver (out, p.b), p.a);
  assert_types (out, NULL, NULL);
  json_decref (out);
  run_macs (&p);
  pair_clear (&p);
}

static void
test_wrong_commitment (void)
{
  Pair p;
  g_autoptr (json_t) req = pa_sas_request_content (B_USER, B_DEV, A_USER);
  json_t *out;

  pair_init (&p);
  json_decref (deliver (pa_sas_receive (p.a, "m.key.verification.request", req), p.b));
  out = deliver (pa_sas_start (p.b), p.a);
  assert_types (out, "m.key.verification.accept", NULL);
  json_object_set_new (json_object_get (json_array_get (out, 0), "content"), "commitment",
                       json_string ("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
  out = deliver (out, p.b);
  out = deliver (out, p.a);
  out = deliver (out, p.b);
  g_assert_cmpstr (code_of (out), ==, "m.mismatched_commitment");
  g_assert_cmpint (pa_sas_state (p.b), ==, PA_SAS_CANCELLED);
  g_assert_false (pa_sas_emoji (p.b, (guint[PA_SAS_EMOJI_COUNT]){ 0 }));
  /* The cancel ends Alice's side too, and nothing answers it. */
  out = deliver (out, p.a);
  assert_types (out, NULL, NULL);
  json_decref (out);
  g_assert_cmpstr (pa_sas_cancel_code (p.a), ==, "m.mismatched_commitment");
  pair_clear (&p);
}

static void
test_wrong_mac (void)
{
  Pair p;
  json_t *a_mac;
  json_t *out;

  pair_init (&p);
  run_to_keys (&p, p.b);
  a_mac = pa_sas_confirm (p.a);
  json_object_set_new (
      json_object_get (json_object_get (json_array_get (a_mac, 0), "content"), "mac"),
      "ed25519:" A_DEV, json_string ("BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"));
  json_decref (deliver (a_mac, p.b));
  out = pa_sas_confirm (p.b);
  g_assert_cmpstr (code_of (out), ==, "m.key_mismatch");
  g_assert_false (pa_sas_verified (p.b));
  json_decref (out);
  pair_clear (&p);
}

static void
test_wrong_key (void)
{
  Pair p;
  json_t *out;

  pair_init (&p);
  /* Bob expects another device key for Alice than the one she certifies. */
  pa_sas_set_their_key (p.b, "ed25519:" A_DEV, B_KEY);
  run_to_keys (&p, p.a);
  json_decref (deliver (pa_sas_confirm (p.a), p.b));
  out = pa_sas_confirm (p.b);
  g_assert_cmpstr (code_of (out), ==, "m.key_mismatch");
  json_decref (out);
  pair_clear (&p);
}

static void
test_key_list_tampered (void)
{
  Pair p;
  json_t *a_mac;
  json_t *mac;
  json_t *out;

  pair_init (&p);
  run_to_keys (&p, p.b);
  a_mac = pa_sas_confirm (p.a);
  /* Dropping the master key's MAC leaves every remaining MAC right, but
   * the list of key ids no longer matches its MAC. */
  mac = json_object_get (json_object_get (json_array_get (a_mac, 0), "content"), "mac");
  json_object_del (mac, "ed25519:" A_MASTER);
  json_decref (deliver (a_mac, p.b));
  out = pa_sas_confirm (p.b);
  g_assert_cmpstr (code_of (out), ==, "m.key_mismatch");
  json_decref (out);
  pair_clear (&p);
}

static void
test_unexpected (void)
{
  Pair p;
  g_autoptr (json_t) req = pa_sas_request_content (B_USER, B_DEV, A_USER);
  g_autoptr (json_t) key = json_pack ("{s:s, s:{s:s, s:s}}", "key", "AAAA", "m.relates_to",
                                      "rel_type", "m.reference", "event_id", TXN);
  g_autoptr (json_t) start
      = json_pack ("{s:s, s:s, s:{s:s, s:s}}", "from_device", B_DEV, "method", "m.qr_code.show.v1",
                   "m.relates_to", "rel_type", "m.reference", "event_id", TXN);
  json_t *out;

  pair_init (&p);
  json_decref (pa_sas_receive (p.a, "m.key.verification.request", req));
  out = pa_sas_receive (p.a, "m.key.verification.key", key);
  g_assert_cmpstr (code_of (out), ==, "m.unexpected_message");
  json_decref (out);
  /* Once cancelled, nothing more is answered. */
  out = pa_sas_receive (p.a, "m.key.verification.key", key);
  assert_types (out, NULL, NULL);
  json_decref (out);
  pair_clear (&p);

  pair_init (&p);
  json_decref (pa_sas_receive (p.a, "m.key.verification.request", req));
  out = pa_sas_receive (p.a, "m.key.verification.start", start);
  g_assert_cmpstr (code_of (out), ==, "m.unknown_method");
  json_decref (out);
  pair_clear (&p);

  /* A timeout, from the caller's clock. */
  pair_init (&p);
  out = pa_sas_cancel (p.a, "m.timeout", "10 minutes passed");
  g_assert_cmpstr (code_of (out), ==, "m.timeout");
  json_decref (out);
  out = pa_sas_cancel (p.a, "m.timeout", "again");
  assert_types (out, NULL, NULL);
  json_decref (out);
  pair_clear (&p);
}

static void
test_emoji_table (void)
{
  g_autoptr (GHashTable) names = g_hash_table_new (g_str_hash, g_str_equal);

  for (guint i = 0; i < PA_SAS_EMOJI_TABLE_SIZE; i++)
    {
      g_assert_nonnull (pa_sas_emoji_symbol (i));
      g_assert_true (g_hash_table_add (names, (gpointer) pa_sas_emoji_name (i)));
    }
  g_assert_cmpuint (g_hash_table_size (names), ==, 64);
  g_assert_cmpstr (pa_sas_emoji_name (0), ==, "Dog");
  g_assert_cmpstr (pa_sas_emoji_name (63), ==, "Pin");
  g_assert_cmpstr (pa_sas_emoji_symbol (21), ==, "☁️");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/sas/they-start", test_they_start);
  g_test_add_func ("/sas/we-start", test_we_start);
  g_test_add_func ("/sas/both-start", test_both_start);
  g_test_add_func ("/sas/wrong-commitment", test_wrong_commitment);
  g_test_add_func ("/sas/wrong-mac", test_wrong_mac);
  g_test_add_func ("/sas/wrong-key", test_wrong_key);
  g_test_add_func ("/sas/key-list-tampered", test_key_list_tampered);
  g_test_add_func ("/sas/unexpected", test_unexpected);
  g_test_add_func ("/sas/emoji-table", test_emoji_table);
  return g_test_run ();
}
