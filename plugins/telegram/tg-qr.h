/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * tg-qr.h — a text (TDLib's tg://login link) → a QR code PNG file.
 */
#ifndef TG_QR_H
#define TG_QR_H

#include <glib.h>

G_BEGIN_DECLS

/* Writes `text` as a QR code PNG (black on white, a quiet zone of 4
 * modules) at `path`.  FALSE with `error` set when the text does not fit a
 * QR code or the file cannot be written. */
gboolean tg_qr_write_png (const char *text, const char *path, GError **error);

G_END_DECLS

#endif
