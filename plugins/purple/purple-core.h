/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * purple-core.h — see purple-core.c.
 */
#ifndef PASSERELLE_PURPLE_CORE_H
#define PASSERELLE_PURPLE_CORE_H

#include "purple-common.h"

/* Starts libpurple with its user directory `user_dir`: once per process
 * (a second call fails). */
gboolean pp_core_init (PaHost *host, const PaHostApi *api, const char *user_dir, GError **error);

#endif /* PASSERELLE_PURPLE_CORE_H */
