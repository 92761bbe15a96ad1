/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Internal to src/crypto: the outbound Megolm floor (pa-crypto-outbound.c). */
#ifndef PA_CRYPTO_OUTBOUND_H
#define PA_CRYPTO_OUTBOUND_H

#include "pa-crypto-private.h"

G_BEGIN_DECLS

/* The room key content encrypted per device (encrypt) or only the
 * devices that still need an Olm session (!encrypt).  With encrypt,
 * *withheld (when asked for) gets the /sendToDevice messages of
 * m.room_key.withheld for the devices refused (unverified: m.unverified;
 * blocked: m.blacklisted; no one-time key: m.no_olm), or NULL. */
json_t *pa_crypto_room_key_build (PaCrypto *crypto, const char *room_id,
                                  const char *const *user_ids, gboolean encrypt,
                                  json_t **need_session, json_t **withheld, GError **error);
/* The room's outbound session id, rotated first when due (transfer
 * full), or NULL with an error. */
char *pa_crypto_current_session_id (PaCrypto *crypto, const char *room_id, GError **error);
/* Withheld messages ({user: {device: content}}) for {user: {device:
 * code}}; and recording that they were sent (the devices are then skipped
 * for the rest of that session). */
json_t *pa_crypto_withheld_messages (PaCrypto *crypto, const char *room_id, const char *session_id,
                                     json_t *codes);
void pa_crypto_withheld_sent (PaCrypto *crypto, json_t *messages);

G_END_DECLS

#endif
