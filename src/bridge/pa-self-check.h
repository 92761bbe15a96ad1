/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The start-up self-check: what the bridge needs of its homeserver, each
 * finding one sentence naming the homeserver.yaml or registration change
 * that fixes it.  The bridge runs it at start-up (pa-bridge.c) and
 * `passerelle --check -c config.yaml` runs it alone (docs/deployment.md). */
#ifndef PA_SELF_CHECK_H
#define PA_SELF_CHECK_H

#include "appservice/pa-appservice.h"
#include "config/pa-config.h"
#include "matrix/pa-matrix.h"

G_BEGIN_DECLS

typedef struct _PaSelfCheck PaSelfCheck;

/* Findings go to the log (the bridge) or, with `to_stdout`, one line each
 * on standard output (--check).  Borrows config and mx. */
PaSelfCheck *pa_self_check_new (PaConfig *config, PaMatrix *mx, gboolean to_stdout);
void pa_self_check_free (PaSelfCheck *sc);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PaSelfCheck, pa_self_check_free)

/* The homeserver answers /versions, and our as_token is known to it (the
 * registration is loaded).  FALSE with error: the bridge cannot start. */
gboolean pa_self_check_homeserver (PaSelfCheck *sc, GError **error);

/* The homeserver reaches our appservice port (the appservice ping), and,
 * when encryption is allowed, what the bot's device needs: devices made
 * for appservice users (MSC4190), device masquerading, to-device messages
 * (MSC2409) and device lists and key counts (MSC3202) in transactions.
 * The bot must be registered and the appservice listening, and each
 * transaction it receives must go through pa_self_check_observe while the
 * check lives.  The to-device probe takes up to 15 s when it fails: with
 * `wait` it is waited for, else its findings are logged later from the
 * default main loop (free the check to stop it).  FALSE with error: the
 * bridge cannot start (with `wait`, encryption.require without MSC2409). */
gboolean pa_self_check_appservice (PaSelfCheck *sc, gboolean wait, GError **error);

/* A transaction the appservice received: the check's probe is taken out
 * of it.  Returns TRUE when nothing else is left in it. */
gboolean pa_self_check_observe (PaSelfCheck *sc, PaTxn *txn);

/* `passerelle --check`: the checks alone, on the appservice port of the
 * configuration (the bridge must be stopped).  Returns the exit status:
 * 0 when every finding is fine, 1 otherwise. */
int pa_self_check_main (PaConfig *config);

G_END_DECLS

#endif
