/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * wa-import.h — the WhatsApp export importer, in C: a static library linked
 * into whatsapp.so (the Go plugin sets Network.CImport to wa_import_file)
 * and into the C tests and fuzz target.  No GLib in this header: cgo
 * includes it.
 */
#ifndef WA_IMPORT_H
#define WA_IMPORT_H

#include "passerelle/plugin.h"

/* network->import_file with the host table network->init got (`api`):
 * parses the export at `path` and emits its chat and messages.  False with
 * a malloc'd *error when the file is refused whole. */
bool wa_import_file (PaHost *host, const PaHostApi *api, const char *path,
                     const PaImportOptions *options, char **error);

#endif
