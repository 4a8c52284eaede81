/* A container whose root filesystem is a single image file (`run --image-file FILE[:rw]`):
 * squashfs, ext4 or erofs, mounted inside the container's mount namespace on
 * containers/ID/image, under an overlay upper dir unless `:rw` (ext4: writes land in the file).
 *
 * As root, through a loop device (loopdev.h) with autoclear: the device goes with the mount
 * namespace, that is with the container. Rootless, loop devices are out of reach and the file
 * is mounted through its FUSE driver (fuseimg.h), which must outlive the container's set-up
 * but never the container, must not be in reach of the container's processes, and must not
 * have its root moved by the container's pivot_root. So a keeper, a process of nsbox beside the
 * container (the child of `nsbox run` or of its monitor), joins the container's user and mount
 * namespaces, makes a mount namespace of its own and runs the driver there, on the mount point
 * the container's set-up has made shared: the FUSE mount propagates into the container's
 * namespace. The set-up asks for it over its channel to nsbox (IMGFILE_MSG) and waits for the
 * answer. When the container has exited, nsbox ends the keeper, which ends the driver (SIGTERM:
 * fuse2fs writes a :rw image back). */
#ifndef NSBOX_IMGFILE_H
#define NSBOX_IMGFILE_H

#include <stdbool.h>
#include <sys/types.h>

#include "config.h"
#include "error.h"

/* The set-up's request on the channel: a message of this one byte. */
#define IMGFILE_MSG 'I'

/* In the container's set-up, after / was made private: mounts the image file on
 * c->root.image_dir; rootless, with the keeper's help over sock. */
int imgfile_mount(const struct nsbox_config *c, int sock, nsbox_error_t *err);

/* In nsbox, after ns_release, when c is rootless with an image file: waits for the set-up's
 * request on psock (or its error), starts the keeper for child pid and answers. Returns the
 * keeper's pid, or -1 with err (the set-up's own error when it failed first). */
pid_t imgfile_serve(const struct nsbox_config *c, int psock, pid_t child, nsbox_error_t *err);

/* Ends the keeper (and so the driver) and reaps it; nothing for keeper <= 0. */
void imgfile_stop(pid_t keeper);

#endif
