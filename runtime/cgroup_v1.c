/* cgroup v1 (legacy and hybrid hosts): the container gets a cgroup in each of the memory,
 * cpu, cpuacct and pids hierarchies, below the cgroup nsbox runs in there. Root only: the
 * kernel lets nobody else make cgroups in these hierarchies or mount them in a user
 * namespace. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup_internal.h"
#include "mounts.h"
#include "util.h"

#define MAX_MOUNTS 24

/* A cgroup filesystem mounted directly below /sys/fs/cgroup. */
struct v1_mount {
  char *name; /* its dir below /sys/fs/cgroup ("memory", "cpu,cpuacct", "systemd") */
  char *root; /* the cgroup it shows at its top, usually "/" */
  char *opts; /* its hierarchy: "cpu,cpuacct", "name=systemd"; NULL for cgroup2 */
};

/* Keeps the options of a v1 superblock that name its hierarchy (controllers, name=). */
static char *hierarchy_opts(const char *superopts) {
  static const char *const not_hierarchy[] = {
      "rw", "ro", "xattr", "noprefix", "clone_children", "cpuset_v2_mode", "favordynmods", "none"};
  cleanup_free char *copy = xstrdup(superopts);
  cleanup_free char *out = xstrdup("");
  char *save = NULL;
  for (char *o = strtok_r(copy, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
    bool skip = strncmp(o, "release_agent=", 14) == 0;
    for (size_t i = 0; i < ARRAY_SIZE(not_hierarchy) && !skip; i++)
      skip = strcmp(o, not_hierarchy[i]) == 0;
    if (skip)
      continue;
    char *next = xasprintf("%s%s%s", out, *out ? "," : "", o);
    free(out);
    out = next;
  }
  return steal_pointer(&out);
}

/* The cgroup mounts below /sys/fs/cgroup, from /proc/self/mountinfo
 * ("id parent maj:min root mountpoint opts [tags] - fstype source superopts"). */
static size_t v1_mounts(struct v1_mount *out, size_t max) {
  cleanup_free char *data = NULL;
  if (read_file_at(AT_FDCWD, "/proc/self/mountinfo", &data) < 0)
    return 0;
  size_t n = 0;
  char *save = NULL;
  for (char *line = strtok_r(data, "\n", &save); line && n < max;
       line = strtok_r(NULL, "\n", &save)) {
    char *f[6] = {0};
    char *p = line;
    for (int i = 0; i < 6 && p; i++) {
      f[i] = p;
      p = strchr(p, ' ');
      if (p)
        *p++ = '\0';
    }
    /* Optional tags ("shared:15") may come before the "-" that ends them. */
    char *sep = p == NULL ? NULL : strncmp(p, "- ", 2) == 0 ? p : strstr(p, " - ");
    if (f[4] == NULL || sep == NULL)
      continue;
    char *fstype = sep + (*sep == '-' ? 2 : 3);
    char *source = strchr(fstype, ' ');
    char *super = source ? strchr(source + 1, ' ') : NULL;
    if (super == NULL)
      continue;
    *source = '\0';
    *super++ = '\0';
    bool v2 = strcmp(fstype, "cgroup2") == 0;
    if (!v2 && strcmp(fstype, "cgroup") != 0)
      continue;
    const char *mp = f[4];
    if (strncmp(mp, CGROUP_ROOT "/", sizeof(CGROUP_ROOT)) != 0 ||
        strchr(mp + sizeof(CGROUP_ROOT), '/') != NULL)
      continue;
    out[n++] = (struct v1_mount){.name = xstrdup(mp + sizeof(CGROUP_ROOT)),
                                 .root = xstrdup(f[3]),
                                 .opts = v2 ? NULL : hierarchy_opts(super)};
  }
  return n;
}

static void free_mounts(struct v1_mount *m, size_t n) {
  for (size_t i = 0; i < n; i++) {
    free(m[i].name);
    free(m[i].root);
    free(m[i].opts);
  }
}

static const struct v1_mount *find_mount(const struct v1_mount *m, size_t n, const char *ctl) {
  for (size_t i = 0; i < n; i++)
    if (m[i].opts && cg_list_has(m[i].opts, ctl, ","))
      return &m[i];
  return NULL;
}

enum { C_MEMORY, C_CPU, C_CPUACCT, C_PIDS, C_N };
static const char *const controllers[C_N] = {"memory", "cpu", "cpuacct", "pids"};

/* The container's cgroup in the hierarchy of m: below ours there. */
static char *cgroup_dir(const struct v1_mount *m, const char *ctl, const char *name) {
  cleanup_free char *own = cg_own_path(ctl);
  if (own == NULL)
    return NULL;
  const char *rel = own;
  size_t rl = strlen(m->root);
  if (strcmp(m->root, "/") != 0 && strncmp(own, m->root, rl) == 0)
    rel = own + rl;
  if (strcmp(rel, "/") == 0)
    rel = "";
  return xasprintf("%s/%s%s/%s", CGROUP_ROOT, m->name, rel, name);
}

static int v1_write_limits(char *const dir[C_N], const struct nsbox_resources *r,
                           nsbox_error_t *err) {
  if (r->memory && cg_write_num(dir[C_MEMORY], "memory.limit_in_bytes", r->memory, err) < 0)
    return -1;
  if (r->memory_swap || r->memory) {
    /* memsw is memory plus swap; docker's default allows as much swap as memory. v1 writes
     * unlimited as -1, not "max". */
    int64_t total = r->memory_swap ? r->memory_swap : 2 * r->memory;
    cleanup_free char *p = xasprintf("%s/memory.memsw.limit_in_bytes", dir[C_MEMORY]);
    /* The file exists only with swap accounting (swapaccount=1). */
    if (access(p, F_OK) < 0) {
      if (r->memory_swap)
        return nsbox_fail(err, 0,
                          "--memory-swap: this kernel does not account swap in cgroup v1 (boot "
                          "it with swapaccount=1)");
    } else if (total < 0 ? cg_write(dir[C_MEMORY], "memory.memsw.limit_in_bytes", "-1", err)
                         : cg_write_num(dir[C_MEMORY], "memory.memsw.limit_in_bytes", total, err)) {
      return -1;
    }
  }
  if (r->cpu_quota &&
      (cg_write_num(dir[C_CPU], "cpu.cfs_period_us", (long long)r->cpu_period, err) < 0 ||
       cg_write_num(dir[C_CPU], "cpu.cfs_quota_us", (long long)r->cpu_quota, err) < 0))
    return -1;
  if (r->cpu_shares && cg_write_num(dir[C_CPU], "cpu.shares", (long long)r->cpu_shares, err) < 0)
    return -1;
  if (r->pids_limit && cg_write_num(dir[C_PIDS], "pids.max", r->pids_limit, err) < 0)
    return -1;
  return 0;
}

static int v1_create(struct nsbox_cgroup *cg, const char *name, const struct nsbox_resources *r,
                     bool rootless, nsbox_error_t *err) {
  if (rootless)
    return nsbox_fail(err, 0,
                      "limits need a cgroup, and on this host's cgroup v1 only root can make "
                      "one: run as root, or on a host with cgroup v2 and a subtree delegated to "
                      "you");
  bool need[C_N] = {r->memory || r->memory_swap, r->cpu_quota || r->cpu_weight, false,
                    r->pids_limit != 0};
  struct v1_mount m[MAX_MOUNTS];
  size_t nm = v1_mounts(m, MAX_MOUNTS);
  char *dir[C_N] = {0};
  int ret = 0;
  for (int c = 0; c < C_N && ret == 0; c++) {
    const struct v1_mount *mt = find_mount(m, nm, controllers[c]);
    if (mt == NULL) {
      if (need[c])
        ret = nsbox_fail(err, 0,
                         "limits need the cgroup v1 controller \"%s\", which is not "
                         "mounted below " CGROUP_ROOT,
                         controllers[c]);
      continue;
    }
    char *d = cgroup_dir(mt, controllers[c], name);
    if (d == NULL) {
      ret = nsbox_fail(err, 0, "no \"%s\" line in /proc/self/cgroup", controllers[c]);
      continue;
    }
    /* cpu and cpuacct often share one hierarchy: one dir for both. */
    for (size_t i = 0; i < cg->n_dirs && d; i++)
      if (strcmp(cg->dirs[i], d) == 0) {
        free(d);
        d = cg->dirs[i];
        dir[c] = d;
      }
    if (dir[c])
      continue;
    if (mkdir(d, 0755) < 0) {
      ret = nsbox_fail(err, errno, "mkdir %s", d);
      free(d);
      continue;
    }
    cg_add_dir(cg, d);
    dir[c] = d;
  }
  free_mounts(m, nm);
  if (ret < 0)
    return -1;
  cg->memory_dir = dir[C_MEMORY];
  return v1_write_limits(dir, r, err);
}

static unsigned long v1_oom_kills(const struct nsbox_cgroup *cg) {
  return cg_read_key(cg->memory_dir, "memory.oom_control", "oom_kill");
}

/* The host's symlinks between hierarchies ("cpu" -> "cpu,cpuacct"), made in top too. */
static void copy_links(int top) {
  DIR *d = opendir(CGROUP_ROOT);
  if (d == NULL)
    return;
  for (struct dirent *de; (de = readdir(d)) != NULL;) {
    char target[256];
    ssize_t n;
    if (de->d_type != DT_LNK ||
        (n = readlinkat(dirfd(d), de->d_name, target, sizeof(target) - 1)) <= 0)
      continue;
    target[n] = '\0';
    if (strchr(target, '/') == NULL)
      symlinkat(target, top, de->d_name);
  }
  closedir(d);
}

static int mount_hierarchies(int rootfd, const struct v1_mount *m, size_t nm, nsbox_error_t *err) {
  {
    cleanup_close int fd = open_in_root(rootfd, CGROUP_ROOT, CREATE_NONE, err);
    if (fd < 0 || mount_on_fd("tmpfs", fd, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                              "mode=755,size=64k", "tmpfs on " CGROUP_ROOT, err) < 0)
      return -1;
  }
  /* A fresh walk crosses into the tmpfs just mounted. */
  cleanup_close int top = open_in_root(rootfd, CGROUP_ROOT, CREATE_NONE, err);
  if (top < 0)
    return -1;
  for (size_t i = 0; i < nm; i++) {
    cleanup_free char *path = xasprintf(CGROUP_ROOT "/%s", m[i].name);
    const char *type = m[i].opts ? "cgroup" : "cgroup2";
    cleanup_close int fd = open_in_root(rootfd, path, CREATE_DIR, err);
    if (fd < 0 || mount_on_fd(type, fd, type, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                              m[i].opts, path, err) < 0)
      return -1;
  }
  copy_links(top);
  return make_readonly_fd(top, false, CGROUP_ROOT, err);
}

/* A tmpfs on /sys/fs/cgroup with each of the host's hierarchies mounted on it read-only (the
 * cgroup namespace makes each show the container's cgroup as its root). */
static int v1_mount_inside(int rootfd, bool userns, nsbox_error_t *err) {
  if (userns)
    return 0; /* the kernel allows no v1 mount there: /sys/fs/cgroup stays empty */
  struct v1_mount m[MAX_MOUNTS];
  size_t nm = v1_mounts(m, MAX_MOUNTS);
  int r = mount_hierarchies(rootfd, m, nm, err);
  free_mounts(m, nm);
  return r;
}

const struct cgroup_ops cgroup_v1_ops = {
    .create = v1_create,
    .oom_kills = v1_oom_kills,
    .mount_inside = v1_mount_inside,
};
