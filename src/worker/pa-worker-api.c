/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* PaHostApi in a worker (pa-worker-api.h).  The worker is the first line of
 * the trust boundary: events whose ids break the IDENTIFIERS rule or whose
 * files lie outside the login's own directories are refused here, with a
 * log line, before they cost the host anything.  (The host checks again:
 * a hostile plugin is in the same process as this code.) */
#define G_LOG_DOMAIN "passerelle-worker"

#include "worker/pa-worker-api.h"
#include "pa-common.h"
#include "wire/pa-wire.h"
#include "worker/pa-worker-link.h"
#include "worker/pa-worker-loop.h"
#include "worker/pa-worker-secrets.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>

#define META_VALUE_MAX (64 * 1024)

static void
api_log (PaHost *host, PaLogLevel level, const char *message)
{
  g_return_if_fail (host != NULL);
  if (pa_wire_log_level_to_string (level) == NULL)
    level = PA_LOG_INFO;
  pa_worker_link_log (host, level, message);
}

/* Whether `path` resolves inside `root` (both canonical, symlinks
 * followed): a plugin must not name the host's files. */
static gboolean
path_inside (const char *path, const char *root)
{
  if (root == NULL)
    return FALSE;
  g_autofree char *real = realpath (path, NULL);
  if (real == NULL)
    return FALSE;
  gsize n = strlen (root);
  return strncmp (real, root, n) == 0 && (real[n] == '/' || real[n] == '\0');
}

static gboolean
path_allowed (PaHost *h, const char *path, GError **error)
{
  if (path == NULL)
    return TRUE;
  if (path_inside (path, h->data_dir) || path_inside (path, h->import_work_dir)
      || path_inside (path, h->import_file_dir))
    return TRUE;
  g_set_error (error, PA_ERROR, PA_ERROR_PLUGIN, "file %s is not inside the login's data dir",
               path);
  return FALSE;
}

static gboolean
event_files_allowed (PaHost *h, const PaEvent *e, GError **error)
{
  if (e->content != NULL && !path_allowed (h, e->content->media_path, error))
    return FALSE;
  if (e->contact != NULL && !path_allowed (h, e->contact->avatar_path, error))
    return FALSE;
  if (e->chat != NULL)
    {
      if (!path_allowed (h, e->chat->avatar_path, error))
        return FALSE;
      for (gsize i = 0; e->chat->members != NULL && i < e->chat->n_members; i++)
        if (!path_allowed (h, e->chat->members[i].avatar_path, error))
          return FALSE;
    }
  return TRUE;
}

static uint64_t
api_emit (PaHost *host, const PaEvent *event)
{
  g_return_val_if_fail (host != NULL, 0);
  g_return_val_if_fail (event != NULL, 0);
  g_autoptr (GError) error = NULL;
  json_t *ev = NULL;
  if (event_files_allowed (host, event, &error))
    ev = pa_wire_event_to_json (event, &error);
  if (ev == NULL)
    {
      /* 0 is never a valid sequence number: the plugin can tell. */
      g_autofree char *msg
          = g_strdup_printf ("%s: event refused: %s", host->net->name, error->message);
      g_warning ("%s", msg);
      pa_worker_link_log (host, PA_LOG_WARNING, msg);
      return 0;
    }
  uint64_t seq = atomic_fetch_add (&host->seq, 1) + 1;
  json_t *f = pa_worker_frame_new ("event");
  json_object_set_new (f, "seq", json_integer ((json_int_t) seq));
  json_object_set_new (f, "event", ev);
  pa_worker_link_submit (host, f);
  return seq;
}

static const char *
api_data_dir (PaHost *host)
{
  g_return_val_if_fail (host != NULL, NULL);
  return host->data_dir;
}

static int64_t
api_budget_left (PaHost *host)
{
  g_return_val_if_fail (host != NULL, -1);
  if (host->data_budget < 0)
    return -1;
  guint64 used = pa_dir_bytes (host->data_dir);
  return used >= (guint64) host->data_budget ? 0 : host->data_budget - (gint64) used;
}

static void
api_login_step (PaHost *host, const PaLoginStep *step)
{
  g_return_if_fail (host != NULL);
  g_return_if_fail (step != NULL);
  g_autoptr (GError) error = NULL;
  json_t *s = pa_wire_login_step_to_json (step, &error);
  if (s == NULL)
    {
      g_warning ("%s: login step refused: %s", host->net->name, error->message);
      return;
    }
  json_t *f = pa_worker_frame_new ("login_step");
  json_object_set_new (f, "step", s);
  pa_worker_link_submit (host, f);
}

static void
api_login_state (PaHost *host, PaLoginState state, const char *message)
{
  g_return_if_fail (host != NULL);
  pa_worker_link_login_state (host, state, message);
}

static void
api_op_result (PaHost *host, uint64_t op_id, const PaOpResult *result)
{
  g_return_if_fail (host != NULL);
  g_return_if_fail (result != NULL);
  g_autoptr (GError) error = NULL;
  json_t *f = pa_wire_result_to_json (op_id, result, &error);
  if (f == NULL)
    {
      /* The op must still end: answer it as a plugin failure. */
      g_autofree char *msg = g_strdup_printf ("%s answered with a malformed result: %s",
                                              host->display_name, error->message);
      g_warning ("%s", msg);
      pa_worker_link_fail (host, op_id, PA_RESULT_PERMANENT, msg);
      return;
    }
  pa_worker_link_submit (host, f);
}

static void
api_op_contact (PaHost *host, uint64_t op_id, const PaMember *contact)
{
  g_return_if_fail (host != NULL);
  g_return_if_fail (contact != NULL);
  g_autoptr (GError) error = NULL;
  json_t *c = NULL;
  if (pa_wire_id_valid (contact->id, &error) && path_allowed (host, contact->avatar_path, &error))
    c = pa_wire_member_to_json (contact, &error);
  if (c == NULL)
    {
      g_warning ("%s: contact refused: %s", host->net->name, error->message);
      return;
    }
  json_t *f = pa_worker_frame_new ("contact");
  json_object_set_new (f, "op_id", json_integer ((json_int_t) MIN (op_id, G_MAXINT64)));
  json_object_set_new (f, "contact", c);
  pa_worker_link_submit (host, f);
}

static void
api_notice (PaHost *host, const char *text)
{
  g_return_if_fail (host != NULL);
  json_t *f = pa_worker_frame_new ("notice");
  json_object_set_new (f, "text", pa_wire_string (text != NULL ? text : ""));
  pa_worker_link_submit (host, f);
}

static char *
meta_key (PaMetaScope scope, const char *id)
{
  return g_strdup_printf ("%d:%s", (int) scope, id);
}

static void
meta_cache_set (PaHost *h, PaMetaScope scope, const char *id, const char *value)
{
  g_mutex_lock (&h->meta_lock);
  if (value != NULL)
    g_hash_table_replace (h->meta, meta_key (scope, id), g_strdup (value));
  else
    {
      g_autofree char *key = meta_key (scope, id);
      g_hash_table_remove (h->meta, key);
    }
  g_mutex_unlock (&h->meta_lock);
}

static void
api_meta_set (PaHost *host, PaMetaScope scope, const char *id, const char *value)
{
  g_return_if_fail (host != NULL);
  g_return_if_fail (id != NULL);
  const char *s = pa_wire_meta_scope_to_string (scope);
  if (s == NULL)
    {
      g_warning ("%s: meta_set with unknown scope %d", host->net->name, (int) scope);
      return;
    }
  if (value != NULL && strlen (value) > META_VALUE_MAX)
    {
      g_warning ("%s: meta_set value over %d bytes refused", host->net->name, META_VALUE_MAX);
      return;
    }
  /* The cache is updated before returning, so a meta_get that follows on
   * any thread sees the value even before the host stored it. */
  meta_cache_set (host, scope, id, value);
  json_t *f = pa_worker_frame_new ("meta_set");
  json_object_set_new (f, "scope", json_string (s));
  json_object_set_new (f, "id", pa_wire_string (id));
  json_object_set_new (f, "value", pa_wire_string (value));
  pa_worker_link_submit (host, f);
}

static char *
api_meta_get (PaHost *host, PaMetaScope scope, const char *id)
{
  g_return_val_if_fail (host != NULL, NULL);
  g_return_val_if_fail (id != NULL, NULL);
  g_autofree char *key = meta_key (scope, id);
  g_mutex_lock (&host->meta_lock);
  const char *v = g_hash_table_lookup (host->meta, key);
  /* The ABI says the caller frees with free(): allocate with malloc. */
  char *copy = v != NULL ? strdup (v) : NULL;
  g_mutex_unlock (&host->meta_lock);
  return copy;
}

/* See pa-worker-api.h. */
void
pa_worker_api_meta_preload (PaHost *h, json_t *meta)
{
  if (!json_is_array (meta))
    return;
  gsize i;
  json_t *m;
  json_array_foreach (meta, i, m)
  {
    const char *scope = json_string_value (json_object_get (m, "scope"));
    const char *id = json_string_value (json_object_get (m, "id"));
    const char *value = json_string_value (json_object_get (m, "value"));
    PaMetaScope sc;
    if (id == NULL || value == NULL || !pa_wire_meta_scope_from_string (scope, &sc))
      {
        g_warning ("init: skipping malformed meta entry %" G_GSIZE_FORMAT, i);
        continue;
      }
    meta_cache_set (h, sc, id, value);
  }
}

static const char *
api_config_string (PaHost *host, const char *key)
{
  g_return_val_if_fail (host != NULL && key != NULL, NULL);
  return json_string_value (json_object_get (host->config, key));
}

static int64_t
api_config_int (PaHost *host, const char *key)
{
  g_return_val_if_fail (host != NULL && key != NULL, 0);
  json_t *v = json_object_get (host->config, key);
  if (json_is_integer (v))
    return json_integer_value (v);
  /* The host sends checked values; a string here is a plugin asking for a
   * key of another type. */
  return 0;
}

static bool
api_config_bool (PaHost *host, const char *key)
{
  g_return_val_if_fail (host != NULL && key != NULL, false);
  return json_is_true (json_object_get (host->config, key));
}

/* See pa-worker-api.h. */
void
pa_worker_api_fill (PaHost *h)
{
  h->api = (PaHostApi){
    .struct_size = sizeof (PaHostApi),
    .abi_major = PA_PLUGIN_ABI_MAJOR,
    .abi_minor = PA_PLUGIN_ABI_MINOR,
    .log = api_log,
    .emit = api_emit,
    .data_dir = api_data_dir,
    .budget_left = api_budget_left,
    .login_step = api_login_step,
    .login_state = api_login_state,
    .op_result = api_op_result,
    .op_contact = api_op_contact,
    .notice = api_notice,
    .meta_set = api_meta_set,
    .meta_get = api_meta_get,
    .config_string = api_config_string,
    .config_int = api_config_int,
    .config_bool = api_config_bool,
    .timer_add = pa_worker_loop_timer_add,
    .fd_watch_add = pa_worker_loop_fd_watch_add,
    .source_remove = pa_worker_loop_source_remove,
    .invoke = pa_worker_loop_invoke,
    .secret_store = pa_worker_secret_store,
    .secret_load = pa_worker_secret_load,
  };
}
