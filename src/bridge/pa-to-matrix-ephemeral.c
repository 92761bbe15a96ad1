/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Legacy → Matrix, ephemeral updates: a contact's typing and read
 * receipts become the ghost's typing notification and m.read receipt.
 * Best effort: straight requests, not queued, never retried for long. */
#define G_LOG_DOMAIN "passerelle-remote"

#include "pa-to-matrix-ephemeral.h"

#include "pa-to-matrix-work.h"

static const char *
str (json_t *o, const char *key)
{
  return json_string_value (json_object_get (o, key));
}
/* Best-effort ephemeral updates: straight requests, not queued. */
void
pa_to_matrix_ephemeral (PaWork *w)
{
  PaBridge *b = w->b;
  g_autofree char *er = pa_matrix_escape (w->room_id);
  g_autofree char *eg = pa_matrix_escape (w->ghost);
  if (g_str_equal (w->type, "typing"))
    {
      g_autofree char *path = g_strdup_printf ("/_matrix/client/v3/rooms/%s/typing/%s", er, eg);
      gboolean typing = json_is_true (json_object_get (w->ev, "typing"));
      json_int_t timeout = json_integer_value (json_object_get (w->ev, "typing_timeout_ms"));
      g_autoptr (json_t) body = json_pack ("{s:b, s:I}", "typing", typing, "timeout",
                                           timeout > 0 ? timeout : (json_int_t)30000);
      PaMatrixRequest req
          = { .method = "PUT", .path = path, .user_id = w->ghost, .body = body, .max_attempts = 2 };
      pa_matrix_request (b->mx, &req, NULL, NULL);
    }
  else if (g_str_equal (w->type, "read_receipt"))
    {
      g_autofree char *event = pa_work_event_of (w, str (w->ev, "message_id"));
      if (event)
        {
          g_autofree char *ee = pa_matrix_escape (event);
          g_autofree char *path
              = g_strdup_printf ("/_matrix/client/v3/rooms/%s/receipt/m.read/%s", er, ee);
          g_autoptr (json_t) body = json_object ();
          PaMatrixRequest req = {
            .method = "POST", .path = path, .user_id = w->ghost, .body = body, .max_attempts = 2
          };
          pa_matrix_request (b->mx, &req, NULL, NULL);
        }
    }
  w->finish (w);
}
