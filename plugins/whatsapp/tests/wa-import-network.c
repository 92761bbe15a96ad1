/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * wa-import-network.c — a C network around wa_import_file, for builds
 * without the Go plugin (fuzz builds, a machine without Go): the import
 * unit test and the fuzz target load or link it instead of whatsapp.so's
 * Go network.  Never installed.
 */
#include "imp-plugin.h"
#include "passerelle/plugin.h"
#include "wa-import.h"

static bool
wa_test_import_file (PaHost *host, const char *path, const PaImportOptions *options, char **error)
{
  return wa_import_file (host, imp_plugin_api (), path, options, error);
}

static const PaNetwork wa_test_network = {
  .magic = PA_PLUGIN_MAGIC,
  .abi_major = PA_PLUGIN_ABI_MAJOR,
  .abi_minor = PA_PLUGIN_ABI_MINOR,
  .struct_size = sizeof (PaNetwork),
  .name = "whatsapp",
  .display_name = "WhatsApp",
  .version = "test",
  .capabilities = PA_CAP_IMPORT | PA_CAP_GROUPS | PA_CAP_MEDIA,
  .init = imp_plugin_init,
  .shutdown = imp_plugin_shutdown,
  .import_file = wa_test_import_file,
};

const PaNetwork *pa_plugin_get_network (void);

__attribute__ ((visibility ("default"))) const PaNetwork *
pa_plugin_get_network (void)
{
  return &wa_test_network;
}
