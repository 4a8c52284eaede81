/* See store.h. */
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup.h"
#include "config_json.h"
#include "json.h"
#include "logfile.h"
#include "monitor.h"
#include "syscalls.h"
#include "util.h"

/* A per-user runtime dir must be ours and private, or another user could plant files. */
static bool private_dir_ok(const char *path) {
  struct stat st;
  if (lstat(path, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid())
    return false;
  return (st.st_mode & 077) == 0;
}

static char *home_dir(void) {
  const char *h = getenv("HOME");
  if (h && *h == '/')
    return xstrdup(h);
  struct passwd *pw = getpwuid(geteuid());
  return xstrdup(pw && pw->pw_dir ? pw->pw_dir : "/");
}

static int runtime_dir(struct nsbox_store *s, nsbox_error_t *err) {
  const char *x = getenv("XDG_RUNTIME_DIR");
  if (x && *x == '/' && private_dir_ok(x)) {
    s->run = xasprintf("%s/nsbox", x);
    return 0;
  }
  char path[64];
  snprintf(path, sizeof(path), "/run/user/%u", (unsigned)geteuid());
  if (private_dir_ok(path)) {
    s->run = xasprintf("%s/nsbox", path);
    return 0;
  }
  /* The fallback: /dev/shm (a tmpfs nearly everywhere, so running state costs no disk
   * writes), else /tmp. Created private, and trusted only if it is ours. */
  struct stat st;
  const char *base = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & S_ISVTX) &&
                             (st.st_mode & 0777) == 0777
                         ? "/dev/shm"
                         : "/tmp";
  snprintf(path, sizeof(path), "%s/nsbox-run-%u", base, (unsigned)geteuid());
  if (mkdir(path, 0700) < 0 && errno != EEXIST)
    return nsbox_fail(err, errno, "mkdir %s", path);
  if (!private_dir_ok(path))
    return nsbox_fail(err, 0, "%s is not a private directory owned by you; set XDG_RUNTIME_DIR",
                      path);
  s->run = xstrdup(path);
  return 0;
}

int store_open(struct nsbox_store *s, const char *root_override, nsbox_error_t *err) {
  memset(s, 0, sizeof(*s));
  s->rootless = !running_as_root();
  if (root_override) {
    char abs[PATH_MAX];
    if (mkdir_p(root_override, 0700) < 0 || realpath(root_override, abs) == NULL)
      return nsbox_fail(err, errno, "--root %s", root_override);
    s->data = xstrdup(abs);
    s->run = xasprintf("%s/run", abs);
  } else if (!s->rootless) {
    s->data = xstrdup("/var/lib/nsbox");
    s->run = xstrdup("/run/nsbox");
  } else {
    const char *x = getenv("XDG_DATA_HOME");
    if (x && *x == '/') {
      s->data = xasprintf("%s/nsbox", x);
    } else {
      cleanup_free char *home = home_dir();
      s->data = xasprintf("%s/.local/share/nsbox", home);
    }
    if (runtime_dir(s, err) < 0)
      return -1;
  }
  if (s->rootless)
    idmaps_plan(&s->idmaps);
  static const char *const subdirs[] = {"images/by-id",        "images/tags", "images/layers",
                                        "images/blobs/sha256", "images/l",    "containers/.names"};
  for (size_t i = 0; i < ARRAY_SIZE(subdirs); i++) {
    cleanup_free char *p = xasprintf("%s/%s", s->data, subdirs[i]);
    int r = mkdir_p(p, 0700);
    if (r < 0)
      return nsbox_fail(err, -r, "mkdir %s", p);
  }
  int r = mkdir_p(s->run, 0700);
  if (r < 0)
    return nsbox_fail(err, -r, "mkdir %s", s->run);
  return 0;
}

const char *container_status_name(enum container_status st) {
  static const char *const names[] = {
      [CT_CREATED] = "created",
      [CT_RUNNING] = "running",
      [CT_EXITED] = "exited",
      [CT_UNKNOWN] = "unknown",
  };
  return (size_t)st < ARRAY_SIZE(names) ? names[st] : "unknown";
}

void container_info_free(struct container_info *ci) {
  free(ci->image_id);
  free(ci->name);
  free(ci->image);
  free(ci->command);
  free(ci->addr);
  memset(ci, 0, sizeof(*ci));
}

/* Records are "key=value" lines; values never hold a newline (we escape them). */
static char *record_get(const char *data, const char *key) {
  size_t kl = strlen(key);
  for (const char *p = data; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
    if (strncmp(p, key, kl) == 0 && p[kl] == '=') {
      const char *v = p + kl + 1, *e = strchr(v, '\n');
      size_t len = e ? (size_t)(e - v) : strlen(v);
      char *out = xmalloc(len + 1);
      memcpy(out, v, len);
      return out;
    }
  }
  return NULL;
}

static char *join_args(char **args) {
  size_t len = 1;
  for (char **a = args; *a; a++)
    len += strlen(*a) + 1;
  char *out = xmalloc(len), *p = out;
  for (char **a = args; *a; a++) {
    if (a != args)
      *p++ = ' ';
    for (const char *q = *a; *q; q++)
      *p++ = (*q == '\n') ? ' ' : *q;
  }
  *p = '\0';
  return out;
}

static void release_name(struct nsbox_store *s, const char *name, const char *id);

/* A container's record: in its dir below the data dir, or, for a --rm container, which
 * exists only while it runs, in the run dir (a tmpfs: no disk writes on the start-up path). */
static char *record_path(struct nsbox_store *s, const char *id, bool ephemeral) {
  return ephemeral ? xasprintf("%s/%s.config", s->run, id)
                   : xasprintf("%s/containers/%s/config", s->data, id);
}

/* Reads the record; *ephemeral (if given) says it was a --rm container's. */
static ssize_t read_record(struct nsbox_store *s, const char *id, char **rec, bool *ephemeral) {
  cleanup_free char *p = record_path(s, id, false);
  ssize_t r = read_file_at(AT_FDCWD, p, rec);
  if (ephemeral)
    *ephemeral = r < 0;
  if (r >= 0)
    return r;
  cleanup_free char *q = record_path(s, id, true);
  return read_file_at(AT_FDCWD, q, rec);
}

/* A seccomp profile is copied into the container's dir: `exec` and `start` must load the
 * very filter the container got, whatever becomes of the file given. */
static int keep_profile(const struct nsbox_config *c, const char *dir, char **kept,
                        nsbox_error_t *err) {
  *kept = NULL;
  if (c->security.seccomp != SECCOMP_PROFILE)
    return 0;
  cleanup_free char *data = NULL;
  ssize_t n = read_file_at(AT_FDCWD, c->security.seccomp_profile, &data);
  if (n < 0)
    return nsbox_fail(err, (int)-n, "read %s", c->security.seccomp_profile);
  *kept = xasprintf("%s/seccomp.json", dir);
  int r = write_file_at(AT_FDCWD, *kept, data, (size_t)n, 0600, false);
  return r < 0 ? nsbox_fail(err, -r, "write %s", *kept) : 0;
}

/* The record first (container_remove() reads the name from it), then the layer's dirs. */
static int fill_container_dir(struct nsbox_store *s, const struct nsbox_config *c, const char *dir,
                              nsbox_error_t *err) {
  struct nsbox_config rec = *c;
  cleanup_free char *profile = NULL;
  if (keep_profile(c, dir, &profile, err) < 0)
    return -1;
  if (profile)
    rec.security.seccomp_profile = profile;
  cleanup_free char *text = config_to_json(&rec, (int64_t)time(NULL));
  cleanup_free char *path = record_path(s, c->id, c->remove);
  int r = write_file_at(AT_FDCWD, path, text, strlen(text), 0600, true);
  if (r < 0)
    return nsbox_fail(err, -r, "write %s", path);
  if (c->root.path != NULL)
    return 0;
  cleanup_close int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0 || mkdirat(dfd, "upper", 0755) < 0 || mkdirat(dfd, "work", 0700) < 0 ||
      (c->root.image_file && mkdirat(dfd, "image", 0700) < 0))
    return nsbox_fail(err, errno, "mkdir in %s", dir);
  return 0;
}

static bool is_hex(const char *s) {
  for (; *s; s++)
    if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
      return false;
  return true;
}

/* Without --name a container is known by its id's first 12 digits and needs no reservation
 * (ids are random); a chosen name that looks like one must not shadow a container's id. */
static bool name_is_an_id(struct nsbox_store *s, const char *name) {
  if (strlen(name) > 64 || !is_hex(name))
    return false;
  struct container_info ci;
  nsbox_error_t ignored = {0};
  if (container_find(s, name, &ci, &ignored) < 0)
    return false;
  container_info_free(&ci);
  return true;
}

void container_prepare(struct nsbox_store *s, struct nsbox_config *c) {
  if (c->id[0] == '\0')
    random_hex_id(c->id);
  if (c->hostname == NULL)
    c->hostname = xstrndup(c->id, 12);
  if (c->name == NULL) {
    c->name = xstrndup(c->id, 12);
    c->auto_name = true;
  }
  if (c->root.path == NULL) {
    /* The overlay is mounted on the container's own dir (inside the container's mount
     * namespace only), which spares a mount point dir of its own. */
    c->root.mergeddir = xasprintf("%s/containers/%s", s->data, c->id);
    c->root.upperdir = xasprintf("%s/upper", c->root.mergeddir);
    c->root.workdir = xasprintf("%s/work", c->root.mergeddir);
    if (c->root.image_file)
      c->root.image_dir = xasprintf("%s/image", c->root.mergeddir);
  }
}

int container_create(struct nsbox_store *s, const struct nsbox_config *c, nsbox_error_t *err) {
  cleanup_free char *dir = xasprintf("%s/containers/%s", s->data, c->id);
  cleanup_free char *name_link = xasprintf("%s/containers/.names/%s", s->data, c->name);
  if (!c->auto_name) {
    if (name_is_an_id(s, c->name))
      return nsbox_fail(err, 0, "the name \"%s\" is the id of a container", c->name);
    if (symlink(c->id, name_link) < 0) {
      if (errno == EEXIST)
        return nsbox_fail(err, 0, "the name \"%s\" is already in use by a container", c->name);
      return nsbox_fail(err, errno, "reserve name %s", c->name);
    }
  }
  if (mkdir(dir, 0700) < 0) {
    nsbox_fail(err, errno, "mkdir %s", dir);
    release_name(s, c->name, c->id);
    return -1;
  }
  if (fill_container_dir(s, c, dir, err) < 0) {
    nsbox_error_t ignored = {0};
    container_remove(s, c->id, &ignored);
    release_name(s, c->name, c->id);
    return -1;
  }
  return 0;
}

static int write_state(struct nsbox_store *s, const char *id, const char *text,
                       nsbox_error_t *err) {
  cleanup_free char *dir = xasprintf("%s/containers/%s", s->data, id);
  cleanup_close int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  int r = dfd < 0 ? -errno : write_file_at(dfd, "state", text, strlen(text), 0600, true);
  return r < 0 ? nsbox_fail(err, -r, "write %s/state", dir) : 0;
}

/* The start time of a process (clock ticks since boot), so a recycled pid is not mistaken
 * for the container's. 0 when the process is gone, or dead and only waiting to be reaped (a
 * zombie: a killed nsbox's container, until its new parent reaps it). */
static unsigned long long proc_starttime(pid_t pid) {
  char path[32];
  snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
  cleanup_free char *st = NULL;
  if (read_file_at(AT_FDCWD, path, &st) < 0)
    return 0;
  const char *p = strrchr(st, ')');
  if (p == NULL || p[1] != ' ' || p[2] == 'Z' || p[2] == 'X')
    return 0;
  /* Field 22 (starttime); the text after ')' starts at field 3. */
  int field = 2;
  for (; *p && field < 22; p++)
    if (*p == ' ')
      field++;
  return strtoull(p, NULL, 10);
}

int pidfd_checked(pid_t pid, unsigned long long start) {
  int fd = sys_pidfd_open(pid, 0);
  if (fd < 0)
    return -errno;
  /* Opened first, checked second: if the start time matches now, the pidfd is that
   * process's, whatever becomes of the pid number later. */
  if (start == 0 || proc_starttime(pid) != start) {
    close(fd);
    return -ESRCH;
  }
  return fd;
}

/* What exists only while the container runs lives in the run dir (a tmpfs, usually):
 * run/ID holds the pid of its PID 1 and that process's start time, and its monitor's. */
int container_set_running(struct nsbox_store *s, const char *id, pid_t pid, const char *addr,
                          nsbox_error_t *err) {
  char text[256];
  int n = snprintf(text, sizeof(text),
                   "status=running\npid=%d\nstarttime=%llu\nmonitor=%d\nmonitor_start=%llu\n"
                   "started=%lld\naddr=%s\n",
                   (int)pid, proc_starttime(pid), (int)getpid(), proc_starttime(getpid()),
                   (long long)time(NULL), addr ? addr : "");
  cleanup_close int dfd = open(s->run, O_PATH | O_DIRECTORY | O_CLOEXEC);
  int r = dfd < 0 ? -errno : write_file_at(dfd, id, text, (size_t)n, 0600, true);
  return r < 0 ? nsbox_fail(err, -r, "write %s/%s", s->run, id) : 0;
}

void container_clear_running(struct nsbox_store *s, const char *id) {
  cleanup_free char *p = xasprintf("%s/%s", s->run, id);
  unlink(p);
}

int container_set_exited(struct nsbox_store *s, const char *id, int code, bool oom,
                         nsbox_error_t *err) {
  /* The start time of this run is in its running state, which goes now: kept here. */
  cleanup_free char *run = xasprintf("%s/%s", s->run, id), *running = NULL, *started = NULL;
  if (read_file_at(AT_FDCWD, run, &running) >= 0)
    started = record_get(running, "started");
  char text[160];
  snprintf(text, sizeof(text), "status=exited\nexit_code=%d\nfinished=%lld\noom=%d\nstarted=%s\n",
           code, (long long)time(NULL), oom ? 1 : 0, started ? started : "0");
  int r = write_state(s, id, text, err);
  container_clear_running(s, id);
  return r;
}

int container_load_config(struct nsbox_store *s, const char *id, struct nsbox_config *c,
                          nsbox_error_t *err) {
  cleanup_free char *rec = NULL;
  ssize_t n = read_record(s, id, &rec, NULL);
  if (n < 0)
    return nsbox_fail(err, (int)-n, "read the record of container %.12s", id);
  int64_t created;
  return config_from_json(rec, (size_t)n, c, &created, err);
}

int container_lock(struct nsbox_store *s, const char *id, nsbox_error_t *err) {
  cleanup_free char *dir = xasprintf("%s/containers/%s", s->data, id);
  cleanup_close int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return nsbox_fail(err, errno == ENOENT ? 0 : errno,
                      errno == ENOENT ? "no such container: %.12s" : "open %s",
                      errno == ENOENT ? id : dir);
  while (flock(fd, LOCK_EX) < 0)
    if (errno != EINTR)
      return nsbox_fail(err, errno, "lock %s", dir);
  return steal_fd(&fd);
}

char *container_log_path(struct nsbox_store *s, const char *id) {
  return xasprintf("%s/containers/%s/ctr.log", s->data, id);
}

int container_open_log(struct nsbox_store *s, const char *id, nsbox_error_t *err) {
  cleanup_free char *p = container_log_path(s, id);
  return logfile_open(p, err);
}

int container_set_cgroups(struct nsbox_store *s, const char *id, const struct nsbox_cgroup *cg,
                          nsbox_error_t *err) {
  cleanup_free char *text = xstrdup("");
  for (size_t i = 0; i < cg->n_dirs; i++) {
    char *next = xasprintf("%s%s\n", text, cg->dirs[i]);
    free(text);
    text = next;
  }
  cleanup_free char *name = xasprintf("%s.cgroups", id);
  cleanup_close int dfd = open(s->run, O_PATH | O_DIRECTORY | O_CLOEXEC);
  int r = dfd < 0 ? -errno : write_file_at(dfd, name, text, strlen(text), 0600, true);
  return r < 0 ? nsbox_fail(err, -r, "write %s/%s", s->run, name) : 0;
}

void container_clear_cgroups(struct nsbox_store *s, const char *id) {
  cleanup_free char *p = xasprintf("%s/%s.cgroups", s->run, id);
  unlink(p);
}

char *container_cgroups(struct nsbox_store *s, const char *id) {
  cleanup_free char *p = xasprintf("%s/%s.cgroups", s->run, id);
  char *list = NULL;
  if (read_file_at(AT_FDCWD, p, &list) < 0)
    return NULL;
  return list;
}

/* Removes the cgroups recorded for id, and the record once they are all gone (a cgroup with
 * processes still dying in it stays for a later try). */
static void reclaim_cgroups(struct nsbox_store *s, const char *id) {
  cleanup_free char *p = xasprintf("%s/%s.cgroups", s->run, id);
  cleanup_free char *list = NULL;
  if (read_file_at(AT_FDCWD, p, &list) < 0)
    return;
  if (cgroup_remove_listed(list) == 0)
    unlink(p);
}

static int load_info(struct nsbox_store *s, const char *id, struct container_info *ci);
static int read_record_info(const char *rec, size_t len, struct container_info *ci);

void container_reclaim_cgroups(struct nsbox_store *s) {
  DIR *d = opendir(s->run);
  if (d == NULL)
    return;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    size_t n = strlen(de->d_name);
    if (n != 64 + 8 || strcmp(de->d_name + 64, ".cgroups") != 0)
      continue;
    char id[65];
    memcpy(id, de->d_name, 64);
    id[64] = '\0';
    struct container_info ci;
    bool alive = false;
    if (load_info(s, id, &ci) == 0) {
      alive = ci.monitor != 0; /* its nsbox run still lives and cleans up itself */
      container_info_free(&ci);
    }
    if (!alive)
      reclaim_cgroups(s, id);
  }
  closedir(d);
}

static int remove_in_userns(void *arg) {
  int r = rm_rf_at(AT_FDCWD, arg);
  return r < 0 ? 1 : 0;
}

int store_remove_tree(struct nsbox_store *s, const char *path, nsbox_error_t *err) {
  int r = rm_rf_at(AT_FDCWD, path);
  if (r == 0)
    return 0;
  if (s->rootless && (r == -EACCES || r == -EPERM)) {
    /* Files owned by subordinate ids: only root of the user namespace may remove them. */
    int st = userns_run(&s->idmaps, remove_in_userns, (void *)path, err);
    if (st < 0)
      return nsbox_wrap(err, "remove %s", path);
    if (st == 0)
      return 0;
    r = -EACCES;
  }
  return nsbox_fail(err, -r, "remove %s", path);
}

/* Drops the name reservation, only while it is still ours: by now the name may belong to a
 * newer container. */
static void release_name(struct nsbox_store *s, const char *name, const char *id) {
  cleanup_free char *link = xasprintf("%s/containers/.names/%s", s->data, name);
  char target[80];
  ssize_t n = readlink(link, target, sizeof(target) - 1);
  if (n > 0 && (target[n] = '\0', strcmp(target, id) == 0))
    unlink(link);
}

int container_remove(struct nsbox_store *s, const char *id, nsbox_error_t *err) {
  cleanup_free char *dir = xasprintf("%s/containers/%s", s->data, id);
  cleanup_free char *rec = NULL;
  ssize_t len = read_record(s, id, &rec, NULL);
  struct container_info ci = {0};
  if (len >= 0 && read_record_info(rec, (size_t)len, &ci) == 0 && ci.name)
    release_name(s, ci.name, id);
  container_info_free(&ci);
  reclaim_cgroups(s, id);
  container_clear_running(s, id);
  cleanup_close int rundir = open(s->run, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rundir >= 0)
    attach_unlink(rundir, id); /* a killed monitor's */
  /* Renamed out of the way first: an `nsbox run` still finishing writes its exit state into
   * the container's dir, and must not do so into one half removed. */
  cleanup_free char *gone = xasprintf("%s/containers/.removing-%s", s->data, id);
  int r = store_remove_tree(s, rename(dir, gone) == 0 ? gone : dir, err);
  /* The record goes last: until then, a failed removal can be found and retried. */
  cleanup_free char *eph = record_path(s, id, true);
  unlink(eph);
  return r;
}

static char *json_strdup(const struct json_value *obj, const char *key) {
  const struct json_value *v = json_get(obj, key);
  return v && v->type == JSON_STRING ? xstrdup(v->u.str.s) : NULL;
}

/* What `ps` shows of the record: its name, image, command and creation time. */
static int read_record_info(const char *rec, size_t len, struct container_info *ci) {
  struct json_value root;
  nsbox_error_t ignored = {0};
  if (json_parse(rec, len, &root, &ignored) < 0)
    return -1;
  ci->name = json_strdup(&root, "name");
  ci->image = json_strdup(&root, "image");
  ci->image_id = json_strdup(&root, "imageId");
  int64_t created = 0;
  json_i64(json_get(&root, "created"), &created);
  ci->created = (time_t)created;
  const struct json_value *args = json_get(json_get(&root, "process"), "args");
  size_t n = args && args->type == JSON_ARRAY ? args->u.arr.n : 0;
  char **argv = xmalloc((n + 1) * sizeof(*argv));
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (args->u.arr.items[i].type == JSON_STRING)
      argv[k++] = args->u.arr.items[i].u.str.s;
  argv[k] = NULL;
  ci->command = join_args(argv);
  free(argv);
  json_free(&root);
  return 0;
}

static int load_info(struct nsbox_store *s, const char *id, struct container_info *ci) {
  cleanup_free char *st = xasprintf("%s/containers/%s/state", s->data, id);
  cleanup_free char *rec = NULL, *state = NULL;
  bool ephemeral;
  ssize_t len = read_record(s, id, &rec, &ephemeral);
  if (len < 0)
    return -1;
  memset(ci, 0, sizeof(*ci));
  ci->remove = ephemeral;
  snprintf(ci->id, sizeof(ci->id), "%s", id);
  if (read_record_info(rec, (size_t)len, ci) < 0)
    return -1;
  ci->status = CT_CREATED;
  cleanup_free char *run = xasprintf("%s/%s", s->run, id);
  if (read_file_at(AT_FDCWD, run, &state) < 0 && read_file_at(AT_FDCWD, st, &state) < 0)
    return 0;
  cleanup_free char *status = record_get(state, "status");
  if (status && strcmp(status, "running") == 0) {
    cleanup_free char *pid = record_get(state, "pid");
    cleanup_free char *start = record_get(state, "starttime");
    ci->pid = pid ? (pid_t)atoi(pid) : 0;
    unsigned long long want = start ? strtoull(start, NULL, 10) : 0;
    /* The record says running; believe it only while that very process exists. */
    ci->status =
        ci->pid > 0 && want != 0 && proc_starttime(ci->pid) == want ? CT_RUNNING : CT_UNKNOWN;
    ci->pid_start = want;
    cleanup_free char *mon = record_get(state, "monitor");
    cleanup_free char *mon_start = record_get(state, "monitor_start");
    pid_t m = mon ? (pid_t)atoi(mon) : 0;
    if (m > 0 && mon_start && proc_starttime(m) == strtoull(mon_start, NULL, 10)) {
      ci->monitor = m;
      ci->monitor_start = strtoull(mon_start, NULL, 10);
    }
    cleanup_free char *started = record_get(state, "started");
    ci->started = started ? (time_t)strtoll(started, NULL, 10) : ci->created;
    ci->addr = record_get(state, "addr");
  } else if (status && strcmp(status, "exited") == 0) {
    cleanup_free char *code = record_get(state, "exit_code");
    cleanup_free char *fin = record_get(state, "finished");
    ci->status = CT_EXITED;
    ci->exit_code = code ? atoi(code) : -1;
    ci->finished = fin ? (time_t)strtoll(fin, NULL, 10) : 0;
    cleanup_free char *oom = record_get(state, "oom");
    ci->oom = oom && strcmp(oom, "1") == 0;
    cleanup_free char *started = record_get(state, "started");
    ci->started = started ? (time_t)strtoll(started, NULL, 10) : 0;
  }
  return 0;
}

static int cmp_created(const void *a, const void *b) {
  const struct container_info *x = a, *y = b;
  return x->created < y->created ? 1 : x->created > y->created ? -1 : 0;
}

/* Adds the containers named by the entries of dir: "ID" (suffix NULL) or "ID.config". */
static void list_dir(struct nsbox_store *s, const char *dir, const char *suffix,
                     struct container_info **v, size_t *len) {
  DIR *d = opendir(dir);
  if (d == NULL)
    return;
  struct dirent *de;
  size_t sl = suffix ? strlen(suffix) : 0;
  while ((de = readdir(d)) != NULL) {
    size_t nl = strlen(de->d_name);
    if (de->d_name[0] == '.' || nl != 64 + sl || (suffix && strcmp(de->d_name + 64, suffix)))
      continue;
    char id[65];
    memcpy(id, de->d_name, 64);
    id[64] = '\0';
    *v = xrealloc(*v, (*len + 1) * sizeof(**v));
    if (load_info(s, id, &(*v)[*len]) < 0)
      continue;
    /* A --rm container has its layer in the data dir but its record in the run dir: it is
     * listed from there. */
    if (suffix == NULL && (*v)[*len].remove) {
      container_info_free(&(*v)[*len]);
      continue;
    }
    (*len)++;
  }
  closedir(d);
}

int container_list(struct nsbox_store *s, struct container_info **out, size_t *n,
                   nsbox_error_t *err) {
  cleanup_free char *dir = xasprintf("%s/containers", s->data);
  struct container_info *v = NULL;
  size_t len = 0;
  list_dir(s, dir, NULL, &v, &len);
  list_dir(s, s->run, ".config", &v, &len);
  if (len > 1)
    qsort(v, len, sizeof(*v), cmp_created);
  *out = v;
  *n = len;
  return 0;
}

int container_find(struct nsbox_store *s, const char *ref, struct container_info *out,
                   nsbox_error_t *err) {
  cleanup_free char *link = xasprintf("%s/containers/.names/%s", s->data, ref);
  char id[80];
  ssize_t n = strchr(ref, '/') ? -1 : readlink(link, id, sizeof(id) - 1);
  if (n == 64) {
    id[n] = '\0';
    if (load_info(s, id, out) == 0)
      return 0;
  }
  struct container_info *all = NULL;
  size_t len = 0, found = 0, which = 0;
  if (container_list(s, &all, &len, err) < 0)
    return -1;
  size_t rl = strlen(ref);
  for (size_t i = 0; i < len; i++)
    if (rl > 0 && strncmp(all[i].id, ref, rl) == 0) {
      found++;
      which = i;
    }
  int r = 0;
  if (found == 1) {
    *out = all[which];
    memset(&all[which], 0, sizeof(all[which]));
  } else {
    r = nsbox_fail(
        err, 0, found ? "%s: more than one container id starts with it" : "no such container: %s",
        ref);
  }
  for (size_t i = 0; i < len; i++)
    container_info_free(&all[i]);
  free(all);
  return r;
}
