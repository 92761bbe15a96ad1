/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* One SAS verification as a state machine (see pa-crypto-sas.h).  The
 * strings hashed and MACed are the spec's, to the byte: a client that
 * computes one differently shows other emoji, or cancels. */
#define G_LOG_DOMAIN "passerelle-crypto"

#include "pa-crypto-sas.h"

#include <string.h>

#include "pa-canonical-json.h"
#include "pa-common.h"
#include "pa-olm-sas.h"

#define KEY_AGREEMENT "curve25519-hkdf-sha256"
#define HASH "sha256"
#define MAC_METHOD "hkdf-hmac-sha256.v2"
#define T_PREFIX "m.key.verification."

/* The spec's table ("SAS method: emoji"), index → emoji and name. */
static const struct
{
  const char *symbol;
  const char *name;
} emoji_table[PA_SAS_EMOJI_TABLE_SIZE] = {
  { "🐶", "Dog" },          { "🐱", "Cat" },
  { "🦁", "Lion" },      { "🐎", "Horse" },
  { "🦄", "Unicorn" },   { "🐷", "Pig" },
  { "🐘", "Elephant" },     { "🐰", "Rabbit" },
  { "🐼", "Panda" },        { "🐓", "Rooster" },
  { "🐧", "Penguin" },      { "🐢", "Turtle" },
  { "🐟", "Fish" },         { "🐙", "Octopus" },
  { "🦋", "Butterfly" }, { "🌷", "Flower" },
  { "🌳", "Tree" },         { "🌵", "Cactus" },
  { "🍄", "Mushroom" },     { "🌏", "Globe" },
  { "🌙", "Moon" },         { "☁️", "Cloud" },
  { "🔥", "Fire" },         { "🍌", "Banana" },
  { "🍎", "Apple" },        { "🍓", "Strawberry" },
  { "🌽", "Corn" },         { "🍕", "Pizza" },
  { "🎂", "Cake" },         { "❤️", "Heart" },
  { "😀", "Smiley" },       { "🤖", "Robot" },
  { "🎩", "Hat" },          { "👓", "Glasses" },
  { "🔧", "Spanner" },      { "🎅", "Santa" },
  { "👍", "Thumbs Up" },    { "☂️", "Umbrella" },
  { "⌛", "Hourglass" },    { "⏰", "Clock" },
  { "🎁", "Gift" },         { "💡", "Light Bulb" },
  { "📕", "Book" },         { "✏️", "Pencil" },
  { "📎", "Paperclip" },    { "✂️", "Scissors" },
  { "🔒", "Lock" },         { "🔑", "Key" },
  { "🔨", "Hammer" },       { "☎️", "Telephone" },
  { "🏁", "Flag" },         { "🚂", "Train" },
  { "🚲", "Bicycle" },      { "✈️", "Aeroplane" },
  { "🚀", "Rocket" },       { "🏆", "Trophy" },
  { "⚽", "Ball" },         { "🎸", "Guitar" },
  { "🎺", "Trumpet" },      { "🔔", "Bell" },
  { "⚓", "Anchor" },       { "🎧", "Headphones" },
  { "📁", "Folder" },       { "📌", "Pin" },
};

struct _PaSas
{
  char *our_user;
  char *our_device;
  json_t *our_keys; /* "ed25519:<id>" → key we certify */
  char *their_user;
  char *their_device;
  char *txn;
  GHashTable *their_keys; /* "ed25519:<id>" → key of theirs we can check */
  PaOlmSas *olm;
  char *our_pubkey;
  PaSasState state;
  gboolean we_sent_start; /* our start is out (it may lose the tie-break) */
  gboolean we_start;      /* the start that stands is ours */
  json_t *start;          /* the content of the start that stands */
  char *their_commitment; /* from their accept, when we started */
  gboolean their_key_known;
  guint8 sas[6];
  json_t *their_mac; /* their mac content, checked once we confirmed */
  gboolean their_mac_ok;
  gboolean done_sent;
  gboolean done_received;
  char *cancel_code;
};

/* ------------------------------------------------------------ helpers */

static const char *
jstr (json_t *o, const char *key)
{
  return json_string_value (json_object_get (o, key));
}

static gboolean
array_has (json_t *array, const char *value)
{
  size_t i;
  json_t *v;

  json_array_foreach (array, i, v) if (g_strcmp0 (json_string_value (v), value) == 0) return TRUE;
  return FALSE;
}

/* Adds {"type", "content"} to `out`, with the reference to the request. */
static void
emit (PaSas *sas, json_t *out, const char *type, json_t *content)
{
  json_object_set_new (content, "m.relates_to",
                       json_pack ("{s:s, s:s}", "rel_type", "m.reference", "event_id", sas->txn));
  json_array_append_new (out, json_pack ("{s:s, s:o}", "type", type, "content", content));
}

static json_t *
cancel_into (PaSas *sas, json_t *out, const char *code, const char *reason)
{
  if (sas->state == PA_SAS_CANCELLED || sas->state == PA_SAS_DONE)
    return out;
  g_message ("verification %s with %s cancelled: %s (%s)", sas->txn, sas->their_user, code, reason);
  sas->state = PA_SAS_CANCELLED;
  g_free (sas->cancel_code);
  sas->cancel_code = g_strdup (code);
  emit (sas, out, T_PREFIX "cancel", json_pack ("{s:s, s:s}", "code", code, "reason", reason));
  return out;
}

static json_t *
cancel_new (PaSas *sas, const char *code, const char *reason)
{
  return cancel_into (sas, json_array (), code, reason);
}

/* Unpadded base64 of SHA-256 of `a` then `b`. */
static char *
sha256_b64 (const char *a, const char *b)
{
  g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  guint8 digest[32];
  gsize len = sizeof digest;
  char *out;
  char *eq;

  g_checksum_update (sum, (const guchar *) a, (gssize) strlen (a));
  g_checksum_update (sum, (const guchar *) b, (gssize) strlen (b));
  g_checksum_get_digest (sum, digest, &len);
  out = g_base64_encode (digest, len);
  eq = strchr (out, '=');
  if (eq != NULL)
    *eq = '\0';
  return out;
}

/* The commitment of the accepting side: its public key with the canonical
 * JSON of the start content, as the start was sent (its m.relates_to
 * included: in a room the content has no transaction_id and the
 * relation is what binds it). */
static char *
commitment (const char *pubkey, json_t *start, GError **error)
{
  g_autofree char *canonical = pa_canonical_json (start, error);

  if (canonical == NULL)
    return NULL;
  return sha256_b64 (pubkey, canonical);
}

/* Strings compared in time independent of where they differ. */
static gboolean
same_secret (const char *a, const char *b)
{
  gsize la = strlen (a);
  guint8 diff = 0;

  if (la != strlen (b))
    return FALSE;
  for (gsize i = 0; i < la; i++)
    diff |= (guint8) (a[i] ^ b[i]);
  return diff == 0;
}

static gboolean
relates_ok (PaSas *sas, json_t *content)
{
  json_t *rel = json_object_get (content, "m.relates_to");

  return g_strcmp0 (jstr (rel, "rel_type"), "m.reference") == 0
         && g_strcmp0 (jstr (rel, "event_id"), sas->txn) == 0;
}

/* ------------------------------------------------------------ public */

PaSas *
pa_sas_new (const char *our_user, const char *our_device, const char *our_ed25519, json_t *our_keys,
            const char *their_user, const char *their_device, const char *transaction_id,
            GError **error)
{
  g_autoptr (PaSas) sas = NULL;
  g_autofree char *device_key_id = NULL;

  g_return_val_if_fail (our_user && our_device && our_ed25519 && their_user && transaction_id,
                        NULL);
  g_return_val_if_fail (json_is_object (our_keys), NULL);
  device_key_id = g_strconcat ("ed25519:", our_device, NULL);
  if (g_strcmp0 (jstr (our_keys, device_key_id), our_ed25519) != 0)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_FAILED,
                   "the keys to certify must hold our device key %s", device_key_id);
      return NULL;
    }
  sas = g_new0 (PaSas, 1);
  sas->our_user = g_strdup (our_user);
  sas->our_device = g_strdup (our_device);
  sas->our_keys = json_deep_copy (our_keys);
  sas->their_user = g_strdup (their_user);
  sas->their_device = g_strdup (their_device);
  sas->txn = g_strdup (transaction_id);
  sas->their_keys = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  sas->state = PA_SAS_REQUESTED;
  sas->olm = pa_olm_sas_new (error);
  if (sas->olm == NULL)
    return NULL;
  sas->our_pubkey = pa_olm_sas_pubkey (sas->olm, error);
  if (sas->our_pubkey == NULL)
    return NULL;
  return g_steal_pointer (&sas);
}

void
pa_sas_free (PaSas *sas)
{
  if (sas == NULL)
    return;
  g_free (sas->our_user);
  g_free (sas->our_device);
  json_decref (sas->our_keys);
  g_free (sas->their_user);
  g_free (sas->their_device);
  g_free (sas->txn);
  g_hash_table_unref (sas->their_keys);
  pa_olm_sas_free (sas->olm);
  g_free (sas->our_pubkey);
  json_decref (sas->start);
  g_free (sas->their_commitment);
  json_decref (sas->their_mac);
  g_free (sas->cancel_code);
  g_free (sas);
}

void
pa_sas_set_their_key (PaSas *sas, const char *key_id, const char *key)
{
  g_return_if_fail (key_id != NULL && key != NULL);
  g_hash_table_replace (sas->their_keys, g_strdup (key_id), g_strdup (key));
}

json_t *
pa_sas_request_content (const char *our_user, const char *our_device, const char *their_user)
{
  g_autofree char *body
      = g_strdup_printf ("%s is requesting to verify your device, but your client does not "
                         "support in-chat key verification.",
                         our_user);

  return json_pack ("{s:s, s:s, s:s, s:s, s:[s], s:I}", "msgtype", T_PREFIX "request", "body", body,
                    "from_device", our_device, "to", their_user, "methods", PA_SAS_METHOD,
                    "timestamp", (json_int_t) (g_get_real_time () / 1000));
}

static gboolean
their_device_ok (PaSas *sas, json_t *content)
{
  const char *from = jstr (content, "from_device");

  if (from == NULL)
    return FALSE;
  if (sas->their_device == NULL)
    sas->their_device = g_strdup (from);
  return g_str_equal (sas->their_device, from);
}

json_t *
pa_sas_start (PaSas *sas)
{
  json_t *out = json_array ();
  json_t *content;

  if (sas->state != PA_SAS_READY)
    return out;
  content = json_pack ("{s:s, s:s, s:[s], s:[s], s:[s], s:[s, s]}", "from_device", sas->our_device,
                       "method", PA_SAS_METHOD, "key_agreement_protocols", KEY_AGREEMENT, "hashes",
                       HASH, "message_authentication_codes", MAC_METHOD,
                       "short_authentication_string", "decimal", "emoji");
  emit (sas, out, T_PREFIX "start", content);
  /* What is hashed for the commitment is the content as sent. */
  sas->start = json_incref (content);
  sas->we_sent_start = TRUE;
  sas->we_start = TRUE;
  sas->state = PA_SAS_STARTED;
  return out;
}

/* SAS bytes from the shared secret: both keys, both parties (the
 * starting one first) and the transaction. */
static gboolean
derive_sas (PaSas *sas, const char *their_key, GError **error)
{
  const char *su = sas->we_start ? sas->our_user : sas->their_user;
  const char *sd = sas->we_start ? sas->our_device : sas->their_device;
  const char *sk = sas->we_start ? sas->our_pubkey : their_key;
  const char *au = sas->we_start ? sas->their_user : sas->our_user;
  const char *ad = sas->we_start ? sas->their_device : sas->our_device;
  const char *ak = sas->we_start ? their_key : sas->our_pubkey;
  g_autofree char *info = NULL;

  if (!pa_olm_sas_set_their_key (sas->olm, their_key, error))
    return FALSE;
  info = g_strdup_printf ("MATRIX_KEY_VERIFICATION_SAS|%s|%s|%s|%s|%s|%s|%s", su, sd, sk, au, ad,
                          ak, sas->txn);
  if (!pa_olm_sas_generate_bytes (sas->olm, info, sas->sas, sizeof sas->sas, error))
    return FALSE;
  sas->their_key_known = TRUE;
  sas->state = PA_SAS_KEYS;
  return TRUE;
}

static json_t *
on_start (PaSas *sas, json_t *content)
{
  json_t *out = json_array ();
  json_t *agreed;
  g_autoptr (GError) error = NULL;
  g_autofree char *commit = NULL;

  if (sas->state == PA_SAS_STARTED && sas->we_sent_start && !sas->their_key_known
      && sas->their_commitment == NULL)
    {
      /* Both started: the smaller (user, device) keeps its start. */
      int c = strcmp (sas->their_user, sas->our_user);

      if (c == 0)
        c = g_strcmp0 (sas->their_device, sas->our_device);
      if (c > 0)
        return out;
      g_message ("verification %s: both sides started, theirs stands", sas->txn);
      json_decref (g_steal_pointer (&sas->start));
      sas->we_start = FALSE;
      sas->state = PA_SAS_READY;
    }
  if (sas->state != PA_SAS_READY)
    return cancel_into (sas, out, "m.unexpected_message", "start out of turn");
  if (!their_device_ok (sas, content))
    return cancel_into (sas, out, "m.invalid_message", "start from another device");
  if (g_strcmp0 (jstr (content, "method"), PA_SAS_METHOD) != 0
      || !array_has (json_object_get (content, "key_agreement_protocols"), KEY_AGREEMENT)
      || !array_has (json_object_get (content, "hashes"), HASH)
      || !array_has (json_object_get (content, "message_authentication_codes"), MAC_METHOD))
    return cancel_into (sas, out, "m.unknown_method",
                        "only m.sas.v1 with " KEY_AGREEMENT ", " HASH " and " MAC_METHOD
                        " is supported");
  agreed = json_array ();
  if (array_has (json_object_get (content, "short_authentication_string"), "decimal"))
    json_array_append_new (agreed, json_string ("decimal"));
  if (array_has (json_object_get (content, "short_authentication_string"), "emoji"))
    json_array_append_new (agreed, json_string ("emoji"));
  if (json_array_size (agreed) == 0)
    {
      json_decref (agreed);
      return cancel_into (sas, out, "m.unknown_method", "no common short authentication string");
    }
  commit = commitment (sas->our_pubkey, content, &error);
  if (commit == NULL)
    {
      json_decref (agreed);
      return cancel_into (sas, out, "m.invalid_message", error->message);
    }
  sas->start = json_deep_copy (content);
  sas->we_start = FALSE;
  sas->state = PA_SAS_STARTED;
  emit (sas, out, T_PREFIX "accept",
        json_pack ("{s:s, s:s, s:s, s:s, s:O, s:s}", "method", PA_SAS_METHOD,
                   "key_agreement_protocol", KEY_AGREEMENT, "hash", HASH,
                   "message_authentication_code", MAC_METHOD, "short_authentication_string", agreed,
                   "commitment", commit));
  json_decref (agreed);
  return out;
}

static json_t *
on_accept (PaSas *sas, json_t *content)
{
  json_t *out = json_array ();
  json_t *methods = json_object_get (content, "short_authentication_string");
  const char *commit = jstr (content, "commitment");

  if (sas->state != PA_SAS_STARTED || !sas->we_start || sas->their_commitment != NULL)
    return cancel_into (sas, out, "m.unexpected_message", "accept out of turn");
  if (commit == NULL || !json_is_array (methods))
    return cancel_into (sas, out, "m.invalid_message", "accept without commitment");
  if (g_strcmp0 (jstr (content, "key_agreement_protocol"), KEY_AGREEMENT) != 0
      || g_strcmp0 (jstr (content, "hash"), HASH) != 0
      || g_strcmp0 (jstr (content, "message_authentication_code"), MAC_METHOD) != 0
      || json_array_size (methods) == 0)
    return cancel_into (sas, out, "m.unknown_method", "accept chose what was not offered");
  sas->their_commitment = g_strdup (commit);
  emit (sas, out, T_PREFIX "key", json_pack ("{s:s}", "key", sas->our_pubkey));
  return out;
}

static json_t *
on_key (PaSas *sas, json_t *content)
{
  json_t *out = json_array ();
  const char *key = jstr (content, "key");
  g_autoptr (GError) error = NULL;

  if (sas->state != PA_SAS_STARTED || (sas->we_start && sas->their_commitment == NULL))
    return cancel_into (sas, out, "m.unexpected_message", "key out of turn");
  if (key == NULL)
    return cancel_into (sas, out, "m.invalid_message", "key without key");
  if (sas->we_start)
    {
      g_autofree char *expected = commitment (key, sas->start, &error);

      if (expected == NULL || !same_secret (expected, sas->their_commitment))
        return cancel_into (sas, out, "m.mismatched_commitment",
                            "their key does not match their commitment");
    }
  else
    emit (sas, out, T_PREFIX "key", json_pack ("{s:s}", "key", sas->our_pubkey));
  if (!derive_sas (sas, key, &error))
    {
      /* Nothing may be sent before the cancel: their key is not used. */
      json_array_clear (out);
      return cancel_into (sas, out, "m.invalid_message", error->message);
    }
  return out;
}

/* The MAC info for keys sent by (from_user, from_device). */
static char *
mac_info (PaSas *sas, gboolean ours, const char *key_id)
{
  const char *fu = ours ? sas->our_user : sas->their_user;
  const char *fd = ours ? sas->our_device : sas->their_device;
  const char *tu = ours ? sas->their_user : sas->our_user;
  const char *td = ours ? sas->their_device : sas->our_device;

  return g_strconcat ("MATRIX_KEY_VERIFICATION_MAC", fu, fd, tu, td, sas->txn, key_id, NULL);
}

static int
compare_ids (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* The key ids of a mac object, sorted and joined by commas. */
static char *
key_ids (json_t *mac)
{
  g_autoptr (GPtrArray) ids = g_ptr_array_new ();
  const char *id;
  json_t *v;

  json_object_foreach (mac, id, v) g_ptr_array_add (ids, (gpointer) id);
  g_ptr_array_sort (ids, compare_ids);
  g_ptr_array_add (ids, NULL);
  return g_strjoinv (",", (char **) ids->pdata);
}

static json_t *
our_mac_content (PaSas *sas, GError **error)
{
  g_autoptr (json_t) mac = json_object ();
  g_autofree char *ids = NULL;
  g_autofree char *info = NULL;
  g_autofree char *keys = NULL;
  const char *id;
  json_t *v;

  json_object_foreach (sas->our_keys, id, v)
  {
    g_autofree char *i = mac_info (sas, TRUE, id);
    char *m = pa_olm_sas_mac (sas->olm, json_string_value (v), i, error);

    if (m == NULL)
      return NULL;
    json_object_set_new (mac, id, json_string (m));
    g_free (m);
  }
  ids = key_ids (mac);
  info = mac_info (sas, TRUE, "KEY_IDS");
  keys = pa_olm_sas_mac (sas->olm, ids, info, error);
  if (keys == NULL)
    return NULL;
  return json_pack ("{s:O, s:s}", "mac", mac, "keys", keys);
}

/* Checks their MAC: the list of key ids, their device key (which must be
 * there), and every other key we know of theirs.  A key we do not know
 * (their master key, when the caller has none) is covered by the list
 * but not checked.  NULL when it checks, else the cancel code. */
static const char *
check_their_mac (PaSas *sas, const char **reason)
{
  json_t *mac = json_object_get (sas->their_mac, "mac");
  const char *keys = jstr (sas->their_mac, "keys");
  g_autofree char *device_id = g_strconcat ("ed25519:", sas->their_device, NULL);
  g_autofree char *ids = NULL;
  g_autofree char *info = NULL;
  g_autofree char *expected = NULL;
  const char *id;
  json_t *v;

  if (!json_is_object (mac) || keys == NULL)
    {
      *reason = "mac without mac or keys";
      return "m.invalid_message";
    }
  ids = key_ids (mac);
  info = mac_info (sas, FALSE, "KEY_IDS");
  expected = pa_olm_sas_mac (sas->olm, ids, info, NULL);
  if (expected == NULL || !same_secret (expected, keys))
    {
      *reason = "the MAC of the list of keys does not match";
      return "m.key_mismatch";
    }
  if (json_object_get (mac, device_id) == NULL
      || g_hash_table_lookup (sas->their_keys, device_id) == NULL)
    {
      *reason = "their device key is not among the keys, or unknown to us";
      return "m.key_mismatch";
    }
  json_object_foreach (mac, id, v)
  {
    const char *key = g_hash_table_lookup (sas->their_keys, id);
    g_autofree char *i = NULL;
    g_autofree char *m = NULL;

    if (key == NULL)
      continue;
    i = mac_info (sas, FALSE, id);
    m = pa_olm_sas_mac (sas->olm, key, i, NULL);
    if (m == NULL || json_string_value (v) == NULL || !same_secret (m, json_string_value (v)))
      {
        *reason = "the MAC of a key does not match";
        return "m.key_mismatch";
      }
  }
  return NULL;
}

/* Once we confirmed and their MAC came: check it, then done. */
static json_t *
finish_macs (PaSas *sas, json_t *out)
{
  const char *reason = NULL;
  const char *code;

  if (sas->state != PA_SAS_CONFIRMED || sas->their_mac == NULL || sas->their_mac_ok)
    return out;
  code = check_their_mac (sas, &reason);
  if (code != NULL)
    return cancel_into (sas, out, code, reason);
  sas->their_mac_ok = TRUE;
  g_message ("verification %s: the keys of %s %s are verified", sas->txn, sas->their_user,
             sas->their_device);
  emit (sas, out, T_PREFIX "done", json_object ());
  sas->done_sent = TRUE;
  if (sas->done_received)
    sas->state = PA_SAS_DONE;
  return out;
}

json_t *
pa_sas_confirm (PaSas *sas)
{
  json_t *out = json_array ();
  g_autoptr (GError) error = NULL;
  json_t *mac;

  if (sas->state != PA_SAS_KEYS)
    return out;
  mac = our_mac_content (sas, &error);
  if (mac == NULL)
    return cancel_into (sas, out, "m.invalid_message", error->message);
  emit (sas, out, T_PREFIX "mac", mac);
  sas->state = PA_SAS_CONFIRMED;
  return finish_macs (sas, out);
}

json_t *
pa_sas_cancel (PaSas *sas, const char *code, const char *reason)
{
  return cancel_new (sas, code, reason);
}

json_t *
pa_sas_receive (PaSas *sas, const char *type, json_t *content)
{
  json_t *out;

  g_return_val_if_fail (type != NULL, json_array ());
  if (sas->state == PA_SAS_CANCELLED || sas->state == PA_SAS_DONE)
    return json_array ();
  if (!json_is_object (content))
    return cancel_new (sas, "m.invalid_message", "content is not an object");
  if (g_str_equal (type, T_PREFIX "request"))
    {
      if (sas->state != PA_SAS_REQUESTED || sas->we_sent_start)
        return cancel_new (sas, "m.unexpected_message", "request out of turn");
      if (!their_device_ok (sas, content))
        return cancel_new (sas, "m.invalid_message", "request without from_device");
      if (!array_has (json_object_get (content, "methods"), PA_SAS_METHOD))
        return cancel_new (sas, "m.unknown_method", "only m.sas.v1 is supported");
      out = json_array ();
      emit (sas, out, T_PREFIX "ready",
            json_pack ("{s:s, s:[s]}", "from_device", sas->our_device, "methods", PA_SAS_METHOD));
      sas->state = PA_SAS_READY;
      return out;
    }
  if (!relates_ok (sas, content))
    return cancel_new (sas, "m.invalid_message", "event of another transaction");
  if (g_str_equal (type, T_PREFIX "cancel"))
    {
      const char *code = jstr (content, "code");

      g_message ("verification %s cancelled by %s: %s (%s)", sas->txn, sas->their_user,
                 code ? code : "?", jstr (content, "reason") ? jstr (content, "reason") : "");
      sas->state = PA_SAS_CANCELLED;
      g_free (sas->cancel_code);
      sas->cancel_code = g_strdup (code ? code : "m.user");
      return json_array ();
    }
  if (g_str_equal (type, T_PREFIX "ready"))
    {
      if (sas->state != PA_SAS_REQUESTED)
        return cancel_new (sas, "m.unexpected_message", "ready out of turn");
      if (!their_device_ok (sas, content))
        return cancel_new (sas, "m.invalid_message", "ready without from_device");
      if (!array_has (json_object_get (content, "methods"), PA_SAS_METHOD))
        return cancel_new (sas, "m.unknown_method", "only m.sas.v1 is supported");
      sas->state = PA_SAS_READY;
      return json_array ();
    }
  if (g_str_equal (type, T_PREFIX "start"))
    return on_start (sas, content);
  if (g_str_equal (type, T_PREFIX "accept"))
    return on_accept (sas, content);
  if (g_str_equal (type, T_PREFIX "key"))
    return on_key (sas, content);
  if (g_str_equal (type, T_PREFIX "mac"))
    {
      if ((sas->state != PA_SAS_KEYS && sas->state != PA_SAS_CONFIRMED) || sas->their_mac != NULL)
        return cancel_new (sas, "m.unexpected_message", "mac out of turn");
      /* Kept until we confirmed: the spec forbids acting on it before. */
      sas->their_mac = json_deep_copy (content);
      return finish_macs (sas, json_array ());
    }
  if (g_str_equal (type, T_PREFIX "done"))
    {
      if (sas->state != PA_SAS_CONFIRMED || sas->their_mac == NULL || sas->done_received)
        return cancel_new (sas, "m.unexpected_message", "done out of turn");
      sas->done_received = TRUE;
      if (sas->done_sent)
        sas->state = PA_SAS_DONE;
      return json_array ();
    }
  return cancel_new (sas, "m.unexpected_message", "unknown verification event");
}

PaSasState
pa_sas_state (PaSas *sas)
{
  return sas->state;
}

gboolean
pa_sas_verified (PaSas *sas)
{
  return sas->their_mac_ok;
}

const char *
pa_sas_cancel_code (PaSas *sas)
{
  return sas->cancel_code;
}

gboolean
pa_sas_emoji (PaSas *sas, guint indexes[PA_SAS_EMOJI_COUNT])
{
  guint64 bits = 0;

  if (!sas->their_key_known)
    return FALSE;
  for (guint i = 0; i < 6; i++)
    bits = (bits << 8) | sas->sas[i];
  /* The first 42 of the 48 bits, 6 at a time. */
  for (guint i = 0; i < PA_SAS_EMOJI_COUNT; i++)
    indexes[i] = (guint) ((bits >> (42 - 6 * i)) & 63);
  return TRUE;
}

gboolean
pa_sas_decimal (PaSas *sas, guint numbers[PA_SAS_DECIMAL_COUNT])
{
  const guint8 *b = sas->sas;

  if (!sas->their_key_known)
    return FALSE;
  /* The first 39 bits, 13 at a time, each plus 1000. */
  numbers[0] = ((guint) b[0] << 5 | b[1] >> 3) + 1000;
  numbers[1] = ((guint) (b[1] & 0x7) << 10 | (guint) b[2] << 2 | b[3] >> 6) + 1000;
  numbers[2] = ((guint) (b[3] & 0x3f) << 7 | b[4] >> 1) + 1000;
  return TRUE;
}

const char *
pa_sas_emoji_symbol (guint index)
{
  g_return_val_if_fail (index < PA_SAS_EMOJI_TABLE_SIZE, NULL);
  return emoji_table[index].symbol;
}

const char *
pa_sas_emoji_name (guint index)
{
  g_return_val_if_fail (index < PA_SAS_EMOJI_TABLE_SIZE, NULL);
  return emoji_table[index].name;
}
