/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The table of running logins (b->logins): lookups by id and by
 * (owner, plugin), the saving of a login's state to the store, and its
 * end (stop the worker, free on the next turn).  The bottom of the login
 * files: both directions and the login conversation look logins up here
 * without reaching the lifecycle (pa-login.c). */
#define G_LOG_DOMAIN "passerelle-logins"

#include "pa-login-table.h"

PaAccount *
pa_login_by_id (PaBridge *b, const char *id)
{
  return id ? g_hash_table_lookup (b->logins, id) : NULL;
}
PaAccount *
pa_login_find (PaBridge *b, const char *owner, const char *plugin)
{
  GHashTableIter it;
  gpointer v;
  g_hash_table_iter_init (&it, b->logins);
  while (g_hash_table_iter_next (&it, NULL, &v))
    {
      PaAccount *l = v;
      if (g_str_equal (l->owner, owner) && g_str_equal (l->plugin, plugin))
        return l;
    }
  return NULL;
}
/* The running login of `plugin` whose legacy account is remote_id ("is
 * this our user"), or NULL. */
PaAccount *
pa_login_by_remote (PaBridge *b, const char *plugin, const char *remote_id)
{
  GHashTableIter it;
  gpointer v;
  if (plugin == NULL || remote_id == NULL)
    return NULL;
  g_hash_table_iter_init (&it, b->logins);
  while (g_hash_table_iter_next (&it, NULL, &v))
    {
      PaAccount *l = v;
      if (g_str_equal (l->plugin, plugin) && g_strcmp0 (l->remote_id, remote_id) == 0)
        return l;
    }
  return NULL;
}
void
pa_login_save (PaAccount *l)
{
  PaLoginRow row = { .id = l->id,
                     .owner = l->owner,
                     .plugin = l->plugin,
                     .remote_id = l->remote_id,
                     .remote_name = l->remote_name,
                     .state = l->state };
  g_autoptr (GError) e = NULL;
  if (!pa_store_login_put (l->bridge->store, &row, &e))
    g_warning ("store: %s", e->message);
}
void
pa_login_set_state (PaAccount *l, const char *state)
{
  if (g_strcmp0 (l->state, state) == 0)
    return;
  g_free (l->state);
  l->state = g_strdup (state);
  pa_login_save (l);
}
static gboolean
free_later (gpointer data)
{
  pa_login_free (data);
  return G_SOURCE_REMOVE;
}
/* Whoever drives the login from outside the room learns it is gone. */
static void
detach_driver (PaAccount *l)
{
  gpointer driver = l->driver;
  l->driver = NULL;
  l->driver_step = NULL;
  if (driver != NULL && l->driver_gone != NULL)
    l->driver_gone (driver);
  l->driver_gone = NULL;
}

void
pa_login_stop_and_free (PaAccount *l)
{
  detach_driver (l);
  g_hash_table_remove (l->bridge->logins, l->id);
  pa_worker_stop (l->worker);
  /* The worker may be inside a callback of ours: free on the next turn. */
  g_timeout_add (100, free_later, l);
}
void
pa_login_free (PaAccount *l)
{
  if (l == NULL)
    return;
  detach_driver (l);
  if (l->worker)
    {
      pa_worker_stop (l->worker);
      pa_worker_free (l->worker);
    }
  g_hash_table_destroy (l->pending);
  if (l->notice_limit != NULL && l->notice_limit_free != NULL)
    l->notice_limit_free (l->notice_limit);
  json_decref (l->step);
  json_decref (l->answers);
  g_free (l->id);
  g_free (l->owner);
  g_free (l->plugin);
  g_free (l->remote_id);
  g_free (l->remote_name);
  g_free (l->state);
  g_free (l);
}
