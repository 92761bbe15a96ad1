/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Frame reader and encoder. */
#include "wire/pa-frame.h"
#include "pa-common.h"

#include <gio/gio.h>
#include <glib-unix.h>
#include <sys/socket.h>
#include <unistd.h>

static GByteArray *
encode (const char *json)
{
  g_autoptr (json_t) msg = json_loads (json, 0, NULL);
  g_assert_nonnull (msg);
  GByteArray *out = g_byte_array_new ();
  g_autoptr (GError) error = NULL;
  g_assert_true (pa_frame_encode (msg, out, &error));
  g_assert_no_error (error);
  return out;
}

static GByteArray *
raw_frame (const char *payload)
{
  GByteArray *out = g_byte_array_new ();
  guint32 len = (guint32) strlen (payload);
  guint8 hdr[4] = { (guint8) (len >> 24), (guint8) (len >> 16), (guint8) (len >> 8),
                    (guint8) len };
  g_byte_array_append (out, hdr, 4);
  g_byte_array_append (out, (const guint8 *) payload, len);
  return out;
}

static void
test_encode_format (void)
{
  g_autoptr (GByteArray) out = encode ("{\"t\":\"x\"}");
  g_assert_cmpuint (out->len, ==, 4 + 9);
  g_assert_cmpuint (out->data[0], ==, 0);
  g_assert_cmpuint (out->data[3], ==, 9);
  g_assert_cmpmem (out->data + 4, 9, "{\"t\":\"x\"}", 9);

  /* Non-objects are not frames. */
  g_autoptr (json_t) arr = json_array ();
  g_autoptr (GError) error = NULL;
  g_assert_false (pa_frame_encode (arr, out, &error));
  g_assert_error (error, PA_ERROR, PA_ERROR_JSON);
  g_assert_cmpuint (out->len, ==, 13);
}

static void
test_encode_too_large (void)
{
  gsize n = PA_FRAME_MAX;
  g_autofree char *big = g_malloc (n + 1);
  memset (big, 'a', n);
  big[n] = '\0';
  g_autoptr (json_t) msg = json_pack ("{s:s}", "t", big);
  g_autoptr (GByteArray) out = g_byte_array_new ();
  g_autoptr (GError) error = NULL;
  g_assert_false (pa_frame_encode (msg, out, &error));
  g_assert_error (error, PA_ERROR, PA_ERROR_TOO_LARGE);
  g_assert_cmpuint (out->len, ==, 0);
}

static void
test_one_byte_feeds (void)
{
  g_autoptr (GByteArray) a = encode ("{\"t\":\"one\",\"n\":1}");
  g_autoptr (GByteArray) b = encode ("{\"t\":\"two\",\"s\":\"\\u00e9t\\u00e9\"}");
  g_byte_array_append (a, b->data, b->len);

  PaFrameReader *r = pa_frame_reader_new ();
  int got = 0;
  for (guint i = 0; i < a->len; i++)
    {
      pa_frame_reader_feed (r, a->data + i, 1);
      g_autoptr (GError) error = NULL;
      g_autoptr (json_t) f = pa_frame_reader_next (r, &error);
      g_assert_no_error (error);
      if (f == NULL)
        continue;
      got++;
      if (got == 1)
        {
          g_assert_cmpuint (i, ==, a->len - b->len - 1);
          g_assert_cmpstr (json_string_value (json_object_get (f, "t")), ==, "one");
        }
      else
        {
          g_assert_cmpuint (i, ==, a->len - 1);
          g_assert_cmpstr (json_string_value (json_object_get (f, "s")), ==, "été");
        }
    }
  g_assert_cmpint (got, ==, 2);
  g_autoptr (GError) error = NULL;
  g_assert_null (pa_frame_reader_next (r, &error));
  g_assert_no_error (error);
  pa_frame_reader_free (r);
}

static void
test_many_frames_one_feed (void)
{
  g_autoptr (GByteArray) all = g_byte_array_new ();
  for (int i = 0; i < 1000; i++)
    {
      g_autofree char *json = g_strdup_printf ("{\"t\":\"event\",\"seq\":%d}", i + 1);
      g_autoptr (GByteArray) one = encode (json);
      g_byte_array_append (all, one->data, one->len);
    }
  /* Plus half of one more frame: it must wait for the rest. */
  g_autoptr (GByteArray) tail = encode ("{\"t\":\"tail\"}");
  g_byte_array_append (all, tail->data, 7);

  PaFrameReader *r = pa_frame_reader_new ();
  pa_frame_reader_feed (r, all->data, all->len);
  for (int i = 0; i < 1000; i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (json_t) f = pa_frame_reader_next (r, &error);
      g_assert_no_error (error);
      g_assert_nonnull (f);
      g_assert_cmpint (json_integer_value (json_object_get (f, "seq")), ==, i + 1);
    }
  g_autoptr (GError) error = NULL;
  g_assert_null (pa_frame_reader_next (r, &error));
  g_assert_no_error (error);
  pa_frame_reader_feed (r, tail->data + 7, tail->len - 7);
  g_autoptr (json_t) f = pa_frame_reader_next (r, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_string_value (json_object_get (f, "t")), ==, "tail");
  pa_frame_reader_free (r);
}

static void
test_oversized_length (void)
{
  /* Only the header is fed: the refusal must come from the declared length
   * alone, before any payload is buffered. */
  const guint8 huge[] = { 0xff, 0xff, 0xff, 0xf0 };
  PaFrameReader *r = pa_frame_reader_new ();
  pa_frame_reader_feed (r, huge, 2);
  g_autoptr (GError) e0 = NULL;
  g_assert_null (pa_frame_reader_next (r, &e0));
  g_assert_no_error (e0);
  pa_frame_reader_feed (r, huge + 2, 2);
  g_autoptr (GError) e1 = NULL;
  g_assert_null (pa_frame_reader_next (r, &e1));
  g_assert_error (e1, PA_ERROR, PA_ERROR_TOO_LARGE);
  /* The error sticks, even if valid frames follow. */
  g_autoptr (GByteArray) ok = encode ("{\"t\":\"x\"}");
  pa_frame_reader_feed (r, ok->data, ok->len);
  g_autoptr (GError) e2 = NULL;
  g_assert_null (pa_frame_reader_next (r, &e2));
  g_assert_error (e2, PA_ERROR, PA_ERROR_TOO_LARGE);
  pa_frame_reader_free (r);

  /* One byte over the limit is refused; the limit itself is not. */
  guint32 over = PA_FRAME_MAX + 1;
  const guint8 h2[] = { (guint8) (over >> 24), (guint8) (over >> 16), (guint8) (over >> 8),
                        (guint8) over };
  r = pa_frame_reader_new ();
  pa_frame_reader_feed (r, h2, 4);
  g_autoptr (GError) e3 = NULL;
  g_assert_null (pa_frame_reader_next (r, &e3));
  g_assert_error (e3, PA_ERROR, PA_ERROR_TOO_LARGE);
  pa_frame_reader_free (r);

  guint32 max = PA_FRAME_MAX;
  const guint8 h3[] = { (guint8) (max >> 24), (guint8) (max >> 16), (guint8) (max >> 8),
                        (guint8) max };
  r = pa_frame_reader_new ();
  pa_frame_reader_feed (r, h3, 4);
  g_autoptr (GError) e4 = NULL;
  g_assert_null (pa_frame_reader_next (r, &e4));
  g_assert_no_error (e4);
  pa_frame_reader_free (r);
}

static void
test_oversized_after_good (void)
{
  /* A bad header behind a good frame in the same chunk. */
  g_autoptr (GByteArray) buf = encode ("{\"t\":\"x\"}");
  const guint8 huge[] = { 0x7f, 0xff, 0xff, 0xff, '{' };
  g_byte_array_append (buf, huge, sizeof huge);
  PaFrameReader *r = pa_frame_reader_new ();
  pa_frame_reader_feed (r, buf->data, buf->len);
  g_autoptr (GError) e1 = NULL;
  g_autoptr (json_t) f = pa_frame_reader_next (r, &e1);
  g_assert_no_error (e1);
  g_assert_nonnull (f);
  g_autoptr (GError) e2 = NULL;
  g_assert_null (pa_frame_reader_next (r, &e2));
  g_assert_error (e2, PA_ERROR, PA_ERROR_TOO_LARGE);
  pa_frame_reader_free (r);
}

static void
expect_corrupt (const char *payload, PaErrorCode code)
{
  g_autoptr (GByteArray) buf = raw_frame (payload);
  PaFrameReader *r = pa_frame_reader_new ();
  pa_frame_reader_feed (r, buf->data, buf->len);
  g_autoptr (GError) error = NULL;
  g_assert_null (pa_frame_reader_next (r, &error));
  g_assert_error (error, PA_ERROR, (gint) code);
  pa_frame_reader_free (r);
}

static void
test_invalid_json (void)
{
  expect_corrupt ("{\"t\":", PA_ERROR_JSON);
  expect_corrupt ("", PA_ERROR_JSON);
  expect_corrupt ("{\"t\":\"x\"} trailing", PA_ERROR_JSON);
  expect_corrupt ("{\"t\":\"\\u0000\"}", PA_ERROR_JSON);
  expect_corrupt ("{\"t\":\"\xff\xfe\"}", PA_ERROR_JSON);
  expect_corrupt ("{\"t\":\"a\",\"t\":\"b\"}", PA_ERROR_JSON);
}

static void
test_non_object (void)
{
  expect_corrupt ("[1,2,3]", PA_ERROR_JSON);
  expect_corrupt ("\"hello\"", PA_ERROR_JSON);
  expect_corrupt ("42", PA_ERROR_JSON);
  expect_corrupt ("null", PA_ERROR_JSON);
}

static void
test_flush_socket (void)
{
  int sv[2];
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
  g_assert_true (g_unix_set_fd_nonblocking (sv[0], TRUE, NULL));
  g_assert_true (g_unix_set_fd_nonblocking (sv[1], TRUE, NULL));

  /* Far more than the socket buffer holds: partial writes must resume. */
  g_autoptr (GByteArray) out = g_byte_array_new ();
  g_autofree char *text = g_strnfill (4000, 'x');
  for (int i = 0; i < 2000; i++)
    {
      g_autoptr (json_t) m = json_pack ("{s:s,s:i,s:s}", "t", "event", "seq", i, "pad", text);
      g_assert_true (pa_frame_encode (m, out, NULL));
    }
  gsize pos = 0;
  PaFrameReader *r = pa_frame_reader_new ();
  int seen = 0;
  guint8 buf[65536];
  while (seen < 2000)
    {
      g_autoptr (GError) error = NULL;
      g_assert_true (pa_frame_flush (sv[0], out, &pos, &error));
      g_assert_no_error (error);
      ssize_t n = read (sv[1], buf, sizeof buf);
      if (n > 0)
        pa_frame_reader_feed (r, buf, (gsize) n);
      json_t *f;
      while ((f = pa_frame_reader_next (r, NULL)) != NULL)
        {
          g_assert_cmpint (json_integer_value (json_object_get (f, "seq")), ==, seen);
          seen++;
          json_decref (f);
        }
    }
  g_assert_cmpuint (out->len, ==, 0);
  g_assert_cmpuint (pos, ==, 0);

  /* A closed peer is an error, not a SIGPIPE. */
  close (sv[1]);
  g_autoptr (json_t) m = json_pack ("{s:s}", "t", "x");
  g_assert_true (pa_frame_encode (m, out, NULL));
  g_autoptr (GError) error = NULL;
  g_assert_false (pa_frame_flush (sv[0], out, &pos, &error));
  g_assert_nonnull (error);
  close (sv[0]);
  pa_frame_reader_free (r);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/host/frame/encode-format", test_encode_format);
  g_test_add_func ("/host/frame/encode-too-large", test_encode_too_large);
  g_test_add_func ("/host/frame/one-byte-feeds", test_one_byte_feeds);
  g_test_add_func ("/host/frame/many-frames-one-feed", test_many_frames_one_feed);
  g_test_add_func ("/host/frame/oversized-length", test_oversized_length);
  g_test_add_func ("/host/frame/oversized-after-good", test_oversized_after_good);
  g_test_add_func ("/host/frame/invalid-json", test_invalid_json);
  g_test_add_func ("/host/frame/non-object", test_non_object);
  g_test_add_func ("/host/frame/flush-socket", test_flush_socket);
  return g_test_run ();
}
