/* See mounts.h. Mount targets are always fds; /proc/self/fd/N names them for mount(2). */
#include "mounts.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "cgroup.h"
#include "devices.h"
#include "masks.h"
#include "netns.h"
#include "network.h"
#include "syscalls.h"
#include "util.h"

#define RESOLVE_FLAGS (RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)

static int open_path(int rootfd, const char *rel) {
  if (*rel == '\0')
    rel = ".";
  return sys_openat2(rootfd, rel, O_PATH | O_CLOEXEC, 0, RESOLVE_FLAGS);
}

int open_in_root(int rootfd, const char *path, enum create_kind create, nsbox_error_t *err) {
  while (*path == '/')
    path++;
  int fd = open_path(rootfd, path);
  if (fd >= 0)
    return fd;
  if (errno != ENOENT || create == CREATE_NONE)
    return nsbox_fail(err, errno, "open /%s in the container", path);

  /* Create what is missing one component at a time; every prefix is resolved afresh inside
   * the root, so symlinks met on the way stay confined to it too. */
  char buf[PATH_MAX];
  size_t len = (size_t)snprintf(buf, sizeof(buf), "%s", path);
  if (len >= sizeof(buf))
    return nsbox_fail(err, ENAMETOOLONG, "/%s", path);
  size_t start = 0;
  while (start < len) {
    size_t end = start;
    while (end < len && buf[end] != '/')
      end++;
    if (end == start) {
      start++;
      continue;
    }
    size_t next = end;
    while (next < len && buf[next] == '/')
      next++;
    bool last = next == len;
    char saved = buf[end];
    buf[end] = '\0';
    int cfd = open_path(rootfd, buf);
    if (cfd < 0 && errno != ENOENT)
      return nsbox_fail(err, errno, "open /%s in the container", buf);
    if (cfd < 0) {
      if (start > 0)
        buf[start - 1] = '\0';
      cleanup_close int pfd = open_path(rootfd, start > 0 ? buf : "");
      if (start > 0)
        buf[start - 1] = '/';
      if (pfd < 0)
        return nsbox_fail(err, errno, "open the parent of /%s in the container", buf);
      /* mknodat makes an empty regular file through an O_PATH parent fd. */
      int r = last && create == CREATE_FILE ? mknodat(pfd, buf + start, S_IFREG | 0644, 0)
                                            : mkdirat(pfd, buf + start, 0755);
      if (r < 0 && errno != EEXIST)
        return nsbox_fail(err, errno, "create /%s in the container", buf);
      cfd = open_path(rootfd, buf);
      if (cfd < 0)
        return nsbox_fail(err, errno, "open /%s in the container", buf);
    }
    if (last)
      return cfd;
    close(cfd);
    buf[end] = saved;
    start = next;
  }
  return open_path(rootfd, "");
}

static void fd_path(char out[32], int fd) {
  snprintf(out, 32, "/proc/self/fd/%d", fd);
}

int mount_on_fd(const char *source, int fd, const char *fstype, unsigned long flags,
                const char *data, const char *what, nsbox_error_t *err) {
  char target[32];
  fd_path(target, fd);
  if (mount(source, target, fstype, flags, data) < 0)
    return nsbox_fail(err, errno, "mount %s", what);
  return 0;
}

int make_readonly_fd(int fd, bool recursive, const char *what, nsbox_error_t *err) {
  struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY};
  if (sys_mount_setattr(fd, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &attr) == 0)
    return 0;
  if (errno != ENOSYS)
    return nsbox_fail(err, errno, "make %s read-only", what);
  /* Before mount_setattr (5.12): a remount must repeat the flags the kernel locked. */
  struct statvfs sv;
  char target[32];
  fd_path(target, fd);
  if (statvfs(target, &sv) < 0)
    return nsbox_fail(err, errno, "statvfs %s", what);
  unsigned long keep =
      sv.f_flag & (MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME | MS_RELATIME);
  if (mount(NULL, target, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | keep, NULL) < 0)
    return nsbox_fail(err, errno, "make %s read-only", what);
  return 0;
}

int bind_on_fd(const char *src, int rootfd, int fd, const char *dst, bool readonly,
               nsbox_error_t *err) {
  if (mount_on_fd(src, fd, NULL, MS_BIND | MS_REC, NULL, dst, err) < 0)
    return -1;
  if (!readonly)
    return 0;
  /* fd (and /proc/self/fd/N) still names the covered directory; a fresh walk of the path
   * crosses into the new mount on top of it. */
  cleanup_close int top = open_in_root(rootfd, dst, CREATE_NONE, err);
  if (top < 0)
    return -1;
  return make_readonly_fd(top, true, dst, err);
}

static int mount_proc(int rootfd, nsbox_error_t *err) {
  cleanup_close int fd = open_in_root(rootfd, "/proc", CREATE_DIR, err);
  if (fd < 0)
    return -1;
  return mount_on_fd("proc", fd, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, "proc on /proc",
                     err);
}

static int mount_sys(const struct nsbox_config *c, int rootfd, nsbox_error_t *err) {
  cleanup_close int fd = open_in_root(rootfd, "/sys", CREATE_DIR, err);
  if (fd < 0)
    return -1;
  unsigned long fl = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC;
  char target[32];
  fd_path(target, fd);
  if (mount("sysfs", target, "sysfs", fl, NULL) == 0)
    return 0;
  /* A user namespace may mount sysfs only with a network namespace of its own; with
   * --network host the host's /sys is bound read-only instead, as podman does. */
  if (errno != EPERM)
    return nsbox_fail(err, errno, "mount sysfs on /sys");
  return bind_on_fd("/sys", rootfd, fd, "/sys", true, err);
}

/* The /etc files are made on the container's /dev tmpfs, bound over /etc/NAME and unlinked
 * from /dev again: nothing of them lives on the host, so nothing is left to clean up. */
static int mount_etc_file(int rootfd, int devfd, const char *name, const char *data,
                          nsbox_error_t *err) {
  char tmp[64], dst[64];
  snprintf(tmp, sizeof(tmp), ".nsbox-%s", name);
  snprintf(dst, sizeof(dst), "/etc/%s", name);
  cleanup_close int src = openat(devfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (src < 0)
    return nsbox_fail(err, errno, "create %s", dst);
  int r = write_all(src, data, strlen(data));
  if (r < 0)
    return nsbox_fail(err, -r, "write %s", dst);
  cleanup_close int fd = open_in_root(rootfd, dst, CREATE_FILE, err);
  if (fd < 0)
    return -1;
  char from[32];
  snprintf(from, sizeof(from), "/proc/self/fd/%d", src);
  r = mount_on_fd(from, fd, NULL, MS_BIND, NULL, dst, err);
  unlinkat(devfd, tmp, 0);
  return r;
}

static int mount_etc_files(const struct nsbox_config *c, int rootfd, const char *addr,
                           nsbox_error_t *err) {
  cleanup_free char *hosts = network_hosts_text(c, addr);
  cleanup_free char *hostname = xasprintf("%s\n", c->hostname);
  cleanup_free char *resolv = network_resolv_text(c);
  cleanup_close int devfd = open_in_root(rootfd, "/dev", CREATE_NONE, err);
  if (devfd < 0)
    return -1;
  if (mount_etc_file(rootfd, devfd, "hostname", hostname, err) < 0 ||
      mount_etc_file(rootfd, devfd, "hosts", hosts, err) < 0 ||
      mount_etc_file(rootfd, devfd, "resolv.conf", resolv, err) < 0)
    return -1;
  return 0;
}

static int mount_user(const struct nsbox_mount *m, int rootfd, nsbox_error_t *err) {
  enum create_kind kind = CREATE_DIR;
  if (m->kind == MOUNT_BIND) {
    struct stat st;
    if (stat(m->source, &st) < 0)
      return nsbox_fail(err, errno, "volume %s", m->source);
    if (!S_ISDIR(st.st_mode))
      kind = CREATE_FILE;
  }
  cleanup_close int fd = open_in_root(rootfd, m->destination, kind, err);
  if (fd < 0)
    return -1;
  if (m->kind == MOUNT_BIND)
    return bind_on_fd(m->source, rootfd, fd, m->destination, m->readonly, err);
  unsigned long fl = MS_NOSUID | MS_NODEV | (m->readonly ? MS_RDONLY : 0);
  return mount_on_fd("tmpfs", fd, "tmpfs", fl, m->options ? m->options : "mode=1777",
                     m->destination, err);
}

/* How many group ids the container has: all of them as root, its mappings in a user
 * namespace. */
static unsigned long mapped_gids(const struct nsbox_config *c) {
  if (!c->userns)
    return 2147483648UL;
  unsigned long n = 0;
  for (size_t i = 0; i < c->idmaps.n_gid; i++)
    n += c->idmaps.gid[i].size;
  return n ? n : 1;
}

int mounts_setup(const struct nsbox_config *c, int rootfd, int netsock, nsbox_error_t *err) {
  if (mount_proc(rootfd, err) < 0 || devices_setup(c, rootfd, err) < 0)
    return -1;
  /* sysfs shows the network devices of the namespace that mounts it, and a user namespace
   * may mount it only with a network namespace of its own: join ours first. */
  char addr[INET6_ADDRSTRLEN] = "";
  if (netsock >= 0 &&
      (netns_receive(netsock, addr, err) < 0 || netns_allow_ping(mapped_gids(c) - 1, err) < 0))
    return -1;
  if (mount_sys(c, rootfd, err) < 0)
    return -1;
  if (mount_etc_files(c, rootfd, addr, err) < 0)
    return -1;
  for (size_t i = 0; i < c->n_mounts; i++)
    if (mount_user(&c->mounts[i], rootfd, err) < 0)
      return -1;
  /* The container's own cgroup on /sys/fs/cgroup; where the kernel refuses it and no limit
   * was asked for, the empty dir of sysfs is as good. */
  nsbox_error_t cgerr = {0};
  if (cgroup_mount_inside(rootfd, c->userns, &cgerr) < 0 && cgroup_wanted(&c->resources)) {
    *err = cgerr;
    return -1;
  }
  /* Last, so that no mount above can uncover what they hide. */
  return masks_apply(rootfd, err);
}
