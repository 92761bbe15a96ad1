/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Matrix → legacy, ephemeral events (not persisted, best effort): the
 * login owner's typing and read receipts in a portal become `typing` and
 * `mark_read` operations.  Only changes of the owner's typing are sent;
 * the last state of each room is kept in the bridge object. */
#define G_LOG_DOMAIN "passerelle-matrix-in"

#include "pa-to-legacy-ephemeral.h"

#include "pa-login-table.h"
#include "pa-to-legacy-ops.h"

static const char *
str (json_t *o, const char *key)
{
  return json_string_value (json_object_get (o, key));
}

/* One login's owner's typing and read receipts in the portal. */
static void
ephemeral_for (PaBridge *b, PaPortalRow *row, PaAccount *login, const char *type,
               const char *room_id, json_t *content)
{
  if (login == NULL || !login->logged_in)
    return;
  if (g_str_equal (type, "m.typing"))
    {
      gboolean typing = FALSE;
      size_t i;
      json_t *u;
      json_array_foreach (json_object_get (content, "user_ids"), i,
                          u) if (g_strcmp0 (json_string_value (u), login->owner) == 0) typing
          = TRUE;
      /* A shared portal has one typing state per login. */
      g_autofree char *key = g_str_equal (row->login_id, PA_STORE_SHARED_LOGIN)
                                 ? g_strjoin ("\x1f", room_id, login->id, NULL)
                                 : g_strdup (room_id);
      gboolean was = g_hash_table_contains (b->typing_state, key);
      if (was == typing)
        return;
      if (typing)
        g_hash_table_add (b->typing_state, g_strdup (key));
      else
        g_hash_table_remove (b->typing_state, key);
      g_autoptr (json_t) args = json_pack ("{s:s, s:b}", "chat_id", row->chat_id, "typing", typing);
      pa_to_legacy_op (login, "typing", args, "typing", NULL, NULL, row->chat_id, NULL, NULL);
    }
  else if (g_str_equal (type, "m.receipt"))
    {
      const char *event_id;
      json_t *receipts;
      json_object_foreach (content, event_id, receipts)
      {
        json_t *read = json_object_get (receipts, "m.read");
        if (json_object_get (read, login->owner) == NULL)
          continue;
        g_autofree char *legacy = pa_store_message_legacy_id (b->store, room_id, event_id, NULL);
        if (legacy == NULL || g_str_has_prefix (legacy, "reaction\x1f"))
          continue;
        g_autoptr (json_t) args
            = json_pack ("{s:s, s:s}", "chat_id", row->chat_id, "message_id", legacy);
        pa_to_legacy_op (login, "mark_read", args, "mark_read", NULL, NULL, row->chat_id, NULL,
                         NULL);
      }
    }
}

void
pa_to_legacy_ephemeral (PaBridge *b, json_t *ev)
{
  const char *type = str (ev, "type");
  const char *room_id = str (ev, "room_id");
  if (type == NULL || room_id == NULL)
    return;
  g_autoptr (PaPortalRow) row = pa_store_portal_by_room (b->store, room_id);
  if (row == NULL)
    return;
  json_t *content = json_object_get (ev, "content");
  if (!g_str_equal (row->login_id, PA_STORE_SHARED_LOGIN))
    {
      ephemeral_for (b, row, pa_login_by_id (b, row->login_id), type, room_id, content);
      return;
    }
  /* A shared portal: each agent's through their own login there. */
  g_auto (GStrv) ids = pa_store_portal_logins (b->store, room_id);
  for (guint i = 0; ids && ids[i]; i++)
    ephemeral_for (b, row, pa_login_by_id (b, ids[i]), type, room_id, content);
}
