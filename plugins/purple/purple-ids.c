/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * purple-ids.c — the one spelling of a legacy id (PaNetwork.normalize_id),
 * without libpurple: pure, callable from any thread.
 *
 * Why apart: no login, no libpurple, no state.
 */
#define G_LOG_DOMAIN "passerelle-purple"

#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "purple-ids.h"

/* Lower-cases `s` (n bytes) after Unicode normalization `mode`. */
static char *
pp_fold (const char *s, gssize n, GNormalizeMode mode)
{
  g_autofree char *norm = g_utf8_normalize (s, n, mode);
  return norm != NULL ? g_utf8_strdown (norm, -1) : NULL;
}

char *
pp_normalize_id (PaIdKind kind, const char *id)
{
  if (id == NULL || *id == '\0' || strlen (id) > PA_ID_MAX_BYTES || !g_utf8_validate (id, -1, NULL))
    return NULL;
  for (const char *p = id; *p; p++)
    if ((guchar) *p < 0x20 || *p == 0x7f)
      return NULL;
  const char *slash = strchr (id, '/');
  gsize bare_len = slash != NULL ? (gsize) (slash - id) : strlen (id);
  const char *at = memchr (id, '@', bare_len);
  g_autofree char *out = NULL;
  if (at != NULL)
    {
      const char *domain = at + 1;
      gsize domain_len = bare_len - (gsize) (domain - id);
      while (domain_len > 0 && domain[domain_len - 1] == '.')
        domain_len--;
      if (at == id || domain_len == 0 || (slash != NULL && slash[1] == '\0'))
        return NULL;
      g_autofree char *node = pp_fold (id, at - id, G_NORMALIZE_ALL_COMPOSE);
      g_autofree char *dom = pp_fold (domain, (gssize) domain_len, G_NORMALIZE_ALL_COMPOSE);
      if (node == NULL || dom == NULL)
        return NULL;
      if (slash != NULL && kind == PA_ID_CHAT)
        out = g_strdup_printf ("%s@%s%s", node, dom, slash);
      else
        out = g_strdup_printf ("%s@%s", node, dom);
    }
  else
    out = pp_fold (id, -1, G_NORMALIZE_DEFAULT);
  if (out == NULL || *out == '\0' || strlen (out) > PA_ID_MAX_BYTES)
    return NULL;
  /* The host frees it with free(). */
  size_t n = strlen (out) + 1;
  char *copy = malloc (n);
  if (copy != NULL)
    memcpy (copy, out, n);
  return copy;
}
