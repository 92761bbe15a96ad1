/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * loopback.c — a test plugin that talks newline-delimited JSON over TCP to
 * loopnet.py, the scriptable fake network of the integration tests.  It uses
 * every part of the plugin ABI the way a real network plugin would: a login
 * flow with a pairing step, a saved session, reconnects with backoff, events
 * acknowledged to the network only once the host has persisted them, echoes
 * of our own sends carrying their transaction id, media files, lookups,
 * history and an importer.  README.md in this directory documents the wire.
 *
 * Everything runs on the worker's main context: sockets and file loads are
 * asynchronous; only small local writes (media received, session, pairing
 * image) are synchronous, because events must be emitted in network order.
 */
#define G_LOG_DOMAIN "passerelle-loopback"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <jansson.h>

#include "passerelle/plugin.h"

#define LB_MAX_LINE ((gsize) 16 * 1024 * 1024)
#define LB_MAX_MEDIA ((guint64) 100 * 1024 * 1024)
#define LB_MAX_AVATAR ((guint64) 5 * 1024 * 1024)
#define LB_MAX_SESSION_FILE 65536
#define LB_MAX_IMPORT_FILE ((guint64) 64 * 1024 * 1024)
#define LB_MAX_LIST 10000 /* members of a chat, contacts or messages in one answer */
#define LB_MAX_HISTORY 1000
#define LB_MAX_FIELD 1024 /* login form values */
#define LB_READ_CHUNK 65536
#define LB_BACKOFF_MIN_S 1
#define LB_CONNECT_TIMEOUT_S 15

#define LB_MSG_CAPS                                                                           \
  (PA_CAP_MEDIA | PA_CAP_EDITS | PA_CAP_DELETES | PA_CAP_REACTIONS | PA_CAP_REPLIES           \
   | PA_CAP_TYPING | PA_CAP_READ_RECEIPTS | PA_CAP_HISTORY | PA_CAP_FORMATTING)
#define LB_CAPS (PA_CAP_LOGIN | PA_CAP_IMPORT | PA_CAP_GROUPS | LB_MSG_CAPS)

G_DEFINE_AUTOPTR_CLEANUP_FUNC (json_t, json_decref)

/* ------------------------------------------------------------ types */

typedef struct {
  char *server; /* host:port */
  char *user;
  char *password;
} LbCreds;

typedef enum {
  LB_PHASE_IDLE,
  LB_PHASE_CONNECTING,
  LB_PHASE_HELLO,   /* hello sent, waiting for its answer */
  LB_PHASE_PAIRING, /* the network wants the pairing code confirmed */
  LB_PHASE_ONLINE,
} LbPhase;

/* How the network's answer to a request becomes host calls. */
typedef enum {
  LB_ANS_ID,       /* op_result with the answer's "id" */
  LB_ANS_CHAT,     /* CHAT_INFO from "chat", op_result with its id */
  LB_ANS_USER,     /* CONTACT_INFO from "contact", op_result */
  LB_ANS_CONTACTS, /* op_contact for each of "contacts", op_result */
  LB_ANS_HISTORY,  /* MESSAGE for each of "messages", BACKFILL_END, op_result "next" */
  LB_ANS_LOGOUT,
} LbAnswer;

typedef struct PaLogin LbLogin;

/* What network->init gave, and the configuration read then.  The one piece
 * of file-static state: a worker process runs one login (plugin.h, Process
 * model), and init/shutdown bracket every use. */
typedef struct {
  PaHost *host;
  const PaHostApi *api;
  char *default_server; /* config "server": the login form's default */
  guint backoff_max_s;  /* config "reconnect_max_s" */
} LbPlugin;

static LbPlugin lb_plugin;

/* One TCP connection.  Async callbacks hold a reference; once the login
 * abandons the connection (`login` NULL) they only drop it. */
typedef struct {
  guint refs;
  LbLogin *login;
  GSocketConnection *sock;
  GCancellable *cancel;
  GByteArray *inbuf;
  gsize scanned; /* inbuf bytes known to hold no newline */
  GQueue outq;   /* GBytes lines; the head is being written */
  gboolean writing;
  guint timeout_id;
  guint8 chunk[LB_READ_CHUNK];
} LbConn;

typedef struct {
  LbAnswer answer;
  guint64 op_id;
  char *chat_id;   /* LB_ANS_HISTORY: BACKFILL_END's chat */
  json_t *req;     /* until sent */
  gboolean ready;  /* FALSE while a file is being read into it */
  json_t *slot;    /* borrowed from req: the object that receives "data_b64" */
  guint64 max_size;
} LbRequest;

struct PaLogin {
  PaHost *host;
  const PaHostApi *api;
  char *data_dir;
  LbPhase phase;
  LbCreds *session;   /* the saved session, NULL before the first login */
  LbCreds *attempt;   /* a login_submit being tried, else NULL */
  gboolean want_online;
  char *self_id;
  char *self_name;
  GSocketClient *client;
  LbConn *conn;
  GCancellable *cancel;  /* the login's lifetime: file loads */
  GQueue queue;          /* LbRequest accepted but not yet sent, in op order */
  GHashTable *inflight;  /* req number → LbRequest */
  guint64 next_req;
  GHashTable *acks;      /* host seq → network seq */
  guint reconnect_id;
  guint backoff_s;
};

typedef struct {
  LbLogin *login;
  LbRequest *req;
} LbLoad;

static void lb_conn_failed (LbLogin *login, const char *why);

/* ------------------------------------------------------------ helpers */

static const char *
js (json_t *obj, const char *key)
{
  json_t *v = json_object_get (obj, key);
  return json_is_string (v) ? json_string_value (v) : NULL;
}

static gboolean
jb (json_t *obj, const char *key)
{
  return json_is_true (json_object_get (obj, key));
}

static gint64
ji (json_t *obj, const char *key, gint64 fallback)
{
  json_t *v = json_object_get (obj, key);
  return json_is_integer (v) ? (gint64) json_integer_value (v) : fallback;
}

static void
lb_set_str (json_t *obj, const char *key, const char *value)
{
  if (value != NULL)
    json_object_set_new (obj, key, json_string (value));
}

static guint64 *
lb_u64_dup (guint64 v)
{
  guint64 *p = g_new (guint64, 1);
  *p = v;
  return p;
}

static gint64
lb_now_ms (void)
{
  return g_get_real_time () / 1000;
}

static void
lb_creds_free (LbCreds *c)
{
  if (c == NULL)
    return;
  g_free (c->server);
  g_free (c->user);
  if (c->password != NULL)
    explicit_bzero (c->password, strlen (c->password));
  g_free (c->password);
  g_free (c);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LbCreds, lb_creds_free)

static void
lb_request_free (LbRequest *r)
{
  if (r == NULL)
    return;
  g_free (r->chat_id);
  if (r->req != NULL)
    json_decref (r->req);
  g_free (r);
}

static LbRequest *
lb_request_new (LbAnswer answer, guint64 op_id, json_t *req)
{
  LbRequest *r = g_new0 (LbRequest, 1);
  r->answer = answer;
  r->op_id = op_id;
  r->req = req;
  r->ready = TRUE;
  return r;
}

/* Writes a private file atomically: sessions hold a password. */
static gboolean
lb_write_file (const char *path, const void *data, gsize len, GError **error)
{
  return g_file_set_contents_full (path, data, (gssize) len, G_FILE_SET_CONTENTS_CONSISTENT,
                                   0600, error);
}

static char *
lb_c_strdup (const char *s)
{
  /* The host frees error strings with free(). */
  return strdup (s);
}

static void
lb_log (LbLogin *login, PaLogLevel level, const char *fmt, ...) G_GNUC_PRINTF (3, 4);

static void
lb_log (LbLogin *login, PaLogLevel level, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  login->api->log (login->host, level, msg);
}

static void
lb_fail_op (LbLogin *login, guint64 op_id, PaResultCode code, const char *error)
{
  PaOpResult r = {
    .struct_size = sizeof (PaOpResult),
    .code = code,
    .error = error,
  };
  login->api->op_result (login->host, op_id, &r);
}

static void
lb_op_ok (LbLogin *login, guint64 op_id, const char *legacy_id, gint64 ts_ms,
          const char *cursor)
{
  PaOpResult r = {
    .struct_size = sizeof (PaOpResult),
    .code = PA_RESULT_OK,
    .legacy_id = legacy_id,
    .legacy_ts_ms = ts_ms,
    .cursor = cursor,
  };
  login->api->op_result (login->host, op_id, &r);
}

/* The result code for one of loopnet's error sentences (its answers carry no
 * code, only text).  Unknown text is a permanent failure. */
static PaResultCode
lb_code_for_error (const char *error)
{
  static const struct {
    const char *prefix;
    PaResultCode code;
  } map[] = {
    { "not logged in", PA_RESULT_NOT_CONNECTED },
    { "no such chat", PA_RESULT_NOT_FOUND },
    { "no such message", PA_RESULT_NOT_FOUND },
    { "no such user", PA_RESULT_NOT_FOUND },
    { "unknown users", PA_RESULT_NOT_FOUND },
    { "not a member of", PA_RESULT_FORBIDDEN },
    { "cannot edit someone else's message", PA_RESULT_FORBIDDEN },
    { "members of a DM cannot change", PA_RESULT_UNSUPPORTED },
    { "unknown chat field", PA_RESULT_UNSUPPORTED },
    { "unknown op", PA_RESULT_UNSUPPORTED },
    { "rate limited", PA_RESULT_RATE_LIMITED },
    { "too large", PA_RESULT_TOO_LARGE },
    { "try again", PA_RESULT_TEMPORARY },
    /* malformed requests ("empty message", "edit without text", "reaction
     * without key", "resolve without identifier"): permanent, by default */
  };
  for (gsize i = 0; error != NULL && i < G_N_ELEMENTS (map); i++)
    if (g_str_has_prefix (error, map[i].prefix))
      return map[i].code;
  return PA_RESULT_PERMANENT;
}

/* ------------------------------------------------------------ event building */

static const PaChatFeatures lb_dm_features = {
  sizeof (PaChatFeatures), LB_MSG_CAPS, LB_MAX_MEDIA, 0, 0,
};
static const PaChatFeatures lb_group_features = {
  sizeof (PaChatFeatures), LB_MSG_CAPS | PA_CAP_GROUPS, LB_MAX_MEDIA, 0, 0,
};

static PaChatKind
lb_chat_kind (const char *kind)
{
  return g_strcmp0 (kind, "dm") == 0 ? PA_CHAT_DM : PA_CHAT_GROUP;
}

static PaMsgKind
lb_media_kind (const char *kind, const char *mimetype)
{
  static const struct {
    const char *name;
    PaMsgKind kind;
  } names[] = {
    { "image", PA_MSG_IMAGE }, { "video", PA_MSG_VIDEO }, { "audio", PA_MSG_AUDIO },
    { "voice", PA_MSG_VOICE }, { "file", PA_MSG_FILE },   { "sticker", PA_MSG_STICKER },
  };
  for (gsize i = 0; kind != NULL && i < G_N_ELEMENTS (names); i++)
    if (strcmp (kind, names[i].name) == 0)
      return names[i].kind;
  if (mimetype == NULL)
    return PA_MSG_FILE;
  if (g_str_has_prefix (mimetype, "image/"))
    return PA_MSG_IMAGE;
  if (g_str_has_prefix (mimetype, "video/"))
    return PA_MSG_VIDEO;
  if (g_str_has_prefix (mimetype, "audio/"))
    return PA_MSG_AUDIO;
  return PA_MSG_FILE;
}

static const char *
lb_media_kind_name (PaMsgKind kind)
{
  switch (kind)
    {
    case PA_MSG_IMAGE:
      return "image";
    case PA_MSG_VIDEO:
      return "video";
    case PA_MSG_AUDIO:
      return "audio";
    case PA_MSG_VOICE:
      return "voice";
    case PA_MSG_STICKER:
      return "sticker";
    case PA_MSG_FILE:
    case PA_MSG_TEXT:
    case PA_MSG_NOTICE:
    case PA_MSG_EMOTE:
    case PA_MSG_LOCATION:
    default:
      return "file";
    }
}

static gboolean
lb_is_media_kind (PaMsgKind kind)
{
  return kind == PA_MSG_IMAGE || kind == PA_MSG_VIDEO || kind == PA_MSG_AUDIO
         || kind == PA_MSG_VOICE || kind == PA_MSG_FILE || kind == PA_MSG_STICKER;
}

/* A file name that cannot escape the media directory, new for every
 * emission: an emitted file is the host's (FILES in plugin.h), so a
 * redelivered message must not rewrite the file the host may be uploading. */
static char *
lb_media_file_name (const char *chat, const char *id, const char *name)
{
  g_autofree char *key = g_strdup_printf ("%s\n%s\n%" G_GINT64_FORMAT "\n%08x%08x", chat, id,
                                          g_get_real_time (), g_random_int (), g_random_int ());
  g_autofree char *hash = g_compute_checksum_for_string (G_CHECKSUM_SHA256, key, -1);
  g_autoptr (GString) safe = g_string_new (NULL);
  for (const char *p = name; p != NULL && *p != '\0' && safe->len < 80; p++)
    g_string_append_c (safe, g_ascii_isalnum (*p) || *p == '.' || *p == '-' || *p == '_' ? *p
                                                                                       : '_');
  if (safe->len == 0 || safe->str[0] == '.')
    g_string_prepend (safe, "file");
  return g_strdup_printf ("%.16s-%s", hash, safe->str);
}

/* Writes a new private file; never replaces or follows an existing one. */
static gboolean
lb_write_new_file (const char *path, const guchar *data, gsize len, GError **error)
{
  int fd = g_open (path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "cannot create %s: %s",
                   path, g_strerror (saved));
      return FALSE;
    }
  gsize done = 0;
  while (done < len)
    {
      gssize n = write (fd, data + done, len - done);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          int saved = errno;
          close (fd);
          g_unlink (path);
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "cannot write %s: %s",
                       path, g_strerror (saved));
          return FALSE;
        }
      done += (gsize) n;
    }
  if (close (fd) != 0)
    {
      int saved = errno;
      g_unlink (path);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "cannot write %s: %s",
                   path, g_strerror (saved));
      return FALSE;
    }
  return TRUE;
}

/* Decodes a message's media into a new file of data_dir/media/ and returns
 * its path, or fails with G_IO_ERROR_NO_SPACE when it would take the data
 * dir over its budget (budget_left), G_IO_ERROR_INVALID_DATA when the
 * network sent no data. */
static char *
lb_store_media (PaHost *host, const PaHostApi *api, const char *data_dir, const char *chat,
                const char *id, json_t *media, gsize *size, GError **error)
{
  const char *b64 = js (media, "data_b64");
  if (b64 == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "media without data_b64");
      return NULL;
    }
  g_autofree char *dir = g_build_filename (data_dir, "media", NULL);
  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "cannot create %s: %s", dir,
                   g_strerror (saved));
      return NULL;
    }
  gsize len = 0;
  g_autofree guchar *data = g_base64_decode (b64, &len);
  gint64 left = api->budget_left (host);
  if (left >= 0 && (guint64) len > (guint64) left)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE,
                   "%" G_GSIZE_FORMAT " bytes, and the login's storage budget has %" G_GINT64_FORMAT
                   " left", len, left);
      *size = len;
      return NULL;
    }
  g_autofree char *file = lb_media_file_name (chat, id, js (media, "name"));
  g_autofree char *path = g_build_filename (dir, file, NULL);
  if (!lb_write_new_file (path, data, len, error))
    return NULL;
  *size = len;
  return g_steal_pointer (&path);
}

typedef enum {
  LB_EMIT_OK,
  LB_EMIT_INVALID, /* the network sent something unusable: drop it */
  LB_EMIT_RETRY,   /* a local failure: do not ack, let the network redeliver */
} LbEmitStatus;

/* Emits one message object (live event, history entry or import entry).
 * `data_dir` NULL means media cannot be stored (imports). */
static LbEmitStatus
lb_emit_message (PaHost *host, const PaHostApi *api, const char *self_id, const char *data_dir,
                 json_t *m, const char *chat_fallback, guint64 stream_order, guint64 *seq,
                 char **why)
{
  const char *id = js (m, "id");
  const char *chat = js (m, "chat") != NULL ? js (m, "chat") : chat_fallback;
  const char *from = js (m, "from");
  if (id == NULL || chat == NULL || from == NULL)
    {
      *why = g_strdup ("message without id, chat or from");
      return LB_EMIT_INVALID;
    }

  PaContent content = { .struct_size = sizeof (PaContent), .kind = PA_MSG_TEXT };
  content.text = js (m, "text");
  content.html = js (m, "html");
  content.reply_to = js (m, "reply_to");
  content.forwarded_from = js (m, "forwarded_from");
  if (jb (m, "emote"))
    content.kind = PA_MSG_EMOTE;
  else if (jb (m, "notice"))
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
          not_stored = g_strdup_printf ("file not received: %s (%s)",
                                        js (media, "name") != NULL ? js (media, "name") : "file",
                                        err->message);
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
      content.mimetype = js (media, "mimetype");
      content.kind = lb_media_kind (js (media, "kind"), content.mimetype);
      content.media_path = media_path;
      content.media_name = js (media, "name");
      content.media_size = size;
      content.width = (uint32_t) CLAMP (ji (media, "width", 0), 0, G_MAXUINT32);
      content.height = (uint32_t) CLAMP (ji (media, "height", 0), 0, G_MAXUINT32);
      content.duration_ms = (uint32_t) CLAMP (ji (media, "duration_ms", 0), 0, G_MAXUINT32);
        }
    }
  else if (content.text == NULL && content.kind != PA_MSG_LOCATION)
    {
      *why = g_strdup ("message without text or media");
      return LB_EMIT_INVALID;
    }

  PaMember sender = {
    .struct_size = sizeof (PaMember), .id = from, .name = js (m, "from_name"),
  };
  const char *chat_kind = js (m, "chat_kind");
  PaChatInfo info = {
    .struct_size = sizeof (PaChatInfo),
    .id = chat,
    .kind = lb_chat_kind (chat_kind),
    .name = js (m, "chat_name"),
    .features = lb_chat_kind (chat_kind) == PA_CHAT_DM ? &lb_dm_features : &lb_group_features,
  };
  PaEvent ev = {
    .struct_size = sizeof (PaEvent),
    .type = PA_EV_MESSAGE,
    .chat_id = chat,
    .sender_id = from,
    .timestamp_ms = ji (m, "ts", lb_now_ms ()),
    .stream_order = stream_order,
    .message_id = id,
    .txn_id = js (m, "txn"),
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

/* Fills `out` from a {"id","name","identifier","power"} object. */
static gboolean
lb_member_from_json (json_t *o, PaMember *out)
{
  if (js (o, "id") == NULL)
    return FALSE;
  *out = (PaMember){
    .struct_size = sizeof (PaMember),
    .id = js (o, "id"),
    .name = js (o, "name"),
    .identifier = js (o, "identifier"),
    .power = (int32_t) CLAMP (ji (o, "power", 0), 0, 100),
  };
  return TRUE;
}

static LbEmitStatus
lb_emit_chat (PaHost *host, const PaHostApi *api, json_t *c, guint64 *seq, char **why)
{
  const char *id = js (c, "id");
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
  PaChatKind kind = lb_chat_kind (js (c, "kind"));
  PaChatInfo info = {
    .struct_size = sizeof (PaChatInfo),
    .id = id,
    .kind = kind,
    .name = js (c, "name"),
    .topic = js (c, "topic"),
    .members = json_is_array (members) ? mv : NULL,
    .n_members = n,
    .members_complete = json_is_array (members),
    .features = kind == PA_CHAT_DM ? &lb_dm_features : &lb_group_features,
  };
  PaEvent ev = {
    .struct_size = sizeof (PaEvent),
    .type = PA_EV_CHAT_INFO,
    .chat_id = id,
    .timestamp_ms = ji (c, "ts", lb_now_ms ()),
    .chat = &info,
  };
  *seq = api->emit (host, &ev);
  return LB_EMIT_OK;
}

static LbEmitStatus
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
    .chat_id = js (e, "chat"),
    .sender_id = js (e, "from"),
    .timestamp_ms = ji (e, "ts", lb_now_ms ()),
    .stream_order = net_seq,
    .target_id = js (e, "target"),
  };
  ev.from_me = ev.sender_id != NULL && g_strcmp0 (ev.sender_id, login->self_id) == 0;
  gboolean need_chat = TRUE, need_target = FALSE;
  g_autofree const char **keys = NULL;

  if (strcmp (type, "edit") == 0)
    {
      ev.type = PA_EV_EDIT;
      ev.message_id = js (e, "id");
      content.text = js (e, "text");
      content.html = js (e, "html");
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
      ev.type = jb (e, "remove") ? PA_EV_REACTION_REMOVE : PA_EV_REACTION;
      ev.reaction_key = js (e, "key");
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
      ev.typing = jb (e, "typing");
      ev.typing_timeout_ms = (uint32_t) CLAMP (ji (e, "timeout_ms", 0), 0, G_MAXUINT32);
    }
  else if (strcmp (type, "read") == 0)
    {
      ev.type = PA_EV_READ_RECEIPT;
      ev.message_id = js (e, "id");
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
      static const struct {
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
        if (g_strcmp0 (js (e, "presence"), states[i].name) == 0)
          {
            ev.presence = states[i].presence;
            known = TRUE;
          }
      ev.status_text = js (e, "status");
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

/* ------------------------------------------------------------ connection */

static LbConn *
lb_conn_ref (LbConn *c)
{
  c->refs++;
  return c;
}

static void
lb_conn_unref (LbConn *c)
{
  if (--c->refs > 0)
    return;
  g_clear_handle_id (&c->timeout_id, g_source_remove);
  g_clear_object (&c->sock);
  g_clear_object (&c->cancel);
  g_byte_array_unref (c->inbuf);
  g_queue_clear_full (&c->outq, (GDestroyNotify) g_bytes_unref);
  g_free (c);
}

/* Detaches the connection from its login: the socket is shut down at once so
 * the network sees EOF; memory goes with the last pending callback. */
static void
lb_conn_abandon (LbConn *c)
{
  c->login = NULL;
  g_clear_handle_id (&c->timeout_id, g_source_remove);
  g_cancellable_cancel (c->cancel);
  if (c->sock != NULL)
    g_socket_shutdown (g_socket_connection_get_socket (c->sock), TRUE, TRUE, NULL);
  lb_conn_unref (c);
}

static void lb_write_next (LbConn *c);

static void
lb_on_written (GObject *src, GAsyncResult *res, gpointer data)
{
  LbConn *c = data;
  g_autoptr (GError) err = NULL;
  gboolean ok = g_output_stream_write_all_finish (G_OUTPUT_STREAM (src), res, NULL, &err);
  if (c->login == NULL)
    {
      lb_conn_unref (c);
      return;
    }
  if (!ok)
    {
      g_autofree char *why = g_strdup_printf ("write failed: %s", err->message);
      lb_conn_failed (c->login, why);
      lb_conn_unref (c);
      return;
    }
  g_bytes_unref (g_queue_pop_head (&c->outq));
  lb_write_next (c);
  lb_conn_unref (c);
}

static void
lb_write_next (LbConn *c)
{
  GBytes *line = g_queue_peek_head (&c->outq);
  c->writing = line != NULL;
  if (line == NULL)
    return;
  gsize len = 0;
  const void *data = g_bytes_get_data (line, &len);
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (c->sock));
  g_output_stream_write_all_async (out, data, len, G_PRIORITY_DEFAULT, c->cancel, lb_on_written,
                                   lb_conn_ref (c));
}

static void
lb_conn_send (LbConn *c, json_t *msg)
{
  if (c == NULL || c->sock == NULL)
    return;
  char *text = json_dumps (msg, JSON_COMPACT);
  if (text == NULL)
    {
      g_warning ("cannot serialise a request");
      return;
    }
  gsize len = strlen (text);
  char *line = g_malloc (len + 1);
  memcpy (line, text, len);
  line[len] = '\n';
  free (text);
  g_queue_push_tail (&c->outq, g_bytes_new_take (line, len + 1));
  if (!c->writing)
    lb_write_next (c);
}

static void
lb_ack (LbLogin *login, guint64 net_seq)
{
  if (login->phase != LB_PHASE_ONLINE)
    return; /* the network redelivers what was not acked */
  g_autoptr (json_t) msg = json_pack ("{s:s, s:I}", "op", "ack", "seq", (json_int_t) net_seq);
  lb_conn_send (login->conn, msg);
}

/* Fails every operation sent but not answered, and the queued ones. */
static void
lb_fail_pending (LbLogin *login, const char *why)
{
  /* NOT_CONNECTED: the host retries once the login is back.  The network
   * may have applied a request it had not answered yet; loopnet has no
   * idempotency key, so a retried send could arrive twice. */
  g_autofree char *msg = g_strdup_printf ("The loopback network connection was lost (%s)", why);
  GHashTableIter it;
  gpointer value;
  g_autoptr (GPtrArray) failed = g_ptr_array_new_with_free_func ((GDestroyNotify) lb_request_free);
  g_hash_table_iter_init (&it, login->inflight);
  while (g_hash_table_iter_next (&it, NULL, &value))
    {
      g_ptr_array_add (failed, value);
      g_hash_table_iter_steal (&it);
    }
  for (guint i = 0; i < failed->len; i++)
    lb_fail_op (login, ((LbRequest *) failed->pdata[i])->op_id, PA_RESULT_NOT_CONNECTED, msg);
}

static void
lb_drop_connection (LbLogin *login, const char *why)
{
  if (login->conn != NULL)
    lb_conn_abandon (g_steal_pointer (&login->conn));
  login->phase = LB_PHASE_IDLE;
  lb_fail_pending (login, why);
}

static void lb_start_connection (LbLogin *login);

static gboolean
lb_on_reconnect (gpointer data)
{
  LbLogin *login = data;
  login->reconnect_id = 0;
  if (login->conn == NULL && login->session != NULL && login->want_online)
    lb_start_connection (login);
  return G_SOURCE_REMOVE;
}

static void
lb_schedule_reconnect (LbLogin *login, const char *why)
{
  g_clear_handle_id (&login->reconnect_id, g_source_remove);
  guint delay_s = MIN (login->backoff_s, lb_plugin.backoff_max_s);
  g_autofree char *msg
      = g_strdup_printf ("Disconnected from the loopback network (%s); retrying in %u s", why,
                         delay_s);
  login->api->login_state (login->host, PA_STATE_TRANSIENT_DISCONNECT, msg);
  login->reconnect_id = g_timeout_add (delay_s * 1000, lb_on_reconnect, login);
  login->backoff_s = MIN (login->backoff_s * 2, lb_plugin.backoff_max_s);
}

static void
lb_ask_credentials (LbLogin *login, const char *instructions)
{
  const char *server
      = login->session != NULL ? login->session->server : lb_plugin.default_server;
  const PaField fields[] = {
    { sizeof (PaField), "server", "Server (host:port)", PA_FIELD_TEXT, server, false, NULL },
    { sizeof (PaField), "username", "User name", PA_FIELD_TEXT, NULL, false, NULL },
    { sizeof (PaField), "password", "Password", PA_FIELD_PASSWORD, NULL, false, NULL },
  };
  PaLoginStep step = {
    .struct_size = sizeof (PaLoginStep),
    .kind = PA_STEP_USER_INPUT,
    .step_id = "credentials",
    .instructions = instructions,
    .fields = fields,
    .n_fields = G_N_ELEMENTS (fields),
  };
  login->api->login_step (login->host, &step);
}

/* The connection ended or could not be made. */
static void
lb_conn_failed (LbLogin *login, const char *why)
{
  gboolean pairing = login->phase == LB_PHASE_PAIRING;
  lb_drop_connection (login, why);
  if (login->attempt != NULL)
    {
      g_clear_pointer (&login->attempt, lb_creds_free);
      g_autofree char *msg
          = g_strdup_printf ("%s (%s). Check the server address and try again.",
                             pairing ? "The connection was lost during pairing"
                                     : "Could not log in to the loopback network",
                             why);
      login->api->login_state (login->host, PA_STATE_UNKNOWN_ERROR, msg);
      lb_ask_credentials (login, msg);
      if (login->session != NULL && login->want_online)
        lb_schedule_reconnect (login, "a new login failed");
      return;
    }
  if (login->session != NULL && login->want_online)
    lb_schedule_reconnect (login, why);
}

static void
lb_forget_session (LbLogin *login)
{
  g_autofree char *path = g_build_filename (login->data_dir, "session.json", NULL);
  if (g_unlink (path) != 0 && errno != ENOENT)
    lb_log (login, PA_LOG_WARNING, "cannot delete %s: %s", path, g_strerror (errno));
  g_clear_pointer (&login->session, lb_creds_free);
  login->want_online = FALSE;
  g_clear_handle_id (&login->reconnect_id, g_source_remove);
}

static gboolean
lb_save_session (LbLogin *login, const LbCreds *creds, GError **error)
{
  g_autoptr (json_t) obj = json_pack ("{s:s, s:s, s:s}", "server", creds->server, "user",
                                      creds->user, "password", creds->password);
  if (obj == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "invalid credentials");
      return FALSE;
    }
  g_autofree char *text = json_dumps (obj, JSON_COMPACT);
  g_autofree char *path = g_build_filename (login->data_dir, "session.json", NULL);
  gboolean ok = text != NULL && lb_write_file (path, text, strlen (text), error);
  if (text != NULL)
    explicit_bzero (text, strlen (text));
  return ok;
}

static LbCreds *
lb_load_session (const char *data_dir, GError **error)
{
  g_autofree char *path = g_build_filename (data_dir, "session.json", NULL);
  GStatBuf st;
  if (g_stat (path, &st) != 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "%s", g_strerror (saved));
      return NULL;
    }
  if (st.st_size > LB_MAX_SESSION_FILE)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "session file too large");
      return NULL;
    }
  g_autofree char *text = NULL;
  gsize len = 0;
  if (!g_file_get_contents (path, &text, &len, error))
    return NULL;
  json_error_t jerr;
  g_autoptr (json_t) obj = json_loadb (text, len, 0, &jerr);
  explicit_bzero (text, len);
  if (obj == NULL || js (obj, "server") == NULL || js (obj, "user") == NULL
      || js (obj, "password") == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "session file is corrupt");
      return NULL;
    }
  LbCreds *c = g_new0 (LbCreds, 1);
  c->server = g_strdup (js (obj, "server"));
  c->user = g_strdup (js (obj, "user"));
  c->password = g_strdup (js (obj, "password"));
  return c;
}

static void
lb_flush (LbLogin *login)
{
  LbRequest *r;
  while ((r = g_queue_peek_head (&login->queue)) != NULL && r->ready)
    {
      g_queue_pop_head (&login->queue);
      if (login->phase != LB_PHASE_ONLINE)
        {
          lb_fail_op (login, r->op_id, PA_RESULT_NOT_CONNECTED, "Not connected to the loopback network");
          lb_request_free (r);
          continue;
        }
      guint64 n = ++login->next_req;
      json_object_set_new (r->req, "req", json_integer ((json_int_t) n));
      lb_conn_send (login->conn, r->req);
      g_clear_pointer (&r->req, json_decref);
      r->slot = NULL;
      g_hash_table_insert (login->inflight, lb_u64_dup (n), r);
    }
}

static void
lb_online (LbLogin *login)
{
  login->phase = LB_PHASE_ONLINE;
  login->backoff_s = LB_BACKOFF_MIN_S;
  if (login->attempt != NULL)
    {
      g_autoptr (GError) err = NULL;
      if (!lb_save_session (login, login->attempt, &err))
        {
          lb_log (login, PA_LOG_WARNING, "cannot save the session: %s", err->message);
          login->api->notice (login->host, "Logged in, but the session could not be saved: "
                                           "you will have to log in again after a restart.");
        }
      lb_creds_free (login->session);
      login->session = g_steal_pointer (&login->attempt);
      login->want_online = TRUE;
      PaLoginStep step = {
        .struct_size = sizeof (PaLoginStep),
        .kind = PA_STEP_COMPLETE,
        .step_id = "complete",
        .instructions = "Logged in to the loopback network.",
        .remote_id = login->self_id,
        .remote_name = login->self_name,
      };
      login->api->login_step (login->host, &step);
    }
  login->api->login_state (login->host, PA_STATE_CONNECTED, NULL);
}

static void
lb_refused (LbLogin *login, const char *error)
{
  g_autofree char *why = g_strdup_printf ("The loopback network refused the login: %s",
                                          error != NULL ? error : "bad credentials");
  lb_drop_connection (login, why);
  login->api->login_state (login->host, PA_STATE_BAD_CREDENTIALS, why);
  if (login->attempt != NULL)
    {
      g_clear_pointer (&login->attempt, lb_creds_free);
      g_autofree char *msg = g_strdup_printf ("%s. Check the user name and password.", why);
      lb_ask_credentials (login, msg);
      if (login->session != NULL && login->want_online)
        lb_schedule_reconnect (login, "a new login was refused");
      return;
    }
  /* A saved session that no longer works needs the agent: stop retrying. */
  login->want_online = FALSE;
}

static void
lb_on_hello (LbLogin *login, json_t *msg)
{
  if (login->phase != LB_PHASE_HELLO)
    {
      lb_log (login, PA_LOG_WARNING, "unexpected hello answer");
      return;
    }
  if (!jb (msg, "ok"))
    {
      lb_refused (login, js (msg, "error"));
      return;
    }
  if (js (msg, "user_id") == NULL)
    {
      lb_conn_failed (login, "the hello answer has no user_id");
      return;
    }
  g_free (login->self_id);
  login->self_id = g_strdup (js (msg, "user_id"));
  g_free (login->self_name);
  login->self_name = g_strdup (js (msg, "name"));
  if (jb (msg, "need_pairing"))
    login->phase = LB_PHASE_PAIRING;
  else
    lb_online (login);
}

static void
lb_on_pairing (LbLogin *login, json_t *msg)
{
  if (login->phase != LB_PHASE_PAIRING)
    {
      lb_log (login, PA_LOG_WARNING, "pairing event outside of pairing");
      return;
    }
  g_autofree char *path = NULL;
  const char *png = js (msg, "png_b64");
  if (png != NULL)
    {
      gsize len = 0;
      g_autofree guchar *data = g_base64_decode (png, &len);
      g_autoptr (GError) err = NULL;
      path = g_build_filename (login->data_dir, "pairing.png", NULL);
      if (len == 0 || !lb_write_file (path, data, len, &err))
        {
          lb_log (login, PA_LOG_WARNING, "cannot write the pairing image: %s",
                  err != NULL ? err->message : "empty image");
          g_clear_pointer (&path, g_free);
        }
    }
  PaLoginStep step = {
    .struct_size = sizeof (PaLoginStep),
    .kind = PA_STEP_DISPLAY_AND_WAIT,
    .step_id = "pairing",
    .instructions = "Confirm this pairing code (or scan the image) on a device already logged "
                    "in to your loopback account.",
    .display_text = js (msg, "code"),
    .image_path = path,
  };
  login->api->login_step (login->host, &step);
}

static void
lb_on_event (LbLogin *login, const char *type, json_t *msg)
{
  if (login->phase != LB_PHASE_ONLINE)
    {
      /* Not acked, so the network delivers it again once we are online. */
      lb_log (login, PA_LOG_DEBUG, "ignoring a %s event before the login completed", type);
      return;
    }
  gint64 net_seq = ji (msg, "seq", 0);
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

static void
lb_answer (LbLogin *login, LbRequest *r, json_t *msg)
{
  const PaHostApi *api = login->api;
  if (!jb (msg, "ok"))
    {
      const char *err = js (msg, "error");
      lb_fail_op (login, r->op_id, lb_code_for_error (err),
                  err != NULL ? err : "The loopback network refused the operation");
      return;
    }
  guint64 seq = 0;
  g_autofree char *why = NULL;
  switch (r->answer)
    {
    case LB_ANS_ID:
      /* loopnet answers a send with its id only: the timestamp is 0 (unknown)
       * unless the answer has a "ts" */
      lb_op_ok (login, r->op_id, js (msg, "id"), ji (msg, "ts", 0), NULL);
      break;
    case LB_ANS_CHAT:
      {
        json_t *chat = json_object_get (msg, "chat");
        if (lb_emit_chat (login->host, api, chat, &seq, &why) != LB_EMIT_OK)
          lb_fail_op (login, r->op_id, PA_RESULT_PERMANENT,
                      "The loopback network sent a malformed chat");
        else
          lb_op_ok (login, r->op_id, js (chat, "id"), 0, NULL);
        break;
      }
    case LB_ANS_USER:
      {
        json_t *contact = json_object_get (msg, "contact");
        if (lb_emit_contact (login->host, api, contact, &seq, &why) != LB_EMIT_OK)
          lb_fail_op (login, r->op_id, PA_RESULT_PERMANENT,
                      "The loopback network sent a malformed contact");
        else
          lb_op_ok (login, r->op_id, js (contact, "id"), 0, NULL);
        break;
      }
    case LB_ANS_CONTACTS:
      {
        json_t *list = json_object_get (msg, "contacts");
        gsize n = json_is_array (list) ? MIN (json_array_size (list), LB_MAX_LIST) : 0;
        for (gsize i = 0; i < n; i++)
          {
            PaMember m;
            if (lb_member_from_json (json_array_get (list, i), &m))
              api->op_contact (login->host, r->op_id, &m);
          }
        lb_op_ok (login, r->op_id, NULL, 0, NULL);
        break;
      }
    case LB_ANS_HISTORY:
      {
        json_t *list = json_object_get (msg, "messages");
        gsize n = json_is_array (list) ? MIN (json_array_size (list), LB_MAX_HISTORY) : 0;
        for (gsize i = 0; i < n; i++)
          {
            g_clear_pointer (&why, g_free);
            if (lb_emit_message (login->host, api, login->self_id, login->data_dir,
                                 json_array_get (list, i), r->chat_id, 0, &seq, &why)
                != LB_EMIT_OK)
              lb_log (login, PA_LOG_WARNING, "skipping a history message: %s", why);
          }
        PaEvent end = {
          .struct_size = sizeof (PaEvent),
          .type = PA_EV_BACKFILL_END,
          .chat_id = r->chat_id,
          .timestamp_ms = lb_now_ms (),
        };
        api->emit (login->host, &end);
        lb_op_ok (login, r->op_id, NULL, 0, js (msg, "next"));
        break;
      }
    case LB_ANS_LOGOUT:
      lb_op_ok (login, r->op_id, NULL, 0, NULL);
      lb_forget_session (login);
      lb_drop_connection (login, "logged out");
      api->login_state (login->host, PA_STATE_LOGGED_OUT, "Logged out of the loopback network");
      break;
    default:
      g_assert_not_reached ();
    }
}

static void
lb_handle_line (LbLogin *login, const char *line, gsize len)
{
  if (len == 0)
    return;
  json_error_t jerr;
  g_autoptr (json_t) msg = json_loadb (line, len, JSON_REJECT_DUPLICATES, &jerr);
  if (!json_is_object (msg))
    {
      lb_conn_failed (login, "the network sent malformed JSON");
      return;
    }
  json_t *re = json_object_get (msg, "re");
  if (json_is_string (re) && strcmp (json_string_value (re), "hello") == 0)
    {
      lb_on_hello (login, msg);
      return;
    }
  if (json_is_integer (re))
    {
      guint64 key = (guint64) json_integer_value (re);
      gpointer orig_key = NULL, value = NULL;
      if (!g_hash_table_steal_extended (login->inflight, &key, &orig_key, &value))
        {
          lb_log (login, PA_LOG_WARNING, "answer to an unknown request %" G_GUINT64_FORMAT, key);
          return;
        }
      g_free (orig_key);
      lb_answer (login, value, msg);
      lb_request_free (value);
      return;
    }
  const char *ev = js (msg, "ev");
  if (ev == NULL)
    lb_log (login, PA_LOG_WARNING, "a line that is neither an answer nor an event");
  else if (strcmp (ev, "pairing") == 0)
    lb_on_pairing (login, msg);
  else if (strcmp (ev, "paired") == 0)
    {
      if (login->phase == LB_PHASE_PAIRING)
        lb_online (login);
    }
  else
    lb_on_event (login, ev, msg);
}

static void lb_read_more (LbConn *c);

static void
lb_on_read (GObject *src, GAsyncResult *res, gpointer data)
{
  LbConn *c = data;
  g_autoptr (GError) err = NULL;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (src), res, &err);
  LbLogin *login = c->login;
  if (login == NULL)
    {
      lb_conn_unref (c);
      return;
    }
  if (n <= 0)
    {
      lb_conn_failed (login, n < 0 ? err->message : "the network closed the connection");
      lb_conn_unref (c);
      return;
    }
  g_byte_array_append (c->inbuf, c->chunk, (guint) n);

  /* Handle every complete line; handling one may drop this connection. */
  gsize start = 0;
  while (c->login == login)
    {
      guint8 *nl = memchr (c->inbuf->data + c->scanned, '\n', c->inbuf->len - c->scanned);
      if (nl == NULL)
        {
          c->scanned = c->inbuf->len;
          break;
        }
      gsize end = (gsize) (nl - c->inbuf->data);
      c->scanned = end + 1;
      if (end - start > LB_MAX_LINE)
        {
          lb_conn_failed (login, "the network sent a line longer than 16 MiB");
          break;
        }
      lb_handle_line (login, (const char *) c->inbuf->data + start, end - start);
      start = end + 1;
    }
  if (c->login != login)
    {
      lb_conn_unref (c);
      return;
    }
  g_byte_array_remove_range (c->inbuf, 0, (guint) start);
  c->scanned -= start;
  if (c->inbuf->len > LB_MAX_LINE)
    {
      lb_conn_failed (login, "the network sent a line longer than 16 MiB");
      lb_conn_unref (c);
      return;
    }
  lb_read_more (c);
  lb_conn_unref (c);
}

static void
lb_read_more (LbConn *c)
{
  GInputStream *in = g_io_stream_get_input_stream (G_IO_STREAM (c->sock));
  g_input_stream_read_async (in, c->chunk, sizeof c->chunk, G_PRIORITY_DEFAULT, c->cancel,
                             lb_on_read, lb_conn_ref (c));
}
static void
lb_on_connected (GObject *src, GAsyncResult *res, gpointer data)
{
  LbConn *c = data;
  g_autoptr (GError) err = NULL;
  GSocketConnection *sock
      = g_socket_client_connect_to_host_finish (G_SOCKET_CLIENT (src), res, &err);
  LbLogin *login = c->login;
  if (login == NULL)
    {
      g_clear_object (&sock);
      lb_conn_unref (c);
      return;
    }
  g_clear_handle_id (&c->timeout_id, g_source_remove);
  if (sock == NULL)
    {
      lb_conn_failed (login, err->message);
      lb_conn_unref (c);
      return;
    }
  c->sock = sock;
  login->phase = LB_PHASE_HELLO;
  lb_read_more (c);
  const LbCreds *cr = login->attempt != NULL ? login->attempt : login->session;
  g_autoptr (json_t) hello
      = json_pack ("{s:s, s:s, s:s}", "op", "hello", "user", cr->user, "password", cr->password);
  lb_conn_send (c, hello);
  lb_conn_unref (c);
}

static gboolean
lb_on_connect_timeout (gpointer data)
{
  LbConn *c = data;
  c->timeout_id = 0;
  if (c->login != NULL)
    lb_conn_failed (c->login, "timed out connecting");
  return G_SOURCE_REMOVE;
}

/* Connects with the login attempt's credentials, else the saved session's. */
static void
lb_start_connection (LbLogin *login)
{
  const LbCreds *cr = login->attempt != NULL ? login->attempt : login->session;
  g_return_if_fail (cr != NULL && login->conn == NULL);
  g_clear_handle_id (&login->reconnect_id, g_source_remove);
  LbConn *c = g_new0 (LbConn, 1);
  c->refs = 1;
  c->login = login;
  c->cancel = g_cancellable_new ();
  c->inbuf = g_byte_array_new ();
  g_queue_init (&c->outq);
  login->conn = c;
  login->phase = LB_PHASE_CONNECTING;
  c->timeout_id = g_timeout_add_seconds (LB_CONNECT_TIMEOUT_S, lb_on_connect_timeout, c);
  g_socket_client_connect_to_host_async (login->client, cr->server, 0, c->cancel, lb_on_connected,
                                         lb_conn_ref (c));
}

/* ------------------------------------------------------------ lifecycle */

static PaLogin *
lb_login_new (PaHost *host, bool saved, char **error)
{
  const PaHostApi *api = lb_plugin.api;
  if (api == NULL)
    {
      *error = lb_c_strdup ("the loopback plugin was not initialised");
      return NULL;
    }
  const char *dir = api->data_dir (host);
  if (dir == NULL)
    {
      *error = lb_c_strdup ("the host gave no data directory");
      return NULL;
    }
  LbLogin *login = g_new0 (LbLogin, 1);
  login->host = host;
  login->api = api;
  login->data_dir = g_strdup (dir);
  login->client = g_socket_client_new ();
  login->cancel = g_cancellable_new ();
  g_queue_init (&login->queue);
  login->inflight = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free,
                                           (GDestroyNotify) lb_request_free);
  login->acks = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_free);
  login->backoff_s = LB_BACKOFF_MIN_S;
  if (saved)
    {
      g_autoptr (GError) err = NULL;
      login->session = lb_load_session (dir, &err);
      if (login->session == NULL)
        {
          /* Keep the login: the agent can start a new login flow in it. */
          g_autofree char *msg = g_strdup_printf (
              "The saved loopback session could not be read (%s): log in again.", err->message);
          api->login_state (host, PA_STATE_BAD_CREDENTIALS, msg);
        }
      else
        {
          login->want_online = TRUE;
          api->login_state (host, PA_STATE_CONNECTING, NULL);
          lb_start_connection (login);
        }
    }
  return login;
}

static void
lb_login_free (PaLogin *pl)
{
  LbLogin *login = pl;
  if (login == NULL)
    return;
  g_clear_handle_id (&login->reconnect_id, g_source_remove);
  g_cancellable_cancel (login->cancel);
  if (login->conn != NULL)
    lb_conn_abandon (g_steal_pointer (&login->conn));
  g_queue_clear_full (&login->queue, (GDestroyNotify) lb_request_free);
  g_hash_table_destroy (login->inflight);
  g_hash_table_destroy (login->acks);
  lb_creds_free (login->session);
  lb_creds_free (login->attempt);
  g_free (login->self_id);
  g_free (login->self_name);
  g_free (login->data_dir);
  g_object_unref (login->client);
  g_object_unref (login->cancel);
  g_free (login);
}

static void
lb_login_start (PaLogin *pl, const char *flow_id)
{
  LbLogin *login = pl;
  if (g_strcmp0 (flow_id, "password") != 0)
    {
      login->api->login_state (login->host, PA_STATE_UNKNOWN_ERROR,
                               "The loopback network has only the \"password\" login flow");
      return;
    }
  lb_ask_credentials (login, "Enter the loopback server address, your user name and your "
                             "password.");
}

static void
lb_login_submit (PaLogin *pl, const char *step_id, const char *const *ids,
                 const char *const *values, size_t n)
{
  LbLogin *login = pl;
  if (g_strcmp0 (step_id, "credentials") != 0)
    {
      lb_log (login, PA_LOG_WARNING, "login_submit for step %s, which takes no input",
              step_id != NULL ? step_id : "(null)");
      return;
    }
  const char *server = NULL, *user = NULL, *password = NULL;
  for (size_t i = 0; ids != NULL && values != NULL && i < n; i++)
    {
      if (ids[i] == NULL || values[i] == NULL || strlen (values[i]) > LB_MAX_FIELD)
        continue;
      if (strcmp (ids[i], "server") == 0)
        server = values[i];
      else if (strcmp (ids[i], "username") == 0)
        user = values[i];
      else if (strcmp (ids[i], "password") == 0)
        password = values[i];
    }
  if (server == NULL || *server == '\0' || user == NULL || *user == '\0' || password == NULL)
    {
      lb_ask_credentials (login, "The server, the user name and the password are all needed "
                                 "(each at most 1024 bytes).");
      return;
    }
  g_autoptr (GError) err = NULL;
  g_autoptr (GSocketConnectable) addr = g_network_address_parse (server, 0, &err);
  if (addr == NULL || g_network_address_get_port (G_NETWORK_ADDRESS (addr)) == 0)
    {
      lb_ask_credentials (login, "The server must be written host:port, e.g. 127.0.0.1:4000.");
      return;
    }
  g_clear_handle_id (&login->reconnect_id, g_source_remove);
  lb_drop_connection (login, "a new login replaced the connection");
  lb_creds_free (login->attempt);
  login->attempt = g_new0 (LbCreds, 1);
  login->attempt->server = g_strdup (server);
  login->attempt->user = g_strdup (user);
  login->attempt->password = g_strdup (password);
  login->api->login_state (login->host, PA_STATE_CONNECTING, NULL);
  lb_start_connection (login);
}

static void
lb_login_cancel (PaLogin *pl)
{
  LbLogin *login = pl;
  if (login->attempt == NULL)
    return;
  g_clear_pointer (&login->attempt, lb_creds_free);
  lb_drop_connection (login, "login cancelled");
  if (login->session != NULL && login->want_online)
    {
      login->api->login_state (login->host, PA_STATE_CONNECTING, NULL);
      lb_start_connection (login);
    }
}

static void
lb_connect (PaLogin *pl)
{
  LbLogin *login = pl;
  if (login->conn != NULL)
    return;
  if (login->session == NULL)
    {
      login->api->login_state (login->host, PA_STATE_LOGGED_OUT,
                               "Not logged in to the loopback network");
      return;
    }
  login->want_online = TRUE;
  login->backoff_s = LB_BACKOFF_MIN_S;
  login->api->login_state (login->host, PA_STATE_CONNECTING, NULL);
  lb_start_connection (login);
}

static void
lb_disconnect (PaLogin *pl)
{
  LbLogin *login = pl;
  login->want_online = FALSE;
  g_clear_handle_id (&login->reconnect_id, g_source_remove);
  g_clear_pointer (&login->attempt, lb_creds_free);
  lb_drop_connection (login, "disconnected on request");
}

static void
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

/* ------------------------------------------------------------ operations */

/* Queues a request; it is sent when every earlier one has been. */
static void
lb_submit (LbLogin *login, LbRequest *r)
{
  if (login->phase != LB_PHASE_ONLINE)
    {
      lb_fail_op (login, r->op_id, PA_RESULT_NOT_CONNECTED, "Not connected to the loopback network");
      lb_request_free (r);
      return;
    }
  g_queue_push_tail (&login->queue, r);
  lb_flush (login);
}

static void
lb_on_file_loaded (GObject *src, GAsyncResult *res, gpointer data)
{
  LbLoad *ld = data;
  g_autoptr (GError) err = NULL;
  g_autofree char *contents = NULL;
  gsize len = 0;
  gboolean ok = g_file_load_contents_finish (G_FILE (src), res, &contents, &len, NULL, &err);
  if (!ok && g_error_matches (err, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_free (ld); /* the login is gone, and its queue with it */
      return;
    }
  LbLogin *login = ld->login;
  LbRequest *r = ld->req;
  g_free (ld);
  if (!ok || len > r->max_size)
    {
      g_autofree char *msg
          = g_strdup_printf ("Cannot read the file: %s", ok ? "it is too large" : err->message);
      g_queue_remove (&login->queue, r);
      lb_fail_op (login, r->op_id, ok ? PA_RESULT_TOO_LARGE : PA_RESULT_PERMANENT, msg);
      lb_request_free (r);
      lb_flush (login);
      return;
    }
  g_autofree char *b64 = g_base64_encode ((const guchar *) contents, len);
  json_object_set_new (r->slot, "data_b64", json_string (b64));
  r->ready = TRUE;
  lb_flush (login);
}

/* Queues a request whose `slot` gets the base64 of the file at `path`, read
 * asynchronously; requests behind it wait, so operations keep their order. */
static void
lb_submit_with_file (LbLogin *login, LbRequest *r, const char *path, json_t *slot,
                     guint64 max_size)
{
  GStatBuf st;
  if (path == NULL || g_stat (path, &st) != 0 || !S_ISREG (st.st_mode))
    {
      lb_fail_op (login, r->op_id, PA_RESULT_PERMANENT, "The file to send cannot be read");
      lb_request_free (r);
      return;
    }
  if ((guint64) st.st_size > max_size)
    {
      g_autofree char *msg = g_strdup_printf ("The file is too large for the loopback network "
                                              "(at most %" G_GUINT64_FORMAT " MiB)",
                                              max_size / (1024 * 1024));
      lb_fail_op (login, r->op_id, PA_RESULT_TOO_LARGE, msg);
      lb_request_free (r);
      return;
    }
  if (login->phase != LB_PHASE_ONLINE)
    {
      lb_fail_op (login, r->op_id, PA_RESULT_NOT_CONNECTED, "Not connected to the loopback network");
      lb_request_free (r);
      return;
    }
  r->ready = FALSE;
  r->slot = slot;
  r->max_size = max_size;
  g_queue_push_tail (&login->queue, r);
  LbLoad *ld = g_new0 (LbLoad, 1);
  ld->login = login;
  ld->req = r;
  g_autoptr (GFile) file = g_file_new_for_path (path);
  g_file_load_contents_async (file, login->cancel, lb_on_file_loaded, ld);
}

static json_t *
lb_req (const char *op, const char *chat_id)
{
  json_t *req = json_object ();
  json_object_set_new (req, "op", json_string (op));
  lb_set_str (req, "chat", chat_id);
  return req;
}

static gboolean
lb_check (LbLogin *login, guint64 op_id, gboolean ok, const char *what)
{
  if (!ok)
    {
      g_autofree char *msg = g_strdup_printf ("Missing %s", what);
      lb_fail_op (login, op_id, PA_RESULT_PERMANENT, msg);
    }
  return ok;
}

static gboolean
lb_content_ok (const PaContent *content)
{
  return content != NULL && content->struct_size >= sizeof (PaContent);
}

static void
lb_send (PaLogin *pl, uint64_t op_id, const char *chat_id, const PaContent *content,
         const char *txn_id)
{
  LbLogin *login = pl;
  if (!lb_check (login, op_id, chat_id != NULL && lb_content_ok (content), "chat or content"))
    return;
  json_t *req = lb_req ("send", chat_id);
  LbRequest *r = lb_request_new (LB_ANS_ID, op_id, req);
  lb_set_str (req, "text", content->text);
  lb_set_str (req, "html", content->html);
  lb_set_str (req, "reply_to", content->reply_to);
  lb_set_str (req, "forwarded_from", content->forwarded_from);
  lb_set_str (req, "txn", txn_id);
  json_object_set_new (req, "emote", json_boolean (content->kind == PA_MSG_EMOTE));
  if (content->kind == PA_MSG_NOTICE)
    json_object_set_new (req, "notice", json_true ());
  if (content->kind == PA_MSG_LOCATION)
    json_object_set_new (req, "location", json_pack ("{s:f, s:f}", "latitude", content->latitude,
                                                     "longitude", content->longitude));
  if (lb_is_media_kind (content->kind))
    {
      if (content->media_path == NULL)
        {
          lb_fail_op (login, op_id, PA_RESULT_PERMANENT, "A media message without a file");
          lb_request_free (r);
          return;
        }
      json_t *media = json_object ();
      g_autofree char *base = g_path_get_basename (content->media_path);
      lb_set_str (media, "name", content->media_name != NULL ? content->media_name : base);
      lb_set_str (media, "mimetype",
                  content->mimetype != NULL ? content->mimetype : "application/octet-stream");
      lb_set_str (media, "kind", lb_media_kind_name (content->kind));
      if (content->width > 0)
        json_object_set_new (media, "width", json_integer (content->width));
      if (content->height > 0)
        json_object_set_new (media, "height", json_integer (content->height));
      if (content->duration_ms > 0)
        json_object_set_new (media, "duration_ms", json_integer (content->duration_ms));
      json_object_set_new (req, "media", media);
      lb_submit_with_file (login, r, content->media_path, media, LB_MAX_MEDIA);
      return;
    }
  if (content->text == NULL && content->kind != PA_MSG_LOCATION)
    {
      lb_fail_op (login, op_id, PA_RESULT_PERMANENT, "An empty message");
      lb_request_free (r);
      return;
    }
  lb_submit (login, r);
}

static void
lb_edit (PaLogin *pl, uint64_t op_id, const char *chat_id, const char *target_id,
         const PaContent *content)
{
  LbLogin *login = pl;
  if (!lb_check (login, op_id,
                 chat_id != NULL && target_id != NULL && lb_content_ok (content)
                     && content->text != NULL,
                 "chat, target or text"))
    return;
  json_t *req = lb_req ("edit", chat_id);
  lb_set_str (req, "target", target_id);
  lb_set_str (req, "text", content->text);
  lb_set_str (req, "html", content->html);
  lb_submit (login, lb_request_new (LB_ANS_ID, op_id, req));
}

static void
lb_redact (PaLogin *pl, uint64_t op_id, const char *chat_id, const char *target_id)
{
  LbLogin *login = pl;
  if (!lb_check (login, op_id, chat_id != NULL && target_id != NULL, "chat or target"))
    return;
  json_t *req = lb_req ("redact", chat_id);
  lb_set_str (req, "target", target_id);
  lb_submit (login, lb_request_new (LB_ANS_ID, op_id, req));
}

static void
lb_react (PaLogin *pl, uint64_t op_id, const char *chat_id, const char *target_id,
          const char *key, bool remove)
{
  LbLogin *login = pl;
  if (!lb_check (login, op_id, chat_id != NULL && target_id != NULL && key != NULL,
                 "chat, target or key"))
    return;
  json_t *req = lb_req ("react", chat_id);
  lb_set_str (req, "target", target_id);
  lb_set_str (req, "key", key);
  json_object_set_new (req, "remove", json_boolean (remove));
  lb_submit (login, lb_request_new (LB_ANS_ID, op_id, req));
}

static void
lb_mark_read (PaLogin *pl, uint64_t op_id, const char *chat_id, const char *message_id)
{
  LbLogin *login = pl;
  if (!lb_check (login, op_id, chat_id != NULL && message_id != NULL, "chat or message"))
    return;
  json_t *req = lb_req ("read", chat_id);
  lb_set_str (req, "id", message_id);
  lb_submit (login, lb_request_new (LB_ANS_ID, op_id, req));
}

static void
lb_typing (PaLogin *pl, uint64_t op_id, const char *chat_id, bool typing)
{
  LbLogin *login = pl;
  if (!lb_check (login, op_id, chat_id != NULL, "chat"))
    return;
  json_t *req = lb_req ("typing", chat_id);
  json_object_set_new (req, "typing", json_boolean (typing));
  lb_submit (login, lb_request_new (LB_ANS_ID, op_id, req));
}

static void
lb_set_chat_info (PaLogin *pl, uint64_t op_id, const char *chat_id, PaChatField field,
                  const char *value)
{
  LbLogin *login = pl;
  if (!lb_check (login, op_id, chat_id != NULL, "chat"))
    return;
  const char *name = field == PA_CHAT_FIELD_NAME     ? "name"
                     : field == PA_CHAT_FIELD_TOPIC  ? "topic"
                     : field == PA_CHAT_FIELD_AVATAR ? "avatar"
                                                     : NULL;
  if (name == NULL)
    {
      /* disappearing messages, or a field appended after SDK 2.0 */
      g_autofree char *msg
          = g_strdup_printf ("Loopback chats have no setting number %d", (int) field);
      lb_fail_op (login, op_id, PA_RESULT_UNSUPPORTED,
                  field == PA_CHAT_FIELD_DISAPPEARING
                      ? "Loopback chats have no disappearing messages"
                      : msg);
      return;
    }
  json_t *req = lb_req ("set_chat", chat_id);
  lb_set_str (req, "field", name);
  LbRequest *r = lb_request_new (LB_ANS_ID, op_id, req);
  if (field == PA_CHAT_FIELD_AVATAR && value != NULL)
    {
      json_t *avatar = json_object ();
      json_object_set_new (req, "avatar", avatar);
      lb_submit_with_file (login, r, value, avatar, LB_MAX_AVATAR);
      return;
    }
  lb_set_str (req, "value", value);
  lb_submit (login, r);
}

static void
lb_set_membership (PaLogin *pl, uint64_t op_id, const char *chat_id, const char *user_id,
                   bool join)
{
  LbLogin *login = pl;
  if (!lb_check (login, op_id, chat_id != NULL && user_id != NULL, "chat or user"))
    return;
  json_t *req = lb_req ("membership", chat_id);
  lb_set_str (req, "user", user_id);
  json_object_set_new (req, "join", json_boolean (join));
  lb_submit (login, lb_request_new (LB_ANS_ID, op_id, req));
}

static void
lb_resolve_identifier (PaLogin *pl, uint64_t op_id, const char *identifier, PaResolveMode mode)
{
  LbLogin *login = pl;
  if (!lb_check (login, op_id, identifier != NULL, "identifier"))
    return;
  json_t *req = lb_req ("resolve", NULL);
  lb_set_str (req, "identifier", identifier);
  lb_set_str (req, "mode", mode == PA_RESOLVE_SEARCH ? "search" : "identifier");
  lb_submit (login, lb_request_new (LB_ANS_CONTACTS, op_id, req));
}

static void
lb_list_contacts (PaLogin *pl, uint64_t op_id)
{
  lb_submit (pl, lb_request_new (LB_ANS_CONTACTS, op_id, lb_req ("contacts", NULL)));
}

static void
lb_create_dm (PaLogin *pl, uint64_t op_id, const char *user_id)
{
  LbLogin *login = pl;
  if (!lb_check (login, op_id, user_id != NULL, "user"))
    return;
  json_t *req = lb_req ("create_dm", NULL);
  lb_set_str (req, "user", user_id);
  lb_submit (login, lb_request_new (LB_ANS_CHAT, op_id, req));
}

static void
lb_create_group (PaLogin *pl, uint64_t op_id, const char *name, const char *const *user_ids,
                 size_t n)
{
  LbLogin *login = pl;
  if (!lb_check (login, op_id, n == 0 || user_ids != NULL, "users"))
    return;
  json_t *req = lb_req ("create_group", NULL);
  lb_set_str (req, "name", name);
  json_t *users = json_array ();
  for (size_t i = 0; i < n && i < LB_MAX_LIST; i++)
    if (user_ids[i] != NULL)
      json_array_append_new (users, json_string (user_ids[i]));
  json_object_set_new (req, "users", users);
  lb_submit (login, lb_request_new (LB_ANS_CHAT, op_id, req));
}

static void
lb_get_chat_info (PaLogin *pl, uint64_t op_id, const char *chat_id)
{
  LbLogin *login = pl;
  if (!lb_check (login, op_id, chat_id != NULL, "chat"))
    return;
  lb_submit (login, lb_request_new (LB_ANS_CHAT, op_id, lb_req ("chat_info", chat_id)));
}

static void
lb_get_user_info (PaLogin *pl, uint64_t op_id, const char *user_id)
{
  LbLogin *login = pl;
  if (!lb_check (login, op_id, user_id != NULL, "user"))
    return;
  json_t *req = lb_req ("user_info", NULL);
  lb_set_str (req, "user", user_id);
  lb_submit (login, lb_request_new (LB_ANS_USER, op_id, req));
}

static void
lb_fetch_history (PaLogin *pl, uint64_t op_id, const char *chat_id, const char *cursor,
                  uint32_t count, bool forward)
{
  LbLogin *login = pl;
  if (!lb_check (login, op_id, chat_id != NULL, "chat"))
    return;
  json_t *req = lb_req ("history", chat_id);
  lb_set_str (req, "cursor", cursor);
  json_object_set_new (req, "count", json_integer (CLAMP (count, 1, LB_MAX_HISTORY)));
  json_object_set_new (req, "forward", json_boolean (forward));
  LbRequest *r = lb_request_new (LB_ANS_HISTORY, op_id, req);
  r->chat_id = g_strdup (chat_id);
  lb_submit (login, r);
}

static void
lb_logout (PaLogin *pl, uint64_t op_id)
{
  LbLogin *login = pl;
  if (login->phase == LB_PHASE_ONLINE)
    {
      lb_submit (login, lb_request_new (LB_ANS_LOGOUT, op_id, lb_req ("logout", NULL)));
      return;
    }
  lb_forget_session (login);
  lb_drop_connection (login, "logged out");
  login->api->login_state (login->host, PA_STATE_LOGGED_OUT, "Logged out");
  lb_fail_op (login, op_id, PA_RESULT_PERMANENT,
              "Not connected: the session was forgotten here, but the loopback "
                            "network could not be told");
}

/* ------------------------------------------------------------ importer */

static gint
lb_cmp_ts (gconstpointer a, gconstpointer b)
{
  gint64 ta = ji (*(json_t *const *) a, "ts", 0);
  gint64 tb = ji (*(json_t *const *) b, "ts", 0);
  return (ta > tb) - (ta < tb);
}

/* {"chats":[{"id","name","kind","messages":[{"id","from","from_name","ts","text",
 * "reply_to"}]}]}: a CHAT_INFO per chat, then its messages in ts order. */
static bool
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
      g_autofree char *msg = g_strdup_printf ("not a loopback export: %s (line %d)",
                                              root == NULL ? jerr.text : "no \"chats\" array",
                                              jerr.line);
      *error = lb_c_strdup (msg);
      return false;
    }
  gsize skipped = 0, found = 0;
  for (gsize i = 0; i < json_array_size (chats); i++)
    {
      json_t *chat = json_array_get (chats, i);
      const char *chat_id = js (chat, "id");
      if (chat_id == NULL)
        {
          skipped++;
          continue;
        }
      if (only != NULL && strcmp (only, chat_id) != 0 && g_strcmp0 (only, js (chat, "name")) != 0)
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
          const char *from = js (m, "from");
          if (js (m, "id") == NULL || from == NULL || !json_is_integer (json_object_get (m, "ts"))
              || js (m, "text") == NULL)
            {
              skipped++;
              continue;
            }
          g_ptr_array_add (sorted, m);
          if (g_hash_table_add (seen, (gpointer) from) && members->len < LB_MAX_LIST)
            {
              PaMember mem = { sizeof (PaMember), from, js (m, "from_name"), NULL, NULL, 0 };
              g_array_append_val (members, mem);
            }
        }
      const char *kind = js (chat, "kind");
      if (kind == NULL)
        kind = js (chat, "name") != NULL ? "group" : "dm";
      PaChatInfo info = {
        .struct_size = sizeof (PaChatInfo),
        .id = chat_id,
        .kind = lb_chat_kind (kind),
        .name = js (chat, "name"),
        .members = (const PaMember *) members->data,
        .n_members = members->len,
        .features = lb_chat_kind (kind) == PA_CHAT_DM ? &lb_dm_features : &lb_group_features,
      };
      PaEvent ev = {
        .struct_size = sizeof (PaEvent),
        .type = PA_EV_CHAT_INFO,
        .chat_id = chat_id,
        .timestamp_ms = sorted->len > 0 ? ji (sorted->pdata[0], "ts", 0) : lb_now_ms (),
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
      g_autofree char *msg = g_strdup_printf ("The import skipped %" G_GSIZE_FORMAT
                                              " unreadable entries.", skipped);
      api->notice (host, msg);
    }
  return true;
}

/* ------------------------------------------------------------ descriptor */

static const PaLoginFlow lb_flows[] = {
  { sizeof (PaLoginFlow), "password", "Password",
    "Server address, user name and password; a pairing code when the account asks for one." },
};

/* Configuration: plugins: {loopback: {server: "127.0.0.1:4000", reconnect_max_s: 30}}.
 * loopnet has no token or other secret to configure. */
static const PaConfigKey lb_config_keys[] = {
  { sizeof (PaConfigKey), "server", PA_CONFIG_STRING, "127.0.0.1:4000",
    "loopnet address (host:port) the login form proposes.", false, false },
  { sizeof (PaConfigKey), "reconnect_max_s", PA_CONFIG_INT, "30",
    "Longest wait, in seconds (1 to 3600), between two reconnection attempts.", false, false },
};

static bool
lb_init (PaHost *host, const PaHostApi *api, char **error)
{
  if (api == NULL || api->abi_major != PA_PLUGIN_ABI_MAJOR
      || !PA_HAS_MEMBER (api, PaHostApi, invoke))
    {
      *error = lb_c_strdup ("the host API table is not the SDK 2 one the loopback plugin needs");
      return false;
    }
  gint64 max_s = api->config_int (host, "reconnect_max_s");
  if (max_s < 1 || max_s > 3600)
    {
      g_autofree char *msg = g_strdup_printf (
          "plugins.loopback.reconnect_max_s is %" G_GINT64_FORMAT ": it must be 1 to 3600", max_s);
      *error = lb_c_strdup (msg);
      return false;
    }
  const char *server = api->config_string (host, "server");
  lb_plugin.host = host;
  lb_plugin.api = api;
  lb_plugin.backoff_max_s = (guint) max_s;
  lb_plugin.default_server = g_strdup (server != NULL && *server != '\0' ? server : NULL);
  return true;
}

static void
lb_shutdown (PaHost *host)
{
  g_clear_pointer (&lb_plugin.default_server, g_free);
  lb_plugin.host = NULL;
  lb_plugin.api = NULL;
}

static const PaLoginOps lb_login_ops = {
  .struct_size = sizeof (PaLoginOps),
  .login_free = lb_login_free,
  .login_start = lb_login_start,
  .login_submit = lb_login_submit,
  .login_cancel = lb_login_cancel,
  .connect = lb_connect,
  .disconnect = lb_disconnect,
  .logout = lb_logout,
  .event_persisted = lb_event_persisted,
  .send = lb_send,
  .edit = lb_edit,
  .redact = lb_redact,
  .react = lb_react,
  .mark_read = lb_mark_read,
  .typing = lb_typing,
  .set_chat_info = lb_set_chat_info,
  .set_membership = lb_set_membership,
  .resolve_identifier = lb_resolve_identifier,
  .list_contacts = lb_list_contacts,
  .create_dm = lb_create_dm,
  .create_group = lb_create_group,
  .get_chat_info = lb_get_chat_info,
  .get_user_info = lb_get_user_info,
  .fetch_history = lb_fetch_history,
};

static const PaNetwork lb_network = {
  .magic = PA_PLUGIN_MAGIC,
  .abi_major = PA_PLUGIN_ABI_MAJOR,
  .abi_minor = PA_PLUGIN_ABI_MINOR,
  .struct_size = sizeof (PaNetwork),
  .name = "loopback",
  .display_name = "Loopback",
  .version = LOOPBACK_PLUGIN_VERSION,
  .capabilities = LB_CAPS,
  .config_keys = lb_config_keys,
  .n_config_keys = G_N_ELEMENTS (lb_config_keys),
  .login_flows = lb_flows,
  .n_login_flows = G_N_ELEMENTS (lb_flows),
  .init = lb_init,
  .shutdown = lb_shutdown,
  .login_new = lb_login_new,
  .login_ops = &lb_login_ops,
  .import_file = lb_import_file,
};

const PaNetwork *pa_plugin_get_network (void);

/* The plugin's one exported symbol: a static table, valid forever. */
__attribute__ ((visibility ("default"))) const PaNetwork *
pa_plugin_get_network (void)
{
  return &lb_network;
}
