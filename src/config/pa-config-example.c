/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The commented example configuration `passerelle -e` writes: the starting
 * point of every deployment, so it documents each key.  Its text is
 * config/example.yaml itself, turned into a C string at build time
 * (gen-example.py), so the file in the tree and the one written can never
 * differ. */
#define G_LOG_DOMAIN "passerelle-config"

#include "pa-config.h"

#include <string.h>

/* Defined by the generated pa-config-example-text.c. */
extern const char pa_config_example_data[];
extern const gsize pa_config_example_len;

const char *
pa_config_example_text (void)
{
  return pa_config_example_data;
}

gboolean
pa_config_write_example (const char *path, GError **error)
{
  g_return_val_if_fail (path != NULL, FALSE);
  /* 0600: the file will hold the appservice tokens once `-g` has run. */
  return g_file_set_contents_full (path, pa_config_example_data, (gssize) pa_config_example_len,
                                   G_FILE_SET_CONTENTS_CONSISTENT, 0600, error);
}
