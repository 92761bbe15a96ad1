/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Frame reader fuzzer: arbitrary bytes fed in chunks whose sizes are drawn
 * from the input itself, so splits land everywhere. */
#include "wire/pa-frame.h"
#include "pa-common.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size < 1)
    return 0;
  /* The first byte seeds the chunk sizes; the rest is the stream. */
  guint32 state = data[0] | 1u;
  data++;
  size--;

  PaFrameReader *r = pa_frame_reader_new ();
  size_t off = 0;
  while (off < size)
    {
      state = state * 1103515245u + 12345u;
      size_t chunk = 1 + (state >> 16) % 64;
      if (chunk > size - off)
        chunk = size - off;
      pa_frame_reader_feed (r, data + off, chunk);
      off += chunk;
      for (;;)
        {
          GError *error = NULL;
          json_t *f = pa_frame_reader_next (r, &error);
          if (f != NULL)
            {
              /* What comes out must be an object that encodes again. */
              if (!json_is_object (f))
                __builtin_trap ();
              GByteArray *out = g_byte_array_new ();
              if (!pa_frame_encode (f, out, NULL))
                __builtin_trap ();
              g_byte_array_unref (out);
              json_decref (f);
              continue;
            }
          if (error != NULL)
            {
              g_error_free (error);
              /* The error sticks. */
              GError *again = NULL;
              if (pa_frame_reader_next (r, &again) != NULL || again == NULL)
                __builtin_trap ();
              g_error_free (again);
            }
          break;
        }
      if (off >= size)
        break;
    }
  pa_frame_reader_free (r);
  return 0;
}
