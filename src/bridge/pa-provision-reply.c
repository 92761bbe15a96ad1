/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Provisioning API requests waiting for their answer.  Each holds its
 * SoupServerMessage paused and answers it exactly once, whoever ends up
 * answering (a handler at once, a login step that arrives later, an
 * operation's result, a timer); a client that went away meanwhile is
 * noticed ("finished") and the answer dropped.  Every answer carries the
 * CORS headers, so that a web page of another origin can call the API. */
#define G_LOG_DOMAIN "passerelle-provision"

#include "pa-provision-reply.h"

#include <string.h>

static void
finished_cb (SoupServerMessage *msg, gpointer data)
{
  PaProvReq *r = data;
  g_clear_signal_handler (&r->finished_id, r->msg);
  g_clear_object (&r->msg);
}

PaProvReq *
pa_provision_req_new (SoupServerMessage *msg, GHashTable *query, GBytes *body, GHashTable *live)
{
  PaProvReq *r = g_new0 (PaProvReq, 1);
  r->msg = g_object_ref (msg);
  r->finished_id = g_signal_connect (msg, "finished", G_CALLBACK (finished_cb), r);
  r->query = query != NULL ? g_hash_table_ref (query) : g_hash_table_new (g_str_hash, g_str_equal);
  r->body = g_bytes_ref (body);
  r->live = live;
  g_hash_table_add (live, r);
  soup_server_message_pause (msg);
  return r;
}

const char *
pa_provision_req_param (PaProvReq *r, const char *name)
{
  const char *v = g_hash_table_lookup (r->query, name);
  return v != NULL && *v != '\0' ? v : NULL;
}

void
pa_provision_cors (SoupServerMessage *msg)
{
  SoupMessageHeaders *h = soup_server_message_get_response_headers (msg);
  soup_message_headers_replace (h, "Access-Control-Allow-Origin", "*");
  soup_message_headers_replace (h, "Access-Control-Allow-Methods", "GET, POST, OPTIONS");
  soup_message_headers_replace (h, "Access-Control-Allow-Headers",
                                "Authorization, Content-Type, X-Requested-With");
  soup_message_headers_replace (h, "Access-Control-Max-Age", "600");
}

static void
req_free (PaProvReq *r)
{
  if (r->live != NULL)
    g_hash_table_remove (r->live, r);
  if (r->msg != NULL)
    {
      g_clear_signal_handler (&r->finished_id, r->msg);
      g_clear_object (&r->msg);
    }
  g_hash_table_unref (r->query);
  g_bytes_unref (r->body);
  g_free (r->user);
  g_free (r);
}

void
pa_provision_req_json (PaProvReq *r, guint status, json_t *body)
{
  g_autofree char *text = json_dumps (body, JSON_COMPACT);
  json_decref (body);
  if (r->msg != NULL && r->live != NULL)
    {
      if (text == NULL)
        {
          status = SOUP_STATUS_INTERNAL_SERVER_ERROR;
          text = g_strdup ("{\"errcode\":\"M_UNKNOWN\",\"error\":\"answer not encodable\"}");
        }
      pa_provision_cors (r->msg);
      soup_server_message_set_status (r->msg, status, NULL);
      soup_server_message_set_response (r->msg, "application/json", SOUP_MEMORY_COPY, text,
                                        strlen (text));
      soup_server_message_unpause (r->msg);
    }
  req_free (r);
}

void
pa_provision_req_error (PaProvReq *r, guint status, const char *errcode, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *text = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  json_t *body = json_pack ("{s:s, s:s}", "errcode", errcode, "error", text);
  if (body == NULL) /* not UTF-8 */
    body = json_pack ("{s:s, s:s}", "errcode", errcode, "error", "");
  g_debug ("answering %u %s: %s", status, errcode, text);
  pa_provision_req_json (r, status, body);
}

void
pa_provision_req_forget_all (GHashTable *live)
{
  GHashTableIter it;
  gpointer k;
  g_hash_table_iter_init (&it, live);
  while (g_hash_table_iter_next (&it, &k, NULL))
    {
      PaProvReq *r = k;
      r->live = NULL;
      if (r->msg != NULL)
        {
          g_clear_signal_handler (&r->finished_id, r->msg);
          g_clear_object (&r->msg);
        }
      g_hash_table_iter_remove (&it);
    }
}
