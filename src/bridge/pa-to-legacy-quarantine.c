/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Matrix → legacy: events the bridge could not handle (the transaction
 * parser's `rejected`: wrong field types, an identifier with a NUL, an
 * absurd size).  Each is stored in the quarantine table in the same SQLite
 * transaction as the transaction's other events (so the 200 promises it is
 * kept), logged with its id, and represented in the inbound queue by a
 * marker: when the marker's turn comes the sender is told, once, in the
 * room.  Nothing after it waits.  Markers carry PA_EVENT_QUARANTINE_KEY at
 * the top level, which the parser refuses in anything the homeserver sends,
 * so they cannot be forged. */
#define G_LOG_DOMAIN "passerelle-matrix-in"

#include "pa-to-legacy-quarantine.h"

#include "appservice/pa-event-check.h"
#include "pa-ghost.h"
#include "pa-policy.h"
#include "pa-queue.h"
#include "metrics/pa-metrics-points.h"

#define PA_QUARANTINE_MARKER_TYPE "fr.passerelle.quarantined"

static const char *
str (json_t *o, const char *key)
{
  return json_string_value (json_object_get (o, key));
}

void
pa_quarantine_markers (json_t *rejected, json_t *events, GPtrArray *texts, GChecksum *sum)
{
  size_t i;
  json_t *record;
  static const char *const ids[] = { "event_id", "room_id", "sender" };

  json_array_foreach (rejected, i, record)
  {
    g_autoptr (json_t) marker
        = json_pack ("{s:s, s:{s:s}}", "type", PA_QUARANTINE_MARKER_TYPE, PA_EVENT_QUARANTINE_KEY,
                     "reason", str (record, "reason"));
    const char *type = str (record, "type");

    for (gsize k = 0; k < G_N_ELEMENTS (ids); k++)
      if (str (record, ids[k]) != NULL)
        json_object_set (marker, ids[k], json_object_get (record, ids[k]));
    if (type != NULL)
      json_object_set_new (json_object_get (marker, PA_EVENT_QUARANTINE_KEY), "type",
                           json_string (type));
    /* A transaction with rejected events has its own digest; one without
     * keeps the digest it always had. */
    g_checksum_update (sum, (const guchar *) "|", 1);
    g_checksum_update (sum, (const guchar *) str (record, "raw"), -1);
    json_array_append (events, marker);
    g_ptr_array_add (texts, json_dumps (marker, JSON_COMPACT | JSON_SORT_KEYS));
  }
}

gboolean
pa_quarantine_keep (PaBridge *b, const char *txn_key, json_t *rejected, GError **error)
{
  size_t i;
  json_t *record;

  json_array_foreach (rejected, i, record)
  {
    const char *event_id = str (record, "event_id");

    if (!pa_store_quarantine_add (b->store, txn_key, event_id, str (record, "room_id"),
                                  str (record, "sender"), str (record, "reason"),
                                  str (record, "raw"), error))
      return FALSE;
    g_message ("event %s from %s quarantined: %s", event_id ? event_id : "(no event id)",
               str (record, "sender") ? str (record, "sender") : "(no sender)",
               str (record, "reason"));
  }
  return TRUE;
}

gboolean
pa_quarantine_is_marker (json_t *ev)
{
  return json_is_object (json_object_get (ev, PA_EVENT_QUARANTINE_KEY));
}

/* Types whose failure the sender would notice (they expected it bridged);
 * a member or state event that cannot be handled is only logged.  An
 * unreadable type is told too. */
static gboolean
worth_telling (const char *type)
{
  static const char *const told[]
      = { "m.room.message", "m.sticker", "m.reaction", "m.room.redaction", "m.room.encrypted" };

  if (type == NULL)
    return TRUE;
  for (gsize i = 0; i < G_N_ELEMENTS (told); i++)
    if (g_str_equal (type, told[i]))
      return TRUE;
  return FALSE;
}

void
pa_quarantine_tell (PaBridge *b, json_t *marker)
{
  json_t *q = json_object_get (marker, PA_EVENT_QUARANTINE_KEY);
  const char *room_id = str (marker, "room_id");
  const char *sender = str (marker, "sender");
  const char *event_id = str (marker, "event_id");
  const char *reason = str (q, "reason");

  /* Its turn comes once, after the transaction was committed. */
  pa_metrics_quarantined ();
  /* Never to ourselves or our ghosts, never to a blocked user (whose
   * junk is ignored like the rest of what they send), and only where the
   * bridge speaks: its portals and management rooms. */
  if (room_id == NULL || sender == NULL || event_id == NULL || reason == NULL
      || pa_ghost_is_ours (b, sender) || pa_policy_level (b, sender) == PA_LEVEL_BLOCK
      || !worth_telling (str (q, "type")))
    return;
  g_autoptr (PaPortalRow) row = pa_store_portal_by_room (b->store, room_id);
  g_autofree char *owner = row == NULL ? pa_store_management_owner (b->store, room_id) : NULL;
  if (row == NULL && owner == NULL)
    return;
  g_autofree char *text = g_strdup_printf ("⚠ Could not bridge this message: %s.", reason);
  pa_queue_notice_reply_once (b, room_id, event_id, "quarantine", text);
}
