/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* libFuzzer target: pa_txn_parse() on arbitrary bytes (a transaction body
 * as the homeserver would PUT it), with the per-event check it runs
 * (pa-event-check.c): kept events pass it, set-aside ones say why. */
#define G_LOG_DOMAIN "passerelle-fuzz"

#include "pa-common.h"
#include "appservice/pa-appservice.h"
#include "appservice/pa-event-check.h"

#include <stdint.h>

static GLogWriterOutput
quiet_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer data)
{
  /* Skipped events are logged as warnings; keep the fuzzer output readable. */
  return G_LOG_WRITER_HANDLED;
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static gboolean init;
  g_autoptr (GError) error = NULL;
  g_autoptr (PaTxn) txn = NULL;

  if (!init)
    {
      g_log_set_writer_func (quiet_writer, NULL, NULL);
      init = TRUE;
    }
  txn = pa_txn_parse ((const char *) data, size, 100, 4096, &error);
  if (txn != NULL)
    {
      g_assert_no_error (error);
      g_assert_true (json_is_array (txn->events));
      g_assert_true (json_is_array (txn->ephemeral));
      g_assert_true (json_is_array (txn->to_device));
      g_assert_cmpuint (json_array_size (txn->events), <=, 100);
      g_assert_true (json_is_array (txn->rejected));
      g_assert_cmpuint (json_array_size (txn->events) + json_array_size (txn->rejected), <=, 100);
      {
        size_t i;
        json_t *v;

        /* what is kept passes the check, repaired once and for all */
        json_array_foreach (txn->events, i, v)
          {
            g_autofree char *reason = NULL;

            g_assert_cmpint (pa_event_check (v, &reason), ==, PA_EVENT_OK);
          }
        /* what is set aside says why, and keeps the event's text */
        json_array_foreach (txn->rejected, i, v)
          {
            g_assert_true (json_is_string (json_object_get (v, "reason")));
            g_assert_true (json_is_string (json_object_get (v, "raw")));
          }
      }
      g_assert_true (txn->device_lists == NULL || json_is_object (txn->device_lists));
      g_assert_true (txn->otk_counts == NULL || json_is_object (txn->otk_counts));
    }
  else
    {
      g_assert_nonnull (error);
      g_assert_true (g_str_has_prefix (error->message, "M_"));
    }
  return 0;
}
