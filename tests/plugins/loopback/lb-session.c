/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * lb-session.c — the saved session: DATA_DIR/session.json (mode 0600), so
 * that login_new(saved) reconnects without asking.  With a host of SDK 2.1
 * the password is not in it but in the host-encrypted secret "password"
 * (PaHostApi.secret_store); an older host gets it in session.json.
 */
#define G_LOG_DOMAIN "passerelle-loopback"

#include "lb-session.h"

#include <errno.h>
#include <string.h>

#include <glib/gstdio.h>

#include "lb-util.h"

static gboolean
has_secrets (LbLogin *login)
{
  return PA_HAS_MEMBER (login->api, PaHostApi, secret_store) && login->api->secret_store != NULL
         && login->api->secret_load != NULL;
}

void
lb_forget_session (LbLogin *login)
{
  g_autofree char *path = g_build_filename (login->data_dir, "session.json", NULL);
  if (g_unlink (path) != 0 && errno != ENOENT)
    lb_log (login, PA_LOG_WARNING, "cannot delete %s: %s", path, g_strerror (errno));
  if (has_secrets (login))
    login->api->secret_store (login->host, "password", NULL, 0);
  g_clear_pointer (&login->session, lb_creds_free);
  login->want_online = FALSE;
  g_clear_handle_id (&login->reconnect_id, g_source_remove);
}

gboolean
lb_save_session (LbLogin *login, const LbCreds *creds, GError **error)
{
  g_autoptr (json_t) obj = NULL;
  if (has_secrets (login) && creds->password != NULL
      && login->api->secret_store (login->host, "password", creds->password,
                                   strlen (creds->password)))
    obj = json_pack ("{s:s, s:s, s:b}", "server", creds->server, "user", creds->user,
                     "password_secret", 1);
  else
    obj = json_pack ("{s:s, s:s, s:s}", "server", creds->server, "user", creds->user, "password",
                     creds->password);
  if (obj == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "invalid credentials");
      return FALSE;
    }
  g_autofree char *text = json_dumps (obj, JSON_COMPACT);
  g_autofree char *path = g_build_filename (login->data_dir, "session.json", NULL);
  gboolean ok = text != NULL && lb_write_file (path, text, strlen (text), error);
  if (text != NULL)
    explicit_bzero (text, strlen (text));
  return ok;
}

LbCreds *
lb_load_session (LbLogin *login, GError **error)
{
  g_autofree char *path = g_build_filename (login->data_dir, "session.json", NULL);
  GStatBuf st;
  if (g_stat (path, &st) != 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "%s", g_strerror (saved));
      return NULL;
    }
  if (st.st_size > LB_MAX_SESSION_FILE)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "session file too large");
      return NULL;
    }
  g_autofree char *text = NULL;
  gsize len = 0;
  if (!g_file_get_contents (path, &text, &len, error))
    return NULL;
  json_error_t jerr;
  g_autoptr (json_t) obj = json_loadb (text, len, 0, &jerr);
  explicit_bzero (text, len);
  if (obj == NULL || lb_js (obj, "server") == NULL || lb_js (obj, "user") == NULL
      || (lb_js (obj, "password") == NULL && !lb_jb (obj, "password_secret")))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "session file is corrupt");
      return NULL;
    }
  char *password = NULL;
  if (lb_js (obj, "password") != NULL)
    password = g_strdup (lb_js (obj, "password"));
  else if (has_secrets (login))
    {
      size_t n = 0;
      char *secret = login->api->secret_load (login->host, "password", &n);
      if (secret != NULL)
        {
          password = g_strndup (secret, n);
          explicit_bzero (secret, n);
          free (secret);
        }
    }
  if (password == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           "the saved password cannot be read");
      return NULL;
    }
  LbCreds *c = g_new0 (LbCreds, 1);
  c->server = g_strdup (lb_js (obj, "server"));
  c->user = g_strdup (lb_js (obj, "user"));
  c->password = password;
  return c;
}
