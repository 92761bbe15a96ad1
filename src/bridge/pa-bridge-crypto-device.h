/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* End-to-bridge encryption, the bot device: start-up, key upload, the
 * table of encrypted rooms.  The state shared by the crypto files. */
#ifndef PA_BRIDGE_CRYPTO_DEVICE_H
#define PA_BRIDGE_CRYPTO_DEVICE_H

#include "pa-bridge-object.h"
#include "crypto/pa-crypto.h"

G_BEGIN_DECLS

/* Room state the lookup caches. */
enum
{
  ROOM_UNKNOWN = 0,
  ROOM_ENCRYPTED = 1,
  ROOM_PLAIN = 2
};

struct _PaBridgeCrypto
{
  PaBridge *bridge;
  PaMatrix *device_mx; /* the crypto's client: the as_token (MSC4190 device,
                          ?device_id= masquerading) or the device's own token */
  PaCrypto *crypto;
  char *device_id;
  GHashTable *room_state;   /* room_id → ROOM_* */
  GHashTable *members;      /* room_id → GStrv of joined+invited users (not ours) */
  GHashTable *waiting;      /* event_id → gint64[2]: first decrypt attempt (ms), asked again */
  GHashTable *sends;        /* SendCtx set, freed at stop */
  GHashTable *deferred;     /* Deferred set, freed at stop */
  GHashTable *key_requests; /* KeyRequest set (others' requests being checked) */
  GHashTable *late;         /* session_id → GPtrArray of json_t * events given up on */
  GHashTable *no_wait;      /* sender → gint64 * time until which its events do not wait */
  guint n_late;
  gboolean uploading;
  int msc4190; /* PA_MSC4190_*: what the bot's device learnt of device management */
  /* pa-bridge-crypto-ghosts.c: ghost mxid → its device's identity */
  GHashTable *ghosts;
  int ghost_devices; /* PA_GHOST_DEVICES_* */
};

/* Whether the homeserver creates devices for the appservice's users. */
enum
{
  PA_MSC4190_ASK, /* unknown (a logged-in device kept from an earlier run) */
  PA_MSC4190_YES,
  PA_MSC4190_NO
};

enum
{
  PA_GHOST_DEVICES_OFF = 0,     /* encryption.ghost_devices: false */
  PA_GHOST_DEVICES_ON,          /* each ghost encrypts with its own device */
  PA_GHOST_DEVICES_UNSUPPORTED, /* the homeserver creates no devices for us */
};

/* The known state of room_id: ROOM_UNKNOWN, ROOM_ENCRYPTED or ROOM_PLAIN. */
int pa_bridge_crypto_room_state (PaBridgeCrypto *bc, const char *room_id);

/* Remember room_id as ROOM_ENCRYPTED or ROOM_PLAIN. */
void pa_bridge_crypto_set_room_state (PaBridgeCrypto *bc, const char *room_id, int state);

/* Upload the device keys and top up one-time keys (one at a time). */
void pa_bridge_crypto_upload_keys (PaBridgeCrypto *bc);

/* Starts end-to-bridge encryption when encryption.allow is on (no-op
 * otherwise): the bot device (MSC4190, else a login), its crypto store,
 * the key upload and the cross-signing. */
gboolean pa_bridge_crypto_start (PaBridge *b, GError **error);

/* Whether media for `room_id` must be uploaded encrypted (known to be an
 * encrypted room: the portal's flag or an m.room.encryption seen). */
gboolean pa_bridge_crypto_room_encrypted (PaBridge *b, const char *room_id);

/* Frees the device half of the crypto state (pa_bridge_crypto_stop frees
 * the rest first). */
void pa_bridge_crypto_device_free (PaBridgeCrypto *bc);

G_END_DECLS

#endif
