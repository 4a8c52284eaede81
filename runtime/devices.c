/* See devices.h. */
#include "devices.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "mounts.h"
#include "util.h"

static const struct {
  const char *name;
  unsigned major, minor;
} devices[] = {
    {"null", 1, 3},   {"zero", 1, 5},    {"full", 1, 7},
    {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
};

static const struct {
  const char *name, *target;
} links[] = {
    {"fd", "/proc/self/fd"},       {"stdin", "/proc/self/fd/0"}, {"stdout", "/proc/self/fd/1"},
    {"stderr", "/proc/self/fd/2"}, {"ptmx", "pts/ptmx"},
};

static int make_device(int devfd, const char *name, unsigned major, unsigned minor, bool *try_mknod,
                       nsbox_error_t *err) {
  if (*try_mknod) {
    if (mknodat(devfd, name, S_IFCHR | 0666, makedev(major, minor)) == 0) {
      fchmodat(devfd, name, 0666, 0); /* past the umask */
      return 0;
    }
    if (errno != EPERM)
      return nsbox_fail(err, errno, "mknod /dev/%s", name);
    *try_mknod = false; /* root in a nested user namespace: no need to ask again */
  }
  /* No mknod in a user namespace: bind the host's node over an empty file. */
  if (mknodat(devfd, name, S_IFREG | 0644, 0) < 0)
    return nsbox_fail(err, errno, "create /dev/%s", name);
  cleanup_close int fd = openat(devfd, name, O_PATH | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return nsbox_fail(err, errno, "open /dev/%s", name);
  char src[32];
  snprintf(src, sizeof(src), "/dev/%s", name);
  return mount_on_fd(src, fd, NULL, MS_BIND, NULL, src, err);
}

static int mount_sub(int devfd, const char *name, const char *fstype, unsigned long flags,
                     const char *data, nsbox_error_t *err) {
  if (mkdirat(devfd, name, 0755) < 0 && errno != EEXIST)
    return nsbox_fail(err, errno, "mkdir /dev/%s", name);
  cleanup_close int fd = openat(devfd, name, O_PATH | O_CLOEXEC | O_NOFOLLOW | O_DIRECTORY);
  if (fd < 0)
    return nsbox_fail(err, errno, "open /dev/%s", name);
  char what[64];
  snprintf(what, sizeof(what), "%s on /dev/%s", fstype, name);
  return mount_on_fd(fstype, fd, fstype, flags, data, what, err);
}

int devices_setup(const struct nsbox_config *c, int rootfd, nsbox_error_t *err) {
  cleanup_close int at = open_in_root(rootfd, "/dev", CREATE_DIR, err);
  if (at < 0)
    return -1;
  if (mount_on_fd("tmpfs", at, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=755,size=65536k",
                  "tmpfs on /dev", err) < 0)
    return -1;
  /* `at` (and /proc/self/fd/N) names the covered directory; a fresh walk of the path
   * crosses into the new tmpfs on top of it. */
  cleanup_close int devfd = open_in_root(rootfd, "/dev", CREATE_NONE, err);
  if (devfd < 0)
    return -1;

  bool try_mknod = !c->userns;
  for (size_t i = 0; i < ARRAY_SIZE(devices); i++) {
    if (make_device(devfd, devices[i].name, devices[i].major, devices[i].minor, &try_mknod, err) <
        0)
      return -1;
  }
  for (size_t i = 0; i < ARRAY_SIZE(links); i++)
    if (symlinkat(links[i].target, devfd, links[i].name) < 0)
      return nsbox_fail(err, errno, "symlink /dev/%s", links[i].name);

  /* gid=5 (tty) only where that group is mapped; ptmxmode so the container's own ptmx is
   * usable by every user inside. */
  char opts[96];
  bool tty_gid = !c->userns || idmaps_maps(&c->idmaps, false, 5);
  snprintf(opts, sizeof(opts), "newinstance,ptmxmode=0666,mode=0620%s", tty_gid ? ",gid=5" : "");
  if (mount_sub(devfd, "pts", "devpts", MS_NOSUID | MS_NOEXEC, opts, err) < 0 ||
      mount_sub(devfd, "shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k",
                err) < 0 ||
      mount_sub(devfd, "mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, err) < 0)
    return -1;
  return 0;
}
