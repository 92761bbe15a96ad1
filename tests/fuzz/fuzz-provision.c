/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Provisioning API request fuzzer: the input is split at its first two NUL
 * bytes into a method, a path (after the prefix) and an Authorization
 * header, as a web page or an admin tool may send them; the router, the
 * header parser and the user id check must answer without crashing, and
 * what they return must keep their contract. */
#include "bridge/pa-provision-route.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree char *buf = g_malloc (size + 3);
  memcpy (buf, data, size);
  buf[size] = buf[size + 1] = buf[size + 2] = '\0';
  const char *method = buf;
  const char *rest = method + strlen (method) + 1;
  if (rest > buf + size)
    rest = buf + size + 1;
  const char *header = rest + strlen (rest) + 1;
  if (header > buf + size + 1)
    header = buf + size + 2;

  PaProvRoute route = PA_PROV_NONE;
  char *params[PA_PROV_MAX_PARAMS] = { NULL };
  guint status = pa_provision_route (method, rest, &route, params);
  if (status == 0)
    {
      if (route == PA_PROV_NONE)
        __builtin_trap ();
      /* Parameters are decoded, non-empty UTF-8 without '/' or NUL. */
      for (guint i = 0; i < PA_PROV_MAX_PARAMS && params[i] != NULL; i++)
        if (params[i][0] == '\0' || !g_utf8_validate (params[i], -1, NULL)
            || strchr (params[i], '/') != NULL)
          __builtin_trap ();
    }
  else if (status != 400 && status != 404 && status != 405)
    __builtin_trap ();
  for (guint i = 0; i < PA_PROV_MAX_PARAMS; i++)
    g_free (params[i]);

  gboolean openid = FALSE;
  g_autofree char *token = pa_provision_auth_token (header, &openid);
  (void) pa_provision_is_user_id (rest);
  (void) pa_provision_is_user_id (token);
  return 0;
}
