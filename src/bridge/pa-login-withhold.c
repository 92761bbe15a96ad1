/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Login answers kept out of the store.  The inbound queue persists every
 * event of a transaction before the homeserver gets its 200; a password
 * typed in the management room would then sit in the database and its WAL.
 * While a login of the sender waits for an answer, their messages in
 * their management room are persisted with the content replaced by a
 * marker, and the real event is kept in memory until the dispatcher takes
 * it (docs/hardening.md, Secrets). */
#define G_LOG_DOMAIN "passerelle-logins"

#include "pa-login-withhold.h"

static gboolean
awaits_answer (PaBridge *b, const char *owner)
{
  GHashTableIter it;
  gpointer v;
  g_hash_table_iter_init (&it, b->logins);
  while (g_hash_table_iter_next (&it, NULL, &v))
    {
      PaAccount *l = v;
      if (l->step != NULL && g_strcmp0 (l->owner, owner) == 0)
        return TRUE;
    }
  return FALSE;
}

char *
pa_login_withhold (PaBridge *b, json_t *ev)
{
  const char *type = json_string_value (json_object_get (ev, "type"));
  const char *sender = json_string_value (json_object_get (ev, "sender"));
  const char *room_id = json_string_value (json_object_get (ev, "room_id"));
  const char *event_id = json_string_value (json_object_get (ev, "event_id"));
  if (type == NULL || sender == NULL || room_id == NULL || event_id == NULL
      || (g_strcmp0 (type, "m.room.message") != 0 && g_strcmp0 (type, "m.room.encrypted") != 0))
    return NULL;
  /* The room first (one indexed lookup): the logins are walked only for a
   * message in a management room, not for every message bridged. */
  g_autofree char *room = pa_store_management_room (b->store, sender);
  if (g_strcmp0 (room, room_id) != 0 || !awaits_answer (b, sender))
    return NULL;
  g_autoptr (json_t) kept = json_deep_copy (ev);
  json_object_set_new (kept, "content", json_pack ("{s:b}", PA_CONTENT_WITHHELD, 1));
  g_hash_table_replace (b->withheld, g_strdup (event_id), json_incref (ev));
  return json_dumps (kept, JSON_COMPACT | JSON_SORT_KEYS);
}

json_t *
pa_login_withhold_take (PaBridge *b, json_t *row_event)
{
  const char *event_id = json_string_value (json_object_get (row_event, "event_id"));
  gpointer key = NULL, kept = NULL;
  if (event_id != NULL && g_hash_table_steal_extended (b->withheld, event_id, &key, &kept))
    {
      g_free (key);
      return kept;
    }
  if (json_is_true (json_object_get (json_object_get (row_event, "content"), PA_CONTENT_WITHHELD)))
    {
      g_message ("login answer %s was not kept across a restart: dropped",
                 event_id ? event_id : "?");
      return NULL;
    }
  return json_incref (row_event);
}
