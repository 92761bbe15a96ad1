/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * purple-private.h — what every file of the purple plugin shares: the
 * limits, and the login's state (struct PaLogin, the SDK's opaque login).
 *
 * One worker process holds one login, so one libpurple core with one
 * account: libpurple keeps process-global state and cannot be initialized
 * twice.  Its UI ops and signals reach the login through pp_self.
 *
 * The files, each calling only those listed after it:
 *   purple-network.c   the PaNetwork / PaLoginOps tables, init, the login's life
 *   purple-core.c      libpurple's start, event loop and UI op tables
 *   purple-login.c     login flow, connection life, login operations
 *   purple-ops.c       operations on chats (send, typing, membership…)
 *   purple-contacts.c  subscription requests and contact lookups
 *   purple-account.c   the PurpleAccount from a session
 *   purple-requests.c  libpurple's questions → login steps
 *   purple-notify.c    libpurple's notifications → notices
 *   purple-xfer.c      file transfers both ways
 *   purple-rooms.c     joining and remembering group chats
 *   purple-convs.c     incoming messages and member changes → events
 *   purple-buddies.c   contact info, presence and typing → events
 *   purple-emit.c      CONTACT_INFO, CHAT_INFO, MESSAGE and message ids
 *   purple-session.c   the saved login
 *   purple-common.c    logging, typed results, ids, private files
 *   purple-ids.c, purple-markup.c  pure helpers (no libpurple state)
 */
#ifndef PASSERELLE_PURPLE_PRIVATE_H
#define PASSERELLE_PURPLE_PRIVATE_H

#include <gio/gio.h>
#include <glib.h>

#include <purple.h>

#include "passerelle/plugin.h"

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

/* A saved login (purple-session.c). */
typedef struct PpSession PpSession;

/* The login: the plugin's own state behind the SDK's opaque PaLogin. */
struct PaLogin
{
  PaHost *host;
  const PaHostApi *api;
  char *data_dir;
  char *user_dir;
  PurpleAccount *account;
  PpSession *session;    /* saved, working credentials */
  PpSession *attempt;    /* a login being tried */
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
  GHashTable *announced; /* chat ids whose CHAT_INFO was emitted */
  GHashTable *counts;    /* message key → occurrences */
  GHashTable *recent;    /* chat\1sender\1text → gint64 seconds of the live copy */
  GHashTable *dirty;     /* chat conv names whose members changed */
  guint dirty_id;
  GHashTable *join_ops; /* chat id → op id (guint64 *) */
  GHashTable *send_ops; /* local file path → op id (guint64 *) */
  GHashTable *typing;   /* chat ids whose contact was last said to be typing */
  GHashTable *presence; /* contact id → last presence told */
  GHashTable *invited;  /* chat ids of invitations not yet joined */
  GQueue requests;      /* PpRequest, head shown */
  guint next_request;
  GList *auths; /* PpAuth */
};

/* The one login of this process (NULL before login_new, after login_free). */
extern PaLogin *pp_self;

#endif /* PASSERELLE_PURPLE_PRIVATE_H */
