/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Legacy → Matrix: one remote event being handled (a "work"), as the lane
 * (pa-to-matrix-lane.c) hands it to the files that bridge each kind of
 * event.  Those end it through the two callbacks the lane set, so they
 * never call the lane back. */
#ifndef PA_TO_MATRIX_WORK_H
#define PA_TO_MATRIX_WORK_H

#include "pa-bridge-object.h"

G_BEGIN_DECLS

typedef struct _PaWork PaWork;

struct _PaWork
{
  PaBridge *b;
  PaLane *lane;
  gint64 seq;
  PaAccount *login;
  json_t *ev; /* the wire event (owned) */
  const char *type;
  char *chat_id;
  /* The login the message map keys this chat's messages with: the login's
   * own, or PA_STORE_SHARED_LOGIN in a shared group portal. */
  char *map_login;
  char *ghost; /* sender's MXID, or an agent's own with double puppeting */
  char *room_id;
  char *mxc;          /* uploaded media */
  json_t *media_file; /* its EncryptedFile, in an encrypted room */
  /* MESSAGE_UPSERT of a message already bridged: the event it replaces
   * (sent as an edit of it: a placeholder becomes the real message). */
  char *replaces;
  /* The event is fully handled (or given up): it leaves the remote table
   * and the lane moves on.  Frees the work. */
  void (*finish) (PaWork *w);
  /* Leave the event at the head of its lane and try again in delay_ms
   * (the homeserver is unreachable, or a target is still being sent).
   * Frees the work. */
  void (*retry) (PaWork *w, guint delay_ms);
};

/* The Matrix event of the work's chat bridged from `legacy_id`, or NULL. */
static inline char *
pa_work_event_of (PaWork *w, const char *legacy_id)
{
  return pa_store_message_event_id (w->b->store, w->login->plugin,
                                    w->map_login ? w->map_login : w->login->id, w->chat_id,
                                    legacy_id);
}

G_END_DECLS

#endif
