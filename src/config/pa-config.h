/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The bridge configuration (YAML), the registration file, permission
 * levels and the plugins' own settings.  Loading validates everything it
 * can; errors name file, line and key.  Code: src/config/pa-config*.c, one
 * purpose per file. */
#ifndef PA_CONFIG_H
#define PA_CONFIG_H

#include <glib.h>
#include <jansson.h>

G_BEGIN_DECLS

typedef enum {
  PA_LEVEL_BLOCK = 0, /* ignored entirely */
  PA_LEVEL_RELAY = 1, /* may talk in portals through a relay, no logins */
  PA_LEVEL_USER = 2,  /* may log in, import, use enabled plugins */
  PA_LEVEL_ADMIN = 3, /* may manage ministries and see status */
} PaLevel;

typedef struct {
  char *name;          /* "finances" */
  GPtrArray *domains;  /* char*: homeserver domains, e.g. "agent.finances.tchap.gouv.fr" */
  GPtrArray *plugins;  /* char*: plugin names enabled by config */
} PaMinistry;

typedef struct {
  char *key;           /* "@user:domain", "domain" or "*" */
  PaLevel level;
} PaPermission;

/* One key of a plugins.<name> section, as written in the file. */
typedef struct {
  char *key;           /* "api_id" */
  char *value;         /* scalar text as written; NULL for a null value ("api_id:" or "~") */
  gboolean plain;      /* written without quotes (only plain scalars are ints or booleans) */
  guint line;          /* 1-based line of the key */
} PaPluginSetting;

/* plugins.<name>: the settings of one plugin, checked against the plugin's
 * schema only once the plugin is known (pa_config_plugin_section). */
typedef struct {
  char *name;          /* "telegram" */
  guint line;          /* line of the name */
  GPtrArray *settings; /* PaPluginSetting*, in file order */
} PaPluginSection;

/* workers.logins_per_worker.<plugin>: how many of its logins share a process. */
typedef struct {
  char *plugin;
  guint logins;        /* >= 1 */
  guint line;          /* line of the value */
} PaWorkerSharing;

typedef struct {
  /* homeserver */
  char *hs_address;    /* "http://127.0.0.1:8008" */
  char *hs_domain;     /* "localhost" */
  /* appservice */
  char *as_id;         /* "passerelle" */
  char *as_address;    /* URL the HS uses to reach us: "http://127.0.0.1:29340" */
  char *as_bind;       /* "127.0.0.1" */
  guint as_port;       /* 29340 */
  char *as_token;      /* may be NULL before -g */
  char *hs_token;
  char *bot_localpart; /* "passerelle" */
  char *bot_displayname;
  char *bot_avatar;    /* mxc:// or empty */
  char *ghost_prefix;  /* localpart prefix of ghosts, "_pa_" → @_pa_<plugin>_<id>:hs */
  gboolean double_puppet; /* claim the homeserver's users (non-exclusive) to act as agents */
  /* storage and plugins */
  char *database;      /* SQLite path */
  char *data_dir;      /* per-login worker data dirs live below */
  char *plugin_dir;    /* where <name>.so plugins are searched */
  /* bridge behaviour */
  gboolean encryption_default;  /* rooms created with m.room.encryption */
  char *history_visibility;     /* "invited" */
  char *command_prefix;         /* "!pa" in portals; bare commands in management rooms */
  gboolean presence;            /* contacts' presence → ghosts' Matrix presence (default off) */
  /* limits */
  gint64 max_body_bytes;        /* AS request body, default 32 MiB */
  gint64 max_media_bytes;       /* default 100 MiB */
  gint64 max_import_bytes;      /* export file / uncompressed archive, default 4 GiB */
  gint64 max_import_messages;   /* messages of one import job, default 1,000,000 */
  gint64 max_import_entries;    /* entries of an import archive, default 100,000 */
  gint64 login_data_bytes;      /* a login's data dir budget (sessions, media), default 2 GiB */
  guint max_events_per_txn;     /* default 1000: more is 413 */
  guint max_connections;        /* appservice port: open connections, default 256 */
  guint idle_timeout_s;         /* appservice port: idle connection closed, default 60 */
  guint request_timeout_s;      /* appservice port: to read a request, default 30 */
  /* worker supervision */
  guint worker_restart_max_delay_s; /* default 60 */
  guint worker_ping_interval_s;     /* watchdog ping period, default 20 (0: no watchdog) */
  guint worker_ping_timeout_s;      /* no answer for this long: restarted, default 60 */
  guint worker_max_logins;          /* login capacity, 0: what the descriptor limit allows */
  guint worker_start_concurrency;   /* workers starting at once, 0: from the CPU count */
  guint worker_notice_burst;        /* plugin notices per login without waiting, default 10 */
  guint worker_notice_every_s;      /* then one per this many seconds, default 5 */
  char *worker_sandbox;             /* "best_effort" (default), "required" or "off" */
  GPtrArray *worker_sandbox_read;   /* extra absolute paths workers may read (char *) */
  /* metrics: Prometheus metrics on a listener of their own (docs/metrics.md) */
  gboolean metrics_enabled;         /* default FALSE */
  char *metrics_bind;               /* "127.0.0.1" */
  guint metrics_port;               /* 9108 */
  GPtrArray *worker_sharing;        /* workers.logins_per_worker: PaWorkerSharing* */
  /* ministries and permissions */
  GPtrArray *ministries;        /* PaMinistry* */
  GPtrArray *permissions;       /* PaPermission*, in file order */
  /* where it was loaded from (for writing tokens back) */
  char *path;
  /* encryption: {allow, default, require}; `default` is encryption_default
   * above (bridge.encryption_default is its older spelling). */
  gboolean encryption_allow;    /* run the bot device: read/write encrypted rooms */
  gboolean encryption_require;  /* refuse unencrypted messages in portals */
  gboolean encryption_ghost_devices; /* each ghost encrypts with a cross-signed device of its own */
  /* plugins: the plugins.<name> sections, in file order (PaPluginSection*);
   * empty (never NULL) after loading. */
  GPtrArray *plugin_sections;
  /* provisioning: the provisioning API (docs/provisioning.md); off while
   * provisioning_secret is NULL */
  char *provisioning_secret;
  char *provisioning_prefix;          /* "/_matrix/provision" */
  guint provisioning_login_idle_s;    /* an unused login process ends, default 600 */
  guint plugins_line;           /* line of "plugins:", 0 when absent */
  char *source_name;            /* the file name errors show ("config.yaml") */
  char *base_dir;               /* absolute: relative paths were resolved against it */
} PaConfig;

/* Load and validate.  On error the message names the file, the line and the
 * key ("config.yaml:12: homeserver.address: must be an http(s) URL"). */
PaConfig *pa_config_load (const char *path, GError **error);
/* Same, from memory (used by the fuzz target and unit tests). */
PaConfig *pa_config_load_from_data (const char *data, gsize len, const char *name, GError **error);
void pa_config_free (PaConfig *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PaConfig, pa_config_free)

/* Write a commented example configuration to `path`. */
gboolean pa_config_write_example (const char *path, GError **error);

/* Generate the registration YAML: if the config lacks tokens, generate random
 * as_token/hs_token and store them back into the config file (keeping its
 * comments: only the two token lines are rewritten or appended under
 * appservice:).  Namespaces: the bot, users "@<ghost_prefix>.*:<domain>"
 * exclusive, aliases "#<ghost_prefix>.*:<domain>" exclusive; plus one
 * comment per plugin.  rate_limited: false, receive_ephemeral: true and the
 * legacy de.sorunome.msc2409.push_ephemeral: true. */
gboolean pa_config_write_registration (PaConfig *config, const char *registration_path,
                                       GError **error);

/* Permission level of `mxid` ("@a:b"): the most specific entry wins
 * (exact MXID, then its domain, then "*"); default PA_LEVEL_BLOCK. */
PaLevel pa_config_level_for (const PaConfig *config, const char *mxid);
const char *pa_level_to_string (PaLevel level);

/* The ministry whose domains contain the MXID's server part, or NULL. */
const PaMinistry *pa_config_ministry_for (const PaConfig *config, const char *mxid);
const PaMinistry *pa_config_ministry_by_name (const PaConfig *config, const char *name);

/* Behaviour details the declarations above rely on:
 * - hs_address and as_address lose trailing slashes ("http://h/" → "http://h").
 * - database, data_dir and plugin_dir are absolute after loading: relative
 *   values are resolved against the config file's directory (for
 *   pa_config_load_from_data, against dirname (name)).
 * - Without a permissions section, hs_domain gets PA_LEVEL_USER; an explicit
 *   empty section ("permissions: {}") blocks everyone.
 * - An empty as_token/hs_token ("") counts as missing.  Equal tokens are refused.
 * - path is absolute for pa_config_load and NULL for pa_config_load_from_data;
 *   pa_config_write_registration fails (PA_ERROR_CONFIG) when it must store
 *   generated tokens and path is NULL.  On success it sets as_token/hs_token.
 * - Registration regexes are anchored ("^@_pa_.*:localhost$"); it also sets
 *   org.matrix.msc3202: true (device lists and OTK counts for encryption).
 * - Limits: file ≤ 1 MiB, nesting ≤ 32, ≤ 10,000 nodes, no anchors or aliases. */

/* The text pa_config_write_example() writes (static, never NULL):
 * config/example.yaml of the source tree, compiled in at build time. */
const char *pa_config_example_text (void);

/* ---- plugins: section (pa-config-plugins.c) ----------------------------
 *
 * config.yaml may hold  plugins: {<plugin>: {<key>: <scalar>, ...}, ...}.
 * Loading only checks its shape (plugin names [a-z0-9]+, scalar values); the
 * keys are checked once the plugin's schema is known: the worker's hello frame
 * carries "config": [{"key": "api_id", "type": "int"|"string"|"bool"|"path",
 * "default": "<text>" or null, "description": "...", "secret": bool,
 * "required": bool}, ...]. */

/* Validates the section of `plugin` (absent counts as empty) against
 * `schema` (borrowed; NULL counts as []).  On success *out is a new object
 * {key: value} holding every key that is set or has a default: json integer
 * for "int", boolean for "bool", string for "string" and "path" (paths made
 * absolute against the config file's directory).  Errors (PA_ERROR_CONFIG,
 * "file:line: plugins.<plugin>.<key>: ..."): an unknown key (the message
 * lists the known ones), a value of the wrong type, a required key that is
 * missing, null or "" and has no default.  A malformed schema is
 * PA_ERROR_PLUGIN.  Secret values never appear in messages or logs. */
gboolean pa_config_plugin_section (const PaConfig *c, const char *plugin, json_t *schema,
                                   json_t **out, GError **error);

/* Fails (PA_ERROR_CONFIG, "file:line: plugins.<name>: ...", listing
 * `installed`) when the config has a section for a plugin not in
 * `installed` (NULL-terminated; NULL counts as empty). */
gboolean pa_config_check_plugin_names (const PaConfig *c, const char *const *installed,
                                       GError **error);

/* How many logins of `plugin` share one worker process: its entry of
 * workers.logins_per_worker, else `declared` (the plugin's hello
 * logins_per_worker; 0, "cannot share", counts as 1).  Fails
 * (PA_ERROR_CONFIG, "file:line: workers.logins_per_worker.<plugin>: …") when
 * the entry asks more than 1 of a plugin that declared 0. */
gboolean pa_config_logins_per_worker (const PaConfig *c, const char *plugin, guint declared,
                                      guint *out, GError **error);

/* Whether the config names `plugin` at all: a plugins.<plugin> section, or
 * a ministry that enables it.  An installed plugin the config never names
 * and cannot run without settings is set aside instead of stopping the
 * bridge (pa-plugins.c). */
gboolean pa_config_names_plugin (const PaConfig *c, const char *plugin);

/* Whether `key` is declared secret by `schema` (unknown keys: FALSE). */
gboolean pa_config_plugin_key_secret (json_t *schema, const char *key);

/* `value` as it may be shown in a log or status: "(secret)" for a secret
 * key, else the value itself.  Returns a new string. */
char *pa_config_plugin_value_for_log (json_t *schema, const char *key, const char *value);

/* The example block `passerelle -e` writes for one installed plugin: lines
 * indented by two spaces, to follow a "plugins:" line.  Each key comes with
 * its description and type as comments and its default as value; secret keys
 * are written empty ("") with a note.  NULL when the schema is malformed. */
char *pa_config_plugin_example (const char *plugin, json_t *schema);

G_END_DECLS

#endif
