/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * tg-test-host.c — a host table for the live Telegram parts' unit tests
 * (see tg-test-host.h).
 */
#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>

#include "tg-test-host.h"
#include "tg-test-td.h"

static GHashTable *meta;
static int64_t budget = -1;
static json_t *config;
static json_t *events;
static char *data_dir;

static void
set_str (json_t *o, const char *k, const char *v)
{
  if (v != NULL)
    json_object_set_new (o, k, json_string (v));
}

/* A path in the data dir, relative to it (the tests' dirs differ). */
static void
set_path (json_t *o, const char *k, const char *path)
{
  if (path == NULL)
    return;
  g_assert_true (g_str_has_prefix (path, data_dir));
  g_assert_true (g_file_test (path, G_FILE_TEST_IS_REGULAR));
  json_object_set_new (o, k, json_string (path + strlen (data_dir) + 1));
}

static json_t *
member_json (const PaMember *m)
{
  json_t *o = json_object ();
  set_str (o, "id", m->id);
  set_str (o, "name", m->name);
  set_path (o, "avatar_path", m->avatar_path);
  set_str (o, "identifier", m->identifier);
  json_object_set_new (o, "power", json_integer (m->power));
  return o;
}

static json_t *
content_json (const PaContent *c)
{
  json_t *o = json_object ();
  json_object_set_new (o, "kind", json_integer (c->kind));
  set_str (o, "text", c->text);
  set_str (o, "html", c->html);
  if (c->media_path != NULL)
    {
      /* the host takes the file: read it, then delete it */
      g_autofree char *data = NULL;
      gsize len = 0;
      g_assert_true (g_str_has_prefix (c->media_path, data_dir));
      if (g_file_get_contents (c->media_path, &data, &len, NULL))
        json_object_set_new (o, "media_bytes", json_stringn (data, len));
      g_unlink (c->media_path);
    }
  set_str (o, "media_name", c->media_name);
  set_str (o, "mimetype", c->mimetype);
  if (c->media_size != 0)
    json_object_set_new (o, "media_size", json_integer ((json_int_t) c->media_size));
  if (c->width != 0)
    json_object_set_new (o, "width", json_integer (c->width));
  if (c->height != 0)
    json_object_set_new (o, "height", json_integer (c->height));
  if (c->duration_ms != 0)
    json_object_set_new (o, "duration_ms", json_integer (c->duration_ms));
  if (c->kind == PA_MSG_LOCATION)
    {
      json_object_set_new (o, "latitude", json_real (c->latitude));
      json_object_set_new (o, "longitude", json_real (c->longitude));
    }
  set_str (o, "reply_to", c->reply_to);
  set_str (o, "forwarded_from", c->forwarded_from);
  if (c->flags != 0)
    json_object_set_new (o, "flags", json_integer (c->flags));
  return o;
}

static uint64_t
api_emit (PaHost *host, const PaEvent *ev)
{
  (void) host;
  json_t *o = json_object ();
  static const char *const names[] = {
    [PA_EV_MESSAGE] = "MESSAGE",
    [PA_EV_MESSAGE_UPSERT] = "MESSAGE_UPSERT",
    [PA_EV_EDIT] = "EDIT",
    [PA_EV_DELETE] = "DELETE",
    [PA_EV_REACTION] = "REACTION",
    [PA_EV_REACTION_REMOVE] = "REACTION_REMOVE",
    [PA_EV_REACTION_SYNC] = "REACTION_SYNC",
    [PA_EV_READ_RECEIPT] = "READ_RECEIPT",
    [PA_EV_DELIVERY_RECEIPT] = "DELIVERY_RECEIPT",
    [PA_EV_MARKED_UNREAD] = "MARKED_UNREAD",
    [PA_EV_TYPING] = "TYPING",
    [PA_EV_PRESENCE] = "PRESENCE",
    [PA_EV_CHAT_INFO] = "CHAT_INFO",
    [PA_EV_CHAT_RESYNC] = "CHAT_RESYNC",
    [PA_EV_CHAT_DELETE] = "CHAT_DELETE",
    [PA_EV_CONTACT_INFO] = "CONTACT_INFO",
    [PA_EV_BACKFILL_END] = "BACKFILL_END",
  };
  g_assert_true (ev->type > 0 && (size_t) ev->type < G_N_ELEMENTS (names));
  json_object_set_new (o, "type", json_string (names[ev->type]));
  set_str (o, "chat_id", ev->chat_id);
  set_str (o, "sender_id", ev->sender_id);
  set_str (o, "message_id", ev->message_id);
  set_str (o, "target_id", ev->target_id);
  set_str (o, "txn_id", ev->txn_id);
  set_str (o, "reaction_key", ev->reaction_key);
  json_object_set_new (o, "timestamp_ms", json_integer (ev->timestamp_ms));
  json_object_set_new (o, "from_me", json_boolean (ev->from_me));
  if (ev->type == PA_EV_TYPING)
    json_object_set_new (o, "typing", json_boolean (ev->typing));
  if (ev->content != NULL)
    json_object_set_new (o, "content", content_json (ev->content));
  if (ev->contact != NULL)
    json_object_set_new (o, "contact", member_json (ev->contact));
  if (ev->type == PA_EV_REACTION_SYNC)
    {
      json_t *a = json_array ();
      for (size_t i = 0; i < ev->n_reaction_keys; i++)
        json_array_append_new (a, json_string (ev->reaction_keys[i]));
      json_object_set_new (o, "reaction_keys", a);
    }
  if (ev->chat != NULL)
    {
      const PaChatInfo *ci = ev->chat;
      json_t *c = json_object ();
      set_str (c, "id", ci->id);
      json_object_set_new (c, "kind", json_integer (ci->kind));
      set_str (c, "name", ci->name);
      set_str (c, "topic", ci->topic);
      set_path (c, "avatar_path", ci->avatar_path);
      json_object_set_new (c, "secret", json_boolean (ci->secret));
      json_object_set_new (c, "read_only", json_boolean (ci->read_only));
      json_object_set_new (c, "members_complete", json_boolean (ci->members_complete));
      if (ci->members != NULL)
        {
          json_t *a = json_array ();
          for (size_t i = 0; i < ci->n_members; i++)
            json_array_append_new (a, member_json (&ci->members[i]));
          json_object_set_new (c, "members", a);
        }
      json_object_set_new (o, "chat", c);
    }
  json_array_append_new (events, o);
  return json_array_size (events);
}

static const char *
api_data_dir (PaHost *host)
{
  (void) host;
  return data_dir;
}

static int64_t
api_budget_left (PaHost *host)
{
  (void) host;
  return budget;
}

void
tg_test_set_config (json_t *values)
{
  g_clear_pointer (&config, json_decref);
  if (values != NULL)
    config = json_incref (values);
}

void
tg_test_set_budget (int64_t bytes)
{
  budget = bytes;
}

static void
api_log (PaHost *host, PaLogLevel level, const char *message)
{
  (void) host;
  (void) level;
  g_test_message ("plugin: %s", message);
}

static void
api_meta_set (PaHost *host, PaMetaScope scope, const char *id, const char *value)
{
  (void) host;
  g_hash_table_insert (meta, g_strdup_printf ("%d:%s", (int) scope, id), g_strdup (value));
}

static char *
api_meta_get (PaHost *host, PaMetaScope scope, const char *id)
{
  (void) host;
  g_autofree char *k = g_strdup_printf ("%d:%s", (int) scope, id);
  const char *v = g_hash_table_lookup (meta, k);
  return v != NULL ? strdup (v) : NULL;
}

static int64_t
api_config_int (PaHost *host, const char *key)
{
  (void) host;
  json_t *v = json_object_get (config, key);
  if (v != NULL)
    return json_integer_value (v);
  if (strcmp (key, "max_media_bytes") == 0)
    return 1024 * 1024;
  if (strcmp (key, "history_chats") == 0)
    return 20;
  if (strcmp (key, "history_messages") == 0)
    return 50;
  if (strcmp (key, "history_days") == 0)
    return 30;
  return 0;
}

static const PaHostApi test_api = {
  .struct_size = sizeof (PaHostApi),
  .abi_major = PA_PLUGIN_ABI_MAJOR,
  .abi_minor = PA_PLUGIN_ABI_MINOR,
  .log = api_log,
  .emit = api_emit,
  .data_dir = api_data_dir,
  .budget_left = api_budget_left,
  .meta_set = api_meta_set,
  .meta_get = api_meta_get,
  .config_int = api_config_int,
  .op_result = tg_test_op_result,
};

PaLogin *
tg_test_login_new (void)
{
  meta = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  events = json_array ();
  data_dir = g_dir_make_tmp ("tg-test-XXXXXX", NULL);
  g_assert_nonnull (data_dir);
  PaLogin *login = g_new0 (PaLogin, 1);
  login->api = &test_api;
  login->data_dir = data_dir;
  login->ready = TRUE;
  login->self_id = 1000;
  budget = -1;
  tg_test_td_reset ();
  return login;
}

static void
rm_rf (const char *path)
{
  GDir *d = g_dir_open (path, 0, NULL);
  if (d != NULL)
    {
      const char *n;
      while ((n = g_dir_read_name (d)) != NULL)
        {
          g_autofree char *p = g_build_filename (path, n, NULL);
          if (g_file_test (p, G_FILE_TEST_IS_DIR))
            rm_rf (p);
          else
            g_unlink (p);
        }
      g_dir_close (d);
    }
  g_rmdir (path);
}

void
tg_test_login_free (PaLogin *login)
{
  g_free (login);
  g_clear_pointer (&meta, g_hash_table_unref);
  g_clear_pointer (&events, json_decref);
  g_clear_pointer (&config, json_decref);
  rm_rf (data_dir);
  g_clear_pointer (&data_dir, g_free);
}

json_t *
tg_test_events (void)
{
  return events;
}

void
tg_test_events_clear (void)
{
  json_array_clear (events);
}
