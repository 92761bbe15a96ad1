/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Power levels of the bridge's rooms.
 *   - At creation: the homeserver's default room version is read from its
 *     capabilities and named in the createRoom, and the power levels asked
 *     for fit it: below version 12 the creator (and a DM's invitee) are
 *     listed at 100, from 12 on they are implicit and must not be.  The
 *     override always lists `users`, so Tchap's room access rules module
 *     (docs/tchap.md) only fills in the levels left out.
 *   - Later: whether the bot may delete other members' messages, read from
 *     the room's m.room.power_levels (Matrix defaults: `redact` 50, users
 *     0) and, from version 12 on, its creators (unlimited power).  The
 *     login conversation asks it before a password is typed: in a room the
 *     agent created, the bot usually has power 0 and could not delete the
 *     password (docs/hardening.md, Secrets). */
#define G_LOG_DOMAIN "passerelle-bridge"

#include "pa-room-power.h"

typedef struct
{
  PaBridge *b;
  char *room_id;
  gboolean bot_creates; /* the bot is a creator of a version 12+ room */
  PaRoomPowerFunc done;
  gpointer user_data;
} PowerCtx;

static json_int_t
int_or (json_t *v, json_int_t fallback)
{
  return json_is_integer (v) ? json_integer_value (v) : fallback;
}

gboolean
pa_room_power_creators_implicit (const char *version)
{
  /* Room versions are strings; the stable ones are numbers.  Another
   * (experimental) version is taken as an older one. */
  guint64 n = 0;
  return version && g_ascii_string_to_unsigned (version, 10, 1, G_MAXUINT32, &n, NULL) && n >= 12;
}

static void
power_read (PaMatrix *mx, const PaMatrixResponse *resp, gpointer user_data)
{
  PowerCtx *c = user_data;
  gboolean can = c->bot_creates;
  if (!can && pa_matrix_response_ok (resp) && json_is_object (resp->body))
    {
      json_t *pl = resp->body;
      json_int_t need = int_or (json_object_get (pl, "redact"), 50);
      json_int_t mine = int_or (json_object_get (json_object_get (pl, "users"), c->b->bot_mxid),
                                int_or (json_object_get (pl, "users_default"), 0));
      can = mine >= need;
    }
  else if (!can)
    g_message ("power levels of %s not readable: HTTP %u", c->room_id, resp ? resp->status : 0u);
  c->done (c->b, c->room_id, can, c->user_data);
  g_free (c->room_id);
  g_free (c);
}

/* The room's creation event, read: is the bot one of the creators of a
 * version 12+ room?  Then the power levels do not list it. */
static void
create_read (PaMatrix *mx, const PaMatrixResponse *resp, gpointer user_data)
{
  PowerCtx *c = user_data;
  if (pa_matrix_response_ok (resp) && json_is_object (resp->body))
    {
      json_t *content = json_object_get (resp->body, "content");
      const char *version = json_string_value (json_object_get (content, "room_version"));
      if (pa_room_power_creators_implicit (version))
        {
          const char *sender = json_string_value (json_object_get (resp->body, "sender"));
          c->bot_creates = g_strcmp0 (sender, c->b->bot_mxid) == 0;
          size_t i;
          json_t *u;
          json_array_foreach (json_object_get (content, "additional_creators"), i, u)
          {
            if (g_strcmp0 (json_string_value (u), c->b->bot_mxid) == 0)
              c->bot_creates = TRUE;
          }
        }
    }
  g_autofree char *er = pa_matrix_escape (c->room_id);
  g_autofree char *path
      = g_strdup_printf ("/_matrix/client/v3/rooms/%s/state/m.room.power_levels/", er);
  PaMatrixRequest req = { .method = "GET", .path = path, .max_attempts = 3 };
  pa_matrix_request (c->b->mx, &req, power_read, c);
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
      = g_strdup_printf ("/_matrix/client/v3/rooms/%s/state/m.room.create/?format=event", er);
  PaMatrixRequest req = { .method = "GET", .path = path, .max_attempts = 3 };
  pa_matrix_request (b->mx, &req, create_read, c);
}

/* ------------------------------------------------------------ creation */

typedef struct
{
  PaBridge *b;
  char *creator;
  json_t *body;
  PaRoomCreateFunc done;
  gpointer user_data;
} CreateCtx;

/* Who the createRoom's preset gives 100 (borrowed strings): the creator
 * and, with trusted_private_chat, the invitees. */
static GPtrArray *
preset_admins (json_t *body, const char *creator)
{
  GPtrArray *out = g_ptr_array_new ();
  g_ptr_array_add (out, (gpointer) creator);
  const char *preset = json_string_value (json_object_get (body, "preset"));
  if (g_strcmp0 (preset, "trusted_private_chat") == 0)
    {
      size_t i;
      json_t *u;
      json_array_foreach (json_object_get (body, "invite"), i, u)
      {
        if (json_is_string (u))
          g_ptr_array_add (out, (gpointer) json_string_value (u));
      }
    }
  return out;
}

static void
capabilities_read (PaMatrix *mx, const PaMatrixResponse *resp, gpointer user_data)
{
  CreateCtx *c = user_data;
  if (!pa_matrix_response_ok (resp))
    {
      g_autoptr (GError) e = pa_matrix_response_to_error (resp);
      g_autofree char *msg = g_strdup_printf ("homeserver capabilities: %s", e->message);
      c->done (c->b, msg, c->user_data);
    }
  else
    {
      json_t *versions
          = json_object_get (json_object_get (resp->body, "capabilities"), "m.room_versions");
      const char *version = json_string_value (json_object_get (versions, "default"));
      json_t *override = json_object_get (c->body, "power_level_content_override");
      if (!json_is_object (override))
        {
          override = json_object ();
          json_object_set_new (c->body, "power_level_content_override", override);
        }
      json_t *users = json_object_get (override, "users");
      if (!json_is_object (users))
        {
          users = json_object ();
          json_object_set_new (override, "users", users);
        }
      /* Named, so that the room is the version the power levels are made
       * for (capabilities without it: version 1 is the default). */
      if (version)
        json_object_set_new (c->body, "room_version", json_string (version));
      /* The override's `users` replaces the preset's: below version 12
       * put back who the preset raises; from 12 on they are creators,
       * implicit, and must not be listed. */
      gboolean implicit = pa_room_power_creators_implicit (version);
      g_autoptr (GPtrArray) raised = preset_admins (c->body, c->creator);
      for (guint i = 0; i < raised->len; i++)
        {
          const char *u = g_ptr_array_index (raised, i);
          if (implicit)
            json_object_del (users, u);
          else
            json_object_set_new (users, u, json_integer (100));
        }
      c->done (c->b, NULL, c->user_data);
    }
  g_free (c->creator);
  json_decref (c->body);
  g_free (c);
}

void
pa_room_power_prepare_create (PaBridge *b, const char *creator, json_t *body, PaRoomCreateFunc done,
                              gpointer user_data)
{
  CreateCtx *c = g_new0 (CreateCtx, 1);
  c->b = b;
  c->creator = g_strdup (creator ? creator : b->bot_mxid);
  c->body = json_incref (body);
  c->done = done;
  c->user_data = user_data;
  PaMatrixRequest req
      = { .method = "GET", .path = "/_matrix/client/v3/capabilities", .max_attempts = 0 };
  pa_matrix_request (b->mx, &req, capabilities_read, c);
}
