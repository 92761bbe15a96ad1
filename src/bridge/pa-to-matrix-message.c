/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Legacy → Matrix, messages and their relations: a legacy message (its
 * media uploaded first, encrypted in an encrypted room) becomes a Matrix
 * event queued on the durable outbound queue with a deterministic txn id
 * and an on_done that records the message map; edits, reactions and
 * deletions find their target in the map.  A reply or relation whose
 * target is still queued waits for it. */
#define G_LOG_DOMAIN "passerelle-remote"

#include "pa-to-matrix-message.h"

#include "pa-convert.h"
#include "pa-convert-split.h"
#include "pa-file-beneath.h"
#include "pa-fingerprint.h"
#include "pa-ghost.h"
#include "pa-media.h"
#include "pa-outbound.h"
#include "pa-queue.h"
#include "pa-to-matrix-work.h"

static const char *
str (json_t *o, const char *key)
{
  return json_string_value (json_object_get (o, key));
}

static json_t *
on_done_map (PaWork *w, const char *legacy_id)
{
  json_t *done = json_pack ("{s:s, s:s, s:s, s:s, s:s, s:s, s:I}", "what", "map", "plugin",
                            w->login->plugin, "login", w->map_login ? w->map_login : w->login->id,
                            "chat", w->chat_id, "legacy",
                            legacy_id, "room", w->room_id, "ts",
                            (json_int_t)json_integer_value (json_object_get (w->ev, "ts")));
  /* Counted as imported, not live, once sent (the metrics). */
  if (w->lane->job != NULL)
    json_object_set_new (done, "import", json_true ());
  return done;
}
/* Sent live as an agent (double puppeting in a shared group): marked, so
 * that the homeserver's echo of it, in the agent's name, is not taken for
 * something the agent wrote and sent to the network again. */
static void
mark_puppet (PaWork *w, json_t *content)
{
  if (w->lane->job == NULL && w->ghost && !pa_ghost_is_ours (w->b, w->ghost))
    json_object_set_new (content, PA_CONTENT_DOUBLE_PUPPET, json_true ());
}
/* Resolve a legacy target to an event id; when unknown but the room still
 * has queued items, the target may be one of them: defer. */
static gboolean
target_or_defer (PaWork *w, const char *legacy, char **out_event)
{
  *out_event = legacy ? pa_work_event_of (w, legacy) : NULL;
  if (legacy && *out_event == NULL && pa_outbound_room_pending (w->b, w->room_id))
    {
      w->retry (w, 50);
      return FALSE;
    }
  return TRUE;
}
/* Queues `content`, split into several events when too large for one
 * (pa-convert-split.h).  The first part keeps the txn seed and `done` (the
 * message map: replies and edits point at it); later parts follow in the
 * same queue, their seeds derived from it.  Takes `done`. */
static void
send_parts (PaWork *w, json_t *content, const char *etype, const char *seed, json_t *done)
{
  gint64 ts = json_integer_value (json_object_get (w->ev, "ts"));
  g_autoptr (json_t) parts = pa_convert_split_for_matrix (content, etype,
                                                          PA_CONVERT_MAX_CONTENT_BYTES);
  if (json_array_size (parts) > 1)
    g_message ("a message of %s in %s is too large for one event: sent as %zu parts",
               w->login->id, w->room_id, json_array_size (parts));
  size_t i;
  json_t *part;
  json_array_foreach (parts, i, part)
  {
    json_t *pc = json_object_get (part, "content");
    mark_puppet (w, pc);
    g_autofree char *pseed = i == 0 || seed == NULL
                                 ? g_strdup (seed)
                                 : g_strdup_printf ("%s\x1fpart %zu", seed, i + 1);
    pa_queue_send (w->b, w->room_id, w->ghost, json_string_value (json_object_get (part, "type")),
                   pc, ts, pseed, i == 0 ? done : NULL);
  }
  json_decref (done);
}
static void
send_message (PaWork *w)
{
  json_t *c = json_object_get (w->ev, "content");
  const char *mid = str (w->ev, "message_id");
  g_autofree char *reply_event = NULL;
  if (!target_or_defer (w, str (c, "reply_to"), &reply_event))
    return;
  const char *etype = NULL;
  PaConvertToMatrix ctx = {
    .mxc = w->mxc,
    .file = w->media_file,
    .reply_event = reply_event,
    .import_source = w->lane->job ? w->lane->import->source (w->lane->job) : NULL,
    .message_id = mid,
  };
  g_autoptr (json_t) content = pa_convert_message_to_matrix (c, &ctx, &etype);
  if (w->replaces != NULL)
    {
      /* The message replaces the one bridged under the same id: an edit
       * of it, whose new content may be media. */
      gint64 ts = json_integer_value (json_object_get (w->ev, "ts"));
      json_object_del (content, "m.relates_to");
      const char *body = str (content, "body");
      g_autofree char *star = g_strdup_printf ("* %s", body ? body : "");
      g_autoptr (json_t) edit = json_deep_copy (content);
      json_object_set_new (edit, "body", json_string (star));
      json_object_set (edit, "m.new_content", content);
      json_object_set_new (edit, "m.relates_to", json_pack ("{s:s, s:s}", "rel_type", "m.replace",
                                                            "event_id", w->replaces));
      mark_puppet (w, edit);
      g_autofree char *useed = g_strdup_printf ("upsert\x1f%s\x1f%s\x1f%s\x1f%" G_GINT64_FORMAT,
                                                w->login->id, w->chat_id, mid, ts);
      pa_queue_send (w->b, w->room_id, w->ghost, etype ? etype : "m.room.message", edit, ts,
                     useed, NULL);
      w->finish (w);
      return;
    }
  g_autofree char *seed = g_strjoin ("\x1f", w->login->id, w->chat_id, mid, NULL);
  send_parts (w, content, etype, seed, on_done_map (w, mid));
  w->finish (w);
}
static void
media_uploaded (PaBridge *b, const char *mxc, json_t *file, const char *error, gpointer user_data)
{
  PaWork *w = user_data;
  if (mxc == NULL)
    {
      g_warning ("media upload failed: %s", error);
      pa_convert_media_lost (json_object_get (w->ev, "content"), error);
    }
  else
    {
      w->mxc = g_strdup (mxc);
      w->media_file = file ? json_incref (file) : NULL;
    }
  send_message (w);
}
/* The message map's legacy id of one sender's reaction `key` on `target`. */
static char *
reaction_legacy_id (const char *target, const char *sender, const char *key)
{
  return g_strdup_printf ("reaction\x1f%s\x1f%s\x1f%s", target, sender ? sender : "",
                          key ? key : "");
}

static void
redact (PaWork *w, const char *event_id, gint64 ts)
{
  g_autofree char *txn = pa_queue_txn_id (w->room_id, "redact", event_id, NULL);
  g_autofree char *er = pa_matrix_escape (w->room_id);
  g_autofree char *ee = pa_matrix_escape (event_id);
  g_autofree char *path = g_strdup_printf ("/_matrix/client/v3/rooms/%s/redact/%s/%s", er, ee, txn);
  g_autoptr (json_t) body = json_pack ("{s:s}", "reason", "deleted on the legacy network");
  mark_puppet (w, body);
  pa_queue_request (w->b, w->room_id, "PUT", path, w->ghost, body, ts, txn, NULL);
}

/* A reaction removed: redacted, and forgotten, so that the same key added
 * again later is sent again rather than taken for an echo. */
static void
react_redact (PaWork *w, const char *legacy, const char *event_id, gint64 ts)
{
  redact (w, event_id, ts);
  g_autoptr (GError) error = NULL;
  if (!pa_store_message_forget (w->b->store, w->login->plugin,
                                w->map_login ? w->map_login : w->login->id, w->chat_id, legacy,
                                &error))
    g_warning ("message map: %s", error->message);
}

static void
react_add (PaWork *w, const char *target, const char *target_event, const char *sender,
           const char *key, gint64 ts)
{
  g_autofree char *legacy = reaction_legacy_id (target, sender, key);
  g_autofree char *known = pa_work_event_of (w, legacy);
  if (known != NULL) /* the echo of the agent's own reaction, or a redelivery */
    return;
  g_autoptr (json_t) content
      = json_pack ("{s:{s:s, s:s, s:s}}", "m.relates_to", "rel_type", "m.annotation", "event_id",
                   target_event, "key", key ? key : "");
  mark_puppet (w, content);
  g_autoptr (json_t) done = on_done_map (w, legacy);
  /* The time is in the seed: a key removed and added again is a new event. */
  g_autofree char *when = g_strdup_printf ("%" G_GINT64_FORMAT, ts);
  g_autofree char *seed = g_strjoin ("\x1f", w->login->id, w->chat_id, legacy, when, NULL);
  pa_queue_send (w->b, w->room_id, w->ghost, "m.reaction", content, ts, seed, done);
}

/* REACTION_SYNC: `reaction_keys` is the sender's whole set on the target
 * (plugin.h): add what is new, redact what is gone. */
static void
react_sync (PaWork *w, const char *target, const char *target_event, const char *sender,
            gint64 ts)
{
  json_t *keys = json_object_get (w->ev, "reaction_keys");
  g_autofree char *prefix = reaction_legacy_id (target, sender, "");
  g_autoptr (json_t) have = pa_store_message_list_prefix (
      w->b->store, w->login->plugin, w->map_login ? w->map_login : w->login->id, w->chat_id,
      prefix);
  gsize plen = strlen (prefix), i, j;
  json_t *row, *k;
  json_array_foreach (have, i, row)
  {
    const char *legacy = str (row, "legacy_id");
    gboolean kept = FALSE;
    json_array_foreach (keys, j, k)
    {
      if (g_strcmp0 (json_string_value (k), legacy + plen) == 0)
        kept = TRUE;
    }
    if (!kept)
      react_redact (w, legacy, str (row, "event_id"), ts);
  }
  json_array_foreach (keys, j, k)
  {
    if (json_is_string (k))
      react_add (w, target, target_event, sender, json_string_value (k), ts);
  }
}

void
pa_to_matrix_relate (PaWork *w)
{
  PaBridge *b = w->b;
  const char *type = w->type;
  const char *target = str (w->ev, "target_id");
  g_autofree char *target_event = NULL;
  if (!target_or_defer (w, target, &target_event))
    return;
  if (target_event == NULL)
    {
      g_debug ("%s of unknown message %s: ignored", type, target ? target : "?");
      w->finish (w);
      return;
    }
  gint64 ts = json_integer_value (json_object_get (w->ev, "ts"));
  const char *sender = str (w->ev, "sender_id");
  if (w->lane->job == NULL && (g_str_equal (type, "edit") || g_str_equal (type, "delete")))
    pa_fingerprint_record_change (b, w->room_id, target,
                                  g_str_equal (type, "edit") ? json_object_get (w->ev, "content")
                                                             : NULL);
  if (g_str_equal (type, "edit"))
    {
      /* An edit carries its text twice: it is split at half the size; the
       * message becomes the first part, the rest follows as new messages. */
      const char *etype = NULL;
      g_autoptr (json_t) newc
          = pa_convert_content_to_matrix (json_object_get (w->ev, "content"), NULL, NULL, &etype);
      g_autoptr (json_t) parts = pa_convert_split_for_matrix (newc, "m.room.message",
                                                              PA_CONVERT_MAX_CONTENT_BYTES / 2);
      g_autofree char *seed
          = g_strdup_printf ("edit\x1f%s\x1f%s\x1f%" G_GINT64_FORMAT, w->login->id, target, ts);
      size_t i;
      json_t *part;
      json_array_foreach (parts, i, part)
      {
        json_t *pc = json_object_get (part, "content");
        g_autoptr (json_t) content
            = i == 0 ? pa_convert_edit_of_content (pc, target_event) : json_incref (pc);
        mark_puppet (w, content);
        g_autofree char *pseed
            = i == 0 ? g_strdup (seed) : g_strdup_printf ("%s\x1fpart %zu", seed, i + 1);
        pa_queue_send (b, w->room_id, w->ghost, "m.room.message", content, ts, pseed, NULL);
      }
    }
  else if (g_str_equal (type, "reaction"))
    react_add (w, target, target_event, sender, str (w->ev, "reaction_key"), ts);
  else if (g_str_equal (type, "reaction_sync"))
    react_sync (w, target, target_event, sender, ts);
  else if (g_str_equal (type, "reaction_remove"))
    {
      g_autofree char *legacy = reaction_legacy_id (target, sender, str (w->ev, "reaction_key"));
      g_autofree char *event = pa_work_event_of (w, legacy);
      if (event != NULL)
        react_redact (w, legacy, event, ts);
    }
  else /* delete */
    redact (w, target_event, ts);
  w->finish (w);
}

void
pa_to_matrix_message (PaWork *w)
{
  PaBridge *b = w->b;
  json_t *c = json_object_get (w->ev, "content");
  if (w->lane->job == NULL && w->replaces != NULL)
    pa_fingerprint_record_change (b, w->room_id, str (w->ev, "message_id"), c);
  else if (w->lane->job == NULL) /* before a failed upload changes it */
    pa_fingerprint_record (b, w->room_id, str (w->ev, "message_id"),
                           json_integer_value (json_object_get (w->ev, "ts")), c);
  else if (w->replaces == NULL)
    pa_fingerprint_record_import (b, w->login->id, w->room_id, str (w->ev, "message_id"),
                                  json_integer_value (json_object_get (w->ev, "ts")), c);
  const char *media = str (c, "media_path");
  if (media)
    {
      const char *name = str (c, "media_name");
      g_autofree char *base = g_path_get_basename (media);
      /* Below the login's own dir (opened from the data dir, which the
       * worker cannot replace), else an import's export folder. */
      g_autofree char *own = g_build_filename (b->config->data_dir, w->login->id, NULL);
      g_autofree char *export_dir
          = w->lane->job ? g_path_get_dirname (w->lane->import->path (w->lane->job)) : NULL;
      const char *root = pa_file_beneath (own, media) ? b->config->data_dir : export_dir;
      pa_media_upload (b, w->room_id, root, media, name ? name : base, str (c, "mimetype"),
                       media_uploaded, w);
      return;
    }
  send_message (w);
}
