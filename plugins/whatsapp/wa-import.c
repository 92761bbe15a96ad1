/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * wa-import.c — the WhatsApp importer (wa-import.h): "Export chat" files, a
 * .txt or the .zip with the .txt and its media.  Linked into whatsapp.so,
 * whose network (written in Go, plugins/whatsapp/live) points its
 * import_file at wa_import_file.
 *
 * The member list of the chat must be in its CHAT_INFO, before the first
 * message, but it is only known once the whole text has been read.  The
 * parser streams, so the chat text is parsed twice (pass 1: summary; pass 2:
 * events) instead of buffering messages: memory stays bounded for a 100 MB
 * chat.  Media are extracted lazily, when a message references them.
 */
#define G_LOG_DOMAIN "passerelle-whatsapp"

#include <errno.h>
#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "imp-archive.h"
#include "imp-media.h"
#include "imp-plugin.h"
#include "passerelle/plugin.h"
#include "wa-import.h"
#include "wa-parser.h"

#define WA_CHUNK 65536
#define WA_SNIFF_BYTES 4096
#define WA_MAX_SENDER_CACHE 10000

typedef struct {
  PaHost *host;
  const PaHostApi *api;
  const char *tz;
  const char *work_dir;
  ImpBudget budget;
  guint64 max_entries;

  /* the chat text: an archive entry, or a file on disk */
  ImpArchive *ar;
  const ImpEntry *chat_entry;
  char *base_prefix; /* archive folder of the chat text ("" or "dir/") */
  char *disk_path;
  char *disk_dir;

  char *chat_name;
  char *chat_id;

  /* pass 1 */
  guint64 accepted_bytes; /* bytes of text pass 1 read; pass 2 replays them */
  char *stop_reason;      /* why reading the text stopped early, or NULL */

  /* pass 2 */
  GHashTable *sender_ids; /* display name → id */
  ImpMediaStore *media;
  guint64 order;
  guint64 n_emitted, n_refused_events;
} WaImport;

static void
wa_import_clear (WaImport *imp)
{
  imp_archive_free (imp->ar);
  g_free (imp->base_prefix);
  g_free (imp->disk_path);
  g_free (imp->disk_dir);
  g_free (imp->chat_name);
  g_free (imp->chat_id);
  g_free (imp->stop_reason);
  if (imp->sender_ids != NULL)
    g_hash_table_destroy (imp->sender_ids);
  imp_media_store_free (imp->media);
}

/* ------------------------------------------------------------ chat name */

/* The chat's name from an export file name: "WhatsApp Chat with X.txt",
 * "Discussion WhatsApp avec X.zip", iOS "WhatsApp Chat - X.zip"… → "X". */
static char *
wa_name_from_file (const char *file_name)
{
  static const char *const prefixes[] = {
    "WhatsApp Chat with ", "WhatsApp Chat - ", "Discussion WhatsApp avec ",
    "WhatsApp-Chat mit ", "Chat de WhatsApp con ", "Chat WhatsApp con ",
    "Conversa do WhatsApp com ", "WhatsApp-chat met ", "WhatsApp Chat mit ",
  };
  g_autofree char *base = g_path_get_basename (file_name);
  char *dot = strrchr (base, '.');
  if (dot != NULL && dot != base
      && (g_ascii_strcasecmp (dot, ".txt") == 0 || g_ascii_strcasecmp (dot, ".zip") == 0))
    *dot = '\0';
  const char *name = base;
  for (gsize i = 0; i < G_N_ELEMENTS (prefixes); i++)
    if (g_str_has_prefix (base, prefixes[i]) && base[strlen (prefixes[i])] != '\0')
      {
        name = base + strlen (prefixes[i]);
        break;
      }
  g_autofree char *valid = g_utf8_make_valid (name, -1);
  return g_strstrip (g_steal_pointer (&valid));
}

/* ------------------------------------------------------------ locating the text */

static gboolean
wa_is_txt (const char *name)
{
  return g_str_has_suffix (name, ".txt") || g_str_has_suffix (name, ".TXT");
}

/* The chat text of an archive in the folder `prefix` ("" = root): iOS
 * `_chat.txt`, else the single .txt there. */
static gboolean
wa_find_text_in (ImpArchive *ar, const char *prefix, const ImpEntry **found, GError **error)
{
  g_autofree char *ios = g_strconcat (prefix, "_chat.txt", NULL);
  *found = imp_archive_lookup (ar, ios);
  if (*found != NULL)
    return TRUE;
  guint n = 0, n_txt = 0;
  const ImpEntry *entries = imp_archive_entries (ar, &n);
  const ImpEntry *txt = NULL, *other = NULL;
  gsize plen = strlen (prefix);
  for (guint i = 0; i < n; i++)
    {
      const char *name = entries[i].name;
      if (strncmp (name, prefix, plen) != 0 || strchr (name + plen, '/') != NULL
          || !wa_is_txt (name))
        continue;
      n_txt++;
      if (txt == NULL)
        txt = &entries[i];
      else if (other == NULL)
        other = &entries[i];
    }
  if (n_txt > 1)
    {
      g_set_error (error, IMP_ERROR, IMP_ERROR_NOT_FOUND,
                   "this is not a WhatsApp export: the archive holds %u .txt files (“%s”, “%s”…) "
                   "and no _chat.txt, so the chat is unclear", n_txt, txt->name, other->name);
      return FALSE;
    }
  *found = txt;
  return TRUE;
}

static gboolean
wa_find_text (WaImport *imp, GError **error)
{
  const ImpEntry *found = NULL;
  if (!wa_find_text_in (imp->ar, "", &found, error))
    return FALSE;
  if (found != NULL)
    {
      imp->chat_entry = found;
      imp->base_prefix = g_strdup ("");
      return TRUE;
    }
  /* A re-zipped folder: every entry under one top folder. */
  guint n = 0;
  const ImpEntry *entries = imp_archive_entries (imp->ar, &n);
  const char *slash = n > 0 ? strchr (entries[0].name, '/') : NULL;
  if (slash != NULL)
    {
      g_autofree char *prefix = g_strndup (entries[0].name, (gsize) (slash - entries[0].name) + 1);
      gboolean one_folder = TRUE;
      for (guint i = 0; i < n && one_folder; i++)
        one_folder = g_str_has_prefix (entries[i].name, prefix);
      if (one_folder)
        {
          if (!wa_find_text_in (imp->ar, prefix, &found, error))
            return FALSE;
          if (found != NULL)
            {
              imp->chat_entry = found;
              imp->base_prefix = g_steal_pointer (&prefix);
              return TRUE;
            }
        }
    }
  g_set_error_literal (error, IMP_ERROR, IMP_ERROR_NOT_FOUND,
                       "this is not a WhatsApp export: the archive has no _chat.txt nor a .txt "
                       "file at its root");
  return FALSE;
}

static ImpStream *
wa_open_text (WaImport *imp, ImpBudget *budget, GError **error)
{
  if (imp->ar != NULL)
    return imp_stream_open_entry (imp->ar, imp->chat_entry, budget, error);
  return imp_stream_open_file (imp->disk_path, NULL, error);
}

/* ------------------------------------------------------------ events */

static const char *
wa_sender_id (WaImport *imp, const char *sender, char **scratch)
{
  const char *id = g_hash_table_lookup (imp->sender_ids, sender);
  if (id != NULL)
    return id;
  char *phone = wa_normalize_phone (sender);
  char *made = phone != NULL ? phone : imp_hashed_id ("name-", imp->chat_id, sender);
  if (g_hash_table_size (imp->sender_ids) < WA_MAX_SENDER_CACHE)
    {
      g_hash_table_insert (imp->sender_ids, g_strdup (sender), made);
      return made;
    }
  *scratch = made;
  return made;
}

static void
wa_emit (WaImport *imp, const PaEvent *ev)
{
  if (imp_emit (imp->host, imp->api, ev) == 0)
    imp->n_refused_events++;
  else
    imp->n_emitted++;
}

static void
wa_emit_chat_info (WaImport *imp, const WaSummary *sum)
{
  guint n = sum->senders != NULL ? sum->senders->len : 0;
  g_autofree PaMember *members = g_new0 (PaMember, MAX (n, 1u));
  g_autoptr (GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) idents = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < n; i++)
    {
      const WaSenderCount *sc = g_ptr_array_index (sum->senders, i);
      char *scratch = NULL;
      const char *id = wa_sender_id (imp, sc->name, &scratch);
      if (scratch != NULL)
        g_ptr_array_add (ids, scratch);
      char *phone = wa_normalize_phone (sc->name);
      char *ident = phone != NULL ? g_strconcat ("+", phone, NULL) : NULL;
      g_free (phone);
      if (ident != NULL)
        g_ptr_array_add (idents, ident);
      members[i] = (PaMember) {
        .struct_size = sizeof (PaMember),
        .id = id,
        .name = sc->name,
        .identifier = ident,
      };
    }
  PaChatInfo chat = {
    .struct_size = sizeof (PaChatInfo),
    .id = imp->chat_id,
    .kind = n == 2 ? PA_CHAT_DM : PA_CHAT_GROUP,
    .name = imp->chat_name,
    .members = members,
    .n_members = n,
    /* Past WA_PARSER_MAX_SENDERS the parser stops tracking new senders. */
    .members_complete = sum->n_untracked_sender_messages == 0,
  };
  PaEvent ev = {
    .struct_size = sizeof (PaEvent),
    .type = PA_EV_CHAT_INFO,
    .chat_id = imp->chat_id,
    .timestamp_ms = sum->first_ts_ms,
    .chat = &chat,
  };
  wa_emit (imp, &ev);
}

static gboolean
wa_on_message (const WaMessage *msg, gpointer user_data, GError **error)
{
  WaImport *imp = user_data;
  g_autofree char *message_id = g_strdup_printf ("wa-%u", msg->line_no);
  g_autofree char *scratch = NULL;
  g_autofree char *missing_text = NULL;
  g_autofree char *handed = NULL; /* passes to the host on emit */
  const char *sender_id = NULL;
  PaContent c = { .struct_size = sizeof (PaContent), .kind = PA_MSG_TEXT, .text = msg->text };
  PaMember contact = { .struct_size = sizeof (PaMember) };

  if (msg->sender != NULL && msg->kind != WA_KIND_SYSTEM)
    {
      sender_id = wa_sender_id (imp, msg->sender, &scratch);
      contact.id = sender_id;
      contact.name = msg->sender;
    }

  switch (msg->kind)
    {
    case WA_KIND_TEXT:
      break;
    case WA_KIND_SYSTEM:
      c.kind = PA_MSG_NOTICE;
      c.flags |= PA_CONTENT_SYSTEM;
      sender_id = NULL;
      break;
    case WA_KIND_MEDIA_OMITTED:
      c.kind = PA_MSG_NOTICE;
      c.flags |= PA_CONTENT_NOT_INCLUDED;
      break;
    case WA_KIND_DELETED:
      c.kind = PA_MSG_NOTICE;
      c.flags |= PA_CONTENT_DELETED;
      break;
    case WA_KIND_CALL:
      c.kind = PA_MSG_NOTICE;
      c.flags |= PA_CONTENT_SYSTEM;
      break;
    case WA_KIND_ATTACHMENT:
      {
        const char *name = msg->attachment != NULL ? msg->attachment : "";
        const ImpMedia *m = imp_media_store_fetch (imp->media, name);
        if (!imp_media_store_check (imp->media, error))
          return FALSE;
        const char *caption = msg->text != NULL && msg->text[0] != '\0' ? msg->text : NULL;
        g_autoptr (GError) hand_error = NULL;
        if (m->path != NULL)
          handed = imp_media_store_hand_out (imp->media, m, &hand_error);
        if (handed != NULL)
          {
            c.kind = imp_media_kind_for_name (name);
            c.text = caption;
            c.media_path = handed;
            c.media_name = name;
            c.mimetype = imp_mimetype_for_name (name);
            c.media_size = m->size;
            c.width = m->width;
            c.height = m->height;
          }
        else
          {
            c.kind = PA_MSG_NOTICE;
            c.flags |= PA_CONTENT_NOT_INCLUDED;
            GString *t = g_string_new ("file not included: ");
            g_string_append (t, name);
            if (m->problem != NULL || hand_error != NULL)
              g_string_append_printf (t, " (%s)",
                                      hand_error != NULL ? hand_error->message : m->problem);
            if (caption != NULL)
              g_string_append_printf (t, "\n%s", caption);
            missing_text = g_string_free (t, FALSE);
            c.text = missing_text;
          }
        break;
      }
    default:
      break;
    }
  if (msg->edited)
    c.flags |= PA_CONTENT_EDITED;

  PaEvent ev = {
    .struct_size = sizeof (PaEvent),
    .type = PA_EV_MESSAGE,
    .chat_id = imp->chat_id,
    .sender_id = sender_id,
    .timestamp_ms = msg->ts_ms,
    .stream_order = ++imp->order,
    .message_id = message_id,
    .content = &c,
    .contact = sender_id != NULL ? &contact : NULL,
  };
  wa_emit (imp, &ev);
  return TRUE;
}

/* ------------------------------------------------------------ passes */

/* Streams the chat text through a parser.  Pass 1 (emit FALSE) charges the
 * budget and records where reading stopped; pass 2 replays exactly those
 * bytes.  Fails only when the text cannot be opened or the zone is bad. */
static gboolean
wa_run_pass (WaImport *imp, gboolean emit, WaSummary *sum, GError **error)
{
  g_autoptr (WaParser) parser = wa_parser_new (imp->tz, emit ? wa_on_message : NULL, imp, error);
  if (parser == NULL)
    return FALSE;
  g_autoptr (ImpStream) s = wa_open_text (imp, emit ? NULL : &imp->budget, error);
  if (s == NULL)
    return FALSE;
  if (emit)
    imp_stream_set_limit (s, imp->accepted_bytes);
  g_autofree char *buf = g_malloc (WA_CHUNK);
  for (;;)
    {
      g_autoptr (GError) read_error = NULL;
      gssize n = imp_stream_read (s, buf, WA_CHUNK, &read_error);
      if (n < 0)
        {
          if (g_error_matches (read_error, IMP_ERROR, IMP_ERROR_BOMB))
            {
              g_propagate_error (error, g_steal_pointer (&read_error));
              return FALSE;
            }
          if (!emit && imp->stop_reason == NULL)
            imp->stop_reason = g_strdup (read_error->message);
          break;
        }
      if (n == 0)
        break;
      if (!wa_parser_feed (parser, buf, (gsize) n, error))
        return FALSE;
    }
  if (!emit)
    imp->accepted_bytes = imp_stream_offset (s);
  return wa_parser_finish (parser, sum, error);
}

/* ------------------------------------------------------------ summary */

static void
wa_summary_notices (WaImport *imp, const WaSummary *sum)
{
  PaHost *h = imp->host;
  const PaHostApi *api = imp->api;
  imp_notice (h, api,
              "WhatsApp import of “%s”: %" G_GUINT64_FORMAT " messages (%" G_GUINT64_FORMAT
              " text, %" G_GUINT64_FORMAT " attachments, %" G_GUINT64_FORMAT
              " media not included, %" G_GUINT64_FORMAT " system lines, %" G_GUINT64_FORMAT
              " deleted, %" G_GUINT64_FORMAT " calls, %" G_GUINT64_FORMAT " edited), %"
              G_GUINT64_FORMAT " events sent.",
              imp->chat_name, sum->n_messages, sum->n_text, sum->n_attachments,
              sum->n_media_omitted, sum->n_system, sum->n_deleted, sum->n_calls, sum->n_edited,
              imp->n_emitted);

  const char *order = sum->date_order == WA_DATE_ORDER_DAY_FIRST     ? "day/month/year"
                      : sum->date_order == WA_DATE_ORDER_MONTH_FIRST ? "month/day/year"
                      : sum->date_order == WA_DATE_ORDER_YEAR_FIRST  ? "year-month-day"
                                                                     : "year-day-month";
  const char *why = wa_order_source_to_string (sum->order_source);
  imp_notice (h, api, "Dates were read as %s (%s), in the time zone %s.", order, why,
              imp->tz != NULL ? imp->tz : "Europe/Paris");

  if (sum->n_unparsed_lines > 0)
    {
      g_autoptr (GString) nos = g_string_new (NULL);
      for (guint i = 0; sum->unparsed_line_nos != NULL && i < sum->unparsed_line_nos->len
                        && i < 10; i++)
        g_string_append_printf (nos, "%s%u", i > 0 ? ", " : "",
                                g_array_index (sum->unparsed_line_nos, guint, i));
      imp_notice (h, api,
                  "%" G_GUINT64_FORMAT " lines before the first message could not be read and "
                  "were skipped (lines %s%s).", sum->n_unparsed_lines, nos->str,
                  sum->n_unparsed_lines > 10 ? ", …" : "");
    }
  if (sum->n_invalid_utf8 > 0)
    imp_notice (h, api,
                "%" G_GUINT64_FORMAT " invalid UTF-8 sequences were replaced by U+FFFD (�).",
                sum->n_invalid_utf8);
  if (sum->n_truncated > 0)
    imp_notice (h, api, "%" G_GUINT64_FORMAT " messages longer than %d KiB were cut.",
                sum->n_truncated, WA_PARSER_MAX_MESSAGE_BYTES / 1024);
  imp_media_store_notices (imp->media, h, api);
  if (imp->ar != NULL && imp_archive_n_refused (imp->ar) > 0)
    imp_notice (h, api,
                "%u archive entries were refused: unsafe names, links or duplicates (first: "
                "“%s”).", imp_archive_n_refused (imp->ar), imp_archive_first_refused (imp->ar));
  if (imp->stop_reason != NULL)
    imp_notice (h, api,
                "The import stopped early, at line %" G_GUINT64_FORMAT " of the chat: %s. "
                "Everything before that point was imported.", sum->n_lines, imp->stop_reason);
  if (imp->n_refused_events > 0)
    imp_notice (h, api, "%" G_GUINT64_FORMAT " events were refused by the host.",
                imp->n_refused_events);
}

/* ------------------------------------------------------------ entry point */

static gboolean
wa_import (WaImport *imp, const char *path, GError **error)
{
  /* Detect by content, not by name. */
  guint8 head[WA_SNIFF_BYTES];
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
      if (imp->ar == NULL || !wa_find_text (imp, error))
        return FALSE;
      if (strcmp (imp->chat_entry->name + strlen (imp->base_prefix), "_chat.txt") == 0)
        imp->chat_name = wa_name_from_file (path);
      else
        imp->chat_name = wa_name_from_file (imp->chat_entry->name);
    }
  else
    {
      /* UTF-16 text (a BOM, or NUL beside the first digit or "[") is for the parser */
      gboolean utf16 = n_head >= 2
                       && ((head[0] == 0xFF && head[1] == 0xFE)
                           || (head[0] == 0xFE && head[1] == 0xFF)
                           || (head[1] == 0 && (g_ascii_isdigit (head[0]) || head[0] == '['))
                           || (head[0] == 0 && (g_ascii_isdigit (head[1]) || head[1] == '[')));
      const char *binary = utf16 ? NULL : imp_sniff_binary (head, (gsize) n_head);
      gssize i = 0;
      while (i < n_head && g_ascii_isspace (head[i]))
        i++;
      if (binary != NULL)
        {
          g_set_error (error, IMP_ERROR, IMP_ERROR_NOT_FOUND,
                       "this is not a WhatsApp export: the file is %s", binary);
          return FALSE;
        }
      if (n_head == 0)
        {
          g_set_error_literal (error, IMP_ERROR, IMP_ERROR_NOT_FOUND,
                               "this is not a WhatsApp export: the file is empty");
          return FALSE;
        }
      if (i < n_head && head[i] == '{')
        {
          g_set_error_literal (error, IMP_ERROR, IMP_ERROR_NOT_FOUND,
                               "this is not a WhatsApp export: the file is JSON (a Telegram "
                               "export? use the Telegram importer)");
          return FALSE;
        }
      imp->disk_path = g_strdup (path);
      imp->disk_dir = g_path_get_dirname (path);
      imp->chat_name = wa_name_from_file (path);
    }
  if (imp->chat_name[0] == '\0' || strcmp (imp->chat_name, "_chat") == 0)
    {
      g_free (imp->chat_name);
      imp->chat_name = g_strdup ("WhatsApp chat");
    }
  imp->chat_id = imp_hashed_id ("chat-", "whatsapp", imp->chat_name);

  WaSummary sum1 = { 0 };
  if (!wa_run_pass (imp, FALSE, &sum1, error))
    return FALSE;
  if (sum1.n_messages == 0)
    {
      const char *what = imp->ar != NULL ? imp->chat_entry->name : "the file";
      if (imp->stop_reason != NULL)
        g_set_error (error, IMP_ERROR, IMP_ERROR_DAMAGED,
                     "nothing could be imported: %s", imp->stop_reason);
      else
        g_set_error (error, IMP_ERROR, IMP_ERROR_NOT_FOUND,
                     "this is not a WhatsApp export: %s has no line that starts with a "
                     "WhatsApp date and time", what);
      wa_summary_clear (&sum1);
      return FALSE;
    }

  imp->sender_ids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  imp->media = imp_media_store_new (imp->ar, imp->base_prefix, imp->disk_dir, imp->work_dir,
                                   &imp->budget);
  wa_emit_chat_info (imp, &sum1);
  wa_summary_clear (&sum1);

  WaSummary sum2 = { 0 };
  if (!wa_run_pass (imp, TRUE, &sum2, error))
    return FALSE;
  wa_summary_notices (imp, &sum2);
  wa_summary_clear (&sum2);
  return TRUE;
}

static gboolean
wa_import_run (gpointer importer, const char *path, GError **error)
{
  return wa_import (importer, path, error);
}

bool
wa_import_file (PaHost *host, const PaHostApi *api, const char *path,
                const PaImportOptions *options, char **error)
{
  if (api == NULL || !PA_HAS_MEMBER (api, PaHostApi, invoke))
    {
      *error = imp_c_strdup ("the WhatsApp importer was not initialised");
      return false;
    }
  ImpOptions o;
  imp_options_read (options, &o);
  WaImport imp = {
    .host = host,
    .api = api,
    .budget = { .max_bytes = o.max_total_bytes },
    .max_entries = o.max_entries,
    .tz = o.timezone,
    .work_dir = o.work_dir,
  };
  bool ok = imp_run (path, imp.work_dir, wa_import_run, &imp, error);
  wa_import_clear (&imp);
  return ok;
}
