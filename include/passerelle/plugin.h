/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * passerelle/plugin.h — the whole plugin SDK of Passerelle.
 *
 * A plugin is a shared object that connects ONE legacy login (or runs ONE
 * import job) to Passerelle.  It never sees Matrix: no MXIDs, no room IDs, no
 * tokens.  It speaks in legacy identifiers (contact, chat, message) and in
 * neutral content (text, a small HTML subset, media files, reply and edit
 * targets).  The host owns every Matrix concept.
 *
 * Process model.  Each login runs in its own worker process (the passerelle
 * binary in worker mode).  The worker loads exactly one plugin with GModule,
 * runs a GMainLoop on its main thread and relays between the plugin and the
 * host over a socketpair.  The plugin never sees that boundary: it implements
 * the descriptor below and calls the PaHostApi table it is given.
 *
 * Entry point.  A plugin exports one symbol:
 *
 *     const PaPluginDescriptor *pa_plugin_get_descriptor (void);
 *
 * The loader refuses a descriptor whose magic is wrong, whose abi_major
 * differs from PA_PLUGIN_ABI_MAJOR, whose abi_minor is newer than the host's,
 * or whose struct_size is smaller than the ABI 1.0 size, and logs why.
 *
 * Versioning rules (bump this when…):
 *   - PA_PLUGIN_ABI_MAJOR: a member is removed, reordered, retyped, or the
 *     meaning or ownership of an existing member changes.
 *   - PA_PLUGIN_ABI_MINOR: a member is appended at the END of a struct, an
 *     enum value is appended, or a new capability bit is defined.
 * Every struct starts with `struct_size`; readers must check it before
 * touching a member appended after 1.0 (use PA_HAS_MEMBER).
 *
 * Threading.  Every plugin callback is invoked on the worker's main thread.
 * PaHostApi functions may be called from any thread: they copy their
 * arguments and hand them to the main thread.  Strings are UTF-8, NUL
 * terminated.
 *
 * Ownership.  Unless a comment says otherwise, pointers passed INTO a
 * callback are borrowed for the duration of the call only, and pointers
 * passed to a PaHostApi function are copied before it returns.
 *
 * Asynchronous operations.  Matrix → legacy operations carry an `op_id`.  The
 * plugin must answer each exactly once with host->op_result(), from the
 * callback itself or later.  An operation the plugin does not support may be
 * left NULL in the descriptor: the host then tells the agent that the network
 * cannot do it, without calling the plugin.
 *
 * What this ABI covers, measured against mautrix-go bridgev2 (the most
 * complete plugin boundary in the field):
 *   network: name, capabilities, login flows and steps, create/load login,
 *            resolve identifier, start DM, create group, list contacts,
 *            search users (resolve_identifier with PA_RESOLVE_SEARCH).
 *   login:   connect, disconnect, logout (remote side), is-logged-in
 *            (login_state events), is-this-our-user (PaEvent.from_me),
 *            chat info, user info, per-chat features (PaChatInfo.features),
 *            fetch messages with cursor and direction.
 *   events:  every PaEventType below, with chat id, sender, timestamp,
 *            stream order and a transaction id for echo suppression.
 *   Matrix-side: message, edit, reaction add/remove, redaction, read
 *            receipt, typing, room name/topic/avatar, membership change,
 *            disappearing timer.
 *   metadata: opaque per-login/chat/contact/message values stored by the
 *            host (meta_set / meta_get).
 * Not expressed, on purpose: bridgev2's "relay mode" formatting (the host
 * does relaying itself), and polls as a first-class type (rendered as text).
 */
#ifndef PASSERELLE_PLUGIN_H
#define PASSERELLE_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PA_PLUGIN_MAGIC 0x50534C45u /* "PSLE" */
#define PA_PLUGIN_ABI_MAJOR 1
#define PA_PLUGIN_ABI_MINOR 1
#define PA_PLUGIN_ENTRY_SYMBOL "pa_plugin_get_descriptor"

/* True when the struct pointed to by `s` (which starts with struct_size)
 * is large enough to contain `member`. */
#define PA_HAS_MEMBER(s, type, member)                                                  \
  ((s) != NULL && (s)->struct_size >= offsetof (type, member) + sizeof ((s)->member))

/* ---------------------------------------------------------------- basics */

typedef enum {
  PA_LOG_DEBUG = 0,
  PA_LOG_INFO = 1,
  PA_LOG_WARNING = 2,
  PA_LOG_ERROR = 3,
} PaLogLevel;

/* Opaque handle the host gives the plugin; pass it back to every PaHostApi
 * call.  Valid from login_new() until login_free() returns. */
typedef struct PaHost PaHost;

/* Opaque per-login state owned by the plugin (what login_new returns). */
typedef void PaLogin;

/* Capability bits of a network (PaPluginDescriptor.capabilities). */
enum {
  PA_CAP_LOGIN = 1u << 0,        /* live puppeting: login flows, connect */
  PA_CAP_IMPORT = 1u << 1,       /* import_file is set */
  PA_CAP_GROUPS = 1u << 2,       /* group chats exist */
  PA_CAP_MEDIA = 1u << 3,        /* media messages both ways */
  PA_CAP_EDITS = 1u << 4,        /* messages can be edited */
  PA_CAP_DELETES = 1u << 5,      /* messages can be deleted */
  PA_CAP_REACTIONS = 1u << 6,    /* emoji reactions */
  PA_CAP_REPLIES = 1u << 7,      /* replies to a message */
  PA_CAP_TYPING = 1u << 8,       /* typing notifications */
  PA_CAP_READ_RECEIPTS = 1u << 9,
  PA_CAP_PRESENCE = 1u << 10,
  PA_CAP_HISTORY = 1u << 11,     /* fetch_history works */
  PA_CAP_FORMATTING = 1u << 12,  /* PaContent.html is meaningful */
  PA_CAP_DISAPPEARING = 1u << 13,
};

/* ------------------------------------------------------------ content */

typedef enum {
  PA_MSG_TEXT = 0,
  PA_MSG_NOTICE = 1,   /* system / service line */
  PA_MSG_EMOTE = 2,    /* "/me does" */
  PA_MSG_IMAGE = 3,
  PA_MSG_VIDEO = 4,
  PA_MSG_AUDIO = 5,
  PA_MSG_VOICE = 6,    /* audio recorded as a voice note */
  PA_MSG_FILE = 7,
  PA_MSG_STICKER = 8,
  PA_MSG_LOCATION = 9,
} PaMsgKind;

/* A message body.  For media kinds, media_path names a readable local file
 * (inside the worker's data dir, or an import's extraction dir); the host
 * uploads it.  Going Matrix → legacy, the host downloads media into the
 * worker's data dir and passes its path the same way; the plugin may delete
 * it once op_result has been called. */
typedef struct {
  uint32_t struct_size;
  PaMsgKind kind;
  const char *text;       /* plain text or caption; may be NULL for media */
  const char *html;       /* optional: b, i, u, s, code, pre, a href, br, blockquote */
  const char *media_path; /* media kinds: local file, else NULL */
  const char *media_name; /* file name shown to users */
  const char *mimetype;
  uint64_t media_size;    /* bytes, 0 if unknown */
  uint32_t width, height; /* pixels, 0 if unknown */
  uint32_t duration_ms;   /* audio/video, 0 if unknown */
  double latitude, longitude; /* PA_MSG_LOCATION */
  const char *reply_to;   /* legacy message id this answers, or NULL */
  const char *forwarded_from; /* display name of the original author, or NULL */
  /* ABI 1.1: */
  uint32_t flags;         /* PA_CONTENT_* bits */
} PaContent;

/* PaContent.flags (ABI 1.1): facts about a message that its text alone
 * does not carry, mostly from export files. */
enum {
  PA_CONTENT_EDITED = 1u << 0,       /* the message had been edited */
  PA_CONTENT_DELETED = 1u << 1,      /* a "this message was deleted" placeholder */
  PA_CONTENT_NOT_INCLUDED = 1u << 2, /* media the export did not include */
  PA_CONTENT_SYSTEM = 1u << 3,       /* a system / service line */
};

/* ---------------------------------------------------------- chats, users */

typedef enum {
  PA_CHAT_DM = 0,
  PA_CHAT_GROUP = 1,
} PaChatKind;

typedef struct {
  uint32_t struct_size;
  const char *id;          /* legacy user id, stable */
  const char *name;        /* display name, or NULL if unknown */
  const char *avatar_path; /* local image file, or NULL */
  const char *identifier;  /* what a human types to reach them (phone, JID), or NULL */
  int32_t power;           /* in groups: 0 member, 50 moderator, 100 owner */
} PaMember;

/* Per-chat features the Matrix side may use. */
typedef struct {
  uint32_t struct_size;
  uint64_t capabilities;     /* subset of PA_CAP_* valid in this chat */
  uint64_t max_media_size;   /* bytes, 0 = no media */
  uint32_t max_edit_age_s;   /* 0 = no limit */
  uint32_t max_text_length;  /* 0 = no limit */
} PaChatFeatures;

typedef struct {
  uint32_t struct_size;
  const char *id;
  PaChatKind kind;
  const char *name;        /* groups; NULL for DMs (Tchap DMs have no name) */
  const char *topic;
  const char *avatar_path;
  const PaMember *members; /* may be NULL when unchanged */
  size_t n_members;
  bool members_complete;   /* true: members is the whole list (leavers leave) */
  const PaChatFeatures *features; /* may be NULL */
  uint32_t disappearing_s; /* 0 = off */
} PaChatInfo;

/* --------------------------------------------------------- remote events */

typedef enum {
  PA_EV_MESSAGE = 1,
  PA_EV_MESSAGE_UPSERT = 2,   /* replace a message if known, else create */
  PA_EV_EDIT = 3,
  PA_EV_DELETE = 4,
  PA_EV_REACTION = 5,
  PA_EV_REACTION_REMOVE = 6,
  PA_EV_REACTION_SYNC = 7,    /* reaction_key is a comma list: the full set */
  PA_EV_READ_RECEIPT = 8,
  PA_EV_DELIVERY_RECEIPT = 9,
  PA_EV_MARKED_UNREAD = 10,
  PA_EV_TYPING = 11,
  PA_EV_PRESENCE = 12,
  PA_EV_CHAT_INFO = 13,       /* create or update a chat */
  PA_EV_CHAT_RESYNC = 14,     /* chat info may be stale: ask get_chat_info */
  PA_EV_CHAT_DELETE = 15,
  PA_EV_CONTACT_INFO = 16,    /* contact name / avatar / identifier */
  PA_EV_BACKFILL_END = 17,    /* the events since the last one were history */
} PaEventType;

/* One remote event.  A message id + chat id pair identifies a message; the
 * host deduplicates on it, so a plugin may safely re-emit after a reconnect. */
typedef struct {
  uint32_t struct_size;
  PaEventType type;
  const char *chat_id;       /* required except for PRESENCE and CONTACT_INFO */
  const char *sender_id;     /* legacy user id; NULL for chat-level events */
  int64_t timestamp_ms;      /* original time, ms since the epoch (UTC) */
  uint64_t stream_order;     /* network order, 0 if unknown */
  const char *message_id;    /* MESSAGE/UPSERT: the new id; receipts: last read */
  const char *target_id;     /* EDIT/DELETE/REACTION*: the message acted on */
  const char *txn_id;        /* echo of a send: the txn_id the host gave */
  bool from_me;              /* sent by the logged-in account itself */
  const PaContent *content;  /* MESSAGE, UPSERT, EDIT */
  const char *reaction_key;  /* REACTION*: the emoji */
  const PaChatInfo *chat;    /* CHAT_INFO, and optionally with a first MESSAGE */
  const PaMember *contact;   /* CONTACT_INFO, and optionally the sender's info */
  bool typing;               /* TYPING */
  uint32_t typing_timeout_ms;
  const char *presence;      /* PRESENCE: "online", "offline", "unavailable" */
} PaEvent;

/* ------------------------------------------------------------- logins */

typedef enum {
  PA_FIELD_TEXT = 0,
  PA_FIELD_PASSWORD = 1, /* never logged, never echoed back */
  PA_FIELD_NUMBER = 2,
  PA_FIELD_BOOL = 3,     /* "true" / "false" */
  PA_FIELD_CHOICE = 4,   /* one of `choices` */
  PA_FIELD_PHONE = 5,    /* E.164 */
  PA_FIELD_CODE = 6,     /* a code the agent received elsewhere */
} PaFieldType;

typedef struct {
  uint32_t struct_size;
  const char *id;            /* machine name, e.g. "username" */
  const char *label;         /* human label, e.g. "Jabber ID" */
  PaFieldType type;
  const char *default_value; /* or NULL */
  bool optional;
  const char *const *choices; /* PA_FIELD_CHOICE: NULL-terminated */
} PaField;

typedef enum {
  PA_STEP_USER_INPUT = 0,        /* ask fields; answer with login_submit */
  PA_STEP_DISPLAY_AND_WAIT = 1,  /* show text/image (QR, pairing code); wait */
  PA_STEP_COMPLETE = 2,          /* logged in; remote_id/remote_name set */
} PaStepKind;

typedef struct {
  uint32_t struct_size;
  PaStepKind kind;
  const char *step_id;       /* echoed in login_submit */
  const char *instructions;  /* shown to the agent */
  const PaField *fields;     /* USER_INPUT */
  size_t n_fields;
  const char *display_text;  /* DISPLAY_AND_WAIT: a code or a link */
  const char *image_path;    /* DISPLAY_AND_WAIT: PNG to show (a QR code) */
  const char *remote_id;     /* COMPLETE: the account's own legacy id */
  const char *remote_name;   /* COMPLETE: human name of the account */
} PaLoginStep;

typedef struct {
  uint32_t struct_size;
  const char *id;            /* "password", "qr", "phone" … */
  const char *name;
  const char *description;
} PaLoginFlow;

typedef enum {
  PA_STATE_CONNECTING = 0,
  PA_STATE_CONNECTED = 1,
  PA_STATE_TRANSIENT_DISCONNECT = 2, /* the plugin is retrying */
  PA_STATE_BAD_CREDENTIALS = 3,      /* needs a new login */
  PA_STATE_LOGGED_OUT = 4,
  PA_STATE_UNKNOWN_ERROR = 5,
} PaLoginState;

typedef enum {
  PA_META_LOGIN = 0,
  PA_META_CHAT = 1,
  PA_META_CONTACT = 2,
  PA_META_MESSAGE = 3,
} PaMetaScope;

typedef enum {
  PA_RESOLVE_IDENTIFIER = 0, /* exact: "+33612…", "bob@example.org" */
  PA_RESOLVE_SEARCH = 1,     /* free-text search of the network's users */
} PaResolveMode;

/* ------------------------------------------------------- import options */

typedef struct {
  uint32_t struct_size;
  const char *timezone;       /* IANA zone for zone-less exports, e.g. "Europe/Paris" */
  const char *chat;           /* pick one chat of a multi-chat export, or NULL */
  const char *work_dir;       /* where media may be extracted */
  uint64_t max_total_bytes;   /* cap on uncompressed size (zip bombs) */
  uint64_t max_entries;       /* cap on archive entries */
} PaImportOptions;

/* ----------------------------------------------------------- host table */

typedef struct {
  uint32_t struct_size;
  uint16_t abi_major, abi_minor;

  /* Log through the host (G_LOG_DOMAIN is the plugin's name). */
  void (*log) (PaHost *host, PaLogLevel level, const char *message);

  /* Hand one remote event to the host.  Returns a local sequence number
   * (>0), or 0 when the event is refused (struct_size too small, unknown
   * type) and was not sent.  When the host has stored the event durably it calls
   * PaPluginDescriptor.event_persisted with that number, so the plugin may
   * acknowledge the event to its network only then. */
  uint64_t (*emit) (PaHost *host, const PaEvent *event);

  /* The login's private directory (0700), stable across restarts. */
  const char *(*data_dir) (PaHost *host);

  /* Login state machine: show a step to the agent. */
  void (*login_step) (PaHost *host, const PaLoginStep *step);

  /* Connection state; `message` (may be NULL) is shown to the agent. */
  void (*login_state) (PaHost *host, PaLoginState state, const char *message);

  /* Answer an operation.  On success `legacy_id` (may be NULL) is the id of
   * what was created (message id for sends).  On failure `error` is shown to
   * the agent in the room. */
  void (*op_result) (PaHost *host, uint64_t op_id, bool ok, const char *legacy_id,
                     const char *error);

  /* A free-form notice to the agent's management room. */
  void (*notice) (PaHost *host, const char *text);

  /* Opaque metadata kept by the host.  meta_get returns a newly allocated
   * string the caller frees with free(), or NULL.  Stored asynchronously:
   * a meta_get right after meta_set sees the new value. */
  void (*meta_set) (PaHost *host, PaMetaScope scope, const char *id, const char *value);
  char *(*meta_get) (PaHost *host, PaMetaScope scope, const char *id);

  /* Answer list_contacts / resolve_identifier: zero or more contacts, then
   * op_result. */
  void (*op_contact) (PaHost *host, uint64_t op_id, const PaMember *contact);
} PaHostApi;

/* --------------------------------------------------------- descriptor */

typedef struct {
  uint32_t magic;             /* PA_PLUGIN_MAGIC */
  uint16_t abi_major;         /* PA_PLUGIN_ABI_MAJOR */
  uint16_t abi_minor;         /* PA_PLUGIN_ABI_MINOR the plugin was built with */
  uint32_t struct_size;       /* sizeof (PaPluginDescriptor) */
  const char *name;           /* "purple", "telegram": [a-z0-9]+, also the namespace */
  const char *display_name;   /* "WhatsApp" */
  const char *version;
  uint64_t capabilities;      /* PA_CAP_* */
  const PaLoginFlow *login_flows;
  size_t n_login_flows;

  /* ---- lifecycle (worker mode; one login per process) */

  /* Create the login.  `saved` is true when data_dir holds a session saved
   * by an earlier run: the plugin should then reconnect without asking the
   * agent anything.  Returns NULL and sets *error (malloc'd) on failure. */
  PaLogin *(*login_new) (PaHost *host, const PaHostApi *api, bool saved, char **error);
  /* Disconnect and free everything; the process exits afterwards. */
  void (*login_free) (PaLogin *login);

  /* ---- login state machine */
  void (*login_start) (PaLogin *login, const char *flow_id);
  /* Answers to a USER_INPUT step: parallel arrays of field ids and values. */
  void (*login_submit) (PaLogin *login, const char *step_id, const char *const *ids,
                        const char *const *values, size_t n);
  void (*login_cancel) (PaLogin *login);
  void (*connect) (PaLogin *login);
  void (*disconnect) (PaLogin *login);
  /* Log out on the remote side and forget the session. */
  void (*logout) (PaLogin *login, uint64_t op_id);

  /* Called when the host has durably stored the event `seq` returned by
   * emit().  May be NULL. */
  void (*event_persisted) (PaLogin *login, uint64_t seq);

  /* ---- Matrix → legacy operations (answer with op_result) */
  void (*send) (PaLogin *login, uint64_t op_id, const char *chat_id, const PaContent *content,
                const char *txn_id);
  void (*edit) (PaLogin *login, uint64_t op_id, const char *chat_id, const char *target_id,
                const PaContent *content);
  void (*redact) (PaLogin *login, uint64_t op_id, const char *chat_id, const char *target_id);
  void (*react) (PaLogin *login, uint64_t op_id, const char *chat_id, const char *target_id,
                 const char *key, bool remove);
  void (*mark_read) (PaLogin *login, uint64_t op_id, const char *chat_id, const char *message_id);
  void (*typing) (PaLogin *login, uint64_t op_id, const char *chat_id, bool typing);
  /* field: "name", "topic", "avatar" (value = local file), "disappearing" (seconds). */
  void (*set_chat_info) (PaLogin *login, uint64_t op_id, const char *chat_id, const char *field,
                         const char *value);
  /* The agent invited (join=true) or kicked (false) `user_id` in a group. */
  void (*set_membership) (PaLogin *login, uint64_t op_id, const char *chat_id,
                          const char *user_id, bool join);

  /* ---- lookups (answer with op_contact… then op_result) */
  void (*resolve_identifier) (PaLogin *login, uint64_t op_id, const char *identifier,
                              PaResolveMode mode);
  void (*list_contacts) (PaLogin *login, uint64_t op_id);
  /* Open (or find) a DM with user_id: emit CHAT_INFO, then op_result with the chat id. */
  void (*create_dm) (PaLogin *login, uint64_t op_id, const char *user_id);
  /* Create a group with these users: emit CHAT_INFO, op_result with its id. */
  void (*create_group) (PaLogin *login, uint64_t op_id, const char *name,
                        const char *const *user_ids, size_t n);
  /* Emit CHAT_INFO for chat_id, then op_result. */
  void (*get_chat_info) (PaLogin *login, uint64_t op_id, const char *chat_id);
  /* Emit CONTACT_INFO for user_id, then op_result. */
  void (*get_user_info) (PaLogin *login, uint64_t op_id, const char *user_id);
  /* Emit up to `count` messages before (forward=false) or after the cursor
   * (NULL = newest), then BACKFILL_END, then op_result with the next cursor
   * as legacy_id (NULL when there is no more). */
  void (*fetch_history) (PaLogin *login, uint64_t op_id, const char *chat_id, const char *cursor,
                         uint32_t count, bool forward);

  /* ---- importer (no login: the worker calls it and exits) */
  /* Parse `path` and emit() its events in chronological order: a CHAT_INFO
   * per chat, then MESSAGE events with original timestamps.  Returns false
   * and sets *error (malloc'd) when the file cannot be read at all; a partly
   * readable file emits what is valid, then notice()s where it stopped. */
  bool (*import_file) (PaHost *host, const PaHostApi *api, const char *path,
                       const PaImportOptions *options, char **error);
} PaPluginDescriptor;

/* The one symbol a plugin exports. */
typedef const PaPluginDescriptor *(*PaPluginEntry) (void);

#ifdef __cplusplus
}
#endif

#endif /* PASSERELLE_PLUGIN_H */
