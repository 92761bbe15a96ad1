/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The `passerelle import` command (pa-import-cli.c), called by main.c
 * when argv[1] is "import". */
#ifndef PA_IMPORT_CLI_H
#define PA_IMPORT_CLI_H

/* `passerelle import …` (argv[1] is "import"); returns the exit status. */
int pa_import_cli (int argc, char **argv);

#endif
