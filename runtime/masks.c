/* See masks.h. */
#include "masks.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "mounts.h"
#include "util.h"

#ifndef TMPFS_MAGIC
#define TMPFS_MAGIC 0x01021994
#endif

static const char *const masked[] = {
    "/proc/acpi",       "/proc/kcore",       "/proc/keys",        "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
    "/sys/firmware",    "/sys/fs/selinux",   "/sys/dev/block",    "/sys/devices/virtual/powercap",
};

static const char *const readonly[] = {
    "/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
};

/* The container's /dev/null, as an O_PATH fd, after checking it is the null device (1:3) on
 * a tmpfs: our /dev, where nsbox made it or bound the host's devtmpfs node. The fd is what
 * gets mounted, so what was checked is what is used (runc CVE-2025-31133). */
static int open_null(int rootfd, nsbox_error_t *err) {
  cleanup_close int fd = open_in_root(rootfd, "/dev/null", CREATE_NONE, err);
  if (fd < 0)
    return -1;
  struct stat st;
  struct statfs sf;
  if (fstat(fd, &st) < 0 || fstatfs(fd, &sf) < 0)
    return nsbox_fail(err, errno, "stat /dev/null in the container");
  if (!S_ISCHR(st.st_mode) || major(st.st_rdev) != 1 || minor(st.st_rdev) != 3 ||
      sf.f_type != TMPFS_MAGIC)
    return nsbox_fail(err, 0,
                      "the container's /dev/null is not the null device: not masking "
                      "with it");
  return steal_fd(&fd);
}

static int mask(int rootfd, int nullfd, const char *path, nsbox_error_t *err) {
  nsbox_error_t missing = {0};
  cleanup_close int fd = open_in_root(rootfd, path, CREATE_NONE, &missing);
  if (fd < 0)
    return missing.errnum == ENOENT ? 0 : (*err = missing, -1);
  struct stat st;
  if (fstat(fd, &st) < 0)
    return nsbox_fail(err, errno, "stat %s", path);
  if (S_ISDIR(st.st_mode))
    return mount_on_fd("tmpfs", fd, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                       "size=0,mode=0555", path, err);
  char src[32];
  snprintf(src, sizeof(src), "/proc/self/fd/%d", nullfd);
  return mount_on_fd(src, fd, NULL, MS_BIND, NULL, path, err);
}

static int make_readonly(int rootfd, const char *path, nsbox_error_t *err) {
  nsbox_error_t missing = {0};
  cleanup_close int fd = open_in_root(rootfd, path, CREATE_NONE, &missing);
  if (fd < 0)
    return missing.errnum == ENOENT ? 0 : (*err = missing, -1);
  char src[32];
  snprintf(src, sizeof(src), "/proc/self/fd/%d", fd);
  return bind_on_fd(src, rootfd, fd, path, true, err);
}

int masks_apply(int rootfd, nsbox_error_t *err) {
  cleanup_close int nullfd = open_null(rootfd, err);
  if (nullfd < 0)
    return -1;
  for (size_t i = 0; i < ARRAY_SIZE(masked); i++)
    if (mask(rootfd, nullfd, masked[i], err) < 0)
      return -1;
  for (size_t i = 0; i < ARRAY_SIZE(readonly); i++)
    if (make_readonly(rootfd, readonly[i], err) < 0)
      return -1;
  return 0;
}
