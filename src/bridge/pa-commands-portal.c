/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Commands that act on the portal they are sent in: `disappearing` sets
 * the legacy chat's disappearing-messages timer (set_chat_info), `history`
 * asks the network for older messages (fetch_history; a phone-backed
 * network such as WhatsApp answers later, and the messages arrive in the
 * room as they come).  Both go through the sender's own login of the
 * portal, like a message. */
#define G_LOG_DOMAIN "passerelle-commands"

#include "pa-commands-portal.h"

#include <stdlib.h>

#include "pa-login-table.h"
#include "pa-queue.h"
#include "pa-to-legacy-ops.h"
#include "pa-to-matrix-room-state.h"

#define HISTORY_DEFAULT 50
#define HISTORY_MAX 1000

/* The portal of `room` and the sender's login in it, or NULL (told). */
static PaAccount *
portal_login (PaBridge *b, const char *room, const char *sender, PaPortalRow **out_row)
{
  g_autoptr (PaPortalRow) row = pa_store_portal_by_room (b->store, room);
  if (row == NULL || g_str_has_prefix (row->login_id, "import:"))
    {
      pa_queue_notice (b, room, "This command works in a conversation's room only.");
      return NULL;
    }
  PaAccount *login = NULL;
  if (g_str_equal (row->login_id, PA_STORE_SHARED_LOGIN))
    {
      g_auto (GStrv) ids = pa_store_portal_logins (b->store, room);
      for (guint i = 0; ids && ids[i] && login == NULL; i++)
        {
          PaAccount *l = pa_login_by_id (b, ids[i]);
          if (l && g_str_equal (l->owner, sender))
            login = l;
        }
    }
  else
    {
      login = pa_login_by_id (b, row->login_id);
      if (login && !g_str_equal (login->owner, sender))
        login = NULL;
    }
  if (login == NULL || !login->logged_in)
    {
      g_autofree char *msg = g_strdup_printf ("You have no running %s login in this "
                                              "conversation.",
                                              row->plugin);
      pa_queue_notice (b, room, msg);
      return NULL;
    }
  *out_row = g_steal_pointer (&row);
  return login;
}

gboolean
pa_commands_parse_duration (const char *text, guint64 *out)
{
  if (text == NULL || *text == '\0')
    return FALSE;
  if (g_ascii_strcasecmp (text, "off") == 0)
    {
      *out = 0;
      return TRUE;
    }
  char *end = NULL;
  guint64 n = g_ascii_strtoull (text, &end, 10);
  if (end == text || !g_ascii_isdigit (*text))
    return FALSE;
  guint64 unit;
  if (*end == '\0' || g_ascii_strcasecmp (end, "s") == 0)
    unit = 1;
  else if (g_ascii_strcasecmp (end, "m") == 0 || g_ascii_strcasecmp (end, "min") == 0)
    unit = 60;
  else if (g_ascii_strcasecmp (end, "h") == 0)
    unit = 3600;
  else if (g_ascii_strcasecmp (end, "d") == 0)
    unit = 86400;
  else if (g_ascii_strcasecmp (end, "w") == 0)
    unit = 7 * 86400;
  else
    return FALSE;
  /* Ten years is more than any network offers. */
  if (n > (guint64) 10 * 365 * 86400 / unit)
    return FALSE;
  *out = n * unit;
  return TRUE;
}

void
pa_commands_portal_disappearing (PaBridge *b, const char *room, const char *sender, char **argv)
{
  guint64 s = 0;
  if (argv[1] == NULL || !pa_commands_parse_duration (argv[1], &s))
    {
      pa_queue_notice (b, room,
                       "Usage: `disappearing <off|24h|7d|90d>` (what the network "
                       "offers: WhatsApp has 24 hours, 7 days and 90 days).");
      return;
    }
  g_autoptr (PaPortalRow) row = NULL;
  PaAccount *login = portal_login (b, room, sender, &row);
  if (login == NULL)
    return;
  g_autofree char *value = g_strdup_printf ("%" G_GUINT64_FORMAT, s);
  /* The network's echo (a CHAT_INFO with this timer) is then no news. */
  g_autofree char *key = g_strconcat ("room_state:", room, ":timer", NULL);
  g_autofree char *before = pa_store_kv_get (b->store, key);
  g_autoptr (GError) e = NULL;
  if (!pa_store_kv_set (b->store, key, value, &e))
    g_warning ("store: %s", e->message);
  g_clear_error (&e);
  g_autoptr (json_t) args = json_pack ("{s:s, s:s, s:s}", "chat_id", row->chat_id, "field",
                                       "disappearing", "value", value);
  g_autofree char *extra = g_strjoin ("\x1f", value, before ? before : "", NULL);
  if (!pa_to_legacy_op (login, "set_chat_info", args, "disappearing", room, NULL, row->chat_id,
                        extra, &e))
    {
      g_autofree char *msg = g_strdup_printf ("⚠ Timer not changed: %s", e->message);
      pa_queue_notice (b, room, msg);
      if (before != NULL)
        pa_store_kv_set (b->store, key, before, NULL);
    }
}

void
pa_commands_portal_history (PaBridge *b, const char *room, const char *sender, char **argv)
{
  guint64 count = HISTORY_DEFAULT;
  if (argv[1] != NULL)
    {
      char *end = NULL;
      count = g_ascii_strtoull (argv[1], &end, 10);
      if (end == argv[1] || *end != '\0' || count == 0 || count > HISTORY_MAX)
        {
          g_autofree char *msg = g_strdup_printf ("Usage: `history [count]`, count from 1 to %d "
                                                  "(default %d).",
                                                  HISTORY_MAX, HISTORY_DEFAULT);
          pa_queue_notice (b, room, msg);
          return;
        }
    }
  g_autoptr (PaPortalRow) row = NULL;
  PaAccount *login = portal_login (b, room, sender, &row);
  if (login == NULL)
    return;
  g_autoptr (json_t) args = json_pack ("{s:s, s:I, s:b}", "chat_id", row->chat_id, "count",
                                       (json_int_t) count, "forward", 0);
  g_autofree char *extra = g_strdup_printf ("%" G_GUINT64_FORMAT, count);
  g_autoptr (GError) e = NULL;
  if (!pa_to_legacy_op (login, "fetch_history", args, "history", room, NULL, row->chat_id, extra,
                        &e))
    {
      g_autofree char *msg = g_strdup_printf ("⚠ History not requested: %s", e->message);
      pa_queue_notice (b, room, msg);
    }
}
