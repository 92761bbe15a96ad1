/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The provisioning API's routing and request parsing (pa-provision-route.c)
 * as tables: which endpoint a method and path name, with which
 * parameters, and which status the others get; the Authorization header's
 * forms; user IDs. */
#include "pa-provision-route.h"

static void
test_routes (void)
{
  static const struct
  {
    const char *method, *rest;
    guint status;
    PaProvRoute route;
    const char *p0, *p1, *p2;
  } cases[] = {
    { "GET", "/v3/whoami", 0, PA_PROV_WHOAMI, NULL, NULL, NULL },
    { "GET", "/v3/login/flows", 0, PA_PROV_FLOWS, NULL, NULL, NULL },
    { "POST", "/v3/login/start/password", 0, PA_PROV_LOGIN_START, "password", NULL, NULL },
    { "POST", "/v3/login/step/pl_1/credentials/user_input", 0, PA_PROV_LOGIN_STEP, "pl_1",
      "credentials", "user_input" },
    { "POST", "/v3/login/step/pl_1/fr.passerelle.wait/display_and_wait", 0, PA_PROV_LOGIN_STEP,
      "pl_1", "fr.passerelle.wait", "display_and_wait" },
    { "POST", "/v3/login/cancel/pl_1", 0, PA_PROV_LOGIN_CANCEL, "pl_1", NULL, NULL },
    { "GET", "/v3/logins", 0, PA_PROV_LOGINS, NULL, NULL, NULL },
    { "POST", "/v3/logout/all", 0, PA_PROV_LOGOUT, "all", NULL, NULL },
    { "GET", "/v3/contacts", 0, PA_PROV_CONTACTS, NULL, NULL, NULL },
    /* Parameters are decoded once: %2B is '+', %2540 stays "%40". */
    { "GET", "/v3/resolve_identifier/%2B3312345", 0, PA_PROV_RESOLVE, "+3312345", NULL, NULL },
    { "POST", "/v3/create_dm/bob%2540x", 0, PA_PROV_CREATE_DM, "bob%40x", NULL, NULL },
    { "POST", "/v3/create_dm/b%C3%A9atrice", 0, PA_PROV_CREATE_DM, "béatrice", NULL, NULL },
    /* Wrong method on a known path. */
    { "POST", "/v3/whoami", 405, PA_PROV_NONE, NULL, NULL, NULL },
    { "GET", "/v3/login/start/password", 405, PA_PROV_NONE, NULL, NULL, NULL },
    { "DELETE", "/v3/logout/x", 405, PA_PROV_NONE, NULL, NULL, NULL },
    /* Unknown paths. */
    { "GET", "", 404, PA_PROV_NONE, NULL, NULL, NULL },
    { "GET", "/", 404, PA_PROV_NONE, NULL, NULL, NULL },
    { "GET", "/v3", 404, PA_PROV_NONE, NULL, NULL, NULL },
    { "GET", "/v3/whoami/", 404, PA_PROV_NONE, NULL, NULL, NULL },
    { "GET", "/v2/whoami", 404, PA_PROV_NONE, NULL, NULL, NULL },
    { "GET", "v3/whoami", 404, PA_PROV_NONE, NULL, NULL, NULL },
    { "POST", "/v3/login/step/a/b", 404, PA_PROV_NONE, NULL, NULL, NULL },
    { "POST", "/v3/login/step/a/b/c/d", 404, PA_PROV_NONE, NULL, NULL, NULL },
    /* Bad parameters: empty, a decoded '/', a NUL, not UTF-8, a bad escape. */
    { "POST", "/v3/login/start/", 400, PA_PROV_NONE, NULL, NULL, NULL },
    { "POST", "/v3/login/step/a//c", 400, PA_PROV_NONE, NULL, NULL, NULL },
    { "POST", "/v3/create_dm/a%2Fb", 400, PA_PROV_NONE, NULL, NULL, NULL },
    { "POST", "/v3/create_dm/a%00b", 400, PA_PROV_NONE, NULL, NULL, NULL },
    { "POST", "/v3/create_dm/%FF", 400, PA_PROV_NONE, NULL, NULL, NULL },
    { "POST", "/v3/create_dm/%zz", 400, PA_PROV_NONE, NULL, NULL, NULL },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      char *params[PA_PROV_MAX_PARAMS];
      PaProvRoute route = PA_PROV_NONE;
      guint status = pa_provision_route (cases[i].method, cases[i].rest, &route, params);
      g_test_message ("%s %s → %u", cases[i].method, cases[i].rest, status);
      g_assert_cmpuint (status, ==, cases[i].status);
      g_assert_cmpint (route, ==, cases[i].route);
      g_assert_cmpstr (params[0], ==, cases[i].p0);
      g_assert_cmpstr (params[1], ==, cases[i].p1);
      g_assert_cmpstr (params[2], ==, cases[i].p2);
      for (guint j = 0; j < PA_PROV_MAX_PARAMS; j++)
        g_free (params[j]);
    }
}

static void
test_auth_header (void)
{
  static const struct
  {
    const char *header;
    const char *token;
    gboolean openid;
  } cases[] = {
    { "Bearer s3cret", "s3cret", FALSE },
    { "bearer   s3cret  ", "s3cret", FALSE },
    { "Bearer openid:abc", "abc", TRUE },
    { "Bearer openid:", NULL, TRUE },
    { "Bearer ", NULL, FALSE },
    { "Basic dXNlcjpwdw==", NULL, FALSE },
    { "s3cret", NULL, FALSE },
    { NULL, NULL, FALSE },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      gboolean openid = FALSE;
      g_autofree char *token = pa_provision_auth_token (cases[i].header, &openid);
      g_assert_cmpstr (token, ==, cases[i].token);
      if (token != NULL)
        g_assert_cmpint (openid, ==, cases[i].openid);
    }
}

static void
test_user_ids (void)
{
  static const struct
  {
    const char *s;
    gboolean ok;
  } cases[] = {
    { "@alice:localhost", TRUE }, { "@a:b.example:8448", TRUE },
    { "alice:localhost", FALSE }, { "@:localhost", FALSE },
    { "@alice", FALSE },          { "@alice:", FALSE },
    { "@al ice:x", FALSE },       { NULL, FALSE },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    g_assert_cmpint (pa_provision_is_user_id (cases[i].s), ==, cases[i].ok);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/provision/routes", test_routes);
  g_test_add_func ("/provision/auth-header", test_auth_header);
  g_test_add_func ("/provision/user-ids", test_user_ids);
  return g_test_run ();
}
