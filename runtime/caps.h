/* Capabilities (libcap): the sets a container's process gets, as docker and podman give them,
 * changed by --cap-add and --cap-drop. The child drops the bounding set while it is still
 * root of its namespace, switches user, then sets the other sets; only then no_new_privs
 * and seccomp (container.c). */
#ifndef NSBOX_CAPS_H
#define NSBOX_CAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* The default set: podman's eleven (docker's fourteen less MKNOD, NET_RAW and AUDIT_WRITE:
 * the container has no use for device nodes of its own, and ping works through ICMP
 * sockets). */
uint64_t caps_default(void);

/* Every capability this kernel knows. */
uint64_t caps_all(void);

/* Parses "NET_ADMIN", "cap_net_admin", "ALL", or a comma-separated list of them into a mask.
 * Returns 0, or -1 with why filled. */
int caps_parse(const char *list, uint64_t *out, char *why, size_t len);

/* The capabilities this process can still pass on: its bounding set. A container never gets
 * one outside it (root in a restricted sandbox lacks some). */
uint64_t caps_available(void);

/* Drops every capability not in `bounding` from the bounding set and keeps the permitted set
 * across the coming change of user. Before switch of user. */
int caps_limit_bounding(uint64_t bounding, nsbox_error_t *err);

/* After the switch of user: root of the container gets the bounding set as its effective and
 * permitted sets (inheritable empty, as docker and podman have since CVE-2022-24769); another
 * user gets only `added` (what --cap-add asked for), and as ambient capabilities too, so they
 * survive exec. */
int caps_apply(uint64_t bounding, uint64_t added, bool root_user, nsbox_error_t *err);

#endif
