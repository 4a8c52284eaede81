/* The container's /dev: a small tmpfs with the usual device nodes (made with mknod when
 * that is permitted, else bind-mounted from the host, as in user namespaces), a private
 * devpts instance, /dev/shm, /dev/mqueue and the /proc/self/fd links. */
#ifndef NSBOX_DEVICES_H
#define NSBOX_DEVICES_H

#include "config.h"
#include "error.h"

int devices_setup(const struct nsbox_config *c, int rootfd, nsbox_error_t *err);

#endif
