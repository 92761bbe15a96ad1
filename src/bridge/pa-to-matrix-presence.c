/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Contacts' presence on Matrix (bridge.presence, off by default: Tchap
 * runs with presence off). */
#define G_LOG_DOMAIN "passerelle-bridge"

#include "pa-to-matrix-presence.h"

#include "pa-ghost.h"

static const char *
str (json_t *o, const char *key)
{
  return json_string_value (json_object_get (o, key));
}

/* A contact's presence becomes its ghost's, set as the ghost.  Synapse
 * turns a user who neither syncs nor acts offline 30 s after its last
 * update, so the states of ghosts that are not offline are re-sent every
 * PRESENCE_REFRESH_S.  Best effort: nothing is stored or retried. */
#define PRESENCE_REFRESH_S 20

static void
presence_put (PaBridge *b, const char *ghost, json_t *body)
{
  g_autofree char *eg = pa_matrix_escape (ghost);
  g_autofree char *path = g_strdup_printf ("/_matrix/client/v3/presence/%s/status", eg);
  PaMatrixRequest req
      = { .method = "PUT", .path = path, .user_id = ghost, .body = body, .max_attempts = 2 };
  pa_matrix_request (b->mx, &req, NULL, NULL);
}

static gboolean
presence_refresh (gpointer data)
{
  PaBridge *b = data;
  GHashTableIter it;
  gpointer k, v;
  g_hash_table_iter_init (&it, b->presence);
  while (g_hash_table_iter_next (&it, &k, &v))
    presence_put (b, k, v);
  if (g_hash_table_size (b->presence) > 0)
    return G_SOURCE_CONTINUE;
  b->presence_timer = 0;
  return G_SOURCE_REMOVE;
}

typedef struct
{
  char *ghost;
  json_t *body;
} PresenceCtx;

static void
presence_ghost_ready (PaBridge *b, gboolean ok, const char *error, gpointer user_data)
{
  PresenceCtx *p = user_data;
  /* A newer state may have replaced this one meanwhile: it was sent. */
  json_t *latest = b->presence ? g_hash_table_lookup (b->presence, p->ghost) : NULL;
  gboolean offline = g_str_equal (str (p->body, "presence"), "offline");
  if (!ok)
    g_debug ("presence of %s not set: %s", p->ghost, error);
  else if (latest ? json_equal (latest, p->body) : offline)
    presence_put (b, p->ghost, p->body);
  g_free (p->ghost);
  json_decref (p->body);
  g_free (p);
}

void
pa_presence_update (PaBridge *b, PaAccount *login, json_t *ev)
{
  const char *sender = str (ev, "sender_id");
  const char *state = str (ev, "presence");
  /* Ghosts only: never the agent, whose presence is their own client's. */
  if (sender == NULL || state == NULL || json_is_true (json_object_get (ev, "from_me")))
    return;
  const char *presence = g_str_equal (state, "online")        ? "online"
                         : g_str_equal (state, "unavailable") ? "unavailable"
                         : g_str_equal (state, "away")        ? "unavailable"
                                                              : "offline";
  json_t *body = json_pack ("{s:s}", "presence", presence);
  /* SDK 2: the contact's status message ("at lunch"). */
  const char *status = str (ev, "status_text");
  if (status != NULL && *status != '\0')
    json_object_set_new (body, "status_msg", json_string (status));
  char *ghost = pa_ghost_mxid (b, login->plugin, sender);
  if (b->presence == NULL)
    b->presence
        = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify)json_decref);
  if (g_str_equal (presence, "offline"))
    g_hash_table_remove (b->presence, ghost);
  else
    {
      g_hash_table_replace (b->presence, g_strdup (ghost), json_incref (body));
      if (b->presence_timer == 0)
        b->presence_timer = g_timeout_add_seconds (PRESENCE_REFRESH_S, presence_refresh, b);
    }
  PresenceCtx *p = g_new0 (PresenceCtx, 1);
  p->ghost = ghost;
  p->body = body;
  /* Registers the ghost if needed; its profile is left as it is. */
  pa_ghost_ensure (b, login->plugin, sender, NULL, NULL, presence_ghost_ready, p);
}

void
pa_presence_stop (PaBridge *b)
{
  g_clear_handle_id (&b->presence_timer, g_source_remove);
  g_clear_pointer (&b->presence, g_hash_table_destroy);
}
