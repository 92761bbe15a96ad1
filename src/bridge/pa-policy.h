/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Permission levels and the ministries' enabled plugins. */
#ifndef PA_POLICY_H
#define PA_POLICY_H

#include "pa-bridge-object.h"

G_BEGIN_DECLS

/* The permission level of mxid. */
PaLevel pa_policy_level (PaBridge *b, const char *mxid);

/* Whether the ministry m has plugin enabled (store toggle, else config). */
gboolean pa_policy_ministry_plugin_enabled (PaBridge *b, const PaMinistry *m, const char *plugin);

/* Whether `plugin` is enabled for the ministry of mxid; *why set when not. */
gboolean pa_policy_plugin_allowed (PaBridge *b, const char *mxid, const char *plugin, char **why);

G_END_DECLS

#endif
