/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* History import from the management room: an agent uploads an export
 * (a WhatsApp or Telegram archive); it is downloaded (decrypted in an
 * encrypted room), kept under the data dir by its digest, matched to the
 * plugin whose importer takes it, and queued as an import job that
 * pa-import.c runs like one made by `passerelle import`. */
#define G_LOG_DOMAIN "passerelle-import"

#include "pa-import-upload.h"

#include "pa-import.h"
#include "pa-media.h"
#include "pa-policy.h"
#include "pa-queue.h"

static const char *
str (json_t *o, const char *key)
{
  return json_string_value (json_object_get (o, key));
}

/* ------------------------------------------------ uploads (Tchap side) */

typedef struct
{
  PaBridge *b;
  char *owner;
  char *room_id;
  char *name;
} UploadCtx;

static void
upload_downloaded (PaBridge *b, GBytes *data, const char *failure, gpointer user_data)
{
  UploadCtx *u = user_data;
  g_autoptr (GError) error = NULL;
  if (data == NULL)
    {
      g_autofree char *msg = g_strdup_printf ("⚠ I could not get that file: %s.", failure);
      pa_queue_notice (b, u->room_id, msg);
      goto out;
    }
  {
    gsize len = 0;
    const char *bytes = g_bytes_get_data (data, &len);
    g_autofree char *digest = g_compute_checksum_for_data (
        G_CHECKSUM_SHA256, (const guchar *)(bytes ? bytes : ""), len);
    /* The importer reads the chat's name from the file's name ("WhatsApp
     * Chat with X.zip"): keep it, in a directory of its own. */
    g_autofree char *sub = g_strdup_printf ("%.16s", digest);
    g_autofree char *dir = g_build_filename (b->config->data_dir, "uploads", sub, NULL);
    g_autofree char *safe = g_strdup (u->name);
    for (char *p = safe; *p; p++)
      if ((guchar)*p < 0x20 || *p == '/' || *p == '\\')
        *p = '_';
    if (safe[0] == '.' || safe[0] == '\0')
      {
        g_free (safe);
        safe = g_strdup ("export");
      }
    g_autofree char *path = g_build_filename (dir, safe, NULL);
    if (g_mkdir_with_parents (dir, 0700) != 0
        || !g_file_set_contents_full (path, bytes ? bytes : "", (gssize)len,
                                      G_FILE_SET_CONTENTS_CONSISTENT, 0600, &error))
      {
        pa_queue_notice (b, u->room_id, "⚠ I could not store that file.");
        goto out;
      }
    /* Which importer: by content where it is obvious, else by name. */
    const char *plugin = "whatsapp";
    g_autofree char *lower = g_ascii_strdown (u->name, -1);
    if (g_str_has_suffix (lower, ".json") || strstr (lower, "telegram") != NULL
        || strstr (lower, "result") != NULL)
      plugin = "telegram";
    g_autofree char *why = NULL;
    if (!pa_policy_plugin_allowed (b, u->owner, plugin, &why))
      {
        g_autofree char *msg = g_strdup_printf ("⚠ Cannot import: %s.", why);
        pa_queue_notice (b, u->room_id, msg);
        goto out;
      }
    g_autofree char *id_src = g_strjoin ("\x1f", u->owner, plugin, digest, "", "", NULL);
    g_autofree char *id_full = g_compute_checksum_for_string (G_CHECKSUM_SHA256, id_src, -1);
    g_autofree char *id = g_strndup (id_full, 16);
    g_autoptr (json_t) existing = pa_store_job_get (b->store, id);
    if (existing && g_strcmp0 (str (existing, "state"), "done") == 0)
      {
        g_autofree char *msg
            = g_strdup_printf ("This export was already imported (into %s).",
                               str (existing, "room_id") ? str (existing, "room_id") : "a room");
        pa_queue_notice (b, u->room_id, msg);
        goto out;
      }
    g_autoptr (json_t) job
        = json_pack ("{s:s, s:s, s:s, s:s, s:{s:b}, s:s}", "id", id, "owner", u->owner, "plugin",
                     plugin, "path", path, "options", "ask_me", 1, "state", "queued");
    if (!pa_store_job_put (b->store, job, &error))
      {
        pa_queue_notice (b, u->room_id, error->message);
        goto out;
      }
    pa_queue_notice (b, u->room_id, "Reading the export…");
    pa_import_poll (b);
  }
out:
  g_free (u->owner);
  g_free (u->room_id);
  g_free (u->name);
  g_free (u);
}
void
pa_import_from_upload (PaBridge *b, const char *owner, const char *room_id, json_t *content)
{
  const char *name = str (content, "filename") ? str (content, "filename") : str (content, "body");
  UploadCtx *u = g_new0 (UploadCtx, 1);
  u->b = b;
  u->owner = g_strdup (owner);
  u->room_id = g_strdup (room_id);
  u->name = name ? g_path_get_basename (name) : NULL;
  /* `url`, or the `file` of an encrypted management room (decrypted). */
  if (name == NULL
      || !pa_media_download (b, content, b->config->max_import_bytes, 600, upload_downloaded, u))
    {
      pa_queue_notice (b, room_id, "⚠ That file has no usable URL.");
      g_free (u->owner);
      g_free (u->room_id);
      g_free (u->name);
      g_free (u);
    }
}
