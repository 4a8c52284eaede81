/* Mounts inside the container's root, always addressed through fds: a path inside the root
 * is resolved with openat2(RESOLVE_IN_ROOT), so a symlink planted by the image or by an
 * earlier container can never send a mount (or a created mount point) outside the root. */
#ifndef NSBOX_MOUNTS_H
#define NSBOX_MOUNTS_H

#include <stdbool.h>

#include "config.h"
#include "error.h"

enum create_kind { CREATE_NONE, CREATE_DIR, CREATE_FILE };

/* Opens path (absolute inside the root) as an O_PATH fd, creating missing directories on the
 * way and the last component as `create` says. Returns the fd or -1. */
int open_in_root(int rootfd, const char *path, enum create_kind create, nsbox_error_t *err);

/* Mounts a filesystem on the mount point behind fd. `what` names it in errors. */
int mount_on_fd(const char *source, int fd, const char *fstype, unsigned long flags,
                const char *data, const char *what, nsbox_error_t *err);

/* Bind-mounts host path src (recursively) over the mount point behind fd, which is dst
 * inside rootfd. */
int bind_on_fd(const char *src, int rootfd, int fd, const char *dst, bool readonly,
               nsbox_error_t *err);

/* Makes the mount behind fd read-only, keeping its other flags (locked ones included). */
int make_readonly_fd(int fd, bool recursive, const char *what, nsbox_error_t *err);

/* proc, /dev, sysfs, /etc files, --volume and --tmpfs mounts of config c, below rootfd.
 * With netsock >= 0, first joins the network namespace nsbox sends over it (netns.h). */
int mounts_setup(const struct nsbox_config *c, int rootfd, int netsock, nsbox_error_t *err);

#endif
