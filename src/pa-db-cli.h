/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The `passerelle db` command (pa-db-cli.c), called by main.c when argv[1]
 * is "db". */
#ifndef PA_DB_CLI_H
#define PA_DB_CLI_H

/* `passerelle db migrate …` (argv[1] is "db"); returns the exit status. */
int pa_db_cli (int argc, char **argv);

#endif
