/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Writing generated appservice tokens back into the operator's config file
 * while keeping every other byte (comments, order, layout) as it was: the
 * file is edited at the positions the node tree recorded, and the result is
 * loaded again before it replaces the file. */
#define G_LOG_DOMAIN "passerelle-config"

#include "pa-config-private.h"
#include "pa-common.h"

#include <string.h>

/* ---------------------------------------------------------------------- */
/* Token write-back                                                         */

typedef struct
{
  gsize at;   /* byte offset */
  gsize del;  /* bytes removed at `at` */
  char *text; /* inserted at `at` */
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
 * pa_config_parse_yaml), so walk it to get byte offsets. */
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
edit_replace_token (GArray *edits, const char *data, const Node *k, const Node *v, const char *key,
                    const char *token)
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
    return pa_config_fail (error, name, 1, "appservice",
                           "cannot store the tokens: the top level is not "
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
                                 ends_nl || len == 0 ? "" : nl, ind, nl, ind2, keys[0], values[0],
                                 nl, ind2, keys[1], values[1], nl));
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
            return pa_config_fail (error, name, tv->line, keys[t], "must be a string");
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
            return pa_config_fail (error, name, tv->line, keys[t], "must be a string");
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
  return pa_config_fail (error, name, section->line, "appservice", "must be a mapping");
}

/* Makes the file at config->path hold `as_token` and `hs_token`, touching
 * only the token lines; the result is re-validated before it is written. */
gboolean
pa_config_store_tokens (PaConfig *config, const char *as_token, const char *hs_token,
                        GError **error)
{
  if (config->path == NULL)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_CONFIG,
                   "the configuration was not loaded from a file: cannot store generated tokens");
      return FALSE;
    }
  gsize len = 0;
  g_autofree char *data = pa_config_read_limited (config->path, &len, error);
  if (data == NULL)
    return FALSE;
  g_autoptr (Node) root = NULL;
  if (!pa_config_parse_yaml (data, len, config->path, &root, error))
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
  g_autoptr (PaConfig) check
      = pa_config_load_from_data (out->str, out->len, config->path, &check_error);
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
