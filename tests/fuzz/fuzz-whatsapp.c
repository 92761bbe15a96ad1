/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* libFuzzer target for the WhatsApp .txt parser.  The first byte picks a
 * chunk size so random chunkings are explored; the rest is the export. */
#include "wa-parser.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static gboolean
check_message (const WaMessage *m, gpointer user_data, GError **error)
{
  /* the parser promises valid UTF-8 */
  if (!g_utf8_validate (m->text, -1, NULL)
      || (m->sender != NULL && !g_utf8_validate (m->sender, -1, NULL))
      || (m->attachment != NULL && !g_utf8_validate (m->attachment, -1, NULL)))
    __builtin_trap ();
  if (strlen (m->text) > WA_PARSER_MAX_MESSAGE_BYTES)
    __builtin_trap ();
  return TRUE;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  WaSummary sum = { 0 };
  WaParser *p;
  size_t chunk;

  if (size == 0)
    return 0;
  chunk = 1 + data[0] % 64;
  data++;
  size--;
  p = wa_parser_new (NULL, check_message, NULL, NULL);
  for (size_t off = 0; off < size; off += chunk)
    wa_parser_feed (p, (const char *) data + off, MIN (chunk, size - off), NULL);
  wa_parser_finish (p, &sum, NULL);
  wa_summary_clear (&sum);
  wa_parser_free (p);
  return 0;
}
