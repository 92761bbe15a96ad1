/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Private to src/config: the node tree the YAML reader builds, the limits on
 * untrusted input and the value readers shared by the key files.  Files of
 * src/config include this header and pa-config.h; nothing outside does. */
#ifndef PA_CONFIG_PRIVATE_H
#define PA_CONFIG_PRIVATE_H

#include "pa-config.h"

#include "pa-common.h"

#include <yaml.h>

G_BEGIN_DECLS

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

/* ---- pa-config-yaml.c: YAML -> nodes ---------------------------------- */

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
  GPtrArray *items; /* sequence: Node*; mapping: key, value, key, value, ... */
};

void pa_config_node_free (Node *node);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Node, pa_config_node_free)

static inline guint
node_n_pairs (const Node *map)
{
  return map->items->len / 2;
}

static inline Node *
node_key (const Node *map, guint i)
{
  return g_ptr_array_index (map->items, 2 * i);
}

static inline Node *
node_val (const Node *map, guint i)
{
  return g_ptr_array_index (map->items, 2 * i + 1);
}

static inline Node *
node_lookup (const Node *map, const char *key)
{
  for (guint i = 0; i < node_n_pairs (map); i++)
    if (g_str_equal (node_key (map, i)->value, key))
      return node_val (map, i);
  return NULL;
}

static inline Node *
node_lookup_key (const Node *map, const char *key)
{
  for (guint i = 0; i < node_n_pairs (map); i++)
    if (g_str_equal (node_key (map, i)->value, key))
      return node_key (map, i);
  return NULL;
}

/* A plain empty, "~" or "null" scalar: the key is present but unset. */
static inline gboolean
node_is_null (const Node *node)
{
  if (node->kind != YAML_SCALAR_NODE || !node->plain)
    return FALSE;
  const char *v = node->value;
  return v[0] == '\0' || g_str_equal (v, "~") || g_str_equal (v, "null") || g_str_equal (v, "Null")
         || g_str_equal (v, "NULL");
}
static inline const char *
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

/* Sets a PA_ERROR_CONFIG error "name:line: path: message" (path may be NULL)
 * and returns FALSE. */
gboolean pa_config_fail (GError **error, const char *name, guint line, const char *path,
                         const char *fmt, ...) G_GNUC_PRINTF (5, 6);

/* Parses one YAML document into a Node tree.  *root is NULL for an empty
 * stream.  Refuses anchors, aliases, more than one document, too deep or too
 * many nodes, invalid UTF-8 and NUL bytes. */
gboolean pa_config_parse_yaml (const char *data, gsize len, const char *name, Node **root_out,
                               GError **error);
/* Reads at most MAX_FILE_BYTES, so a huge or endless file cannot exhaust memory. */
char *pa_config_read_limited (const char *path, gsize *len_out, GError **error);

/* ---- pa-config-values.c: single values -------------------------------- */

typedef struct
{
  const char *name; /* shown in messages */
  char *base_dir;   /* absolute: relative paths are resolved against it */
} Loader;

void pa_config_warn_unknown (const Loader *l, const Node *key, const char *path);
/* A string; a null value leaves *out (the default) unchanged. */
gboolean pa_config_get_string (const Loader *l, const Node *v, const char *path, gsize max_len,
                               char **out, GError **error);
gboolean pa_config_get_bool (const Loader *l, const Node *v, const char *path, gboolean *out,
                             GError **error);
gboolean pa_config_get_int (const Loader *l, const Node *v, const char *path, gint64 min,
                            gint64 max, gint64 *out, GError **error);
/* A list of strings, each accepted by `valid` (NULL: any), no duplicates. */
gboolean pa_config_get_string_list (const Loader *l, const Node *v, const char *path,
                                    gboolean (*valid) (const char *), const char *what,
                                    GPtrArray *out, GError **error);
/* An http(s) URL without trailing slashes. */
gboolean pa_config_get_url (const Loader *l, const Node *v, const char *path, char **out,
                            GError **error);
/* A mapping section; null means "all defaults" (*is_null set). */
/* "true"/"yes"/"on" and "false"/"no"/"off", any case: TRUE when `s` is one. */
gboolean pa_config_parse_bool_word (const char *s, gboolean *out);
gboolean pa_config_check_section (const Loader *l, const Node *v, const char *path,
                                  gboolean *is_null, GError **error);

gboolean pa_config_is_server_name (const char *s);
/* "@localpart:server"; sets *server to the server part. */
gboolean pa_config_split_mxid (const char *mxid, const char **server);
gboolean pa_config_is_plugin_name (const char *s);
gboolean pa_config_is_ministry_name (const char *s);
gboolean pa_config_is_localpart (const char *s, gsize max_len);
gboolean pa_config_is_token (const char *s);
gboolean pa_config_is_simple_word (const char *s);

/* ---- pa-config-keys.c: the keys of the file --------------------------- */

/* A PaConfig with defaults overridden by the tree's keys (root may be NULL). */
PaConfig *pa_config_from_tree (const Loader *l, const Node *root, GError **error);

/* ---- sections with their own files ------------------------------------ */

void pa_config_ministry_free (PaMinistry *m);
gboolean pa_config_load_ministries (const Loader *l, PaConfig *c, const Node *v, GError **error);
void pa_config_permission_free (PaPermission *p);
gboolean pa_config_load_permissions (const Loader *l, PaConfig *c, const Node *map, GError **error);

gboolean pa_config_load_provisioning (const Loader *l, PaConfig *c, const Node *map,
                                      GError **error);
void pa_config_sharing_free (PaWorkerSharing *s);
/* workers.logins_per_worker (value `v`, at `path`): plugin name → count. */
gboolean pa_config_load_logins_per_worker (const Loader *l, PaConfig *c, const Node *v,
                                           const char *path, GError **error);

void pa_config_plugin_section_free (PaPluginSection *s);
/* plugins: (key node `k`, value `v`): shape only, the keys are checked
 * against each plugin's schema later (pa_config_plugin_section). */
gboolean pa_config_load_plugins (const Loader *l, PaConfig *c, const Node *k, const Node *v,
                                 GError **error);
/* metrics: (pa-config-metrics.c) */
gboolean pa_config_load_metrics (const Loader *l, PaConfig *c, const Node *map, GError **error);

/* ---- pa-config-tokens.c ----------------------------------------------- */

/* Makes the file at config->path hold `as_token` and `hs_token`, touching
 * only the token lines; the result is re-validated before it is written. */
gboolean pa_config_store_tokens (PaConfig *config, const char *as_token, const char *hs_token,
                                 GError **error);

/* Append `v` to `s` as a YAML double-quoted scalar (quotes, backslashes and
 * control characters escaped): the registration file and the example's
 * plugin sections both write them. */
void pa_config_append_yaml_quoted (GString *s, const char *v);

G_END_DECLS

#endif
