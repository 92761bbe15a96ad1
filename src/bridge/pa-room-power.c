/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Whether the bot may delete other members' messages in a room, read from
 * the room's m.room.power_levels (Matrix defaults: `redact` 50, users 0).
 * The login conversation asks it before a password is typed: in a room
 * the agent created, the bot usually has power 0 and could not delete
 * the password (docs/hardening.md, Secrets). */
#define G_LOG_DOMAIN "passerelle-bridge"

#include "pa-room-power.h"

typedef struct
{
  PaBridge *b;
  char *room_id;
  PaRoomPowerFunc done;
  gpointer user_data;
} PowerCtx;

static json_int_t
int_or (json_t *v, json_int_t fallback)
{
  return json_is_integer (v) ? json_integer_value (v) : fallback;
}

static void
power_read (PaMatrix *mx, const PaMatrixResponse *resp, gpointer user_data)
{
  PowerCtx *c = user_data;
  gboolean can = FALSE;
  if (pa_matrix_response_ok (resp) && json_is_object (resp->body))
    {
      json_t *pl = resp->body;
      json_int_t need = int_or (json_object_get (pl, "redact"), 50);
      json_int_t mine = int_or (json_object_get (json_object_get (pl, "users"), c->b->bot_mxid),
                                int_or (json_object_get (pl, "users_default"), 0));
      can = mine >= need;
    }
  else
    g_message ("power levels of %s not readable: HTTP %u", c->room_id, resp ? resp->status : 0u);
  c->done (c->b, c->room_id, can, c->user_data);
  g_free (c->room_id);
  g_free (c);
}

void
pa_room_power_can_redact (PaBridge *b, const char *room_id, PaRoomPowerFunc done,
                          gpointer user_data)
{
  PowerCtx *c = g_new0 (PowerCtx, 1);
  c->b = b;
  c->room_id = g_strdup (room_id);
  c->done = done;
  c->user_data = user_data;
  g_autofree char *er = pa_matrix_escape (room_id);
  g_autofree char *path
      = g_strdup_printf ("/_matrix/client/v3/rooms/%s/state/m.room.power_levels/", er);
  PaMatrixRequest req = { .method = "GET", .path = path, .max_attempts = 3 };
  pa_matrix_request (b->mx, &req, power_read, c);
}
