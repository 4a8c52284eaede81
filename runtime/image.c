/* See image.h and image_store.h: names, the record of an image, the lock, the worker child,
 * resolving an image for `run`, and ls, rm, inspect and the collection of unused parts. */
#include "image.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "image_store.h"
#include "jsonw.h"
#include "sha256.h"
#include "userns.h"
#include "util.h"

char *image_normalize_ref(const char *ref) {
  if (ref == NULL || *ref == '\0' || strlen(ref) > 200 || ref[0] == '.' || ref[0] == '-')
    return NULL;
  for (const char *p = ref; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
          strchr("._-/:@", *p)))
      return NULL;
  if (strstr(ref, "..") || strstr(ref, "//"))
    return NULL;
  /* A tag is a ':' after the last '/' (a registry host may carry a port). */
  const char *slash = strrchr(ref, '/');
  if (strchr(slash ? slash : ref, ':') == NULL)
    return xasprintf("%s:latest", ref);
  return xstrdup(ref);
}

char *image_path(struct nsbox_store *s, const char *fmt, ...) {
  va_list ap;
  char rel[PATH_MAX];
  va_start(ap, fmt);
  vsnprintf(rel, sizeof(rel), fmt, ap);
  va_end(ap);
  return xasprintf("%s/images/%s", s->data, rel);
}

/* The tag's file name: '/' may not appear in one, so it becomes "%2F" ('%' is not allowed
 * in references, so the encoding is unambiguous). */
static char *tag_path(struct nsbox_store *s, const char *ref) {
  char enc[PATH_MAX];
  size_t o = 0;
  for (const char *p = ref; *p && o + 4 < sizeof(enc); p++) {
    if (*p == '/') {
      memcpy(enc + o, "%2F", 3);
      o += 3;
    } else {
      enc[o++] = *p;
    }
  }
  enc[o] = '\0';
  return image_path(s, "tags/%s", enc);
}

static void tag_decode(const char *name, char *out, size_t len) {
  size_t o = 0;
  for (const char *p = name; *p && o + 1 < len; p++) {
    if (strncmp(p, "%2F", 3) == 0) {
      out[o++] = '/';
      p += 2;
    } else {
      out[o++] = *p;
    }
  }
  out[o] = '\0';
}

static bool is_hex_id(const char *s, size_t len) {
  return strlen(s) == len && strspn(s, "0123456789abcdef") == len;
}

static int read_tag(const char *link, char id[65]) {
  char target[128];
  ssize_t n = readlink(link, target, sizeof(target) - 1);
  if (n < 0)
    return -errno;
  target[n] = '\0';
  const char *slash = strrchr(target, '/');
  const char *v = slash ? slash + 1 : target;
  if (!is_hex_id(v, 64))
    return -EINVAL;
  memcpy(id, v, 65);
  return 0;
}

int image_lock(struct nsbox_store *s, int op, nsbox_error_t *err) {
  cleanup_free char *p = image_path(s, "lock");
  int fd = open(p, O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0)
    return nsbox_fail(err, errno, "open %s", p);
  int r;
  while ((r = flock(fd, op)) < 0 && errno == EINTR)
    ;
  if (r < 0) {
    int e = errno;
    close(fd);
    return nsbox_fail(err, e, "lock %s", p);
  }
  return fd;
}

/* ---- the worker child ---- */

struct task {
  image_task_fn fn;
  void *arg;
  int report_fd;
};

static int task_child(void *arg) {
  struct task *t = arg;
  nsbox_error_t err = {0};
  int r = t->fn(t->arg, &err);
  fflush(stdout);
  fflush(stderr);
  if (r < 0 && write(t->report_fd, &err, sizeof(err)) < 0)
    return 125;
  return r < 0 ? 1 : 0;
}

/* Waits for the child; SIGINT/TERM/HUP stop it. */
static int task_wait(pid_t pid, int report_fd, const sigset_t *set, nsbox_error_t *err) {
  int status = 0;
  while (waitpid(pid, &status, WNOHANG) != pid) {
    int sig = sigwaitinfo(set, NULL);
    if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP) {
      kill(pid, SIGKILL);
      while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
      nsbox_fail(err, 0, "interrupted by signal %d", sig);
      err->exit_code = 128 + sig;
      return -1;
    }
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
    return 0;
  if (read(report_fd, err, sizeof(*err)) == (ssize_t)sizeof(*err)) {
    err->msg[sizeof(err->msg) - 1] = '\0';
    return -1;
  }
  return nsbox_fail(err, 0, "the image worker process %s",
                    WIFSIGNALED(status) ? "was killed" : "died");
}

int image_task(struct nsbox_store *s, image_task_fn fn, void *arg, nsbox_error_t *err) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0)
    return nsbox_fail(err, errno, "pipe");
  struct task t = {.fn = fn, .arg = arg, .report_fd = p[1]};
  sigset_t set, old;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGCHLD);
  sigprocmask(SIG_BLOCK, &set, &old);
  fflush(stdout);
  fflush(stderr);
  struct ns_child ch;
  int r = ns_spawn(&ch, 0, s->rootless ? &s->idmaps : NULL, task_child, &t, err);
  if (r == 0)
    r = ns_release(&ch, err);
  close(p[1]);
  if (r == 0)
    r = task_wait(ch.pid, p[0], &set, err);
  close(p[0]);
  sigprocmask(SIG_SETMASK, &old, NULL);
  return r;
}

/* ---- tags and records ---- */

int image_tag(struct nsbox_store *s, const char *norm, const char *id, nsbox_error_t *err) {
  cleanup_free char *link = tag_path(s, norm);
  cleanup_free char *link_tmp = xasprintf("%s.tmp%d", link, (int)getpid());
  cleanup_free char *target = xasprintf("../by-id/%s", id);
  unlink(link_tmp);
  if (symlink(target, link_tmp) < 0 || rename(link_tmp, link) < 0) {
    int e = errno;
    unlink(link_tmp);
    return nsbox_fail(err, e, "tag %s", norm);
  }
  return 0;
}

void image_rec_free(struct image_rec *r) {
  free(r->manifest_text);
  free(r->config_text);
  oci_manifest_free(&r->manifest);
  oci_config_free(&r->config);
  memset(r, 0, sizeof(*r));
}

static int read_json_file(const char *path, char **text, size_t *len, nsbox_error_t *err) {
  ssize_t n = read_file_at(AT_FDCWD, path, text);
  if (n < 0)
    return nsbox_fail(err, (int)-n, "read %s", path);
  *len = (size_t)n;
  return 0;
}

int image_read(struct nsbox_store *s, const char *id, struct image_rec *r, nsbox_error_t *err) {
  memset(r, 0, sizeof(*r));
  memcpy(r->id, id, 65);
  cleanup_free char *mp = image_path(s, "by-id/%s/manifest.json", id);
  cleanup_free char *cp = image_path(s, "by-id/%s/config.json", id);
  if (read_json_file(mp, &r->manifest_text, &r->manifest_len, err) < 0 ||
      read_json_file(cp, &r->config_text, &r->config_len, err) < 0)
    goto fail;
  if (oci_manifest_parse(r->manifest_text, r->manifest_len, &r->manifest, err) < 0) {
    nsbox_wrap(err, "%s", mp);
    goto fail;
  }
  if (oci_config_parse(r->config_text, r->config_len, &r->config, err) < 0) {
    nsbox_wrap(err, "%s", cp);
    goto fail;
  }
  if (r->config.n_diff_ids != r->manifest.n_layers) {
    nsbox_fail(err, 0, "image %.12s: %zu layers but %zu diff_ids", id, r->manifest.n_layers,
               r->config.n_diff_ids);
    goto fail;
  }
  return 0;
fail:
  image_rec_free(r);
  return -1;
}

/* An id prefix (12 to 64 hex digits) that names exactly one image. */
static int find_by_id(struct nsbox_store *s, const char *ref, char id[65]) {
  size_t len = strlen(ref);
  if (len < 12 || len > 64 || strspn(ref, "0123456789abcdef") != len)
    return -ENOENT;
  cleanup_free char *dir = image_path(s, "by-id");
  DIR *d = opendir(dir);
  if (d == NULL)
    return -ENOENT;
  int found = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL)
    if (is_hex_id(de->d_name, 64) && strncmp(de->d_name, ref, len) == 0 && found++ == 0)
      memcpy(id, de->d_name, 65);
  closedir(d);
  return found == 1 ? 0 : found > 1 ? -EEXIST : -ENOENT;
}

int image_find(struct nsbox_store *s, const char *ref, char id[65], nsbox_error_t *err) {
  cleanup_free char *norm = image_normalize_ref(ref);
  if (norm == NULL)
    return nsbox_fail(err, 0, "invalid image name \"%.100s\"", ref);
  cleanup_free char *link = tag_path(s, norm);
  if (read_tag(link, id) == 0)
    return 0;
  int r = find_by_id(s, ref, id);
  if (r == -EEXIST)
    return nsbox_fail(err, 0, "image id prefix %s is ambiguous", ref);
  if (r < 0)
    return nsbox_fail(err, 0,
                      "image not found: %s (load one with: nsbox image load PATH, or import a "
                      "rootfs tarball with: nsbox image import FILE %s)",
                      ref, ref);
  return 0;
}

bool image_layer_present(struct nsbox_store *s, const char *diff_id) {
  cleanup_free char *dir = image_path(s, "layers/%s", diff_id);
  cleanup_free char *size = image_path(s, "layers/%s.size", diff_id);
  cleanup_free char *link = image_path(s, "l/%.*s", LAYER_SHORT, diff_id);
  struct stat st;
  return stat(dir, &st) == 0 && S_ISDIR(st.st_mode) && access(size, F_OK) == 0 &&
         stat(link, &st) == 0;
}

char **image_lowerdirs(struct nsbox_store *s, const struct image_rec *r, const char *ref,
                       nsbox_error_t *err) {
  size_t n = r->config.n_diff_ids;
  if (n == 0) {
    nsbox_fail(err, 0, "image %s has no layers", ref);
    return NULL;
  }
  char **v = xmalloc((n + 1) * sizeof(*v));
  /* Overlay's lowerdir lists the top layer first; the config lists the bottom one first. */
  for (size_t i = 0; i < n; i++) {
    const char *d = r->config.diff_ids[n - 1 - i];
    v[i] = NULL;
    if (!image_layer_present(s, d)) {
      strv_free(v);
      nsbox_fail(err, 0, "image %s: layer %.12s is missing from the store (load the image again)",
                 ref, d);
      return NULL;
    }
    v[i] = image_path(s, "l/%.*s", LAYER_SHORT, d);
  }
  v[n] = NULL;
  return v;
}

int image_resolve(struct nsbox_store *s, const char *ref, char id[65], char ***lowerdirs,
                  struct oci_image_config *cfg, nsbox_error_t *err) {
  cleanup_close int lock = image_lock(s, LOCK_SH, err);
  if (lock < 0 || image_find(s, ref, id, err) < 0)
    return -1;
  struct image_rec r;
  if (image_read(s, id, &r, err) < 0)
    return -1;
  char **v = image_lowerdirs(s, &r, ref, err);
  if (v == NULL) {
    image_rec_free(&r);
    return -1;
  }
  *lowerdirs = v;
  *cfg = r.config;
  memset(&r.config, 0, sizeof(r.config));
  image_rec_free(&r);
  return 0;
}

/* ---- what is in use, and collecting the rest ---- */

static bool image_in_use(struct nsbox_store *s, const char *id, char *who, size_t wlen) {
  struct container_info *v = NULL;
  size_t n = 0;
  nsbox_error_t ignored = {0};
  if (container_list(s, &v, &n, &ignored) < 0)
    return false;
  bool used = false;
  for (size_t i = 0; i < n; i++) {
    if (!used && v[i].image_id && strcmp(v[i].image_id, id) == 0) {
      used = true;
      snprintf(who, wlen, "%s", v[i].name ? v[i].name : v[i].id);
    }
    container_info_free(&v[i]);
  }
  free(v);
  return used;
}

/* The tags that name image id (decoded), NULL-terminated; with unlink set, removed too. */
static char **tags_of(struct nsbox_store *s, const char *id, bool unlink_them) {
  struct strv_acc {
    char **v;
    size_t n;
  } acc = {xmalloc(sizeof(char *)), 0};
  acc.v[0] = NULL;
  cleanup_free char *dir = image_path(s, "tags");
  DIR *d = opendir(dir);
  struct dirent *de;
  while (d && (de = readdir(d)) != NULL) {
    cleanup_free char *p = xasprintf("%s/%s", dir, de->d_name);
    char other[65], name[PATH_MAX];
    if (de->d_name[0] == '.' || read_tag(p, other) < 0 || strcmp(other, id) != 0 ||
        (unlink_them && unlink(p) < 0))
      continue;
    tag_decode(de->d_name, name, sizeof(name));
    acc.v = xrealloc(acc.v, (acc.n + 2) * sizeof(char *));
    acc.v[acc.n++] = xstrdup(name);
    acc.v[acc.n] = NULL;
  }
  if (d)
    closedir(d);
  return acc.v;
}

static bool tag_points_to(struct nsbox_store *s, const char *id) {
  __attribute__((cleanup(strv_freep))) char **tags = tags_of(s, id, false);
  return tags[0] != NULL;
}

/* A set of hex ids, small enough for a linear search. */
struct idset {
  char (*v)[65];
  size_t n, cap;
};

static void idset_add(struct idset *set, const char *id) {
  if (set->n == set->cap) {
    set->cap = set->cap ? 2 * set->cap : 64;
    set->v = xrealloc(set->v, set->cap * sizeof(*set->v));
  }
  snprintf(set->v[set->n++], 65, "%s", id);
}

static bool idset_has(const struct idset *set, const char *id) {
  for (size_t i = 0; i < set->n; i++)
    if (strncmp(set->v[i], id, 64) == 0)
      return true;
  return false;
}

static void remove_quietly(struct nsbox_store *s, const char *path) {
  nsbox_error_t ignored = {0};
  store_remove_tree(s, path, &ignored);
}

/* Images with neither a tag nor a container go; the layers and blobs of the others are kept. */
static void collect_images(struct nsbox_store *s, struct idset *layers, struct idset *blobs) {
  cleanup_free char *dir = image_path(s, "by-id");
  DIR *d = opendir(dir);
  if (d == NULL)
    return;
  struct dirent *de;
  char who[160];
  while ((de = readdir(d)) != NULL) {
    if (de->d_name[0] == '.')
      continue;
    cleanup_free char *p = xasprintf("%s/%s", dir, de->d_name);
    if (!is_hex_id(de->d_name, 64) ||
        (!tag_points_to(s, de->d_name) && !image_in_use(s, de->d_name, who, sizeof(who)))) {
      remove_quietly(s, p);
      continue;
    }
    struct image_rec r;
    nsbox_error_t ignored = {0};
    if (image_read(s, de->d_name, &r, &ignored) < 0) {
      /* Unreadable but referred to: keep every layer rather than guess. */
      idset_add(layers, "*");
      continue;
    }
    for (size_t i = 0; i < r.config.n_diff_ids; i++)
      idset_add(layers, r.config.diff_ids[i]);
    for (size_t i = 0; i < r.manifest.n_layers; i++)
      idset_add(blobs, r.manifest.layers[i].digest);
    image_rec_free(&r);
  }
  closedir(d);
}

/* Entries of images/SUB that are neither kept ids (by their first 64 characters) nor their
 * companions go; so do leftovers of loads (".tmp-"). */
static void collect_dir(struct nsbox_store *s, const char *sub, const struct idset *keep) {
  cleanup_free char *dir = image_path(s, "%s", sub);
  DIR *d = opendir(dir);
  if (d == NULL)
    return;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
      continue;
    if (strlen(de->d_name) >= 64 && idset_has(keep, de->d_name))
      continue;
    cleanup_free char *p = xasprintf("%s/%s", dir, de->d_name);
    remove_quietly(s, p);
  }
  closedir(d);
}

/* Short links whose layer is gone. */
static void collect_links(struct nsbox_store *s) {
  cleanup_free char *dir = image_path(s, "l");
  DIR *d = opendir(dir);
  if (d == NULL)
    return;
  struct dirent *de;
  struct stat st;
  while ((de = readdir(d)) != NULL)
    if (de->d_name[0] != '.' && fstatat(dirfd(d), de->d_name, &st, 0) < 0 && errno == ENOENT)
      unlinkat(dirfd(d), de->d_name, 0);
  closedir(d);
}

static void collect_tmp(struct nsbox_store *s, const char *sub) {
  cleanup_free char *dir = image_path(s, "%s", sub);
  DIR *d = opendir(dir);
  struct dirent *de;
  while (d && (de = readdir(d)) != NULL)
    if (strncmp(de->d_name, ".tmp-", 5) == 0) {
      cleanup_free char *p = xasprintf("%s%s", dir, de->d_name);
      remove_quietly(s, p);
    }
  if (d)
    closedir(d);
}

void image_collect(struct nsbox_store *s, bool wait) {
  nsbox_error_t ignored = {0};
  cleanup_close int lock = image_lock(s, LOCK_EX | (wait ? 0 : LOCK_NB), &ignored);
  if (lock < 0)
    return;
  /* With the lock held no load runs: temporary files are what loads that died left. */
  static const char *const tmp_dirs[] = {"", "by-id/", "layers/", "blobs/"};
  for (size_t i = 0; i < ARRAY_SIZE(tmp_dirs); i++)
    collect_tmp(s, tmp_dirs[i]);
  struct idset layers = {0}, blobs = {0};
  collect_images(s, &layers, &blobs);
  if (!idset_has(&layers, "*")) {
    collect_dir(s, "layers", &layers);
    collect_dir(s, "blobs/sha256", &blobs);
  }
  collect_links(s);
  free(layers.v);
  free(blobs.v);
}

/* ---- ls, rm, inspect ---- */

static void format_size(long long b, char *out, size_t len) {
  if (b < 1000)
    snprintf(out, len, "%lldB", b);
  else if (b < 1000 * 1000)
    snprintf(out, len, "%.1fkB", (double)b / 1e3);
  else if (b < 1000LL * 1000 * 1000)
    snprintf(out, len, "%.1fMB", (double)b / 1e6);
  else
    snprintf(out, len, "%.2fGB", (double)b / 1e9);
}

/* The bytes of an image's files: the sum of its layers'. */
static long long image_size(struct nsbox_store *s, const struct oci_image_config *c) {
  long long total = 0;
  for (size_t i = 0; i < c->n_diff_ids; i++) {
    cleanup_free char *p = image_path(s, "layers/%s.size", c->diff_ids[i]);
    cleanup_free char *text = NULL;
    if (read_file_at(AT_FDCWD, p, &text) >= 0)
      total += strtoll(text, NULL, 10);
  }
  return total;
}

int image_list(struct nsbox_store *s, nsbox_error_t *err) {
  cleanup_free char *dir = image_path(s, "tags");
  DIR *d = opendir(dir);
  if (d == NULL)
    return nsbox_fail(err, errno, "open %s", dir);
  printf("%-40s %-12s %-14s %-16s %s\n", "REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE");
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    if (de->d_name[0] == '.' || strstr(de->d_name, ".tmp"))
      continue;
    char ref[PATH_MAX], id[65];
    cleanup_free char *link = xasprintf("%s/%s", dir, de->d_name);
    struct image_rec r;
    nsbox_error_t ignored = {0};
    if (read_tag(link, id) < 0 || image_read(s, id, &r, &ignored) < 0)
      continue;
    tag_decode(de->d_name, ref, sizeof(ref));
    char *colon = strrchr(ref, ':');
    const char *tag = "latest";
    if (colon && !strchr(colon, '/')) {
      *colon = '\0';
      tag = colon + 1;
    }
    char ago[32], sz[32];
    format_ago(parse_rfc3339(r.config.created), ago, sizeof(ago));
    format_size(image_size(s, &r.config), sz, sizeof(sz));
    printf("%-40s %-12s %-14.12s %-16s %s\n", ref, tag, id, ago, sz);
    image_rec_free(&r);
  }
  closedir(d);
  return 0;
}

/* Untags REF; the image itself goes with its last tag, unless a container uses it. */
static int remove_one(struct nsbox_store *s, const char *ref, nsbox_error_t *err) {
  char id[65], who[160];
  if (image_find(s, ref, id, err) < 0)
    return -1;
  if (image_in_use(s, id, who, sizeof(who)))
    return nsbox_fail(err, 0, "image %s is in use by container %s (remove it with nsbox rm)", ref,
                      who);
  cleanup_free char *norm = image_normalize_ref(ref);
  cleanup_free char *link = tag_path(s, norm);
  char tagged[65];
  if (read_tag(link, tagged) == 0 && strcmp(tagged, id) == 0) {
    if (unlink(link) < 0)
      return nsbox_fail(err, errno, "untag %s", norm);
    printf("Untagged: %s\n", norm);
    return 0;
  }
  /* Removed by id: all its tags go. */
  __attribute__((cleanup(strv_freep))) char **tags = tags_of(s, id, true);
  for (size_t i = 0; tags[i]; i++)
    printf("Untagged: %s\n", tags[i]);
  printf("Deleted: %s\n", id);
  return 0;
}

int image_remove(struct nsbox_store *s, char **refs, size_t n, nsbox_error_t *err) {
  cleanup_close int lock = image_lock(s, LOCK_EX, err);
  if (lock < 0)
    return -1;
  int r = 0;
  for (size_t i = 0; i < n && r == 0; i++)
    r = remove_one(s, refs[i], err);
  close(lock);
  lock = -1;
  image_collect(s, true);
  return r;
}

static void put_strv_or_null(struct jsonw *w, const char *key, char **v) {
  if (v) {
    jsonw_kv_strv(w, key, v);
  } else {
    jsonw_key(w, key);
    jsonw_null(w);
  }
}

/* "KEY=VALUE" or "80/tcp" lists as the object they came from. */
static void put_keyed(struct jsonw *w, const char *key, char **v, bool values) {
  jsonw_key(w, key);
  jsonw_obj_open(w);
  for (size_t i = 0; v && v[i]; i++) {
    char *eq = values ? strchr(v[i], '=') : NULL;
    cleanup_free char *k = eq ? xstrndup(v[i], (size_t)(eq - v[i])) : xstrdup(v[i]);
    jsonw_key(w, k);
    if (values) {
      jsonw_str(w, eq ? eq + 1 : "");
    } else {
      jsonw_obj_open(w);
      jsonw_obj_close(w);
    }
  }
  jsonw_obj_close(w);
}

static void put_image(struct jsonw *w, struct nsbox_store *s, const struct image_rec *r) {
  const struct oci_image_config *c = &r->config;
  char digest[72];
  jsonw_obj_open(w);
  jsonw_kv_str(w, "Id", r->id);
  __attribute__((cleanup(strv_freep))) char **tags = tags_of(s, r->id, false);
  jsonw_kv_strv(w, "RepoTags", tags);
  jsonw_kv_str(w, "Created", c->created ? c->created : "");
  jsonw_kv_str(w, "Architecture", c->architecture ? c->architecture : "");
  jsonw_kv_str(w, "Os", c->os ? c->os : "");
  jsonw_kv_i64(w, "Size", image_size(s, c));
  jsonw_key(w, "Config");
  jsonw_obj_open(w);
  put_strv_or_null(w, "Env", c->env);
  put_strv_or_null(w, "Entrypoint", c->entrypoint);
  put_strv_or_null(w, "Cmd", c->cmd);
  jsonw_kv_str(w, "WorkingDir", c->workdir ? c->workdir : "");
  jsonw_kv_str(w, "User", c->user ? c->user : "");
  put_keyed(w, "ExposedPorts", c->exposed_ports, false);
  jsonw_kv_str(w, "StopSignal", c->stop_signal ? c->stop_signal : "");
  put_keyed(w, "Labels", c->labels, true);
  jsonw_obj_close(w);
  jsonw_key(w, "RootFS");
  jsonw_obj_open(w);
  jsonw_kv_str(w, "Type", "layers");
  jsonw_key(w, "Layers");
  jsonw_arr_open(w);
  for (size_t i = 0; i < c->n_diff_ids; i++) {
    snprintf(digest, sizeof(digest), "sha256:%s", c->diff_ids[i]);
    jsonw_str(w, digest);
  }
  jsonw_arr_close(w);
  jsonw_obj_close(w);
  char mdigest[65];
  sha256_buf_hex(r->manifest_text, r->manifest_len, mdigest);
  snprintf(digest, sizeof(digest), "sha256:%s", mdigest);
  jsonw_kv_str(w, "Digest", digest);
  jsonw_obj_close(w);
}

int image_inspect(struct nsbox_store *s, char **refs, size_t n, nsbox_error_t *err) {
  struct jsonw w;
  jsonw_init(&w, true);
  jsonw_arr_open(&w);
  for (size_t i = 0; i < n; i++) {
    char id[65];
    struct image_rec r;
    if (image_find(s, refs[i], id, err) < 0 || image_read(s, id, &r, err) < 0) {
      jsonw_free(&w);
      return -1;
    }
    put_image(&w, s, &r);
    image_rec_free(&r);
  }
  jsonw_arr_close(&w);
  cleanup_free char *text = jsonw_finish(&w);
  fputs(text, stdout);
  return 0;
}
