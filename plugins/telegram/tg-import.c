/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * tg-import.c — the Telegram plugin's importer of Telegram Desktop exports:
 * result.json on disk (media beside it), a folder holding result.json, or a
 * .zip of the export folder.  network->import_file (tg-network.c) is
 * tg_import_file.
 *
 * Each chat's CHAT_INFO carries its member list and must come before the
 * chat's first message, so the JSON is parsed twice: pass 1 collects the
 * senders of each chat, pass 2 emits.  The parser keeps the document in
 * memory anyway, so a second parse costs time, not memory.
 */
#define G_LOG_DOMAIN "passerelle-telegram"

#include <errno.h>
#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "imp-archive.h"
#include "imp-media.h"
#include "imp-plugin.h"
#include "passerelle/plugin.h"
#include "tg-import.h"
#include "tg-parser.h"

#define TG_CHUNK 65536
#define TG_SNIFF_BYTES 4096
#define TG_MAX_MEMBERS 10000 /* listed per chat; beyond, members_complete is false */
#define TG_MAX_WARNING_NOTICES 5

typedef struct {
  char *id;
  char *name;
} TgPerson;

/* What pass 1 learnt about one chat of the export. */
typedef struct {
  char *chat_id;
  char *name;
  char *type;
  GPtrArray *members; /* of TgPerson */
  GHashTable *seen;   /* member id → member (borrowed) */
  GHashTable *name_ids; /* display name → from_id (borrowed from members) */
  GPtrArray *anon;    /* names seen without a from_id, in order */
  GHashTable *anon_set; /* the same names (borrowed) */
  gboolean anon_done; /* anon merged into members */
  gboolean members_truncated;
  gboolean selected;
  gboolean announced; /* CHAT_INFO emitted (pass 2) */
  guint64 n_messages;
} TgChatAcc;

typedef struct {
  PaHost *host;
  const PaHostApi *api;
  const char *tz;
  const char *only_chat;
  const char *work_dir;
  ImpBudget budget;
  guint64 max_entries;

  ImpArchive *ar;
  const ImpEntry *json_entry;
  char *base_prefix; /* archive folder of result.json: "" or "dir/" */
  char *disk_path;
  char *disk_dir;

  GHashTable *chats; /* chat index → TgChatAcc */
  guint64 accepted_bytes;
  ImpMediaStore *media;
  guint64 order;
  guint64 n_emitted, n_refused_events, n_not_included;
} TgImport;

static void
tg_person_free (gpointer p)
{
  TgPerson *m = p;
  g_free (m->id);
  g_free (m->name);
  g_free (m);
}

static void
tg_chat_acc_free (gpointer p)
{
  TgChatAcc *c = p;
  g_free (c->chat_id);
  g_free (c->name);
  g_free (c->type);
  g_ptr_array_unref (c->members);
  g_hash_table_destroy (c->seen);
  g_hash_table_destroy (c->name_ids);
  g_hash_table_destroy (c->anon_set);
  g_ptr_array_unref (c->anon);
  g_free (c);
}

static void
tg_import_clear (TgImport *imp)
{
  imp_media_store_free (imp->media);
  imp_archive_free (imp->ar);
  g_free (imp->base_prefix);
  g_free (imp->disk_path);
  g_free (imp->disk_dir);
  if (imp->chats != NULL)
    g_hash_table_destroy (imp->chats);
}

/* ------------------------------------------------------------ ids */

static char *
tg_chat_id (const TgChat *chat)
{
  if (chat->id != 0)
    return g_strdup_printf ("%" G_GINT64_FORMAT, chat->id);
  /* No id in the export: the name is the only stable thing left. */
  g_autofree char *idx = g_strdup_printf ("%u", chat->index);
  return imp_hashed_id ("chat-", "telegram", chat->name != NULL ? chat->name : idx);
}

static char *
tg_name_id (const char *chat_id, const char *name)
{
  return imp_hashed_id ("name-", chat_id, name != NULL ? name : "");
}

static PaChatKind
tg_chat_kind (const TgChatAcc *acc)
{
  if (acc->type != NULL)
    {
      if (strcmp (acc->type, "personal_chat") == 0 || strcmp (acc->type, "bot_chat") == 0
          || strcmp (acc->type, "saved_messages") == 0)
        return PA_CHAT_DM;
      return PA_CHAT_GROUP;
    }
  return acc->members->len == 2 ? PA_CHAT_DM : PA_CHAT_GROUP;
}

/* ------------------------------------------------------------ pass 1 */

static TgChatAcc *
tg_chat_acc (TgImport *imp, const TgChat *chat)
{
  TgChatAcc *acc = g_hash_table_lookup (imp->chats, GUINT_TO_POINTER (chat->index + 1));
  if (acc != NULL)
    return acc;
  acc = g_new0 (TgChatAcc, 1);
  acc->chat_id = tg_chat_id (chat);
  acc->name = g_strdup (chat->name);
  acc->type = g_strdup (chat->type);
  acc->members = g_ptr_array_new_with_free_func (tg_person_free);
  acc->seen = g_hash_table_new (g_str_hash, g_str_equal);
  acc->name_ids = g_hash_table_new (g_str_hash, g_str_equal);
  acc->anon = g_ptr_array_new_with_free_func (g_free);
  acc->anon_set = g_hash_table_new (g_str_hash, g_str_equal);
  acc->selected = imp->only_chat == NULL || strcmp (imp->only_chat, acc->chat_id) == 0
                  || g_strcmp0 (imp->only_chat, chat->name) == 0;
  g_hash_table_insert (imp->chats, GUINT_TO_POINTER (chat->index + 1), acc);
  return acc;
}

static TgPerson *
tg_add_member (TgChatAcc *acc, char *id, const char *name)
{
  if (acc->members->len >= TG_MAX_MEMBERS)
    {
      acc->members_truncated = TRUE;
      g_free (id);
      return NULL;
    }
  TgPerson *p = g_new0 (TgPerson, 1);
  p->id = id;
  p->name = g_strdup (name);
  g_ptr_array_add (acc->members, p);
  g_hash_table_insert (acc->seen, p->id, p);
  return p;
}

static gboolean
tg_collect (const TgMessage *msg, gpointer user_data, GError **error)
{
  TgImport *imp = user_data;
  TgChatAcc *acc = tg_chat_acc (imp, msg->chat);
  acc->n_messages++;
  if (msg->type == TG_MESSAGE_SERVICE || !acc->selected)
    return TRUE;
  if (msg->from_id == NULL || msg->from_id[0] == '\0')
    {
      /* Resolved once every from_id of the chat is known (tg_sender_id). */
      const char *name = msg->from != NULL ? msg->from : "";
      if (!g_hash_table_contains (acc->anon_set, name) && acc->anon->len < TG_MAX_MEMBERS)
        {
          char *copy = g_strdup (name);
          g_ptr_array_add (acc->anon, copy);
          g_hash_table_add (acc->anon_set, copy);
        }
      return TRUE;
    }
  TgPerson *p = g_hash_table_lookup (acc->seen, msg->from_id);
  if (p == NULL)
    p = tg_add_member (acc, g_strdup (msg->from_id), msg->from);
  else if (p->name == NULL && msg->from != NULL)
    p->name = g_strdup (msg->from); /* deleted accounts' early messages have no name */
  if (p != NULL && p->name != NULL && !g_hash_table_contains (acc->name_ids, p->name))
    g_hash_table_insert (acc->name_ids, p->name, p->id);
  return TRUE;
}

/* After pass 1: a sender without from_id is the member with that display
 * name when there is one, else a member of its own with a hashed id. */
static void
tg_merge_anon (TgChatAcc *acc)
{
  if (acc->anon_done)
    return;
  acc->anon_done = TRUE;
  for (guint i = 0; i < acc->anon->len; i++)
    {
      const char *name = g_ptr_array_index (acc->anon, i);
      if (g_hash_table_contains (acc->name_ids, name))
        continue;
      char *id = tg_name_id (acc->chat_id, name);
      if (!g_hash_table_contains (acc->seen, id))
        tg_add_member (acc, id, name[0] != '\0' ? name : NULL);
      else
        g_free (id);
    }
}

static char *
tg_sender_id (TgChatAcc *acc, const TgMessage *msg)
{
  if (msg->from_id != NULL && msg->from_id[0] != '\0')
    return g_strdup (msg->from_id);
  const char *known = msg->from != NULL ? g_hash_table_lookup (acc->name_ids, msg->from) : NULL;
  if (known != NULL)
    return g_strdup (known);
  return tg_name_id (acc->chat_id, msg->from);
}

/* ------------------------------------------------------------ pass 2 */

static void
tg_import_emit (TgImport *imp, const PaEvent *ev)
{
  if (imp_emit (imp->host, imp->api, ev) == 0)
    imp->n_refused_events++;
  else
    imp->n_emitted++;
}

static void
tg_announce (TgImport *imp, TgChatAcc *acc, gint64 ts_ms)
{
  tg_merge_anon (acc);
  guint n = acc->members->len;
  g_autofree PaMember *members = g_new0 (PaMember, MAX (n, 1u));
  for (guint i = 0; i < n; i++)
    {
      const TgPerson *p = g_ptr_array_index (acc->members, i);
      members[i] = (PaMember) { .struct_size = sizeof (PaMember), .id = p->id, .name = p->name };
    }
  PaChatInfo chat = {
    .struct_size = sizeof (PaChatInfo),
    .id = acc->chat_id,
    .kind = tg_chat_kind (acc),
    .name = acc->name,
    .members = members,
    .n_members = n,
    .members_complete = !acc->members_truncated,
  };
  PaEvent ev = {
    .struct_size = sizeof (PaEvent),
    .type = PA_EV_CHAT_INFO,
    .chat_id = acc->chat_id,
    .timestamp_ms = ts_ms,
    .chat = &chat,
  };
  tg_import_emit (imp, &ev);
  acc->announced = TRUE;
}

static PaMsgKind
tg_pa_kind (TgMediaKind kind)
{
  switch (kind)
    {
    case TG_MEDIA_PHOTO:
      return PA_MSG_IMAGE;
    case TG_MEDIA_STICKER:
      return PA_MSG_STICKER;
    case TG_MEDIA_VOICE_MESSAGE:
      return PA_MSG_VOICE;
    case TG_MEDIA_VIDEO_MESSAGE:
    case TG_MEDIA_ANIMATION:
    case TG_MEDIA_VIDEO_FILE:
      return PA_MSG_VIDEO;
    case TG_MEDIA_AUDIO_FILE:
      return PA_MSG_AUDIO;
    case TG_MEDIA_FILE:
    case TG_MEDIA_NONE:
    default:
      return PA_MSG_FILE;
    }
}

static const char *
tg_media_label (TgMediaKind kind)
{
  switch (kind)
    {
    case TG_MEDIA_PHOTO:
      return "photo";
    case TG_MEDIA_STICKER:
      return "sticker";
    case TG_MEDIA_VOICE_MESSAGE:
      return "voice message";
    case TG_MEDIA_VIDEO_MESSAGE:
      return "video message";
    case TG_MEDIA_ANIMATION:
      return "animation";
    case TG_MEDIA_VIDEO_FILE:
      return "video";
    case TG_MEDIA_AUDIO_FILE:
      return "audio file";
    case TG_MEDIA_FILE:
    case TG_MEDIA_NONE:
    default:
      return "file";
    }
}

/* Text for what Matrix has no message type for: polls and shared contacts. */
static char *
tg_render_extra (const TgMessage *msg)
{
  GString *t = g_string_new (msg->text);
  if (msg->poll_question != NULL || msg->poll_answers != NULL)
    {
      if (t->len > 0)
        g_string_append_c (t, '\n');
      g_string_append_printf (t, "Poll: %s", msg->poll_question != NULL ? msg->poll_question : "");
      for (guint i = 0; msg->poll_answers != NULL && msg->poll_answers[i] != NULL; i++)
        g_string_append_printf (t, "\n- %s", msg->poll_answers[i]);
    }
  if (msg->contact_name != NULL || msg->contact_phone != NULL)
    {
      if (t->len > 0)
        g_string_append_c (t, '\n');
      g_string_append (t, "Contact: ");
      if (msg->contact_name != NULL)
        g_string_append (t, msg->contact_name);
      if (msg->contact_phone != NULL)
        g_string_append_printf (t, msg->contact_name != NULL ? " (%s)" : "%s", msg->contact_phone);
    }
  return g_string_free (t, FALSE);
}

static gboolean
tg_on_message (const TgMessage *msg, gpointer user_data, GError **error)
{
  TgImport *imp = user_data;
  TgChatAcc *acc = tg_chat_acc (imp, msg->chat);
  if (!acc->selected)
    return TRUE;
  if (!acc->announced)
    tg_announce (imp, acc, msg->ts_ms);

  imp->order++;
  g_autofree char *message_id = msg->id != 0 ? g_strdup_printf ("%" G_GINT64_FORMAT, msg->id)
                                             : g_strdup_printf ("idx-%" G_GUINT64_FORMAT,
                                                                imp->order);
  g_autofree char *sender_id = NULL;
  g_autofree char *reply_to = NULL;
  g_autofree char *text = NULL;
  g_autofree char *handed = NULL; /* passes to the host on emit */
  const char *caption = msg->text[0] != '\0' ? msg->text : NULL;
  PaContent c = {
    .struct_size = sizeof (PaContent),
    .kind = PA_MSG_TEXT,
    .text = msg->text,
    .html = msg->has_formatting ? msg->html : NULL,
    .forwarded_from = msg->forwarded_from,
  };
  PaMember contact = { .struct_size = sizeof (PaMember) };

  if (msg->type == TG_MESSAGE_SERVICE)
    {
      c.kind = PA_MSG_NOTICE;
      c.flags |= PA_CONTENT_SYSTEM;
      c.html = NULL;
    }
  else
    {
      sender_id = tg_sender_id (acc, msg);
      contact.id = sender_id;
      contact.name = msg->from;
      if (msg->reply_to_id != 0)
        reply_to = g_strdup_printf ("%" G_GINT64_FORMAT, msg->reply_to_id);
      c.reply_to = reply_to;

      if (msg->has_location)
        {
          c.kind = PA_MSG_LOCATION;
          c.latitude = msg->latitude;
          c.longitude = msg->longitude;
          if (caption == NULL)
            c.text = text = g_strdup_printf ("Location: %.6f, %.6f", msg->latitude,
                                             msg->longitude);
        }
      else if (msg->poll_question != NULL || msg->poll_answers != NULL
               || msg->contact_name != NULL || msg->contact_phone != NULL)
        {
          c.text = text = tg_render_extra (msg);
          c.html = NULL;
        }
      else if (msg->media != TG_MEDIA_NONE && (msg->media_not_included || msg->media_path == NULL))
        {
          imp->n_not_included++;
          c.kind = PA_MSG_NOTICE;
          c.flags |= PA_CONTENT_NOT_INCLUDED;
          c.html = NULL;
          c.text = text = g_strdup_printf ("file not included: %s%s%s", tg_media_label (msg->media),
                                           caption != NULL ? "\n" : "",
                                           caption != NULL ? caption : "");
        }
      else if (msg->media != TG_MEDIA_NONE)
        {
          const ImpMedia *m = imp_media_store_fetch (imp->media, msg->media_path);
          if (!imp_media_store_check (imp->media, error))
            return FALSE;
          const char *base = strrchr (msg->media_path, '/');
          base = base != NULL ? base + 1 : msg->media_path;
          g_autoptr (GError) hand_error = NULL;
          if (m->path != NULL)
            handed = imp_media_store_hand_out (imp->media, m, &hand_error);
          if (handed != NULL)
            {
              c.kind = tg_pa_kind (msg->media);
              c.text = caption;
              c.html = caption != NULL && msg->has_formatting ? msg->html : NULL;
              c.media_path = handed;
              c.media_name = base;
              c.mimetype = msg->mime_type != NULL ? msg->mime_type
                                                  : imp_mimetype_for_name (msg->media_path);
              c.media_size = m->size;
              c.width = msg->width > 0 ? (guint32) msg->width : m->width;
              c.height = msg->height > 0 ? (guint32) msg->height : m->height;
              if (msg->duration_s > 0)
                c.duration_ms = (guint32) MIN ((guint64) msg->duration_s * 1000,
                                               (guint64) G_MAXUINT32);
            }
          else
            {
              c.kind = PA_MSG_NOTICE;
              c.flags |= PA_CONTENT_NOT_INCLUDED;
              c.html = NULL;
              GString *t = g_string_new ("file not included: ");
              g_string_append (t, msg->media_path);
              if (m->problem != NULL || hand_error != NULL)
                g_string_append_printf (t, " (%s)",
                                        hand_error != NULL ? hand_error->message : m->problem);
              if (caption != NULL)
                g_string_append_printf (t, "\n%s", caption);
              c.text = text = g_string_free (t, FALSE);
            }
        }
    }
  if (msg->edited)
    c.flags |= PA_CONTENT_EDITED;

  PaEvent ev = {
    .struct_size = sizeof (PaEvent),
    .type = PA_EV_MESSAGE,
    .chat_id = acc->chat_id,
    .sender_id = sender_id,
    .timestamp_ms = msg->ts_ms,
    .stream_order = imp->order,
    .message_id = message_id,
    .content = &c,
    .contact = sender_id != NULL ? &contact : NULL,
  };
  tg_import_emit (imp, &ev);
  return TRUE;
}

/* ------------------------------------------------------------ passes */

static ImpStream *
tg_open_json (TgImport *imp, ImpBudget *budget, GError **error)
{
  if (imp->ar != NULL)
    return imp_stream_open_entry (imp->ar, imp->json_entry, budget, error);
  return imp_stream_open_file (imp->disk_path, NULL, error);
}

static gboolean
tg_run_pass (TgImport *imp, gboolean emit, TgSummary *sum, GError **error)
{
  g_autoptr (TgParser) parser = tg_parser_new (imp->tz, emit ? tg_on_message : tg_collect, imp,
                                               error);
  if (parser == NULL)
    return FALSE;
  tg_parser_set_max_bytes (parser, MIN (imp->budget.max_bytes, TG_PARSER_DEFAULT_MAX_BYTES));
  g_autoptr (ImpStream) s = tg_open_json (imp, emit ? NULL : &imp->budget, error);
  if (s == NULL)
    return FALSE;
  if (emit)
    imp_stream_set_limit (s, imp->accepted_bytes);
  g_autofree char *buf = g_malloc (TG_CHUNK);
  for (;;)
    {
      g_autoptr (GError) read_error = NULL;
      gssize n = imp_stream_read (s, buf, TG_CHUNK, &read_error);
      if (n < 0)
        {
          /* JSON is all or nothing: a cut document cannot be parsed. */
          g_propagate_prefixed_error (error, g_steal_pointer (&read_error),
                                      "the export could not be read completely: ");
          return FALSE;
        }
      if (n == 0)
        break;
      if (!tg_parser_feed (parser, buf, (gsize) n, error))
        return FALSE;
    }
  if (!emit)
    imp->accepted_bytes = imp_stream_offset (s);
  g_autoptr (GError) parse_error = NULL;
  if (!tg_parser_finish (parser, sum, &parse_error))
    {
      if (g_error_matches (parse_error, TG_PARSER_ERROR, TG_PARSER_ERROR_TIMEZONE)
          || g_error_matches (parse_error, TG_PARSER_ERROR, TG_PARSER_ERROR_TOO_LARGE))
        g_propagate_error (error, g_steal_pointer (&parse_error));
      else
        g_propagate_prefixed_error (error, g_steal_pointer (&parse_error),
                                    "this is not a Telegram export: ");
      return FALSE;
    }
  return TRUE;
}

/* ------------------------------------------------------------ locating result.json */

static gboolean
tg_find_json (TgImport *imp, GError **error)
{
  imp->json_entry = imp_archive_lookup (imp->ar, "result.json");
  if (imp->json_entry != NULL)
    {
      imp->base_prefix = g_strdup ("");
      return TRUE;
    }
  guint n = 0;
  const ImpEntry *entries = imp_archive_entries (imp->ar, &n);
  guint found = 0;
  for (guint i = 0; i < n; i++)
    {
      const char *slash = strchr (entries[i].name, '/');
      if (slash == NULL || strcmp (slash + 1, "result.json") != 0)
        continue;
      if (found++ == 0)
        {
          imp->json_entry = &entries[i];
          imp->base_prefix = g_strndup (entries[i].name, (gsize) (slash - entries[i].name) + 1);
        }
    }
  if (found == 1)
    return TRUE;
  if (found == 0)
    g_set_error_literal (error, IMP_ERROR, IMP_ERROR_NOT_FOUND,
                         "this is not a Telegram export: the archive has no result.json");
  else
    g_set_error (error, IMP_ERROR, IMP_ERROR_NOT_FOUND,
                 "the archive holds %u result.json files: import them one by one", found);
  return FALSE;
}

/* ------------------------------------------------------------ summary */

static void
tg_summary_notices (TgImport *imp, const TgSummary *sum)
{
  PaHost *h = imp->host;
  const PaHostApi *api = imp->api;
  guint n_selected = 0;
  GHashTableIter it;
  gpointer value;
  g_hash_table_iter_init (&it, imp->chats);
  while (g_hash_table_iter_next (&it, NULL, &value))
    n_selected += ((TgChatAcc *) value)->selected ? 1 : 0;
  imp_notice (h, api,
              "Telegram import: %u of %u chats, %" G_GUINT64_FORMAT " messages read (%"
              G_GUINT64_FORMAT " service, %" G_GUINT64_FORMAT " with media, %" G_GUINT64_FORMAT
              " media not included in the export), %" G_GUINT64_FORMAT " events sent.",
              n_selected, sum->n_chats, sum->n_messages, sum->n_service, sum->n_media,
              imp->n_not_included, imp->n_emitted);
  if (sum->n_skipped > 0)
    {
      g_autoptr (GString) why = g_string_new (NULL);
      for (guint i = 0; sum->warnings != NULL && i < sum->warnings->len
                        && i < TG_MAX_WARNING_NOTICES; i++)
        g_string_append_printf (why, "%s%s", i > 0 ? "; " : "",
                                (const char *) g_ptr_array_index (sum->warnings, i));
      imp_notice (h, api, "%" G_GUINT64_FORMAT " entries of the export were skipped (%s%s).",
                  sum->n_skipped, why->str, sum->n_skipped > TG_MAX_WARNING_NOTICES ? "; …" : "");
    }
  imp_media_store_notices (imp->media, h, api);
  if (imp->ar != NULL && imp_archive_n_refused (imp->ar) > 0)
    imp_notice (h, api,
                "%u archive entries were refused: unsafe names, links or duplicates (first: "
                "“%s”).", imp_archive_n_refused (imp->ar), imp_archive_first_refused (imp->ar));
  if (imp->n_refused_events > 0)
    imp_notice (h, api, "%" G_GUINT64_FORMAT " events were refused by the host.",
                imp->n_refused_events);
}

/* ------------------------------------------------------------ entry point */

static gboolean
tg_import (TgImport *imp, const char *path, GError **error)
{
  g_autofree char *json_path = NULL;
  if (g_file_test (path, G_FILE_TEST_IS_DIR))
    path = json_path = g_build_filename (path, "result.json", NULL);

  guint8 head[TG_SNIFF_BYTES];
  gssize n_head;
  {
    g_autoptr (ImpStream) s = imp_stream_open_file (path, NULL, error);
    if (s == NULL)
      return FALSE;
    n_head = imp_stream_read (s, head, sizeof head, error);
    if (n_head < 0)
      return FALSE;
  }
  if (imp_is_zip_magic (head, (gsize) n_head))
    {
      imp->ar = imp_archive_open (path, imp->max_entries, error);
      if (imp->ar == NULL || !tg_find_json (imp, error))
        return FALSE;
    }
  else
    {
      const char *binary = imp_sniff_binary (head, (gsize) n_head);
      gssize i = 0;
      /* JSON may start with a UTF-8 byte order mark. */
      if (n_head >= 3 && memcmp (head, "\xef\xbb\xbf", 3) == 0)
        i = 3;
      while (i < n_head && g_ascii_isspace (head[i]))
        i++;
      if (binary != NULL)
        {
          g_set_error (error, IMP_ERROR, IMP_ERROR_NOT_FOUND,
                       "this is not a Telegram export: the file is %s", binary);
          return FALSE;
        }
      if (i >= n_head || head[i] != '{')
        {
          g_set_error_literal (error, IMP_ERROR, IMP_ERROR_NOT_FOUND,
                               "this is not a Telegram export: the file is not a JSON object "
                               "(Telegram Desktop writes result.json)");
          return FALSE;
        }
      imp->disk_path = g_strdup (path);
      imp->disk_dir = g_path_get_dirname (path);
    }

  imp->chats = g_hash_table_new_full (NULL, NULL, NULL, tg_chat_acc_free);
  TgSummary sum1 = { 0 };
  if (!tg_run_pass (imp, FALSE, &sum1, error))
    return FALSE;
  tg_summary_clear (&sum1);

  if (imp->only_chat != NULL)
    {
      gboolean any = FALSE;
      GHashTableIter it;
      gpointer value;
      g_hash_table_iter_init (&it, imp->chats);
      while (g_hash_table_iter_next (&it, NULL, &value))
        any = any || ((TgChatAcc *) value)->selected;
      if (!any)
        {
          g_set_error (error, IMP_ERROR, IMP_ERROR_NOT_FOUND,
                       "the export has no chat named or numbered “%s” (with messages)",
                       imp->only_chat);
          return FALSE;
        }
    }

  imp->media = imp_media_store_new (imp->ar, imp->base_prefix, imp->disk_dir, imp->work_dir,
                                    &imp->budget);
  TgSummary sum2 = { 0 };
  if (!tg_run_pass (imp, TRUE, &sum2, error))
    return FALSE;
  tg_summary_notices (imp, &sum2);
  tg_summary_clear (&sum2);
  return TRUE;
}

static gboolean
tg_import_run (gpointer importer, const char *path, GError **error)
{
  return tg_import (importer, path, error);
}

bool
tg_import_file (PaHost *host, const char *path, const PaImportOptions *options, char **error)
{
  const PaHostApi *api = imp_plugin_api ();
  if (api == NULL)
    {
      *error = imp_c_strdup ("the Telegram importer was not initialised");
      return false;
    }
  ImpOptions o;
  imp_options_read (options, &o);
  TgImport imp = {
    .host = host,
    .api = api,
    .budget = { .max_bytes = o.max_total_bytes },
    .max_entries = o.max_entries,
    .tz = o.timezone,
    .only_chat = o.chat,
    .work_dir = o.work_dir,
  };
  bool ok = imp_run (path, imp.work_dir, tg_import_run, &imp, error);
  tg_import_clear (&imp);
  return ok;
}
