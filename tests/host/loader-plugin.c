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
#define STRUCT_SIZE sizeof (PaNetwork)
#endif

#ifdef PLUGIN_BAD_NAME
#define NAME "Bad-Name"
#else
#define NAME "loadertest"
#endif

#ifndef PLUGIN_SDK1
static const PaLoginFlow flows[] = {
  { sizeof (PaLoginFlow), "password", "Password", "Log in with a password" },
};
#endif

#ifndef PLUGIN_SDK1
static const PaConfigKey config_keys[] = {
  { sizeof (PaConfigKey), "server", PA_CONFIG_STRING, "localhost", "Server to use", false, false },
  { sizeof (PaConfigKey), "api_hash", PA_CONFIG_STRING, NULL, "Secret hash", true, true },
};
#endif

#ifndef PLUGIN_SDK1
static const PaNetwork descriptor = {
  .magic = MAGIC,
  .abi_major = PLUGIN_ABI_MAJOR,
  .abi_minor = PA_PLUGIN_ABI_MINOR + PLUGIN_ABI_MINOR_DELTA,
  .struct_size = STRUCT_SIZE,
  .name = NAME,
  .display_name = "Loader Test",
  .version = "1.2.3",
  .capabilities = PA_CAP_LOGIN | PA_CAP_GROUPS,
  .config_keys = config_keys,
  .n_config_keys = 2,
  .login_flows = flows,
  .n_login_flows = 1,
};
#endif

#if defined(PLUGIN_NO_ENTRY)
const PaNetwork *loader_plugin_wrong_name (void);
const PaNetwork *
loader_plugin_wrong_name (void)
{
  return &descriptor;
}
#elif defined(PLUGIN_SDK1)
/* What an SDK 1 plugin exported: the same first four members, major 1. */
typedef struct
{
  uint32_t magic;
  uint16_t abi_major, abi_minor;
  uint32_t struct_size;
} OldDescriptor;
static const OldDescriptor old_descriptor = { PA_PLUGIN_MAGIC, 1, 1, 400 };
const OldDescriptor *pa_plugin_get_descriptor (void);
const OldDescriptor *
pa_plugin_get_descriptor (void)
{
  return &old_descriptor;
}
#else
const PaNetwork *pa_plugin_get_network (void);
const PaNetwork *
pa_plugin_get_network (void)
{
  return &descriptor;
}
#endif
