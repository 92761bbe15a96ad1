/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * lb-types.h — the loopback plugin's shared data: limits, capabilities, and
 * the structs every part of it passes around (the login, its connection,
 * its queued requests, credentials).
 *
 * Why one header of types: the login struct is the hub each file works on;
 * keeping the types apart from the functions lets every file include them
 * without including each other.
 */
#ifndef LB_TYPES_H
#define LB_TYPES_H

#include <gio/gio.h>
#include <glib.h>
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
/* Configuration defaults (PaNetwork.config_keys, and what an unset key means). */
#define LB_DEFAULT_SERVER "127.0.0.1:4000"
#define LB_DEFAULT_RECONNECT_MAX_S 30
#define LB_MAX_RECONNECT_MAX_S 3600
#define LB_CONNECT_TIMEOUT_S 15

#define LB_MSG_CAPS                                                                                \
  (PA_CAP_MEDIA | PA_CAP_EDITS | PA_CAP_DELETES | PA_CAP_REACTIONS | PA_CAP_REPLIES                \
   | PA_CAP_TYPING | PA_CAP_READ_RECEIPTS | PA_CAP_HISTORY | PA_CAP_FORMATTING)
#define LB_CAPS (PA_CAP_LOGIN | PA_CAP_IMPORT | PA_CAP_GROUPS | LB_MSG_CAPS)

G_DEFINE_AUTOPTR_CLEANUP_FUNC (json_t, json_decref)

typedef struct
{
  char *server; /* host:port */
  char *user;
  char *password;
} LbCreds;

typedef enum
{
  LB_PHASE_IDLE,
  LB_PHASE_CONNECTING,
  LB_PHASE_HELLO,   /* hello sent, waiting for its answer */
  LB_PHASE_PAIRING, /* the network wants the pairing code confirmed */
  LB_PHASE_ONLINE,
} LbPhase;

/* How the network's answer to a request becomes host calls. */
typedef enum
{
  LB_ANS_ID,       /* op_result with the answer's "id" */
  LB_ANS_CHAT,     /* CHAT_INFO from "chat", op_result with its id */
  LB_ANS_USER,     /* CONTACT_INFO from "contact", op_result */
  LB_ANS_CONTACTS, /* op_contact for each of "contacts", op_result */
  LB_ANS_HISTORY,  /* MESSAGE for each of "messages", BACKFILL_END, op_result "next" */
  LB_ANS_LOGOUT,
} LbAnswer;

typedef struct PaLogin LbLogin;

/* One TCP connection.  Async callbacks hold a reference; once the login
 * abandons the connection (`login` NULL) they only drop it. */
typedef struct
{
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

typedef struct
{
  LbAnswer answer;
  guint64 op_id;
  char *chat_id;  /* LB_ANS_HISTORY: BACKFILL_END's chat */
  json_t *req;    /* until sent */
  gboolean ready; /* FALSE while a file is being read into it */
  json_t *slot;   /* borrowed from req: the object that receives "data_b64" */
  guint64 max_size;
} LbRequest;

/* One login (SDK 2: the plugin's own struct PaLogin). */
struct PaLogin
{
  PaHost *host;
  const PaHostApi *api;
  char *data_dir;
  LbPhase phase;
  LbCreds *session; /* the saved session, NULL before the first login */
  LbCreds *attempt; /* a login_submit being tried, else NULL */
  gboolean want_online;
  char *self_id;
  char *self_name;
  GSocketClient *client;
  LbConn *conn;
  GCancellable *cancel; /* the login's lifetime: file loads */
  GQueue queue;         /* LbRequest accepted but not yet sent, in op order */
  GHashTable *inflight; /* req number → LbRequest (freed by the table) */
  guint64 next_req;
  GHashTable *acks; /* host seq → network seq */
  guint reconnect_id;
  guint backoff_s;
  /* Set by lb-login.c: what the connection calls for each line it reads,
   * and when it is lost or cannot be made.  Pointers, so that the
   * connection code does not depend on the login flow above it. */
  void (*on_line) (LbLogin *login, const char *line, gsize len);
  void (*on_lost) (LbLogin *login, const char *why);
};

#endif
