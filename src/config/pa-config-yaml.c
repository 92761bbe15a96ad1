/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* YAML text -> a small tree of nodes that keep their file positions.
 * libyaml's event API is used instead of its document API so that every
 * node carries line, column and character offsets: error messages name the
 * line, and token write-back edits the file in place.  Also bounds the
 * input (size, depth, node count, no aliases) since a config is untrusted. */
#define G_LOG_DOMAIN "passerelle-config"

#include "pa-config-private.h"
#include "pa-common.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

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
    node->items = g_ptr_array_new_with_free_func ((GDestroyNotify) pa_config_node_free);
  return node;
}
void
pa_config_node_free (Node *node)
{
  if (node == NULL)
    return;
  g_free (node->value);
  if (node->items)
    g_ptr_array_unref (node->items);
  g_free (node);
}
static void
parser_cleanup (yaml_parser_t *parser)
{
  yaml_parser_delete (parser);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (yaml_parser_t, parser_cleanup)
gboolean
pa_config_fail (GError **error, const char *name, guint line, const char *path, const char *fmt,
                ...)
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
      pa_config_node_free (node);
      return pa_config_fail (error, name, line, NULL, "mapping keys must be plain strings");
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
        return pa_config_fail (error, name, k->line, k->value, "duplicate key");
    }
  return TRUE;
}

/* Parses one YAML document into a Node tree.  *root is NULL for an empty
 * stream.  Refuses anchors, aliases, more than one document, too deep or too
 * many nodes, invalid UTF-8 and NUL bytes. */
gboolean
pa_config_parse_yaml (const char *data, gsize len, const char *name, Node **root_out,
                      GError **error)
{
  *root_out = NULL;
  if (len > MAX_FILE_BYTES)
    return pa_config_fail (error, name, 1, NULL,
                           "file too large (%" G_GSIZE_FORMAT " bytes, at most %d)", len,
                           MAX_FILE_BYTES);
  const char *bad = NULL;
  /* g_utf8_validate_len also rejects NUL bytes, which libyaml would not. */
  if (!g_utf8_validate_len (data, len, &bad))
    return pa_config_fail (error, name, line_of_offset (data, (gsize) (bad - data)), NULL,
                           "not valid UTF-8 text");

  g_auto (yaml_parser_t) parser;
  if (!yaml_parser_initialize (&parser))
    return pa_config_fail (error, name, 1, NULL, "cannot initialise the YAML parser");
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
          return pa_config_fail (error, name, (guint) mark.line + 1, NULL,
                                 "YAML syntax error: %s%s%s",
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
            ok = pa_config_fail (error, name, line, NULL, "only one YAML document is allowed");
          break;
        case YAML_ALIAS_EVENT:
          ok = pa_config_fail (error, name, line, NULL, "anchors and aliases are not allowed");
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
              pa_config_node_free (node);
              ok = pa_config_fail (error, name, line, NULL, "anchors and aliases are not allowed");
            }
          else if (node->kind == YAML_SCALAR_NODE && strlen (node->value) != node->value_len)
            {
              pa_config_node_free (node);
              ok = pa_config_fail (error, name, line, NULL,
                                   "strings must not contain NUL characters");
            }
          else if (++n_nodes > MAX_NODES)
            {
              pa_config_node_free (node);
              ok = pa_config_fail (error, name, line, NULL, "too many YAML nodes (at most %d)",
                                   MAX_NODES);
            }
          else if (node->kind != YAML_SCALAR_NODE && stack->len >= MAX_DEPTH)
            {
              pa_config_node_free (node);
              ok = pa_config_fail (error, name, line, NULL, "nested deeper than %d levels",
                                   MAX_DEPTH);
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
/* Reads at most MAX_FILE_BYTES, so a huge or endless file cannot exhaust memory. */
char *
pa_config_read_limited (const char *path, gsize *len_out, GError **error)
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
