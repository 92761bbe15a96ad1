/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * tg-import.h — the importer of Telegram Desktop exports, the
 * network->import_file of telegram.so.
 */
#ifndef TG_IMPORT_H
#define TG_IMPORT_H

#include "passerelle/plugin.h"

/* network->import_file: see plugin.h.  The host table is the one
 * imp_plugin_init kept. */
bool tg_import_file (PaHost *host, const char *path, const PaImportOptions *options, char **error);

#endif
