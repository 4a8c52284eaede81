/* Image files (squashfs, ext4, erofs) mounted through a loop device, for root. The device is
 * configured with LO_FLAGS_AUTOCLEAR: it detaches itself when its last user goes away, so a
 * mount plus our fd hold it, and once the fd is closed the mount alone does; unmounting (or the
 * end of the mount namespace) frees it. Nothing here ever calls LOOP_CLR_FD on a live device. */
#ifndef NSBOX_LOOPDEV_H
#define NSBOX_LOOPDEV_H

#include <stdbool.h>

#include "error.h"

enum image_fs { IMAGE_FS_UNKNOWN, IMAGE_FS_SQUASHFS, IMAGE_FS_EXT4, IMAGE_FS_EROFS };

/* Reads the superblock magics of the image behind fd (squashfs at 0, erofs at 1024, ext2/3/4
 * at 1024+56; pread, the file offset is left alone). A file that is none of them, or too short
 * to be one, gives IMAGE_FS_UNKNOWN and 0: only a failed read is an error. */
int image_fs_detect(int fd, enum image_fs *out, nsbox_error_t *err);

/* The kernel's (and mount's) name of the filesystem: "squashfs", "ext4" (which also mounts
 * ext2 and ext3), "erofs"; "unknown" for IMAGE_FS_UNKNOWN. */
const char *image_fs_name(enum image_fs fs);

/* Binds file_fd to a free loop device, read-only when `readonly` (the device is then opened
 * O_RDONLY too), with autoclear and direct I/O, in one LOOP_CONFIGURE; on kernels without it
 * (before 5.8), with LOOP_SET_FD + LOOP_SET_STATUS64. `name` (the image's path) goes into
 * lo_file_name, for tools that cannot read /sys. The device's path ("/dev/loop7") is written
 * to path.
 *
 * Returns the loop device's fd (O_CLOEXEC), which the caller owns: it must mount the device
 * and only then close the fd. Closing it before anything else holds the device detaches it at
 * once; that is also how a caller that gives up cleans up. Needs root (CAP_SYS_ADMIN in the
 * initial user namespace): loop devices cannot be configured from a user namespace. */
int loop_attach(int file_fd, bool readonly, const char *name, char path[32], nsbox_error_t *err);

/* Mounts the image file on target through a loop device: detects its filesystem, refuses
 * `writable` for squashfs and erofs, mounts with MS_RDONLY unless writable, and closes the
 * loop fd so that unmounting target frees the device. No MS_NODEV/MS_NOSUID/MS_NOEXEC: an
 * image is a root filesystem that may rightly hold setuid programs, and which of those the
 * container may use is decided where its mounts are made (mount_setattr on target later).
 * On failure nothing stays attached or mounted. */
int loop_mount(const char *file, bool writable, const char *target, nsbox_error_t *err);

#endif
