/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Media and output helpers shared by the export importers: message kind and
 * MIME type from a file name, image dimensions from a file header, content
 * sniffing for clear "wrong file" errors, stable hashed ids, and small
 * wrappers around the host table. */
#ifndef IMP_MEDIA_H
#define IMP_MEDIA_H

#include <glib.h>

#include "imp-archive.h"
#include "passerelle/plugin.h"

G_BEGIN_DECLS

/* jpg/jpeg/png/gif → IMAGE, webp → STICKER, mp4/3gp/mov → VIDEO, opus →
 * VOICE, mp3/m4a/aac/ogg → AUDIO, anything else FILE (case-insensitive). */
PaMsgKind imp_media_kind_for_name (const char *name);

/* The MIME type for a file name's extension; application/octet-stream when
 * unknown (transfer none). */
const char *imp_mimetype_for_name (const char *name);

/* Reads the pixel size from a PNG, GIF, JPEG or WebP file header.  FALSE (and
 * 0×0) when the file is none of these or its header is damaged. */
gboolean imp_image_size (const char *path, guint32 *width, guint32 *height);

/* What binary data `buf` (the first bytes of a file) looks like: "a PNG
 * image", "a ZIP archive"… or "binary data" when it holds NUL bytes; NULL
 * when it may be text (transfer none). */
const char *imp_sniff_binary (const guint8 *buf, gsize len);

/* "name-" + the first 16 hex digits of SHA-256(a + "\x1f" + b)
 * (transfer full). */
char *imp_hashed_id (const char *prefix, const char *a, const char *b);

/* A file a message references, once looked up (and extracted). */
typedef struct {
  char *path;    /* the store's extracted copy, NULL when not available; never emit
                    it: emit what imp_media_store_hand_out gives */
  char *problem; /* why it is not, NULL when it is simply missing from the export */
  guint64 size;
  guint32 width, height; /* images and stickers, 0 if unknown */
} ImpMedia;

/* Looks up media files by the name the export uses, in an archive (under a
 * folder prefix) or in a folder on disk, and copies each one once into a
 * private folder of the work dir, charging `budget`; freeing the store
 * deletes those copies. */
typedef struct _ImpMediaStore ImpMediaStore;

/* `ar` (borrowed, may be NULL) with `prefix` ("" or "dir/"), else `disk_dir`
 * (may be NULL: nothing is found); `work_dir` NULL means nothing can be
 * extracted. */
ImpMediaStore *imp_media_store_new (ImpArchive *ar, const char *prefix, const char *disk_dir,
                                    const char *work_dir, ImpBudget *budget);
void imp_media_store_free (ImpMediaStore *store);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ImpMediaStore, imp_media_store_free)

/* The file `name` refers to (a relative path in the export).  Never NULL;
 * valid until the store is freed or the next call, whichever comes first. */
const ImpMedia *imp_media_store_fetch (ImpMediaStore *store, const char *name);

/* A new file in the work dir with the content of `m` (which has a path),
 * for one message: emit passes it to the host (FILES in plugin.h), so a file
 * referenced twice is handed out twice, as two hard links to one extracted
 * copy (or, where links fail, a copy charged to the budget) (transfer full;
 * NULL and `error` on failure). */
char *imp_media_store_hand_out (ImpMediaStore *store, const ImpMedia *m, GError **error);

/* FALSE, with its error, once a file fetched was a zip bomb
 * (IMP_ERROR_BOMB): the importer stops and fails, so the import is refused
 * whole. */
gboolean imp_media_store_check (ImpMediaStore *store, GError **error);

/* Notices about missing and failed files, if any. */
void imp_media_store_notices (ImpMediaStore *store, PaHost *host, const PaHostApi *api);

/* A notice to the management room, printf-style. */
void imp_notice (PaHost *host, const PaHostApi *api, const char *fmt, ...) G_GNUC_PRINTF (3, 4);

/* A malloc'd copy (the host frees import errors with free()). */
char *imp_c_strdup (const char *s);

/* What every importer reads of PaImportOptions (ABI-size checked), with
 * the defaults of imp-archive.h where a value is absent or zero. */
typedef struct {
  const char *timezone;
  const char *chat;
  const char *work_dir;
  guint64 max_total_bytes;
  guint64 max_entries;
} ImpOptions;

void imp_options_read (const PaImportOptions *options, ImpOptions *out);

/* The common end of import_file: creates work_dir (when set), runs `run`,
 * and turns its GError into the ABI's malloc'd error string. */
typedef gboolean (*ImpRunFunc) (gpointer importer, const char *path, GError **error);
bool imp_run (const char *path, const char *work_dir, ImpRunFunc run, gpointer importer,
              char **error);

G_END_DECLS

#endif
