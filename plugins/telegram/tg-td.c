/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * tg-td.c — TDLib's JSON client: the library loaded with dlopen, one client
 * per login, td_receive on one thread for the whole process (it returns the
 * objects of every client and must not be called from two threads at once:
 * several logins may share a worker), every object parsed there, routed by
 * its @client_id and handed to the main loop through that login's invoke().
 *
 * Why a thread: td_receive blocks, and the SDK forbids blocking the main
 * thread.  Why invoke: it keeps TDLib's order (one thread invokes, in order)
 * and needs no fd of our own.
 *
 * Lifetime: the struct is reference counted.  Each invoked object holds a
 * reference, because the host may run queued invokes after tg_td_close; a
 * closed client drops them unread.
 */
#define G_LOG_DOMAIN "passerelle-telegram"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include <glib/gstdio.h>

#include "tg-td.h"

#define TG_TD_RECEIVE_TIMEOUT_S 1.0
#define TG_TD_CLOSE_WAIT_US (5 * G_USEC_PER_SEC)
/* The test suite's stand-in exports this symbol; see tests/plugins/faketd/. */
#define TG_TD_FAKE_MARKER "pa_fake_tdjson"

typedef int (*TdCreateClientId) (void);
typedef void (*TdSend) (int client_id, const char *request);
typedef const char *(*TdReceive) (double timeout);
typedef const char *(*TdExecute) (const char *request);

typedef struct
{
  TgTdReplyFunc fn;
  void *user_data;
} TgTdPending;

struct TgTd
{
  gint refs;
  PaHost *host;
  const PaHostApi *api;
  TdCreateClientId create_client_id;
  TdSend send;
  TdReceive receive;
  TdExecute execute;
  int client_id;
  TgTdUpdateFunc on_update;
  void *user_data;

  GMutex lock;          /* guards closed_seen */
  GCond cond;           /* signalled when closed_seen is set */
  gboolean closed_seen; /* authorizationStateClosed received */

  /* main thread only */
  gboolean closing;    /* tg_td_close under way: nothing is delivered any more */
  GHashTable *pending; /* @extra (guint64 as pointer key) → TgTdPending */
  guint64 next_extra;
};

/* The process's receiving thread and the clients it serves (client id →
 * TgTd, a reference each), under rx_lock.  The thread ends by itself when
 * the last client leaves; the next client starts another. */
static GMutex rx_lock;
static GHashTable *rx_clients;
static gboolean rx_running;
static TdReceive rx_receive;

/* One received object on its way to the main thread. */
typedef struct
{
  TgTd *td;
  json_t *obj;
} TgTdItem;

static TgTd *
tg_td_ref (TgTd *td)
{
  g_atomic_int_inc (&td->refs);
  return td;
}

static void
tg_td_unref (TgTd *td)
{
  if (!g_atomic_int_dec_and_test (&td->refs))
    return;
  g_hash_table_destroy (td->pending);
  g_mutex_clear (&td->lock);
  g_cond_clear (&td->cond);
  g_free (td);
}

static gboolean
tg_td_is_closed_state (json_t *obj)
{
  const char *type = json_string_value (json_object_get (obj, "@type"));
  if (g_strcmp0 (type, "updateAuthorizationState") != 0)
    return FALSE;
  json_t *st = json_object_get (obj, "authorization_state");
  return g_strcmp0 (json_string_value (json_object_get (st, "@type")), "authorizationStateClosed")
         == 0;
}

/* [main] */
static void
tg_td_deliver (void *data)
{
  TgTdItem *item = data;
  TgTd *td = item->td;
  if (!td->closing)
    {
      json_t *extra = json_object_get (item->obj, "@extra");
      TgTdPending *p = NULL;
      if (json_is_integer (extra))
        {
          gpointer key = GSIZE_TO_POINTER ((gsize) json_integer_value (extra));
          p = g_hash_table_lookup (td->pending, key);
          if (p != NULL)
            {
              g_hash_table_steal (td->pending, key);
              json_object_del (item->obj, "@extra");
              if (p->fn != NULL)
                p->fn (item->obj, p->user_data);
              g_free (p);
            }
        }
      if (p == NULL && !json_is_integer (extra) && td->on_update != NULL)
        td->on_update (item->obj, td->user_data);
    }
  json_decref (item->obj);
  tg_td_unref (td);
  g_free (item);
}

/* Stop routing objects to `td` (its client closed, or is given up on). */
static void
rx_forget (TgTd *td)
{
  g_mutex_lock (&rx_lock);
  gboolean had
      = rx_clients != NULL && g_hash_table_steal (rx_clients, GINT_TO_POINTER (td->client_id));
  g_mutex_unlock (&rx_lock);
  if (had)
    tg_td_unref (td);
}

static gpointer
tg_td_thread (gpointer data)
{
  for (;;)
    {
      g_mutex_lock (&rx_lock);
      if (g_hash_table_size (rx_clients) == 0)
        {
          rx_running = FALSE;
          g_mutex_unlock (&rx_lock);
          return NULL;
        }
      TdReceive receive = rx_receive;
      g_mutex_unlock (&rx_lock);
      const char *text = receive (TG_TD_RECEIVE_TIMEOUT_S);
      if (text == NULL)
        continue;
      json_error_t jerr;
      json_t *obj = json_loads (text, 0, &jerr);
      json_t *cid = json_object_get (obj, "@client_id");
      TgTd *td = NULL;
      g_mutex_lock (&rx_lock);
      if (json_is_integer (cid))
        td = g_hash_table_lookup (rx_clients, GINT_TO_POINTER ((int) json_integer_value (cid)));
      if (td != NULL)
        tg_td_ref (td);
      g_mutex_unlock (&rx_lock);
      if (td == NULL)
        {
          /* Not JSON, or a client already gone: nobody to give it to. */
          json_decref (obj);
          continue;
        }
      if (!json_is_object (obj))
        {
          json_decref (obj);
          td->api->log (td->host, PA_LOG_WARNING, "TDLib sent an object that is not JSON");
          tg_td_unref (td);
          continue;
        }
      gboolean closed = tg_td_is_closed_state (obj);
      if (closed)
        {
          /* Set before the main thread can see the update: tg_td_close,
           * called from it, then waits for nothing.  TDLib sends nothing
           * more for this client. */
          rx_forget (td);
          g_mutex_lock (&td->lock);
          td->closed_seen = TRUE;
          g_cond_broadcast (&td->cond);
          g_mutex_unlock (&td->lock);
        }
      TgTdItem *item = g_new0 (TgTdItem, 1);
      item->td = td; /* the reference taken above */
      item->obj = obj;
      td->api->invoke (td->host, tg_td_deliver, item);
    }
}

static gboolean
tg_td_load (TgTd *td, const char *lib_path, GError **error)
{
  /* RTLD_LOCAL: TDLib's symbols stay out of the process's namespace.  The
   * library is never closed: TDLib's own threads may outlive a client. */
  void *lib = dlopen (lib_path, RTLD_NOW | RTLD_LOCAL);
  if (lib == NULL)
    {
      const char *why = dlerror ();
      gboolean unreadable
          = g_access (lib_path, R_OK) != 0 && g_file_test (lib_path, G_FILE_TEST_EXISTS);
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "cannot load TDLib from %s: %s%s",
                   lib_path, why,
                   unreadable ? " (the worker's sandbox reads the system's folders, the plugin's "
                                "folder and the folders of workers.sandbox_read only)"
                              : "");
      return FALSE;
    }
#ifndef TG_ALLOW_FAKE_TDJSON
  if (dlsym (lib, TG_TD_FAKE_MARKER) != NULL)
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
                   "%s is the test suite's stand-in for TDLib, not TDLib: point "
                   "plugins.telegram.tdjson_path at a real libtdjson.so",
                   lib_path);
      return FALSE;
    }
#endif
  td->create_client_id = (TdCreateClientId) dlsym (lib, "td_create_client_id");
  td->send = (TdSend) dlsym (lib, "td_send");
  td->receive = (TdReceive) dlsym (lib, "td_receive");
  td->execute = (TdExecute) dlsym (lib, "td_execute");
  if (td->create_client_id == NULL || td->send == NULL || td->receive == NULL
      || td->execute == NULL)
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
                   "%s is not TDLib's JSON client (td_create_client_id, td_send, td_receive "
                   "or td_execute missing; TDLib 1.8 or newer is needed)",
                   lib_path);
      return FALSE;
    }
  return TRUE;
}

TgTd *
tg_td_open (const char *lib_path, PaHost *host, const PaHostApi *api, int log_verbosity,
            TgTdUpdateFunc on_update, void *user_data, GError **error)
{
  g_return_val_if_fail (lib_path != NULL, NULL);
  TgTd *td = g_new0 (TgTd, 1);
  td->refs = 1;
  td->host = host;
  td->api = api;
  td->on_update = on_update;
  td->user_data = user_data;
  td->pending = g_hash_table_new (g_direct_hash, g_direct_equal);
  td->next_extra = 1;
  g_mutex_init (&td->lock);
  g_cond_init (&td->cond);
  if (!tg_td_load (td, lib_path, error))
    {
      tg_td_unref (td);
      return NULL;
    }
  /* TDLib's log goes to the worker's stderr, so to the host's log. */
  g_autofree char *verb
      = g_strdup_printf ("{\"@type\":\"setLogVerbosityLevel\",\"new_verbosity_level\":%d}",
                         CLAMP (log_verbosity, 0, 5));
  td->execute (verb);
  td->client_id = td->create_client_id ();
  /* Any request makes TDLib start the client; its first update asks for
   * the parameters.  @extra 0 is no request of ours: the answer is dropped. */
  g_mutex_lock (&rx_lock);
  if (rx_clients == NULL)
    rx_clients = g_hash_table_new (g_direct_hash, g_direct_equal);
  g_hash_table_insert (rx_clients, GINT_TO_POINTER (td->client_id), tg_td_ref (td));
  rx_receive = td->receive;
  if (!rx_running)
    {
      rx_running = TRUE;
      g_thread_unref (g_thread_new ("tdlib-receive", tg_td_thread, NULL));
    }
  g_mutex_unlock (&rx_lock);
  td->send (td->client_id, "{\"@type\":\"getOption\",\"name\":\"version\",\"@extra\":0}");
  return td;
}

void
tg_td_send (TgTd *td, json_t *request, TgTdReplyFunc on_reply, void *user_data)
{
  g_return_if_fail (td != NULL && request != NULL);
  if (td->closing)
    {
      json_decref (request);
      if (on_reply != NULL)
        {
          json_t *err = json_pack ("{s:s, s:i, s:s}", "@type", "error", "code", 500, "message",
                                   "Request aborted");
          on_reply (err, user_data);
          json_decref (err);
        }
      return;
    }
  guint64 extra = td->next_extra++;
  TgTdPending *p = g_new0 (TgTdPending, 1);
  p->fn = on_reply;
  p->user_data = user_data;
  g_hash_table_insert (td->pending, GSIZE_TO_POINTER ((gsize) extra), p);
  json_object_set_new (request, "@extra", json_integer ((json_int_t) extra));
  char *text = json_dumps (request, JSON_COMPACT);
  json_decref (request);
  td->send (td->client_id, text);
  free (text);
}

json_t *
tg_td_execute (TgTd *td, json_t *request)
{
  g_return_val_if_fail (td != NULL && request != NULL, NULL);
  char *text = json_dumps (request, JSON_COMPACT);
  if (text == NULL)
    return NULL;
  /* The answer lives in TDLib's thread-local buffer until the next call on
   * this thread: parsed at once. */
  const char *answer = td->execute (text);
  free (text);
  return answer != NULL ? json_loads (answer, 0, NULL) : NULL;
}

void
tg_td_close (TgTd *td)
{
  if (td == NULL)
    return;
  g_mutex_lock (&td->lock);
  gboolean already = td->closed_seen;
  g_mutex_unlock (&td->lock);
  if (!already)
    td->send (td->client_id, "{\"@type\":\"close\"}");
  /* TDLib closes its database and answers authorizationStateClosed; a
   * library that never does (a hung network stack) is given up on. */
  gint64 deadline = g_get_monotonic_time () + TG_TD_CLOSE_WAIT_US;
  g_mutex_lock (&td->lock);
  while (!td->closed_seen)
    if (!g_cond_wait_until (&td->cond, &td->lock, deadline))
      break;
  gboolean clean = td->closed_seen;
  g_mutex_unlock (&td->lock);
  if (!clean)
    td->api->log (td->host, PA_LOG_WARNING,
                  "TDLib did not close its client in time; leaving it behind");
  rx_forget (td);

  td->closing = TRUE;
  GHashTable *pending = td->pending;
  td->pending = g_hash_table_new (g_direct_hash, g_direct_equal);
  GHashTableIter it;
  gpointer value;
  json_t *aborted
      = json_pack ("{s:s, s:i, s:s}", "@type", "error", "code", 500, "message", "Request aborted");
  g_hash_table_iter_init (&it, pending);
  while (g_hash_table_iter_next (&it, NULL, &value))
    {
      TgTdPending *p = value;
      if (p->fn != NULL)
        p->fn (aborted, p->user_data);
      g_free (p);
    }
  g_hash_table_destroy (pending);
  json_decref (aborted);
  tg_td_unref (td);
}

gboolean
tg_td_is_error (json_t *reply, int *code, const char **message)
{
  if (g_strcmp0 (json_string_value (json_object_get (reply, "@type")), "error") != 0)
    return FALSE;
  if (code != NULL)
    *code = (int) json_integer_value (json_object_get (reply, "code"));
  if (message != NULL)
    {
      const char *m = json_string_value (json_object_get (reply, "message"));
      *message = m != NULL ? m : "";
    }
  return TRUE;
}

int
tg_td_flood_wait_s (json_t *reply)
{
  int code = 0;
  const char *message = NULL;
  if (!tg_td_is_error (reply, &code, &message))
    return -1;
  const char *digits = NULL;
  const char *p = strstr (message, "FLOOD_WAIT_");
  if (p != NULL)
    digits = p + strlen ("FLOOD_WAIT_");
  else if (code == 429 && (p = strstr (message, "retry after ")) != NULL)
    digits = p + strlen ("retry after ");
  if (digits == NULL || !g_ascii_isdigit (*digits))
    return code == 429 ? 0 : -1;
  guint64 n = g_ascii_strtoull (digits, NULL, 10);
  if (n > G_MAXINT)
    n = G_MAXINT;
  return (int) n;
}
