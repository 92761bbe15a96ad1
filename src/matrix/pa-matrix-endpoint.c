/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Homeserver endpoint classes (see pa-matrix-endpoint.h): the path after
 * /_matrix/<api>/<version>/ is matched against a few markers, without
 * allocating: it runs for every request. */
#include "matrix/pa-matrix-endpoint.h"

#include <string.h>

/* Whether `seg` ("/send/") occurs in the path part [p, end). */
static gboolean
has (const char *p, const char *end, const char *seg)
{
  return memmem (p, (size_t) (end - p), seg, strlen (seg)) != NULL;
}

const char *
pa_matrix_endpoint_class (const char *url)
{
  const char *p, *end;

  if (url == NULL)
    return "other";
  p = strstr (url, "/_matrix/");
  if (p == NULL)
    return "other";
  end = p + strcspn (p, "?#");
  if (strncmp (p, "/_matrix/media/", 15) == 0 || has (p, end, "/media/"))
    return "media";
  if (has (p, end, "/rooms/"))
    {
      if (has (p, end, "/send/"))
        return "send";
      if (has (p, end, "/state/") || (end - p > 6 && strncmp (end - 6, "/state", 6) == 0))
        return "state";
      if (has (p, end, "/redact/"))
        return "redact";
      if (has (p, end, "/join") || has (p, end, "/invite") || has (p, end, "/leave")
          || has (p, end, "/kick") || has (p, end, "/ban") || has (p, end, "/members")
          || has (p, end, "/joined_members"))
        return "membership";
      if (has (p, end, "/typing/") || has (p, end, "/receipt/") || has (p, end, "/read_markers"))
        return "ephemeral";
      return "room";
    }
  if (has (p, end, "/register"))
    return "register";
  if (has (p, end, "/profile/"))
    return "profile";
  if (has (p, end, "/join/"))
    return "membership";
  if (has (p, end, "/createRoom") || has (p, end, "/directory/"))
    return "room";
  if (has (p, end, "/keys/") || has (p, end, "/sendToDevice/"))
    return "keys";
  if (has (p, end, "/presence/"))
    return "presence";
  if (has (p, end, "/appservice/") || has (p, end, "/account/whoami") || has (p, end, "/versions"))
    return "appservice";
  return "other";
}
