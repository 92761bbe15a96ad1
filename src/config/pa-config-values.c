/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Readers of single values (strings, booleans, integers, URLs, lists) and
 * the validators of names (server names, user IDs, localparts, tokens).
 * Every key reader uses them, so every error has the same "file:line: key:
 * problem" shape. */
#define G_LOG_DOMAIN "passerelle-config"

#include "pa-config-private.h"

#include <string.h>

void
pa_config_warn_unknown (const Loader *l, const Node *key, const char *path)
{
  g_warning ("%s:%u: %s: unknown key, ignored", l->name, key->line, path);
}

/* A string; a null value leaves *out (the default) unchanged. */
gboolean
pa_config_get_string (const Loader *l, const Node *v, const char *path, gsize max_len, char **out,
                      GError **error)
{
  if (node_is_null (v))
    return TRUE;
  if (v->kind != YAML_SCALAR_NODE)
    return pa_config_fail (error, l->name, v->line, path, "must be a string, not %s",
                           kind_name (v));
  if (v->value_len > max_len)
    return pa_config_fail (error, l->name, v->line, path,
                           "too long (at most %" G_GSIZE_FORMAT " bytes)", max_len);
  g_free (*out);
  *out = g_strdup (v->value);
  return TRUE;
}

gboolean
pa_config_parse_bool_word (const char *s, gboolean *out)
{
  static const char *const yes[] = { "true", "yes", "on" };
  static const char *const no[] = { "false", "no", "off" };
  for (guint i = 0; i < G_N_ELEMENTS (yes); i++)
    {
      if (g_ascii_strcasecmp (s, yes[i]) == 0)
        {
          *out = TRUE;
          return TRUE;
        }
      if (g_ascii_strcasecmp (s, no[i]) == 0)
        {
          *out = FALSE;
          return TRUE;
        }
    }
  return FALSE;
}

gboolean
pa_config_get_bool (const Loader *l, const Node *v, const char *path, gboolean *out, GError **error)
{
  if (node_is_null (v))
    return TRUE;
  if (v->kind == YAML_SCALAR_NODE && v->plain && pa_config_parse_bool_word (v->value, out))
    return TRUE;
  return pa_config_fail (error, l->name, v->line, path, "must be true or false");
}

gboolean
pa_config_get_int (const Loader *l, const Node *v, const char *path, gint64 min, gint64 max,
                   gint64 *out, GError **error)
{
  if (node_is_null (v))
    return TRUE;
  gint64 n = 0;
  if (v->kind != YAML_SCALAR_NODE || !v->plain
      || !g_ascii_string_to_signed (v->value, 10, G_MININT64, G_MAXINT64, &n, NULL))
    return pa_config_fail (error, l->name, v->line, path, "must be an integer");
  if (n < 0 && min >= 0)
    return pa_config_fail (error, l->name, v->line, path,
                           "must not be negative (got %" G_GINT64_FORMAT ")", n);
  if (n < min || n > max)
    return pa_config_fail (error, l->name, v->line, path,
                           "must be between %" G_GINT64_FORMAT " and %" G_GINT64_FORMAT
                           " (got %" G_GINT64_FORMAT ")",
                           min, max, n);
  *out = n;
  return TRUE;
}

/* A list of strings, each accepted by `valid` (NULL: any), no duplicates. */
gboolean
pa_config_get_string_list (const Loader *l, const Node *v, const char *path,
                           gboolean (*valid) (const char *), const char *what, GPtrArray *out,
                           GError **error)
{
  if (node_is_null (v))
    return TRUE;
  if (v->kind != YAML_SEQUENCE_NODE)
    return pa_config_fail (error, l->name, v->line, path, "must be a list, not %s", kind_name (v));
  for (guint i = 0; i < v->items->len; i++)
    {
      const Node *item = g_ptr_array_index (v->items, i);
      g_autofree char *ipath = g_strdup_printf ("%s[%u]", path, i);
      if (item->kind != YAML_SCALAR_NODE)
        return pa_config_fail (error, l->name, item->line, ipath, "must be a string, not %s",
                               kind_name (item));
      if (valid && !valid (item->value))
        return pa_config_fail (error, l->name, item->line, ipath, "\"%s\" is not %s", item->value,
                               what);
      for (guint j = 0; j < out->len; j++)
        if (g_ascii_strcasecmp (g_ptr_array_index (out, j), item->value) == 0)
          return pa_config_fail (error, l->name, item->line, ipath, "\"%s\" is listed twice",
                                 item->value);
      g_ptr_array_add (out, g_strdup (item->value));
    }
  return TRUE;
}

/* A mapping section; null means "all defaults" (*is_null set). */
gboolean
pa_config_check_section (const Loader *l, const Node *v, const char *path, gboolean *is_null,
                         GError **error)
{
  *is_null = node_is_null (v);
  if (*is_null || v->kind == YAML_MAPPING_NODE)
    return TRUE;
  return pa_config_fail (error, l->name, v->line, path, "must be a mapping, not %s", kind_name (v));
}

/* An http(s) URL with a host and no query, fragment or user info.  Trailing
 * slashes are dropped so callers can append "/_matrix/..." directly. */
static char *
normalize_http_url (const char *s)
{
  g_autoptr (GUri) uri = g_uri_parse (s, G_URI_FLAGS_NONE, NULL);
  if (uri == NULL)
    return NULL;
  const char *scheme = g_uri_get_scheme (uri);
  const char *host = g_uri_get_host (uri);
  if (scheme == NULL
      || (g_ascii_strcasecmp (scheme, "http") != 0 && g_ascii_strcasecmp (scheme, "https") != 0))
    return NULL;
  if (host == NULL || host[0] == '\0' || g_uri_get_userinfo (uri) != NULL
      || g_uri_get_query (uri) != NULL || g_uri_get_fragment (uri) != NULL)
    return NULL;
  if (strpbrk (s, " \t\r\n") != NULL)
    return NULL;
  char *out = g_strdup (s);
  gsize n = strlen (out);
  while (n > 0 && out[n - 1] == '/')
    out[--n] = '\0';
  return out;
}

gboolean
pa_config_get_url (const Loader *l, const Node *v, const char *path, char **out, GError **error)
{
  g_autofree char *s = NULL;
  if (!pa_config_get_string (l, v, path, 2048, &s, error))
    return FALSE;
  if (s == NULL)
    return TRUE;
  char *url = normalize_http_url (s);
  if (url == NULL)
    return pa_config_fail (error, l->name, v->line, path, "must be an http(s) URL (got \"%s\")", s);
  g_free (*out);
  *out = url;
  return TRUE;
}

/* A Matrix server name: DNS name, IPv4 or [IPv6], optional :port. */
gboolean
pa_config_is_server_name (const char *s)
{
  gsize len = strlen (s);
  if (len == 0 || len > MAX_SERVER_NAME_LEN)
    return FALSE;
  const char *p = s;
  if (*p == '[')
    {
      const char *close = strchr (p, ']');
      if (close == NULL || close == p + 1)
        return FALSE;
      for (const char *q = p + 1; q < close; q++)
        if (!g_ascii_isxdigit (*q) && *q != ':' && *q != '.')
          return FALSE;
      p = close + 1;
    }
  else
    {
      gboolean label_empty = TRUE;
      for (; *p && *p != ':'; p++)
        {
          if (*p == '.')
            {
              if (label_empty)
                return FALSE;
              label_empty = TRUE;
            }
          else if (g_ascii_isalnum (*p) || *p == '-')
            label_empty = FALSE;
          else
            return FALSE;
        }
      if (label_empty)
        return FALSE;
    }
  if (*p == '\0')
    return TRUE;
  if (*p != ':')
    return FALSE;
  guint64 port = 0;
  if (strlen (p + 1) > 5 || !g_ascii_string_to_unsigned (p + 1, 10, 1, 65535, &port, NULL))
    return FALSE;
  return TRUE;
}

/* "@localpart:server": localpart of printable ASCII (the historical grammar),
 * server a server name.  Sets *server to the server part. */
gboolean
pa_config_split_mxid (const char *mxid, const char **server)
{
  if (mxid == NULL || mxid[0] != '@' || strlen (mxid) > MAX_MXID_LEN)
    return FALSE;
  const char *colon = strchr (mxid, ':');
  if (colon == NULL || colon == mxid + 1)
    return FALSE;
  for (const char *p = mxid + 1; p < colon; p++)
    if (*p < 0x21 || *p > 0x7e)
      return FALSE;
  if (!pa_config_is_server_name (colon + 1))
    return FALSE;
  *server = colon + 1;
  return TRUE;
}

gboolean
pa_config_is_plugin_name (const char *s)
{
  gsize n = strlen (s);
  if (n == 0 || n > MAX_NAME_LEN)
    return FALSE;
  for (const char *p = s; *p; p++)
    if (!g_ascii_islower (*p) && !g_ascii_isdigit (*p))
      return FALSE;
  return TRUE;
}

gboolean
pa_config_is_ministry_name (const char *s)
{
  gsize n = strlen (s);
  if (n == 0 || n > MAX_NAME_LEN)
    return FALSE;
  for (const char *p = s; *p; p++)
    if (!g_ascii_islower (*p) && !g_ascii_isdigit (*p) && *p != '_' && *p != '-')
      return FALSE;
  return TRUE;
}

/* Characters of a modern Matrix user localpart. */
gboolean
pa_config_is_localpart (const char *s, gsize max_len)
{
  gsize n = strlen (s);
  if (n == 0 || n > max_len)
    return FALSE;
  for (const char *p = s; *p; p++)
    if (!g_ascii_islower (*p) && !g_ascii_isdigit (*p) && strchr ("._=-/+", *p) == NULL)
      return FALSE;
  return TRUE;
}

gboolean
pa_config_is_token (const char *s)
{
  gsize n = strlen (s);
  if (n == 0 || n > MAX_TOKEN_LEN)
    return FALSE;
  for (const char *p = s; *p; p++)
    if (*p < 0x21 || *p > 0x7e)
      return FALSE;
  return TRUE;
}

gboolean
pa_config_is_simple_word (const char *s)
{
  if (s[0] == '\0')
    return FALSE;
  for (const char *p = s; *p; p++)
    if (g_ascii_isspace (*p) || g_ascii_iscntrl (*p))
      return FALSE;
  return TRUE;
}

/* See pa-config-private.h. */
void
pa_config_append_yaml_quoted (GString *s, const char *v)
{
  g_string_append_c (s, '"');
  for (const char *p = v; *p; p++)
    {
      guchar ch = (guchar) *p;
      if (ch == '"' || ch == '\\')
        g_string_append_printf (s, "\\%c", ch);
      else if (ch < 0x20 || ch == 0x7f)
        g_string_append_printf (s, "\\x%02x", ch);
      else
        g_string_append_c (s, (char) ch);
    }
  g_string_append_c (s, '"');
}
