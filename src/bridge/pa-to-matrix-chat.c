/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Legacy → Matrix, a chat's info (CHAT_INFO): its members' ghosts join
 * the portal once their profiles are set, so each join already carries
 * the member's name (and, when the list is complete, the ghosts no longer
 * listed leave); the room's state follows (pa-to-matrix-room-state.c).
 * History imports keep the room name they gave and join ghosts when they
 * first speak. */
#define G_LOG_DOMAIN "passerelle-remote"

#include "pa-to-matrix-chat.h"

#include "pa-ghost.h"
#include "pa-login-table.h"
#include "pa-portal.h"
#include "pa-queue.h"
#include "pa-to-matrix-room-state.h"
#include "pa-to-matrix-work.h"

static const char *
str (json_t *o, const char *key)
{
  return json_string_value (json_object_get (o, key));
}

typedef struct
{
  PaWork *w;
  GPtrArray *ghosts; /* the listed members' ghosts */
  guint pending;     /* their profiles being set */
} ChatMembers;

static void members_named (ChatMembers *cm);

static void
member_named (PaBridge *b, gboolean ok, const char *error, gpointer user_data)
{
  ChatMembers *cm = user_data;
  if (!ok)
    g_warning ("a member of %s: %s", cm->w->room_id, error);
  if (--cm->pending == 0)
    members_named (cm);
}

void
pa_to_matrix_chat_info (PaWork *w)
{
  PaBridge *b = w->b;
  json_t *chat = json_object_get (w->ev, "chat");
  json_t *members = json_object_get (chat, "members");
  size_t i;
  json_t *m;
  const char *me = w->login->remote_id;
  gboolean shared = w->lane->job == NULL && g_strcmp0 (w->map_login, PA_STORE_SHARED_LOGIN) == 0;
  ChatMembers *cm = g_new0 (ChatMembers, 1);
  cm->w = w;
  cm->ghosts = g_ptr_array_new_with_free_func (g_free);
  cm->pending = 1; /* until every ensure is asked */
  /* History imports join ghosts when they first speak. */
  json_t *joining = w->lane->job ? NULL : members;
  json_array_foreach (joining, i, m)
  {
    const char *id = str (m, "id");
    if (id == NULL || (me && g_str_equal (id, me)))
      continue;
    /* In a shared portal, another agent's legacy account is shown as that
     * agent, not a ghost. */
    if (shared && b->config->double_puppet && pa_login_by_remote (b, w->login->plugin, id) != NULL)
      continue;
    g_ptr_array_add (cm->ghosts, pa_ghost_mxid (b, w->login->plugin, id));
    cm->pending++;
    pa_ghost_ensure (b, w->login->plugin, id, str (m, "name"), str (m, "avatar_path"),
                     member_named, cm);
  }
  member_named (b, TRUE, NULL, cm);
}

/* The members' profiles are set: they join, the unlisted leave, the
 * room's state follows. */
static void
members_named (ChatMembers *cm)
{
  PaWork *w = cm->w;
  PaBridge *b = w->b;
  const char *room_id = w->room_id;
  json_t *chat = json_object_get (w->ev, "chat");
  json_t *members = json_object_get (chat, "members");
  size_t i;
  json_t *m;
  const char *me = w->login->remote_id;
  PaRoomCache *rc = pa_portal_cache (b, room_id);
  for (guint k = 0; k < cm->ghosts->len; k++)
    pa_portal_ensure_member (b, room_id, g_ptr_array_index (cm->ghosts, k));
  g_ptr_array_unref (cm->ghosts);
  g_free (cm);
  /* members_complete: ghosts no longer listed leave. */
  if (w->lane->job == NULL && json_is_true (json_object_get (chat, "members_complete")))
    {
      GHashTableIter it;
      gpointer key;
      g_autoptr (GPtrArray) leavers = g_ptr_array_new_with_free_func (g_free);
      g_hash_table_iter_init (&it, rc->joined);
      while (g_hash_table_iter_next (&it, &key, NULL))
        {
          g_autofree char *p = NULL, *l = NULL;
          gboolean listed = FALSE;
          if (!pa_ghost_parse (b, key, &p, &l))
            continue;
          json_array_foreach (members, i, m) if (g_strcmp0 (str (m, "id"), l) == 0) listed = TRUE;
          if (!listed && (me == NULL || !g_str_equal (l, me)))
            g_ptr_array_add (leavers, g_strdup (key));
        }
      for (guint k = 0; k < leavers->len; k++)
        {
          const char *gm = g_ptr_array_index (leavers, k);
          g_autofree char *er = pa_matrix_escape (room_id);
          g_autofree char *path = g_strdup_printf ("/_matrix/client/v3/rooms/%s/leave", er);
          g_autofree char *when = g_strdup_printf (
              "%" JSON_INTEGER_FORMAT, json_integer_value (json_object_get (w->ev, "ts")));
          g_autofree char *txn = pa_queue_txn_id (room_id, "leave", gm, when, NULL);
          pa_queue_request (b, room_id, "POST", path, gm, NULL, 0, txn, NULL);
          pa_portal_forget_member (b, room_id, gm);
        }
    }
  /* Name, topic, picture, admins, timer (history rooms keep what the
   * import gave them). */
  if (w->lane->job == NULL)
    pa_to_matrix_room_state (b, w->login, room_id, chat);
  w->finish (w);
}
