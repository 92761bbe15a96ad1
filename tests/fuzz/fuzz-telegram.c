/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* libFuzzer target for the Telegram result.json parser.  The first byte
 * picks a chunk size so random chunkings are explored. */
#include "tg-parser.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static gboolean
check_message (const TgMessage *m, gpointer user_data, GError **error)
{
  if (m->text == NULL || m->html == NULL || !g_utf8_validate (m->html, -1, NULL))
    __builtin_trap ();
  return TRUE;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  TgSummary sum = { 0 };
  TgParser *p;
  size_t chunk;

  if (size == 0)
    return 0;
  chunk = 1 + data[0] % 64;
  data++;
  size--;
  p = tg_parser_new (NULL, check_message, NULL, NULL);
  tg_parser_set_max_bytes (p, 1 << 20);
  for (size_t off = 0; off < size; off += chunk)
    if (!tg_parser_feed (p, (const char *) data + off, MIN (chunk, size - off), NULL))
      break;
  tg_parser_finish (p, &sum, NULL);
  tg_summary_clear (&sum);
  tg_parser_free (p);
  return 0;
}
