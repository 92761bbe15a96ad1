/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * purple-buddies.c — buddy-list signals → CONTACT_INFO (alias, icon),
 * PRESENCE (online / unavailable / offline with the status message) and
 * TYPING.
 *
 * Why apart: these are the contact-level events, told only on real changes
 * (libpurple reports every resource's).
 */
#define G_LOG_DOMAIN "passerelle-purple"

#include <string.h>

#include "purple-common.h"
#include "purple-buddies.h"
#include "purple-emit.h"

void
pp_emit_presence (PaLogin *login, PurpleBuddy *buddy)
{
  if (login->quitting || buddy == NULL || purple_buddy_get_account (buddy) != login->account)
    return;
  PurplePresence *pres = purple_buddy_get_presence (buddy);
  PaPresence state = PA_PRESENCE_OFFLINE;
  g_autofree char *text = NULL;
  if (pres != NULL && purple_presence_is_online (pres))
    {
      state = purple_presence_is_available (pres) ? PA_PRESENCE_ONLINE : PA_PRESENCE_UNAVAILABLE;
      /* The status message ("at lunch"): prpls keep it as markup. */
      PurpleStatus *status = purple_presence_get_active_status (pres);
      const char *msg = status != NULL ? purple_status_get_attr_string (status, "message") : NULL;
      if (msg != NULL && *msg != '\0')
        {
          text = purple_markup_strip_html (msg);
          g_strstrip (text);
          if (*text == '\0')
            g_clear_pointer (&text, g_free);
        }
    }
  g_autofree char *id = pp_norm (login, purple_buddy_get_name (buddy));
  /* libpurple reports each resource's change: tell only real changes. */
  g_autofree char *told = g_strdup_printf ("%d\1%s", (int) state, text != NULL ? text : "");
  if (g_strcmp0 (g_hash_table_lookup (login->presence, id), told) == 0)
    return;
  g_hash_table_insert (login->presence, g_strdup (id), g_steal_pointer (&told));
  PaEvent ev = {
    .struct_size = sizeof (PaEvent),
    .type = PA_EV_PRESENCE,
    .sender_id = id,
    .timestamp_ms = pp_now_ms (),
    .presence = state,
    .status_text = text,
  };
  login->api->emit (login->host, &ev);
}

static void
pp_buddy_changed (PurpleBuddy *buddy, gpointer data)
{
  PaLogin *login = data;
  if (login->signed_on)
    pp_emit_contact (login, buddy);
}

static void
pp_node_aliased (PurpleBlistNode *node, const char *old_alias, gpointer data)
{
  if (PURPLE_BLIST_NODE_IS_BUDDY (node))
    pp_buddy_changed ((PurpleBuddy *) node, data);
}

static void
pp_buddy_presence (PurpleBuddy *buddy, gpointer data)
{
  PaLogin *login = data;
  if (login->signed_on)
    pp_emit_presence (login, buddy);
}

static void
pp_buddy_status_changed (PurpleBuddy *buddy, PurpleStatus *old, PurpleStatus *now, gpointer data)
{
  pp_buddy_presence (buddy, data);
}

static void
pp_typing (PurpleAccount *account, const char *name, gboolean typing)
{
  PaLogin *login = pp_self;
  if (login == NULL || login->quitting || account != login->account || name == NULL)
    return;
  g_autofree char *id = pp_norm (login, name);
  /* libpurple says "stopped" on every message: only end what was started,
   * so a stray notification never opens a portal. */
  if (typing)
    g_hash_table_add (login->typing, g_strdup (id));
  else if (!g_hash_table_remove (login->typing, id))
    return;
  PaEvent ev = {
    .struct_size = sizeof (PaEvent),
    .type = PA_EV_TYPING,
    .chat_id = id,
    .sender_id = id,
    .timestamp_ms = pp_now_ms (),
    .typing = typing,
    .typing_timeout_ms = typing ? PP_TYPING_TIMEOUT_MS : 0,
  };
  login->api->emit (login->host, &ev);
}

static void
pp_buddy_typing (PurpleAccount *account, const char *name, gpointer data)
{
  pp_typing (account, name, TRUE);
}

static void
pp_buddy_typing_stopped (PurpleAccount *account, const char *name, gpointer data)
{
  pp_typing (account, name, FALSE);
}

void
pp_buddies_connect_signals (PaLogin *login)
{
  void *conv = purple_conversations_get_handle ();
  void *blist = purple_blist_get_handle ();
  pp_connect_signal (login, conv, "buddy-typing", PURPLE_CALLBACK (pp_buddy_typing));
  pp_connect_signal (login, conv, "buddy-typing-stopped",
                     PURPLE_CALLBACK (pp_buddy_typing_stopped));
  pp_connect_signal (login, blist, "buddy-added", PURPLE_CALLBACK (pp_buddy_changed));
  pp_connect_signal (login, blist, "buddy-icon-changed", PURPLE_CALLBACK (pp_buddy_changed));
  pp_connect_signal (login, blist, "blist-node-aliased", PURPLE_CALLBACK (pp_node_aliased));
  pp_connect_signal (login, blist, "buddy-signed-on", PURPLE_CALLBACK (pp_buddy_presence));
  pp_connect_signal (login, blist, "buddy-signed-off", PURPLE_CALLBACK (pp_buddy_presence));
  pp_connect_signal (login, blist, "buddy-status-changed",
                     PURPLE_CALLBACK (pp_buddy_status_changed));
}
