/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Legacy → Matrix, a live chat's room state from its CHAT_INFO: a group's
 * name, topic and picture, the power level of each member the network
 * calls an admin, whether the chat is read-only (with
 * pa-to-matrix-read-only.c) or secret (always encrypted, marked with a
 * state event of ours and a notice), and the disappearing-messages timer
 * (a state event of ours plus a notice: Tchap keeps the messages, see
 * docs/architecture.md).
 * What was last applied is kept in kv (room_state:<room>:<what>), so a
 * CHAT_INFO repeated at every reconnect sends nothing. */
#define G_LOG_DOMAIN "passerelle-remote"

#include "pa-to-matrix-room-state.h"

#include <glib/gstdio.h>

#include "pa-ghost.h"
#include "pa-login-table.h"
#include "pa-media.h"
#include "pa-plugins.h"
#include "pa-queue.h"
#include "pa-to-matrix-read-only.h"

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
put_state_as (PaBridge *b, const char *room_id, const char *who, const char *type, json_t *body,
              const char *seed)
{
  g_autofree char *path = pa_matrix_path_state (room_id, type, "");
  g_autofree char *txn = pa_queue_txn_id (room_id, type, seed, NULL);
  pa_queue_request (b, room_id, "PUT", path, who, body, 0, txn, NULL);
}

static void
put_state (PaBridge *b, const char *room_id, const char *type, json_t *body, const char *seed)
{
  put_state_as (b, room_id, NULL, type, body, seed);
}

/* Who speaks for the bridge in the room: a DM's creating ghost (a DM has
 * no bot), else NULL (the bot); transfer full. */
static char *
voice_of (PaBridge *b, const char *room_id)
{
  g_autofree char *key = g_strdup_printf ("creator:%s", room_id);
  return pa_store_kv_get (b->store, key);
}

static const char *
network_name (PaBridge *b, const char *plugin)
{
  PaPluginInfo *info = pa_plugin_info (b, plugin);
  return info && info->display_name ? info->display_name : plugin;
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
  json_t *want;     /* ghost mxid → level (0: back to the default) */
  gboolean restore; /* the chat stopped being read-only */
} PowerEdit;

static void
power_edit_free (gpointer data)
{
  PowerEdit *p = data;
  json_decref (p->want);
  g_free (p);
}

static gboolean
power_edit (PaBridge *b, const char *room_id, const char *voice, json_t *pl, gpointer data)
{
  PowerEdit *p = data;
  json_t *users = json_object_get (pl, "users");
  if (!json_is_object (users))
    {
      users = json_object ();
      json_object_set_new (pl, "users", users);
    }
  json_int_t dflt = json_integer_value (json_object_get (pl, "users_default"));
  gboolean dirty = FALSE;
  /* In a read-only chat every ghost posts from PA_READ_ONLY_POST_LEVEL. */
  json_int_t floor = pa_room_state_read_only (b, room_id) ? PA_READ_ONLY_POST_LEVEL : 0;
  const char *mxid;
  json_t *lv;
  json_object_foreach (p->want, mxid, lv)
  {
    json_int_t want = MAX (json_integer_value (lv), floor);
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
  /* Read-only rides on the same read: one PUT, neither undoes the other. */
  dirty |= pa_read_only_adjust (b, room_id, voice, pl, p->restore);
  return dirty;
}

/* Applies `want` (taken; may be NULL) and what read-only asks to the
 * room's power levels. */
static void
power_sync (PaBridge *b, const char *room_id, json_t *want, gboolean restore)
{
  PowerEdit *p = g_new0 (PowerEdit, 1);
  p->want = want ? want : json_object ();
  p->restore = restore;
  pa_power_edit (b, room_id, power_edit, p, power_edit_free, NULL, NULL);
}

/* The admins' levels a CHAT_INFO's members ask, or NULL when they are the
 * ones applied last. */
static json_t *
admins_want (PaBridge *b, PaAccount *login, const char *room_id, json_t *members)
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
    return NULL;
  return g_steal_pointer (&want);
}

/* ------------------------------------------------------------ secret */

static void
secret_notice (PaBridge *b, const char *plugin, const char *room_id)
{
  g_autofree char *msg = g_strdup_printf (
      "🔒 Secret chat: %s keeps this conversation end-to-end encrypted, on the two phones "
      "only.  This room is encrypted too, and stays so.",
      network_name (b, plugin));
  pa_queue_notice (b, room_id, msg);
}

/* A chat that became secret after its portal was made: the room is
 * encrypted now (it cannot be turned back in Matrix, so this is safe),
 * marked, and says so. */
static void
apply_secret (PaBridge *b, PaAccount *login, PaPortalRow *row, const char *room_id)
{
  if (!changed (b, room_id, "secret", "1"))
    return;
  g_autofree char *voice = voice_of (b, room_id);
  if (!row->encrypted)
    {
      g_autoptr (json_t) enc = json_pack ("{s:s}", "algorithm", "m.megolm.v1.aes-sha2");
      put_state_as (b, room_id, voice, "m.room.encryption", enc, "secret");
      row->encrypted = TRUE;
      g_autoptr (GError) e = NULL;
      if (!pa_store_portal_put (b->store, row, &e))
        g_warning ("store: %s", e->message);
    }
  g_autoptr (json_t) mark = json_pack ("{s:b}", "secret", 1);
  put_state_as (b, room_id, voice, PA_SECRET_EVENT, mark, "secret");
  secret_notice (b, login->plugin, room_id);
}

/* ------------------------------------------------------------ read-only */

static void
read_only_notice (PaBridge *b, const char *plugin, const char *room_id, gboolean read_only)
{
  g_autofree char *msg
      = read_only ? g_strdup_printf ("🔇 This chat is read-only on %s: you can read it here, "
                                     "not write in it.",
                                     network_name (b, plugin))
                  : g_strdup_printf ("✏️ You can write in this chat again on %s.",
                                     network_name (b, plugin));
  pa_queue_notice (b, room_id, msg);
}

void
pa_room_state_created (PaBridge *b, const char *plugin, const char *room_id, gboolean secret,
                       gboolean read_only)
{
  if (secret && changed (b, room_id, "secret", "1"))
    secret_notice (b, plugin, room_id);
  /* The room was made read-only (pa-portal.c): the ghosts are raised as
   * they join. */
  if (read_only && pa_read_only_record (b, room_id, TRUE))
    read_only_notice (b, plugin, room_id, TRUE);
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
    }
  if (json_is_true (json_object_get (chat, "secret")))
    apply_secret (b, login, row, room_id);
  /* Admins (groups) and read-only: one read of the power levels. */
  json_t *members = json_object_get (chat, "members");
  json_t *want
      = group && json_array_size (members) > 0 ? admins_want (b, login, room_id, members) : NULL;
  gboolean read_only = json_is_true (json_object_get (chat, "read_only"));
  gboolean ro_changed = pa_read_only_record (b, room_id, read_only);
  if (want != NULL || ro_changed)
    power_sync (b, room_id, want, ro_changed && !read_only);
  if (ro_changed)
    read_only_notice (b, login->plugin, room_id, read_only);
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
