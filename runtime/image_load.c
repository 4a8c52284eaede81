/* image load and image import (image.h). Everything here runs in the image worker child
 * (image_task), as the owner of the store's files.
 *
 * An archive is first unpacked into images/.tmp-load-* and then read as a directory, since
 * neither format promises an order of its files. Every blob is checked against its digest and
 * size before anything refers to it; a layer is unpacked into a temporary directory, its
 * digests checked, and only then renamed into place. Whatever fails leaves temporary files
 * only, which image_collect() removes. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "image.h"
#include "image_store.h"
#include "layer.h"
#include "sha256.h"
#include "syscalls.h"
#include "util.h"

struct load {
  struct nsbox_store *s;
  const char *path, *name;
  int src;          /* the layout's directory */
  char *tmp;        /* the unpacked archive, removed at the end */
  int layers_done;  /* for the progress line */
  int layers_total; /* of the image being loaded */
  bool tty;
};

/* ---- reading the source ---- */

/* Opens rel inside the source directory; symlinks in it (podman's archives have them) stay
 * inside. */
static int open_src(struct load *l, const char *rel, nsbox_error_t *err) {
  int fd = sys_openat2(l->src, rel, O_RDONLY | O_CLOEXEC | O_NOCTTY, 0,
                       RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
  if (fd < 0)
    return nsbox_fail(err, errno, "%s: open %s", l->path, rel);
  struct stat st;
  if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return nsbox_fail(err, 0, "%s: %s is not a regular file", l->path, rel);
  }
  return fd;
}

/* A JSON document of the source, whole; digest, when not NULL, is what it must hash to
 * (with size, unless size < 0). */
static int read_src_json(struct load *l, const char *rel, const char *digest, int64_t size,
                         char **text, size_t *len, nsbox_error_t *err) {
  cleanup_close int fd = open_src(l, rel, err);
  if (fd < 0)
    return -1;
  struct stat st;
  if (fstat(fd, &st) < 0 || st.st_size > IMAGE_JSON_MAX)
    return nsbox_fail(err, 0, "%s: %s is larger than %d bytes", l->path, rel, IMAGE_JSON_MAX);
  ssize_t n = read_fd(fd, text);
  if (n < 0)
    return nsbox_fail(err, (int)-n, "%s: read %s", l->path, rel);
  *len = (size_t)n;
  char got[65];
  sha256_buf_hex(*text, *len, got);
  if ((digest && strcmp(got, digest) != 0) || (digest && size >= 0 && (int64_t)*len != size)) {
    free(*text);
    *text = NULL;
    return nsbox_fail(err, 0, "%s: %s does not match its digest (sha256:%.12s..., want %.12s...)",
                      l->path, rel, got, digest);
  }
  return 0;
}

static char *blob_rel(const char *hex) {
  return xasprintf("blobs/sha256/%s", hex);
}

/* ---- unpacking an archive into a directory ---- */

static int unpack_archive_entry(struct archive *in, struct archive *out, struct archive_entry *e,
                                nsbox_error_t *err) {
  const char *p = archive_entry_pathname(e);
  const char *hl = archive_entry_hardlink(e);
  mode_t t = archive_entry_filetype(e);
  if (p == NULL || tar_path_escapes(p) || (hl && tar_path_escapes(hl)))
    return nsbox_fail(err, 0, "refusing entry \"%.200s\": it leads outside the archive",
                      p ? p : "");
  if (t != AE_IFREG && t != AE_IFDIR && t != AE_IFLNK)
    return nsbox_fail(err, 0, "refusing entry \"%.200s\": not a file, directory or symlink", p);
  archive_entry_set_perm(e, t == AE_IFDIR ? 0700 : 0600);
  if (archive_write_header(out, e) < ARCHIVE_WARN)
    return nsbox_fail(err, 0, "unpack \"%.200s\": %s", p, archive_error_string(out));
  const void *buf;
  size_t size;
  la_int64_t off;
  int r;
  while ((r = archive_read_data_block(in, &buf, &size, &off)) == ARCHIVE_OK)
    if (archive_write_data_block(out, buf, size, off) < ARCHIVE_WARN)
      return nsbox_fail(err, 0, "unpack \"%.200s\": %s", p, archive_error_string(out));
  if (r != ARCHIVE_EOF)
    return nsbox_fail(err, 0, "%s", archive_error_string(in));
  if (archive_write_finish_entry(out) < ARCHIVE_WARN)
    return nsbox_fail(err, 0, "unpack \"%.200s\": %s", p, archive_error_string(out));
  return 0;
}

static int unpack_archive(int fd, const char *dir, nsbox_error_t *err) {
  if (chdir(dir) < 0)
    return nsbox_fail(err, errno, "chdir %s", dir);
  struct archive *in = archive_read_new(), *out = archive_write_disk_new();
  if (in == NULL || out == NULL)
    return nsbox_fail(err, ENOMEM, "libarchive");
  archive_read_support_filter_none(in);
  archive_read_support_filter_gzip(in);
  archive_read_support_filter_zstd(in);
  archive_read_support_format_tar(in);
  archive_write_disk_set_options(out, ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                                          ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                                          ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS);
  int r = 0;
  if (archive_read_open_fd(in, fd, 1 << 16) != ARCHIVE_OK) {
    r = nsbox_fail(err, 0, "%s", archive_error_string(in));
  } else {
    struct archive_entry *e;
    int h;
    while (r == 0 && (h = archive_read_next_header(in, &e)) != ARCHIVE_EOF)
      r = h < ARCHIVE_WARN ? nsbox_fail(err, 0, "%s", archive_error_string(in))
                           : unpack_archive_entry(in, out, e, err);
  }
  archive_write_free(out);
  archive_read_free(in);
  if (chdir("/") < 0)
    return nsbox_fail(err, errno, "chdir /");
  return r;
}

/* ---- layers ---- */

struct layer_want {
  const char *digest;     /* expected blob digest, or NULL (docker save: not known) */
  int64_t size;           /* expected blob size, or -1 */
  const char *diff_id;    /* expected (the config's), or NULL (import: not known) */
  const char *rel;        /* the blob inside the source */
  const char *media_type; /* NULL: from what the blob turns out to be */
};

/* Makes a fresh temporary path in images/SUB. */
static char *tmp_path(struct nsbox_store *s, const char *sub) {
  char r[65];
  random_hex_id(r);
  return image_path(s, "%s/.tmp-%.16s", sub, r);
}

/* Puts an unpacked layer and its blob in place (another load may have done so first). */
static int commit_layer(struct nsbox_store *s, const char *tmpdir, const char *tmpblob,
                        const struct layer_result *res, nsbox_error_t *err) {
  cleanup_free char *dir = image_path(s, "layers/%s", res->diff_id);
  cleanup_free char *sizef = image_path(s, "layers/%s.size", res->diff_id);
  cleanup_free char *link = image_path(s, "l/%.*s", LAYER_SHORT, res->diff_id);
  cleanup_free char *target = xasprintf("../layers/%s", res->diff_id);
  cleanup_free char *blob = image_path(s, "blobs/sha256/%s", res->digest);
  if (tmpblob && rename(tmpblob, blob) < 0)
    return nsbox_fail(err, errno, "rename %s", tmpblob);
  if (tmpdir == NULL)
    return 0;
  if (rename(tmpdir, dir) < 0) {
    if (errno != EEXIST && errno != ENOTEMPTY)
      return nsbox_fail(err, errno, "rename %s", tmpdir);
    rm_rf_at(AT_FDCWD, tmpdir);
  }
  char sz[32];
  int n = snprintf(sz, sizeof(sz), "%lld\n", res->size);
  int r = write_file_at(AT_FDCWD, sizef, sz, (size_t)n, 0600, true);
  if (r < 0)
    return nsbox_fail(err, -r, "write %s", sizef);
  char old[PATH_MAX];
  ssize_t len = readlink(link, old, sizeof(old) - 1);
  if (len >= 0) {
    old[len] = '\0';
    if (strcmp(old, target) != 0)
      return nsbox_fail(err, 0,
                        "layers %s and %s share their first %d digits; nsbox cannot keep "
                        "both",
                        old + 10, res->diff_id, LAYER_SHORT);
    return 0;
  }
  if (symlink(target, link) < 0 && errno != EEXIST)
    return nsbox_fail(err, errno, "symlink %s", link);
  return 0;
}

static int check_layer(struct load *l, const struct layer_want *w, const struct layer_result *res,
                       nsbox_error_t *err) {
  if (w->digest && strcmp(res->digest, w->digest) != 0)
    return nsbox_fail(err, 0, "%s: layer %s does not match its digest (got sha256:%.12s...)",
                      l->path, w->rel, res->digest);
  if (w->size >= 0 && res->read_bytes != w->size)
    return nsbox_fail(err, 0, "%s: layer %s has %lld bytes, not %lld", l->path, w->rel,
                      res->read_bytes, (long long)w->size);
  if (w->diff_id && strcmp(res->diff_id, w->diff_id) != 0)
    return nsbox_fail(err, 0,
                      "%s: layer %s does not match the config's diff_id (got "
                      "sha256:%.12s..., want %.12s...)",
                      l->path, w->rel, res->diff_id, w->diff_id);
  return 0;
}

static void layer_notices(const struct layer_result *res) {
  if (res->skipped_devices > 0)
    nsbox_notice("layer %.12s: skipped %ld device nodes and sockets: they cannot be created "
                 "without root",
                 res->diff_id, res->skipped_devices);
  if (res->unmapped_ids > 0)
    nsbox_notice("layer %.12s: %ld files belong to users other than root; without a range in "
                 "/etc/subuid and /etc/subgid they are owned by root in the container",
                 res->diff_id, res->unmapped_ids);
}

/* Reads layer blob `in` into the store: unpacked (unless unpack is false: the layer is there
 * already) and copied, both checked against w, then renamed into place. */
static int store_layer(struct load *l, int in, const struct layer_want *w, bool unpack,
                       struct layer_result *res, nsbox_error_t *err) {
  struct nsbox_store *s = l->s;
  cleanup_free char *tmpdir = unpack ? tmp_path(s, "layers") : NULL;
  cleanup_free char *tmpblob = tmp_path(s, "blobs");
  cleanup_close int out = open(tmpblob, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (out < 0)
    return nsbox_fail(err, errno, "create %s", tmpblob);
  if (tmpdir && mkdir(tmpdir, 0755) < 0)
    return nsbox_fail(err, errno, "mkdir %s", tmpdir);
  struct layer_progress prog = {.index = ++l->layers_done, .count = l->layers_total};
  struct layer_job job = {.fd = in,
                          .copy_to = out,
                          .dir = tmpdir,
                          .maps = s->rootless ? &s->idmaps : NULL,
                          .can_mknod = !s->rootless,
                          .userxattr = s->rootless,
                          .progress = l->tty ? &prog : NULL};
  int r = layer_unpack(&job, res, err);
  if (r == 0 && unpack && res->files == 0 && w->diff_id == NULL)
    r = nsbox_fail(err, 0, "the archive holds no files");
  if (r == 0)
    r = check_layer(l, w, res, err);
  if (r == 0 && fsync(out) < 0)
    r = nsbox_fail(err, errno, "write %s", tmpblob);
  if (r == 0)
    r = commit_layer(s, tmpdir, tmpblob, res, err);
  if (r < 0) {
    unlink(tmpblob);
    if (tmpdir)
      rm_rf_at(AT_FDCWD, tmpdir);
    return -1;
  }
  layer_notices(res);
  return 0;
}

/* One layer of an image; when it is in the store already, only its blob is read (and kept),
 * or nothing at all when that is there too. desc gets what the blob is, for the manifest. */
static int load_layer(struct load *l, const struct layer_want *w, struct oci_descriptor *desc,
                      nsbox_error_t *err) {
  bool have_layer = image_layer_present(l->s, w->diff_id);
  /* docker save's layers are plain tars: their blob's digest is their diff_id. */
  const char *blob_id = w->digest ? w->digest : w->diff_id;
  cleanup_free char *blob = image_path(l->s, "blobs/sha256/%s", blob_id);
  struct stat st;
  if (have_layer && stat(blob, &st) == 0 && (w->size < 0 || st.st_size == w->size)) {
    l->layers_done++;
    memcpy(desc->digest, blob_id, 65);
    desc->size = st.st_size;
    desc->media_type = xstrdup(w->media_type ? w->media_type : OCI_LAYER_TAR);
    return 0;
  }
  cleanup_close int in = open_src(l, w->rel, err);
  struct layer_result res;
  if (in < 0 || store_layer(l, in, w, !have_layer, &res, err) < 0)
    return -1;
  memcpy(desc->digest, res.digest, 65);
  desc->size = res.read_bytes;
  desc->media_type = xstrdup(w->media_type ? w->media_type : layer_media_type(res.compression));
  return 0;
}

/* ---- the image record ---- */

static int write_doc(int dirfd, const char *name, const char *text, size_t len,
                     nsbox_error_t *err) {
  int r = write_file_at(dirfd, name, text, len, 0600, false);
  return r < 0 ? nsbox_fail(err, -r, "write %s", name) : 0;
}

/* Stores manifest and config as by-id/ID (ID: the config's digest) and tags it. */
static int commit_image(struct load *l, const char *manifest, size_t mlen, const char *config,
                        size_t clen, const char *name, char id[65], nsbox_error_t *err) {
  struct nsbox_store *s = l->s;
  sha256_buf_hex(config, clen, id);
  cleanup_free char *dir = image_path(s, "by-id/%s", id);
  cleanup_free char *tmp = tmp_path(s, "by-id");
  if (mkdir(tmp, 0700) < 0)
    return nsbox_fail(err, errno, "mkdir %s", tmp);
  cleanup_close int dfd = open(tmp, O_PATH | O_DIRECTORY | O_CLOEXEC);
  int r = dfd < 0 ? nsbox_fail(err, errno, "open %s", tmp) : 0;
  if (r == 0)
    r = write_doc(dfd, "manifest.json", manifest, mlen, err);
  if (r == 0)
    r = write_doc(dfd, "config.json", config, clen, err);
  if (r == 0 && rename(tmp, dir) < 0 && errno != EEXIST && errno != ENOTEMPTY)
    r = nsbox_fail(err, errno, "rename %s", tmp);
  rm_rf_at(AT_FDCWD, tmp); /* gone when renamed; else a copy of what is there already */
  if (r == 0)
    r = image_tag(s, name, id, err);
  return r;
}

/* The layers of an image whose config (already checked) says what they must be. */
static int load_layers(struct load *l, const struct oci_image_config *cfg,
                       const struct layer_want *wants, struct oci_descriptor *descs,
                       nsbox_error_t *err) {
  l->layers_done = 0;
  l->layers_total = (int)cfg->n_diff_ids;
  for (size_t i = 0; i < cfg->n_diff_ids; i++)
    if (load_layer(l, &wants[i], &descs[i], err) < 0)
      return -1;
  return 0;
}

static char *normalized_or_fail(const char *name, const char *what, nsbox_error_t *err) {
  char *norm = image_normalize_ref(name);
  if (norm == NULL)
    nsbox_fail(err, 0, "%s: invalid image name \"%.100s\"", what, name);
  return norm;
}

/* ---- OCI image layouts ---- */

static bool arch_is_ours(const char *arch) {
  return arch == NULL || strcmp(arch, oci_arch()) == 0;
}

/* One image of the layout: manifest -> config -> layers. */
static int load_manifest(struct load *l, const struct oci_descriptor *d, const char *name,
                         nsbox_error_t *err) {
  cleanup_free char *mrel = blob_rel(d->digest);
  cleanup_free char *mtext = NULL, *ctext = NULL, *crel = NULL;
  size_t mlen, clen;
  struct oci_manifest m = {0};
  struct oci_image_config cfg = {0};
  struct layer_want *wants = NULL;
  struct oci_descriptor *descs = NULL;
  int r = read_src_json(l, mrel, d->digest, d->size, &mtext, &mlen, err);
  if (r == 0 && (r = oci_manifest_parse(mtext, mlen, &m, err)) < 0)
    nsbox_wrap(err, "%s: manifest %s", l->path, mrel);
  if (r == 0) {
    crel = blob_rel(m.config.digest);
    r = read_src_json(l, crel, m.config.digest, m.config.size, &ctext, &clen, err);
  }
  if (r == 0 && (r = oci_config_parse(ctext, clen, &cfg, err)) < 0)
    nsbox_wrap(err, "%s: config %s", l->path, crel);
  if (r == 0 && cfg.n_diff_ids != m.n_layers)
    r = nsbox_fail(err, 0, "%s: the manifest has %zu layers, the config %zu diff_ids", l->path,
                   m.n_layers, cfg.n_diff_ids);
  if (r == 0 && m.n_layers == 0)
    r = nsbox_fail(err, 0, "%s: the image has no layers", l->path);
  if (r == 0) {
    wants = xmalloc(m.n_layers * sizeof(*wants));
    descs = xmalloc(m.n_layers * sizeof(*descs));
    memset(descs, 0, m.n_layers * sizeof(*descs));
  }
  char **rels = r == 0 ? xmalloc((m.n_layers + 1) * sizeof(char *)) : NULL;
  for (size_t i = 0; r == 0 && i < m.n_layers; i++) {
    rels[i] = blob_rel(m.layers[i].digest);
    rels[i + 1] = NULL;
    if (!oci_layer_type_known(m.layers[i].media_type))
      r = nsbox_fail(err, 0, "%s: layer %zu has media type %.100s, which nsbox cannot unpack",
                     l->path, i + 1, m.layers[i].media_type ? m.layers[i].media_type : "(none)");
    wants[i] = (struct layer_want){.digest = m.layers[i].digest,
                                   .size = m.layers[i].size,
                                   .diff_id = cfg.diff_ids[i],
                                   .rel = rels[i],
                                   .media_type = m.layers[i].media_type};
  }
  if (r == 0)
    r = load_layers(l, &cfg, wants, descs, err);
  char id[65];
  if (r == 0)
    r = commit_image(l, mtext, mlen, ctext, clen, name, id, err);
  if (r == 0)
    printf("Loaded image: %s\n", name);
  strv_free(rels);
  free(wants);
  oci_descriptors_free(descs, m.n_layers);
  oci_manifest_free(&m);
  oci_config_free(&cfg);
  return r;
}

static bool is_index_type(const char *t) {
  return t && (strcmp(t, OCI_INDEX) == 0 || strcmp(t, DOCKER_MANIFEST_LIST) == 0);
}

/* The manifest of an index entry: itself, or from a nested index (a multi-platform image)
 * the one for this machine. *out is d or a descriptor of *owned. */
static int pick_manifest(struct load *l, const struct oci_descriptor *d, int depth,
                         struct oci_descriptor **owned, size_t *n_owned,
                         const struct oci_descriptor **out, nsbox_error_t *err) {
  if (!is_index_type(d->media_type)) {
    *out = d;
    return 0;
  }
  if (depth > 2)
    return nsbox_fail(err, 0, "%s: image indexes nested too deep", l->path);
  cleanup_free char *rel = blob_rel(d->digest);
  cleanup_free char *text = NULL;
  size_t len;
  struct oci_descriptor *v;
  size_t n;
  if (read_src_json(l, rel, d->digest, d->size, &text, &len, err) < 0)
    return -1;
  if (oci_index_parse(text, len, &v, &n, err) < 0)
    return nsbox_wrap(err, "%s: %s", l->path, rel);
  const struct oci_descriptor *pick = NULL;
  for (size_t i = 0; i < n && !pick; i++)
    if ((v[i].platform_os == NULL || strcmp(v[i].platform_os, "linux") == 0) &&
        arch_is_ours(v[i].platform_arch))
      pick = &v[i];
  oci_descriptors_free(*owned, *n_owned);
  *owned = v;
  *n_owned = n;
  if (pick == NULL)
    return nsbox_fail(err, 0, "%s: no image for this machine's platform in %s", l->path, rel);
  struct oci_descriptor copy = *pick;
  return pick_manifest(l, &copy, depth + 1, owned, n_owned, out, err);
}

/* The name an index entry carries: a full reference (docker's and containerd's annotation,
 * or podman's ref.name); a ref.name that is only a tag ("latest", as skopeo writes it) is not
 * one. */
static const char *entry_name(const struct oci_descriptor *d) {
  if (d->image_name)
    return d->image_name;
  if (d->ref_name && strpbrk(d->ref_name, ":/"))
    return d->ref_name;
  return NULL;
}

static int load_oci(struct load *l, nsbox_error_t *err) {
  cleanup_free char *text = NULL;
  size_t len;
  struct oci_descriptor *v;
  size_t n;
  if (read_src_json(l, "index.json", NULL, -1, &text, &len, err) < 0)
    return -1;
  if (oci_index_parse(text, len, &v, &n, err) < 0)
    return nsbox_wrap(err, "%s: index.json", l->path);
  int r = 0;
  if (n == 0)
    r = nsbox_fail(err, 0, "%s: index.json lists no image", l->path);
  if (r == 0 && l->name && n > 1)
    r = nsbox_fail(err, 0, "%s holds %zu images; load it without a name to keep theirs", l->path,
                   n);
  for (size_t i = 0; r == 0 && i < n; i++) {
    const char *given = l->name ? l->name : entry_name(&v[i]);
    if (given == NULL) {
      r = nsbox_fail(err, 0, "%s does not name its image%s%s%s; name it: nsbox image load %s NAME",
                     l->path, v[i].ref_name ? " (only its tag: \"" : "",
                     v[i].ref_name ? v[i].ref_name : "", v[i].ref_name ? "\")" : "", l->path);
      break;
    }
    cleanup_free char *name = normalized_or_fail(given, l->path, err);
    struct oci_descriptor *owned = NULL;
    size_t n_owned = 0;
    const struct oci_descriptor *m;
    r = name ? pick_manifest(l, &v[i], 0, &owned, &n_owned, &m, err) : -1;
    if (r == 0)
      r = load_manifest(l, m, name, err);
    oci_descriptors_free(owned, n_owned);
  }
  oci_descriptors_free(v, n);
  return r;
}

/* ---- docker save ---- */

static int load_docker_image(struct load *l, const struct docker_image *di, const char *name,
                             nsbox_error_t *err) {
  cleanup_free char *ctext = NULL, *mtext = NULL;
  size_t clen;
  struct oci_image_config cfg = {0};
  if (read_src_json(l, di->config, NULL, -1, &ctext, &clen, err) < 0)
    return -1;
  int r = oci_config_parse(ctext, clen, &cfg, err);
  if (r < 0)
    nsbox_wrap(err, "%s: config %s", l->path, di->config);
  if (r == 0 && cfg.n_diff_ids != di->n_layers)
    r = nsbox_fail(err, 0, "%s: manifest.json has %zu layers, the config %zu diff_ids", l->path,
                   di->n_layers, cfg.n_diff_ids);
  if (r == 0 && di->n_layers == 0)
    r = nsbox_fail(err, 0, "%s: the image has no layers", l->path);
  size_t n = di->n_layers;
  struct layer_want *wants = xmalloc((n + 1) * sizeof(*wants));
  struct oci_descriptor *descs = xmalloc((n + 1) * sizeof(*descs));
  memset(descs, 0, (n + 1) * sizeof(*descs));
  for (size_t i = 0; i < n; i++)
    wants[i] = (struct layer_want){.digest = NULL,
                                   .size = -1,
                                   .diff_id = cfg.diff_ids ? cfg.diff_ids[i] : "",
                                   .rel = di->layers[i]};
  if (r == 0)
    r = load_layers(l, &cfg, wants, descs, err);
  /* docker save has no OCI manifest: nsbox writes one, for `image save` and the record. */
  if (r == 0) {
    struct oci_descriptor cd = {.media_type = OCI_CONFIG, .size = (int64_t)clen};
    sha256_buf_hex(ctext, clen, cd.digest);
    mtext = oci_manifest_make(&cd, descs, n);
    char id[65];
    r = commit_image(l, mtext, strlen(mtext), ctext, clen, name, id, err);
  }
  if (r == 0)
    printf("Loaded image: %s\n", name);
  free(wants);
  oci_descriptors_free(descs, n);
  oci_config_free(&cfg);
  return r;
}

static int load_docker(struct load *l, nsbox_error_t *err) {
  cleanup_free char *text = NULL;
  size_t len;
  struct docker_image *v;
  size_t n;
  if (read_src_json(l, "manifest.json", NULL, -1, &text, &len, err) < 0)
    return -1;
  if (docker_manifest_parse(text, len, &v, &n, err) < 0)
    return nsbox_wrap(err, "%s: manifest.json", l->path);
  int r = 0;
  if (l->name && n > 1)
    r = nsbox_fail(err, 0, "%s holds %zu images; load it without a name to keep theirs", l->path,
                   n);
  for (size_t i = 0; r == 0 && i < n; i++) {
    char **tags = v[i].repo_tags;
    if (l->name == NULL && (tags == NULL || tags[0] == NULL)) {
      r = nsbox_fail(err, 0, "%s does not name its image; name it: nsbox image load %s NAME",
                     l->path, l->path);
      break;
    }
    /* Every tag of the image names it; the first is loaded, the others only tagged. */
    cleanup_free char *name = normalized_or_fail(l->name ? l->name : tags[0], l->path, err);
    r = name ? load_docker_image(l, &v[i], name, err) : -1;
    for (size_t k = 1; r == 0 && !l->name && tags[k]; k++) {
      cleanup_free char *other = normalized_or_fail(tags[k], l->path, err);
      char id[65];
      r = other ? image_find(l->s, name, id, err) : -1;
      if (r == 0)
        r = image_tag(l->s, other, id, err);
      if (r == 0)
        printf("Loaded image: %s\n", other);
    }
  }
  docker_images_free(v, n);
  return r;
}

/* ---- entry points ---- */

static bool src_has(struct load *l, const char *rel) {
  struct stat st;
  return fstatat(l->src, rel, &st, 0) == 0;
}

static int load_child(void *arg, nsbox_error_t *err) {
  struct load *l = arg;
  struct stat st;
  bool stdin_src = strcmp(l->path, "-") == 0;
  if (!stdin_src && stat(l->path, &st) < 0)
    return nsbox_fail(err, errno, "%s", l->path);
  if (!stdin_src && S_ISDIR(st.st_mode)) {
    l->src = open(l->path, O_PATH | O_DIRECTORY | O_CLOEXEC);
  } else {
    cleanup_close int in =
        stdin_src ? dup(STDIN_FILENO) : open(l->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (in < 0)
      return nsbox_fail(err, errno, "open %s", l->path);
    l->tmp = image_path(l->s, ".tmp-load-%d", (int)getpid());
    if (mkdir(l->tmp, 0700) < 0)
      return nsbox_fail(err, errno, "mkdir %s", l->tmp);
    if (unpack_archive(in, l->tmp, err) < 0)
      return nsbox_wrap(err, "%s", l->path);
    l->src = open(l->tmp, O_PATH | O_DIRECTORY | O_CLOEXEC);
  }
  if (l->src < 0)
    return nsbox_fail(err, errno, "open %s", l->path);
  if (src_has(l, "index.json"))
    return load_oci(l, err);
  if (src_has(l, "manifest.json"))
    return load_docker(l, err);
  return nsbox_fail(err, 0,
                    "%s is neither an OCI image layout (index.json) nor a docker save "
                    "archive (manifest.json)",
                    l->path);
}

int image_load(struct nsbox_store *s, const char *path, const char *name, nsbox_error_t *err) {
  if (name) {
    cleanup_free char *norm = image_normalize_ref(name);
    if (norm == NULL)
      return nsbox_fail(err, 0, "invalid image name \"%.100s\"", name);
  }
  struct load l = {.s = s, .path = path, .name = name, .src = -1, .tty = isatty(STDERR_FILENO)};
  cleanup_close int lock = image_lock(s, LOCK_SH, err);
  if (lock < 0)
    return -1;
  int r = image_task(s, load_child, &l, err);
  close(lock);
  lock = -1;
  /* The child's leftovers (its unpacked archive, a failed layer) and the images a new tag
   * replaced. */
  image_collect(s, false);
  return r;
}

/* ---- import: a rootfs tarball as a one-layer image ---- */

struct import {
  struct nsbox_store *s;
  const char *file, *name;
  bool tty;
};

static int import_child(void *arg, nsbox_error_t *err) {
  struct import *im = arg;
  cleanup_close int in = strcmp(im->file, "-") == 0
                             ? dup(STDIN_FILENO)
                             : open(im->file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (in < 0)
    return nsbox_fail(err, errno, "open %s", im->file);
  struct stat st;
  if (fstat(in, &st) == 0 && S_ISDIR(st.st_mode))
    return nsbox_fail(err, EISDIR, "%s", im->file);
  struct load l = {.s = im->s, .path = im->file, .layers_total = 1, .tty = im->tty};
  struct layer_want w = {.size = -1, .rel = im->file};
  struct layer_result res;
  if (store_layer(&l, in, &w, true, &res, err) < 0)
    return nsbox_wrap(err, "import %s", im->file);
  char created[40];
  format_rfc3339(time(NULL), created, sizeof(created));
  cleanup_free char *config = oci_config_make_import(res.diff_id, created);
  struct oci_descriptor cd = {.media_type = OCI_CONFIG, .size = (int64_t)strlen(config)};
  sha256_buf_hex(config, strlen(config), cd.digest);
  struct oci_descriptor ld = {.media_type = (char *)layer_media_type(res.compression),
                              .size = res.read_bytes};
  memcpy(ld.digest, res.digest, 65);
  cleanup_free char *manifest = oci_manifest_make(&cd, &ld, 1);
  char id[65];
  if (commit_image(&l, manifest, strlen(manifest), config, strlen(config), im->name, id, err) < 0)
    return -1;
  printf("%s\n", id);
  return 0;
}

int image_import(struct nsbox_store *s, const char *file, const char *ref, nsbox_error_t *err) {
  cleanup_free char *norm = image_normalize_ref(ref);
  if (norm == NULL)
    return nsbox_fail(err, 0, "invalid image name \"%.100s\"", ref);
  struct import im = {.s = s, .file = file, .name = norm, .tty = isatty(STDERR_FILENO)};
  cleanup_close int lock = image_lock(s, LOCK_SH, err);
  if (lock < 0)
    return -1;
  int r = image_task(s, import_child, &im, err);
  close(lock);
  lock = -1;
  image_collect(s, false);
  return r;
}
