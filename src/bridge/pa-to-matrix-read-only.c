/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Legacy → Matrix, a read-only chat (PaChatInfo.read_only: a channel the
 * agent may read but not write).  Its portal's power levels let only the
 * network's side post: events_default 50, every ghost in the room raised
 * to 50 (before its first message: pa-to-matrix-lane.c waits for it), the
 * agents at 0 where the bridge outranks them.  Where it does not (a room
 * version below 12 made before the chat became read-only: the agent is at
 * 100 like the bot), the agent can still write, and the message is
 * answered with a notice instead of being sent (pa-to-legacy-send.c).
 * When the chat becomes writable again, events_default goes back to 0,
 * the ghosts to their network rank (the admins room-state applied) and
 * the agents to 100.  Whether a room is read-only is kept in kv
 * (room_state:<room>:read_only). */
#define G_LOG_DOMAIN "passerelle-remote"

#include "pa-to-matrix-read-only.h"

#include "pa-ghost.h"
#include "pa-login-table.h"
#include "pa-room-cache.h"

static char *
flag_key (const char *room_id)
{
  return g_strconcat ("room_state:", room_id, ":read_only", NULL);
}

gboolean
pa_room_state_read_only (PaBridge *b, const char *room_id)
{
  g_autofree char *key = flag_key (room_id);
  g_autofree char *v = pa_store_kv_get (b->store, key);
  return g_strcmp0 (v, "1") == 0;
}

gboolean
pa_read_only_record (PaBridge *b, const char *room_id, gboolean read_only)
{
  g_autofree char *key = flag_key (room_id);
  g_autofree char *old = pa_store_kv_get (b->store, key);
  const char *value = read_only ? "1" : "0";
  if (g_strcmp0 (old, value) == 0 || (old == NULL && !read_only))
    return FALSE;
  g_autoptr (GError) e = NULL;
  if (!pa_store_kv_set (b->store, key, value, &e))
    g_warning ("store: %s", e->message);
  return TRUE;
}

static json_int_t
level_of (json_t *users, json_int_t dflt, const char *mxid)
{
  json_t *v = json_object_get (users, mxid);
  return json_is_integer (v) ? json_integer_value (v) : dflt;
}

/* The network rank of each ghost, as room-state applied it last: its kv
 * value reads "<mxid>=<level>;" per admin (a ghost's mxid may hold '=',
 * the level follows the last one). */
static GHashTable *
ghost_ranks (PaBridge *b, const char *room_id)
{
  GHashTable *ranks = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autofree char *key = g_strconcat ("room_state:", room_id, ":admins", NULL);
  g_autofree char *sig = pa_store_kv_get (b->store, key);
  g_auto (GStrv) parts = g_strsplit (sig ? sig : "", ";", -1);
  for (guint i = 0; parts[i]; i++)
    {
      char *eq = strrchr (parts[i], '=');
      if (eq == NULL || eq == parts[i])
        continue;
      gint64 level = g_ascii_strtoll (eq + 1, NULL, 10);
      g_hash_table_insert (ranks, g_strndup (parts[i], (gsize) (eq - parts[i])),
                           GINT_TO_POINTER ((int) CLAMP (level, 0, 100)));
    }
  return ranks;
}

/* The owners of the logins in the room: every login of a shared group,
 * the one login of its own portal. */
static GPtrArray *
agents_of (PaBridge *b, const char *room_id)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  g_auto (GStrv) ids = pa_store_portal_logins (b->store, room_id);
  g_autoptr (PaPortalRow) row = pa_store_portal_by_room (b->store, room_id);
  for (guint i = 0; ids && ids[i]; i++)
    {
      PaAccount *l = pa_login_by_id (b, ids[i]);
      if (l)
        g_ptr_array_add (out, g_strdup (l->owner));
    }
  if (row && !g_str_equal (row->login_id, PA_STORE_SHARED_LOGIN))
    {
      PaAccount *l = pa_login_by_id (b, row->login_id);
      if (l && !g_ptr_array_find_with_equal_func (out, l->owner, g_str_equal, NULL))
        g_ptr_array_add (out, g_strdup (l->owner));
    }
  return out;
}

static gboolean
set_level (json_t *users, json_int_t dflt, const char *mxid, json_int_t want)
{
  if (level_of (users, dflt, mxid) == want)
    return FALSE;
  json_object_set_new (users, mxid, json_integer (want));
  return TRUE;
}

/* Read-only: events_default 50, the room's ghosts at 50 or more, the
 * agents at 0 where `mine` (the voice's level) is above theirs. */
static gboolean
make_read_only (PaBridge *b, const char *room_id, const char *voice, json_t *pl, json_t *users,
                json_int_t dflt, json_int_t mine)
{
  gboolean dirty = FALSE;
  if (level_of (pl, 0, "events_default") != PA_READ_ONLY_POST_LEVEL)
    {
      json_object_set_new (pl, "events_default", json_integer (PA_READ_ONLY_POST_LEVEL));
      dirty = TRUE;
    }
  PaRoomCache *rc = pa_portal_cache (b, room_id);
  GHashTableIter it;
  gpointer key;
  g_hash_table_iter_init (&it, rc->joined);
  while (g_hash_table_iter_next (&it, &key, NULL))
    {
      g_autofree char *p = NULL, *l = NULL;
      if (!pa_ghost_parse (b, key, &p, &l))
        continue;
      /* A DM's creating ghost: already above (and, from room version 12
       * on, a creator that must not be listed). */
      if (!g_str_equal (key, voice) && level_of (users, dflt, key) < PA_READ_ONLY_POST_LEVEL)
        dirty |= set_level (users, dflt, key, PA_READ_ONLY_POST_LEVEL);
      /* Queued now: its messages, queued after, come after. */
      g_hash_table_add (rc->posters, g_strdup (key));
    }
  g_autoptr (GPtrArray) agents = agents_of (b, room_id);
  for (guint i = 0; i < agents->len; i++)
    {
      const char *a = g_ptr_array_index (agents, i);
      json_int_t have = level_of (users, dflt, a);
      if (have > 0 && have < mine)
        dirty |= set_level (users, dflt, a, 0);
      else if (have > 0)
        g_message ("read-only %s: %s keeps power %" JSON_INTEGER_FORMAT
                   " (not below the bridge's): refused by notice instead",
                   room_id, a, have);
    }
  return dirty;
}

/* Writable again: events_default 0, ghosts at their network rank, the
 * agents at 100. */
static gboolean
make_writable (PaBridge *b, const char *room_id, const char *voice, json_t *pl, json_t *users,
               json_int_t dflt, json_int_t mine)
{
  gboolean dirty = FALSE;
  g_hash_table_remove_all (pa_portal_cache (b, room_id)->posters);
  if (level_of (pl, 0, "events_default") == PA_READ_ONLY_POST_LEVEL)
    {
      json_object_set_new (pl, "events_default", json_integer (0));
      dirty = TRUE;
    }
  g_autoptr (GHashTable) ranks = ghost_ranks (b, room_id);
  g_autoptr (GPtrArray) lower = g_ptr_array_new_with_free_func (g_free);
  const char *mxid;
  json_t *lv;
  json_object_foreach (users, mxid, lv)
  {
    g_autofree char *p = NULL, *l = NULL;
    if (g_strcmp0 (mxid, voice) == 0 || !pa_ghost_parse (b, mxid, &p, &l))
      continue;
    json_int_t rank = GPOINTER_TO_INT (g_hash_table_lookup (ranks, mxid));
    if (json_integer_value (lv) == PA_READ_ONLY_POST_LEVEL && rank != PA_READ_ONLY_POST_LEVEL)
      g_ptr_array_add (lower, g_strdup (mxid));
  }
  for (guint i = 0; i < lower->len; i++)
    {
      const char *g = g_ptr_array_index (lower, i);
      json_int_t rank = GPOINTER_TO_INT (g_hash_table_lookup (ranks, g));
      if (rank > dflt)
        json_object_set_new (users, g, json_integer (rank));
      else
        json_object_del (users, g);
      dirty = TRUE;
    }
  /* A group's agents are at 100; a DM's agent is put back only where
   * it was lowered (it may be a creator of the room, never listed). */
  gboolean group = g_str_equal (voice, b->bot_mxid);
  g_autoptr (GPtrArray) agents = agents_of (b, room_id);
  for (guint i = 0; i < agents->len; i++)
    {
      const char *a = g_ptr_array_index (agents, i);
      if ((group || json_object_get (users, a) != NULL) && level_of (users, dflt, a) < 100
          && mine >= 100)
        dirty |= set_level (users, dflt, a, 100);
    }
  return dirty;
}

gboolean
pa_read_only_adjust (PaBridge *b, const char *room_id, const char *voice, json_t *pl,
                     gboolean restore)
{
  gboolean read_only = pa_room_state_read_only (b, room_id);
  if (!read_only && !restore)
    return FALSE;
  json_t *users = json_object_get (pl, "users");
  if (!json_is_object (users))
    {
      users = json_object ();
      json_object_set_new (pl, "users", users);
    }
  json_int_t dflt = level_of (pl, 0, "users_default");
  const char *me = voice ? voice : b->bot_mxid;
  /* Not listed: a creator of a version 12 room, above everyone. */
  json_int_t mine = json_object_get (users, me) ? level_of (users, dflt, me) : G_MAXINT64;
  if (read_only)
    return make_read_only (b, room_id, me, pl, users, dflt, mine);
  return make_writable (b, room_id, me, pl, users, dflt, mine);
}

static gboolean
adjust (PaBridge *b, const char *room_id, const char *voice, json_t *pl, gpointer data)
{
  return pa_read_only_adjust (b, room_id, voice, pl, FALSE);
}

void
pa_read_only_sync (PaBridge *b, const char *room_id, PaPowerDoneFunc done, gpointer user_data)
{
  pa_power_edit (b, room_id, adjust, NULL, NULL, done, user_data);
}
