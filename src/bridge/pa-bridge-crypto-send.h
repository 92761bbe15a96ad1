/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* End-to-bridge encryption, outbound: /send/ items encrypted just before
 * they go. */
#ifndef PA_BRIDGE_CRYPTO_SEND_H
#define PA_BRIDGE_CRYPTO_SEND_H

#include "pa-bridge-object.h"

G_BEGIN_DECLS

/* Outbound: TRUE when it took a /send/ item over (see the .c). */
gboolean pa_bridge_crypto_send (PaBridge *b, const PaOutboundItem *it, PaMatrixCallback cb,
                                gpointer cb_data);

/* Frees the encryptions in progress (at stop, after the requests were
 * cancelled). */
void pa_bridge_crypto_send_clear (PaBridgeCrypto *bc);

G_END_DECLS

#endif
