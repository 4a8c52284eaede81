/* See loopdev.h. One ioctl configures the device whole (LOOP_CONFIGURE), so no other process
 * can see it bound but not yet set up, and autoclear is in force from the first moment: there
 * is no window in which our death would leave a device attached. */
#include "loopdev.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <unistd.h>

#include "util.h"

#define SQUASHFS_MAGIC 0x73717368U /* "hsqs" at offset 0 */
#define EROFS_MAGIC 0xE0F5E1E2U    /* at offset 1024 */
#define EXT_MAGIC 0xEF53U          /* at offset 1024 + 56 */

/* Another process may take the device LOOP_CTL_GET_FREE named before we configure it (EBUSY);
 * each try asks for a new one. Every racer is offered the same, lowest free device, so with N
 * of them the last may lose N-1 times (24 parallel mounts: up to 12 losses seen here). */
#define LOOP_TRIES 64

static uint32_t le32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t le16(const unsigned char *p) {
  return (uint16_t)(p[0] | p[1] << 8);
}

/* pread until len bytes or end of file. Returns the count or -errno. */
static ssize_t pread_full(int fd, void *buf, size_t len, off_t off) {
  size_t got = 0;
  while (got < len) {
    ssize_t n = pread(fd, (char *)buf + got, len - got, off + (off_t)got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return -errno;
    if (n == 0)
      break;
    got += (size_t)n;
  }
  return (ssize_t)got;
}

int image_fs_detect(int fd, enum image_fs *out, nsbox_error_t *err) {
  unsigned char sb[1024 + 64];
  ssize_t n = pread_full(fd, sb, sizeof(sb), 0);
  if (n < 0)
    return nsbox_fail(err, (int)-n, "read the superblock");
  *out = IMAGE_FS_UNKNOWN;
  if (n >= 4 && le32(sb) == SQUASHFS_MAGIC)
    *out = IMAGE_FS_SQUASHFS;
  else if (n >= 1024 + 4 && le32(sb + 1024) == EROFS_MAGIC)
    *out = IMAGE_FS_EROFS;
  else if (n >= 1024 + 58 && le16(sb + 1024 + 56) == EXT_MAGIC)
    *out = IMAGE_FS_EXT4;
  return 0;
}

const char *image_fs_name(enum image_fs fs) {
  switch (fs) {
  case IMAGE_FS_SQUASHFS:
    return "squashfs";
  case IMAGE_FS_EXT4:
    return "ext4";
  case IMAGE_FS_EROFS:
    return "erofs";
  case IMAGE_FS_UNKNOWN:
    break;
  }
  return "unknown";
}

/* Kernels before 5.8: bind, then set the flags. Between the two ioctls the device is bound
 * without autoclear, so a failure here clears it by hand. LOOP_SET_STATUS64 cannot set
 * LO_FLAGS_READ_ONLY: LOOP_SET_FD takes that from the modes of the device's and the file's
 * fds, which are read-only when asked. Returns 0 or -errno. */
static int configure_legacy(int loopfd, int file_fd, const struct loop_info64 *info) {
  if (ioctl(loopfd, LOOP_SET_FD, file_fd) < 0)
    return -errno;
  struct loop_info64 status = *info;
  status.lo_flags &= LOOP_SET_STATUS_SETTABLE_FLAGS;
  if (ioctl(loopfd, LOOP_SET_STATUS64, &status) < 0) {
    int e = errno;
    ioctl(loopfd, LOOP_CLR_FD, 0);
    return -e;
  }
  /* Best effort, as in LOOP_CONFIGURE, where the kernel silently drops what it cannot do. */
  if (info->lo_flags & LO_FLAGS_DIRECT_IO)
    ioctl(loopfd, LOOP_SET_DIRECT_IO, 1UL);
  return 0;
}

/* Returns 0 or -errno (-EBUSY: another process bound the device first). */
static int configure(int loopfd, int file_fd, bool readonly, const char *name) {
  /* Direct I/O: the loop driver reads the file with O_DIRECT (and asynchronously), so its
   * blocks are cached once, in the page cache of the filesystem mounted on the device, rather
   * than a second time in the file's own; for images that hold whole root filesystems the
   * saving is as large as what the container reads. The kernel quietly keeps buffered I/O where
   * the file's filesystem cannot do direct I/O (or the alignment does not allow it). */
  struct loop_config cfg = {.fd = (uint32_t)file_fd, .block_size = 0};
  cfg.info.lo_flags =
      LO_FLAGS_AUTOCLEAR | LO_FLAGS_DIRECT_IO | (readonly ? LO_FLAGS_READ_ONLY : 0U);
  snprintf((char *)cfg.info.lo_file_name, sizeof(cfg.info.lo_file_name), "%s", name);
  if (ioctl(loopfd, LOOP_CONFIGURE, &cfg) == 0)
    return 0;
  if (errno != EINVAL && errno != ENOTTY)
    return -errno;
  /* EINVAL is also how a kernel that knows LOOP_CONFIGURE would refuse a flag it cannot
   * honour; the only optional one is direct I/O, so try once more without it. */
  if (errno == EINVAL) {
    cfg.info.lo_flags &= ~(uint32_t)LO_FLAGS_DIRECT_IO;
    if (ioctl(loopfd, LOOP_CONFIGURE, &cfg) == 0)
      return 0;
    if (errno != EINVAL && errno != ENOTTY)
      return -errno;
    cfg.info.lo_flags |= LO_FLAGS_DIRECT_IO;
  }
  return configure_legacy(loopfd, file_fd, &cfg.info);
}

int loop_attach(int file_fd, bool readonly, const char *name, char path[32], nsbox_error_t *err) {
  cleanup_close int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
  if (ctl < 0)
    return nsbox_fail(err, errno, "open /dev/loop-control");
  for (int i = 0; i < LOOP_TRIES; i++) {
    int n = ioctl(ctl, LOOP_CTL_GET_FREE);
    if (n < 0)
      return nsbox_fail(err, errno, "find a free loop device");
    snprintf(path, 32, "/dev/loop%d", n);
    cleanup_close int fd = open(path, (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
    if (fd < 0)
      return nsbox_fail(err, errno, "open %s", path);
    int r = configure(fd, file_fd, readonly, name);
    if (r == 0)
      return steal_fd(&fd);
    if (r != -EBUSY)
      return nsbox_fail(err, -r, "attach %s to %s", name, path);
  }
  return nsbox_fail(err, EBUSY, "attach %s: other processes took all %d loop devices offered", name,
                    LOOP_TRIES);
}

int loop_mount(const char *file, bool writable, const char *target, nsbox_error_t *err) {
  cleanup_close int fd = open(file, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
  if (fd < 0)
    return nsbox_fail(err, errno, "open %s", file);
  enum image_fs fs;
  if (image_fs_detect(fd, &fs, err) < 0)
    return nsbox_wrap(err, "mount %s", file);
  if (fs == IMAGE_FS_UNKNOWN)
    return nsbox_fail(err, 0, "mount %s: not a squashfs, ext4 or erofs image", file);
  if (writable && fs != IMAGE_FS_EXT4)
    return nsbox_fail(err, 0, "mount %s: %s is read-only; only ext4 image files can be mounted :rw",
                      file, image_fs_name(fs));
  char dev[32];
  cleanup_close int loopfd = loop_attach(fd, !writable, file, dev, err);
  if (loopfd < 0)
    return nsbox_wrap(err, "mount %s", file);
  /* The device path, not /proc/self/fd/N: it is what mountinfo and `findmnt` will show. While
   * loopfd is open the device stays ours, so the path cannot name another image meanwhile. */
  if (mount(dev, target, image_fs_name(fs), writable ? 0 : MS_RDONLY, NULL) < 0)
    return nsbox_fail(err, errno, "mount %s (%s on %s) on %s", file, image_fs_name(fs), dev,
                      target);
  /* Now the mount holds the device; closing loopfd (cleanup) leaves it the only user, so that
   * unmounting it detaches the device. */
  return 0;
}
