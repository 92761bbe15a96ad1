/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * lb-import.c — network->import_file for loopback exports:
 * {"chats":[{"id","name","kind","messages":[{"id","from","from_name","ts",
 * "text","reply_to"}]}]} → per chat a CHAT_INFO, then its messages by ts.
 * It may block (an import worker has nothing else to do), so it reads the
 * file synchronously, capped at 64 MiB.
 */
#define G_LOG_DOMAIN "passerelle-loopback"

#include "lb-import.h"

#include <string.h>

#include <glib/gstdio.h>

#include "lb-emit.h"
#include "lb-plugin.h"
#include "lb-util.h"

static gint
lb_cmp_ts (gconstpointer a, gconstpointer b)
{
  gint64 ta = lb_ji (*(json_t *const *) a, "ts", 0);
  gint64 tb = lb_ji (*(json_t *const *) b, "ts", 0);
  return (ta > tb) - (ta < tb);
}

/* {"chats":[{"id","name","kind","messages":[{"id","from","from_name","ts","text",
 * "reply_to"}]}]}: a CHAT_INFO per chat, then its messages in ts order. */
bool
lb_import_file (PaHost *host, const char *path, const PaImportOptions *options, char **error)
{
  const PaHostApi *api = lb_plugin.api;
  if (api == NULL)
    {
      *error = lb_c_strdup ("the loopback plugin was not initialised");
      return false;
    }
  guint64 cap = LB_MAX_IMPORT_FILE;
  if (PA_HAS_MEMBER (options, PaImportOptions, max_total_bytes) && options->max_total_bytes > 0)
    cap = MIN (cap, options->max_total_bytes);
  const char *only = PA_HAS_MEMBER (options, PaImportOptions, chat) ? options->chat : NULL;
  GStatBuf st;
  if (path == NULL || g_stat (path, &st) != 0)
    {
      *error = lb_c_strdup ("cannot open the export file");
      return false;
    }
  if ((guint64) st.st_size > cap)
    {
      *error = lb_c_strdup ("the export file is larger than allowed");
      return false;
    }
  json_error_t jerr;
  g_autoptr (json_t) root = json_load_file (path, JSON_REJECT_DUPLICATES, &jerr);
  json_t *chats = json_object_get (root, "chats");
  if (!json_is_array (chats))
    {
      g_autofree char *msg
          = g_strdup_printf ("not a loopback export: %s (line %d)",
                             root == NULL ? jerr.text : "no \"chats\" array", jerr.line);
      *error = lb_c_strdup (msg);
      return false;
    }
  gsize skipped = 0, found = 0;
  for (gsize i = 0; i < json_array_size (chats); i++)
    {
      json_t *chat = json_array_get (chats, i);
      const char *chat_id = lb_js (chat, "id");
      if (chat_id == NULL)
        {
          skipped++;
          continue;
        }
      if (only != NULL && strcmp (only, chat_id) != 0
          && g_strcmp0 (only, lb_js (chat, "name")) != 0)
        continue;
      found++;
      json_t *msgs = json_object_get (chat, "messages");
      gsize n = json_is_array (msgs) ? json_array_size (msgs) : 0;
      g_autoptr (GPtrArray) sorted = g_ptr_array_new ();
      g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
      g_autoptr (GArray) members = g_array_new (FALSE, TRUE, sizeof (PaMember));
      for (gsize j = 0; j < n; j++)
        {
          json_t *m = json_array_get (msgs, j);
          const char *from = lb_js (m, "from");
          if (lb_js (m, "id") == NULL || from == NULL
              || !json_is_integer (json_object_get (m, "ts")) || lb_js (m, "text") == NULL)
            {
              skipped++;
              continue;
            }
          g_ptr_array_add (sorted, m);
          if (g_hash_table_add (seen, (gpointer) from) && members->len < LB_MAX_LIST)
            {
              PaMember mem = { sizeof (PaMember), from, lb_js (m, "from_name"), NULL, NULL, 0 };
              g_array_append_val (members, mem);
            }
        }
      const char *kind = lb_js (chat, "kind");
      if (kind == NULL)
        kind = lb_js (chat, "name") != NULL ? "group" : "dm";
      PaChatInfo info = {
        .struct_size = sizeof (PaChatInfo),
        .id = chat_id,
        .kind = lb_chat_kind (kind),
        .name = lb_js (chat, "name"),
        .members = (const PaMember *) members->data,
        .n_members = members->len,
        .features = lb_chat_kind (kind) == PA_CHAT_DM ? &lb_dm_features : &lb_group_features,
      };
      PaEvent ev = {
        .struct_size = sizeof (PaEvent),
        .type = PA_EV_CHAT_INFO,
        .chat_id = chat_id,
        .timestamp_ms = sorted->len > 0 ? lb_ji (sorted->pdata[0], "ts", 0) : lb_now_ms (),
        .chat = &info,
      };
      api->emit (host, &ev);
      g_ptr_array_sort (sorted, lb_cmp_ts); /* stable: equal ts keep file order */
      for (guint j = 0; j < sorted->len; j++)
        {
          guint64 seq = 0;
          g_autofree char *why = NULL;
          if (lb_emit_message (host, api, NULL, NULL, sorted->pdata[j], chat_id, 0, &seq, &why)
              != LB_EMIT_OK)
            skipped++;
        }
    }
  if (only != NULL && found == 0)
    {
      g_autofree char *msg = g_strdup_printf ("the export has no chat \"%s\"", only);
      *error = lb_c_strdup (msg);
      return false;
    }
  if (skipped > 0)
    {
      g_autofree char *msg
          = g_strdup_printf ("The import skipped %" G_GSIZE_FORMAT " unreadable entries.", skipped);
      api->notice (host, msg);
    }
  return true;
}
