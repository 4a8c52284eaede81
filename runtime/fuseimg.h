/* Image files mounted without privilege: a FUSE driver (squashfuse, fuse2fs, erofsfuse) runs as
 * a child of the caller, which is already uid 0 in the container's user and mount namespaces.
 * FUSE may be mounted from a user namespace (the kernel lets CAP_SYS_ADMIN there do it), so the
 * driver's libfuse mounts directly with mount(2) and never needs the setuid fusermount. */
#ifndef NSBOX_FUSEIMG_H
#define NSBOX_FUSEIMG_H

#include <stdbool.h>
#include <sys/types.h>

#include "error.h"
#include "loopdev.h"

/* Mounts image `file` (whose filesystem the caller detected, image_fs_detect) on the empty
 * directory `target` through the FUSE driver for fs, found in $PATH, read-only unless
 * `writable` (ext4 only: the others are read-only filesystems). The mount gets allow_other, so
 * that every uid of the user namespace can use it, default_permissions, so that the kernel
 * checks file modes (squashfuse and erofsfuse check none of their own), and suid. fuse2fs and
 * erofsfuse (libfuse2) refuse a target that is not empty.
 *
 * Returns once target is mounted, with the driver's pid in *helper_pid; fails, with the first
 * line the driver wrote (stdout or stderr), if it exits first, or if it has neither mounted nor
 * exited after 30 seconds. Fails at once, naming what is missing,
 * when the driver is not installed or /dev/fuse cannot be opened.
 *
 * Who owns what: the driver is the caller's child, and the caller must end it with
 * fuseimg_stop() once the container is gone; a wait-for-any-child loop of the caller's must not
 * reap it unawares. It gets SIGKILL if the caller dies (PR_SET_PDEATHSIG), so it never outlives
 * it. It lives in the caller's mount namespace: a pivot_root in that same namespace would move
 * the driver's root and cwd into the filesystem it serves itself, so the container should make
 * its own mount namespace (unshare(CLONE_NEWNS), which copies this mount) before it pivots. */
int fuseimg_mount(const char *file, enum image_fs fs, bool writable, const char *target,
                  pid_t *helper_pid, nsbox_error_t *err);

/* Ends a driver started by fuseimg_mount and reaps it: SIGTERM first, on which libfuse leaves
 * its loop, the driver flushes (fuse2fs writes back a writable image) and unmounts; SIGKILL if
 * it has not exited within 10 seconds, which leaves its mount behind, dead (ENOTCONN) until its
 * mount namespace goes. Does nothing for helper <= 0. */
void fuseimg_stop(pid_t helper);

#endif
