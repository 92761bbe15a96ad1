/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The bottom floor of src/bridge/: the bridge object and the small types
 * its files share.  Only data here: every function lives in the file
 * that owns it, declared in that file's own header.  Nothing outside
 * src/bridge/ (but its tests) includes this. */
#ifndef PA_BRIDGE_OBJECT_H
#define PA_BRIDGE_OBJECT_H

#include "pa-bridge.h"
#include "pa-build-config.h"
#include "passerelle/plugin.h"
#include "pa-common.h"
#include "appservice/pa-appservice.h"
#include "host/pa-plugin-catalog.h"
#include "host/pa-worker.h"
#include "host/pa-worker-process.h"
#include "matrix/pa-matrix.h"
#include "store/pa-store.h"

G_BEGIN_DECLS

/* Content key of the events the bridge sends as an agent (double
 * puppeting): their echo in the agent's name is not bridged back. */
#define PA_CONTENT_DOUBLE_PUPPET "fr.passerelle.double_puppet"


/* A pending Matrix → legacy operation, answered by the worker's result. */
typedef struct
{
  guint64 op_id;
  char *kind;     /* "send", "edit", "redact", "react", "login", "lookup", … */
  char *room_id;  /* where to report failure (NULL: management room) */
  char *event_id; /* the Matrix event that caused it */
  char *chat_id;
  char *extra;      /* reaction key, etc. */
  json_t *contacts; /* list_contacts / resolve answers collected */
  json_t *frame;    /* the op frame sent, resent as is by a retry */
  guint attempts;   /* sends so far */
  guint retry_source; /* pending retry timer, 0 if none */
  gint64 waited_ms;   /* sum of the retry delays so far */
  gint64 sent_us;     /* monotonic time of the last send to the worker */
  gboolean held;      /* kept across a watchdog restart, sent again once connected */
  gboolean paced;     /* a send the network rate-limited: the agent was told it waits */
  /* A caller waiting for the answer (pa_to_legacy_op_call): told once, with
   * the result frame, or with NULL when the login stopped first. */
  void (*reply) (gboolean ok, json_t *frame, json_t *contacts, gpointer data);
  gpointer reply_data;
} PaPendingOp;

/* One running login ("account" here, as PaLogin is the plugin's own
 * opaque state in plugin.h): a worker process for (owner, plugin). */
typedef struct
{
  PaBridge *bridge;
  char *id;
  char *owner;
  char *plugin;
  char *remote_id;
  char *remote_name;
  char *state; /* last login_state */
  PaWorker *worker;
  gboolean logged_in; /* reached COMPLETE (or saved) */
  gboolean resuming;  /* resumed at start-up: its first "connected" is not news */
  gboolean history;   /* a history import job's account: its rooms are never shared */
  /* login conversation in the management room */
  json_t *step;        /* the current user_input step, or NULL */
  guint field_index;   /* next field to ask */
  gboolean redact_warned; /* told the bot cannot delete a password here: `newroom`/`retry` */
  json_t *answers;     /* collected answers {id: value} */
  GHashTable *pending; /* op_id (guint64*) → PaPendingOp* */
  /* the plugin's notices to the agent, rate-limited (pa-notice-limit.c),
   * and how to free it (set by the file above that made it) */
  gpointer notice_limit;
  GDestroyNotify notice_limit_free;
  /* a login driven from outside the management room (the provisioning
   * API, set by the file above that drives it): its login_step frames go
   * to driver_step instead of the room, and driver_gone is told when the
   * login is freed */
  void (*driver_step) (gpointer driver, json_t *frame);
  void (*driver_gone) (gpointer driver);
  gpointer driver;
} PaAccount;

typedef struct _PaImportJob PaImportJob;
typedef struct _PaBridgeMetrics PaBridgeMetrics;
typedef struct _PaBridgeCrypto PaBridgeCrypto;

/* The end of a Matrix → legacy event's handling (the inbound queue moves
 * on); NULL for ephemeral events. */
typedef void (*PaEventDoneFunc) (PaBridge *b);
/* A handler of Matrix events, continuing with `ev` (e.g. decrypted). */
typedef void (*PaEventFunc) (PaBridge *b, json_t *ev, PaEventDoneFunc done);
/* Ghost or other asynchronous step done. */
typedef void (*PaDoneFunc) (PaBridge *b, gboolean ok, const char *error, gpointer user_data);
/* A room found or created (room_id), or `error`. */
typedef void (*PaPortalFunc) (PaBridge *b, const char *room_id, const char *error,
                              gpointer user_data);
/* Outbound completion of an item queued with on_done {"what": …}: the
 * homeserver's answer (event_id when it created one). */
typedef void (*PaSentFunc) (PaBridge *b, json_t *on_done, const char *event_id,
                            const PaMatrixResponse *resp);

/* What a history import job's lane asks of its job (set by pa-import.c,
 * so that the legacy → Matrix files never call the import back). */
typedef struct
{
  PaAccount *(*account) (PaImportJob *job);
  const char *(*source) (PaImportJob *job);
  const char *(*path) (PaImportJob *job); /* the export file */
  const char *(*display_suffix) (PaImportJob *job);
  const char *(*me) (PaImportJob *job);
  void (*room_ensure) (PaImportJob *job, const char *chat_id, json_t *chat, PaPortalFunc done,
                       gpointer user_data);
  /* The room the agent named (a live portal, maybe), or NULL: its live
   * messages are not imported again (pa-fingerprint.c). */
  const char *(*live_room) (PaImportJob *job, const char *chat_id);
} PaLaneImport;

/* A lane of remote events processed one at a time, in order: the live
 * lane (every login's events) or one history import job's lane. */
typedef struct
{
  PaBridge *bridge;
  PaImportJob *job;           /* NULL for the live lane */
  const PaLaneImport *import; /* the job's callbacks, NULL for the live lane */
  gboolean busy;
  gboolean scheduled;
  guint retry_source;
} PaLane;

/* A portal's cached state (rows live in the store). */
typedef struct
{
  char *room_id;
  GHashTable *joined;  /* mxid set of ghosts known joined */
  GHashTable *posters; /* read-only chats: mxid set of ghosts known able to post */
  GQueue *power_edits; /* power-level changes waiting (pa-power-edit.c) */
  gboolean power_busy; /* one is being read or written */
} PaRoomCache;

struct _PaBridge
{
  PaConfig *config;
  char *self_exe;
  char *bot_mxid;
  PaStore *store;
  PaMatrix *mx;
  PaAppservice *as;
  GMainLoop *loop;
  GHashTable *plugins;       /* name → PaPluginInfo* */
  GHashTable *logins;        /* id → PaAccount* */
  PaWorkerPool *worker_pool; /* shared worker processes (workers.logins_per_worker) */
  GHashTable *rooms;         /* room_id → PaRoomCache* */
  GHashTable *ghosts_busy;   /* mxid → GQueue of the ensures waiting (pa-ghost.c) */
  GHashTable *ghost_avatars; /* mxid → signature of the uploaded picture (kv cache) */
  /* key → GPtrArray of Waiter*: concurrent ensures of the same room wait
   * for the first one instead of creating twice. */
  GHashTable *portals_in_progress;
  guint64 next_op_id;
  /* inbound (HS → AS) processing */
  /* FALSE until start-up is done: transactions that arrive before (the
   * start-up ping makes Synapse replay its queue at once, into the loop
   * the start-up requests iterate) are stored and wait, since the logins
   * they are for do not exist yet. */
  gboolean dispatching;
  gboolean inbound_scheduled;
  gboolean inbound_busy;
  json_t *inbound_cache; /* rows read ahead from the inbound queue */
  size_t inbound_cache_pos;
  gint64 inbound_current_seq;
  GHashTable *login_waits;  /* event_id → gint64* first seen (ms), waiting for its login */
  GHashTable *withheld;     /* event_id → json_t* login answer kept out of the store */
  GHashTable *can_redact;   /* management room_id → GINT 1 (bot cannot redact) / 2 (can) */
  GHashTable *typing_state; /* room_id set: where the owner was typing */
  /* group commit */
  gboolean batch_open;
  guint batch_source;
  GPtrArray *pending_acks; /* acks waiting for a commit (pa-batch.c, one g_free each) */
  GPtrArray *pending_unlinks; /* media files to delete once the batch is committed */
  /* storage faults (pa-batch.c): while the store cannot write, the writes
   * that must not be lost wait in pending_redo (PaBatchRedo*, in order)
   * with their acks, and a timer retries them with backoff. */
  gboolean store_faulted;
  guint store_retry_source;
  guint store_retry_delay_ms;
  GPtrArray *pending_redo;
  gint64 store_fault_since; /* when the last fault began (ms) */
  gboolean store_alarm_told; /* the "cannot write" notice went, "recovered" not yet */
  guint store_alarm_timer;   /* the "recovered" notice, after a quiet period */
  GPtrArray *held_frames;   /* worker frames waiting for the store (pa-login.c) */
  /* Told when the store stops (faulted TRUE, reason) or starts again
   * (faulted FALSE, NULL) accepting writes: the notices, the queues. */
  void (*store_fault_changed) (PaBridge *b, gboolean faulted, const char *reason);
  /* remote (legacy → Matrix) processing */
  PaLane live;
  /* history imports */
  GHashTable *imports; /* job id → PaImportJob* */
  guint import_timer;
  gint64 import_alive_ms; /* last PA_IMPORT_ALIVE_KEY written (pa-import.c) */
  GHashTable *import_purges; /* import lanes being removed (pa-import-purge.c), or NULL */
  guint import_purge_timer;
  gboolean import_vacuum; /* pages to give back once the lanes are gone */
  /* outbound queue */
  GHashTable *outbound_busy;    /* queue_key set */
  GHashTable *outbound_flights; /* requests in flight (freed if we stop first) */
  guint outbound_timer;
  gboolean outbound_scheduled;
  guint outbound_max_inflight;
  GHashTable *sent_handlers;              /* on_done "what" → PaSentFunc */
  void (*outbound_settled) (PaBridge *b); /* an item left the queue */
  /* counters for status */
  guint64 n_txns, n_events_in, n_events_out, n_remote;
  gint64 started_at;
  /* the metrics port and its queue heads (pa-bridge-metrics.c), NULL when off */
  struct _PaBridgeMetrics *metrics;
  guint signal_sources[2];
  /* bridge.presence: ghost mxid → presence body of ghosts not offline,
   * re-sent by presence_timer (created on first use) */
  GHashTable *presence;
  guint presence_timer;
  /* end-to-bridge encryption, NULL when encryption.allow is off */
  PaBridgeCrypto *crypto;
  /* "room\x1frequest event id" → key verification of the bot's device in
   * a management room (pa-bridge-verify.c), created on first use */
  GHashTable *verifications;
  /* the provisioning API (pa-provision.c), NULL when it is off */
  gpointer provision;
  /* the start-up self-check (pa-self-check.c): its probe may come back
   * after start-up */
  struct _PaSelfCheck *self_check;
};

G_END_DECLS

#endif
