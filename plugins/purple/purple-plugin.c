/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * purple-plugin.c — libpurple 2.x inside a Passerelle worker.
 *
 * One worker process holds one login, so one libpurple core with one
 * account: libpurple keeps process-global state and cannot be initialized
 * twice.  Its user directory lives in the login's data dir, its event loop
 * is the worker's GMainLoop (the adapters below), and its UI ops and signals
 * become PaHostApi calls:
 *
 *   - login: a first USER_INPUT step lists the installed prpls; the chosen
 *     one's user splits and protocol options become the typed fields of a
 *     second step.  Request and notify UI ops become login steps (an image
 *     field, e.g. a QR code, becomes a DISPLAY_AND_WAIT step with a PNG in the
 *     data dir) or notices;
 *   - buddies → CONTACT_INFO and PRESENCE; IMs → DM chats (id: the buddy's
 *     normalized name); chats (MUC, IRC channels) → group chats whose member
 *     list is re-sent complete whenever occupants change;
 *   - messages both ways with formatting, emotes, typing, delayed messages
 *     (original time), file transfers where the prpl has them.
 *
 * libpurple gives no message ids: ids are a digest of chat, sender, time (to
 * the second), text and an occurrence counter, so a redelivery (MUC history
 * after a rejoin, an offline message delivered twice) gets the same id and
 * the host's deduplication drops it.
 */
#define G_LOG_DOMAIN "passerelle-purple"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <jansson.h>

#include <purple.h>

#include "passerelle/plugin.h"
#include "purple-markup.h"
#include "purple-plugin.h"

#define PP_UI_ID "passerelle"
#define PP_SESSION_FILE "purple-session.json"
#define PP_MAX_SESSION_FILE 65536
#define PP_MAX_FIELD 1024
#define PP_MAX_ROOMS 256
#define PP_MAX_REQUESTS 32
#define PP_MAX_RECV_FILE ((gsize) 100 * 1024 * 1024)
#define PP_BACKOFF_MIN_S 1
#define PP_BACKOFF_MAX_S 30
#define PP_RECENT_MAX 4096
#define PP_TYPING_TIMEOUT_MS 30000
#define PP_DELAYED_MATCH_S 300

#define PP_CAPS                                                                               \
  (PA_CAP_LOGIN | PA_CAP_GROUPS | PA_CAP_MEDIA | PA_CAP_TYPING | PA_CAP_PRESENCE             \
   | PA_CAP_FORMATTING)

G_DEFINE_AUTOPTR_CLEANUP_FUNC (json_t, json_decref)

/* ------------------------------------------------------------ types */

typedef struct {
  char *protocol; /* prpl id */
  char *username; /* full libpurple user name (splits joined) */
  char *password;
  GHashTable *options; /* setting → value as typed by the agent */
  char *autojoin;      /* comma-separated rooms */
  GPtrArray *rooms;    /* rooms joined through set_membership */
} PpSession;

typedef struct {
  guint id;
  PurpleRequestType type;
  char *step_id;
  char *title;
  GCallback ok_cb;
  GCallback cancel_cb;
  void *user_data;
  PurpleRequestFields *fields; /* FIELDS: ours to destroy */
  gboolean masked;             /* INPUT */
  GPtrArray *labels;           /* CHOICE / ACTION labels */
  GArray *values;              /* CHOICE values (int) */
  GPtrArray *callbacks;        /* ACTION callbacks */
  char *image_path;
  gboolean shown;
} PpRequest;

typedef struct {
  PurpleAccountRequestAuthorizationCb cb;
  void *user_data;
  guint idle_id;
} PpAuth;

/* The login: the plugin's own state behind the SDK's opaque PaLogin. */
struct PaLogin {
  PaHost *host;
  const PaHostApi *api;
  char *data_dir;
  char *user_dir;
  PurpleAccount *account;
  PpSession *session; /* saved, working credentials */
  PpSession *attempt; /* a login being tried */
  char *chosen_protocol; /* between the two login steps */
  gboolean want_online;
  gboolean signed_on;
  gboolean quitting;
  guint reconnect_id;
  guint backoff_s;
  guint disconnect_idle_id;
  PurpleConnectionError last_error;
  char *last_error_text;
  char *self_id;
  GHashTable *announced;  /* chat ids whose CHAT_INFO was emitted */
  GHashTable *counts;     /* message key → occurrences */
  GHashTable *recent;     /* chat\1sender\1text → gint64 seconds of the live copy */
  GHashTable *dirty;      /* chat conv names whose members changed */
  guint dirty_id;
  GHashTable *join_ops;   /* chat id → op id (guint64 *) */
  GHashTable *send_ops;   /* local file path → op id (guint64 *) */
  GHashTable *typing;     /* chat ids whose contact was last said to be typing */
  GHashTable *presence;   /* contact id → last presence told */
  GHashTable *invited;    /* chat ids of invitations not yet joined */
  GQueue requests;        /* PpRequest, head shown */
  guint next_request;
  GList *auths;           /* PpAuth */
};

static PaLogin *pp_self;        /* the one login of this process */
static int pp_signal_handle;    /* owner of our libpurple signal handlers */
static gboolean pp_core_started; /* libpurple cannot be initialized twice */
static PaHost *pp_host;          /* from init to shutdown */
static const PaHostApi *pp_api;

static void pp_show_next_request (PaLogin *login);
static void pp_join_rooms (PaLogin *login);

/* ------------------------------------------------------------ helpers */

static char *
pp_c_strdup (const char *s)
{
  size_t n = strlen (s) + 1;
  char *p = malloc (n);
  if (p != NULL)
    memcpy (p, s, n);
  return p;
}

static void pp_log (PaLogin *login, PaLogLevel level, const char *fmt, ...) G_GNUC_PRINTF (3, 4);

static void
pp_log (PaLogin *login, PaLogLevel level, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  login->api->log (login->host, level, msg);
}

static gint64
pp_now_ms (void)
{
  return g_get_real_time () / 1000;
}

static void
pp_op_fail (PaLogin *login, guint64 op_id, PaResultCode code, const char *error)
{
  PaOpResult r = {
    .struct_size = sizeof (PaOpResult),
    .code = code,
    .error = error,
  };
  login->api->op_result (login->host, op_id, &r);
}

/* `legacy_id` (or NULL) is what the operation created, `ts_ms` its time on
 * the network (0: unknown). */
static void
pp_op_ok (PaLogin *login, guint64 op_id, const char *legacy_id, gint64 ts_ms)
{
  PaOpResult r = {
    .struct_size = sizeof (PaOpResult),
    .code = PA_RESULT_OK,
    .legacy_id = legacy_id,
    .legacy_ts_ms = ts_ms,
  };
  login->api->op_result (login->host, op_id, &r);
}

/* The result code of a prpl's negative errno (serv_send_im & co.). */
static PaResultCode
pp_result_for_errno (int e)
{
  switch (e)
    {
    case ENOTCONN:
      return PA_RESULT_NOT_CONNECTED;
    case E2BIG:
    case EMSGSIZE:
    case EFBIG:
      return PA_RESULT_TOO_LARGE;
    case ENOTSUP:
#if EOPNOTSUPP != ENOTSUP
    case EOPNOTSUPP:
#endif
    case ENOSYS:
      return PA_RESULT_UNSUPPORTED;
    case ENOENT:
    case ENXIO:
      return PA_RESULT_NOT_FOUND;
    case EPERM:
    case EACCES:
      return PA_RESULT_FORBIDDEN;
    case EAGAIN:
    case EINTR:
    case ETIMEDOUT:
    case ENETDOWN:
    case ENETUNREACH:
    case EHOSTUNREACH:
    case ECONNRESET:
    case ECONNREFUSED:
    case ENOBUFS:
      return PA_RESULT_TEMPORARY;
    default:
      return PA_RESULT_PERMANENT;
    }
}

/* The result code of a GError raised in this plugin (G_IO_ERROR codes). */
static PaResultCode
pp_result_for_error (const GError *error)
{
  if (error == NULL || error->domain != G_IO_ERROR)
    return PA_RESULT_PERMANENT;
  switch (error->code)
    {
    case G_IO_ERROR_NOT_CONNECTED:
      return PA_RESULT_NOT_CONNECTED;
    case G_IO_ERROR_NOT_SUPPORTED:
      return PA_RESULT_UNSUPPORTED;
    case G_IO_ERROR_NOT_FOUND:
    case G_IO_ERROR_INVALID_ARGUMENT:
      return PA_RESULT_NOT_FOUND;
    case G_IO_ERROR_MESSAGE_TOO_LARGE:
      return PA_RESULT_TOO_LARGE;
    default:
      return PA_RESULT_PERMANENT;
    }
}

static guint64 *
pp_u64_dup (guint64 v)
{
  guint64 *p = g_new (guint64, 1);
  *p = v;
  return p;
}

static void
pp_wipe_free (char *s)
{
  if (s == NULL)
    return;
  explicit_bzero (s, strlen (s));
  g_free (s);
}

static void
pp_session_free (PpSession *s)
{
  if (s == NULL)
    return;
  g_free (s->protocol);
  g_free (s->username);
  pp_wipe_free (s->password);
  g_hash_table_unref (s->options);
  g_free (s->autojoin);
  g_ptr_array_unref (s->rooms);
  g_free (s);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PpSession, pp_session_free)

static PpSession *
pp_session_new (void)
{
  PpSession *s = g_new0 (PpSession, 1);
  s->options = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  s->rooms = g_ptr_array_new_with_free_func (g_free);
  return s;
}

/* Writes `len` bytes to `path` with mode 0600, atomically. */
static gboolean
pp_write_private (const char *path, const void *data, gsize len, GError **error)
{
  g_autofree char *tmp = g_strdup_printf ("%s.tmp", path);
  int fd = g_open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    {
      int e = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e), "%s: %s", tmp, g_strerror (e));
      return FALSE;
    }
  const char *p = data;
  gsize left = len;
  while (left > 0)
    {
      ssize_t n = write (fd, p, left);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          int e = errno;
          close (fd);
          g_unlink (tmp);
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e), "%s: %s", tmp,
                       g_strerror (e));
          return FALSE;
        }
      p += n;
      left -= (gsize) n;
    }
  if (fsync (fd) != 0 || close (fd) != 0 || g_rename (tmp, path) != 0)
    {
      int e = errno;
      g_unlink (tmp);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e), "%s: %s", path, g_strerror (e));
      return FALSE;
    }
  return TRUE;
}

static gboolean
pp_save_session (PaLogin *login, const PpSession *s, GError **error)
{
  g_autoptr (json_t) opts = json_object ();
  GHashTableIter it;
  gpointer k, v;
  g_hash_table_iter_init (&it, s->options);
  while (g_hash_table_iter_next (&it, &k, &v))
    json_object_set_new (opts, k, json_string (v));
  g_autoptr (json_t) rooms = json_array ();
  for (guint i = 0; i < s->rooms->len; i++)
    json_array_append_new (rooms, json_string (g_ptr_array_index (s->rooms, i)));
  g_autoptr (json_t) obj = json_pack ("{s:s, s:s, s:s, s:O, s:s, s:O}", "protocol", s->protocol,
                                      "username", s->username, "password",
                                      s->password != NULL ? s->password : "", "options", opts,
                                      "autojoin", s->autojoin != NULL ? s->autojoin : "", "rooms",
                                      rooms);
  if (obj == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "invalid session");
      return FALSE;
    }
  char *text = json_dumps (obj, JSON_COMPACT);
  if (text == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE, "out of memory");
      return FALSE;
    }
  g_autofree char *path = g_build_filename (login->data_dir, PP_SESSION_FILE, NULL);
  gboolean ok = pp_write_private (path, text, strlen (text), error);
  explicit_bzero (text, strlen (text));
  free (text);
  return ok;
}

static const char *
js (json_t *obj, const char *key)
{
  json_t *v = json_object_get (obj, key);
  return json_is_string (v) ? json_string_value (v) : NULL;
}

static PpSession *
pp_load_session (const char *data_dir, GError **error)
{
  g_autofree char *path = g_build_filename (data_dir, PP_SESSION_FILE, NULL);
  GStatBuf st;
  if (g_stat (path, &st) != 0)
    {
      int e = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e), "%s", g_strerror (e));
      return NULL;
    }
  if (st.st_size > PP_MAX_SESSION_FILE)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "session file too large");
      return NULL;
    }
  g_autofree char *text = NULL;
  gsize len = 0;
  if (!g_file_get_contents (path, &text, &len, error))
    return NULL;
  json_error_t jerr;
  g_autoptr (json_t) obj = json_loadb (text, len, JSON_REJECT_DUPLICATES, &jerr);
  explicit_bzero (text, len);
  if (obj == NULL || js (obj, "protocol") == NULL || js (obj, "username") == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "session file is corrupt");
      return NULL;
    }
  PpSession *s = pp_session_new ();
  s->protocol = g_strdup (js (obj, "protocol"));
  s->username = g_strdup (js (obj, "username"));
  s->password = g_strdup (js (obj, "password") != NULL ? js (obj, "password") : "");
  s->autojoin = g_strdup (js (obj, "autojoin"));
  const char *key;
  json_t *v;
  json_object_foreach (json_object_get (obj, "options"), key, v)
    if (json_is_string (v))
      g_hash_table_insert (s->options, g_strdup (key), g_strdup (json_string_value (v)));
  size_t i;
  json_array_foreach (json_object_get (obj, "rooms"), i, v)
    if (json_is_string (v) && s->rooms->len < PP_MAX_ROOMS)
      g_ptr_array_add (s->rooms, g_strdup (json_string_value (v)));
  return s;
}

static void
pp_forget_session (PaLogin *login)
{
  g_autofree char *path = g_build_filename (login->data_dir, PP_SESSION_FILE, NULL);
  if (g_unlink (path) != 0 && errno != ENOENT)
    pp_log (login, PA_LOG_WARNING, "cannot delete %s: %s", path, g_strerror (errno));
  g_clear_pointer (&login->session, pp_session_free);
}

static PurplePluginProtocolInfo *
pp_prpl_info (const char *protocol)
{
  PurplePlugin *prpl = protocol != NULL ? purple_find_prpl (protocol) : NULL;
  return prpl != NULL ? PURPLE_PLUGIN_PROTOCOL_INFO (prpl) : NULL;
}

static PurpleConnection *
pp_gc (PaLogin *login)
{
  if (login->account == NULL || !purple_account_is_connected (login->account))
    return NULL;
  return purple_account_get_connection (login->account);
}

static gboolean
pp_is_jabber (PaLogin *login)
{
  return login->account != NULL
         && g_strcmp0 (purple_account_get_protocol_id (login->account), "prpl-jabber") == 0;
}

/* A legacy id for `name` as the account's prpl writes it. */
static char *
pp_norm (PaLogin *login, const char *name)
{
  const char *n = purple_normalize (login->account, name);
  return g_strdup (n != NULL ? n : name);
}

/* `name` normalized by the account's prpl, or NULL when the prpl says it is
 * not a valid name (or it is empty or overlong). */
static char *
pp_valid_norm (PaLogin *login, const char *name)
{
  if (name == NULL || *name == '\0' || strlen (name) > PP_MAX_FIELD)
    return NULL;
  const char *n = purple_normalize (login->account, name);
  return n != NULL && *n != '\0' ? g_strdup (n) : NULL;
}

/* The member id of `nick` in a chat: XMPP occupants are room@service/nick
 * (what a private message from the room uses); elsewhere nicks are global. */
static char *
pp_member_id (PaLogin *login, PurpleConversation *conv, const char *nick)
{
  PurpleConvChat *chat = PURPLE_CONV_CHAT (conv);
  const char *me = purple_conv_chat_get_nick (chat);
  if (me != NULL && nick != NULL && purple_utf8_strcasecmp (me, nick) == 0
      && login->self_id != NULL)
    return g_strdup (login->self_id);
  if (pp_is_jabber (login))
    {
      g_autofree char *room = pp_norm (login, purple_conversation_get_name (conv));
      return g_strdup_printf ("%s/%s", room, nick);
    }
  return pp_norm (login, nick);
}

static char *
pp_chat_id (PaLogin *login, PurpleConversation *conv)
{
  return pp_norm (login, purple_conversation_get_name (conv));
}

/* ------------------------------------------------------------ event loop */

typedef struct {
  PurpleInputFunction func;
  gpointer data;
  guint id;
} PpInput;

static gboolean
pp_io_cb (GIOChannel *ch, GIOCondition cond, gpointer data)
{
  PpInput *in = data;
  int cnd = 0;
  if (cond & (G_IO_IN | G_IO_HUP | G_IO_ERR | G_IO_NVAL))
    cnd |= PURPLE_INPUT_READ;
  if (cond & (G_IO_OUT | G_IO_HUP | G_IO_ERR | G_IO_NVAL))
    cnd |= PURPLE_INPUT_WRITE;
  in->func (in->data, g_io_channel_unix_get_fd (ch), (PurpleInputCondition) cnd);
  return TRUE;
}

static guint
pp_input_add (gint fd, PurpleInputCondition cond, PurpleInputFunction func, gpointer data)
{
  PpInput *in = g_new0 (PpInput, 1);
  in->func = func;
  in->data = data;
  GIOCondition c = 0;
  if (cond & PURPLE_INPUT_READ)
    c |= G_IO_IN | G_IO_HUP | G_IO_ERR;
  if (cond & PURPLE_INPUT_WRITE)
    c |= G_IO_OUT | G_IO_HUP | G_IO_ERR | G_IO_NVAL;
  GIOChannel *ch = g_io_channel_unix_new (fd);
  in->id = g_io_add_watch_full (ch, G_PRIORITY_DEFAULT, c, pp_io_cb, in, g_free);
  g_io_channel_unref (ch);
  return in->id;
}

static PurpleEventLoopUiOps pp_loop_ops = {
  .timeout_add = g_timeout_add,
  .timeout_remove = g_source_remove,
  .input_add = pp_input_add,
  .input_remove = g_source_remove,
  .input_get_error = NULL,
  .timeout_add_seconds = g_timeout_add_seconds,
};

/* ------------------------------------------------------------ emitting */

static void
pp_emit_contact (PaLogin *login, PurpleBuddy *buddy)
{
  if (login->quitting || buddy == NULL || purple_buddy_get_account (buddy) != login->account)
    return;
  g_autofree char *id = pp_norm (login, purple_buddy_get_name (buddy));
  g_autofree char *avatar = NULL;
  PurpleBuddyIcon *icon = purple_buddy_icons_find (login->account, purple_buddy_get_name (buddy));
  if (icon != NULL)
    {
      avatar = purple_buddy_icon_get_full_path (icon);
      purple_buddy_icon_unref (icon);
    }
  const char *alias = purple_buddy_get_alias (buddy);
  PaMember m = {
    .struct_size = sizeof (PaMember),
    .id = id,
    .name = alias != NULL && g_strcmp0 (alias, purple_buddy_get_name (buddy)) != 0 ? alias : NULL,
    .avatar_path = avatar,
    .identifier = id,
  };
  PaEvent ev = {
    .struct_size = sizeof (PaEvent),
    .type = PA_EV_CONTACT_INFO,
    .sender_id = id,
    .timestamp_ms = pp_now_ms (),
    .contact = &m,
  };
  login->api->emit (login->host, &ev);
}

static void
pp_emit_presence (PaLogin *login, PurpleBuddy *buddy)
{
  if (login->quitting || buddy == NULL || purple_buddy_get_account (buddy) != login->account)
    return;
  PurplePresence *pres = purple_buddy_get_presence (buddy);
  PaPresence state = PA_PRESENCE_OFFLINE;
  g_autofree char *text = NULL;
  if (pres != NULL && purple_presence_is_online (pres))
    {
      state = purple_presence_is_available (pres) ? PA_PRESENCE_ONLINE
                                                  : PA_PRESENCE_UNAVAILABLE;
      /* The status message ("at lunch"): prpls keep it as markup. */
      PurpleStatus *status = purple_presence_get_active_status (pres);
      const char *msg = status != NULL ? purple_status_get_attr_string (status, "message") : NULL;
      if (msg != NULL && *msg != '\0')
        {
          text = purple_markup_strip_html (msg);
          g_strstrip (text);
          if (*text == '\0')
            g_clear_pointer (&text, g_free);
        }
    }
  g_autofree char *id = pp_norm (login, purple_buddy_get_name (buddy));
  /* libpurple reports each resource's change: tell only real changes. */
  g_autofree char *told
      = g_strdup_printf ("%d\1%s", (int) state, text != NULL ? text : "");
  if (g_strcmp0 (g_hash_table_lookup (login->presence, id), told) == 0)
    return;
  g_hash_table_insert (login->presence, g_strdup (id), g_steal_pointer (&told));
  PaEvent ev = {
    .struct_size = sizeof (PaEvent),
    .type = PA_EV_PRESENCE,
    .sender_id = id,
    .timestamp_ms = pp_now_ms (),
    .presence = state,
    .status_text = text,
  };
  login->api->emit (login->host, &ev);
}

static void
pp_fill_member (PaLogin *login, PaMember *m, char *id, const char *name)
{
  memset (m, 0, sizeof *m);
  m->struct_size = sizeof (PaMember);
  m->id = id;
  m->name = name;
  m->identifier = id;
  (void) login;
}

static int32_t
pp_power (PurpleConvChatBuddyFlags f)
{
  if (f & PURPLE_CBFLAGS_FOUNDER)
    return 100;
  if (f & (PURPLE_CBFLAGS_OP | PURPLE_CBFLAGS_HALFOP))
    return 50;
  return 0;
}

static const PaChatFeatures pp_dm_features = {
  .struct_size = sizeof (PaChatFeatures),
  .capabilities = PA_CAP_TYPING | PA_CAP_FORMATTING | PA_CAP_MEDIA,
  .max_media_size = PP_MAX_RECV_FILE,
};

static const PaChatFeatures pp_group_features = {
  .struct_size = sizeof (PaChatFeatures),
  .capabilities = PA_CAP_FORMATTING,
};

/* Emits CHAT_INFO for a conversation (a complete member list for chats). */
static void
pp_emit_chat_info (PaLogin *login, PurpleConversation *conv)
{
  if (login->quitting)
    return;
  g_autofree char *chat_id = pp_chat_id (login, conv);
  PaChatInfo info = {
    .struct_size = sizeof (PaChatInfo),
    .id = chat_id,
  };
  g_autoptr (GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GArray) members = g_array_new (FALSE, TRUE, sizeof (PaMember));
  if (purple_conversation_get_type (conv) == PURPLE_CONV_TYPE_CHAT)
    {
      PurpleConvChat *chat = PURPLE_CONV_CHAT (conv);
      info.kind = PA_CHAT_GROUP;
      info.name = purple_conversation_get_title (conv);
      info.topic = purple_conv_chat_get_topic (chat);
      info.features = &pp_group_features;
      for (GList *l = purple_conv_chat_get_users (chat); l != NULL; l = l->next)
        {
          PurpleConvChatBuddy *cb = l->data;
          const char *nick = purple_conv_chat_cb_get_name (cb);
          char *id = pp_member_id (login, conv, nick);
          g_ptr_array_add (ids, id);
          PaMember m;
          const char *alias = cb->alias;
          pp_fill_member (login, &m, id, alias != NULL ? alias : nick);
          m.power = pp_power (purple_conv_chat_user_get_flags (chat, nick));
          g_array_append_val (members, m);
        }
      info.members_complete = purple_conv_chat_has_left (chat) ? false : true;
    }
  else
    {
      info.kind = PA_CHAT_DM;
      info.features = &pp_dm_features;
      PurpleBuddy *b = purple_find_buddy (login->account, purple_conversation_get_name (conv));
      PaMember m;
      pp_fill_member (login, &m, chat_id, b != NULL ? purple_buddy_get_alias (b) : NULL);
      if (m.name != NULL && g_strcmp0 (m.name, purple_buddy_get_name (b)) == 0)
        m.name = NULL;
      g_array_append_val (members, m);
      info.members_complete = true;
    }
  info.members = (const PaMember *) (void *) members->data;
  info.n_members = members->len;
  PaEvent ev = {
    .struct_size = sizeof (PaEvent),
    .type = PA_EV_CHAT_INFO,
    .chat_id = chat_id,
    .timestamp_ms = pp_now_ms (),
    .chat = &info,
  };
  login->api->emit (login->host, &ev);
  g_hash_table_add (login->announced, g_strdup (chat_id));
}

static gboolean
pp_flush_dirty (gpointer data)
{
  PaLogin *login = data;
  login->dirty_id = 0;
  GHashTableIter it;
  gpointer k;
  g_hash_table_iter_init (&it, login->dirty);
  while (g_hash_table_iter_next (&it, &k, NULL))
    {
      PurpleConversation *conv
          = purple_find_conversation_with_account (PURPLE_CONV_TYPE_CHAT, k, login->account);
      if (conv != NULL)
        pp_emit_chat_info (login, conv);
    }
  g_hash_table_remove_all (login->dirty);
  return G_SOURCE_REMOVE;
}

/* Members change in bursts (a join lists everyone): coalesce them. */
static void
pp_mark_dirty (PaLogin *login, PurpleConversation *conv)
{
  if (login->quitting || purple_conversation_get_account (conv) != login->account)
    return;
  g_hash_table_add (login->dirty, g_strdup (purple_conversation_get_name (conv)));
  if (login->dirty_id == 0)
    login->dirty_id = g_timeout_add (200, pp_flush_dirty, login);
}

/* A stable id for a message: see the top of this file. */
static char *
pp_message_id (PaLogin *login, const char *chat_id, const char *sender, gint64 ts_s,
               const char *text)
{
  g_autofree char *key = g_strdup_printf ("%s\1%s\1%" G_GINT64_FORMAT "\1%s", chat_id, sender,
                                          ts_s, text);
  guint n = GPOINTER_TO_UINT (g_hash_table_lookup (login->counts, key));
  if (g_hash_table_size (login->counts) > PP_RECENT_MAX)
    g_hash_table_remove_all (login->counts);
  g_hash_table_insert (login->counts, g_strdup (key), GUINT_TO_POINTER (n + 1));
  g_autofree char *full = g_strdup_printf ("%s\1%u", key, n);
  g_autofree char *digest = g_compute_checksum_for_string (G_CHECKSUM_SHA256, full, -1);
  return g_strdup_printf ("pp-%.32s", digest);
}

static PaMsgKind
pp_kind_for_mime (const char *mime)
{
  if (mime == NULL)
    return PA_MSG_FILE;
  if (g_str_has_prefix (mime, "image/"))
    return PA_MSG_IMAGE;
  if (g_str_has_prefix (mime, "video/"))
    return PA_MSG_VIDEO;
  if (g_str_has_prefix (mime, "audio/"))
    return PA_MSG_AUDIO;
  return PA_MSG_FILE;
}

/* Returns emit()'s answer: 0 when the host refused the event. */
static guint64
pp_emit_message (PaLogin *login, PurpleConversation *conv, const char *chat_id,
                 const char *sender, const char *sender_name, gint64 ts_ms, gint64 ts_s,
                 const PaContent *content, const char *key_text)
{
  g_autofree char *msg_id = pp_message_id (login, chat_id, sender, ts_s, key_text);
  PaMember contact;
  g_autofree char *sid = g_strdup (sender);
  pp_fill_member (login, &contact, sid, sender_name);
  if (conv != NULL && !g_hash_table_contains (login->announced, chat_id))
    pp_emit_chat_info (login, conv);
  PaEvent ev = {
    .struct_size = sizeof (PaEvent),
    .type = PA_EV_MESSAGE,
    .chat_id = chat_id,
    .sender_id = sender,
    .timestamp_ms = ts_ms,
    .message_id = msg_id,
    .content = content,
    .contact = sender_name != NULL ? &contact : NULL,
  };
  return login->api->emit (login->host, &ev);
}

/* ------------------------------------------------------------ conversations */

static void
pp_write_conv (PurpleConversation *conv, const char *who, const char *alias, const char *message,
               PurpleMessageFlags flags, time_t mtime)
{
  PaLogin *login = pp_self;
  if (login == NULL || login->quitting || purple_conversation_get_account (conv) != login->account
      || message == NULL)
    return;
  gboolean is_chat = purple_conversation_get_type (conv) == PURPLE_CONV_TYPE_CHAT;
  g_autofree char *chat_id = pp_chat_id (login, conv);
  if (flags & PURPLE_MESSAGE_ERROR)
    {
      g_autofree char *text = purple_markup_strip_html (message);
      g_autofree char *msg = g_strdup_printf ("%s: %s", chat_id, text);
      login->api->notice (login->host, msg);
      return;
    }
  /* Our own messages (echoes of sends, MUC reflections) are never bridged
   * back; system lines (joins, topic) are carried by CHAT_INFO. */
  if (flags & (PURPLE_MESSAGE_SEND | PURPLE_MESSAGE_SYSTEM | PURPLE_MESSAGE_NOTIFY
               | PURPLE_MESSAGE_INVISIBLE)
      || who == NULL || *who == '\0')
    return;
  g_autofree char *sender
      = is_chat ? pp_member_id (login, conv, who) : g_strdup (chat_id);
  if (login->self_id != NULL && g_strcmp0 (sender, login->self_id) == 0)
    return;
  g_autofree char *body = g_strndup (message, PP_MAX_BODY);
  gboolean emote = purple_message_meify (body, -1);
  g_autofree char *text = NULL, *html = NULL;
  pp_markup_from_purple (body, &text, &html);
  gint64 now_ms = pp_now_ms ();
  gint64 ts_s = mtime > 0 ? (gint64) mtime : now_ms / 1000;
  /* prpls flag history as DELAYED in chats only; an IM from offline storage
   * just carries its old stamp (XMPP <delay>), where a live one carries the
   * second it arrived.  Either way the original time is kept. */
  if (ts_s < now_ms / 1000)
    flags |= PURPLE_MESSAGE_DELAYED;
  gint64 ts_ms = (flags & PURPLE_MESSAGE_DELAYED) ? ts_s * 1000 : now_ms;

  /* MUC history after a (re)join repeats what we bridged live, stamped by
   * the server a moment later: drop a delayed copy of a recent live line. */
  g_autofree char *rkey = g_strdup_printf ("%s\1%s\1%s", chat_id, sender, text);
  gpointer seen = g_hash_table_lookup (login->recent, rkey);
  if ((flags & PURPLE_MESSAGE_DELAYED) && seen != NULL
      && ABS ((gint64) GPOINTER_TO_SIZE (seen) - ts_s) <= PP_DELAYED_MATCH_S)
    return;
  if (!(flags & PURPLE_MESSAGE_DELAYED))
    {
      if (g_hash_table_size (login->recent) > PP_RECENT_MAX)
        g_hash_table_remove_all (login->recent);
      g_hash_table_insert (login->recent, g_strdup (rkey), GSIZE_TO_POINTER ((gsize) ts_s));
    }
  const char *name = alias != NULL && g_strcmp0 (alias, who) != 0 ? alias : (is_chat ? who : NULL);
  PaContent content = {
    .struct_size = sizeof (PaContent),
    .kind = emote ? PA_MSG_EMOTE : PA_MSG_TEXT,
    .text = text,
    .html = html,
  };
  pp_emit_message (login, conv, chat_id, sender, name, ts_ms, ts_s, &content, text);
}

static void
pp_chat_add_users (PurpleConversation *conv, GList *cbuddies, gboolean new_arrivals)
{
  if (pp_self != NULL)
    pp_mark_dirty (pp_self, conv);
}

static void
pp_chat_rename_user (PurpleConversation *conv, const char *old_name, const char *new_name,
                     const char *new_alias)
{
  if (pp_self != NULL)
    pp_mark_dirty (pp_self, conv);
}

static void
pp_chat_remove_users (PurpleConversation *conv, GList *users)
{
  if (pp_self != NULL)
    pp_mark_dirty (pp_self, conv);
}

static void
pp_chat_update_user (PurpleConversation *conv, const char *user)
{
  if (pp_self != NULL)
    pp_mark_dirty (pp_self, conv);
}

static void
pp_destroy_conversation (PurpleConversation *conv)
{
  PaLogin *login = pp_self;
  if (login == NULL)
    return;
  g_hash_table_remove (login->dirty, purple_conversation_get_name (conv));
}

static PurpleConversationUiOps pp_conv_ops = {
  .destroy_conversation = pp_destroy_conversation,
  .write_conv = pp_write_conv,
  .chat_add_users = pp_chat_add_users,
  .chat_rename_user = pp_chat_rename_user,
  .chat_remove_users = pp_chat_remove_users,
  .chat_update_user = pp_chat_update_user,
};

/* ------------------------------------------------------------ login steps */

static char *
pp_field_id (const char *prefix, const char *name)
{
  GString *s = g_string_new (prefix);
  for (const char *p = name; *p; p++)
    g_string_append_c (s, g_ascii_isalnum (*p) ? g_ascii_tolower (*p) : '_');
  return g_string_free (s, FALSE);
}

static void
pp_ask_protocol (PaLogin *login, const char *instructions)
{
  g_autoptr (GPtrArray) ids = g_ptr_array_new ();
  GString *help = g_string_new (instructions);
  for (GList *l = purple_plugins_get_protocols (); l != NULL; l = l->next)
    {
      PurplePlugin *p = l->data;
      const char *id = purple_plugin_get_id (p);
      if (id == NULL)
        continue;
      g_ptr_array_add (ids, (gpointer) id);
      g_string_append_printf (help, "\n• %s: %s", id, purple_plugin_get_name (p));
    }
  g_ptr_array_add (ids, NULL);
  const char *def = NULL;
  for (guint i = 0; ids->pdata[i] != NULL; i++)
    if (strcmp (ids->pdata[i], "prpl-jabber") == 0)
      def = "prpl-jabber";
  const PaField fields[] = {
    { sizeof (PaField), "protocol", "protocol", PA_FIELD_CHOICE, def, false,
      (const char *const *) ids->pdata },
  };
  PaLoginStep step = {
    .struct_size = sizeof (PaLoginStep),
    .kind = PA_STEP_USER_INPUT,
    .step_id = "protocol",
    .instructions = help->str,
    .fields = fields,
    .n_fields = G_N_ELEMENTS (fields),
  };
  login->api->login_step (login->host, &step);
  g_string_free (help, TRUE);
}

/* The second step: the chosen prpl's user name parts and options. */
static void
pp_ask_account (PaLogin *login, const char *instructions)
{
  PurplePlugin *prpl = purple_find_prpl (login->chosen_protocol);
  PurplePluginProtocolInfo *info = pp_prpl_info (login->chosen_protocol);
  if (prpl == NULL || info == NULL)
    {
      pp_ask_protocol (login, "That protocol is not installed. Choose one of:");
      return;
    }
  g_autoptr (GArray) fields = g_array_new (FALSE, TRUE, sizeof (PaField));
  g_autoptr (GPtrArray) strings = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) lists = g_ptr_array_new_with_free_func (g_free);
  const PpSession *prev = login->session != NULL
                                  && g_strcmp0 (login->session->protocol, login->chosen_protocol)
                                         == 0
                              ? login->session
                              : NULL;
  PaField f = { sizeof (PaField), "username", "user name", PA_FIELD_TEXT, NULL, false, NULL };
  g_array_append_val (fields, f);
  guint n = 0;
  for (GList *l = info->user_splits; l != NULL; l = l->next, n++)
    {
      PurpleAccountUserSplit *split = l->data;
      char *id = g_strdup_printf ("split.%u", n);
      g_ptr_array_add (strings, id);
      const char *def = purple_account_user_split_get_default_value (split);
      PaField sf = { sizeof (PaField), id, purple_account_user_split_get_text (split),
                     PA_FIELD_TEXT, def != NULL && *def != '\0' ? def : NULL, false, NULL };
      /* A split with an empty default (XMPP's resource) may be left out. */
      sf.optional = def != NULL;
      g_array_append_val (fields, sf);
    }
  if (!(info->options & OPT_PROTO_NO_PASSWORD))
    {
      PaField pf = { sizeof (PaField), "password", "password", PA_FIELD_PASSWORD, NULL,
                     (info->options & OPT_PROTO_PASSWORD_OPTIONAL) != 0, NULL };
      g_array_append_val (fields, pf);
    }
  for (GList *l = info->protocol_options; l != NULL; l = l->next)
    {
      PurpleAccountOption *opt = l->data;
      const char *setting = purple_account_option_get_setting (opt);
      char *id = pp_field_id ("opt.", setting);
      g_ptr_array_add (strings, id);
      PaField of = { sizeof (PaField), id, purple_account_option_get_text (opt), PA_FIELD_TEXT,
                     NULL, true, NULL };
      const char *saved = prev != NULL ? g_hash_table_lookup (prev->options, setting) : NULL;
      char *def = NULL;
      switch (purple_account_option_get_type (opt))
        {
        case PURPLE_PREF_BOOLEAN:
          of.type = PA_FIELD_BOOL;
          def = g_strdup (purple_account_option_get_default_bool (opt) ? "true" : "false");
          break;
        case PURPLE_PREF_INT:
          of.type = PA_FIELD_NUMBER;
          def = g_strdup_printf ("%d", purple_account_option_get_default_int (opt));
          break;
        case PURPLE_PREF_STRING:
          of.type = purple_account_option_get_masked (opt) ? PA_FIELD_PASSWORD : PA_FIELD_TEXT;
          if (purple_account_option_get_default_string (opt) != NULL
              && *purple_account_option_get_default_string (opt) != '\0')
            def = g_strdup (purple_account_option_get_default_string (opt));
          break;
        case PURPLE_PREF_STRING_LIST:
          {
            of.type = PA_FIELD_CHOICE;
            GPtrArray *choices = g_ptr_array_new ();
            for (GList *c = purple_account_option_get_list (opt); c != NULL; c = c->next)
              {
                PurpleKeyValuePair *kv = c->data;
                if (kv->value != NULL)
                  g_ptr_array_add (choices, kv->value);
              }
            g_ptr_array_add (choices, NULL);
            of.choices = (const char *const *) choices->pdata;
            g_ptr_array_add (lists, g_ptr_array_free (choices, FALSE));
            const char *d = purple_account_option_get_default_list_value (opt);
            def = g_strdup (d);
            break;
          }
        default:
          continue;
        }
      if (saved != NULL && of.type != PA_FIELD_PASSWORD)
        {
          g_free (def);
          def = g_strdup (saved);
        }
      if (def != NULL)
        g_ptr_array_add (strings, def);
      of.default_value = def;
      g_array_append_val (fields, of);
    }
  PaField af = { sizeof (PaField), "autojoin", "rooms to join (comma-separated)", PA_FIELD_TEXT,
                 prev != NULL && prev->autojoin != NULL && *prev->autojoin != '\0'
                     ? prev->autojoin
                     : NULL,
                 true, NULL };
  g_array_append_val (fields, af);
  g_autofree char *instr
      = g_strdup_printf ("%s%s%s account: send `-` to keep a default.",
                         instructions != NULL ? instructions : "",
                         instructions != NULL ? "\n" : "", purple_plugin_get_name (prpl));
  PaLoginStep step = {
    .struct_size = sizeof (PaLoginStep),
    .kind = PA_STEP_USER_INPUT,
    .step_id = "account",
    .instructions = instr,
    .fields = (const PaField *) (void *) fields->data,
    .n_fields = fields->len,
  };
  login->api->login_step (login->host, &step);
}

static gboolean
pp_parse_bool (const char *v, gboolean *out)
{
  if (g_ascii_strcasecmp (v, "true") == 0 || g_ascii_strcasecmp (v, "yes") == 0
      || strcmp (v, "1") == 0)
    *out = TRUE;
  else if (g_ascii_strcasecmp (v, "false") == 0 || g_ascii_strcasecmp (v, "no") == 0
           || strcmp (v, "0") == 0)
    *out = FALSE;
  else
    return FALSE;
  return TRUE;
}

/* Applies a session's password and options to the account. */
static gboolean
pp_apply_options (PaLogin *login, PurpleAccount *account, const PpSession *s, GError **error)
{
  PurplePluginProtocolInfo *info = pp_prpl_info (s->protocol);
  if (info == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "protocol %s is not installed",
                   s->protocol);
      return FALSE;
    }
  for (GList *l = info->protocol_options; l != NULL; l = l->next)
    {
      PurpleAccountOption *opt = l->data;
      const char *setting = purple_account_option_get_setting (opt);
      const char *v = g_hash_table_lookup (s->options, setting);
      if (v == NULL || *v == '\0')
        continue;
      switch (purple_account_option_get_type (opt))
        {
        case PURPLE_PREF_BOOLEAN:
          {
            gboolean b = FALSE;
            if (!pp_parse_bool (v, &b))
              {
                g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                             "%s must be true or false", purple_account_option_get_text (opt));
                return FALSE;
              }
            purple_account_set_bool (account, setting, b);
            break;
          }
        case PURPLE_PREF_INT:
          {
            gint64 n = 0;
            if (!g_ascii_string_to_signed (v, 10, G_MININT, G_MAXINT, &n, NULL))
              {
                g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                             "%s must be a number", purple_account_option_get_text (opt));
                return FALSE;
              }
            purple_account_set_int (account, setting, (int) n);
            break;
          }
        case PURPLE_PREF_STRING:
        case PURPLE_PREF_STRING_LIST:
          purple_account_set_string (account, setting, v);
          break;
        default:
          break;
        }
    }
  purple_account_set_remember_password (account, FALSE);
  purple_account_set_password (account, s->password != NULL && *s->password ? s->password : NULL);
  (void) login;
  return TRUE;
}

/* Creates (or finds) the one account for a session and connects it. */
static gboolean
pp_start_account (PaLogin *login, const PpSession *s, GError **error)
{
  PurpleAccount *account = purple_accounts_find (s->username, s->protocol);
  /* One account per worker: any other one is a leftover of an earlier login. */
  for (GList *l = g_list_copy (purple_accounts_get_all ()), *it = l; it != NULL; it = it->next)
    {
      if (it->data != account)
        {
          purple_account_set_enabled (it->data, PP_UI_ID, FALSE);
          purple_accounts_delete (it->data);
        }
      if (it->next == NULL)
        g_list_free (l);
    }
  gboolean created = FALSE;
  if (account == NULL)
    {
      account = purple_account_new (s->username, s->protocol);
      created = TRUE;
    }
  if (!pp_apply_options (login, account, s, error))
    {
      if (created)
        purple_account_destroy (account);
      return FALSE;
    }
  if (created)
    purple_accounts_add (account);
  login->account = account;
  login->signed_on = FALSE;
  g_free (login->self_id);
  login->self_id = pp_norm (login, s->username);
  purple_account_set_enabled (account, PP_UI_ID, TRUE);
  purple_account_set_status (account, "available", TRUE, NULL);
  if (purple_account_is_disconnected (account))
    purple_account_connect (account);
  return TRUE;
}

static void
pp_begin_attempt (PaLogin *login, PpSession *attempt)
{
  g_clear_handle_id (&login->reconnect_id, g_source_remove);
  if (login->account != NULL && !purple_account_is_disconnected (login->account))
    purple_account_disconnect (login->account);
  pp_session_free (login->attempt);
  login->attempt = attempt;
  login->api->login_state (login->host, PA_STATE_CONNECTING, NULL);
  g_autoptr (GError) err = NULL;
  if (!pp_start_account (login, attempt, &err))
    {
      g_clear_pointer (&login->attempt, pp_session_free);
      pp_ask_account (login, err->message);
    }
}

static void
pp_submit_account (PaLogin *login, const char *const *ids, const char *const *values, size_t n)
{
  PurplePluginProtocolInfo *info = pp_prpl_info (login->chosen_protocol);
  if (info == NULL)
    {
      pp_ask_protocol (login, "Choose a protocol first:");
      return;
    }
  g_autoptr (GHashTable) ans = g_hash_table_new (g_str_hash, g_str_equal);
  for (size_t i = 0; ids != NULL && values != NULL && i < n; i++)
    {
      if (ids[i] == NULL || values[i] == NULL)
        continue;
      if (strlen (values[i]) > PP_MAX_FIELD)
        {
          pp_ask_account (login, "Each answer must be at most 1024 bytes.");
          return;
        }
      g_hash_table_insert (ans, (gpointer) ids[i], (gpointer) values[i]);
    }
  const char *user = g_hash_table_lookup (ans, "username");
  if (user == NULL || *user == '\0')
    {
      pp_ask_account (login, "The user name is needed.");
      return;
    }
  g_autoptr (PpSession) s = pp_session_new ();
  s->protocol = g_strdup (login->chosen_protocol);
  GString *full = g_string_new (user);
  guint k = 0;
  for (GList *l = info->user_splits; l != NULL; l = l->next, k++)
    {
      PurpleAccountUserSplit *split = l->data;
      g_autofree char *id = g_strdup_printf ("split.%u", k);
      const char *v = g_hash_table_lookup (ans, id);
      if (v == NULL || *v == '\0')
        v = purple_account_user_split_get_default_value (split);
      if (v == NULL || *v == '\0')
        {
          if (purple_account_user_split_get_default_value (split) == NULL)
            {
              g_string_free (full, TRUE);
              g_autofree char *msg = g_strdup_printf ("The %s is needed.",
                                                      purple_account_user_split_get_text (split));
              pp_ask_account (login, msg);
              return;
            }
          continue;
        }
      g_string_append_c (full, purple_account_user_split_get_separator (split));
      g_string_append (full, v);
    }
  s->username = g_string_free (full, FALSE);
  const char *pw = g_hash_table_lookup (ans, "password");
  s->password = g_strdup (pw != NULL ? pw : "");
  for (GList *l = info->protocol_options; l != NULL; l = l->next)
    {
      const char *setting = purple_account_option_get_setting (l->data);
      g_autofree char *id = pp_field_id ("opt.", setting);
      const char *v = g_hash_table_lookup (ans, id);
      if (v != NULL && *v != '\0')
        g_hash_table_insert (s->options, g_strdup (setting), g_strdup (v));
    }
  const char *aj = g_hash_table_lookup (ans, "autojoin");
  s->autojoin = g_strdup (aj != NULL ? aj : "");
  if (login->session != NULL && g_strcmp0 (login->session->username, s->username) == 0)
    for (guint i = 0; i < login->session->rooms->len; i++)
      g_ptr_array_add (s->rooms, g_strdup (g_ptr_array_index (login->session->rooms, i)));
  pp_begin_attempt (login, g_steal_pointer (&s));
}

/* ------------------------------------------------------------ connections */

static gboolean
pp_on_reconnect (gpointer data)
{
  PaLogin *login = data;
  login->reconnect_id = 0;
  if (!login->want_online || login->session == NULL)
    return G_SOURCE_REMOVE;
  login->api->login_state (login->host, PA_STATE_CONNECTING, NULL);
  g_autoptr (GError) err = NULL;
  if (login->account == NULL || !purple_account_is_disconnected (login->account))
    {
      if (!pp_start_account (login, login->session, &err))
        login->api->login_state (login->host, PA_STATE_UNKNOWN_ERROR, err->message);
    }
  else
    purple_account_connect (login->account);
  return G_SOURCE_REMOVE;
}

static void
pp_schedule_reconnect (PaLogin *login, const char *why)
{
  g_clear_handle_id (&login->reconnect_id, g_source_remove);
  g_autofree char *msg = g_strdup_printf ("Disconnected (%s); retrying in %u s", why,
                                          login->backoff_s);
  login->api->login_state (login->host, PA_STATE_TRANSIENT_DISCONNECT, msg);
  login->reconnect_id = g_timeout_add_seconds (login->backoff_s, pp_on_reconnect, login);
  login->backoff_s = MIN (login->backoff_s * 2, PP_BACKOFF_MAX_S);
}

static gboolean
pp_auth_error (PurpleConnectionError e)
{
  return e == PURPLE_CONNECTION_ERROR_AUTHENTICATION_FAILED
         || e == PURPLE_CONNECTION_ERROR_AUTHENTICATION_IMPOSSIBLE
         || e == PURPLE_CONNECTION_ERROR_INVALID_USERNAME
         || e == PURPLE_CONNECTION_ERROR_INVALID_SETTINGS;
}

/* Runs after libpurple finished tearing the connection down. */
static gboolean
pp_after_disconnect (gpointer data)
{
  PaLogin *login = data;
  login->disconnect_idle_id = 0;
  const char *why = login->last_error_text != NULL ? login->last_error_text : "connection lost";
  if (login->attempt != NULL)
    {
      g_clear_pointer (&login->attempt, pp_session_free);
      g_autofree char *msg = g_strdup_printf ("Could not log in: %s", why);
      login->api->login_state (login->host,
                               pp_auth_error (login->last_error) ? PA_STATE_BAD_CREDENTIALS
                                                                 : PA_STATE_UNKNOWN_ERROR,
                               msg);
      if (login->account != NULL)
        purple_account_set_enabled (login->account, PP_UI_ID, FALSE);
      pp_ask_account (login, msg);
      return G_SOURCE_REMOVE;
    }
  if (login->session == NULL || !login->want_online)
    return G_SOURCE_REMOVE;
  if (pp_auth_error (login->last_error))
    {
      /* A saved login that no longer works needs the agent: stop retrying. */
      g_autofree char *msg = g_strdup_printf ("The network refused the saved login (%s): log "
                                              "in again.", why);
      login->want_online = FALSE;
      login->api->login_state (login->host, PA_STATE_BAD_CREDENTIALS, msg);
      return G_SOURCE_REMOVE;
    }
  pp_schedule_reconnect (login, why);
  return G_SOURCE_REMOVE;
}

static void
pp_report_disconnect_reason (PurpleConnection *gc, PurpleConnectionError reason,
                             const char *text)
{
  PaLogin *login = pp_self;
  if (login == NULL || login->quitting || purple_connection_get_account (gc) != login->account)
    return;
  login->signed_on = FALSE;
  login->last_error = reason;
  g_free (login->last_error_text);
  login->last_error_text = g_strdup (text);
  pp_log (login, PA_LOG_INFO, "disconnected: %s", text != NULL ? text : "(no reason)");
  /* libpurple frees the connection after this callback: act later. */
  if (login->disconnect_idle_id == 0)
    login->disconnect_idle_id = g_timeout_add (50, pp_after_disconnect, login);
}

static void
pp_complete_login (PaLogin *login)
{
  PurpleConnection *gc = pp_gc (login);
  g_autoptr (GError) err = NULL;
  if (!pp_save_session (login, login->attempt, &err))
    {
      pp_log (login, PA_LOG_WARNING, "cannot save the session: %s", err->message);
      login->api->notice (login->host, "Logged in, but the login could not be saved: you "
                                       "will have to log in again after a restart.");
    }
  pp_session_free (login->session);
  login->session = g_steal_pointer (&login->attempt);
  login->want_online = TRUE;
  const char *name = gc != NULL ? purple_connection_get_display_name (gc) : NULL;
  PaLoginStep step = {
    .struct_size = sizeof (PaLoginStep),
    .kind = PA_STEP_COMPLETE,
    .step_id = "complete",
    .instructions = "Logged in.",
    .remote_id = login->self_id,
    .remote_name = name != NULL ? name : login->self_id,
  };
  login->api->login_step (login->host, &step);
}

static void
pp_signed_on (PurpleConnection *gc, gpointer data)
{
  PaLogin *login = data;
  if (login->quitting || purple_connection_get_account (gc) != login->account)
    return;
  login->signed_on = TRUE;
  login->backoff_s = PP_BACKOFF_MIN_S;
  g_clear_handle_id (&login->disconnect_idle_id, g_source_remove);
  if (login->attempt != NULL)
    pp_complete_login (login);
  login->api->login_state (login->host, PA_STATE_CONNECTED, NULL);
  GSList *buddies = purple_find_buddies (login->account, NULL);
  for (GSList *l = buddies; l != NULL; l = l->next)
    pp_emit_contact (login, l->data);
  g_slist_free (buddies);
  pp_join_rooms (login);
}

static PurpleConnectionUiOps pp_connection_ops = {
  .report_disconnect_reason = pp_report_disconnect_reason,
};

/* ------------------------------------------------------------ chats */

static gboolean
pp_join_chat (PaLogin *login, const char *name, GError **error)
{
  PurpleConnection *gc = pp_gc (login);
  PurplePluginProtocolInfo *info = gc != NULL ? PURPLE_PLUGIN_PROTOCOL_INFO (
                                                    purple_connection_get_prpl (gc))
                                              : NULL;
  if (info == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED, "not connected");
      return FALSE;
    }
  if (info->chat_info_defaults == NULL || info->join_chat == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                           "this network has no group chats");
      return FALSE;
    }
  GHashTable *comps = info->chat_info_defaults (gc, name);
  if (comps == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "%s is not a room name",
                   name);
      return FALSE;
    }
  serv_join_chat (gc, comps);
  g_hash_table_destroy (comps);
  return TRUE;
}

static void
pp_join_rooms (PaLogin *login)
{
  if (login->session == NULL)
    return;
  g_autoptr (GHashTable) done = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_auto (GStrv) aj = g_strsplit (login->session->autojoin != NULL ? login->session->autojoin
                                                                   : "",
                                  ",", PP_MAX_ROOMS);
  g_autoptr (GPtrArray) all = g_ptr_array_new ();
  for (guint i = 0; aj[i] != NULL; i++)
    g_ptr_array_add (all, g_strstrip (aj[i]));
  for (guint i = 0; i < login->session->rooms->len; i++)
    g_ptr_array_add (all, g_ptr_array_index (login->session->rooms, i));
  for (guint i = 0; i < all->len; i++)
    {
      const char *room = g_ptr_array_index (all, i);
      if (*room == '\0' || g_hash_table_contains (done, room))
        continue;
      g_hash_table_add (done, g_strdup (room));
      g_autoptr (GError) err = NULL;
      if (!pp_join_chat (login, room, &err))
        {
          g_autofree char *msg = g_strdup_printf ("Could not join %s: %s", room, err->message);
          login->api->notice (login->host, msg);
        }
    }
}

static void
pp_remember_room (PaLogin *login, const char *chat_id, gboolean keep)
{
  if (login->session == NULL)
    return;
  GPtrArray *rooms = login->session->rooms;
  for (guint i = 0; i < rooms->len; i++)
    if (g_strcmp0 (g_ptr_array_index (rooms, i), chat_id) == 0)
      {
        if (keep)
          return;
        g_ptr_array_remove_index (rooms, i);
        break;
      }
  if (keep)
    {
      if (rooms->len >= PP_MAX_ROOMS)
        return;
      g_ptr_array_add (rooms, g_strdup (chat_id));
    }
  g_autoptr (GError) err = NULL;
  if (!pp_save_session (login, login->session, &err))
    pp_log (login, PA_LOG_WARNING, "cannot save the session: %s", err->message);
}

static void
pp_chat_joined (PurpleConversation *conv, gpointer data)
{
  PaLogin *login = data;
  if (login->quitting || purple_conversation_get_account (conv) != login->account)
    return;
  g_autofree char *chat_id = pp_chat_id (login, conv);
  guint64 *op = g_hash_table_lookup (login->join_ops, chat_id);
  if (op != NULL)
    {
      pp_remember_room (login, chat_id, TRUE);
      pp_op_ok (login, *op, chat_id, 0);
      g_hash_table_remove (login->join_ops, chat_id);
    }
  /* An accepted invitation: the room is joined again after a restart. */
  if (g_hash_table_remove (login->invited, chat_id))
    pp_remember_room (login, chat_id, TRUE);
  pp_mark_dirty (login, conv);
}

static void
pp_chat_join_failed (PurpleConnection *gc, GHashTable *components, gpointer data)
{
  PaLogin *login = data;
  if (login->quitting || purple_connection_get_account (gc) != login->account)
    return;
  PurplePluginProtocolInfo *info = PURPLE_PLUGIN_PROTOCOL_INFO (purple_connection_get_prpl (gc));
  g_autofree char *name = info->get_chat_name != NULL ? info->get_chat_name (components) : NULL;
  g_autofree char *chat_id = name != NULL ? pp_norm (login, name) : NULL;
  g_autofree char *msg = g_strdup_printf ("Could not join the room %s.",
                                          chat_id != NULL ? chat_id : "(unknown)");
  guint64 *op = chat_id != NULL ? g_hash_table_lookup (login->join_ops, chat_id) : NULL;
  if (op != NULL)
    {
      pp_op_fail (login, *op, PA_RESULT_PERMANENT, msg);
      g_hash_table_remove (login->join_ops, chat_id);
    }
  else
    login->api->notice (login->host, msg);
}

static void
pp_chat_topic_changed (PurpleConversation *conv, const char *who, const char *topic,
                       gpointer data)
{
  pp_mark_dirty (data, conv);
}

static int
pp_chat_invited (PurpleAccount *account, const char *inviter, const char *chat,
                 const char *message, GHashTable *components, gpointer data)
{
  PaLogin *login = data;
  if (account != login->account)
    return 0;
  g_autofree char *msg = g_strdup_printf ("%s invites you to the room %s%s%s", inviter, chat,
                                          message != NULL ? ": " : ".",
                                          message != NULL ? message : "");
  login->api->notice (login->host, msg);
  if (g_hash_table_size (login->invited) < PP_MAX_ROOMS)
    g_hash_table_add (login->invited, pp_norm (login, chat));
  return 0; /* libpurple then asks through request_action: accept or not */
}

/* ------------------------------------------------------------ buddies */

static void
pp_buddy_changed (PurpleBuddy *buddy, gpointer data)
{
  PaLogin *login = data;
  if (login->signed_on)
    pp_emit_contact (login, buddy);
}

static void
pp_node_aliased (PurpleBlistNode *node, const char *old_alias, gpointer data)
{
  if (PURPLE_BLIST_NODE_IS_BUDDY (node))
    pp_buddy_changed ((PurpleBuddy *) node, data);
}

static void
pp_buddy_presence (PurpleBuddy *buddy, gpointer data)
{
  PaLogin *login = data;
  if (login->signed_on)
    pp_emit_presence (login, buddy);
}

static void
pp_buddy_status_changed (PurpleBuddy *buddy, PurpleStatus *old, PurpleStatus *now, gpointer data)
{
  pp_buddy_presence (buddy, data);
}

static void
pp_typing (PurpleAccount *account, const char *name, gboolean typing)
{
  PaLogin *login = pp_self;
  if (login == NULL || login->quitting || account != login->account || name == NULL)
    return;
  g_autofree char *id = pp_norm (login, name);
  /* libpurple says "stopped" on every message: only end what was started,
   * so a stray notification never opens a portal. */
  if (typing)
    g_hash_table_add (login->typing, g_strdup (id));
  else if (!g_hash_table_remove (login->typing, id))
    return;
  PaEvent ev = {
    .struct_size = sizeof (PaEvent),
    .type = PA_EV_TYPING,
    .chat_id = id,
    .sender_id = id,
    .timestamp_ms = pp_now_ms (),
    .typing = typing,
    .typing_timeout_ms = typing ? PP_TYPING_TIMEOUT_MS : 0,
  };
  login->api->emit (login->host, &ev);
}

static void
pp_buddy_typing (PurpleAccount *account, const char *name, gpointer data)
{
  pp_typing (account, name, TRUE);
}

static void
pp_buddy_typing_stopped (PurpleAccount *account, const char *name, gpointer data)
{
  pp_typing (account, name, FALSE);
}

/* Buddies whose subscription we accept are added back with their nick, so
 * the contact has a name on both sides. */
static void
pp_add_buddy (PaLogin *login, const char *who, const char *alias)
{
  if (purple_find_buddy (login->account, who) != NULL)
    return;
  PurpleBuddy *b = purple_buddy_new (login->account, who, alias);
  purple_blist_add_buddy (b, NULL, NULL, NULL);
  purple_account_add_buddy (login->account, b);
}

static gboolean
pp_auth_idle (gpointer data)
{
  PpAuth *a = data;
  PaLogin *login = pp_self;
  a->idle_id = 0;
  if (login != NULL)
    login->auths = g_list_remove (login->auths, a);
  PurpleAccountRequestAuthorizationCb cb = a->cb;
  void *ud = a->user_data;
  g_free (a);
  cb (ud);
  return G_SOURCE_REMOVE;
}

static void *
pp_request_authorize (PurpleAccount *account, const char *remote_user, const char *id,
                      const char *alias, const char *message, gboolean on_list,
                      PurpleAccountRequestAuthorizationCb authorize_cb,
                      PurpleAccountRequestAuthorizationCb deny_cb, void *user_data)
{
  PaLogin *login = pp_self;
  if (login == NULL || account != login->account)
    return NULL;
  g_autofree char *msg
      = g_strdup_printf ("%s%s%s%s added you as a contact; accepted.",
                         alias != NULL ? alias : "", alias != NULL ? " (" : "", remote_user,
                         alias != NULL ? ")" : "");
  login->api->notice (login->host, msg);
  if (!on_list)
    pp_add_buddy (login, remote_user, alias);
  /* The callback frees the request: it must not run inside this UI op. */
  PpAuth *a = g_new0 (PpAuth, 1);
  a->cb = authorize_cb;
  a->user_data = user_data;
  a->idle_id = g_idle_add (pp_auth_idle, a);
  login->auths = g_list_prepend (login->auths, a);
  return a;
}

static void
pp_close_account_request (void *ui_handle)
{
  PaLogin *login = pp_self;
  if (login == NULL || g_list_find (login->auths, ui_handle) == NULL)
    return;
  PpAuth *a = ui_handle;
  login->auths = g_list_remove (login->auths, a);
  g_clear_handle_id (&a->idle_id, g_source_remove);
  g_free (a);
}

static void
pp_request_add (PurpleAccount *account, const char *remote_user, const char *id,
                const char *alias, const char *message)
{
  PaLogin *login = pp_self;
  if (login != NULL && account == login->account)
    pp_add_buddy (login, remote_user, alias);
}

static PurpleAccountUiOps pp_account_ops = {
  .request_add = pp_request_add,
  .request_authorize = pp_request_authorize,
  .close_account_request = pp_close_account_request,
};

/* ------------------------------------------------------------ requests */

static void
pp_request_free (PpRequest *r)
{
  if (r->fields != NULL)
    purple_request_fields_destroy (r->fields);
  if (r->image_path != NULL)
    g_unlink (r->image_path);
  g_free (r->image_path);
  g_free (r->step_id);
  g_free (r->title);
  if (r->labels != NULL)
    g_ptr_array_unref (r->labels);
  if (r->values != NULL)
    g_array_unref (r->values);
  if (r->callbacks != NULL)
    g_ptr_array_unref (r->callbacks);
  g_free (r);
}

static char *
pp_join_text (const char *title, const char *primary, const char *secondary)
{
  GString *s = g_string_new (NULL);
  const char *parts[] = { title, primary, secondary };
  for (gsize i = 0; i < G_N_ELEMENTS (parts); i++)
    {
      if (parts[i] == NULL || *parts[i] == '\0')
        continue;
      g_autofree char *plain = purple_markup_strip_html (parts[i]);
      if (s->len > 0 && strstr (s->str, plain) != NULL)
        continue;
      if (s->len > 0)
        g_string_append (s, "\n");
      g_string_append (s, plain);
    }
  return g_string_free (s, FALSE);
}

static PpRequest *
pp_request_new (PaLogin *login, PurpleRequestType type, const char *title, const char *primary,
                const char *secondary)
{
  PpRequest *r = g_new0 (PpRequest, 1);
  r->id = ++login->next_request;
  r->type = type;
  r->step_id = g_strdup_printf ("request-%u", r->id);
  r->title = pp_join_text (title, primary, secondary);
  return r;
}

static void *
pp_request_queue (PaLogin *login, PpRequest *r)
{
  if (g_queue_get_length (&login->requests) >= PP_MAX_REQUESTS)
    {
      /* A flood of questions: further ones are left unanswered (libpurple
       * takes a NULL handle as "no UI"). */
      pp_log (login, PA_LOG_WARNING, "too many pending requests; ignoring \"%s\"", r->title);
      pp_request_free (r);
      return NULL;
    }
  g_queue_push_tail (&login->requests, r);
  if (g_queue_get_length (&login->requests) == 1)
    pp_show_next_request (login);
  return r;
}

static void
pp_show_fields_step (PaLogin *login, PpRequest *r)
{
  g_autoptr (GArray) fields = g_array_new (FALSE, TRUE, sizeof (PaField));
  g_autoptr (GPtrArray) keep = g_ptr_array_new_with_free_func (g_free);
  GString *instr = g_string_new (r->title);
  for (GList *g = purple_request_fields_get_groups (r->fields); g != NULL; g = g->next)
    for (GList *l = purple_request_field_group_get_fields (g->data); l != NULL; l = l->next)
      {
        PurpleRequestField *f = l->data;
        if (!purple_request_field_is_visible (f))
          continue;
        PaField pf = { sizeof (PaField), purple_request_field_get_id (f),
                       purple_request_field_get_label (f), PA_FIELD_TEXT, NULL,
                       !purple_request_field_is_required (f), NULL };
        if (pf.label == NULL)
          pf.label = pf.id;
        switch (purple_request_field_get_type (f))
          {
          case PURPLE_REQUEST_FIELD_STRING:
            pf.type = purple_request_field_string_is_masked (f) ? PA_FIELD_PASSWORD
                                                                 : PA_FIELD_TEXT;
            pf.default_value = purple_request_field_string_get_default_value (f);
            break;
          case PURPLE_REQUEST_FIELD_INTEGER:
            {
              char *d = g_strdup_printf ("%d", purple_request_field_int_get_default_value (f));
              g_ptr_array_add (keep, d);
              pf.type = PA_FIELD_NUMBER;
              pf.default_value = d;
              break;
            }
          case PURPLE_REQUEST_FIELD_BOOLEAN:
            pf.type = PA_FIELD_BOOL;
            pf.default_value = purple_request_field_bool_get_default_value (f) ? "true" : "false";
            break;
          case PURPLE_REQUEST_FIELD_CHOICE:
          case PURPLE_REQUEST_FIELD_LIST:
            {
              GList *items = purple_request_field_get_type (f) == PURPLE_REQUEST_FIELD_CHOICE
                                 ? purple_request_field_choice_get_labels (f)
                                 : purple_request_field_list_get_items (f);
              GPtrArray *c = g_ptr_array_new ();
              for (GList *i = items; i != NULL; i = i->next)
                g_ptr_array_add (c, i->data);
              g_ptr_array_add (c, NULL);
              pf.type = PA_FIELD_CHOICE;
              pf.choices = (const char *const *) c->pdata;
              if (purple_request_field_get_type (f) == PURPLE_REQUEST_FIELD_CHOICE)
                {
                  int def = purple_request_field_choice_get_default_value (f);
                  pf.default_value = def >= 0 ? g_list_nth_data (items, (guint) def) : NULL;
                }
              g_ptr_array_add (keep, g_ptr_array_free (c, FALSE));
              break;
            }
          case PURPLE_REQUEST_FIELD_LABEL:
            g_string_append_printf (instr, "\n%s", pf.label);
            continue;
          default:
            continue;
          }
        if (pf.id == NULL)
          continue;
        g_array_append_val (fields, pf);
      }
  PaLoginStep step = {
    .struct_size = sizeof (PaLoginStep),
    .kind = PA_STEP_USER_INPUT,
    .step_id = r->step_id,
    .instructions = instr->str,
    .fields = (const PaField *) (void *) fields->data,
    .n_fields = fields->len,
  };
  login->api->login_step (login->host, &step);
  g_string_free (instr, TRUE);
}

static void
pp_show_next_request (PaLogin *login)
{
  PpRequest *r = g_queue_peek_head (&login->requests);
  if (r == NULL || r->shown)
    return;
  r->shown = TRUE;
  if (r->image_path != NULL)
    {
      PaLoginStep step = {
        .struct_size = sizeof (PaLoginStep),
        .kind = PA_STEP_DISPLAY_AND_WAIT,
        .step_id = r->step_id,
        .instructions = r->title,
        .image_path = r->image_path,
      };
      login->api->login_step (login->host, &step);
      return;
    }
  if (r->type == PURPLE_REQUEST_FIELDS)
    {
      pp_show_fields_step (login, r);
      return;
    }
  PaField f = { sizeof (PaField), "answer", "answer", PA_FIELD_TEXT, NULL, false, NULL };
  if (r->type == PURPLE_REQUEST_INPUT)
    f.type = r->masked ? PA_FIELD_PASSWORD : PA_FIELD_TEXT;
  else
    {
      f.type = PA_FIELD_CHOICE;
      g_ptr_array_add (r->labels, NULL);
      f.choices = (const char *const *) r->labels->pdata;
      g_ptr_array_remove_index (r->labels, r->labels->len - 1);
    }
  PaLoginStep step = {
    .struct_size = sizeof (PaLoginStep),
    .kind = PA_STEP_USER_INPUT,
    .step_id = r->step_id,
    .instructions = r->title,
    .fields = &f,
    .n_fields = 1,
  };
  if (r->labels != NULL)
    g_ptr_array_add (r->labels, NULL);
  login->api->login_step (login->host, &step);
  if (r->labels != NULL)
    g_ptr_array_remove_index (r->labels, r->labels->len - 1);
}

static void *
pp_request_input (const char *title, const char *primary, const char *secondary,
                  const char *default_value, gboolean multiline, gboolean masked, gchar *hint,
                  const char *ok_text, GCallback ok_cb, const char *cancel_text,
                  GCallback cancel_cb, PurpleAccount *account, const char *who,
                  PurpleConversation *conv, void *user_data)
{
  PaLogin *login = pp_self;
  if (login == NULL)
    return NULL;
  PpRequest *r = pp_request_new (login, PURPLE_REQUEST_INPUT, title, primary, secondary);
  r->ok_cb = ok_cb;
  r->cancel_cb = cancel_cb;
  r->user_data = user_data;
  r->masked = masked;
  return pp_request_queue (login, r);
}

static void *
pp_request_choice (const char *title, const char *primary, const char *secondary,
                   int default_value, const char *ok_text, GCallback ok_cb,
                   const char *cancel_text, GCallback cancel_cb, PurpleAccount *account,
                   const char *who, PurpleConversation *conv, void *user_data, va_list choices)
{
  PaLogin *login = pp_self;
  if (login == NULL)
    return NULL;
  PpRequest *r = pp_request_new (login, PURPLE_REQUEST_CHOICE, title, primary, secondary);
  r->ok_cb = ok_cb;
  r->cancel_cb = cancel_cb;
  r->user_data = user_data;
  r->labels = g_ptr_array_new_with_free_func (g_free);
  r->values = g_array_new (FALSE, FALSE, sizeof (int));
  const char *label;
  while ((label = va_arg (choices, const char *)) != NULL && r->labels->len < 64)
    {
      int v = va_arg (choices, int);
      g_ptr_array_add (r->labels, purple_markup_strip_html (label));
      g_array_append_val (r->values, v);
    }
  return pp_request_queue (login, r);
}

static void *
pp_request_action (const char *title, const char *primary, const char *secondary,
                   int default_action, PurpleAccount *account, const char *who,
                   PurpleConversation *conv, void *user_data, size_t action_count,
                   va_list actions)
{
  PaLogin *login = pp_self;
  if (login == NULL)
    return NULL;
  PpRequest *r = pp_request_new (login, PURPLE_REQUEST_ACTION, title, primary, secondary);
  r->user_data = user_data;
  r->labels = g_ptr_array_new_with_free_func (g_free);
  r->callbacks = g_ptr_array_new ();
  for (size_t i = 0; i < action_count && i < 64; i++)
    {
      const char *label = va_arg (actions, const char *);
      GCallback cb = va_arg (actions, GCallback);
      /* Labels carry GTK mnemonics ("_Accept"). */
      g_autofree char *plain = purple_markup_strip_html (label != NULL ? label : "?");
      GString *s = g_string_new (NULL);
      for (const char *p = plain; *p; p++)
        if (*p != '_')
          g_string_append_c (s, *p);
      g_ptr_array_add (r->labels, g_string_free (s, FALSE));
      g_ptr_array_add (r->callbacks, (gpointer) cb);
    }
  return pp_request_queue (login, r);
}

static void *
pp_request_action_with_icon (const char *title, const char *primary, const char *secondary,
                             int default_action, PurpleAccount *account, const char *who,
                             PurpleConversation *conv, gconstpointer icon_data, gsize icon_size,
                             void *user_data, size_t action_count, va_list actions)
{
  return pp_request_action (title, primary, secondary, default_action, account, who, conv,
                            user_data, action_count, actions);
}

static void *
pp_request_fields (const char *title, const char *primary, const char *secondary,
                   PurpleRequestFields *fields, const char *ok_text, GCallback ok_cb,
                   const char *cancel_text, GCallback cancel_cb, PurpleAccount *account,
                   const char *who, PurpleConversation *conv, void *user_data)
{
  PaLogin *login = pp_self;
  if (login == NULL)
    return NULL;
  PpRequest *r = pp_request_new (login, PURPLE_REQUEST_FIELDS, title, primary, secondary);
  r->ok_cb = ok_cb;
  r->cancel_cb = cancel_cb;
  r->user_data = user_data;
  r->fields = fields;
  /* An image (a QR code to scan) is shown to the agent as a picture. */
  for (GList *g = purple_request_fields_get_groups (fields); g != NULL && r->image_path == NULL;
       g = g->next)
    for (GList *l = purple_request_field_group_get_fields (g->data); l != NULL; l = l->next)
      {
        PurpleRequestField *f = l->data;
        if (purple_request_field_get_type (f) != PURPLE_REQUEST_FIELD_IMAGE)
          continue;
        gsize size = purple_request_field_image_get_size (f);
        const char *buf = purple_request_field_image_get_buffer (f);
        if (buf == NULL || size == 0 || size > PP_MAX_RECV_FILE)
          continue;
        g_autofree char *name = g_strdup_printf ("request-%u.png", r->id);
        char *path = g_build_filename (login->data_dir, name, NULL);
        g_autoptr (GError) err = NULL;
        if (!pp_write_private (path, buf, size, &err))
          {
            pp_log (login, PA_LOG_WARNING, "cannot write the request image: %s", err->message);
            g_free (path);
            continue;
          }
        r->image_path = path;
        break;
      }
  return pp_request_queue (login, r);
}

typedef struct {
  GCallback cb;
  void *user_data;
  void *handle;
  PurpleRequestType type;
} PpCancel;

static gboolean
pp_cancel_idle (gpointer data)
{
  PpCancel *c = data;
  if (c->cb != NULL)
    ((PurpleRequestFileCb) c->cb) (c->user_data, NULL);
  purple_request_close (c->type, c->handle);
  g_free (c);
  return G_SOURCE_REMOVE;
}

static void *
pp_request_file (const char *title, const char *filename, gboolean savedialog, GCallback ok_cb,
                 GCallback cancel_cb, PurpleAccount *account, const char *who,
                 PurpleConversation *conv, void *user_data)
{
  PaLogin *login = pp_self;
  if (login == NULL)
    return NULL;
  g_autofree char *msg
      = g_strdup_printf ("%s: choosing a file is not possible through Passerelle; cancelled.",
                         title != NULL ? title : "File request");
  login->api->notice (login->host, msg);
  PpCancel *c = g_new0 (PpCancel, 1);
  c->cb = cancel_cb;
  c->user_data = user_data;
  c->handle = c;
  c->type = PURPLE_REQUEST_FILE;
  g_idle_add (pp_cancel_idle, c);
  return c;
}

static void
pp_close_request (PurpleRequestType type, void *ui_handle)
{
  PaLogin *login = pp_self;
  if (login == NULL || ui_handle == NULL)
    return;
  GList *link = g_queue_find (&login->requests, ui_handle);
  if (link == NULL)
    return;
  gboolean was_head = link == login->requests.head;
  g_queue_delete_link (&login->requests, link);
  pp_request_free (ui_handle);
  if (was_head)
    pp_show_next_request (login);
}

static PurpleRequestUiOps pp_request_ops = {
  .request_input = pp_request_input,
  .request_choice = pp_request_choice,
  .request_action = pp_request_action,
  .request_fields = pp_request_fields,
  .request_file = pp_request_file,
  .close_request = pp_close_request,
  .request_action_with_icon = pp_request_action_with_icon,
};

static gboolean
pp_set_field (PurpleRequestField *f, const char *v)
{
  switch (purple_request_field_get_type (f))
    {
    case PURPLE_REQUEST_FIELD_STRING:
      purple_request_field_string_set_value (f, v);
      return TRUE;
    case PURPLE_REQUEST_FIELD_INTEGER:
      {
        gint64 n = 0;
        if (!g_ascii_string_to_signed (v, 10, G_MININT, G_MAXINT, &n, NULL))
          return FALSE;
        purple_request_field_int_set_value (f, (int) n);
        return TRUE;
      }
    case PURPLE_REQUEST_FIELD_BOOLEAN:
      {
        gboolean b = FALSE;
        if (!pp_parse_bool (v, &b))
          return FALSE;
        purple_request_field_bool_set_value (f, b);
        return TRUE;
      }
    case PURPLE_REQUEST_FIELD_CHOICE:
      {
        int i = 0;
        for (GList *l = purple_request_field_choice_get_labels (f); l != NULL; l = l->next, i++)
          if (g_strcmp0 (l->data, v) == 0)
            {
              purple_request_field_choice_set_value (f, i);
              return TRUE;
            }
        return FALSE;
      }
    case PURPLE_REQUEST_FIELD_LIST:
      for (GList *l = purple_request_field_list_get_items (f); l != NULL; l = l->next)
        if (g_strcmp0 (l->data, v) == 0)
          {
            purple_request_field_list_clear_selected (f);
            purple_request_field_list_add_selected (f, v);
            return TRUE;
          }
      return FALSE;
    default:
      return TRUE;
    }
}

/* The agent answered request `r` (values NULL: cancelled). */
static void
pp_answer_request (PaLogin *login, PpRequest *r, const char *const *ids,
                   const char *const *values, size_t n)
{
  PurpleRequestType type = r->type;
  const char *answer = NULL;
  for (size_t i = 0; ids != NULL && values != NULL && i < n; i++)
    if (g_strcmp0 (ids[i], "answer") == 0)
      answer = values[i];
  switch (type)
    {
    case PURPLE_REQUEST_INPUT:
      if (values == NULL)
        {
          if (r->cancel_cb != NULL)
            ((PurpleRequestInputCb) r->cancel_cb) (r->user_data, NULL);
        }
      else if (r->ok_cb != NULL)
        ((PurpleRequestInputCb) r->ok_cb) (r->user_data, answer != NULL ? answer : "");
      break;
    case PURPLE_REQUEST_CHOICE:
      {
        int v = -1;
        for (guint i = 0; answer != NULL && i < r->labels->len; i++)
          if (g_strcmp0 (g_ptr_array_index (r->labels, i), answer) == 0)
            v = g_array_index (r->values, int, i);
        if (values == NULL || v < 0)
          {
            if (r->cancel_cb != NULL)
              ((PurpleRequestChoiceCb) r->cancel_cb) (r->user_data, -1);
          }
        else if (r->ok_cb != NULL)
          ((PurpleRequestChoiceCb) r->ok_cb) (r->user_data, v);
        break;
      }
    case PURPLE_REQUEST_ACTION:
      {
        int chosen = -1;
        for (guint i = 0; answer != NULL && i < r->labels->len; i++)
          if (g_strcmp0 (g_ptr_array_index (r->labels, i), answer) == 0)
            chosen = (int) i;
        /* Cancelling picks the last action, conventionally "Cancel"/"Deny". */
        if (chosen < 0 && r->callbacks->len > 0)
          chosen = (int) r->callbacks->len - 1;
        GCallback cb = chosen >= 0 ? (GCallback) g_ptr_array_index (r->callbacks, chosen) : NULL;
        if (cb != NULL)
          ((PurpleRequestActionCb) cb) (r->user_data, chosen);
        break;
      }
    case PURPLE_REQUEST_FIELDS:
      {
        gboolean ok = values != NULL;
        for (size_t i = 0; ok && i < n; i++)
          {
            PurpleRequestField *f = purple_request_fields_get_field (r->fields, ids[i]);
            if (f != NULL && values[i] != NULL && strlen (values[i]) <= PP_MAX_FIELD
                && !pp_set_field (f, values[i]))
              {
                g_autofree char *msg = g_strdup_printf ("“%s” is not a valid %s.", values[i],
                                                        purple_request_field_get_label (f));
                login->api->notice (login->host, msg);
                r->shown = FALSE;
                pp_show_next_request (login);
                return;
              }
          }
        GCallback cb = ok ? r->ok_cb : r->cancel_cb;
        if (cb != NULL)
          ((PurpleRequestFieldsCb) cb) (r->user_data, r->fields);
        break;
      }
    default:
      break;
    }
  /* The callback may have closed the request itself; closing an unknown
   * handle is a no-op in libpurple. */
  purple_request_close (type, r);
}

static PpRequest *
pp_find_request (PaLogin *login, const char *step_id)
{
  for (GList *l = login->requests.head; l != NULL; l = l->next)
    {
      PpRequest *r = l->data;
      if (g_strcmp0 (r->step_id, step_id) == 0)
        return r;
    }
  return NULL;
}

/* ------------------------------------------------------------ notify */

static void *
pp_notify_message (PurpleNotifyMsgType type, const char *title, const char *primary,
                   const char *secondary)
{
  PaLogin *login = pp_self;
  if (login != NULL && !login->quitting)
    {
      g_autofree char *text = pp_join_text (title, primary, secondary);
      login->api->notice (login->host, text);
    }
  return NULL;
}

static void *
pp_notify_formatted (const char *title, const char *primary, const char *secondary,
                     const char *text)
{
  PaLogin *login = pp_self;
  if (login != NULL && !login->quitting)
    {
      g_autofree char *head = pp_join_text (title, primary, secondary);
      g_autofree char *body = purple_markup_strip_html (text != NULL ? text : "");
      g_autofree char *msg = g_strdup_printf ("%s\n%s", head, body);
      login->api->notice (login->host, msg);
    }
  return NULL;
}

static void *
pp_notify_email (PurpleConnection *gc, const char *subject, const char *from, const char *to,
                 const char *url)
{
  PaLogin *login = pp_self;
  if (login != NULL && !login->quitting)
    {
      g_autofree char *msg = g_strdup_printf ("New mail from %s: %s", from != NULL ? from : "?",
                                              subject != NULL ? subject : "");
      login->api->notice (login->host, msg);
    }
  return NULL;
}

static void *
pp_notify_uri (const char *uri)
{
  PaLogin *login = pp_self;
  if (login != NULL && !login->quitting && uri != NULL)
    login->api->notice (login->host, uri);
  return NULL;
}

static PurpleNotifyUiOps pp_notify_ops = {
  .notify_message = pp_notify_message,
  .notify_email = pp_notify_email,
  .notify_formatted = pp_notify_formatted,
  .notify_uri = pp_notify_uri,
};

/* ------------------------------------------------------------ files */

/* libpurple offers a file under its local name, and the host's download
 * has a name of its own: the file is linked under the name the agent gave
 * it, alone in a directory (files/out-XXXXXX) removed when the transfer
 * ends.  Falls back to the download itself. */
static char *
pp_send_path (PaLogin *login, const PaContent *content)
{
  const char *shown = content->media_name != NULL ? content->media_name : content->text;
  g_autofree char *base = shown != NULL ? g_path_get_basename (shown) : NULL;
  if (base == NULL || *base == '\0' || strcmp (base, ".") == 0 || strcmp (base, "..") == 0
      || strchr (base, '/') != NULL)
    return g_strdup (content->media_path);
  g_autofree char *files = g_build_filename (login->data_dir, "files", NULL);
  g_autofree char *dir = g_build_filename (files, "out-XXXXXX", NULL);
  if (g_mkdir_with_parents (files, 0700) != 0 || g_mkdtemp (dir) == NULL)
    return g_strdup (content->media_path);
  char *path = g_build_filename (dir, base, NULL);
  if (link (content->media_path, path) == 0)
    return path;
  pp_log (login, PA_LOG_WARNING, "cannot link %s: %s", path, g_strerror (errno));
  g_rmdir (dir);
  g_free (path);
  return g_strdup (content->media_path);
}

/* Removes what pp_send_path made for `path`. */
static void
pp_send_path_done (PaLogin *login, const char *path)
{
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *parent = g_path_get_dirname (dir);
  g_autofree char *name = g_path_get_basename (dir);
  g_autofree char *files = g_build_filename (login->data_dir, "files", NULL);
  if (g_str_equal (parent, files) && g_str_has_prefix (name, "out-"))
    {
      g_unlink (path);
      g_rmdir (dir);
    }
}

static gboolean
pp_file_recv_accept (gpointer data)
{
  PurpleXfer *xfer = data;
  if (!purple_xfer_is_canceled (xfer) && purple_xfer_get_local_filename (xfer) != NULL)
    {
      /* (libpurple frees the old name before copying the new one) */
      g_autofree char *path = g_strdup (purple_xfer_get_local_filename (xfer));
      purple_xfer_request_accepted (xfer, path);
    }
  purple_xfer_unref (xfer);
  return G_SOURCE_REMOVE;
}

static void
pp_file_recv_request (PurpleXfer *xfer, gpointer data)
{
  PaLogin *login = data;
  if (purple_xfer_get_account (xfer) != login->account)
    return;
  gint64 budget = login->api->budget_left (login->host);
  goffset size = purple_xfer_get_size (xfer);
  if (budget >= 0 && size > budget)
    {
      g_autofree char *msg = g_strdup_printf (
          "%s offers the file %s (%" G_GOFFSET_FORMAT " bytes): more than this login's data "
          "budget has left.",
          purple_xfer_get_remote_user (xfer), purple_xfer_get_filename (xfer), size);
      login->api->notice (login->host, msg);
    }
  if ((gsize) size > PP_MAX_RECV_FILE || (budget >= 0 && size > budget))
    return; /* libpurple asks the agent (request_action) */
  g_autofree char *dir = g_build_filename (login->data_dir, "files", NULL);
  g_mkdir_with_parents (dir, 0700);
  const char *remote = purple_xfer_get_filename (xfer);
  g_autofree char *base = g_path_get_basename (remote != NULL ? remote : "file");
  if (strcmp (base, ".") == 0 || strcmp (base, "..") == 0 || strcmp (base, "/") == 0)
    g_free (g_steal_pointer (&base)), base = g_strdup ("file");
  g_autofree char *name = g_strdup_printf ("%" G_GINT64_FORMAT "-%s", g_get_real_time (), base);
  g_autofree char *path = g_build_filename (dir, name, NULL);
  /* With a local file name set here libpurple asks nothing, and accepts
   * nothing either: that is ours to do, once the signal is over. */
  purple_xfer_set_local_filename (xfer, path);
  purple_xfer_ref (xfer);
  g_idle_add (pp_file_recv_accept, xfer);
}

/* The received file is bridged from an idle: "file-recv-complete" comes
 * before libpurple flushes and closes it (purple_xfer_end). */
static gboolean
pp_file_recv_emit (gpointer data)
{
  PurpleXfer *xfer = data;
  PaLogin *login = pp_self;
  const char *path = purple_xfer_get_local_filename (xfer);
  if (login == NULL || login->quitting || path == NULL)
    {
      purple_xfer_unref (xfer);
      return G_SOURCE_REMOVE;
    }
  g_autofree char *chat_id = pp_norm (login, purple_xfer_get_remote_user (xfer));
  g_autofree char *ctype = g_content_type_guess (purple_xfer_get_filename (xfer), NULL, 0, NULL);
  g_autofree char *mime = g_content_type_get_mime_type (ctype);
  PaContent content = {
    .struct_size = sizeof (PaContent),
    .kind = pp_kind_for_mime (mime),
    .media_path = path,
    .media_name = purple_xfer_get_filename (xfer),
    .mimetype = mime,
    .media_size = purple_xfer_get_size (xfer),
  };
  PurpleConversation *conv
      = purple_find_conversation_with_account (PURPLE_CONV_TYPE_IM, chat_id, login->account);
  if (conv == NULL)
    conv = purple_conversation_new (PURPLE_CONV_TYPE_IM, login->account, chat_id);
  gint64 now = pp_now_ms ();
  /* Once emitted, the file is the host's (it deletes it after the upload);
   * a refused event leaves it ours to remove. */
  if (pp_emit_message (login, conv, chat_id, chat_id, NULL, now, now / 1000, &content, path)
      == 0)
    g_unlink (path);
  purple_xfer_unref (xfer);
  return G_SOURCE_REMOVE;
}

static void
pp_file_recv_complete (PurpleXfer *xfer, gpointer data)
{
  PaLogin *login = data;
  if (purple_xfer_get_account (xfer) != login->account || login->quitting
      || purple_xfer_get_local_filename (xfer) == NULL)
    return;
  purple_xfer_ref (xfer);
  g_idle_add (pp_file_recv_emit, xfer);
}

static void
pp_file_send_done (PurpleXfer *xfer, gboolean ok)
{
  PaLogin *login = pp_self;
  if (login == NULL || purple_xfer_get_local_filename (xfer) == NULL)
    return;
  const char *path = purple_xfer_get_local_filename (xfer);
  guint64 *op = g_hash_table_lookup (login->send_ops, path);
  if (op == NULL)
    return;
  if (ok)
    {
      gint64 now = pp_now_ms ();
      g_autofree char *id = pp_message_id (login, purple_xfer_get_remote_user (xfer),
                                           login->self_id, now / 1000, path);
      pp_op_ok (login, *op, id, now);
    }
  else if (purple_xfer_get_status (xfer) == PURPLE_XFER_STATUS_CANCEL_REMOTE)
    pp_op_fail (login, *op, PA_RESULT_PERMANENT, "The contact declined or cancelled the file");
  else
    pp_op_fail (login, *op, PA_RESULT_PERMANENT, "The file transfer was cancelled or failed");
  pp_send_path_done (login, path);
  g_hash_table_remove (login->send_ops, path);
}

static void
pp_file_send_complete (PurpleXfer *xfer, gpointer data)
{
  pp_file_send_done (xfer, TRUE);
}

static void
pp_file_send_cancel (PurpleXfer *xfer, gpointer data)
{
  pp_file_send_done (xfer, FALSE);
}

/* ------------------------------------------------------------ core */

static void
pp_ui_init (void)
{
  purple_conversations_set_ui_ops (&pp_conv_ops);
  purple_connections_set_ui_ops (&pp_connection_ops);
  purple_accounts_set_ui_ops (&pp_account_ops);
  purple_request_set_ui_ops (&pp_request_ops);
  purple_notify_set_ui_ops (&pp_notify_ops);
}

static PurpleCoreUiOps pp_core_ops = {
  .ui_init = pp_ui_init,
};

static void
pp_connect_signals (PaLogin *login)
{
  struct {
    void *instance;
    const char *name;
    PurpleCallback cb;
  } sigs[] = {
    { purple_connections_get_handle (), "signed-on", PURPLE_CALLBACK (pp_signed_on) },
    { purple_conversations_get_handle (), "chat-joined", PURPLE_CALLBACK (pp_chat_joined) },
    { purple_conversations_get_handle (), "chat-join-failed",
      PURPLE_CALLBACK (pp_chat_join_failed) },
    { purple_conversations_get_handle (), "chat-topic-changed",
      PURPLE_CALLBACK (pp_chat_topic_changed) },
    { purple_conversations_get_handle (), "chat-invited", PURPLE_CALLBACK (pp_chat_invited) },
    { purple_conversations_get_handle (), "buddy-typing", PURPLE_CALLBACK (pp_buddy_typing) },
    { purple_conversations_get_handle (), "buddy-typing-stopped",
      PURPLE_CALLBACK (pp_buddy_typing_stopped) },
    { purple_blist_get_handle (), "buddy-added", PURPLE_CALLBACK (pp_buddy_changed) },
    { purple_blist_get_handle (), "buddy-icon-changed", PURPLE_CALLBACK (pp_buddy_changed) },
    { purple_blist_get_handle (), "blist-node-aliased", PURPLE_CALLBACK (pp_node_aliased) },
    { purple_blist_get_handle (), "buddy-signed-on", PURPLE_CALLBACK (pp_buddy_presence) },
    { purple_blist_get_handle (), "buddy-signed-off", PURPLE_CALLBACK (pp_buddy_presence) },
    { purple_blist_get_handle (), "buddy-status-changed",
      PURPLE_CALLBACK (pp_buddy_status_changed) },
    { purple_xfers_get_handle (), "file-recv-request", PURPLE_CALLBACK (pp_file_recv_request) },
    { purple_xfers_get_handle (), "file-recv-complete", PURPLE_CALLBACK (pp_file_recv_complete) },
    { purple_xfers_get_handle (), "file-send-complete", PURPLE_CALLBACK (pp_file_send_complete) },
    { purple_xfers_get_handle (), "file-send-cancel", PURPLE_CALLBACK (pp_file_send_cancel) },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (sigs); i++)
    /* An unknown signal name yields 0: that is a programming error here. */
    if (purple_signal_connect (sigs[i].instance, sigs[i].name, &pp_signal_handle, sigs[i].cb,
                               login)
        == 0)
      pp_log (login, PA_LOG_ERROR, "libpurple has no signal %s", sigs[i].name);
}

static gboolean
pp_core_init (PaHost *host, const PaHostApi *api, const char *user_dir, GError **error)
{
  if (pp_core_started)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_EXISTS,
                           "libpurple is already running in this process (one login per worker)");
      return FALSE;
    }
  pp_core_started = TRUE;
  /* libpurple starts GStreamer for voice and video, which Passerelle does not
   * bridge; its plugin registry alone maps ~60 MB (Vulkan, LLVM).  Give it no
   * plugins and a registry of its own. */
  g_autofree char *gst_registry = g_build_filename (user_dir, "gst-registry.bin", NULL);
  g_setenv ("GST_PLUGIN_SYSTEM_PATH_1_0", "", FALSE);
  g_setenv ("GST_PLUGIN_PATH_1_0", "", FALSE);
  g_setenv ("GST_REGISTRY_1_0", gst_registry, FALSE);
  /* The worker loads us RTLD_LOCAL, but prpl modules (libjabber, libirc…)
   * expect libpurple's symbols in the global scope: promote it.  The handle
   * is never closed. */
  Dl_info dli;
  if (dladdr ((void *) purple_core_init, &dli) == 0 || dli.dli_fname == NULL
      || dlopen (dli.dli_fname, RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD) == NULL)
    {
      g_autofree char *msg = g_strdup_printf ("cannot make libpurple global: %s", dlerror ());
      api->log (host, PA_LOG_WARNING, msg);
    }
  /* libpurple's DNS resolver forks helpers; nobody waits for them. */
  signal (SIGCHLD, SIG_IGN);
  purple_util_set_user_dir (user_dir);
  purple_debug_set_enabled (g_getenv ("PA_PURPLE_DEBUG") != NULL);
  purple_core_set_ui_ops (&pp_core_ops);
  purple_eventloop_set_ui_ops (&pp_loop_ops);
  if (!purple_core_init (PP_UI_ID))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, "libpurple failed to start");
      return FALSE;
    }
  purple_set_blist (purple_blist_new ());
  purple_blist_load ();
  purple_prefs_load ();
  /* Logs and sounds are a desktop client's business. */
  purple_prefs_set_bool ("/purple/logging/log_ims", FALSE);
  purple_prefs_set_bool ("/purple/logging/log_chats", FALSE);
  purple_prefs_set_bool ("/purple/logging/log_system", FALSE);
  purple_savedstatus_activate (purple_savedstatus_new (NULL, PURPLE_STATUS_AVAILABLE));
  return TRUE;
}

/* ------------------------------------------------------------ lifecycle */

static void
pp_login_destroy (PaLogin *login)
{
  pp_session_free (login->session);
  pp_session_free (login->attempt);
  g_free (login->chosen_protocol);
  g_free (login->self_id);
  g_free (login->last_error_text);
  g_hash_table_destroy (login->announced);
  g_hash_table_destroy (login->counts);
  g_hash_table_destroy (login->recent);
  g_hash_table_destroy (login->dirty);
  g_hash_table_destroy (login->join_ops);
  g_hash_table_destroy (login->send_ops);
  g_hash_table_destroy (login->typing);
  g_hash_table_destroy (login->invited);
  g_hash_table_destroy (login->presence);
  g_free (login->user_dir);
  g_free (login->data_dir);
  g_free (login);
}

/* Starts libpurple, once per process: its user directory in the data dir. */
static bool
pp_init (PaHost *host, const PaHostApi *api, char **error)
{
  if (api == NULL || !PA_HAS_MEMBER (api, PaHostApi, op_contact))
    {
      *error = pp_c_strdup ("the host API table is too old for the purple plugin");
      return false;
    }
  const char *dir = api->data_dir (host);
  if (dir == NULL)
    {
      *error = pp_c_strdup ("the host gave no data directory");
      return false;
    }
  g_autofree char *user_dir = g_build_filename (dir, "purple", NULL);
  g_autoptr (GError) err = NULL;
  if (g_mkdir_with_parents (user_dir, 0700) != 0 || g_chmod (user_dir, 0700) != 0)
    g_set_error (&err, G_IO_ERROR, g_io_error_from_errno (errno), "cannot create %s: %s",
                 user_dir, g_strerror (errno));
  if (err != NULL || !pp_core_init (host, api, user_dir, &err))
    {
      *error = pp_c_strdup (err->message);
      return false;
    }
  pp_host = host;
  pp_api = api;
  return true;
}

/* libpurple is not quit: purple_core_quit() crashes destroying IRC chat
 * conversations (2.14), and the process exits right after.  What must
 * survive is on disk already. */
static void
pp_shutdown (PaHost *host)
{
  pp_host = NULL;
  pp_api = NULL;
}

static PaLogin *
pp_login_new (PaHost *host, bool saved, char **error)
{
  const PaHostApi *api = pp_api;
  if (api == NULL || host != pp_host)
    {
      *error = pp_c_strdup ("the purple network was not initialized");
      return NULL;
    }
  if (pp_self != NULL)
    {
      *error = pp_c_strdup ("libpurple is already running in this process (one login per "
                            "worker)");
      return NULL;
    }
  const char *dir = api->data_dir (host);
  PaLogin *login = g_new0 (PaLogin, 1);
  login->host = host;
  login->api = api;
  login->data_dir = g_strdup (dir);
  login->user_dir = g_build_filename (dir, "purple", NULL);
  login->backoff_s = PP_BACKOFF_MIN_S;
  login->announced = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  login->counts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  login->recent = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  login->dirty = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  login->join_ops = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  login->send_ops = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  login->typing = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  login->invited = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  login->presence = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_queue_init (&login->requests);
  g_autoptr (GError) err = NULL;
  pp_connect_signals (login);
  pp_self = login;
  if (saved)
    {
      login->session = pp_load_session (dir, &err);
      if (login->session == NULL)
        {
          g_autofree char *msg = g_strdup_printf (
              "The saved login could not be read (%s): log in again.", err->message);
          api->login_state (host, PA_STATE_BAD_CREDENTIALS, msg);
        }
      else
        {
          login->want_online = TRUE;
          api->login_state (host, PA_STATE_CONNECTING, NULL);
          g_clear_error (&err);
          if (!pp_start_account (login, login->session, &err))
            api->login_state (host, PA_STATE_UNKNOWN_ERROR, err->message);
        }
    }
  return login;
}

static void
pp_login_free (PaLogin *login)
{
  if (login == NULL)
    return;
  login->quitting = TRUE;
  g_clear_handle_id (&login->reconnect_id, g_source_remove);
  g_clear_handle_id (&login->disconnect_idle_id, g_source_remove);
  g_clear_handle_id (&login->dirty_id, g_source_remove);
  if (login->account != NULL && !purple_account_is_disconnected (login->account))
    purple_account_disconnect (login->account);
  /* Pending requests are closed (and freed) by libpurple's own teardown;
   * close what is left first so no callback outlives the login. */
  while (!g_queue_is_empty (&login->requests))
    {
      PpRequest *r = g_queue_peek_head (&login->requests);
      purple_request_close (r->type, r);
      if (g_queue_peek_head (&login->requests) == r)
        pp_request_free (g_queue_pop_head (&login->requests));
    }
  while (login->auths != NULL)
    pp_close_account_request (login->auths->data);
  purple_signals_disconnect_by_handle (&pp_signal_handle);
  /* No purple_core_quit(): destroying IRC chat conversations there crashes
   * libpurple 2.14, and the process exits right after login_free.  What must
   * survive is already on disk (the session file is written synchronously;
   * libpurple's own files are rebuilt from it). */
  pp_self = NULL;
  pp_login_destroy (login);
}

static void
pp_login_start (PaLogin *login, const char *flow_id)
{
  g_clear_pointer (&login->chosen_protocol, g_free);
  pp_ask_protocol (login, "Choose the protocol of your account:");
}

static void
pp_login_submit (PaLogin *login, const char *step_id, const char *const *ids,
                 const char *const *values, size_t n)
{
  if (g_strcmp0 (step_id, "protocol") == 0)
    {
      const char *proto = NULL;
      for (size_t i = 0; ids != NULL && values != NULL && i < n; i++)
        if (g_strcmp0 (ids[i], "protocol") == 0)
          proto = values[i];
      if (proto == NULL || strlen (proto) > PP_MAX_FIELD || purple_find_prpl (proto) == NULL)
        {
          pp_ask_protocol (login, "That protocol is not installed. Choose one of:");
          return;
        }
      g_free (login->chosen_protocol);
      login->chosen_protocol = g_strdup (proto);
      pp_ask_account (login, NULL);
      return;
    }
  if (g_strcmp0 (step_id, "account") == 0)
    {
      pp_submit_account (login, ids, values, n);
      return;
    }
  PpRequest *r = pp_find_request (login, step_id);
  if (r == NULL)
    {
      pp_log (login, PA_LOG_WARNING, "login_submit for an unknown step");
      return;
    }
  pp_answer_request (login, r, ids, values, n);
}

static void
pp_login_cancel (PaLogin *login)
{
  PpRequest *r = g_queue_peek_head (&login->requests);
  if (r != NULL && r->shown)
    {
      pp_answer_request (login, r, NULL, NULL, 0);
      return;
    }
  if (login->attempt == NULL)
    return;
  g_clear_pointer (&login->attempt, pp_session_free);
  if (login->account != NULL)
    purple_account_set_enabled (login->account, PP_UI_ID, FALSE);
  if (login->session != NULL && login->want_online)
    {
      g_autoptr (GError) err = NULL;
      if (!pp_start_account (login, login->session, &err))
        login->api->login_state (login->host, PA_STATE_UNKNOWN_ERROR, err->message);
    }
}

static void
pp_connect (PaLogin *login)
{
  if (login->session == NULL)
    {
      login->api->login_state (login->host, PA_STATE_LOGGED_OUT, "Not logged in");
      return;
    }
  login->want_online = TRUE;
  login->backoff_s = PP_BACKOFF_MIN_S;
  if (login->account != NULL && !purple_account_is_disconnected (login->account))
    return;
  login->api->login_state (login->host, PA_STATE_CONNECTING, NULL);
  g_autoptr (GError) err = NULL;
  if (!pp_start_account (login, login->session, &err))
    login->api->login_state (login->host, PA_STATE_UNKNOWN_ERROR, err->message);
}

static void
pp_disconnect (PaLogin *login)
{
  login->want_online = FALSE;
  g_clear_handle_id (&login->reconnect_id, g_source_remove);
  if (login->account != NULL)
    purple_account_set_enabled (login->account, PP_UI_ID, FALSE);
}

static void
pp_logout (PaLogin *login, uint64_t op_id)
{
  login->want_online = FALSE;
  g_clear_handle_id (&login->reconnect_id, g_source_remove);
  g_clear_pointer (&login->attempt, pp_session_free);
  if (login->account != NULL)
    {
      /* Disabling disconnects (a clean goodbye to the network).  The
       * account is not destroyed: purple_accounts_delete() crashes
       * destroying an IRC account's chats (libpurple 2.14); it is dropped
       * from libpurple's files below and the worker exits after a logout. */
      purple_account_set_enabled (login->account, PP_UI_ID, FALSE);
      purple_accounts_remove (login->account);
      login->account = NULL;
    }
  const char *files[] = { "accounts.xml", "blist.xml" };
  for (gsize i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autofree char *path = g_build_filename (login->user_dir, files[i], NULL);
      if (g_unlink (path) != 0 && errno != ENOENT)
        pp_log (login, PA_LOG_WARNING, "cannot delete %s: %s", path, g_strerror (errno));
    }
  pp_forget_session (login);
  login->api->login_state (login->host, PA_STATE_LOGGED_OUT, NULL);
  pp_op_ok (login, op_id, NULL, 0);
}

/* ------------------------------------------------------------ operations */

static PurpleConversation *
pp_find_chat (PaLogin *login, const char *chat_id)
{
  PurpleConversation *conv
      = purple_find_conversation_with_account (PURPLE_CONV_TYPE_CHAT, chat_id, login->account);
  if (conv != NULL && purple_conv_chat_has_left (PURPLE_CONV_CHAT (conv)))
    return NULL;
  return conv;
}

static gboolean
pp_check_online (PaLogin *login, guint64 op_id)
{
  if (pp_gc (login) != NULL && login->signed_on)
    return TRUE;
  pp_op_fail (login, op_id, PA_RESULT_NOT_CONNECTED, "Not connected to the network");
  return FALSE;
}

static void
pp_send_file (PaLogin *login, guint64 op_id, const char *chat_id, const PaContent *content)
{
  PurpleConnection *gc = pp_gc (login);
  PurplePluginProtocolInfo *info = PURPLE_PLUGIN_PROTOCOL_INFO (purple_connection_get_prpl (gc));
  if (pp_find_chat (login, chat_id) != NULL || info->send_file == NULL)
    {
      pp_op_fail (login, op_id, PA_RESULT_UNSUPPORTED,
                  "Files cannot be sent in this chat on this network");
      return;
    }
  /* A file goes to a connected client (XMPP: to one of its resources):
   * to an offline contact the prpl only shows an error and never ends the
   * transfer, so the operation would stay unanswered. */
  PurpleBuddy *buddy = purple_find_buddy (login->account, chat_id);
  if (buddy == NULL && pp_is_jabber (login) && strchr (chat_id, '/') == NULL)
    {
      g_autofree char *msg = g_strdup_printf (
          "%s is not in your contacts: files can only be sent to a contact who is online",
          chat_id);
      pp_op_fail (login, op_id, PA_RESULT_NOT_FOUND, msg);
      return;
    }
  if (buddy != NULL && !PURPLE_BUDDY_IS_ONLINE (buddy))
    {
      g_autofree char *msg = g_strdup_printf (
          "%s is offline: files can only be sent to a contact who is online", chat_id);
      pp_op_fail (login, op_id, PA_RESULT_PERMANENT, msg);
      return;
    }
  if (info->can_receive_file != NULL && !info->can_receive_file (gc, chat_id))
    {
      pp_op_fail (login, op_id, PA_RESULT_UNSUPPORTED,
                  "This contact cannot receive files on this network");
      return;
    }
  g_autofree char *path = pp_send_path (login, content);
  if (g_hash_table_contains (login->send_ops, path))
    {
      pp_op_fail (login, op_id, PA_RESULT_PERMANENT, "This file is already being sent");
      return;
    }
  g_hash_table_insert (login->send_ops, g_strdup (path), pp_u64_dup (op_id));
  serv_send_file (gc, chat_id, path);
}

static void
pp_send (PaLogin *login, uint64_t op_id, const char *chat_id, const PaContent *content,
         const char *txn_id)
{
  /* Too long is too long online or not: say so before anything else (the
   * markup conversion would otherwise cut the text silently). */
  if ((content->text != NULL && strlen (content->text) > PP_MAX_BODY)
      || (content->html != NULL && strlen (content->html) > PP_MAX_BODY))
    {
      g_autofree char *msg
          = g_strdup_printf ("Messages are limited to %zu KiB here", PP_MAX_BODY / 1024);
      pp_op_fail (login, op_id, PA_RESULT_TOO_LARGE, msg);
      return;
    }
  if (!pp_check_online (login, op_id))
    return;
  if (content->media_path != NULL)
    {
      pp_send_file (login, op_id, chat_id, content);
      return;
    }
  g_autofree char *body = pp_markup_to_purple (content->text, content->html);
  if (content->kind == PA_MSG_EMOTE)
    {
      char *me = g_strconcat ("/me ", body, NULL);
      g_free (body);
      body = me;
    }
  if (*body == '\0')
    {
      pp_op_fail (login, op_id, PA_RESULT_PERMANENT, "Empty messages cannot be sent");
      return;
    }
  PurpleConnection *gc = pp_gc (login);
  PurpleConversation *chat = pp_find_chat (login, chat_id);
  int ret;
  if (chat != NULL)
    ret = serv_chat_send (gc, purple_conv_chat_get_id (PURPLE_CONV_CHAT (chat)), body, 0);
  else
    {
      if (purple_find_conversation_with_account (PURPLE_CONV_TYPE_IM, chat_id, login->account)
          == NULL)
        purple_conversation_new (PURPLE_CONV_TYPE_IM, login->account, chat_id);
      ret = serv_send_im (gc, chat_id, body, 0);
    }
  if (ret < 0)
    {
      g_autofree char *msg = g_strdup_printf ("The network did not accept the message (%s)",
                                              g_strerror (-ret));
      pp_op_fail (login, op_id, pp_result_for_errno (-ret), msg);
      return;
    }
  gint64 now = pp_now_ms ();
  g_autofree char *id = pp_message_id (login, chat_id, login->self_id, now, body);
  pp_op_ok (login, op_id, id, now);
}

static void
pp_typing_op (PaLogin *login, uint64_t op_id, const char *chat_id, bool typing)
{
  PurpleConnection *gc = pp_gc (login);
  if (gc != NULL && pp_find_chat (login, chat_id) == NULL)
    serv_send_typing (gc, chat_id, typing ? PURPLE_TYPING : PURPLE_NOT_TYPING);
  /* Typing is best effort: nothing to tell the agent when it is not sent. */
  pp_op_ok (login, op_id, NULL, 0);
}

static void
pp_set_membership (PaLogin *login, uint64_t op_id, const char *chat_id, const char *user_id,
                   bool join)
{
  if (!pp_check_online (login, op_id))
    return;
  gboolean self = g_strcmp0 (user_id, login->self_id) == 0;
  PurpleConversation *conv = pp_find_chat (login, chat_id);
  if (self && join)
    {
      if (conv != NULL)
        {
          pp_op_ok (login, op_id, chat_id, 0);
          return;
        }
      g_autoptr (GError) err = NULL;
      g_autofree char *norm = pp_norm (login, chat_id);
      if (!pp_join_chat (login, chat_id, &err))
        {
          pp_op_fail (login, op_id, pp_result_for_error (err), err->message);
          return;
        }
      g_hash_table_replace (login->join_ops, g_strdup (norm), pp_u64_dup (op_id));
      return;
    }
  if (conv == NULL)
    {
      pp_op_fail (login, op_id, PA_RESULT_NOT_FOUND, "Not in this room");
      return;
    }
  int id = purple_conv_chat_get_id (PURPLE_CONV_CHAT (conv));
  if (self)
    {
      pp_remember_room (login, chat_id, FALSE);
      serv_chat_leave (pp_gc (login), id);
      pp_op_ok (login, op_id, NULL, 0);
      return;
    }
  if (join)
    {
      /* XMPP occupants are room/nick; invite their real address. */
      serv_chat_invite (pp_gc (login), id, NULL, user_id);
      pp_op_ok (login, op_id, NULL, 0);
      return;
    }
  pp_op_fail (login, op_id, PA_RESULT_UNSUPPORTED,
                  "Removing someone from a room is not supported");
}

static void
pp_answer_contact (PaLogin *login, guint64 op_id, const char *name)
{
  PurpleBuddy *b = purple_find_buddy (login->account, name);
  g_autofree char *id = pp_norm (login, name);
  const char *alias = b != NULL ? purple_buddy_get_alias (b) : NULL;
  PaMember m;
  pp_fill_member (login, &m, id, alias != NULL && g_strcmp0 (alias, name) != 0 ? alias : NULL);
  login->api->op_contact (login->host, op_id, &m);
}

static void
pp_resolve_identifier (PaLogin *login, uint64_t op_id, const char *identifier, PaResolveMode mode)
{
  if (login->account == NULL)
    {
      pp_op_fail (login, op_id, PA_RESULT_NOT_CONNECTED, "Not logged in");
      return;
    }
  if (identifier == NULL || *identifier == '\0' || strlen (identifier) > PP_MAX_FIELD)
    {
      pp_op_fail (login, op_id, PA_RESULT_NOT_FOUND, "An empty or overlong identifier");
      return;
    }
  if (mode == PA_RESOLVE_SEARCH)
    {
      g_autofree char *needle = g_utf8_casefold (identifier, -1);
      GSList *buddies = purple_find_buddies (login->account, NULL);
      for (GSList *l = buddies; l != NULL; l = l->next)
        {
          const char *name = purple_buddy_get_name (l->data);
          const char *alias = purple_buddy_get_alias (l->data);
          g_autofree char *n1 = g_utf8_casefold (name, -1);
          g_autofree char *n2 = g_utf8_casefold (alias != NULL ? alias : "", -1);
          if (strstr (n1, needle) != NULL || strstr (n2, needle) != NULL)
            pp_answer_contact (login, op_id, name);
        }
      g_slist_free (buddies);
      pp_op_ok (login, op_id, NULL, 0);
      return;
    }
  const char *norm = purple_normalize (login->account, identifier);
  if (norm == NULL || *norm == '\0')
    {
      pp_op_fail (login, op_id, PA_RESULT_NOT_FOUND,
                  "That is not a valid identifier on this network");
      return;
    }
  g_autofree char *n = g_strdup (norm);
  pp_answer_contact (login, op_id, n);
  pp_op_ok (login, op_id, n, 0);
}

static void
pp_list_contacts (PaLogin *login, uint64_t op_id)
{
  if (login->account == NULL)
    {
      pp_op_fail (login, op_id, PA_RESULT_NOT_CONNECTED, "Not logged in");
      return;
    }
  GSList *buddies = purple_find_buddies (login->account, NULL);
  for (GSList *l = buddies; l != NULL; l = l->next)
    pp_answer_contact (login, op_id, purple_buddy_get_name (l->data));
  g_slist_free (buddies);
  pp_op_ok (login, op_id, NULL, 0);
}

static void
pp_create_dm (PaLogin *login, uint64_t op_id, const char *user_id)
{
  if (login->account == NULL)
    {
      pp_op_fail (login, op_id, PA_RESULT_NOT_CONNECTED, "Not logged in");
      return;
    }
  g_autofree char *id = pp_valid_norm (login, user_id);
  if (id == NULL)
    {
      pp_op_fail (login, op_id, PA_RESULT_NOT_FOUND,
                  "That is not a valid contact on this network");
      return;
    }
  PurpleConversation *conv
      = purple_find_conversation_with_account (PURPLE_CONV_TYPE_IM, id, login->account);
  if (conv == NULL && pp_gc (login) == NULL)
    {
      /* libpurple opens conversations on a connection only. */
      pp_op_fail (login, op_id, PA_RESULT_NOT_CONNECTED, "Not connected to the network");
      return;
    }
  if (conv == NULL)
    conv = purple_conversation_new (PURPLE_CONV_TYPE_IM, login->account, id);
  pp_emit_chat_info (login, conv);
  pp_op_ok (login, op_id, id, 0);
}

static void
pp_get_chat_info (PaLogin *login, uint64_t op_id, const char *chat_id)
{
  if (login->account == NULL)
    {
      pp_op_fail (login, op_id, PA_RESULT_NOT_CONNECTED, "Not logged in");
      return;
    }
  PurpleConversation *conv = pp_find_chat (login, chat_id);
  if (conv == NULL)
    conv = purple_find_conversation_with_account (PURPLE_CONV_TYPE_IM, chat_id, login->account);
  if (conv == NULL)
    {
      /* Not a chat we are in: a DM with anyone the prpl can name. */
      g_autofree char *norm = pp_valid_norm (login, chat_id);
      if (norm == NULL)
        {
          pp_op_fail (login, op_id, PA_RESULT_NOT_FOUND, "No such chat on this network");
          return;
        }
      if (pp_gc (login) == NULL)
        {
          pp_op_fail (login, op_id, PA_RESULT_NOT_CONNECTED, "Not connected to the network");
          return;
        }
      conv = purple_conversation_new (PURPLE_CONV_TYPE_IM, login->account, chat_id);
    }
  pp_emit_chat_info (login, conv);
  pp_op_ok (login, op_id, chat_id, 0);
}

static void
pp_get_user_info (PaLogin *login, uint64_t op_id, const char *user_id)
{
  PurpleBuddy *b = login->account != NULL ? purple_find_buddy (login->account, user_id) : NULL;
  if (b != NULL)
    pp_emit_contact (login, b);
  else if (login->account != NULL)
    {
      PaMember m;
      g_autofree char *id = g_strdup (user_id);
      pp_fill_member (login, &m, id, NULL);
      PaEvent ev = {
        .struct_size = sizeof (PaEvent),
        .type = PA_EV_CONTACT_INFO,
        .sender_id = id,
        .timestamp_ms = pp_now_ms (),
        .contact = &m,
      };
      login->api->emit (login->host, &ev);
    }
  pp_op_ok (login, op_id, NULL, 0);
}

/* ------------------------------------------------------------ ids */

/* Lower-cases `s` (n bytes) after Unicode normalization `mode`. */
static char *
pp_fold (const char *s, gssize n, GNormalizeMode mode)
{
  g_autofree char *norm = g_utf8_normalize (s, n, mode);
  return norm != NULL ? g_utf8_strdown (norm, -1) : NULL;
}

/* The one spelling of an id, without libpurple (pure, any thread): a JID's
 * node and domain case-folded (its resource kept in chat ids, dropped from
 * user ids, like libpurple's XMPP does for contacts); anything else (IRC
 * nicks and channels, other prpls' names) lower-cased like libpurple's
 * purple_normalize_nocase. */
static char *
pp_normalize_id (PaIdKind kind, const char *id)
{
  if (id == NULL || *id == '\0' || strlen (id) > PA_ID_MAX_BYTES || !g_utf8_validate (id, -1, NULL))
    return NULL;
  for (const char *p = id; *p; p++)
    if ((guchar) *p < 0x20 || *p == 0x7f)
      return NULL;
  const char *slash = strchr (id, '/');
  gsize bare_len = slash != NULL ? (gsize) (slash - id) : strlen (id);
  const char *at = memchr (id, '@', bare_len);
  g_autofree char *out = NULL;
  if (at != NULL)
    {
      const char *domain = at + 1;
      gsize domain_len = bare_len - (gsize) (domain - id);
      while (domain_len > 0 && domain[domain_len - 1] == '.')
        domain_len--;
      if (at == id || domain_len == 0 || (slash != NULL && slash[1] == '\0'))
        return NULL;
      g_autofree char *node = pp_fold (id, at - id, G_NORMALIZE_ALL_COMPOSE);
      g_autofree char *dom = pp_fold (domain, (gssize) domain_len, G_NORMALIZE_ALL_COMPOSE);
      if (node == NULL || dom == NULL)
        return NULL;
      if (slash != NULL && kind == PA_ID_CHAT)
        out = g_strdup_printf ("%s@%s%s", node, dom, slash);
      else
        out = g_strdup_printf ("%s@%s", node, dom);
    }
  else
    out = pp_fold (id, -1, G_NORMALIZE_DEFAULT);
  if (out == NULL || *out == '\0' || strlen (out) > PA_ID_MAX_BYTES)
    return NULL;
  return pp_c_strdup (out);
}

/* ------------------------------------------------------------ network */

static const PaLoginFlow pp_flows[] = {
  { sizeof (PaLoginFlow), "account", "Account",
    "Any protocol of the installed libpurple: choose it, then give its account details." },
};

static const PaLoginOps pp_login_ops = {
  .struct_size = sizeof (PaLoginOps),
  .login_free = pp_login_free,
  .login_start = pp_login_start,
  .login_submit = pp_login_submit,
  .login_cancel = pp_login_cancel,
  .connect = pp_connect,
  .disconnect = pp_disconnect,
  .logout = pp_logout,
  .send = pp_send,
  .typing = pp_typing_op,
  .set_membership = pp_set_membership,
  .resolve_identifier = pp_resolve_identifier,
  .list_contacts = pp_list_contacts,
  .create_dm = pp_create_dm,
  .get_chat_info = pp_get_chat_info,
  .get_user_info = pp_get_user_info,
};

static const PaNetwork pp_network = {
  .magic = PA_PLUGIN_MAGIC,
  .abi_major = PA_PLUGIN_ABI_MAJOR,
  .abi_minor = PA_PLUGIN_ABI_MINOR,
  .struct_size = sizeof (PaNetwork),
  .name = "purple",
  .display_name = "libpurple",
  .version = PURPLE_PLUGIN_VERSION,
  .capabilities = PP_CAPS,
  .login_flows = pp_flows,
  .n_login_flows = G_N_ELEMENTS (pp_flows),
  .init = pp_init,
  .shutdown = pp_shutdown,
  .login_new = pp_login_new,
  .login_ops = &pp_login_ops,
  .normalize_id = pp_normalize_id,
};

/* The plugin's one exported symbol: a static table, valid forever. */
__attribute__ ((visibility ("default"))) const PaNetwork *
pa_plugin_get_network (void)
{
  return &pp_network;
}
