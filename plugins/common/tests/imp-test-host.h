/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* A small plugin host for the importer tests: loads a built plugin .so like
 * the worker does, runs network->init, import_file and network->shutdown (one
 * import per "worker", as in SDK 2) and records every emitted event (as JSON,
 * in the worker protocol's shape) and notice.  While recording it checks the
 * stream contract: a chat's CHAT_INFO comes before its messages, strings are
 * UTF-8, media files exist with the announced size inside the work dir.  Like
 * the real host it TAKES each emitted media file (FILES in plugin.h): it
 * renames it to "<media_path>.taken" (recorded as content.media_file), so a
 * plugin that emitted one path twice, or touched it afterwards, fails. */
#ifndef IMP_TEST_HOST_H
#define IMP_TEST_HOST_H

#include <glib.h>
#include <jansson.h>

#include "passerelle/plugin.h"

G_BEGIN_DECLS

G_DEFINE_AUTOPTR_CLEANUP_FUNC (json_t, json_decref)

typedef struct {
  json_t *events;  /* array of event objects */
  json_t *notices; /* array of strings */
  gboolean ok;
  char *error;     /* import_file's error, NULL on success */
} ImpRun;

typedef struct {
  const char *tz;
  const char *chat;
  const char *work_dir;
  guint64 max_total_bytes;
  guint64 max_entries;
  gboolean refuse_media; /* emit() refuses (returns 0) messages with media */
} ImpRunOptions;

typedef struct {
  const char *name;
  const void *data;
  gsize len;
  gboolean store;   /* no compression */
  guint32 unix_mode; /* 0: default; S_IFLNK|0777 makes a symlink entry */
} ImpZipEntry;

/* Loads $PA_BUILD_ROOT/plugins/NAME/NAME.so and checks its PaNetwork (an
 * importer of SDK 2; when it also logs in, it has what a login takes). */
const PaNetwork *imp_test_load (const char *name);

/* init, import_file, shutdown. */
ImpRun *imp_test_run (const PaNetwork *net, const char *path, const ImpRunOptions *o);
void imp_run_free (ImpRun *run);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ImpRun, imp_run_free)

/* The events of one type ("message", "chat_info"), as a new array. */
json_t *imp_run_events (ImpRun *run, const char *type);
/* TRUE when a notice contains `needle`. */
gboolean imp_run_has_notice (ImpRun *run, const char *needle);
/* Prints the run on stderr (debugging a failure). */
void imp_run_dump (ImpRun *run);

/* Writes a zip with these entries (libzip). */
void imp_test_write_zip (const char *path, const ImpZipEntry *entries, gsize n);

/* Rewrites the declared uncompressed size of `name` in both the local and
 * the central header of a zip held in `buf`: a zip bomb that lies about its
 * size. */
void imp_test_patch_declared_size (guint8 *buf, gsize len, const char *name, guint32 size);

/* A fresh temporary directory, and its recursive removal. */
char *imp_test_tmpdir (void);
void imp_test_rmrf (const char *path);
/* Bytes on disk of the regular files under `dir` (hard links counted once). */
guint64 imp_test_dir_bytes (const char *dir);

/* A file of tests/data (PA_TEST_DATA). */
char *imp_test_data (const char *rel);

/* Small valid images: a 3×2 PNG, a 5×4 GIF, a 7×6 baseline JPEG header. */
extern const guint8 imp_test_png[];
extern const gsize imp_test_png_len;
extern const guint8 imp_test_gif[];
extern const gsize imp_test_gif_len;
extern const guint8 imp_test_jpeg[];
extern const gsize imp_test_jpeg_len;

G_END_DECLS

#endif
