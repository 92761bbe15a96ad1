/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * lb-login.c — one login's life: login_new (from a saved session or empty)
 * and login_free; the "password" flow (credentials step, pairing step,
 * complete) and its failures; connect and disconnect; and the dispatch of
 * each line loopnet sends (hello and pairing here, answers to lb-ops.c,
 * events to lb-emit.c).  It decides what a lost connection means: a login
 * attempt asks again, a saved session retries with backoff.
 */
#define G_LOG_DOMAIN "passerelle-loopback"

#include "lb-login.h"

#include <string.h>

#include "lb-conn.h"
#include "lb-emit.h"
#include "lb-ops.h"
#include "lb-plugin.h"
#include "lb-session.h"
#include "lb-util.h"

static void
lb_ask_credentials (LbLogin *login, const char *instructions)
{
  const char *server = login->session != NULL ? login->session->server : lb_plugin.default_server;
  const PaField fields[] = {
    { sizeof (PaField), "server", "Server (host:port)", PA_FIELD_TEXT, server, false, NULL },
    { sizeof (PaField), "username", "User name", PA_FIELD_TEXT, NULL, false, NULL },
    { sizeof (PaField), "password", "Password", PA_FIELD_PASSWORD, NULL, false, NULL },
  };
  PaLoginStep step = {
    .struct_size = sizeof (PaLoginStep),
    .kind = PA_STEP_USER_INPUT,
    .step_id = "credentials",
    .instructions = instructions,
    .fields = fields,
    .n_fields = G_N_ELEMENTS (fields),
  };
  login->api->login_step (login->host, &step);
}

/* The connection ended or could not be made. */
static void
lb_conn_failed (LbLogin *login, const char *why)
{
  gboolean pairing = login->phase == LB_PHASE_PAIRING;
  lb_drop_connection (login, why);
  if (login->attempt != NULL)
    {
      g_clear_pointer (&login->attempt, lb_creds_free);
      g_autofree char *msg = g_strdup_printf ("%s (%s). Check the server address and try again.",
                                              pairing ? "The connection was lost during pairing"
                                                      : "Could not log in to the loopback network",
                                              why);
      login->api->login_state (login->host, PA_STATE_UNKNOWN_ERROR, msg);
      lb_ask_credentials (login, msg);
      if (login->session != NULL && login->want_online)
        lb_schedule_reconnect (login, "a new login failed");
      return;
    }
  if (login->session != NULL && login->want_online)
    lb_schedule_reconnect (login, why);
}

static void
lb_online (LbLogin *login)
{
  login->phase = LB_PHASE_ONLINE;
  login->backoff_s = LB_BACKOFF_MIN_S;
  if (login->attempt != NULL)
    {
      g_autoptr (GError) err = NULL;
      if (!lb_save_session (login, login->attempt, &err))
        {
          lb_log (login, PA_LOG_WARNING, "cannot save the session: %s", err->message);
          login->api->notice (login->host, "Logged in, but the session could not be saved: "
                                           "you will have to log in again after a restart.");
        }
      lb_creds_free (login->session);
      login->session = g_steal_pointer (&login->attempt);
      login->want_online = TRUE;
      PaLoginStep step = {
        .struct_size = sizeof (PaLoginStep),
        .kind = PA_STEP_COMPLETE,
        .step_id = "complete",
        .instructions = "Logged in to the loopback network.",
        .remote_id = login->self_id,
        .remote_name = login->self_name,
      };
      login->api->login_step (login->host, &step);
    }
  login->api->login_state (login->host, PA_STATE_CONNECTED, NULL);
}

static void
lb_refused (LbLogin *login, const char *error)
{
  g_autofree char *why = g_strdup_printf ("The loopback network refused the login: %s",
                                          error != NULL ? error : "bad credentials");
  lb_drop_connection (login, why);
  login->api->login_state (login->host, PA_STATE_BAD_CREDENTIALS, why);
  if (login->attempt != NULL)
    {
      g_clear_pointer (&login->attempt, lb_creds_free);
      g_autofree char *msg = g_strdup_printf ("%s. Check the user name and password.", why);
      lb_ask_credentials (login, msg);
      if (login->session != NULL && login->want_online)
        lb_schedule_reconnect (login, "a new login was refused");
      return;
    }
  /* A saved session that no longer works needs the agent: stop retrying. */
  login->want_online = FALSE;
}

static void
lb_on_hello (LbLogin *login, json_t *msg)
{
  if (login->phase != LB_PHASE_HELLO)
    {
      lb_log (login, PA_LOG_WARNING, "unexpected hello answer");
      return;
    }
  if (!lb_jb (msg, "ok"))
    {
      lb_refused (login, lb_js (msg, "error"));
      return;
    }
  if (lb_js (msg, "user_id") == NULL)
    {
      lb_conn_failed (login, "the hello answer has no user_id");
      return;
    }
  g_free (login->self_id);
  login->self_id = g_strdup (lb_js (msg, "user_id"));
  g_free (login->self_name);
  login->self_name = g_strdup (lb_js (msg, "name"));
  if (lb_jb (msg, "need_pairing"))
    login->phase = LB_PHASE_PAIRING;
  else
    lb_online (login);
}

static void
lb_on_pairing (LbLogin *login, json_t *msg)
{
  if (login->phase != LB_PHASE_PAIRING)
    {
      lb_log (login, PA_LOG_WARNING, "pairing event outside of pairing");
      return;
    }
  g_autofree char *path = NULL;
  const char *png = lb_js (msg, "png_b64");
  if (png != NULL)
    {
      gsize len = 0;
      g_autofree guchar *data = g_base64_decode (png, &len);
      g_autoptr (GError) err = NULL;
      path = g_build_filename (login->data_dir, "pairing.png", NULL);
      if (len == 0 || !lb_write_file (path, data, len, &err))
        {
          lb_log (login, PA_LOG_WARNING, "cannot write the pairing image: %s",
                  err != NULL ? err->message : "empty image");
          g_clear_pointer (&path, g_free);
        }
    }
  PaLoginStep step = {
    .struct_size = sizeof (PaLoginStep),
    .kind = PA_STEP_DISPLAY_AND_WAIT,
    .step_id = "pairing",
    .instructions = "Confirm this pairing code (or scan the image) on a device already logged "
                    "in to your loopback account.",
    .display_text = lb_js (msg, "code"),
    .image_path = path,
  };
  login->api->login_step (login->host, &step);
}

static void
lb_handle_line (LbLogin *login, const char *line, gsize len)
{
  if (len == 0)
    return;
  json_error_t jerr;
  g_autoptr (json_t) msg = json_loadb (line, len, JSON_REJECT_DUPLICATES, &jerr);
  if (!json_is_object (msg))
    {
      lb_conn_failed (login, "the network sent malformed JSON");
      return;
    }
  json_t *re = json_object_get (msg, "re");
  if (json_is_string (re) && strcmp (json_string_value (re), "hello") == 0)
    {
      lb_on_hello (login, msg);
      return;
    }
  if (json_is_integer (re))
    {
      guint64 key = (guint64) json_integer_value (re);
      gpointer orig_key = NULL, value = NULL;
      if (!g_hash_table_steal_extended (login->inflight, &key, &orig_key, &value))
        {
          lb_log (login, PA_LOG_WARNING, "answer to an unknown request %" G_GUINT64_FORMAT, key);
          return;
        }
      g_free (orig_key);
      lb_answer (login, value, msg);
      lb_request_free (value);
      return;
    }
  const char *ev = lb_js (msg, "ev");
  if (ev == NULL)
    lb_log (login, PA_LOG_WARNING, "a line that is neither an answer nor an event");
  else if (strcmp (ev, "pairing") == 0)
    lb_on_pairing (login, msg);
  else if (strcmp (ev, "paired") == 0)
    {
      if (login->phase == LB_PHASE_PAIRING)
        lb_online (login);
    }
  else
    lb_on_event (login, ev, msg);
}

PaLogin *
lb_login_new (PaHost *host, bool saved, char **error)
{
  const PaHostApi *api = lb_plugin.api;
  if (api == NULL)
    {
      *error = lb_c_strdup ("the loopback plugin was not initialised");
      return NULL;
    }
  const char *dir = api->data_dir (host);
  if (dir == NULL)
    {
      *error = lb_c_strdup ("the host gave no data directory");
      return NULL;
    }
  LbLogin *login = g_new0 (LbLogin, 1);
  login->host = host;
  login->api = api;
  login->data_dir = g_strdup (dir);
  login->client = g_socket_client_new ();
  login->cancel = g_cancellable_new ();
  g_queue_init (&login->queue);
  login->inflight = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free,
                                           (GDestroyNotify) lb_request_free);
  login->acks = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_free);
  login->on_line = lb_handle_line;
  login->on_lost = lb_conn_failed;
  login->backoff_s = LB_BACKOFF_MIN_S;
  if (saved)
    {
      g_autoptr (GError) err = NULL;
      login->session = lb_load_session (login, &err);
      if (login->session == NULL)
        {
          /* Keep the login: the agent can start a new login flow in it. */
          g_autofree char *msg = g_strdup_printf (
              "The saved loopback session could not be read (%s): log in again.", err->message);
          api->login_state (host, PA_STATE_BAD_CREDENTIALS, msg);
        }
      else
        {
          login->want_online = TRUE;
          api->login_state (host, PA_STATE_CONNECTING, NULL);
          lb_start_connection (login);
        }
    }
  return login;
}

void
lb_login_free (PaLogin *pl)
{
  LbLogin *login = pl;
  if (login == NULL)
    return;
  g_clear_handle_id (&login->reconnect_id, g_source_remove);
  g_cancellable_cancel (login->cancel);
  if (login->conn != NULL)
    lb_conn_abandon (g_steal_pointer (&login->conn));
  g_queue_clear_full (&login->queue, (GDestroyNotify) lb_request_free);
  g_hash_table_destroy (login->inflight);
  g_hash_table_destroy (login->acks);
  lb_creds_free (login->session);
  lb_creds_free (login->attempt);
  g_free (login->self_id);
  g_free (login->self_name);
  g_free (login->data_dir);
  g_object_unref (login->client);
  g_object_unref (login->cancel);
  g_free (login);
}

void
lb_login_start (PaLogin *pl, const char *flow_id)
{
  LbLogin *login = pl;
  if (g_strcmp0 (flow_id, "password") != 0)
    {
      login->api->login_state (login->host, PA_STATE_UNKNOWN_ERROR,
                               "The loopback network has only the \"password\" login flow");
      return;
    }
  lb_ask_credentials (login, "Enter the loopback server address, your user name and your "
                             "password.");
}

void
lb_login_submit (PaLogin *pl, const char *step_id, const char *const *ids,
                 const char *const *values, size_t n)
{
  LbLogin *login = pl;
  if (g_strcmp0 (step_id, "credentials") != 0)
    {
      lb_log (login, PA_LOG_WARNING, "login_submit for step %s, which takes no input",
              step_id != NULL ? step_id : "(null)");
      return;
    }
  const char *server = NULL, *user = NULL, *password = NULL;
  for (size_t i = 0; ids != NULL && values != NULL && i < n; i++)
    {
      if (ids[i] == NULL || values[i] == NULL || strlen (values[i]) > LB_MAX_FIELD)
        continue;
      if (strcmp (ids[i], "server") == 0)
        server = values[i];
      else if (strcmp (ids[i], "username") == 0)
        user = values[i];
      else if (strcmp (ids[i], "password") == 0)
        password = values[i];
    }
  if (server == NULL || *server == '\0' || user == NULL || *user == '\0' || password == NULL)
    {
      lb_ask_credentials (login, "The server, the user name and the password are all needed "
                                 "(each at most 1024 bytes).");
      return;
    }
  g_autoptr (GError) err = NULL;
  g_autoptr (GSocketConnectable) addr = g_network_address_parse (server, 0, &err);
  if (addr == NULL || g_network_address_get_port (G_NETWORK_ADDRESS (addr)) == 0)
    {
      lb_ask_credentials (login, "The server must be written host:port, e.g. 127.0.0.1:4000.");
      return;
    }
  g_clear_handle_id (&login->reconnect_id, g_source_remove);
  lb_drop_connection (login, "a new login replaced the connection");
  lb_creds_free (login->attempt);
  login->attempt = g_new0 (LbCreds, 1);
  login->attempt->server = g_strdup (server);
  login->attempt->user = g_strdup (user);
  login->attempt->password = g_strdup (password);
  login->api->login_state (login->host, PA_STATE_CONNECTING, NULL);
  lb_start_connection (login);
}

void
lb_login_cancel (PaLogin *pl)
{
  LbLogin *login = pl;
  if (login->attempt == NULL)
    return;
  g_clear_pointer (&login->attempt, lb_creds_free);
  lb_drop_connection (login, "login cancelled");
  if (login->session != NULL && login->want_online)
    {
      login->api->login_state (login->host, PA_STATE_CONNECTING, NULL);
      lb_start_connection (login);
    }
}

void
lb_connect (PaLogin *pl)
{
  LbLogin *login = pl;
  if (login->conn != NULL)
    return;
  if (login->session == NULL)
    {
      login->api->login_state (login->host, PA_STATE_LOGGED_OUT,
                               "Not logged in to the loopback network");
      return;
    }
  login->want_online = TRUE;
  login->backoff_s = LB_BACKOFF_MIN_S;
  login->api->login_state (login->host, PA_STATE_CONNECTING, NULL);
  lb_start_connection (login);
}

void
lb_disconnect (PaLogin *pl)
{
  LbLogin *login = pl;
  login->want_online = FALSE;
  g_clear_handle_id (&login->reconnect_id, g_source_remove);
  g_clear_pointer (&login->attempt, lb_creds_free);
  lb_drop_connection (login, "disconnected on request");
}
