/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * passerelle/plugin.h — the whole plugin SDK of Passerelle (SDK 2).
 *
 * A plugin connects ONE legacy network (WhatsApp, Telegram, XMPP through
 * libpurple, Olvid…) to Passerelle.  It never sees Matrix: no MXIDs, no room
 * IDs, no tokens.  It speaks in legacy identifiers (contact, chat, message)
 * and in neutral content (text, a small HTML subset, media files, reply and
 * edit targets).  The host owns every Matrix concept.  docs/plugin-guide.md
 * walks through writing one; tests/plugins/skeleton/ is a complete example.
 *
 * Two halves.  A plugin describes its NETWORK once (PaNetwork: name,
 * capabilities, configuration keys, login flows, importer, identifier rules,
 * init/shutdown) and implements the operations of one LOGIN (PaLoginOps: the
 * agent's account on that network, created by network->login_new).
 *
 * Process model.  Logins run in worker processes (the passerelle binary in
 * worker mode); each import job in one of its own.  The worker loads exactly
 * one plugin, calls network->init once with the plugin's configuration, then
 * network->login_new once per login it hosts (live) or network->import_file
 * once (import), runs a GLib main loop on its MAIN THREAD, and relays between
 * the plugin and the host over a socket.  When a login ends the worker calls
 * its login_free; when the last one has ended, network->shutdown, then it
 * exits.  By default one process runs one login: a plugin may then keep
 * process-global state (libpurple does), but must not assume it outlives
 * the login.  A network that sets PaNetwork.logins_per_worker may be given
 * several logins in one process: each login_new then gets a PaHost of its
 * own (its data dir, budget, secrets and metadata), distinct from the one
 * init got (which serves configuration, log, timers and invoke only).
 *
 * Entry point.  A plugin exports one symbol:
 *
 *     const PaNetwork *pa_plugin_get_network (void);
 *
 * The first four members of PaNetwork (magic, abi_major, abi_minor,
 * struct_size) keep the layout they had in SDK 1, so the loader reads them
 * from any plugin and refuses, with a log line that says so: a wrong magic;
 * abi_major != PA_PLUGIN_ABI_MAJOR (a plugin built for SDK 1 is told to be
 * rebuilt against SDK 2); abi_minor newer than the host's; a struct_size
 * smaller than the SDK 2.0 size.  SDK 1 plugins exported
 * "pa_plugin_get_descriptor"; the loader looks for that name too, only to
 * refuse it with that message.
 *
 * Versioning rules (bump this when…):
 *   - PA_PLUGIN_ABI_MAJOR: a member is removed, reordered, retyped, or the
 *     meaning, ownership or threading rule of an existing member changes.
 *   - PA_PLUGIN_ABI_MINOR: a member is appended at the END of a struct, an
 *     enum value is appended, or a new capability bit is defined.
 *     2.1 appended PaHostApi.secret_store / secret_load; 2.2 appended
 *     PaChatInfo.secret; 2.3 appended PaNetwork.logins_per_worker.
 * Every struct starts with `struct_size`; readers must check it before
 * touching a member appended after 2.0 (PA_HAS_MEMBER).  The host fills the
 * structs it passes with its own sizeof, the plugin with its own.
 *
 * THREADING — the rules every callback below follows unless it says more:
 *   - Every PaNetwork and PaLoginOps callback is invoked on the worker's main
 *     thread, never re-entrantly from inside a PaHostApi call.
 *   - A callback must return quickly: no blocking network or disk I/O, no
 *     waiting on another thread, no sleeping.  Work that blocks belongs on a
 *     thread of the plugin's own (TDLib's td_receive loop, Go goroutines) or
 *     behind an fd watch / timer (below).  The host measures callbacks and
 *     logs one that held the main thread more than 200 ms.
 *   - PaHostApi functions marked [any thread] may be called from any thread
 *     at any time between init and shutdown: they copy their arguments and
 *     queue the work for the main thread.  Those marked [main] must be called
 *     on the main thread only (from a callback, a timer, an fd watch or an
 *     invoke).  Calling a [main] function from another thread is a bug the
 *     host may abort on.
 *   - To run plugin code on the main thread from a foreign thread, use
 *     invoke() [any thread]: the function runs on the main thread soon, in
 *     the order of the invoke calls made by that thread.
 *   - The main loop is GLib's default GMainContext.  A plugin that links
 *     GLib (libpurple does) may attach its own sources to it; timer_add,
 *     fd_watch_add and invoke exist so that plugins written without GLib
 *     (Go through cgo, TDLib's JSON client) need nothing else.
 *   - Strings are UTF-8, NUL terminated.
 *
 * OWNERSHIP.  Pointers passed INTO a callback are borrowed for the duration
 * of the call only.  Pointers passed to a PaHostApi function are copied
 * before it returns, except the media files described under "Files".
 *
 * OPERATIONS.  Matrix → legacy operations carry an `op_id`.  The plugin must
 * answer each exactly once with op_result(), from the callback itself or
 * later, from any thread.  An operation whose PaLoginOps member is NULL is
 * answered by the host with PA_RESULT_UNSUPPORTED without calling the plugin.
 * The host retries PA_RESULT_TEMPORARY, PA_RESULT_RATE_LIMITED and
 * PA_RESULT_NOT_CONNECTED answers itself (a bounded number of times,
 * honouring retry_after_ms) and tells the agent in the room when a message
 * finally failed; the plugin should not retry behind the host's back.  A
 * retried send carries the same txn_id as the first try: a network with
 * idempotency keys can use it so a retry never doubles a message.  Answer
 * TEMPORARY only when the network surely did not take the request, and
 * UNCERTAIN when it may have.
 *
 * IDENTIFIERS.  A legacy id (contact, chat, message, cursor) is valid UTF-8 of
 * 1 to PA_ID_MAX_BYTES bytes with no control character (< 0x20, 0x7f).  The
 * host refuses events carrying other ids (logged, event set aside).  Ids are
 * case-sensitive and compared byte for byte: a network whose ids have several
 * spellings (an XMPP JID's case, a phone number's format) implements
 * network->normalize_id so that one contact has one id.  The host escapes ids
 * reversibly into Matrix localparts and aliases: a-z 0-9 . - / are kept, every
 * other byte (upper case included) becomes '=' and two lower-case hex digits.
 *
 * PORTALS.  A DM chat is one portal per (login, chat id).  A GROUP chat is
 * ONE portal per (network, chat id) on the homeserver, shared by every agent
 * whose login is in the group: so a group's chat id must be the network's
 * own group id, the same in every login that sees the group (never a
 * per-login alias).  The host bridges a message that several logins receive
 * once (it deduplicates on chat id + message id), shows a legacy account that
 * belongs to a logged-in agent as that agent's Matrix user rather than a
 * ghost, and sends what an agent writes through that agent's own login.
 *
 * FILES.  The host gives the login a private data dir (data_dir()), with a
 * size budget (budget_left()).
 *   - Legacy → Matrix: a media file named by PaContent.media_path (or an
 *     avatar_path) must lie inside the data dir (or, for imports, inside
 *     PaImportOptions.work_dir or the folder of the export file itself);
 *     events naming other paths are refused.  Ownership of a media_path file
 *     inside the data dir or work_dir PASSES TO THE HOST when emit() returns
 *     non-zero: the host deletes it once uploaded, or once the event is
 *     dropped.  Copy a file you must keep.  Files of the export's own folder
 *     are only read, never deleted.  Avatar files are NOT taken: the host
 *     reads them and leaves them (a plugin typically keeps one per contact).
 *   - A borrowed file (avatar_path, a login step's image_path) is read by
 *     the host AFTER the call returns: never rewrite a file you named (a
 *     rotating QR code gets a new file name each time; delete the old one
 *     after the next step).
 *   - Matrix → legacy: the host downloads media into the data dir and passes
 *     its path in PaContent.media_path.  The plugin may delete it once it has
 *     answered the op; the host deletes it after op_result in any case.
 *   - A download that would take the data dir over its budget fails the op
 *     with PA_RESULT_TOO_LARGE and a message to the agent, before any byte is
 *     written.  A plugin that writes big files itself checks budget_left()
 *     first.
 *
 * What this ABI covers, measured against mautrix-go bridgev2 (the most
 * complete plugin boundary in the field):
 *   network: name, capabilities (PaNetwork.capabilities, the single source:
 *            the host derives per-op support from the non-NULL PaLoginOps
 *            members and per-chat limits from PaChatFeatures), config
 *            schema, login flows and steps, create/load login, identifier
 *            validation and normalisation, importer.
 *   login:   connect, disconnect, logout (remote side), is-logged-in
 *            (login_state), is-this-our-user (PaEvent.from_me, and the host's
 *            own map of logins' remote ids), chat info, user info, per-chat
 *            features, fetch messages with cursor and direction, resolve
 *            identifier / search users, start DM, create group, contacts.
 *   events:  every PaEventType below, with chat id, sender, timestamp,
 *            stream order and a transaction id for echo suppression.
 *   Matrix-side: message, edit, reaction add/remove, redaction, read
 *            receipt, typing, room name/topic/avatar, membership change,
 *            disappearing timer.
 *   metadata: opaque per-login/chat/contact/message values stored by the
 *            host (meta_set / meta_get).
 * Not expressed, on purpose: bridgev2's "relay mode" formatting (the host
 * relays itself, "Name: text"), and polls as a first-class type (rendered as
 * text by the plugin).
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
#define PA_PLUGIN_ABI_MAJOR 2
#define PA_PLUGIN_ABI_MINOR 3
#define PA_PLUGIN_ENTRY_SYMBOL "pa_plugin_get_network"
/* The SDK 1 entry point: looked up only to refuse such plugins clearly. */
#define PA_PLUGIN_ENTRY_SYMBOL_V1 "pa_plugin_get_descriptor"

/* Longest legacy id, in bytes (see IDENTIFIERS above). */
#define PA_ID_MAX_BYTES 255

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
 * call.  Valid from network->init until network->shutdown returns. */
typedef struct PaHost PaHost;

/* One login's state, defined by the plugin (struct PaLogin { … } in the
 * plugin's own code); the host only passes the pointer back. */
typedef struct PaLogin PaLogin;

/* Capability bits of a network (PaNetwork.capabilities).  The one source of
 * truth for what the network can do: the host shows it in `plugins`, refuses
 * Matrix-side actions the network lacks with a clear notice, and narrows it
 * per chat with PaChatFeatures.capabilities. */
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

/* ------------------------------------------------------ configuration */

/* Type of a configuration key.  The host checks values against it when it
 * reads config.yaml (errors name the file, line and key) and hands the
 * plugin values already checked. */
typedef enum {
  PA_CONFIG_STRING = 0,
  PA_CONFIG_INT = 1,  /* a signed 64-bit integer */
  PA_CONFIG_BOOL = 2, /* true/false (yes/no accepted in YAML) */
  PA_CONFIG_PATH = 3, /* a file system path, kept as written */
} PaConfigType;

/* One key of the plugin's section `plugins: {<name>: {key: value}}` of
 * config.yaml.  `passerelle -e` writes a commented section from these. */
typedef struct {
  uint32_t struct_size;
  const char *key;           /* [a-z0-9_]+ */
  PaConfigType type;
  const char *default_value; /* as written in YAML, or NULL: no default */
  const char *description;   /* one sentence, shown as the YAML comment */
  bool secret;               /* never logged, never echoed; masked in errors */
  bool required;             /* a config error when missing and no default */
} PaConfigKey;

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

/* A message body.  Contact cards and polls are sent as PA_MSG_TEXT (a
 * readable rendering) with their file, if any, as PA_MSG_FILE.
 * media_path: see FILES at the top (ownership passes to the host on emit). */
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
  uint32_t flags;         /* PA_CONTENT_* bits */
} PaContent;

/* PaContent.flags: facts about a message that its text alone does not
 * carry, mostly from export files. */
enum {
  PA_CONTENT_EDITED = 1u << 0,       /* the message had been edited */
  PA_CONTENT_DELETED = 1u << 1,      /* a "this message was deleted" placeholder */
  PA_CONTENT_NOT_INCLUDED = 1u << 2, /* media the export did not include */
  PA_CONTENT_SYSTEM = 1u << 3,       /* a system / service line */
};

/* ---------------------------------------------------------- chats, users */

typedef enum {
  PA_CHAT_DM = 0,    /* portal per (login, chat id) */
  PA_CHAT_GROUP = 1, /* portal per (network, chat id), shared: see PORTALS */
} PaChatKind;

typedef struct {
  uint32_t struct_size;
  const char *id;          /* legacy user id, stable */
  const char *name;        /* display name, or NULL if unknown */
  const char *avatar_path; /* local image file (borrowed, see FILES), or NULL */
  const char *identifier;  /* what a human types to reach them (phone, JID), or NULL */
  int32_t power;           /* in groups: 0 member, 50 moderator, 100 owner */
} PaMember;

/* Per-chat features the Matrix side may use. */
typedef struct {
  uint32_t struct_size;
  uint64_t capabilities;     /* subset of PA_CAP_* valid in this chat */
  uint64_t max_media_size;   /* bytes, 0 = no media */
  uint32_t max_edit_age_s;   /* 0 = no limit */
  uint32_t max_text_length;  /* bytes of UTF-8, 0 = no limit */
} PaChatFeatures;

typedef struct {
  uint32_t struct_size;
  const char *id;
  PaChatKind kind;
  const char *name;        /* groups; NULL for DMs (Tchap DMs have no name) */
  const char *topic;
  const char *avatar_path; /* borrowed, see FILES */
  const PaMember *members; /* may be NULL when unchanged */
  size_t n_members;
  bool members_complete;   /* true: members is the whole list (leavers leave) */
  const PaChatFeatures *features; /* may be NULL */
  uint32_t disappearing_s; /* 0 = off */
  /* A chat the login may read but not write (a channel, a group where
   * only admins post): the portal lets only the network's side post, and
   * an agent's message there is answered with a notice, never sent.  A
   * CHAT_INFO with read_only false gives the agents their say back. */
  bool read_only;

  /* --- ABI 2.2 (check with PA_HAS_MEMBER) --- */

  /* A chat the network keeps end-to-end encrypted with no server copy
   * (Telegram's secret chats).  Its portal is always an encrypted room,
   * whatever encryption.default says, marked fr.passerelle.secret; where
   * the host runs without encryption (encryption.allow false) the chat is
   * not bridged at all, and the agent is told. */
  bool secret;
} PaChatInfo;

/* Defined while PaChatInfo has `secret` (SDK 2.2 and later). */
#define PA_CHATINFO_HAS_SECRET 1

/* Chat fields the agent can change from Matrix (set_chat_info). */
typedef enum {
  PA_CHAT_FIELD_NAME = 0,
  PA_CHAT_FIELD_TOPIC = 1,
  PA_CHAT_FIELD_AVATAR = 2,       /* value: a local file (see FILES) */
  PA_CHAT_FIELD_DISAPPEARING = 3, /* value: seconds in decimal, "0" = off */
} PaChatField;

typedef enum {
  PA_PRESENCE_OFFLINE = 0,
  PA_PRESENCE_ONLINE = 1,
  PA_PRESENCE_UNAVAILABLE = 2, /* away, idle, busy */
} PaPresence;

/* --------------------------------------------------------- remote events */

typedef enum {
  PA_EV_MESSAGE = 1,
  PA_EV_MESSAGE_UPSERT = 2,   /* replace a message if known, else create */
  PA_EV_EDIT = 3,
  PA_EV_DELETE = 4,
  PA_EV_REACTION = 5,
  PA_EV_REACTION_REMOVE = 6,
  PA_EV_REACTION_SYNC = 7,    /* reaction_keys is the sender's full set on target_id */
  PA_EV_READ_RECEIPT = 8,
  PA_EV_DELIVERY_RECEIPT = 9,
  PA_EV_MARKED_UNREAD = 10,
  PA_EV_TYPING = 11,
  PA_EV_PRESENCE = 12,
  PA_EV_CHAT_INFO = 13,       /* create or update a chat */
  PA_EV_CHAT_RESYNC = 14,     /* chat info may be stale: the host asks get_chat_info */
  PA_EV_CHAT_DELETE = 15,
  PA_EV_CONTACT_INFO = 16,    /* contact name / avatar / identifier */
  PA_EV_BACKFILL_END = 17,    /* the events since the last one were history */
} PaEventType;

/* One remote event.  A message id + chat id pair identifies a message; the
 * host deduplicates on it, so a plugin may safely re-emit after a reconnect,
 * and so may several logins that are in the same group. */
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
  const char *reaction_key;  /* REACTION, REACTION_REMOVE: the emoji */
  const char *const *reaction_keys; /* REACTION_SYNC: the full set (NULL when n is 0) */
  size_t n_reaction_keys;
  const PaChatInfo *chat;    /* CHAT_INFO, and optionally with a first MESSAGE */
  const PaMember *contact;   /* CONTACT_INFO, and optionally the sender's info */
  bool typing;               /* TYPING */
  uint32_t typing_timeout_ms;
  PaPresence presence;       /* PRESENCE */
  const char *status_text;   /* PRESENCE: "at lunch", or NULL */
} PaEvent;

/* ------------------------------------------------------------- logins */

typedef enum {
  PA_FIELD_TEXT = 0,
  PA_FIELD_PASSWORD = 1, /* never logged, never echoed back; redacted from the room */
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
  PA_STEP_USER_INPUT = 0,        /* ask fields; answer comes as login_submit */
  PA_STEP_DISPLAY_AND_WAIT = 1,  /* show text/image (QR, pairing code); wait */
  PA_STEP_COMPLETE = 2,          /* logged in; remote_id/remote_name set */
} PaStepKind;

/* A login step.  A DISPLAY_AND_WAIT step with the same step_id as the one
 * shown before REPLACES it (a rotating QR code): the host edits or replaces
 * the image in the room instead of posting a new one. */
typedef struct {
  uint32_t struct_size;
  PaStepKind kind;
  const char *step_id;       /* echoed in login_submit */
  const char *instructions;  /* shown to the agent */
  const PaField *fields;     /* USER_INPUT */
  size_t n_fields;
  const char *display_text;  /* DISPLAY_AND_WAIT: a code or a link */
  const char *image_path;    /* DISPLAY_AND_WAIT: PNG to show (a QR code), borrowed */
  const char *remote_id;     /* COMPLETE: the account's own legacy id */
  const char *remote_name;   /* COMPLETE: human name of the account */
  uint32_t expires_s;        /* DISPLAY_AND_WAIT: seconds until it expires, 0 unknown */
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
  PA_STATE_LOGGED_OUT = 4,           /* e.g. revoked from another device */
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

/* What kind of identifier normalize_id is given. */
typedef enum {
  PA_ID_USER = 0,
  PA_ID_CHAT = 1,
} PaIdKind;

/* ------------------------------------------------------- typed results */

/* How an operation ended.  The host acts on the code: */
typedef enum {
  PA_RESULT_OK = 0,
  PA_RESULT_NOT_CONNECTED = 1, /* the login is offline: retried after it connects */
  PA_RESULT_UNSUPPORTED = 2,   /* the network cannot do this: agent told, no retry */
  PA_RESULT_TOO_LARGE = 3,     /* text or media over the network's limit: no retry */
  PA_RESULT_RATE_LIMITED = 4,  /* retried after retry_after_ms (bounded) */
  PA_RESULT_NOT_FOUND = 5,     /* chat, user or target message unknown: no retry */
  PA_RESULT_FORBIDDEN = 6,     /* not allowed (not admin, blocked): no retry */
  PA_RESULT_TEMPORARY = 7,     /* a passing failure: retried with backoff (bounded) */
  PA_RESULT_PERMANENT = 8,     /* any other failure: no retry */
  PA_RESULT_UNCERTAIN = 9,     /* the request left but its outcome is unknown (the connection
                                  dropped before the answer): no retry, the agent is told it
                                  may or may not have arrived */
} PaResultCode;

/* The answer to one operation. */
typedef struct {
  uint32_t struct_size;
  PaResultCode code;
  const char *legacy_id;     /* OK: id of what was created (message id of a send, chat
                                id of create_dm/create_group), or NULL */
  int64_t legacy_ts_ms;      /* OK: the network's timestamp of it, 0 if unknown */
  const char *cursor;        /* fetch_history: the next cursor, NULL when no more */
  uint32_t retry_after_ms;   /* RATE_LIMITED: the network's delay, 0 if unknown */
  const char *error;         /* not OK: a sentence for the agent, or NULL */
} PaOpResult;

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

/* Bits of a file-descriptor watch. */
enum {
  PA_IO_IN = 1u << 0,
  PA_IO_OUT = 1u << 1,
  PA_IO_ERR = 1u << 2, /* error or hang-up; always reported */
};

/* A timer: return true to keep it, false to remove it.  [main] */
typedef bool (*PaTimerFunc) (void *user_data);
/* An fd watch: `events` holds the PA_IO_* bits that fired; return true to
 * keep watching, false to remove the watch.  [main] */
typedef bool (*PaFdFunc) (int fd, uint32_t events, void *user_data);
/* Work handed to the main thread by invoke().  [main] */
typedef void (*PaInvokeFunc) (void *user_data);

typedef struct {
  uint32_t struct_size;
  uint16_t abi_major, abi_minor;

  /* Log through the host (the log domain is the plugin's name).  [any thread] */
  void (*log) (PaHost *host, PaLogLevel level, const char *message);

  /* Hand one remote event to the host.  Returns a local sequence number
   * (>0), or 0 when the event is refused (struct_size too small, unknown
   * type, an invalid id, a media path outside the data dir: logged) and was
   * not sent.  When the host has stored the event durably it calls
   * PaLoginOps.event_persisted with that number, so the plugin may
   * acknowledge the event to its network only then.  [any thread] */
  uint64_t (*emit) (PaHost *host, const PaEvent *event);

  /* The login's private directory (0700), stable across restarts; borrowed,
   * valid until shutdown.  [any thread] */
  const char *(*data_dir) (PaHost *host);

  /* Bytes the data dir may still grow by before its budget is spent (the
   * `limits.login_data_bytes` of the config), or -1 when unlimited.  It
   * walks the directory: call it once per file you are about to write, not
   * per chunk.  [any thread] */
  int64_t (*budget_left) (PaHost *host);

  /* Login state machine: show a step to the agent.  [any thread] */
  void (*login_step) (PaHost *host, const PaLoginStep *step);

  /* Connection state; `message` (may be NULL) is shown to the agent.
   * [any thread] */
  void (*login_state) (PaHost *host, PaLoginState state, const char *message);

  /* Answer an operation, exactly once per op_id.  [any thread] */
  void (*op_result) (PaHost *host, uint64_t op_id, const PaOpResult *result);

  /* Answer list_contacts / resolve_identifier: zero or more contacts, then
   * op_result.  [any thread] */
  void (*op_contact) (PaHost *host, uint64_t op_id, const PaMember *contact);

  /* A free-form notice to the agent's management room.  [any thread] */
  void (*notice) (PaHost *host, const char *text);

  /* Opaque metadata kept by the host (values up to 64 KiB).  meta_get returns
   * a newly allocated string the caller frees with free(), or NULL.  A
   * meta_get right after meta_set sees the new value.  [any thread] */
  void (*meta_set) (PaHost *host, PaMetaScope scope, const char *id, const char *value);
  char *(*meta_get) (PaHost *host, PaMetaScope scope, const char *id);

  /* The plugin's configuration value for `key` (declared in
   * PaNetwork.config_keys), as checked by the host; default applied.
   * config_string (STRING and PATH keys; paths come absolute) returns a
   * borrowed string valid until shutdown, or NULL when the key has no value.
   * An unset key without default, or a key not declared, reads as NULL, 0
   * or false: declare a default when "unset" must differ from those.
   * [any thread] */
  const char *(*config_string) (PaHost *host, const char *key);
  int64_t (*config_int) (PaHost *host, const char *key);
  bool (*config_bool) (PaHost *host, const char *key);

  /* Event loop.  Sources run on the main thread.  The ids are > 0 and
   * unique for the process; remove with source_remove, or return false
   * from the callback.  source_remove of an id that already ended (or 0) is
   * a no-op.  [main] */
  uint32_t (*timer_add) (PaHost *host, uint32_t interval_ms, PaTimerFunc fn, void *user_data);
  uint32_t (*fd_watch_add) (PaHost *host, int fd, uint32_t events, PaFdFunc fn,
                            void *user_data);
  void (*source_remove) (PaHost *host, uint32_t id);

  /* Run fn(user_data) on the main thread, soon, in call order.  The host
   * never frees user_data.  [any thread] */
  void (*invoke) (PaHost *host, PaInvokeFunc fn, void *user_data);

  /* --- ABI 2.1 (check with PA_HAS_MEMBER) --- */

  /* Credentials encrypted at rest: secret_store writes `len` bytes of
   * `data` as DATA_DIR/<name>.secret, encrypted (AES-256-GCM) with a key
   * the host keeps for this login outside the data dir; data NULL deletes
   * it.  `name`: 1-64 bytes of [A-Za-z0-9._-], not starting with a dot.
   * At most 1 MiB.  false when the host gave no key (import jobs), the
   * name is invalid or the write failed.  secret_load returns a buffer the
   * caller frees with free() (one zero byte after the `len` bytes), or NULL
   * when the secret is missing or does not open (another login's file, a
   * lost key: ask the agent to log in again).  Blocking disk I/O of a few
   * bytes: fine on the main thread.  [any thread] */
  bool (*secret_store) (PaHost *host, const char *name, const void *data, size_t len);
  void *(*secret_load) (PaHost *host, const char *name, size_t *len);
} PaHostApi;

/* ------------------------------------------------------ login operations */

/* What one login does.  Every member runs on the main thread and must not
 * block (see THREADING).  Members may be NULL where noted: the host then
 * answers the agent that the network cannot do it. */
typedef struct {
  uint32_t struct_size;

  /* ---- lifecycle */
  /* Disconnect and free everything of this login.  Required. */
  void (*login_free) (PaLogin *login);

  /* ---- login state machine */
  /* Start flow `flow_id` (one of PaNetwork.login_flows): show the first step
   * with login_step.  Required when the network has login flows. */
  void (*login_start) (PaLogin *login, const char *flow_id);
  /* Answers to a USER_INPUT step: parallel arrays of field ids and values. */
  void (*login_submit) (PaLogin *login, const char *step_id, const char *const *ids,
                        const char *const *values, size_t n);
  /* The agent gave up: stop the flow, forget its partial state. */
  void (*login_cancel) (PaLogin *login);
  /* login_new (saved=true) must start connecting by itself: the host does
   * not call connect after it.  connect / disconnect are the agent's or
   * admin's explicit requests (go online with the saved session / go
   * offline but keep it); report with login_state.  May be NULL. */
  void (*connect) (PaLogin *login);
  void (*disconnect) (PaLogin *login);
  /* Log out on the remote side and forget the session; answer op_id. */
  void (*logout) (PaLogin *login, uint64_t op_id);

  /* The host durably stored the event `seq` returned by emit().  May be NULL. */
  void (*event_persisted) (PaLogin *login, uint64_t seq);

  /* ---- Matrix → legacy operations (answer with op_result).
   * A send's op_result carries the new message's legacy id and timestamp;
   * the plugin may also see the echo from its network: it then emits it with
   * txn_id set (or not at all) so the host does not bridge it twice. */
  void (*send) (PaLogin *login, uint64_t op_id, const char *chat_id, const PaContent *content,
                const char *txn_id);
  void (*edit) (PaLogin *login, uint64_t op_id, const char *chat_id, const char *target_id,
                const PaContent *content);
  void (*redact) (PaLogin *login, uint64_t op_id, const char *chat_id, const char *target_id);
  void (*react) (PaLogin *login, uint64_t op_id, const char *chat_id, const char *target_id,
                 const char *key, bool remove);
  void (*mark_read) (PaLogin *login, uint64_t op_id, const char *chat_id, const char *message_id);
  void (*typing) (PaLogin *login, uint64_t op_id, const char *chat_id, bool typing);
  /* value NULL clears the field (no name, no topic, no avatar). */
  void (*set_chat_info) (PaLogin *login, uint64_t op_id, const char *chat_id, PaChatField field,
                         const char *value);
  /* The agent invited (join=true) or kicked (false) `user_id` in a group.
   * With the login's own id: `join`/`leave <plugin> <chat>`, joining or
   * leaving a group chat, or accepting/declining an invitation the plugin
   * told the agent of (chat_id is then the id the plugin named). */
  void (*set_membership) (PaLogin *login, uint64_t op_id, const char *chat_id,
                          const char *user_id, bool join);

  /* ---- lookups (answer with op_contact… then op_result) */
  void (*resolve_identifier) (PaLogin *login, uint64_t op_id, const char *identifier,
                              PaResolveMode mode);
  void (*list_contacts) (PaLogin *login, uint64_t op_id);
  /* Open (or find) a DM with user_id: emit CHAT_INFO, then op_result with
   * the chat id as legacy_id. */
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
   * (NULL when there is no more). */
  void (*fetch_history) (PaLogin *login, uint64_t op_id, const char *chat_id, const char *cursor,
                         uint32_t count, bool forward);
} PaLoginOps;

/* --------------------------------------------------------- the network */

typedef struct {
  uint32_t magic;             /* PA_PLUGIN_MAGIC */
  uint16_t abi_major;         /* PA_PLUGIN_ABI_MAJOR */
  uint16_t abi_minor;         /* PA_PLUGIN_ABI_MINOR the plugin was built with */
  uint32_t struct_size;       /* sizeof (PaNetwork) */
  const char *name;           /* "purple", "telegram": [a-z0-9]{1,32}, also the namespace */
  const char *display_name;   /* "WhatsApp" */
  const char *version;        /* the plugin's own version (from its build) */
  uint64_t capabilities;      /* PA_CAP_* */
  const PaConfigKey *config_keys; /* the keys of plugins.<name> in config.yaml */
  size_t n_config_keys;
  const PaLoginFlow *login_flows;
  size_t n_login_flows;

  /* Called once per worker process before anything else, with the host
   * table (valid until shutdown returns).  Configuration is readable through
   * api->config_*.  Return false and set *error (malloc'd) when the network
   * cannot work (a missing library, a bad key): the agent is told.  May be
   * NULL. */
  bool (*init) (PaHost *host, const PaHostApi *api, char **error);
  /* Called once, last, after login_free.  May be NULL. */
  void (*shutdown) (PaHost *host);

  /* Create the login.  `saved` is true when data_dir holds a session saved
   * by an earlier run: the plugin should then reconnect without asking the
   * agent anything.  Returns NULL and sets *error (malloc'd) on failure.
   * NULL for import-only networks. */
  PaLogin *(*login_new) (PaHost *host, bool saved, char **error);
  /* The operations of the logins login_new creates.  NULL for import-only. */
  const PaLoginOps *login_ops;

  /* Optional: the one spelling of an id of this network (see IDENTIFIERS),
   * as a malloc'd string, or NULL when `id` is not a valid id (the agent is
   * told the identifier is invalid).  The host applies it to what an agent
   * TYPES (start, resolve, invite), never to ids the plugin emits, which
   * must already be in their one spelling.  Pure: no I/O, any thread. */
  char *(*normalize_id) (PaIdKind kind, const char *id);

  /* Importer (no login: the worker calls it and exits).  Parse `path` and
   * emit() its events in chronological order: a CHAT_INFO per chat, then
   * MESSAGE events with original timestamps.  Returns false and sets *error
   * (malloc'd) when the file cannot be read at all or must be refused whole
   * (a zip bomb): the host then imports nothing of what was emitted.  A
   * partly readable file emits what is valid, then notice()s where it
   * stopped, and returns true.  It may block (an
   * import worker has nothing else to do).  `host` is the one init got.
   * NULL when there is none. */
  bool (*import_file) (PaHost *host, const char *path, const PaImportOptions *options,
                       char **error);

  /* --- ABI 2.3 (read with PA_HAS_MEMBER; an older plugin reads as 0) ---
   * Several logins in one worker process.  0: this network's logins cannot
   * share a process (process-global per-login state, as libpurple's): each
   * login gets a process of its own, and the host refuses a
   * workers.logins_per_worker above 1 for it.  N >= 1: they can; N is how
   * many share one process when the configuration does not say (1: one
   * process per login unless the admin asks for more).  To say yes, the
   * plugin keeps no per-login state outside its PaLogin, and every host call
   * made for a login passes the PaHost that login_new got (see "Process
   * model" above and docs/plugin-guide.md, "Sharing a worker process"). */
  uint32_t logins_per_worker;
} PaNetwork;

/* The one symbol a plugin exports. */
typedef const PaNetwork *(*PaPluginEntry) (void);

#ifdef __cplusplus
}
#endif

#endif /* PASSERELLE_PLUGIN_H */
