/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The plugins: section: each plugin's own settings.  A plugin declares its
 * keys in a schema that the host learns only from the worker's hello frame,
 * long after the file was loaded; so loading keeps the section as written
 * (key, scalar text, line) and checks only its shape, and the values are
 * typed and checked against the schema later, with the same "file:line: key"
 * messages as the rest of the config.  Secret values (passwords, API hashes)
 * never appear in a message or a log line. */
#define G_LOG_DOMAIN "passerelle-config"

#include "pa-config-private.h"

#include <string.h>

#define MAX_SCHEMA_KEYS 256
#define EXAMPLE_WIDTH 78

typedef enum
{
  KEY_INT,
  KEY_STRING,
  KEY_BOOL,
  KEY_PATH,
} KeyType;

static const char *const type_names[] = { "int", "string", "bool", "path" };

/* One entry of a plugin's schema, read and checked once. */
typedef struct
{
  const char *key; /* borrowed from the schema */
  KeyType type;
  json_t *default_value; /* borrowed; NULL when there is none */
  const char *description;
  gboolean secret;
  gboolean required;
} SchemaKey;

/* ---------------------------------------------------------------------- */
/* Loading: the shape of the section                                        */

static void
setting_free (PaPluginSetting *s)
{
  if (s == NULL)
    return;
  g_free (s->key);
  g_free (s->value);
  g_free (s);
}

void
pa_config_plugin_section_free (PaPluginSection *s)
{
  if (s == NULL)
    return;
  g_free (s->name);
  g_clear_pointer (&s->settings, g_ptr_array_unref);
  g_free (s);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PaPluginSection, pa_config_plugin_section_free)

static gboolean
load_plugin (const Loader *l, const Node *k, const Node *v, PaConfig *c, GError **error)
{
  g_autofree char *path = g_strdup_printf ("plugins.%s", k->value);
  if (!pa_config_is_plugin_name (k->value))
    return pa_config_fail (error, l->name, k->line, path, "\"%s\" is not a plugin name ([a-z0-9]+)",
                           k->value);
  if (!node_is_null (v) && v->kind != YAML_MAPPING_NODE)
    return pa_config_fail (error, l->name, v->line, path, "must be a mapping of settings, not %s",
                           kind_name (v));
  g_autoptr (PaPluginSection) s = g_new0 (PaPluginSection, 1);
  s->name = g_strdup (k->value);
  s->line = k->line;
  s->settings = g_ptr_array_new_with_free_func ((GDestroyNotify) setting_free);
  guint n = node_is_null (v) ? 0 : node_n_pairs (v);
  for (guint i = 0; i < n; i++)
    {
      const Node *sk = node_key (v, i), *sv = node_val (v, i);
      if (sv->kind != YAML_SCALAR_NODE)
        {
          g_autofree char *kpath = g_strdup_printf ("%s.%s", path, sk->value);
          return pa_config_fail (error, l->name, sv->line, kpath, "must be a single value, not %s",
                                 kind_name (sv));
        }
      PaPluginSetting *set = g_new0 (PaPluginSetting, 1);
      set->key = g_strdup (sk->value);
      set->value = node_is_null (sv) ? NULL : g_strdup (sv->value);
      set->plain = sv->plain;
      set->line = sk->line;
      g_ptr_array_add (s->settings, set);
    }
  g_ptr_array_add (c->plugin_sections, g_steal_pointer (&s));
  return TRUE;
}

gboolean
pa_config_load_plugins (const Loader *l, PaConfig *c, const Node *k, const Node *v, GError **error)
{
  c->plugins_line = k->line;
  if (node_is_null (v))
    return TRUE;
  if (v->kind != YAML_MAPPING_NODE)
    return pa_config_fail (error, l->name, v->line, "plugins", "must be a mapping, not %s",
                           kind_name (v));
  for (guint i = 0; i < node_n_pairs (v); i++)
    if (!load_plugin (l, node_key (v, i), node_val (v, i), c, error))
      return FALSE;
  return TRUE;
}

static const PaPluginSection *
find_section (const PaConfig *c, const char *plugin)
{
  for (guint i = 0; c->plugin_sections && i < c->plugin_sections->len; i++)
    {
      const PaPluginSection *s = g_ptr_array_index (c->plugin_sections, i);
      if (g_str_equal (s->name, plugin))
        return s;
    }
  return NULL;
}

/* ---------------------------------------------------------------------- */
/* The schema                                                               */

static gboolean
is_schema_key (const char *s)
{
  gsize n = strlen (s);
  if (n == 0 || n > MAX_NAME_LEN)
    return FALSE;
  for (const char *p = s; *p; p++)
    if (!g_ascii_isalnum (*p) && *p != '_' && *p != '-')
      return FALSE;
  return TRUE;
}

static gboolean G_GNUC_PRINTF (3, 4)
    schema_fail (GError **error, const char *plugin, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error (error, PA_ERROR, PA_ERROR_PLUGIN, "plugin %s: invalid config schema: %s", plugin,
               msg);
  return FALSE;
}

static gboolean
schema_bool (json_t *entry, const char *name, gboolean *out)
{
  json_t *b = json_object_get (entry, name);
  if (b == NULL || json_is_null (b))
    {
      *out = FALSE;
      return TRUE;
    }
  if (!json_is_boolean (b))
    return FALSE;
  *out = json_is_true (b);
  return TRUE;
}

/* Reads `schema` into an array of SchemaKey (borrowing from it). */
static GArray *
read_schema (const char *plugin, json_t *schema, GError **error)
{
  g_autoptr (GArray) keys = g_array_new (FALSE, TRUE, sizeof (SchemaKey));
  if (schema == NULL || json_is_null (schema))
    return g_steal_pointer (&keys);
  if (!json_is_array (schema))
    {
      schema_fail (error, plugin, "not a list");
      return NULL;
    }
  if (json_array_size (schema) > MAX_SCHEMA_KEYS)
    {
      schema_fail (error, plugin, "more than %d keys", MAX_SCHEMA_KEYS);
      return NULL;
    }
  for (gsize i = 0; i < json_array_size (schema); i++)
    {
      json_t *entry = json_array_get (schema, i);
      SchemaKey sk = { 0 };
      sk.key = json_string_value (json_object_get (entry, "key"));
      if (!json_is_object (entry) || sk.key == NULL || !is_schema_key (sk.key))
        {
          schema_fail (error, plugin,
                       "entry %" G_GSIZE_FORMAT ": \"key\" must match "
                       "[A-Za-z0-9_-]+",
                       i);
          return NULL;
        }
      for (guint j = 0; j < keys->len; j++)
        if (g_str_equal (g_array_index (keys, SchemaKey, j).key, sk.key))
          {
            schema_fail (error, plugin, "key \"%s\" declared twice", sk.key);
            return NULL;
          }
      const char *type = json_string_value (json_object_get (entry, "type"));
      gboolean known = FALSE;
      for (guint t = 0; type && t < G_N_ELEMENTS (type_names) && !known; t++)
        if (g_str_equal (type, type_names[t]))
          {
            sk.type = (KeyType) t;
            known = TRUE;
          }
      if (!known)
        {
          schema_fail (error, plugin, "key \"%s\": \"type\" must be int, string, bool or path",
                       sk.key);
          return NULL;
        }
      sk.default_value = json_object_get (entry, "default");
      if (sk.default_value != NULL && json_is_null (sk.default_value))
        sk.default_value = NULL;
      json_t *desc = json_object_get (entry, "description");
      sk.description = json_string_value (desc);
      if ((desc != NULL && !json_is_null (desc) && sk.description == NULL)
          || !schema_bool (entry, "secret", &sk.secret)
          || !schema_bool (entry, "required", &sk.required))
        {
          schema_fail (error, plugin,
                       "key \"%s\": \"description\" must be a string, \"secret\" and "
                       "\"required\" booleans",
                       sk.key);
          return NULL;
        }
      g_array_append_val (keys, sk);
    }
  return g_steal_pointer (&keys);
}

static const SchemaKey *
schema_lookup (GArray *keys, const char *key)
{
  for (guint i = 0; i < keys->len; i++)
    if (g_str_equal (g_array_index (keys, SchemaKey, i).key, key))
      return &g_array_index (keys, SchemaKey, i);
  return NULL;
}

static char *
known_keys (GArray *keys)
{
  if (keys->len == 0)
    return g_strdup ("the plugin has no settings");
  g_autoptr (GString) s = g_string_new ("known keys: ");
  for (guint i = 0; i < keys->len; i++)
    g_string_append_printf (s, "%s%s", i ? ", " : "", g_array_index (keys, SchemaKey, i).key);
  return g_string_free (g_steal_pointer (&s), FALSE);
}

/* ---------------------------------------------------------------------- */
/* Typing values                                                            */

/* `text` typed as `sk` says, or NULL with *why set (a static phrase).
 * `plain` is FALSE for a quoted scalar, which is never an int or a bool. */
static json_t *
typed_value (const SchemaKey *sk, const char *text, gboolean plain, const char *base_dir,
             const char **why)
{
  gint64 n = 0;
  gboolean b = FALSE;
  switch (sk->type)
    {
    case KEY_INT:
      if (plain && g_ascii_string_to_signed (text, 10, G_MININT64, G_MAXINT64, &n, NULL))
        return json_integer ((json_int_t) n);
      *why = "must be an integer";
      return NULL;
    case KEY_BOOL:
      if (plain && pa_config_parse_bool_word (text, &b))
        return json_boolean (b);
      *why = "must be true or false (or yes/no, on/off)";
      return NULL;
    case KEY_PATH:
      if (text[0] == '\0')
        {
          *why = "must not be empty";
          return NULL;
        }
      {
        g_autofree char *abs = g_canonicalize_filename (text, base_dir);
        return json_string (abs);
      }
    case KEY_STRING:
    default:
      return json_string (text);
    }
}

/* The default of `sk` typed, or NULL (*bad set when the schema's default does
 * not fit its type). */
static json_t *
typed_default (const SchemaKey *sk, const char *base_dir, gboolean *bad)
{
  *bad = FALSE;
  json_t *d = sk->default_value;
  if (d == NULL)
    return NULL;
  const char *why = NULL;
  if (json_is_string (d))
    {
      json_t *v = typed_value (sk, json_string_value (d), TRUE, base_dir, &why);
      *bad = v == NULL;
      return v;
    }
  /* Tolerated: a default given as a JSON value of the key's own type. */
  if ((sk->type == KEY_INT && json_is_integer (d)) || (sk->type == KEY_BOOL && json_is_boolean (d)))
    return json_incref (d);
  *bad = TRUE;
  return NULL;
}

static void
log_value (const char *plugin, const SchemaKey *sk, json_t *v, const char *origin)
{
  if (sk->secret)
    {
      g_debug ("plugins.%s.%s = (secret) [%s]", plugin, sk->key, origin);
      return;
    }
  g_autofree char *text = json_dumps (v, JSON_ENCODE_ANY | JSON_COMPACT);
  g_debug ("plugins.%s.%s = %s [%s]", plugin, sk->key, text ? text : "?", origin);
}

gboolean
pa_config_plugin_section (const PaConfig *c, const char *plugin, json_t *schema, json_t **out,
                          GError **error)
{
  g_return_val_if_fail (c != NULL, FALSE);
  g_return_val_if_fail (plugin != NULL, FALSE);
  g_return_val_if_fail (out != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  *out = NULL;

  g_autoptr (GArray) keys = read_schema (plugin, schema, error);
  if (keys == NULL)
    return FALSE;
  const char *name = c->source_name ? c->source_name : "<config>";
  const PaPluginSection *section = find_section (c, plugin);
  g_autoptr (json_t) result = json_object ();

  for (guint i = 0; section && i < section->settings->len; i++)
    {
      const PaPluginSetting *set = g_ptr_array_index (section->settings, i);
      g_autofree char *path = g_strdup_printf ("plugins.%s.%s", plugin, set->key);
      const SchemaKey *sk = schema_lookup (keys, set->key);
      if (sk == NULL)
        {
          g_autofree char *known = known_keys (keys);
          return pa_config_fail (error, name, set->line, path, "unknown key (%s)", known);
        }
      /* null is as if absent; so is "" for secret and required keys: the
       * example writes secrets as "" for the operator to fill in. */
      if (set->value == NULL || (set->value[0] == '\0' && (sk->secret || sk->required)))
        continue;
      const char *why = NULL;
      json_t *v = typed_value (sk, set->value, set->plain, c->base_dir, &why);
      if (v == NULL)
        {
          if (sk->secret)
            return pa_config_fail (error, name, set->line, path, "%s", why);
          return pa_config_fail (error, name, set->line, path, "%s (got \"%s\")", why, set->value);
        }
      json_object_set_new (result, sk->key, v);
      log_value (plugin, sk, v, "config");
    }

  guint line = section ? section->line : c->plugins_line ? c->plugins_line : 1;
  for (guint i = 0; i < keys->len; i++)
    {
      const SchemaKey *sk = &g_array_index (keys, SchemaKey, i);
      if (json_object_get (result, sk->key) != NULL)
        continue;
      gboolean bad = FALSE;
      json_t *d = typed_default (sk, c->base_dir, &bad);
      if (bad)
        return schema_fail (error, plugin, "key \"%s\": the default does not fit type %s", sk->key,
                            type_names[sk->type]);
      if (d != NULL)
        {
          json_object_set_new (result, sk->key, d);
          log_value (plugin, sk, d, "default");
          continue;
        }
      if (sk->required)
        {
          g_autofree char *path = g_strdup_printf ("plugins.%s.%s", plugin, sk->key);
          return pa_config_fail (error, name, line, path, "required by plugin %s (no default)",
                                 plugin);
        }
    }
  *out = g_steal_pointer (&result);
  return TRUE;
}

gboolean
pa_config_names_plugin (const PaConfig *c, const char *plugin)
{
  g_return_val_if_fail (c != NULL && plugin != NULL, FALSE);
  if (find_section (c, plugin) != NULL)
    return TRUE;
  for (guint i = 0; c->ministries && i < c->ministries->len; i++)
    {
      const PaMinistry *m = g_ptr_array_index (c->ministries, i);
      for (guint j = 0; m->plugins && j < m->plugins->len; j++)
        if (g_str_equal (g_ptr_array_index (m->plugins, j), plugin))
          return TRUE;
    }
  return FALSE;
}

gboolean
pa_config_check_plugin_names (const PaConfig *c, const char *const *installed, GError **error)
{
  g_return_val_if_fail (c != NULL, FALSE);
  for (guint i = 0; c->plugin_sections && i < c->plugin_sections->len; i++)
    {
      const PaPluginSection *s = g_ptr_array_index (c->plugin_sections, i);
      if (installed != NULL && g_strv_contains (installed, s->name))
        continue;
      g_autofree char *path = g_strdup_printf ("plugins.%s", s->name);
      g_autofree char *list
          = installed && installed[0] ? g_strjoinv (", ", (char **) installed) : g_strdup ("none");
      return pa_config_fail (error, c->source_name ? c->source_name : "<config>", s->line, path,
                             "plugin \"%s\" is not installed (installed: %s)", s->name, list);
    }
  return TRUE;
}

gboolean
pa_config_plugin_key_secret (json_t *schema, const char *key)
{
  if (key == NULL || !json_is_array (schema))
    return FALSE;
  for (gsize i = 0; i < json_array_size (schema); i++)
    {
      json_t *entry = json_array_get (schema, i);
      if (g_strcmp0 (json_string_value (json_object_get (entry, "key")), key) == 0)
        return json_is_true (json_object_get (entry, "secret"));
    }
  return FALSE;
}

char *
pa_config_plugin_value_for_log (json_t *schema, const char *key, const char *value)
{
  if (pa_config_plugin_key_secret (schema, key))
    return g_strdup ("(secret)");
  return g_strdup (value ? value : "(null)");
}

/* ---------------------------------------------------------------------- */
/* The example block                                                        */

/* `text` as "# " comment lines at `indent`, wrapped at EXAMPLE_WIDTH. */
static void
append_comment (GString *s, const char *indent, const char *text)
{
  g_auto (GStrv) paragraphs = g_strsplit (text, "\n", -1);
  for (guint p = 0; paragraphs[p]; p++)
    {
      g_auto (GStrv) words = g_strsplit_set (paragraphs[p], " \t\r", -1);
      g_autoptr (GString) line = g_string_new (NULL);
      for (guint w = 0; words[w]; w++)
        {
          if (words[w][0] == '\0')
            continue;
          if (line->len > 0
              && strlen (indent) + 2 + line->len + 1 + strlen (words[w]) > EXAMPLE_WIDTH)
            {
              g_string_append_printf (s, "%s# %s\n", indent, line->str);
              g_string_truncate (line, 0);
            }
          if (line->len > 0)
            g_string_append_c (line, ' ');
          g_string_append (line, words[w]);
        }
      if (line->len > 0)
        g_string_append_printf (s, "%s# %s\n", indent, line->str);
    }
}

char *
pa_config_plugin_example (const char *plugin, json_t *schema)
{
  g_return_val_if_fail (plugin != NULL, NULL);
  g_autoptr (GArray) keys = read_schema (plugin, schema, NULL);
  if (keys == NULL || !pa_config_is_plugin_name (plugin))
    return NULL;
  GString *s = g_string_new (NULL);
  g_string_append_printf (s, "  # Settings of the %s plugin.\n", plugin);
  if (keys->len == 0)
    {
      g_string_append_printf (s, "  # (it has none)\n  #%s: {}\n", plugin);
      return g_string_free (s, FALSE);
    }
  g_string_append_printf (s, "  %s:\n", plugin);
  for (guint i = 0; i < keys->len; i++)
    {
      const SchemaKey *sk = &g_array_index (keys, SchemaKey, i);
      if (sk->description && sk->description[0])
        append_comment (s, "    ", sk->description);
      g_autoptr (GString) note = g_string_new (type_names[sk->type]);
      if (sk->required && sk->default_value == NULL)
        g_string_append (note, ", required");
      if (sk->secret)
        g_string_append (note, ", secret: keep this file private (mode 0600)");
      g_string_append_printf (s, "    # (%s)\n    %s:", note->str, sk->key);
      const char *dtext = json_string_value (sk->default_value);
      if (sk->secret)
        g_string_append (s, " \"\"");
      else if (json_is_integer (sk->default_value))
        g_string_append_printf (s, " %" JSON_INTEGER_FORMAT,
                                json_integer_value (sk->default_value));
      else if (json_is_boolean (sk->default_value))
        g_string_append (s, json_is_true (sk->default_value) ? " true" : " false");
      else if (dtext != NULL && (sk->type == KEY_STRING || sk->type == KEY_PATH))
        {
          g_string_append_c (s, ' ');
          pa_config_append_yaml_quoted (s, dtext);
        }
      else if (dtext != NULL)
        {
          /* int or bool written plain, so it loads back as that type; text
           * that is neither is quoted and will be refused with a line. */
          const char *why = NULL;
          g_autoptr (json_t) v = typed_value (sk, dtext, TRUE, "/", &why);
          g_string_append_c (s, ' ');
          if (v != NULL)
            g_string_append (s, dtext);
          else
            pa_config_append_yaml_quoted (s, dtext);
        }
      g_string_append_c (s, '\n');
    }
  return g_string_free (s, FALSE);
}
