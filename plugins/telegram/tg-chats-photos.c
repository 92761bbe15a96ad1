/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * tg-chats-photos.c — chat and user photos as avatar files.
 *
 * The small photo (160×160) is downloaded through TDLib and copied into
 * DATA_DIR/avatars/<owner>-<photo's unique id>.jpg, one file per chat or
 * user: a new photo gets a new name (the host reads a named avatar after
 * the event, so a file is never rewritten), and the previous file goes
 * once the new one is in place.  The host reads avatars and leaves them.
 */
#define G_LOG_DOMAIN "passerelle-telegram"

#include <glib/gstdio.h>

#include "tg-chats-private.h"
#include "tg-files.h"

typedef struct
{
  PaLogin *login;
  char *owner;
  char *path;
} TgPhotoAsk;

static void
photo_ask_free (TgPhotoAsk *a)
{
  g_free (a->owner);
  g_free (a->path);
  g_free (a);
}

void
tg_chats_photos_init (TgChats *c, TgChatsOwnerFunc photo_arrived)
{
  c->photo_arrived = photo_arrived;
  c->avatars = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  c->downloading = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
}

void
tg_chats_photos_free (TgChats *c)
{
  g_hash_table_unref (c->avatars);
  g_hash_table_unref (c->downloading);
}

/* Only [A-Za-z0-9_-] of a unique id go into a file name. */
static char *
safe_name (const char *s)
{
  GString *o = g_string_new (NULL);
  for (const char *p = s; *p != '\0' && o->len < 64; p++)
    g_string_append_c (o, g_ascii_isalnum (*p) || *p == '-' || *p == '_' ? *p : '_');
  return g_string_free (o, FALSE);
}

/* `path` is now the owner's avatar: the previous file goes. */
static const char *
set_avatar (PaLogin *login, const char *owner, const char *path)
{
  const char *old = g_hash_table_lookup (login->chats->avatars, owner);
  if (old != NULL && strcmp (old, path) != 0)
    g_unlink (old);
  g_hash_table_replace (login->chats->avatars, g_strdup (owner), g_strdup (path));
  return g_hash_table_lookup (login->chats->avatars, owner);
}

static void
on_photo (json_t *reply, void *user_data)
{
  TgPhotoAsk *a = user_data;
  PaLogin *login = a->login;
  if (!login->closing)
    {
      g_hash_table_remove (login->chats->downloading, a->owner);
      g_autoptr (GError) err = NULL;
      if (tg_td_is_error (reply, NULL, NULL))
        tg_log (login, PA_LOG_DEBUG, "photo of %s not downloaded: %s", a->owner,
                tg_jstr (reply, "message"));
      else if (!tg_files_take (login, reply, a->path, &err))
        tg_log (login, PA_LOG_WARNING, "photo of %s not kept: %s", a->owner, err->message);
      else
        {
          set_avatar (login, a->owner, a->path);
          login->chats->photo_arrived (login, a->owner);
        }
    }
  photo_ask_free (a);
}

const char *
tg_chats_photo_path (PaLogin *login, const char *owner, json_t *file)
{
  TgChats *c = login->chats;
  const char *uid = tg_jstr (json_object_get (file, "remote"), "unique_id");
  if (uid == NULL || *uid == '\0')
    return NULL;
  g_autofree char *safe = safe_name (uid);
  g_autofree char *base = g_strdup_printf ("%s-%s.jpg", owner, safe);
  g_autofree char *path = g_build_filename (login->data_dir, "avatars", base, NULL);
  const char *cached = g_hash_table_lookup (c->avatars, owner);
  if (cached != NULL && strcmp (cached, path) == 0)
    return cached;
  if (g_file_test (path, G_FILE_TEST_IS_REGULAR))
    return set_avatar (login, owner, path);
  json_t *local = json_object_get (file, "local");
  if (json_is_true (json_object_get (local, "is_downloading_completed"))
      && tg_files_take (login, file, path, NULL))
    return set_avatar (login, owner, path);
  if (g_hash_table_contains (c->downloading, owner))
    return cached;
  gint64 size = MAX (tg_jint (file, "size"), tg_jint (file, "expected_size"));
  gint64 budget = login->api->budget_left (login->host);
  if (budget >= 0 && size > budget)
    return cached;
  g_hash_table_add (c->downloading, g_strdup (owner));
  TgPhotoAsk *a = g_new0 (TgPhotoAsk, 1);
  a->login = login;
  a->owner = g_strdup (owner);
  a->path = g_steal_pointer (&path);
  json_t *req = json_pack ("{s:s, s:I, s:i, s:i, s:i, s:b}", "@type", "downloadFile", "file_id",
                           (json_int_t) tg_jint (file, "id"), "priority", 1, "offset", 0, "limit",
                           0, "synchronous", 1);
  tg_td_send (login->td, req, on_photo, a);
  return cached;
}
