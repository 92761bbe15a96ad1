/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The plugins installed in a directory, learnt through
 * `passerelle-worker --describe` so that no plugin code is loaded into
 * the host's own process. */
#ifndef PA_PLUGIN_CATALOG_H
#define PA_PLUGIN_CATALOG_H

#include <glib.h>
#include <jansson.h>

G_BEGIN_DECLS

typedef struct
{
  char *name; /* the plugin's name ([a-z0-9]+) */
  char *display_name;
  char *path;       /* the .so */
  json_t *hello;    /* its hello frame (owned) */
  json_t *settings; /* checked plugins.<name> values of config.yaml (owned); NULL until the
                       bridge checked them */
  /* How many of its logins share one worker process (>= 1), set with settings. */
  guint logins_per_worker;
} PaPluginInfo;

void pa_plugin_info_free (PaPluginInfo *info);

/* Every loadable plugin of `dir`, sorted by name, as PaPluginInfo*
 * (transfer full; the array frees its items).  A file that is not a
 * plugin, refuses to load or repeats a name is skipped with a warning; a
 * missing directory gives an empty array and a warning. */
GPtrArray *pa_plugin_catalog_scan (const char *self_exe, const char *dir);

/* The commented `plugins:` section of config.yaml for these plugins
 * (from each one's declared keys), or an empty string when none has keys
 * (transfer full). */
char *pa_plugin_catalog_config_example (GPtrArray *plugins);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PaPluginInfo, pa_plugin_info_free)

G_END_DECLS

#endif
