/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Ghosts: MXIDs of legacy contacts, both ways, and their registration
 * and profile. */
#ifndef PA_GHOST_H
#define PA_GHOST_H

#include "pa-bridge-object.h"

G_BEGIN_DECLS

/* The MXID of the ghost of legacy_id on plugin (transfer full). */
char *pa_ghost_mxid (PaBridge *b, const char *plugin, const char *legacy_id);

/* Parse a ghost MXID back: TRUE with plugin and legacy id if it is ours. */
gboolean pa_ghost_parse (PaBridge *b, const char *mxid, char **plugin, char **legacy_id);

/* Whether mxid is in our ghosts' namespace. */
gboolean pa_ghost_is_ours (PaBridge *b, const char *mxid);

/* Register the ghost (idempotent) and set its display name / avatar.  The
 * ensures of one ghost run one at a time, in the order asked: `done` is
 * called once the profiles of the earlier ones are set too. */
void pa_ghost_ensure (PaBridge *b, const char *plugin, const char *legacy_id,
                      const char *displayname, const char *avatar_path, PaDoneFunc done,
                      gpointer user_data);

G_END_DECLS

#endif
