/* See cgroup.h. This file holds the common part and cgroup v2; cgroup_v1.c the legacy
 * hierarchies. The version is the host's: v2 when /sys/fs/cgroup is the unified tree, v1
 * otherwise (a hybrid host's unified mount carries no controllers worth having). */
#include "cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "cgroup_internal.h"
#include "limits.h"
#include "mounts.h"
#include "util.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

/* The leaf nsbox moves a cgroup's processes into, so that controllers can be enabled for its
 * children (cgroup v2 allows no processes in a cgroup with controllers enabled for children:
 * the "no internal processes" rule). */
#define LEAF_NAME "nsbox-leaf"

static const struct cgroup_ops cgroup_v2_ops;

static bool unified_host(void) {
  struct statfs sf;
  return statfs(CGROUP_ROOT, &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC;
}

static const struct cgroup_ops *host_ops(void) {
  return unified_host() ? &cgroup_v2_ops : &cgroup_v1_ops;
}

bool cgroup_wanted(const struct nsbox_resources *r) {
  return r->memory || r->memory_swap || r->cpu_quota || r->cpu_weight || r->pids_limit;
}

int cg_write(const char *dir, const char *file, const char *value, nsbox_error_t *err) {
  cleanup_free char *path = xasprintf("%s/%s", dir, file);
  cleanup_close int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return nsbox_fail(err, errno, "open %s", path);
  /* One write: the kernel takes a cgroup file's value from a single write call. */
  ssize_t n = write(fd, value, strlen(value));
  if (n < 0)
    return nsbox_fail(err, errno, "write \"%s\" to %s", value, path);
  return 0;
}

int cg_write_num(const char *dir, const char *file, long long value, nsbox_error_t *err) {
  char buf[24];
  if (value < 0)
    snprintf(buf, sizeof(buf), "max");
  else
    snprintf(buf, sizeof(buf), "%lld", value);
  return cg_write(dir, file, buf, err);
}

unsigned long cg_read_key(const char *dir, const char *file, const char *key) {
  cleanup_free char *path = xasprintf("%s/%s", dir, file);
  cleanup_free char *data = NULL;
  if (read_file_at(AT_FDCWD, path, &data) < 0)
    return 0;
  size_t kl = strlen(key);
  for (char *line = data; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
    if (strncmp(line, key, kl) == 0 && line[kl] == ' ')
      return strtoul(line + kl + 1, NULL, 10);
  return 0;
}

bool cg_list_has(const char *list, const char *word, const char *seps) {
  size_t wl = strlen(word);
  for (const char *c = list; *c;) {
    size_t n = strcspn(c, seps);
    if (n == wl && strncmp(c, word, n) == 0)
      return true;
    c += n + (c[n] != '\0');
  }
  return false;
}

char *cg_own_path(const char *controller) {
  cleanup_free char *data = NULL;
  if (read_file_at(AT_FDCWD, "/proc/self/cgroup", &data) < 0)
    return NULL;
  char *save = NULL;
  for (char *line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    char *ctl = strchr(line, ':');
    char *path = ctl ? strchr(ctl + 1, ':') : NULL;
    if (path == NULL)
      continue;
    *path++ = '\0';
    ctl++;
    if (controller == NULL) {
      if (strcmp(line, "0:") == 0 && *ctl == '\0')
        return xstrdup(path);
      continue;
    }
    /* "cpu,cpuacct": a list of the hierarchy's controllers */
    if (cg_list_has(ctl, controller, ","))
      return xstrdup(path);
  }
  return NULL;
}

void cg_add_dir(struct nsbox_cgroup *cg, char *dir) {
  if (cg->n_dirs < CGROUP_MAX_DIRS)
    cg->dirs[cg->n_dirs++] = dir;
  else
    free(dir);
}

/* rmdir of a cgroup and of any child cgroup below it: children first. */
static int remove_tree(const char *dir) {
  DIR *d = opendir(dir);
  if (d == NULL)
    return errno == ENOENT ? 0 : -errno;
  int r = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    if (de->d_type != DT_DIR || strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
      continue;
    cleanup_free char *sub = xasprintf("%s/%s", dir, de->d_name);
    int s = remove_tree(sub);
    if (s < 0 && r == 0)
      r = s;
  }
  closedir(d);
  if (rmdir(dir) < 0 && errno != ENOENT && r == 0)
    r = -errno;
  return r;
}

int cgroup_remove_listed(const char *list) {
  cleanup_free char *copy = xstrdup(list);
  int r = 0;
  char *save = NULL;
  for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    /* Only what nsbox made: a dir named nsbox-ID below a cgroup filesystem. */
    const char *base = strrchr(line, '/');
    if (line[0] != '/' || base == NULL || strncmp(base, "/nsbox-", 7) != 0)
      continue;
    int s = remove_tree(line);
    if (s < 0 && r == 0)
      r = s;
  }
  return r;
}

int cgroup_join_listed(const char *list, pid_t pid, nsbox_error_t *err) {
  cleanup_free char *copy = xstrdup(list);
  char buf[24], *save = NULL;
  snprintf(buf, sizeof(buf), "%d", (int)pid);
  for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
    if (line[0] == '/' && cg_write(line, "cgroup.procs", buf, err) < 0)
      return nsbox_wrap(err, "join the container's cgroup");
  return 0;
}

int cgroup_create(struct nsbox_cgroup *cg, const char *id, const struct nsbox_resources *r,
                  bool rootless, nsbox_error_t *err) {
  memset(cg, 0, sizeof(*cg));
  cleanup_free char *name = xasprintf("nsbox-%s", id);
  const struct cgroup_ops *ops = host_ops();
  cg->version = ops == &cgroup_v2_ops ? 2 : 1;
  if (ops->create(cg, name, r, rootless, err) < 0) {
    cgroup_destroy(cg); /* nothing half made is left */
    return -1;
  }
  return 0;
}

int cgroup_enter(const struct nsbox_cgroup *cg, pid_t pid, nsbox_error_t *err) {
  char buf[24];
  snprintf(buf, sizeof(buf), "%d", (int)pid);
  for (size_t i = 0; i < cg->n_dirs; i++)
    if (cg_write(cg->dirs[i], "cgroup.procs", buf, err) < 0)
      return nsbox_wrap(err, "move the container into its cgroup");
  return 0;
}

unsigned long cgroup_oom_kills(const struct nsbox_cgroup *cg) {
  if (cg->version == 0 || cg->memory_dir == NULL)
    return 0;
  return (cg->version == 2 ? &cgroup_v2_ops : &cgroup_v1_ops)->oom_kills(cg);
}

int cgroup_destroy(struct nsbox_cgroup *cg) {
  int r = 0;
  for (size_t i = cg->n_dirs; i-- > 0;) {
    int s = remove_tree(cg->dirs[i]);
    if (s < 0 && r == 0)
      r = s;
    free(cg->dirs[i]);
  }
  memset(cg, 0, sizeof(*cg));
  return r;
}

int cgroup_mount_inside(int rootfd, bool userns, nsbox_error_t *err) {
  return host_ops()->mount_inside(rootfd, userns, err);
}

/* --- cgroup v2 ------------------------------------------------------------------------------ */

static char *read_text(const char *dir, const char *file) {
  cleanup_free char *path = xasprintf("%s/%s", dir, file);
  char *data = NULL;
  if (read_file_at(AT_FDCWD, path, &data) < 0)
    return xstrdup("");
  return data;
}

/* Moves every process of base into base/nsbox-leaf. Processes may be forked meanwhile:
 * repeat until none is left, a bounded number of times. */
static int move_to_leaf(const char *base, nsbox_error_t *err) {
  cleanup_free char *leaf = xasprintf("%s/%s", base, LEAF_NAME);
  if (mkdir(leaf, 0755) < 0 && errno != EEXIST)
    return nsbox_fail(err, errno, "mkdir %s", leaf);
  for (int round = 0; round < 16; round++) {
    cleanup_free char *procs = read_text(base, "cgroup.procs");
    if (*procs == '\0')
      return 0;
    char *save = NULL;
    for (char *p = strtok_r(procs, "\n", &save); p; p = strtok_r(NULL, "\n", &save)) {
      cleanup_free char *path = xasprintf("%s/cgroup.procs", leaf);
      cleanup_close int fd = open(path, O_WRONLY | O_CLOEXEC);
      if (fd < 0)
        return nsbox_fail(err, errno, "open %s", path);
      if (write(fd, p, strlen(p)) < 0 && errno != ESRCH)
        return nsbox_fail(err, errno,
                          "move process %s from %s into %s (to enable controllers for the "
                          "container's cgroup)",
                          p, base, leaf);
    }
  }
  return nsbox_fail(err, EBUSY, "processes keep appearing in %s", base);
}

/* The controllers the limits need, enabled for base's children. */
static int enable_controllers(const char *base, const char *const *need, size_t n,
                              nsbox_error_t *err) {
  cleanup_free char *avail = read_text(base, "cgroup.controllers");
  for (size_t i = 0; i < n; i++)
    if (!cg_list_has(avail, need[i], " \n"))
      return nsbox_fail(err, 0,
                        "the cgroup v2 controller \"%s\" is not available in %s (its parent "
                        "does not delegate it: for a user, systemd's Delegate=yes or an "
                        "administrator's cgroup.subtree_control enables it)",
                        need[i], base);
  /* Processes in base itself (nsbox, the shell that started it) go to a leaf first. Not only
   * when the kernel refuses a controller (EBUSY, memory): the threaded-capable cpu and pids
   * are enabled even with processes present, and then base turns "domain threaded" and its
   * new child "domain invalid", into which no process can move (EOPNOTSUPP). The root cgroup
   * is exempt from the rule and its processes cannot all move. */
  if (strcmp(base, CGROUP_ROOT) != 0) {
    cleanup_free char *procs = read_text(base, "cgroup.procs");
    if (*procs && move_to_leaf(base, err) < 0)
      return -1;
  }
  cleanup_free char *on = read_text(base, "cgroup.subtree_control");
  for (size_t i = 0; i < n; i++) {
    if (cg_list_has(on, need[i], " \n"))
      continue;
    cleanup_free char *plus = xasprintf("+%s", need[i]);
    if (cg_write(base, "cgroup.subtree_control", plus, err) < 0)
      return -1;
  }
  return 0;
}

/* The cgroup the container's cgroup goes below: ours, or its parent when ours is the leaf an
 * earlier nsbox moved us into. */
static char *v2_base(nsbox_error_t *err) {
  cleanup_free char *own = cg_own_path(NULL);
  if (own == NULL) {
    nsbox_fail(err, 0, "no cgroup v2 entry in /proc/self/cgroup");
    return NULL;
  }
  char *last = strrchr(own, '/');
  if (last && strcmp(last + 1, LEAF_NAME) == 0)
    *last = '\0';
  return xasprintf("%s%s", CGROUP_ROOT, strcmp(own, "/") == 0 ? "" : own);
}

static int v2_write_limits(const char *dir, const struct nsbox_resources *r, nsbox_error_t *err) {
  if (r->memory && cg_write_num(dir, "memory.max", r->memory, err) < 0)
    return -1;
  /* docker's swap: --memory-swap is memory plus swap; unset, as much swap as memory. */
  if (r->memory_swap || r->memory) {
    int64_t swap = r->memory_swap < 0   ? -1
                   : r->memory_swap > 0 ? r->memory_swap - r->memory
                                        : r->memory;
    cleanup_free char *p = xasprintf("%s/memory.swap.max", dir);
    /* Without swap accounting the file is missing: fine unless swap was asked for. */
    if ((r->memory_swap || access(p, F_OK) == 0) &&
        cg_write_num(dir, "memory.swap.max", swap, err) < 0)
      return -1;
  }
  if (r->cpu_quota) {
    char buf[48];
    snprintf(buf, sizeof(buf), "%llu %llu", (unsigned long long)r->cpu_quota,
             (unsigned long long)r->cpu_period);
    if (cg_write(dir, "cpu.max", buf, err) < 0)
      return -1;
  }
  if (r->cpu_weight && cg_write_num(dir, "cpu.weight", (long long)r->cpu_weight, err) < 0)
    return -1;
  if (r->pids_limit && cg_write_num(dir, "pids.max", r->pids_limit, err) < 0)
    return -1;
  return 0;
}

static int v2_create(struct nsbox_cgroup *cg, const char *name, const struct nsbox_resources *r,
                     bool rootless, nsbox_error_t *err) {
  cleanup_free char *base = v2_base(err);
  if (base == NULL)
    return -1;
  if (rootless) {
    cleanup_free char *procs = xasprintf("%s/cgroup.procs", base);
    cleanup_free char *ctl = xasprintf("%s/cgroup.subtree_control", base);
    if (access(base, W_OK) < 0 || access(procs, W_OK) < 0 || access(ctl, W_OK) < 0)
      return nsbox_fail(err, 0,
                        "limits need a cgroup, and %s is not delegated to you: run nsbox in a "
                        "delegated cgroup (systemd-run --user --scope -p Delegate=yes nsbox run "
                        "...), or have an administrator chown a subtree to you",
                        base);
  }
  const char *need[3];
  size_t n = 0;
  if (r->memory || r->memory_swap)
    need[n++] = "memory";
  if (r->cpu_quota || r->cpu_weight)
    need[n++] = "cpu";
  if (r->pids_limit)
    need[n++] = "pids";
  if (enable_controllers(base, need, n, err) < 0)
    return nsbox_wrap(err, "limits need a cgroup");
  char *dir = xasprintf("%s/%s", base, name);
  if (mkdir(dir, 0755) < 0) {
    nsbox_fail(err, errno, "mkdir %s", dir);
    free(dir);
    return -1;
  }
  cg_add_dir(cg, dir);
  if (r->memory || r->memory_swap)
    cg->memory_dir = dir;
  return v2_write_limits(dir, r, err);
}

static unsigned long v2_oom_kills(const struct nsbox_cgroup *cg) {
  return cg_read_key(cg->memory_dir, "memory.events", "oom_kill");
}

static int v2_mount_inside(int rootfd, bool userns, nsbox_error_t *err) {
  cleanup_close int fd = open_in_root(rootfd, CGROUP_ROOT, CREATE_NONE, err);
  if (fd < 0)
    return -1;
  return mount_on_fd("cgroup2", fd, "cgroup2", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL,
                     "cgroup2 on /sys/fs/cgroup", err);
}

static const struct cgroup_ops cgroup_v2_ops = {
    .create = v2_create,
    .oom_kills = v2_oom_kills,
    .mount_inside = v2_mount_inside,
};
