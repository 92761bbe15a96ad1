/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Ghosts: one Matrix user per legacy contact, @<prefix><plugin>_<id>:hs.
 *
 * Legacy ids are escaped into the localpart alphabet (a-z 0-9 . _ = - /)
 * with '=' + two hex digits for anything else (and for upper case), the way
 * mautrix escapes; the mapping is reversible so user queries from the
 * homeserver can be answered without a lookup. */
#define G_LOG_DOMAIN "passerelle-ghost"

#include "pa-ghost.h"

#include "pa-batch.h"
#include "pa-media.h"

#include <glib/gstdio.h>

static char *
escape_localpart (const char *s)
{
  GString *out = g_string_new (NULL);
  for (const guchar *p = (const guchar *) s; *p; p++)
    {
      if ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '.' || *p == '-'
          || *p == '/')
        g_string_append_c (out, (char) *p);
      else
        g_string_append_printf (out, "=%02x", *p);
    }
  return g_string_free (out, FALSE);
}

static char *
unescape_localpart (const char *s)
{
  GString *out = g_string_new (NULL);
  for (const char *p = s; *p; p++)
    {
      if (*p == '=' && g_ascii_isxdigit (p[1]) && g_ascii_isxdigit (p[2]))
        {
          g_string_append_c (out, (char) (g_ascii_xdigit_value (p[1]) * 16
                                          + g_ascii_xdigit_value (p[2])));
          p += 2;
        }
      else
        g_string_append_c (out, *p);
    }
  return g_string_free (out, FALSE);
}

char *
pa_ghost_mxid (PaBridge *b, const char *plugin, const char *legacy_id)
{
  g_autofree char *esc = escape_localpart (legacy_id);
  return g_strdup_printf ("@%s%s_%s:%s", b->config->ghost_prefix, plugin, esc,
                          b->config->hs_domain);
}

gboolean
pa_ghost_parse (PaBridge *b, const char *mxid, char **plugin, char **legacy_id)
{
  const char *prefix = b->config->ghost_prefix;
  if (mxid == NULL || mxid[0] != '@' || !g_str_has_prefix (mxid + 1, prefix))
    return FALSE;
  const char *colon = strchr (mxid, ':');
  if (colon == NULL || !g_str_equal (colon + 1, b->config->hs_domain))
    return FALSE;
  const char *start = mxid + 1 + strlen (prefix);
  const char *us = strchr (start, '_');
  if (us == NULL || us > colon || us == start)
    return FALSE;
  g_autofree char *local = g_strndup (us + 1, (gsize) (colon - us - 1));
  if (*local == '\0')
    return FALSE;
  *plugin = g_strndup (start, (gsize) (us - start));
  *legacy_id = unescape_localpart (local);
  return TRUE;
}

gboolean
pa_ghost_is_ours (PaBridge *b, const char *mxid)
{
  if (mxid == NULL)
    return FALSE;
  if (g_str_equal (mxid, b->bot_mxid))
    return TRUE;
  g_autofree char *p = NULL, *l = NULL;
  return pa_ghost_parse (b, mxid, &p, &l);
}

typedef struct {
  PaBridge *b;
  char *mxid;
  char *plugin;
  char *legacy_id;
  /* Asked: what the caller gave, until the ensure starts.  Then: the name
   * stored once done (the new one, else the known one) and the picture to
   * upload (NULL: the one uploaded is current). */
  char *displayname;
  gboolean put_name; /* the name is new: set on the profile */
  char *avatar_path;
  char *avatar_sig;   /* what avatar_path was (kv ghost_avatar:<mxid>) */
  char *avatar_url;
  PaDoneFunc done;
  gpointer user_data;
} GhostCtx;

/* A contact's picture is a file the worker keeps: its path, size and
 * modification time tell a new picture from the one already uploaded,
 * without reading it (ghosts are ensured for every message). */
static char *
avatar_signature (const char *path)
{
  GStatBuf st;
  if (path == NULL || g_stat (path, &st) != 0)
    return NULL;
  return g_strdup_printf ("%s|%" G_GINT64_FORMAT "|%" G_GINT64_FORMAT, path, (gint64) st.st_size,
                          (gint64) st.st_mtime);
}

static char *
avatar_key (const char *mxid)
{
  return g_strconcat ("ghost_avatar:", mxid, NULL);
}

/* The signature of the ghost's uploaded picture ("" if none): kept in kv,
 * read from it once per run (ghosts are ensured for every message). */
static const char *
avatar_uploaded_sig (PaBridge *b, const char *mxid)
{
  const char *sig = g_hash_table_lookup (b->ghost_avatars, mxid);
  if (sig == NULL)
    {
      g_autofree char *key = avatar_key (mxid);
      char *stored = pa_store_kv_get (b->store, key);
      sig = stored ? stored : g_strdup ("");
      g_hash_table_insert (b->ghost_avatars, g_strdup (mxid), (char *) sig);
    }
  return sig;
}

static void
ghost_ctx_free (GhostCtx *g)
{
  g_free (g->mxid);
  g_free (g->plugin);
  g_free (g->legacy_id);
  g_free (g->displayname);
  g_free (g->avatar_path);
  g_free (g->avatar_sig);
  g_free (g->avatar_url);
  g_free (g);
}

static void
ghost_queue_free (gpointer q)
{
  g_queue_free_full (q, (GDestroyNotify) ghost_ctx_free);
}

static void ghost_start (GhostCtx *g);

/* The ghost's ensure is over: the next one asked meanwhile starts (it
 * reads what this one stored). */
static void
ghost_next (PaBridge *b, const char *mxid)
{
  GQueue *waiting = g_hash_table_lookup (b->ghosts_busy, mxid);
  GhostCtx *next = waiting ? g_queue_pop_head (waiting) : NULL;
  if (next == NULL)
    g_hash_table_remove (b->ghosts_busy, mxid);
  else
    ghost_start (next);
}

static void
ghost_ctx_finish (PaBridge *b, GhostCtx *g, gboolean ok, const char *error)
{
  if (ok)
    {
      g_autoptr (GError) e = NULL;
      if (!pa_store_ghost_put (b->store, g->mxid, g->plugin, g->legacy_id, TRUE, g->displayname,
                               g->avatar_url, &e))
        g_warning ("store: %s", e->message);
    }
  if (g->done)
    g->done (b, ok, error, g->user_data);
  g_autofree char *mxid = g_strdup (g->mxid);
  ghost_ctx_free (g);
  ghost_next (b, mxid);
}

static void
profile_done (GhostCtx *g)
{
  ghost_ctx_finish (g->b, g, TRUE, NULL);
}

static void
avatar_profile_cb (PaMatrix *mx, const PaMatrixResponse *resp, gpointer user_data)
{
  GhostCtx *g = user_data;
  if (!pa_matrix_response_ok (resp))
    g_warning ("could not set avatar of %s: %s", g->mxid, resp->error ? resp->error : "?");
  else if (g->avatar_sig)
    {
      g_autofree char *key = avatar_key (g->mxid);
      g_autoptr (GError) e = NULL;
      pa_batch_begin (g->b);
      if (!pa_store_kv_set (g->b->store, key, g->avatar_sig, &e))
        g_warning ("store: %s", e->message);
      g_hash_table_insert (g->b->ghost_avatars, g_strdup (g->mxid), g_strdup (g->avatar_sig));
    }
  profile_done (g);
}

static void
avatar_uploaded (PaBridge *b, const char *mxc, json_t *file, const char *error,
                 gpointer user_data)
{
  GhostCtx *g = user_data;
  if (mxc == NULL)
    {
      g_warning ("could not upload avatar of %s: %s", g->mxid, error);
      profile_done (g);
      return;
    }
  g_free (g->avatar_url);
  g->avatar_url = g_strdup (mxc);
  g_autofree char *esc = pa_matrix_escape (g->mxid);
  g_autofree char *path = g_strdup_printf ("/_matrix/client/v3/profile/%s/avatar_url", esc);
  g_autoptr (json_t) body = json_pack ("{s:s}", "avatar_url", mxc);
  PaMatrixRequest req = { .method = "PUT", .path = path, .user_id = g->mxid, .body = body,
                          .max_attempts = 5 };
  pa_matrix_request (b->mx, &req, avatar_profile_cb, g);
}

static void
displayname_cb (PaMatrix *mx, const PaMatrixResponse *resp, gpointer user_data)
{
  GhostCtx *g = user_data;
  if (!pa_matrix_response_ok (resp))
    g_warning ("could not set display name of %s: %s", g->mxid, resp->error ? resp->error : "?");
  if (g->avatar_path)
    pa_media_upload (g->b, NULL, g->b->config->data_dir, g->avatar_path, "avatar", NULL,
                     avatar_uploaded, g);
  else
    profile_done (g);
}

static void
set_profile (PaBridge *b, GhostCtx *g)
{
  if (!g->put_name)
    {
      if (g->avatar_path)
        pa_media_upload (b, NULL, b->config->data_dir, g->avatar_path, "avatar", NULL,
                         avatar_uploaded, g);
      else
        profile_done (g);
      return;
    }
  g_autofree char *esc = pa_matrix_escape (g->mxid);
  g_autofree char *path = g_strdup_printf ("/_matrix/client/v3/profile/%s/displayname", esc);
  g_autoptr (json_t) body = json_pack ("{s:s}", "displayname", g->displayname);
  PaMatrixRequest req = { .method = "PUT", .path = path, .user_id = g->mxid, .body = body,
                          .max_attempts = 5 };
  pa_matrix_request (b->mx, &req, displayname_cb, g);
}

static void
register_cb (PaMatrix *mx, const PaMatrixResponse *resp, gpointer user_data)
{
  GhostCtx *g = user_data;
  if (pa_matrix_response_ok (resp)
      || (resp->errcode && g_str_equal (resp->errcode, "M_USER_IN_USE")))
    {
      set_profile (g->b, g);
      return;
    }
  g_autoptr (GError) e = pa_matrix_response_to_error (resp);
  ghost_ctx_finish (g->b, g, FALSE, e->message);
}

static void
ghost_start (GhostCtx *g)
{
  PaBridge *b = g->b;
  g_autofree char *displayname = g_steal_pointer (&g->displayname);
  g_autofree char *avatar_path = g_steal_pointer (&g->avatar_path);
  gboolean registered = FALSE;
  g_autofree char *old_name = NULL, *old_avatar = NULL;
  gboolean known = pa_store_ghost_get (b->store, g->mxid, &registered, &old_name, &old_avatar);
  /* Only touch the profile when it changed. */
  g->put_name = displayname && g_strcmp0 (displayname, old_name) != 0;
  g->displayname = g_strdup (g->put_name ? displayname : old_name);
  /* A new picture (or the first) is uploaded; the same one is not. */
  if (avatar_path)
    {
      g->avatar_sig = avatar_signature (avatar_path);
      if (old_avatar == NULL
          || (g->avatar_sig && g_strcmp0 (g->avatar_sig, avatar_uploaded_sig (b, g->mxid)) != 0))
        g->avatar_path = g_strdup (avatar_path);
    }
  g->avatar_url = g_strdup (old_avatar);
  if (known && registered)
    {
      if (!g->put_name && g->avatar_path == NULL)
        {
          ghost_ctx_finish (b, g, TRUE, NULL);
          return;
        }
      set_profile (b, g);
      return;
    }
  g_autofree char *localpart = NULL;
  {
    const char *colon = strchr (g->mxid, ':');
    localpart = g_strndup (g->mxid + 1, (gsize) (colon - g->mxid - 1));
  }
  g_autoptr (json_t) body = json_pack ("{s:s, s:s, s:b}", "type", "m.login.application_service",
                                       "username", localpart, "inhibit_login", 1);
  PaMatrixRequest req = { .method = "POST", .path = "/_matrix/client/v3/register", .body = body,
                          .max_attempts = 0 };
  pa_matrix_request (b->mx, &req, register_cb, g);
}

/* One ensure of a ghost at a time, in the order they were asked: an
 * event's ghost is ready only once the profile an earlier event gave (a
 * contact info, a chat's member list) is set, so it never joins a room or
 * speaks under its bare MXID when its name was known. */
void
pa_ghost_ensure (PaBridge *b, const char *plugin, const char *legacy_id, const char *displayname,
                 const char *avatar_path, PaDoneFunc done, gpointer user_data)
{
  GhostCtx *g = g_new0 (GhostCtx, 1);
  g->b = b;
  g->mxid = pa_ghost_mxid (b, plugin, legacy_id);
  g->plugin = g_strdup (plugin);
  g->legacy_id = g_strdup (legacy_id);
  g->displayname = g_strdup (displayname);
  g->avatar_path = g_strdup (avatar_path);
  g->done = done;
  g->user_data = user_data;
  if (b->ghosts_busy == NULL)
    b->ghosts_busy = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, ghost_queue_free);
  GQueue *waiting = g_hash_table_lookup (b->ghosts_busy, g->mxid);
  if (waiting != NULL)
    {
      g_queue_push_tail (waiting, g);
      return;
    }
  g_hash_table_insert (b->ghosts_busy, g_strdup (g->mxid), g_queue_new ());
  ghost_start (g);
}
