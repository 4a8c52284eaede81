/* See image.h. */
#include "image.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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
  return xasprintf("%s/images/tags/%s", s->data, enc);
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

static int read_tag(const char *link, char id[65]) {
  char target[128];
  ssize_t n = readlink(link, target, sizeof(target) - 1);
  if (n < 0)
    return -errno;
  target[n] = '\0';
  const char *slash = strrchr(target, '/');
  const char *v = slash ? slash + 1 : target;
  if (strlen(v) != 64)
    return -EINVAL;
  memcpy(id, v, 65);
  return 0;
}

int image_resolve(struct nsbox_store *s, const char *ref, char id[65], char **rootfs,
                  nsbox_error_t *err) {
  cleanup_free char *norm = image_normalize_ref(ref);
  if (norm == NULL)
    return nsbox_fail(err, 0, "invalid image name \"%s\"", ref);
  cleanup_free char *link = tag_path(s, norm);
  if (read_tag(link, id) < 0)
    return nsbox_fail(err, 0, "image not found: %s (import one with: nsbox image import FILE %s)",
                      ref, ref);
  *rootfs = xasprintf("%s/images/by-id/%s/rootfs", s->data, id);
  return 0;
}

/* ---- extraction, in the child ---- */

struct import_report {
  long files, skipped_devices, unmapped_ids;
  long long bytes;
  nsbox_error_t err;
};

struct import_ctx {
  int in_fd;
  const char *rootfs;
  bool can_mknod;
  const struct nsbox_idmaps *maps; /* NULL as root */
  int report_fd;
  int lock_fd; /* the parent's lock on the temporary dir */
};

/* Refuses absolute names and any ".." component: tar entries name places inside the image. */
static bool path_escapes(const char *p) {
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

static int extract_entry(struct import_ctx *x, struct archive *in, struct archive *out,
                         struct archive_entry *e, struct import_report *rep, nsbox_error_t *err) {
  const char *path = archive_entry_pathname(e);
  while (path && path[0] == '.' && path[1] == '/')
    path += 2;
  if (path == NULL || *path == '\0' || strcmp(path, ".") == 0)
    return 0; /* the root itself: the store made it */
  if (path_escapes(path))
    return nsbox_fail(err, 0, "refusing entry \"%s\": it leads outside the image",
                      archive_entry_pathname(e));
  const char *hl = archive_entry_hardlink(e);
  if (hl && path_escapes(hl))
    return nsbox_fail(err, 0, "refusing hard link \"%s\" -> \"%s\": it leads outside the image",
                      path, hl);
  archive_entry_set_pathname(e, path);

  mode_t type = archive_entry_filetype(e);
  if (((type == AE_IFCHR || type == AE_IFBLK) && !x->can_mknod) || type == AE_IFSOCK) {
    rep->skipped_devices++;
    return 0;
  }
  if (x->maps) {
    /* Without a subordinate range only root exists inside: other owners become root. */
    bool um = false;
    if (!idmaps_maps(x->maps, true, (unsigned long)archive_entry_uid(e))) {
      archive_entry_set_uid(e, 0);
      um = true;
    }
    if (!idmaps_maps(x->maps, false, (unsigned long)archive_entry_gid(e))) {
      archive_entry_set_gid(e, 0);
      um = true;
    }
    rep->unmapped_ids += um;
  }
  int r = archive_write_header(out, e);
  if (r < ARCHIVE_WARN)
    return nsbox_fail(err, 0, "extract \"%s\": %s", path, archive_error_string(out));
  if (archive_entry_size(e) > 0 && copy_data(in, out, err) < 0)
    return nsbox_wrap(err, "extract \"%s\"", path);
  if (archive_write_finish_entry(out) < ARCHIVE_WARN)
    return nsbox_fail(err, 0, "extract \"%s\": %s", path, archive_error_string(out));
  rep->files++;
  if (type == AE_IFREG)
    rep->bytes += archive_entry_size(e);
  return 0;
}

static int extract(struct import_ctx *x, struct import_report *rep, nsbox_error_t *err) {
  if (chdir(x->rootfs) < 0)
    return nsbox_fail(err, errno, "chdir %s", x->rootfs);
  struct archive *in = archive_read_new(), *out = archive_write_disk_new();
  if (in == NULL || out == NULL)
    return nsbox_fail(err, ENOMEM, "libarchive");
  archive_read_support_filter_none(in);
  archive_read_support_filter_gzip(in);
  archive_read_support_filter_zstd(in);
  archive_read_support_format_tar(in);
  archive_write_disk_set_options(
      out, ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME |
               ARCHIVE_EXTRACT_XATTR | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
               ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS);
  int r = 0;
  if (archive_read_open_fd(in, x->in_fd, 1 << 16) != ARCHIVE_OK) {
    r = nsbox_fail(err, 0, "%s", archive_error_string(in));
  } else {
    struct archive_entry *e;
    int h;
    while ((h = archive_read_next_header(in, &e)) != ARCHIVE_EOF) {
      if (h < ARCHIVE_WARN) {
        r = nsbox_fail(err, 0, "%s", archive_error_string(in));
        break;
      }
      if ((r = extract_entry(x, in, out, e, rep, err)) < 0)
        break;
    }
    if (r == 0 && rep->files == 0)
      r = nsbox_fail(err, 0, "the archive holds no files");
  }
  archive_write_free(out);
  archive_read_free(in);
  return r;
}

static int import_child(void *arg) {
  struct import_ctx *x = arg;
  struct import_report rep = {0};
  /* The lock says "an nsbox import lives": the parent's alone, so that it goes with a
   * SIGKILLed parent at once, not when this child has died of the parent-death signal. */
  close(x->lock_fd);
  /* Interrupts are the parent's to handle; it cleans up after us. */
  int r = extract(x, &rep, &rep.err);
  if (write(x->report_fd, &rep, sizeof(rep)) < 0)
    return 125;
  return r < 0 ? 1 : 0;
}

/* ---- the parent's side ---- */

/* Removes imports that died half-way: their lock is free once their nsbox is gone. */
static void collect_stale_imports(struct nsbox_store *s) {
  cleanup_free char *dir = xasprintf("%s/images/by-id", s->data);
  DIR *d = opendir(dir);
  if (d == NULL)
    return;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    if (strncmp(de->d_name, ".tmp-", 5) != 0)
      continue;
    int fd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
      continue;
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
      cleanup_free char *p = xasprintf("%s/%s", dir, de->d_name);
      nsbox_error_t ignored = {0};
      store_remove_tree(s, p, &ignored);
    }
    close(fd);
  }
  closedir(d);
}

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

static bool tag_points_to(struct nsbox_store *s, const char *id) {
  cleanup_free char *dir = xasprintf("%s/images/tags", s->data);
  DIR *d = opendir(dir);
  if (d == NULL)
    return false;
  bool found = false;
  struct dirent *de;
  while (!found && (de = readdir(d)) != NULL) {
    if (de->d_name[0] == '.')
      continue;
    cleanup_free char *p = xasprintf("%s/%s", dir, de->d_name);
    char other[65];
    found = read_tag(p, other) == 0 && strcmp(other, id) == 0;
  }
  closedir(d);
  return found;
}

/* Drops an image's files once neither a tag nor a container refers to it. */
static void drop_if_unused(struct nsbox_store *s, const char *id) {
  char who[160];
  if (tag_points_to(s, id) || image_in_use(s, id, who, sizeof(who)))
    return;
  cleanup_free char *p = xasprintf("%s/images/by-id/%s", s->data, id);
  nsbox_error_t ignored = {0};
  store_remove_tree(s, p, &ignored);
}

/* Waits for the extraction child; SIGINT/TERM/HUP stop it (the caller cleans up). */
static int wait_import(pid_t pid, int report_fd, const sigset_t *set, struct import_report *rep,
                       nsbox_error_t *err) {
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
  ssize_t n = read(report_fd, rep, sizeof(*rep));
  if (n != (ssize_t)sizeof(*rep))
    return nsbox_fail(err, 0, "the extraction process %s",
                      WIFSIGNALED(status) ? "was killed" : "died");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    *err = rep->err;
    err->msg[sizeof(err->msg) - 1] = '\0';
    return -1;
  }
  return 0;
}

static int run_import(struct import_ctx *x, struct import_report *rep, nsbox_error_t *err) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0)
    return nsbox_fail(err, errno, "pipe");
  x->report_fd = p[1];
  sigset_t set, old;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGCHLD);
  sigprocmask(SIG_BLOCK, &set, &old);
  struct ns_child ch;
  int r = ns_spawn(&ch, 0, x->maps, import_child, x, err);
  if (r == 0)
    r = ns_release(&ch, err);
  close(p[1]);
  if (r == 0)
    r = wait_import(ch.pid, p[0], &set, rep, err);
  close(p[0]);
  sigprocmask(SIG_SETMASK, &old, NULL);
  return r;
}

/* Points the tag at the new image atomically; the old image goes once unused. */
static int set_tag(struct nsbox_store *s, const char *norm, const char *id, nsbox_error_t *err) {
  cleanup_free char *link = tag_path(s, norm);
  cleanup_free char *link_tmp = xasprintf("%s.tmp%d", link, (int)getpid());
  cleanup_free char *target = xasprintf("../by-id/%s", id);
  char old[65];
  bool had_old = read_tag(link, old) == 0;
  if (symlink(target, link_tmp) < 0 || rename(link_tmp, link) < 0) {
    int e = errno;
    unlink(link_tmp);
    return nsbox_fail(err, e, "tag %s", norm);
  }
  if (had_old && strcmp(old, id) != 0)
    drop_if_unused(s, old);
  return 0;
}

/* Extracts into tmp (locked while we live), then renames it into place and tags it. */
static int import_into(struct nsbox_store *s, const char *tmp, int in, const char *norm,
                       const char *id, nsbox_error_t *err) {
  cleanup_free char *rootfs = xasprintf("%s/rootfs", tmp);
  /* The lock lives as long as we do; collect_stale_imports() takes it only from the dead. */
  cleanup_close int lock = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (lock < 0 || flock(lock, LOCK_EX) < 0 || mkdir(rootfs, 0755) < 0)
    return nsbox_fail(err, errno, "prepare %s", tmp);
  struct import_ctx x = {.in_fd = in,
                         .rootfs = rootfs,
                         .can_mknod = !s->rootless,
                         .maps = s->rootless ? &s->idmaps : NULL,
                         .lock_fd = lock};
  struct import_report rep = {0};
  if (run_import(&x, &rep, err) < 0)
    return -1;

  cleanup_free char *info = xasprintf("ref=%s\ncreated=%lld\nsize=%lld\nfiles=%ld\n", norm,
                                      (long long)time(NULL), rep.bytes, rep.files);
  cleanup_close int tfd = open(tmp, O_PATH | O_DIRECTORY | O_CLOEXEC);
  int r = tfd < 0 ? -errno : write_file_at(tfd, "info", info, strlen(info), 0600, false);
  if (r < 0)
    return nsbox_fail(err, -r, "write %s/info", tmp);
  cleanup_free char *final = xasprintf("%s/images/by-id/%s", s->data, id);
  if (rename(tmp, final) < 0)
    return nsbox_fail(err, errno, "rename %s", tmp);
  if (set_tag(s, norm, id, err) < 0) {
    nsbox_error_t ignored = {0};
    store_remove_tree(s, final, &ignored);
    return -1;
  }
  if (rep.skipped_devices > 0)
    nsbox_notice("skipped %ld device nodes and sockets: they cannot be created without root",
                 rep.skipped_devices);
  if (rep.unmapped_ids > 0)
    nsbox_notice("%ld files belong to users other than root; without a range in /etc/subuid "
                 "and /etc/subgid they are owned by root in the container",
                 rep.unmapped_ids);
  return 0;
}

int image_import(struct nsbox_store *s, const char *file, const char *ref, nsbox_error_t *err) {
  cleanup_free char *norm = image_normalize_ref(ref);
  if (norm == NULL)
    return nsbox_fail(err, 0, "invalid image name \"%s\"", ref);
  cleanup_close int in =
      strcmp(file, "-") == 0 ? dup(STDIN_FILENO) : open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (in < 0)
    return nsbox_fail(err, errno, "open %s", file);
  struct stat st;
  if (fstat(in, &st) == 0 && S_ISDIR(st.st_mode))
    return nsbox_fail(err, EISDIR, "%s", file);
  collect_stale_imports(s);

  char id[65];
  random_hex_id(id);
  cleanup_free char *tmp = xasprintf("%s/images/by-id/.tmp-%s", s->data, id);
  if (mkdir(tmp, 0700) < 0)
    return nsbox_fail(err, errno, "mkdir %s", tmp);
  if (import_into(s, tmp, in, norm, id, err) < 0) {
    nsbox_error_t ignored = {0};
    store_remove_tree(s, tmp, &ignored);
    return nsbox_wrap(err, "import %s", file);
  }
  printf("%s\n", id);
  return 0;
}

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

int image_list(struct nsbox_store *s, nsbox_error_t *err) {
  cleanup_free char *dir = xasprintf("%s/images/tags", s->data);
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
    if (read_tag(link, id) < 0)
      continue;
    tag_decode(de->d_name, ref, sizeof(ref));
    char *colon = strrchr(ref, ':');
    const char *tag = "latest";
    if (colon && !strchr(colon, '/')) {
      *colon = '\0';
      tag = colon + 1;
    }
    cleanup_free char *ip = xasprintf("%s/images/by-id/%s/info", s->data, id);
    cleanup_free char *info = NULL;
    long long created = 0, size = 0;
    if (read_file_at(AT_FDCWD, ip, &info) >= 0) {
      char *c = strstr(info, "created="), *z = strstr(info, "size=");
      created = c ? strtoll(c + 8, NULL, 10) : 0;
      size = z ? strtoll(z + 5, NULL, 10) : 0;
    }
    char ago[32], sz[32];
    format_ago((time_t)created, ago, sizeof(ago));
    format_size(size, sz, sizeof(sz));
    printf("%-40s %-12s %-14.12s %-16s %s\n", ref, tag, id, ago, sz);
  }
  closedir(d);
  return 0;
}

int image_remove(struct nsbox_store *s, const char *ref, nsbox_error_t *err) {
  cleanup_free char *norm = image_normalize_ref(ref);
  if (norm == NULL)
    return nsbox_fail(err, 0, "invalid image name \"%s\"", ref);
  cleanup_free char *link = tag_path(s, norm);
  char id[65], who[160];
  if (read_tag(link, id) < 0)
    return nsbox_fail(err, 0, "image not found: %s", ref);
  if (image_in_use(s, id, who, sizeof(who)))
    return nsbox_fail(err, 0, "image %s is in use by container %s (remove it with nsbox rm)", ref,
                      who);
  if (unlink(link) < 0)
    return nsbox_fail(err, errno, "untag %s", norm);
  drop_if_unused(s, id);
  printf("Untagged: %s\n", norm);
  return 0;
}
