/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Configuration loading (libyaml event API into a small node tree that keeps
 * positions), validation, the example file, the appservice registration with
 * token write-back, and permission / ministry look-ups. */
#define G_LOG_DOMAIN "passerelle-config"

#include "pa-config.h"

#include "pa-build-config.h"
#include "pa-common.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

/* Hard limits on untrusted input: a config is small; anything bigger or
 * deeper is a mistake or an attack ("billion laughs" needs aliases, which
 * are refused outright). */
#define MAX_FILE_BYTES (1024 * 1024)
#define MAX_DEPTH 32
#define MAX_NODES 10000
#define MAX_NAME_LEN 64
#define MAX_TOKEN_LEN 1024
#define MAX_SERVER_NAME_LEN 255
#define MAX_MXID_LEN 255

/* ---------------------------------------------------------------------- */
/* Node tree                                                               */

typedef struct _Node Node;
struct _Node
{
  yaml_node_type_t kind; /* SCALAR, SEQUENCE or MAPPING */
  gboolean plain;        /* scalar written without quotes: may be null, bool, int */
  gboolean flow;         /* collection in flow style ({...} or [...]) */
  guint line;            /* 1-based */
  guint column;          /* 0-based, in characters */
  gsize start;           /* character index of the first character */
  gsize end;             /* character index just after the node */
  char *value;           /* scalar text, NUL-terminated */
  gsize value_len;
  GPtrArray *items;      /* sequence: Node*; mapping: key, value, key, value, ... */
};

static void node_free (Node *node);

static Node *
node_new (yaml_node_type_t kind, const yaml_event_t *ev)
{
  Node *node = g_malloc0 (sizeof (Node));
  node->kind = kind;
  node->line = (guint) ev->start_mark.line + 1;
  node->column = (guint) ev->start_mark.column;
  node->start = ev->start_mark.index;
  node->end = ev->end_mark.index;
  if (kind != YAML_SCALAR_NODE)
    node->items = g_ptr_array_new_with_free_func ((GDestroyNotify) node_free);
  return node;
}

static void
node_free (Node *node)
{
  if (node == NULL)
    return;
  g_free (node->value);
  if (node->items)
    g_ptr_array_unref (node->items);
  g_free (node);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Node, node_free)

static void
parser_cleanup (yaml_parser_t *parser)
{
  yaml_parser_delete (parser);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (yaml_parser_t, parser_cleanup)

static guint
node_n_pairs (const Node *map)
{
  return map->items->len / 2;
}

static Node *
node_key (const Node *map, guint i)
{
  return g_ptr_array_index (map->items, 2 * i);
}

static Node *
node_val (const Node *map, guint i)
{
  return g_ptr_array_index (map->items, 2 * i + 1);
}

static Node *
node_lookup (const Node *map, const char *key)
{
  for (guint i = 0; i < node_n_pairs (map); i++)
    if (g_str_equal (node_key (map, i)->value, key))
      return node_val (map, i);
  return NULL;
}

static Node *
node_lookup_key (const Node *map, const char *key)
{
  for (guint i = 0; i < node_n_pairs (map); i++)
    if (g_str_equal (node_key (map, i)->value, key))
      return node_key (map, i);
  return NULL;
}

/* A plain empty, "~" or "null" scalar: the key is present but unset. */
static gboolean
node_is_null (const Node *node)
{
  if (node->kind != YAML_SCALAR_NODE || !node->plain)
    return FALSE;
  const char *v = node->value;
  return v[0] == '\0' || g_str_equal (v, "~") || g_str_equal (v, "null")
         || g_str_equal (v, "Null") || g_str_equal (v, "NULL");
}

static gboolean G_GNUC_PRINTF (5, 6)
fail (GError **error, const char *name, guint line, const char *path, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  if (path)
    g_set_error (error, PA_ERROR, PA_ERROR_CONFIG, "%s:%u: %s: %s", name, line, path, msg);
  else
    g_set_error (error, PA_ERROR, PA_ERROR_CONFIG, "%s:%u: %s", name, line, msg);
  return FALSE;
}

static guint
line_of_offset (const char *data, gsize offset)
{
  guint line = 1;
  for (gsize i = 0; i < offset; i++)
    if (data[i] == '\n')
      line++;
  return line;
}

/* Adds `node` to the innermost open collection, or makes it the root. */
static gboolean
attach_node (GPtrArray *stack, Node **root, Node *node, const char *name, GError **error)
{
  if (stack->len == 0)
    {
      *root = node;
      return TRUE;
    }
  Node *parent = g_ptr_array_index (stack, stack->len - 1);
  if (parent->kind == YAML_MAPPING_NODE && parent->items->len % 2 == 0
      && node->kind != YAML_SCALAR_NODE)
    {
      guint line = node->line;
      node_free (node);
      return fail (error, name, line, NULL, "mapping keys must be plain strings");
    }
  g_ptr_array_add (parent->items, node);
  return TRUE;
}

static gboolean
check_duplicate_keys (const Node *map, const char *name, GError **error)
{
  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < node_n_pairs (map); i++)
    {
      Node *k = node_key (map, i);
      if (!g_hash_table_add (seen, k->value))
        return fail (error, name, k->line, k->value, "duplicate key");
    }
  return TRUE;
}

/* Parses one YAML document into a Node tree.  *root is NULL for an empty
 * stream.  Refuses anchors, aliases, more than one document, too deep or too
 * many nodes, invalid UTF-8 and NUL bytes. */
static gboolean
parse_yaml (const char *data, gsize len, const char *name, Node **root_out, GError **error)
{
  *root_out = NULL;
  if (len > MAX_FILE_BYTES)
    return fail (error, name, 1, NULL, "file too large (%" G_GSIZE_FORMAT " bytes, at most %d)",
                 len, MAX_FILE_BYTES);
  const char *bad = NULL;
  /* g_utf8_validate_len also rejects NUL bytes, which libyaml would not. */
  if (!g_utf8_validate_len (data, len, &bad))
    return fail (error, name, line_of_offset (data, (gsize) (bad - data)), NULL,
                 "not valid UTF-8 text");

  g_auto (yaml_parser_t) parser;
  if (!yaml_parser_initialize (&parser))
    return fail (error, name, 1, NULL, "cannot initialise the YAML parser");
  yaml_parser_set_input_string (&parser, (const unsigned char *) data, len);
  yaml_parser_set_encoding (&parser, YAML_UTF8_ENCODING);

  g_autoptr (GPtrArray) stack = g_ptr_array_new ();
  g_autoptr (Node) root = NULL;
  guint n_nodes = 0, n_docs = 0;
  gboolean done = FALSE;

  while (!done)
    {
      yaml_event_t ev;
      if (!yaml_parser_parse (&parser, &ev))
        {
          yaml_mark_t mark = parser.problem_mark;
          if (mark.line == 0 && mark.column == 0 && mark.index == 0)
            mark = parser.context_mark;
          return fail (error, name, (guint) mark.line + 1, NULL, "YAML syntax error: %s%s%s",
                       parser.problem ? parser.problem : "unknown problem",
                       parser.context ? " " : "", parser.context ? parser.context : "");
        }
      guint line = (guint) ev.start_mark.line + 1;
      gboolean ok = TRUE;
      const yaml_char_t *anchor = NULL;
      Node *node = NULL;

      switch (ev.type)
        {
        case YAML_STREAM_END_EVENT:
          done = TRUE;
          break;
        case YAML_DOCUMENT_START_EVENT:
          if (++n_docs > 1)
            ok = fail (error, name, line, NULL, "only one YAML document is allowed");
          break;
        case YAML_ALIAS_EVENT:
          ok = fail (error, name, line, NULL, "anchors and aliases are not allowed");
          break;
        case YAML_SCALAR_EVENT:
          anchor = ev.data.scalar.anchor;
          node = node_new (YAML_SCALAR_NODE, &ev);
          node->plain = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
          node->value = g_strndup ((const char *) ev.data.scalar.value, ev.data.scalar.length);
          node->value_len = ev.data.scalar.length;
          break;
        case YAML_SEQUENCE_START_EVENT:
          anchor = ev.data.sequence_start.anchor;
          node = node_new (YAML_SEQUENCE_NODE, &ev);
          node->flow = ev.data.sequence_start.style == YAML_FLOW_SEQUENCE_STYLE;
          break;
        case YAML_MAPPING_START_EVENT:
          anchor = ev.data.mapping_start.anchor;
          node = node_new (YAML_MAPPING_NODE, &ev);
          node->flow = ev.data.mapping_start.style == YAML_FLOW_MAPPING_STYLE;
          break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
          if (stack->len > 0)
            {
              Node *top = g_ptr_array_steal_index (stack, stack->len - 1);
              top->end = ev.end_mark.index;
              if (top->kind == YAML_MAPPING_NODE)
                ok = check_duplicate_keys (top, name, error);
            }
          break;
        case YAML_NO_EVENT:
        case YAML_STREAM_START_EVENT:
        case YAML_DOCUMENT_END_EVENT:
        default:
          break;
        }

      if (ok && node != NULL)
        {
          if (anchor != NULL)
            {
              node_free (node);
              ok = fail (error, name, line, NULL, "anchors and aliases are not allowed");
            }
          else if (node->kind == YAML_SCALAR_NODE && strlen (node->value) != node->value_len)
            {
              node_free (node);
              ok = fail (error, name, line, NULL, "strings must not contain NUL characters");
            }
          else if (++n_nodes > MAX_NODES)
            {
              node_free (node);
              ok = fail (error, name, line, NULL, "too many YAML nodes (at most %d)", MAX_NODES);
            }
          else if (node->kind != YAML_SCALAR_NODE && stack->len >= MAX_DEPTH)
            {
              node_free (node);
              ok = fail (error, name, line, NULL, "nested deeper than %d levels", MAX_DEPTH);
            }
          else
            {
              /* attach_node takes ownership even when it fails. */
              ok = attach_node (stack, &root, node, name, error);
              if (ok && node->kind != YAML_SCALAR_NODE)
                g_ptr_array_add (stack, node);
            }
        }
      yaml_event_delete (&ev);
      if (!ok)
        return FALSE;
    }
  *root_out = g_steal_pointer (&root);
  return TRUE;
}

/* ---------------------------------------------------------------------- */
/* Validation helpers                                                       */

typedef struct
{
  const char *name;   /* shown in messages */
  char *base_dir;     /* absolute: relative paths are resolved against it */
} Loader;

static const char *
kind_name (const Node *node)
{
  switch (node->kind)
    {
    case YAML_MAPPING_NODE:
      return "a mapping";
    case YAML_SEQUENCE_NODE:
      return "a list";
    case YAML_SCALAR_NODE:
    case YAML_NO_NODE:
    default:
      return "a scalar";
    }
}

static void
warn_unknown (const Loader *l, const Node *key, const char *path)
{
  g_warning ("%s:%u: %s: unknown key, ignored", l->name, key->line, path);
}

/* A string; a null value leaves *out (the default) unchanged. */
static gboolean
get_string (const Loader *l, const Node *v, const char *path, gsize max_len, char **out,
            GError **error)
{
  if (node_is_null (v))
    return TRUE;
  if (v->kind != YAML_SCALAR_NODE)
    return fail (error, l->name, v->line, path, "must be a string, not %s", kind_name (v));
  if (v->value_len > max_len)
    return fail (error, l->name, v->line, path, "too long (at most %" G_GSIZE_FORMAT " bytes)",
                 max_len);
  g_free (*out);
  *out = g_strdup (v->value);
  return TRUE;
}

static gboolean
get_bool (const Loader *l, const Node *v, const char *path, gboolean *out, GError **error)
{
  static const char *const yes[] = { "true", "yes", "on" };
  static const char *const no[] = { "false", "no", "off" };
  if (node_is_null (v))
    return TRUE;
  if (v->kind == YAML_SCALAR_NODE && v->plain)
    for (guint i = 0; i < G_N_ELEMENTS (yes); i++)
      {
        if (g_ascii_strcasecmp (v->value, yes[i]) == 0)
          {
            *out = TRUE;
            return TRUE;
          }
        if (g_ascii_strcasecmp (v->value, no[i]) == 0)
          {
            *out = FALSE;
            return TRUE;
          }
      }
  return fail (error, l->name, v->line, path, "must be true or false");
}

static gboolean
get_int (const Loader *l, const Node *v, const char *path, gint64 min, gint64 max, gint64 *out,
         GError **error)
{
  if (node_is_null (v))
    return TRUE;
  gint64 n = 0;
  if (v->kind != YAML_SCALAR_NODE || !v->plain
      || !g_ascii_string_to_signed (v->value, 10, G_MININT64, G_MAXINT64, &n, NULL))
    return fail (error, l->name, v->line, path, "must be an integer");
  if (n < 0 && min >= 0)
    return fail (error, l->name, v->line, path, "must not be negative (got %" G_GINT64_FORMAT ")",
                 n);
  if (n < min || n > max)
    return fail (error, l->name, v->line, path,
                 "must be between %" G_GINT64_FORMAT " and %" G_GINT64_FORMAT
                 " (got %" G_GINT64_FORMAT ")",
                 min, max, n);
  *out = n;
  return TRUE;
}

/* A list of strings, each accepted by `valid` (NULL: any), no duplicates. */
static gboolean
get_string_list (const Loader *l, const Node *v, const char *path, gboolean (*valid) (const char *),
                 const char *what, GPtrArray *out, GError **error)
{
  if (node_is_null (v))
    return TRUE;
  if (v->kind != YAML_SEQUENCE_NODE)
    return fail (error, l->name, v->line, path, "must be a list, not %s", kind_name (v));
  for (guint i = 0; i < v->items->len; i++)
    {
      const Node *item = g_ptr_array_index (v->items, i);
      g_autofree char *ipath = g_strdup_printf ("%s[%u]", path, i);
      if (item->kind != YAML_SCALAR_NODE)
        return fail (error, l->name, item->line, ipath, "must be a string, not %s",
                     kind_name (item));
      if (valid && !valid (item->value))
        return fail (error, l->name, item->line, ipath, "\"%s\" is not %s", item->value, what);
      for (guint j = 0; j < out->len; j++)
        if (g_ascii_strcasecmp (g_ptr_array_index (out, j), item->value) == 0)
          return fail (error, l->name, item->line, ipath, "\"%s\" is listed twice", item->value);
      g_ptr_array_add (out, g_strdup (item->value));
    }
  return TRUE;
}

/* A mapping section; null means "all defaults" (*is_null set). */
static gboolean
check_section (const Loader *l, const Node *v, const char *path, gboolean *is_null,
               GError **error)
{
  *is_null = node_is_null (v);
  if (*is_null || v->kind == YAML_MAPPING_NODE)
    return TRUE;
  return fail (error, l->name, v->line, path, "must be a mapping, not %s", kind_name (v));
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
  if (scheme == NULL || (g_ascii_strcasecmp (scheme, "http") != 0
                         && g_ascii_strcasecmp (scheme, "https") != 0))
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

static gboolean
get_url (const Loader *l, const Node *v, const char *path, char **out, GError **error)
{
  g_autofree char *s = NULL;
  if (!get_string (l, v, path, 2048, &s, error))
    return FALSE;
  if (s == NULL)
    return TRUE;
  char *url = normalize_http_url (s);
  if (url == NULL)
    return fail (error, l->name, v->line, path, "must be an http(s) URL (got \"%s\")", s);
  g_free (*out);
  *out = url;
  return TRUE;
}

/* A Matrix server name: DNS name, IPv4 or [IPv6], optional :port. */
static gboolean
is_server_name (const char *s)
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
static gboolean
split_mxid (const char *mxid, const char **server)
{
  if (mxid == NULL || mxid[0] != '@' || strlen (mxid) > MAX_MXID_LEN)
    return FALSE;
  const char *colon = strchr (mxid, ':');
  if (colon == NULL || colon == mxid + 1)
    return FALSE;
  for (const char *p = mxid + 1; p < colon; p++)
    if (*p < 0x21 || *p > 0x7e)
      return FALSE;
  if (!is_server_name (colon + 1))
    return FALSE;
  *server = colon + 1;
  return TRUE;
}

static gboolean
is_plugin_name (const char *s)
{
  gsize n = strlen (s);
  if (n == 0 || n > MAX_NAME_LEN)
    return FALSE;
  for (const char *p = s; *p; p++)
    if (!g_ascii_islower (*p) && !g_ascii_isdigit (*p))
      return FALSE;
  return TRUE;
}

static gboolean
is_ministry_name (const char *s)
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
static gboolean
is_localpart (const char *s, gsize max_len)
{
  gsize n = strlen (s);
  if (n == 0 || n > max_len)
    return FALSE;
  for (const char *p = s; *p; p++)
    if (!g_ascii_islower (*p) && !g_ascii_isdigit (*p) && strchr ("._=-/+", *p) == NULL)
      return FALSE;
  return TRUE;
}

static gboolean
is_token (const char *s)
{
  gsize n = strlen (s);
  if (n == 0 || n > MAX_TOKEN_LEN)
    return FALSE;
  for (const char *p = s; *p; p++)
    if (*p < 0x21 || *p > 0x7e)
      return FALSE;
  return TRUE;
}

static gboolean
is_simple_word (const char *s)
{
  if (s[0] == '\0')
    return FALSE;
  for (const char *p = s; *p; p++)
    if (g_ascii_isspace (*p) || g_ascii_iscntrl (*p))
      return FALSE;
  return TRUE;
}

static gboolean
level_from_string (const char *s, PaLevel *out)
{
  for (int lv = PA_LEVEL_BLOCK; lv <= PA_LEVEL_ADMIN; lv++)
    if (g_str_equal (s, pa_level_to_string ((PaLevel) lv)))
      {
        *out = (PaLevel) lv;
        return TRUE;
      }
  return FALSE;
}

/* ---------------------------------------------------------------------- */
/* Sections                                                                */

static void
ministry_free (PaMinistry *m)
{
  if (m == NULL)
    return;
  g_free (m->name);
  g_clear_pointer (&m->domains, g_ptr_array_unref);
  g_clear_pointer (&m->plugins, g_ptr_array_unref);
  g_free (m);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PaMinistry, ministry_free)

static void
permission_free (PaPermission *p)
{
  if (p == NULL)
    return;
  g_free (p->key);
  g_free (p);
}

static gboolean
load_homeserver (const Loader *l, PaConfig *c, const Node *map, GError **error)
{
  for (guint i = 0; i < node_n_pairs (map); i++)
    {
      const Node *k = node_key (map, i), *v = node_val (map, i);
      g_autofree char *path = g_strdup_printf ("homeserver.%s", k->value);
      gboolean ok = TRUE;
      if (g_str_equal (k->value, "address"))
        ok = get_url (l, v, path, &c->hs_address, error);
      else if (g_str_equal (k->value, "domain"))
        {
          ok = get_string (l, v, path, MAX_SERVER_NAME_LEN, &c->hs_domain, error);
          if (ok && c->hs_domain && !is_server_name (c->hs_domain))
            ok = fail (error, l->name, v->line, path, "\"%s\" is not a valid server name",
                       c->hs_domain);
        }
      else
        warn_unknown (l, k, path);
      if (!ok)
        return FALSE;
    }
  return TRUE;
}

static gboolean
load_bot (const Loader *l, PaConfig *c, const Node *map, GError **error)
{
  for (guint i = 0; i < node_n_pairs (map); i++)
    {
      const Node *k = node_key (map, i), *v = node_val (map, i);
      g_autofree char *path = g_strdup_printf ("appservice.bot.%s", k->value);
      gboolean ok = TRUE;
      if (g_str_equal (k->value, "localpart"))
        {
          ok = get_string (l, v, path, 255, &c->bot_localpart, error);
          if (ok && !is_localpart (c->bot_localpart, 255))
            ok = fail (error, l->name, v->line, path,
                       "must be a Matrix localpart (a-z, 0-9 and ._=-/+)");
        }
      else if (g_str_equal (k->value, "displayname"))
        ok = get_string (l, v, path, 256, &c->bot_displayname, error);
      else if (g_str_equal (k->value, "avatar"))
        {
          ok = get_string (l, v, path, 1024, &c->bot_avatar, error);
          if (ok && c->bot_avatar[0] != '\0' && !g_str_has_prefix (c->bot_avatar, "mxc://"))
            ok = fail (error, l->name, v->line, path, "must be an mxc:// URI or empty");
        }
      else
        warn_unknown (l, k, path);
      if (!ok)
        return FALSE;
    }
  return TRUE;
}

static gboolean
load_token (const Loader *l, const Node *v, const char *path, char **out, GError **error)
{
  if (!get_string (l, v, path, MAX_TOKEN_LEN, out, error))
    return FALSE;
  if (*out != NULL && (*out)[0] == '\0')
    g_clear_pointer (out, g_free); /* "" means "not generated yet" */
  if (*out != NULL && !is_token (*out))
    return fail (error, l->name, v->line, path, "must not contain spaces or control characters");
  return TRUE;
}

static gboolean
load_appservice (const Loader *l, PaConfig *c, const Node *map, GError **error)
{
  for (guint i = 0; i < node_n_pairs (map); i++)
    {
      const Node *k = node_key (map, i), *v = node_val (map, i);
      g_autofree char *path = g_strdup_printf ("appservice.%s", k->value);
      gboolean ok = TRUE, is_null = FALSE;
      gint64 n = c->as_port;
      if (g_str_equal (k->value, "id"))
        {
          ok = get_string (l, v, path, 255, &c->as_id, error);
          if (ok && !is_simple_word (c->as_id))
            ok = fail (error, l->name, v->line, path, "must be a non-empty word");
        }
      else if (g_str_equal (k->value, "address"))
        ok = get_url (l, v, path, &c->as_address, error);
      else if (g_str_equal (k->value, "bind"))
        {
          ok = get_string (l, v, path, 255, &c->as_bind, error);
          if (ok && !is_simple_word (c->as_bind))
            ok = fail (error, l->name, v->line, path, "must be an address to listen on");
        }
      else if (g_str_equal (k->value, "port"))
        {
          ok = get_int (l, v, path, 1, 65535, &n, error);
          c->as_port = (guint) n;
        }
      else if (g_str_equal (k->value, "as_token"))
        ok = load_token (l, v, path, &c->as_token, error);
      else if (g_str_equal (k->value, "hs_token"))
        ok = load_token (l, v, path, &c->hs_token, error);
      else if (g_str_equal (k->value, "bot"))
        {
          ok = check_section (l, v, path, &is_null, error);
          if (ok && !is_null)
            ok = load_bot (l, c, v, error);
        }
      else if (g_str_equal (k->value, "double_puppet"))
        ok = get_bool (l, v, path, &c->double_puppet, error);
      else if (g_str_equal (k->value, "ghost_prefix"))
        {
          ok = get_string (l, v, path, MAX_NAME_LEN, &c->ghost_prefix, error);
          if (ok && !is_localpart (c->ghost_prefix, MAX_NAME_LEN))
            ok = fail (error, l->name, v->line, path,
                       "must be a Matrix localpart prefix (a-z, 0-9 and ._=-/+)");
        }
      else
        warn_unknown (l, k, path);
      if (!ok)
        return FALSE;
    }
  if (c->as_token && c->hs_token && g_str_equal (c->as_token, c->hs_token))
    {
      const Node *k = node_lookup_key (map, "hs_token");
      return fail (error, l->name, k ? k->line : map->line, "appservice.hs_token",
                   "must differ from as_token");
    }
  return TRUE;
}

static gboolean
load_bridge (const Loader *l, PaConfig *c, const Node *map, GError **error)
{
  static const char *const visibilities[] = { "invited", "joined", "shared", "world_readable" };
  for (guint i = 0; i < node_n_pairs (map); i++)
    {
      const Node *k = node_key (map, i), *v = node_val (map, i);
      g_autofree char *path = g_strdup_printf ("bridge.%s", k->value);
      gboolean ok = TRUE;
      if (g_str_equal (k->value, "encryption_default"))
        ok = get_bool (l, v, path, &c->encryption_default, error);
      else if (g_str_equal (k->value, "presence"))
        ok = get_bool (l, v, path, &c->presence, error);
      else if (g_str_equal (k->value, "history_visibility"))
        {
          ok = get_string (l, v, path, 32, &c->history_visibility, error);
          gboolean known = FALSE;
          for (guint j = 0; ok && j < G_N_ELEMENTS (visibilities); j++)
            known |= g_str_equal (c->history_visibility, visibilities[j]);
          if (ok && !known)
            ok = fail (error, l->name, v->line, path,
                       "must be one of invited, joined, shared, world_readable");
        }
      else if (g_str_equal (k->value, "command_prefix"))
        {
          ok = get_string (l, v, path, 32, &c->command_prefix, error);
          if (ok && !is_simple_word (c->command_prefix))
            ok = fail (error, l->name, v->line, path, "must be a non-empty word without spaces");
        }
      else
        warn_unknown (l, k, path);
      if (!ok)
        return FALSE;
    }
  return TRUE;
}

/* mautrix's layout: default and require need allow (checked once the
 * whole file is read, as bridge.encryption_default may come later). */
static gboolean
load_encryption (const Loader *l, PaConfig *c, const Node *map, GError **error)
{
  for (guint i = 0; i < node_n_pairs (map); i++)
    {
      const Node *k = node_key (map, i), *v = node_val (map, i);
      g_autofree char *path = g_strdup_printf ("encryption.%s", k->value);
      gboolean ok = TRUE;
      if (g_str_equal (k->value, "allow"))
        ok = get_bool (l, v, path, &c->encryption_allow, error);
      else if (g_str_equal (k->value, "default"))
        ok = get_bool (l, v, path, &c->encryption_default, error);
      else if (g_str_equal (k->value, "require"))
        ok = get_bool (l, v, path, &c->encryption_require, error);
      else
        warn_unknown (l, k, path);
      if (!ok)
        return FALSE;
    }
  return TRUE;
}

/* The byte limits: key, field, bounds. */
static const struct {
  const char *key;
  gsize offset;
  gint64 min, max;
} byte_limits[] = {
  { "max_body_bytes", G_STRUCT_OFFSET (PaConfig, max_body_bytes), 1024,
    G_GINT64_CONSTANT (1) << 30 },
  { "max_media_bytes", G_STRUCT_OFFSET (PaConfig, max_media_bytes), 1024,
    G_GINT64_CONSTANT (16) << 30 },
  { "max_import_bytes", G_STRUCT_OFFSET (PaConfig, max_import_bytes), 1024,
    G_GINT64_CONSTANT (1) << 40 },
};

static gboolean
load_limits (const Loader *l, PaConfig *c, const Node *map, GError **error)
{
  for (guint i = 0; i < node_n_pairs (map); i++)
    {
      const Node *k = node_key (map, i), *v = node_val (map, i);
      g_autofree char *path = g_strdup_printf ("limits.%s", k->value);
      gboolean ok = TRUE, known = FALSE;
      for (guint b = 0; b < G_N_ELEMENTS (byte_limits) && !known; b++)
        if (g_str_equal (k->value, byte_limits[b].key))
          {
            gint64 *field = G_STRUCT_MEMBER_P (c, byte_limits[b].offset);
            ok = get_int (l, v, path, byte_limits[b].min, byte_limits[b].max, field, error);
            known = TRUE;
          }
      if (!known && g_str_equal (k->value, "max_events_per_txn"))
        {
          gint64 n = c->max_events_per_txn;
          ok = get_int (l, v, path, 1, 100000, &n, error);
          c->max_events_per_txn = (guint) n;
          known = TRUE;
        }
      if (!known)
        warn_unknown (l, k, path);
      if (!ok)
        return FALSE;
    }
  return TRUE;
}

static gboolean
load_workers (const Loader *l, PaConfig *c, const Node *map, GError **error)
{
  for (guint i = 0; i < node_n_pairs (map); i++)
    {
      const Node *k = node_key (map, i), *v = node_val (map, i);
      g_autofree char *path = g_strdup_printf ("workers.%s", k->value);
      gboolean ok = TRUE;
      if (g_str_equal (k->value, "restart_max_delay_s"))
        {
          gint64 n = c->worker_restart_max_delay_s;
          ok = get_int (l, v, path, 1, 86400, &n, error);
          c->worker_restart_max_delay_s = (guint) n;
        }
      else
        warn_unknown (l, k, path);
      if (!ok)
        return FALSE;
    }
  return TRUE;
}

static gboolean
load_ministry (const Loader *l, PaConfig *c, const Node *map, const char *mpath, GError **error)
{
  g_autoptr (PaMinistry) m = g_new0 (PaMinistry, 1);
  m->domains = g_ptr_array_new_with_free_func (g_free);
  m->plugins = g_ptr_array_new_with_free_func (g_free);
  const Node *domains_node = NULL;
  for (guint i = 0; i < node_n_pairs (map); i++)
    {
      const Node *k = node_key (map, i), *v = node_val (map, i);
      g_autofree char *path = g_strdup_printf ("%s.%s", mpath, k->value);
      gboolean ok = TRUE;
      if (g_str_equal (k->value, "name"))
        {
          ok = get_string (l, v, path, MAX_NAME_LEN, &m->name, error);
          if (ok && m->name && !is_ministry_name (m->name))
            ok = fail (error, l->name, v->line, path, "must match [a-z0-9_-]+");
          if (ok && m->name && pa_config_ministry_by_name (c, m->name))
            ok = fail (error, l->name, v->line, path, "duplicate ministry name \"%s\"", m->name);
        }
      else if (g_str_equal (k->value, "domains"))
        {
          domains_node = v;
          ok = get_string_list (l, v, path, is_server_name, "a server name", m->domains, error);
          for (guint j = 0; ok && j < m->domains->len; j++)
            {
              const char *d = g_ptr_array_index (m->domains, j);
              g_autofree char *probe = g_strdup_printf ("@x:%s", d);
              const PaMinistry *other = pa_config_ministry_for (c, probe);
              if (other)
                ok = fail (error, l->name, v->line, path,
                           "domain \"%s\" already belongs to ministry \"%s\"", d, other->name);
            }
        }
      else if (g_str_equal (k->value, "plugins"))
        ok = get_string_list (l, v, path, is_plugin_name, "a plugin name ([a-z0-9]+)",
                              m->plugins, error);
      else
        warn_unknown (l, k, path);
      if (!ok)
        return FALSE;
    }
  if (m->name == NULL)
    {
      g_autofree char *path = g_strconcat (mpath, ".name", NULL);
      return fail (error, l->name, map->line, path, "required");
    }
  if (m->domains->len == 0)
    {
      g_autofree char *path = g_strconcat (mpath, ".domains", NULL);
      return fail (error, l->name, domains_node ? domains_node->line : map->line, path,
                   "at least one domain is required");
    }
  g_ptr_array_add (c->ministries, g_steal_pointer (&m));
  return TRUE;
}

static gboolean
load_ministries (const Loader *l, PaConfig *c, const Node *v, GError **error)
{
  if (node_is_null (v))
    return TRUE;
  if (v->kind != YAML_SEQUENCE_NODE)
    return fail (error, l->name, v->line, "ministries", "must be a list, not %s", kind_name (v));
  for (guint i = 0; i < v->items->len; i++)
    {
      const Node *item = g_ptr_array_index (v->items, i);
      g_autofree char *path = g_strdup_printf ("ministries[%u]", i);
      if (item->kind != YAML_MAPPING_NODE)
        return fail (error, l->name, item->line, path, "must be a mapping, not %s",
                     kind_name (item));
      if (!load_ministry (l, c, item, path, error))
        return FALSE;
    }
  return TRUE;
}

static gboolean
load_permissions (const Loader *l, PaConfig *c, const Node *map, GError **error)
{
  for (guint i = 0; i < node_n_pairs (map); i++)
    {
      const Node *k = node_key (map, i), *v = node_val (map, i);
      g_autofree char *path = g_strdup_printf ("permissions.%s", k->value);
      const char *server = NULL;
      if (!g_str_equal (k->value, "*") && !is_server_name (k->value)
          && !split_mxid (k->value, &server))
        return fail (error, l->name, k->line, path,
                     "key must be \"*\", a domain or an @localpart:domain user ID");
      PaLevel level = PA_LEVEL_BLOCK;
      if (v->kind != YAML_SCALAR_NODE || !level_from_string (v->value, &level))
        return fail (error, l->name, v->line, path,
                     "level must be one of block, relay, user, admin");
      PaPermission *p = g_new0 (PaPermission, 1);
      p->key = g_strdup (k->value);
      p->level = level;
      g_ptr_array_add (c->permissions, p);
    }
  return TRUE;
}

static PaConfig *
config_new_defaults (void)
{
  PaConfig *c = g_new0 (PaConfig, 1);
  c->as_id = g_strdup ("passerelle");
  c->as_address = g_strdup ("http://127.0.0.1:29340");
  c->as_bind = g_strdup ("127.0.0.1");
  c->as_port = 29340;
  c->bot_localpart = g_strdup ("passerelle");
  c->bot_displayname = g_strdup ("Passerelle");
  c->bot_avatar = g_strdup ("");
  c->ghost_prefix = g_strdup ("_pa_");
  c->database = g_strdup ("passerelle.db");
  c->data_dir = g_strdup ("data");
  c->plugin_dir = g_strdup (PA_PLUGIN_DIR);
  c->encryption_default = TRUE;
  c->encryption_allow = TRUE;
  c->history_visibility = g_strdup ("invited");
  c->command_prefix = g_strdup ("!pa");
  c->max_body_bytes = 32 * 1024 * 1024;
  c->max_media_bytes = 100 * 1024 * 1024;
  c->max_import_bytes = G_GINT64_CONSTANT (4) << 30;
  c->max_events_per_txn = 1000;
  c->worker_restart_max_delay_s = 60;
  c->ministries = g_ptr_array_new_with_free_func ((GDestroyNotify) ministry_free);
  c->permissions = g_ptr_array_new_with_free_func ((GDestroyNotify) permission_free);
  return c;
}

static gboolean
load_path (const Loader *l, const Node *v, const char *path, char **out, GError **error)
{
  if (!get_string (l, v, path, 4096, out, error))
    return FALSE;
  if ((*out)[0] == '\0')
    return fail (error, l->name, v->line, path, "must not be empty");
  return TRUE;
}

static void
resolve_path (const Loader *l, char **p)
{
  char *abs = g_canonicalize_filename (*p, l->base_dir);
  g_free (*p);
  *p = abs;
}

typedef gboolean (*SectionLoader) (const Loader *l, PaConfig *c, const Node *map, GError **error);

static gboolean
load_section (const Loader *l, PaConfig *c, const Node *v, const char *path, SectionLoader fn,
              GError **error)
{
  gboolean is_null = FALSE;
  if (!check_section (l, v, path, &is_null, error))
    return FALSE;
  return is_null || fn (l, c, v, error);
}

static PaConfig *
config_from_tree (const Loader *l, const Node *root, GError **error)
{
  g_autoptr (PaConfig) c = config_new_defaults ();
  guint root_line = root ? root->line : 1;
  if (root != NULL && !node_is_null (root) && root->kind != YAML_MAPPING_NODE)
    {
      fail (error, l->name, root->line, "(top level)", "must be a mapping, not %s",
            kind_name (root));
      return NULL;
    }
  gboolean have_permissions = FALSE;
  guint n = (root && root->kind == YAML_MAPPING_NODE) ? node_n_pairs (root) : 0;
  for (guint i = 0; i < n; i++)
    {
      const Node *k = node_key (root, i), *v = node_val (root, i);
      const char *key = k->value;
      gboolean ok = TRUE;
      if (g_str_equal (key, "homeserver"))
        ok = load_section (l, c, v, key, load_homeserver, error);
      else if (g_str_equal (key, "appservice"))
        ok = load_section (l, c, v, key, load_appservice, error);
      else if (g_str_equal (key, "bridge"))
        ok = load_section (l, c, v, key, load_bridge, error);
      else if (g_str_equal (key, "encryption"))
        ok = load_section (l, c, v, key, load_encryption, error);
      else if (g_str_equal (key, "limits"))
        ok = load_section (l, c, v, key, load_limits, error);
      else if (g_str_equal (key, "workers"))
        ok = load_section (l, c, v, key, load_workers, error);
      else if (g_str_equal (key, "database"))
        ok = load_path (l, v, key, &c->database, error);
      else if (g_str_equal (key, "data_dir"))
        ok = load_path (l, v, key, &c->data_dir, error);
      else if (g_str_equal (key, "plugin_dir"))
        ok = load_path (l, v, key, &c->plugin_dir, error);
      else if (g_str_equal (key, "ministries"))
        ok = load_ministries (l, c, v, error);
      else if (g_str_equal (key, "permissions"))
        {
          have_permissions = !node_is_null (v);
          ok = load_section (l, c, v, key, load_permissions, error);
        }
      else
        warn_unknown (l, k, key);
      if (!ok)
        return NULL;
    }

  if ((c->encryption_default || c->encryption_require) && !c->encryption_allow)
    {
      const Node *enc = (root && root->kind == YAML_MAPPING_NODE)
                            ? node_lookup (root, "encryption") : NULL;
      fail (error, l->name, enc ? enc->line : root_line, "encryption.allow",
            "must be true when encryption.default or encryption.require is");
      return NULL;
    }
  const Node *hs = (root && root->kind == YAML_MAPPING_NODE) ? node_lookup (root, "homeserver")
                                                              : NULL;
  guint hs_line = hs ? hs->line : root_line;
  if (c->hs_address == NULL)
    {
      fail (error, l->name, hs_line, "homeserver.address", "required");
      return NULL;
    }
  if (c->hs_domain == NULL)
    {
      fail (error, l->name, hs_line, "homeserver.domain", "required");
      return NULL;
    }
  /* Without a permissions section, users of our own homeserver may use the
   * bridge and nobody else: the safe default that still works out of the box. */
  if (!have_permissions)
    {
      PaPermission *p = g_new0 (PaPermission, 1);
      p->key = g_strdup (c->hs_domain);
      p->level = PA_LEVEL_USER;
      g_ptr_array_add (c->permissions, p);
    }
  resolve_path (l, &c->database);
  resolve_path (l, &c->data_dir);
  resolve_path (l, &c->plugin_dir);
  return g_steal_pointer (&c);
}

static PaConfig *
load_internal (const char *data, gsize len, const char *name, GError **error)
{
  g_autoptr (Node) root = NULL;
  if (!parse_yaml (data, len, name, &root, error))
    return NULL;
  g_autofree char *dir = g_path_get_dirname (name);
  Loader l = { .name = name, .base_dir = g_canonicalize_filename (dir, NULL) };
  PaConfig *c = config_from_tree (&l, root, error);
  g_free (l.base_dir);
  return c;
}

/* Reads at most MAX_FILE_BYTES, so a huge or endless file cannot exhaust memory. */
static char *
read_limited (const char *path, gsize *len_out, GError **error)
{
  int fd = g_open (path, O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0)
    {
      int e = errno;
      g_set_error (error, PA_ERROR, PA_ERROR_CONFIG, "%s: cannot open: %s", path, g_strerror (e));
      return NULL;
    }
  g_autofree char *buf = g_malloc (MAX_FILE_BYTES + 2);
  gsize len = 0;
  while (len <= MAX_FILE_BYTES)
    {
      ssize_t r = read (fd, buf + len, MAX_FILE_BYTES + 1 - len);
      if (r < 0 && errno == EINTR)
        continue;
      if (r < 0)
        {
          int e = errno;
          close (fd);
          g_set_error (error, PA_ERROR, PA_ERROR_CONFIG, "%s: cannot read: %s", path,
                       g_strerror (e));
          return NULL;
        }
      if (r == 0)
        break;
      len += (gsize) r;
    }
  close (fd);
  if (len > MAX_FILE_BYTES)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_CONFIG, "%s: file too large (more than %d bytes)",
                   path, MAX_FILE_BYTES);
      return NULL;
    }
  buf[len] = '\0';
  *len_out = len;
  return g_steal_pointer (&buf);
}

PaConfig *
pa_config_load (const char *path, GError **error)
{
  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  gsize len = 0;
  g_autofree char *data = read_limited (path, &len, error);
  if (data == NULL)
    return NULL;
  PaConfig *c = load_internal (data, len, path, error);
  if (c != NULL)
    c->path = g_canonicalize_filename (path, NULL);
  return c;
}

PaConfig *
pa_config_load_from_data (const char *data, gsize len, const char *name, GError **error)
{
  g_return_val_if_fail (data != NULL || len == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  return load_internal (data ? data : "", len, name ? name : "<memory>", error);
}

void
pa_config_free (PaConfig *c)
{
  if (c == NULL)
    return;
  g_free (c->hs_address);
  g_free (c->hs_domain);
  g_free (c->as_id);
  g_free (c->as_address);
  g_free (c->as_bind);
  g_free (c->as_token);
  g_free (c->hs_token);
  g_free (c->bot_localpart);
  g_free (c->bot_displayname);
  g_free (c->bot_avatar);
  g_free (c->ghost_prefix);
  g_free (c->database);
  g_free (c->data_dir);
  g_free (c->plugin_dir);
  g_free (c->history_visibility);
  g_free (c->command_prefix);
  g_clear_pointer (&c->ministries, g_ptr_array_unref);
  g_clear_pointer (&c->permissions, g_ptr_array_unref);
  g_free (c->path);
  g_free (c);
}

/* ---------------------------------------------------------------------- */
/* Example                                                                  */

static const char example_text[] =
  "# Passerelle configuration.\n"
  "#\n"
  "# Everything except homeserver.address and homeserver.domain has a default.\n"
  "# Relative paths are relative to the directory of this file.  Unknown keys\n"
  "# are reported as warnings and ignored.\n"
  "\n"
  "homeserver:\n"
  "  # How Passerelle reaches the homeserver's client-server API (http or https).\n"
  "  address: http://127.0.0.1:8008\n"
  "  # The server name: the part after the colon in user IDs (@alice:localhost).\n"
  "  domain: localhost\n"
  "\n"
  "appservice:\n"
  "  # Application service ID, unique on the homeserver.\n"
  "  id: passerelle\n"
  "  # How the homeserver reaches Passerelle; written into the registration file.\n"
  "  address: http://127.0.0.1:29340\n"
  "  # Address and port Passerelle listens on for homeserver transactions.\n"
  "  bind: 127.0.0.1\n"
  "  port: 29340\n"
  "  # as_token and hs_token are generated by `passerelle -g` and written here;\n"
  "  # keep this file private (mode 0600).\n"
  "  # The bridge bot that users talk to in management rooms.\n"
  "  bot:\n"
  "    localpart: passerelle\n"
  "    displayname: Passerelle\n"
  "    # An mxc:// URI, or empty for no avatar.\n"
  "    avatar: \"\"\n"
  "  # Localpart prefix of ghost users (remote contacts): @_pa_<plugin>_<id>:<domain>.\n"
  "  # The registration claims every user and alias starting with it.\n"
  "  ghost_prefix: _pa_\n"
  "  # Double puppeting: the registration also claims (non-exclusively) every user of\n"
  "  # the homeserver, so that an agent's own messages in imported history are sent as\n"
  "  # the agent. The homeserver then sends the bridge every event of its users.\n"
  "  double_puppet: false\n"
  "\n"
  "# SQLite database holding portals, ghosts, logins and message mappings.\n"
  "database: passerelle.db\n"
  "# Per-login worker data directories are created below this directory.\n"
  "data_dir: data\n"
  "# Where plugins (<name>.so) are looked up; the default is chosen at build time\n"
  "# (<prefix>/<libdir>/passerelle).\n"
  "#plugin_dir: /usr/lib/passerelle\n"
  "\n"
  "bridge:\n"
  "  # History visibility of new portal rooms: invited, joined, shared or world_readable.\n"
  "  history_visibility: invited\n"
  "  # Prefix of bridge commands in portal rooms; management rooms take bare commands.\n"
  "  command_prefix: \"!pa\"\n"
  "  # Show contacts' presence (online, away, offline) on their Matrix users. Needs\n"
  "  # presence enabled on the homeserver (Tchap runs without it).\n"
  "  presence: false\n"
  "\n"
  "# End-to-bridge encryption (docs/encryption.md): the bot logs in a device of its\n"
  "# own and reads and writes encrypted rooms through it.\n"
  "encryption:\n"
  "  # Run the bot device: without it, encrypted messages are answered with a notice.\n"
  "  allow: true\n"
  "  # Create portal rooms with end-to-end encryption enabled (Tchap's default).\n"
  "  # bridge.encryption_default is accepted as an older name for this key.\n"
  "  default: true\n"
  "  # Refuse (with a notice) unencrypted messages sent into portals.\n"
  "  require: false\n"
  "\n"
  "limits:\n"
  "  # Largest homeserver transaction body accepted, in bytes.\n"
  "  max_body_bytes: 33554432\n"
  "  # Largest media file bridged, in bytes.\n"
  "  max_media_bytes: 104857600\n"
  "  # Largest export file (and total uncompressed archive size) an import may read.\n"
  "  max_import_bytes: 4294967296\n"
  "  # Transactions with more events are refused (HTTP 413).\n"
  "  max_events_per_txn: 1000\n"
  "\n"
  "workers:\n"
  "  # A crashed plugin worker is restarted with exponential back-off up to this delay.\n"
  "  restart_max_delay_s: 60\n"
  "\n"
  "# Ministries: groups of homeserver domains and the plugins (networks) their\n"
  "# users may bridge.  A user belongs to the ministry listing their server name.\n"
  "# Names match [a-z0-9_-]+; plugin names match [a-z0-9]+.  Admins can change\n"
  "# the plugins at run time.\n"
  "ministries:\n"
  "  - name: local\n"
  "    domains: [localhost]\n"
  "    plugins: [whatsapp, telegram]\n"
  "  - name: finances\n"
  "    domains: [agent.finances.tchap.gouv.fr]\n"
  "    plugins: [whatsapp, telegram]\n"
  "\n"
  "# Who may use the bridge: keys are \"*\" (everyone), a server name, or a user\n"
  "# ID; the most specific entry wins.  Levels: block (ignored), relay (may talk\n"
  "# in portals through a relay), user (may log in and use enabled plugins),\n"
  "# admin (may also manage ministries and see status).  Without this section\n"
  "# only users of homeserver.domain may use the bridge, as \"user\".\n"
  "permissions:\n"
  "  \"*\": relay\n"
  "  localhost: user\n"
  "  agent.finances.tchap.gouv.fr: user\n"
  "  \"@admin:localhost\": admin\n";

const char *
pa_config_example_text (void)
{
  return example_text;
}

gboolean
pa_config_write_example (const char *path, GError **error)
{
  g_return_val_if_fail (path != NULL, FALSE);
  /* 0600: the file will hold the appservice tokens once `-g` has run. */
  return g_file_set_contents_full (path, example_text, (gssize) strlen (example_text),
                                   G_FILE_SET_CONTENTS_CONSISTENT, 0600, error);
}

/* ---------------------------------------------------------------------- */
/* Token write-back                                                         */

typedef struct
{
  gsize at;    /* byte offset */
  gsize del;   /* bytes removed at `at` */
  char *text;  /* inserted at `at` */
} Edit;

static void
edit_clear (gpointer p)
{
  g_free (((Edit *) p)->text);
}

static gint
edit_cmp_desc (gconstpointer a, gconstpointer b)
{
  const Edit *ea = a, *eb = b;
  return ea->at < eb->at ? 1 : ea->at > eb->at ? -1 : 0;
}

static void
add_edit (GArray *edits, gsize at, gsize del, char *text)
{
  Edit e = { at, del, text };
  g_array_append_val (edits, e);
}

/* libyaml marks count characters; the file is valid UTF-8 (checked by
 * parse_yaml), so walk it to get byte offsets. */
static gsize
byte_offset (const char *data, gsize char_index)
{
  return (gsize) (g_utf8_offset_to_pointer (data, (glong) char_index) - data);
}

/* Byte offset just after the line containing byte `from`, and whether that
 * line ended at end of file without a newline. */
static gsize
after_line (const char *data, gsize len, gsize from, gboolean *missing_newline)
{
  gsize i = from;
  while (i < len && data[i] != '\n' && data[i] != '\r')
    i++;
  *missing_newline = i >= len;
  if (i < len && data[i] == '\r')
    {
      i++;
      if (i < len && data[i] == '\n')
        i++;
    }
  else if (i < len)
    i++;
  return i;
}

static char *
token_line (const char *key, const char *token)
{
  return g_strdup_printf ("%s: \"%s\"", key, token);
}

/* Replaces "key: old value" by "key: "token"" in place. */
static void
edit_replace_token (GArray *edits, const char *data, const Node *k, const Node *v,
                    const char *key, const char *token)
{
  gsize from = byte_offset (data, k->start);
  gsize to = byte_offset (data, v->end);
  char *text = token_line (key, token);
  /* Block scalars (| or >) end after their line break: keep one. */
  if (to > from && data[to - 1] == '\n')
    {
      char *t = g_strconcat (text, "\n", NULL);
      g_free (text);
      text = t;
    }
  add_edit (edits, from, to - from, text);
}

static gboolean
plan_token_edits (const char *data, gsize len, const char *name, const Node *root,
                  const char *as_token, const char *hs_token, GArray *edits, GError **error)
{
  const char *nl = strstr (data, "\r\n") ? "\r\n" : "\n";
  const char *keys[2] = { "as_token", "hs_token" };
  const char *values[2] = { as_token, hs_token };

  if (root == NULL || root->kind != YAML_MAPPING_NODE || root->flow)
    return fail (error, name, 1, "appservice", "cannot store the tokens: the top level is not "
                 "a block mapping; add as_token and hs_token by hand");

  const Node *key = node_lookup_key (root, "appservice");
  const Node *section = node_lookup (root, "appservice");
  if (section == NULL)
    {
      g_autofree char *ind = g_strnfill (root->column, ' ');
      g_autofree char *ind2 = g_strnfill (root->column + 2, ' ');
      gboolean ends_nl = len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r');
      add_edit (edits, len, 0,
                g_strdup_printf ("%s%sappservice:%s%s%s: \"%s\"%s%s%s: \"%s\"%s",
                                 ends_nl || len == 0 ? "" : nl, ind, nl, ind2, keys[0],
                                 values[0], nl, ind2, keys[1], values[1], nl));
      return TRUE;
    }

  if (node_is_null (section) || (section->kind == YAML_MAPPING_NODE && !section->flow))
    {
      g_autoptr (GString) insert = g_string_new (NULL);
      /* Children line up with the existing ones, or two spaces in. */
      guint indent = key->column + 2;
      if (!node_is_null (section) && node_n_pairs (section) > 0)
        indent = section->column;
      g_autofree char *ind = g_strnfill (indent, ' ');
      for (guint t = 0; t < 2; t++)
        {
          const Node *tk = node_is_null (section) ? NULL : node_lookup_key (section, keys[t]);
          const Node *tv = node_is_null (section) ? NULL : node_lookup (section, keys[t]);
          if (tk == NULL)
            g_string_append_printf (insert, "%s%s: \"%s\"%s", ind, keys[t], values[t], nl);
          else if (tv->kind != YAML_SCALAR_NODE)
            return fail (error, name, tv->line, keys[t], "must be a string");
          else if (!g_str_equal (tv->value, values[t]))
            edit_replace_token (edits, data, tk, tv, keys[t], values[t]);
        }
      if (insert->len > 0)
        {
          gsize key_end = byte_offset (data, key->end);
          if (node_is_null (section) && section->end > section->start)
            {
              /* "appservice: ~": drop the null so children can follow. */
              gsize s = byte_offset (data, section->start);
              add_edit (edits, s, byte_offset (data, section->end) - s, g_strdup (""));
              key_end = byte_offset (data, section->end);
            }
          gboolean missing_nl = FALSE;
          gsize at = after_line (data, len, key_end, &missing_nl);
          if (missing_nl)
            g_string_prepend (insert, nl);
          add_edit (edits, at, 0, g_string_free (g_steal_pointer (&insert), FALSE));
        }
      return TRUE;
    }

  if (section->kind == YAML_MAPPING_NODE)
    {
      /* Flow mapping "{...}": insert right after the brace. */
      g_autoptr (GString) insert = g_string_new (NULL);
      for (guint t = 0; t < 2; t++)
        {
          const Node *tk = node_lookup_key (section, keys[t]);
          const Node *tv = node_lookup (section, keys[t]);
          if (tk == NULL)
            g_string_append_printf (insert, "%s%s: \"%s\"", insert->len ? ", " : "", keys[t],
                                    values[t]);
          else if (tv->kind != YAML_SCALAR_NODE)
            return fail (error, name, tv->line, keys[t], "must be a string");
          else if (!g_str_equal (tv->value, values[t]))
            edit_replace_token (edits, data, tk, tv, keys[t], values[t]);
        }
      if (insert->len > 0)
        {
          if (node_n_pairs (section) > 0)
            g_string_append (insert, ", ");
          add_edit (edits, byte_offset (data, section->start) + 1, 0,
                    g_string_free (g_steal_pointer (&insert), FALSE));
        }
      return TRUE;
    }
  return fail (error, name, section->line, "appservice", "must be a mapping");
}

/* Makes the file at config->path hold `as_token` and `hs_token`, touching
 * only the token lines; the result is re-validated before it is written. */
static gboolean
store_tokens (PaConfig *config, const char *as_token, const char *hs_token, GError **error)
{
  if (config->path == NULL)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_CONFIG,
                   "the configuration was not loaded from a file: cannot store generated tokens");
      return FALSE;
    }
  gsize len = 0;
  g_autofree char *data = read_limited (config->path, &len, error);
  if (data == NULL)
    return FALSE;
  g_autoptr (Node) root = NULL;
  if (!parse_yaml (data, len, config->path, &root, error))
    return FALSE;
  g_autoptr (GArray) edits = g_array_new (FALSE, FALSE, sizeof (Edit));
  g_array_set_clear_func (edits, edit_clear);
  if (!plan_token_edits (data, len, config->path, root, as_token, hs_token, edits, error))
    return FALSE;
  if (edits->len == 0)
    return TRUE;
  g_array_sort (edits, edit_cmp_desc);
  g_autoptr (GString) out = g_string_new_len (data, (gssize) len);
  for (guint i = 0; i < edits->len; i++)
    {
      const Edit *e = &g_array_index (edits, Edit, i);
      g_string_erase (out, (gssize) e->at, (gssize) e->del);
      g_string_insert (out, (gssize) e->at, e->text);
    }

  /* Never write a file we could not load back with the same tokens. */
  g_autoptr (GError) check_error = NULL;
  g_autoptr (PaConfig) check = load_internal (out->str, out->len, config->path, &check_error);
  if (check == NULL || g_strcmp0 (check->as_token, as_token) != 0
      || g_strcmp0 (check->hs_token, hs_token) != 0)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_CONFIG,
                   "%s: cannot store the generated tokens automatically (%s); add "
                   "appservice.as_token and appservice.hs_token by hand",
                   config->path, check_error ? check_error->message : "tokens not read back");
      return FALSE;
    }
  return g_file_set_contents_full (config->path, out->str, (gssize) out->len,
                                   G_FILE_SET_CONTENTS_CONSISTENT, 0600, error);
}

/* ---------------------------------------------------------------------- */
/* Registration                                                             */

static void
append_dq (GString *s, const char *v)
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

/* A single-quoted YAML scalar holding an anchored regex of `prefix` + `mid`
 * + ":" + domain, with regex metacharacters escaped. */
static void
append_regex (GString *s, char sigil, const char *local, const char *rest, const char *domain)
{
  g_autofree char *el = g_regex_escape_string (local, -1);
  g_autofree char *ed = g_regex_escape_string (domain, -1);
  g_autofree char *re = g_strdup_printf ("^%c%s%s:%s$", sigil, el, rest, ed);
  g_string_append_c (s, '\'');
  for (const char *p = re; *p; p++)
    {
      if (*p == '\'')
        g_string_append_c (s, '\'');
      g_string_append_c (s, *p);
    }
  g_string_append_c (s, '\'');
}

static gint
cmp_str_ptr (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

static char *
build_registration (const PaConfig *c)
{
  GString *s = g_string_new ("# Passerelle appservice registration, generated by `passerelle -g`.\n"
                             "# Give it to the homeserver (Synapse: app_service_config_files) and\n"
                             "# keep it private: it holds the tokens.\n");
  g_string_append (s, "id: ");
  append_dq (s, c->as_id);
  g_string_append (s, "\nurl: ");
  append_dq (s, c->as_address);
  g_string_append (s, "\nas_token: ");
  append_dq (s, c->as_token);
  g_string_append (s, "\nhs_token: ");
  append_dq (s, c->hs_token);
  g_string_append (s, "\nsender_localpart: ");
  append_dq (s, c->bot_localpart);
  g_string_append (s, "\nrate_limited: false\n"
                      "receive_ephemeral: true\n"
                      "de.sorunome.msc2409.push_ephemeral: true\n"
                      "# Device lists and one-time key counts in transactions (encryption).\n"
                      "org.matrix.msc3202: true\n"
                      "namespaces:\n"
                      "  users:\n"
                      "    # The bridge bot.\n"
                      "    - exclusive: true\n"
                      "      regex: ");
  append_regex (s, '@', c->bot_localpart, "", c->hs_domain);
  g_string_append (s, "\n    # Ghosts of remote contacts.\n");

  g_autoptr (GPtrArray) plugins = g_ptr_array_new ();
  for (guint i = 0; c->ministries && i < c->ministries->len; i++)
    {
      const PaMinistry *m = g_ptr_array_index (c->ministries, i);
      for (guint j = 0; m->plugins && j < m->plugins->len; j++)
        {
          const char *p = g_ptr_array_index (m->plugins, j);
          gboolean seen = FALSE;
          for (guint k = 0; k < plugins->len && !seen; k++)
            seen = g_str_equal (g_ptr_array_index (plugins, k), p);
          if (!seen)
            g_ptr_array_add (plugins, (gpointer) p);
        }
    }
  g_ptr_array_sort (plugins, cmp_str_ptr);
  for (guint i = 0; i < plugins->len; i++)
    g_string_append_printf (s, "    # plugin %s: @%s%s_<id>:%s\n",
                            (const char *) g_ptr_array_index (plugins, i), c->ghost_prefix,
                            (const char *) g_ptr_array_index (plugins, i), c->hs_domain);
  g_string_append (s, "    - exclusive: true\n"
                      "      regex: ");
  append_regex (s, '@', c->ghost_prefix, ".*", c->hs_domain);
  if (c->double_puppet)
    {
      g_string_append (s, "\n    # Double puppeting: the agents themselves (not exclusive).\n"
                          "    - exclusive: false\n"
                          "      regex: ");
      append_regex (s, '@', "", ".*", c->hs_domain);
    }
  g_string_append (s, "\n  aliases:\n"
                      "    - exclusive: true\n"
                      "      regex: ");
  append_regex (s, '#', c->ghost_prefix, ".*", c->hs_domain);
  g_string_append (s, "\n  rooms: []\n");
  return g_string_free (s, FALSE);
}

gboolean
pa_config_write_registration (PaConfig *config, const char *registration_path, GError **error)
{
  g_return_val_if_fail (config != NULL, FALSE);
  g_return_val_if_fail (registration_path != NULL, FALSE);
  g_return_val_if_fail (config->hs_domain != NULL, FALSE);

  if (config->as_token == NULL || config->hs_token == NULL)
    {
      g_autofree char *as_token = config->as_token ? g_strdup (config->as_token)
                                                   : pa_random_token (32);
      g_autofree char *hs_token = config->hs_token ? g_strdup (config->hs_token)
                                                   : pa_random_token (32);
      /* The config file first: a registration whose tokens are not stored
       * anywhere else would lock the bridge out after a restart. */
      if (!store_tokens (config, as_token, hs_token, error))
        return FALSE;
      g_free (config->as_token);
      config->as_token = g_steal_pointer (&as_token);
      g_free (config->hs_token);
      config->hs_token = g_steal_pointer (&hs_token);
    }
  g_autofree char *text = build_registration (config);
  return g_file_set_contents_full (registration_path, text, (gssize) strlen (text),
                                   G_FILE_SET_CONTENTS_CONSISTENT, 0600, error);
}

/* ---------------------------------------------------------------------- */
/* Look-ups                                                                 */

PaLevel
pa_config_level_for (const PaConfig *config, const char *mxid)
{
  g_return_val_if_fail (config != NULL, PA_LEVEL_BLOCK);
  const char *server = NULL;
  if (!split_mxid (mxid, &server))
    return PA_LEVEL_BLOCK;
  gsize local_len = (gsize) (server - mxid); /* "@local:" */
  int exact = -1, domain = -1, star = -1;
  for (guint i = 0; config->permissions && i < config->permissions->len; i++)
    {
      const PaPermission *p = g_ptr_array_index (config->permissions, i);
      if (p->key == NULL)
        continue;
      if (p->key[0] == '@')
        {
          /* Localparts compare exactly; server names are case-insensitive. */
          if (strncmp (p->key, mxid, local_len) == 0
              && g_ascii_strcasecmp (p->key + local_len, server) == 0)
            exact = (int) p->level;
        }
      else if (g_str_equal (p->key, "*"))
        star = (int) p->level;
      else if (g_ascii_strcasecmp (p->key, server) == 0)
        domain = (int) p->level;
    }
  if (exact >= 0)
    return (PaLevel) exact;
  if (domain >= 0)
    return (PaLevel) domain;
  if (star >= 0)
    return (PaLevel) star;
  return PA_LEVEL_BLOCK;
}

const char *
pa_level_to_string (PaLevel level)
{
  switch (level)
    {
    case PA_LEVEL_BLOCK:
      return "block";
    case PA_LEVEL_RELAY:
      return "relay";
    case PA_LEVEL_USER:
      return "user";
    case PA_LEVEL_ADMIN:
      return "admin";
    default:
      return "block";
    }
}

const PaMinistry *
pa_config_ministry_for (const PaConfig *config, const char *mxid)
{
  g_return_val_if_fail (config != NULL, NULL);
  const char *server = NULL;
  if (!split_mxid (mxid, &server))
    return NULL;
  for (guint i = 0; config->ministries && i < config->ministries->len; i++)
    {
      const PaMinistry *m = g_ptr_array_index (config->ministries, i);
      for (guint j = 0; m->domains && j < m->domains->len; j++)
        if (g_ascii_strcasecmp (g_ptr_array_index (m->domains, j), server) == 0)
          return m;
    }
  return NULL;
}

const PaMinistry *
pa_config_ministry_by_name (const PaConfig *config, const char *name)
{
  g_return_val_if_fail (config != NULL, NULL);
  if (name == NULL)
    return NULL;
  for (guint i = 0; config->ministries && i < config->ministries->len; i++)
    {
      const PaMinistry *m = g_ptr_array_index (config->ministries, i);
      if (g_strcmp0 (m->name, name) == 0)
        return m;
    }
  return NULL;
}
