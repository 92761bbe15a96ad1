/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * tg-outgoing-lookup.c — finding people on Telegram: resolve_identifier,
 * list_contacts and create_dm (`start telegram @username`, `+33…` or a
 * user id).  What an agent types is read here: an @username (or a t.me
 * link) through searchPublicChat, a phone number through
 * searchUserByPhoneNumber, a number alone as a user id.
 */
#define G_LOG_DOMAIN "passerelle-telegram"

#include <string.h>

#include "tg-chats.h"
#include "tg-ids.h"
#include "tg-outgoing.h"

typedef enum
{
  WHO_INVALID,
  WHO_USERNAME,
  WHO_PHONE,
  WHO_USER_ID,
} TgWho;

/* What `typed` names, and its canonical form in *value (a username
 * without "@", a phone number "+digits", a decimal user id). */
static TgWho
parse_who (const char *typed, char **value)
{
  g_autofree char *s = g_strstrip (g_strdup (typed != NULL ? typed : ""));
  static const char *const prefixes[] = { "https://t.me/", "http://t.me/", "t.me/", "@" };
  const char *p = s;
  gboolean named = FALSE;
  for (gsize i = 0; i < G_N_ELEMENTS (prefixes); i++)
    if (g_str_has_prefix (p, prefixes[i]))
      {
        p += strlen (prefixes[i]);
        named = TRUE;
        break;
      }
  if (*p == '+' || (!named && g_ascii_isdigit (*p) && strpbrk (p, " -.()") != NULL))
    {
      GString *digits = g_string_new ("+");
      for (const char *q = p; *q != '\0'; q++)
        if (g_ascii_isdigit (*q))
          g_string_append_c (digits, *q);
        else if (strchr ("+ -.()", *q) == NULL)
          {
            g_string_free (digits, TRUE);
            return WHO_INVALID;
          }
      if (digits->len < 6 || digits->len > 16)
        {
          g_string_free (digits, TRUE);
          return WHO_INVALID;
        }
      *value = g_string_free (digits, FALSE);
      return WHO_PHONE;
    }
  gint64 id = 0;
  if (!named && tg_ids_parse_user (p, &id))
    {
      *value = tg_ids_user (id);
      return WHO_USER_ID;
    }
  gsize n = strlen (p);
  if (n < 3 || n > 32 || !g_ascii_isalpha (*p))
    return WHO_INVALID;
  for (const char *q = p; *q != '\0'; q++)
    if (!g_ascii_isalnum (*q) && *q != '_')
      return WHO_INVALID;
  *value = g_strdup (p);
  return WHO_USERNAME;
}

/* A TDLib user → op_contact. */
static void
answer_user (PaLogin *login, guint64 op_id, json_t *user)
{
  const char *first = json_string_value (json_object_get (user, "first_name"));
  const char *last = json_string_value (json_object_get (user, "last_name"));
  g_autofree char *name
      = g_strstrip (g_strdup_printf ("%s %s", first ? first : "", last ? last : ""));
  json_t *names = json_object_get (json_object_get (user, "usernames"), "active_usernames");
  const char *username = json_string_value (json_array_get (names, 0));
  const char *phone = json_string_value (json_object_get (user, "phone_number"));
  g_autofree char *identifier = NULL;
  if (username != NULL && *username != '\0')
    identifier = g_strconcat ("@", username, NULL);
  else if (phone != NULL && *phone != '\0')
    identifier = g_strconcat ("+", phone, NULL);
  g_autofree char *id = tg_ids_user (json_integer_value (json_object_get (user, "id")));
  PaMember m = {
    .struct_size = sizeof (PaMember),
    .id = id,
    .name = *name != '\0' ? name : NULL,
    .identifier = identifier,
  };
  login->api->op_contact (login->host, op_id, &m);
}

/* A lookup that found nothing (400, 404) is NOT_FOUND with a sentence
 * naming what was typed; other errors (a flood wait) as TDLib says. */
static gboolean
lookup_failed (TgReq *r, json_t *reply, TgWho who)
{
  int code = 0;
  if (!tg_td_is_error (reply, &code, NULL))
    return FALSE;
  if (code != 400 && code != 404)
    {
      tg_req_fail_td (r, reply);
      return TRUE;
    }
  g_autofree char *msg
      = who == WHO_PHONE
            ? g_strdup_printf ("No Telegram user has the number %s, or their privacy settings "
                               "hide it.",
                               r->text)
        : who == WHO_USERNAME ? g_strdup_printf ("Telegram knows no user @%s.", r->text)
                              : g_strdup_printf ("Telegram knows no user %s.", r->text);
  tg_req_fail (r, PA_RESULT_NOT_FOUND, msg);
  return TRUE;
}

/* A public chat found by username must be a person's. */
static gboolean
not_a_person (TgReq *r, json_t *chat)
{
  const char *type = json_string_value (json_object_get (json_object_get (chat, "type"), "@type"));
  if (g_strcmp0 (type, "chatTypePrivate") == 0)
    return FALSE;
  g_autofree char *msg = g_strdup_printf (
      "@%s is a Telegram group or channel, not a person: `join telegram @%s` joins it.", r->text,
      r->text);
  tg_req_fail (r, PA_RESULT_NOT_FOUND, msg);
  return TRUE;
}

/* ------------------------------------------------------------ resolve */

static void
on_resolved (json_t *reply, void *user_data)
{
  TgReq *r = user_data;
  if (!tg_req_live (r))
    return;
  TgWho who = (TgWho) r->step;
  if (lookup_failed (r, reply, who))
    {
      tg_req_unref (r);
      return;
    }
  const char *type = json_string_value (json_object_get (reply, "@type"));
  if (g_strcmp0 (type, "chat") == 0)
    {
      if (!not_a_person (r, reply))
        {
          gint64 user
              = json_integer_value (json_object_get (json_object_get (reply, "type"), "user_id"));
          g_autofree char *id = tg_ids_user (user);
          g_autofree char *identifier = g_strconcat ("@", r->text, NULL);
          const char *title = json_string_value (json_object_get (reply, "title"));
          PaMember m = {
            .struct_size = sizeof (PaMember),
            .id = id,
            .name = title,
            .identifier = identifier,
          };
          r->login->api->op_contact (r->login->host, r->op_id, &m);
          tg_req_ok (r, NULL, 0);
        }
    }
  else
    {
      answer_user (r->login, r->op_id, reply);
      tg_req_ok (r, NULL, 0);
    }
  tg_req_unref (r);
}

/* getContacts / searchContacts: users by id, named as the login knows them. */
static void
on_users (json_t *reply, void *user_data)
{
  TgReq *r = user_data;
  if (!tg_req_live (r))
    return;
  if (!tg_req_failed (r, reply))
    {
      size_t i;
      json_t *v;
      json_array_foreach (json_object_get (reply, "user_ids"), i, v)
      {
        g_autofree char *id = tg_ids_user (json_integer_value (v));
        PaMember m = {
          .struct_size = sizeof (PaMember),
          .id = id,
          .name = tg_chats_user_name (r->login, json_integer_value (v)),
        };
        r->login->api->op_contact (r->login->host, r->op_id, &m);
      }
      tg_req_ok (r, NULL, 0);
    }
  tg_req_unref (r);
}

/* The request that finds `who`. */
static json_t *
lookup_request (TgWho who, const char *value)
{
  if (who == WHO_USERNAME)
    return json_pack ("{s:s, s:s}", "@type", "searchPublicChat", "username", value);
  if (who == WHO_PHONE)
    return json_pack ("{s:s, s:s, s:b}", "@type", "searchUserByPhoneNumber", "phone_number", value,
                      "only_local", 0);
  return json_pack ("{s:s, s:I}", "@type", "getUser", "user_id",
                    (json_int_t) g_ascii_strtoll (value, NULL, 10));
}

void
tg_out_resolve_identifier (PaLogin *login, uint64_t op_id, const char *identifier,
                           PaResolveMode mode)
{
  if (!tg_out_check_ready (login, op_id))
    return;
  if (mode == PA_RESOLVE_SEARCH)
    {
      TgReq *r = tg_req_new (login, op_id, FALSE);
      tg_req_send (r,
                   json_pack ("{s:s, s:s, s:i}", "@type", "searchContacts", "query",
                              identifier ? identifier : "", "limit", 20),
                   on_users);
      return;
    }
  char *value = NULL;
  TgWho who = parse_who (identifier, &value);
  if (who == WHO_INVALID)
    {
      tg_op_fail (login, op_id, PA_RESULT_NOT_FOUND,
                  "Give a Telegram @username, a phone number with its country code (+33…) or "
                  "a user id.");
      return;
    }
  TgReq *r = tg_req_new (login, op_id, FALSE);
  r->text = value;
  r->step = who;
  tg_req_send (r, lookup_request (who, value), on_resolved);
}

void
tg_out_list_contacts (PaLogin *login, uint64_t op_id)
{
  if (!tg_out_check_ready (login, op_id))
    return;
  TgReq *r = tg_req_new (login, op_id, FALSE);
  tg_req_send (r, json_pack ("{s:s}", "@type", "getContacts"), on_users);
}

/* ----------------------------------------------------------- create_dm */

/* The private chat exists: its portal is announced, then the op answered. */
static void
on_dm_chat (json_t *reply, void *user_data)
{
  TgReq *r = user_data;
  if (!tg_req_live (r))
    return;
  if (!lookup_failed (r, reply, (TgWho) r->step) && !not_a_person (r, reply))
    {
      gint64 chat = json_integer_value (json_object_get (reply, "id"));
      if (!tg_chats_announce (r->login, chat, 0))
        tg_log (r->login, PA_LOG_WARNING, "create_dm: chat %" G_GINT64_FORMAT " not known yet",
                chat);
      g_autofree char *id = tg_ids_chat (chat, 0);
      tg_req_ok (r, id, 0);
    }
  tg_req_unref (r);
}

/* The user behind a phone number: open the chat with them. */
static void
on_dm_user (json_t *reply, void *user_data)
{
  TgReq *r = user_data;
  if (!tg_req_live (r))
    return;
  if (!lookup_failed (r, reply, (TgWho) r->step))
    tg_req_send (r,
                 json_pack ("{s:s, s:O, s:b}", "@type", "createPrivateChat", "user_id",
                            json_object_get (reply, "id"), "force", 0),
                 on_dm_chat);
  tg_req_unref (r);
}

void
tg_out_create_dm (PaLogin *login, uint64_t op_id, const char *user_id)
{
  if (!tg_out_check_ready (login, op_id))
    return;
  char *value = NULL;
  TgWho who = parse_who (user_id, &value);
  if (who == WHO_INVALID)
    {
      tg_op_fail (login, op_id, PA_RESULT_NOT_FOUND,
                  "Give a Telegram @username, a phone number with its country code (+33…) or "
                  "a user id.");
      return;
    }
  TgReq *r = tg_req_new (login, op_id, FALSE);
  r->text = value;
  r->step = who;
  if (who == WHO_USERNAME)
    tg_req_send (r, lookup_request (who, value), on_dm_chat);
  else if (who == WHO_PHONE)
    tg_req_send (r, lookup_request (who, value), on_dm_user);
  else
    tg_req_send (r,
                 json_pack ("{s:s, s:I, s:b}", "@type", "createPrivateChat", "user_id",
                            (json_int_t) g_ascii_strtoll (value, NULL, 10), "force", 0),
                 on_dm_chat);
}
