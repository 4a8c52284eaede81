/* The container's seccomp filter: nsbox's default profile (an allow-list in the manner of
 * docker's and podman's) or a Docker/OCI JSON profile, compiled with libseccomp in the parent,
 * so that a bad profile is an error before anything exists, and loaded by the child right
 * before exec without allocating. (Named nsbox_seccomp_*: libseccomp owns seccomp_load.) */
#ifndef NSBOX_SECCOMP_H
#define NSBOX_SECCOMP_H

#include <linux/filter.h>
#include <stdint.h>

#include "config.h"
#include "error.h"

/* A compiled filter. The caller owns it (nsbox_seccomp_prog_free); a child made by fork or
 * clone has its own copy of the memory and only reads it. */
struct nsbox_seccomp_prog {
  struct sock_filter *filter; /* NULL when len is 0 */
  unsigned short len;         /* instructions; 0: no filter (seccomp=unconfined) */
  unsigned int flags;         /* SECCOMP_FILTER_FLAG_* asked for by the profile's "flags" */
};

/* Compiles sec's filter (sec->seccomp: the default profile, none, or the JSON file
 * sec->seccomp_profile) into out. caps are the capabilities the container's process will
 * have (bit N = capability N): they decide the profile's includes.caps / excludes.caps and
 * the default profile's conditions (mount and the like with CAP_SYS_ADMIN, ...).
 * Returns 0, or -1 with err filled ("seccomp profile FILE: line 12: syscalls[3].action: ...")
 * and out empty. */
int nsbox_seccomp_prepare(const struct nsbox_security *sec, uint64_t caps,
                          struct nsbox_seccomp_prog *out, nsbox_error_t *err);

/* Loads p into the calling thread (nothing when p->len is 0): seccomp(2), or prctl(2) on a
 * kernel without it. The kernel wants no_new_privs set or CAP_SYS_ADMIN. Allocates nothing;
 * returns 0 or -1 with err filled. */
int nsbox_seccomp_load(const struct nsbox_seccomp_prog *p, nsbox_error_t *err);

void nsbox_seccomp_prog_free(struct nsbox_seccomp_prog *p);

/* Compiles the default profile for caps with libseccomp, always (nsbox_seccomp_prepare takes
 * the one compiled at build time when caps are the default ones): for the build-time
 * generator (runtime/gen/seccomp-gen.c) and the unit tests. */
int nsbox_seccomp_compile_default(uint64_t caps, struct nsbox_seccomp_prog *out,
                                  nsbox_error_t *err);

/* For the unit tests: NULL when every syscall the default profile names is known to the
 * libseccomp nsbox is built with and none is named twice; else what is wrong with them. */
const char *nsbox_seccomp_default_check(void);

#endif
