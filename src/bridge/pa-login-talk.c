/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The login conversation in the agent's management room: a worker's
 * login steps become questions (one field at a time, passwords redacted
 * from the room at once), codes to scan or type (pa-login-display.c), and
 * the final "logged in"; the agent's answers are collected and submitted
 * to the worker. */
#define G_LOG_DOMAIN "passerelle-logins"

#include "pa-login-talk.h"

#include "pa-login-display.h"
#include "pa-login-table.h"
#include "pa-plugins.h"
#include "pa-portal.h"
#include "pa-queue.h"
#include "pa-room-power.h"

#define REDACT_NO GINT_TO_POINTER (1)
#define REDACT_OK GINT_TO_POINTER (2)

static const char *
str (json_t *o, const char *key)
{
  return json_string_value (json_object_get (o, key));
}

static void ask_field (PaAccount *l);

/* The login of `owner` waiting for an answer, or NULL. */
static PaAccount *
waiting_login (PaBridge *b, const char *owner)
{
  PaAccount *l = NULL;
  GHashTableIter it;
  gpointer v;
  g_hash_table_iter_init (&it, b->logins);
  while (g_hash_table_iter_next (&it, NULL, &v))
    {
      PaAccount *c = v;
      if (g_str_equal (c->owner, owner) && c->step != NULL)
        l = c;
    }
  return l;
}

static void
redact_checked (PaBridge *b, const char *room_id, gboolean can_redact, gpointer user_data)
{
  g_autofree char *owner = user_data;
  g_hash_table_replace (b->can_redact, g_strdup (room_id), can_redact ? REDACT_OK : REDACT_NO);
  PaAccount *l = waiting_login (b, owner);
  if (l != NULL)
    ask_field (l);
}

/* Before a password is asked: can the bot delete it from the management
 * room?  FALSE when the question must wait (being checked, or the agent
 * was told it cannot and chooses `newroom` or `retry`). */
static gboolean
password_deletable (PaAccount *l)
{
  PaBridge *b = l->bridge;
  g_autofree char *room = pa_store_management_room (b->store, l->owner);
  if (room == NULL)
    return TRUE; /* created by the bot on the first notice: it is admin there */
  gpointer known = g_hash_table_lookup (b->can_redact, room);
  if (known == REDACT_OK)
    return TRUE;
  if (known == NULL)
    {
      pa_room_power_can_redact (b, room, redact_checked, g_strdup (l->owner));
      return FALSE;
    }
  l->redact_warned = TRUE;
  pa_portal_notify_owner (
      b, l->owner,
      "⚠ Before you send your password: I cannot delete messages in this room (it was "
      "created by you and I am not a moderator here), so your password would stay in its "
      "history. Send `newroom` and I will open a management room of my own, where I delete "
      "it at once, and ask again there; or make me a moderator of this room (power level 50) "
      "and send `retry`. Send `cancel` to stop.");
  return FALSE;
}

static void
new_room_made (PaBridge *b, const char *room_id, const char *error, gpointer user_data)
{
  g_autofree char *owner = user_data;
  PaAccount *l = waiting_login (b, owner);
  if (room_id == NULL)
    {
      g_autofree char *msg = g_strdup_printf ("Could not open a new room: %s", error);
      pa_portal_notify_owner (b, owner, msg);
      if (l != NULL)
        l->redact_warned = TRUE;
      return;
    }
  /* The bot created it: it is an admin there. */
  g_hash_table_replace (b->can_redact, g_strdup (room_id), REDACT_OK);
  pa_queue_notice (b, room_id,
                   "This is your new management room: I can delete your password here. "
                   "Send `help` for the commands.");
  if (l != NULL)
    ask_field (l);
}

/* Ask the next field of a user_input step. */
static void
ask_field (PaAccount *l)
{
  json_t *fields = json_object_get (json_object_get (l->step, "step"), "fields");
  json_t *f = json_array_get (fields, l->field_index);
  if (f == NULL)
    return;
  const char *label = str (f, "label") ? str (f, "label") : str (f, "id");
  const char *type = str (f, "type") ? str (f, "type") : "text";
  if (g_str_equal (type, "password") && !password_deletable (l))
    return;
  GString *q = g_string_new (NULL);
  g_string_append_printf (q, "Please send your %s", label);
  if (g_str_equal (type, "password"))
    g_string_append (q, " (your message will be deleted right away)");
  if (str (f, "default"))
    g_string_append_printf (q, " — or `-` for the default (%s)", str (f, "default"));
  else if (json_is_true (json_object_get (f, "optional")))
    g_string_append (q, " — or `-` to leave it empty");
  json_t *choices = json_object_get (f, "choices");
  if (json_array_size (choices) > 0)
    {
      g_string_append (q, ". Choices:");
      size_t i;
      json_t *c;
      json_array_foreach (choices, i, c) g_string_append_printf (q, " `%s`", json_string_value (c));
    }
  g_string_append (q, ". Send `cancel` to stop.");
  pa_portal_notify_owner (l->bridge, l->owner, q->str);
  g_string_free (q, TRUE);
}
void
pa_login_talk_complete (PaAccount *l, json_t *step)
{
  PaBridge *b = l->bridge;
  g_clear_pointer (&l->step, json_decref);
  g_free (l->remote_id);
  l->remote_id = g_strdup (str (step, "remote_id"));
  g_free (l->remote_name);
  l->remote_name = g_strdup (str (step, "remote_name"));
  l->logged_in = TRUE;
  pa_login_display_clear (l);
  pa_login_set_state (l, "connected");
  pa_login_save (l);
  PaPluginInfo *info = pa_plugin_info (b, l->plugin);
  g_autofree char *msg = g_strdup_printf (
      "✅ Logged in to %s as %s%s%s%s. Your conversations will appear as rooms.",
      info ? info->display_name : l->plugin, l->remote_name ? l->remote_name : "",
      l->remote_name ? " (" : "", l->remote_id ? l->remote_id : "?", l->remote_name ? ")" : "");
  pa_portal_notify_owner (b, l->owner, msg);
}

void
pa_login_talk_step (PaAccount *l, json_t *frame)
{
  PaBridge *b = l->bridge;
  json_t *step = json_object_get (frame, "step");
  const char *kind = str (step, "kind");
  const char *instr = str (step, "instructions");
  if (kind == NULL)
    return;
  if (g_str_equal (kind, "user_input"))
    {
      if (instr)
        pa_portal_notify_owner (b, l->owner, instr);
      json_decref (l->step);
      l->step = json_incref (frame);
      l->field_index = 0;
      json_decref (l->answers);
      l->answers = json_object ();
      if (json_array_size (json_object_get (step, "fields")) == 0)
        {
          /* Nothing to ask: submit straight away. */
          g_autoptr (json_t) f = json_pack ("{s:s, s:s?, s:o}", "t", "login_submit", "step_id",
                                            str (step, "step_id"), "values", json_object ());
          pa_worker_send (l->worker, f);
          g_clear_pointer (&l->step, json_decref);
          return;
        }
      ask_field (l);
    }
  else if (g_str_equal (kind, "display_and_wait"))
    {
      g_clear_pointer (&l->step, json_decref);
      pa_login_display_step (l, step);
    }
  else if (g_str_equal (kind, "complete"))
    pa_login_talk_complete (l, step);
}
gboolean
pa_login_talk_answer (PaBridge *b, const char *owner, const char *room_id, const char *event_id,
                      const char *text)
{
  PaAccount *l = waiting_login (b, owner);
  if (l == NULL)
    return FALSE;
  g_autofree char *answer = g_strstrip (g_strdup (text));
  if (l->redact_warned && g_str_equal (answer, "newroom"))
    {
      l->redact_warned = FALSE;
      pa_queue_notice (b, room_id, "Opening a new room: accept my invitation, the login goes on "
                                   "there.");
      pa_portal_management_room_new (b, owner, new_room_made, g_strdup (owner));
      return TRUE;
    }
  if (l->redact_warned && g_str_equal (answer, "retry"))
    {
      l->redact_warned = FALSE;
      g_hash_table_remove (b->can_redact, room_id);
      ask_field (l);
      return TRUE;
    }
  /* Anything else is the answer (the agent chose to type it here). */
  l->redact_warned = FALSE;
  if (g_str_equal (answer, "cancel"))
    {
      g_autoptr (json_t) f = json_pack ("{s:s}", "t", "login_cancel");
      pa_worker_send (l->worker, f);
      g_clear_pointer (&l->step, json_decref);
      pa_portal_notify_owner (b, owner, "Login cancelled.");
      if (!l->logged_in)
        pa_login_stop_and_free (l);
      return TRUE;
    }
  json_t *step = json_object_get (l->step, "step");
  json_t *fields = json_object_get (step, "fields");
  json_t *f = json_array_get (fields, l->field_index);
  if (f == NULL)
    return FALSE;
  const char *type = str (f, "type") ? str (f, "type") : "text";
  if (g_str_equal (type, "password") && event_id)
    {
      /* Do not leave a password in the room's history. */
      g_autofree char *txn = pa_queue_txn_id (room_id, "redact", event_id, NULL);
      g_autofree char *er = pa_matrix_escape (room_id);
      g_autofree char *ee = pa_matrix_escape (event_id);
      g_autofree char *path
          = g_strdup_printf ("/_matrix/client/v3/rooms/%s/redact/%s/%s", er, ee, txn);
      g_autoptr (json_t) body = json_pack ("{s:s}", "reason", "password removed");
      g_autoptr (json_t) done
          = json_pack ("{s:s, s:s}", "what", "redact_password", "room", room_id);
      pa_queue_request (b, room_id, "PUT", path, NULL, body, 0, txn, done);
    }
  const char *value = answer;
  if (g_str_equal (answer, "-"))
    value = str (f, "default") ? str (f, "default") : "";
  json_t *choices = json_object_get (f, "choices");
  if (json_array_size (choices) > 0)
    {
      gboolean found = FALSE;
      size_t i;
      json_t *c;
      json_array_foreach (choices, i, c) if (g_strcmp0 (json_string_value (c), value) == 0) found
          = TRUE;
      if (!found)
        {
          pa_portal_notify_owner (b, owner, "That is not one of the choices.");
          ask_field (l);
          return TRUE;
        }
    }
  json_object_set_new (l->answers, str (f, "id") ? str (f, "id") : "", json_string (value));
  l->field_index++;
  if (l->field_index < json_array_size (fields))
    {
      ask_field (l);
      return TRUE;
    }
  g_autoptr (json_t) submit = json_pack ("{s:s, s:s?, s:O}", "t", "login_submit", "step_id",
                                         str (step, "step_id"), "values", l->answers);
  g_clear_pointer (&l->step, json_decref);
  pa_worker_send (l->worker, submit);
  pa_portal_notify_owner (b, owner, "Thanks, logging in…");
  return TRUE;
}
/* Outbound completion of a password's redaction: when it failed, the
 * agent deletes it. */
void
pa_login_talk_password_redacted (PaBridge *b, json_t *on_done, const char *event_id,
                                 const PaMatrixResponse *resp)
{
  if (resp && !pa_matrix_response_ok (resp))
    /* In a room the agent created, the bot may lack the power to redact. */
    pa_queue_notice (b, str (on_done, "room"),
                     "⚠ I could not delete your password message (I am not a moderator of "
                     "this room): please delete it yourself. Next time, answer `newroom` "
                     "when I warn you, and I will open a room where I can delete it.");
}
