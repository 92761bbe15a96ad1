/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * tg-ids.c — Telegram's ids ⇄ the SDK's legacy ids (see tg-ids.h).
 *
 * Users, chats and the messages of supergroups, channels, private and
 * secret chats keep TDLib's own numbers.  A basic group is the exception:
 * Telegram numbers its messages per account, so two agents in the same
 * group would see one message under two ids and the host could not
 * deduplicate it.  There the id is built from what every member sees alike
 * (date, sender, a digest of the content without per-account fields), and
 * the login keeps the map both ways in the host's message metadata:
 *   "<chat id>/<legacy id>" → "<TDLib id>"
 *   "<chat id>/td/<TDLib id>" → "<legacy id>"
 * Two equal messages by one sender in the same second get ".2", ".3"… in
 * the order the login sees them, which is the same for every member.
 */
#define G_LOG_DOMAIN "passerelle-telegram"

#include <string.h>

#include "tg-ids.h"

/* TDLib's chat ids: a basic group's is minus its group id, between
 * -999999999999 and -1 (supergroups start at -1000000000000, secret chats
 * near -2000000000000, private chats are positive). */
#define TG_MIN_BASIC_GROUP_CHAT_ID (-999999999999LL)
/* Occurrences of one derived id tried before giving up. */
#define TG_MAX_TWINS 64

char *
tg_ids_user (gint64 user_id)
{
  return g_strdup_printf ("%" G_GINT64_FORMAT, user_id);
}

static gboolean
parse_int64 (const char *s, gint64 min, gint64 max, gint64 *out)
{
  if (s == NULL || *s == '\0')
    return FALSE;
  /* one spelling only: no '+', no leading zeros, no spaces */
  if (s[0] == '+' || (s[0] == '0' && s[1] != '\0') || (s[0] == '-' && s[1] == '0'))
    return FALSE;
  gint64 v = 0;
  if (!g_ascii_string_to_signed (s, 10, min, max, &v, NULL))
    return FALSE;
  *out = v;
  return TRUE;
}

gboolean
tg_ids_parse_user (const char *id, gint64 *user_id)
{
  gint64 v = 0;
  if (!parse_int64 (id, 1, G_MAXINT64, &v))
    return FALSE;
  *user_id = v;
  return TRUE;
}

char *
tg_ids_chat (gint64 chat_id, gint32 topic_id)
{
  if (topic_id != 0)
    return g_strdup_printf ("%" G_GINT64_FORMAT "#%" G_GINT32_FORMAT, chat_id, topic_id);
  return g_strdup_printf ("%" G_GINT64_FORMAT, chat_id);
}

gboolean
tg_ids_parse_chat (const char *id, gint64 *chat_id, gint32 *topic_id)
{
  if (id == NULL)
    return FALSE;
  const char *hash = strchr (id, '#');
  g_autofree char *chat = hash != NULL ? g_strndup (id, (gsize) (hash - id)) : g_strdup (id);
  gint64 c = 0, t = 0;
  if (!parse_int64 (chat, G_MININT64, G_MAXINT64, &c) || c == 0)
    return FALSE;
  if (hash != NULL && !parse_int64 (hash + 1, 1, G_MAXINT32, &t))
    return FALSE;
  *chat_id = c;
  *topic_id = (gint32) t;
  return TRUE;
}

static gboolean
is_basic_group (gint64 chat_id)
{
  return chat_id < 0 && chat_id >= TG_MIN_BASIC_GROUP_CHAT_ID;
}

/* Keys of a content whose values differ between the members of a group
 * (votes chosen by this account, what it has opened, local file state):
 * left out of the digest. */
static const char *const per_account_keys[] = {
  "is_chosen",
  "is_being_chosen",
  "voter_count",
  "vote_percentage",
  "recent_voter_ids",
  "total_voter_count",
  "is_viewed",
  "is_listened",
  "local",
  "speech_recognition_result",
  "link_preview",
  "link_preview_options",
  "can_add_option",
  "is_closed",
  "unread_poll_votes",
  "can_get_voters",
};

static gboolean
is_per_account (const char *key)
{
  for (gsize i = 0; i < G_N_ELEMENTS (per_account_keys); i++)
    if (strcmp (key, per_account_keys[i]) == 0)
      return TRUE;
  return FALSE;
}

static int
cmp_str (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* Feeds `v` to the digest in a form independent of key order.  A file
 * counts only by its remote unique id (its local id is per account). */
static void
digest_value (GChecksum *sum, json_t *v, int depth)
{
  if (depth > 32)
    return;
  switch (json_typeof (v))
    {
    case JSON_OBJECT:
      {
        const char *type = json_string_value (json_object_get (v, "@type"));
        if (g_strcmp0 (type, "file") == 0)
          {
            const char *uid
                = json_string_value (json_object_get (json_object_get (v, "remote"), "unique_id"));
            g_checksum_update (sum, (const guchar *) "F", 1);
            if (uid != NULL)
              g_checksum_update (sum, (const guchar *) uid, -1);
            return;
          }
        g_autoptr (GPtrArray) keys = g_ptr_array_new ();
        const char *k;
        json_t *x;
        json_object_foreach (v, k, x)
        {
          if (!is_per_account (k))
            g_ptr_array_add (keys, (gpointer) k);
        }
        g_ptr_array_sort (keys, cmp_str);
        g_checksum_update (sum, (const guchar *) "{", 1);
        for (guint i = 0; i < keys->len; i++)
          {
            const char *key = g_ptr_array_index (keys, i);
            g_checksum_update (sum, (const guchar *) key, -1);
            g_checksum_update (sum, (const guchar *) ":", 1);
            digest_value (sum, json_object_get (v, key), depth + 1);
          }
        g_checksum_update (sum, (const guchar *) "}", 1);
        return;
      }
    case JSON_ARRAY:
      {
        g_checksum_update (sum, (const guchar *) "[", 1);
        size_t i;
        json_t *x;
        json_array_foreach (v, i, x)
        {
          digest_value (sum, x, depth + 1);
          g_checksum_update (sum, (const guchar *) ",", 1);
        }
        g_checksum_update (sum, (const guchar *) "]", 1);
        return;
      }
    default:
      {
        g_autofree char *s = json_dumps (v, JSON_ENCODE_ANY);
        if (s != NULL)
          g_checksum_update (sum, (const guchar *) s, -1);
        return;
      }
    }
}

static char *
sender_part (json_t *sender)
{
  const char *type = json_string_value (json_object_get (sender, "@type"));
  if (g_strcmp0 (type, "messageSenderUser") == 0)
    return g_strdup_printf ("%" G_GINT64_FORMAT,
                            (gint64) json_integer_value (json_object_get (sender, "user_id")));
  if (g_strcmp0 (type, "messageSenderChat") == 0)
    return g_strdup_printf ("c%" G_GINT64_FORMAT,
                            (gint64) -json_integer_value (json_object_get (sender, "chat_id")));
  return g_strdup ("0");
}

/* "b<date>.<sender>.<16 hex digits>" for a basic group's message. */
static char *
derive_basic_id (json_t *message)
{
  g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  digest_value (sum, json_object_get (message, "content"), 0);
  char hex[17];
  g_strlcpy (hex, g_checksum_get_string (sum), sizeof hex);
  g_autofree char *sender = sender_part (json_object_get (message, "sender_id"));
  return g_strdup_printf ("b%" G_GINT64_FORMAT ".%s.%s",
                          (gint64) json_integer_value (json_object_get (message, "date")), sender,
                          hex);
}

static char *
key_legacy (gint64 chat_id, const char *legacy_id)
{
  return g_strdup_printf ("%" G_GINT64_FORMAT "/%s", chat_id, legacy_id);
}

static char *
key_td (gint64 chat_id, gint64 message_id)
{
  return g_strdup_printf ("%" G_GINT64_FORMAT "/td/%" G_GINT64_FORMAT, chat_id, message_id);
}

static char *
meta_get (PaLogin *login, const char *key)
{
  char *v = login->api->meta_get (login->host, PA_META_MESSAGE, key);
  if (v == NULL)
    return NULL;
  char *copy = g_strdup (v);
  free (v);
  return copy;
}

char *
tg_ids_message_id_to_pa (PaLogin *login, gint64 chat_id, gint64 message_id)
{
  if (!is_basic_group (chat_id))
    return g_strdup_printf ("%" G_GINT64_FORMAT, message_id);
  g_autofree char *k = key_td (chat_id, message_id);
  return meta_get (login, k);
}

char *
tg_ids_message_to_pa (PaLogin *login, json_t *message)
{
  gint64 chat_id = json_integer_value (json_object_get (message, "chat_id"));
  gint64 message_id = json_integer_value (json_object_get (message, "id"));
  if (!is_basic_group (chat_id))
    return g_strdup_printf ("%" G_GINT64_FORMAT, message_id);

  char *known = tg_ids_message_id_to_pa (login, chat_id, message_id);
  if (known != NULL)
    return known;
  if (json_object_get (message, "content") == NULL)
    return NULL;

  g_autofree char *base = derive_basic_id (message);
  g_autofree char *td = g_strdup_printf ("%" G_GINT64_FORMAT, message_id);
  for (int n = 1; n <= TG_MAX_TWINS; n++)
    {
      g_autofree char *id = n == 1 ? g_strdup (base) : g_strdup_printf ("%s.%d", base, n);
      g_autofree char *k = key_legacy (chat_id, id);
      g_autofree char *owner = meta_get (login, k);
      if (owner != NULL && strcmp (owner, td) != 0)
        continue; /* an equal message of the same second: the next occurrence */
      login->api->meta_set (login->host, PA_META_MESSAGE, k, td);
      g_autofree char *back = key_td (chat_id, message_id);
      login->api->meta_set (login->host, PA_META_MESSAGE, back, id);
      return g_steal_pointer (&id);
    }
  return NULL;
}

gboolean
tg_ids_message_from_pa (PaLogin *login, gint64 chat_id, const char *id, gint64 *message_id)
{
  if (id == NULL)
    return FALSE;
  if (!is_basic_group (chat_id))
    return parse_int64 (id, 1, G_MAXINT64, message_id);
  if (id[0] != 'b')
    return FALSE;
  g_autofree char *k = key_legacy (chat_id, id);
  g_autofree char *td = meta_get (login, k);
  return td != NULL && parse_int64 (td, 1, G_MAXINT64, message_id);
}
