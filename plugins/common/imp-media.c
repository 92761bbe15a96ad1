/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Media kinds, MIME types, image sizes and sniffing for the importers. */
#define G_LOG_DOMAIN "passerelle-importer"

#include "imp-media.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

/* JPEG headers may be preceded by large EXIF/ICC segments; give up past
 * this offset rather than walk a hostile file forever. */
#define IMP_JPEG_MAX_SCAN ((long) 16 * 1024 * 1024)

typedef struct {
  const char *ext;
  PaMsgKind kind;
  const char *mimetype;
} ImpExt;

static const ImpExt imp_exts[] = {
  { "jpg", PA_MSG_IMAGE, "image/jpeg" },
  { "jpeg", PA_MSG_IMAGE, "image/jpeg" },
  { "png", PA_MSG_IMAGE, "image/png" },
  { "gif", PA_MSG_IMAGE, "image/gif" },
  { "webp", PA_MSG_STICKER, "image/webp" },
  { "mp4", PA_MSG_VIDEO, "video/mp4" },
  { "3gp", PA_MSG_VIDEO, "video/3gpp" },
  { "mov", PA_MSG_VIDEO, "video/quicktime" },
  { "opus", PA_MSG_VOICE, "audio/ogg" },
  { "mp3", PA_MSG_AUDIO, "audio/mpeg" },
  { "m4a", PA_MSG_AUDIO, "audio/mp4" },
  { "aac", PA_MSG_AUDIO, "audio/aac" },
  { "ogg", PA_MSG_AUDIO, "audio/ogg" },
  { "oga", PA_MSG_AUDIO, "audio/ogg" },
  { "wav", PA_MSG_AUDIO, "audio/wav" },
  { "tgs", PA_MSG_STICKER, "application/x-tgsticker" },
  { "webm", PA_MSG_VIDEO, "video/webm" },
  { "pdf", PA_MSG_FILE, "application/pdf" },
  { "vcf", PA_MSG_FILE, "text/vcard" },
  { "txt", PA_MSG_FILE, "text/plain" },
  { "doc", PA_MSG_FILE, "application/msword" },
  { "docx", PA_MSG_FILE,
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document" },
  { "xls", PA_MSG_FILE, "application/vnd.ms-excel" },
  { "xlsx", PA_MSG_FILE, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" },
  { "ppt", PA_MSG_FILE, "application/vnd.ms-powerpoint" },
  { "pptx", PA_MSG_FILE,
    "application/vnd.openxmlformats-officedocument.presentationml.presentation" },
  { "odt", PA_MSG_FILE, "application/vnd.oasis.opendocument.text" },
  { "zip", PA_MSG_FILE, "application/zip" },
};

static const ImpExt *
imp_ext_lookup (const char *name)
{
  const char *dot = name != NULL ? strrchr (name, '.') : NULL;
  if (dot == NULL || strchr (dot, '/') != NULL)
    return NULL;
  for (gsize i = 0; i < G_N_ELEMENTS (imp_exts); i++)
    if (g_ascii_strcasecmp (dot + 1, imp_exts[i].ext) == 0)
      return &imp_exts[i];
  return NULL;
}

PaMsgKind
imp_media_kind_for_name (const char *name)
{
  const ImpExt *e = imp_ext_lookup (name);
  return e != NULL ? e->kind : PA_MSG_FILE;
}

const char *
imp_mimetype_for_name (const char *name)
{
  const ImpExt *e = imp_ext_lookup (name);
  return e != NULL ? e->mimetype : "application/octet-stream";
}

static guint32
be32 (const guint8 *p)
{
  return ((guint32) p[0] << 24) | ((guint32) p[1] << 16) | ((guint32) p[2] << 8) | p[3];
}

static guint32
be16 (const guint8 *p)
{
  return ((guint32) p[0] << 8) | p[1];
}

static guint32
le16 (const guint8 *p)
{
  return ((guint32) p[1] << 8) | p[0];
}

static guint32
le24 (const guint8 *p)
{
  return ((guint32) p[2] << 16) | ((guint32) p[1] << 8) | p[0];
}

/* Walks JPEG segments up to a start-of-frame marker. */
static gboolean
jpeg_size (FILE *f, guint32 *w, guint32 *h)
{
  guint8 b[8];
  if (fseek (f, 2, SEEK_SET) != 0)
    return FALSE;
  for (;;)
    {
      int c = fgetc (f);
      if (c == EOF || ftell (f) > IMP_JPEG_MAX_SCAN)
        return FALSE;
      if (c != 0xFF)
        return FALSE;
      /* fill bytes */
      do
        c = fgetc (f);
      while (c == 0xFF);
      if (c == EOF)
        return FALSE;
      if (c == 0xD8 || c == 0x01 || (c >= 0xD0 && c <= 0xD7))
        continue; /* markers without a length */
      if (c == 0xD9 || c == 0xDA)
        return FALSE; /* end of image, or scan data before any frame header */
      if (fread (b, 1, 2, f) != 2)
        return FALSE;
      guint32 seglen = be16 (b);
      if (seglen < 2)
        return FALSE;
      gboolean sof = c >= 0xC0 && c <= 0xCF && c != 0xC4 && c != 0xC8 && c != 0xCC;
      if (sof)
        {
          if (seglen < 7 || fread (b, 1, 5, f) != 5)
            return FALSE;
          *h = be16 (b + 1);
          *w = be16 (b + 3);
          return *w > 0 && *h > 0;
        }
      if (fseek (f, (long) seglen - 2, SEEK_CUR) != 0)
        return FALSE;
    }
}

gboolean
imp_image_size (const char *path, guint32 *width, guint32 *height)
{
  guint8 b[32];
  guint32 w = 0, h = 0;
  gboolean ok = FALSE;
  *width = *height = 0;
  FILE *f = fopen (path, "rbe");
  if (f == NULL)
    return FALSE;
  gsize n = fread (b, 1, sizeof b, f);
  if (n >= 24 && memcmp (b, "\x89PNG\r\n\x1a\n", 8) == 0 && memcmp (b + 12, "IHDR", 4) == 0)
    {
      w = be32 (b + 16);
      h = be32 (b + 20);
      ok = w > 0 && h > 0 && w <= G_MAXINT32 && h <= G_MAXINT32;
    }
  else if (n >= 10 && (memcmp (b, "GIF87a", 6) == 0 || memcmp (b, "GIF89a", 6) == 0))
    {
      w = le16 (b + 6);
      h = le16 (b + 8);
      ok = w > 0 && h > 0;
    }
  else if (n >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF)
    ok = jpeg_size (f, &w, &h);
  else if (n >= 30 && memcmp (b, "RIFF", 4) == 0 && memcmp (b + 8, "WEBP", 4) == 0)
    {
      if (memcmp (b + 12, "VP8X", 4) == 0)
        {
          w = le24 (b + 24) + 1;
          h = le24 (b + 27) + 1;
          ok = TRUE;
        }
      else if (memcmp (b + 12, "VP8L", 4) == 0 && b[20] == 0x2f)
        {
          guint32 bits = (guint32) b[21] | ((guint32) b[22] << 8) | ((guint32) b[23] << 16)
                         | ((guint32) b[24] << 24);
          w = (bits & 0x3FFF) + 1;
          h = ((bits >> 14) & 0x3FFF) + 1;
          ok = TRUE;
        }
      else if (memcmp (b + 12, "VP8 ", 4) == 0 && b[23] == 0x9d && b[24] == 0x01
               && b[25] == 0x2a)
        {
          w = le16 (b + 26) & 0x3FFF;
          h = le16 (b + 28) & 0x3FFF;
          ok = w > 0 && h > 0;
        }
    }
  fclose (f);
  if (ok)
    {
      *width = w;
      *height = h;
    }
  return ok;
}

const char *
imp_sniff_binary (const guint8 *buf, gsize len)
{
  static const struct {
    const char *magic;
    gsize len;
    const char *what;
  } magics[] = {
    { "\x89PNG\r\n\x1a\n", 8, "a PNG image" },
    { "\xff\xd8\xff", 3, "a JPEG image" },
    { "GIF8", 4, "a GIF image" },
    { "%PDF", 4, "a PDF document" },
    { "PK\x03\x04", 4, "a ZIP archive" },
    { "\x1f\x8b", 2, "a gzip file" },
    { "7z\xbc\xaf\x27\x1c", 6, "a 7-Zip archive" },
    { "Rar!", 4, "a RAR archive" },
    { "\x7f" "ELF", 4, "an executable" },
    { "SQLite format 3", 15, "an SQLite database" },
    { "OggS", 4, "an Ogg audio file" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (magics); i++)
    if (len >= magics[i].len && memcmp (buf, magics[i].magic, magics[i].len) == 0)
      return magics[i].what;
  if (len >= 12 && memcmp (buf + 4, "ftyp", 4) == 0)
    return "an MP4/MOV video";
  if (memchr (buf, '\0', len) != NULL)
    return "binary data";
  return NULL;
}

char *
imp_hashed_id (const char *prefix, const char *a, const char *b)
{
  g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  g_checksum_update (sum, (const guchar *) (a != NULL ? a : ""), -1);
  g_checksum_update (sum, (const guchar *) "\x1f", 1);
  g_checksum_update (sum, (const guchar *) (b != NULL ? b : ""), -1);
  return g_strdup_printf ("%s%.16s", prefix, g_checksum_get_string (sum));
}

void
imp_notice (PaHost *host, const PaHostApi *api, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *text = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  api->notice (host, text);
}

char *
imp_c_strdup (const char *s)
{
  return strdup (s != NULL ? s : "");
}

void
imp_options_read (const PaImportOptions *options, ImpOptions *out)
{
  memset (out, 0, sizeof *out);
  out->max_total_bytes = IMP_DEFAULT_MAX_TOTAL_BYTES;
  out->max_entries = IMP_DEFAULT_MAX_ENTRIES;
  if (PA_HAS_MEMBER (options, PaImportOptions, timezone))
    out->timezone = options->timezone;
  if (PA_HAS_MEMBER (options, PaImportOptions, chat))
    out->chat = options->chat;
  if (PA_HAS_MEMBER (options, PaImportOptions, work_dir))
    out->work_dir = options->work_dir;
  if (PA_HAS_MEMBER (options, PaImportOptions, max_total_bytes) && options->max_total_bytes > 0)
    out->max_total_bytes = options->max_total_bytes;
  if (PA_HAS_MEMBER (options, PaImportOptions, max_entries) && options->max_entries > 0)
    out->max_entries = options->max_entries;
}

bool
imp_run (const char *path, const char *work_dir, ImpRunFunc run, gpointer importer,
         char **error)
{
  g_autoptr (GError) local_error = NULL;
  gboolean ok = FALSE;
  if (path == NULL)
    g_set_error_literal (&local_error, IMP_ERROR, IMP_ERROR_NOT_FOUND, "no file to import");
  else if (work_dir != NULL && g_mkdir_with_parents (work_dir, 0700) != 0)
    {
      int saved = errno;
      g_set_error (&local_error, IMP_ERROR, IMP_ERROR_IO, "cannot create the work directory %s: %s",
                   work_dir, g_strerror (saved));
    }
  else
    ok = run (importer, path, &local_error);
  if (!ok && error != NULL)
    *error = imp_c_strdup (local_error != NULL ? local_error->message : "import failed");
  return ok;
}

/* ------------------------------------------------------------ media store */

/* Distinct names remembered; past it a result lives until the next lookup. */
#define IMP_MAX_MEDIA_CACHE 100000

/* Extracted files ("masters") live in work_dir/IMP_MASTER_DIR until the store
 * is freed; each message gets its own hard link to one in work_dir, which
 * passes to the host on emit (FILES in plugin.h).  A file referenced by two
 * messages is so extracted and charged once, yet never handed out twice. */
#define IMP_MASTER_DIR ".imp-extracted"

struct _ImpMediaStore {
  ImpArchive *ar;
  char *prefix;
  char *disk_dir;
  char *work_dir;
  char *master_dir; /* NULL until the first extraction */
  ImpBudget *budget;
  guint64 n_handed;
  GHashTable *cache; /* name → ImpMedia */
  ImpMedia *overflow;
  guint64 n_extracted, n_missing, n_failed;
  char *first_missing;
  char *first_failure;
  GError *bomb; /* the first file found to be a zip bomb: the import is refused */
};

/* Frees a looked-up file and deletes its master copy. */
static void
imp_media_free (gpointer p)
{
  ImpMedia *m = p;
  if (m == NULL)
    return;
  if (m->path != NULL)
    g_unlink (m->path);
  g_free (m->path);
  g_free (m->problem);
  g_free (m);
}

ImpMediaStore *
imp_media_store_new (ImpArchive *ar, const char *prefix, const char *disk_dir,
                     const char *work_dir, ImpBudget *budget)
{
  ImpMediaStore *st = g_new0 (ImpMediaStore, 1);
  st->ar = ar;
  st->prefix = g_strdup (prefix != NULL ? prefix : "");
  st->disk_dir = g_strdup (disk_dir);
  st->work_dir = g_strdup (work_dir);
  st->budget = budget;
  st->cache = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, imp_media_free);
  return st;
}

void
imp_media_store_free (ImpMediaStore *st)
{
  if (st == NULL)
    return;
  g_hash_table_destroy (st->cache);
  imp_media_free (st->overflow);
  if (st->master_dir != NULL)
    g_rmdir (st->master_dir);
  g_free (st->master_dir);
  g_free (st->prefix);
  g_free (st->disk_dir);
  g_free (st->work_dir);
  g_free (st->first_missing);
  g_free (st->first_failure);
  g_clear_error (&st->bomb);
  g_free (st);
}

gboolean
imp_media_store_check (ImpMediaStore *st, GError **error)
{
  if (st->bomb == NULL)
    return TRUE;
  g_propagate_error (error, g_error_copy (st->bomb));
  return FALSE;
}

static void
imp_media_failed (ImpMediaStore *st, const char *name, const char *problem)
{
  st->n_failed++;
  if (st->first_failure == NULL)
    st->first_failure = g_strdup_printf ("%s: %s", name, problem);
}

/* Opens the referenced file, or says why not (NULL + error). */
static ImpStream *
imp_media_open (ImpMediaStore *st, const char *name, GError **error)
{
  if (st->ar != NULL)
    {
      g_autofree char *full = g_strconcat (st->prefix, name, NULL);
      g_autofree char *norm = imp_normalize_name (full);
      if (norm == NULL)
        {
          g_set_error_literal (error, IMP_ERROR, IMP_ERROR_UNSAFE, "refused unsafe name");
          return NULL;
        }
      const ImpEntry *e = imp_archive_lookup (st->ar, norm);
      if (e == NULL)
        {
          g_set_error_literal (error, IMP_ERROR, IMP_ERROR_NOT_FOUND, "not in the archive");
          return NULL;
        }
      if (st->work_dir == NULL)
        return NULL;
      guint64 room = st->budget->max_bytes - MIN (st->budget->used, st->budget->max_bytes);
      /* A declared size already over the budget is refused unread; a lying
       * one is caught by the stream's own count. */
      if (e->size > room)
        {
          g_set_error (error, IMP_ERROR, IMP_ERROR_LIMIT,
                       "%" G_GUINT64_FORMAT " bytes would exceed the import size limit of %"
                       G_GUINT64_FORMAT " bytes", e->size, st->budget->max_bytes);
          return NULL;
        }
      return imp_stream_open_entry (st->ar, e, st->budget, error);
    }
  if (st->disk_dir == NULL)
    {
      g_set_error_literal (error, IMP_ERROR, IMP_ERROR_NOT_FOUND, "not in the export");
      return NULL;
    }
  g_autofree char *real = imp_resolve_beneath (st->disk_dir, name, error);
  if (real == NULL || st->work_dir == NULL)
    return NULL;
  return imp_stream_open_file (real, st->budget, error);
}

/* Creates work_dir/IMP_MASTER_DIR (0700, not a symlink) once. */
static gboolean
imp_media_master_dir (ImpMediaStore *st, GError **error)
{
  if (st->master_dir != NULL)
    return TRUE;
  g_autofree char *dir = g_build_filename (st->work_dir, IMP_MASTER_DIR, NULL);
  GStatBuf sb;
  errno = 0;
  if ((g_mkdir (dir, 0700) != 0 && errno != EEXIST) || g_lstat (dir, &sb) != 0
      || !S_ISDIR (sb.st_mode))
    {
      int saved = errno;
      g_set_error (error, IMP_ERROR, IMP_ERROR_IO, "cannot create %s: %s", dir,
                   saved != 0 ? g_strerror (saved) : "not a directory");
      return FALSE;
    }
  st->master_dir = g_steal_pointer (&dir);
  return TRUE;
}

const ImpMedia *
imp_media_store_fetch (ImpMediaStore *st, const char *name)
{
  ImpMedia *m = g_hash_table_lookup (st->cache, name);
  if (m != NULL)
    return m;
  m = g_new0 (ImpMedia, 1);
  g_autoptr (GError) error = NULL;
  g_autoptr (ImpStream) s = imp_media_open (st, name, &error);
  if (s != NULL && imp_media_master_dir (st, &error))
    {
      g_autofree char *out = imp_output_name (st->n_extracted + st->n_failed + st->n_missing + 1,
                                              name);
      m->path = imp_stream_extract (s, st->master_dir, out, &m->size, &error);
    }
  if (m->path != NULL)
    {
      st->n_extracted++;
      PaMsgKind kind = imp_media_kind_for_name (name);
      if (kind == PA_MSG_IMAGE || kind == PA_MSG_STICKER)
        imp_image_size (m->path, &m->width, &m->height);
    }
  else if (error == NULL)
    {
      m->problem = g_strdup ("no work directory to extract it into");
      imp_media_failed (st, name, m->problem);
    }
  else if (g_error_matches (error, IMP_ERROR, IMP_ERROR_NOT_FOUND))
    {
      st->n_missing++;
      if (st->first_missing == NULL)
        st->first_missing = g_strdup (name);
    }
  else
    {
      if (g_error_matches (error, IMP_ERROR, IMP_ERROR_BOMB) && st->bomb == NULL)
        st->bomb = g_error_copy (error);
      m->problem = g_strdup (error->message);
      imp_media_failed (st, name, error->message);
    }
  if (g_hash_table_size (st->cache) < IMP_MAX_MEDIA_CACHE)
    g_hash_table_insert (st->cache, g_strdup (name), m);
  else
    {
      imp_media_free (st->overflow);
      st->overflow = m;
    }
  return m;
}

void
imp_media_store_notices (ImpMediaStore *st, PaHost *host, const PaHostApi *api)
{
  if (st->n_missing > 0)
    imp_notice (host, api,
                "%" G_GUINT64_FORMAT " attached files are not in the export (first: %s).",
                st->n_missing, st->first_missing);
  if (st->n_failed > 0)
    imp_notice (host, api, "%" G_GUINT64_FORMAT " attached files were not imported (first: %s).",
                st->n_failed, st->first_failure);
}

char *
imp_media_store_hand_out (ImpMediaStore *st, const ImpMedia *m, GError **error)
{
  g_return_val_if_fail (m != NULL && m->path != NULL, NULL);
  g_autofree char *base = g_path_get_basename (m->path);
  const char *dash = strchr (base, '-');
  const char *tail = dash != NULL ? dash + 1 : base;
  for (guint attempt = 0; attempt < 1000; attempt++)
    {
      g_autofree char *file
          = g_strdup_printf ("%06" G_GUINT64_FORMAT "-%s", ++st->n_handed, tail);
      g_autofree char *path = g_build_filename (st->work_dir, file, NULL);
      if (link (m->path, path) == 0)
        return g_steal_pointer (&path);
      int saved = errno;
      if (saved == EEXIST)
        continue; /* a leftover of an earlier run: not ours to replace */
      /* No hard links here (some file systems): a copy, charged to the budget. */
      g_autoptr (ImpStream) s = imp_stream_open_file (m->path, st->budget, error);
      if (s == NULL)
        return NULL;
      guint64 written = 0;
      return imp_stream_extract (s, st->work_dir, file, &written, error);
    }
  g_set_error (error, IMP_ERROR, IMP_ERROR_IO, "no free file name in %s", st->work_dir);
  return NULL;
}
