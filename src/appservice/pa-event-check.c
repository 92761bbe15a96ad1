/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The check of one homeserver event before the bridge takes it.
 *
 * The homeserver retries a transaction it did not get 200 for, so one
 * event the bridge cannot handle must not be able to refuse the whole
 * transaction: each event is checked here on its own, and what fails is
 * kept aside by the caller (quarantine) while the rest flows.  The rules
 * are a table: which fields, of which event types, must have which JSON
 * type; which are identifiers.  Identifiers with a NUL are refused (a
 * truncated id would name someone else); a NUL inside any other string
 * (a body, an invite reason) is replaced by U+FFFD, the character that
 * says "something was here that could not be shown", and the event is
 * bridged. */
#define G_LOG_DOMAIN "passerelle-appservice"

#include "pa-common.h"
#include "appservice/pa-event-check.h"

#include <string.h>

/* Deeper than this is not a Matrix event (transactions are already cut at
 * 64 by pa_txn_parse; decrypted events are not). */
#define PA_EVENT_MAX_DEPTH 64
/* More JSON values than this in one event is absurd too, whatever bytes. */
#define PA_EVENT_MAX_VALUES 20000

enum
{
  T_STR = 1 << 0,
  T_OBJ = 1 << 1,
  T_INT = 1 << 2,
  T_BOOL = 1 << 3,
  T_NULL = 1 << 4,
};

enum
{
  F_REQUIRED = 1 << 0,
  F_ID = 1 << 1, /* an identifier: no NUL, at most PA_EVENT_MAX_ID_BYTES */
};

typedef struct
{
  const char *event_type; /* NULL: every type */
  const char *path;       /* keys separated by '/' (keys contain dots) */
  guint types;
  guint flags;
  char prefix; /* an identifier's sigil, or 0 */
} Rule;

/* What the bridge reads of an event.  A field absent is fine unless
 * F_REQUIRED; a field present must have one of `types`. */
static const Rule rules[] = {
  { NULL, "type", T_STR, F_REQUIRED | F_ID, 0 },
  { NULL, "event_id", T_STR, F_REQUIRED | F_ID, '$' },
  { NULL, "room_id", T_STR, F_REQUIRED | F_ID, '!' },
  { NULL, "sender", T_STR, F_REQUIRED | F_ID, '@' },
  { NULL, "state_key", T_STR, F_ID, 0 },
  { NULL, "redacts", T_STR, F_ID, 0 },
  { NULL, "content", T_OBJ, F_REQUIRED, 0 },
  { NULL, "origin_server_ts", T_INT, 0, 0 },
  { NULL, "unsigned", T_OBJ, 0, 0 },
  { NULL, "content/m.relates_to", T_OBJ, 0, 0 },
  { NULL, "content/m.relates_to/event_id", T_STR, F_ID, 0 },
  { NULL, "content/m.relates_to/rel_type", T_STR, F_ID, 0 },
  { NULL, "content/m.relates_to/key", T_STR, 0, 0 },
  { NULL, "content/m.relates_to/m.in_reply_to", T_OBJ, 0, 0 },
  { NULL, "content/m.relates_to/m.in_reply_to/event_id", T_STR, F_ID, 0 },
  { "m.room.message", "content/msgtype", T_STR, F_ID, 0 },
  { "m.room.message", "content/body", T_STR, 0, 0 },
  { "m.room.message", "content/format", T_STR, 0, 0 },
  { "m.room.message", "content/formatted_body", T_STR, 0, 0 },
  { "m.room.message", "content/url", T_STR, F_ID, 0 },
  { "m.room.message", "content/info", T_OBJ, 0, 0 },
  { "m.room.message", "content/file", T_OBJ, 0, 0 },
  { "m.room.message", "content/filename", T_STR, 0, 0 },
  { "m.room.message", "content/m.new_content", T_OBJ, 0, 0 },
  { "m.room.message", "content/m.new_content/msgtype", T_STR, F_ID, 0 },
  { "m.room.message", "content/m.new_content/body", T_STR, 0, 0 },
  { "m.room.message", "content/m.new_content/formatted_body", T_STR, 0, 0 },
  { "m.sticker", "content/body", T_STR, 0, 0 },
  { "m.sticker", "content/url", T_STR, F_ID, 0 },
  { "m.sticker", "content/info", T_OBJ, 0, 0 },
  { "m.sticker", "content/file", T_OBJ, 0, 0 },
  { "m.room.member", "state_key", T_STR, F_REQUIRED | F_ID, 0 },
  { "m.room.member", "content/membership", T_STR, F_REQUIRED | F_ID, 0 },
  { "m.room.member", "content/reason", T_STR, 0, 0 },
  { "m.room.member", "content/displayname", T_STR | T_NULL, 0, 0 },
  { "m.room.member", "content/avatar_url", T_STR | T_NULL, 0, 0 },
  { "m.room.member", "content/is_direct", T_BOOL, 0, 0 },
  { "m.room.redaction", "content/redacts", T_STR, F_ID, 0 },
  { "m.room.redaction", "content/reason", T_STR, 0, 0 },
  { "m.room.encrypted", "content/algorithm", T_STR, F_ID, 0 },
  { "m.room.encrypted", "content/ciphertext", T_STR | T_OBJ, 0, 0 },
  { "m.room.encrypted", "content/session_id", T_STR, F_ID, 0 },
  { "m.room.encrypted", "content/sender_key", T_STR, F_ID, 0 },
  { "m.room.encrypted", "content/device_id", T_STR, F_ID, 0 },
};

static const char *
type_name (json_t *v)
{
  switch (json_typeof (v))
    {
    case JSON_OBJECT:
      return "an object";
    case JSON_ARRAY:
      return "an array";
    case JSON_STRING:
      return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
      return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
      return "a boolean";
    case JSON_NULL:
    default:
      return "null";
    }
}

static const char *
types_name (guint types)
{
  if (types == (T_STR | T_NULL))
    return "a string or null";
  if (types == (T_STR | T_OBJ))
    return "a string or an object";
  if (types & T_STR)
    return "a string";
  if (types & T_OBJ)
    return "an object";
  if (types & T_INT)
    return "an integer";
  if (types & T_BOOL)
    return "a boolean";
  return "null";
}

static gboolean
type_ok (json_t *v, guint types)
{
  return ((types & T_STR) && json_is_string (v)) || ((types & T_OBJ) && json_is_object (v))
         || ((types & T_INT) && json_is_integer (v)) || ((types & T_BOOL) && json_is_boolean (v))
         || ((types & T_NULL) && json_is_null (v));
}

/* The value at `path` in ev, or NULL when absent (or a parent is not an
 * object: that parent's own rule reports it). */
static json_t *
lookup (json_t *ev, const char *path)
{
  g_auto (GStrv) keys = g_strsplit (path, "/", -1);
  json_t *v = ev;

  for (guint i = 0; keys[i] != NULL; i++)
    {
      if (!json_is_object (v))
        return NULL;
      v = json_object_get (v, keys[i]);
    }
  return v;
}

static gboolean
has_nul (json_t *s)
{
  return memchr (json_string_value (s), '\0', json_string_length (s)) != NULL;
}

/* pa_event_id_string: see pa-event-check.h. */
const char *
pa_event_id_string (json_t *v)
{
  if (!json_is_string (v) || has_nul (v) || json_string_length (v) == 0
      || json_string_length (v) > PA_EVENT_MAX_ID_BYTES)
    return NULL;
  return json_string_value (v);
}

static char *
check_rule (json_t *ev, const Rule *r)
{
  json_t *v = lookup (ev, r->path);
  g_autofree char *dotted = g_strdelimit (g_strdup (r->path), "/", '.');

  if (v == NULL)
    return (r->flags & F_REQUIRED) ? g_strdup_printf ("%s is missing", dotted) : NULL;
  if (!type_ok (v, r->types))
    return g_strdup_printf ("%s is %s, not %s", dotted, type_name (v), types_name (r->types));
  if (!(r->flags & F_ID) || !json_is_string (v))
    return NULL;
  if (has_nul (v))
    return g_strdup_printf ("%s contains a NUL character", dotted);
  if (json_string_length (v) == 0 && (r->flags & F_REQUIRED))
    return g_strdup_printf ("%s is empty", dotted);
  if (json_string_length (v) > PA_EVENT_MAX_ID_BYTES)
    return g_strdup_printf ("%s is longer than %d bytes", dotted, PA_EVENT_MAX_ID_BYTES);
  if (r->prefix != 0 && json_string_value (v)[0] != r->prefix)
    return g_strdup_printf ("%s does not start with '%c'", dotted, r->prefix);
  return NULL;
}

typedef struct
{
  gsize bytes;
  guint values;
  gboolean repaired;
  gboolean too_deep;
} Walk;

/* A copy of s's text with every NUL replaced by U+FFFD. */
static GString *
replace_nuls (json_t *s)
{
  const char *p = json_string_value (s);
  gsize n = json_string_length (s);
  GString *out = g_string_sized_new (n + 16);

  for (gsize i = 0; i < n; i++)
    {
      if (p[i] == '\0')
        g_string_append (out, "\xEF\xBF\xBD");
      else
        g_string_append_c (out, p[i]);
    }
  return out;
}

/* Sizes every string and key, and repairs NULs in strings (identifiers
 * were checked before, so only texts are left to repair).  Stops counting
 * once over a limit. */
static void
walk (json_t *v, guint depth, Walk *w)
{
  if (w->too_deep || w->bytes > PA_EVENT_MAX_BYTES || w->values > PA_EVENT_MAX_VALUES)
    return;
  if (depth > PA_EVENT_MAX_DEPTH)
    {
      w->too_deep = TRUE;
      return;
    }
  w->values++;
  if (json_is_string (v))
    {
      w->bytes += json_string_length (v);
      if (has_nul (v))
        {
          g_autoptr (GString) fixed = replace_nuls (v);

          json_string_setn_nocheck (v, fixed->str, fixed->len);
          w->repaired = TRUE;
        }
    }
  else if (json_is_object (v))
    {
      const char *key;
      json_t *item;

      json_object_foreach (v, key, item)
      {
        w->bytes += strlen (key);
        walk (item, depth + 1, w);
      }
    }
  else if (json_is_array (v))
    {
      size_t i;
      json_t *item;

      json_array_foreach (v, i, item) walk (item, depth + 1, w);
    }
}

/* pa_event_check: see pa-event-check.h.  The rules first (on the event as
 * received), then the size, then the repair. */
PaEventVerdict
pa_event_check (json_t *ev, char **reason)
{
  const char *type;
  Walk w = { 0 };

  g_return_val_if_fail (reason != NULL && *reason == NULL, PA_EVENT_REJECTED);

  if (!json_is_object (ev))
    {
      *reason = g_strdup_printf ("the event is %s, not an object", ev ? type_name (ev) : "null");
      return PA_EVENT_REJECTED;
    }
  if (json_object_get (ev, PA_EVENT_QUARANTINE_KEY) != NULL)
    {
      *reason = g_strdup ("the event carries the bridge's private key " PA_EVENT_QUARANTINE_KEY);
      return PA_EVENT_REJECTED;
    }
  for (gsize i = 0; i < G_N_ELEMENTS (rules); i++)
    {
      if (rules[i].event_type != NULL)
        {
          type = pa_event_id_string (json_object_get (ev, "type"));
          if (type == NULL || strcmp (type, rules[i].event_type) != 0)
            continue;
        }
      *reason = check_rule (ev, &rules[i]);
      if (*reason != NULL)
        return PA_EVENT_REJECTED;
    }
  walk (ev, 0, &w);
  if (w.too_deep)
    {
      *reason = g_strdup_printf ("the event is nested deeper than %d", PA_EVENT_MAX_DEPTH);
      return PA_EVENT_REJECTED;
    }
  if (w.bytes > PA_EVENT_MAX_BYTES || w.values > PA_EVENT_MAX_VALUES)
    {
      *reason = g_strdup_printf ("the event is too large (more than %d KiB or %d values)",
                                 PA_EVENT_MAX_BYTES / 1024, PA_EVENT_MAX_VALUES);
      return PA_EVENT_REJECTED;
    }
  return w.repaired ? PA_EVENT_REPAIRED : PA_EVENT_OK;
}
