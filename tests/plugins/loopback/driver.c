/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * driver.c — a minimal SDK 2 plugin host for tests: loads a plugin .so,
 * implements PaHostApi by printing each call as one JSON line on stdout, and
 * takes commands as JSON lines on stdin, so Python tests can drive a plugin
 * end to end without the real worker.
 *
 *   driver PLUGIN.so DATA_DIR [KEY=VALUE…]
 *
 * Like the worker it calls network->init first (KEY=VALUE pairs are the
 * plugin's configuration; a declared key not given takes its default) and
 * prints {"call":"ready","init_ok":b,"error":s}; network->shutdown runs last,
 * after login_free.  Commands: {"cmd":"new","saved":b} ·
 * {"cmd":"login_start","flow":s} · {"cmd":"login_submit","step_id":s,"values":{…}} ·
 * {"cmd":"login_cancel"} · {"cmd":"connect"} · {"cmd":"disconnect"} ·
 * {"cmd":"auto_persist","value":b} · {"cmd":"persist","seq":n} ·
 * {"cmd":"budget","bytes":n} (what budget_left answers; -1, unlimited, at start) ·
 * {"cmd":"refuse","value":b} (emit() refuses every event: answers 0) ·
 * {"cmd":"op","op":s,"op_id":n, …worker-protocol args} ·
 * {"cmd":"import","path":s,"chat":s} · {"cmd":"describe"} · {"cmd":"free"} ·
 * {"cmd":"quit"}.  Each emitted event is answered with event_persisted from an
 * idle callback unless auto_persist is off.  Output: {"call":name, …}; an
 * op_result prints its code by name ("ok", "not_connected", …) and "ok": bool.
 * The event loop members of PaHostApi run on GLib's default main context.
 */
#define G_LOG_DOMAIN "passerelle-loopback-driver"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gio/gio.h>
#include <gio/gunixinputstream.h>
#include <glib-unix.h>
#include <glib.h>
#include <gmodule.h>
#include <jansson.h>

#include "passerelle/plugin.h"
#include "test-host-loop.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC (json_t, json_decref)

struct PaHost {
  const PaNetwork *net;
  const PaLoginOps *ops; /* net->login_ops, or NULL */
  GHashTable *config;    /* key → value, from the command line */
  gint64 budget;         /* what budget_left answers */
  PaLogin *login;
  char *data_dir;
  GMainLoop *loop;
  GDataInputStream *in;
  guint64 next_seq;
  gboolean auto_persist;
  gboolean refuse; /* emit() answers 0 */
  GHashTable *meta; /* "scope/id" → value */
};

static void
out (json_t *obj)
{
  char *s = json_dumps (obj, JSON_COMPACT);
  if (s != NULL)
    {
      fputs (s, stdout);
      fputc ('\n', stdout);
      fflush (stdout);
      free (s);
    }
  json_decref (obj);
}

static void
set_str (json_t *o, const char *k, const char *v)
{
  if (v != NULL)
    json_object_set_new (o, k, json_string (v));
}

static const char *
js (json_t *o, const char *k)
{
  json_t *v = json_object_get (o, k);
  return json_is_string (v) ? json_string_value (v) : NULL;
}

static void
reply_error (const char *what)
{
  out (json_pack ("{s:s, s:s}", "call", "driver_error", "message", what));
}

static json_t *
member_json (const PaMember *m)
{
  json_t *o = json_object ();
  set_str (o, "id", m->id);
  set_str (o, "name", m->name);
  set_str (o, "avatar_path", m->avatar_path);
  set_str (o, "identifier", m->identifier);
  json_object_set_new (o, "power", json_integer (m->power));
  return o;
}

static const char *const kind_names[] = {
  "text", "notice", "emote", "image", "video", "audio", "voice", "file", "sticker", "location",
};
static const char *const type_names[] = {
  NULL,         "message",      "message_upsert", "edit",          "delete",
  "reaction",   "reaction_remove", "reaction_sync", "read_receipt", "delivery_receipt",
  "marked_unread", "typing",    "presence",       "chat_info",     "chat_resync",
  "chat_delete", "contact_info", "backfill_end",
};

static json_t *
content_json (const PaContent *c)
{
  json_t *o = json_object ();
  set_str (o, "kind", (guint) c->kind < G_N_ELEMENTS (kind_names) ? kind_names[c->kind] : "?");
  set_str (o, "text", c->text);
  set_str (o, "html", c->html);
  set_str (o, "media_path", c->media_path);
  set_str (o, "media_name", c->media_name);
  set_str (o, "mimetype", c->mimetype);
  json_object_set_new (o, "size", json_integer ((json_int_t) c->media_size));
  json_object_set_new (o, "width", json_integer (c->width));
  json_object_set_new (o, "height", json_integer (c->height));
  json_object_set_new (o, "duration_ms", json_integer (c->duration_ms));
  if (c->kind == PA_MSG_LOCATION)
    {
      json_object_set_new (o, "latitude", json_real (c->latitude));
      json_object_set_new (o, "longitude", json_real (c->longitude));
    }
  set_str (o, "reply_to", c->reply_to);
  set_str (o, "forwarded_from", c->forwarded_from);
  json_object_set_new (o, "flags", json_integer (c->flags));
  return o;
}

static json_t *
chat_json (const PaChatInfo *c)
{
  json_t *o = json_object ();
  set_str (o, "id", c->id);
  set_str (o, "kind", c->kind == PA_CHAT_DM ? "dm" : "group");
  set_str (o, "name", c->name);
  set_str (o, "topic", c->topic);
  set_str (o, "avatar_path", c->avatar_path);
  if (c->members != NULL)
    {
      json_t *a = json_array ();
      for (size_t i = 0; i < c->n_members; i++)
        json_array_append_new (a, member_json (&c->members[i]));
      json_object_set_new (o, "members", a);
    }
  json_object_set_new (o, "members_complete", json_boolean (c->members_complete));
  if (c->features != NULL)
    json_object_set_new (o, "features",
                         json_pack ("{s:I, s:I, s:I, s:I}", "capabilities",
                                    (json_int_t) c->features->capabilities, "max_media_size",
                                    (json_int_t) c->features->max_media_size, "max_edit_age_s",
                                    (json_int_t) c->features->max_edit_age_s, "max_text_length",
                                    (json_int_t) c->features->max_text_length));
  json_object_set_new (o, "disappearing_s", json_integer (c->disappearing_s));
  json_object_set_new (o, "read_only", json_boolean (c->read_only));
  if (PA_HAS_MEMBER (c, PaChatInfo, secret))
    json_object_set_new (o, "secret", json_boolean (c->secret));
  return o;
}

static void
api_log (PaHost *host, PaLogLevel level, const char *message)
{
  static const char *const levels[] = { "debug", "info", "warning", "error" };
  out (json_pack ("{s:s, s:s, s:s}", "call", "log", "level",
                  (guint) level < G_N_ELEMENTS (levels) ? levels[level] : "error", "message",
                  message != NULL ? message : ""));
}

typedef struct {
  PaHost *host;
  guint64 seq;
} Persist;

static gboolean
persist_idle (gpointer data)
{
  Persist *p = data;
  if (p->host->login != NULL && p->host->ops->event_persisted != NULL)
    {
      out (json_pack ("{s:s, s:I}", "call", "persisted", "seq", (json_int_t) p->seq));
      p->host->ops->event_persisted (p->host->login, p->seq);
    }
  g_free (p);
  return G_SOURCE_REMOVE;
}

static uint64_t
api_emit (PaHost *host, const PaEvent *e)
{
  guint64 seq = ++host->next_seq;
  json_t *ev = json_object ();
  set_str (ev, "type",
           (guint) e->type < G_N_ELEMENTS (type_names) && type_names[e->type] != NULL
               ? type_names[e->type]
               : "?");
  set_str (ev, "chat_id", e->chat_id);
  set_str (ev, "sender_id", e->sender_id);
  json_object_set_new (ev, "ts", json_integer (e->timestamp_ms));
  json_object_set_new (ev, "stream_order", json_integer ((json_int_t) e->stream_order));
  set_str (ev, "message_id", e->message_id);
  set_str (ev, "target_id", e->target_id);
  set_str (ev, "txn_id", e->txn_id);
  json_object_set_new (ev, "from_me", json_boolean (e->from_me));
  if (e->content != NULL)
    json_object_set_new (ev, "content", content_json (e->content));
  set_str (ev, "reaction_key", e->reaction_key);
  if (e->type == PA_EV_REACTION_SYNC)
    {
      json_t *keys = json_array ();
      for (size_t i = 0; e->reaction_keys != NULL && i < e->n_reaction_keys; i++)
        json_array_append_new (keys, json_string (e->reaction_keys[i]));
      json_object_set_new (ev, "reaction_keys", keys);
    }
  if (e->chat != NULL)
    json_object_set_new (ev, "chat", chat_json (e->chat));
  if (e->contact != NULL)
    json_object_set_new (ev, "contact", member_json (e->contact));
  if (e->type == PA_EV_TYPING)
    {
      json_object_set_new (ev, "typing", json_boolean (e->typing));
      json_object_set_new (ev, "typing_timeout_ms", json_integer (e->typing_timeout_ms));
    }
  if (e->type == PA_EV_PRESENCE)
    {
      static const char *const presences[] = { "offline", "online", "unavailable" };
      set_str (ev, "presence",
               (guint) e->presence < G_N_ELEMENTS (presences) ? presences[e->presence] : "?");
      set_str (ev, "status_text", e->status_text);
    }
  if (host->refuse)
    {
      /* Refused like an invalid event: seq 0, and a media file stays the plugin's. */
      out (json_pack ("{s:s, s:I, s:o, s:b}", "call", "emit", "seq", (json_int_t) 0, "event",
                      ev, "refused", TRUE));
      host->next_seq--;
      return 0;
    }
  out (json_pack ("{s:s, s:I, s:o}", "call", "emit", "seq", (json_int_t) seq, "event", ev));
  if (host->auto_persist && host->login != NULL)
    {
      Persist *p = g_new0 (Persist, 1);
      p->host = host;
      p->seq = seq;
      g_idle_add (persist_idle, p);
    }
  return seq;
}

static const char *
api_data_dir (PaHost *host)
{
  return host->data_dir;
}

static void
api_login_step (PaHost *host, const PaLoginStep *s)
{
  static const char *const kinds[] = { "user_input", "display_and_wait", "complete" };
  static const char *const ftypes[] = { "text", "password", "number", "bool",
                                        "choice", "phone", "code" };
  json_t *st = json_object ();
  set_str (st, "kind", (guint) s->kind < G_N_ELEMENTS (kinds) ? kinds[s->kind] : "?");
  set_str (st, "step_id", s->step_id);
  set_str (st, "instructions", s->instructions);
  json_t *fields = json_array ();
  for (size_t i = 0; i < s->n_fields; i++)
    {
      const PaField *f = &s->fields[i];
      json_t *fo = json_object ();
      set_str (fo, "id", f->id);
      set_str (fo, "label", f->label);
      set_str (fo, "type", (guint) f->type < G_N_ELEMENTS (ftypes) ? ftypes[f->type] : "?");
      set_str (fo, "default", f->default_value);
      json_object_set_new (fo, "optional", json_boolean (f->optional));
      json_array_append_new (fields, fo);
    }
  json_object_set_new (st, "fields", fields);
  set_str (st, "display_text", s->display_text);
  set_str (st, "image_path", s->image_path);
  set_str (st, "remote_id", s->remote_id);
  set_str (st, "remote_name", s->remote_name);
  out (json_pack ("{s:s, s:o}", "call", "login_step", "step", st));
}

static void
api_login_state (PaHost *host, PaLoginState state, const char *message)
{
  static const char *const names[] = { "connecting",   "connected",  "transient_disconnect",
                                       "bad_credentials", "logged_out", "unknown_error" };
  json_t *o = json_pack ("{s:s, s:s}", "call", "login_state", "state",
                         (guint) state < G_N_ELEMENTS (names) ? names[state] : "?");
  set_str (o, "message", message);
  out (o);
}

static const char *const result_names[] = {
  "ok",        "not_connected", "unsupported", "too_large", "rate_limited",
  "not_found", "forbidden",     "temporary",   "permanent",
};

static void
api_op_result (PaHost *host, uint64_t op_id, const PaOpResult *r)
{
  if (r == NULL || r->struct_size < sizeof (PaOpResult))
    {
      reply_error ("op_result without a PaOpResult of SDK 2.0's size");
      return;
    }
  json_t *o
      = json_pack ("{s:s, s:I, s:b, s:s}", "call", "op_result", "op_id", (json_int_t) op_id, "ok",
                   r->code == PA_RESULT_OK, "code",
                   (guint) r->code < G_N_ELEMENTS (result_names) ? result_names[r->code] : "?");
  set_str (o, "legacy_id", r->legacy_id);
  if (r->legacy_ts_ms != 0)
    json_object_set_new (o, "legacy_ts_ms", json_integer (r->legacy_ts_ms));
  set_str (o, "cursor", r->cursor);
  if (r->retry_after_ms != 0)
    json_object_set_new (o, "retry_after_ms", json_integer (r->retry_after_ms));
  set_str (o, "error", r->error);
  out (o);
}

static void
api_notice (PaHost *host, const char *text)
{
  out (json_pack ("{s:s, s:s}", "call", "notice", "text", text != NULL ? text : ""));
}

static char *
meta_key (PaMetaScope scope, const char *id)
{
  return g_strdup_printf ("%d/%s", (int) scope, id != NULL ? id : "");
}

static void
api_meta_set (PaHost *host, PaMetaScope scope, const char *id, const char *value)
{
  char *key = meta_key (scope, id);
  json_t *o = json_pack ("{s:s, s:i, s:s}", "call", "meta_set", "scope", (int) scope, "id",
                         id != NULL ? id : "");
  set_str (o, "value", value);
  out (o);
  if (value != NULL)
    g_hash_table_replace (host->meta, key, g_strdup (value));
  else
    {
      g_hash_table_remove (host->meta, key);
      g_free (key);
    }
}

static char *
api_meta_get (PaHost *host, PaMetaScope scope, const char *id)
{
  g_autofree char *key = meta_key (scope, id);
  const char *v = g_hash_table_lookup (host->meta, key);
  return v != NULL ? strdup (v) : NULL;
}

static void
api_op_contact (PaHost *host, uint64_t op_id, const PaMember *contact)
{
  out (json_pack ("{s:s, s:I, s:o}", "call", "op_contact", "op_id", (json_int_t) op_id,
                  "contact", member_json (contact)));
}

static int64_t
api_budget_left (PaHost *host)
{
  return host->budget;
}

/* The declared key `key`, or NULL (and a driver_error line) when the plugin
 * did not declare it: the real host only answers declared keys. */
static const PaConfigKey *
config_key (PaHost *host, const char *key, PaConfigType type)
{
  for (size_t i = 0; key != NULL && i < host->net->n_config_keys; i++)
    if (strcmp (host->net->config_keys[i].key, key) == 0)
      {
        if (host->net->config_keys[i].type != type)
          reply_error ("config key read with another type than declared");
        return &host->net->config_keys[i];
      }
  reply_error ("config key not declared in config_keys");
  return NULL;
}

static const char *
config_value (PaHost *host, const char *key, PaConfigType type)
{
  const PaConfigKey *k = config_key (host, key, type);
  if (k == NULL)
    return NULL;
  const char *v = g_hash_table_lookup (host->config, key);
  return v != NULL ? v : k->default_value;
}

static const char *
api_config_string (PaHost *host, const char *key)
{
  const char *v = config_value (host, key, PA_CONFIG_STRING);
  return v != NULL ? v : config_value (host, key, PA_CONFIG_PATH);
}

static int64_t
api_config_int (PaHost *host, const char *key)
{
  const char *v = config_value (host, key, PA_CONFIG_INT);
  gint64 n = 0;
  if (v != NULL && !g_ascii_string_to_signed (v, 10, G_MININT64, G_MAXINT64, &n, NULL))
    reply_error ("config value is not an integer");
  return n;
}

static bool
api_config_bool (PaHost *host, const char *key)
{
  const char *v = config_value (host, key, PA_CONFIG_BOOL);
  return v != NULL && (strcmp (v, "true") == 0 || strcmp (v, "yes") == 0);
}

static const PaHostApi host_api = {
  .struct_size = sizeof (PaHostApi),
  .abi_major = PA_PLUGIN_ABI_MAJOR,
  .abi_minor = PA_PLUGIN_ABI_MINOR,
  .log = api_log,
  .emit = api_emit,
  .data_dir = api_data_dir,
  .login_step = api_login_step,
  .login_state = api_login_state,
  .op_result = api_op_result,
  .notice = api_notice,
  .meta_set = api_meta_set,
  .meta_get = api_meta_get,
  .op_contact = api_op_contact,
  .budget_left = api_budget_left,
  .config_string = api_config_string,
  .config_int = api_config_int,
  .config_bool = api_config_bool,
  .timer_add = test_host_timer_add,
  .fd_watch_add = test_host_fd_watch_add,
  .source_remove = test_host_source_remove,
  .invoke = test_host_invoke,
};

static PaMsgKind
kind_from_name (const char *name)
{
  for (gsize i = 0; name != NULL && i < G_N_ELEMENTS (kind_names); i++)
    if (strcmp (name, kind_names[i]) == 0)
      return (PaMsgKind) i;
  return PA_MSG_TEXT;
}

static PaContent
content_from_json (json_t *c)
{
  PaContent content = {
    .struct_size = sizeof (PaContent),
    .kind = kind_from_name (js (c, "kind")),
    .text = js (c, "text"),
    .html = js (c, "html"),
    .media_path = js (c, "media_path"),
    .media_name = js (c, "media_name"),
    .mimetype = js (c, "mimetype"),
    .width = (uint32_t) json_integer_value (json_object_get (c, "width")),
    .height = (uint32_t) json_integer_value (json_object_get (c, "height")),
    .latitude = json_number_value (json_object_get (c, "latitude")),
    .longitude = json_number_value (json_object_get (c, "longitude")),
    .reply_to = js (c, "reply_to"),
  };
  return content;
}

static PaChatField
chat_field_from_name (const char *name)
{
  static const char *const names[] = { "name", "topic", "avatar", "disappearing" };
  for (gsize i = 0; name != NULL && i < G_N_ELEMENTS (names); i++)
    if (strcmp (name, names[i]) == 0)
      return (PaChatField)i;
  return (PaChatField)99; /* a field this SDK does not know */
}

static void
run_op (PaHost *h, json_t *cmd)
{
  const PaLoginOps *d = h->ops;
  PaLogin *l = h->login;
  const char *op = js (cmd, "op");
  guint64 id = (guint64) json_integer_value (json_object_get (cmd, "op_id"));
  const char *chat = js (cmd, "chat_id");
  json_t *content_obj = json_object_get (cmd, "content");
  PaContent content = content_from_json (content_obj);
  gboolean flag_remove = json_is_true (json_object_get (cmd, "remove"));
  if (l == NULL || op == NULL)
    {
      reply_error ("op without login or name");
      return;
    }
  if (strcmp (op, "send") == 0)
    d->send (l, id, chat, &content, js (cmd, "txn_id"));
  else if (strcmp (op, "edit") == 0)
    d->edit (l, id, chat, js (cmd, "target_id"), &content);
  else if (strcmp (op, "redact") == 0)
    d->redact (l, id, chat, js (cmd, "target_id"));
  else if (strcmp (op, "react") == 0)
    d->react (l, id, chat, js (cmd, "target_id"), js (cmd, "key"), flag_remove);
  else if (strcmp (op, "mark_read") == 0)
    d->mark_read (l, id, chat, js (cmd, "message_id"));
  else if (strcmp (op, "typing") == 0)
    d->typing (l, id, chat, json_is_true (json_object_get (cmd, "typing")));
  else if (strcmp (op, "set_chat_info") == 0)
    d->set_chat_info (l, id, chat, chat_field_from_name (js (cmd, "field")), js (cmd, "value"));
  else if (strcmp (op, "set_membership") == 0)
    d->set_membership (l, id, chat, js (cmd, "user_id"),
                       json_is_true (json_object_get (cmd, "join")));
  else if (strcmp (op, "resolve_identifier") == 0)
    d->resolve_identifier (l, id, js (cmd, "identifier"),
                           g_strcmp0 (js (cmd, "mode"), "search") == 0 ? PA_RESOLVE_SEARCH
                                                                       : PA_RESOLVE_IDENTIFIER);
  else if (strcmp (op, "list_contacts") == 0)
    d->list_contacts (l, id);
  else if (strcmp (op, "create_dm") == 0)
    d->create_dm (l, id, js (cmd, "user_id"));
  else if (strcmp (op, "create_group") == 0)
    {
      json_t *users = json_object_get (cmd, "user_ids");
      gsize n = json_array_size (users);
      g_autofree const char **ids = g_new0 (const char *, n + 1);
      for (gsize i = 0; i < n; i++)
        ids[i] = json_string_value (json_array_get (users, i));
      d->create_group (l, id, js (cmd, "name"), ids, n);
    }
  else if (strcmp (op, "get_chat_info") == 0)
    d->get_chat_info (l, id, chat);
  else if (strcmp (op, "get_user_info") == 0)
    d->get_user_info (l, id, js (cmd, "user_id"));
  else if (strcmp (op, "fetch_history") == 0)
    d->fetch_history (l, id, chat, js (cmd, "cursor"),
                      (uint32_t) json_integer_value (json_object_get (cmd, "count")),
                      json_is_true (json_object_get (cmd, "forward")));
  else if (strcmp (op, "logout") == 0)
    d->logout (l, id);
  else
    reply_error ("unknown op");
}

static void
describe (PaHost *h)
{
  const PaNetwork *n = h->net;
  const PaLoginOps *d = h->ops;
  static const char *const types[] = { "string", "int", "bool", "path" };
  json_t *flows = json_array ();
  for (size_t i = 0; i < n->n_login_flows; i++)
    json_array_append_new (flows, json_pack ("{s:s, s:s, s:s}", "id", n->login_flows[i].id, "name",
                                             n->login_flows[i].name, "description",
                                             n->login_flows[i].description));
  json_t *keys = json_array ();
  for (size_t i = 0; i < n->n_config_keys; i++)
    {
      const PaConfigKey *k = &n->config_keys[i];
      json_t *ko = json_pack ("{s:s, s:s, s:b, s:b}", "key", k->key, "type",
                              (guint) k->type < G_N_ELEMENTS (types) ? types[k->type] : "?",
                              "secret", k->secret, "required", k->required);
      set_str (ko, "default", k->default_value);
      set_str (ko, "description", k->description);
      json_array_append_new (keys, ko);
    }
  json_t *o = json_pack (
      "{s:s, s:s, s:s, s:s, s:I, s:o, s:o, s:b, s:b}", "call", "describe", "plugin", n->name,
      "display_name", n->display_name, "version", n->version, "capabilities",
      (json_int_t) n->capabilities, "flows", flows, "config_keys", keys, "import",
      n->import_file != NULL, "all_ops",
      d != NULL && d->send && d->edit && d->redact && d->react && d->mark_read && d->typing
          && d->set_chat_info && d->set_membership && d->resolve_identifier && d->list_contacts
          && d->create_dm && d->create_group && d->get_chat_info && d->get_user_info
          && d->fetch_history && d->logout && d->event_persisted && d->login_cancel);
  out (o);
}

static void
free_login (PaHost *h)
{
  if (h->login != NULL)
    {
      PaLogin *l = h->login;
      h->login = NULL;
      h->ops->login_free (l);
    }
}

static void
run_command (PaHost *h, json_t *cmd)
{
  const PaLoginOps *d = h->ops;
  const char *name = js (cmd, "cmd");
  if (name == NULL)
    reply_error ("no cmd");
  else if (strcmp (name, "new") == 0)
    {
      char *error = NULL;
      free_login (h);
      if (h->net->login_new != NULL && d != NULL)
        h->login = h->net->login_new (h, json_is_true (json_object_get (cmd, "saved")), &error);
      else
        error = strdup ("the network has no login");
      json_t *o = json_pack ("{s:s, s:b}", "call", "new", "ok", h->login != NULL);
      set_str (o, "error", error);
      out (o);
      free (error);
    }
  else if (strcmp (name, "describe") == 0)
    describe (h);
  else if (strcmp (name, "budget") == 0)
    h->budget = json_integer_value (json_object_get (cmd, "bytes"));
  else if (strcmp (name, "refuse") == 0)
    h->refuse = json_is_true (json_object_get (cmd, "value"));
  else if (strcmp (name, "auto_persist") == 0)
    h->auto_persist = json_is_true (json_object_get (cmd, "value"));
  else if (strcmp (name, "import") == 0)
    {
      char *error = NULL;
      PaImportOptions opts = { .struct_size = sizeof (PaImportOptions), .chat = js (cmd, "chat") };
      bool ok
          = h->net->import_file != NULL && h->net->import_file (h, js (cmd, "path"), &opts, &error);
      json_t *o = json_pack ("{s:s, s:b}", "call", "import_done", "ok", ok);
      set_str (o, "error", error);
      out (o);
      free (error);
    }
  else if (strcmp (name, "quit") == 0)
    g_main_loop_quit (h->loop);
  else if (h->login == NULL)
    reply_error ("no login: send {\"cmd\":\"new\"} first");
  else if (strcmp (name, "free") == 0)
    free_login (h);
  else if (strcmp (name, "login_start") == 0)
    d->login_start (h->login, js (cmd, "flow"));
  else if (strcmp (name, "login_submit") == 0)
    {
      json_t *values = json_object_get (cmd, "values");
      gsize n = json_object_size (values);
      g_autofree const char **ids = g_new0 (const char *, n + 1);
      g_autofree const char **vals = g_new0 (const char *, n + 1);
      gsize i = 0;
      const char *k;
      json_t *v;
      json_object_foreach (values, k, v)
      {
        ids[i] = k;
        vals[i] = json_is_string (v) ? json_string_value (v) : "";
        i++;
      }
      d->login_submit (h->login, js (cmd, "step_id"), ids, vals, n);
    }
  else if (strcmp (name, "login_cancel") == 0)
    d->login_cancel (h->login);
  else if (strcmp (name, "connect") == 0)
    d->connect (h->login);
  else if (strcmp (name, "disconnect") == 0)
    d->disconnect (h->login);
  else if (strcmp (name, "persist") == 0)
    {
      guint64 seq = (guint64) json_integer_value (json_object_get (cmd, "seq"));
      out (json_pack ("{s:s, s:I}", "call", "persisted", "seq", (json_int_t) seq));
      d->event_persisted (h->login, seq);
    }
  else if (strcmp (name, "op") == 0)
    run_op (h, cmd);
  else
    reply_error ("unknown cmd");
}

static void
on_line (GObject *src, GAsyncResult *res, gpointer data)
{
  PaHost *h = data;
  gsize len = 0;
  g_autoptr (GError) err = NULL;
  g_autofree char *line = g_data_input_stream_read_line_finish (G_DATA_INPUT_STREAM (src), res,
                                                                &len, &err);
  if (line == NULL)
    {
      g_main_loop_quit (h->loop);
      return;
    }
  json_error_t jerr;
  g_autoptr (json_t) cmd = json_loadb (line, len, 0, &jerr);
  if (json_is_object (cmd))
    run_command (h, cmd);
  else if (len > 0)
    reply_error ("bad JSON command");
  if (g_main_loop_is_running (h->loop))
    g_data_input_stream_read_line_async (h->in, G_PRIORITY_DEFAULT, NULL, on_line, h);
}

int
main (int argc, char **argv)
{
  if (argc < 3)
    {
      fprintf (stderr, "usage: %s PLUGIN.so DATA_DIR [KEY=VALUE…]\n", argv[0]);
      return 2;
    }
  GModule *module = g_module_open (argv[1], G_MODULE_BIND_LOCAL);
  gpointer sym = NULL;
  if (module == NULL || !g_module_symbol (module, PA_PLUGIN_ENTRY_SYMBOL, &sym) || sym == NULL)
    {
      fprintf (stderr, "cannot load %s: %s\n", argv[1], g_module_error ());
      return 1;
    }
  PaHost host = { 0 };
  host.net = ((PaPluginEntry) sym) ();
  if (host.net == NULL || host.net->magic != PA_PLUGIN_MAGIC
      || host.net->abi_major != PA_PLUGIN_ABI_MAJOR || host.net->abi_minor > PA_PLUGIN_ABI_MINOR
      || host.net->struct_size < sizeof (PaNetwork)
      || (host.net->login_ops != NULL
          && (host.net->login_ops->struct_size < sizeof (PaLoginOps)
              || host.net->login_ops->login_free == NULL)))
    {
      fprintf (stderr, "%s: not an SDK %d.%d network\n", argv[1], PA_PLUGIN_ABI_MAJOR,
               PA_PLUGIN_ABI_MINOR);
      return 1;
    }
  host.ops = host.net->login_ops;
  host.config = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  for (int i = 3; i < argc; i++)
    {
      const char *eq = strchr (argv[i], '=');
      if (eq == NULL)
        {
          fprintf (stderr, "%s: not KEY=VALUE\n", argv[i]);
          return 2;
        }
      g_hash_table_replace (host.config, g_strndup (argv[i], (gsize) (eq - argv[i])),
                            g_strdup (eq + 1));
    }
  host.data_dir = argv[2];
  host.budget = -1;
  host.auto_persist = TRUE;
  host.loop = g_main_loop_new (NULL, FALSE);
  host.meta = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  GInputStream *stdin_stream = g_unix_input_stream_new (0, FALSE);
  host.in = g_data_input_stream_new (stdin_stream);
  g_object_unref (stdin_stream);

  /* init before anything else, as the worker does. */
  char *error = NULL;
  gboolean inited = host.net->init == NULL || host.net->init (&host, &host_api, &error);
  json_t *ready = json_pack ("{s:s, s:b}", "call", "ready", "init_ok", inited);
  set_str (ready, "error", error);
  out (ready);
  free (error);
  if (inited)
    {
      g_data_input_stream_read_line_async (host.in, G_PRIORITY_DEFAULT, NULL, on_line, &host);
      g_main_loop_run (host.loop);
      free_login (&host);
      if (host.net->shutdown != NULL)
        host.net->shutdown (&host);
    }
  /* Let abandoned connections' cancelled callbacks run and free their memory. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_object_unref (host.in);
  g_hash_table_destroy (host.meta);
  g_hash_table_destroy (host.config);
  g_main_loop_unref (host.loop);
  g_module_close (module);
  return inited ? 0 : 1;
}
