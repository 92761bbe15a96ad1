/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * purple-session.c — the saved login (purple-session.json, 0600 in the data
 * dir): the prpl, user name, password, options, autojoin list and rooms
 * joined from Matrix, read at start and written when they change.
 *
 * Why apart: libpurple's own files never hold the password
 * (remember_password is off), so this file is the one place credentials
 * are kept and wiped.
 */
#define G_LOG_DOMAIN "passerelle-purple"

#include <errno.h>
#include <string.h>
#include <glib/gstdio.h>
#include <jansson.h>

#include "purple-common.h"
#include "purple-session.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC (json_t, json_decref)

void
pp_session_free (PpSession *s)
{
  if (s == NULL)
    return;
  g_free (s->protocol);
  g_free (s->username);
  pp_wipe_free (s->password);
  g_hash_table_unref (s->options);
  g_free (s->autojoin);
  g_ptr_array_unref (s->rooms);
  g_free (s);
}

PpSession *
pp_session_new (void)
{
  PpSession *s = g_new0 (PpSession, 1);
  s->options = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  s->rooms = g_ptr_array_new_with_free_func (g_free);
  return s;
}

static const char *
js (json_t *obj, const char *key)
{
  json_t *v = json_object_get (obj, key);
  return json_is_string (v) ? json_string_value (v) : NULL;
}

gboolean
pp_save_session (PaLogin *login, const PpSession *s, GError **error)
{
  g_autoptr (json_t) opts = json_object ();
  GHashTableIter it;
  gpointer k, v;
  g_hash_table_iter_init (&it, s->options);
  while (g_hash_table_iter_next (&it, &k, &v))
    json_object_set_new (opts, k, json_string (v));
  g_autoptr (json_t) rooms = json_array ();
  for (guint i = 0; i < s->rooms->len; i++)
    json_array_append_new (rooms, json_string (g_ptr_array_index (s->rooms, i)));
  g_autoptr (json_t) obj
      = json_pack ("{s:s, s:s, s:s, s:O, s:s, s:O}", "protocol", s->protocol, "username",
                   s->username, "password", s->password != NULL ? s->password : "", "options", opts,
                   "autojoin", s->autojoin != NULL ? s->autojoin : "", "rooms", rooms);
  if (obj == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "invalid session");
      return FALSE;
    }
  char *text = json_dumps (obj, JSON_COMPACT);
  if (text == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE, "out of memory");
      return FALSE;
    }
  g_autofree char *path = g_build_filename (login->data_dir, PP_SESSION_FILE, NULL);
  gboolean ok = pp_write_private (path, text, strlen (text), error);
  explicit_bzero (text, strlen (text));
  free (text);
  return ok;
}

PpSession *
pp_load_session (const char *data_dir, GError **error)
{
  g_autofree char *path = g_build_filename (data_dir, PP_SESSION_FILE, NULL);
  GStatBuf st;
  if (g_stat (path, &st) != 0)
    {
      int e = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e), "%s", g_strerror (e));
      return NULL;
    }
  if (st.st_size > PP_MAX_SESSION_FILE)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "session file too large");
      return NULL;
    }
  g_autofree char *text = NULL;
  gsize len = 0;
  if (!g_file_get_contents (path, &text, &len, error))
    return NULL;
  json_error_t jerr;
  g_autoptr (json_t) obj = json_loadb (text, len, JSON_REJECT_DUPLICATES, &jerr);
  explicit_bzero (text, len);
  if (obj == NULL || js (obj, "protocol") == NULL || js (obj, "username") == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "session file is corrupt");
      return NULL;
    }
  PpSession *s = pp_session_new ();
  s->protocol = g_strdup (js (obj, "protocol"));
  s->username = g_strdup (js (obj, "username"));
  s->password = g_strdup (js (obj, "password") != NULL ? js (obj, "password") : "");
  s->autojoin = g_strdup (js (obj, "autojoin"));
  const char *key;
  json_t *v;
  json_object_foreach (json_object_get (obj, "options"), key, v) if (json_is_string (v))
      g_hash_table_insert (s->options, g_strdup (key), g_strdup (json_string_value (v)));
  size_t i;
  json_array_foreach (json_object_get (obj, "rooms"), i,
                      v) if (json_is_string (v) && s->rooms->len < PP_MAX_ROOMS)
      g_ptr_array_add (s->rooms, g_strdup (json_string_value (v)));
  return s;
}

void
pp_forget_session (PaLogin *login)
{
  g_autofree char *path = g_build_filename (login->data_dir, PP_SESSION_FILE, NULL);
  if (g_unlink (path) != 0 && errno != ENOENT)
    pp_log (login, PA_LOG_WARNING, "cannot delete %s: %s", path, g_strerror (errno));
  g_clear_pointer (&login->session, pp_session_free);
}
