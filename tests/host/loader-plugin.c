/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* A minimal plugin for the loader tests, built several times with -D
 * switches that each break one rule the loader enforces. */
#include <passerelle/plugin.h>

#ifdef PLUGIN_BAD_MAGIC
#define MAGIC 0x12345678u
#else
#define MAGIC PA_PLUGIN_MAGIC
#endif

#ifndef PLUGIN_ABI_MAJOR
#define PLUGIN_ABI_MAJOR PA_PLUGIN_ABI_MAJOR
#endif

#ifndef PLUGIN_ABI_MINOR_DELTA
#define PLUGIN_ABI_MINOR_DELTA 0
#endif

#ifdef PLUGIN_SMALL_STRUCT
#define STRUCT_SIZE 64u
#else
#define STRUCT_SIZE sizeof (PaPluginDescriptor)
#endif

#ifdef PLUGIN_BAD_NAME
#define NAME "Bad-Name"
#else
#define NAME "loadertest"
#endif

static const PaLoginFlow flows[] = {
  { sizeof (PaLoginFlow), "password", "Password", "Log in with a password" },
};

static const PaPluginDescriptor descriptor = {
  .magic = MAGIC,
  .abi_major = PLUGIN_ABI_MAJOR,
  .abi_minor = PA_PLUGIN_ABI_MINOR + PLUGIN_ABI_MINOR_DELTA,
  .struct_size = STRUCT_SIZE,
  .name = NAME,
  .display_name = "Loader Test",
  .version = "1.2.3",
  .capabilities = PA_CAP_LOGIN | PA_CAP_GROUPS,
  .login_flows = flows,
  .n_login_flows = 1,
};

#ifdef PLUGIN_NO_ENTRY
const PaPluginDescriptor *loader_plugin_wrong_name (void);
const PaPluginDescriptor *
loader_plugin_wrong_name (void)
{
  return &descriptor;
}
#else
const PaPluginDescriptor *pa_plugin_get_descriptor (void);
const PaPluginDescriptor *
pa_plugin_get_descriptor (void)
{
  return &descriptor;
}
#endif
