/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Legacy → Matrix, the completion of a send: when the homeserver has
 * accepted the Matrix event of a legacy message (or reaction), the message
 * map records legacy id ⇄ event id, so that later replies, edits,
 * redactions and receipts find their target, and a replayed legacy event
 * is recognised.  Called by the outbound queue for items queued with an
 * on_done of what "map" (registered by the bridge at start). */
#define G_LOG_DOMAIN "passerelle-remote"

#include "pa-to-matrix-sent.h"

#include "metrics/pa-metrics-points.h"

static const char *
str (json_t *o, const char *key)
{
  return json_string_value (json_object_get (o, key));
}

void
pa_to_matrix_sent (PaBridge *b, json_t *on_done, const char *event_id, const PaMatrixResponse *resp)
{
  if (event_id)
    {
      g_autoptr (GError) e = NULL;
      if (!pa_store_message_put (b->store, str (on_done, "plugin"), str (on_done, "login"),
                                 str (on_done, "chat"), str (on_done, "legacy"),
                                 str (on_done, "room"), event_id, NULL,
                                 json_integer_value (json_object_get (on_done, "ts")), &e))
        g_warning ("message map: %s", e->message);
      /* Metrics: messages only (a reaction's map entry is not one). */
      const char *legacy = str (on_done, "legacy");
      if (legacy != NULL && !g_str_has_prefix (legacy, "reaction\x1f"))
        {
          if (json_is_true (json_object_get (on_done, "import")))
            pa_metrics_imported_message (str (on_done, "plugin"));
          else
            pa_metrics_message_bridged (str (on_done, "plugin"), "to_matrix");
        }
    }
  else if (resp && !pa_matrix_response_ok (resp))
    g_warning ("legacy message %s could not be sent to %s: %s", str (on_done, "legacy"),
               str (on_done, "room"), resp->error ? resp->error : "?");
}
