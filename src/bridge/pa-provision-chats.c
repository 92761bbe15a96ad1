/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The provisioning API's chat endpoints.  Each sends the login's worker
 * the operation its command sends (list_contacts for `contacts`,
 * create_dm for `start`, resolve_identifier), but waits for the answer
 * (pa_to_legacy_op_call) to give it to the HTTP client instead of the
 * management room.  A DM opened here becomes a portal exactly as one
 * opened by `start`: the plugin announces the chat and the live lane makes
 * the room; the answer waits for that room to name it. */
#define G_LOG_DOMAIN "passerelle-provision"

#include "pa-provision-chats.h"

#include "pa-ghost.h"
#include "pa-provision-json.h"
#include "pa-to-legacy-ops.h"

#define PORTAL_POLL_MS 200

typedef struct
{
  PaBridge *b;
  PaProvReq *r;
  char *plugin;
  char *login_id;
  char *identifier;
  char *chat_id;
  guint polls_left;
} Call;

static Call *
call_new (PaAccount *l, PaProvReq *r, const char *identifier)
{
  Call *c = g_new0 (Call, 1);
  c->b = l->bridge;
  c->r = r;
  c->plugin = g_strdup (l->plugin);
  c->login_id = g_strdup (l->id);
  c->identifier = g_strdup (identifier);
  return c;
}

static void
call_free (Call *c)
{
  g_free (c->plugin);
  g_free (c->login_id);
  g_free (c->identifier);
  g_free (c->chat_id);
  g_free (c);
}

/* The ResolvedIdentifier of a contact: its ghost, its DM portal if any. */
static json_t *
contact_json (Call *c, json_t *member)
{
  const char *id = json_string_value (json_object_get (member, "id"));
  if (id == NULL)
    return NULL;
  g_autofree char *ghost = pa_ghost_mxid (c->b, c->plugin, id);
  g_autoptr (PaPortalRow) row = pa_store_portal_get (c->b->store, c->plugin, c->login_id, id);
  return pa_provision_json_contact (
      member, ghost, row != NULL && g_strcmp0 (row->kind, "dm") == 0 ? row->room_id : NULL);
}

/* A failed operation as an HTTP error; FALSE when it did not fail. */
static gboolean
answer_failure (Call *c, gboolean ok, json_t *frame)
{
  if (ok)
    return FALSE;
  const char *code = json_string_value (json_object_get (frame, "code"));
  const char *error = json_string_value (json_object_get (frame, "error"));
  if (frame == NULL)
    pa_provision_req_error (c->r, SOUP_STATUS_SERVICE_UNAVAILABLE, "M_UNKNOWN",
                            "the %s connection stopped before answering", c->plugin);
  else if (g_strcmp0 (code, "unsupported") == 0)
    pa_provision_req_error (c->r, SOUP_STATUS_NOT_IMPLEMENTED, "M_UNRECOGNIZED", "%s",
                            error != NULL ? error : "not supported by this network");
  else if (g_strcmp0 (code, "not_found") == 0)
    pa_provision_req_error (c->r, SOUP_STATUS_NOT_FOUND, "M_NOT_FOUND", "%s",
                            error != NULL ? error : "Identifier not found");
  else if (g_strcmp0 (code, "not_connected") == 0)
    pa_provision_req_error (c->r, SOUP_STATUS_SERVICE_UNAVAILABLE, "FI.MAU.NOT_LOGGED_IN", "%s",
                            error != NULL ? error : "not connected");
  else
    pa_provision_req_error (c->r, SOUP_STATUS_BAD_GATEWAY, "M_UNKNOWN", "%s",
                            error != NULL ? error : "the network refused");
  return TRUE;
}

static void
contacts_done (gboolean ok, json_t *frame, json_t *contacts, gpointer data)
{
  Call *c = data;
  if (!answer_failure (c, ok, frame))
    {
      json_t *list = json_array ();
      size_t i;
      json_t *m;
      json_array_foreach (contacts, i, m)
      {
        json_t *o = contact_json (c, m);
        if (o != NULL)
          json_array_append_new (list, o);
      }
      pa_provision_req_json (c->r, SOUP_STATUS_OK, json_pack ("{s:o}", "contacts", list));
    }
  call_free (c);
}

static void
send_op (PaAccount *l, Call *c, const char *op, json_t *args,
         void (*done) (gboolean, json_t *, json_t *, gpointer))
{
  g_autoptr (GError) e = NULL;
  if (!pa_to_legacy_op_call (l, op, args, done, c, &e))
    {
      pa_provision_req_error (c->r, SOUP_STATUS_SERVICE_UNAVAILABLE, "M_UNKNOWN", "%s", e->message);
      call_free (c);
    }
}

void
pa_provision_contacts (PaAccount *l, PaProvReq *r)
{
  send_op (l, call_new (l, r, NULL), "list_contacts", NULL, contacts_done);
}

static void
resolve_done (gboolean ok, json_t *frame, json_t *contacts, gpointer data)
{
  Call *c = data;
  json_t *o = NULL;
  if (answer_failure (c, ok, frame))
    ;
  else if ((o = contact_json (c, json_array_get (contacts, 0))) == NULL)
    pa_provision_req_error (c->r, SOUP_STATUS_NOT_FOUND, "M_NOT_FOUND", "Identifier not found");
  else
    pa_provision_req_json (c->r, SOUP_STATUS_OK, o);
  call_free (c);
}

void
pa_provision_resolve (PaAccount *l, PaProvReq *r, const char *identifier)
{
  g_autoptr (json_t) args
      = json_pack ("{s:s, s:s}", "identifier", identifier, "mode", "identifier");
  send_op (l, call_new (l, r, identifier), "resolve_identifier", args, resolve_done);
}

/* The DM's portal, once the live lane made it (or the wait is over). */
static gboolean
portal_poll (gpointer data)
{
  Call *c = data;
  if (c->r->live == NULL)
    {
      call_free (c);
      return G_SOURCE_REMOVE;
    }
  g_autoptr (PaPortalRow) row
      = pa_store_portal_find (c->b->store, c->plugin, c->login_id, c->chat_id);
  if ((row == NULL || row->room_id == NULL) && c->polls_left-- > 0)
    return G_SOURCE_CONTINUE;
  g_autofree char *ghost = pa_ghost_mxid (c->b, c->plugin, c->identifier);
  json_t *o
      = json_pack ("{s:s, s:s, s:s}", "id", c->identifier, "mxid", ghost, "chat_id", c->chat_id);
  if (row != NULL && row->room_id != NULL)
    json_object_set_new (o, "dm_room_mxid", json_string (row->room_id));
  pa_provision_req_json (c->r, SOUP_STATUS_OK, o);
  call_free (c);
  return G_SOURCE_REMOVE;
}

static void
create_dm_done (gboolean ok, json_t *frame, json_t *contacts, gpointer data)
{
  Call *c = data;
  const char *chat = json_string_value (json_object_get (frame, "legacy_id"));
  if (answer_failure (c, ok, frame))
    {
      call_free (c);
      return;
    }
  c->chat_id = g_strdup (chat != NULL ? chat : c->identifier);
  g_timeout_add (PORTAL_POLL_MS, portal_poll, c);
}

void
pa_provision_create_dm (PaAccount *l, PaProvReq *r, const char *identifier, guint wait_s)
{
  Call *c = call_new (l, r, identifier);
  c->polls_left = wait_s * 1000 / PORTAL_POLL_MS;
  g_autoptr (json_t) args = json_pack ("{s:s}", "user_id", identifier);
  send_op (l, c, "create_dm", args, create_dm_done);
}
