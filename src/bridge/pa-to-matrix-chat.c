/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Legacy → Matrix, a chat's info (CHAT_INFO): its members' ghosts join
 * the portal (and, when the list is complete, the ghosts no longer listed
 * leave); the room's state follows (pa-to-matrix-room-state.c).  History
 * imports keep the room name they gave and join ghosts when they first
 * speak. */
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

void
pa_to_matrix_chat_info (PaWork *w)
{
  PaBridge *b = w->b;
  const char *room_id = w->room_id;
  json_t *chat = json_object_get (w->ev, "chat");
  json_t *members = json_object_get (chat, "members");
  size_t i;
  json_t *m;
  g_autofree char *me = w->login->remote_id ? g_strdup (w->login->remote_id) : NULL;
  PaRoomCache *rc = pa_portal_cache (b, room_id);
  gboolean shared = w->lane->job == NULL && g_strcmp0 (w->map_login, PA_STORE_SHARED_LOGIN) == 0;
  json_array_foreach (members, i, m)
  {
    const char *id = str (m, "id");
    if (id == NULL || (me && g_str_equal (id, me)))
      continue;
    /* In a shared portal, another agent's legacy account is shown as that
     * agent, not a ghost. */
    if (shared && b->config->double_puppet && pa_login_by_remote (b, w->login->plugin, id) != NULL)
      continue;
    g_autofree char *gm = pa_ghost_mxid (b, w->login->plugin, id);
    g_autofree char *mname = NULL;
    if (w->lane->job && str (m, "name"))
      mname = g_strdup_printf ("%s (%s)", str (m, "name"),
                               w->lane->import->display_suffix (w->lane->job));
    else
      mname = g_strdup (str (m, "name"));
    /* History imports join ghosts when they first speak. */
    if (w->lane->job)
      continue;
    pa_ghost_ensure (b, w->login->plugin, id, mname, str (m, "avatar_path"), NULL, NULL);
    pa_portal_ensure_member (b, room_id, gm);
  }
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
