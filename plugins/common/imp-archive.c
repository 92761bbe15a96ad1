/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* ZIP access (libzip), budgeted streams and safe extraction for importers. */
#define G_LOG_DOMAIN "passerelle-importer"

#include "imp-archive.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <zip.h>

#define IMP_COPY_CHUNK 65536

G_DEFINE_QUARK (passerelle-importer-error-quark, imp_error)

struct _ImpArchive {
  zip_t *zip;
  GArray *entries;     /* of ImpEntry */
  GHashTable *by_name; /* name (borrowed from entries) → index in entries + 1 */
  guint n_refused;
  char *first_refused;
};

struct _ImpStream {
  zip_file_t *zf; /* an archive entry, or */
  int fd;         /* a disk file (-1 when zf is used) */
  char *what;     /* for messages */
  ImpBudget *budget;
  guint64 comp_size; /* entries: declared compressed size, for the ratio check */
  guint64 declared;  /* entries: declared size, G_MAXUINT64 when unknown */
  guint64 offset;
  guint64 limit;     /* 0: none */
};

gboolean
imp_is_zip_magic (const guint8 *buf, gsize len)
{
  return len >= 4 && buf[0] == 'P' && buf[1] == 'K'
         && ((buf[2] == 3 && buf[3] == 4) || (buf[2] == 5 && buf[3] == 6)
             || (buf[2] == 7 && buf[3] == 8));
}

char *
imp_normalize_name (const char *name)
{
  if (name == NULL || *name == '\0' || strlen (name) > IMP_MAX_NAME_BYTES
      || !g_utf8_validate (name, -1, NULL))
    return NULL;
  for (const char *p = name; *p != '\0'; p++)
    if ((guchar) *p < 0x20 || *p == 0x7f)
      return NULL;
  /* Windows tools write backslashes; treat them as separators so that
   * "..\\x" cannot slip through as a single odd component. */
  g_autofree char *copy = g_strdup (name);
  g_strdelimit (copy, "\\", '/');
  if (copy[0] == '/' || (g_ascii_isalpha (copy[0]) && copy[1] == ':'))
    return NULL;
  g_auto (GStrv) parts = g_strsplit (copy, "/", -1);
  g_autoptr (GString) out = g_string_new (NULL);
  for (guint i = 0; parts[i] != NULL; i++)
    {
      if (parts[i][0] == '\0' || strcmp (parts[i], ".") == 0)
        continue;
      if (strcmp (parts[i], "..") == 0)
        return NULL;
      if (out->len > 0)
        g_string_append_c (out, '/');
      g_string_append (out, parts[i]);
    }
  if (out->len == 0)
    return NULL;
  return g_string_free (g_steal_pointer (&out), FALSE);
}

static void
imp_entry_clear (gpointer p)
{
  ImpEntry *e = p;
  g_free (e->name);
}

static void
archive_refuse (ImpArchive *ar, const char *name)
{
  ar->n_refused++;
  if (ar->first_refused == NULL)
    ar->first_refused = g_utf8_make_valid (name != NULL ? name : "(unnamed)", -1);
}

ImpArchive *
imp_archive_open (const char *path, guint64 max_entries, GError **error)
{
  int zerr = 0;
  zip_t *zip = zip_open (path, ZIP_RDONLY, &zerr);
  if (zip == NULL)
    {
      zip_error_t ze;
      zip_error_init_with_code (&ze, zerr);
      g_set_error (error, IMP_ERROR, zerr == ZIP_ER_OPEN || zerr == ZIP_ER_READ
                                         ? IMP_ERROR_IO : IMP_ERROR_DAMAGED,
                   "the archive cannot be read (truncated or corrupt?): %s",
                   zip_error_strerror (&ze));
      zip_error_fini (&ze);
      return NULL;
    }
  zip_int64_t n = zip_get_num_entries (zip, 0);
  if (n < 0 || (guint64) n > max_entries)
    {
      g_set_error (error, IMP_ERROR, IMP_ERROR_LIMIT,
                   "the archive has %" G_GINT64_FORMAT " entries, more than the limit of %"
                   G_GUINT64_FORMAT, (gint64) n, max_entries);
      zip_discard (zip);
      return NULL;
    }

  ImpArchive *ar = g_new0 (ImpArchive, 1);
  ar->zip = zip;
  ar->entries = g_array_new (FALSE, TRUE, sizeof (ImpEntry));
  g_array_set_clear_func (ar->entries, imp_entry_clear);
  ar->by_name = g_hash_table_new (g_str_hash, g_str_equal);

  for (zip_int64_t i = 0; i < n; i++)
    {
      const char *raw = zip_get_name (zip, (zip_uint64_t) i, ZIP_FL_ENC_GUESS);
      if (raw == NULL)
        {
          archive_refuse (ar, NULL);
          continue;
        }
      gsize len = strlen (raw);
      zip_uint8_t opsys = 0;
      zip_uint32_t attr = 0;
      if (zip_file_get_external_attributes (zip, (zip_uint64_t) i, 0, &opsys, &attr) == 0
          && opsys == ZIP_OPSYS_UNIX)
        {
          /* Unix zips keep st_mode in the high 16 bits: refuse anything but
           * regular files and directories (symlinks above all). */
          mode_t mode = (mode_t) (attr >> 16);
          if ((mode & S_IFMT) == S_IFDIR)
            continue;
          if ((mode & S_IFMT) != 0 && (mode & S_IFMT) != S_IFREG)
            {
              archive_refuse (ar, raw);
              continue;
            }
        }
      if (len > 0 && (raw[len - 1] == '/' || raw[len - 1] == '\\'))
        continue; /* a directory entry: nothing to read */
      g_autofree char *name = imp_normalize_name (raw);
      if (name == NULL)
        {
          archive_refuse (ar, raw);
          continue;
        }
      if (g_hash_table_contains (ar->by_name, name))
        {
          /* Two entries with one name: the first wins, the other is refused
           * so a later entry cannot swap what a reference points to. */
          archive_refuse (ar, raw);
          continue;
        }
      zip_stat_t st;
      zip_stat_init (&st);
      if (zip_stat_index (zip, (zip_uint64_t) i, 0, &st) != 0)
        {
          archive_refuse (ar, raw);
          continue;
        }
      ImpEntry e = {
        .name = g_steal_pointer (&name),
        .index = (guint64) i,
        .size = (st.valid & ZIP_STAT_SIZE) ? st.size : 0,
        .comp_size = (st.valid & ZIP_STAT_COMP_SIZE) ? st.comp_size : 0,
        .size_known = (st.valid & ZIP_STAT_SIZE) != 0,
      };
      g_array_append_val (ar->entries, e);
    }
  for (guint i = 0; i < ar->entries->len; i++)
    g_hash_table_insert (ar->by_name, g_array_index (ar->entries, ImpEntry, i).name,
                         GUINT_TO_POINTER (i + 1));
  return ar;
}

void
imp_archive_free (ImpArchive *ar)
{
  if (ar == NULL)
    return;
  g_hash_table_destroy (ar->by_name);
  g_array_unref (ar->entries);
  g_free (ar->first_refused);
  zip_discard (ar->zip);
  g_free (ar);
}

const ImpEntry *
imp_archive_entries (ImpArchive *ar, guint *n_entries)
{
  *n_entries = ar->entries->len;
  return (const ImpEntry *) (gpointer) ar->entries->data;
}

const ImpEntry *
imp_archive_lookup (ImpArchive *ar, const char *name)
{
  guint i = GPOINTER_TO_UINT (g_hash_table_lookup (ar->by_name, name));
  return i == 0 ? NULL : &g_array_index (ar->entries, ImpEntry, i - 1);
}

guint
imp_archive_n_refused (ImpArchive *ar)
{
  return ar->n_refused;
}

const char *
imp_archive_first_refused (ImpArchive *ar)
{
  return ar->first_refused;
}

/* ------------------------------------------------------------ streams */

/* TRUE when `size` bytes out of `comp_size` exceed IMP_MAX_RATIO (sizes up
 * to IMP_RATIO_GRACE always pass). */
static gboolean
over_ratio (guint64 size, guint64 comp_size)
{
  return size > IMP_RATIO_GRACE && size / MAX (comp_size, (guint64) 1) > IMP_MAX_RATIO;
}

ImpStream *
imp_stream_open_entry (ImpArchive *ar, const ImpEntry *entry, ImpBudget *budget, GError **error)
{
  if (entry->size_known && over_ratio (entry->size, entry->comp_size))
    {
      g_set_error (error, IMP_ERROR, IMP_ERROR_BOMB,
                   "“%s” would expand from %" G_GUINT64_FORMAT " to %" G_GUINT64_FORMAT
                   " bytes, more than %d times (a zip bomb?)", entry->name, entry->comp_size,
                   entry->size, IMP_MAX_RATIO);
      return NULL;
    }
  zip_file_t *zf = zip_fopen_index (ar->zip, entry->index, 0);
  if (zf == NULL)
    {
      g_set_error (error, IMP_ERROR, IMP_ERROR_DAMAGED, "cannot open “%s” in the archive: %s",
                   entry->name, zip_strerror (ar->zip));
      return NULL;
    }
  ImpStream *s = g_new0 (ImpStream, 1);
  s->zf = zf;
  s->fd = -1;
  s->what = g_strdup (entry->name);
  s->budget = budget;
  s->comp_size = entry->comp_size;
  s->declared = entry->size_known ? entry->size : G_MAXUINT64;
  return s;
}

ImpStream *
imp_stream_open_file (const char *path, ImpBudget *budget, GError **error)
{
  int fd = g_open (path, O_RDONLY | O_CLOEXEC, 0);
  struct stat st;
  if (fd < 0 || fstat (fd, &st) != 0)
    {
      int saved = errno;
      if (fd >= 0)
        close (fd);
      g_set_error (error, IMP_ERROR, saved == ENOENT ? IMP_ERROR_NOT_FOUND : IMP_ERROR_IO,
                   "cannot open %s: %s", path, g_strerror (saved));
      return NULL;
    }
  if (!S_ISREG (st.st_mode))
    {
      close (fd);
      g_set_error (error, IMP_ERROR, IMP_ERROR_IO, "%s is not a regular file", path);
      return NULL;
    }
  ImpStream *s = g_new0 (ImpStream, 1);
  s->fd = fd;
  s->what = g_path_get_basename (path);
  s->budget = budget;
  return s;
}

void
imp_stream_set_limit (ImpStream *s, guint64 max_bytes)
{
  s->limit = max_bytes;
}

guint64
imp_stream_offset (ImpStream *s)
{
  return s->offset;
}

gssize
imp_stream_read (ImpStream *s, void *buf, gsize len, GError **error)
{
  if (s->limit > 0)
    {
      if (s->offset >= s->limit)
        return 0;
      len = (gsize) MIN ((guint64) len, s->limit - s->offset);
    }
  len = MIN (len, (gsize) G_MAXSSIZE);
  if (len == 0)
    return 0;

  gssize got;
  if (s->zf != NULL)
    {
      zip_int64_t r = zip_fread (s->zf, buf, len);
      if (r < 0)
        {
          g_set_error (error, IMP_ERROR, IMP_ERROR_DAMAGED,
                       "“%s” is damaged after %" G_GUINT64_FORMAT " bytes: %s", s->what,
                       s->offset, zip_file_strerror (s->zf));
          return -1;
        }
      got = (gssize) r;
    }
  else
    {
      do
        got = read (s->fd, buf, len);
      while (got < 0 && errno == EINTR);
      if (got < 0)
        {
          int saved = errno;
          g_set_error (error, IMP_ERROR, IMP_ERROR_IO, "reading %s failed after %"
                       G_GUINT64_FORMAT " bytes: %s", s->what, s->offset, g_strerror (saved));
          return -1;
        }
    }

  /* Count what really came out, whatever the archive declared. */
  if (s->budget != NULL)
    {
      guint64 room = s->budget->max_bytes > s->budget->used
                         ? s->budget->max_bytes - s->budget->used : 0;
      if ((guint64) got > room)
        {
          s->budget->used += room;
          s->offset += room;
          g_set_error (error, IMP_ERROR, IMP_ERROR_LIMIT,
                       "reading “%s” stopped after %" G_GUINT64_FORMAT
                       " bytes: the import size limit of %" G_GUINT64_FORMAT " bytes was reached",
                       s->what, s->offset, s->budget->max_bytes);
          return -1;
        }
      s->budget->used += (guint64) got;
    }
  s->offset += (guint64) got;
  if (s->zf != NULL && s->offset > s->declared)
    {
      /* Checked on what came out: a header claiming 1,000 bytes is held to
       * it, whatever the entry really inflates to. */
      g_set_error (error, IMP_ERROR, IMP_ERROR_BOMB,
                   "“%s” holds more than the %" G_GUINT64_FORMAT
                   " bytes its header declares (a zip bomb?)", s->what, s->declared);
      return -1;
    }
  if (s->zf != NULL && over_ratio (s->offset, s->comp_size))
    {
      g_set_error (error, IMP_ERROR, IMP_ERROR_BOMB,
                   "reading “%s” stopped after %" G_GUINT64_FORMAT
                   " bytes: it expands more than %d times (a zip bomb?)", s->what, s->offset,
                   IMP_MAX_RATIO);
      return -1;
    }
  return got;
}

void
imp_stream_free (ImpStream *s)
{
  if (s == NULL)
    return;
  if (s->zf != NULL)
    zip_fclose (s->zf);
  if (s->fd >= 0)
    close (s->fd);
  g_free (s->what);
  g_free (s);
}

static gboolean
write_all (int fd, const guint8 *buf, gsize len, GError **error)
{
  while (len > 0)
    {
      gssize w = write (fd, buf, len);
      if (w < 0 && errno == EINTR)
        continue;
      if (w <= 0)
        {
          int saved = errno;
          g_set_error (error, IMP_ERROR, IMP_ERROR_IO, "writing an extracted file failed: %s",
                       g_strerror (saved));
          return FALSE;
        }
      buf += w;
      len -= (gsize) w;
    }
  return TRUE;
}

char *
imp_stream_extract (ImpStream *s, const char *work_dir, const char *file_name, guint64 *written,
                    GError **error)
{
  g_return_val_if_fail (strchr (file_name, '/') == NULL, NULL);
  g_autofree char *path = g_build_filename (work_dir, file_name, NULL);
  /* O_NOFOLLOW: a symlink planted in the work dir must not redirect us. */
  int fd = g_open (path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0)
    {
      int saved = errno;
      g_set_error (error, IMP_ERROR, IMP_ERROR_IO, "cannot create %s: %s", path,
                   g_strerror (saved));
      return NULL;
    }
  g_autofree guint8 *buf = g_malloc (IMP_COPY_CHUNK);
  guint64 total = 0;
  gboolean ok = TRUE;
  for (;;)
    {
      gssize n = imp_stream_read (s, buf, IMP_COPY_CHUNK, error);
      if (n < 0)
        {
          ok = FALSE;
          break;
        }
      if (n == 0)
        break;
      if (!write_all (fd, buf, (gsize) n, error))
        {
          ok = FALSE;
          break;
        }
      total += (guint64) n;
    }
  if (close (fd) != 0 && ok)
    {
      int saved = errno;
      g_set_error (error, IMP_ERROR, IMP_ERROR_IO, "writing %s failed: %s", path,
                   g_strerror (saved));
      ok = FALSE;
    }
  if (!ok)
    {
      g_unlink (path);
      return NULL;
    }
  *written = total;
  return g_steal_pointer (&path);
}

char *
imp_output_name (guint64 unique, const char *name)
{
  const char *base = name != NULL ? strrchr (name, '/') : NULL;
  base = base != NULL ? base + 1 : name;
  g_autoptr (GString) safe = g_string_new (NULL);
  for (const char *p = base; p != NULL && *p != '\0' && safe->len < 96; p++)
    g_string_append_c (safe, g_ascii_isalnum (*p) || *p == '.' || *p == '-' || *p == '_'
                                 ? *p : '_');
  if (safe->len == 0 || safe->str[0] == '.')
    g_string_prepend (safe, "file");
  return g_strdup_printf ("%06" G_GUINT64_FORMAT "-%s", unique, safe->str);
}

char *
imp_resolve_beneath (const char *base_dir, const char *rel, GError **error)
{
  g_autofree char *norm = imp_normalize_name (rel);
  if (norm == NULL)
    {
      g_set_error (error, IMP_ERROR, IMP_ERROR_UNSAFE, "refused unsafe path “%s”", rel);
      return NULL;
    }
  g_autofree char *base_real = realpath (base_dir, NULL);
  if (base_real == NULL)
    {
      int saved = errno;
      g_set_error (error, IMP_ERROR, IMP_ERROR_IO, "cannot resolve %s: %s", base_dir,
                   g_strerror (saved));
      return NULL;
    }
  g_autofree char *joined = g_build_filename (base_real, norm, NULL);
  g_autofree char *real = realpath (joined, NULL);
  if (real == NULL)
    {
      int saved = errno;
      g_set_error (error, IMP_ERROR, IMP_ERROR_NOT_FOUND, "%s: %s", norm, g_strerror (saved));
      return NULL;
    }
  gsize blen = strlen (base_real);
  /* Symlinks were resolved by realpath: what matters is where they lead. */
  if (strncmp (real, base_real, blen) != 0
      || (real[blen] != '/' && !(blen == 1 && base_real[0] == '/')))
    {
      g_set_error (error, IMP_ERROR, IMP_ERROR_UNSAFE, "refused “%s”: it leads outside %s", norm,
                   base_dir);
      return NULL;
    }
  struct stat st;
  if (g_stat (real, &st) != 0 || !S_ISREG (st.st_mode))
    {
      g_set_error (error, IMP_ERROR, IMP_ERROR_NOT_FOUND, "%s is not a regular file", norm);
      return NULL;
    }
  return g_steal_pointer (&real);
}
