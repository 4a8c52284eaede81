/* See layer.h. Two libarchive readers in a row: the first only decompresses (format "raw"),
 * reading the fd through raw_read(), which hashes and copies; the second reads the tar from
 * the first through tar_read(), which hashes the uncompressed bytes. */
#include "layer.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "oci.h"
#include "sha256.h"
#include "syscalls.h"
#include "util.h"

#define WHITEOUT ".wh."
#define OPAQUE ".wh..wh..opq"

struct stream {
  int fd, copy_to;
  bool plain; /* not compressed: the tar is the bytes read, hashed once */
  struct sha256 raw, tar;
  long long raw_bytes;
  struct archive *decomp;
  struct layer_progress *progress;
  char rbuf[1 << 16], tbuf[1 << 16];
};

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* At most ten redraws a second: a progress line must not cost the load its speed. */
static void progress_draw(struct layer_progress *p, long long bytes, bool last) {
  long long t = now_ns();
  if (!last && t - p->last_ns < 100000000LL)
    return;
  p->last_ns = t;
  fprintf(stderr, "\rnsbox: layer %d/%d: %.1f MB%s", p->index, p->count, (double)bytes / 1e6,
          last ? "\n" : "");
  fflush(stderr);
}

static ssize_t read_some(struct stream *s) {
  ssize_t n;
  do
    n = read(s->fd, s->rbuf, sizeof(s->rbuf));
  while (n < 0 && errno == EINTR);
  if (n > 0) {
    sha256_update(&s->raw, s->rbuf, (size_t)n);
    s->raw_bytes += n;
    if (s->copy_to >= 0 && write_all(s->copy_to, s->rbuf, (size_t)n) < 0)
      return -1;
    if (s->progress)
      progress_draw(s->progress, s->raw_bytes, false);
  }
  return n;
}

static la_ssize_t raw_read(struct archive *a, void *ud, const void **buf) {
  struct stream *s = ud;
  ssize_t n = read_some(s);
  if (n < 0) {
    archive_set_error(a, errno, "%s", strerror(errno));
    return -1;
  }
  *buf = s->rbuf;
  return n;
}

static la_ssize_t tar_read(struct archive *a, void *ud, const void **buf) {
  struct stream *s = ud;
  la_ssize_t n = archive_read_data(s->decomp, s->tbuf, sizeof(s->tbuf));
  if (n < 0) {
    archive_set_error(a, archive_errno(s->decomp), "%s", archive_error_string(s->decomp));
    return -1;
  }
  if (!s->plain)
    sha256_update(&s->tar, s->tbuf, (size_t)n);
  *buf = s->tbuf;
  return n;
}

/* The tar may end before its stream does (record padding, a gzip trailer): the rest counts
 * for both digests all the same. */
static int drain(struct stream *s, nsbox_error_t *err) {
  la_ssize_t n;
  while ((n = archive_read_data(s->decomp, s->tbuf, sizeof(s->tbuf))) > 0)
    if (!s->plain)
      sha256_update(&s->tar, s->tbuf, (size_t)n);
  if (n < 0)
    return nsbox_fail(err, 0, "%s", archive_error_string(s->decomp));
  ssize_t r;
  while ((r = read_some(s)) > 0)
    ;
  return r < 0 ? nsbox_fail(err, errno, "read") : 0;
}

/* ---- entries ---- */

bool tar_path_escapes(const char *p) {
  if (p[0] == '/')
    return true;
  for (const char *c = p; *c;) {
    const char *e = strchr(c, '/');
    size_t len = e ? (size_t)(e - c) : strlen(c);
    if (len == 2 && c[0] == '.' && c[1] == '.')
      return true;
    c += len;
    while (*c == '/')
      c++;
  }
  return false;
}

/* The directory dir (relative to the layer's root, "" for the root itself), created when
 * missing; no symlink is followed on the way, so a whiteout lands in the layer's own tree. */
static int open_layer_dir(const char *dir, nsbox_error_t *err) {
  int fd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  char buf[PATH_MAX];
  if (snprintf(buf, sizeof(buf), "%s", dir) >= (int)sizeof(buf)) {
    close(fd);
    return nsbox_fail(err, ENAMETOOLONG, "%s", dir);
  }
  char *save = NULL;
  for (char *c = strtok_r(buf, "/", &save); c && fd >= 0; c = strtok_r(NULL, "/", &save)) {
    if (strcmp(c, ".") == 0)
      continue;
    if (mkdirat(fd, c, 0755) < 0 && errno != EEXIST) {
      close(fd);
      return nsbox_fail(err, errno, "mkdir %s", dir);
    }
    int next = sys_openat2(fd, c, O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW, 0,
                           RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS);
    close(fd);
    fd = next;
  }
  if (fd < 0)
    return nsbox_fail(err, errno, "open %s in the layer", dir);
  return fd;
}

/* `.wh.NAME` and `.wh..wh..opq` (base is the entry's last component, dir the rest). */
static int whiteout(const char *dir, const char *base, bool userxattr, nsbox_error_t *err) {
  cleanup_close int dfd = open_layer_dir(dir, err);
  if (dfd < 0)
    return -1;
  if (strcmp(base, OPAQUE) == 0) {
    /* An O_PATH fd cannot carry xattrs; /proc/self/fd/N reaches the directory itself. */
    char p[64];
    snprintf(p, sizeof(p), "/proc/self/fd/%d", dfd);
    const char *name = userxattr ? "user.overlay.opaque" : "trusted.overlay.opaque";
    if (setxattr(p, name, "y", 1, 0) < 0)
      return nsbox_fail(err, errno, "mark %s opaque (%s)", *dir ? dir : ".", name);
    return 0;
  }
  if (strncmp(base, WHITEOUT WHITEOUT, 8) == 0)
    return 0; /* aufs's own files (.wh..wh.plnk, .wh..wh.aufs): nothing for overlay */
  const char *name = base + strlen(WHITEOUT);
  if (*name == '\0' || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
    return nsbox_fail(err, 0, "malformed whiteout %s/%s", dir, base);
  /* A whiteout hides what lower layers have; what this layer itself has under the name
   * stays (no order of the two is promised). */
  if (mknodat(dfd, name, S_IFCHR | 0, makedev(0, 0)) < 0 && errno != EEXIST)
    return nsbox_fail(err, errno, "whiteout %s/%s", *dir ? dir : ".", name);
  return 0;
}

/* Overlay's own xattrs in a layer would steer overlay's lookups (redirects, metacopy):
 * dropped, with trusted.* as a whole, which only the host's root may set. */
static void drop_overlay_xattrs(struct archive_entry *e) {
  if (archive_entry_xattr_reset(e) == 0)
    return;
  struct {
    char *name;
    void *value;
    size_t size;
  } keep[64];
  size_t n = 0;
  const char *name;
  const void *value;
  size_t size;
  bool dropped = false;
  while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
    if (strncmp(name, "trusted.", 8) == 0 || strncmp(name, "user.overlay.", 13) == 0 ||
        n == sizeof(keep) / sizeof(keep[0])) {
      dropped = true;
      continue;
    }
    keep[n].name = xstrdup(name);
    keep[n].value = xmalloc(size ? size : 1);
    memcpy(keep[n].value, value, size);
    keep[n].size = size;
    n++;
  }
  if (dropped) {
    archive_entry_xattr_clear(e);
    for (size_t i = 0; i < n; i++)
      archive_entry_xattr_add_entry(e, keep[i].name, keep[i].value, keep[i].size);
  }
  for (size_t i = 0; i < n; i++) {
    free(keep[i].name);
    free(keep[i].value);
  }
}

static int copy_data(struct archive *in, struct archive *out, nsbox_error_t *err) {
  const void *buf;
  size_t size;
  la_int64_t off;
  for (;;) {
    int r = archive_read_data_block(in, &buf, &size, &off);
    if (r == ARCHIVE_EOF)
      return 0;
    if (r < ARCHIVE_WARN)
      return nsbox_fail(err, 0, "%s", archive_error_string(in));
    if (archive_write_data_block(out, buf, size, off) < ARCHIVE_WARN)
      return nsbox_fail(err, 0, "%s", archive_error_string(out));
  }
}

/* Rootless, only mapped ids exist inside: other owners become root. */
static void map_owner(const struct nsbox_idmaps *maps, struct archive_entry *e,
                      struct layer_result *res) {
  bool um = false;
  if (!idmaps_maps(maps, true, (unsigned long)archive_entry_uid(e))) {
    archive_entry_set_uid(e, 0);
    um = true;
  }
  if (!idmaps_maps(maps, false, (unsigned long)archive_entry_gid(e))) {
    archive_entry_set_gid(e, 0);
    um = true;
  }
  res->unmapped_ids += um;
}

static int unpack_entry(const struct layer_job *job, struct archive *in, struct archive *out,
                        struct archive_entry *e, struct layer_result *res, nsbox_error_t *err) {
  const char *path = archive_entry_pathname(e);
  while (path && path[0] == '.' && path[1] == '/')
    path += 2;
  if (path == NULL || *path == '\0' || strcmp(path, ".") == 0 || strcmp(path, "./") == 0)
    return 0; /* the root itself: the store made it */
  if (tar_path_escapes(path))
    return nsbox_fail(err, 0, "refusing entry \"%.200s\": it leads outside the image",
                      archive_entry_pathname(e));
  const char *hl = archive_entry_hardlink(e);
  if (hl && tar_path_escapes(hl))
    return nsbox_fail(err, 0,
                      "refusing hard link \"%.200s\" -> \"%.200s\": it leads outside the "
                      "image",
                      path, hl);
  char rel[PATH_MAX];
  if (snprintf(rel, sizeof(rel), "%s", path) >= (int)sizeof(rel))
    return nsbox_fail(err, ENAMETOOLONG, "%.100s...", path);
  size_t len = strlen(rel);
  while (len > 1 && rel[len - 1] == '/')
    rel[--len] = '\0';
  char *slash = strrchr(rel, '/');
  const char *base = slash ? slash + 1 : rel;
  if (strncmp(base, WHITEOUT, 4) == 0) {
    if (slash)
      *slash = '\0';
    return whiteout(slash ? rel : "", base, job->userxattr, err);
  }
  archive_entry_set_pathname(e, path);

  mode_t type = archive_entry_filetype(e);
  if (((type == AE_IFCHR || type == AE_IFBLK) && !job->can_mknod) || type == AE_IFSOCK) {
    res->skipped_devices++;
    return 0;
  }
  if (job->maps)
    map_owner(job->maps, e, res);
  drop_overlay_xattrs(e);
  if (archive_write_header(out, e) < ARCHIVE_WARN)
    return nsbox_fail(err, 0, "unpack \"%.200s\": %s", path, archive_error_string(out));
  if (archive_entry_size(e) > 0 && copy_data(in, out, err) < 0)
    return nsbox_wrap(err, "unpack \"%.200s\"", path);
  if (archive_write_finish_entry(out) < ARCHIVE_WARN)
    return nsbox_fail(err, 0, "unpack \"%.200s\": %s", path, archive_error_string(out));
  res->files++;
  if (type == AE_IFREG)
    res->size += archive_entry_size(e);
  return 0;
}

static int unpack_entries(const struct layer_job *job, struct archive *in, struct archive *out,
                          struct layer_result *res, nsbox_error_t *err) {
  struct archive_entry *e;
  int h;
  while ((h = archive_read_next_header(in, &e)) != ARCHIVE_EOF) {
    if (h < ARCHIVE_WARN)
      return nsbox_fail(err, 0, "%s", archive_error_string(in));
    if (job->dir == NULL)
      continue; /* hashing only: the data is read (and hashed) by the next header */
    if (unpack_entry(job, in, out, e, res, err) < 0)
      return -1;
  }
  return 0;
}

static enum layer_compression compression_of(struct archive *a) {
  switch (archive_filter_code(a, 0)) {
  case ARCHIVE_FILTER_GZIP:
    return LAYER_GZIP;
  case ARCHIVE_FILTER_ZSTD:
    return LAYER_ZSTD;
  default:
    return LAYER_TAR;
  }
}

const char *layer_media_type(enum layer_compression c) {
  return c == LAYER_GZIP ? OCI_LAYER_GZIP : c == LAYER_ZSTD ? OCI_LAYER_ZSTD : OCI_LAYER_TAR;
}

static struct archive *disk_writer(void) {
  struct archive *out = archive_write_disk_new();
  if (out)
    archive_write_disk_set_options(
        out, ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME |
                 ARCHIVE_EXTRACT_XATTR | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                 ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS);
  return out;
}

static int unpack_stream(const struct layer_job *job, struct stream *s, struct layer_result *res,
                         nsbox_error_t *err) {
  struct archive *tar = archive_read_new(), *out = disk_writer();
  struct archive_entry *raw_entry;
  int r = -1;
  if (s->decomp == NULL || tar == NULL || out == NULL) {
    nsbox_fail(err, ENOMEM, "libarchive");
    goto done;
  }
  archive_read_support_filter_none(s->decomp);
  archive_read_support_filter_gzip(s->decomp);
  archive_read_support_filter_zstd(s->decomp);
  archive_read_support_format_raw(s->decomp);
  archive_read_support_format_tar(tar);
  if (archive_read_open(s->decomp, s, NULL, raw_read, NULL) != ARCHIVE_OK ||
      archive_read_next_header(s->decomp, &raw_entry) != ARCHIVE_OK) {
    nsbox_fail(err, 0, "%s", archive_error_string(s->decomp));
    goto done;
  }
  res->compression = compression_of(s->decomp);
  s->plain = res->compression == LAYER_TAR;
  if (archive_read_open(tar, s, NULL, tar_read, NULL) != ARCHIVE_OK) {
    nsbox_fail(err, 0, "%s", archive_error_string(tar));
    goto done;
  }
  r = unpack_entries(job, tar, out, res, err);
  if (r == 0)
    r = drain(s, err);
done:
  if (out)
    archive_write_free(out);
  if (tar)
    archive_read_free(tar);
  return r;
}

int layer_unpack(const struct layer_job *job, struct layer_result *res, nsbox_error_t *err) {
  memset(res, 0, sizeof(*res));
  if (job->dir && chdir(job->dir) < 0)
    return nsbox_fail(err, errno, "chdir %s", job->dir);
  struct stream *s = xmalloc(sizeof(*s));
  s->fd = job->fd;
  s->copy_to = job->copy_to;
  s->raw_bytes = 0;
  s->plain = false;
  s->progress = job->progress;
  sha256_init(&s->raw);
  sha256_init(&s->tar);
  s->decomp = archive_read_new();
  int r = unpack_stream(job, s, res, err);
  if (s->decomp)
    archive_read_free(s->decomp);
  if (r == 0) {
    sha256_hex(&s->raw, res->digest);
    if (s->plain)
      memcpy(res->diff_id, res->digest, 65);
    else
      sha256_hex(&s->tar, res->diff_id);
    res->read_bytes = s->raw_bytes;
    if (s->progress)
      progress_draw(s->progress, s->raw_bytes, true);
  }
  free(s);
  return r;
}
