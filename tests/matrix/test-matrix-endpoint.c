/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Unit tests for pa_matrix_endpoint_class: one class per kind of request,
 * nothing of the URL itself. */
#include "matrix/pa-matrix-endpoint.h"

static const struct
{
  const char *url;
  const char *expected;
} cases[] = {
  { "http://h/_matrix/client/v3/rooms/%21r%3Ah/send/m.room.message/pa.1?user_id=%40a", "send" },
  { "/_matrix/client/v3/rooms/!r:h/state/m.room.name/", "state" },
  { "/_matrix/client/v3/rooms/!r:h/state", "state" },
  { "/_matrix/client/v3/rooms/!r:h/redact/$e/t", "redact" },
  { "/_matrix/media/v3/upload?filename=a.png", "media" },
  { "/_matrix/client/v1/media/download/h/abc", "media" },
  { "/_matrix/client/v3/register", "register" },
  { "/_matrix/client/v3/profile/%40a%3Ah/displayname", "profile" },
  { "/_matrix/client/v3/rooms/!r:h/invite", "membership" },
  { "/_matrix/client/v3/join/%23a%3Ah", "membership" },
  { "/_matrix/client/v3/createRoom", "room" },
  { "/_matrix/client/v3/rooms/!r:h/typing/%40a", "ephemeral" },
  { "/_matrix/client/v3/rooms/!r:h/receipt/m.read/$e", "ephemeral" },
  { "/_matrix/client/v3/keys/upload", "keys" },
  { "/_matrix/client/v3/sendToDevice/m.room.encrypted/t", "keys" },
  { "/_matrix/client/v3/presence/%40a/status", "presence" },
  { "/_matrix/client/v1/appservice/passerelle/ping", "appservice" },
  { "/_matrix/client/versions", "appservice" },
  { "/_matrix/client/v3/rooms/!r:h/messages?dir=b", "room" },
  { "/_matrix/client/v3/sync?filter=/send/", "other" },
  { "/elsewhere", "other" },
  { NULL, "other" },
};

static void
test_classes (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    g_assert_cmpstr (pa_matrix_endpoint_class (cases[i].url), ==, cases[i].expected);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/matrix/endpoint-class", test_classes);
  return g_test_run ();
}
