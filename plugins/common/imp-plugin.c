/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * imp-plugin.c — the SDK 2 glue the export importers share (see
 * imp-plugin.h): the host table kept from init, and emit with the media
 * ownership rule.
 *
 * The one piece of file-static state: the PaHostApi pointer.  The host's
 * rule "no file-static state" is about the host; a plugin may keep the
 * single table init hands it, because an importer runs in a worker process
 * of its own, one job per process (plugin.h, Process model), and init and
 * shutdown bracket every use.  Everything else of an import lives on the
 * stack of import_file.
 */
#define G_LOG_DOMAIN "passerelle-importer"

#include "imp-plugin.h"

#include <stdlib.h>
#include <string.h>

#include <glib/gstdio.h>

#include "imp-media.h"

static const PaHostApi *imp_api;

bool
imp_plugin_init (PaHost *host, const PaHostApi *api, char **error)
{
  const char *why = NULL;
  if (api == NULL)
    why = "the host gave no API table";
  else if (api->abi_major != PA_PLUGIN_ABI_MAJOR)
    why = "the host speaks another plugin ABI major version";
  else if (!PA_HAS_MEMBER (api, PaHostApi, invoke))
    why = "the host API table is smaller than SDK 2.0's";
  if (why != NULL)
    {
      if (error != NULL)
        *error = imp_c_strdup (why);
      return false;
    }
  imp_api = api;
  return true;
}

void
imp_plugin_shutdown (PaHost *host)
{
  imp_api = NULL;
}

const PaHostApi *
imp_plugin_api (void)
{
  return imp_api;
}

guint64
imp_emit (PaHost *host, const PaHostApi *api, const PaEvent *event)
{
  guint64 seq = api->emit (host, event);
  if (seq == 0 && event->content != NULL && event->content->media_path != NULL)
    g_unlink (event->content->media_path); /* refused: still ours, and unused */
  return seq;
}
