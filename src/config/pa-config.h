/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The bridge configuration (YAML), the registration file and permission
 * levels.  Loading validates everything; errors name file, line and key. */
#ifndef PA_CONFIG_H
#define PA_CONFIG_H

#include <glib.h>

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
  guint max_events_per_txn;     /* default 1000: more is 413 */
  /* worker supervision */
  guint worker_restart_max_delay_s; /* default 60 */
  /* ministries and permissions */
  GPtrArray *ministries;        /* PaMinistry* */
  GPtrArray *permissions;       /* PaPermission*, in file order */
  /* where it was loaded from (for writing tokens back) */
  char *path;
  /* encryption: {allow, default, require}; `default` is encryption_default
   * above (bridge.encryption_default is its older spelling). */
  gboolean encryption_allow;    /* run the bot device: read/write encrypted rooms */
  gboolean encryption_require;  /* refuse unencrypted messages in portals */
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

/* The text pa_config_write_example() writes (static, never NULL); the same
 * bytes as config/example.yaml in the source tree. */
const char *pa_config_example_text (void);

G_END_DECLS

#endif
