/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The provisioning API's endpoints as a table (method, path pattern,
 * endpoint), matched segment by segment; a "{}" segment is a parameter,
 * percent-decoded exactly once.  The Authorization header's two forms
 * (the shared secret, "openid:" and a Matrix OpenID token) are read here
 * too. */
#include "pa-provision-route.h"

#include <string.h>

static const struct
{
  const char *method;
  const char *pattern;
  PaProvRoute route;
} routes[] = {
  { "GET", "/v3/whoami", PA_PROV_WHOAMI },
  { "GET", "/v3/login/flows", PA_PROV_FLOWS },
  { "POST", "/v3/login/start/{}", PA_PROV_LOGIN_START },
  { "POST", "/v3/login/step/{}/{}/{}", PA_PROV_LOGIN_STEP },
  { "POST", "/v3/login/cancel/{}", PA_PROV_LOGIN_CANCEL },
  { "GET", "/v3/logins", PA_PROV_LOGINS },
  { "POST", "/v3/logout/{}", PA_PROV_LOGOUT },
  { "GET", "/v3/contacts", PA_PROV_CONTACTS },
  { "GET", "/v3/resolve_identifier/{}", PA_PROV_RESOLVE },
  { "POST", "/v3/create_dm/{}", PA_PROV_CREATE_DM },
};

static char *
decode (const char *seg)
{
  if (*seg == '\0')
    return NULL;
  g_autofree char *dec = g_uri_unescape_segment (seg, NULL, "/");
  if (dec == NULL || *dec == '\0' || !g_utf8_validate (dec, -1, NULL))
    return NULL;
  return g_steal_pointer (&dec);
}

/* 0 when `segs` fit the pattern (params filled), 404 when they do not,
 * 400 when they fit but a parameter is bad. */
static guint
match (const char *pattern, char **segs, char *params[PA_PROV_MAX_PARAMS])
{
  g_auto (GStrv) pat = g_strsplit (pattern, "/", -1);
  guint n = 0;
  if (g_strv_length (pat) != g_strv_length (segs))
    return 404;
  for (guint i = 0; pat[i] != NULL; i++)
    if (!g_str_equal (pat[i], "{}") && !g_str_equal (pat[i], segs[i]))
      return 404;
  for (guint i = 0; pat[i] != NULL; i++)
    {
      if (!g_str_equal (pat[i], "{}"))
        continue;
      params[n] = decode (segs[i]);
      if (params[n] == NULL)
        {
          for (guint j = 0; j < n; j++)
            g_clear_pointer (&params[j], g_free);
          return 400;
        }
      n++;
    }
  return 0;
}

guint
pa_provision_route (const char *method, const char *rest, PaProvRoute *route,
                    char *params[PA_PROV_MAX_PARAMS])
{
  guint status = 404;
  for (guint i = 0; i < PA_PROV_MAX_PARAMS; i++)
    params[i] = NULL;
  *route = PA_PROV_NONE;
  if (rest == NULL || rest[0] != '/')
    return 404;
  g_auto (GStrv) segs = g_strsplit (rest, "/", -1);
  for (guint i = 0; i < G_N_ELEMENTS (routes); i++)
    {
      guint m = match (routes[i].pattern, segs, params);
      if (m == 404)
        continue;
      if (!g_str_equal (method, routes[i].method))
        {
          for (guint j = 0; j < PA_PROV_MAX_PARAMS; j++)
            g_clear_pointer (&params[j], g_free);
          status = 405;
          continue;
        }
      if (m == 0)
        *route = routes[i].route;
      return m;
    }
  return status;
}

char *
pa_provision_auth_token (const char *header, gboolean *openid)
{
  *openid = FALSE;
  if (header == NULL)
    return NULL;
  while (*header == ' ')
    header++;
  if (g_ascii_strncasecmp (header, "Bearer ", 7) != 0)
    return NULL;
  header += 7;
  while (*header == ' ')
    header++;
  g_autofree char *token = g_strchomp (g_strdup (header));
  if (g_str_has_prefix (token, "openid:"))
    {
      *openid = TRUE;
      memmove (token, token + 7, strlen (token + 7) + 1);
    }
  if (*token == '\0')
    return NULL;
  return g_steal_pointer (&token);
}

gboolean
pa_provision_is_user_id (const char *s)
{
  if (s == NULL || s[0] != '@' || strlen (s) > 255 || !g_utf8_validate (s, -1, NULL))
    return FALSE;
  const char *colon = strchr (s, ':');
  if (colon == NULL || colon == s + 1 || colon[1] == '\0')
    return FALSE;
  for (const char *p = s; *p; p++)
    if ((guchar) *p < 0x21 || *p == 0x7f)
      return FALSE;
  return TRUE;
}
