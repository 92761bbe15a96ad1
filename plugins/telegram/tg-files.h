/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * tg-files.h — TDLib's downloaded files taken into the data dir
 * (tg-files.c).
 */
#ifndef TG_FILES_H
#define TG_FILES_H

#include "tg-private.h"

G_BEGIN_DECLS

/* Puts TDLib's downloaded `file` (its local.path) at `dest`, inside the
 * data dir: moved there (copied across file systems). */
gboolean tg_files_take (PaLogin *login, json_t *file, const char *dest, GError **error);

G_END_DECLS

#endif
