/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * test-tg-ids.c — Telegram ids ⇄ legacy ids: one spelling per id, and a
 * basic group's message gets the same id in every member's login.
 */
#include "tg-ids.h"
#include "tg-test-host.h"

static void
test_users_and_chats (void)
{
  g_autofree char *u = tg_ids_user (123456789);
  g_assert_cmpstr (u, ==, "123456789");
  gint64 v = 0;
  g_assert_true (tg_ids_parse_user (u, &v));
  g_assert_cmpint (v, ==, 123456789);
  const char *bad_users[] = { "", "0", "-5", "+5", "05", "5a", "99999999999999999999" };
  for (gsize i = 0; i < G_N_ELEMENTS (bad_users); i++)
    g_assert_false (tg_ids_parse_user (bad_users[i], &v));

  g_autofree char *c = tg_ids_chat (-1001234567890, 0);
  g_assert_cmpstr (c, ==, "-1001234567890");
  g_autofree char *t = tg_ids_chat (-1001234567890, 7);
  g_assert_cmpstr (t, ==, "-1001234567890#7");
  gint64 chat = 0;
  gint32 topic = -1;
  g_assert_true (tg_ids_parse_chat (t, &chat, &topic));
  g_assert_cmpint (chat, ==, -1001234567890);
  g_assert_cmpint (topic, ==, 7);
  g_assert_true (tg_ids_parse_chat (c, &chat, &topic));
  g_assert_cmpint (topic, ==, 0);
  const char *bad_chats[]
      = { "", "0", "-0", "-01", "1#0", "1#", "1#x", "#3", "1#-2", "1#99999999999" };
  for (gsize i = 0; i < G_N_ELEMENTS (bad_chats); i++)
    g_assert_false (tg_ids_parse_chat (bad_chats[i], &chat, &topic));
}

static json_t *
message (gint64 chat_id, gint64 id, gint32 file_id, const char *local_path, gboolean chosen)
{
  json_error_t err;
  json_t *m = json_pack_ex (
      &err, 0,
      "{s:s, s:I, s:I, s:{s:s, s:I}, s:i, s:b, s:{s:s, s:{s:s, s:[], s:s, s:b}, s:s, "
      "s:{s:s, s:i, s:i, s:i, s:{s:s, s:s}, s:{s:s, s:s, s:s}}}}",
      "@type", "message", "id", (json_int_t) id, "chat_id", (json_int_t) chat_id, "sender_id",
      "@type", "messageSenderUser", "user_id", (json_int_t) 42, "date", 1700000000, "is_outgoing",
      chosen, "content", "@type", "messageDocument", "caption", "@type", "formattedText",
      "entities", "text", "the report", "is_chosen", chosen, "_x", "y", "document", "@type", "file",
      "id", file_id, "size", 1000, "expected_size", 1000, "local", "@type", "localFile", "path",
      local_path, "remote", "@type", "remoteFile", "unique_id", "AgADBQADr6cxG", "id",
      "BQACAgQAAxkBAAI");
  g_assert_nonnull (m);
  return m;
}

static void
test_plain_message_ids (void)
{
  PaLogin *login = tg_test_login_new ();
  g_autoptr (TgJson) m = message (-1001234567890, 1048576, 5, "", FALSE);
  g_autofree char *id = tg_ids_message_to_pa (login, m);
  g_assert_cmpstr (id, ==, "1048576");
  gint64 back = 0;
  g_assert_true (tg_ids_message_from_pa (login, -1001234567890, "1048576", &back));
  g_assert_cmpint (back, ==, 1048576);
  g_assert_false (tg_ids_message_from_pa (login, -1001234567890, "b1.2.3", &back));
  g_autofree char *dm = tg_ids_message_id_to_pa (login, 42, 77);
  g_assert_cmpstr (dm, ==, "77");
  tg_test_login_free (login);
}

/* Two agents in one basic group: each login numbers the message its own
 * way and holds its own file ids, yet both name it alike. */
static void
test_basic_group_shared_id (void)
{
  PaLogin *a = tg_test_login_new ();
  g_autoptr (TgJson) ma = message (-4012345, 300, 11, "/a/files/report.pdf", TRUE);
  g_autofree char *ida = tg_ids_message_to_pa (a, ma);
  g_assert_nonnull (ida);
  g_assert_true (g_str_has_prefix (ida, "b1700000000.42."));
  gint64 td = 0;
  g_assert_true (tg_ids_message_from_pa (a, -4012345, ida, &td));
  g_assert_cmpint (td, ==, 300);
  g_autofree char *again = tg_ids_message_id_to_pa (a, -4012345, 300);
  g_assert_cmpstr (again, ==, ida);
  g_autofree char *unseen = tg_ids_message_id_to_pa (a, -4012345, 301);
  g_assert_null (unseen);
  g_assert_false (tg_ids_message_from_pa (a, -4012345, "300", &td));
  tg_test_login_free (a);

  PaLogin *b = tg_test_login_new ();
  g_autoptr (TgJson) mb = message (-4012345, 912, 3, "", FALSE);
  g_autofree char *idb = tg_ids_message_to_pa (b, mb);
  g_assert_cmpstr (idb, ==, ida);
  g_assert_true (tg_ids_message_from_pa (b, -4012345, idb, &td));
  g_assert_cmpint (td, ==, 912);

  /* another content: another id */
  json_object_set_new (json_object_get (json_object_get (mb, "content"), "caption"), "text",
                       json_string ("the other report"));
  json_object_set_new (mb, "id", json_integer (913));
  g_autofree char *other = tg_ids_message_to_pa (b, mb);
  g_assert_cmpstr (other, !=, ida);
  tg_test_login_free (b);
}

/* "ok", "ok" in one second: the second gets ".2", and asking again for
 * either gives the same answer. */
static void
test_basic_group_twins (void)
{
  PaLogin *login = tg_test_login_new ();
  g_autoptr (TgJson) m1 = message (-4012345, 500, 1, "", FALSE);
  g_autoptr (TgJson) m2 = message (-4012345, 501, 2, "", FALSE);
  g_autofree char *id1 = tg_ids_message_to_pa (login, m1);
  g_autofree char *id2 = tg_ids_message_to_pa (login, m2);
  g_autofree char *expect2 = g_strdup_printf ("%s.2", id1);
  g_assert_cmpstr (id2, ==, expect2);
  g_autofree char *id1b = tg_ids_message_to_pa (login, m1);
  g_assert_cmpstr (id1b, ==, id1);
  gint64 td = 0;
  g_assert_true (tg_ids_message_from_pa (login, -4012345, id2, &td));
  g_assert_cmpint (td, ==, 501);
  /* ids never speak to the host beyond metadata */
  g_assert_cmpuint (json_array_size (tg_test_events ()), ==, 0);
  tg_test_events_clear ();
  tg_test_login_free (login);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/tg-ids/users-and-chats", test_users_and_chats);
  g_test_add_func ("/tg-ids/plain-message-ids", test_plain_message_ids);
  g_test_add_func ("/tg-ids/basic-group-shared-id", test_basic_group_shared_id);
  g_test_add_func ("/tg-ids/basic-group-twins", test_basic_group_twins);
  return g_test_run ();
}
