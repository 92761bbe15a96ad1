/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * purple-session.h — see purple-session.c.
 */
#ifndef PASSERELLE_PURPLE_SESSION_H
#define PASSERELLE_PURPLE_SESSION_H

#include "purple-common.h"

struct PpSession
{
  char *protocol; /* prpl id */
  char *username; /* full libpurple user name (splits joined) */
  char *password;
  GHashTable *options; /* setting → value as typed by the agent */
  char *autojoin;      /* comma-separated rooms */
  GPtrArray *rooms;    /* rooms joined through set_membership */
};

/* Frees a session, its password wiped. */
void pp_session_free (PpSession *s);

/* An empty session. */
PpSession *pp_session_new (void);

/* Writes `s` to the data dir (0600, atomically). */
gboolean pp_save_session (PaLogin *login, const PpSession *s, GError **error);

/* Reads the saved session of `data_dir`, or NULL and *error. */
PpSession *pp_load_session (const char *data_dir, GError **error);

/* Deletes the saved session and drops login->session. */
void pp_forget_session (PaLogin *login);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PpSession, pp_session_free)

#endif /* PASSERELLE_PURPLE_SESSION_H */
