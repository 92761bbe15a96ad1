/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Commands: bare words in an agent's management room, or after the
 * command prefix ("!pa help") in any room the bot is in.  Every command
 * checks the sender's level first; refusals say why. */
#define G_LOG_DOMAIN "passerelle-commands"

#include "pa-commands.h"

#include "pa-commands-portal.h"
#include "pa-login-table.h"
#include "pa-login.h"
#include "pa-plugins.h"
#include "pa-policy.h"
#include "pa-queue.h"
#include "pa-to-legacy-ops.h"

typedef struct {
  const char *name;
  PaLevel level;
  const char *usage;
  const char *help;
  void (*run) (PaBridge *b, const char *room, const char *sender, char **argv);
} Command;

static void
reply (PaBridge *b, const char *room, const char *text)
{
  pa_queue_notice (b, room, text);
}

static const Command *commands_table (guint *n);

static void
cmd_help (PaBridge *b, const char *room, const char *sender, char **argv)
{
  guint n = 0;
  const Command *t = commands_table (&n);
  PaLevel level = pa_policy_level (b, sender);
  g_autofree char *owner = pa_store_management_owner (b->store, room);
  GString *s = g_string_new (NULL);
  if (owner != NULL && g_str_equal (owner, sender))
    g_string_append_printf (s, "Commands (in this room without prefix; elsewhere start with "
                               "`%s`):\n",
                            b->config->command_prefix);
  else
    g_string_append_printf (s, "Commands (in this room start them with `%s`; `login` only in "
                               "your Passerelle room):\n",
                            b->config->command_prefix);
  for (guint i = 0; i < n; i++)
    if (level >= t[i].level)
      g_string_append_printf (s, "- `%s` — %s\n", t[i].usage, t[i].help);
  reply (b, room, s->str);
  g_string_free (s, TRUE);
}

static void
cmd_version (PaBridge *b, const char *room, const char *sender, char **argv)
{
  g_autofree char *msg = g_strdup_printf ("Passerelle %s (plugin ABI %d.%d)", PA_VERSION,
                                          PA_PLUGIN_ABI_MAJOR, PA_PLUGIN_ABI_MINOR);
  reply (b, room, msg);
}

static void
cmd_ping (PaBridge *b, const char *room, const char *sender, char **argv)
{
  GString *s = g_string_new ("Pong.");
  GHashTableIter it;
  gpointer v;
  g_hash_table_iter_init (&it, b->logins);
  while (g_hash_table_iter_next (&it, NULL, &v))
    {
      PaAccount *l = v;
      if (g_str_equal (l->owner, sender))
        g_string_append_printf (s, "\n- %s: %s as %s", l->plugin, l->state ? l->state : "?",
                                l->remote_id ? l->remote_id : "(not logged in)");
    }
  reply (b, room, s->str);
  g_string_free (s, TRUE);
}

static void
cmd_plugins (PaBridge *b, const char *room, const char *sender, char **argv)
{
  const PaMinistry *m = pa_config_ministry_for (b->config, sender);
  GString *s = g_string_new (NULL);
  if (m == NULL)
    g_string_append (s, "Your homeserver belongs to no ministry configured on this bridge, so "
                        "no plugin is enabled for you.");
  else
    {
      g_string_append_printf (s, "Plugins enabled for %s:", m->name);
      guint count = 0;
      GHashTableIter it;
      gpointer v;
      g_hash_table_iter_init (&it, b->plugins);
      while (g_hash_table_iter_next (&it, NULL, &v))
        {
          PaPluginInfo *info = v;
          if (!pa_policy_ministry_plugin_enabled (b, m, info->name))
            continue;
          g_string_append_printf (s, "\n- `%s` — %s", info->name, info->display_name);
          count++;
        }
      if (count == 0)
        g_string_append (s, " none. Ask a bridge admin.");
    }
  reply (b, room, s->str);
  g_string_free (s, TRUE);
}

static void
cmd_login (PaBridge *b, const char *room, const char *sender, char **argv)
{
  const char *plugin = argv[1];
  if (plugin == NULL)
    {
      reply (b, room, "Usage: `login <plugin>` (see `plugins`).");
      return;
    }
  g_autofree char *why = NULL;
  if (!pa_policy_plugin_allowed (b, sender, plugin, &why))
    {
      g_autofree char *msg = g_strdup_printf ("Cannot log in to %s: %s.", plugin, why);
      reply (b, room, msg);
      return;
    }
  PaAccount *l = pa_login_find (b, sender, plugin);
  if (l != NULL && l->driver != NULL)
    {
      /* Its own steps go to the application that started it. */
      g_autofree char *msg = g_strdup_printf ("A login to %s started from another application "
                                              "is in progress; it ends when it completes, is "
                                              "cancelled there, or is left unused.",
                                              plugin);
      reply (b, room, msg);
      return;
    }
  g_autoptr (GError) error = NULL;
  if (pa_login_begin (b, sender, plugin, argv[2], &error) != NULL)
    return;
  g_autofree char *msg = NULL;
  if (g_error_matches (error, PA_ERROR, PA_ERROR_PERMISSION))
    msg = g_strdup_printf ("You are %s. Send `logout %s` first.", error->message, plugin);
  else
    msg = g_strdup_printf ("Cannot log in to %s: %s.", plugin, error->message);
  reply (b, room, msg);
}

static void
cmd_logout (PaBridge *b, const char *room, const char *sender, char **argv)
{
  if (argv[1] == NULL)
    {
      reply (b, room, "Usage: `logout <plugin>`.");
      return;
    }
  PaAccount *l = pa_login_find (b, sender, argv[1]);
  if (l == NULL)
    {
      reply (b, room, "You have no login for that plugin.");
      return;
    }
  pa_login_logout (l);
  reply (b, room, "Logging out…");
}

static void
cmd_logins (PaBridge *b, const char *room, const char *sender, char **argv)
{
  g_autoptr (GPtrArray) rows = pa_store_login_list (b->store, sender);
  GString *s = g_string_new ("Your logins:");
  for (guint i = 0; rows && i < rows->len; i++)
    {
      PaLoginRow *r = g_ptr_array_index (rows, i);
      PaAccount *l = pa_login_by_id (b, r->id);
      g_string_append_printf (s, "\n- %s: %s (%s)%s", r->plugin,
                              r->remote_name ? r->remote_name : (r->remote_id ? r->remote_id : "?"),
                              r->state ? r->state : "?", l ? "" : " — not running");
    }
  if (rows == NULL || rows->len == 0)
    g_string_append (s, " none. Use `login <plugin>`.");
  reply (b, room, s->str);
  g_string_free (s, TRUE);
}

static PaAccount *
running_login (PaBridge *b, const char *room, const char *sender, const char *plugin)
{
  g_autofree char *why = NULL;
  if (plugin == NULL)
    {
      reply (b, room, "Name the plugin.");
      return NULL;
    }
  if (!pa_policy_plugin_allowed (b, sender, plugin, &why))
    {
      g_autofree char *msg = g_strdup_printf ("Refused: %s.", why);
      reply (b, room, msg);
      return NULL;
    }
  PaAccount *l = pa_login_find (b, sender, plugin);
  if (l == NULL || !l->logged_in)
    {
      reply (b, room, "You are not logged in to that plugin. Use `login <plugin>`.");
      return NULL;
    }
  return l;
}

/* `connect` / `disconnect`: the login's explicit go online with its saved
 * session (after another device took it, a ban ended…) / go offline but
 * keep the session (PaLoginOps.connect / disconnect). */
static void
send_presence_request (PaBridge *b, const char *room, const char *sender, char **argv,
                       const char *what)
{
  PaAccount *l = running_login (b, room, sender, argv[1]);
  if (l == NULL)
    return;
  g_autoptr (json_t) f = json_pack ("{s:s}", "t", what);
  if (!pa_worker_send (l->worker, f))
    {
      reply (b, room, "Its connection is restarting; try again in a moment.");
      return;
    }
  g_autofree char *msg = g_strdup_printf (g_str_equal (what, "connect") ? "Connecting %s…"
                                                                        : "Disconnecting %s…",
                                          l->plugin);
  reply (b, room, msg);
}

static void
cmd_connect (PaBridge *b, const char *room, const char *sender, char **argv)
{
  send_presence_request (b, room, sender, argv, "connect");
}

static void
cmd_disconnect (PaBridge *b, const char *room, const char *sender, char **argv)
{
  send_presence_request (b, room, sender, argv, "disconnect");
}

static void
cmd_contacts (PaBridge *b, const char *room, const char *sender, char **argv)
{
  PaAccount *l = running_login (b, room, sender, argv[1]);
  g_autoptr (GError) e = NULL;
  if (l && !pa_to_legacy_op (l, "list_contacts", NULL, "contacts", NULL, NULL, NULL, NULL, &e))
    reply (b, room, e->message);
}

static void
cmd_start (PaBridge *b, const char *room, const char *sender, char **argv)
{
  if (argv[1] == NULL || argv[2] == NULL)
    {
      reply (b, room, "Usage: `start <plugin> <contact id>`.");
      return;
    }
  PaAccount *l = running_login (b, room, sender, argv[1]);
  g_autoptr (GError) e = NULL;
  g_autoptr (json_t) args = json_pack ("{s:s}", "user_id", argv[2]);
  if (l && !pa_to_legacy_op (l, "create_dm", args, "start", NULL, NULL, NULL, NULL, &e))
    reply (b, room, e->message);
}

static void
cmd_join (PaBridge *b, const char *room, const char *sender, char **argv)
{
  if (argv[1] == NULL || argv[2] == NULL)
    {
      reply (b, room, "Usage: `join <plugin> <room>` (an XMPP room address, an IRC #channel…).");
      return;
    }
  PaAccount *l = running_login (b, room, sender, argv[1]);
  if (l == NULL)
    return;
  /* Joining is the login's own membership of a legacy group chat; the
   * plugin announces the chat (CHAT_INFO) and its portal follows. */
  g_autoptr (GError) e = NULL;
  g_autoptr (json_t) args = json_pack ("{s:s, s:s, s:b}", "chat_id", argv[2], "user_id",
                                       l->remote_id ? l->remote_id : "", "join", 1);
  if (!pa_to_legacy_op (l, "set_membership", args, "join", NULL, NULL, argv[2], NULL, &e))
    reply (b, room, e->message);
  else
    {
      g_autofree char *msg = g_strdup_printf ("Joining %s…", argv[2]);
      reply (b, room, msg);
    }
}

static void
cmd_leave (PaBridge *b, const char *room, const char *sender, char **argv)
{
  if (argv[1] == NULL || argv[2] == NULL)
    {
      reply (b, room, "Usage: `leave <plugin> <chat>` (a group chat, or an invitation to "
                      "decline).");
      return;
    }
  PaAccount *l = running_login (b, room, sender, argv[1]);
  if (l == NULL)
    return;
  /* The login's own membership again, the other way: leaving a legacy
   * group chat, or declining an invitation the network told of. */
  g_autoptr (GError) e = NULL;
  g_autoptr (json_t) args = json_pack ("{s:s, s:s, s:b}", "chat_id", argv[2], "user_id",
                                       l->remote_id ? l->remote_id : "", "join", 0);
  if (!pa_to_legacy_op (l, "set_membership", args, "leave", NULL, NULL, argv[2], NULL, &e))
    reply (b, room, e->message);
}

static void
cmd_ministry (PaBridge *b, const char *room, const char *sender, char **argv)
{
  const char *sub = argv[1];
  if (sub && g_str_equal (sub, "list"))
    {
      GString *s = g_string_new ("Ministries:");
      for (guint i = 0; i < b->config->ministries->len; i++)
        {
          const PaMinistry *m = g_ptr_array_index (b->config->ministries, i);
          g_string_append_printf (s, "\n- %s (", m->name);
          for (guint d = 0; d < m->domains->len; d++)
            g_string_append_printf (s, "%s%s", d ? ", " : "",
                                    (char *) g_ptr_array_index (m->domains, d));
          g_string_append (s, "): ");
          guint count = 0;
          GHashTableIter it;
          gpointer v;
          g_hash_table_iter_init (&it, b->plugins);
          while (g_hash_table_iter_next (&it, NULL, &v))
            {
              PaPluginInfo *info = v;
              if (pa_policy_ministry_plugin_enabled (b, m, info->name))
                g_string_append_printf (s, "%s%s", count++ ? ", " : "", info->name);
            }
          if (count == 0)
            g_string_append (s, "no plugin enabled");
        }
      reply (b, room, s->str);
      g_string_free (s, TRUE);
      return;
    }
  if (sub && (g_str_equal (sub, "enable") || g_str_equal (sub, "disable")) && argv[2] && argv[3])
    {
      const PaMinistry *m = pa_config_ministry_by_name (b->config, argv[2]);
      if (m == NULL)
        {
          reply (b, room, "No such ministry (see `ministry list`).");
          return;
        }
      if (pa_plugin_info (b, argv[3]) == NULL)
        {
          reply (b, room, "No such plugin on this bridge.");
          return;
        }
      gboolean enable = g_str_equal (sub, "enable");
      g_autoptr (GError) e = NULL;
      if (!pa_store_ministry_plugin_set (b->store, m->name, argv[3], enable, &e))
        {
          reply (b, room, e->message);
          return;
        }
      g_message ("%s %sd %s for %s", sender, sub, argv[3], m->name);
      pa_logins_apply_ministry (b, m, argv[3], enable);
      g_autofree char *msg = g_strdup_printf ("%s is now %s for %s.", argv[3],
                                              enable ? "enabled" : "disabled", m->name);
      reply (b, room, msg);
      return;
    }
  reply (b, room, "Usage: `ministry list`, `ministry enable <ministry> <plugin>`, "
                  "`ministry disable <ministry> <plugin>`.");
}

static void
cmd_status (PaBridge *b, const char *room, const char *sender, char **argv)
{
  guint running = 0;
  GHashTableIter it;
  gpointer v;
  g_hash_table_iter_init (&it, b->logins);
  while (g_hash_table_iter_next (&it, NULL, &v))
    if (pa_worker_is_running (((PaAccount *) v)->worker))
      running++;
  g_autofree char *msg = g_strdup_printf (
      "Passerelle %s, up %" G_GINT64_FORMAT " s\n- plugins: %u\n- logins: %u (%u workers running)"
      "\n- transactions: %" G_GUINT64_FORMAT ", events in: %" G_GUINT64_FORMAT
      ", events sent: %" G_GUINT64_FORMAT ", legacy events: %" G_GUINT64_FORMAT
      "\n- queues: inbound %" G_GINT64_FORMAT ", legacy %" G_GINT64_FORMAT ", outbound %"
      G_GINT64_FORMAT "\n- store: %" G_GINT64_FORMAT " ghosts, %" G_GINT64_FORMAT " portals"
      "\n- events kept aside (quarantine): %" G_GINT64_FORMAT,
      PA_VERSION, (pa_now_ms () - b->started_at) / 1000, g_hash_table_size (b->plugins),
      g_hash_table_size (b->logins), running, b->n_txns, b->n_events_in, b->n_events_out,
      b->n_remote, pa_store_inbound_count (b->store), pa_store_remote_count (b->store),
      pa_store_outbound_count (b->store), pa_store_ghost_count (b->store),
      pa_store_portal_count (b->store), pa_store_quarantine_count (b->store));
  reply (b, room, msg);
}

static const Command commands[] = {
  { "help", PA_LEVEL_RELAY, "help", "this list", cmd_help },
  { "version", PA_LEVEL_RELAY, "version", "the bridge's version", cmd_version },
  { "ping", PA_LEVEL_USER, "ping", "check the bridge and your connections", cmd_ping },
  { "plugins", PA_LEVEL_USER, "plugins", "the networks your ministry has enabled", cmd_plugins },
  { "login", PA_LEVEL_USER, "login <plugin> [method]", "connect a legacy account", cmd_login },
  { "logout", PA_LEVEL_USER, "logout <plugin>", "disconnect and forget it", cmd_logout },
  { "logins", PA_LEVEL_USER, "logins", "your legacy accounts", cmd_logins },
  { "connect", PA_LEVEL_USER, "connect <plugin>",
    "go online again with your saved session (after a ban, another device…)", cmd_connect },
  { "disconnect", PA_LEVEL_USER, "disconnect <plugin>", "go offline, keeping the session",
    cmd_disconnect },
  { "contacts", PA_LEVEL_USER, "contacts <plugin>", "list your legacy contacts", cmd_contacts },
  { "start", PA_LEVEL_USER, "start <plugin> <contact>", "open a conversation", cmd_start },
  { "join", PA_LEVEL_USER, "join <plugin> <room>",
    "join a legacy group chat, or accept an invitation", cmd_join },
  { "leave", PA_LEVEL_USER, "leave <plugin> <chat>",
    "leave a legacy group chat, or decline an invitation", cmd_leave },
  { "disappearing", PA_LEVEL_USER, "disappearing <off|24h|7d|90d>",
    "in a conversation's room: its disappearing-messages timer on the network",
    pa_commands_portal_disappearing },
  { "history", PA_LEVEL_USER, "history [count]",
    "in a conversation's room: ask the network for older messages", pa_commands_portal_history },
  { "ministry", PA_LEVEL_ADMIN, "ministry list|enable|disable …",
    "per-ministry plugins (admins)", cmd_ministry },
  { "status", PA_LEVEL_ADMIN, "status", "bridge counters (admins)", cmd_status },
};

static const Command *
commands_table (guint *n)
{
  *n = G_N_ELEMENTS (commands);
  return commands;
}

void
pa_commands_handle (PaBridge *b, const char *room_id, const char *sender, const char *event_id,
                    const char *body, gboolean management)
{
  g_autofree char *line = g_strstrip (g_strdup (body));
  g_auto (GStrv) argv = NULL;
  if (!g_shell_parse_argv (line, NULL, &argv, NULL) || argv[0] == NULL)
    {
      if (management && *line)
        reply (b, room_id, "I did not understand that. Send `help`.");
      return;
    }
  g_autofree char *name = g_ascii_strdown (argv[0], -1);
  PaLevel level = pa_policy_level (b, sender);
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    {
      if (!g_str_equal (commands[i].name, name))
        continue;
      if (level < commands[i].level)
        {
          g_autofree char *msg = g_strdup_printf (
              "You are not allowed to use `%s`: it needs the %s level and yours is %s.", name,
              pa_level_to_string (commands[i].level), pa_level_to_string (level));
          reply (b, room_id, msg);
          return;
        }
      if (!management && g_str_equal (name, "login"))
        {
          /* Its questions (a password among them) would be asked, and
           * answered, in a room that is not the bot's alone. */
          reply (b, room_id, "Send `login` in your Passerelle room (your direct chat with me): "
                             "its questions, passwords included, are not asked here.");
          return;
        }
      commands[i].run (b, room_id, sender, argv);
      return;
    }
  if (management)
    {
      g_autofree char *msg = g_strdup_printf ("Unknown command `%s`. Send `help`.", name);
      reply (b, room_id, msg);
    }
}
