/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Legacy → Matrix, a live chat's room state from its CHAT_INFO: a group's
 * name, topic and picture, the power level of each member the network
 * calls an admin, and the disappearing-messages timer (a state event of
 * ours plus a notice: Tchap keeps the messages, see docs/architecture.md).
 * What was last applied is kept in kv (room_state:<room>:<what>), so a
 * CHAT_INFO repeated at every reconnect sends nothing. */
#define G_LOG_DOMAIN "passerelle-remote"

#include "pa-to-matrix-room-state.h"

#include <glib/gstdio.h>

#include "pa-ghost.h"
#include "pa-login-table.h"
#include "pa-media.h"
#include "pa-queue.h"

/* The state event that carries a chat's disappearing timer. */
#define PA_TIMER_EVENT "fr.passerelle.disappearing"

/* Ghosts never outrank the agents (100): the network's owner is 75, its
 * admins 50. */
#define PA_GHOST_POWER_MAX 75

static const char *
str (json_t *o, const char *key)
{
  return json_string_value (json_object_get (o, key));
}

static char *
state_key (const char *room_id, const char *what)
{
  return g_strconcat ("room_state:", room_id, ":", what, NULL);
}

/* TRUE when `value` differs from what was applied last (and records it). */
static gboolean
changed (PaBridge *b, const char *room_id, const char *what, const char *value)
{
  g_autofree char *key = state_key (room_id, what);
  g_autofree char *old = pa_store_kv_get (b->store, key);
  if (g_strcmp0 (old, value) == 0)
    return FALSE;
  g_autoptr (GError) e = NULL;
  if (!pa_store_kv_set (b->store, key, value, &e))
    g_warning ("store: %s", e->message);
  return TRUE;
}

static void
put_state (PaBridge *b, const char *room_id, const char *type, json_t *body, const char *seed)
{
  g_autofree char *path = pa_matrix_path_state (room_id, type, "");
  g_autofree char *txn = pa_queue_txn_id (room_id, type, seed, NULL);
  pa_queue_request (b, room_id, "PUT", path, NULL, body, 0, txn, NULL);
}

char *
pa_room_state_timer_text (guint64 s)
{
  if (s == 0)
    return g_strdup ("off");
  if (s % 86400 == 0)
    return g_strdup_printf ("%" G_GUINT64_FORMAT " day%s", s / 86400, s == 86400 ? "" : "s");
  if (s % 3600 == 0)
    return g_strdup_printf ("%" G_GUINT64_FORMAT " hour%s", s / 3600, s == 3600 ? "" : "s");
  return g_strdup_printf ("%" G_GUINT64_FORMAT " seconds", s);
}

/* ------------------------------------------------------------ avatar */

typedef struct
{
  PaBridge *b;
  char *room_id;
} AvatarCtx;

static void
avatar_uploaded (PaBridge *b, const char *mxc, json_t *file, const char *error, gpointer data)
{
  AvatarCtx *a = data;
  if (mxc == NULL)
    g_warning ("room avatar of %s not uploaded: %s", a->room_id, error ? error : "?");
  else
    {
      g_autoptr (json_t) body = json_pack ("{s:s}", "url", mxc);
      put_state (b, a->room_id, "m.room.avatar", body, mxc);
    }
  g_free (a->room_id);
  g_free (a);
}

/* A picture file the worker keeps: its path, size and time tell a new one
 * from the one already applied without reading it. */
static void
apply_avatar (PaBridge *b, const char *room_id, const char *path)
{
  GStatBuf st;
  g_autofree char *sig = NULL;
  if (path != NULL && g_stat (path, &st) == 0)
    sig = g_strdup_printf ("%s|%" G_GINT64_FORMAT "|%" G_GINT64_FORMAT, path, (gint64) st.st_size,
                           (gint64) st.st_mtime);
  if (sig == NULL || !changed (b, room_id, "avatar", sig))
    return;
  AvatarCtx *a = g_new0 (AvatarCtx, 1);
  a->b = b;
  a->room_id = g_strdup (room_id);
  /* A clear upload: room pictures are public state, as on Tchap. */
  pa_media_upload (b, NULL, b->config->data_dir, path, "avatar", NULL, avatar_uploaded, a);
}

/* ------------------------------------------------------------ power */

typedef struct
{
  PaBridge *b;
  char *room_id;
  json_t *want; /* ghost mxid → level (0: back to the default) */
} PowerCtx;

static void
power_ctx_free (PowerCtx *p)
{
  g_free (p->room_id);
  json_decref (p->want);
  g_free (p);
}

static void
power_read (PaMatrix *mx, const PaMatrixResponse *resp, gpointer data)
{
  PowerCtx *p = data;
  if (resp->status != 200 || !json_is_object (resp->body))
    {
      g_warning ("power levels of %s not read (%u): admins not applied", p->room_id, resp->status);
      power_ctx_free (p);
      return;
    }
  g_autoptr (json_t) pl = json_deep_copy (resp->body);
  json_t *users = json_object_get (pl, "users");
  if (!json_is_object (users))
    {
      users = json_object ();
      json_object_set_new (pl, "users", users);
    }
  json_int_t dflt = json_integer_value (json_object_get (pl, "users_default"));
  gboolean dirty = FALSE;
  const char *mxid;
  json_t *lv;
  json_object_foreach (p->want, mxid, lv)
  {
    json_int_t want = json_integer_value (lv);
    json_t *cur = json_object_get (users, mxid);
    json_int_t have = cur ? json_integer_value (cur) : dflt;
    if (have == want || (cur == NULL && want <= dflt))
      continue;
    if (want <= dflt)
      json_object_del (users, mxid);
    else
      json_object_set_new (users, mxid, json_integer (want));
    dirty = TRUE;
  }
  if (dirty)
    {
      g_autofree char *dump = json_dumps (users, JSON_SORT_KEYS | JSON_COMPACT);
      put_state (p->b, p->room_id, "m.room.power_levels", pl, dump);
    }
  power_ctx_free (p);
}

static void
apply_power (PaBridge *b, PaAccount *login, const char *room_id, json_t *members)
{
  g_autoptr (json_t) want = json_object ();
  GString *sig = g_string_new (NULL);
  size_t i;
  json_t *m;
  json_array_foreach (members, i, m)
  {
    const char *id = str (m, "id");
    if (id == NULL || g_strcmp0 (id, login->remote_id) == 0)
      continue;
    /* Another agent's account is that agent, already at 100. */
    if (pa_login_by_remote (b, login->plugin, id) != NULL)
      continue;
    json_int_t power = json_integer_value (json_object_get (m, "power"));
    power = CLAMP (power, 0, PA_GHOST_POWER_MAX);
    g_autofree char *gm = pa_ghost_mxid (b, login->plugin, id);
    json_object_set_new (want, gm, json_integer (power));
    if (power > 0)
      g_string_append_printf (sig, "%s=%d;", gm, (int) power);
  }
  /* Only a change of who is admin reads the room's power levels. */
  g_autofree char *s = g_string_free (sig, FALSE);
  if (!changed (b, room_id, "admins", s))
    return;
  PowerCtx *p = g_new0 (PowerCtx, 1);
  p->b = b;
  p->room_id = g_strdup (room_id);
  p->want = g_steal_pointer (&want);
  g_autofree char *path = pa_matrix_path_state (room_id, "m.room.power_levels", "");
  PaMatrixRequest req = { .method = "GET", .path = path, .max_attempts = 3 };
  pa_matrix_request (b->mx, &req, power_read, p);
}

/* ------------------------------------------------------------ entry */

void
pa_to_matrix_room_state (PaBridge *b, PaAccount *login, const char *room_id, json_t *chat)
{
  g_autoptr (PaPortalRow) row = pa_store_portal_by_room (b->store, room_id);
  if (row == NULL || chat == NULL)
    return;
  gboolean group = g_str_equal (row->kind, "group");
  /* Tchap's direct rooms have no name, topic or picture. */
  if (group)
    {
      const char *name = str (chat, "name");
      if (name && g_strcmp0 (name, row->name) != 0)
        {
          g_autoptr (json_t) body = json_pack ("{s:s}", "name", name);
          put_state (b, room_id, "m.room.name", body, name);
          g_free (row->name);
          row->name = g_strdup (name);
          g_autoptr (GError) e = NULL;
          if (!pa_store_portal_put (b->store, row, &e))
            g_warning ("store: %s", e->message);
        }
      json_t *topic = json_object_get (chat, "topic");
      if (json_is_string (topic) && changed (b, room_id, "topic", json_string_value (topic)))
        {
          g_autoptr (json_t) body = json_pack ("{s:O}", "topic", topic);
          put_state (b, room_id, "m.room.topic", body, json_string_value (topic));
        }
      apply_avatar (b, room_id, str (chat, "avatar_path"));
      json_t *members = json_object_get (chat, "members");
      if (json_array_size (members) > 0)
        apply_power (b, login, room_id, members);
    }
  json_t *timer = json_object_get (chat, "disappearing_s");
  if (json_is_integer (timer))
    {
      json_int_t s = json_integer_value (timer);
      g_autofree char *value = g_strdup_printf ("%" JSON_INTEGER_FORMAT, s);
      /* The first CHAT_INFO of a chat without a timer says nothing. */
      g_autofree char *key = state_key (room_id, "timer");
      g_autofree char *old = pa_store_kv_get (b->store, key);
      if ((old != NULL || s > 0) && changed (b, room_id, "timer", value))
        {
          g_autoptr (json_t) body = json_pack ("{s:I}", "seconds", s);
          put_state (b, room_id, PA_TIMER_EVENT, body, value);
          g_autofree char *text = pa_room_state_timer_text ((guint64) s);
          g_autofree char *msg
              = s > 0 ? g_strdup_printf ("⏱ Disappearing messages were set to %s on %s. Tchap "
                                         "keeps this room's messages: they do not disappear here.",
                                         text, login->plugin)
                      : g_strdup_printf ("⏱ Disappearing messages were turned off on %s.",
                                         login->plugin);
          pa_queue_notice (b, room_id, msg);
        }
    }
}
