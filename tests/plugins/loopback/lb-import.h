/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * lb-import.h — the importer of loopback export files (network->import_file).
 */
#ifndef LB_IMPORT_H
#define LB_IMPORT_H

#include "lb-types.h"

/* network->import_file. */
bool lb_import_file (PaHost *host, const char *path, const PaImportOptions *options, char **error);

#endif
