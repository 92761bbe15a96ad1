/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Plugin ABI structs <-> the JSON of docs/worker-protocol.md. */
#define G_LOG_DOMAIN "passerelle-wire"

#include "wire/pa-wire.h"
#include "pa-common.h"

#include <math.h>

/* ------------------------------------------------------------ enum tables */

static const char *const event_types[] = {
  [PA_EV_MESSAGE] = "message",
  [PA_EV_MESSAGE_UPSERT] = "message_upsert",
  [PA_EV_EDIT] = "edit",
  [PA_EV_DELETE] = "delete",
  [PA_EV_REACTION] = "reaction",
  [PA_EV_REACTION_REMOVE] = "reaction_remove",
  [PA_EV_REACTION_SYNC] = "reaction_sync",
  [PA_EV_READ_RECEIPT] = "read_receipt",
  [PA_EV_DELIVERY_RECEIPT] = "delivery_receipt",
  [PA_EV_MARKED_UNREAD] = "marked_unread",
  [PA_EV_TYPING] = "typing",
  [PA_EV_PRESENCE] = "presence",
  [PA_EV_CHAT_INFO] = "chat_info",
  [PA_EV_CHAT_RESYNC] = "chat_resync",
  [PA_EV_CHAT_DELETE] = "chat_delete",
  [PA_EV_CONTACT_INFO] = "contact_info",
  [PA_EV_BACKFILL_END] = "backfill_end",
};

static const char *const msg_kinds[] = {
  [PA_MSG_TEXT] = "text",   [PA_MSG_NOTICE] = "notice", [PA_MSG_EMOTE] = "emote",
  [PA_MSG_IMAGE] = "image", [PA_MSG_VIDEO] = "video",   [PA_MSG_AUDIO] = "audio",
  [PA_MSG_VOICE] = "voice", [PA_MSG_FILE] = "file",     [PA_MSG_STICKER] = "sticker",
  [PA_MSG_LOCATION] = "location",
};

static const char *const log_levels[] = {
  [PA_LOG_DEBUG] = "debug",
  [PA_LOG_INFO] = "info",
  [PA_LOG_WARNING] = "warning",
  [PA_LOG_ERROR] = "error",
};

static const char *const login_states[] = {
  [PA_STATE_CONNECTING] = "connecting",
  [PA_STATE_CONNECTED] = "connected",
  [PA_STATE_TRANSIENT_DISCONNECT] = "transient_disconnect",
  [PA_STATE_BAD_CREDENTIALS] = "bad_credentials",
  [PA_STATE_LOGGED_OUT] = "logged_out",
  [PA_STATE_UNKNOWN_ERROR] = "unknown_error",
};

static const char *const meta_scopes[] = {
  [PA_META_LOGIN] = "login",
  [PA_META_CHAT] = "chat",
  [PA_META_CONTACT] = "contact",
  [PA_META_MESSAGE] = "message",
};

static const char *const field_types[] = {
  [PA_FIELD_TEXT] = "text",     [PA_FIELD_PASSWORD] = "password", [PA_FIELD_NUMBER] = "number",
  [PA_FIELD_BOOL] = "bool",     [PA_FIELD_CHOICE] = "choice",     [PA_FIELD_PHONE] = "phone",
  [PA_FIELD_CODE] = "code",
};

static const char *const presences[] = {
  [PA_PRESENCE_OFFLINE] = "offline",
  [PA_PRESENCE_ONLINE] = "online",
  [PA_PRESENCE_UNAVAILABLE] = "unavailable",
};

static const char *const result_codes[] = {
  [PA_RESULT_OK] = "ok",
  [PA_RESULT_NOT_CONNECTED] = "not_connected",
  [PA_RESULT_UNSUPPORTED] = "unsupported",
  [PA_RESULT_TOO_LARGE] = "too_large",
  [PA_RESULT_RATE_LIMITED] = "rate_limited",
  [PA_RESULT_NOT_FOUND] = "not_found",
  [PA_RESULT_FORBIDDEN] = "forbidden",
  [PA_RESULT_TEMPORARY] = "temporary",
  [PA_RESULT_PERMANENT] = "permanent",
  [PA_RESULT_UNCERTAIN] = "uncertain",
};

static const char *const chat_fields[] = {
  [PA_CHAT_FIELD_NAME] = "name",
  [PA_CHAT_FIELD_TOPIC] = "topic",
  [PA_CHAT_FIELD_AVATAR] = "avatar",
  [PA_CHAT_FIELD_DISAPPEARING] = "disappearing",
};

static const char *const config_types[] = {
  [PA_CONFIG_STRING] = "string",
  [PA_CONFIG_INT] = "int",
  [PA_CONFIG_BOOL] = "bool",
  [PA_CONFIG_PATH] = "path",
};

static const char *const step_kinds[] = {
  [PA_STEP_USER_INPUT] = "user_input",
  [PA_STEP_DISPLAY_AND_WAIT] = "display_and_wait",
  [PA_STEP_COMPLETE] = "complete",
};

/* Enum values arrive from plugin code as plain ints: anything outside the
 * table (or a hole in it) is NULL, never an out-of-bounds read. */
static const char *
table_name (const char *const *table, gsize n, int value)
{
  if (value < 0 || (gsize) value >= n)
    return NULL;
  return table[value];
}

static gboolean
table_value (const char *const *table, gsize n, const char *s, int *out)
{
  if (s == NULL)
    return FALSE;
  for (gsize i = 0; i < n; i++)
    {
      if (table[i] != NULL && strcmp (table[i], s) == 0)
        {
          *out = (int) i;
          return TRUE;
        }
    }
  return FALSE;
}

#define DEFINE_ENUM_STRINGS(fn, Type, table)                                                   \
  const char *pa_wire_##fn##_to_string (Type v)                                                \
  {                                                                                            \
    return table_name (table, G_N_ELEMENTS (table), (int) v);                                  \
  }

#define DEFINE_ENUM_PARSE(fn, Type, table)                                                     \
  gboolean pa_wire_##fn##_from_string (const char *s, Type *out)                               \
  {                                                                                            \
    int v;                                                                                     \
    if (!table_value (table, G_N_ELEMENTS (table), s, &v))                                     \
      return FALSE;                                                                            \
    *out = (Type) v;                                                                           \
    return TRUE;                                                                               \
  }

/* Wire name of each enum value, or NULL for a value this ABI does not know;
 * and the reverse, FALSE for an unknown name. */
DEFINE_ENUM_STRINGS (event_type, PaEventType, event_types)
DEFINE_ENUM_PARSE (event_type, PaEventType, event_types)
DEFINE_ENUM_STRINGS (msg_kind, PaMsgKind, msg_kinds)
DEFINE_ENUM_PARSE (msg_kind, PaMsgKind, msg_kinds)
DEFINE_ENUM_STRINGS (log_level, PaLogLevel, log_levels)
DEFINE_ENUM_PARSE (log_level, PaLogLevel, log_levels)
DEFINE_ENUM_STRINGS (login_state, PaLoginState, login_states)
DEFINE_ENUM_PARSE (login_state, PaLoginState, login_states)
DEFINE_ENUM_STRINGS (meta_scope, PaMetaScope, meta_scopes)
DEFINE_ENUM_PARSE (meta_scope, PaMetaScope, meta_scopes)
DEFINE_ENUM_STRINGS (field_type, PaFieldType, field_types)
DEFINE_ENUM_STRINGS (step_kind, PaStepKind, step_kinds)
DEFINE_ENUM_STRINGS (presence, PaPresence, presences)
DEFINE_ENUM_PARSE (presence, PaPresence, presences)
DEFINE_ENUM_STRINGS (result_code, PaResultCode, result_codes)
DEFINE_ENUM_PARSE (result_code, PaResultCode, result_codes)
DEFINE_ENUM_STRINGS (chat_field, PaChatField, chat_fields)
DEFINE_ENUM_PARSE (chat_field, PaChatField, chat_fields)
DEFINE_ENUM_STRINGS (config_type, PaConfigType, config_types)
DEFINE_ENUM_PARSE (config_type, PaConfigType, config_types)

/* ------------------------------------------------------------ ABI -> JSON */

/* Size of each struct as defined by ABI 2.0: the end of its last 2.0
 * member.  A plugin may pass a bigger struct (a newer minor), never a
 * smaller one. */
#define SIZE_2_0(Type, last) (offsetof (Type, last) + sizeof (((Type *) NULL)->last))

static gboolean
check_size (guint32 struct_size, gsize min, const char *type, GError **error)
{
  if (struct_size < min)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_PLUGIN,
                   "plugin passed a %s with struct_size %u, smaller than its ABI 2.0 size %"
                   G_GSIZE_FORMAT, type, struct_size, min);
      return FALSE;
    }
  return TRUE;
}

/* Plugin strings are meant to be UTF-8; a broken one is repaired rather than
 * silently dropping the member (jansson refuses invalid UTF-8). */
static json_t *
str_value (const char *s)
{
  if (s == NULL)
    return json_null ();
  if (g_utf8_validate (s, -1, NULL))
    return json_string (s);
  g_autofree char *fixed = g_utf8_make_valid (s, -1);
  return json_string (fixed);
}

static void
set_str (json_t *obj, const char *key, const char *s)
{
  if (s != NULL)
    json_object_set_new (obj, key, str_value (s));
}

static void
set_uint (json_t *obj, const char *key, guint64 v)
{
  /* JSON integers are signed 64-bit here: saturate instead of wrapping. */
  json_object_set_new (obj, key, json_integer (v > G_MAXINT64 ? G_MAXINT64 : (json_int_t) v));
}

static void
set_int (json_t *obj, const char *key, gint64 v)
{
  json_object_set_new (obj, key, json_integer (v));
}

static void
set_bool (json_t *obj, const char *key, bool v)
{
  json_object_set_new (obj, key, json_boolean (v));
}

static void
set_real (json_t *obj, const char *key, double v)
{
  /* NaN and infinities have no JSON spelling. */
  json_object_set_new (obj, key, json_real (isfinite (v) ? v : 0.0));
}

/* PaContent -> wire "content". */
json_t *
pa_wire_content_to_json (const PaContent *c, GError **error)
{
  g_return_val_if_fail (c != NULL, NULL);
  if (!check_size (c->struct_size, SIZE_2_0 (PaContent, flags), "PaContent", error))
    return NULL;
  const char *kind = pa_wire_msg_kind_to_string (c->kind);
  if (kind == NULL)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_PLUGIN, "unknown content kind %d", (int) c->kind);
      return NULL;
    }
  json_t *o = json_object ();
  set_str (o, "kind", kind);
  set_str (o, "text", c->text);
  set_str (o, "html", c->html);
  set_str (o, "media_path", c->media_path);
  set_str (o, "media_name", c->media_name);
  set_str (o, "mimetype", c->mimetype);
  set_uint (o, "size", c->media_size);
  set_uint (o, "width", c->width);
  set_uint (o, "height", c->height);
  set_uint (o, "duration_ms", c->duration_ms);
  if (c->kind == PA_MSG_LOCATION)
    {
      set_real (o, "latitude", c->latitude);
      set_real (o, "longitude", c->longitude);
    }
  set_str (o, "reply_to", c->reply_to);
  set_str (o, "forwarded_from", c->forwarded_from);
  set_uint (o, "flags", c->flags);
  return o;
}

/* PaMember -> wire member. */
json_t *
pa_wire_member_to_json (const PaMember *m, GError **error)
{
  g_return_val_if_fail (m != NULL, NULL);
  if (!check_size (m->struct_size, SIZE_2_0 (PaMember, power), "PaMember", error))
    return NULL;
  json_t *o = json_object ();
  set_str (o, "id", m->id);
  set_str (o, "name", m->name);
  set_str (o, "avatar_path", m->avatar_path);
  set_str (o, "identifier", m->identifier);
  set_int (o, "power", m->power);
  return o;
}

/* PaChatFeatures -> wire "features". */
json_t *
pa_wire_features_to_json (const PaChatFeatures *f, GError **error)
{
  g_return_val_if_fail (f != NULL, NULL);
  if (!check_size (f->struct_size, SIZE_2_0 (PaChatFeatures, max_text_length), "PaChatFeatures",
                   error))
    return NULL;
  json_t *o = json_object ();
  set_uint (o, "capabilities", f->capabilities);
  set_uint (o, "max_media_size", f->max_media_size);
  set_uint (o, "max_edit_age_s", f->max_edit_age_s);
  set_uint (o, "max_text_length", f->max_text_length);
  return o;
}

/* PaChatInfo -> wire "chat".  `members` is present only when the plugin
 * passed a members array (NULL means "unchanged", an empty one "nobody"). */
json_t *
pa_wire_chat_to_json (const PaChatInfo *c, GError **error)
{
  g_return_val_if_fail (c != NULL, NULL);
  if (!check_size (c->struct_size, SIZE_2_0 (PaChatInfo, read_only), "PaChatInfo", error))
    return NULL;
  if (c->kind != PA_CHAT_DM && c->kind != PA_CHAT_GROUP)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_PLUGIN, "unknown chat kind %d", (int) c->kind);
      return NULL;
    }
  if (c->n_members > PA_WIRE_MAX_ITEMS)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_TOO_LARGE, "chat with %" G_GSIZE_FORMAT " members",
                   c->n_members);
      return NULL;
    }
  g_autoptr (json_t) o = json_object ();
  set_str (o, "id", c->id);
  set_str (o, "kind", c->kind == PA_CHAT_DM ? "dm" : "group");
  set_str (o, "name", c->name);
  set_str (o, "topic", c->topic);
  set_str (o, "avatar_path", c->avatar_path);
  if (c->members != NULL)
    {
      json_t *arr = json_array ();
      json_object_set_new (o, "members", arr);
      for (gsize i = 0; i < c->n_members; i++)
        {
          json_t *m = pa_wire_member_to_json (&c->members[i], error);
          if (m == NULL)
            return NULL;
          json_array_append_new (arr, m);
        }
    }
  set_bool (o, "members_complete", c->members_complete);
  if (c->features != NULL)
    {
      json_t *f = pa_wire_features_to_json (c->features, error);
      if (f == NULL)
        return NULL;
      json_object_set_new (o, "features", f);
    }
  set_uint (o, "disappearing_s", c->disappearing_s);
  set_bool (o, "read_only", c->read_only);
  /* Appended in 2.2: a 2.0 or 2.1 plugin's chat is never secret. */
  if (PA_HAS_MEMBER (c, PaChatInfo, secret))
    set_bool (o, "secret", c->secret);
  return g_steal_pointer (&o);
}

/* PaEvent -> wire event object. */
json_t *
pa_wire_event_to_json (const PaEvent *e, GError **error)
{
  g_return_val_if_fail (e != NULL, NULL);
  if (!check_size (e->struct_size, SIZE_2_0 (PaEvent, status_text), "PaEvent", error))
    return NULL;
  const char *type = pa_wire_event_type_to_string (e->type);
  if (type == NULL)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_PLUGIN, "unknown event type %d", (int) e->type);
      return NULL;
    }
  const char *const ids[] = { e->chat_id, e->sender_id, e->message_id, e->target_id,
                              e->chat != NULL ? e->chat->id : NULL,
                              e->contact != NULL ? e->contact->id : NULL };
  for (gsize i = 0; i < G_N_ELEMENTS (ids); i++)
    if (ids[i] != NULL && !pa_wire_id_valid (ids[i], error))
      return NULL;
  g_autoptr (json_t) o = json_object ();
  set_str (o, "type", type);
  set_str (o, "chat_id", e->chat_id);
  set_str (o, "sender_id", e->sender_id);
  set_int (o, "ts", e->timestamp_ms);
  set_uint (o, "stream_order", e->stream_order);
  set_str (o, "message_id", e->message_id);
  set_str (o, "target_id", e->target_id);
  set_str (o, "txn_id", e->txn_id);
  set_bool (o, "from_me", e->from_me);
  if (e->content != NULL)
    {
      json_t *c = pa_wire_content_to_json (e->content, error);
      if (c == NULL)
        return NULL;
      json_object_set_new (o, "content", c);
    }
  set_str (o, "reaction_key", e->reaction_key);
  if (e->chat != NULL)
    {
      json_t *c = pa_wire_chat_to_json (e->chat, error);
      if (c == NULL)
        return NULL;
      json_object_set_new (o, "chat", c);
    }
  if (e->contact != NULL)
    {
      json_t *c = pa_wire_member_to_json (e->contact, error);
      if (c == NULL)
        return NULL;
      json_object_set_new (o, "contact", c);
    }
  set_bool (o, "typing", e->typing);
  set_uint (o, "typing_timeout_ms", e->typing_timeout_ms);
  if (e->type == PA_EV_PRESENCE)
    {
      const char *p = pa_wire_presence_to_string (e->presence);
      if (p == NULL)
        {
          g_set_error (error, PA_ERROR, PA_ERROR_PLUGIN, "unknown presence %d", (int) e->presence);
          return NULL;
        }
      set_str (o, "presence", p);
      set_str (o, "status_text", e->status_text);
    }
  if (e->type == PA_EV_REACTION_SYNC)
    {
      if (e->n_reaction_keys > PA_WIRE_MAX_ITEMS
          || (e->n_reaction_keys > 0 && e->reaction_keys == NULL))
        {
          g_set_error_literal (error, PA_ERROR, PA_ERROR_PLUGIN, "bad reaction_keys array");
          return NULL;
        }
      json_t *arr = json_array ();
      json_object_set_new (o, "reaction_keys", arr);
      for (gsize i = 0; i < e->n_reaction_keys; i++)
        json_array_append_new (arr, str_value (e->reaction_keys[i]));
    }
  return g_steal_pointer (&o);
}

/* PaField -> wire field; `choices` only when the plugin gave some. */
json_t *
pa_wire_field_to_json (const PaField *f, GError **error)
{
  g_return_val_if_fail (f != NULL, NULL);
  if (!check_size (f->struct_size, SIZE_2_0 (PaField, choices), "PaField", error))
    return NULL;
  const char *type = pa_wire_field_type_to_string (f->type);
  if (type == NULL)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_PLUGIN, "unknown field type %d", (int) f->type);
      return NULL;
    }
  g_autoptr (json_t) o = json_object ();
  set_str (o, "id", f->id);
  set_str (o, "label", f->label);
  set_str (o, "type", type);
  set_str (o, "default", f->default_value);
  set_bool (o, "optional", f->optional);
  if (f->choices != NULL)
    {
      json_t *arr = json_array ();
      json_object_set_new (o, "choices", arr);
      for (gsize i = 0; f->choices[i] != NULL; i++)
        {
          if (i >= PA_WIRE_MAX_ITEMS)
            {
              g_set_error_literal (error, PA_ERROR, PA_ERROR_TOO_LARGE, "too many choices");
              return NULL;
            }
          json_array_append_new (arr, str_value (f->choices[i]));
        }
    }
  return g_steal_pointer (&o);
}

/* PaLoginStep -> wire "step". */
json_t *
pa_wire_login_step_to_json (const PaLoginStep *s, GError **error)
{
  g_return_val_if_fail (s != NULL, NULL);
  if (!check_size (s->struct_size, SIZE_2_0 (PaLoginStep, expires_s), "PaLoginStep", error))
    return NULL;
  const char *kind = pa_wire_step_kind_to_string (s->kind);
  if (kind == NULL)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_PLUGIN, "unknown login step kind %d", (int) s->kind);
      return NULL;
    }
  if (s->n_fields > PA_WIRE_MAX_ITEMS || (s->n_fields > 0 && s->fields == NULL))
    {
      g_set_error_literal (error, PA_ERROR, PA_ERROR_PLUGIN, "login step with bad fields");
      return NULL;
    }
  g_autoptr (json_t) o = json_object ();
  set_str (o, "kind", kind);
  set_str (o, "step_id", s->step_id);
  set_str (o, "instructions", s->instructions);
  if (s->fields != NULL)
    {
      json_t *arr = json_array ();
      json_object_set_new (o, "fields", arr);
      for (gsize i = 0; i < s->n_fields; i++)
        {
          json_t *f = pa_wire_field_to_json (&s->fields[i], error);
          if (f == NULL)
            return NULL;
          json_array_append_new (arr, f);
        }
    }
  set_str (o, "display_text", s->display_text);
  set_str (o, "image_path", s->image_path);
  set_str (o, "remote_id", s->remote_id);
  set_str (o, "remote_name", s->remote_name);
  set_uint (o, "expires_s", s->expires_s);
  return g_steal_pointer (&o);
}

/* PaLoginFlow -> wire flow. */
json_t *
pa_wire_login_flow_to_json (const PaLoginFlow *f, GError **error)
{
  g_return_val_if_fail (f != NULL, NULL);
  if (!check_size (f->struct_size, SIZE_2_0 (PaLoginFlow, description), "PaLoginFlow", error))
    return NULL;
  json_t *o = json_object ();
  set_str (o, "id", f->id);
  set_str (o, "name", f->name);
  set_str (o, "description", f->description);
  return o;
}

/* Operation names in wire order with the descriptor member that serves
 * each: `ops` in hello lists those that are not NULL. */
#define OP_MEMBER(name) { #name, offsetof (PaLoginOps, name) }
static const struct
{
  const char *name;
  gsize offset;
} op_members[] = {
  OP_MEMBER (send),          OP_MEMBER (edit),
  OP_MEMBER (redact),        OP_MEMBER (react),
  OP_MEMBER (mark_read),     OP_MEMBER (typing),
  OP_MEMBER (set_chat_info), OP_MEMBER (set_membership),
  OP_MEMBER (resolve_identifier), OP_MEMBER (list_contacts),
  OP_MEMBER (create_dm),     OP_MEMBER (create_group),
  OP_MEMBER (get_chat_info), OP_MEMBER (get_user_info),
  OP_MEMBER (fetch_history), OP_MEMBER (logout),
};

/* See pa-wire.h. */
gboolean
pa_wire_login_op_present (const PaLoginOps *ops, const char *name)
{
  if (ops == NULL || name == NULL)
    return FALSE;
  for (gsize i = 0; i < G_N_ELEMENTS (op_members); i++)
    {
      if (strcmp (op_members[i].name, name) != 0)
        continue;
      /* A member past the plugin's struct_size is absent (an older minor). */
      if (ops->struct_size < op_members[i].offset + sizeof (void (*) (void)))
        return FALSE;
      void (*fn) (void);
      memcpy (&fn, (const char *) ops + op_members[i].offset, sizeof fn);
      return fn != NULL;
    }
  return FALSE;
}

/* See pa-wire.h. */
json_t *
pa_wire_config_key_to_json (const PaConfigKey *k, GError **error)
{
  g_return_val_if_fail (k != NULL, NULL);
  if (!check_size (k->struct_size, SIZE_2_0 (PaConfigKey, required), "PaConfigKey", error))
    return NULL;
  const char *type = pa_wire_config_type_to_string (k->type);
  if (type == NULL)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_PLUGIN, "unknown config type %d", (int) k->type);
      return NULL;
    }
  if (k->key == NULL || *k->key == '\0' || strspn (k->key, "abcdefghijklmnopqrstuvwxyz0123456789_")
                                              != strlen (k->key))
    {
      g_set_error_literal (error, PA_ERROR, PA_ERROR_PLUGIN,
                           "config key names are [a-z0-9_]+");
      return NULL;
    }
  json_t *o = json_object ();
  set_str (o, "key", k->key);
  set_str (o, "type", type);
  json_object_set_new (o, "default", str_value (k->default_value));
  set_str (o, "description", k->description);
  set_bool (o, "secret", k->secret);
  set_bool (o, "required", k->required);
  return o;
}

/* See pa-wire.h. */
json_t *
pa_wire_hello (const PaNetwork *d)
{
  g_return_val_if_fail (d != NULL, NULL);
  json_t *o = json_object ();
  set_str (o, "t", "hello");
  set_str (o, "plugin", d->name);
  set_str (o, "display_name", d->display_name != NULL ? d->display_name : d->name);
  set_str (o, "version", d->version);
  set_uint (o, "capabilities", d->capabilities);
  g_autofree char *abi = g_strdup_printf ("%u.%u", d->abi_major, d->abi_minor);
  set_str (o, "abi", abi);
  json_t *flows = json_array ();
  json_object_set_new (o, "flows", flows);
  for (gsize i = 0; d->login_flows != NULL && i < d->n_login_flows; i++)
    {
      g_autoptr (GError) error = NULL;
      json_t *f = pa_wire_login_flow_to_json (&d->login_flows[i], &error);
      if (f == NULL)
        g_warning ("%s: login flow %" G_GSIZE_FORMAT ": %s", d->name, i, error->message);
      else
        json_array_append_new (flows, f);
    }
  json_t *config = json_array ();
  json_object_set_new (o, "config", config);
  for (gsize i = 0; d->config_keys != NULL && i < d->n_config_keys; i++)
    {
      g_autoptr (GError) error = NULL;
      json_t *k = pa_wire_config_key_to_json (&d->config_keys[i], &error);
      if (k == NULL)
        g_warning ("%s: config key %" G_GSIZE_FORMAT ": %s", d->name, i, error->message);
      else
        json_array_append_new (config, k);
    }
  json_t *ops = json_array ();
  json_object_set_new (o, "ops", ops);
  if (d->login_new != NULL)
    for (gsize i = 0; i < G_N_ELEMENTS (op_members); i++)
      if (pa_wire_login_op_present (d->login_ops, op_members[i].name))
        json_array_append_new (ops, json_string (op_members[i].name));
  set_bool (o, "login", d->login_new != NULL && d->login_ops != NULL);
  set_bool (o, "import", d->import_file != NULL);
  set_bool (o, "normalize", d->normalize_id != NULL);
  /* Appended in 2.3: an older plugin's logins cannot share a process. */
  set_uint (o, "logins_per_worker",
            PA_HAS_MEMBER (d, PaNetwork, logins_per_worker) ? d->logins_per_worker : 0);
  return o;
}

/* See pa-wire.h. */
json_t *
pa_wire_result_to_json (guint64 op_id, const PaOpResult *r, GError **error)
{
  g_return_val_if_fail (r != NULL, NULL);
  if (!check_size (r->struct_size, SIZE_2_0 (PaOpResult, error), "PaOpResult", error))
    return NULL;
  const char *code = pa_wire_result_code_to_string (r->code);
  if (code == NULL)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_PLUGIN, "unknown result code %d", (int) r->code);
      return NULL;
    }
  json_t *o = json_object ();
  set_str (o, "t", "result");
  set_uint (o, "op_id", MIN (op_id, (guint64) G_MAXINT64));
  set_bool (o, "ok", r->code == PA_RESULT_OK);
  set_str (o, "code", code);
  set_str (o, "legacy_id", r->legacy_id);
  set_int (o, "legacy_ts", r->legacy_ts_ms);
  set_str (o, "cursor", r->cursor);
  set_uint (o, "retry_after_ms", r->retry_after_ms);
  set_str (o, "error", r->error);
  return o;
}

/* See pa-wire.h. */
gboolean
pa_wire_id_valid (const char *id, GError **error)
{
  if (id == NULL || *id == '\0')
    {
      g_set_error_literal (error, PA_ERROR, PA_ERROR_PLUGIN, "empty id");
      return FALSE;
    }
  gsize len = strlen (id);
  if (len > PA_ID_MAX_BYTES)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_PLUGIN, "id of %" G_GSIZE_FORMAT " bytes (max %d)",
                   len, PA_ID_MAX_BYTES);
      return FALSE;
    }
  if (!g_utf8_validate (id, (gssize) len, NULL))
    {
      g_set_error_literal (error, PA_ERROR, PA_ERROR_PLUGIN, "id is not UTF-8");
      return FALSE;
    }
  for (const guchar *p = (const guchar *) id; *p; p++)
    if (*p < 0x20 || *p == 0x7f)
      {
        g_set_error_literal (error, PA_ERROR, PA_ERROR_PLUGIN, "id holds a control character");
        return FALSE;
      }
  return TRUE;
}

/* See pa-wire.h. */
json_t *
pa_wire_string (const char *s)
{
  return str_value (s);
}

/* ------------------------------------------------------------ JSON -> ABI */

/* See pa-wire.h. */
gboolean
pa_wire_get_string (json_t *obj, const char *key, gboolean required, const char **out,
                    GError **error)
{
  json_t *v = json_object_get (obj, key);
  *out = NULL;
  if (v == NULL || json_is_null (v))
    {
      if (required)
        {
          g_set_error (error, PA_ERROR, PA_ERROR_JSON, "missing %s", key);
          return FALSE;
        }
      return TRUE;
    }
  if (!json_is_string (v))
    {
      g_set_error (error, PA_ERROR, PA_ERROR_JSON, "%s must be a string", key);
      return FALSE;
    }
  *out = json_string_value (v);
  return TRUE;
}

/* See pa-wire.h. */
gboolean
pa_wire_get_bool (json_t *obj, const char *key, gboolean dflt, gboolean *out, GError **error)
{
  json_t *v = json_object_get (obj, key);
  *out = dflt;
  if (v == NULL || json_is_null (v))
    return TRUE;
  if (!json_is_boolean (v))
    {
      g_set_error (error, PA_ERROR, PA_ERROR_JSON, "%s must be a boolean", key);
      return FALSE;
    }
  *out = json_is_true (v);
  return TRUE;
}

/* See pa-wire.h: an integer in [0, max]. */
gboolean
pa_wire_get_uint (json_t *obj, const char *key, guint64 max, guint64 dflt, guint64 *out,
                  GError **error)
{
  json_t *v = json_object_get (obj, key);
  *out = dflt;
  if (v == NULL || json_is_null (v))
    return TRUE;
  if (!json_is_integer (v) || json_integer_value (v) < 0
      || (guint64) json_integer_value (v) > max)
    {
      g_set_error (error, PA_ERROR, PA_ERROR_JSON,
                   "%s must be an integer between 0 and %" G_GUINT64_FORMAT, key, max);
      return FALSE;
    }
  *out = (guint64) json_integer_value (v);
  return TRUE;
}

static gboolean
get_real (json_t *obj, const char *key, double *out, GError **error)
{
  json_t *v = json_object_get (obj, key);
  *out = 0.0;
  if (v == NULL || json_is_null (v))
    return TRUE;
  if (!json_is_number (v))
    {
      g_set_error (error, PA_ERROR, PA_ERROR_JSON, "%s must be a number", key);
      return FALSE;
    }
  *out = json_number_value (v);
  return TRUE;
}

/* See pa-wire.h. */
gboolean
pa_wire_content_from_json (json_t *obj, PaContent *out, GError **error)
{
  g_return_val_if_fail (out != NULL, FALSE);
  memset (out, 0, sizeof *out);
  out->struct_size = sizeof *out;
  if (!json_is_object (obj))
    {
      g_set_error_literal (error, PA_ERROR, PA_ERROR_JSON, "content must be an object");
      return FALSE;
    }
  const char *kind = NULL;
  if (!pa_wire_get_string (obj, "kind", TRUE, &kind, error))
    return FALSE;
  if (!pa_wire_msg_kind_from_string (kind, &out->kind))
    {
      g_set_error (error, PA_ERROR, PA_ERROR_JSON, "unknown content kind \"%s\"", kind);
      return FALSE;
    }
  guint64 size, width, height, duration, flags;
  if (!pa_wire_get_string (obj, "text", FALSE, &out->text, error)
      || !pa_wire_get_string (obj, "html", FALSE, &out->html, error)
      || !pa_wire_get_string (obj, "media_path", FALSE, &out->media_path, error)
      || !pa_wire_get_string (obj, "media_name", FALSE, &out->media_name, error)
      || !pa_wire_get_string (obj, "mimetype", FALSE, &out->mimetype, error)
      || !pa_wire_get_uint (obj, "size", G_MAXINT64, 0, &size, error)
      || !pa_wire_get_uint (obj, "width", G_MAXUINT32, 0, &width, error)
      || !pa_wire_get_uint (obj, "height", G_MAXUINT32, 0, &height, error)
      || !pa_wire_get_uint (obj, "duration_ms", G_MAXUINT32, 0, &duration, error)
      || !get_real (obj, "latitude", &out->latitude, error)
      || !get_real (obj, "longitude", &out->longitude, error)
      || !pa_wire_get_string (obj, "reply_to", FALSE, &out->reply_to, error)
      || !pa_wire_get_string (obj, "forwarded_from", FALSE, &out->forwarded_from, error)
      || !pa_wire_get_uint (obj, "flags", G_MAXUINT32, 0, &flags, error))
    return FALSE;
  out->flags = (guint32) flags;
  out->media_size = size;
  out->width = (guint32) width;
  out->height = (guint32) height;
  out->duration_ms = (guint32) duration;
  return TRUE;
}
