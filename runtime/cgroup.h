/* Cgroups: the container's own cgroup with the limits of --memory, --cpus, --pids-limit ...,
 * below the cgroup nsbox runs in (cgroup v2, the whole unified tree; or cgroup v1, one cgroup
 * in each controller's hierarchy, root only). Nothing is made when no limit is asked for.
 *
 * Lifetime: the parent makes the cgroup (empty, limits set) while the child waits, moves the
 * child into it, then lets it go; the child unshares its cgroup namespace there, so that
 * /sys/fs/cgroup inside shows the container's cgroup as its root. After the container ends
 * the parent reads the OOM count and removes the cgroup. The dirs are also recorded in the
 * run dir (store.h) so that the next nsbox reclaims them after nsbox itself was SIGKILLed. */
#ifndef NSBOX_CGROUP_H
#define NSBOX_CGROUP_H

#include <stdbool.h>
#include <sys/types.h>

#include "config.h"
#include "error.h"

#define CGROUP_MAX_DIRS 6

struct nsbox_cgroup {
  int version;                 /* 1 or 2; 0: no cgroup made */
  char *dirs[CGROUP_MAX_DIRS]; /* the container's cgroup(s), absolute host paths */
  size_t n_dirs;
  const char *memory_dir; /* the one of dirs with the memory controller, or NULL */
};

/* Whether r asks for any limit (and so for a cgroup). */
bool cgroup_wanted(const struct nsbox_resources *r);

/* Makes the cgroup "nsbox-ID" below ours with r's limits, empty. When that cannot be done
 * (cgroup v1 rootless, a v2 tree not delegated to the user, a controller missing), fails with
 * why and what to do; nothing is left behind. */
int cgroup_create(struct nsbox_cgroup *cg, const char *id, const struct nsbox_resources *r,
                  bool rootless, nsbox_error_t *err);

/* Moves pid into the container's cgroup(s). */
int cgroup_enter(const struct nsbox_cgroup *cg, pid_t pid, nsbox_error_t *err);

/* How many processes the kernel's OOM killer killed in the cgroup (0 when unknown). */
unsigned long cgroup_oom_kills(const struct nsbox_cgroup *cg);

/* Removes the cgroup (it must be empty by now: the PID namespace is gone) and frees cg. */
int cgroup_destroy(struct nsbox_cgroup *cg);

/* Removes the cgroup dirs listed one a line in `list` (a record of cgroup_create's), children
 * first. Returns 0 when all are gone, -errno otherwise (-EBUSY: processes still in one). */
int cgroup_remove_listed(const char *list);

/* Moves pid into each cgroup of such a list (`nsbox exec` joining the container's). */
int cgroup_join_listed(const char *list, pid_t pid, nsbox_error_t *err);

/* In the child, inside its new cgroup namespace: mounts the cgroup filesystem(s) read-only on
 * /sys/fs/cgroup below rootfd, as far as the kernel allows (cgroup v1 cannot be mounted in a
 * user namespace; then /sys/fs/cgroup stays empty). */
int cgroup_mount_inside(int rootfd, bool userns, nsbox_error_t *err);

#endif
