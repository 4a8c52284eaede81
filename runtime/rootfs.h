/* The container's root: an overlay of the image under a private upper dir (or a plain
 * directory), made a mount point, filled by mounts.c, optionally read-only, then entered
 * with pivot_root (never chroot) so the host's tree is detached entirely. */
#ifndef NSBOX_ROOTFS_H
#define NSBOX_ROOTFS_H

#include "config.h"
#include "error.h"

/* In the container's mount namespace: makes propagation private, mounts the root (an
 * overlay of the image's layers or of an image file, the image file itself, or a directory)
 * and returns an O_PATH fd of it. sock is the channel to nsbox (imgfile.h). */
int rootfs_mount(const struct nsbox_config *c, int sock, nsbox_error_t *err);

/* Read-only root when asked, then pivot_root into rootfd and drop the old root. */
int rootfs_enter(const struct nsbox_config *c, int rootfd, nsbox_error_t *err);

#endif
