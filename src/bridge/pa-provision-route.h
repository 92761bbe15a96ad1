/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The provisioning API's requests as data: which endpoint a method and
 * path name, their path parameters, the Authorization header.  No bridge
 * state: a table, tested as one (tests/bridge/test-provision-route.c). */
#ifndef PA_PROVISION_ROUTE_H
#define PA_PROVISION_ROUTE_H

#include <glib.h>

G_BEGIN_DECLS

typedef enum
{
  PA_PROV_NONE = 0,
  PA_PROV_WHOAMI,
  PA_PROV_FLOWS,
  PA_PROV_LOGIN_START,  /* {flowID} */
  PA_PROV_LOGIN_STEP,   /* {loginProcessID}/{stepID}/{stepType} */
  PA_PROV_LOGIN_CANCEL, /* {loginProcessID} */
  PA_PROV_LOGINS,
  PA_PROV_LOGOUT, /* {loginID} */
  PA_PROV_CONTACTS,
  PA_PROV_RESOLVE,   /* {identifier} */
  PA_PROV_CREATE_DM, /* {identifier} */
} PaProvRoute;

#define PA_PROV_MAX_PARAMS 3

/* The endpoint of `method` on `rest` (the path after the prefix, raw: its
 * segments are percent-decoded here, once).  Returns 0 and sets *route
 * and params[] (transfer full, NULL past the route's count) when one
 * matches; else the HTTP status to answer: 404 (no such path), 405 (the
 * path exists with another method) or 400 (a parameter that is empty, not
 * UTF-8 or decodes to a '/' or a NUL). */
guint pa_provision_route (const char *method, const char *rest, PaProvRoute *route,
                          char *params[PA_PROV_MAX_PARAMS]);

/* The token of an "Authorization: Bearer …" header (transfer full), NULL
 * when absent or of another scheme.  *openid says it was "openid:<token>"
 * (a Matrix OpenID token; the prefix is removed). */
char *pa_provision_auth_token (const char *header, gboolean *openid);

/* Whether s is a Matrix user ID (@localpart:server, at most 255 bytes). */
gboolean pa_provision_is_user_id (const char *s);

G_END_DECLS

#endif
