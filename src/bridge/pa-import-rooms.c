/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* History import, rooms: an import goes into a room made by the bot
 * (group-shaped, named "<chat> (<network>)"), or into the room the agent
 * named when it holds no conversation yet (else an archive room, linked:
 * ?ts= does not reorder a room's history).  A chat imported before (its
 * identity, pa-import-parse.c, is in import_chats) goes back into its
 * room. */
#define G_LOG_DOMAIN "passerelle-import"

#include "pa-import-rooms.h"

#include "pa-import-job.h"
#include "pa-portal.h"

static const char *
str (json_t *o, const char *key)
{
  return json_string_value (json_object_get (o, key));
}

/* ------------------------------------------------------------- rooms */

typedef struct
{
  PaImportJob *job;
  char *chat_id;
  json_t *chat;
  PaPortalFunc done;
  gpointer user_data;
} RoomCtx;
static void
room_ctx_free (RoomCtx *r)
{
  g_free (r->chat_id);
  json_decref (r->chat);
  g_free (r);
}
static void
room_ready (PaBridge *b, const char *room_id, const char *error, gpointer user_data)
{
  RoomCtx *r = user_data;
  PaImportJob *j = r->job;
  if (room_id)
    {
      if (str (j->row, "room_id") == NULL)
        json_object_set_new (j->row, "room_id", json_string (room_id));
      /* Each chat's room, for the summary; and the chat's identity, so
       * that its next import tops up this room. */
      json_t *entry = pa_import_job_chat (j, r->chat_id, TRUE);
      json_object_set_new (entry, "room_id", json_string (room_id));
      g_autoptr (GError) e = NULL;
      if (str (entry, "identity")
          && !pa_store_import_chat_put (b->store, str (j->row, "owner"), j->account->plugin,
                                        str (entry, "identity"), room_id, str (entry, "name"), &e))
        g_warning ("import %s: %s", j->id, e->message);
      pa_import_job_save (j);
    }
  r->done (b, room_id, error, r->user_data);
  room_ctx_free (r);
}
static void
create_room (RoomCtx *r)
{
  PaImportJob *j = r->job;
  /* Import rooms are group-shaped and made by the bot, whatever the
   * export's kind: it holds history, not a live DM. */
  g_autoptr (json_t) chat = r->chat != NULL ? json_deep_copy (r->chat) : json_object ();
  const char *name = str (chat, "name");
  g_autofree char *title
      = g_strdup_printf ("%s (%s)", name ? name : r->chat_id, pa_import_job_display_suffix (j));
  json_object_set_new (chat, "kind", json_string ("group"));
  json_object_set_new (chat, "name", json_string (title));
  if (str (chat, "topic") == NULL)
    {
      g_autofree char *base = g_path_get_basename (str (j->row, "path"));
      g_autofree char *topic = g_strdup_printf ("History imported by Passerelle from %s", base);
      json_object_set_new (chat, "topic", json_string (topic));
    }
  pa_portal_ensure (j->b, j->account, r->chat_id, chat, NULL, room_ready, r);
}
static void
target_checked (PaMatrix *mx, const PaMatrixResponse *resp, gpointer user_data)
{
  RoomCtx *r = user_data;
  PaImportJob *j = r->job;
  PaBridge *b = j->b;
  const char *target = str (pa_import_job_opt (j), "room");
  if (!pa_matrix_response_ok (resp))
    {
      g_autoptr (GError) e = pa_matrix_response_to_error (resp);
      g_autofree char *msg = g_strdup_printf ("cannot read the room %s (%s): is the bridge bot in "
                                              "it?",
                                              target, e->message);
      r->done (b, NULL, msg, r->user_data);
      room_ctx_free (r);
      return;
    }
  gboolean has_messages = FALSE;
  size_t i;
  json_t *ev;
  json_array_foreach (json_object_get (resp->body, "chunk"), i, ev)
  {
    const char *type = str (ev, "type");
    if (type
        && (g_str_equal (type, "m.room.message") || g_str_equal (type, "m.room.encrypted")
            || g_str_equal (type, "m.sticker"))
        && json_object_get (json_object_get (ev, "content"), "fr.passerelle.import") == NULL)
      has_messages = TRUE;
  }
  if (!has_messages)
    {
      PaPortalRow row = { .plugin = j->account->plugin,
                          .login_id = j->account->id,
                          .chat_id = r->chat_id,
                          .room_id = (char *)target,
                          .kind = "import",
                          .name = (char *)str (r->chat, "name") };
      g_autoptr (GError) e = NULL;
      if (!pa_store_portal_put (b->store, &row, &e))
        g_warning ("store: %s", e->message);
      room_ready (b, target, NULL, r);
      return;
    }
  /* The room already has a conversation: history cannot go before it
   * (?ts= does not reorder), so it goes to an archive room, linked. */
  g_message ("import %s: %s has messages; importing into an archive room", j->id, target);
  json_object_set_new (pa_import_job_opt (j), "archive_of", json_string (target));
  pa_import_job_save (j);
  create_room (r);
}
void
pa_import_rooms_ensure (PaImportJob *j, const char *chat_id, json_t *chat, PaPortalFunc done,
                        gpointer user_data)
{
  PaBridge *b = j->b;
  g_autoptr (PaPortalRow) row
      = pa_store_portal_get (b->store, j->account->plugin, j->account->id, chat_id);
  if (row && row->room_id)
    {
      done (b, row->room_id, NULL, user_data);
      return;
    }
  /* The same chat imported before (another file, another container): the
   * same room, topped up. */
  json_t *entry = pa_import_job_chat (j, chat_id, FALSE);
  const char *former = str (entry, "already_in");
  if (former != NULL)
    {
      if (g_strcmp0 (str (entry, "room_id"), former) != 0)
        {
          json_object_set_new (entry, "room_id", json_string (former));
          if (str (j->row, "room_id") == NULL)
            json_object_set_new (j->row, "room_id", json_string (former));
          pa_import_job_save (j);
        }
      done (b, former, NULL, user_data);
      return;
    }
  RoomCtx *r = g_new0 (RoomCtx, 1);
  r->job = j;
  r->chat_id = g_strdup (chat_id);
  r->chat = chat ? json_incref (chat) : NULL;
  r->done = done;
  r->user_data = user_data;
  const char *target = str (pa_import_job_opt (j), "room");
  if (target && str (pa_import_job_opt (j), "archive_of") == NULL
      && str (j->row, "room_id") == NULL)
    {
      g_autofree char *er = pa_matrix_escape (target);
      g_autofree char *path
          = g_strdup_printf ("/_matrix/client/v3/rooms/%s/messages?dir=b&limit=50", er);
      PaMatrixRequest req = { .method = "GET", .path = path, .max_attempts = 5 };
      pa_matrix_request (b->mx, &req, target_checked, r);
      return;
    }
  create_room (r);
}
