/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The worker's one object: everything a worker process knows, shared by
 * the files of src/worker/ (the bottom floor: data only, no functions).
 *
 * `struct PaHost` is the opaque PaHost of plugin.h: the plugin holds a
 * pointer to it and passes it back to every PaHostApi call. */
#ifndef PA_WORKER_STATE_H
#define PA_WORKER_STATE_H

#include <glib.h>
#include <jansson.h>
#include <stdatomic.h>

#include <passerelle/plugin.h>

#include "wire/pa-frame-channel.h"
#include "worker/pa-plugin-loader.h"

G_BEGIN_DECLS

/* Worker exit codes; the host reports anything but 0 as a crash. */
#define PA_WORKER_EXIT_LOAD 1
#define PA_WORKER_EXIT_USAGE 2
#define PA_WORKER_EXIT_PROTOCOL 3
#define PA_WORKER_EXIT_BACKLOG 4
#define PA_WORKER_EXIT_SANDBOX 5 /* workers.sandbox: required, and no Landlock */

struct PaHost
{
  PaPluginHandle *plugin;
  const PaNetwork *net;
  const PaLoginOps *ops; /* net->login_ops; NULL for import-only networks */
  const char *display_name;
  char *data_dir; /* canonical */
  char *login_id;
  GThread *main_thread;
  PaHostApi api;

  PaFrameChannel *ch;                                 /* to the host */
  void (*on_frame) (struct PaHost *h, json_t *frame); /* host frames go here */
  atomic_uint_fast64_t seq;                           /* emit's sequence numbers */

  /* Metadata cache: meta_get answers from here, so it is shared with
   * plugin threads. */
  GMutex meta_lock;
  GHashTable *meta; /* "<scope>:<id>" -> value */

  /* Set once from the first init or import frame, before network->init,
   * and never changed after: plugin threads read it without a lock. */
  json_t *config;        /* {key: checked value} */
  gint64 data_budget;    /* bytes the data dir may hold, -1 unlimited */
  char *import_work_dir; /* canonical, imports only */
  char *import_file_dir; /* canonical folder of the export, imports only */

  /* The login's key for secret_store/secret_load (init frame). */
  guint8 secret_key[32];
  gboolean has_secret_key;

  /* Several logins in one process (pa-worker-logins.c).  The process's own
   * PaHost (the one network->init got) keeps the table; each login's PaHost
   * points back at it and names itself in every frame it sends. */
  struct PaHost *process; /* a login's PaHost: the process's; NULL on the process's own */
  char *frame_login;      /* a login's PaHost: the "login" member of its frames */
  GHashTable *logins;     /* the process's: login id -> PaHost* (ended ones stay, `closed`) */
  char **data_dirs;       /* the process's: the canonical --data-dir list (the sandbox's) */
  gboolean closed;        /* a login's: login_free ran; what it still sends is dropped */

  PaLogin *login;
  gboolean network_ready; /* network->init succeeded (or is NULL) */
  gboolean network_failed;
  gboolean init_done;
  gboolean in_import;
  gboolean import_started;
};

G_END_DECLS

#endif
