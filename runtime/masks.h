/* Masked and read-only paths: the parts of /proc and /sys that tell about or act on the host
 * (kernel memory, keys, timers, firmware, sysctls, sysrq) made unreadable or read-only, as
 * podman and crun do. */
#ifndef NSBOX_MASKS_H
#define NSBOX_MASKS_H

#include "error.h"

/* Applies the masks below rootfd (after /proc, /sys, /dev and the user's mounts exist, so
 * that no later mount undoes them). A masked file gets the container's /dev/null bound over
 * it, once nsbox has checked that it is the real null device on a tmpfs (an image cannot
 * plant a file there, and would not be believed if it did); a masked dir gets an empty
 * read-only tmpfs. Paths the kernel lacks are skipped. */
int masks_apply(int rootfd, nsbox_error_t *err);

#endif
