/* image save (image.h): an oci-archive, the tar of an OCI image layout holding the image's
 * manifest, config and layer blobs exactly as loaded, so that every digest still holds. The
 * index names the image by its full reference, as podman's archives do. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image.h"
#include "image_store.h"
#include "sha256.h"
#include "util.h"

static int put_header(struct archive *a, const char *name, int64_t size, nsbox_error_t *err) {
  struct archive_entry *e = archive_entry_new();
  archive_entry_set_pathname(e, name);
  archive_entry_set_filetype(e, name[strlen(name) - 1] == '/' ? AE_IFDIR : AE_IFREG);
  archive_entry_set_perm(e, archive_entry_filetype(e) == AE_IFDIR ? 0755 : 0644);
  archive_entry_set_size(e, size);
  archive_entry_set_mtime(e, 0, 0);
  int r = archive_write_header(a, e);
  archive_entry_free(e);
  return r < ARCHIVE_WARN ? nsbox_fail(err, 0, "%s: %s", name, archive_error_string(a)) : 0;
}

static int put_text(struct archive *a, const char *name, const char *text, size_t len,
                    nsbox_error_t *err) {
  if (put_header(a, name, (int64_t)len, err) < 0)
    return -1;
  if (archive_write_data(a, text, len) != (la_ssize_t)len)
    return nsbox_fail(err, 0, "%s: %s", name, archive_error_string(a));
  return 0;
}

/* A layer blob of the store, checked to be as long as the manifest says. */
static int put_blob(struct nsbox_store *s, struct archive *a, const struct oci_descriptor *d,
                    nsbox_error_t *err) {
  cleanup_free char *path = image_path(s, "blobs/sha256/%s", d->digest);
  cleanup_free char *name = xasprintf("blobs/sha256/%s", d->digest);
  cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) < 0)
    return nsbox_fail(err, errno, "layer blob %.12s", d->digest);
  if (st.st_size != d->size)
    return nsbox_fail(err, 0, "layer blob %.12s has %lld bytes, not %lld", d->digest,
                      (long long)st.st_size, (long long)d->size);
  if (put_header(a, name, d->size, err) < 0)
    return -1;
  char buf[1 << 16];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0)
    if (archive_write_data(a, buf, (size_t)n) != n)
      return nsbox_fail(err, 0, "%s: %s", name, archive_error_string(a));
  return n < 0 ? nsbox_fail(err, errno, "read %s", path) : 0;
}

static int write_archive(struct nsbox_store *s, const struct image_rec *r, const char *ref, int fd,
                         nsbox_error_t *err) {
  static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
  struct oci_descriptor md = {.media_type = OCI_MANIFEST, .size = (int64_t)r->manifest_len};
  sha256_buf_hex(r->manifest_text, r->manifest_len, md.digest);
  cleanup_free char *index = oci_index_make(&md, ref);
  cleanup_free char *mname = xasprintf("blobs/sha256/%s", md.digest);
  cleanup_free char *cname = xasprintf("blobs/sha256/%s", r->manifest.config.digest);
  struct archive *a = archive_write_new();
  if (a == NULL)
    return nsbox_fail(err, ENOMEM, "libarchive");
  archive_write_set_format_pax_restricted(a);
  int rc = archive_write_open_fd(a, fd) != ARCHIVE_OK
               ? nsbox_fail(err, 0, "%s", archive_error_string(a))
               : 0;
  if (rc == 0)
    rc = put_text(a, "oci-layout", layout, strlen(layout), err);
  if (rc == 0)
    rc = put_text(a, "index.json", index, strlen(index), err);
  if (rc == 0)
    rc = put_header(a, "blobs/", 0, err);
  if (rc == 0)
    rc = put_header(a, "blobs/sha256/", 0, err);
  if (rc == 0)
    rc = put_text(a, mname, r->manifest_text, r->manifest_len, err);
  if (rc == 0)
    rc = put_text(a, cname, r->config_text, r->config_len, err);
  for (size_t i = 0; rc == 0 && i < r->manifest.n_layers; i++)
    rc = put_blob(s, a, &r->manifest.layers[i], err);
  if (archive_write_close(a) != ARCHIVE_OK && rc == 0)
    rc = nsbox_fail(err, 0, "%s", archive_error_string(a));
  archive_write_free(a);
  return rc;
}

int image_save(struct nsbox_store *s, const char *ref, const char *file, nsbox_error_t *err) {
  char id[65];
  struct image_rec r;
  cleanup_close int lock = image_lock(s, LOCK_SH, err);
  if (lock < 0 || image_find(s, ref, id, err) < 0 || image_read(s, id, &r, err) < 0)
    return -1;
  /* The name as given when it is one, for the index; an id names nothing. */
  cleanup_free char *norm = strncmp(id, ref, strlen(ref)) == 0 ? NULL : image_normalize_ref(ref);
  int rc;
  if (strcmp(file, "-") == 0) {
    rc = write_archive(s, &r, norm, STDOUT_FILENO, err);
  } else {
    /* Written aside and renamed: a failed save leaves no half archive under the name. */
    cleanup_free char *tmp = xasprintf("%s.tmp-%d", file, (int)getpid());
    cleanup_close int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    rc = fd < 0 ? nsbox_fail(err, errno, "create %s", tmp) : write_archive(s, &r, norm, fd, err);
    if (rc == 0 && fsync(fd) < 0)
      rc = nsbox_fail(err, errno, "write %s", tmp);
    if (rc == 0 && rename(tmp, file) < 0)
      rc = nsbox_fail(err, errno, "rename %s to %s", tmp, file);
    if (rc < 0 && fd >= 0)
      unlink(tmp);
  }
  image_rec_free(&r);
  return rc;
}
