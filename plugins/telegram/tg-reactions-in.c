/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * tg-reactions-in.c — a message's reactions → REACTION_SYNC per sender.
 *
 * TDLib does not say who added or removed a reaction: a user's client sees
 * each reaction's count, whether the account chose it, and up to three
 * recent senders.  So the part keeps the last sets it bridged (per message,
 * in memory) and emits the full set of each sender whose set changed.  A
 * sender who no longer appears is taken to have removed their reactions
 * only when the list is complete (every count covered by the senders
 * shown), or when the sender is the account itself (TDLib always says
 * what it chose); otherwise their set is kept as it was.  Custom emoji and paid
 * stars have no emoji to show and are left out.
 */
#define G_LOG_DOMAIN "passerelle-telegram"

#include "tg-reactions-in.h"
#include "tg-ids.h"

/* Messages whose reactions are remembered, at most; then forgotten. */
#define TG_REACTIONS_KEPT 20000

struct TgReactionsIn
{
  GHashTable *last;            /* "<chat>/<message>" → {"<sender>": ["👍", …]} */
  TgChatOfMessageFunc chat_of; /* the incoming part's: a message's legacy chat */
};

TgReactionsIn *
tg_reactions_in_new (TgChatOfMessageFunc chat_of)
{
  TgReactionsIn *r = g_new0 (TgReactionsIn, 1);
  r->chat_of = chat_of;
  r->last = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) json_decref);
  return r;
}

void
tg_reactions_in_free (TgReactionsIn *r)
{
  if (r == NULL)
    return;
  g_hash_table_unref (r->last);
  g_free (r);
}

static void
add_key (json_t *sets, const char *sender, const char *key)
{
  json_t *keys = json_object_get (sets, sender);
  if (keys == NULL)
    {
      keys = json_array ();
      json_object_set_new (sets, sender, keys);
    }
  size_t i;
  json_t *k;
  json_array_foreach (keys, i, k)
  {
    if (g_strcmp0 (json_string_value (k), key) == 0)
      return;
  }
  json_array_append_new (keys, json_string (key));
}

/* Each sender's set of emoji; *complete says whether every reaction's
 * count is covered by the senders listed. */
static json_t *
sets_of (PaLogin *login, json_t *reactions, gboolean *complete)
{
  json_t *sets = json_object ();
  *complete = TRUE;
  g_autofree char *self = tg_ids_user (login->self_id);
  size_t i;
  json_t *r;
  json_array_foreach (reactions, i, r)
  {
    json_t *type = json_object_get (r, "type");
    const char *emoji = tg_jis (type, "reactionTypeEmoji") ? tg_jstr (type, "emoji") : NULL;
    if (emoji == NULL)
      continue;
    gint64 listed = 0;
    gboolean self_listed = FALSE;
    size_t j;
    json_t *s;
    json_array_foreach (json_object_get (r, "recent_sender_ids"), j, s)
    {
      g_autofree char *id = tg_chats_sender_id (s);
      if (id == NULL)
        continue;
      add_key (sets, id, emoji);
      listed++;
      self_listed |= strcmp (id, self) == 0;
    }
    if (json_is_true (json_object_get (r, "is_chosen")) && login->self_id != 0)
      {
        add_key (sets, self, emoji);
        if (!self_listed)
          listed++;
      }
    if (tg_jint (r, "total_count") > listed)
      *complete = FALSE;
  }
  return sets;
}

static void
emit_sync (PaLogin *login, const char *chat, const char *target, const char *sender, json_t *keys)
{
  size_t n = json_array_size (keys);
  g_autofree const char **list = g_new0 (const char *, n + 1);
  for (size_t i = 0; i < n; i++)
    list[i] = json_string_value (json_array_get (keys, i));
  g_autofree char *self = tg_ids_user (login->self_id);
  PaEvent ev = {
    .struct_size = sizeof (PaEvent),
    .type = PA_EV_REACTION_SYNC,
    .chat_id = chat,
    .sender_id = sender,
    .timestamp_ms = g_get_real_time () / 1000,
    .target_id = target,
    .from_me = strcmp (sender, self) == 0,
    .reaction_keys = n > 0 ? list : NULL,
    .n_reaction_keys = n,
  };
  tg_emit (login, &ev);
}

static gboolean
same_set (json_t *a, json_t *b)
{
  if (json_array_size (a) != json_array_size (b))
    return FALSE;
  size_t i;
  json_t *k;
  json_array_foreach (a, i, k)
  {
    gboolean found = FALSE;
    size_t j;
    json_t *l;
    json_array_foreach (b, j, l)
    {
      found |= json_equal (k, l);
    }
    if (!found)
      return FALSE;
  }
  return TRUE;
}

void
tg_reactions_in_sync (PaLogin *login, TgReactionsIn *r, gint64 chat_id, gint64 message_id,
                      json_t *interaction_info)
{
  json_t *reactions = json_object_get (interaction_info, "reactions");
  /* messageReactions in current schemas, a bare vector in older ones */
  if (json_is_object (reactions))
    reactions = json_object_get (reactions, "reactions");
  g_autofree char *key
      = g_strdup_printf ("%" G_GINT64_FORMAT "/%" G_GINT64_FORMAT, chat_id, message_id);
  json_t *last = g_hash_table_lookup (r->last, key);
  if (last == NULL && json_array_size (reactions) == 0)
    return;
  g_autofree char *target = tg_ids_message_id_to_pa (login, chat_id, message_id);
  if (target == NULL)
    return;
  g_autofree char *chat = r->chat_of (login, chat_id, message_id);
  gboolean complete = TRUE;
  json_t *now = sets_of (login, reactions, &complete);

  const char *sender;
  json_t *keys;
  json_object_foreach (now, sender, keys)
  {
    if (!same_set (keys, json_object_get (last, sender)))
      emit_sync (login, chat, target, sender, keys);
  }
  g_autofree char *self = tg_ids_user (login->self_id);
  json_object_foreach (last, sender, keys)
  {
    if (json_object_get (now, sender) != NULL)
      continue;
    /* the account's own choice is always known (is_chosen) */
    if (complete || strcmp (sender, self) == 0)
      emit_sync (login, chat, target, sender, NULL);
    else
      json_object_set (now, sender, keys);
  }
  if (g_hash_table_size (r->last) >= TG_REACTIONS_KEPT)
    g_hash_table_remove_all (r->last);
  g_hash_table_replace (r->last, g_steal_pointer (&key), now);
}
