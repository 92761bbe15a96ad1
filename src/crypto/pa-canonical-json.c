/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* A canonical JSON writer of our own rather than json_dumps(JSON_SORT_KEYS):
 * jansson writes "\u001F" where the spec's reference (Python's json with
 * ensure_ascii=False) writes "\u001f", accepts fractions, and cannot be
 * told to refuse integers outside the interoperable range. */
#define G_LOG_DOMAIN "passerelle-crypto"

#include "pa-canonical-json.h"

#include <math.h>
#include <string.h>

#include "pa-common.h"

#define MAX_SAFE_INT ((json_int_t) 9007199254740991LL) /* 2^53 - 1 */

typedef struct {
  const char *key;
  gsize len;
  json_t *value;
} Member;

/* Byte order of UTF-8 is code point order, which is what the spec sorts by. */
static int
member_cmp (gconstpointer a, gconstpointer b)
{
  const Member *x = a, *y = b;
  int c = memcmp (x->key, y->key, MIN (x->len, y->len));

  if (c != 0)
    return c;
  return x->len < y->len ? -1 : x->len > y->len;
}

static void
write_string (GString *out, const char *s, gsize len)
{
  g_string_append_c (out, '"');
  for (gsize i = 0; i < len; i++)
    {
      guchar c = (guchar) s[i];

      switch (c)
        {
        case '"':
          g_string_append (out, "\\\"");
          break;
        case '\\':
          g_string_append (out, "\\\\");
          break;
        case '\b':
          g_string_append (out, "\\b");
          break;
        case '\f':
          g_string_append (out, "\\f");
          break;
        case '\n':
          g_string_append (out, "\\n");
          break;
        case '\r':
          g_string_append (out, "\\r");
          break;
        case '\t':
          g_string_append (out, "\\t");
          break;
        default:
          if (c < 0x20)
            g_string_append_printf (out, "\\u%04x", c);
          else
            g_string_append_c (out, (char) c);
        }
    }
  g_string_append_c (out, '"');
}

static gboolean
write_value (GString *out, json_t *v, guint depth, GError **error)
{
  if (depth > PA_CANONICAL_JSON_MAX_DEPTH)
    {
      g_set_error_literal (error, PA_ERROR, PA_ERROR_JSON, "JSON nested too deeply");
      return FALSE;
    }
  switch (json_typeof (v))
    {
    case JSON_OBJECT:
      {
        gsize n = json_object_size (v), i = 0;
        g_autofree Member *members = g_new (Member, MAX (n, 1));
        const char *key;
        gsize key_len;
        json_t *value;

        json_object_keylen_foreach (v, key, key_len, value)
          {
            members[i++] = (Member) { key, key_len, value };
          }
        qsort (members, n, sizeof (Member), member_cmp);
        g_string_append_c (out, '{');
        for (i = 0; i < n; i++)
          {
            if (i > 0)
              g_string_append_c (out, ',');
            write_string (out, members[i].key, members[i].len);
            g_string_append_c (out, ':');
            if (!write_value (out, members[i].value, depth + 1, error))
              return FALSE;
          }
        g_string_append_c (out, '}');
        return TRUE;
      }
    case JSON_ARRAY:
      {
        gsize i;
        json_t *value;

        g_string_append_c (out, '[');
        json_array_foreach (v, i, value)
          {
            if (i > 0)
              g_string_append_c (out, ',');
            if (!write_value (out, value, depth + 1, error))
              return FALSE;
          }
        g_string_append_c (out, ']');
        return TRUE;
      }
    case JSON_STRING:
      write_string (out, json_string_value (v), json_string_length (v));
      return TRUE;
    case JSON_INTEGER:
      {
        json_int_t i = json_integer_value (v);

        if (i > MAX_SAFE_INT || i < -MAX_SAFE_INT)
          {
            g_set_error (error, PA_ERROR, PA_ERROR_JSON,
                         "integer %" JSON_INTEGER_FORMAT " is outside canonical JSON's range", i);
            return FALSE;
          }
        g_string_append_printf (out, "%" JSON_INTEGER_FORMAT, i);
        return TRUE;
      }
    case JSON_REAL:
      {
        /* "1e10" or "-0" parse as reals but are integers in value. */
        double d = json_real_value (v);

        if (!isfinite (d) || d != floor (d) || fabs (d) > (double) MAX_SAFE_INT)
          {
            g_set_error (error, PA_ERROR, PA_ERROR_JSON,
                         "number %g is not an integer canonical JSON can express", d);
            return FALSE;
          }
        g_string_append_printf (out, "%" G_GINT64_FORMAT, (gint64) d);
        return TRUE;
      }
    case JSON_TRUE:
      g_string_append (out, "true");
      return TRUE;
    case JSON_FALSE:
      g_string_append (out, "false");
      return TRUE;
    case JSON_NULL:
      g_string_append (out, "null");
      return TRUE;
    default:
      g_set_error_literal (error, PA_ERROR, PA_ERROR_JSON, "unknown JSON value");
      return FALSE;
    }
}

char *
pa_canonical_json (json_t *value, GError **error)
{
  g_autoptr (GString) out = g_string_new (NULL);

  g_return_val_if_fail (value != NULL, NULL);
  if (!write_value (out, value, 0, error))
    return NULL;
  return g_string_free (g_steal_pointer (&out), FALSE);
}

char *
pa_canonical_json_for_signing (json_t *object, GError **error)
{
  g_autoptr (json_t) copy = NULL;

  g_return_val_if_fail (object != NULL, NULL);
  if (!json_is_object (object))
    {
      g_set_error_literal (error, PA_ERROR, PA_ERROR_JSON, "only objects are signed");
      return NULL;
    }
  copy = json_copy (object); /* shallow: members are shared, not duplicated */
  json_object_del (copy, "signatures");
  json_object_del (copy, "unsigned");
  return pa_canonical_json (copy, error);
}

void
pa_canonical_json_add_signature (json_t *object, const char *user_id, const char *key_name,
                                 const char *sig)
{
  json_t *sigs = json_object_get (object, "signatures");
  if (!json_is_object (sigs))
    {
      sigs = json_object ();
      json_object_set_new (object, "signatures", sigs);
    }
  json_t *mine = json_object_get (sigs, user_id);
  if (!json_is_object (mine))
    {
      mine = json_object ();
      json_object_set_new (sigs, user_id, mine);
    }
  g_autofree char *key_id = g_strconcat ("ed25519:", key_name, NULL);
  json_object_set_new (mine, key_id, json_string (sig));
}
