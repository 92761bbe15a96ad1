/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Length-prefixed JSON frames: an incremental reader that never trusts a
 * declared length beyond PA_FRAME_MAX, and the matching encoder. */
#define G_LOG_DOMAIN "passerelle-host"

#include "wire/pa-frame.h"
#include "pa-common.h"

#include <errno.h>
#include <sys/socket.h>

struct _PaFrameReader
{
  GByteArray *buf; /* bytes received and not yet consumed (from `pos`) */
  gsize pos;
  /* Once the stream is corrupt there is no way to find the next frame
   * boundary again: the error sticks and further input is dropped. */
  GError *failed;
};

/* Create an empty reader. */
PaFrameReader *
pa_frame_reader_new (void)
{
  PaFrameReader *r = g_new0 (PaFrameReader, 1);
  r->buf = g_byte_array_new ();
  return r;
}

/* Free a reader and any partial frame it holds. */
void
pa_frame_reader_free (PaFrameReader *r)
{
  if (r == NULL)
    return;
  g_byte_array_unref (r->buf);
  g_clear_error (&r->failed);
  g_free (r);
}

static guint32
read_be32 (const guint8 *p)
{
  return ((guint32) p[0] << 24) | ((guint32) p[1] << 16) | ((guint32) p[2] << 8) | (guint32) p[3];
}

static void
reader_fail (PaFrameReader *r, GError *error)
{
  g_clear_error (&r->failed);
  r->failed = error;
  g_byte_array_set_size (r->buf, 0);
  r->pos = 0;
}

/* A length header is checked as soon as its 4 bytes are in, so a peer that
 * announces 4 GiB is refused before a single payload byte is buffered. */
static gboolean
check_header (PaFrameReader *r)
{
  if (r->buf->len - r->pos < 4)
    return TRUE;
  guint32 len = read_be32 (r->buf->data + r->pos);
  if (len > PA_FRAME_MAX)
    {
      reader_fail (r, g_error_new (PA_ERROR, PA_ERROR_TOO_LARGE,
                                   "frame of %u bytes exceeds the %u byte limit", len,
                                   PA_FRAME_MAX));
      return FALSE;
    }
  return TRUE;
}

/* Append received bytes.  Consumed frames are compacted away here, once per
 * feed, so draining many frames stays linear. */
void
pa_frame_reader_feed (PaFrameReader *r, const guint8 *data, gsize len)
{
  g_return_if_fail (r != NULL);
  g_return_if_fail (data != NULL || len == 0);

  if (r->failed != NULL || len == 0)
    return;
  if (r->pos > 0)
    {
      g_byte_array_remove_range (r->buf, 0, (guint) r->pos);
      r->pos = 0;
    }
  /* Only the current frame can be checked here; later frames in the same
   * chunk are checked by pa_frame_reader_next() as it reaches them.  The
   * caller drains after every feed, so at most one maximal frame plus one
   * read chunk is ever buffered. */
  if (r->buf->len > G_MAXUINT - len)
    {
      reader_fail (r, g_error_new_literal (PA_ERROR, PA_ERROR_TOO_LARGE,
                                           "frame reader buffer overflow"));
      return;
    }
  g_byte_array_append (r->buf, data, (guint) len);
  check_header (r);
}

/* Return the next complete frame (transfer full), NULL if more bytes are
 * needed (error unset) or the stream is corrupt (error set, and it stays
 * corrupt: every later call fails the same way). */
json_t *
pa_frame_reader_next (PaFrameReader *r, GError **error)
{
  g_return_val_if_fail (r != NULL, NULL);

  if (r->failed != NULL)
    {
      g_propagate_error (error, g_error_copy (r->failed));
      return NULL;
    }
  if (!check_header (r))
    {
      g_propagate_error (error, g_error_copy (r->failed));
      return NULL;
    }
  gsize avail = r->buf->len - r->pos;
  if (avail < 4)
    return NULL;
  guint32 len = read_be32 (r->buf->data + r->pos);
  if (avail - 4 < len)
    return NULL;

  const char *payload = (const char *) r->buf->data + r->pos + 4;
  r->pos += 4 + (gsize) len;

  json_error_t jerr;
  json_t *msg = json_loadb (payload, len, JSON_REJECT_DUPLICATES, &jerr);
  if (msg == NULL)
    {
      reader_fail (r, g_error_new (PA_ERROR, PA_ERROR_JSON, "invalid JSON in frame: %s",
                                   jerr.text));
      g_propagate_error (error, g_error_copy (r->failed));
      return NULL;
    }
  if (!json_is_object (msg))
    {
      json_decref (msg);
      reader_fail (r, g_error_new_literal (PA_ERROR, PA_ERROR_JSON,
                                           "frame is not a JSON object"));
      g_propagate_error (error, g_error_copy (r->failed));
      return NULL;
    }
  if (r->pos == r->buf->len)
    {
      g_byte_array_set_size (r->buf, 0);
      r->pos = 0;
    }
  return msg;
}

/* json_dump_callback sink: appends to the output buffer, and stops as soon
 * as the frame would pass PA_FRAME_MAX, so an oversized message is not
 * serialised in full. */
typedef struct {
  GByteArray *out;
  gsize start; /* first payload byte */
  gboolean too_large;
} FrameSink;

static int
append_cb (const char *buffer, size_t size, void *data)
{
  FrameSink *sink = data;

  if (size > PA_FRAME_MAX - (sink->out->len - sink->start)
      || size > G_MAXUINT - sink->out->len)
    {
      sink->too_large = TRUE;
      return -1;
    }
  g_byte_array_append (sink->out, (const guint8 *) buffer, (guint) size);
  return 0;
}

/* Append the frame for `msg` (a JSON object) to `out`. */
gboolean
pa_frame_encode (json_t *msg, GByteArray *out, GError **error)
{
  g_return_val_if_fail (msg != NULL, FALSE);
  g_return_val_if_fail (out != NULL, FALSE);

  if (!json_is_object (msg))
    {
      g_set_error_literal (error, PA_ERROR, PA_ERROR_JSON, "a frame must be a JSON object");
      return FALSE;
    }
  /* Serialised once, straight after a 4-byte placeholder for the length. */
  guint old = out->len;
  guint8 zero[4] = { 0 };
  if (old > G_MAXUINT - 4)
    {
      g_set_error_literal (error, PA_ERROR, PA_ERROR_TOO_LARGE, "output buffer overflow");
      return FALSE;
    }
  g_byte_array_append (out, zero, 4);
  FrameSink sink = { out, (gsize) old + 4, FALSE };
  if (json_dump_callback (msg, append_cb, &sink, JSON_COMPACT) != 0 || out->len == old + 4)
    {
      g_byte_array_set_size (out, old);
      if (sink.too_large)
        g_set_error (error, PA_ERROR, PA_ERROR_TOO_LARGE,
                     "frame exceeds the %u byte limit", PA_FRAME_MAX);
      else
        g_set_error_literal (error, PA_ERROR, PA_ERROR_JSON, "cannot serialise frame");
      return FALSE;
    }
  gsize len = out->len - old - 4;
  guint8 *p = out->data + old;
  p[0] = (guint8) (len >> 24);
  p[1] = (guint8) (len >> 16);
  p[2] = (guint8) (len >> 8);
  p[3] = (guint8) len;
  return TRUE;
}

/* Write what the non-blocking socket accepts now; see pa-frame.h. */
gboolean
pa_frame_flush (int fd, GByteArray *out, gsize *pos, GError **error)
{
  g_return_val_if_fail (out != NULL && pos != NULL && *pos <= out->len, FALSE);

  while (*pos < out->len)
    {
      /* send(MSG_NOSIGNAL): a dead peer must give EPIPE, never SIGPIPE. */
      ssize_t n = send (fd, out->data + *pos, out->len - *pos, MSG_NOSIGNAL);
      if (n < 0)
        {
          int e = errno;
          if (e == EINTR)
            continue;
          if (e == EAGAIN || e == EWOULDBLOCK)
            break;
          g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (e), "write to socket: %s",
                       g_strerror (e));
          return FALSE;
        }
      *pos += (gsize) n;
    }
  if (*pos == out->len)
    {
      g_byte_array_set_size (out, 0);
      *pos = 0;
    }
  else if (*pos >= 1024 * 1024 && *pos > out->len / 2)
    {
      /* Compact only when most of the buffer is spent, so a large backlog
       * drained by small writes costs linear, not quadratic, copying. */
      g_byte_array_remove_range (out, 0, (guint) *pos);
      *pos = 0;
    }
  return TRUE;
}
