/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* End-to-bridge encryption, ghosts' own devices (docs/encryption.md,
 * "Ghosts' devices"): each ghost that writes into an encrypted room gets a
 * device of its own, created through the homeserver's appservice device
 * management (MSC4190: PUT /devices/<id> as the ghost), with its own Olm
 * account in the shared crypto store, its keys uploaded and, once
 * cross-signed by the ghost's own keys, marked published.  Clients that
 * exclude insecure devices then read the ghost's messages, and a DM portal
 * needs no bot: the agent's client shares its room keys with the ghost's
 * device.  Identities are opened lazily and kept for the bridge's life. */
#define G_LOG_DOMAIN "passerelle-bridge-crypto"

#include "pa-bridge-crypto-ghosts.h"

#include "pa-ghost.h"

#include "crypto/pa-crypto-cross-signing.h"

/* One-time keys kept for a ghost's device: each agent device claims one
 * per Olm session with it, and the fallback key covers a run on them. */
#define GHOST_OTK_TARGET 10

enum
{
  GHOST_IDLE,      /* not published, nothing running */
  GHOST_PUBLISHING /* device, keys and cross-signing being put on the server */
};

typedef struct
{
  PaBridgeCryptoIdentityFunc cb;
  gpointer data;
} Waiter;

typedef struct
{
  PaBridgeCrypto *bc;
  char *mxid;
  PaCrypto *crypto; /* NULL until opened */
  int state;
  gboolean uploading;
  GQueue waiters; /* Waiter * */
} GhostDevice;

static void
ghost_device_free (GhostDevice *g)
{
  /* Waiters belong to requests the bridge cancels with it. */
  g_queue_clear_full (&g->waiters, g_free);
  pa_crypto_free (g->crypto);
  g_free (g->mxid);
  g_free (g);
}

void
pa_bridge_crypto_ghosts_free (PaBridgeCrypto *bc)
{
  g_clear_pointer (&bc->ghosts, g_hash_table_destroy);
}

static const char *
str (json_t *o, const char *key)
{
  return json_string_value (json_object_get (o, key));
}

/* A device id of our own making: "PA" and ten capitals (~47 bits). */
static char *
new_device_id (void)
{
  char id[13] = "PA";
  for (int i = 2; i < 12; i++)
    id[i] = (char) ('A' + g_random_int_range (0, 26));
  id[12] = '\0';
  return g_strdup (id);
}

static gboolean
devices_on (PaBridgeCrypto *bc)
{
  return bc->ghost_devices == PA_GHOST_DEVICES_ON;
}

/* The ghost's identity, opened from the store or created (a new Olm
 * account under a new device id, saved before the device exists on the
 * server, so a crash never leaves a device behind without its account). */
static GhostDevice *
ghost_open (PaBridgeCrypto *bc, const char *mxid, gboolean create, GError **error)
{
  if (bc->ghosts == NULL) /* before pa_bridge_crypto_ghosts_start() */
    return NULL;
  GhostDevice *g = g_hash_table_lookup (bc->ghosts, mxid);
  if (g && g->crypto)
    return g;
  if (!create)
    {
      g_autofree char *dev = pa_crypto_identity_device (bc->crypto, mxid, NULL, error);
      if (dev == NULL)
        return NULL;
    }
  g_autofree char *fresh = new_device_id ();
  PaCrypto *crypto = pa_crypto_new_identity (bc->crypto, bc->bridge->mx, mxid, fresh, error);
  if (crypto == NULL)
    return NULL;
  pa_crypto_set_otk_target (crypto, GHOST_OTK_TARGET);
  if (g == NULL)
    {
      g = g_new0 (GhostDevice, 1);
      g->bc = bc;
      g->mxid = g_strdup (mxid);
      g_queue_init (&g->waiters);
      g_hash_table_insert (bc->ghosts, g->mxid, g);
    }
  g->crypto = crypto;
  return g;
}

PaCrypto *
pa_bridge_crypto_ghost_identity (PaBridgeCrypto *bc, const char *mxid, const char *device_id)
{
  if (bc->crypto == NULL || mxid == NULL)
    return NULL;
  g_autoptr (GError) error = NULL;
  GhostDevice *g = ghost_open (bc, mxid, FALSE, &error);
  if (g == NULL)
    {
      if (error)
        g_warning ("crypto identity of %s: %s", mxid, error->message);
      return NULL;
    }
  if (device_id && g_strcmp0 (device_id, pa_crypto_get_device_id (g->crypto)) != 0)
    return NULL;
  return g->crypto;
}

static void
waiters_done (GhostDevice *g, PaCrypto *crypto, const GError *error)
{
  Waiter *w;
  while ((w = g_queue_pop_head (&g->waiters)) != NULL)
    {
      PaBridgeCryptoIdentityFunc cb = w->cb;
      gpointer data = w->data;
      g_free (w);
      if (cb)
        cb (g->bc, crypto, error, data);
    }
}

static void
publish_failed (GhostDevice *g, const char *what, const GError *error)
{
  g_message ("device of %s: %s: %s (will retry)", g->mxid, what, error->message);
  g->state = GHOST_IDLE;
  waiters_done (g, NULL, error);
}

static void
published (GhostDevice *g)
{
  g_autoptr (GError) error = NULL;
  if (!pa_crypto_set_published (g->crypto, &error))
    {
      publish_failed (g, "saving", error);
      return;
    }
  g->state = GHOST_IDLE;
  g_message ("ghost %s has device %s (curve25519 %s)", g->mxid, pa_crypto_get_device_id (g->crypto),
             pa_crypto_get_curve25519 (g->crypto));
  waiters_done (g, g->crypto, NULL);
}

static void
cross_signed (PaCrypto *crypto, json_t *result, const GError *error, gpointer user_data)
{
  GhostDevice *g = user_data;
  if (error)
    {
      publish_failed (g, "cross-signing", error);
      return;
    }
  published (g);
}

static void
keys_uploaded (PaCrypto *crypto, json_t *result, const GError *error, gpointer user_data)
{
  GhostDevice *g = user_data;
  if (error)
    {
      publish_failed (g, "key upload", error);
      return;
    }
  pa_crypto_cross_sign (g->crypto, cross_signed, g);
}

/* The homeserver does not create devices for appservices (no MSC4190):
 * every ghost encrypts with the bot's device from now on, as before. */
static void
devices_unsupported (PaBridgeCrypto *bc, const PaMatrixResponse *resp)
{
  g_message ("ghost devices: off: the homeserver does not create devices for the appservice's "
             "users (%u %s); ghosts encrypt with the bot's device",
             resp->status, resp->errcode ? resp->errcode : "");
  bc->ghost_devices = PA_GHOST_DEVICES_UNSUPPORTED;
}

static gboolean
refused_as_unknown (const PaMatrixResponse *resp)
{
  return resp->status == 404 || resp->status == 405
         || g_strcmp0 (resp->errcode, "M_UNRECOGNIZED") == 0;
}

static void
device_created (PaMatrix *mx, const PaMatrixResponse *resp, gpointer user_data)
{
  GhostDevice *g = user_data;
  if (!pa_matrix_response_ok (resp))
    {
      if (refused_as_unknown (resp))
        {
          devices_unsupported (g->bc, resp);
          g->state = GHOST_IDLE;
          waiters_done (g, g->bc->crypto, NULL);
          return;
        }
      g_autoptr (GError) e = pa_matrix_response_to_error (resp);
      publish_failed (g, "creating the device", e);
      return;
    }
  pa_crypto_upload_keys (g->crypto, keys_uploaded, g);
}

static void
publish (GhostDevice *g)
{
  g->state = GHOST_PUBLISHING;
  g_autofree char *dev = pa_matrix_escape (pa_crypto_get_device_id (g->crypto));
  g_autofree char *path = g_strdup_printf ("/_matrix/client/v3/devices/%s", dev);
  g_autoptr (json_t) body = json_pack ("{s:s}", "display_name", "Passerelle");
  PaMatrixRequest req = { .method = "PUT",
                          .path = path,
                          .user_id = g->mxid,
                          .body = body,
                          .max_attempts = 3,
                          .timeout_s = 30 };
  pa_matrix_request (g->bc->bridge->mx, &req, device_created, g);
}

void
pa_bridge_crypto_identity_for (PaBridgeCrypto *bc, const char *sender,
                               PaBridgeCryptoIdentityFunc cb, gpointer data)
{
  PaBridge *b = bc->bridge;
  if (!devices_on (bc) || sender == NULL || g_strcmp0 (sender, b->bot_mxid) == 0
      || !pa_ghost_is_ours (b, sender))
    {
      if (cb)
        cb (bc, bc->crypto, NULL, data);
      return;
    }
  g_autoptr (GError) error = NULL;
  GhostDevice *g = ghost_open (bc, sender, TRUE, &error);
  if (g == NULL)
    {
      g_warning ("crypto identity of %s: %s", sender, error ? error->message : "not started");
      if (cb)
        cb (bc, NULL, error, data);
      return;
    }
  if (pa_crypto_is_published (g->crypto))
    {
      if (cb)
        cb (bc, g->crypto, NULL, data);
      return;
    }
  Waiter *w = g_new0 (Waiter, 1);
  w->cb = cb;
  w->data = data;
  g_queue_push_tail (&g->waiters, w);
  if (g->state == GHOST_IDLE)
    publish (g);
}

void
pa_bridge_crypto_forget_waiter (PaBridgeCrypto *bc, gpointer data)
{
  GHashTableIter it;
  gpointer v;
  if (bc->ghosts == NULL)
    return;
  g_hash_table_iter_init (&it, bc->ghosts);
  while (g_hash_table_iter_next (&it, NULL, &v))
    {
      GhostDevice *g = v;
      for (GList *l = g->waiters.head; l != NULL;)
        {
          GList *next = l->next;
          Waiter *w = l->data;
          if (w->data == data)
            {
              g_free (w);
              g_queue_delete_link (&g->waiters, l);
            }
          l = next;
        }
    }
}

static void
ghost_upload_done (PaCrypto *crypto, json_t *result, const GError *error, gpointer user_data)
{
  GhostDevice *g = user_data;
  g->uploading = FALSE;
  if (error)
    g_message ("key upload of %s: %s", g->mxid, error->message);
}

void
pa_bridge_crypto_ghosts_otk_counts (PaBridgeCrypto *bc, json_t *otk_counts)
{
  const char *user;
  json_t *per_user;
  json_object_foreach (otk_counts, user, per_user)
  {
    if (g_strcmp0 (user, bc->bridge->bot_mxid) == 0 || !pa_ghost_is_ours (bc->bridge, user))
      continue;
    const char *device;
    json_t *counts;
    json_object_foreach (per_user, device, counts)
    {
      json_t *count = json_object_get (counts, "signed_curve25519");
      if (!json_is_integer (count) || json_integer_value (count) >= GHOST_OTK_TARGET / 2)
        continue;
      PaCrypto *crypto = pa_bridge_crypto_ghost_identity (bc, user, device);
      GhostDevice *g = crypto ? g_hash_table_lookup (bc->ghosts, user) : NULL;
      if (g == NULL || g->uploading || !pa_crypto_is_published (crypto))
        continue;
      g->uploading = TRUE;
      pa_crypto_upload_keys (crypto, ghost_upload_done, g);
    }
  }
}

static void
devices_on_logged (PaBridgeCrypto *bc)
{
  bc->ghost_devices = PA_GHOST_DEVICES_ON;
  gint64 n = pa_crypto_count_identities (bc->crypto);
  g_message ("ghost devices: on (appservice device management, MSC4190); %" G_GINT64_FORMAT
             " ghost identities in the store",
             n > 0 ? n - 1 : 0);
}

/* Whether the homeserver creates devices for the appservice's users: known
 * when the bot's device was made so, else an upsert of the bot's own
 * device (which exists) answers it without creating anything.  Blocking,
 * at start-up. */
static void
probe (PaBridgeCrypto *bc, int msc4190)
{
  PaBridge *b = bc->bridge;
  if (!b->config->encryption_ghost_devices)
    {
      bc->ghost_devices = PA_GHOST_DEVICES_OFF;
      g_message ("ghost devices: off (encryption.ghost_devices): ghosts encrypt with the bot's "
                 "device");
      return;
    }
  if (msc4190 != PA_MSC4190_ASK)
    {
      if (msc4190 == PA_MSC4190_YES)
        devices_on_logged (bc);
      else
        {
          g_message ("ghost devices: off: the homeserver does not create devices for the "
                     "appservice; ghosts encrypt with the bot's device");
          bc->ghost_devices = PA_GHOST_DEVICES_UNSUPPORTED;
        }
      return;
    }
  g_autofree char *dev = pa_matrix_escape (pa_crypto_get_device_id (bc->crypto));
  g_autofree char *path = g_strdup_printf ("/_matrix/client/v3/devices/%s", dev);
  g_autoptr (json_t) body = json_object ();
  PaMatrixRequest req = { .method = "PUT",
                          .path = path,
                          .user_id = b->bot_mxid,
                          .body = body,
                          .max_attempts = 4,
                          .timeout_s = 30 };
  g_autoptr (PaMatrixResponse) resp = pa_matrix_request_sync (b->mx, &req);
  if (pa_matrix_response_ok (resp))
    devices_on_logged (bc);
  else if (refused_as_unknown (resp))
    devices_unsupported (bc, resp);
  else
    {
      /* Down or refusing for another reason: ghosts' devices are still
       * tried, each creation failing (and retried) on its own. */
      bc->ghost_devices = PA_GHOST_DEVICES_ON;
      g_message ("ghost devices: on, but the homeserver's answer to the probe was %u %s",
                 resp->status, str (resp->body, "errcode") ? str (resp->body, "errcode") : "");
    }
}

gboolean
pa_bridge_crypto_ghost_devices (PaBridgeCrypto *bc)
{
  return devices_on (bc);
}

void
pa_bridge_crypto_ghosts_start (PaBridge *b)
{
  PaBridgeCrypto *bc = b->crypto;
  if (bc == NULL)
    return;
  bc->ghosts
      = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) ghost_device_free);
  probe (bc, bc->msc4190);
}
