/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * tg-qr.c — a QR code PNG from a text, with libqrencode and libpng: what
 * the agent scans with Telegram on the phone (Settings → Devices → Link
 * Desktop Device) during a QR login.
 */
#define G_LOG_DOMAIN "passerelle-telegram"

#include <errno.h>
#include <stdio.h>

#include <glib/gstdio.h>
#include <png.h>
#include <qrencode.h>

#include "tg-qr.h"

#define TG_QR_SCALE 8  /* pixels per module */
#define TG_QR_MARGIN 4 /* modules of white around the code, as the standard asks */

gboolean
tg_qr_write_png (const char *text, const char *path, GError **error)
{
  QRcode *qr = QRcode_encodeString (text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
  if (qr == NULL)
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
                   "cannot make a QR code of the link: %s", g_strerror (errno));
      return FALSE;
    }
  int modules = qr->width + 2 * TG_QR_MARGIN;
  int side = modules * TG_QR_SCALE;
  FILE *f = g_fopen (path, "wb");
  if (f == NULL)
    {
      int e = errno;
      QRcode_free (qr);
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (e), "cannot write %s: %s", path,
                   g_strerror (e));
      return FALSE;
    }
  png_structp png = png_create_write_struct (PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  png_infop info = png != NULL ? png_create_info_struct (png) : NULL;
  guint8 *row = g_malloc (side);
  /* volatile: read after a longjmp */
  volatile gboolean ok = FALSE;
  if (png != NULL && info != NULL && setjmp (png_jmpbuf (png)) == 0)
    {
      png_init_io (png, f);
      png_set_IHDR (png, info, side, side, 8, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
                    PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
      png_write_info (png, info);
      for (int y = 0; y < side; y++)
        {
          int my = y / TG_QR_SCALE - TG_QR_MARGIN;
          for (int x = 0; x < side; x++)
            {
              int mx = x / TG_QR_SCALE - TG_QR_MARGIN;
              gboolean dark = mx >= 0 && my >= 0 && mx < qr->width && my < qr->width
                              && (qr->data[my * qr->width + mx] & 1);
              row[x] = dark ? 0 : 255;
            }
          png_write_row (png, row);
        }
      png_write_end (png, NULL);
      ok = TRUE;
    }
  png_destroy_write_struct (&png, &info);
  g_free (row);
  QRcode_free (qr);
  if (fclose (f) != 0)
    ok = FALSE;
  if (!ok)
    {
      g_unlink (path);
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "cannot write the QR code PNG %s",
                   path);
    }
  return ok;
}
