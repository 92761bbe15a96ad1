/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Hostile-archive handling shared by the export importers (WhatsApp,
 * Telegram): a read-only view of a ZIP file (libzip) that only exposes
 * entries with safe relative names, byte streams over archive entries and
 * disk files that count what they decompress against a shared budget, and
 * extraction into the import's work directory.
 *
 * Threats handled here: zip-slip (absolute names, "..", drive letters,
 * backslashes), symlinks and special files in archives, symlinks on disk that
 * leave the export's folder, zip bombs (the ACTUAL bytes read are counted
 * against the budget, never the declared sizes, plus a per-entry compression
 * ratio limit) and too many entries. */
#ifndef IMP_ARCHIVE_H
#define IMP_ARCHIVE_H

#include <glib.h>

G_BEGIN_DECLS

#define IMP_ERROR (imp_error_quark ())
GQuark imp_error_quark (void);

typedef enum {
  IMP_ERROR_LIMIT,     /* the byte budget, the entry cap or the ratio limit was reached */
  IMP_ERROR_DAMAGED,   /* the archive or an entry could not be read (corrupt, truncated) */
  IMP_ERROR_UNSAFE,    /* a name or path that would escape its folder */
  IMP_ERROR_NOT_FOUND, /* no such entry or file */
  IMP_ERROR_IO,        /* reading the input or writing the work dir failed */
  IMP_ERROR_BOMB,      /* an entry lies about its size or expands beyond IMP_MAX_RATIO: the
                          whole import is refused */
} ImpError;

/* An entry is refused (IMP_ERROR_BOMB) when its header declares, or
 * decompressing it yields, more than this many times its compressed size
 * (beyond the first IMP_RATIO_GRACE bytes), and when it yields more bytes
 * than its header declares.  Deflate tops out near 1032:1, so only runs of
 * identical bytes get there; real chat text compresses 5 to 400 times. */
#define IMP_MAX_RATIO 1000
#define IMP_RATIO_GRACE ((guint64) 1024 * 1024)
#define IMP_MAX_NAME_BYTES 4096
#define IMP_DEFAULT_MAX_TOTAL_BYTES (G_GUINT64_CONSTANT (4) << 30)
#define IMP_DEFAULT_MAX_ENTRIES 100000

/* Bytes decompressed or copied so far by one import, against its cap. */
typedef struct {
  guint64 max_bytes;
  guint64 used;
} ImpBudget;

typedef struct {
  char *name;          /* normalized: relative, '/'-separated, no "." or ".." */
  guint64 index;       /* libzip index */
  guint64 size;        /* declared uncompressed size (untrusted) */
  guint64 comp_size;   /* declared compressed size (untrusted) */
  gboolean size_known; /* the header declares `size` (else it is 0) */
} ImpEntry;

typedef struct _ImpArchive ImpArchive;

/* TRUE when `buf` starts like a ZIP archive (local header or empty-archive
 * end record). */
gboolean imp_is_zip_magic (const guint8 *buf, gsize len);

/* Opens `path` read-only and indexes its regular-file entries with safe
 * names.  Fails with IMP_ERROR_LIMIT when the archive has more than
 * `max_entries` entries, IMP_ERROR_DAMAGED when libzip cannot read its
 * central directory (truncated or not a zip).  Unsafe names, symlinks and
 * special files are left out and counted (imp_archive_n_refused). */
ImpArchive *imp_archive_open (const char *path, guint64 max_entries, GError **error);
void imp_archive_free (ImpArchive *ar);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ImpArchive, imp_archive_free)

/* The indexed entries, in archive order (transfer none). */
const ImpEntry *imp_archive_entries (ImpArchive *ar, guint *n_entries);
/* The entry with this exact normalized name, or NULL. */
const ImpEntry *imp_archive_lookup (ImpArchive *ar, const char *name);
/* Entries left out because of their name or type, and the first of them
 * (transfer none; NULL when none). */
guint imp_archive_n_refused (ImpArchive *ar);
const char *imp_archive_first_refused (ImpArchive *ar);

/* A relative path made safe: backslashes become '/', empty and "."
 * components are dropped.  NULL when it is absolute, has a drive letter or a
 * ".." component, is not UTF-8, has control characters, is empty or longer
 * than IMP_MAX_NAME_BYTES (transfer full). */
char *imp_normalize_name (const char *name);

/* A readable byte stream: an archive entry or a disk file. */
typedef struct _ImpStream ImpStream;

/* Opens an entry of `ar`; its decompressed bytes are charged to `budget`
 * (may be NULL: not charged), checked against its declared size and against
 * IMP_MAX_RATIO.  Fails with IMP_ERROR_BOMB when the declared sizes alone
 * exceed the ratio. */
ImpStream *imp_stream_open_entry (ImpArchive *ar, const ImpEntry *entry, ImpBudget *budget,
                                  GError **error);
/* Opens a regular file on disk (following symlinks: the caller chose the
 * path); its bytes are charged to `budget` when not NULL. */
ImpStream *imp_stream_open_file (const char *path, ImpBudget *budget, GError **error);
/* After `max_bytes` bytes, reads report end of stream (0 = no limit).  Used
 * to replay exactly what a first pass accepted. */
void imp_stream_set_limit (ImpStream *s, guint64 max_bytes);
/* Reads up to `len` bytes: returns the count, 0 at the end, -1 with `error`
 * set (IMP_ERROR_LIMIT at the budget, after delivering the bytes that
 * still fit; IMP_ERROR_BOMB past the declared size or the ratio limit, at
 * most one read past it; IMP_ERROR_DAMAGED for corrupt data). */
gssize imp_stream_read (ImpStream *s, void *buf, gsize len, GError **error);
/* Bytes delivered so far. */
guint64 imp_stream_offset (ImpStream *s);
void imp_stream_free (ImpStream *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ImpStream, imp_stream_free)

/* Copies the rest of `s` into work_dir/file_name (file_name must be a plain
 * name, see imp_output_name), never following a symlink there.  On failure
 * the partial file is removed.  Returns the new path (transfer full) and its
 * size in *written. */
char *imp_stream_extract (ImpStream *s, const char *work_dir, const char *file_name,
                          guint64 *written, GError **error);

/* A plain file name for an extracted file: `unique` (keeps names of
 * different entries apart) then the sanitized last component of `name`
 * (transfer full). */
char *imp_output_name (guint64 unique, const char *name);

/* The real path of `rel` inside the directory `base_dir` when it names a
 * regular file there; fails with IMP_ERROR_UNSAFE when `rel` is absolute, has
 * ".." or resolves (through symlinks) outside base_dir, IMP_ERROR_NOT_FOUND
 * when there is no such regular file (transfer full). */
char *imp_resolve_beneath (const char *base_dir, const char *rel, GError **error);

G_END_DECLS

#endif
