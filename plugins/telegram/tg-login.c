/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * tg-login.c — TDLib's authorization states → the login steps the agent
 * sees in the management room, and the session's life: the client opened
 * with the login's database, connect / disconnect, logout, and a session
 * ended from elsewhere (another device, Telegram itself).
 *
 * TDLib drives: every authorizationState update says what it waits for,
 * and the login answers with the matching request (setTdlibParameters,
 * requestQrCodeAuthentication, setAuthenticationPhoneNumber, checkAuthentication…).
 * The agent's answers come through login_submit; an answer TDLib refuses
 * asks the same step again with the reason.
 */
#define G_LOG_DOMAIN "passerelle-telegram"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <glib/gstdio.h>

#include "tg-login.h"
#include "tg-qr.h"

#define TG_TD_DIR "tdlib"
#define TG_QR_EXPIRES_S 30 /* a login token's life, about */
#define TG_QR_TIMEOUT_MS (5 * 60 * 1000)
/* The bridge counts an ended login as logged in until it is logged out. */
#define TG_LOGIN_AGAIN "send `login telegram qr` to log in again"
/* TDLib's database key, kept with the host's secrets. */
#define TG_KEY_BYTES 32
#define TG_KEY_SECRET "tdlib-key"

typedef enum
{
  TG_FLOW_NONE = 0,
  TG_FLOW_QR,
  TG_FLOW_PHONE,
} TgFlow;

struct TgAuth
{
  char *state;           /* the last authorizationState's @type */
  json_t *state_obj;     /* and the object */
  TgFlow flow;           /* the flow the agent asked for */
  gboolean flow_active;  /* a login flow is under way: ready → COMPLETE */
  gboolean flow_begun;   /* its first request went to TDLib */
  gboolean expect_close; /* we asked TDLib to close (disconnect, logout) */
  gboolean logout;       /* the closing is a logout */
  guint64 logout_op;     /* its op, answered once TDLib closed */
  gboolean saved;        /* the client was opened for a saved session */
  gboolean told_ended;   /* the agent was told the session ended */
  PaLoginState reported; /* last login_state, or -1 */
  char *qr_image;        /* the QR code shown now */
  char *qr_prev;         /* the one before: the host may still read it */
  guint qr_serial;
  guint qr_timer;           /* ends a QR login nobody scans */
  char *name;               /* the account's name, after getMe */
  TgTdUpdateFunc on_update; /* TDLib's updates go there (the network's dispatch) */
};

static gboolean tg_ready_done; /* the parts' on_ready ran for this session */

static void tg_login_begin_flow (PaLogin *login);

/* The authorization became ready: the parts' on_ready, once per session. */
static void
tg_login_parts_ready (PaLogin *login)
{
  if (tg_ready_done)
    return;
  tg_ready_done = TRUE;
  tg_chats_on_ready (login, tg_history_start);
  tg_history_on_ready (login);
}

/* The session ended (logged out, revoked): on_ready may run again. */
static void
tg_login_session_ended (PaLogin *login)
{
  tg_ready_done = FALSE;
}

/* The database encryption key in base64 (made once, kept with
 * secret_store), or NULL with `error` set. */
static char *
tg_login_db_key (PaLogin *login, GError **error)
{
  if (!PA_HAS_MEMBER (login->api, PaHostApi, secret_load))
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
                   "the host keeps no secrets (SDK 2.1 needed) for TDLib's database key");
      return NULL;
    }
  size_t len = 0;
  guint8 *key = login->api->secret_load (login->host, TG_KEY_SECRET, &len);
  if (key != NULL && len == TG_KEY_BYTES)
    {
      char *b64 = g_base64_encode (key, len);
      memset (key, 0, len);
      free (key);
      return b64;
    }
  free (key);
  guint8 fresh[TG_KEY_BYTES];
  if (getrandom (fresh, sizeof fresh, 0) != (ssize_t) sizeof fresh)
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
                   "cannot read random bytes for TDLib's database key: %s", g_strerror (errno));
      return NULL;
    }
  if (!login->api->secret_store (login->host, TG_KEY_SECRET, fresh, sizeof fresh))
    {
      memset (fresh, 0, sizeof fresh);
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
                   "cannot keep TDLib's database key with the host");
      return NULL;
    }
  char *b64 = g_base64_encode (fresh, sizeof fresh);
  memset (fresh, 0, sizeof fresh);
  return b64;
}

void
tg_login_part_init (PaLogin *login, TgTdUpdateFunc on_update)
{
  login->auth = g_new0 (TgAuth, 1);
  login->auth->on_update = on_update;
  login->auth->reported = (PaLoginState) -1;
}

static void
tg_qr_forget (TgAuth *a)
{
  if (a->qr_prev != NULL)
    g_unlink (a->qr_prev);
  if (a->qr_image != NULL)
    g_unlink (a->qr_image);
  g_clear_pointer (&a->qr_prev, g_free);
  g_clear_pointer (&a->qr_image, g_free);
}

/* The flow ends (done, failed, cancelled): its QR files and timer go. */
static void
tg_flow_stop (PaLogin *login)
{
  TgAuth *a = login->auth;
  a->flow_active = FALSE;
  a->flow_begun = FALSE;
  tg_qr_forget (a);
  if (a->qr_timer != 0)
    login->api->source_remove (login->host, a->qr_timer);
  a->qr_timer = 0;
}

void
tg_login_part_free (PaLogin *login)
{
  TgAuth *a = login->auth;
  if (a == NULL)
    return;
  tg_flow_stop (login);
  g_free (a->state);
  json_decref (a->state_obj);
  g_free (a->name);
  g_free (a);
  login->auth = NULL;
}

static void
tg_state (PaLogin *login, PaLoginState state, const char *message)
{
  login->auth->reported = state;
  login->api->login_state (login->host, state, message);
}

static const char *
tg_flow_id (TgFlow flow)
{
  return flow == TG_FLOW_PHONE ? "phone" : "qr";
}

/* The flow stops; the agent is told why and how to start again. */
static void
tg_flow_fail (PaLogin *login, const char *why)
{
  TgAuth *a = login->auth;
  g_autofree char *text = g_strdup_printf ("The Telegram login stopped: %s. Send `login telegram "
                                           "%s` to try again.",
                                           why, tg_flow_id (a->flow));
  tg_flow_stop (login);
  login->api->notice (login->host, text);
}

/* A sentence for an error TDLib gave to an authentication request. */
static char *
tg_auth_error_text (json_t *reply)
{
  int code = 0;
  const char *msg = NULL;
  if (!tg_td_is_error (reply, &code, &msg))
    return g_strdup ("Telegram gave an unexpected answer");
  int wait_s = tg_td_flood_wait_s (reply);
  if (wait_s >= 0)
    return g_strdup_printf ("Telegram asks to wait %d s before trying again (%s)", wait_s, msg);
  if (strstr (msg, "API_ID") != NULL || strstr (msg, "api_id") != NULL
      || strstr (msg, "api_hash") != NULL)
    return g_strdup_printf (
        "Telegram refused the bridge's application id or hash (%s): the administrator must "
        "check plugins.telegram.api_id and api_hash in config.yaml (my.telegram.org → API "
        "development tools)",
        msg);
  if (strstr (msg, "PHONE_NUMBER_BANNED") != NULL)
    return g_strdup ("Telegram has banned this phone number (PHONE_NUMBER_BANNED)");
  return g_strdup_printf ("Telegram answered %d %s", code, msg);
}

/* ---------------------------------------------------------------- steps */

static void
tg_ask (PaLogin *login, const char *step_id, const char *instructions, const char *field_id,
        const char *label, PaFieldType type)
{
  const PaField fields[] = {
    { sizeof (PaField), field_id, label, type, NULL, false, NULL },
  };
  PaLoginStep step = {
    .struct_size = sizeof (PaLoginStep),
    .kind = PA_STEP_USER_INPUT,
    .step_id = step_id,
    .instructions = instructions,
    .fields = fields,
    .n_fields = G_N_ELEMENTS (fields),
  };
  login->api->login_step (login->host, &step);
}

static void
tg_ask_phone (PaLogin *login, const char *problem)
{
  g_autofree char *text = g_strdup_printf (
      "%s%sLog in to Telegram with the account's phone number, in international format "
      "(+33612345678).",
      problem ? problem : "", problem ? ". " : "");
  tg_ask (login, "phone", text, "phone", "phone number", PA_FIELD_PHONE);
}

static const char *
tg_code_where (json_t *type)
{
  const char *t = json_string_value (json_object_get (type, "@type"));
  if (g_strcmp0 (t, "authenticationCodeTypeTelegramMessage") == 0)
    return "in a Telegram message, on the account's other devices";
  if (g_strcmp0 (t, "authenticationCodeTypeCall") == 0)
    return "by a phone call";
  if (g_strcmp0 (t, "authenticationCodeTypeFlashCall") == 0
      || g_strcmp0 (t, "authenticationCodeTypeMissedCall") == 0)
    return "by a missed call: the code is the end of the calling number";
  if (g_strcmp0 (t, "authenticationCodeTypeFragment") == 0)
    return "on fragment.com";
  return "by SMS";
}

static void
tg_ask_code (PaLogin *login, const char *problem)
{
  json_t *info = json_object_get (login->auth->state_obj, "code_info");
  const char *phone = json_string_value (json_object_get (info, "phone_number"));
  g_autofree char *text
      = g_strdup_printf ("%s%sTelegram sent a login code for %s %s. Send it here.",
                         problem ? problem : "", problem ? ". " : "", phone ? phone : "the account",
                         tg_code_where (json_object_get (info, "type")));
  tg_ask (login, "code", text, "code", "login code", PA_FIELD_CODE);
}

static void
tg_ask_password (PaLogin *login, const char *problem)
{
  const char *hint = json_string_value (json_object_get (login->auth->state_obj, "password_hint"));
  g_autofree char *text = g_strdup_printf (
      "%s%sThis account has two-step verification: send its password%s%s%s.",
      problem ? problem : "", problem ? ". " : "", hint && *hint ? " (hint: " : "",
      hint && *hint ? hint : "", hint && *hint ? ")" : "");
  tg_ask (login, "password", text, "password", "two-step verification password", PA_FIELD_PASSWORD);
}

static void
tg_ask_email (PaLogin *login, const char *problem)
{
  g_autofree char *text
      = g_strdup_printf ("%s%sTelegram asks for an email address to send login codes to.",
                         problem ? problem : "", problem ? ". " : "");
  tg_ask (login, "email", text, "email", "email address", PA_FIELD_TEXT);
}

static void
tg_ask_email_code (PaLogin *login, const char *problem)
{
  json_t *info = json_object_get (login->auth->state_obj, "code_info");
  const char *pattern = json_string_value (json_object_get (info, "email_address_pattern"));
  g_autofree char *text = g_strdup_printf (
      "%s%sTelegram sent a login code to the email address %s. Send it here.",
      problem ? problem : "", problem ? ". " : "", pattern ? pattern : "of the account");
  tg_ask (login, "email_code", text, "code", "email code", PA_FIELD_CODE);
}

static void
tg_show_qr (PaLogin *login, const char *link)
{
  TgAuth *a = login->auth;
  if (link == NULL || *link == '\0')
    return;
  g_autofree char *name = g_strdup_printf ("tg-login-qr-%u.png", ++a->qr_serial);
  g_autofree char *path = g_build_filename (login->data_dir, name, NULL);
  g_autoptr (GError) err = NULL;
  if (!tg_qr_write_png (link, path, &err))
    {
      tg_log (login, PA_LOG_ERROR, "%s", err->message);
      tg_flow_fail (login, "the QR code could not be made");
      return;
    }
  /* The host reads a step's image after the call: the previous file goes
   * only once a newer one replaced it. */
  if (a->qr_prev != NULL)
    g_unlink (a->qr_prev);
  g_free (a->qr_prev);
  a->qr_prev = a->qr_image;
  a->qr_image = g_steal_pointer (&path);
  PaLoginStep step = {
    .struct_size = sizeof (PaLoginStep),
    .kind = PA_STEP_DISPLAY_AND_WAIT,
    .step_id = "qr",
    .instructions = "Scan this QR code with Telegram on a phone logged in to the account: "
                    "Settings → Devices → Link Desktop Device.  A new code replaces it every "
                    "30 seconds or so.",
    .image_path = a->qr_image,
    .expires_s = TG_QR_EXPIRES_S,
  };
  login->api->login_step (login->host, &step);
}

/* ------------------------------------------------------- request replies */

/* Removes a directory and what it holds (TDLib's database: a few files). */
static void
tg_remove_tree (const char *path)
{
  GDir *dir = g_dir_open (path, 0, NULL);
  if (dir != NULL)
    {
      const char *name;
      while ((name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);
          if (g_file_test (child, G_FILE_TEST_IS_DIR)
              && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
            tg_remove_tree (child);
          else
            g_unlink (child);
        }
      g_dir_close (dir);
    }
  g_rmdir (path);
}

/* The answer to an authentication request: an error asks the same step
 * again with the reason, or ends the flow when no new answer can help. */
static void
tg_on_auth_reply (json_t *reply, void *user_data)
{
  PaLogin *login = user_data;
  TgAuth *a = login->auth;
  int code = 0;
  const char *msg = NULL;
  if (login->closing || !tg_td_is_error (reply, &code, &msg) || !a->flow_active)
    return;
  if (code == 500 && g_strcmp0 (msg, "Request aborted") == 0)
    return;
  const char *st = a->state != NULL ? a->state : "";
  if (strstr (msg, "PHONE_NUMBER_INVALID") != NULL)
    tg_ask_phone (login, "Telegram does not know this phone number (PHONE_NUMBER_INVALID)");
  else if (strstr (msg, "PHONE_CODE_INVALID") != NULL || strstr (msg, "CODE_INVALID") != NULL)
    {
      if (g_str_equal (st, "authorizationStateWaitEmailCode"))
        tg_ask_email_code (login, "That code is wrong");
      else
        tg_ask_code (login, "That code is wrong");
    }
  else if (strstr (msg, "PASSWORD_HASH_INVALID") != NULL)
    tg_ask_password (login, "That password is wrong");
  else if (strstr (msg, "EMAIL_INVALID") != NULL)
    tg_ask_email (login, "Telegram refused this email address");
  else
    {
      g_autofree char *why = tg_auth_error_text (reply);
      tg_flow_fail (login, why);
    }
}

static void
tg_on_parameters_reply (json_t *reply, void *user_data)
{
  PaLogin *login = user_data;
  int code = 0;
  const char *msg = NULL;
  if (login->closing || !tg_td_is_error (reply, &code, &msg))
    return;
  if (code == 500 && g_strcmp0 (msg, "Request aborted") == 0)
    return;
  if (code == 401)
    {
      /* The database does not open with the key the host kept (a key lost
       * with the host's store): it is of no use any more.  It goes, and a
       * login under way starts again on a new one. */
      TgAuth *a = login->auth;
      tg_log (login, PA_LOG_WARNING,
              "TDLib's database does not open with the kept key (%s): "
              "removed",
              msg);
      a->expect_close = TRUE;
      g_clear_pointer (&login->td, tg_td_close);
      g_autofree char *db = g_build_filename (login->data_dir, TG_TD_DIR, NULL);
      tg_remove_tree (db);
      if (a->flow_active)
        {
          g_autoptr (GError) err = NULL;
          a->flow_begun = FALSE;
          if (!tg_login_boot (login, FALSE, &err))
            tg_flow_fail (login, err->message);
          return;
        }
      a->told_ended = TRUE;
      tg_state (login, PA_STATE_BAD_CREDENTIALS,
                "this login's Telegram session could not be opened any more: " TG_LOGIN_AGAIN);
      return;
    }
  g_autofree char *text = g_strdup_printf ("TDLib refused its parameters (%d %s): the "
                                           "administrator must check plugins.telegram in "
                                           "config.yaml",
                                           code, msg);
  tg_log (login, PA_LOG_ERROR, "%s", text);
  if (login->auth->flow_active)
    tg_flow_fail (login, text);
  tg_state (login, PA_STATE_UNKNOWN_ERROR, text);
}

static void
tg_send_parameters (PaLogin *login)
{
  g_autoptr (GError) err = NULL;
  g_autofree char *key = tg_login_db_key (login, &err);
  if (key == NULL)
    {
      tg_log (login, PA_LOG_ERROR, "%s", err->message);
      tg_state (login, PA_STATE_UNKNOWN_ERROR, err->message);
      return;
    }
  g_autofree char *db = g_build_filename (login->data_dir, TG_TD_DIR, NULL);
  g_autofree char *files = g_build_filename (db, "files", NULL);
  const char *api_hash = login->api->config_string (login->host, "api_hash");
  json_t *req = json_pack (
      "{s:s, s:b, s:s, s:s, s:s, s:b, s:b, s:b, s:b, s:I, s:s, s:s, s:s, s:s, s:s}", "@type",
      "setTdlibParameters", "use_test_dc", 0, "database_directory", db, "files_directory", files,
      "database_encryption_key", key, "use_file_database", 1, "use_chat_info_database", 1,
      "use_message_database", 1, "use_secret_chats", 1, "api_id",
      (json_int_t) login->api->config_int (login->host, "api_id"), "api_hash",
      api_hash ? api_hash : "", "system_language_code", "fr", "device_model", "Passerelle",
      "system_version", "Linux", "application_version", TELEGRAM_PLUGIN_VERSION);
  memset (key, 0, strlen (key));
  tg_td_send (login->td, req, tg_on_parameters_reply, login);
}

static void
tg_on_me (json_t *reply, void *user_data)
{
  PaLogin *login = user_data;
  TgAuth *a = login->auth;
  if (login->closing || !login->ready)
    return;
  if (tg_td_is_error (reply, NULL, NULL))
    {
      g_autofree char *why = tg_auth_error_text (reply);
      tg_log (login, PA_LOG_ERROR, "getMe: %s", why);
      if (a->flow_active)
        tg_flow_fail (login, why);
      tg_state (login, PA_STATE_UNKNOWN_ERROR, why);
      return;
    }
  login->self_id = json_integer_value (json_object_get (reply, "id"));
  const char *first = json_string_value (json_object_get (reply, "first_name"));
  const char *last = json_string_value (json_object_get (reply, "last_name"));
  g_free (a->name);
  a->name = g_strstrip (g_strdup_printf ("%s %s", first ? first : "", last ? last : ""));
  g_autofree char *id = g_strdup_printf ("%" G_GINT64_FORMAT, login->self_id);
  if (a->flow_active)
    {
      tg_flow_stop (login);
      PaLoginStep step = {
        .struct_size = sizeof (PaLoginStep),
        .kind = PA_STEP_COMPLETE,
        .step_id = "ready",
        .instructions = "Telegram is logged in. Your chats appear as rooms; recent history "
                        "follows.",
        .remote_id = id,
        .remote_name = *a->name ? a->name : NULL,
      };
      login->api->login_step (login->host, &step);
      a->reported = PA_STATE_CONNECTED;
    }
  else
    tg_state (login, PA_STATE_CONNECTED, NULL);
  a->told_ended = FALSE;
  tg_login_parts_ready (login);
}

/* ------------------------------------------------------ the client's life */

gboolean
tg_login_boot (PaLogin *login, gboolean saved, GError **error)
{
  TgAuth *a = login->auth;
  const char *lib = login->api->config_string (login->host, "tdjson_path");
  int verbosity = (int) login->api->config_int (login->host, "tdlib_verbosity");
  g_clear_pointer (&a->state, g_free);
  g_clear_pointer (&a->state_obj, json_decref);
  a->saved = saved;
  a->expect_close = FALSE;
  login->td = tg_td_open (lib, login->host, login->api, verbosity, a->on_update, login, error);
  if (login->td == NULL)
    return FALSE;
  if (saved)
    tg_state (login, PA_STATE_CONNECTING, NULL);
  return TRUE;
}

/* TDLib closed the client (asked, or the session ended elsewhere).  [main] */
static void
tg_client_closed (PaLogin *login)
{
  TgAuth *a = login->auth;
  gboolean ours = a->expect_close;
  login->ready = FALSE;
  g_clear_pointer (&login->td, tg_td_close);
  if (a->logout)
    {
      a->logout = FALSE;
      tg_login_session_ended (login);
      tg_op_ok (login, a->logout_op, NULL, 0);
      return;
    }
  if (!ours && !a->told_ended)
    {
      a->told_ended = TRUE;
      tg_login_session_ended (login);
      tg_state (
          login, PA_STATE_LOGGED_OUT,
          "this Telegram session was ended from another device or by Telegram: " TG_LOGIN_AGAIN);
    }
}

static void
tg_on_state (PaLogin *login, json_t *state)
{
  TgAuth *a = login->auth;
  const char *type = json_string_value (json_object_get (state, "@type"));
  if (type == NULL)
    return;
  tg_log (login, PA_LOG_DEBUG, "authorization state: %s", type);
  g_free (a->state);
  a->state = g_strdup (type);
  json_decref (a->state_obj);
  a->state_obj = json_incref (state);

  if (g_str_equal (type, "authorizationStateWaitTdlibParameters"))
    tg_send_parameters (login);
  else if (g_str_equal (type, "authorizationStateWaitPhoneNumber"))
    {
      if (a->flow_active)
        tg_login_begin_flow (login);
      else if (a->saved && !a->told_ended)
        {
          a->told_ended = TRUE;
          tg_state (login, PA_STATE_BAD_CREDENTIALS,
                    "this Telegram login has no session any more: " TG_LOGIN_AGAIN);
        }
    }
  else if (g_str_equal (type, "authorizationStateWaitOtherDeviceConfirmation"))
    {
      if (a->flow_active)
        tg_show_qr (login, json_string_value (json_object_get (state, "link")));
    }
  else if (g_str_equal (type, "authorizationStateWaitCode"))
    {
      if (a->flow_active)
        tg_ask_code (login, NULL);
    }
  else if (g_str_equal (type, "authorizationStateWaitPassword"))
    {
      if (a->flow_active)
        {
          /* After a QR scan the image has done its work. */
          tg_qr_forget (a);
          tg_ask_password (login, NULL);
        }
    }
  else if (g_str_equal (type, "authorizationStateWaitEmailAddress"))
    {
      if (a->flow_active)
        tg_ask_email (login, NULL);
    }
  else if (g_str_equal (type, "authorizationStateWaitEmailCode"))
    {
      if (a->flow_active)
        tg_ask_email_code (login, NULL);
    }
  else if (g_str_equal (type, "authorizationStateWaitRegistration"))
    {
      if (a->flow_active)
        tg_flow_fail (login, "this phone number has no Telegram account, and the bridge does not "
                             "create accounts: sign up with a Telegram app first");
    }
  else if (g_str_equal (type, "authorizationStateWaitPremiumPurchase"))
    {
      if (a->flow_active)
        tg_flow_fail (login, "Telegram asks for a Premium purchase before this account may log "
                             "in, which the bridge cannot do: log in once from a Telegram app");
    }
  else if (g_str_equal (type, "authorizationStateReady"))
    {
      login->ready = TRUE;
      tg_td_send (login->td, json_pack ("{s:s}", "@type", "getMe"), tg_on_me, login);
    }
  else if (g_str_equal (type, "authorizationStateLoggingOut"))
    {
      login->ready = FALSE;
      if (!a->expect_close && !a->told_ended)
        {
          a->told_ended = TRUE;
          tg_login_session_ended (login);
          tg_state (login, PA_STATE_LOGGED_OUT,
                    "this Telegram session was ended from another device or by "
                    "Telegram: " TG_LOGIN_AGAIN);
        }
    }
  else if (g_str_equal (type, "authorizationStateClosed"))
    tg_client_closed (login);
}

gboolean
tg_login_on_update (PaLogin *login, const char *type, json_t *update)
{
  TgAuth *a = login->auth;
  if (g_str_equal (type, "updateAuthorizationState"))
    {
      tg_on_state (login, json_object_get (update, "authorization_state"));
      return TRUE;
    }
  if (g_str_equal (type, "updateConnectionState"))
    {
      const char *st
          = json_string_value (json_object_get (json_object_get (update, "state"), "@type"));
      if (!login->ready || st == NULL)
        return TRUE;
      if (g_str_equal (st, "connectionStateReady") && a->reported != PA_STATE_CONNECTED)
        tg_state (login, PA_STATE_CONNECTED, NULL);
      else if (g_str_equal (st, "connectionStateWaitingForNetwork")
               && a->reported == PA_STATE_CONNECTED)
        tg_state (login, PA_STATE_TRANSIENT_DISCONNECT, "waiting for the network");
      return TRUE;
    }
  return FALSE;
}

/* ----------------------------------------------------------- operations */

static guint
tg_qr_timeout_ms (PaLogin *login)
{
#ifdef TG_ALLOW_FAKE_TDJSON
  /* The test build only: the tests cannot wait 5 minutes. */
  gint64 ms = login->api->config_int (login->host, "test_qr_timeout_ms");
  if (ms > 0 && ms < TG_QR_TIMEOUT_MS)
    return (guint) ms;
#endif
  return TG_QR_TIMEOUT_MS;
}

/* Nobody scanned the QR code (or Telegram never sent one): the flow ends,
 * and so does the client, so that a code seen later cannot log in behind
 * the agent's back. */
static bool
tg_qr_timeout (void *user_data)
{
  PaLogin *login = user_data;
  TgAuth *a = login->auth;
  a->qr_timer = 0;
  if (!a->flow_active || login->ready)
    return false;
  if (g_strcmp0 (a->state, "authorizationStateWaitOtherDeviceConfirmation") == 0)
    tg_flow_fail (login, "the QR code was not scanned within 5 minutes");
  else if (g_strcmp0 (a->state, "authorizationStateWaitPhoneNumber") == 0)
    tg_flow_fail (login, "Telegram could not be reached for 5 minutes");
  else
    return false;
  a->expect_close = TRUE;
  g_clear_pointer (&login->td, tg_td_close);
  return false;
}

/* The flow's first request, once TDLib waits for a phone number (or is
 * in the middle of another authentication, which a new one replaces). */
static void
tg_login_begin_flow (PaLogin *login)
{
  TgAuth *a = login->auth;
  if (a->flow_begun)
    return;
  a->flow_begun = TRUE;
  if (a->flow == TG_FLOW_QR && a->qr_timer == 0)
    a->qr_timer
        = login->api->timer_add (login->host, tg_qr_timeout_ms (login), tg_qr_timeout, login);
  if (a->flow == TG_FLOW_QR)
    tg_td_send (login->td,
                json_pack ("{s:s, s:[]}", "@type", "requestQrCodeAuthentication", "other_user_ids"),
                tg_on_auth_reply, login);
  else
    tg_ask_phone (login, NULL);
}

static gboolean
tg_state_takes_flow (const char *state)
{
  static const char *const states[] = {
    "authorizationStateWaitPhoneNumber",  "authorizationStateWaitOtherDeviceConfirmation",
    "authorizationStateWaitCode",         "authorizationStateWaitPassword",
    "authorizationStateWaitEmailAddress", "authorizationStateWaitEmailCode",
    "authorizationStateWaitRegistration",
  };
  for (guint i = 0; state != NULL && i < G_N_ELEMENTS (states); i++)
    if (g_str_equal (state, states[i]))
      return TRUE;
  return FALSE;
}

void
tg_login_start (PaLogin *login, const char *flow_id)
{
  TgAuth *a = login->auth;
  if (g_strcmp0 (flow_id, "qr") == 0)
    a->flow = TG_FLOW_QR;
  else if (g_strcmp0 (flow_id, "phone") == 0)
    a->flow = TG_FLOW_PHONE;
  else
    {
      login->api->notice (login->host, "Telegram logs in with `qr` or `phone`.");
      return;
    }
  tg_flow_stop (login);
  a->flow_active = TRUE;
  if (login->ready)
    {
      /* Already logged in: say so as a completed login. */
      tg_td_send (login->td, json_pack ("{s:s}", "@type", "getMe"), tg_on_me, login);
      return;
    }
  if (login->td == NULL)
    {
      g_autoptr (GError) err = NULL;
      if (!tg_login_boot (login, FALSE, &err))
        tg_flow_fail (login, err->message);
      return;
    }
  if (tg_state_takes_flow (a->state))
    tg_login_begin_flow (login);
  /* else: TDLib is still opening; its WaitPhoneNumber starts the flow. */
}

static const char *
tg_value (const char *id, const char *const *ids, const char *const *values, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (g_strcmp0 (ids[i], id) == 0)
      return values[i] != NULL ? values[i] : "";
  return "";
}

void
tg_login_submit (PaLogin *login, const char *step_id, const char *const *ids,
                 const char *const *values, size_t n)
{
  TgAuth *a = login->auth;
  if (!a->flow_active || login->td == NULL || step_id == NULL)
    return;
  json_t *req = NULL;
  if (g_str_equal (step_id, "phone"))
    {
      const char *phone = tg_value ("phone", ids, values, n);
      GString *digits = g_string_new ("+");
      for (const char *p = phone; p != NULL && *p; p++)
        if (g_ascii_isdigit (*p))
          g_string_append_c (digits, *p);
      if (digits->len < 5)
        {
          g_string_free (digits, TRUE);
          tg_ask_phone (login, "That is not a phone number");
          return;
        }
      req = json_pack ("{s:s, s:s}", "@type", "setAuthenticationPhoneNumber", "phone_number",
                       digits->str);
      g_string_free (digits, TRUE);
    }
  else if (g_str_equal (step_id, "code"))
    req = json_pack ("{s:s, s:s}", "@type", "checkAuthenticationCode", "code",
                     tg_value ("code", ids, values, n));
  else if (g_str_equal (step_id, "password"))
    req = json_pack ("{s:s, s:s}", "@type", "checkAuthenticationPassword", "password",
                     tg_value ("password", ids, values, n));
  else if (g_str_equal (step_id, "email"))
    req = json_pack ("{s:s, s:s}", "@type", "setAuthenticationEmailAddress", "email_address",
                     tg_value ("email", ids, values, n));
  else if (g_str_equal (step_id, "email_code"))
    req = json_pack ("{s:s, s:{s:s, s:s}}", "@type", "checkAuthenticationEmailCode", "code",
                     "@type", "emailAddressAuthenticationCode", "code",
                     tg_value ("code", ids, values, n));
  if (req != NULL)
    tg_td_send (login->td, req, tg_on_auth_reply, login);
}

void
tg_login_cancel (PaLogin *login)
{
  TgAuth *a = login->auth;
  tg_flow_stop (login);
  if (!login->ready && login->td != NULL)
    {
      /* A half-done authentication (a QR token still valid) must not
       * complete behind the agent's back: the client closes. */
      a->expect_close = TRUE;
      g_clear_pointer (&login->td, tg_td_close);
    }
}

void
tg_login_connect (PaLogin *login)
{
  if (login->td != NULL)
    {
      if (login->ready)
        tg_state (login, PA_STATE_CONNECTED, NULL);
      return;
    }
  g_autoptr (GError) err = NULL;
  if (!tg_login_boot (login, TRUE, &err))
    tg_state (login, PA_STATE_UNKNOWN_ERROR, err->message);
}

void
tg_login_disconnect (PaLogin *login)
{
  if (login->td == NULL)
    return;
  login->auth->expect_close = TRUE;
  login->ready = FALSE;
  g_clear_pointer (&login->td, tg_td_close);
  tg_state (login, PA_STATE_TRANSIENT_DISCONNECT,
            "disconnected from Telegram as asked; `connect telegram` goes online again");
}

static void
tg_on_logout_reply (json_t *reply, void *user_data)
{
  PaLogin *login = user_data;
  TgAuth *a = login->auth;
  if (login->closing || !a->logout || !tg_td_is_error (reply, NULL, NULL))
    return;
  /* TDLib refused: the session stays. */
  a->logout = FALSE;
  a->expect_close = FALSE;
  tg_op_fail_td (login, a->logout_op, reply);
}

void
tg_login_logout (PaLogin *login, uint64_t op_id)
{
  TgAuth *a = login->auth;
  if (a->logout)
    {
      tg_op_fail (login, op_id, PA_RESULT_TEMPORARY, "a logout is already under way");
      return;
    }
  if (login->td == NULL && a->told_ended)
    {
      /* The session already ended elsewhere: nothing is left to log out. */
      tg_op_ok (login, op_id, NULL, 0);
      return;
    }
  if (login->td == NULL)
    {
      /* Offline: open the saved session to log it out. */
      g_autoptr (GError) err = NULL;
      if (!tg_login_boot (login, TRUE, &err))
        {
          tg_op_fail (login, op_id, PA_RESULT_PERMANENT, err->message);
          return;
        }
    }
  a->logout = TRUE;
  a->logout_op = op_id;
  a->expect_close = TRUE;
  tg_flow_stop (login);
  /* TDLib logs out in any state, destroys the database, then closes. */
  tg_td_send (login->td, json_pack ("{s:s}", "@type", "logOut"), tg_on_logout_reply, login);
}
