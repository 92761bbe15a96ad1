/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * lb-emit.c — events from loopnet → PaEvents.  Messages (live, history or
 * import), chats, contacts, and the small events (edit, delete, reaction,
 * reaction set, typing, read receipt, chat deletion, presence) become
 * emit() calls; each live event is acked to loopnet only once the host says
 * it persisted it (event_persisted), so nothing is lost across a crash.
 */
#define G_LOG_DOMAIN "passerelle-loopback"

#include "lb-emit.h"

#include <string.h>

#include <glib/gstdio.h>

#include "lb-conn.h"
#include "lb-media.h"
#include "lb-util.h"

const PaChatFeatures lb_dm_features = {
  sizeof (PaChatFeatures), LB_MSG_CAPS, LB_MAX_MEDIA, 0, 0,
};
const PaChatFeatures lb_group_features = {
  sizeof (PaChatFeatures), LB_MSG_CAPS | PA_CAP_GROUPS, LB_MAX_MEDIA, 0, 0,
};

PaChatKind
lb_chat_kind (const char *kind)
{
  return g_strcmp0 (kind, "dm") == 0 ? PA_CHAT_DM : PA_CHAT_GROUP;
}

/* Fills `out` from a {"id","name","identifier","power"} object. */
gboolean
lb_member_from_json (json_t *o, PaMember *out)
{
  if (lb_js (o, "id") == NULL)
    return FALSE;
  *out = (PaMember){
    .struct_size = sizeof (PaMember),
    .id = lb_js (o, "id"),
    .name = lb_js (o, "name"),
    .identifier = lb_js (o, "identifier"),
    .power = (int32_t) CLAMP (lb_ji (o, "power", 0), 0, 100),
  };
  return TRUE;
}

/* Emits one message object (live event, history entry or import entry).
 * `data_dir` NULL means media cannot be stored (imports). */
LbEmitStatus
lb_emit_message (PaHost *host, const PaHostApi *api, const char *self_id, const char *data_dir,
                 json_t *m, const char *chat_fallback, guint64 stream_order, guint64 *seq,
                 char **why)
{
  const char *id = lb_js (m, "id");
  const char *chat = lb_js (m, "chat") != NULL ? lb_js (m, "chat") : chat_fallback;
  const char *from = lb_js (m, "from");
  if (id == NULL || chat == NULL || from == NULL)
    {
      *why = g_strdup ("message without id, chat or from");
      return LB_EMIT_INVALID;
    }

  PaContent content = { .struct_size = sizeof (PaContent), .kind = PA_MSG_TEXT };
  content.text = lb_js (m, "text");
  content.html = lb_js (m, "html");
  content.reply_to = lb_js (m, "reply_to");
  content.forwarded_from = lb_js (m, "forwarded_from");
  if (lb_jb (m, "emote"))
    content.kind = PA_MSG_EMOTE;
  else if (lb_jb (m, "notice"))
    content.kind = PA_MSG_NOTICE;

  json_t *loc = json_object_get (m, "location");
  if (json_is_object (loc) && json_is_number (json_object_get (loc, "latitude"))
      && json_is_number (json_object_get (loc, "longitude")))
    {
      content.kind = PA_MSG_LOCATION;
      content.latitude = json_number_value (json_object_get (loc, "latitude"));
      content.longitude = json_number_value (json_object_get (loc, "longitude"));
    }

  g_autofree char *media_path = NULL;
  g_autofree char *not_stored = NULL;
  json_t *media = json_object_get (m, "media");
  if (json_is_object (media))
    {
      if (data_dir == NULL)
        {
          *why = g_strdup ("media is not supported here");
          return LB_EMIT_INVALID;
        }
      g_autoptr (GError) err = NULL;
      gsize size = 0;
      media_path = lb_store_media (host, api, data_dir, chat, id, media, &size, &err);
      if (media_path == NULL && g_error_matches (err, G_IO_ERROR, G_IO_ERROR_NO_SPACE))
        {
          /* Over budget: the message still arrives, as a notice without its
           * file; redelivery would not make room. */
          not_stored = g_strdup_printf (
              "file not received: %s (%s)",
              lb_js (media, "name") != NULL ? lb_js (media, "name") : "file", err->message);
          content.kind = PA_MSG_NOTICE;
          content.flags |= PA_CONTENT_NOT_INCLUDED;
          content.text = not_stored;
          content.html = NULL;
        }
      else if (media_path == NULL)
        {
          *why = g_strdup_printf ("cannot store media: %s", err->message);
          return g_error_matches (err, G_IO_ERROR, G_IO_ERROR_INVALID_DATA) ? LB_EMIT_INVALID
                                                                            : LB_EMIT_RETRY;
        }
      else
        {
          content.mimetype = lb_js (media, "mimetype");
          content.kind = lb_media_kind (lb_js (media, "kind"), content.mimetype);
          content.media_path = media_path;
          content.media_name = lb_js (media, "name");
          content.media_size = size;
          content.width = (uint32_t) CLAMP (lb_ji (media, "width", 0), 0, G_MAXUINT32);
          content.height = (uint32_t) CLAMP (lb_ji (media, "height", 0), 0, G_MAXUINT32);
          content.duration_ms = (uint32_t) CLAMP (lb_ji (media, "duration_ms", 0), 0, G_MAXUINT32);
        }
    }
  else if (content.text == NULL && content.kind != PA_MSG_LOCATION)
    {
      *why = g_strdup ("message without text or media");
      return LB_EMIT_INVALID;
    }

  PaMember sender = {
    .struct_size = sizeof (PaMember),
    .id = from,
    .name = lb_js (m, "from_name"),
  };
  const char *chat_kind = lb_js (m, "chat_kind");
  PaChatInfo info = {
    .struct_size = sizeof (PaChatInfo),
    .id = chat,
    .kind = lb_chat_kind (chat_kind),
    .name = lb_js (m, "chat_name"),
    .features = lb_chat_kind (chat_kind) == PA_CHAT_DM ? &lb_dm_features : &lb_group_features,
  };
  PaEvent ev = {
    .struct_size = sizeof (PaEvent),
    /* "upsert": true replaces the message if the host knows its id */
    .type = json_is_true (json_object_get (m, "upsert")) ? PA_EV_MESSAGE_UPSERT : PA_EV_MESSAGE,
    .chat_id = chat,
    .sender_id = from,
    .timestamp_ms = lb_ji (m, "ts", lb_now_ms ()),
    .stream_order = stream_order,
    .message_id = id,
    .txn_id = lb_js (m, "txn"),
    .from_me = self_id != NULL && strcmp (from, self_id) == 0,
    .content = &content,
    .chat = chat_kind != NULL ? &info : NULL,
    .contact = sender.name != NULL ? &sender : NULL,
  };
  *seq = api->emit (host, &ev);
  /* Emitted, the file is the host's; refused, it is still ours and useless. */
  if (*seq == 0 && media_path != NULL)
    g_unlink (media_path);
  return LB_EMIT_OK;
}

LbEmitStatus
lb_emit_chat (PaHost *host, const PaHostApi *api, json_t *c, guint64 *seq, char **why)
{
  const char *id = lb_js (c, "id");
  if (id == NULL)
    {
      *why = g_strdup ("chat without id");
      return LB_EMIT_INVALID;
    }
  json_t *members = json_object_get (c, "members");
  gsize total = json_is_array (members) ? json_array_size (members) : 0;
  if (total > LB_MAX_LIST)
    {
      *why = g_strdup_printf ("chat %s has more than %d members", id, LB_MAX_LIST);
      return LB_EMIT_INVALID;
    }
  g_autofree PaMember *mv = g_new0 (PaMember, total + 1);
  gsize n = 0;
  for (gsize i = 0; i < total; i++)
    if (lb_member_from_json (json_array_get (members, i), &mv[n]))
      n++;
  PaChatKind kind = lb_chat_kind (lb_js (c, "kind"));
  PaChatInfo info = {
    .struct_size = sizeof (PaChatInfo),
    .id = id,
    .kind = kind,
    .name = lb_js (c, "name"),
    .topic = lb_js (c, "topic"),
    .members = json_is_array (members) ? mv : NULL,
    .n_members = n,
    .members_complete = json_is_array (members),
    .features = kind == PA_CHAT_DM ? &lb_dm_features : &lb_group_features,
    .disappearing_s = (uint32_t) CLAMP (lb_ji (c, "disappearing", 0), 0, G_MAXUINT32),
    .read_only = json_is_true (json_object_get (c, "read_only")),
    .secret = json_is_true (json_object_get (c, "secret")),
  };
  PaEvent ev = {
    .struct_size = sizeof (PaEvent),
    .type = PA_EV_CHAT_INFO,
    .chat_id = id,
    .timestamp_ms = lb_ji (c, "ts", lb_now_ms ()),
    .chat = &info,
  };
  *seq = api->emit (host, &ev);
  return LB_EMIT_OK;
}

LbEmitStatus
lb_emit_contact (PaHost *host, const PaHostApi *api, json_t *c, guint64 *seq, char **why)
{
  PaMember member;
  if (!lb_member_from_json (c, &member))
    {
      *why = g_strdup ("contact without id");
      return LB_EMIT_INVALID;
    }
  PaEvent ev = {
    .struct_size = sizeof (PaEvent),
    .type = PA_EV_CONTACT_INFO,
    .sender_id = member.id,
    .timestamp_ms = lb_now_ms (),
    .contact = &member,
  };
  *seq = api->emit (host, &ev);
  return LB_EMIT_OK;
}

/* Live events other than messages, chats and contacts. */
static LbEmitStatus
lb_emit_simple (LbLogin *login, const char *type, json_t *e, guint64 net_seq, guint64 *seq,
                char **why)
{
  PaContent content = { .struct_size = sizeof (PaContent), .kind = PA_MSG_TEXT };
  PaEvent ev = {
    .struct_size = sizeof (PaEvent),
    .chat_id = lb_js (e, "chat"),
    .sender_id = lb_js (e, "from"),
    .timestamp_ms = lb_ji (e, "ts", lb_now_ms ()),
    .stream_order = net_seq,
    .target_id = lb_js (e, "target"),
  };
  ev.from_me = ev.sender_id != NULL && g_strcmp0 (ev.sender_id, login->self_id) == 0;
  gboolean need_chat = TRUE, need_target = FALSE;
  g_autofree const char **keys = NULL;

  if (strcmp (type, "edit") == 0)
    {
      ev.type = PA_EV_EDIT;
      ev.message_id = lb_js (e, "id");
      content.text = lb_js (e, "text");
      content.html = lb_js (e, "html");
      ev.content = &content;
      need_target = TRUE;
      if (content.text == NULL)
        {
          *why = g_strdup ("edit without text");
          return LB_EMIT_INVALID;
        }
    }
  else if (strcmp (type, "delete") == 0)
    {
      ev.type = PA_EV_DELETE;
      need_target = TRUE;
    }
  else if (strcmp (type, "reaction") == 0)
    {
      ev.type = lb_jb (e, "remove") ? PA_EV_REACTION_REMOVE : PA_EV_REACTION;
      ev.reaction_key = lb_js (e, "key");
      need_target = TRUE;
      if (ev.reaction_key == NULL)
        {
          *why = g_strdup ("reaction without key");
          return LB_EMIT_INVALID;
        }
    }
  else if (strcmp (type, "reactions") == 0)
    {
      /* the sender's whole set of reactions on target: REACTION_SYNC */
      json_t *list = json_object_get (e, "keys");
      gsize n = json_is_array (list) ? MIN (json_array_size (list), LB_MAX_LIST) : 0;
      if (!json_is_array (list))
        {
          *why = g_strdup ("reactions without keys");
          return LB_EMIT_INVALID;
        }
      keys = g_new0 (const char *, n + 1);
      for (gsize i = 0; i < n; i++)
        {
          keys[i] = json_string_value (json_array_get (list, i));
          if (keys[i] == NULL)
            {
              *why = g_strdup ("reactions with a key that is not a string");
              return LB_EMIT_INVALID;
            }
        }
      ev.type = PA_EV_REACTION_SYNC;
      ev.reaction_keys = keys;
      ev.n_reaction_keys = n;
      need_target = TRUE;
      if (ev.sender_id == NULL)
        {
          *why = g_strdup ("reactions without from");
          return LB_EMIT_INVALID;
        }
    }
  else if (strcmp (type, "typing") == 0)
    {
      ev.type = PA_EV_TYPING;
      ev.typing = lb_jb (e, "typing");
      ev.typing_timeout_ms = (uint32_t) CLAMP (lb_ji (e, "timeout_ms", 0), 0, G_MAXUINT32);
    }
  else if (strcmp (type, "read") == 0)
    {
      ev.type = PA_EV_READ_RECEIPT;
      ev.message_id = lb_js (e, "id");
      if (ev.message_id == NULL)
        {
          *why = g_strdup ("read receipt without id");
          return LB_EMIT_INVALID;
        }
    }
  else if (strcmp (type, "chat_delete") == 0)
    {
      ev.type = PA_EV_CHAT_DELETE;
    }
  else if (strcmp (type, "presence") == 0)
    {
      static const struct
      {
        const char *name;
        PaPresence presence;
      } states[] = {
        { "online", PA_PRESENCE_ONLINE },
        { "offline", PA_PRESENCE_OFFLINE },
        { "unavailable", PA_PRESENCE_UNAVAILABLE },
      };
      gboolean known = FALSE;
      ev.type = PA_EV_PRESENCE;
      need_chat = FALSE;
      for (gsize i = 0; i < G_N_ELEMENTS (states); i++)
        if (g_strcmp0 (lb_js (e, "presence"), states[i].name) == 0)
          {
            ev.presence = states[i].presence;
            known = TRUE;
          }
      ev.status_text = lb_js (e, "status");
      if (!known || ev.sender_id == NULL)
        {
          *why = g_strdup ("presence without from or a known presence");
          return LB_EMIT_INVALID;
        }
    }
  else
    {
      *why = g_strdup_printf ("unknown event type \"%s\"", type);
      return LB_EMIT_INVALID;
    }

  if ((need_chat && ev.chat_id == NULL) || (need_target && ev.target_id == NULL))
    {
      *why = g_strdup_printf ("%s event without chat or target", type);
      return LB_EMIT_INVALID;
    }
  *seq = login->api->emit (login->host, &ev);
  return LB_EMIT_OK;
}

void
lb_on_event (LbLogin *login, const char *type, json_t *msg)
{
  if (login->phase != LB_PHASE_ONLINE)
    {
      /* Not acked, so the network delivers it again once we are online. */
      lb_log (login, PA_LOG_DEBUG, "ignoring a %s event before the login completed", type);
      return;
    }
  gint64 net_seq = lb_ji (msg, "seq", 0);
  if (net_seq < 0)
    net_seq = 0;
  guint64 seq = 0;
  g_autofree char *why = NULL;
  LbEmitStatus st;
  if (strcmp (type, "message") == 0)
    st = lb_emit_message (login->host, login->api, login->self_id, login->data_dir, msg, NULL,
                          (guint64) net_seq, &seq, &why);
  else if (strcmp (type, "chat") == 0)
    st = lb_emit_chat (login->host, login->api, msg, &seq, &why);
  else if (strcmp (type, "contact") == 0)
    st = lb_emit_contact (login->host, login->api, msg, &seq, &why);
  else if (strcmp (type, "notice") == 0)
    {
      /* A message from the network to the account itself (a warning, a
       * service announcement): a notice to the agent, nothing to persist. */
      login->api->notice (login->host, lb_js (msg, "text") != NULL ? lb_js (msg, "text") : "");
      if (net_seq > 0)
        lb_ack (login, (guint64) net_seq);
      return;
    }
  else
    st = lb_emit_simple (login, type, msg, (guint64) net_seq, &seq, &why);

  if (st == LB_EMIT_RETRY)
    {
      lb_log (login, PA_LOG_WARNING, "cannot take event %" G_GINT64_FORMAT " now: %s", net_seq,
              why);
      return;
    }
  if (st == LB_EMIT_INVALID || seq == 0)
    {
      /* Nothing for the host to persist: ack it, or it would come back forever. */
      lb_log (login, PA_LOG_WARNING, "dropping event %" G_GINT64_FORMAT ": %s", net_seq,
              why != NULL ? why : "the host refused it");
      if (net_seq > 0)
        lb_ack (login, (guint64) net_seq);
      return;
    }
  if (net_seq > 0)
    g_hash_table_insert (login->acks, lb_u64_dup (seq), lb_u64_dup ((guint64) net_seq));
}

void
lb_event_persisted (PaLogin *pl, uint64_t seq)
{
  LbLogin *login = pl;
  guint64 key = seq;
  guint64 *net_seq = g_hash_table_lookup (login->acks, &key);
  if (net_seq == NULL)
    return; /* history, replies to lookups: nothing to acknowledge */
  guint64 v = *net_seq;
  g_hash_table_remove (login->acks, &key);
  lb_ack (login, v);
}
