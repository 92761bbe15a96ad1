/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* libFuzzer target for an importer's file path (built once per importer
 * plugin, with PA_FUZZ_PLUGIN naming it): the input is written
 * to a file and imported (ZIP archives above all: seeds are small exports),
 * with media extracted into a scratch work dir that is emptied after each
 * run.  The host table only checks what the plugin hands it. */
#ifndef PA_FUZZ_PLUGIN
#error "PA_FUZZ_PLUGIN must name the importer (whatsapp, telegram)"
#endif

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "passerelle/plugin.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
const PaNetwork *pa_plugin_get_network (void);

static uint64_t n_events;

static uint64_t
fz_emit (PaHost *host, const PaEvent *e)
{
  if (e->chat_id == NULL || (e->type == PA_EV_MESSAGE && (e->content == NULL
                                                          || e->message_id == NULL)))
    __builtin_trap ();
  if (e->content != NULL && e->content->text != NULL
      && !g_utf8_validate (e->content->text, -1, NULL))
    __builtin_trap ();
  return ++n_events;
}

static void
fz_notice (PaHost *host, const char *text)
{
  if (!g_utf8_validate (text, -1, NULL))
    __builtin_trap ();
}

static void
fz_log (PaHost *host, PaLogLevel level, const char *message)
{
}

static const PaHostApi fz_api = {
  .struct_size = sizeof (PaHostApi),
  .abi_major = PA_PLUGIN_ABI_MAJOR,
  .abi_minor = PA_PLUGIN_ABI_MINOR,
  .log = fz_log,
  .emit = fz_emit,
  .notice = fz_notice,
};

static char *scratch;

static void fz_empty (const char *dir);

/* libFuzzer has no teardown hook: remove the scratch dir at exit. */
static void
fz_cleanup (void)
{
  char *work = g_build_filename (scratch, "work", NULL);
  fz_empty (work);
  g_rmdir (work);
  g_free (work);
  fz_empty (scratch);
  g_rmdir (scratch);
}

/* Empty `dir`, sub-directories too (importers extract into one). */
static void
fz_empty (const char *dir)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  const char *name;
  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    {
      char *p = g_build_filename (dir, name, NULL);
      if (g_file_test (p, G_FILE_TEST_IS_DIR) && !g_file_test (p, G_FILE_TEST_IS_SYMLINK))
        {
          fz_empty (p);
          g_rmdir (p);
        }
      else
        g_unlink (p);
      g_free (p);
    }
  if (d != NULL)
    g_dir_close (d);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (scratch == NULL)
    {
      scratch = g_dir_make_tmp ("fuzz-" PA_FUZZ_PLUGIN "-zip-XXXXXX", NULL);
      if (scratch != NULL)
        atexit (fz_cleanup);
      char *err = NULL;
      const PaNetwork *net = pa_plugin_get_network ();
      if (net->init != NULL && !net->init (NULL, &fz_api, &err))
        __builtin_trap ();
    }
  if (scratch == NULL)
    return 0;
  char *input = g_build_filename (scratch, "input", NULL);
  char *work = g_build_filename (scratch, "work", NULL);
  g_mkdir (work, 0700);
  if (g_file_set_contents (input, (const char *) data, (gssize) size, NULL))
    {
      PaImportOptions opts = {
        .struct_size = sizeof (PaImportOptions),
        .work_dir = work,
        .max_total_bytes = 8 * 1024 * 1024,
        .max_entries = 1000,
      };
      char *error = NULL;
      bool ok = pa_plugin_get_network ()->import_file (NULL, input, &opts, &error);
      if (!ok && (error == NULL || !g_utf8_validate (error, -1, NULL)))
        __builtin_trap ();
      free (error);
    }
  fz_empty (work);
  g_unlink (input);
  g_free (input);
  g_free (work);
  return 0;
}
