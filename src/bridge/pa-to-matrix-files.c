/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The files of legacy events (pa-to-matrix-files.h).  Paths are resolved
 * with realpath, so a symlink planted in the data dir cannot point the
 * host at its own config or another login's session. */
#define G_LOG_DOMAIN "passerelle-bridge"

#include "pa-to-matrix-files.h"

#include "pa-convert.h"

#include <stdlib.h>

static const char *
str (json_t *o, const char *key)
{
  return json_string_value (json_object_get (o, key));
}

/* The login's data dir, resolved (transfer full), or NULL. */
static char *
login_root (PaBridge *b, PaAccount *login)
{
  g_autofree char *dir = g_build_filename (b->config->data_dir, login->id, NULL);
  return realpath (dir, NULL);
}

static gboolean
inside (const char *real, const char *root)
{
  if (real == NULL || root == NULL)
    return FALSE;
  gsize n = strlen (root);
  return strncmp (real, root, n) == 0 && (real[n] == '/' || real[n] == '\0');
}

static gboolean
allowed (const char *path, const char *own, const char *export_root)
{
  g_autofree char *real = realpath (path, NULL);
  return inside (real, own) || inside (real, export_root);
}

/* Remove `key` of `obj` when it names a file outside the roots. */
static guint
confine_key (json_t *obj, const char *key, const char *own, const char *export_root,
             const char *login_id)
{
  const char *path = str (obj, key);
  if (path == NULL || allowed (path, own, export_root))
    return 0;
  g_warning ("login %s named %s, outside its data dir: not read", login_id, path);
  json_object_del (obj, key);
  return 1;
}

guint
pa_to_matrix_files_confine (PaBridge *b, PaAccount *login, const char *export_dir, json_t *ev)
{
  g_autofree char *own = login_root (b, login);
  g_autofree char *export_root = export_dir != NULL ? realpath (export_dir, NULL) : NULL;
  guint removed = 0;
  json_t *content = json_object_get (ev, "content");
  if (json_is_object (content) && str (content, "media_path") != NULL)
    {
      const char *path = str (content, "media_path");
      if (!allowed (path, own, export_root))
        {
          g_warning ("login %s named %s, outside its data dir: not read", login->id, path);
          pa_convert_media_lost (content, "the file was not where it should be");
          removed++;
        }
    }
  json_t *contact = json_object_get (ev, "contact");
  if (json_is_object (contact))
    removed += confine_key (contact, "avatar_path", own, export_root, login->id);
  json_t *chat = json_object_get (ev, "chat");
  if (json_is_object (chat))
    {
      removed += confine_key (chat, "avatar_path", own, export_root, login->id);
      json_t *members = json_object_get (chat, "members");
      size_t i;
      json_t *m;
      json_array_foreach (members, i, m)
      {
        if (json_is_object (m))
          removed += confine_key (m, "avatar_path", own, export_root, login->id);
      }
    }
  return removed;
}

char *
pa_to_matrix_files_owned (PaBridge *b, PaAccount *login, json_t *ev)
{
  const char *path = str (json_object_get (ev, "content"), "media_path");
  if (path == NULL)
    return NULL;
  g_autofree char *own = login_root (b, login);
  g_autofree char *real = realpath (path, NULL);
  return inside (real, own) ? g_steal_pointer (&real) : NULL;
}
