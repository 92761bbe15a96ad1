/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Parser for the body of PUT /_matrix/app/v1/transactions/{txnId}.
 *
 * The homeserver retries a transaction it did not get 200 for, forever, in
 * order.  So a transaction we refuse wedges the bridge: only a body that is
 * not JSON, is not an object, has no "events" array or is over a limit is
 * refused.  Anything else that looks wrong is not fatal: an event the
 * bridge cannot handle (pa-event-check.c: a field of the wrong type, an
 * identifier with a NUL, an absurd size) is put in `rejected` for the
 * bridge to keep aside, an optional key of the wrong type is ignored with a
 * warning, and the rest is kept.  A "\u0000" is valid JSON and is decoded
 * (JSON_ALLOW_NUL): the check replaces it in texts. */
#define G_LOG_DOMAIN "passerelle-appservice"

#include "pa-common.h"
#include "appservice/pa-appservice.h"
#include "appservice/pa-txn-budget.h"
#include "appservice/pa-event-check.h"
#include "appservice/pa-txn-salvage.h"

#include <string.h>

/* Deeper than this is not a Matrix event; checked on the raw bytes before
 * jansson sees them (pa_txn_budget_cost), so neither its recursive parser
 * nor the recursive json_decref() can be driven deep whatever its own limit
 * is. */
#define PA_TXN_MAX_DEPTH 64

/* An optional array member: NULL when absent or not an array (warned). */
static json_t *
get_array (json_t *root, const char *key)
{
  json_t *v = json_object_get (root, key);

  if (v == NULL || json_is_null (v))
    return NULL;
  if (!json_is_array (v))
    {
      g_warning ("transaction: \"%s\" is not an array, ignored", key);
      return NULL;
    }
  return v;
}

/* An optional object member: NULL when absent or not an object (warned). */
static json_t *
get_object (json_t *root, const char *key)
{
  json_t *v = json_object_get (root, key);

  if (v == NULL || json_is_null (v))
    return NULL;
  if (!json_is_object (v))
    {
      g_warning ("transaction: \"%s\" is not an object, ignored", key);
      return NULL;
    }
  return json_incref (v);
}

static gboolean
check_size (json_t *array, const char *key, guint max, GError **error)
{
  if (array != NULL && json_array_size (array) > max)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_TOO_LARGE,
                   "M_TOO_LARGE: \"%s\" has %zu entries, more than %u", key,
                   json_array_size (array), max);
      return FALSE;
    }
  return TRUE;
}

/* Append the objects of `src` to `dst`, skipping non-objects and (when
 * `dedupe`) objects equal to one already in `dst`.  Both arrays are bounded
 * by max_events, so the quadratic comparison is bounded too. */
static void
merge_into (json_t *dst, json_t *src, const char *key, gboolean dedupe)
{
  size_t i;
  json_t *item;

  if (src == NULL)
    return;
  json_array_foreach (src, i, item)
    {
      gboolean dup = FALSE;

      if (!json_is_object (item))
        {
          g_warning ("transaction: %s[%zu] is not an object, skipped", key, i);
          continue;
        }
      if (dedupe)
        {
          size_t j;
          json_t *seen;

          json_array_foreach (dst, j, seen)
            {
              if (json_equal (seen, item))
                {
                  dup = TRUE;
                  break;
                }
            }
        }
      if (!dup)
        json_array_append (dst, item);
    }
}

/* What the bridge keeps of a rejected event: why, the event as text, and
 * those of its identifiers that are usable (to log it and answer in its
 * room). */
static json_t *
reject_record (json_t *ev, const char *reason)
{
  json_t *record = json_object ();
  char *raw = json_dumps (ev, JSON_COMPACT | JSON_ENCODE_ANY);
  static const char *const ids[] = { "event_id", "room_id", "sender", "type" };

  json_object_set_new (record, "reason", json_string (reason));
  json_object_set_new (record, "raw", json_string (raw != NULL ? raw : "(not serialisable)"));
  free (raw);
  for (gsize i = 0; i < G_N_ELEMENTS (ids) && json_is_object (ev); i++)
    {
      const char *id = pa_event_id_string (json_object_get (ev, ids[i]));

      if (id != NULL)
        json_object_set_new (record, ids[i], json_string (id));
    }
  return record;
}

/* pa_txn_free: releases every member; NULL is accepted. */
void
pa_txn_free (PaTxn *txn)
{
  if (txn == NULL)
    return;
  g_clear_pointer (&txn->events, json_decref);
  g_clear_pointer (&txn->rejected, json_decref);
  g_clear_pointer (&txn->ephemeral, json_decref);
  g_clear_pointer (&txn->to_device, json_decref);
  g_clear_pointer (&txn->device_lists, json_decref);
  g_clear_pointer (&txn->otk_counts, json_decref);
  g_free (txn);
}

/* pa_txn_parse: see pa-appservice.h.  Limits: nesting depth 64, the tree
 * within tree_budget bytes (pa-txn-budget.h), and each
 * of "events", "ephemeral", "de.sorunome.msc2409.ephemeral", "to_device"
 * and "de.sorunome.msc2409.to_device" at most max_events entries
 * (PA_ERROR_TOO_LARGE, message starting "M_TOO_LARGE:"). */
PaTxn *
pa_txn_parse (const char *data, gsize len, guint max_events, guint64 tree_budget, GError **error)
{
  json_error_t jerr;
  guint64 cost = 0;
  g_autofree char *rewritten = NULL;
  g_autoptr (json_t) root = NULL;
  g_autoptr (json_t) unreadable = NULL;
  g_autoptr (PaTxn) txn = NULL;
  json_t *events, *eph, *eph2, *td, *td2;
  json_t *ev;
  size_t i;

  g_return_val_if_fail (data != NULL || len == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!pa_txn_budget_cost (data != NULL ? data : "", len, PA_TXN_MAX_DEPTH, &cost))
    {
      g_set_error (error, PA_ERROR, PA_ERROR_JSON, "M_NOT_JSON: nesting deeper than %d",
                   PA_TXN_MAX_DEPTH);
      return NULL;
    }
  if (cost > tree_budget)
    {
      /* The tree would not fit: entries that do not are replaced before
       * jansson sees them (stubs for events, logged). */
      gsize rlen = 0;
      guint stripped = 0;

      rewritten = pa_txn_budget_rewrite (data, len, tree_budget, max_events, &rlen, &stripped,
                                         error);
      if (rewritten == NULL)
        return NULL;
      g_warning ("transaction of %zu bytes would take about %" G_GUINT64_FORMAT
                 " bytes parsed, over its budget of %" G_GUINT64_FORMAT ": %u entr%s replaced",
                 len, cost, tree_budget, stripped, stripped == 1 ? "y" : "ies");
      data = rewritten;
      len = rlen;
    }
  /* DECODE_ANY so that a bare scalar, valid JSON of the wrong shape, is
   * M_BAD_JSON like an array; duplicate keys are accepted (last wins) as
   * Synapse does not promise their absence. */
  root = json_loadb (data != NULL ? data : "", len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
  unreadable = json_array ();
  /* Something inside one event may spoil the whole text for jansson (a byte
   * that is not UTF-8, a NUL in a key): decode it part by part instead. */
  if (root == NULL && (root = pa_txn_salvage (data, len, unreadable)) != NULL)
    g_warning ("transaction: the body does not decode as a whole (%s, line %d, column %d): "
               "decoded part by part",
               jerr.text, jerr.line, jerr.column);
  if (root == NULL)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_JSON, "M_NOT_JSON: %s (line %d, column %d)",
                   jerr.text, jerr.line, jerr.column);
      return NULL;
    }
  if (!json_is_object (root))
    {
      g_set_error_literal (error, PA_ERROR, PA_ERROR_JSON,
                           "M_BAD_JSON: transaction body is not an object");
      return NULL;
    }
  events = json_object_get (root, "events");
  if (!json_is_array (events))
    {
      g_set_error_literal (error, PA_ERROR, PA_ERROR_JSON,
                           "M_BAD_JSON: \"events\" is missing or not an array");
      return NULL;
    }

  eph = get_array (root, "ephemeral");
  eph2 = get_array (root, "de.sorunome.msc2409.ephemeral");
  td = get_array (root, "to_device");
  td2 = get_array (root, "de.sorunome.msc2409.to_device");
  if (json_array_size (events) + json_array_size (unreadable) > max_events)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_TOO_LARGE,
                   "M_TOO_LARGE: \"events\" has %zu entries, more than %u",
                   json_array_size (events) + json_array_size (unreadable), max_events);
      return NULL;
    }
  if (!check_size (events, "events", max_events, error)
      || !check_size (eph, "ephemeral", max_events, error)
      || !check_size (eph2, "de.sorunome.msc2409.ephemeral", max_events, error)
      || !check_size (td, "to_device", max_events, error)
      || !check_size (td2, "de.sorunome.msc2409.to_device", max_events, error))
    return NULL;

  txn = g_new0 (PaTxn, 1);
  txn->events = json_array ();
  txn->rejected = json_array ();
  txn->ephemeral = json_array ();
  txn->to_device = json_array ();

  json_array_foreach (events, i, ev)
    {
      g_autofree char *reason = NULL;

      if (pa_event_check (ev, &reason) == PA_EVENT_REJECTED)
        {
          json_t *record = reject_record (ev, reason);
          const char *id = json_string_value (json_object_get (record, "event_id"));

          g_warning ("transaction: events[%zu] (%s) kept aside: %s", i,
                     id != NULL ? id : "no event id", reason);
          json_array_append_new (txn->rejected, record);
          continue;
        }
      if (json_is_true (json_object_get (ev, PA_TXN_STRIPPED_KEY)))
        {
          const char *id = json_string_value (json_object_get (ev, "event_id"));
          const char *room = json_string_value (json_object_get (ev, "room_id"));

          g_warning ("transaction: event %s (%s in %s) too large for the memory budget: kept "
                     "without its content",
                     id != NULL ? id : "(no id)", json_string_value (json_object_get (ev, "type")),
                     room != NULL ? room : "(no room)");
        }
      json_array_append (txn->events, ev);
    }

  json_array_foreach (unreadable, i, ev)
    {
      const char *id = json_string_value (json_object_get (ev, "event_id"));

      g_warning ("transaction: an event (%s) kept aside: %s", id != NULL ? id : "no event id",
                 json_string_value (json_object_get (ev, "reason")));
      json_array_append (txn->rejected, ev);
    }

  /* Synapse sends the same ephemeral events under both keys during the
   * MSC2409 transition: keep one copy. */
  merge_into (txn->ephemeral, eph, "ephemeral", TRUE);
  merge_into (txn->ephemeral, eph2, "de.sorunome.msc2409.ephemeral", TRUE);
  merge_into (txn->to_device, td, "to_device", TRUE);
  merge_into (txn->to_device, td2, "de.sorunome.msc2409.to_device", TRUE);

  txn->device_lists = get_object (root, "org.matrix.msc3202.device_lists");
  txn->otk_counts = get_object (root, "org.matrix.msc3202.device_one_time_keys_count");

  return g_steal_pointer (&txn);
}
